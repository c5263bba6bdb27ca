"""A self-contained HTML report of a scenario (plotly.js embedded: opens offline).

Sections: a summary, the pass table, key per pass, a polar sky plot of the
tracks, the loss budget of each station against elevation (stacked by
component), the LEO-versus-GEO loss comparison, and for every pass its
elevation, loss and key rate against time.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

__all__ = ["render_report", "MAX_PASS_FIGURES"]

MAX_PASS_FIGURES = 60
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
.meta{color:#666} table{border-collapse:collapse;font-size:.85rem;width:100%}
th,td{padding:.25rem .5rem;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f6f6f6;position:sticky;top:0} td:nth-child(-n+3),th:nth-child(-n+3){text-align:left}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#f6f8fa;border-radius:8px;padding:.8rem 1.2rem}
.card b{display:block;font-size:1.4rem}.scroll{max-height:28rem;overflow:auto}
"""


def _fig_html(fig: go.Figure) -> str:
    fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=50, b=40))
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def _fmt(value, col: str) -> str:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "–"
        if col.endswith("_bits") or col.endswith("_bps"):
            return f"{value:,.0f}"
        if col == "qber":
            return f"{100 * value:.2f} %"
        return f"{value:,.1f}"
    return html.escape(str(value))


def _table(frame: pd.DataFrame, columns: list[str]) -> str:
    cols = [c for c in columns if c in frame]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(row[c], c)}</td>" for c in cols) + "</tr>" for _, row in frame.iterrows()
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _sky_plot(seconds: pd.DataFrame, passes: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for pid, g in seconds.groupby("pass_id"):
        row = passes.loc[passes["pass_id"] == pid].iloc[0]
        label = f"{row['station']} {row['culmination_utc']:%m-%d %H:%M}"
        fig.add_trace(
            go.Scatterpolar(
                r=90.0 - g["elevation_deg"], theta=g["azimuth_deg"], mode="lines", name=label,
                hovertemplate="az %{theta:.1f}°<br>el %{customdata:.1f}°", customdata=g["elevation_deg"],
            )
        )
    fig.update_layout(
        title="Sky tracks of the usable windows (centre = zenith)",
        polar=dict(
            angularaxis=dict(direction="clockwise", rotation=90, tickvals=[0, 90, 180, 270], ticktext=["N", "E", "S", "W"]),
            radialaxis=dict(range=[0, 90], tickvals=[0, 30, 60, 90], ticktext=["90°", "60°", "30°", "0°"]),
        ),
        height=560,
    )
    return fig


def _key_per_pass(passes: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for station, g in passes.groupby("station"):
        fig.add_trace(
            # On a date axis a bar is 1 ms wide unless told otherwise: 90 min.
            go.Bar(x=g["culmination_utc"], y=g["key_bits"] / 1e6, name=station, width=90 * 60 * 1000.0,
                   hovertemplate="%{x}<br>%{y:.2f} Mbit<extra>" + html.escape(str(station)) + "</extra>")
        )
    fig.update_layout(title="Final key per pass (finite-key, one pass = one block)", yaxis_title="final key (Mbit)", barmode="overlay", height=380)
    return fig


def _pass_figure(g: pd.DataFrame, row) -> go.Figure:
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=("elevation (deg)", "loss (dB)", "key rate (kbit/s)"))
    t = g["time_utc"]
    fig.add_trace(go.Scatter(x=t, y=g["elevation_deg"], name="elevation", line=dict(color="#1f77b4")), row=1, col=1)
    if "loss_db" in g:
        fig.add_trace(go.Scatter(x=t, y=g["loss_db"], name="loss", line=dict(color="#d62728")), row=2, col=1)
    if "key_rate_bps" in g:
        fig.add_trace(go.Scatter(x=t, y=g["key_rate_bps"] / 1e3, name="asymptotic key rate", line=dict(color="#2ca02c")), row=3, col=1)
        if "in_key_window" in g and g["in_key_window"].any():
            w = g.loc[g["in_key_window"].astype(bool)]
            fig.add_vrect(x0=w["time_utc"].iloc[0], x1=w["time_utc"].iloc[-1], fillcolor="#2ca02c", opacity=0.08, line_width=0, row="all", col=1)
    title = (
        f"{row['satellite']} over {row['station']}, culmination {row['culmination_utc']:%Y-%m-%d %H:%M:%S} UTC, "
        f"max elevation {row['max_elevation_deg']:.1f}°"
    )
    if "key_bits" in row and not pd.isna(row["key_bits"]):
        title += f" — {row['key_bits'] / 1e3:,.1f} kbit in {row['key_window_s']:.0f} s"
    fig.update_layout(title=title, height=520, showlegend=False)
    return fig


def _loss_budget_figures(scenario) -> list[str]:
    from .link import loss_table

    parts = []
    for setup in scenario.stations:
        for sat in scenario.satellites[:1]:
            table = loss_table(sat.transmitter, setup.telescope, setup.detector, site_height_m=setup.station.height_m)
            comps = [c for c in table.columns if c.endswith("_loss_db")]
            fig = go.Figure()
            for c in comps:
                fig.add_trace(go.Bar(x=table["elevation_deg"], y=table[c], name=c.replace("_loss_db", "")))
            fig.add_trace(go.Scatter(x=table["elevation_deg"], y=table["loss_db"], name="total", mode="lines+markers", line=dict(color="black")))
            fig.update_layout(barmode="stack", title=f"Loss budget at {setup.station.name} vs elevation (500 km orbit)",
                              xaxis_title="elevation (deg)", yaxis_title="loss (dB)", height=420)
            parts.append(_fig_html(fig))
    return parts


def render_report(results) -> str:
    """The report of :class:`~satqkd.pipeline.Results` as one HTML string."""
    sc = results.scenario
    passes, seconds = results.passes, results.seconds
    total_key = float(passes["key_bits"].sum()) if "key_bits" in passes and len(passes) else 0.0
    start = sc.start.utc_strftime("%Y-%m-%d %H:%M")
    end = sc.end.utc_strftime("%Y-%m-%d %H:%M")
    cards = [
        ("passes", f"{len(passes)}"),
        ("usable time", f"{passes['usable_s'].sum() / 60:.1f} min" if len(passes) else "0 min"),
        ("final key", f"{total_key / 1e6:.2f} Mbit"),
        ("stations", ", ".join(s.station.name for s in sc.stations)),
    ]
    body = [
        f"<h1>{html.escape(sc.name)}</h1>",
        f'<p class="meta">{start} → {end} UTC · satellites: {html.escape(", ".join(s.satellite.name or "?" for s in sc.satellites))}'
        f" · generated by satqkd</p>",
        '<div class="cards">' + "".join(f'<div class="card">{k}<b>{html.escape(v)}</b></div>' for k, v in cards) + "</div>",
    ]
    for note in results.warnings:
        body.append(f'<p class="meta">⚠ {html.escape(note)}</p>')
    body.append("<h2>Passes</h2>")
    if passes.empty:
        body.append("<p>No pass meets the constraints in this span.</p>")
    else:
        body.append(
            _table(passes, ["satellite", "station", "rise_utc", "culmination_utc", "set_utc", "max_elevation_deg",
                            "min_range_km", "usable_s", "key_window_s", "min_loss_db", "sifted_bits", "key_bits",
                            "mean_key_rate_bps", "qber"])
        )
        body.append(_fig_html(_key_per_pass(passes)))
        body.append("<h2>Sky plot</h2>")
        shown = passes.head(MAX_PASS_FIGURES)
        if len(passes) > len(shown):
            body.append(f"<p class='meta'>The first {len(shown)} of {len(passes)} passes.</p>")
        body.append(_fig_html(_sky_plot(seconds[seconds["pass_id"].isin(shown["pass_id"])], shown)))
    body.append("<h2>Link budget</h2>")
    body.extend(_loss_budget_figures(sc))
    try:
        from .link import geo_comparison

        body.append("<h3>LEO versus GEO downlink loss</h3>")
        geo = geo_comparison().rename_axis("link").reset_index()
        body.append(_table(geo, list(geo.columns)))
    except ImportError:  # pragma: no cover
        pass
    if not passes.empty:
        body.append("<h2>Each pass: elevation, loss and key rate against time</h2>")
        shown = passes.head(MAX_PASS_FIGURES)
        for _, row in shown.iterrows():
            g = seconds.loc[seconds["pass_id"] == row["pass_id"]]
            body.append(_fig_html(_pass_figure(g, row)))
        if len(passes) > MAX_PASS_FIGURES:
            body.append(f"<p class='meta'>{len(passes) - MAX_PASS_FIGURES} more passes are in passes.csv and seconds.csv.</p>")
    head = (
        f"<meta charset='utf-8'><title>{html.escape(sc.name)} — satqkd</title><style>{_CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script>"
    )
    return f"<!DOCTYPE html><html><head>{head}</head><body>{''.join(body)}</body></html>"

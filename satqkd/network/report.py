"""The network stage's files: tables (CSV, JSON) and a self-contained HTML report.

:func:`network_files` renders every output of a :class:`NetworkResults` as
``{path: text}`` for :func:`satqkd.io.write_files` (all or nothing):
``pools.csv``, ``requests.csv``, ``links.csv``, ``capacity.csv``,
``satellite-passes.csv``, ``status.json`` (ETSI GS QKD 014 status of every
pool at the end) and ``network.html``.

The HTML embeds plotly.js and draws the map as a plain longitude/latitude
scatter over a shipped outline (:mod:`satqkd.network.outline`), so it opens
offline: plotly's geographic maps would fetch their world map from a CDN.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from ..io import render_table
from .outline import CHINA_OUTLINE

__all__ = ["network_files", "render_network_report", "format_bits", "OUTPUT_NAMES"]

OUTPUT_NAMES = ("pools.csv", "requests.csv", "links.csv", "capacity.csv", "satellite-passes.csv", "status.json", "network.html")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem} .meta{color:#666}
table{border-collapse:collapse;font-size:.85rem;width:100%} th,td{padding:.25rem .5rem;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f6f6f6;position:sticky;top:0} td:first-child,th:first-child{text-align:left}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#f6f8fa;border-radius:8px;padding:.8rem 1.2rem}
.card b{display:block;font-size:1.4rem}.scroll{max-height:28rem;overflow:auto}
"""


def format_bits(x: float, unit: str = "bit") -> str:
    """``x`` bits (or bits per second with ``unit="bit/s"``) in kbit, Mbit, Gbit or Tbit:
    two decimals below 10, one below 100, none above (``5.00 Mbit``, ``10.4 Mbit``, ``394 Gbit``)."""
    if x is None or not np.isfinite(x):
        return "–"
    x = 0.0 if abs(x) < 1e-6 else float(x)
    for prefix, f in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1.0)):
        if abs(x) >= f or f == 1.0:
            v = x / f
            digits = 2 if abs(v) < 10 else (1 if abs(v) < 100 else 0)
            if f == 1.0:
                digits = 0
            return f"{v:,.{digits}f} {prefix}{unit}"
    return ""


_bits = format_bits


def _table(frame: pd.DataFrame) -> str:
    def cell(v, c):
        if isinstance(v, (float, np.floating)):
            if math.isnan(v):
                return "–"
            return f"{v:,.0f}" if (c.endswith("_bits") or c.endswith("bits_per_day") or c.endswith("_bps")) else f"{v:,.1f}"
        if isinstance(v, pd.Timestamp):
            return v.strftime("%Y-%m-%d %H:%M:%S")
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(row[c], c)}</td>" for c in frame.columns) + "</tr>" for _, row in frame.iterrows())
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _fig(fig: go.Figure, div_id: str) -> str:
    # A fixed div id (plotly draws a random one) keeps the file byte-identical run to run.
    fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=50, b=40))
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}, div_id=div_id)


def _map(res) -> go.Figure:
    nodes = res.network.nodes.set_index("node")
    links = res.links
    fig = go.Figure()
    for ring in CHINA_OUTLINE:
        lon, lat = zip(*ring)
        fig.add_trace(go.Scatter(x=lon, y=lat, mode="lines", line=dict(color="#bbb", width=1), hoverinfo="skip", showlegend=False))
    rate = links["key_rate_bps"].to_numpy(dtype=float)
    edges = [1, 1e2, 1e3, 1e4, 1e5, 1e6, np.inf]
    colours = ["#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850", "#006837"]
    for lo, hi, colour in zip([0] + edges[:-1], edges, ["#000"] + colours):
        sel = links[(rate >= lo) & (rate < hi)]
        for kind, dash in (("fibre", "solid"), ("satellite", "dash")):
            part = sel[sel["kind"] == kind]
            if part.empty:
                continue
            xs, ys, text = [], [], []
            for _, row in part.iterrows():
                a, b = nodes.loc[row["a"]], nodes.loc[row["b"]]
                xs += [a["longitude_deg"], b["longitude_deg"], None]
                ys += [a["latitude_deg"], b["latitude_deg"], None]
                label = f"{row['link']}<br>{row['length_km']:.0f} km, {row['key_rate_bps']:,.0f} bit/s"
                text += [label, label, None]
            name = f"{kind} {'< 1' if lo == 0 else f'{lo:g}'}{'' if lo == 0 else (f'–{hi:g}' if np.isfinite(hi) else '+')} bit/s"
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=colour, width=3 if kind == "satellite" else 2, dash=dash),
                                     text=text, hoverinfo="text", name=name))
    for kind, symbol, size in (("station", "star", 14), ("relay", "circle", 6), ("user", "circle-open", 5)):
        part = res.network.nodes[res.network.nodes["kind"] == kind]
        fig.add_trace(go.Scatter(x=part["longitude_deg"], y=part["latitude_deg"], mode="markers", name=kind,
                                 marker=dict(symbol=symbol, size=size, color="#225"), text=part["node"], hoverinfo="text"))
    fig.update_layout(title="Network: links coloured by key rate (satellite link dashed)", height=650,
                      xaxis=dict(title="longitude (deg)"), yaxis=dict(title="latitude (deg)", scaleanchor="x",
                                                                       scaleratio=1 / math.cos(math.radians(35))))
    return fig


def _pool_plot(res) -> go.Figure:
    pools = res.pools
    keep = set(pools.loc[pools["kind"].isin(["satellite", "satellite-store"]), "pool"].unique())
    for cut in res.capacity.get("bottleneck", []):
        keep |= {c for c in str(cut).split("; ") if c}
    fig = go.Figure()
    for name in sorted(keep):
        part = pools[pools["pool"] == name]
        fig.add_trace(go.Scatter(x=pd.to_datetime(part["time_utc"]), y=part["level_bits"], mode="lines", name=name, line=dict(shape="hv")))
    flown = res.passes[res.passes["served"].astype(bool)] if len(res.passes) else res.passes
    if len(flown):
        # One dotted vertical line per flown pass (at the end of its key window), as one trace.
        levels = pools.loc[pools["pool"].isin(keep), "level_bits"]
        top = max(float(levels.max()) if len(levels) else 1.0, 10.0) * 2
        xs, ys, text = [], [], []
        for t, st, k in zip(flown["end_utc"], flown["station"], flown["key_bits"]):
            label = f"pass over {st}: {k / 1e6:.2f} Mbit on board"
            xs += [t, t, None]
            ys += [1.0, top, None]
            text += [label, label, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="satellite pass", line=dict(color="#888", width=1, dash="dot"),
                                 text=text, hoverinfo="text+x"))
    fig.update_layout(title="Pool levels (satellite stores, satellite link, bottlenecks); passes marked", height=450,
                      yaxis=dict(title="key (bits)", type="log"), xaxis=dict(title="UTC"))
    return fig


def _request_plot(res) -> go.Figure:
    counts = res.requests.groupby(["demand_name", "status"]).size().unstack(fill_value=0)
    fig = go.Figure()
    for status, colour in (("served", "#1a9850"), ("waited", "#fee08b"), ("failed", "#d73027"), ("pending", "#999")):
        if status in counts:
            fig.add_trace(go.Bar(y=counts.index, x=counts[status], name=status, orientation="h", marker_color=colour))
    fig.update_layout(barmode="stack", title="Requests per demand", height=max(300, 22 * len(counts) + 120), xaxis=dict(title="requests"))
    return fig


def render_network_report(res, title: str = "satqkd network") -> str:
    """The HTML report of a network run (plotly.js embedded: opens offline)."""
    req = res.requests
    n = {s: int((req["status"] == s).sum()) for s in ("served", "waited", "failed", "pending")}
    cards = [("nodes", f"{len(res.network.nodes)}"), ("links", f"{len(res.links)}"),
             ("requests served / waited / failed / pending", f"{n['served']:,} / {n['waited']:,} / {n['failed']:,} / {n['pending']:,}"),
             ("key delivered", _bits(float(req["served_bits"].sum())))]
    cap = res.capacity
    lead = ""
    if len(cap):
        r = cap.iloc[0]
        lead = (f"<p><b>{html.escape(r['a'])}</b> and <b>{html.escape(r['b'])}</b>, {r['great_circle_km']:,.0f} km apart "
                f"({r['route_km']:,.0f} km of route over {r['hops']} hops), can share <b>{_bits(r['capacity_bits_per_day'])} "
                f"of key per day</b>; the link that limits them: <b>{html.escape(str(r['bottleneck']))}</b>.</p>")
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>{res.start:%Y-%m-%d %H:%M} UTC, {res.span_s / 86400:.2f} days; "
        f"network stage of satqkd (key pools, trusted relays, satellite relay)</p>",
        "<div class='cards'>" + "".join(f"<div class='card'>{k}<b>{v}</b></div>" for k, v in cards) + "</div>",
        lead,
        "<h2>Map</h2>", _fig(_map(res), "network-map"),
        "<h2>Capacity per day (max-flow over daily link volumes)</h2>", _table(cap),
        "<h2>Pool levels</h2>", _fig(_pool_plot(res), "pool-levels"),
        "<h2>Requests</h2>", _fig(_request_plot(res), "requests"),
        "<h2>Satellite passes and relay</h2>",
        _table(res.passes.drop(columns=[c for c in ("start_s", "end_s") if c in res.passes])) if len(res.passes) else "<p>No passes.</p>",
        "<h2>Links</h2>",
        _table(res.links[["link", "kind", "system", "count", "length_km", "loss_db", "key_rate_bps", "daily_volume_bits",
                          "generated_bits", "consumed_bits", "discarded_bits", "level_bits", "state"]]),
    ]
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{_CSS}</style>" \
           f"<script type='text/javascript'>{get_plotlyjs()}</script>"
    return f"<!DOCTYPE html><html><head>{head}</head><body>{''.join(body)}</body></html>"


def network_files(res, out_dir: str | Path, *, title: str = "satqkd network", report: bool = True) -> dict:
    """``{path: content}`` of every network output, ready for :func:`satqkd.io.write_files`."""
    out = Path(out_dir)
    files = {
        out / "pools.csv": render_table(res.pools, out / "pools.csv"),
        out / "requests.csv": render_table(res.requests, out / "requests.csv"),
        out / "links.csv": render_table(res.links, out / "links.csv"),
        out / "capacity.csv": render_table(res.capacity, out / "capacity.csv"),
        out / "satellite-passes.csv": render_table(res.passes, out / "satellite-passes.csv"),
        out / "status.json": json.dumps(res.status, indent=1) + "\n",
    }
    if report:
        files[out / "network.html"] = render_network_report(res, title)
    return files

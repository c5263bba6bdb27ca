"""A self-contained HTML report of a scenario (plotly.js embedded: opens offline).

It reads top-down, as a planner does: first the totals and trends, then
the detail.

1. *Overview*: final key per station and in total, cumulative key over
   time, key per day and station, a timeline of the passes (a row per
   station, each pass coloured by its key), and the parameters used
   (equipment, protocol, constraints) with the satqkd version.
2. *Passes*: a sortable table (key and rate first, units in the headers).
3. *Sky*: a polar plot per station of the pass tracks, the key window drawn
   bold, an arrow at the end of each track for the direction of travel.
4. *Link budget*: loss against elevation at each satellite's own orbit
   height, stacked by component; the LEO-versus-GEO table only when the
   scenario has a geostationary satellite.
5. *Each pass on demand*: a selector (or a click on a row of the table)
   draws one pass's elevation, loss and key rate against time; the first
   :data:`MAX_PASS_FIGURES` passes are in the page, all are in seconds.csv.

Every user string (scenario, satellite and station names) is escaped.
:func:`provenance` is the version and scenario stamp that goes into the
report, ``run.json`` and Parquet metadata.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from . import __version__

__all__ = ["render_report", "render_provenance", "provenance", "orbit_height_km", "MAX_PASS_FIGURES", "MAX_SKY_TRACKS"]

MAX_PASS_FIGURES = 150  # passes whose per-second series are in the page (the rest: seconds.csv)
MAX_SKY_TRACKS = 40  # tracks per station in its sky plot
_POINTS_PER_PASS = 120  # per-second series are thinned to this many points in the page
_POINTS_PER_TRACK = 60  # and sky tracks to this many
_EARTH_RADIUS_KM = 6378.135  # WGS-72, as SGP4
_MU_KM3_S2 = 398600.8  # WGS-72

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
.meta{color:#666} table{border-collapse:collapse;font-size:.85rem}
th,td{padding:.25rem .5rem;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f6f6f6;position:sticky;top:0} .left{text-align:left}
table.sortable th{cursor:pointer} table.sortable th:hover{background:#e8eef5}
table.sortable th[aria-sort=ascending]::after{content:" ▲"} table.sortable th[aria-sort=descending]::after{content:" ▼"}
tr.pick{cursor:pointer} tr.pick:hover{background:#f3f7fb}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#f6f8fa;border-radius:8px;padding:.7rem 1.1rem}
.card b{display:block;font-size:1.5rem}.scroll{max-height:30rem;overflow:auto;border:1px solid #eee}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem} @media(max-width:900px){.grid{grid-template-columns:1fr}}
details{margin:.6rem 0} summary{cursor:pointer;font-weight:600} .params td:first-child{text-align:left;color:#555}
.warn{color:#8a5300}
"""

_JS = """
function satqkdSort(th){
  const table=th.closest('table'), body=table.tBodies[0], i=[...th.parentNode.children].indexOf(th);
  const asc=th.getAttribute('aria-sort')!=='ascending';
  table.querySelectorAll('th').forEach(h=>h.removeAttribute('aria-sort'));
  th.setAttribute('aria-sort',asc?'ascending':'descending');
  const rows=[...body.rows], key=r=>{const c=r.cells[i], v=c.dataset.v; return v===undefined?c.textContent:parseFloat(v);};
  rows.sort((a,b)=>{const x=key(a),y=key(b); const d=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y)); return asc?d:-d;});
  rows.forEach(r=>body.appendChild(r));
}
function satqkdPass(id){
  const data=SATQKD_PASSES[id], div=document.getElementById('pass-figure');
  if(!data||!div) return;
  const sel=document.getElementById('pass-select'); if(sel) sel.value=id;
  const t0=Date.parse(data.t0+'Z'), t=data.dt.map(s=>new Date(t0+1000*s).toISOString().slice(0,19).replace('T',' '));
  const xw=data.window;
  const traces=[
    {x:t,y:data.el,name:'elevation (deg)',line:{color:'#1f77b4'},yaxis:'y'},
    {x:t,y:data.loss,name:'loss (dB)',line:{color:'#d62728'},yaxis:'y2'},
    {x:t,y:data.rate,name:'asymptotic key rate (kbit/s)',line:{color:'#2ca02c'},yaxis:'y3'}];
  const shapes=xw?[{type:'rect',xref:'x',yref:'paper',x0:xw[0],x1:xw[1],y0:0,y1:1,fillcolor:'#2ca02c',opacity:0.08,line:{width:0}}]:[];
  Plotly.react(div,traces,{title:{text:data.title},height:540,template:SATQKD_TEMPLATE,showlegend:false,shapes:shapes,
    margin:{l:60,r:20,t:60,b:40},grid:{rows:3,columns:1,subplots:[['xy'],['xy2'],['xy3']]},
    yaxis:{title:{text:'elevation (deg)'}},yaxis2:{title:{text:'loss (dB)'}},yaxis3:{title:{text:'key rate (kbit/s)'}},
    xaxis:{title:{text:'UTC'}}},{displaylogo:false,responsive:true});
}
document.addEventListener('DOMContentLoaded',()=>{
  document.querySelectorAll('table.sortable th').forEach(th=>th.addEventListener('click',()=>satqkdSort(th)));
  document.querySelectorAll('tr.pick').forEach(tr=>tr.addEventListener('click',()=>{satqkdPass(tr.dataset.pass);
    document.getElementById('each-pass').scrollIntoView();}));
  const sel=document.getElementById('pass-select');
  if(sel){sel.addEventListener('change',()=>satqkdPass(sel.value)); satqkdPass(sel.value);}
});
"""


def provenance(results) -> dict:
    """Which satqkd and which scenario made an output (text values)."""
    sc = results.scenario
    return {
        "version": __version__,
        "scenario": sc.name,
        "scenario_file": str(sc.path) if sc.path is not None else "",
        "start_utc": sc.start.utc_strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_utc": sc.end.utc_strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def render_provenance(results, files: list[str]) -> str:
    """``run.json``: the provenance of the outputs written beside it."""
    doc = {"generator": f"satqkd {__version__}", **provenance(results), "passes": int(len(results.passes)),
           "final_key_bits": float(results.passes["key_bits"].sum()) if len(results.passes) else 0.0, "files": files}
    dual = getattr(results, "dual", None)
    if dual is not None:  # the entanglement dual downlinks' finite key (satqkd.entanglement)
        doc["dual_downlinks"] = [{"link": r["link"], "key_bits": float(r["key_bits"]),
                                  "key_bits_per_day": float(r["key_bits_per_day"]),
                                  "key_bits_clear_sky": float(r["key_bits_clear_sky"])}
                                 for _, r in dual.summary.iterrows()]
    return json.dumps(doc, indent=1) + "\n"


def orbit_height_km(satellite) -> float:
    """Mean height above the equator of an SGP4 satellite (semi-major axis
    from the Kozai mean motion, minus the WGS-72 equatorial radius)."""
    n_rad_s = satellite.model.no_kozai / 60.0
    return (_MU_KM3_S2 / n_rad_s**2) ** (1.0 / 3.0) - _EARTH_RADIUS_KM


def _json(data) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _fig_html(fig: go.Figure, height: int | None = None) -> str:
    fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=50, b=40))
    if height:
        fig.update_layout(height=height)
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def _esc(value) -> str:
    return html.escape(str(value))


# --- the pass table -----------------------------------------------------------

# (column, header, scale, decimals): key and rate first, units in the header.
_PASS_COLUMNS = [
    ("key_bits", "final key (kbit)", 1e-3, 0),
    ("mean_key_rate_bps", "key rate (kbit/s)", 1e-3, 2),
    ("station", "station", None, None),
    ("satellite", "satellite", None, None),
    ("served", "served", None, None),
    ("culmination_utc", "culmination (UTC)", None, None),
    ("max_elevation_deg", "max elevation (°)", 1, 1),
    ("key_window_s", "key window (s)", 1, 0),
    ("usable_s", "usable (s)", 1, 0),
    ("min_loss_db", "min loss (dB)", 1, 1),
    ("qber", "QBER (%)", 100, 2),
    ("sifted_bits", "sifted (kbit)", 1e-3, 1),
    ("min_range_km", "min range (km)", 1, 0),
    ("rise_utc", "rise (UTC)", None, None),
    ("set_utc", "set (UTC)", None, None),
]


def _cell(value, scale, decimals) -> str:
    if isinstance(value, pd.Timestamp):
        return f'<td class="left" data-v="{value.value / 1e9:.0f}">{value:%Y-%m-%d %H:%M:%S}</td>'
    if scale is None:
        return f'<td class="left">{_esc(value)}</td>'
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        return '<td data-v="-1e308">–</td>'
    v = float(value) * scale
    return f'<td data-v="{v:.6g}">{v:,.{decimals}f}</td>'


def _served(passes: pd.DataFrame) -> pd.Series:
    """Which passes deliver key: scheduled on a clear night (all without those columns)."""
    ok = pd.Series(True, index=passes.index)
    for col in ("scheduled", "clear"):
        if col in passes:
            ok &= passes[col].fillna(False).astype(bool)
    return ok


def _pass_table(passes: pd.DataFrame, pickable: set) -> str:
    if "scheduled" in passes:
        why = passes["not_scheduled_reason"].fillna("") if "not_scheduled_reason" in passes else ""
        passes = passes.assign(served=np.where(_served(passes), "yes", "no: " + why))
    cols = [c for c in _PASS_COLUMNS if c[0] in passes]
    head = "".join(f'<th class="{"left" if c[2] is None else ""}" title="sort">{_esc(c[1])}</th>' for c in cols)
    rows = []
    for rec in passes.to_dict("records"):
        pid = rec["pass_id"]
        attrs = f' class="pick" data-pass="{int(pid)}" title="show this pass"' if pid in pickable else ""
        rows.append(f"<tr{attrs}>" + "".join(_cell(rec[c], s, d) for c, _, s, d in cols) + "</tr>")
    return (f'<div class="scroll"><table class="sortable" id="pass-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _plain_table(frame: pd.DataFrame, cls: str = "") -> str:
    head = "".join(f"<th class='left'>{_esc(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td class='left'>{_esc(v)}</td>" for v in row) + "</tr>" for row in frame.itertuples(index=False))
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# --- overview -----------------------------------------------------------------


def _station_totals(passes: pd.DataFrame, stations: list[str]) -> pd.DataFrame:
    rows = []
    for name in stations + ["all stations"]:
        g = passes if name == "all stations" else passes[passes["station"] == name]
        key = g["key_bits"].fillna(0.0) if "key_bits" in g else pd.Series(dtype=float)
        rows.append({
            "station": name,
            "passes": f"{len(g):,}",
            "with key": f"{int((key > 0).sum()):,}",
            "final key (Mbit)": f"{key.sum() / 1e6:,.2f}",
            "delivered (Mbit)": f"{key[_served(g)].sum() / 1e6:,.2f}" if len(g) else "0.00",
            "key per pass (Mbit)": f"{key.mean() / 1e6:,.3f}" if len(g) else "–",
            "best pass (Mbit)": f"{key.max() / 1e6:,.3f}" if len(g) else "–",
            "usable (min)": f"{g['usable_s'].sum() / 60:,.1f}",
        })
    return pd.DataFrame(rows)


def _colour(stations: list[str], name: str) -> str:
    """One colour per station in every figure."""
    import plotly.colors

    palette = plotly.colors.qualitative.Plotly
    return palette[stations.index(name) % len(palette)]


def _cumulative_key(passes: pd.DataFrame, stations: list[str]) -> go.Figure:
    fig = go.Figure()
    p = passes.sort_values("set_utc")
    for name in stations:
        g = p[p["station"] == name]
        fig.add_trace(go.Scatter(x=g["set_utc"], y=g["key_bits"].fillna(0).cumsum() / 1e6, name=_esc(name), mode="lines",
                                 line=dict(color=_colour(stations, name)), line_shape="hv", hovertemplate="%{x}<br>%{y:.2f} Mbit"))
    fig.add_trace(go.Scatter(x=p["set_utc"], y=p["key_bits"].fillna(0).cumsum() / 1e6, name="total", mode="lines",
                             line_shape="hv", line=dict(color="black", width=2.5), hovertemplate="%{x}<br>%{y:.2f} Mbit"))
    fig.update_layout(title="Cumulative final key", yaxis_title="final key (Mbit)", legend=dict(orientation="h", y=-0.15))
    return fig


def _daily_key(passes: pd.DataFrame, stations: list[str]) -> go.Figure:
    fig = go.Figure()
    day = passes["culmination_utc"].dt.floor("D")
    days = pd.date_range(day.min(), day.max(), freq="D")
    for name in stations:
        g = passes[passes["station"] == name]
        per_day = g["key_bits"].fillna(0).groupby(day[g.index]).sum().reindex(days, fill_value=0.0)
        fig.add_trace(go.Bar(x=days, y=per_day.to_numpy() / 1e6, name=_esc(name), marker_color=_colour(stations, name),
                             hovertemplate="%{x|%Y-%m-%d}<br>%{y:.2f} Mbit"))
    fig.update_layout(title="Final key per day (UTC) and station", yaxis_title="final key (Mbit)", barmode="stack",
                      legend=dict(orientation="h", y=-0.15, traceorder="normal"))
    return fig


def _timeline(passes: pd.DataFrame, stations: list[str]) -> go.Figure:
    key_mbit = passes["key_bits"].fillna(0).to_numpy() / 1e6
    fig = go.Figure(go.Scatter(
        x=passes["culmination_utc"], y=[_esc(s) for s in passes["station"]], mode="markers",
        marker=dict(color=key_mbit, colorscale="Viridis", cmin=0, size=11, symbol="line-ns-open", line=dict(width=3, color=key_mbit),
                    colorbar=dict(title=dict(text="key (Mbit)"))),
        customdata=np.stack([key_mbit, passes["max_elevation_deg"].to_numpy()], axis=-1),
        hovertemplate="%{x}<br>%{y}<br>%{customdata[0]:.3f} Mbit, max elevation %{customdata[1]:.1f}°<extra></extra>",
    ))
    fig.update_layout(title="Passes by station, coloured by final key", yaxis=dict(categoryorder="array",
                      categoryarray=[_esc(s) for s in reversed(stations)]), showlegend=False)
    return fig


def _parameters(sc) -> str:
    """The equipment, protocol and constraints used, as compact tables."""

    def fields(obj) -> list[tuple[str, str]]:
        out = []
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if f.name == "horizon_mask":
                v = f"{len(v)} points" if v else "none"
            elif isinstance(v, float):
                v = f"{v:.6g}"
            elif isinstance(v, (tuple, list)):
                v = ", ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in v)
            out.append((f.name, str(v)))
        return out

    def block(title, obj) -> str:
        if obj is None or not dataclasses.is_dataclass(obj):
            return ""
        rows = "".join(f"<tr><td>{_esc(k)}</td><td class='left'>{_esc(v)}</td></tr>" for k, v in fields(obj))
        return f"<div><h4>{_esc(title)}</h4><table class='params'>{rows}</table></div>"

    parts = [block("protocol", sc.protocol)]
    for s in sc.satellites[:3]:
        parts.append(block(f"{s.satellite.name}: transmitter", s.transmitter))
        parts.append(block(f"{s.satellite.name}: source", s.source))
    if len(sc.satellites) > 3:
        parts.append(f"<p class='meta'>… and {len(sc.satellites) - 3} more satellites.</p>")
    for s in sc.stations:
        st = s.station
        parts.append(f"<div><h4>{_esc(st.name)}</h4><p class='meta'>{st.latitude_deg:.4f}°, {st.longitude_deg:.4f}°, "
                     f"{st.height_m:,.0f} m</p></div>")
        for label in ("constraints", "telescope", "detector", "atmosphere", "turbulence", "sky"):
            parts.append(block(f"{st.name}: {label}", getattr(s, label, None)))
    return "<details><summary>Parameters used (equipment, protocol, constraints)</summary><div class='grid'>" + "".join(parts) + "</div></details>"


# --- sky ----------------------------------------------------------------------


def _sky_plot(station: str, seconds: pd.DataFrame, passes: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for rec in passes.to_dict("records"):
        g = seconds[seconds["pass_id"] == rec["pass_id"]]
        if g.empty:
            continue
        r = (90.0 - g["elevation_deg"]).to_numpy(np.float32)
        theta = g["azimuth_deg"].to_numpy(np.float32)
        keep = np.unique(np.r_[0:len(r):max(1, math.ceil(len(r) / _POINTS_PER_TRACK)), len(r) - 1])
        label = f"{rec['culmination_utc']:%m-%d %H:%M}"
        fig.add_trace(go.Scatterpolar(r=r[keep], theta=theta[keep], mode="lines", line=dict(color="#9aa5b1", width=1),
                                      name=label, legendgroup=label, showlegend=False, hoverinfo="skip"))
        if "in_key_window" in g and g["in_key_window"].astype(bool).any():
            w = np.flatnonzero(g["in_key_window"].astype(bool).to_numpy())
            wk = np.unique(np.r_[w[::max(1, math.ceil(len(w) / _POINTS_PER_TRACK))], w[-1]])
            fig.add_trace(go.Scatterpolar(r=r[wk], theta=theta[wk], mode="lines", line=dict(color="#2ca02c", width=3),
                                          name=label, legendgroup=label, showlegend=False,
                                          hovertemplate=f"{label} key window<br>az %{{theta:.0f}}°<extra></extra>"))
        # The direction of travel: an arrow at the end of the track, along
        # its last few seconds (the first, invisible point sets the angle).
        k = len(r) - 1
        j = max(0, k - 5)
        fig.add_trace(go.Scatterpolar(r=[float(r[j]), float(r[k])], theta=[float(theta[j]), float(theta[k])], mode="markers",
                                      showlegend=False, legendgroup=label,
                                      marker=dict(symbol="arrow", size=[0, 12], color="#555", angleref="previous"),
                                      hovertemplate=f"{label} ends<extra></extra>"))
    fig.update_layout(
        title=f"{_esc(station)}: sky tracks<br><sup>centre = zenith · green = key window · arrow = direction of travel</sup>",
        polar=dict(angularaxis=dict(direction="clockwise", rotation=90, tickvals=[0, 90, 180, 270], ticktext=["N", "E", "S", "W"]),
                   radialaxis=dict(range=[0, 90], tickvals=[0, 30, 60, 90], ticktext=["90°", "60°", "30°", "0°"])),
        height=520,
    )
    return fig


# --- link budget ----------------------------------------------------------------


def _loss_budget_figures(scenario) -> list[str]:
    from .link import loss_table

    parts = []
    sat = scenario.satellites[0]
    height = orbit_height_km(sat.satellite)
    for setup in scenario.stations:
        table = loss_table(sat.transmitter, setup.telescope, setup.detector, height_km=height, site_height_m=setup.station.height_m)
        comps = [c for c in table.columns if c.endswith("_loss_db")]
        fig = go.Figure()
        for c in comps:
            fig.add_trace(go.Bar(x=table["elevation_deg"], y=table[c], name=c.replace("_loss_db", "")))
        fig.add_trace(go.Scatter(x=table["elevation_deg"], y=table["loss_db"], name="total", mode="lines+markers", line=dict(color="black")))
        fig.update_layout(barmode="stack", xaxis_title="elevation (deg)", yaxis_title="loss (dB)", height=400,
                          title=f"Loss budget at {_esc(setup.station.name)} vs elevation ({height:,.0f} km orbit of {_esc(sat.satellite.name)})")
        parts.append(_fig_html(fig))
    return parts


def _is_geostationary(satellite) -> bool:
    return abs(satellite.model.no_kozai * 1440.0 / (2 * math.pi) - 1.0027) < 0.05


# --- each pass ------------------------------------------------------------------


def _pass_series(seconds: pd.DataFrame, passes: pd.DataFrame) -> dict:
    """Thinned per-second series of each pass, for the selector."""
    out = {}
    by_pass = dict(tuple(seconds.groupby("pass_id")))
    for rec in passes.to_dict("records"):
        g = by_pass.get(rec["pass_id"])
        if g is None or g.empty:
            continue
        step = max(1, math.ceil(len(g) / _POINTS_PER_PASS))
        h = g.iloc[::step]
        t0 = h["time_utc"].iloc[0]
        # Seconds after the first sample (whole numbers): compact, and UTC in the page's script.
        series = {"t0": t0.strftime("%Y-%m-%dT%H:%M:%S"),
                  "dt": np.round((h["time_utc"] - t0).dt.total_seconds().to_numpy()).astype(int).tolist(),
                  "el": np.round(h["elevation_deg"].to_numpy(), 1).tolist()}
        series["loss"] = np.round(h["loss_db"].to_numpy(), 2).tolist() if "loss_db" in h else []
        series["rate"] = [float(f"{v:.3g}") for v in h["key_rate_bps"].to_numpy() / 1e3] if "key_rate_bps" in h else []
        window = None
        if "in_key_window" in g and g["in_key_window"].astype(bool).any():
            w = g.loc[g["in_key_window"].astype(bool), "time_utc"]
            window = [w.iloc[0].strftime("%Y-%m-%d %H:%M:%S"), w.iloc[-1].strftime("%Y-%m-%d %H:%M:%S")]
        series["window"] = window
        title = (f"{html.escape(str(rec['satellite']))} over {html.escape(str(rec['station']))}, culmination "
                 f"{rec['culmination_utc']:%Y-%m-%d %H:%M:%S} UTC, max elevation {rec['max_elevation_deg']:.1f}°")
        if not pd.isna(rec.get("key_bits", np.nan)):
            title += f" — {rec['key_bits'] / 1e3:,.1f} kbit in {rec['key_window_s']:.0f} s"
        series["title"] = title
        out[int(rec["pass_id"])] = series
    return out


def _pass_selector(passes: pd.DataFrame, series: dict) -> str:
    options = []
    for rec in passes.to_dict("records"):
        pid = int(rec["pass_id"])
        if pid in series:
            key = rec.get("key_bits", np.nan)
            key_text = "" if pd.isna(key) else f" — {key / 1e3:,.1f} kbit"
            options.append(f"<option value='{pid}'>{rec['culmination_utc']:%Y-%m-%d %H:%M} {_esc(rec['station'])}"
                           f" ({_esc(rec['satellite'])}), {rec['max_elevation_deg']:.0f}°{key_text}</option>")
    return (f"<p><label for='pass-select'>Pass: </label><select id='pass-select'>{''.join(options)}</select> "
            "<span class='meta'>or click a row of the pass table</span></p><div id='pass-figure' class='plotly-graph-div'></div>")


# --- the page -------------------------------------------------------------------


def render_report(results) -> str:
    """The report of :class:`~satqkd.pipeline.Results` as one HTML string."""
    sc = results.scenario
    passes, seconds = results.passes, results.seconds
    stations = [s.station.name for s in sc.stations]
    total_key = float(passes["key_bits"].sum()) if "key_bits" in passes and len(passes) else 0.0
    start = sc.start.utc_strftime("%Y-%m-%d %H:%M")
    end = sc.end.utc_strftime("%Y-%m-%d %H:%M")
    days = (sc.end.tt - sc.start.tt)
    n = len(passes)
    cards = [
        ("final key", f"{total_key / 1e6:,.2f} Mbit"),
        ("per day", f"{total_key / 1e6 / days:,.2f} Mbit" if days > 0 else "–"),
        ("delivered", f"{float(passes.loc[_served(passes), 'key_bits'].sum()) / 1e6:,.2f} Mbit" if n else "0 Mbit"),
        ("passes", f"{n:,}"),
        ("usable time", f"{passes['usable_s'].sum() / 60:,.1f} min" if n else "0 min"),
    ]
    source = f" · {_esc(sc.path.name)}" if sc.path is not None else ""
    body = [
        f"<h1>{_esc(sc.name)}</h1>",
        f'<p class="meta">{start} → {end} UTC ({days:g} days) · satellites: '
        f'{_esc(", ".join(s.satellite.name or "?" for s in sc.satellites[:10]))}{" …" if len(sc.satellites) > 10 else ""}'
        f' · stations: {_esc(", ".join(stations))}{source} · <span id="version">satqkd {_esc(__version__)}</span></p>',
    ]
    body.extend(_dual_section(results))  # entanglement dual downlinks first: their key is the scenario's point
    body.append('<div class="cards" id="totals">' + "".join(f'<div class="card">{k}<b>{_esc(v)}</b></div>' for k, v in cards) + "</div>")
    for note in results.warnings:
        body.append(f'<p class="meta warn">⚠ {_esc(note)}</p>')

    body.append("<h2>Overview</h2>")
    body.append(_plain_table(_station_totals(passes, stations), "totals"))
    if n:
        body.append("<div class='grid'>" + _fig_html(_cumulative_key(passes, stations), 380)
                    + _fig_html(_daily_key(passes, stations), 380) + "</div>")
        body.append(_fig_html(_timeline(passes, stations), 150 + 45 * len(stations)))
    else:
        body.append("<p>No pass meets the constraints in this span.</p>")
    if n and "scheduled" in passes:
        from .schedule import lost_to_conflicts

        cloudy = int((~passes["clear"].astype(bool)).sum()) if "clear" in passes else 0
        body.append(f"<p class='meta'>Delivered: the key of the passes scheduled on clear nights (one telescope "
                    f"per station, one terminal per satellite); {cloudy:,} cloudy, "
                    f"{lost_to_conflicts(passes) / 1e6:,.2f} Mbit lost to conflicts.</p>")
    if sc.weather is not None and n:
        from .pipeline import weather_tables
        from .weather import distribution_html

        yearly, _ = weather_tables(results)
        body.append(distribution_html(yearly, sc.weather.years, sc.weather.seed))
    body.append(_parameters(sc))

    shown = passes.head(MAX_PASS_FIGURES)
    series = _pass_series(seconds, shown) if n else {}
    body.append(f"<h2>Passes ({n:,})</h2>")
    if n:
        body.append("<p class='meta'>Click a header to sort; click a row to plot that pass below. "
                    "Every column, and every second, is in passes.csv and seconds.csv.</p>")
        body.append(_pass_table(passes, set(series)))

        body.append("<h2>Sky</h2>")
        figs = []
        for name in stations:
            mine = passes[passes["station"] == name]
            if mine.empty:
                continue
            first = mine.head(MAX_SKY_TRACKS)
            fig = _sky_plot(name, seconds[seconds["pass_id"].isin(first["pass_id"])], first)
            if len(mine) > len(first):
                fig.update_layout(title=f"{fig.layout.title.text} · <sup>the first {len(first)} of {len(mine)} passes</sup>")
            figs.append(_fig_html(fig))
        body.append("<div class='grid'>" + "".join(figs) + "</div>")

    body.append("<h2>Link budget</h2>")
    body.extend(_loss_budget_figures(sc))
    if any(_is_geostationary(s.satellite) for s in sc.satellites):
        from .link import geo_comparison

        body.append("<h3>LEO versus GEO downlink loss</h3>")
        geo = geo_comparison().rename_axis("link").reset_index()
        body.append(_plain_table(geo.round(2)))

    if series:
        body.append("<h2 id='each-pass'>Each pass: elevation, loss and key rate against time</h2>")
        if n > len(shown):
            body.append(f"<p class='meta'>The first {len(shown)} of {n:,} passes; all are in seconds.csv.</p>")
        body.append(_pass_selector(shown, series))

    scripts = (
        f"<script>const SATQKD_PASSES={_json(series)};const SATQKD_TEMPLATE={_json(_template())};</script>"
        f"<script>{_JS}</script>"
    )
    head = (
        f"<meta charset='utf-8'><meta name='generator' content='satqkd {_esc(__version__)}'>"
        f"<title>{_esc(sc.name)} — satqkd</title><style>{_CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script>"
    )
    return f"<!DOCTYPE html><html lang='en'><head>{head}</head><body>{''.join(body)}{scripts}</body></html>"


# --- entanglement dual downlink ------------------------------------------------


def _dual_section(results) -> list[str]:
    """Cards, tables and a figure for the scenario's dual downlinks (none: nothing)."""
    dual = getattr(results, "dual", None)
    if dual is None or dual.summary.empty:
        return []
    out = ["<h2 id='dual'>Entanglement dual downlink</h2>"]
    for _, r in dual.summary.iterrows():
        block = "one block over the span" if r["block"] == "span" else "one block per window"
        cards = [
            ("finite key", f"{r['key_bits']:,.0f} bit"),
            ("per day", f"{r['key_bits_per_day']:,.0f} bit"),
            ("clear-sky ceiling", f"{r['key_bits_clear_sky']:,.0f} bit"),
            ("joint windows", f"{int(r['windows']):,} ({r['joint_s'] / 60:,.1f} min)"),
            ("coincidences", f"{r['coincidences']:,.0f}"),
            ("QBER", f"{100 * r['qber']:.2f} %" if r["sifted_bits"] > 0 else "–"),
        ]
        out.append(f"<h3>{_esc(r['link'])}: {_esc(r['station_a'])} + {_esc(r['station_b'])} via {_esc(r['satellite'])}</h3>")
        out.append('<div class="cards dual">' + "".join(f'<div class="card">{k}<b>{_esc(v)}</b></div>' for k, v in cards) + "</div>")
        out.append(f"<p class='meta'>Finite key: BBM92, {block}, from the windows clear at both stations "
                   f"(asymptotic: {r['asymptotic_key_bits']:,.0f} bit; no scheduling against the downlink passes). "
                   f"Trusted: {_esc(r['trusted'])}. "
                   "Every window is in dual_windows.csv, every second in dual_seconds.csv.</p>")
    arch = getattr(dual, "architectures", None)
    if arch is not None and len(arch):
        out.append("<h3>Two architectures, same passes</h3>")
        shown = pd.DataFrame({"stations": arch["station_a"] + " + " + arch["station_b"],
                              "architecture": arch["architecture"],
                              "key bit/day": arch["key_bits_per_day"].map(lambda x: f"{x:,.0f}"),
                              "trusted": arch["trusted"]})
        out.append(_plain_table(shown, "architectures"))
        out.append("<p class='meta'>The trusted relay: the smaller of the two stations' delivered "
                   "prepare-and-measure key from the same satellite (every note in architectures.csv).</p>")
    w = dual.windows
    if len(w):
        table = pd.DataFrame({
            "link": w["link"], "start UTC": pd.to_datetime(w["start_utc"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "joint s": w["joint_s"], "max el. A °": w["max_elevation_deg_a"].round(1),
            "max el. B °": w["max_elevation_deg_b"].round(1), "min loss dB": w["min_loss_db"].round(1),
            "mean loss dB": w["mean_loss_db"].round(1), "pairs /s": w["mean_coincidence_cps"].round(2),
            "QBER %": (100 * w["qber"]).round(2), "sifted bit": w["sifted_bits"].round(0),
            "key bit (window alone)": w["key_bits"].round(0), "clear": w["clear"].round(2),
        })
        out.append("<h3>Joint windows</h3>")
        out.append("<div class='scroll'>" + _plain_table(table, "dual-windows") + "</div>")
    sec = dual.seconds
    if len(sec):
        # One line per joint window (the first 30): the pass shape, not a week of gaps.
        fig = go.Figure()
        keys = sec[["link", "window_id"]].drop_duplicates().head(30)
        for link, wid in keys.itertuples(index=False):
            part = sec[(sec["link"] == link) & (sec["window_id"] == wid)]
            t = (part["time_utc"] - part["time_utc"].iloc[0]).dt.total_seconds()
            label = f"{link} {part['time_utc'].iloc[0]:%m-%d %H:%M}"
            fig.add_trace(go.Scatter(x=t, y=part["coincidence_cps"], mode="lines", name=label,
                                     customdata=part["loss_db"],
                                     hovertemplate="%{y:.2f} /s, two-link loss %{customdata:.1f} dB<extra>" + label + "</extra>"))
        fig.update_layout(title="Coincidences per second through each joint window",
                          xaxis={"title": "seconds since the window opened"},
                          yaxis={"title": "coincidences per second", "type": "log"})
        out.append(_fig_html(fig, 380))
    out.append("<h2>Each station alone: prepare-and-measure downlink</h2>")
    return out


def _template() -> dict:
    import plotly.io as pio

    return pio.templates["plotly_white"].to_plotly_json()

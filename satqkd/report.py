"""A self-contained HTML report of a scenario (plotly.js embedded: opens offline).

It reads top-down, as a planner does: first the totals and trends, then
the detail.

1. *Overview*: the delivered key first (the passes scheduled on clear
   nights, :func:`satqkd.schedule.key_summary`), beside it what cloud and
   conflicts took and the clear-sky ceiling, labelled as such; the totals
   per station; the cumulative delivered key under its ceiling; delivered
   key per day (per week over a span of more than :data:`LONG_SPAN_DAYS`)
   and station; a timeline of the passes (over a long span, a heatmap of
   the delivered key per day and station); with weather, the delivered key
   per month with its P10-P90 over the weather years, the weather table
   and a note on how its numbers relate to the cards; the parameters used
   (equipment, protocol, constraints) with the satqkd version.
2. *Passes*: a sortable table (key and rate first, units in the headers).
3. *Sky*: a polar plot per station of the pass tracks, the key window drawn
   bold, an arrow at the end of each track for the direction of travel.
4. *Link budget*: loss against elevation at each satellite's own orbit
   height, stacked by component; the LEO-versus-GEO table only when the
   scenario has a geostationary satellite.
5. *Each pass on demand*: a selector (or a click on a row of the table)
   draws one pass's elevation, loss and key rate against time; the first
   :data:`MAX_PASS_FIGURES` passes are in the page, all are in the
   per-second table (the page names the file the run wrote).

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
from .schedule import key_summary
from .units import bits_unit, format_bits

__all__ = ["render_report", "render_provenance", "provenance", "orbit_height_km", "MAX_PASS_FIGURES", "MAX_SKY_TRACKS",
           "LONG_SPAN_DAYS"]

MAX_PASS_FIGURES = 150  # passes whose per-second series are in the page (the rest: the per-second table)
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
.warn{color:#8a5300} td.wrap{white-space:normal;min-width:16rem} table.weather{width:100%}
.card small{display:block;color:#666;font-size:.75rem;margin-top:.1rem}.card.lead{background:#e3eefa}
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
  const bg=data.bg&&data.bg.length;
  if(bg) traces.push({x:t,y:data.bg,name:'sky background (counts/s)',line:{color:'#ff7f0e'},yaxis:'y4'});
  const shapes=xw?[{type:'rect',xref:'x',yref:'paper',x0:xw[0],x1:xw[1],y0:0,y1:1,fillcolor:'#2ca02c',opacity:0.08,line:{width:0}}]:[];
  const layout={title:{text:data.title},height:bg?700:540,template:SATQKD_TEMPLATE,showlegend:false,shapes:shapes,
    margin:{l:60,r:20,t:60,b:40},grid:{rows:bg?4:3,columns:1,subplots:bg?[['xy'],['xy2'],['xy3'],['xy4']]:[['xy'],['xy2'],['xy3']]},
    yaxis:{title:{text:'elevation (deg)'}},yaxis2:{title:{text:'loss (dB)'}},yaxis3:{title:{text:'key rate (kbit/s)'}},
    xaxis:{title:{text:'UTC'}}};
  if(bg) layout.yaxis4={title:{text:'background (counts/s)'},type:'log'};
  Plotly.react(div,traces,layout,{displaylogo:false,responsive:true});
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
    """``run.json``: the provenance of the outputs written beside it and the
    run's headline, delivered key first (:func:`satqkd.schedule.key_summary`:
    the key of the passes scheduled on clear nights, then what cloud and
    conflicts took; ``clear_sky_ceiling_bits`` is the upper bound, every pass
    served under a clear sky).  ``files`` are paths relative to the folder
    (``seconds/part-00000.parquet``)."""
    doc = {"generator": f"satqkd {__version__}", **provenance(results), "passes": int(len(results.passes)),
           **key_summary(results.passes)}
    yearly = _weather_yearly(results)
    if yearly is not None:
        # The spread of the delivered key over the Monte Carlo weather years.
        total = yearly[(yearly["satellite"] == "all") & (yearly["station"] == "all")].iloc[0]
        doc["weather_years"] = {"years": int(results.scenario.weather.years), "seed": int(results.scenario.weather.seed),
                                **{c.replace("_bits", "_delivered_bits"): float(total[c])
                                   for c in ("mean_bits", "p10_bits", "p50_bits", "p90_bits")},
                                "clear_sky_scheduled_bits": float(total["clear_sky_bits"])}
    dual = getattr(results, "dual", None)
    if dual is not None:  # the entanglement dual downlinks' finite key (satqkd.entanglement)
        doc["dual_downlinks"] = [{"link": r["link"], "key_bits": float(r["key_bits"]),
                                  "key_bits_per_day": float(r["key_bits_per_day"]),
                                  "key_bits_clear_sky": float(r["key_bits_clear_sky"])}
                                 for _, r in dual.summary.iterrows()]
    doc["files"] = files
    return json.dumps(doc, indent=1) + "\n"


def _weather_yearly(results, compute: bool = True):
    """The weather Monte Carlo's table by station (None without a weather
    block, or when ``compute`` is off and nobody has computed it)."""
    sc = results.scenario
    if getattr(sc, "weather", None) is None or not len(results.passes) or not hasattr(results, "weather_tables"):
        return None
    if not compute and (sc.weather.years, sc.weather.seed) not in getattr(results, "_weather_cache", {}):
        return None
    return results.weather_tables()[0]


def orbit_height_km(satellite) -> float:
    """Mean height above the equator of an SGP4 satellite (semi-major axis
    from the Kozai mean motion, minus the WGS-72 equatorial radius), or of
    an ephemeris satellite (:mod:`satqkd.oem`: its semi-major axis)."""
    if hasattr(satellite, "itrs_km_at"):
        return float(satellite.semi_major_axis_km) - _EARTH_RADIUS_KM
    n_rad_s = satellite.model.no_kozai / 60.0
    return (_MU_KM3_S2 / n_rad_s**2) ** (1.0 / 3.0) - _EARTH_RADIUS_KM


def _json(data) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _fig_html(fig: go.Figure, height: int | None = None, top: int = 50) -> str:
    fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=top, b=40))
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
    ("direction", "link", None, None),
    ("served", "served", None, None),
    ("culmination_utc", "culmination (UTC)", None, None),
    ("max_elevation_deg", "max elevation (°)", 1, 1),
    ("key_window_s", "key window (s)", 1, 0),
    ("usable_s", "usable (s)", 1, 0),
    ("min_loss_db", "min loss (dB)", 1, 1),
    ("max_sun_altitude_deg", "Sun, highest (°)", 1, 0),
    ("mean_background_cps", "sky background (counts/s)", 1, 1),
    ("qber", "QBER (%)", 100, 2),
    ("sifted_bits", "sifted (kbit)", 1e-3, 1),
    ("min_range_km", "min range (km)", 1, 0),
    ("rise_utc", "rise (UTC)", None, None),
    ("set_utc", "set (UTC)", None, None),
]


def _link_columns(passes: pd.DataFrame, seconds: pd.DataFrame, uplinks: frozenset) -> pd.DataFrame:
    """The pass table's uplink and daylight columns, only when the scenario
    has uplinks (``direction``) or passes with the Sun up (the Sun's highest
    altitude and the mean sky background of the pass)."""
    if uplinks:
        passes = passes.assign(direction=np.where(passes["station"].isin(uplinks), "uplink", "downlink"))
    if len(seconds) and "sun_altitude_deg" in seconds and (seconds["sun_altitude_deg"] > 0).any():
        g = seconds.groupby("pass_id")
        passes = passes.assign(max_sun_altitude_deg=passes["pass_id"].map(g["sun_altitude_deg"].max()),
                               mean_background_cps=passes["pass_id"].map(g["background_cps"].mean()))
    return passes


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


def _is_number(text) -> bool:
    try:
        float(str(text).replace(",", ""))
        return True
    except ValueError:
        return str(text) == "–"


def _plain_table(frame: pd.DataFrame, cls: str = "") -> str:
    """A small table of text cells: numeric columns right-aligned, the rest left."""
    right = [len(frame) > 0 and all(_is_number(v) for v in frame[c]) for c in frame.columns]
    align = ["" if r else "left" for r in right]
    head = "".join(f"<th class='{a}'>{_esc(c)}</th>" for c, a in zip(frame.columns, align))
    body = "".join("<tr>" + "".join(f"<td class='{a}'>{_esc(v)}</td>" for v, a in zip(row, align)) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# --- overview -----------------------------------------------------------------


def _station_totals(passes: pd.DataFrame, stations: list[str]) -> pd.DataFrame:
    """Per station and in all: delivered key first, then where the rest went;
    one unit per column (the largest value decides)."""
    rows = []
    for name in stations + ["all stations"]:
        g = passes if name == "all stations" else passes[passes["station"] == name]
        summary = key_summary(g)
        key = g["key_bits"].fillna(0.0) if "key_bits" in g else pd.Series(dtype=float)
        served = key[_served(g)] if len(g) else key
        rows.append({"station": name, "passes": len(g), "served": summary["passes_served"],
                     "delivered": summary["delivered_key_bits"], "lost to cloud": summary["lost_to_cloud_bits"],
                     "lost to conflicts": summary["lost_to_conflicts_bits"],
                     "clear-sky ceiling": summary["clear_sky_ceiling_bits"],
                     "per served pass": served.mean() if len(served) else np.nan,
                     "usable (min)": g["usable_s"].sum() / 60 if len(g) else 0.0})
    frame = pd.DataFrame(rows)
    if not frame["lost to cloud"].any() and not ("clear" in passes and (~passes["clear"].astype(bool)).any()):
        frame = frame.drop(columns="lost to cloud")  # no weather: nothing to say about cloud
    out = frame[["station"]].copy()
    out["passes"] = frame["passes"].map("{:,}".format)
    out["served"] = frame["served"].map("{:,}".format)
    for col in [c for c in ("delivered", "lost to cloud", "lost to conflicts", "clear-sky ceiling", "per served pass")
                if c in frame]:
        scale, unit = bits_unit(frame[col])
        out[f"{col} ({unit})"] = [("–" if pd.isna(v) else f"{v / scale:,.2f}") for v in frame[col]]
    out["usable (min)"] = frame["usable (min)"].map("{:,.1f}".format)
    return out


def _colour(stations: list[str], name: str) -> str:
    """One colour per station in every figure."""
    import plotly.colors

    palette = plotly.colors.qualitative.Plotly
    return palette[stations.index(name) % len(palette)]


LONG_SPAN_DAYS = 62  # above this, key per week instead of per day, and a heatmap instead of pass ticks


def _cumulative_key(passes: pd.DataFrame, stations: list[str]) -> go.Figure:
    """Delivered key over time per station and in total; the clear-sky
    ceiling (every pass served, every night clear) dashed and labelled."""
    fig = go.Figure()
    p = passes.sort_values("set_utc")
    delivered = p["key_bits"].fillna(0).where(_served(p), 0.0)
    scale, unit = bits_unit([p["key_bits"].fillna(0).sum()])
    for name in stations:
        g = delivered[p["station"] == name]
        fig.add_trace(go.Scatter(x=p.loc[g.index, "set_utc"], y=g.cumsum() / scale, name=_esc(name), mode="lines",
                                 line=dict(color=_colour(stations, name)), line_shape="hv",
                                 hovertemplate=f"%{{x}}<br>%{{y:,.2f}} {unit}"))
    fig.add_trace(go.Scatter(x=p["set_utc"], y=delivered.cumsum() / scale, name="delivered, all stations", mode="lines",
                             line_shape="hv", line=dict(color="black", width=2.5), hovertemplate=f"%{{x}}<br>%{{y:,.2f}} {unit}"))
    fig.add_trace(go.Scatter(x=p["set_utc"], y=p["key_bits"].fillna(0).cumsum() / scale, name="clear-sky ceiling",
                             mode="lines", line_shape="hv", line=dict(color="#999", width=1.5, dash="dash"),
                             hovertemplate=f"%{{x}}<br>ceiling %{{y:,.2f}} {unit}"))
    fig.update_layout(title="Cumulative delivered key", yaxis_title=f"key ({unit})", legend=dict(orientation="h", y=-0.15))
    return fig


def _per_period(passes: pd.DataFrame, freq: str):
    """Bins of the span (days or weeks, UTC) and the bin of each pass."""
    t = passes["culmination_utc"]
    if freq == "W":
        start = t.min().floor("D")
        k = ((t - start) // pd.Timedelta(days=7)).astype(int)
        bins = pd.date_range(start, periods=int(k.max()) + 1, freq="7D")
    else:
        day = t.dt.floor("D")
        bins = pd.date_range(day.min(), day.max(), freq="D")
        k = ((day - bins[0]) // pd.Timedelta(days=1)).astype(int)
    return bins, k.to_numpy()


def _periodic_key(passes: pd.DataFrame, stations: list[str], days: float) -> go.Figure:
    """Delivered key per day and station (per week over a long span, so a
    year is 53 bars, not a comb of 365), stacked; the clear-sky ceiling of
    each bin as a labelled step line."""
    freq = "W" if days > LONG_SPAN_DAYS else "D"
    bins, k = _per_period(passes, freq)
    key = passes["key_bits"].fillna(0).to_numpy(float)
    served = _served(passes).to_numpy()
    ceiling = np.bincount(k, weights=key, minlength=len(bins))
    scale, unit = bits_unit([ceiling.max()])
    what = "week" if freq == "W" else "day (UTC)"
    fig = go.Figure()
    for name in stations:
        mine = (passes["station"] == name).to_numpy() & served
        per = np.bincount(k[mine], weights=key[mine], minlength=len(bins))
        fig.add_trace(go.Bar(x=bins, y=per / scale, name=_esc(name), marker_color=_colour(stations, name),
                             hovertemplate=f"%{{x|%Y-%m-%d}}<br>%{{y:,.2f}} {unit}"))
    fig.add_trace(go.Scatter(x=bins, y=ceiling / scale, name="clear-sky ceiling", mode="lines", line_shape="hvh",
                             line=dict(color="#999", width=1.5, dash="dash"),
                             hovertemplate=f"%{{x|%Y-%m-%d}}<br>ceiling %{{y:,.2f}} {unit}"))
    fig.update_layout(title=f"Delivered key per {what}", yaxis_title=f"key ({unit})", barmode="stack",
                      bargap=0.15, legend=dict(orientation="h", y=-0.15, traceorder="normal"))
    return fig


def _timeline(passes: pd.DataFrame, stations: list[str]) -> go.Figure:
    """A tick per pass on a row per station: served passes coloured by their
    key, the others grey with the reason in the hover text."""
    key = passes["key_bits"].fillna(0).to_numpy(float)
    scale, unit = bits_unit([key.max()])
    served = _served(passes).to_numpy()
    why = passes["not_scheduled_reason"].fillna("").to_numpy(str) if "not_scheduled_reason" in passes else np.full(len(passes), "")
    fig = go.Figure()
    for mask, label in ((~served, "not served"), (served, "served")):
        if not mask.any():
            continue
        g = passes[mask]
        marker = (dict(color=key[mask] / scale, colorscale="Viridis", cmin=0, size=11, symbol="line-ns-open",
                       line=dict(width=3, color=key[mask] / scale), colorbar=dict(title=dict(text=f"key ({unit})")))
                  if label == "served" else dict(color="#c8c8c8", size=9, symbol="line-ns-open", line=dict(width=2, color="#c8c8c8")))
        fig.add_trace(go.Scatter(
            x=g["culmination_utc"], y=[_esc(s) for s in g["station"]], mode="markers", name=label, marker=marker,
            customdata=np.stack([key[mask] / scale, g["max_elevation_deg"].to_numpy(), why[mask]], axis=-1),
            hovertemplate=f"%{{x}}<br>%{{y}}<br>%{{customdata[0]:.3f}} {unit}, max elevation %{{customdata[1]:.1f}}°"
                          + ("<br>not served: %{customdata[2]}" if label == "not served" else "") + "<extra></extra>",
        ))
    fig.update_layout(title="Passes by station: served passes coloured by key, grey not served", showlegend=False,
                      yaxis=dict(categoryorder="array", categoryarray=[_esc(s) for s in reversed(stations)]))
    return fig


def _daily_heatmap(passes: pd.DataFrame, stations: list[str]) -> go.Figure:
    """A long span at a glance: delivered key per day (a column) and station
    (a row); days without delivered key stay blank."""
    bins, k = _per_period(passes, "D")
    key = passes["key_bits"].fillna(0).to_numpy(float)
    served = _served(passes).to_numpy()
    scale, unit = bits_unit([key.max()])
    z = []
    for name in reversed(stations):
        mine = (passes["station"] == name).to_numpy() & served
        per = np.bincount(k[mine], weights=key[mine], minlength=len(bins)) / scale
        z.append([float(v) if v > 0 else None for v in per])
    fig = go.Figure(go.Heatmap(x=bins, y=[_esc(s) for s in reversed(stations)], z=z, colorscale="Viridis", zmin=0,
                               colorbar=dict(title=dict(text=f"key ({unit})")), xgap=0, ygap=4,
                               hovertemplate=f"%{{x|%Y-%m-%d}}<br>%{{y}}<br>%{{z:,.2f}} {unit}<extra></extra>"))
    fig.update_layout(title="Delivered key per day and station (blank: none delivered, cloudy or no pass)")
    return fig


def _monthly_figure(monthly: pd.DataFrame, passes: pd.DataFrame, stations: list[str]) -> go.Figure:
    """When in the year: per calendar month, the mean delivered key over the
    weather years with its P10-P90 range (bar and whisker), this run's
    weather year (a diamond: the key of passes.csv) and the clear-sky
    ceiling with contention (a dash)."""
    from .weather import MONTHS

    names = [s for s in stations if s in set(monthly["station"])]
    if "all" in set(monthly["station"]):
        names.append("all")
    scale, unit = bits_unit([monthly["clear_sky_bits"].max()])
    served = passes[_served(passes)]
    # The month of a pass's night, as the Monte Carlo counts it.
    this_year = monthly.set_index(["station", "month"])["clear_sky_bits"] * 0.0
    if "night_month" in served:
        got = served.groupby(["station", "night_month"])["key_bits"].sum()
        for (st, m), v in got.items():
            this_year.loc[(st, m)] = v
            if "all" in names:
                this_year.loc[("all", m)] = this_year.get(("all", m), 0.0) + v
    fig = go.Figure()
    for name in names:
        t = monthly[monthly["station"] == name].set_index("month").reindex(MONTHS).dropna(how="all")
        colour = "#333" if name == "all" else _colour(stations, name)
        label = "all stations" if name == "all" else name
        fig.add_trace(go.Bar(
            x=t.index, y=t["mean_bits"] / scale, name=_esc(label), marker_color=colour, opacity=0.85, offsetgroup=label,
            error_y=dict(type="data", symmetric=False, array=(t["p90_bits"] - t["mean_bits"]) / scale,
                         arrayminus=(t["mean_bits"] - t["p10_bits"]) / scale, color="#222", thickness=1.2, width=3),
            customdata=np.stack([t["p10_bits"] / scale, t["p90_bits"] / scale, t["clear_sky_bits"] / scale], axis=-1),
            hovertemplate=f"%{{x}} {_esc(label)}<br>mean %{{y:,.2f}} {unit}<br>P10-P90 %{{customdata[0]:,.2f}}-%{{customdata[1]:,.2f}} {unit}"
                          f"<br>clear-sky ceiling %{{customdata[2]:,.2f}} {unit}<extra></extra>"))
        fig.add_trace(go.Scatter(x=t.index, y=t["clear_sky_bits"] / scale, mode="markers", offsetgroup=label,
                                 name="clear-sky ceiling", legendgroup="ceiling", showlegend=name == names[0],
                                 marker=dict(symbol="line-ew-open", size=18, color="#777", line=dict(width=2, color="#777")),
                                 hoverinfo="skip"))
        if "night_month" in served:
            y = [this_year.get((name, m), 0.0) / scale for m in t.index]
            fig.add_trace(go.Scatter(x=t.index, y=y, mode="markers", offsetgroup=label, name="this run's weather year",
                                     legendgroup="drawn", showlegend=name == names[0],
                                     marker=dict(symbol="diamond", size=7, color="white", line=dict(width=1.5, color="#222")),
                                     hovertemplate=f"%{{x}} {_esc(label)}<br>this run: %{{y:,.2f}} {unit}<extra></extra>"))
    fig.update_layout(title="Delivered key per month: mean and P10–P90 over the weather years",
                      yaxis_title=f"key ({unit})", barmode="group", scattermode="group",
                      legend=dict(orientation="h", y=-0.15))
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
    uplink_only = bool(sc.stations) and all(getattr(s, "uplink", False) for s in sc.stations)
    for s in sc.satellites[:3]:
        if not uplink_only:
            parts.append(block(f"{s.satellite.name}: transmitter", s.transmitter))
            parts.append(block(f"{s.satellite.name}: source", s.source))
        if getattr(s, "receiver", None) is not None:
            parts.append(block(f"{s.satellite.name}: uplink receiver", s.receiver))
            parts.append(block(f"{s.satellite.name}: uplink detector", s.detector))
    if len(sc.satellites) > 3:
        parts.append(f"<p class='meta'>… and {len(sc.satellites) - 3} more satellites.</p>")
    for s in sc.stations:
        st = s.station
        parts.append(f"<div><h4>{_esc(st.name)}</h4><p class='meta'>{st.latitude_deg:.4f}°, {st.longitude_deg:.4f}°, "
                     f"{st.height_m:,.0f} m</p></div>")
        labels = (("constraints", "transmitter", "source", "atmosphere", "turbulence") if getattr(s, "uplink", False)
                  else ("constraints", "telescope", "detector", "atmosphere", "turbulence", "sky"))
        for label in labels:
            title = f"{st.name}: uplink {label}" if label in ("transmitter", "source") else f"{st.name}: {label}"
            parts.append(block(title, getattr(s, label, None)))
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
        if setup.uplink:
            table = loss_table(setup.transmitter, sat.receiver, sat.detector, height_km=height,
                               site_height_m=setup.station.height_m, uplink=True)
        else:
            table = loss_table(sat.transmitter, setup.telescope, setup.detector, height_km=height,
                               site_height_m=setup.station.height_m)
        comps = [c for c in table.columns if c.endswith("_loss_db")]
        fig = go.Figure()
        for c in comps:
            fig.add_trace(go.Bar(x=table["elevation_deg"], y=table[c], name=c.replace("_loss_db", "")))
        fig.add_trace(go.Scatter(x=table["elevation_deg"], y=table["loss_db"], name="total", mode="lines+markers", line=dict(color="black")))
        fig.update_layout(barmode="stack", xaxis_title="elevation (deg)", yaxis_title="loss (dB)", height=400,
                          title=(f"Uplink loss budget, {_esc(setup.station.name)} → {_esc(sat.satellite.name)}, vs elevation "
                                 f"({height:,.0f} km orbit)" if setup.uplink else
                                 f"Loss budget at {_esc(setup.station.name)} vs elevation ({height:,.0f} km orbit of "
                                 f"{_esc(sat.satellite.name)})"))
        parts.append(_fig_html(fig))
    return parts


def _is_geostationary(satellite) -> bool:
    if hasattr(satellite, "itrs_km_at"):  # an ephemeris satellite: its period against a sidereal day
        return abs(86164.1 / satellite.period_s - 1.0) < 0.05 and satellite.eccentricity < 0.05
    return abs(satellite.model.no_kozai * 1440.0 / (2 * math.pi) - 1.0027) < 0.05


# --- each pass ------------------------------------------------------------------


def _pass_series(seconds: pd.DataFrame, passes: pd.DataFrame, uplinks: frozenset = frozenset()) -> dict:
    """Thinned per-second series of each pass, for the selector.  Passes over
    a station in ``uplinks`` are titled station → satellite (uplink); the sky
    background is drawn when the scenario has any (daylight, Moon)."""
    out = {}
    show_bg = "background_cps" in seconds and bool((seconds["background_cps"] > 1.0).any())
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
        if show_bg:
            series["bg"] = [float(f"{v:.3g}") for v in np.maximum(h["background_cps"].to_numpy(), 1e-3)]
        if rec["station"] in uplinks:
            who = f"Uplink {html.escape(str(rec['station']))} → {html.escape(str(rec['satellite']))}"
        else:
            who = f"{html.escape(str(rec['satellite']))} over {html.escape(str(rec['station']))}"
        title = (f"{who}, culmination {rec['culmination_utc']:%Y-%m-%d %H:%M:%S} UTC, max elevation "
                 f"{rec['max_elevation_deg']:.1f}°")
        if "sun_altitude_deg" in g and g["sun_altitude_deg"].max() > 0:
            title += f", Sun up to {g['sun_altitude_deg'].max():.0f}° (daylight)"
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


def _headline(summary: dict, n: int, days: float, passes: pd.DataFrame, yearly, sc) -> str:
    """The first cards: the delivered key first, then where the rest went
    (cloud, conflicts) and the clear-sky ceiling, labelled as such."""
    delivered = summary["delivered_key_bits"]
    cards = [("delivered", "delivered key", format_bits(delivered),
              f"{summary['passes_served']:,} of {n:,} passes served"
              + (f" · {format_bits(delivered / days)} a day" if days > 0 else ""), delivered)]
    if yearly is not None:
        total = yearly[(yearly["satellite"] == "all") & (yearly["station"] == "all")].iloc[0]
        cards.append(("weather-years", f"over {sc.weather.years:,} weather years",
                      f"{format_bits(total['p10_bits'])} – {format_bits(total['p90_bits'])}",
                      f"P10–P90 · mean {format_bits(total['mean_bits'])}", total["mean_bits"]))
    if sc.weather is not None or summary["cloudy_passes"]:
        cards.append(("cloud", "lost to cloud", format_bits(summary["lost_to_cloud_bits"]),
                      f"{summary['cloudy_passes']:,} passes on cloudy nights", summary["lost_to_cloud_bits"]))
    cards.append(("conflicts", "lost to conflicts", format_bits(summary["lost_to_conflicts_bits"]),
                  f"{summary['conflicting_passes']:,} clear passes not scheduled", summary["lost_to_conflicts_bits"]))
    cards.append(("ceiling", "clear-sky ceiling", format_bits(summary["clear_sky_ceiling_bits"]),
                  "every pass served, every night clear", summary["clear_sky_ceiling_bits"]))
    cards.append(("usable", "usable time", f"{passes['usable_s'].sum() / 60:,.1f} min" if n else "0 min",
                  f"{n:,} passes", None))
    html_cards = "".join(
        f'<div class="card{" lead" if i == 0 else ""}" id="card-{key}"{"" if bits is None else f" data-bits={bits:.0f}"}>'
        f'{_esc(label)}<b>{_esc(value)}</b><small>{_esc(note)}</small></div>'
        for i, (key, label, value, note, bits) in enumerate(cards))
    return f'<div class="cards" id="totals">{html_cards}</div>'


def _weather_note(summary: dict, yearly: pd.DataFrame, settings) -> str:
    """Why the weather table's numbers differ from the cards'."""
    total = yearly[(yearly["satellite"] == "all") & (yearly["station"] == "all")].iloc[0]
    return (
        "<p class='meta' id='weather-note'>How the numbers relate: the <b>delivered key</b> card "
        f"({format_bits(summary['delivered_key_bits'])}) is one weather year, the one drawn with seed {settings.seed} "
        "that marks each pass of passes.csv clear or cloudy; the table's mean and P10–P90 are over "
        f"{settings.years:,} weather years with the same seed. The table's clear sky "
        f"({format_bits(total['clear_sky_bits'])}) schedules every pass under a clear sky, so passes that conflict "
        "give way; the <b>clear-sky ceiling</b> card "
        f"({format_bits(summary['clear_sky_ceiling_bits'])}) counts every pass, conflicts included. "
        "Delivered + lost to cloud + lost to conflicts = the ceiling.</p>")


def render_report(results, seconds_file: str | None = "seconds.csv") -> str:
    """The report of :class:`~satqkd.pipeline.Results` as one HTML string.

    ``seconds_file`` says where the per-second table was written (as the
    page tells the reader): ``seconds.csv``, ``seconds.parquet``,
    ``seconds/part-*.parquet``, or None when it was not written."""
    where = (f"<code>{_esc(seconds_file)}</code>" if seconds_file else
             "no file (the per-second table was not written: <code>--seconds none</code>)")
    sc = results.scenario
    passes, seconds = results.passes, results.seconds
    stations = [s.station.name for s in sc.stations]
    start = sc.start.utc_strftime("%Y-%m-%d %H:%M")
    end = sc.end.utc_strftime("%Y-%m-%d %H:%M")
    days = (sc.end.tt - sc.start.tt)
    n = len(passes)
    summary = key_summary(passes)
    yearly = _weather_yearly(results)
    source = f" · {_esc(sc.path.name)}" if sc.path is not None else ""
    body = [
        f"<h1>{_esc(sc.name)}</h1>",
        f'<p class="meta">{start} → {end} UTC ({days:g} days) · satellites: '
        f'{_esc(", ".join(s.satellite.name or "?" for s in sc.satellites[:10]))}{" …" if len(sc.satellites) > 10 else ""}'
        f' · stations: {_esc(", ".join(stations))}{source} · <span id="version">satqkd {_esc(__version__)}</span></p>',
    ]
    body.extend(_dual_section(results))  # entanglement dual downlinks first: their key is the scenario's point
    body.append(_headline(summary, n, days, passes, yearly, sc))
    for note in results.warnings:
        body.append(f'<p class="meta warn">⚠ {_esc(note)}</p>')

    body.append("<h2>Overview</h2>")
    body.append(_plain_table(_station_totals(passes, stations), "totals"))
    if n:
        body.append("<div class='grid'>" + _fig_html(_cumulative_key(passes, stations), 380)
                    + _fig_html(_periodic_key(passes, stations, days), 380) + "</div>")
        if days > LONG_SPAN_DAYS:
            body.append(_fig_html(_daily_heatmap(passes, stations), 150 + 45 * len(stations)))
        else:
            body.append(_fig_html(_timeline(passes, stations), 150 + 45 * len(stations)))
    else:
        body.append("<p>No pass meets the constraints in this span.</p>")
    if yearly is not None:
        from .weather import MONTHS, distribution_html, night_of

        _, monthly = results.weather_tables()
        lon = passes["station"].map({s.station.name: s.station.longitude_deg for s in sc.stations}).to_numpy(float)
        months = np.asarray(night_of(passes["culmination_utc"], lon).month)
        with_month = passes.assign(night_month=[MONTHS[m - 1] for m in months])
        body.append(_fig_html(_monthly_figure(monthly, with_month, stations), 420))
        body.append(distribution_html(yearly, sc.weather.years, sc.weather.seed))
        body.append(_weather_note(summary, yearly, sc.weather))
    body.append(_parameters(sc))

    shown = passes.head(MAX_PASS_FIGURES)
    uplinks = frozenset(s.station.name for s in sc.stations if getattr(s, "uplink", False))
    series = _pass_series(seconds, shown, uplinks) if n else {}
    passes = _link_columns(passes, seconds, uplinks)
    body.append(f"<h2>Passes ({n:,})</h2>")
    if n:
        body.append("<p class='meta'>Click a header to sort; click a row to plot that pass below. "
                    f"Every column is in <code>passes.csv</code>; every second in {where}.</p>")
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
            figs.append(_fig_html(fig, top=110))  # the two-line title clears the "N" label
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
            body.append(f"<p class='meta'>The first {len(shown)} of {n:,} passes; every second of all of them: {where}.</p>")
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

"""The network stage's files: tables (CSV, JSON) and a self-contained HTML report.

:func:`network_files` renders every output of a :class:`NetworkResults` as
``{path: text}`` for :func:`satqkd.io.write_files` (all or nothing):
``pools.csv``, ``requests.csv``, ``links.csv``, ``capacity.csv``,
``satellite-passes.csv``, ``service.csv`` and ``outages.csv``
(:mod:`satqkd.network.simulate`), ``status.json`` (ETSI GS QKD 014 status of every
pool at the end) and ``network.html``.

The HTML embeds plotly.js and draws the map as a plain longitude/latitude
scatter over a shipped outline (:mod:`satqkd.network.outline`), so it opens
offline: plotly's geographic maps would fetch their world map from a CDN.
The page leads with the expected answer (the mean over the weather draws of
:mod:`satqkd.network.capacity`), the clear-sky ceiling labelled as such; the
map has an inset per city with five nodes or more and marks the bottleneck
resources (:func:`bottlenecks`); tables are formatted with units
(:func:`format_bits`); every pool can be drawn from a selector.
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

__all__ = ["network_files", "render_network_report", "format_bits", "bottlenecks", "served_share", "OUTPUT_NAMES"]

OUTPUT_NAMES = ("pools.csv", "requests.csv", "links.csv", "capacity.csv", "satellite-passes.csv", "service.csv",
                "outages.csv", "status.json", "network.html")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem} .meta{color:#666}
.scroll{max-height:30rem;overflow:auto;max-width:100%}
table.tbl{border-collapse:collapse;font-size:.85rem;width:100%} .tbl th,.tbl td{padding:.25rem .45rem;border-bottom:1px solid #eee;text-align:right}
.tbl th{background:#f6f6f6;position:sticky;top:0;vertical-align:bottom} .tbl td{white-space:nowrap} .tbl td.txt,.tbl th.txt{text-align:left;white-space:normal;min-width:9rem}
.tbl td.name{text-align:left;white-space:pre}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#f6f8fa;border-radius:8px;padding:.8rem 1.2rem;max-width:22rem}
.card.first{background:#e3effc;border:2px solid #2e86de}.card b{display:block;font-size:1.4rem}.card small{color:#555}
.pick{margin:.5rem 0} .pick select{font-size:.95rem;max-width:100%}
"""

_EDGES = [1.0, 1e2, 1e3, 1e4, 1e5, 1e6, np.inf]
_COLOURS = ["#000000", "#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850", "#006837"]
_HIGHLIGHT = "rgba(214,0,214,0.45)"
_FLOOR_BITS = 1e3  # a level below this is drawn at it on the log axis (the hover gives the true level)


def format_bits(x: float, unit: str = "bit") -> str:
    """``x`` bits (or bits per second with ``unit="bit/s"``) in kbit, Mbit, Gbit or Tbit:
    two decimals below 10, one below 100, none above (``5.00 Mbit``, ``10.4 Mbit``, ``394 Gbit``)."""
    if x is None or not np.isfinite(x):
        return "–"
    x = 0.0 if abs(x) < 1e-6 else float(x)
    for prefix, f in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= f:
            v = x / f
            digits = 2 if abs(v) < 10 else (1 if abs(v) < 100 else 0)
            return f"{v:,.{digits}f} {prefix}{unit}"
    return f"{x:,.0f} {unit}"


def _rate(x: float) -> str:
    return format_bits(x, "bit/s")


def _bin_label(lo: float, hi: float) -> str:
    if lo == 0:
        return f"< {_rate(hi)}"
    if not np.isfinite(hi):
        return f"≥ {_rate(lo)}"
    a, b = _rate(lo), _rate(hi)
    if a.split(" ")[1] == b.split(" ")[1]:  # same unit: "1–10 kbit/s"
        return f"{a.split(' ')[0]}–{b}"
    return f"{a}–{b}"


def _table(headers, rows, text_cols=(0,), table_id: str = "", name_cols=()) -> str:
    """A formatted table: ``headers`` (human names with units), ``rows`` of already formatted cells;
    ``text_cols`` left-aligned and wrapped, ``name_cols`` left-aligned on one line."""
    tid = f" id='{table_id}'" if table_id else ""

    def cls(i):
        return " class='txt'" if i in text_cols else (" class='name'" if i in name_cols else "")

    head = "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{html.escape(str(c))}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<div class='scroll'><table class='tbl'{tid}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _fig(fig: go.Figure, div_id: str) -> str:
    # A fixed div id (plotly draws a random one) keeps the file byte-identical run to run.
    fig.update_layout(template="plotly_white", margin=dict(l=60, r=20, t=50, b=40))
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "scrollZoom": True}, div_id=div_id)


def bottlenecks(res) -> set:
    """Names of the resources that limit the network's answers: the shared bottleneck of all
    demands at once and each listed pair's (links by name, stations' keys as ``SAT>Station``)."""
    names = set()
    cap = res.capacity
    parts = [str(res.joint.get("bottleneck", ""))] if res.joint else []
    for col in ("bottleneck", "joint_bottleneck"):
        if col in cap:
            parts += [str(v) for v in cap[col].fillna("")]
    for p in parts:
        names |= {n for n in p.split("; ") if n}
    return names


def _headline_bottlenecks(res) -> set:
    """The shared bottleneck of all demands at once and the first pair's (the page's headline)."""
    parts = [str(res.joint.get("bottleneck", ""))] if res.joint else []
    if len(res.capacity):
        parts.append(str(res.capacity["bottleneck"].iat[0]))
    return {n for p in parts for n in p.split("; ") if n}


def _cities(nodes: pd.DataFrame) -> list:
    """Cities with a metropolitan network worth an inset (five nodes or more), largest first."""
    counts = nodes[nodes["city"] != ""].groupby("city").size()
    return list(counts[counts >= 5].sort_values(ascending=False, kind="stable").index)


def _map(res) -> go.Figure:
    """Links coloured by key rate over the shipped outline; bottlenecks highlighted; one inset per city."""
    from plotly.subplots import make_subplots

    net = res.network
    nodes = net.nodes.set_index("node")
    links = res.links
    cities = _cities(net.nodes)[:5]
    n_in = max(len(cities), 1)
    fig = make_subplots(rows=2 if cities else 1, cols=n_in,
                        specs=[[{"colspan": n_in}] + [None] * (n_in - 1)] + ([[{}] * n_in] if cities else []),
                        row_heights=[0.68, 0.32] if cities else None, vertical_spacing=0.08, horizontal_spacing=0.03,
                        subplot_titles=["China: the whole network (drag to zoom, double-click to reset)"] + [f"{c} (inset)" for c in cities])
    cells = [(1, 1)] + [(2, i + 1) for i in range(len(cities))]
    bn = bottlenecks(res)
    rate = links["key_rate_bps"].to_numpy(dtype=float)
    ends = {k: (nodes.loc[a], nodes.loc[b]) for k, a, b in zip(links.index, links["a"], links["b"])}

    def segs(part):
        xs, ys, text = [], [], []
        for k, link, length_km, rate_bps, volume in zip(part.index, part["link"], part["length_km"], part["key_rate_bps"],
                                                         part["daily_volume_bits"]):
            a, b = ends[k]
            xs += [a["longitude_deg"], b["longitude_deg"], None]
            ys += [a["latitude_deg"], b["latitude_deg"], None]
            label = f"{link}<br>{length_km:,.0f} km, {_rate(rate_bps)}, {format_bits(volume)} a day"
            text += [label, label, None]
        return xs, ys, text

    # Traces are collected with their subplot's axes and added at once (add_trace per
    # subplot cell re-reads the whole layout each time: most of the map's cost).
    traces = []

    def add(trace, row, col):
        sub = fig.get_subplot(row, col)
        traces.append((trace, sub.xaxis.plotly_name.replace("axis", ""), sub.yaxis.plotly_name.replace("axis", "")))

    for cell, (r, c) in enumerate(cells):
        main = cell == 0
        if main:
            for ring in CHINA_OUTLINE:
                lon, lat = zip(*ring)
                add(go.Scatter(x=lon, y=lat, mode="lines", line=dict(color="#bbb", width=1), hoverinfo="skip",
                               showlegend=False), r, c)
        # Relays and users first, small and hollow: the links are drawn over them.
        for kind, symbol, size in (("relay", "circle-open", 5 if main else 7), ("user", "circle-open", 3 if main else 6)):
            part = net.nodes[net.nodes["kind"] == kind]
            add(go.Scatter(x=part["longitude_deg"], y=part["latitude_deg"], mode="markers", name=kind, legendgroup=kind,
                           showlegend=main, marker=dict(symbol=symbol, size=size, color="#556", line=dict(width=1)),
                           text=part["node"], hoverinfo="text"), r, c)
        # Bottleneck links under the coloured lines, as a wide highlight.
        hot = links[links["link"].isin(bn)]
        if len(hot):
            xs, ys, text = segs(hot)
            add(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=_HIGHLIGHT, width=12), name="bottleneck link",
                           legendgroup="bottleneck", showlegend=main, text=text, hoverinfo="text"), r, c)
        for lo, hi, colour in zip([0.0] + _EDGES[:-1], _EDGES, _COLOURS):
            sel = links[(rate >= lo) & (rate < hi)]
            for kind, dash in (("fibre", "solid"), ("satellite", "dash"), ("entanglement", "dot")):
                part = sel[sel["kind"] == kind]
                if part.empty:
                    continue
                xs, ys, text = segs(part)
                name = f"{kind} {_bin_label(lo, hi)}"
                add(go.Scatter(x=xs, y=ys, mode="lines", name=name, legendgroup=name, showlegend=main,
                               line=dict(color=colour, width=3 if kind == "satellite" else 2.5, dash=dash),
                               text=text, hoverinfo="text"), r, c)
        st = net.nodes[net.nodes["kind"] == "station"]
        limited = [n for n in st["node"] if any(b.endswith(f">{n}") for b in bn)]
        if limited:
            part = st[st["node"].isin(limited)]
            add(go.Scatter(x=part["longitude_deg"], y=part["latitude_deg"], mode="markers", name="bottleneck: station's key with the satellite",
                           legendgroup="bottleneck-station", showlegend=main,
                           marker=dict(symbol="circle-open", size=26, color=_HIGHLIGHT, line=dict(width=5)),
                           text=[f"{n}: its key with the satellite limits the network" for n in part["node"]], hoverinfo="text"),
                r, c)
        add(go.Scatter(x=st["longitude_deg"], y=st["latitude_deg"], mode="markers+text" if main else "markers",
                       name="ground station", legendgroup="station", showlegend=main, text=st["node"], textposition="top center",
                       marker=dict(symbol="star", size=15, color="#225"), hoverinfo="text"), r, c)
    fig.add_traces([t for t, _, _ in traces])
    for added, (_, x, y) in zip(fig.data[len(fig.data) - len(traces):], traces):
        added.xaxis, added.yaxis = x, y  # (after adding, as add_trace(row=, col=) sets them)
    cos = 1 / math.cos(math.radians(35))
    fig.update_xaxes(title_text="longitude (deg)", row=1, col=1)
    fig.update_yaxes(title_text="latitude (deg)", scaleanchor="x", scaleratio=cos, row=1, col=1)
    for i, city in enumerate(cities):
        part = net.nodes[net.nodes["city"] == city]
        lon0, lon1 = part["longitude_deg"].min(), part["longitude_deg"].max()
        lat0, lat1 = part["latitude_deg"].min(), part["latitude_deg"].max()
        pad = 0.08 * max(lon1 - lon0, lat1 - lat0, 0.05)
        ax = i + 2
        fig.update_xaxes(range=[lon0 - pad, lon1 + pad], showticklabels=False, row=2, col=i + 1)
        fig.update_yaxes(range=[lat0 - pad, lat1 + pad], showticklabels=False, scaleanchor=f"x{ax}",
                         scaleratio=1 / math.cos(math.radians((lat0 + lat1) / 2)), row=2, col=i + 1)
    fig.update_layout(title="Links coloured by key rate (satellite link dashed); bottlenecks highlighted",
                      height=900 if cities else 650, legend=dict(font=dict(size=11)))
    return fig


def _pool_series(res, max_points: int = 500):
    """Snapshot times and every pool's levels, thinned to at most ``max_points`` snapshots."""
    pools = res.pools
    names = _pool_names(res)
    n_snap = len(pools) // max(len(names), 1)
    levels = pools["level_bits"].to_numpy(float).reshape(n_snap, len(names))
    times = pools["time_utc"].iloc[:: max(len(names), 1)].to_numpy()
    step = max(1, math.ceil(n_snap / max_points))
    keep = np.r_[np.arange(0, n_snap, step), n_snap - 1] if n_snap else np.zeros(0, int)
    keep = np.unique(keep)
    return names, times[keep], levels[keep], step


def _pool_names(res) -> list:
    """The pools in the order of every snapshot (the rows of the first snapshot)."""
    col = res.pools["time_utc"]
    t = col.cat.codes.to_numpy() if isinstance(col.dtype, pd.CategoricalDtype) else col.to_numpy()
    n = int(np.searchsorted(t, t[0], side="right")) if len(t) else 0  # snapshots are in time order
    return res.pools["pool"].iloc[:n].tolist()


def _pool_kinds(res) -> dict:
    """Each pool's kind (from the first snapshot)."""
    n = len(_pool_names(res))
    return dict(zip(res.pools["pool"].iloc[:n].tolist(), res.pools["kind"].iloc[:n].tolist()))


def _pool_plot(res) -> go.Figure:
    """The pools that matter (satellite link, on-board stores, bottlenecks), log axis with a floor:
    a level at 0 stays visible; pools at one level are told apart by their dash."""
    names, times, levels, _ = _pool_series(res)
    kinds = _pool_kinds(res)
    keep = [n for n in names if kinds.get(n) in ("satellite", "satellite-store") or n in _headline_bottlenecks(res)]
    dashes = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
    fig = go.Figure()
    x = pd.to_datetime(times)
    for i, name in enumerate(keep):
        y = levels[:, names.index(name)]
        fig.add_trace(go.Scatter(x=x, y=np.maximum(y, _FLOOR_BITS), customdata=y, mode="lines", name=name,
                                 line=dict(shape="hv", dash=dashes[i % len(dashes)], width=2),
                                 hovertemplate=f"{html.escape(name)}: %{{customdata:,.0f}} bits<extra></extra>"))
    base = res.network.pools[0] if res.network.pools else None
    if base is not None:
        for value, label, colour in ((base.threshold_bits, "threshold", "#1a9850"), (base.minimum_bits, "minimum", "#d73027")):
            if value > 0:
                fig.add_hline(y=max(value, _FLOOR_BITS), line=dict(color=colour, dash="dot", width=1),
                              annotation_text=f"{label} {format_bits(value)}", annotation_position="top left")
    flown = res.passes[res.passes["served"].astype(bool)] if len(res.passes) else res.passes
    if len(flown) > 100:
        # A long span: one tick per pass along the floor (vertical lines would hide the levels).
        fig.add_trace(go.Scatter(x=flown["end_utc"], y=np.full(len(flown), _FLOOR_BITS), mode="markers", name="satellite pass",
                                 marker=dict(symbol="line-ns-open", size=10, color="#888"),
                                 text=[f"pass over {st}: {format_bits(k)} on board" for st, k in zip(flown["station"], flown["key_bits"])],
                                 hoverinfo="text+x"))
    elif len(flown) and len(levels):
        top = max(float(np.nanmax(levels)) if levels.size else 1.0, 10.0) * 2
        xs, ys, text = [], [], []
        for t, st, k in zip(flown["end_utc"], flown["station"], flown["key_bits"]):
            label = f"pass over {st}: {format_bits(k)} on board"
            xs += [t, t, None]
            ys += [_FLOOR_BITS, top, None]
            text += [label, label, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="satellite pass", line=dict(color="#aaa", width=1, dash="dot"),
                                 text=text, hoverinfo="text+x"))
    fig.update_layout(title="Pool levels: satellite link, on-board stores, bottlenecks (a level of 0 drawn at 1 kbit)",
                      height=460, yaxis=dict(title="key (bits)", type="log"), xaxis=dict(title="UTC"))
    return fig


_PICK_JS = """
<script>
(function(){
const D = %s;
function draw(name){
  const p = D.pools[name]; const x = D.t;
  const floor = %g;
  const tr = [{x:x, y:p.y.map(v=>Math.max(v,floor)), customdata:p.y, mode:'lines', line:{shape:'hv', color:'#2e86de', width:2},
               name:name, hovertemplate:'%%{customdata:,.0f} bits<extra></extra>'}];
  for (const [k,c,lab] of [['cap','#555','capacity'],['thr','#1a9850','threshold'],['min','#d73027','minimum']]) {
    if (p[k] !== null && p[k] > 0) tr.push({x:[x[0], x[x.length-1]], y:[Math.max(p[k],floor), Math.max(p[k],floor)], mode:'lines',
      line:{color:c, dash:'dot', width:1}, name:lab+' '+p[k].toLocaleString('en')+' bits', hoverinfo:'name'});
  }
  Plotly.react('pool-one', tr, {template:'plotly_white', height:380, margin:{l:60,r:20,t:50,b:40},
    title:{text:name+' ('+p.kind+')'}, yaxis:{title:{text:'key (bits)'}, type:'log'}, xaxis:{title:{text:'UTC'}}});
}
window.satqkdPool = draw;
const sel = document.getElementById('pool-pick');
sel.addEventListener('change', e => draw(e.target.value));
draw(sel.value);
})();
</script>
"""


def _pool_picker(res) -> str:
    """A selector of every pool and store, drawn with its capacity, threshold and minimum."""
    names, times, levels, step = _pool_series(res)
    kinds = _pool_kinds(res)
    settings = dict(zip(res.links["link"], res.network.pools))
    caps = dict(zip(res.stores["satellite"] + ">" + res.stores["station"], res.stores["capacity_bits"])) if len(res.stores) else {}
    bn = bottlenecks(res)
    order = sorted(names, key=lambda n: (n not in bn, kinds.get(n) not in ("satellite", "satellite-store"), n))
    data = {"t": [str(t) for t in times], "pools": {}}
    for n in order:
        s = settings.get(n)
        data["pools"][n] = {"y": [float(f"{v:.6g}") for v in levels[:, names.index(n)]], "kind": kinds.get(n, ""),
                            "cap": s.capacity_bits if s else caps.get(n), "thr": s.threshold_bits if s else None,
                            "min": s.minimum_bits if s else None}
    options = "".join(f"<option value='{html.escape(n, quote=True)}'>{html.escape(n)} ({html.escape(kinds.get(n, ''))}"
                      f"{', bottleneck' if n in bn else ''})</option>" for n in order)
    note = f"every {step}th snapshot of pools.csv" if step > 1 else "every snapshot of pools.csv"
    return (f"<div class='pick'><label for='pool-pick'>Any pool or on-board store ({len(order)}; {note}): </label>"
            f"<select id='pool-pick'>{options}</select></div><div id='pool-one'></div>"
            + _PICK_JS % (json.dumps(data, separators=(",", ":")), _FLOOR_BITS))


def _request_plot(res) -> go.Figure:
    counts = res.requests.groupby(["demand_name", "status"]).size().unstack(fill_value=0)
    fig = go.Figure()
    for status, colour in (("served", "#1a9850"), ("waited", "#fee08b"), ("failed", "#d73027"), ("pending", "#999")):
        if status in counts:
            fig.add_trace(go.Bar(y=counts.index, x=counts[status], name=status, orientation="h", marker_color=colour))
    fig.update_layout(barmode="stack", title="Requests per demand (the simulated weather draw)", height=max(300, 22 * len(counts) + 120),
                      xaxis=dict(title="requests"))
    return fig


def served_share(res) -> dict:
    """Per unordered demand pair: the share of its requests served (at once or after waiting)."""
    req = res.requests
    if req.empty:
        return {}
    ok = req["status"].isin(["served", "waited"])
    # Per ordered pair first (a few), then both directions of a pair together.
    per = pd.DataFrame({"a": req["a"], "b": req["b"], "ok": ok}).groupby(["a", "b"], sort=False)["ok"].agg(["sum", "count"])
    total: dict = {}
    for (a, b), n_ok, n in zip(per.index, per["sum"], per["count"]):
        key = tuple(sorted((a, b)))
        was = total.get(key, (0, 0))
        total[key] = (was[0] + int(n_ok), was[1] + int(n))
    return {key: n_ok / n for key, (n_ok, n) in total.items()}


def _pct(x) -> str:
    return "–" if x is None or x != x else f"{100 * x:.0f} %"


def _capacity_rows(res):
    served = served_share(res)
    rows = []
    for _, r in res.capacity.iterrows():
        demand = r["demand_bits_per_day"]
        is_demand = demand == demand
        rows.append([
            f"{r['a']} – {r['b']}".replace(" – ", " –\n"), f"{r['great_circle_km']:,.0f} km", f"{r['route_km']:,.0f} km / {r['hops']}",
            format_bits(demand) if is_demand else "–",
            f"{format_bits(r['capacity_bits_per_day'])} ({format_bits(r['capacity_p10_bits_per_day'])}–{format_bits(r['capacity_p90_bits_per_day'])})",
            format_bits(r["capacity_clear_sky_bits_per_day"]), r["bottleneck"],
            f"{_pct(r['joint_share'])} ({_pct(r['joint_share_p10'])}–{_pct(r['joint_share_p90'])})" if is_demand else "–",
            r["joint_bottleneck"] if is_demand and r["joint_bottleneck"] == r["joint_bottleneck"] and r["joint_bottleneck"] else "–",
            _pct(served.get(tuple(sorted((r["a"], r["b"]))))) if is_demand else "–",
        ])
    return rows


_CAPACITY_HEADERS = ["pair", "apart", "route / hops", "demand per day", "alone: expected per day (P10–P90)",
                     "alone: clear-sky ceiling", "limited by", "all at once: share of demand (P10–P90)", "all at once: limited by",
                     "requests served (simulated draw)"]


def _first_cards(res):
    """The expected answer first (with weather when the scenario has it), then the ceiling and the rest."""
    cap = res.capacity
    cards = []
    if len(cap):
        r = cap.iloc[0]
        cards.append(("first", f"{html.escape(r['a'])} – {html.escape(r['b'])}: expected key per day",
                      f"{format_bits(r['capacity_bits_per_day'])}",
                      f"P10–P90 {format_bits(r['capacity_p10_bits_per_day'])}–{format_bits(r['capacity_p90_bits_per_day'])}; "
                      f"{html.escape(str(r['weather']))}"))
        cards.append(("", "clear-sky ceiling (not a forecast)", format_bits(r["capacity_clear_sky_bits_per_day"]),
                      "every night clear"))
        if r["demand_bits_per_day"] == r["demand_bits_per_day"]:
            cards.append(("", "its share with all demands at once", _pct(r["joint_share"]),
                          f"P10–P90 {_pct(r['joint_share_p10'])}–{_pct(r['joint_share_p90'])} of "
                          f"{format_bits(r['demand_bits_per_day'])} a day (max-min fair)"))
        cards.append(("", "limited by", html.escape(str(r["bottleneck"]) or "–"),
                      f"in {100 * r['bottleneck_share_of_years']:.0f} % of the weather draws"))
    if res.joint:
        j = res.joint
        cards.append(("", "every demand at once (concurrent flow)", _pct(j["share"]),
                      f"P10–P90 {_pct(j['share_p10'])}–{_pct(j['share_p90'])}; clear sky {_pct(j['share_clear_sky'])}; "
                      f"shared bottleneck {html.escape(j['bottleneck'] or 'none')}"))
    req = res.requests
    n = {s: int((req["status"] == s).sum()) for s in ("served", "waited", "failed", "pending")}
    cards.append(("", "requests served / waited / failed / pending (simulated draw)",
                  f"{n['served']:,} / {n['waited']:,} / {n['failed']:,} / {n['pending']:,}",
                  f"key delivered {format_bits(float(req['served_bits'].sum()))}; {len(res.network.nodes)} nodes, {len(res.links)} links"))
    return "<div class='cards'>" + "".join(
        f"<div class='card {c}'>{k}<b>{v}</b><small>{note}</small></div>" for c, k, v, note in cards) + "</div>"


def _passes_table(res) -> str:
    p = res.passes
    if not len(p):
        return "<p>No passes.</p>"
    rows = [[st, f"{pd.Timestamp(t):%Y-%m-%d %H:%M:%S}", format_bits(k), "flown" if s else (rule or "not flown"),
             format_bits(rel), format_bits(after)]
            for st, t, k, s, rule, rel, after in zip(p["station"], p["end_utc"], p["key_bits"], p["served"].astype(bool),
                                                       p["rule"], p["relayed_bits"], p["store_bits_after"])]
    return _table(["station", "key window ends (UTC)", "key on board", "flown", "relayed to the ground pair",
                   "store after"], rows, text_cols=(0, 3))


def _links_table(res) -> str:
    rows = [[r["link"], r["kind"], r["system"], f"{r['length_km']:,.1f} km", "–" if r["loss_db"] != r["loss_db"] else f"{r['loss_db']:.1f} dB",
             _rate(r["key_rate_bps"]), format_bits(r["daily_volume_bits"]), format_bits(r["generated_bits"]),
             format_bits(r["consumed_bits"]), format_bits(r["discarded_bits"]), format_bits(r["level_bits"]), r["state"]]
            for _, r in res.links.iterrows()]
    return _table(["link", "kind", "system", "length", "loss", "key rate", "per day", "generated", "consumed", "discarded",
                   "level at the end", "state"], rows, text_cols=(0, 1, 2, 11))


def render_network_report(res, title: str = "satqkd network") -> str:
    """The HTML report of a network run (plotly.js embedded: opens offline)."""
    cap = res.capacity
    lead = ""
    if len(cap):
        r = cap.iloc[0]
        lead = (f"<p><b>{html.escape(r['a'])}</b> and <b>{html.escape(r['b'])}</b>, {r['great_circle_km']:,.0f} km apart "
                f"({r['route_km']:,.0f} km of route over {r['hops']} hops), can expect <b>{format_bits(r['capacity_bits_per_day'])} "
                f"of key per day</b> on their own ({html.escape(str(r['weather']))}; P10–P90 "
                f"{format_bits(r['capacity_p10_bits_per_day'])}–{format_bits(r['capacity_p90_bits_per_day'])}; "
                f"{format_bits(r['capacity_clear_sky_bits_per_day'])} is the clear-sky ceiling); "
                f"limited by <b>{html.escape(str(r['bottleneck']))}</b>"
                + (f"; with every demand at once they get {_pct(r['joint_share'])} of their "
                   f"{format_bits(r['demand_bits_per_day'])} a day" if r["demand_bits_per_day"] == r["demand_bits_per_day"] else "")
                + ".</p>")
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>{res.start:%Y-%m-%d %H:%M} UTC, {res.span_s / 86400:.2f} days; "
        f"network stage of satqkd (key pools, trusted relays, satellite relay). The simulation runs one weather draw; "
        f"capacities are linear programs over the weather draws.</p>",
        _first_cards(res),
        lead,
        "<h2>Map</h2>", _fig(_map(res), "network-map"),
        "<h2>Capacity per day</h2>",
        "<p class='meta'>Alone: the most key the pair can share per day with nothing else running (maximum flow). "
        "All at once: the max-min fair share of its demand when every demand runs together (multi-commodity flow). "
        "A station's key with the satellite (SAT&gt;Station) is one resource shared by every pair relayed through it.</p>",
        _table(_CAPACITY_HEADERS, _capacity_rows(res), text_cols=(6, 8), name_cols=(0,), table_id="capacity-table"),
        "<h2>Pool levels</h2>", _fig(_pool_plot(res), "pool-levels"), _pool_picker(res),
        "<h2>Requests</h2>", _fig(_request_plot(res), "requests"),
        "<h2>Satellite passes and relay</h2>", _passes_table(res),
        "<h2>Links</h2>", _links_table(res),
    ]
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{_CSS}</style>" \
           f"<script type='text/javascript'>{get_plotlyjs()}</script>"
    return f"<!DOCTYPE html><html><head>{head}</head><body>{''.join(body)}</body></html>"


def network_files(res, out_dir: str | Path, *, title: str = "satqkd network", report: bool = True,
                  lazy: bool = False) -> dict:
    """``{path: content}`` of every network output, ready for :func:`satqkd.io.write_files`;
    with ``lazy`` the two large tables and the report are functions that render them
    (write_files renders those side by side in forked processes)."""
    out = Path(out_dir)
    files = {
        out / "pools.csv": lambda: render_table(res.pools, out / "pools.csv"),
        out / "requests.csv": lambda: render_table(res.requests, out / "requests.csv"),
        out / "links.csv": render_table(res.links, out / "links.csv"),
        out / "capacity.csv": render_table(res.capacity, out / "capacity.csv"),
        out / "satellite-passes.csv": render_table(res.passes, out / "satellite-passes.csv"),
        out / "service.csv": render_table(res.service, out / "service.csv"),
        out / "outages.csv": render_table(res.outages, out / "outages.csv"),
        out / "status.json": json.dumps(res.status, indent=1) + "\n",
    }
    if report:
        files[out / "network.html"] = lambda: render_network_report(res, title)
    return files if lazy else {path: data() if callable(data) else data for path, data in files.items()}

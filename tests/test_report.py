"""The HTML report: self-contained, overview first, every figure has data,
user strings escaped, the loss budget at the scenario's own orbit, and a
size that stays bounded as the span grows (a year, not hundreds of figures).

The figures drawn in a real browser are checked by tests/test_browser.py.
"""

import dataclasses
import datetime as dt
import json
import re

import pandas as pd
import pytest

import satqkd
from satqkd.config import load_scenario
from satqkd.pipeline import Results, run
from satqkd.report import MAX_PASS_FIGURES, orbit_height_km, render_report


@pytest.fixture(scope="module")
def default_report():
    sc = load_scenario(None, today=dt.date(2026, 11, 28))
    sc.end = sc.start.ts.tt_jd(sc.start.tt + 2.0)  # two nights keep the test fast
    results = run(sc)
    return results, render_report(results)


def figures(html):
    """The data arrays of every plotly figure in the page."""
    calls = re.findall(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*\{', html, flags=re.S)
    return [json.loads(c) for c in calls]


def pass_series(html):
    return json.loads(re.search(r"const SATQKD_PASSES=(\{.*?\});const", html, flags=re.S).group(1))


def test_report_is_self_contained(default_report):
    _, html = default_report
    assert "<script src=" not in html  # plotly.js is embedded, nothing fetched
    assert "Plotly" in html
    assert len(html) > 3_000_000  # the embedded library alone is ~4 MB


def test_every_figure_of_the_default_scenario_has_data(default_report):
    results, html = default_report
    figs = figures(html)
    n_passes = len(results.passes)
    n_stations = len(results.scenario.stations)
    assert n_passes >= 4
    # cumulative key + key per day + timeline + a sky plot and a loss budget per station
    assert len(figs) == 3 + 2 * n_stations
    for traces in figs:
        assert traces, "a figure without traces"
        for trace in traces:
            values = trace.get("y", trace.get("r"))
            if isinstance(values, dict):  # plotly may encode arrays as typed binary
                assert values.get("bdata")
            else:
                assert values is not None and len(values) > 0
    # Each pass on demand: every pass's series is in the page for the selector.
    series = pass_series(html)
    assert set(map(int, series)) == set(results.passes["pass_id"])
    for s in series.values():
        assert len(s["dt"]) == len(s["el"]) == len(s["loss"]) == len(s["rate"]) > 10
    for station in ("Nanshan", "Xinglong"):
        assert f"Loss budget at {station}" in html


def test_overview_comes_first_with_totals_and_version(default_report):
    results, html = default_report
    overview, passes = html.index("<h2>Overview</h2>"), html.index("<h2>Passes")
    assert overview < passes < html.index("<h2>Sky</h2>") < html.index("<h2>Link budget</h2>")
    # The first card is the delivered key (scheduled, clear); the clear-sky sum is a labelled ceiling.
    from satqkd.units import format_bits

    p = results.passes
    delivered = p.loc[p["scheduled"] & p["clear"], "key_bits"].sum()
    first = re.search(r'<div class="card[^"]*" id="card-([a-z-]+)"[^>]*>([^<]*)<b>([^<]*)</b>', html)
    assert first.groups() == ("delivered", "delivered key", format_bits(delivered))
    assert f">clear-sky ceiling<b>{format_bits(p['key_bits'].sum())}</b>" in html[:overview]
    for name in ("Cumulative delivered key", "Delivered key per day", "Passes by station"):
        assert html.index(name) < passes
    assert f"satqkd {satqkd.__version__}" in html[:overview]
    # The totals table: a row per station and the sum, which add up (ceiling column in Mbit for a week).
    assert "clear-sky ceiling (Mbit)" in html
    per_station = p.groupby("station")["key_bits"].sum() / 1e6
    for station, mbit in per_station.items():
        assert re.search(rf"<td class='left'>{station}</td>.*?<td class=''>{mbit:,.2f}</td>", html)
    assert "Parameters used" in html and "misalignment" in html  # detector fields listed


def test_pass_table_key_and_rate_first_with_units_and_sortable(default_report):
    results, html = default_report
    table = re.search(r'<table class="sortable" id="pass-table"><thead><tr>(.*?)</tr>', html).group(1)
    headers = re.findall(r"<th[^>]*>(.*?)</th>", table)
    assert headers[:2] == ["final key (kbit)", "key rate (kbit/s)"]
    assert all("(" in h for h in headers if h not in ("station", "satellite", "served"))  # units everywhere else
    # Which passes deliver key, and why the others do not (scheduled on a clear night).
    assert "served" in headers
    served = re.findall(r'<td class="left">(yes|no: [^<]*)</td>', html)
    assert len(served) == len(results.passes)
    delivered = results.passes["scheduled"] & results.passes["clear"]
    assert served.count("yes") == int(delivered.sum())
    assert "satqkdSort" in html
    assert html.count('class="pick"') == len(results.passes)


def test_no_leo_geo_table_for_a_leo_scenario(default_report):
    _, html = default_report
    assert "LEO versus GEO" not in html


def test_loss_budget_at_the_scenarios_own_orbit_and_geo_table():
    """A geostationary scenario: the loss budget at ~35,786 km (not 500 km)
    and the LEO-GEO table, which applies."""
    sc = load_scenario(None, today=dt.date(2026, 11, 28))
    from satqkd import elements

    geo = elements.geostationary(100.0, sc.start, name="GEO-100E")
    sc.satellites = [dataclasses.replace(sc.satellites[0], satellite=geo)]
    sc.end = sc.start.ts.tt_jd(sc.start.tt + 0.02)
    results = Results(sc, pd.DataFrame(columns=["pass_id", "station", "satellite", "usable_s", "key_bits"]), pd.DataFrame())
    html = render_report(results)
    assert orbit_height_km(geo) == pytest.approx(35786, abs=5)
    assert re.search(r"35,7\d\d km orbit of GEO-100E", html)
    assert "500 km" not in html
    assert "LEO versus GEO" in html
    assert "No pass meets the constraints" in html


def test_user_strings_are_escaped(default_report):
    results, _ = default_report
    sc = dataclasses.replace(results.scenario, name="<img src=x onerror=alert(1)> & co")
    passes = results.passes.copy()
    passes["station"] = passes["station"].replace({"Nanshan": "Nan<b>shan</b>"})
    html = render_report(Results(sc, passes, results.seconds, ["a <warning>"]))
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt; &amp; co" in html
    assert "Nan<b>shan</b>" not in html.replace("\\u003c", "<").split("<h2>Passes")[1].split("const SATQKD_PASSES")[0]
    assert "a &lt;warning&gt;" in html
    # Nothing in the embedded JSON can close the script element.
    assert "</script><" not in re.search(r"const SATQKD_PASSES=.*?</script>", html, flags=re.S).group(0)[:-9]


def test_a_year_of_passes_keeps_the_page_small(default_report):
    """1,200 passes (the default scenario over a year has 1,213): the page
    holds a bounded number of figures and per-pass series, and stays under
    6.5 MB with the 4.8 MB plotly.js inside."""
    results, small_html = default_report
    p, s = results.passes, results.seconds
    copies, frames_p, frames_s = 1200 // len(p) + 1, [], []
    for k in range(copies):
        shift = pd.Timedelta(days=2 * k)
        q, t = p.copy(), s.copy()
        for c in [c for c in q.columns if c.endswith("_utc")]:
            q[c] = q[c] + shift
        t["time_utc"] = t["time_utc"] + shift
        q["pass_id"] += k * 10_000
        t["pass_id"] += k * 10_000
        frames_p.append(q)
        frames_s.append(t)
    big = Results(results.scenario, pd.concat(frames_p, ignore_index=True), pd.concat(frames_s, ignore_index=True))
    html = render_report(big)
    assert len(figures(html)) == len(figures(small_html))
    assert len(pass_series(html)) == MAX_PASS_FIGURES
    assert len(html) < 6_500_000, len(html)
    assert f"The first {MAX_PASS_FIGURES} of {len(big.passes):,} passes" in html

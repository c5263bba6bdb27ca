"""The report in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver`` packages, installed by ``.ci/run``) driven by selenium.

Opens the report of the default scenario (two nights, a fixed date) and
checks what a reader sees: no console errors, every plotly figure drawn
(an SVG with data in each), the totals present, a pass drawn on demand from
the selector, the table sorted by a click.  It saves a screenshot next to
the report (``report.png``).  A long span with weather (the year's layout)
leads with run.json's delivered key and draws the months from
weather-monthly.csv.  ``python tests/test_browser.py`` (or
``python tools/screenshots.py``) regenerates the README's pictures.

Under CI (``CI`` set) a missing browser is a failure, never a skip.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SATQKD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SATQKD_CHROMEDRIVER", "/usr/bin/chromedriver")


def _missing() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(path)):
            return f"{path} not found (apt-get install -y chromium chromium-driver)"
    return ""


def _screenshots():
    """tools/screenshots.py: the one place that starts the browser."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("screenshots", Path(__file__).resolve().parents[1] / "tools" / "screenshots.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def browser():
    """Headless Chromium at the Debian paths; selenium-manager never runs
    (the driver path is given), so nothing is downloaded."""
    return _screenshots().browser(1280, 2000)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    from satqkd.config import load_scenario
    from satqkd.pipeline import run, write_outputs

    sc = load_scenario(None, today=dt.date(2026, 11, 28))
    sc.end = sc.start.ts.tt_jd(sc.start.tt + 2.0)  # two nights keep the test fast
    sc.name = "Two nights <script>alert('x')</script> & more"  # a user string that must be escaped
    results = run(sc)
    out = tmp_path_factory.mktemp("report")
    write_outputs(results, out)
    driver = browser()
    try:
        driver.get((out / "report.html").as_uri())
        yield driver, results, out
    finally:
        driver.quit()


def _wait(driver, script, timeout=30.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


def test_report_in_chromium(page):
    driver, results, out = page
    # Every figure drawn: each plotly div has an SVG with at least one trace.
    _wait(driver, "return document.readyState === 'complete'")
    n_divs = driver.execute_script("return document.querySelectorAll('.plotly-graph-div').length")
    assert n_divs >= 5 + len(results.scenario.stations)
    drawn = _wait(driver, """
        const divs=[...document.querySelectorAll('.plotly-graph-div')];
        const ok=divs.filter(d=>d.querySelector('svg.main-svg') && d._fullData && d._fullData.length>0);
        return ok.length===divs.length ? ok.length : false;""")
    assert drawn == n_divs
    # The per-pass figure draws on demand: pick the last pass in the selector.
    last = driver.execute_script("const s=document.getElementById('pass-select'); return s.options[s.options.length-1].value;")
    driver.execute_script(f"satqkdPass('{last}')")
    title = _wait(driver, "const d=document.getElementById('pass-figure'); return d.layout && d.layout.title.text;")
    assert "culmination" in title
    # The totals are there, and the escaped scenario name shows as text.
    from satqkd.units import format_bits

    totals = driver.find_element("id", "totals").text
    p = results.passes
    assert totals.startswith("delivered key\n" + format_bits(p.loc[p["scheduled"] & p["clear"], "key_bits"].sum()))
    assert "clear-sky ceiling\n" + format_bits(p["key_bits"].sum()) in totals
    assert "<script>alert('x')</script>" in driver.find_element("tag name", "h1").text
    assert "satqkd" in driver.find_element("id", "version").text
    # Sorting by final key (first column), descending on the second click.
    header = driver.find_element("css selector", "#pass-table th")
    header.click()
    header.click()
    first = driver.execute_script("return parseFloat(document.querySelector('#pass-table tbody tr td').dataset.v)")
    assert first == pytest.approx(results.passes["key_bits"].max() / 1e3, rel=1e-4)
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(out / "report.png"))
    assert (out / "report.png").stat().st_size > 10_000
    # No console errors (an alert from the injected name would also fail here).
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


@pytest.fixture(scope="module")
def long_page(tmp_path_factory):
    """A long span with weather (70 days of micius-year.yaml, 200 weather
    years): the year's layout -- weekly bars, the daily heatmap, the months."""
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    import yaml

    from satqkd.cli import main

    folder = tmp_path_factory.mktemp("long")
    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "micius-year.yaml").read_text())
    raw.update(days=70, weather={"seed": 1, "years": 200})
    (folder / "long.yaml").write_text(yaml.safe_dump(raw))
    assert main(["run", str(folder / "long.yaml"), "-o", str(folder / "out"), "--seconds", "none", "--quiet"]) == 0
    driver = browser()
    try:
        driver.get((folder / "out" / "report.html").as_uri())
        yield driver, folder / "out"
    finally:
        driver.quit()


def test_long_report_leads_with_delivered_key_and_months(long_page):
    import json

    from satqkd.units import format_bits

    driver, out = long_page
    _wait(driver, "return [...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('svg.main-svg'))")
    meta = json.loads((out / "run.json").read_text())
    # The first card a reader sees is run.json's delivered key.
    first = driver.find_element("css selector", "#totals .card")
    assert first.get_attribute("id") == "card-delivered"
    assert first.text.splitlines()[:2] == ["delivered key", format_bits(meta["delivered_key_bits"])]
    assert float(first.get_attribute("data-bits")) == pytest.approx(meta["delivered_key_bits"], abs=1)
    ceiling = driver.find_element("id", "card-ceiling").text.splitlines()
    assert ceiling[:2] == ["clear-sky ceiling", format_bits(meta["clear_sky_ceiling_bits"])]
    # The monthly plot: a bar per station and month with its P10-P90 whisker, from weather-monthly.csv.
    import pandas as pd

    monthly = pd.read_csv(out / "weather-monthly.csv")
    fig = driver.execute_script("""
        const d=[...document.querySelectorAll('.plotly-graph-div')].find(d=>d.layout&&d.layout.title&&
            String(d.layout.title.text).startsWith('Delivered key per month'));
        return d ? d._fullData.filter(t=>t.type==='bar').map(t=>({name:t.name, x:t.x, y:t.y,
            hi:t.error_y.array, lo:t.error_y.arrayminus, visible:t.visible})) : null;""")
    assert fig, "no monthly plot"
    nanshan = next(t for t in fig if t["name"] == "Nanshan")
    rows = monthly[monthly["station"] == "Nanshan"].set_index("month")
    scale = {"Gbit": 1e9, "Mbit": 1e6, "kbit": 1e3}[driver.execute_script(
        "return [...document.querySelectorAll('.plotly-graph-div')].find(d=>d.layout&&d.layout.title&&"
        "String(d.layout.title.text).startsWith('Delivered key per month')).layout.yaxis.title.text").split("(")[1][:-1]]
    for month, y, hi, lo in zip(nanshan["x"], nanshan["y"], nanshan["hi"], nanshan["lo"]):
        assert y * scale == pytest.approx(rows.loc[month, "mean_bits"], rel=1e-6)
        assert (y + hi) * scale == pytest.approx(rows.loc[month, "p90_bits"], rel=1e-6)
        assert (y - lo) * scale == pytest.approx(rows.loc[month, "p10_bits"], rel=1e-6)
    # A long span reads by week, not as a comb of daily bars, and the passes as a heatmap.
    titles = driver.execute_script("return [...document.querySelectorAll('.plotly-graph-div')]"
                                   ".map(d=>d.layout&&d.layout.title?String(d.layout.title.text):'')")
    assert any(t.startswith("Delivered key per week") for t in titles)
    assert any(t.startswith("Delivered key per day and station") for t in titles)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def _small_network_page(out: Path) -> Path:
    """A small network (two stations on a satellite, a metro of five users with a city inset,
    a fibre bottleneck) without the key stage: synthetic passes, simulated and rendered."""
    import pandas as pd

    from satqkd.io import write_files
    from satqkd.network import build_network, capacity_table, simulate
    from satqkd.network.report import network_files
    from satqkd.network.topology import NetworkSpec
    from satqkd.stations import Station

    start = pd.Timestamp("2021-05-20T00:00:00Z")
    stations = {"SA": Station("SA", 43.0, 87.0, 2000.0), "SB": Station("SB", 40.0, 117.0, 900.0)}
    users = [{"name": f"M-U{i}", "kind": "user", "city": "Metro", "latitude_deg": 39.9 + 0.03 * (i % 3),
              "longitude_deg": 116.3 + 0.04 * i} for i in range(5)]
    spec = {
        "nodes": [{"name": "SA", "kind": "station"}, {"name": "SB", "kind": "station"},
                  {"name": "M", "kind": "relay", "city": "Metro", "latitude_deg": 39.95, "longitude_deg": 116.4},
                  {"name": "far", "kind": "user", "latitude_deg": 43.1, "longitude_deg": 87.1}] + users,
        "fibre_links": [{"a": "SB", "b": "M", "length_km": 120}, {"a": "far", "b": "SA", "length_km": 20}]
        + [{"a": u["name"], "b": "M", "system": "chen2021_40mhz"} for u in users],
        "satellite_links": [{"satellite": "SAT", "stations": ["SA", "SB"]}],
        "demands": [{"a": "far", "b": "M-U0", "kind": "constant", "rate_bps": 100, "every_s": 3600, "timeout_s": 86400},
                    {"a": "M-U1", "b": "M-U2", "kind": "otp_call", "every_s": 3600}],
    }
    net = build_network(NetworkSpec.model_validate(spec), stations, ["SAT"], "test: network")
    passes = pd.DataFrame({"pass_id": [0, 1], "satellite": "SAT", "station": ["SA", "SB"],
                           "usable_start_utc": [start + pd.Timedelta(hours=h) for h in (2, 5)],
                           "usable_end_utc": [start + pd.Timedelta(hours=h, minutes=5) for h in (2, 5)],
                           "key_bits": [8e6, 3e6]})
    res = simulate(net, passes, start, 2 * 86400.0)
    res.capacity = capacity_table(net, res.links, [("far", "M-U0")], passes=res.passes, span_s=res.span_s, joint=res.joint)
    write_files(network_files(res, out, title="small network"))
    return out / "network.html"


def test_network_page_in_chromium(tmp_path):
    """The network page: the first card is the expected answer; the map marks the bottleneck
    (the weaker station's key with the satellite) and has a city inset; the capacity table is
    formatted (human headers, units) and no wider than the page; any pool can be picked."""
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    page = _small_network_page(tmp_path)
    driver = browser()
    try:
        driver.get(page.as_uri())
        _wait(driver, "return document.readyState === 'complete'")
        _wait(driver, "return [...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('svg.main-svg'))")
        first = driver.find_element("css selector", ".card.first").text
        assert "expected key per day" in first and "Mbit" in first
        names = driver.execute_script("return document.getElementById('network-map').data.map(t => t.name || '')")
        assert "bottleneck: station's key with the satellite" in names
        assert any(n.startswith("fibre ") and "kbit/s" in n for n in names)  # legend bins in kbit/s, not 1e+05
        assert not any("e+" in n for n in names)
        titles = driver.execute_script("return [...document.querySelectorAll('#network-map .annotation-text')].map(a => a.textContent)")
        assert any("Metro" in t for t in titles)
        headers = driver.execute_script("return [...document.querySelectorAll('#capacity-table th')].map(h => h.textContent)")
        assert "limited by" in headers and not any("_" in h for h in headers)
        cells = driver.execute_script("return [...document.querySelectorAll('#capacity-table td')].map(c => c.textContent)")
        assert any(c.endswith("Mbit") for c in cells) and "SAT>SB" in cells
        wide = driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth + 1")
        assert not wide
        n_options = driver.execute_script("return document.getElementById('pool-pick').options.length")
        assert n_options == len(pd_links(tmp_path)) + 2  # every pool and both on-board stores
        driver.execute_script("const s=document.getElementById('pool-pick'); satqkdPool(s.options[s.options.length-1].value)")
        title = _wait(driver, "const d=document.getElementById('pool-one'); return d.layout && d.layout.title.text;")
        assert "(" in title
        driver.save_screenshot(str(tmp_path / "network.png"))
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()


def pd_links(out: Path):
    import pandas as pd

    return pd.read_csv(out / "links.csv")


if __name__ == "__main__":  # python tests/test_browser.py: regenerate the README's screenshots
    import sys

    sys.exit(_screenshots().main(sys.argv[1:]))

"""The report in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver`` packages, installed by ``.ci/run``) driven by selenium.

Opens the report of the default scenario (two nights, a fixed date) and
checks what a reader sees: no console errors, every plotly figure drawn
(an SVG with data in each), the totals present, a pass drawn on demand from
the selector, the table sorted by a click.  It saves a screenshot next to
the report (``report.png``; ``docs/report.png`` is made the same way).

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


def browser():
    """Headless Chromium at the Debian paths; selenium-manager never runs
    (the driver path is given), so nothing is downloaded."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager, if ever asked, must not download

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,2000", "--hide-scrollbars", "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


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
    totals = driver.find_element("id", "totals").text
    total_mbit = results.passes["key_bits"].sum() / 1e6
    assert f"{total_mbit:,.2f} Mbit" in totals
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


if __name__ == "__main__":  # python tests/test_browser.py: regenerate docs/report.png
    import tempfile

    from satqkd.config import load_scenario
    from satqkd.pipeline import run, write_outputs

    sc = load_scenario(None, today=dt.date(2026, 11, 28))
    out = Path(tempfile.mkdtemp())
    write_outputs(run(sc), out)
    driver = browser()
    try:
        driver.set_window_size(1280, 1500)
        driver.get((out / "report.html").as_uri())
        _wait(driver, "return [...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('svg.main-svg'))")
        target = Path(__file__).resolve().parents[1] / "docs" / "report.png"
        driver.save_screenshot(str(target))
        print(f"wrote {target}")
    finally:
        driver.quit()

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

"""Regenerate the README's screenshots in headless Chromium.

    python tools/screenshots.py                 # week, year and network pages
    python tools/screenshots.py week year       # some of them

* ``docs/report.png`` -- the week: the default scenario, 7 nights from 2026-11-28;
* ``docs/report-year.png`` -- the year: ``configs/micius-year.yaml``
  (weather and contention: the delivered key first, the months);
* ``docs/network.png`` -- ``network.html`` of ``configs/china-network.yaml``
  (its key stage takes a minute or more).

Each page is made by the CLI, exactly as a user gets it, in a temporary
folder, then drawn by Debian's ``chromium`` through ``chromedriver``
(selenium; nothing is downloaded) once every plotly figure has its SVG.
``tests/test_browser.py`` drives the same browser.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CHROMIUM = os.environ.get("SATQKD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SATQKD_CHROMEDRIVER", "/usr/bin/chromedriver")

# page -> (satqkd arguments before -o, page written, picture, window height)
PAGES = {
    "week": (["run", str(ROOT / "configs" / "micius.yaml")], "report.html", "report.png", 1500),
    "year": (["run", str(ROOT / "configs" / "micius-year.yaml"), "--seconds", "none"], "report.html", "report-year.png", 2300),
    "network": (["network", str(ROOT / "configs" / "china-network.yaml")], "network.html", "network.png", 1800),
}
WEEK_START = "2026-11-28"  # the default scenario says "today": a fixed date keeps the picture reproducible


def browser(width: int = 1280, height: int = 2000):
    """Headless Chromium at the Debian paths; selenium-manager never runs
    (the driver path is given), so nothing is downloaded."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--hide-scrollbars", "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def wait_drawn(driver, timeout: float = 60.0) -> None:
    """Until every plotly figure of the page has drawn its SVG."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(
        "return document.readyState==='complete' && "
        "[...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('svg.main-svg'))"))


def make_page(page: str, folder: Path) -> Path:
    """Run the CLI for one page; return the HTML file."""
    import datetime as dt

    from satqkd.cli import main

    args, html_name, _, _ = PAGES[page]
    if page == "week":
        # "start: today" pinned to a fixed date through a copy of the scenario.
        text = (ROOT / "configs" / "micius.yaml").read_text().replace("start: today", f"start: {WEEK_START}")
        scenario = folder / "micius-week.yaml"
        scenario.write_text(text)
        args = ["run", str(scenario)]
        assert dt.date.fromisoformat(WEEK_START)
    out = folder / page
    code = main([*args, "-o", str(out), "--quiet"])
    if code != 0:
        raise SystemExit(f"satqkd {' '.join(args)} failed with exit status {code}")
    return out / html_name


def shoot(page: str, html: Path, target: Path, height: int) -> Path:
    driver = browser(1280, height)
    try:
        driver.get(html.as_uri())
        wait_drawn(driver)
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(target))
    finally:
        driver.quit()
    return target


def main(argv: list[str]) -> int:
    pages = argv or list(PAGES)
    unknown = [p for p in pages if p not in PAGES]
    if unknown:
        print(f"unknown page {unknown[0]!r}; expected some of {', '.join(PAGES)}", file=sys.stderr)
        return 2
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for page in pages:
            html = make_page(page, Path(tmp))
            target = shoot(page, html, DOCS / PAGES[page][2], PAGES[page][3])
            print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The HTML report: self-contained, and every figure has data."""

import datetime as dt
import json
import re

import pytest

from satqkd.config import load_scenario
from satqkd.pipeline import run
from satqkd.report import render_report


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


def test_report_is_self_contained(default_report):
    _, html = default_report
    assert "<script src=" not in html  # plotly.js is embedded, nothing fetched
    assert "plotly.js" in html.lower() or "Plotly" in html
    assert len(html) > 3_000_000  # the embedded library alone is ~4 MB


def test_every_figure_of_the_default_scenario_has_data(default_report):
    results, html = default_report
    figs = figures(html)
    n_passes = len(results.passes)
    n_stations = len(results.scenario.stations)
    assert n_passes >= 4
    # key per pass + sky plot + a loss budget per station + one per pass
    assert len(figs) == 2 + n_stations + n_passes
    for traces in figs:
        assert traces, "a figure without traces"
        for trace in traces:
            values = trace.get("y", trace.get("r"))
            if isinstance(values, dict):  # plotly may encode arrays as typed binary
                assert values.get("bdata")
            else:
                assert values is not None and len(values) > 0
    assert "LEO versus GEO" in html
    for station in ("Nanshan", "Xinglong"):
        assert f"Loss budget at {station}" in html

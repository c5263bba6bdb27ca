"""The first number is the delivered key (issue 17).

A run with weather and contention: the summary line, ``run.json`` and the
report's first card lead with the key of the passes scheduled on clear
nights (what the stations get), state what cloud and conflicts took beside
it, and label the clear-sky sum as the ceiling.  The reference is the pass
table itself: delivered = sum of ``key_bits`` over ``scheduled & clear``;
delivered + lost to cloud + lost to conflicts = the sum over all passes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from satqkd.cli import main
from satqkd.units import format_bits

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def weather_run(tmp_path_factory):
    """micius-year.yaml cut to three weeks of December and 200 weather years."""
    raw = yaml.safe_load((ROOT / "configs" / "micius-year.yaml").read_text())
    raw.update(days=21, weather={"seed": 1, "years": 200})
    folder = tmp_path_factory.mktemp("headline")
    scenario = folder / "three-weeks.yaml"
    scenario.write_text(yaml.safe_dump(raw))
    out = folder / "out"
    return scenario, out


def _run(scenario, out, capsys, *extra):
    assert main(["run", str(scenario), "-o", str(out), "--seconds", "none", *extra]) == 0
    return capsys.readouterr().out


def test_delivered_key_leads_summary_runjson_and_report(weather_run, capsys):
    scenario, out = weather_run
    stdout = _run(scenario, out, capsys)
    passes = pd.read_csv(out / "passes.csv")
    served = passes["scheduled"] & passes["clear"]
    assert (~passes["clear"]).any() and served.any(), "the test needs cloudy and served passes"
    key = passes["key_bits"].fillna(0.0)
    delivered, ceiling = key[served].sum(), key.sum()
    cloud = key[~passes["clear"]].sum()
    conflicts = key[passes["clear"] & ~passes["scheduled"]].sum()
    assert delivered + cloud + conflicts == pytest.approx(ceiling, rel=1e-12)
    assert delivered < 0.9 * ceiling  # weather matters in these weeks, or the test proves nothing

    # run.json: the first key field is the delivered key; the ceiling is labelled.
    meta = json.loads((out / "run.json").read_text())
    key_fields = [k for k in meta if k.endswith("_bits")]
    assert key_fields[0] == "delivered_key_bits"
    assert meta["delivered_key_bits"] == pytest.approx(delivered)
    assert meta["lost_to_cloud_bits"] == pytest.approx(cloud)
    assert meta["lost_to_conflicts_bits"] == pytest.approx(conflicts)
    assert meta["clear_sky_ceiling_bits"] == pytest.approx(ceiling)
    assert "final_key_bits" not in meta  # the unlabelled clear-sky sum is gone
    w = meta["weather_years"]
    assert w["years"] == 200 and w["p10_delivered_bits"] <= w["p50_delivered_bits"] <= w["p90_delivered_bits"]

    # The summary line: delivered first, cloud and conflicts beside it, the ceiling labelled.
    line = stdout.splitlines()[0]
    numbers = re.findall(r"(\d[\d,.]*) ([kMG]?bit)\b", line)
    assert f"{numbers[0][0]} {numbers[0][1]}" == format_bits(delivered)
    assert f"{format_bits(delivered)} of key delivered" in line
    assert f"lost to cloud {format_bits(cloud)}" in line
    assert f"to conflicts {format_bits(conflicts)}" in line
    assert f"clear-sky ceiling {format_bits(ceiling)}" in line

    # The report's first card is the delivered key, the ceiling a labelled card.
    page = (out / "report.html").read_text()
    cards = re.findall(r'<div class="card[^"]*" id="card-([a-z-]+)"(?: data-bits=(\d+))?>([^<]*)<b>([^<]*)</b>', page)
    assert cards[0][0] == "delivered" and cards[0][2] == "delivered key"
    assert float(cards[0][1]) == pytest.approx(delivered, abs=1) and cards[0][3] == format_bits(delivered)
    by_id = {c[0]: c for c in cards}
    assert by_id["ceiling"][2] == "clear-sky ceiling" and by_id["ceiling"][3] == format_bits(ceiling)
    assert by_id["cloud"][3] == format_bits(cloud) and by_id["conflicts"][3] == format_bits(conflicts)
    # The page says how the weather table's clear sky and the cards relate.
    assert 'id="weather-note"' in page.replace("'", '"')


def test_clear_weather_has_nothing_lost_to_cloud(weather_run, capsys):
    scenario, out = weather_run
    _run(scenario, out, capsys, "--weather", "clear")
    meta = json.loads((out / "run.json").read_text())
    assert meta["lost_to_cloud_bits"] == 0.0 and meta["cloudy_passes"] == 0
    assert meta["delivered_key_bits"] + meta["lost_to_conflicts_bits"] == pytest.approx(meta["clear_sky_ceiling_bits"])


def test_year_report_text_names_its_files_and_heads_every_column(weather_run, capsys):
    """With partitioned Parquet the page names seconds/part-*.parquet (not
    seconds.csv); the weather table has a header over every column; the
    sky plots leave room above the "N" label for their two-line caption."""
    scenario, out = weather_run
    assert main(["run", str(scenario), "-o", str(out), "--seconds", "parquet"]) == 0
    capsys.readouterr()
    page = (out / "report.html").read_text()
    assert "seconds/part-*.parquet" in page and "seconds.csv" not in page
    table = re.search(r"<table class='weather'><thead><tr>(.*?)</tr></thead><tbody>(.*?)</tbody>", page, re.S)
    heads = re.findall(r"<th[^>]*>(.*?)</th>", table.group(1))
    first_row = re.search(r"<tr>(.*?)</tr>", table.group(2)).group(1)
    assert len(heads) == len(re.findall(r"<td", first_row)) and heads[-1] == "weather (source)"
    assert "wrap" in re.findall(r"<td class='([^']*)'", first_row)[-1]  # the long source text wraps, not cut
    sky = [m for m in re.finditer(r'"title":\{"text":"[^"]*sky tracks', page)]
    assert sky
    for m in sky:
        layout = page[m.start() - 4000:m.start() + 4000]
        tops = [int(t) for t in re.findall(r'"margin":\{[^}]*"t":(\d+)', layout)]
        assert tops and max(tops) >= 100

"""Faults of issue 17 at the edges: an impossible YAML date, a reused
output folder, messages and tables in a 100-column terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from satqkd.cli import main

ROOT = Path(__file__).resolve().parents[1]

SCENARIO = """name: {name}
start: {start}
days: 1
constraints: {{min_elevation_deg: 10, night: nautical}}
satellites:
  - name: Micius-like
    orbit: {{sun_synchronous: {{height_km: 500, ltan_hours: 12.0}}}}
stations:
  - preset: nanshan
"""


def test_impossible_yaml_date_is_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.format(name="bad date", start="2026-02-30"))
    assert main(["run", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"satqkd: error: {path}:2: ") and "start: 2026-02-30 is not a calendar date" in err
    assert not (tmp_path / "out").exists()


def _write(tmp_path, name, **kw):
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, start="2026-11-28"))
    return path


def test_reused_output_folder_loses_the_earlier_runs_files_only(tmp_path, capsys):
    out = tmp_path / "D"
    first = _write(tmp_path, "first")
    # The first run writes partitioned Parquet and a weather-like extra file.
    assert main(["run", str(first), "-o", str(out), "--seconds", "parquet", "--no-report"]) == 0
    meta = json.loads((out / "run.json").read_text())
    parts = [f for f in meta["files"] if f.startswith("seconds/")]
    assert parts and all((out / f).is_file() for f in parts)  # listed with their folder
    # A user's own files, beside and inside satqkd's folders, and one named like ours.
    (out / "notes.txt").write_text("mine")
    (out / "seconds.csv.bak").write_text("mine")
    # Second run into the same folder: seconds.csv, no Parquet.
    assert main(["run", str(first), "-o", str(out), "--seconds", "single"]) == 0
    capsys.readouterr()
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert left == ["contacts.csv", "contacts.ics", "notes.txt", "orbit.oem", "passes.csv", "report.html", "run.json",
                    "seconds.csv", "seconds.csv.bak"]
    assert json.loads((out / "run.json").read_text())["files"] == ["passes.csv", "seconds.csv", "contacts.csv",
                                                                   "contacts.ics", "orbit.oem", "report.html"]


def test_old_run_json_without_folders_and_foreign_run_json(tmp_path, capsys):
    out = tmp_path / "D"
    (out / "seconds").mkdir(parents=True)
    (out / "seconds" / "part-00000.parquet").write_bytes(b"old")
    (out / "weather.csv").write_text("old")
    (out / "keep.csv").write_text("not listed")
    # run.json of an older satqkd: part files listed without their folder.
    (out / "run.json").write_text(json.dumps({"generator": "satqkd 0.0.9", "files": [
        "part-00000.parquet", "weather.csv", "../outside.txt", "/etc/passwd"]}))
    (tmp_path / "outside.txt").write_text("never touched")
    assert main(["run", str(_write(tmp_path, "x")), "-o", str(out), "--no-report"]) == 0
    assert not (out / "seconds").exists() and not (out / "weather.csv").exists()
    assert (out / "keep.csv").exists() and (tmp_path / "outside.txt").exists()
    # A run.json that is not satqkd's lists nothing satqkd may remove.
    other = tmp_path / "E"
    other.mkdir()
    (other / "data.csv").write_text("theirs")
    (other / "run.json").write_text(json.dumps({"generator": "another tool", "files": ["data.csv"]}))
    assert main(["run", str(_write(tmp_path, "y")), "-o", str(other), "--no-report"]) == 0
    assert (other / "data.csv").read_text() == "theirs"


def test_messages_wrap_at_spaces_in_100_columns(monkeypatch, capsys, tmp_path):
    """The summary line and warnings never break a word (a terminal at 100
    columns would wrap them mid-word)."""
    import satqkd.cli as cli

    monkeypatch.setenv("COLUMNS", "100")
    text = ("satqkd: warning: MICIUS: elements of 2021-04-27 are 30 days from the span (over 7 for LEO); "
            "SGP4 errors for a low orbit (drag): kilometres per day of age")
    cli._warn([text])
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) > 1 and all(len(line) <= 100 for line in lines)
    assert " ".join(line.strip() for line in lines) == "satqkd: warning: " + text
    assert all(line.startswith("  ") for line in lines[1:])
    # Piped without $COLUMNS: one line, as scripts expect.
    monkeypatch.delenv("COLUMNS")
    cli._warn(["short"])
    assert capsys.readouterr().err == "satqkd: warning: short\n"


def test_terminal_columns_have_one_notation(monkeypatch, capsys):
    """keyrate's key-rate column reads 4829 ... 8.74 ... 0.148 (never
    8.74e+0 beside 4829); a link column is all plain or all scientific."""
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["keyrate", "--system", "gys-2004", "--fibre-km", "0:150:10", "--asymptotic"]) == 0
    text = capsys.readouterr().out
    assert "e+0 " not in text and "e+0│" not in text
    assert main(["link", "micius-2021-nanshan"]) == 0
    text = capsys.readouterr().out
    tables, rows = [], None
    for line in text.splitlines():
        if line.startswith("┏"):
            rows = []
            tables.append(rows)
        elif line.startswith("│") and rows is not None:
            rows.append([c.strip() for c in line.split("│")[1:-1]])
    assert len(tables) >= 2
    for rows in tables:
        for col in zip(*rows):
            kinds = {("sci" if re.search(r"\de[+-]", c) else "plain") for c in col if c not in ("", "0", "–")}
            assert len(kinds) <= 1, col


def test_bits_scale_their_unit():
    from satqkd.units import format_bits

    assert format_bits(131360.57e6) == "131.36 Gbit"
    assert format_bits(6988929599.0) == "6.99 Gbit"
    assert format_bits(48940633.0) == "48.94 Mbit"
    assert format_bits(316000.0) == "316.00 kbit"
    assert format_bits(999.9999e6) == "1.00 Gbit"
    assert format_bits(0.0) == "0 bit"


def test_shipped_scenarios_run_without_element_age_warnings():
    """Each shipped scenario's pass search is silent: the calibration week's
    23-30-day-old elements and the year's idealised orbit are accepted in
    the scenario itself (element_age_warning_days), not warned on every run."""
    from satqkd.config import load_scenario, shipped
    from satqkd.passes import find_passes

    names = list(shipped("scenarios")) + [str(p) for p in (ROOT / "configs" / "validation").glob("*.yaml")]
    for name in names:
        sc = load_scenario(name)
        fc = find_passes([s.satellite for s in sc.satellites], [s.station for s in sc.stations], sc.start, sc.end,
                         {s.station.name: s.constraints for s in sc.stations}, per_second=False,
                         max_element_age_days=sc.max_element_age_days, allow_stale_elements=sc.allow_stale_elements,
                         element_age_warning_days=sc.element_age_warning_days)
        assert fc.warnings == [], (name, fc.warnings)


def test_element_age_warning_days_moves_the_warning_not_the_refusal():
    """The default LEO limits: warn above 7 days, refuse above 30
    (satqkd.elements.ELEMENT_AGE_LIMITS_DAYS); element_age_warning_days
    moves only the first."""
    from skyfield.api import EarthSatellite, load

    from satqkd.errors import SatqkdError
    from satqkd.passes import find_passes
    from satqkd.stations import Station

    ts = load.timescale(builtin=True)
    sat = EarthSatellite("1 41731U 16051A   17001.50000000  .00000800  00000-0  38000-4 0  9990",
                         "2 41731  97.3700  94.0000 0012000  90.0000 270.0000 15.25000000 20007", "OLD-LEO", ts)
    kw = dict(per_second=False)
    assert any("20 days" in w for w in find_passes(sat, Station.nanshan(), "2017-01-20", "2017-01-21", **kw).warnings)
    assert find_passes(sat, Station.nanshan(), "2017-01-20", "2017-01-21", element_age_warning_days=21, **kw).warnings == []
    with pytest.raises(SatqkdError, match="over the 30-day limit"):
        find_passes(sat, Station.nanshan(), "2017-02-10", "2017-02-11", element_age_warning_days=60, **kw)

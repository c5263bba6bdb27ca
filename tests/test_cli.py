"""The ``satqkd`` command line: happy paths and the bad-input corpus.

Project rule under test: bad input gets ONE line on stderr
(``satqkd: error: ...``) naming the file or option, the field and what was
expected; exit status 2; no traceback; and no half-written output.

Commands run in-process through :func:`satqkd.cli.main` (fast); one test
runs ``python -m satqkd`` in a subprocess for the real exit status.
The pass numbers checked in the happy paths are the Liao et al., Nature 549,
43 (2017) Xinglong geometry (shared/reference/system.md): Micius's
2016-12-19 night pass over Xinglong culminates near 47.8 deg.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import short_scenario

from satqkd.cli import main

REPO = Path(__file__).resolve().parents[1]
EPHEMERIS = REPO / "ephemeris"
DATA = Path(__file__).resolve().parent / "data"
TLE_2016 = str(EPHEMERIS / "micius-2016-12-18.tle")
OMM_2021 = str(EPHEMERIS / "micius-2021-04-27.json")
GYS = str(REPO / "configs" / "systems" / "gys-2004.yaml")

PASS_COLUMNS = [
    "satellite", "station", "rise_utc", "culmination_utc", "set_utc", "max_elevation_deg", "min_range_km",
    "duration_s", "usable_start_utc", "usable_end_utc", "usable_s", "clipped", "sunlit",
]
XINGLONG_DAY = ["passes", "--tle", TLE_2016, "--station", "xinglong", "--start", "2016-12-19", "--days", "1"]


def ok(capsys, args) -> str:
    """Run the CLI, expect success, return stdout."""
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "error" not in err and "Traceback" not in err
    return out


def fail(capsys, args, *needles) -> str:
    """Run the CLI, expect one error line and exit 2, return the line."""
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("satqkd: error: "), line
    assert "Traceback" not in err
    for needle in needles:
        assert needle in line, line
    assert out == ""
    return line


def scenario_text(**changes) -> str:
    """A one-day, one-station scenario (Micius 2021 elements over Nanshan)."""
    data = short_scenario()
    data.update(changes)
    return yaml.safe_dump(data, sort_keys=False)


@pytest.fixture
def files(tmp_path):
    """Small bad and good input files, by name."""
    tle = Path(TLE_2016).read_text().splitlines()
    paths = {
        "short.yaml": scenario_text(),
        "unknown-key.yaml": scenario_text(dayz=2),
        "bad-detector.yaml": scenario_text(stations=[{"preset": "nanshan", "detector": {"preset": "micius_2021_nanshan", "efficiency": 1.5}}]),
        "reversed.yaml": scenario_text(days=None, end="2021-04-20").replace("days: null\n", ""),
        "syntax.yaml": "name: t\nstations:\n  - preset: nanshan\n   telescope: [a\n",
        "short.tle": tle[1] + "\n" + tle[2][:-3] + "\n",
        "swapped.tle": "\n".join([tle[0], tle[2], tle[1]]) + "\n",
        "truncated.json": '[{"OBJECT_NAME": "MICIUS", ',
        "notes.txt": "these are not orbital elements\n",
        "mask-row.txt": "0 10\n90 high\n",
        "mask-range.txt": "0 10\n90 95\n",
    }
    out = {}
    for name, text in paths.items():
        out[name] = tmp_path / name
        out[name].write_text(text)
    out["binary.txt"] = tmp_path / "binary.txt"
    out["binary.txt"].write_bytes(bytes(range(256)))
    out["tmp"] = tmp_path
    return out


# --- the bad-input corpus ---------------------------------------------------

# (id, argv with {name} placeholders for fixture files, strings the error line must contain)
BAD = [
    # passes: element files
    ("tle missing", ["passes", "--tle", "{tmp}/missing.tle", "--station", "nanshan"], ["missing.tle", "no such file"]),
    ("tle bad checksum", ["passes", "--tle", str(DATA / "bad-checksum.tle"), "--station", "nanshan"], ["bad-checksum.tle:2", "checksum"]),
    ("tle short line", ["passes", "--tle", "{short.tle}", "--station", "nanshan"], ["short.tle:2", "69 characters"]),
    ("tle lines swapped", ["passes", "--tle", "{swapped.tle}", "--station", "nanshan"], ["swapped.tle:2", "line 2"]),
    ("tle not elements", ["passes", "--tle", "{notes.txt}", "--station", "nanshan"], ["notes.txt:1", "element set"]),
    ("tle binary", ["passes", "--tle", "{binary.txt}", "--station", "nanshan"], ["binary.txt", "UTF-8"]),
    ("omm truncated json", ["passes", "--omm", "{truncated.json}", "--station", "nanshan"], ["truncated.json:1", "JSON"]),
    ("tle and omm", ["passes", "--tle", TLE_2016, "--omm", OMM_2021, "--station", "nanshan"], ["--tle", "--omm"]),
    ("no elements", ["passes", "--station", "nanshan"], ["--tle", "--omm"]),
    ("scenario and tle", ["passes", "{short.yaml}", "--tle", TLE_2016], ["scenario", "--tle", "not both"]),
    # passes: stations
    ("no station", ["passes", "--tle", TLE_2016], ["--station"]),
    ("station unknown preset", ["passes", "--tle", TLE_2016, "--station", "paris"], ["--station 'paris'", "nanshan", "LAT,LON"]),
    ("station latitude 95", ["passes", "--tle", TLE_2016, "--station", "95,10"], ["--station '95,10'", "latitude"]),
    ("station height 99999", ["passes", "--tle", TLE_2016, "--station", "45,10,99999"], ["--station '45,10,99999'", "height", "9000"]),
    ("station four numbers", ["passes", "--tle", TLE_2016, "--station", "1,2,3,4"], ["--station '1,2,3,4'", "LAT,LON"]),
    ("station text height", ["passes", "--tle", TLE_2016, "--station", "45,10,high"], ["--station '45,10,high'"]),
    # passes: constraints and span
    ("night unknown", XINGLONG_DAY + ["--night", "dusk"], ["--night", "nautical", "'dusk'"]),
    ("night 100", XINGLONG_DAY + ["--night", "100"], ["--night", "90", "100"]),
    ("min elevation 95", XINGLONG_DAY + ["--min-elevation", "95"], ["--min-elevation", "less than 90", "95"]),
    ("min elevation nan", XINGLONG_DAY + ["--min-elevation", "nan"], ["--min-elevation", "nan"]),
    ("moon separation 200", XINGLONG_DAY + ["--moon-separation", "200"], ["--moon-separation", "180", "200"]),
    ("max range negative", XINGLONG_DAY + ["--max-range-km", "-5"], ["--max-range-km", "greater than 0"]),
    ("days -1", ["passes", "--tle", TLE_2016, "--station", "nanshan", "--days", "-1"], ["--days", "greater than 0", "-1"]),
    ("days 0", ["passes", "--tle", TLE_2016, "--station", "nanshan", "--days", "0"], ["--days", "0"]),
    ("days inf", ["passes", "--tle", TLE_2016, "--station", "nanshan", "--days", "inf"], ["--days", "inf"]),
    ("days not a number", ["passes", "--tle", TLE_2016, "--station", "nanshan", "--days", "week"], ["passes:", "--days", "satqkd passes --help"]),
    ("start not a date", ["passes", "--tle", TLE_2016, "--station", "nanshan", "--start", "yesterday"], ["--start 'yesterday'", "ISO"]),
    ("start impossible date", ["passes", "--tle", TLE_2016, "--station", "nanshan", "--start", "2016-02-30"], ["--start '2016-02-30'"]),
    ("start beyond DE421", ["passes", "--tle", TLE_2016, "--station", "nanshan", "--start", "2060-01-01", "--days", "1"], ["--start", "DE421", "2053"]),
    # passes: horizon masks
    ("mask missing", XINGLONG_DAY + ["--horizon-mask", "{tmp}/mask.txt"], ["mask.txt", "No such file"]),
    ("mask bad row", XINGLONG_DAY + ["--horizon-mask", "{mask-row.txt}"], ["mask-row.txt:2", "azimuth_deg elevation_deg", "'90 high'"]),
    ("mask elevation 95", XINGLONG_DAY + ["--horizon-mask", "{mask-range.txt}"], ["mask-range.txt:2", "elevation in [-5, 90]"]),
    ("mask binary", XINGLONG_DAY + ["--horizon-mask", "{binary.txt}"], ["binary.txt", "UTF-8"]),
    ("mask is a folder", XINGLONG_DAY + ["--horizon-mask", "{tmp}"], ["cannot read horizon mask"]),
    ("mask empty", XINGLONG_DAY + ["--horizon-mask", "{notes.txt}"], ["notes.txt", "no rows"]),
    # usage errors are one line too
    ("format xml", XINGLONG_DAY + ["--format", "xml"], ["passes:", "--format", "'xml'"]),
    ("unknown option", ["passes", "--satellite", "x"], ["passes:", "--satellite"]),
    ("unknown command", ["orbit"], ["'orbit'"]),
    # scenarios through the CLI
    ("scenario missing", ["passes", "{tmp}/nowhere.yaml"], ["nowhere.yaml", "no such file"]),
    ("scenario unknown key", ["passes", "{unknown-key.yaml}"], ["unknown-key.yaml", "dayz", "unknown key"]),
    ("scenario out of range", ["run", "{bad-detector.yaml}", "-o", "{tmp}/out"], ["bad-detector.yaml", "stations[0].detector.efficiency", "1.5"]),
    ("scenario reversed span", ["run", "{reversed.yaml}", "-o", "{tmp}/out"], ["reversed.yaml", "end", "after start"]),
    ("scenario syntax", ["link", "{syntax.yaml}"], ["syntax.yaml:4", "invalid YAML"]),
    ("run scenario missing", ["run", "{tmp}/nowhere.yaml", "-o", "{tmp}/out"], ["nowhere.yaml", "no such file"]),
    ("run out is a file", ["run", "{short.yaml}", "-o", "{notes.txt}"], ["notes.txt", "not a folder"]),
    # link
    ("link height negative", ["link", "--height-km", "-5"], ["--height-km", "-5"]),
    ("link scenario missing", ["link", "{tmp}/nowhere.yaml"], ["nowhere.yaml", "no such file"]),
    # keyrate
    ("loss range reversed", ["keyrate", "--system", GYS, "--loss-db", "10:5:1", "--asymptotic"], ["--loss-db '10:5:1'", "STOP >= START"]),
    ("loss range words", ["keyrate", "--system", GYS, "--loss-db", "a:b:c", "--asymptotic"], ["--loss-db 'a:b:c'"]),
    ("loss step zero", ["keyrate", "--system", GYS, "--loss-db", "0:10:0", "--asymptotic"], ["--loss-db '0:10:0'", "STEP > 0"]),
    ("loss two parts", ["keyrate", "--system", GYS, "--loss-db", "0:10", "--asymptotic"], ["--loss-db '0:10'"]),
    ("loss negative", ["keyrate", "--system", GYS, "--loss-db", "-5", "--asymptotic"], ["--loss-db '-5'", ">= 0"]),
    ("loss nan", ["keyrate", "--system", GYS, "--loss-db", "nan", "--asymptotic"], ["--loss-db 'nan'"]),
    ("loss too many points", ["keyrate", "--system", GYS, "--loss-db", "0:1e9:1e-9", "--asymptotic"], ["--loss-db", "at most 10000"]),
    ("fibre reversed", ["keyrate", "--system", GYS, "--fibre-km", "150:0:10", "--asymptotic"], ["--fibre-km '150:0:10'"]),
    ("loss and fibre", ["keyrate", "--system", GYS, "--loss-db", "0:10:1", "--fibre-km", "0:10:1", "--asymptotic"], ["--loss-db", "--fibre-km"]),
    ("no key length", ["keyrate", "--system", GYS, "--loss-db", "0:10:1"], ["--asymptotic", "--block-pulses"]),
    ("block pulses negative", ["keyrate", "--system", GYS, "--loss-db", "0:10:1", "--block-pulses", "-1"], ["--block-pulses", "-1"]),
    ("block detections inf", ["keyrate", "--system", GYS, "--loss-db", "0:10:1", "--block-detections", "inf"], ["--block-detections", "inf"]),
    ("system missing", ["keyrate", "--system", "{tmp}/nosystem.yaml", "--loss-db", "0:10:1", "--asymptotic"], ["nosystem.yaml"]),
    ("system unknown field", ["keyrate", "--system", str(DATA / "bad-system.yaml"), "--loss-db", "0:10:1", "--asymptotic"],
     ["bad-system.yaml", "detector", "efficency"]),
    ("system is a scenario", ["keyrate", "--system", "{short.yaml}", "--loss-db", "0:10:1", "--asymptotic"], ["short.yaml", "unknown key"]),
    ("system option missing", ["keyrate", "--loss-db", "0:10:1", "--asymptotic"], ["keyrate:", "--system"]),
    # elements
    ("elements unknown kind", ["elements", "molniya"], ["'molniya'", "sso, geo, classical or convert"]),
    ("elements geo no longitude", ["elements", "geo"], ["--longitude-deg"]),
    ("elements geo longitude 500", ["elements", "geo", "--longitude-deg", "500"], ["elements geo", "--longitude-deg", "500"]),
    ("elements classical no inclination", ["elements", "classical", "--height-km", "500"], ["--inclination-deg"]),
    ("elements classical e 1.5", ["elements", "classical", "--inclination-deg", "97", "--height-km", "500", "--eccentricity", "1.5"],
     ["--eccentricity", "1.5"]),
    ("elements classical raan nan", ["elements", "classical", "--inclination-deg", "97", "--height-km", "500", "--raan-deg", "nan"],
     ["--raan-deg", "finite"]),
    ("elements classical inclination 200", ["elements", "classical", "--inclination-deg", "200", "--height-km", "500"],
     ["--inclination-deg", "200"]),
    ("elements sso ltan 30", ["elements", "sso", "--ltan-hours", "30"], ["elements sso", "--ltan-hours", "30"]),
    ("elements sso underground", ["elements", "sso", "--height-km", "-100"], ["--height-km", "-100"]),
    ("elements bad epoch", ["elements", "sso", "--epoch", "soon"], ["--epoch 'soon'", "ISO"]),
    ("elements convert no file", ["elements", "convert"], ["--from"]),
    ("elements convert missing", ["elements", "convert", "--from", "{tmp}/gone.tle"], ["gone.tle", "no such file"]),
    ("elements convert malformed", ["elements", "convert", "--from", str(DATA / "bad-checksum.tle")], ["bad-checksum.tle:2", "checksum"]),
    ("elements output folder missing", ["elements", "sso", "--epoch", "2026-11-28", "-o", "{tmp}/no/such/dir/x.tle"], ["x.tle", "cannot write"]),
]


@pytest.mark.parametrize("argv,needles", [pytest.param(a, n, id=i) for i, a, n in BAD])
def test_bad_input_is_one_line_exit_2(capsys, files, argv, needles):
    """Every bad input: exit 2, one stderr line naming the file/option, no traceback."""
    args = []
    for a in argv:
        for key, path in files.items():
            a = a.replace("{" + key + "}", str(path))
        args.append(a)
    fail(capsys, args, *needles)


def test_failed_run_leaves_previous_output_intact(capsys, files):
    """A run that fails keeps the old report.html and writes no partial files."""
    out = files["tmp"] / "out"
    out.mkdir()
    (out / "report.html").write_text("OLD REPORT")
    before = sorted(p.name for p in out.iterdir())
    for scenario in ("bad-detector.yaml", "reversed.yaml", "unknown-key.yaml", "syntax.yaml"):
        fail(capsys, ["run", files[scenario], "-o", out])
    assert sorted(p.name for p in out.iterdir()) == before
    assert (out / "report.html").read_text() == "OLD REPORT"


def test_error_before_writing_creates_no_output_folder(capsys, files):
    out = files["tmp"] / "fresh"
    fail(capsys, ["run", files["unknown-key.yaml"], "-o", out])
    assert not out.exists()


def test_failed_elements_export_writes_nothing(capsys, files):
    target = files["tmp"] / "sso.tle"
    fail(capsys, ["elements", "sso", "--height-km", "-100", "--epoch", "2026-11-28", "-o", target])
    assert not target.exists()


def test_write_atomic_failure_keeps_old_file(tmp_path):
    """An error while writing leaves the previous file and no temporary file."""
    from satqkd.io import write_atomic

    target = tmp_path / "report.html"
    target.write_text("OLD")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "new text with a lone surrogate \ud800")
    assert target.read_text() == "OLD"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_subprocess_exit_code_and_no_traceback(tmp_path):
    """The real process: exit status 2, one line, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "satqkd", "passes", "--tle", str(tmp_path / "missing.tle"), "--station", "nanshan"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"satqkd: error: {tmp_path / 'missing.tle'}: no such file"]
    assert proc.stdout == ""


def test_help_and_no_arguments(capsys):
    assert main(["--help"]) == 0
    assert "passes" in capsys.readouterr().out
    main([])  # no_args_is_help: prints the help
    out, err = capsys.readouterr()
    assert "passes" in out + err and "Traceback" not in err


# --- happy paths ------------------------------------------------------------


def test_passes_csv_has_the_xinglong_pass(capsys):
    """Micius over Xinglong, night of 2016-12-19: the pass culminating at
    16:52 UTC near 47.8 deg (Liao et al. 2017 geometry; system.md)."""
    table = pd.read_csv(io.StringIO(ok(capsys, XINGLONG_DAY + ["--format", "csv"])))
    assert set(PASS_COLUMNS) <= set(table.columns)
    culmination = pd.to_datetime(table["culmination_utc"])
    row = table[(culmination.dt.hour == 16) & (culmination.dt.minute // 10 == 5)]
    assert len(row) == 1
    assert row["max_elevation_deg"].iat[0] == pytest.approx(47.8, abs=0.3)
    assert row["station"].iat[0] == "Xinglong"
    assert 300 < row["duration_s"].iat[0] < 600
    assert row["usable_s"].iat[0] <= row["duration_s"].iat[0] + 1


def test_passes_json_and_table(capsys):
    records = json.loads(ok(capsys, XINGLONG_DAY + ["--format", "json"]))
    assert records and set(PASS_COLUMNS) <= set(records[0])
    assert any(r["culmination_utc"].startswith("2016-12-19T16:5") for r in records)
    text = ok(capsys, XINGLONG_DAY + ["--format", "table"])
    assert "Xinglong" in text and "47.8" in text and "passes" in text


def test_passes_omm_with_coordinates(capsys):
    """An OMM file and a LAT,LON,HEIGHT station (Nanshan's coordinates)."""
    args = ["passes", "--omm", OMM_2021, "--station", "43.47,87.18,2034", "--start", "2021-04-27", "--days", "1", "--format", "csv"]
    table = pd.read_csv(io.StringIO(ok(capsys, args)))
    assert len(table) >= 1
    assert (table["station"] == "43.4700,87.1800").all()
    assert (table["satellite"] == "MICIUS").all()


def test_passes_night_and_moon_constraints(capsys):
    """Stricter constraints can only shrink the usable time."""
    def usable(extra):
        table = pd.read_csv(io.StringIO(ok(capsys, XINGLONG_DAY + ["--format", "csv"] + extra)))
        return table, float(table["usable_s"].sum()) if len(table) else 0.0

    any_time, total_any = usable(["--night", "none"])
    dark, total_dark = usable(["--night", "astronomical"])
    assert len(any_time) > len(dark) >= 1  # daylight passes appear with --night none
    assert total_dark < total_any
    moon, total_moon = usable(["--moon-separation", "30"])
    assert total_moon <= usable([])[1]
    # No satellite is 180 deg from the Moon for a second: every pass drops.
    assert usable(["--moon-separation", "180"])[0].empty


def test_passes_horizon_mask(capsys):
    """A 30-deg wall all round (tests/data/horizon-mask.txt) shortens the
    47.8-deg pass; a 50-deg wall removes it."""
    base = pd.read_csv(io.StringIO(ok(capsys, XINGLONG_DAY + ["--format", "csv"])))
    masked = pd.read_csv(io.StringIO(ok(capsys, XINGLONG_DAY + ["--format", "csv", "--horizon-mask", DATA / "horizon-mask.txt"])))
    big = base.loc[base["max_elevation_deg"].idxmax()]
    m = masked.loc[masked["max_elevation_deg"].idxmax()]
    assert m["max_elevation_deg"] == pytest.approx(big["max_elevation_deg"], abs=0.01)
    assert m["duration_s"] < big["duration_s"] - 60
    assert (masked["max_elevation_deg"] >= 30).all()


def test_passes_scenario_with_overrides(capsys, files):
    table = pd.read_csv(io.StringIO(ok(capsys, ["passes", files["short.yaml"], "--min-elevation", "20", "--format", "csv"])))
    assert len(table) >= 1 and (table["max_elevation_deg"] >= 20).all()


def test_link_default_scenario_and_geo(capsys):
    """The default scenario's two stations come out as ONE csv/json document."""
    table = pd.read_csv(io.StringIO(ok(capsys, ["link", "--format", "csv"])))
    assert {"satellite", "station", "elevation_deg", "loss_db", "geometric_loss_db"} <= set(table.columns)
    assert set(table["station"]) == {"Nanshan", "Xinglong"}
    # Loss falls as the satellite climbs (shorter range, less air).
    for _, g in table.groupby("station"):
        assert g.sort_values("elevation_deg")["loss_db"].is_monotonic_decreasing
    records = json.loads(ok(capsys, ["link", "--format", "json"]))
    assert len(records) == len(table)
    geo = pd.read_csv(io.StringIO(ok(capsys, ["link", "--compare-geo", "--format", "csv"])))
    assert {"height_km", "range_km", "loss_db"} <= set(geo.columns)
    assert geo["height_km"].max() > 35000 and geo["loss_db"].max() > geo["loss_db"].min()
    assert "Loss budget" in ok(capsys, ["link"])


def test_keyrate_gys_fibre(capsys):
    """GYS 2004 (Ma et al., PRA 72, 012326, 2005): vacuum+weak decoy, positive
    key at 100 km, none by 150 km (their cut-off is about 140 km)."""
    args = ["keyrate", "--system", GYS, "--fibre-km", "0:150:10", "--asymptotic", "--format", "csv"]
    table = pd.read_csv(io.StringIO(ok(capsys, args)))
    assert list(table["fibre_km"]) == [float(k) for k in range(0, 151, 10)]
    by_km = table.set_index("fibre_km")["key_rate_bps"]
    assert by_km[100.0] > 0
    assert by_km[150.0] == 0
    assert by_km.is_monotonic_decreasing


def test_keyrate_single_loss_value(capsys):
    table = pd.read_csv(io.StringIO(ok(capsys, ["keyrate", "--system", GYS, "--loss-db", "10", "--asymptotic", "--format", "csv"])))
    assert list(table["loss_db"]) == [10.0]


def test_elements_sso_round_trip(capsys, tmp_path):
    """sso -> OMM JSON -> convert -> OMM JSON is the identity, and the
    inclination is the sun-synchronous one: cos i = -(dOmega/dt) /
    (3/2 n J2 (R/a)^2) with dOmega/dt = 360 deg per 365.2422 days
    (Vallado, Fundamentals of Astrodynamics, eq. 9-37; WGS-72 constants)."""
    path = tmp_path / "sso.json"
    ok(capsys, ["elements", "sso", "--height-km", "500", "--ltan-hours", "12", "--epoch", "2026-11-28", "--format", "omm-json", "-o", path])
    first = json.loads(path.read_text())
    again = json.loads(ok(capsys, ["elements", "convert", "--from", path, "--format", "omm-json"]))
    assert again == first
    (record,) = first
    assert record["EPOCH"].startswith("2026-11-28T00:00:00")
    mu, re_km, j2 = 398600.8, 6378.135, 0.001082616
    a = re_km + 500.0
    n = math.sqrt(mu / a**3)
    node_rate = 2 * math.pi / (365.2422 * 86400.0)
    inclination = math.degrees(math.acos(-node_rate / (1.5 * n * j2 * (re_km / a) ** 2)))
    assert record["INCLINATION"] == pytest.approx(inclination, abs=0.05)
    tle = ok(capsys, ["elements", "convert", "--from", path, "--format", "tle"]).splitlines()
    assert [line[:2] for line in tle] == ["1 ", "2 "]


def test_run_short_scenario(capsys, files):
    """A one-day scenario: report.html, passes.csv with the key columns,
    seconds.csv with the per-second loss and range."""
    out = files["tmp"] / "out"
    out.mkdir()
    (out / "report.html").write_text("OLD REPORT")
    stdout = ok(capsys, ["run", files["short.yaml"], "-o", out])
    assert "short test" in stdout
    assert {p.name for p in out.iterdir()} == {"report.html", "passes.csv", "seconds.csv"}
    assert "<html" in (out / "report.html").read_text()[:2000].lower()
    passes = pd.read_csv(out / "passes.csv")
    assert {"sifted_bits", "key_bits", "key_window_s", "mean_key_rate_bps"} <= set(passes.columns)
    assert len(passes) >= 1 and (passes["key_bits"] >= 0).all()
    seconds = pd.read_csv(out / "seconds.csv")
    assert {"loss_db", "range_km"} <= set(seconds.columns)
    # One row per usable second of each pass.
    counts = seconds.groupby("pass_id").size()
    assert (counts.reindex(passes["pass_id"]).fillna(0).to_numpy() == passes["usable_s"].to_numpy()).all()


def test_run_no_report(capsys, files):
    out = files["tmp"] / "tables"
    ok(capsys, ["run", files["short.yaml"], "-o", out, "--no-report"])
    assert {p.name for p in out.iterdir()} == {"passes.csv", "seconds.csv"}


def test_passes_refuses_stale_elements_unless_allowed(capsys):
    """Issue 12: a 2016 element set forecast for 2026 is refused with its
    age; --allow-stale-elements forecasts it with a warning."""
    args = ["passes", "--tle", EPHEMERIS / "micius-2016-12-18.tle", "--station", "nanshan",
            "--start", "2026-01-01", "--days", "1", "--night", "none"]
    fail(capsys, args, "MICIUS", "days from the span, over the 30-day limit for LEO", "--allow-stale-elements")
    rc = main([str(a) for a in args + ["--allow-stale-elements", "--format", "csv"]])
    out, err = capsys.readouterr()
    assert rc == 0 and "satqkd: warning:" in err and "(allowed)" in err


def test_passes_keeps_the_good_sets_of_a_catalogue(capsys, tmp_path):
    """Issue 9: a catalogue with one corrupted set is forecast from its good
    sets; the bad one is reported by file and line on stderr."""
    lines = (Path(__file__).parent / "data" / "celestrak-2022-02-04.tle").read_text().splitlines()[:6]
    lines[5] = lines[5][:-1] + str((int(lines[5][-1]) + 1) % 10)
    path = tmp_path / "two.tle"
    path.write_text("\n".join(lines) + "\n")
    rc = main(["passes", "--tle", str(path), "--station", "nanshan", "--start", "2022-02-05", "--days", "1",
               "--night", "none", "--format", "csv"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert f"{path}:6:" in err and "checksum" in err and "BEIDOU 5 (C06)" in err
    assert "BEIDOU 3 (C01)" in out and "BEIDOU 5 (C06)" not in out

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
    ("link height 1e9", ["link", "--height-km", "1e9"], ["--height-km", "100,000 km", "1e+09"]),
    ("link height nan", ["link", "--height-km", "nan"], ["--height-km", "nan"]),
    ("link scenario missing", ["link", "{tmp}/nowhere.yaml"], ["nowhere.yaml", "no such file"]),
    # keyrate
    ("loss range reversed", ["keyrate", "--system", GYS, "--loss-db", "10:5:1", "--asymptotic"], ["--loss-db '10:5:1'", "STOP >= START"]),
    ("loss range words", ["keyrate", "--system", GYS, "--loss-db", "a:b:c", "--asymptotic"], ["--loss-db 'a:b:c'"]),
    ("loss step zero", ["keyrate", "--system", GYS, "--loss-db", "0:10:0", "--asymptotic"], ["--loss-db '0:10:0'", "STEP > 0"]),
    ("loss two parts", ["keyrate", "--system", GYS, "--loss-db", "0:10", "--asymptotic"], ["--loss-db '0:10'"]),
    ("loss negative", ["keyrate", "--system", GYS, "--loss-db", "-5", "--asymptotic"], ["--loss-db '-5'", ">= 0"]),
    ("loss nan", ["keyrate", "--system", GYS, "--loss-db", "nan", "--asymptotic"], ["--loss-db 'nan'"]),
    ("loss 1e300", ["keyrate", "--system", GYS, "--loss-db", "1e300", "--asymptotic"], ["--loss-db '1e300'", "up to 500"]),
    ("fibre 1e300", ["keyrate", "--system", GYS, "--fibre-km", "0:1e300:1e299", "--asymptotic"], ["--fibre-km", "up to 10000"]),
    ("loss too many points", ["keyrate", "--system", GYS, "--loss-db", "0:100:1e-3", "--asymptotic"], ["--loss-db", "at most 10000"]),
    ("fibre reversed", ["keyrate", "--system", GYS, "--fibre-km", "150:0:10", "--asymptotic"], ["--fibre-km '150:0:10'"]),
    ("loss and fibre", ["keyrate", "--system", GYS, "--loss-db", "0:10:1", "--fibre-km", "0:10:1", "--asymptotic"], ["--loss-db", "--fibre-km"]),
    ("no key length", ["keyrate", "--system", GYS, "--loss-db", "0:10:1"], ["--asymptotic", "--block-pulses"]),
    ("block pulses negative", ["keyrate", "--system", GYS, "--loss-db", "0:10:1", "--block-pulses", "-1"], ["--block-pulses", "-1"]),
    ("block pulses 1e300", ["keyrate", "--system", GYS, "--loss-db", "0:10:1", "--block-pulses", "1e300"], ["--block-pulses", "1e+20", "1e+300"]),
    ("system unknown name", ["keyrate", "--system", "gys-2005", "--loss-db", "0:10:1", "--asymptotic"], ["gys-2005", "gys-2004", "lim-2014"]),
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
    ("elements sso height 1e9", ["elements", "sso", "--height-km", "1e9"], ["--height-km", "100,000 km"]),
    ("elements classical a 1e9", ["elements", "classical", "--semi-major-axis-km", "1e9", "--inclination-deg", "10"],
     ["--semi-major-axis-km", "106,378 km", "1e+09"]),
    ("elements -o a folder", ["elements", "sso", "--epoch", "2026-11-28", "-o", "{tmp}"], ["-o/--output", "is a folder"]),
    ("elements -o empty", ["elements", "sso", "--epoch", "2026-11-28", "-o", ""], ["-o/--output", "expected a file name", "''"]),
    ("passes station twice", ["passes", "--tle", TLE_2016, "--station", "nanshan", "--station", "nanshan"],
     ["--station 'nanshan'", "given twice"]),
    ("run scenario unknown name", ["run", "micius-2030", "-o", "{tmp}/out"], ["micius-2030", "micius-2021-nanshan"]),
    ("run out empty", ["run", "{short.yaml}", "-o", ""], ["-o/--out", "expected a folder name"]),
    ("run out under a file", ["run", "{short.yaml}", "-o", "{notes.txt}/out"], ["notes.txt", "is a file"]),
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
    assert "Xinglong" in text and "47.8" in text
    # One pass that night over Xinglong: "1 pass", not "1 passes".
    assert "1 pass" in text and "1 passes" not in text


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
    assert {p.name for p in out.iterdir()} == {"report.html", "passes.csv", "seconds.csv", "run.json",
                                              "contacts.csv", "contacts.ics", "orbit.oem"}
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
    assert {p.name for p in out.iterdir()} == {"passes.csv", "seconds.csv", "run.json",
                                              "contacts.csv", "contacts.ics", "orbit.oem"}


# --- faults of issue 12: each test failed before its fix ---------------------


def test_elements_output_folder_or_empty_leaves_no_temporary_file(capsys, tmp_path, monkeypatch):
    """``-o DIR`` and ``-o ""`` used to end in a traceback and leave a
    ``..*.tmp`` file in the folder's parent (or the current folder)."""
    work = tmp_path / "work"
    target = work / "dir"
    target.mkdir(parents=True)
    monkeypatch.chdir(work)
    for output in (str(target), "", "."):
        fail(capsys, ["elements", "sso", "--epoch", "2026-11-28", "-o", output], "-o/--output")
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []


def test_duplicate_station_is_refused_not_listed_twice(capsys):
    """``--station nanshan --station nanshan`` listed every pass twice; the
    YAML loader refuses duplicate stations, and so does the command line."""
    line = fail(capsys, XINGLONG_DAY + ["--station", "xinglong"], "--station")
    assert "twice" in line


@pytest.mark.parametrize("where", ["proc", "under-file", "read-only"])
def test_unwritable_output_folder_is_found_before_the_computation(capsys, files, monkeypatch, where):
    """An output folder that cannot be written was found only after the
    whole computation; now the run stops before any pass is searched."""
    import os

    import satqkd.pipeline

    def no_run(*args, **kwargs):
        raise AssertionError("the computation started before the output folder was checked")

    monkeypatch.setattr(satqkd.pipeline, "run", no_run)
    if where == "proc":
        if not Path("/proc/self").is_dir():
            pytest.skip("needs Linux /proc (a folder nobody, not even root, can write)")
        out = Path("/proc/satqkd-out")
    elif where == "under-file":
        out = files["notes.txt"] / "out"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes in read-only folders (the /proc case covers root)")
        locked = files["tmp"] / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        out = locked / "out"
    fail(capsys, ["run", files["short.yaml"], "-o", out, "--no-report"], str(out))


# A child process that runs `satqkd run` and, at the chosen moment, prints
# READY and waits to be signalled (as a user pressing Ctrl-C would).
_HARNESS = r"""
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job starts with SIGINT ignored
import satqkd.io, satqkd.pipeline
moment = sys.argv[1]
if moment == "computing":
    def run(*args, **kwargs):
        print("READY", flush=True)
        time.sleep(60)
    satqkd.pipeline.run = run
else:  # "writing": after the first temporary file is complete, before the others
    stage = satqkd.io._stage
    def slow_stage(path, data):
        tmp = stage(path, data)
        print("READY", flush=True)
        time.sleep(60)
        return tmp
    satqkd.io._stage = slow_stage
from satqkd.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _signal_run(tmp_path, files, moment, signum):
    out = files["tmp"] / "out"
    out.mkdir(exist_ok=True)
    (out / "report.html").write_text("OLD REPORT")
    (out / "passes.csv").write_text("OLD PASSES")
    proc = subprocess.Popen(
        [sys.executable, "-c", _HARNESS, moment, "run", str(files["short.yaml"]), "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        assert proc.stdout.readline().strip() == "READY"
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in stderr
    assert (out / "report.html").read_text() == "OLD REPORT"
    assert (out / "passes.csv").read_text() == "OLD PASSES"
    assert sorted(p.name for p in out.iterdir()) == ["passes.csv", "report.html"]
    assert not [p for p in tmp_path.rglob("*.tmp")]
    return proc.returncode, stderr


def test_ctrl_c_during_run_exits_130_and_keeps_previous_outputs(tmp_path, files):
    """Ctrl-C during `satqkd run` exited 0 and printed nothing (typer turns
    KeyboardInterrupt into a return value that was dropped)."""
    import signal as signal_module

    rc, stderr = _signal_run(tmp_path, files, "computing", signal_module.SIGINT)
    assert rc == 130
    assert stderr.strip().splitlines()[-1] == "satqkd: interrupted"


def test_sigterm_while_writing_leaves_no_temporary_file(tmp_path, files):
    """SIGTERM while the outputs were being staged left ``.passes.csv.*.tmp``
    in the output folder; now every temporary file goes, the old outputs stay."""
    import signal as signal_module

    rc, stderr = _signal_run(tmp_path, files, "writing", signal_module.SIGTERM)
    assert rc == 143
    assert stderr.strip().splitlines()[-1] == "satqkd: terminated"


def test_ctrl_c_in_process_returns_130(capsys, files, monkeypatch):
    """A KeyboardInterrupt inside a command (typer catches it) is exit 130."""
    import satqkd.pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(satqkd.pipeline, "run", interrupted)
    assert main(["run", str(files["short.yaml"]), "-o", str(files["tmp"] / "out")]) == 130
    assert capsys.readouterr().err.strip() == "satqkd: interrupted"


def test_ctrl_c_that_a_library_turned_into_an_error_is_still_an_interrupt(capsys, files, monkeypatch):
    """Ctrl-C during an import inside a bare ``except:`` (skyfield's iokit has
    one) became ``ModuleNotFoundError: No module named 'urlparse'``, a
    traceback and exit 1 (a CI run: a sweep interrupted 0.9 s in).  An error
    raised while handling an interrupt is the interrupt: one line, exit 130."""
    import satqkd.pipeline

    def interrupted(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except:  # noqa: E722 - as the library does
            raise ModuleNotFoundError("No module named 'urlparse'")

    monkeypatch.setattr(satqkd.pipeline, "run", interrupted)
    assert main(["run", str(files["short.yaml"]), "-o", str(files["tmp"] / "out")]) == 130
    assert capsys.readouterr().err == "satqkd: interrupted\n"


def test_an_error_not_raised_by_an_interrupt_is_not_one(files, monkeypatch):
    import satqkd.pipeline

    def broken(*args, **kwargs):
        try:
            raise ValueError("first")
        except ValueError:
            raise ModuleNotFoundError("No module named 'urlparse'")

    monkeypatch.setattr(satqkd.pipeline, "run", broken)
    with pytest.raises(ModuleNotFoundError):
        main(["run", str(files["short.yaml"]), "-o", str(files["tmp"] / "out")])


# satqkd.launch's start, interrupted inside a library's bare ``except:`` as the shared imports were
# ("early"), or between the early start and the command's own handling ("handover").
_LAUNCH_HARNESS = r"""
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
import satqkd.cli, satqkd.launch as launch
SIG = getattr(signal, sys.argv[2])
def early(argv):
    try:
        os.kill(os.getpid(), SIG)
        time.sleep(30)
    except:
        raise ModuleNotFoundError("No module named 'urlparse'")
    return True
def main(argv=None):
    os.kill(os.getpid(), SIG)
    time.sleep(30)
    return 0
if sys.argv[1] == "early":
    launch.start_local_workers_early = early
else:
    satqkd.cli.main = main
sys.argv = ["satqkd", "sweep", "missing.yaml", "--workers", "2"]
launch.entry()
"""


@pytest.mark.parametrize("signame, code, line", [("SIGINT", 130, "satqkd: interrupted\n"),
                                                 ("SIGTERM", 143, "satqkd: terminated\n")])
@pytest.mark.parametrize("moment", ["early", "handover"])
def test_ctrl_c_while_the_command_starts_is_one_line_and_exit_130(tmp_path, moment, signame, code, line):
    """Before the command's own handling is in place, Ctrl-C was a
    KeyboardInterrupt: satqkd.launch's import of what the workers share met it
    inside skyfield's bare ``except:`` (a ModuleNotFoundError traceback, exit
    1), and after that import Python ended by SIGINT (exit -2; CI runs of a
    sweep interrupted 0.9 s and 1.0 s in).  SIGTERM then ended it by its
    default action: no line, and no exit status of its own (-15)."""
    proc = subprocess.run([sys.executable, "-c", _LAUNCH_HARNESS, moment, signame], capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)
    assert (proc.returncode, proc.stderr) == (code, line)


def test_version(capsys):
    from importlib.metadata import version

    import satqkd

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"satqkd {version('satqkd')}" == f"satqkd {satqkd.__version__}"


def test_outputs_say_which_version_and_scenario_made_them(capsys, files):
    """run.json beside the outputs; the report says it too; the CSVs stay
    plain (pandas reads them with no options)."""
    import satqkd

    out = files["tmp"] / "out"
    ok(capsys, ["run", files["short.yaml"], "-o", out])
    meta = json.loads((out / "run.json").read_text())
    assert meta["version"] == satqkd.__version__
    assert meta["scenario"] == "short test" and meta["scenario_file"] == str(files["short.yaml"])
    assert meta["start_utc"] == "2021-04-27T00:00:00Z" and meta["end_utc"] == "2021-04-28T00:00:00Z"
    assert set(meta["files"]) == {"passes.csv", "seconds.csv", "report.html", "contacts.csv", "contacts.ics", "orbit.oem"}
    passes = pd.read_csv(out / "passes.csv")
    assert meta["passes"] == len(passes) and meta["clear_sky_ceiling_bits"] == pytest.approx(passes["key_bits"].sum())
    report = (out / "report.html").read_text()
    assert f"satqkd {satqkd.__version__}" in report and "short test" in report


def test_parquet_carries_version_and_scenario(capsys, files):
    pq = pytest.importorskip("pyarrow.parquet")
    path = files["tmp"] / "parquet.yaml"
    path.write_text(scenario_text(seconds_format="parquet"))
    out = files["tmp"] / "out"
    ok(capsys, ["run", path, "-o", out, "--no-report"])
    meta = pq.read_schema(out / "seconds.parquet").metadata
    assert meta[b"satqkd.scenario"] == b"short test"


def test_shipped_scenarios_and_systems_by_name(capsys, tmp_path, monkeypatch):
    """Shipped files by NAME, from a folder with no configs/ in it."""
    monkeypatch.chdir(tmp_path)
    listing = ok(capsys, ["scenarios"])
    for name in ("micius", "micius-2017-xinglong", "micius-2021-nanshan", "gys-2004", "lim-2014"):
        assert name in listing
    table = pd.read_csv(io.StringIO(ok(capsys, ["keyrate", "--system", "gys-2004", "--fibre-km", "100", "--asymptotic", "--format", "csv"])))
    assert table["key_rate_bps"].iat[0] > 0
    loss = pd.read_csv(io.StringIO(ok(capsys, ["link", "micius-2021-nanshan", "--format", "csv"])))
    assert set(loss["station"]) == {"Nanshan"}
    assert "MICIUS" in ok(capsys, ["passes", "micius-2017-xinglong", "--format", "csv"])


def test_shipped_names_work_from_an_installed_layout(tmp_path):
    """After a plain (non-editable) pip install the package is laid out as
    pyproject's package-dir and package-data say: build that layout, and run
    `satqkd scenarios`, `keyrate --system gys-2004` and `link
    micius-2021-nanshan` from it, in a folder with no configs/ or ephemeris/."""
    import glob
    import os
    import shutil
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    site = tmp_path / "site"
    for package in config["packages"]:
        source = REPO / config["package-dir"].get(package, package.replace(".", "/"))
        target = site / package.replace(".", "/")
        target.mkdir(parents=True, exist_ok=True)
        patterns = ["*.py"] + config.get("package-data", {}).get(package, [])
        for pattern in patterns:
            for f in glob.glob(str(source / pattern)):
                dest = target / Path(f).relative_to(source)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, dest)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}

    def satqkd(*args):
        proc = subprocess.run([sys.executable, "-m", "satqkd", *args], capture_output=True, text=True, cwd=work, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    probe = subprocess.run([sys.executable, "-c", "import satqkd; print(satqkd.__file__)"], capture_output=True, text=True,
                           cwd=work, env=env)
    assert probe.stdout.strip().startswith(str(site))
    assert "micius-2021-nanshan" in satqkd("scenarios")
    assert "key_rate_bps" in satqkd("keyrate", "--system", "gys-2004", "--fibre-km", "50", "--asymptotic", "--format", "csv")
    assert "Nanshan" in satqkd("link", "micius-2021-nanshan", "--format", "csv")


# --- the terminal -------------------------------------------------------------


def _numbers(text):
    import re

    return re.findall(r"-?\d+(?:\.\d+)?(?:e[+-]\d+)?", text)


@pytest.mark.parametrize("argv", [
    XINGLONG_DAY + ["--night", "none"],
    ["link", "micius-2021-nanshan"],
    ["keyrate", "--system", GYS, "--fibre-km", "0:150:50", "--asymptotic"],
    ["keyrate", "--system", GYS, "--loss-db", "20", "--block-pulses", "1e11", "--optimise"],
], ids=["passes", "link", "keyrate", "keyrate-finite"])
def test_tables_fit_100_columns_and_never_cut_a_number(capsys, monkeypatch, argv):
    """At 100 columns every line fits, no cell is cut ("…"), hidden or
    split columns are named in a footer, and small values are in
    scientific notation, not 0.00."""
    monkeypatch.setenv("COLUMNS", "100")
    text = ok(capsys, argv)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "…" not in text
    # No column cropped at the edge: every table row is closed by its border.
    rows = [line for line in text.splitlines() if line[:1] in "┃│┏┡└"]
    assert rows and all(line.rstrip()[-1] in "┃│┓┩┘" for line in rows)
    monkeypatch.delenv("COLUMNS")
    full = ok(capsys, argv)  # piped, no $COLUMNS: the whole table
    if "not shown to fit 100 columns" not in text and "split in" not in text:
        # Nothing left out, nothing split: the same columns as the whole table.
        tops = [line.count("┳") for line in (text.splitlines() + full.splitlines()) if line.startswith("┏")]
        assert len(tops) == 2 and tops[0] == tops[1]
    if argv[0] == "link":
        # efficiency ~1e-3 and noise probability ~1e-7: scientific, never 0.00
        assert "e-" in text and " 0.00 " not in text
        csv = pd.read_csv(io.StringIO(ok(capsys, argv + ["--format", "csv"])))
        eff = csv["efficiency"].iat[0]
        mantissa, exponent = f"{eff:.2e}".split("e")
        assert f"{mantissa}e{int(exponent)}" in text


def test_number_format_helper():
    from satqkd.cli import _number_formatter

    fmt = _number_formatter([7.1e-4, 2.0e-3])
    assert fmt(7.1e-4) == "7.10e-4"
    fmt = _number_formatter([31.48, 0.004, 0.0])
    assert fmt(31.48) == "31.48" and fmt(0.004) == "0.00400" and fmt(0.0) == "0"  # one notation per column (issue 17)
    assert _number_formatter([1694.57])(1694.57) == "1695"
    assert _number_formatter([3e9])(3e9) == "3.00e+9"
    assert _number_formatter([1.0, 0.0])(1.0) == "1"  # whole numbers stay whole


def test_progress_on_a_terminal_only_and_not_with_quiet(capsys, files, monkeypatch):
    from rich.console import Console

    import satqkd.cli as cli

    streams = []

    def terminal():
        streams.append(io.StringIO())
        return Console(file=streams[-1], force_terminal=True, width=100)

    ok(capsys, ["run", files["short.yaml"], "-o", files["tmp"] / "a", "--no-report"])
    assert capsys.readouterr().err == ""  # not a terminal: no progress
    monkeypatch.setattr(cli, "_stderr_console", terminal)
    ok(capsys, ["run", files["short.yaml"], "-o", files["tmp"] / "b", "--no-report"])
    shown = streams[-1].getvalue()
    assert any(stage in shown for stage in ("reading the scenario", "searching passes", "key per pass", "writing outputs"))
    ok(capsys, ["run", files["short.yaml"], "-o", files["tmp"] / "c", "--no-report", "--quiet"])
    assert len(streams) == 2 and streams[-1].getvalue() == ""  # --quiet: the console is never drawn on


@pytest.mark.parametrize("command", ["run", "passes", "link", "keyrate", "elements", "scenarios"])
def test_help_has_no_bool_placeholders_and_an_example(capsys, command):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "<bool>" not in text and "list[str]" not in text
    assert "Example" in text and f"satqkd {command}" in " ".join(text.split())


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


def test_loading_the_table_printer_ahead_prints_nothing(capsys):
    """``satqkd sweep`` loads rich's table code while it waits for its workers
    (a background thread): it renders to memory, never to the terminal."""
    from satqkd import cli

    cli._load_table_output()
    out, err = capsys.readouterr()
    assert out == "" and err == ""

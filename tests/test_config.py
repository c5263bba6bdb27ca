"""The YAML scenario loader: every kind of bad input gives one clear line.

Project rule under test: bad input raises :class:`SatqkdError` whose one-line
message names the file, the field path and what was expected.  Each case
below writes a small scenario to ``tmp_path`` (a valid one, then one
mistake) and checks the message for the file name and the field path.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import yaml
from conftest import short_scenario

from satqkd.config import build_block, format_validation_error, load_scenario, read_yaml
from satqkd.elements import load_elements
from satqkd.errors import SatqkdError

REPO = Path(__file__).resolve().parents[1]
EPHEMERIS = REPO / "ephemeris"
DATA = Path(__file__).resolve().parent / "data"

BASE = short_scenario()


def write(tmp_path: Path, data, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def mutated(change) -> dict:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def sat(d):
    return d["satellites"][0]


def st(d):
    return d["stations"][0]


# (id, change to BASE, strings the message must contain besides the file name)
BAD = [
    ("unknown top-level key", lambda d: d.update(dayz=3), ["dayz", "unknown key"]),
    ("unknown station key", lambda d: st(d).update(altitude_m=10), ["stations[0].altitude_m", "unknown key"]),
    ("unknown telescope key", lambda d: st(d)["telescope"].update(aperture=1.2), ["stations[0].telescope.aperture", "unknown key"]),
    ("unknown detector key", lambda d: st(d)["detector"].update(efficency=0.5), ["stations[0].detector.efficency", "unknown key"]),
    ("unknown source key", lambda d: sat(d)["source"].update(mu=0.5), ["satellites[0].source.mu", "unknown key"]),
    ("unknown transmitter key", lambda d: sat(d)["transmitter"].update(power=1), ["satellites[0].transmitter.power", "unknown key"]),
    ("unknown constraints key", lambda d: d["constraints"].update(min_elev=5), ["constraints.min_elev", "unknown key"]),
    ("unknown station constraints key", lambda d: st(d).update(constraints={"moon": 1}), ["stations[0].constraints.moon", "unknown key"]),
    ("unknown protocol key", lambda d: d["protocol"].update(fec=1.1), ["protocol.fec", "unknown key"]),
    ("unknown orbit key", lambda d: sat(d)["orbit"].update(tle="x"), ["satellites[0].orbit.tle", "unknown key"]),
    ("unknown sso key", lambda d: sat(d).update(orbit={"sun_synchronous": {"height": 500}}), ["satellites[0].orbit.sun_synchronous.height", "unknown key"]),
    ("min_elevation_deg 95", lambda d: d["constraints"].update(min_elevation_deg=95), ["constraints.min_elevation_deg", "less than 90", "95"]),
    ("detector efficiency 1.5", lambda d: st(d)["detector"].update(efficiency=1.5), ["stations[0].detector.efficiency", "1.5"]),
    ("efficiency wrong type", lambda d: st(d)["detector"].update(efficiency="high"), ["stations[0].detector.efficiency", "valid number", "'high'"]),
    ("days -1", lambda d: d.update(days=-1), ["days", "greater than 0", "-1"]),
    ("days wrong type", lambda d: d.update(days="a week"), ["days", "valid number"]),
    ("end before start", lambda d: (d.pop("days"), d.update(end="2021-04-20")), ["end", "after start"]),
    ("end equals start", lambda d: (d.pop("days"), d.update(end="2021-04-27")), ["end", "after start"]),
    ("both days and end", lambda d: d.update(end="2021-04-29"), ["days", "end", "not both"]),
    ("start not a date", lambda d: d.update(start="2021-02-30"), ["start", "ISO date"]),
    ("start a bare number", lambda d: d.update(start=2021), ["start", "ISO date", "2021"]),
    ("start beyond DE421", lambda d: d.update(start="2060-01-01"), ["start", "DE421"]),
    ("orbit of two kinds", lambda d: sat(d)["orbit"].update(sun_synchronous={"height_km": 500}), ["satellites[0].orbit", "exactly one of"]),
    ("orbit of no kind", lambda d: sat(d).update(orbit={}), ["satellites[0].orbit", "exactly one of"]),
    ("orbit missing", lambda d: sat(d).pop("orbit"), ["satellites[0].orbit", "missing"]),
    ("classical with height and axis", lambda d: sat(d).update(orbit={"classical": {"height_km": 500, "semi_major_axis_km": 7000, "inclination_deg": 97}}),
     ["satellites[0].orbit.classical", "height_km", "semi_major_axis_km"]),
    ("sso too low", lambda d: sat(d).update(orbit={"sun_synchronous": {"height_km": 50}}), ["satellites[0].orbit.sun_synchronous.height_km", "150"]),
    ("geo longitude 500", lambda d: sat(d).update(orbit={"geostationary": {"longitude_deg": 500}}), ["satellites[0].orbit.geostationary.longitude_deg", "500"]),
    ("elements file missing", lambda d: sat(d)["orbit"].update(elements="nowhere.tle"), ["satellites[0].orbit.elements", "nowhere.tle", "no such file"]),
    ("elements file malformed", lambda d: sat(d)["orbit"].update(elements=str(DATA / "bad-checksum.tle")),
     ["satellites[0].orbit.elements", "bad-checksum.tle:2", "checksum"]),
    ("satellite name not in a multi-satellite file", lambda d: sat(d).update(name="TIANGONG", orbit={"elements": "two.tle"}),
     ["satellites[0].name", "TIANGONG", "MICIUS"]),
    ("duplicate station names", lambda d: d["stations"].append(copy.deepcopy(st(d))), ["stations[1].name", "Nanshan", "distinct"]),
    ("station without preset or latitude", lambda d: d["stations"].__setitem__(0, {"name": "X", "longitude_deg": 10}),
     ["stations[0].latitude_deg", "required"]),
    ("station latitude 95", lambda d: d["stations"].__setitem__(0, {"name": "X", "latitude_deg": 95, "longitude_deg": 10}),
     ["stations[0].latitude_deg", "95"]),
    ("unknown station preset", lambda d: st(d).update(preset="paris"), ["stations[0].preset", "'paris'", "nanshan"]),
    ("unknown telescope preset", lambda d: st(d).update(telescope={"preset": "hubble"}), ["stations[0].telescope.preset", "'hubble'", "nanshan"]),
    ("unknown detector preset (bare name)", lambda d: st(d).update(detector="spad"), ["stations[0].detector.preset", "'spad'"]),
    ("unknown protocol preset", lambda d: d.update(protocol={"preset": "e91"}), ["protocol.preset", "'e91'", "satellite"]),
    ("unknown sky preset", lambda d: st(d).update(sky="city"), ["stations[0].sky.preset", "'city'", "dark_site"]),
    ("preset not a string", lambda d: st(d).update(telescope={"preset": ["nanshan"]}), ["stations[0].telescope.preset", "unknown preset"]),
    ("detector block a list", lambda d: st(d).update(detector=[1, 2]), ["stations[0].detector", "mapping"]),
    ("source intensities not decreasing", lambda d: sat(d)["source"].update(intensities=[0.1, 0.5, 0.0]),
     ["satellites[0].source", "mu1 > mu2 > mu3"]),
    ("source probabilities not summing to 1", lambda d: sat(d)["source"].update(probabilities=[0.5, 0.5, 0.5]),
     ["satellites[0].source", "sum to 1"]),
    ("night unknown word", lambda d: d["constraints"].update(night="dusk"), ["constraints.night", "nautical", "'dusk'"]),
    ("night out of range", lambda d: d["constraints"].update(night=-100), ["constraints.night", "-90", "-100"]),
    ("inline horizon mask elevation 100", lambda d: st(d).update(horizon_mask=[[0, 10], [180, 100]]),
     ["stations[0].horizon_mask[1][1]", "90", "100"]),
    ("horizon mask file missing", lambda d: st(d).update(horizon_mask="mask.txt"), ["stations[0].horizon_mask", "mask.txt"]),
    ("horizon mask file unreadable row", lambda d: st(d).update(horizon_mask="badmask.txt"), ["stations[0].horizon_mask", "badmask.txt:2"]),
    ("seconds_format xlsx", lambda d: d.update(seconds_format="xlsx"), ["seconds_format", "'csv' or 'parquet'", "xlsx"]),
    ("optimise not a boolean", lambda d: d.update(optimise="maybe"), ["optimise", "boolean"]),
    ("no stations", lambda d: d.update(stations=[]), ["stations", "at least 1"]),
    ("stations not a list", lambda d: d.update(stations="nanshan"), ["stations", "valid list"]),
    ("satellites missing", lambda d: d.pop("satellites"), ["satellites", "missing"]),
]


@pytest.mark.parametrize("change,needles", [pytest.param(c, n, id=i) for i, c, n in BAD])
def test_bad_scenario_names_file_and_field(tmp_path, change, needles):
    """Each mistake raises SatqkdError: one line, file name, field path, expectation."""
    (tmp_path / "badmask.txt").write_text("0 10\n90 high\n")
    tle = (EPHEMERIS / "micius-2021-04-27.tle").read_text() + (EPHEMERIS / "goes17-2021-04-28.tle").read_text()
    (tmp_path / "two.tle").write_text(tle)
    path = write(tmp_path, mutated(change))
    with pytest.raises(SatqkdError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message
    assert "scenario.yaml" in message, message
    for needle in needles:
        assert needle in message, message


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "name: t\nstart: 2021-04-27\nstations:\n  - preset: nanshan\n   telescope: [a\n")
    with pytest.raises(SatqkdError, match=r"scenario\.yaml:5: invalid YAML"):
        load_scenario(path)


@pytest.mark.parametrize("text,message", [
    ("name: x\n\tdays: 2\n", r"scenario\.yaml:2: invalid YAML \(found character '\\t' that cannot start any token\)"),
    ("name: *nope\n", r"scenario\.yaml:1: invalid YAML \(found undefined alias 'nope'\)"),
])
def test_yaml_errors_say_what_is_wrong(tmp_path, text, message):
    """libyaml reads the scenarios; a file it refuses gets PyYAML's own message (the tab, the alias)."""
    with pytest.raises(SatqkdError, match=message):
        load_scenario(write(tmp_path, text))


def test_yaml_duplicate_key_is_refused(tmp_path):
    """PyYAML keeps the last of two equal keys silently; a scenario must not."""
    text = yaml.safe_dump(BASE, sort_keys=False) + "days: 3\n"
    path = write(tmp_path, text)
    with pytest.raises(SatqkdError, match=r"scenario\.yaml:\d+: invalid YAML \(duplicate key 'days' \(first given on line \d+\)\)"):
        load_scenario(path)


@pytest.mark.parametrize(
    "text,needle",
    [
        ("- a\n- b\n", "mapping"),
        ("", "mapping"),
        ("just a string\n", "mapping"),
    ],
    ids=["list", "empty", "scalar"],
)
def test_top_level_must_be_a_mapping(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(SatqkdError, match=rf"scenario\.yaml: expected a YAML {needle}"):
        load_scenario(path)


def test_missing_folder_and_binary_files(tmp_path):
    with pytest.raises(SatqkdError, match=r"nope\.yaml: no such file"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(SatqkdError, match=r"is a folder"):
        load_scenario(tmp_path)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(SatqkdError, match=r"binary\.yaml: not a UTF-8 text file"):
        load_scenario(binary)


def test_parquet_without_pyarrow_fails_at_load(tmp_path, monkeypatch):
    """The missing dependency is found before the run, not when writing
    (pyarrow is a dependency; an environment without it is simulated)."""
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    path = write(tmp_path, mutated(lambda d: d.update(seconds_format="parquet")))
    with pytest.raises(SatqkdError, match=r"scenario\.yaml: seconds_format: parquet needs pyarrow"):
        load_scenario(path)


# --- what a good scenario turns into --------------------------------------


def test_base_scenario_loads(tmp_path):
    sc = load_scenario(write(tmp_path, BASE))
    assert sc.name == "short test"
    assert sc.start.utc_strftime("%Y-%m-%d %H:%M") == "2021-04-27 00:00"
    assert sc.end.tt - sc.start.tt == pytest.approx(1.0)
    assert [s.satellite.name for s in sc.satellites] == ["MICIUS"]
    assert [s.station.name for s in sc.stations] == ["Nanshan"]
    assert sc.stations[0].constraints.min_elevation_deg == 10


def test_relative_paths_resolve_from_the_scenario_folder(tmp_path):
    (tmp_path / "eph").mkdir()
    (tmp_path / "eph" / "m.tle").write_text((EPHEMERIS / "micius-2016-12-18.tle").read_text())
    (tmp_path / "mask.txt").write_text((DATA / "horizon-mask.txt").read_text())

    def change(d):
        sat(d)["orbit"] = {"elements": "eph/m.tle"}
        st(d)["horizon_mask"] = "mask.txt"

    sc = load_scenario(write(tmp_path, mutated(change)))
    assert sc.satellites[0].satellite.model.satnum == 41731
    assert sc.stations[0].station.horizon_mask == ((0.0, 30.0), (180.0, 30.0), (360.0, 30.0))


def test_overrides_apply_over_presets(tmp_path):
    def change(d):
        st(d).update(name="Nanshan-2", height_m=2100, constraints={"min_elevation_deg": 15})
        st(d)["detector"]["efficiency"] = 0.3

    setup = load_scenario(write(tmp_path, mutated(change))).stations[0]
    assert setup.station.name == "Nanshan-2"
    assert setup.station.latitude_deg == pytest.approx(43.47151)  # from the preset
    assert setup.station.height_m == 2100
    assert setup.detector.efficiency == 0.3
    # The station's constraints override the scenario's, field by field.
    assert setup.constraints.min_elevation_deg == 15
    assert setup.constraints.night == "nautical"


def test_satellite_picked_by_name_from_a_multi_satellite_file(tmp_path):
    tle = (EPHEMERIS / "micius-2021-04-27.tle").read_text() + (EPHEMERIS / "goes17-2021-04-28.tle").read_text()
    (tmp_path / "two.tle").write_text(tle)
    names = {s.name for s in load_elements(tmp_path / "two.tle")}
    goes = next(n for n in names if "GOES" in n)
    sc = load_scenario(write(tmp_path, mutated(lambda d: sat(d).update(name=goes, orbit={"elements": "two.tle"}))))
    assert [s.satellite.name for s in sc.satellites] == [goes]


def test_start_today_uses_the_given_date(tmp_path):
    sc = load_scenario(write(tmp_path, mutated(lambda d: d.update(start="today"))), today=dt.date(2026, 11, 28))
    assert sc.start.utc_strftime("%Y-%m-%dT%H:%M:%S") == "2026-11-28T00:00:00"


def test_default_scenario_loads():
    """configs/micius.yaml ships in the package and is valid."""
    sc = load_scenario(None, today=dt.date(2026, 11, 28))
    assert {s.station.name for s in sc.stations} == {"Nanshan", "Xinglong"}
    assert sc.end.tt - sc.start.tt == pytest.approx(7.0)


# --- the helpers ----------------------------------------------------------


def test_read_yaml_returns_the_mapping(tmp_path):
    path = write(tmp_path, "a: 1\nb: {c: [1, 2]}\n")
    assert read_yaml(path) == {"a": 1, "b": {"c": [1, 2]}}


def test_build_block_preset_and_override():
    from satqkd.detector import DETECTOR_PRESETS, Detector

    base = DETECTOR_PRESETS["micius_2021_nanshan"]()
    got = build_block(Detector, DETECTOR_PRESETS, {"preset": "micius_2021_nanshan", "efficiency": 0.25}, "f.yaml: det")
    assert got == dataclasses.replace(base, efficiency=0.25)
    assert build_block(Detector, DETECTOR_PRESETS, "micius_2021_nanshan", "f.yaml: det") == base
    with pytest.raises(SatqkdError, match=r"^f\.yaml: det\.efficiency: expected a number greater than 0, got -1$"):
        build_block(Detector, DETECTOR_PRESETS, {"preset": "micius_2021_nanshan", "efficiency": -1}, "f.yaml: det")


def test_format_validation_error_union_and_index():
    from pydantic import BaseModel, ValidationError

    from satqkd.constraints import Night

    class M(BaseModel):
        rows: list[Night]

    with pytest.raises(ValidationError) as info:
        M(rows=["civil", "dusk"])
    message = format_validation_error(info.value, "x.yaml")
    assert message == "x.yaml: rows[1]: expected 'none', 'civil', 'nautical' or 'astronomical' or a valid number, got 'dusk'"


def test_stale_elements_in_a_scenario_are_refused_unless_allowed(tmp_path):
    """Issue 12: the scenario's 2021 elements forecast for 2026 are refused
    by `satqkd run` with their age; `allow_stale_elements: true` (or a
    larger `max_element_age_days`) lets the pass search run with a warning."""
    from satqkd.passes import find_passes
    from satqkd.pipeline import run

    data = dict(BASE, start="2026-01-01", protocol={"preset": "satellite"})
    sc = load_scenario(write(tmp_path, data))
    with pytest.raises(SatqkdError, match=r"MICIUS: elements of 2021-04-27 are 17\d\d days from the span, over the 30-day"):
        run(sc)
    sc = load_scenario(write(tmp_path, dict(data, allow_stale_elements=True), "allowed.yaml"))
    assert sc.allow_stale_elements
    fc = find_passes(sc.satellites[0].satellite, [sc.stations[0].station], sc.start, sc.end, per_second=False,
                     allow_stale_elements=sc.allow_stale_elements)
    assert any("(allowed)" in w for w in fc.warnings)
    sc = load_scenario(write(tmp_path, dict(data, max_element_age_days=4000), "wide.yaml"))
    assert sc.max_element_age_days == 4000
    with pytest.raises(SatqkdError, match="max_element_age_days"):
        load_scenario(write(tmp_path, dict(data, max_element_age_days=-1), "bad.yaml"))

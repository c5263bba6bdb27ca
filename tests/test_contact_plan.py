"""The contact plan of ``satqkd run`` (satqkd.contacts), read by independent tools.

* ``contacts.csv`` by pandas;
* ``contacts.ics`` by the PyPI ``icalendar`` parser, and its raw bytes against
  RFC 5545 (CRLF line ends, content lines folded at 75 octets: section 3.1;
  ``UID`` and ``DTSTAMP`` required in every ``VEVENT``: section 3.6.1);
* ``orbit.oem`` by the PyPI ``oem`` package, whose interpolated EME2000
  position at each contact's culmination, turned into an elevation by
  skyfield (frame bias and ``altaz``), must give the pass's maximum elevation
  (0.01 deg, the tolerance of issue 19).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from satqkd.cli import main
from satqkd.contacts import CONTACT_COLUMNS, _fold

ROOT = Path(__file__).resolve().parents[1]


def scenario_file(tmp_path, days=2):
    doc = yaml.safe_load((ROOT / "configs" / "micius-2021-nanshan.yaml").read_text())
    doc["start"], doc["days"] = "2021-04-27", days
    doc["satellites"][0]["orbit"] = {"elements": str(ROOT / "ephemeris" / "micius-2021-04-27.tle")}
    doc.pop("end", None)
    doc["stations"].append({"preset": "xinglong"})
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plan")
    out = tmp / "out"
    assert main(["run", str(scenario_file(tmp)), "-o", str(out), "--seconds", "none", "--no-report",
                 "--weather", "clear", "--quiet"]) == 0
    return out


def test_contacts_csv_loads_with_pandas(run_dir):
    contacts = pd.read_csv(run_dir / "contacts.csv", parse_dates=["start_utc", "end_utc", "culmination_utc"])
    passes = pd.read_csv(run_dir / "passes.csv", parse_dates=["usable_start_utc", "usable_end_utc"])
    served = passes[passes["scheduled"]].sort_values("usable_start_utc").reset_index(drop=True)
    assert list(contacts.columns) == CONTACT_COLUMNS
    assert len(contacts) == len(served) >= 3
    assert set(contacts["station"]) == {"Nanshan", "Xinglong"}
    assert (contacts["start_utc"] == served["usable_start_utc"].dt.floor("s")).all()
    assert (contacts["end_utc"] == served["usable_end_utc"]).all()
    assert np.allclose(contacts["expected_key_bits"], served["key_bits"].round(0))
    assert (contacts["duration_s"] == (contacts["end_utc"] - contacts["start_utc"]).dt.total_seconds() + 1).all()


def test_calendar_is_rfc5545_and_parses(run_dir):
    import icalendar

    raw = (run_dir / "contacts.ics").read_bytes()
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    lines = raw.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # long descriptions are folded
    cal = icalendar.Calendar.from_ical(raw)
    events = cal.walk("VEVENT")
    contacts = pd.read_csv(run_dir / "contacts.csv", parse_dates=["start_utc", "end_utc"])
    assert len(events) == len(contacts)
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)
    for event, row in zip(events, contacts.itertuples()):
        assert "DTSTAMP" in event
        assert pd.Timestamp(event.decoded("DTSTART")) == row.start_utc
        assert pd.Timestamp(event.decoded("DTEND")) == row.end_utc + pd.Timedelta(seconds=1)
        summary, description = str(event["SUMMARY"]), str(event["DESCRIPTION"])
        assert row.station in summary and row.satellite in summary
        assert f"Expected key: {row.expected_key_bits:,.0f} bits" in description
        assert str(event["LOCATION"]).startswith(row.station)
        assert event.decoded("GEO") is not None


def test_orbit_oem_reads_with_the_oem_package_and_points_at_the_passes(run_dir):
    import oem
    from astropy.time import Time
    from skyfield.api import wgs84
    from skyfield.framelib import ICRS_to_J2000
    from skyfield.positionlib import build_position

    from satqkd import sky
    from satqkd.stations import Station

    ephem = oem.OrbitEphemerisMessage.open(run_dir / "orbit.oem")
    contacts = pd.read_csv(run_dir / "contacts.csv", parse_dates=["rise_utc", "set_utc"])
    # One segment per contact (none of this scenario's overlap), rise - 10 min to set + 10 min.
    assert len(ephem.segments) == len(contacts) >= 1
    for segment, row in zip(ephem.segments, contacts.itertuples()):
        assert segment.metadata["REF_FRAME"] == "EME2000" and segment.metadata["OBJECT_NAME"] == "MICIUS"
        start = pd.Timestamp(str(segment.metadata["START_TIME"]), tz="UTC")
        stop = pd.Timestamp(str(segment.metadata["STOP_TIME"]), tz="UTC")
        assert abs((row.rise_utc - start).total_seconds() - 600) < 1e-3
        assert abs((stop - row.set_utc).total_seconds() - 600) < 1e-3
    ts = sky.timescale()
    sites = {s.name: s for s in (Station.nanshan(), Station.xinglong())}
    passes = pd.read_csv(run_dir / "passes.csv", parse_dates=["culmination_utc"])
    for row in passes[passes["scheduled"]].itertuples():
        when = row.culmination_utc.tz_convert(None)
        state = ephem(Time(when.to_pydatetime(), scale="utc"))
        t = ts.from_datetime(row.culmination_utc.to_pydatetime())
        r_gcrs_km = ICRS_to_J2000.T @ np.asarray(state.position)
        site = sites[row.station]
        topos = wgs84.latlon(site.latitude_deg, site.longitude_deg, elevation_m=site.height_m)
        sat = build_position(r_gcrs_km / 149597870.7, t=t, center=399)
        el = (sat - topos.at(t)).altaz()[0].degrees
        assert abs(el - row.max_elevation_deg) < 0.01, (row.station, el, row.max_elevation_deg)


def test_run_json_lists_the_files_and_outputs_are_deterministic(run_dir, tmp_path):
    doc = json.loads((run_dir / "run.json").read_text())
    assert {"contacts.csv", "contacts.ics", "orbit.oem"} <= set(doc["files"])
    again = tmp_path / "again"
    assert main(["run", str(scenario_file(tmp_path)), "-o", str(again), "--seconds", "none", "--no-report",
                 "--weather", "clear", "--quiet"]) == 0
    for name in ("contacts.csv", "contacts.ics", "orbit.oem"):
        assert (again / name).read_bytes() == (run_dir / name).read_bytes(), name


def test_a_run_from_an_oem_writes_its_plan(tmp_path):
    """``orbit: {ephemeris: ...}``: the plan's orbit is the ephemeris's own."""
    doc = yaml.safe_load(scenario_file(tmp_path, days=1).read_text())
    doc["satellites"][0]["orbit"] = {"ephemeris": str(ROOT / "ephemeris" / "micius-2021-04-27.oem")}
    path = tmp_path / "oem.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    assert main(["run", str(path), "-o", str(out), "--seconds", "none", "--no-report", "--quiet"]) == 0
    text = (out / "orbit.oem").read_text()
    assert "interpolated from the CCSDS OEM micius-2021-04-27.oem" in text
    assert len(pd.read_csv(out / "contacts.csv")) >= 1


def test_folding_keeps_utf8_characters_whole():
    line = "DESCRIPTION:" + "Größe → 東京 " * 20
    folded = _fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode("utf-8")) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join([parts[0]] + [p[1:] for p in parts[1:]]) == line

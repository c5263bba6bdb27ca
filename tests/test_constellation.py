"""Batched pass search: same passes as the single-satellite engine, positions as skyfield."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skyfield.framelib import itrs

from satqkd.constellation import coarse_itrs_km, find_passes_many
from satqkd.constraints import Constraints
from satqkd.elements import classical, load_elements, sun_synchronous
from satqkd.errors import SatqkdError
from satqkd.geometry import Clock, seconds_to_time
from satqkd.passes import PASS_COLUMNS, SECOND_COLUMNS, find_passes
from satqkd.stations import Station, parse_station

MICIUS_TLE = Path(__file__).resolve().parents[1] / "ephemeris" / "micius-2021-04-27.tle"
START, END = "2021-04-27T00:00:00Z", "2021-04-28T12:00:00Z"


@pytest.fixture(scope="module")
def fleet(ts):
    """Orbits with different coarse steps: two sun-synchronous (LTAN 12:00 and
    22:30, 500 and 600 km), an ISS-like 51.6 deg orbit, a slightly eccentric
    polar one, and the real Micius element set of 2021-04-27."""
    epoch = ts.utc(2021, 4, 27)
    micius = load_elements(MICIUS_TLE)
    assert len(micius) == 1
    return [
        sun_synchronous(500.0, 12.0, epoch, name="SSO-12"),
        sun_synchronous(600.0, 22.5, epoch, name="SSO-2230"),
        classical(epoch=epoch, inclination_deg=51.6, height_km=420.0, raan_deg=100.0, name="ISS-LIKE"),
        classical(epoch=epoch, inclination_deg=89.0, height_km=800.0, eccentricity=0.02, raan_deg=250.0,
                  arg_perigee_deg=40.0, mean_anomaly_deg=200.0, name="POLAR-ECC"),
        micius[0],
    ]


@pytest.fixture(scope="module")
def stations():
    masked = Station("Masked", -30.0, -70.0, 2500.0, horizon_mask=((0.0, 25.0), (90.0, 5.0), (180.0, 15.0), (270.0, 30.0)))
    return [Station.nanshan(), Station.xinglong(), masked, parse_station("48.0,11.0")]


def _diff_ms(a, b):
    ns = a.astype("datetime64[ns, UTC]").astype("int64").to_numpy() - b.astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    return np.abs(ns) / 1e6


def _assert_same_passes(single, many):
    """Passes of the per-satellite engine and of the batched one agree: same
    rows in the same order and ids, rise/culmination/set within 1 ms (both
    bisect to 1 ms on different coarse grids), usable windows within the
    one second a 1 ms shift of rise or set can move them."""
    a, b = single.passes, many.passes
    assert list(b.columns) == PASS_COLUMNS
    assert len(a) == len(b) > 0
    for col in ("pass_id", "satellite", "station", "clipped", "sunlit", "n_culminations"):
        assert a[col].tolist() == b[col].tolist(), col
    for col in ("rise_utc", "culmination_utc", "set_utc"):
        assert np.max(_diff_ms(a[col], b[col])) <= 1.0 + 1e-6, col
    for col in ("usable_start_utc", "usable_end_utc"):
        assert np.max(_diff_ms(a[col], b[col])) <= 1000.0 + 1e-6, col
    assert np.max(np.abs(a["usable_s"].to_numpy() - b["usable_s"].to_numpy())) <= 1
    np.testing.assert_allclose(b["max_elevation_deg"], a["max_elevation_deg"], atol=1e-4)
    np.testing.assert_allclose(b["min_range_km"], a["min_range_km"], atol=1e-3)
    np.testing.assert_allclose(b["epoch_age_days"], a["epoch_age_days"], atol=1e-7)


def test_same_passes_as_find_passes_any_time(fleet, stations):
    """Reference: satqkd.passes.find_passes called per satellite (Earth-fixed
    SGP4 per satellite, its own coarse grid); day and night, 0 deg minimum
    plus one station's horizon mask."""
    cons = Constraints(min_elevation_deg=0.0, night="none")
    single = [find_passes(sat, stations, START, END, cons, per_second=False) for sat in fleet]
    many = find_passes_many(fleet, stations, START, END, cons)
    # find_passes numbers passes across its satellites in list order, so
    # one call with the whole list is the per-satellite calls concatenated.
    together = find_passes(fleet, stations, START, END, cons, per_second=False)
    assert sum(len(s.passes) for s in single) == len(together.passes)
    _assert_same_passes(together, many)
    assert many.seconds.empty and list(many.seconds.columns) == SECOND_COLUMNS
    assert set(many.passes["satellite"]) == {s.name for s in fleet}
    assert (many.passes["station"] == "Masked").any()


def test_same_passes_and_seconds_with_night_and_moon(fleet, stations):
    """Reference: find_passes with the per-second table.  Night (nautical),
    10 deg, Moon separation and the satellite in shadow exercise every
    per-second column; per-second values agree to 1e-6 in every column."""
    cons = {
        "Nanshan": Constraints(min_elevation_deg=10.0, night="nautical", moon_separation_deg=30.0),
        "Xinglong": Constraints(min_elevation_deg=10.0, night="civil", satellite="shadow"),
    }
    single = find_passes(fleet, stations, START, END, cons, per_second=True)
    many = find_passes_many(fleet, stations, START, END, cons, per_second=True)
    _assert_same_passes(single, many)
    s, m = single.seconds, many.seconds
    assert list(m.columns) == SECOND_COLUMNS
    assert abs(len(s) - len(m)) <= len(single.passes)
    merged = s.merge(m, on=["pass_id", "time_utc"], suffixes=("_a", "_b"))
    assert len(merged) >= len(s) - len(single.passes)
    for col in SECOND_COLUMNS[4:]:
        if col == "sunlit":
            assert (merged[f"{col}_a"] == merged[f"{col}_b"]).all()
        else:
            np.testing.assert_allclose(merged[f"{col}_b"], merged[f"{col}_a"], atol=1e-6, err_msg=col)


def test_coarse_positions_match_skyfield(fleet, ts):
    """Reference: skyfield's ``sat.at(t).frame_xyz(itrs)`` (TEME -> GCRS ->
    ITRS through precession-nutation, no shortcut), for every satellite at a
    few instants: the SatrecArray + GMST-1982 path agrees to < 1 m."""
    t0 = ts.utc(2021, 4, 27, 3, 17, 12.5)
    offsets = np.array([0.0, 1234.5, 40_000.0, 86_399.0, 129_600.25])
    clock = Clock(t0, 0.0, offsets[-1])
    r, v = coarse_itrs_km(fleet, clock, offsets)
    assert r.shape == (3, len(fleet), offsets.size) and v.shape == r.shape
    t = seconds_to_time(t0, offsets)
    for i, sat in enumerate(fleet):
        ref = sat.at(t).frame_xyz(itrs).km
        err_m = 1e3 * np.sqrt(np.sum((r[:, i, :] - ref) ** 2, axis=0))
        assert err_m.max() < 1.0, (sat.name, err_m)


def test_no_passes_and_bad_span(fleet):
    """A span too short for any pass gives empty tables with the standard
    columns; an end before the start is a one-line SatqkdError."""
    fc = find_passes_many(fleet[:1], [Station.nanshan()], "2021-04-27T00:00:00Z", "2021-04-27T00:05:00Z",
                          Constraints(min_elevation_deg=80.0, night="none"))
    assert fc.passes.empty and list(fc.passes.columns) == PASS_COLUMNS
    with pytest.raises(SatqkdError, match="not after start"):
        find_passes_many(fleet, [Station.nanshan()], END, START)


def test_decayed_satellite_names_it(ts):
    """SGP4 error 6 (satellite decayed) on the coarse grid raises the
    single-satellite path's message naming the satellite, not NaNs."""
    epoch = ts.utc(2021, 4, 27)
    falling = classical(epoch=epoch, inclination_deg=51.6, height_km=150.0, bstar=0.5, name="FALLING")
    ok = sun_synchronous(500.0, 12.0, epoch, name="SSO")
    with pytest.raises(SatqkdError, match="FALLING"):
        find_passes_many([ok, falling], [Station.nanshan()], "2021-04-27", "2021-05-27",
                         Constraints(min_elevation_deg=10.0, night="none"))


def test_many_table_is_a_dataframe_sorted_by_rise(fleet, stations):
    """Rows are sorted by rise time like find_passes (pandas check)."""
    fc = find_passes_many(fleet[:2], stations[:2], START, END, Constraints(min_elevation_deg=10.0, night="none"))
    assert isinstance(fc.passes, pd.DataFrame)
    assert fc.passes["rise_utc"].is_monotonic_increasing

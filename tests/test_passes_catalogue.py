"""The one pass engine on many satellites: a real catalogue against a brute-force oracle, positions as skyfield."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skyfield.framelib import itrs

from satqkd.passes import coarse_itrs_km, find_passes_many
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


CATALOGUE = Path(__file__).resolve().parent / "data" / "celestrak-2022-02-04.tle"


def brute_force(sats, stations, t0, span_s, min_elevation_deg, sun_max_deg=None):
    """Oracle: python-sgp4 (``SatrecArray``) at every whole second, rotated
    by GMST-1982 and projected on each station's ENU frame in plain numpy
    (the rotation is checked against skyfield in tests/test_geometry.py);
    with ``sun_max_deg``, the Sun's altitude from :class:`SunMoon` at every
    second too.  Returns ``{(satellite, station): [(first, last, n_usable)]}``
    with the first and last whole second above the threshold."""
    from sgp4.api import SatrecArray
    from skyfield.sgp4lib import theta_GMST1982

    from satqkd.geometry import SunMoon, elevation_of

    offsets = np.arange(0.0, np.floor(span_s) + 1.0)
    clock = Clock(t0, 0.0, span_s)
    whole, utc, ut1 = clock.args(offsets)
    _, r, _ = SatrecArray([s.model for s in sats]).sgp4(whole, utc)
    theta, _ = theta_GMST1982(whole, ut1)
    c, s_ = np.cos(theta), np.sin(theta)
    xyz = np.stack([c * r[..., 0] + s_ * r[..., 1], -s_ * r[..., 0] + c * r[..., 1], r[..., 2]])
    sun = SunMoon(t0, 0.0, span_s, clock).sun_itrs_km(offsets) if sun_max_deg is not None else None
    out = {}
    for st in stations:
        d = xyz - st.itrs_km[:, None, None]
        el = np.degrees(np.arcsin(np.einsum("i,isn->sn", st.enu_matrix[2], d) / np.sqrt(np.einsum("isn,isn->sn", d, d))))
        dark = elevation_of(st, sun) < sun_max_deg if sun is not None else np.ones(offsets.size, bool)
        for i, sat in enumerate(sats):
            up = el[i] >= min_elevation_deg
            edges = np.flatnonzero(np.diff(up.astype(np.int8)))
            starts = list(edges[~up[edges]] + 1) + ([0] if up[0] else [])
            ends = list(edges[up[edges]]) + ([up.size - 1] if up[-1] else [])
            rows = [(a, b, int(dark[a:b + 1].sum())) for a, b in zip(sorted(starts), sorted(ends))]
            rows = [row for row in rows if row[2] > 0]
            if rows:
                out[(sat.name, st.name)] = rows
    return out


@pytest.fixture(scope="module")
def catalogue():
    """Real element sets of every class from CelesTrak's 2022-02-04 files
    (tests/data/README.md): a sample of each, to keep the oracle fast."""
    from satqkd.elements import orbit_class

    sats = load_elements(CATALOGUE)
    by_class = {}
    for sat in sats:
        by_class.setdefault(orbit_class(sat), []).append(sat)
    assert set(by_class) == {"LEO", "MEO", "GEO", "HEO"}
    return [s for group in by_class.values() for s in group[::3]]


@pytest.mark.parametrize("night", [None, -12.0], ids=["any-time", "night"])
def test_real_catalogue_matches_brute_force_oracle(catalogue, ts, night):
    """Issue 9 regression: real LEO, MEO, GEO/IGSO and HEO (e up to 0.74)
    element sets over two stations for 12 h: the one engine finds exactly the
    passes a per-second brute force finds (none missed, none extra), each
    rise and set within the second the oracle brackets, and with a night
    constraint (found by root finding, not by testing every second) exactly
    the oracle's number of usable seconds."""
    stations = [Station.nanshan(), parse_station("-31.3,149.1,1100")]
    t0 = ts.utc(2022, 2, 5)
    span_s = 12 * 3600.0
    cons = Constraints(min_elevation_deg=10.0, night="none" if night is None else night)
    fc = find_passes(catalogue, stations, t0, seconds_to_time(t0, span_s), cons, per_second=False)
    expected = brute_force(catalogue, stations, t0, span_s, 10.0, night)
    assert sum(len(v) for v in expected.values()) >= 40
    start = pd.Timestamp(t0.utc_datetime())
    got = {}
    for row in fc.passes.itertuples():
        rise = (row.rise_utc - start).total_seconds()
        set_ = (row.set_utc - start).total_seconds()
        got.setdefault((row.satellite, row.station), []).append((rise, set_, row.usable_s))
    assert set(got) == set(expected)
    for key, rows in expected.items():
        assert len(got[key]) == len(rows), key
        for (first, last, n_usable), (rise, set_, usable_s) in zip(rows, got[key]):
            assert first - 1.0 < rise <= first + 1e-3, key  # ms labels round
            assert last - 1e-3 <= set_ < last + 1.0, key
            assert usable_s == n_usable, key


def test_catalogue_keeps_what_sgp4_accepts_and_reports_the_rest(tmp_path):
    """A catalogue as it comes: a corrupted set (bad checksum) and a stray
    line among good sets are reported by line; the good sets are kept."""
    from satqkd.elements import load_catalogue

    lines = CATALOGUE.read_text().splitlines()[:9]  # three sets
    bad = list(lines[3:6])
    bad[2] = bad[2][:-1] + str((int(bad[2][-1]) + 1) % 10)  # break the checksum of the second set
    text = "\n".join(lines[0:3] + bad + lines[6:9] + ["2 99999 stray line"]) + "\n"
    path = tmp_path / "catalogue.txt"
    path.write_text(text)
    with pytest.raises(SatqkdError):
        load_elements(path)
    sats, rejected = load_catalogue(path)
    assert [s.name for s in sats] == [lines[0].strip(), lines[6].strip()]
    assert len(rejected) == 2
    assert rejected[0].startswith(f"{path}:6:") and "checksum" in rejected[0] and lines[3].strip() in rejected[0]
    assert rejected[1].startswith(f"{path}:10:")


def test_times_as_numpy_datetime64(fleet):
    """Times given as numpy datetime64 (UTC) are accepted and mean the same
    as ISO strings."""
    a = find_passes_many(fleet[:2], [Station.nanshan()], np.datetime64("2021-04-27T00:00"),
                         np.datetime64("2021-04-27T12:00"), Constraints(min_elevation_deg=10.0, night="none"))
    b = find_passes_many(fleet[:2], [Station.nanshan()], START, "2021-04-27T12:00:00Z",
                         Constraints(min_elevation_deg=10.0, night="none"))
    assert len(a.passes) > 0
    pd.testing.assert_frame_equal(a.passes, b.passes)


def test_one_satellite_is_a_constellation_of_one(fleet, stations):
    """The same engine for one satellite or many: each satellite's passes in
    a batched search equal its passes searched alone (same rise, set and
    usable seconds; rise and set within the 1 ms the bisection leaves, as a
    satellite may share a finer grid with others)."""
    cons = Constraints(min_elevation_deg=10.0, night="nautical", moon_separation_deg=30.0)
    many = find_passes_many(fleet, stations, START, END, cons)
    for sat in fleet[:3]:
        alone = find_passes(sat, stations, START, END, cons, per_second=False).passes
        batch = many.passes[many.passes["satellite"] == sat.name].reset_index(drop=True)
        assert len(alone) == len(batch) > 0
        for col in ("usable_s", "station", "n_culminations"):
            assert alone[col].tolist() == batch[col].tolist(), (sat.name, col)
        for col in ("rise_utc", "set_utc"):
            assert (alone[col] - batch[col]).abs().max() <= pd.Timedelta(milliseconds=1), (sat.name, col)


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

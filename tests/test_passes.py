"""Pass search: published Micius geometry, a brute-force oracle, constraints, edges."""

import numpy as np
import pandas as pd
import pytest
from skyfield.api import wgs84

from satqkd import sky
from satqkd.constraints import Constraints
from satqkd.errors import SatqkdError
from satqkd.geometry import seconds_to_time
from satqkd.passes import find_passes
from satqkd.stations import Station

ANY_TIME = Constraints(min_elevation_deg=0.0, night="none")


def oracle_intervals(satellite, station, t0, span_s, threshold_deg):
    """Brute force: skyfield's full altaz() at every whole second."""
    topos = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)
    offsets = np.arange(0.0, span_s + 1.0)
    alt = np.concatenate(
        [(satellite - topos).at(seconds_to_time(t0, chunk)).altaz()[0].degrees for chunk in np.array_split(offsets, 8)]
    )
    up = alt >= threshold_deg
    edges = np.flatnonzero(np.diff(up.astype(int)))
    starts = list(edges[~up[edges]] + 1)
    ends = list(edges[up[edges]])
    if up[0]:
        starts.insert(0, 0)
    if up[-1]:
        ends.append(len(up) - 1)
    return [(offsets[a], offsets[b]) for a, b in zip(starts, ends)]


def offsets_of(t0, column):
    t0_utc = pd.Timestamp(t0.utc_datetime())
    return ((column - t0_utc) / pd.Timedelta(seconds=1)).to_numpy()


def test_liao_2017_xinglong_pass_geometry(micius_2016, ts):
    """Liao et al., Nature 549, 43 (2017): the 2016-12-19 night pass over
    Xinglong, key data from 1,200 km down to a 645 km closest approach over
    ~273 s (shared/reference/system.md)."""
    fc = find_passes(micius_2016, Station.xinglong(), "2016-12-19T12:00", "2016-12-19T23:00",
                     Constraints(min_elevation_deg=5.0, night="nautical"))
    assert len(fc.passes) >= 1
    best = fc.passes.loc[fc.passes["min_range_km"].idxmin()]
    assert abs(best["min_range_km"] - 645.0) < 5.0
    sec = fc.seconds[fc.seconds["pass_id"] == best["pass_id"]]
    inside_s = int((sec["range_km"] <= 1200.0).sum())
    assert abs(inside_s - 273) <= 10
    assert best["culmination_utc"].strftime("%Y-%m-%d %H") == "2016-12-19 16"  # ~00:52 Beijing time


@pytest.mark.parametrize("station", [Station.nanshan(), Station("Svalbard", 78.23, 15.39, 500.0)], ids=["nanshan", "polar"])
def test_leo_passes_match_brute_force_oracle(micius_2021, ts, station):
    """Every pass of a LEO over 3 days against a 1 Hz skyfield altaz() oracle:
    none missed, none invented, rise and set within 1 s."""
    t0 = ts.utc(2021, 4, 27)
    span_s = 3 * 86400.0
    threshold = 10.0
    fc = find_passes(micius_2021, station, t0, seconds_to_time(t0, span_s),
                     Constraints(min_elevation_deg=threshold, night="none"), per_second=False)
    expected = oracle_intervals(micius_2021, station, t0, span_s, threshold)
    rise = offsets_of(t0, fc.passes["rise_utc"])
    set_ = offsets_of(t0, fc.passes["set_utc"])
    assert len(expected) >= 10
    assert len(rise) == len(expected)
    for (a, b), r, s in zip(expected, rise, set_):
        assert a - 1.0 <= r <= a + 1e-3  # the first whole second above is at most 1 s after rise
        assert b - 1e-3 <= s <= b + 1.0
    # Tighter: at our rise and set times skyfield puts the satellite on the
    # threshold; at ~0.05 deg/s near the horizon 1e-3 deg is ~20 ms.
    topos = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)
    at_edges = (micius_2021 - topos).at(seconds_to_time(t0, np.concatenate([rise, set_]))).altaz()[0].degrees
    assert np.max(np.abs(at_edges - threshold)) < 1e-3


def test_pass_with_peak_just_above_threshold_is_found(micius_2016, ts):
    """A pass whose culmination is 0.01 deg above the minimum elevation lasts
    only seconds above it; the grid-then-refine search must still find it."""
    t0, t1 = "2016-12-19T02:00", "2016-12-19T02:40"
    peak = find_passes(micius_2016, Station.xinglong(), t0, t1, ANY_TIME).passes["max_elevation_deg"].max()
    just_below = find_passes(micius_2016, Station.xinglong(), t0, t1,
                             Constraints(min_elevation_deg=peak - 0.01, night="none")).passes
    assert len(just_below) == 1
    assert 0 < just_below["duration_s"].iloc[0] < 60
    assert abs(just_below["max_elevation_deg"].iloc[0] - peak) < 1e-4
    just_above = find_passes(micius_2016, Station.xinglong(), t0, t1,
                             Constraints(min_elevation_deg=peak + 0.01, night="none")).passes
    assert just_above.empty


def test_every_pass_is_in_darkness_and_day_passes_are_dropped(micius_2021, ts):
    """The Sun's altitude at the station, from skyfield's own apparent altaz,
    is below the limit throughout every usable window; daytime passes exist
    without the constraint and are gone with it."""
    station = Station.nanshan()
    limit = -12.0
    t0, t1 = ts.utc(2021, 4, 27), ts.utc(2021, 5, 4)
    night = find_passes(micius_2021, station, t0, t1, Constraints(min_elevation_deg=10, night="nautical"))
    anytime = find_passes(micius_2021, station, t0, t1, Constraints(min_elevation_deg=10, night="none"))
    topos = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)
    observer = sky.earth() + topos

    def sun_alt(times):
        t = ts.from_datetimes([x.to_pydatetime() for x in times])
        return observer.at(t).observe(sky.sun()).apparent().altaz()[0].degrees

    assert len(night.passes) > 0
    assert np.all(sun_alt(night.seconds["time_utc"]) < limit)
    culm_sun = sun_alt(anytime.passes["culmination_utc"])
    assert np.any(culm_sun > 0)  # Micius does pass by day too
    day_culms = set(anytime.passes.loc[culm_sun > 0, "culmination_utc"].dt.floor("min"))
    assert not day_culms & set(night.passes["culmination_utc"].dt.floor("min"))
    assert len(night.passes) < len(anytime.passes)


def test_pass_clipped_by_the_start_of_the_span(micius_2016, ts):
    """A span that starts mid-pass gives a pass starting at the span, flagged."""
    full = find_passes(micius_2016, Station.xinglong(), "2016-12-19T16:30", "2016-12-19T17:10", ANY_TIME).passes
    culm = full["culmination_utc"].iloc[0]
    cut = find_passes(micius_2016, Station.xinglong(), culm.to_pydatetime(), "2016-12-19T17:10", ANY_TIME).passes
    assert len(cut) == 1 and bool(cut["clipped"].iloc[0])
    assert cut["rise_utc"].iloc[0] == culm.round("ms")
    assert abs((cut["set_utc"].iloc[0] - full["set_utc"].iloc[0]).total_seconds()) < 1e-2
    assert not bool(full["clipped"].iloc[0])


def test_usable_window_respects_max_range(micius_2016):
    """The usable window is where every constraint holds: here range <= 1,200 km."""
    fc = find_passes(micius_2016, Station.xinglong(), "2016-12-19T16:30", "2016-12-19T17:10",
                     Constraints(min_elevation_deg=0, night="none", max_range_km=1200.0))
    assert fc.seconds["range_km"].max() <= 1200.0
    assert abs(int(fc.passes["usable_s"].iloc[0]) - 273) <= 10
    assert fc.passes["usable_s"].iloc[0] < fc.passes["duration_s"].iloc[0]


def test_reversed_span_is_a_clear_error(micius_2016):
    with pytest.raises(SatqkdError, match="not after start"):
        find_passes(micius_2016, Station.xinglong(), "2016-12-20", "2016-12-19")


def test_decayed_element_set_is_a_clear_error(ts):
    """Micius's 2025 element set (decaying, ~380 km) cannot be propagated
    years ahead: an error naming the satellite and the time, never NaNs."""
    from skyfield.api import EarthSatellite

    sat = EarthSatellite(
        "1 41731U 16051A   25265.33409832  .00080539  00000-0  89175-3 0  9999",
        "2 41731  97.2945 187.6583 0004596  12.3887 347.7483 15.62724089508176",
        "MICIUS", ts,
    )
    with pytest.raises(SatqkdError, match="MICIUS.*SGP4 cannot propagate"):
        find_passes(sat, Station.nanshan(), "2028-01-01", "2028-01-03", allow_stale_elements=True)


def test_stale_elements_are_an_error_that_says_how_old(ts):
    """Issue 12: an element set nine years from its epoch was forecast with a
    warning; now it is refused (LEO limit 30 days), saying how old it is,
    unless explicitly allowed."""
    from skyfield.api import EarthSatellite

    sat = EarthSatellite(
        "1 41731U 16051A   17001.50000000  .00000800  00000-0  38000-4 0  9990",
        "2 41731  97.3700  94.0000 0012000  90.0000 270.0000 15.25000000 20007",
        "OLD-LEO", ts,
    )
    with pytest.raises(SatqkdError, match=r"OLD-LEO: elements of 2017-01-01 are 32\d\d days from the span, over the "
                                          r"30-day limit for LEO.*--allow-stale-elements"):
        find_passes(sat, Station.nanshan(), "2026-01-01", "2026-01-02")
    # 20 days is inside the limit, but above the warning threshold.
    fc = find_passes(sat, Station.nanshan(), "2017-01-20", "2017-01-21", ANY_TIME, per_second=False)
    assert any("OLD-LEO" in w and "20 days" in w for w in fc.warnings)
    # A tighter limit refuses it; allowing stale elements turns it into a warning.
    with pytest.raises(SatqkdError, match="over the 10-day limit"):
        find_passes(sat, Station.nanshan(), "2017-01-20", "2017-01-21", max_element_age_days=10)
    fc = find_passes(sat, Station.nanshan(), "2017-01-20", "2017-01-21", ANY_TIME, per_second=False,
                     max_element_age_days=10, allow_stale_elements=True)
    assert any("over the 10-day limit for LEO (allowed)" in w for w in fc.warnings)


def test_element_age_limits_scale_with_the_orbit_class(goes17, ts):
    """A GEO's elements may be older than a LEO's (180 days), but a forecast
    decades from the epoch is refused for every class."""
    from satqkd.elements import element_age_limits_days, orbit_class

    assert orbit_class(goes17) == "GEO"
    assert element_age_limits_days(goes17) == (30.0, 180.0)
    epoch = goes17.epoch.utc_datetime()
    near = seconds_to_time(goes17.epoch, 100 * 86400.0)
    fc = find_passes(goes17, Station.nanshan(), near, seconds_to_time(near, 86400.0), ANY_TIME, per_second=False)
    assert any("GEO" in w for w in fc.warnings)
    far = seconds_to_time(goes17.epoch, 20 * 365.25 * 86400.0)
    with pytest.raises(SatqkdError, match=r"days from the span, over the 180-day limit for GEO"):
        find_passes(goes17, Station.nanshan(), far, seconds_to_time(far, 86400.0))
    assert epoch is not None


def test_synthetic_orbit_is_not_called_stale(ts):
    """An orbit built from elements at the span's start is idealised, not
    stale: a year-long span warns what it is, and is not refused."""
    from satqkd.elements import sun_synchronous

    sso = sun_synchronous(500.0, 12.0, ts.utc(2026, 1, 1), name="SSO")
    fc = find_passes(sso, Station.nanshan(), "2026-01-01", "2026-12-31", Constraints(min_elevation_deg=60.0),
                     per_second=False)
    assert len(fc.warnings) == 1
    assert "idealised LEO orbit built from elements at 2026-01-01" in fc.warnings[0]
    assert "stale" not in fc.warnings[0] and "limit" not in fc.warnings[0]


def molniya(ts):
    from satqkd.elements import classical

    return classical(epoch=ts.utc(2026, 11, 28), semi_major_axis_km=26600.0, eccentricity=0.74,
                     inclination_deg=63.4, raan_deg=0.0, arg_perigee_deg=270.0, mean_anomaly_deg=0.0, name="MOLNIYA")


def test_heo_passes_match_brute_force_oracle_with_two_culminations(ts):
    """A Molniya orbit over Nanshan for 3 days against the 1 Hz skyfield
    oracle; its long apogee passes culminate twice, which the oracle's own
    elevation series confirms (a dip between two maxima)."""
    sat = molniya(ts)
    station = Station.nanshan()
    t0 = ts.utc(2026, 11, 28)
    span_s = 3 * 86400.0
    fc = find_passes(sat, station, t0, seconds_to_time(t0, span_s), Constraints(min_elevation_deg=10.0, night="none"),
                     per_second=False)
    expected = oracle_intervals(sat, station, t0, span_s, 10.0)
    rise = offsets_of(t0, fc.passes["rise_utc"])
    set_ = offsets_of(t0, fc.passes["set_utc"])
    assert len(rise) == len(expected) >= 4
    for (a, b), r, s in zip(expected, rise, set_):
        assert a - 1.0 <= r <= a + 1e-3
        assert b - 1e-3 <= s <= b + 1.0
    double = fc.passes[fc.passes["n_culminations"] == 2]
    assert len(double) >= 2
    # The oracle: skyfield's elevation over the first double pass, every 30 s.
    topos = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)
    r0, s0 = offsets_of(t0, double["rise_utc"])[0], offsets_of(t0, double["set_utc"])[0]
    alt = (sat - topos).at(seconds_to_time(t0, np.arange(r0, s0, 30.0))).altaz()[0].degrees
    peaks = np.flatnonzero((alt[1:-1] > alt[:-2]) & (alt[1:-1] > alt[2:])) + 1
    assert len(peaks) == 2
    assert alt[peaks[0]:peaks[1]].min() < min(alt[peaks]) - 0.1
    assert abs(double["max_elevation_deg"].iloc[0] - alt.max()) < 0.05


def test_geostationary_always_up_is_one_clipped_pass_cut_by_night(goes17, ts):
    """GOES 17 seen from Mauna Kea is always up: one pass spanning the whole
    3 days (clipped at both ends, as the 1 Hz oracle confirms), whose usable
    seconds are the nautical-night seconds by skyfield's Sun."""
    station = Station("Mauna Kea", 19.8207, -155.4681, 4205.0)
    t0 = ts.utc(2021, 4, 28, 18)
    span_s = 3 * 86400.0
    t1 = seconds_to_time(t0, span_s)
    fc = find_passes(goes17, station, t0, t1, Constraints(min_elevation_deg=10.0, night="nautical"))
    expected = oracle_intervals(goes17, station, t0, span_s, 10.0)
    assert expected == [(0.0, span_s)]
    assert len(fc.passes) == 1 and bool(fc.passes["clipped"].iat[0])
    assert offsets_of(t0, fc.passes["rise_utc"])[0] == 0.0
    assert offsets_of(t0, fc.passes["set_utc"])[0] == span_s
    topos = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)
    every_10s = np.arange(0.0, span_s + 1.0, 10.0)
    sun = (sky.earth() + topos).at(seconds_to_time(t0, every_10s)).observe(sky.sun()).apparent().altaz()[0].degrees
    night_s = 10.0 * np.count_nonzero(sun < -12.0)
    assert abs(fc.passes["usable_s"].iat[0] - night_s) <= 60.0  # 6 dusk/dawn edges, 10 s sampling
    assert 3 * 8 * 3600 < night_s < 3 * 12 * 3600


def test_geostationary_never_up_has_no_pass(ts):
    """A geostationary satellite at 60 deg W is below Nanshan's horizon: no pass."""
    from satqkd.elements import geostationary

    t0 = ts.utc(2026, 11, 28)
    sat = geostationary(-60.0, t0)
    fc = find_passes(sat, Station.nanshan(), t0, seconds_to_time(t0, 3 * 86400.0),
                     Constraints(min_elevation_deg=0.0, night="none"))
    assert fc.passes.empty and fc.seconds.empty


def test_horizon_mask_raises_the_threshold_by_azimuth(micius_2016):
    """With a mask of 30 deg to the north (azimuth 270-90 through 0) and 5 deg
    elsewhere, every kept second is above the mask at its azimuth."""
    mask = ((0.0, 30.0), (89.0, 30.0), (91.0, 5.0), (269.0, 5.0), (271.0, 30.0), (360.0, 30.0))
    masked = Station("Xinglong", 40.39587, 117.57746, 890.0, mask)
    plain = find_passes(micius_2016, Station.xinglong(), "2016-12-19", "2016-12-20", Constraints(min_elevation_deg=5, night="none"))
    fc = find_passes(micius_2016, masked, "2016-12-19", "2016-12-20", Constraints(min_elevation_deg=5, night="none"))
    s = fc.seconds
    north = (s["azimuth_deg"] > 271) | (s["azimuth_deg"] < 89)
    assert (s.loc[north, "elevation_deg"] >= 30.0 - 1e-9).all()
    assert (s["elevation_deg"] >= 5.0).all()
    assert fc.passes["usable_s"].sum() < plain.passes["usable_s"].sum()


def test_moon_constraints_cut_windows(micius_2021, ts):
    """Moon separation and Moon-down constraints remove exactly the seconds
    that violate them, per skyfield's own Moon."""
    station = Station.nanshan()
    t0, t1 = ts.utc(2021, 4, 27), ts.utc(2021, 4, 30)  # full Moon on 2021-04-27
    base = find_passes(micius_2021, station, t0, t1, Constraints(min_elevation_deg=10, night="none"))
    far = find_passes(micius_2021, station, t0, t1, Constraints(min_elevation_deg=10, night="none", moon_separation_deg=60))
    down = find_passes(micius_2021, station, t0, t1, Constraints(min_elevation_deg=10, night="none", moon_max_altitude_deg=0))
    assert (far.seconds["moon_separation_deg"] >= 60).all()
    assert len(far.seconds) == (base.seconds["moon_separation_deg"] >= 60).sum()
    assert (down.seconds["moon_altitude_deg"] < 0).all()
    assert 0 < len(down.seconds) < len(base.seconds)
    # Spot-check the Moon's altitude against skyfield at a few kept seconds.
    topos = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)
    rows = base.seconds.iloc[:: max(len(base.seconds) // 20, 1)]
    t = ts.from_datetimes([x.to_pydatetime() for x in rows["time_utc"]])
    moon_alt = (sky.earth() + topos).at(t).observe(sky.moon()).apparent().altaz()[0].degrees
    assert np.max(np.abs(rows["moon_altitude_deg"].to_numpy() - moon_alt)) < 1e-3


def test_sunlit_column_matches_skyfield(micius_2021, ts):
    """The sunlit column agrees with skyfield's is_sunlit at culmination."""
    fc = find_passes(micius_2021, Station.nanshan(), ts.utc(2021, 4, 27), ts.utc(2021, 4, 29),
                     Constraints(min_elevation_deg=10, night="none"), per_second=False)
    t = ts.from_datetimes([x.to_pydatetime() for x in fc.passes["culmination_utc"]])
    theirs = micius_2021.at(t).is_sunlit(sky.ephemeris())
    assert fc.passes["sunlit"].any() and not fc.passes["sunlit"].all()
    assert (fc.passes["sunlit"].to_numpy() == theirs).all()


@pytest.mark.parametrize("edge", ["start", "end"])
def test_grazing_pass_within_one_grid_step_of_the_span_edge(micius_2016, ts, edge):
    """Regression (review): a 6 s pass peaking a few seconds after the span
    starts, or before it ends, lies between the span edge and the first grid
    sample; it must still be found."""
    full = find_passes(micius_2016, Station.xinglong(), "2016-12-19T16:30", "2016-12-19T17:10", ANY_TIME).passes
    peak = full["max_elevation_deg"].iat[0]
    culm = full["culmination_utc"].iat[0].to_pydatetime()
    cons = Constraints(min_elevation_deg=peak - 0.05, night="none")
    for gap_s in (5, 12, 20):
        if edge == "start":
            start, end = culm - pd.Timedelta(seconds=gap_s), culm + pd.Timedelta(hours=1)
        else:
            start, end = culm - pd.Timedelta(hours=1), culm + pd.Timedelta(seconds=gap_s)
        found = find_passes(micius_2016, Station.xinglong(), start, end, cons, per_second=False).passes
        assert len(found) == 1, (edge, gap_s)


def test_utc_labels_across_the_2016_leap_second(micius_2016, ts):
    """Regression (review): a leap second inside the span (2016-12-31
    23:59:60) must not shift the UTC labels after it.  Reference: skyfield's
    altaz() at each labelled UTC time equals the row's elevation."""
    station = Station.xinglong()
    fc = find_passes(micius_2016, station, "2016-12-31T12:00", "2017-01-01T12:00", ANY_TIME)
    assert (fc.passes["rise_utc"] > pd.Timestamp("2017-01-01", tz="UTC")).any()
    rows = fc.seconds.iloc[::50]
    t = ts.from_datetimes([x.to_pydatetime() for x in rows["time_utc"]])
    topos = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)
    alt = (micius_2016 - topos).at(t).altaz()[0].degrees
    assert np.max(np.abs(rows["elevation_deg"].to_numpy() - alt)) < 1e-6


def test_horizon_mask_does_not_move_the_culmination(micius_2016):
    """Regression (review): with a mask around the culmination azimuth the
    culmination is still the highest point (per the per-second elevation),
    and a single-peaked pass has one culmination."""
    plain = find_passes(micius_2016, Station.xinglong(), "2016-12-19T16:30", "2016-12-19T17:10", ANY_TIME)
    row = plain.seconds.loc[plain.seconds["elevation_deg"].idxmax()]
    az = row["azimuth_deg"]
    mask = ((0.0, 0.0), ((az - 20) % 360, 0.0), ((az - 19) % 360, 30.0), ((az + 19) % 360, 30.0), ((az + 20) % 360, 0.0))
    masked = Station("Xinglong", 40.39587, 117.57746, 890.0, tuple(sorted(mask)))
    fc = find_passes(micius_2016, masked, "2016-12-19T16:30", "2016-12-19T17:10", ANY_TIME)
    assert len(fc.passes) == 1
    assert fc.passes["n_culminations"].iat[0] == 1
    assert abs(fc.passes["max_elevation_deg"].iat[0] - plain.passes["max_elevation_deg"].iat[0]) < 1e-4


@pytest.mark.parametrize("cons", [
    dict(night="civil"),
    dict(night="none", moon_separation_deg=60.0),
    dict(night="none", moon_max_altitude_deg=10.0),
    dict(night="none", moon_max_illumination=0.3),
    dict(night="none", max_range_km=1200.0),
    dict(night="none", satellite="shadow"),
    dict(night="none", satellite="sunlit"),
], ids=["sun", "moon-separation", "moon-altitude", "moon-illumination", "range", "shadow", "sunlit"])
def test_constraint_windows_by_root_finding_equal_testing_every_second(micius_2021, ts, cons):
    """Usable windows come from root finding on each constraint's signed
    margin, not from testing every second: the seconds they hold are exactly
    those where the constraint's own ``compute`` holds at every whole second
    of the pass (an unconstrained per-second series is the reference)."""
    from satqkd.constraints import Constraints as C

    t0, t1 = ts.utc(2021, 4, 27), ts.utc(2021, 4, 30)
    station = Station.nanshan()
    everything = find_passes(micius_2021, station, t0, t1, C(min_elevation_deg=10.0, night="none"))
    constrained = find_passes(micius_2021, station, t0, t1, C(min_elevation_deg=10.0, **cons), per_second=False)
    checks = C(min_elevation_deg=10.0, **cons).build(station)[1:]
    sec = everything.seconds
    holds = np.ones(len(sec), bool)
    for con in checks:
        holds &= con.compute({k: sec[k].to_numpy() for k in sec.columns})
    expected = pd.Series(holds).groupby(sec["pass_id"].to_numpy()).sum()
    expected = expected[expected > 0]
    rises = everything.passes.set_index("pass_id").loc[expected.index, "rise_utc"]
    got = constrained.passes.set_index("rise_utc")["usable_s"]
    assert len(got) == len(expected) > 0
    assert got.loc[rises.to_numpy()].tolist() == expected.tolist()

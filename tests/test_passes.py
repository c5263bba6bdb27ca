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
        find_passes(sat, Station.nanshan(), "2028-01-01", "2028-01-03")

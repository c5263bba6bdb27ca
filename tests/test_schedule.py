"""Contention: one telescope per station, one terminal per satellite."""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from satqkd import schedule

T0 = pd.Timestamp("2026-01-01T16:00:00Z")


def _table(rows):
    """rows: (satellite, station, start_s, end_s, key_bits)."""
    return pd.DataFrame({
        "pass_id": range(len(rows)),
        "satellite": [r[0] for r in rows],
        "station": [r[1] for r in rows],
        "usable_start_utc": [T0 + pd.Timedelta(seconds=r[2]) for r in rows],
        "usable_end_utc": [T0 + pd.Timedelta(seconds=r[3]) for r in rows],
        "key_bits": [float(r[4]) for r in rows],
    })


def test_two_stations_seeing_the_satellite_at_once_get_one_contact():
    passes = _table([("S", "Nanshan", 0, 300, 5e6), ("S", "Xinglong", 100, 400, 8e6)])
    for rule in ("greedy", "optimal"):
        out = schedule.schedule(passes, rule)
        assert out["scheduled"].tolist() == [False, True]
        assert out["not_scheduled_reason"].tolist() == ["satellite busy (pass 1)", ""]
        assert schedule.lost_to_conflicts(out) == 5e6


def test_repointing_time_between_contacts_on_a_station():
    # Two satellites over one station, 30 s apart: too close with 60 s re-pointing, fine with 20 s.
    passes = _table([("S1", "A", 0, 100, 1.0), ("S2", "A", 130, 200, 1.0)])
    assert schedule.schedule(passes, station_repoint_s=60)["scheduled"].sum() == 1
    assert schedule.schedule(passes, station_repoint_s=20)["scheduled"].sum() == 2
    assert schedule.schedule(passes, station_repoint_s=60)["not_scheduled_reason"].iloc[1] == "station busy (pass 0)"


def test_cloudy_passes_are_not_scheduled():
    passes = _table([("S", "A", 0, 100, 1e6), ("S", "B", 50, 150, 2e6)]).assign(clear=[True, False])
    out = schedule.schedule(passes)
    assert out["scheduled"].tolist() == [True, False]
    assert out["not_scheduled_reason"].tolist() == ["", "cloudy"]
    assert schedule.lost_to_conflicts(out) == 0.0


def test_optimal_beats_greedy_where_greedy_is_myopic():
    # The middle pass has the most key but blocks both others, whose sum is larger.
    passes = _table([("S", "A", 0, 100, 6.0), ("S", "B", 90, 200, 8.0), ("S", "C", 190, 300, 6.0)])
    g = schedule.schedule(passes, "greedy")
    o = schedule.schedule(passes, "optimal")
    assert g["scheduled"].tolist() == [False, True, False]
    assert o["scheduled"].tolist() == [True, False, True]


def _brute_force_best(passes, pairs):
    n = len(passes)
    bad = {(int(i), int(j)) for i, j in zip(pairs["i"], pairs["j"])}
    best = 0.0
    for mask in itertools.product([0, 1], repeat=n):
        chosen = [k for k in range(n) if mask[k]]
        if any((a, b) in bad or (b, a) in bad for a, b in itertools.combinations(chosen, 2)):
            continue
        best = max(best, passes["key_bits"].to_numpy()[chosen].sum())
    return best


pass_rows = st.lists(
    st.tuples(st.sampled_from(["S1", "S2", "S3"]), st.sampled_from(["A", "B", "C"]),
              st.integers(0, 3000), st.integers(10, 600), st.integers(0, 100)),
    min_size=0, max_size=9,
)


@settings(max_examples=60, deadline=None)
@given(pass_rows)
def test_schedules_never_overlap_and_optimal_is_at_least_greedy(rows):
    passes = _table([(s, g, t, t + d, k) for s, g, t, d, k in rows])
    results = {rule: schedule.schedule(passes, rule, station_repoint_s=60, satellite_repoint_s=60)
               for rule in ("greedy", "optimal")}
    for out in results.values():
        taken = out[out["scheduled"]]
        # Checked here from the definition, not with the module's conflict search.
        for col in ("station", "satellite"):
            for _, grp in taken.groupby(col):
                grp = grp.sort_values("usable_start_utc")
                start = (grp["usable_start_utc"] - T0).dt.total_seconds().to_numpy()
                end = (grp["usable_end_utc"] - T0).dt.total_seconds().to_numpy() + 1.0  # last second tracked
                assert (start[1:] - end[:-1] >= 60.0).all()
        # every pass left out names a reason
        assert (out.loc[~out["scheduled"], "not_scheduled_reason"] != "").all()
    key = {rule: out.loc[out["scheduled"], "key_bits"].sum() for rule, out in results.items()}
    assert key["optimal"] >= key["greedy"]
    if len(passes):
        assert key["optimal"] == _brute_force_best(passes, schedule.conflicts(passes))


@settings(max_examples=30, deadline=None)
@given(pass_rows, st.integers(0, 2**31 - 1))
def test_greedy_many_is_greedy_in_every_weather_year(rows, seed):
    passes = _table([(s, g, t, t + d, k) for s, g, t, d, k in rows])
    pairs = schedule.conflicts(passes)
    clear = np.random.default_rng(seed).random((5, len(passes))) < 0.6
    many = schedule.greedy_many(passes["key_bits"].to_numpy(), pairs)(clear)
    for y in range(5):
        assert (many[y] == schedule.greedy(passes["key_bits"].to_numpy(), pairs, clear[y])).all()

"""Constellation pass search speed, as ratios measured in the same run.

100 sun-synchronous LEO satellites (450-600 km, ascending nodes spread over
the day) x 10 stations (the five presets and five LAT,LON sites) x 7 days,
night passes above 10 deg (``Constraints(min_elevation_deg=10,
night="nautical")``):

1. ``find_passes_many`` (SatrecArray coarse grid, all pairs refined together);
2. ``find_passes`` called once per satellite (same constraints, no
   per-second table);
3. skyfield's ``find_events`` (rise/culmination/set at 10 deg, no night
   test) for 10 satellites x 10 stations, scaled by 10 to the full set.

Prints readable lines, then one JSON object on the last line.
Usage: python benchmarks/bench_constellation.py [--satellites 100] [--days 7] [--skyfield-satellites 10]
"""

from __future__ import annotations

import argparse
import json
import os
import time

# One thread for numpy's BLAS, as for skyfield: compare like with like.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from skyfield.api import wgs84

from satqkd import sky
from satqkd.constellation import find_passes_many
from satqkd.constraints import Constraints
from satqkd.elements import sun_synchronous
from satqkd.passes import find_passes
from satqkd.stations import STATION_PRESETS, parse_station

EXTRA_SITES = ["48.0,11.0", "-30.2,-70.7,2200", "35.0,-106.0,1800", "-31.3,149.1,1100", "28.3,-16.5,2400"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--satellites", type=int, default=100)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--skyfield-satellites", type=int, default=10)
    args = parser.parse_args()

    ts = sky.timescale()
    t0 = ts.utc(2026, 11, 1)
    t1 = ts.tt_jd(t0.tt + args.days)
    n = args.satellites
    sats = [
        sun_synchronous(450.0 + 150.0 * i / max(n - 1, 1), (7.3 * i) % 24.0, t0, name=f"SSO-{i:03d}",
                        mean_anomaly_deg=(137.5 * i) % 360.0)
        for i in range(n)
    ]
    stations = [make() for make in STATION_PRESETS.values()] + [parse_station(s) for s in EXTRA_SITES]
    cons = Constraints(min_elevation_deg=10.0, night="nautical")
    pairs = n * len(stations)

    # Warm-up (imports, ephemeris, caches) outside the timings.
    find_passes_many(sats[:1], stations[:1], t0, ts.tt_jd(t0.tt + 0.1), cons)

    t = time.perf_counter()
    many = find_passes_many(sats, stations, t0, t1, cons)
    many_s = time.perf_counter() - t
    print(f"find_passes_many: {n} satellites x {len(stations)} stations x {args.days:g} days: {many_s:.2f} s, "
          f"{len(many.passes)} night passes, {pairs / many_s:,.0f} pairs/s")

    t = time.perf_counter()
    single_count = sum(len(find_passes(sat, stations, t0, t1, cons, per_second=False).passes) for sat in sats)
    single_s = time.perf_counter() - t
    print(f"find_passes per satellite: {single_s:.2f} s, {single_count} night passes; "
          f"ratio per-satellite/many {single_s / many_s:.2f}x")

    k = min(args.skyfield_satellites, n)
    topos = [wgs84.latlon(st.latitude_deg, st.longitude_deg, elevation_m=st.height_m) for st in stations]
    t = time.perf_counter()
    events = 0
    for sat in sats[:k]:
        for tp in topos:
            _, kinds = sat.find_events(tp, t0, t1, altitude_degrees=10.0)
            events += int(np.sum(kinds == 0))
    sub_s = time.perf_counter() - t
    events_s = sub_s * n / k
    print(f"skyfield find_events: {k} x {len(stations)} pairs in {sub_s:.2f} s ({events} rises, day and night), "
          f"scaled to {n} satellites {events_s:.2f} s; ratio find_events/many {events_s / many_s:.2f}x")

    print(json.dumps({
        "satellites": n,
        "stations": len(stations),
        "days": args.days,
        "many_s": round(many_s, 3),
        "night_passes": int(len(many.passes)),
        "pairs_per_s": round(pairs / many_s, 1),
        "per_satellite_find_passes_s": round(single_s, 3),
        "per_satellite_night_passes": int(single_count),
        "speedup_vs_find_passes": round(single_s / many_s, 2),
        "find_events_scaled_s": round(events_s, 3),
        "find_events_satellites": k,
        "speedup_vs_find_events": round(events_s / many_s, 2),
    }))


if __name__ == "__main__":
    main()

"""Pass-engine speed, as ratios against plain skyfield measured in the same run.

1. Per-second geometry: satqkd's Earth-fixed look angles versus skyfield's
   ``(sat - topos).at(t).altaz()`` for the same satellite and times.
2. A year of night passes of one LEO over two stations, with the per-second
   series of every usable window, versus skyfield's ``find_events`` (rise,
   culmination, set only) for the same satellite, stations and span.

Prints readable lines, then one JSON object on the last line.
Usage: python benchmarks/bench_passes.py [--days 365]
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
from skyfield.api import EarthSatellite, wgs84

from satqkd import sky
from satqkd.constraints import Constraints
from satqkd.geometry import look_angles, satellite_itrs_km, seconds_to_time
from satqkd.passes import find_passes
from satqkd.stations import Station

L1 = "1 41731U 16051A   21117.42314584  .00000696  00000-0  30260-4 0  9998"
L2 = "2 41731  97.3499  30.8507 0012844 347.0485 124.2616 15.25507799261429"


def best_of(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--samples", type=int, default=1_000_000)
    args = parser.parse_args()

    ts = sky.timescale()
    sat = EarthSatellite(L1, L2, "MICIUS", ts)
    station = Station.nanshan()
    topos = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)
    t0 = ts.utc(2021, 4, 27)
    n = args.samples

    def ours():
        t = seconds_to_time(t0, np.arange(n, dtype=float))
        r, v, _ = satellite_itrs_km(sat, t)
        look_angles(station, r, v)

    n_ref = max(n // 10, 1000)  # skyfield is slow: time a tenth and scale

    def theirs():
        t = seconds_to_time(t0, np.arange(n_ref, dtype=float))
        (sat - topos).at(t).altaz()

    ours_s = best_of(ours)
    theirs_s = best_of(theirs) * n / n_ref
    rate = n / ours_s
    print(f"per-second geometry: {rate:,.0f} samples/s (satqkd), {n / theirs_s:,.0f} samples/s (skyfield altaz), ratio {theirs_s / ours_s:.1f}x")

    stations = [Station.nanshan(), Station.xinglong()]
    t1 = ts.tt_jd(t0.tt + args.days)
    cons = Constraints(min_elevation_deg=10.0, night="nautical")

    forecast = {}

    def year():
        forecast["fc"] = find_passes(sat, stations, t0, t1, cons)

    def skyfield_events():
        for st in stations:
            tp = wgs84.latlon(st.latitude_deg, st.longitude_deg, elevation_m=st.height_m)
            sat.find_events(tp, t0, t1, altitude_degrees=10.0)

    year_s = best_of(year, repeat=1)
    events_s = best_of(skyfield_events, repeat=1)
    fc = forecast["fc"]
    print(
        f"{args.days:g} days, 2 stations: satqkd {year_s:.2f} s ({len(fc.passes)} night passes, "
        f"{len(fc.seconds):,} per-second samples); skyfield find_events {events_s:.2f} s; "
        f"ratio satqkd/skyfield {year_s / events_s:.2f}"
    )
    print(json.dumps({
        "geometry_samples_per_s": round(rate),
        "geometry_speedup_vs_skyfield_altaz": round(theirs_s / ours_s, 1),
        "year_passes_s": round(year_s, 3),
        "year_find_events_s": round(events_s, 3),
        "year_ratio_vs_find_events": round(year_s / events_s, 3),
        "year_night_passes": int(len(fc.passes)),
        "year_seconds": int(len(fc.seconds)),
    }))


if __name__ == "__main__":
    main()

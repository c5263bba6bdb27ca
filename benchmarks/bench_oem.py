"""OEM satellites in the pass engine: speed against SGP4, and the passes side by side.

1. **A year from a 60 s OEM against the same year from SGP4.**  The Micius
   element set of 2021-04-27 is propagated by SGP4 and written as a CCSDS OEM
   (KVN, EME2000, a state every 60 s, Lagrange of degree 7: 525,601 states,
   ~55 MB) by :func:`satqkd.oem.format_oem`; satqkd then finds a year of
   night passes over Nanshan and Xinglong (10 deg, nautical night) from the
   OEM and from the TLE, in the same process, alternating the two, best of
   ``--repeat``.  Ratios: the pass search from the OEM over the search from
   SGP4 (the issue's target: at most 2), the same with the per-second series
   of every usable window (the key-rate stage's input), and reading the file
   plus the search over the SGP4 search.
2. **The passes side by side** (the check a user can run on their own pair
   with ``--oem FILE --tle FILE``): every pass of the OEM next to the TLE's,
   the largest differences in rise, set and culmination elevation, against
   the tolerances of issue 19 (1 s, 1 s, 0.01 deg); the exit status is 1 if
   any is exceeded or a pass is missing.

Prints readable lines, then one JSON object on the last line.

Usage: python benchmarks/bench_oem.py [--days 365] [--repeat 3] [--show 12]
       python benchmarks/bench_oem.py --oem ephemeris/micius-2021-04-27.oem --tle ephemeris/micius-2021-04-27.tle
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from satqkd import sky
from satqkd.constraints import Constraints
from satqkd.elements import load_elements
from satqkd.oem import format_oem, load_oem
from satqkd.passes import find_passes
from satqkd.stations import STATION_PRESETS, parse_station

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_passes import alternate  # noqa: E402  (one best-of-alternating timer for the benchmarks)

ROOT = Path(__file__).resolve().parents[1]
TLE = ROOT / "ephemeris" / "micius-2021-04-27.tle"
TOLERANCES = {"rise_s": 1.0, "set_s": 1.0, "culmination_elevation_deg": 0.01}


def side_by_side(oem_passes: pd.DataFrame, tle_passes: pd.DataFrame, show: int) -> dict:
    """Pair the passes (same satellite order, station, nearest rise), print
    the first ``show`` and the largest differences; return them."""
    rows, missing = [], 0
    for (station,), ours in oem_passes.groupby(["station"]):
        theirs = tle_passes[tle_passes["station"] == station].reset_index(drop=True)
        used = set()
        for row in ours.itertuples():
            if theirs.empty:
                missing += 1
                continue
            k = int(np.argmin(np.abs((theirs["rise_utc"] - row.rise_utc).dt.total_seconds())))
            ref = theirs.iloc[k]
            if abs((ref["rise_utc"] - row.rise_utc).total_seconds()) > 60 or k in used:
                missing += 1
                continue
            used.add(k)
            rows.append({
                "station": station, "rise_oem": row.rise_utc, "rise_tle": ref["rise_utc"],
                "d_rise_s": (row.rise_utc - ref["rise_utc"]).total_seconds(),
                "d_set_s": (row.set_utc - ref["set_utc"]).total_seconds(),
                "el_oem_deg": row.max_elevation_deg, "el_tle_deg": ref["max_elevation_deg"],
                "d_el_deg": row.max_elevation_deg - ref["max_elevation_deg"],
            })
        missing += len(theirs) - len(used)
    table = pd.DataFrame(rows).sort_values("rise_oem").reset_index(drop=True)
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        shown = table.head(show).copy()
        for c in ("rise_oem", "rise_tle"):
            shown[c] = shown[c].dt.strftime("%Y-%m-%d %H:%M:%S.%f").str.slice(0, 23)
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    diffs = {
        "rise_s": float(table["d_rise_s"].abs().max()) if len(table) else float("nan"),
        "set_s": float(table["d_set_s"].abs().max()) if len(table) else float("nan"),
        "culmination_elevation_deg": float(table["d_el_deg"].abs().max()) if len(table) else float("nan"),
    }
    ok = missing == 0 and all(diffs[k] <= TOLERANCES[k] for k in TOLERANCES)
    print(f"{len(table)} passes paired, {missing} unpaired; largest differences: rise {diffs['rise_s']:.3f} s, "
          f"set {diffs['set_s']:.3f} s, culmination elevation {diffs['culmination_elevation_deg']:.2e} deg "
          f"(tolerances 1 s, 1 s, 0.01 deg): {'WITHIN' if ok else 'OUTSIDE'}")
    return {"paired": len(table), "unpaired": missing, **{f"max_d_{k}": v for k, v in diffs.items()}, "within": ok}


def check_pair(args) -> int:
    """The user's own OEM against a TLE, over the OEM's coverage."""
    ts = sky.timescale()
    sats = load_oem(args.oem)
    tle = load_elements(args.tle)
    stations = [STATION_PRESETS[s]() if s in STATION_PRESETS else parse_station(s) for s in args.station]
    cons = Constraints(min_elevation_deg=10.0, night="none")
    t0 = min((s.epoch for s in sats), key=lambda t: t.tt)
    t1 = max((s.end for s in sats), key=lambda t: t.tt)
    if args.days:
        t1 = ts.tt_jd(min(t1.tt, t0.tt + args.days))
    result = {}
    for sat in sats:
        ref = [s for s in tle if s.name == sat.name] or tle[:1]
        print(f"{sat.name}: {Path(args.oem).name} against {Path(args.tle).name} ({ref[0].name}), "
              f"{t0.utc_strftime('%Y-%m-%d %H:%M')} to {t1.utc_strftime('%Y-%m-%d %H:%M')} UTC, 10 deg")
        a = find_passes(sat, stations, t0, t1, cons, per_second=False, allow_stale_elements=True).passes
        b = find_passes(ref[0], stations, t0, t1, cons, per_second=False, allow_stale_elements=True).passes
        result[sat.name] = side_by_side(a, b, args.show)
    print(json.dumps(result))
    return 0 if all(r["within"] for r in result.values()) else 1


def year(args) -> int:
    ts = sky.timescale()
    sat = load_elements(TLE)[0]
    stations = [STATION_PRESETS["nanshan"](), STATION_PRESETS["xinglong"]()]
    t0 = ts.utc(2021, 4, 27)
    t1 = ts.tt_jd(t0.tt + args.days)
    cons = Constraints(min_elevation_deg=10.0, night="nautical")
    t = time.perf_counter()
    text = format_oem(sat, t0, t1, step_s=60.0, frame="EME2000")
    write_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "micius-year.oem"
        path.write_text(text)
        size_mb = path.stat().st_size / 1e6
        del text
        t = time.perf_counter()
        (oem_sat,) = load_oem(path)
        load_s = time.perf_counter() - t
    n_states = oem_sat._t.size
    print(f"OEM of {args.days:g} days: {n_states:,} states every 60 s, {size_mb:.1f} MB (EME2000, Lagrange 7); "
          f"written in {write_s:.2f} s, read in {load_s:.2f} s")

    def run(s, per_second):
        return find_passes(s, stations, t0, t1, cons, per_second=per_second, allow_stale_elements=True)

    run(sat, False)
    run(oem_sat, False)  # warm both
    (sgp4_s, oem_s), (fc_sgp4, fc_oem) = alternate([lambda: run(sat, False), lambda: run(oem_sat, False)], args.repeat)
    (sgp4_ps, oem_ps), (fs_sgp4, fs_oem) = alternate([lambda: run(sat, True), lambda: run(oem_sat, True)], args.repeat)
    print(f"{args.days:g} days over 2 stations, night passes above 10 deg: SGP4 {sgp4_s:.2f} s, OEM {oem_s:.2f} s "
          f"({len(fc_oem.passes)} passes): ratio OEM/SGP4 {oem_s / sgp4_s:.2f} (target <= 2)")
    print(f"  with the per-second series ({len(fs_oem.seconds):,} samples): SGP4 {sgp4_ps:.2f} s, OEM {oem_ps:.2f} s: "
          f"ratio {oem_ps / sgp4_ps:.2f}; reading the OEM + its search against the SGP4 search: "
          f"{(load_s + oem_s) / sgp4_s:.2f}")
    per_second_range = float(np.abs(fs_oem.seconds["range_km"].to_numpy() - fs_sgp4.seconds["range_km"].to_numpy()).max()) \
        if len(fs_oem.seconds) == len(fs_sgp4.seconds) else float("nan")
    print(f"  per-second range: largest OEM - SGP4 difference {per_second_range * 1e3:.3f} m")
    diffs = side_by_side(fc_oem.passes, fc_sgp4.passes, args.show)
    result = {
        "days": args.days, "oem_states": int(n_states), "oem_mb": round(size_mb, 1), "oem_read_s": round(load_s, 3),
        "sgp4_search_s": round(sgp4_s, 3), "oem_search_s": round(oem_s, 3), "ratio_oem_vs_sgp4": round(oem_s / sgp4_s, 3),
        "sgp4_per_second_s": round(sgp4_ps, 3), "oem_per_second_s": round(oem_ps, 3),
        "ratio_per_second_oem_vs_sgp4": round(oem_ps / sgp4_ps, 3),
        "ratio_read_and_search_vs_sgp4": round((load_s + oem_s) / sgp4_s, 3),
        "passes": int(len(fc_oem.passes)), "max_d_range_per_second_m": round(per_second_range * 1e3, 4),
        **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in diffs.items()},
    }
    print(json.dumps(result))
    return 0 if diffs["within"] else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=None, help="span (default: 365 for the benchmark, "
                        "the whole OEM with --oem)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--show", type=int, default=12, help="passes printed side by side")
    parser.add_argument("--oem", help="compare this OEM with --tle over its coverage instead")
    parser.add_argument("--tle", help="element file for --oem")
    parser.add_argument("--station", action="append", default=None, help="stations for --oem (default nanshan, xinglong)")
    args = parser.parse_args()
    if args.oem:
        if not args.tle:
            parser.error("--oem needs --tle")
        args.station = args.station or ["nanshan", "xinglong"]
        return check_pair(args)
    args.days = args.days or 365.0
    return year(args)


if __name__ == "__main__":
    sys.exit(main())

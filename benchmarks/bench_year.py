"""A year of the default scenario, serial: where the time goes.

configs/micius.yaml with ``days: 365`` (1 satellite, 2 stations, every pass
optimised, report), run stage by stage in this process:

* scenario loading, pass search (satqkd.passes, issue 9's engine), link
  budget, key optimisation (satqkd.keyrate), weather and schedule stages,
  writing passes.csv and the per-second table, and the report (satqkd.report);
* baseline in the same process: the key stage as the pipeline ran it before
  (BLAS threads left at their default, passes warm-started in time order),
  on the first ``--baseline-days`` days, against the new key stage on the same
  passes -- the ratio is the fair speed-up of the key stage.

Prints readable lines, then one JSON object on the last line.
Usage: python benchmarks/bench_year.py [--days 365] [--baseline-days 30] [--no-report]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import yaml

T_START = time.perf_counter()

from satqkd import keyrate, pipeline  # noqa: E402
from satqkd.config import _default_scenario, load_scenario  # noqa: E402


def _old_key_stage(sc, unit, passes, seconds):
    """The key loop of the previous pipeline: time order, BLAS default threads."""
    setup, sat = sc.stations[unit.station], sc.satellites[unit.satellite]
    previous = None
    for _, g in seconds.groupby("pass_id", sort=True):
        previous = keyrate.optimise_pass(g["efficiency"].to_numpy(), g["noise_prob"].to_numpy(), sat.source,
                                         setup.detector, sc.protocol, slot_s=1.0,
                                         elevation_deg=g["elevation_deg"].to_numpy(), x0=previous)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--baseline-days", type=float, default=30.0)
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    path = _default_scenario()
    raw = yaml.safe_load(path.read_text())
    raw["days"], raw["start"] = args.days, "2026-11-28"
    t = {}
    t0 = time.perf_counter()
    sc = load_scenario(path, raw=raw)
    t["load_s"] = time.perf_counter() - t0
    t.update(passes_s=0.0, link_s=0.0, key_s=0.0)
    parts = []
    for unit in pipeline.units(sc):
        with threadpool_limits(limits=1, user_api="blas"):
            a = time.perf_counter()
            fc = pipeline.pass_stage(sc, unit)
            b = time.perf_counter()
            seconds = pipeline.link_stage(sc, unit, fc.seconds)
            c = time.perf_counter()
            passes, seconds = pipeline.key_stage(sc, unit, fc.passes, seconds)
            d = time.perf_counter()
        t["passes_s"] += b - a
        t["link_s"] += c - b
        t["key_s"] += d - c
        parts.append((passes, seconds, fc.warnings))
    a = time.perf_counter()
    results = pipeline.finish(sc, parts)
    t["weather_schedule_s"] = time.perf_counter() - a
    with tempfile.TemporaryDirectory() as tmp:
        a = time.perf_counter()
        pipeline.write_outputs(results, tmp, report=False)
        t["write_tables_s"] = time.perf_counter() - a
        if not args.no_report:
            from satqkd.report import render_report

            a = time.perf_counter()
            (Path(tmp) / "report.html").write_text(render_report(results))
            t["report_s"] = time.perf_counter() - a
    t["total_wall_s"] = time.perf_counter() - T_START
    n_pass = len(results.passes)
    print(f"{args.days:g} days, {n_pass} passes, {len(results.seconds)} per-second rows")
    for k, v in t.items():
        print(f"  {k:20s} {v:7.2f}")

    # Same-process baseline for the key stage on the first --baseline-days.
    raw["days"] = args.baseline_days
    sb = load_scenario(path, raw=raw)
    units_in = []
    for unit in pipeline.units(sb):
        fc = pipeline.pass_stage(sb, unit)
        units_in.append((unit, fc.passes, pipeline.link_stage(sb, unit, fc.seconds)))
    a = time.perf_counter()
    for unit, p, s in units_in:
        _old_key_stage(sb, unit, p, s)
    old = time.perf_counter() - a
    a = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        for unit, p, s in units_in:
            pipeline.key_stage(sb, unit, p, s)
    new = time.perf_counter() - a
    n_b = sum(len(p) for _, p, _ in units_in)
    print(f"key stage on {args.baseline_days:g} days ({n_b} passes): before {old:.2f} s, now {new:.2f} s, "
          f"speed-up {old / new:.2f}x")
    print(json.dumps({"days": args.days, "passes": n_pass, **{k: round(v, 3) for k, v in t.items()},
                      "key_ms_per_pass": round(1e3 * t["key_s"] / max(n_pass, 1), 2),
                      "baseline_days": args.baseline_days, "key_stage_before_s": round(old, 3),
                      "key_stage_now_s": round(new, 3), "key_stage_speedup": round(old / new, 2)}))


if __name__ == "__main__":
    main()

"""A year-long sweep, serial versus a local Dask cluster of 2 workers.

The sweep of ``configs/sweep-example.yaml`` (orbit height x telescope
aperture: 4 combinations, one unit each) over ``--days`` (default 365):

* in this process, ``satqkd.study.sweep`` serially and on a ``LocalCluster``
  of ``--workers`` processes (one thread each), alternating, best of
  ``--repeat``; the cluster's start is timed separately, and the CPU time of
  the workers + client is compared with the serial CPU time (the parallel
  run's extra work, which the neighbours' load does not change);
* with ``--cli``, the command a user types, as whole processes (imports,
  cluster start and outputs included): ``satqkd sweep FILE --quiet`` against
  the same with ``--workers N``, alternating, best of ``--repeat``.

On a shared machine the wall times follow the neighbours' load; the CPU
figures do not: ``cpu_speedup`` is the serial CPU time over the CPU time of
the busiest worker (the wall-clock speed-up with a free core per worker).

Checks that the sweep tables are identical.  Prints readable lines, then one
JSON object on the last line.

Usage: python benchmarks/bench_sweep.py [--days 365] [--workers 2] [--repeat 2] [--cli]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from satqkd import study
from satqkd.config import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def _cpu_s():
    """CPU seconds used so far by this (worker) process."""
    return time.process_time()


def in_process(path, args):
    sc = load_scenario(path)
    a = time.perf_counter()
    with study.cluster(workers=args.workers) as client:
        start_s = time.perf_counter() - a
        serial_s = parallel_s = serial_cpu_s = parallel_cpu_s = busiest_cpu_s = float("inf")
        first_parallel_s = None
        for _ in range(args.repeat):
            b, c = time.perf_counter(), time.process_time()
            serial = study.sweep(sc)
            serial_s = min(serial_s, time.perf_counter() - b)
            serial_cpu_s = min(serial_cpu_s, time.process_time() - c)
            before, c = client.run(_cpu_s), time.process_time()
            b = time.perf_counter()
            parallel = study.sweep(sc, client)
            t = time.perf_counter() - b
            client_cpu_s = time.process_time() - c
            after = client.run(_cpu_s)
            used = [after[w] - before[w] for w in after]
            first_parallel_s = t if first_parallel_s is None else first_parallel_s
            parallel_s = min(parallel_s, t)
            parallel_cpu_s = min(parallel_cpu_s, sum(used) + client_cpu_s)
            # What the wall time would be with a core per process: the busiest worker.
            busiest_cpu_s = min(busiest_cpu_s, max(used))
            print(f"serial {serial_s:.1f} s, {args.workers} workers {parallel_s:.1f} s (best so far; "
                  f"this one {t:.1f} s)", flush=True)
    identical = serial.equals(parallel)
    return {"cluster_start_s": round(start_s, 2), "serial_s": round(serial_s, 2), "parallel_s": round(parallel_s, 2),
            "first_parallel_s": round(first_parallel_s, 2), "speedup": round(serial_s / parallel_s, 2),
            "speedup_first_with_start": round(serial_s / (first_parallel_s + start_s), 2),
            "serial_cpu_s": round(serial_cpu_s, 2), "parallel_cpu_s": round(parallel_cpu_s, 2),
            "cpu_ratio": round(parallel_cpu_s / serial_cpu_s, 3), "busiest_worker_cpu_s": round(busiest_cpu_s, 2),
            "cpu_speedup": round(serial_cpu_s / busiest_cpu_s, 2), "identical": bool(identical)}


def as_processes(path, args, tmp):
    def command(extra, out):
        return [sys.executable, "-m", "satqkd", "sweep", str(path), "--quiet", "-o", str(Path(tmp) / out), *extra]

    best = {"serial": float("inf"), "workers": float("inf")}
    times = {"serial": [], "workers": []}
    for _ in range(args.repeat):
        for name, extra in (("serial", []), ("workers", ["--workers", str(args.workers)])):
            a = time.perf_counter()
            subprocess.run(command(extra, name), check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - a)
            best[name] = min(best[name], times[name][-1])
        print(f"CLI: serial {times['serial'][-1]:.1f} s, --workers {args.workers} {times['workers'][-1]:.1f} s", flush=True)
    identical = (Path(tmp, "serial", "sweep.csv").read_bytes() == Path(tmp, "workers", "sweep.csv").read_bytes())
    return {"cli_serial_s": round(best["serial"], 2), "cli_workers_s": round(best["workers"], 2),
            "cli_speedup": round(best["serial"] / best["workers"], 2),
            "cli_serial_runs_s": [round(t, 2) for t in times["serial"]],
            "cli_workers_runs_s": [round(t, 2) for t in times["workers"]], "cli_identical": identical}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--cli", action="store_true", help="also time the satqkd sweep command as processes")
    args = ap.parse_args()
    raw = yaml.safe_load((ROOT / "configs" / "sweep-example.yaml").read_text())
    raw["days"] = args.days
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep-year.yaml"
        path.write_text(yaml.safe_dump(raw))
        out = {"days": args.days, "combinations": 4, "workers": args.workers, "repeat": args.repeat}
        out.update(in_process(path, args))
        print(f"in process: cluster start {out['cluster_start_s']:.1f} s; serial {out['serial_s']:.1f} s, "
              f"{args.workers} workers {out['parallel_s']:.1f} s: {out['speedup']:.2f}x "
              f"(first run with the start: {out['speedup_first_with_start']:.2f}x); tables identical: {out['identical']}")
        print(f"CPU time: serial {out['serial_cpu_s']:.1f} s, workers + client {out['parallel_cpu_s']:.1f} s "
              f"({out['cpu_ratio']:.2f}x); busiest worker {out['busiest_worker_cpu_s']:.1f} s: "
              f"{out['cpu_speedup']:.2f}x with a core per process (the load-independent figure)")
        if args.cli:
            out.update(as_processes(path, args, tmp))
            print(f"CLI: serial {out['cli_serial_s']:.1f} s, --workers {args.workers} {out['cli_workers_s']:.1f} s: "
                  f"{out['cli_speedup']:.2f}x; sweep.csv identical: {out['cli_identical']}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

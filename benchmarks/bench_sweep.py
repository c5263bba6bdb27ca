"""A year-long sweep, serial versus a local Dask cluster of 2 workers.

The sweep of ``configs/sweep-example.yaml`` (orbit height x telescope
aperture: 4 combinations, one unit each) over ``--days`` (default 365):

* in this process, ``satqkd.study.sweep`` serially and on a ``LocalCluster``
  of ``--workers`` processes (one thread each), alternating, best of
  ``--repeat``; the cluster's start is timed separately, and the CPU time of
  the workers + client is compared with the serial CPU time (the parallel
  run's extra work, which the neighbours' load does not change);
* with ``--cli``, the command a user types, as whole processes (imports,
  cluster start and outputs included): ``satqkd sweep FILE --quiet``
  against the same with ``--workers N`` (a local cluster) and with
  ``--scheduler ADDRESS``, an external cluster this script starts itself on
  127.0.0.1 as a user would (``dask scheduler --no-dashboard`` and
  ``dask worker ADDRESS --nworkers N --nthreads 1 --no-dashboard``, Dask's
  defaults otherwise; started within 60 s, killed at the end, and paused
  with SIGSTOP while the other commands run: idle, its processes still
  took 0.06-0.08 cores from them).  The three
  commands alternate with a fourth run, ``--cli-repeat`` rounds (default
  ``--repeat``): the sweep split into N scenario files of equal work (the
  last swept parameter's values dealt out: each part has both orbit
  heights) run as N serial commands at once, nothing shared between them.
  That is what N cores of this machine give for these combinations (N
  processes computing at once run slower each than one alone: on this
  virtual machine a fixed numpy loop took 1.09-1.21x its time alone when
  two ran together), so ``cli_*_of_split`` (its wall time over the cluster
  command's; 1.0: no cost to the cluster) separates what the cluster costs
  from what the host gives.  The
  first ``--scheduler`` run meets workers that have not yet imported satqkd
  (a fresh cluster), later ones warm workers: both are reported.  Each run
  records its wall time, the 1-minute load average before it, the cores
  the rest of the machine used meanwhile (``/proc/stat`` less this run's
  CPU: the neighbours' load, whatever container they run in), and its CPU
  time: the command and every process it started (local workers are reaped
  by this script, a child subreaper), or for ``--scheduler`` the command
  plus the scheduler and worker processes (read from ``/proc``).  Before and
  after each run a fixed loop is timed on each core in turn: the host of a
  virtual machine may slow one of its cores (here at times 1.4-1.9x, unseen
  in ``/proc/stat``), which a serial run may escape and a run on two
  workers cannot.  ``cli_*_speedup_even`` is the speed-up from the runs whose
  cores ran within 15 % of each other's speed, beside the one from all runs.

On a shared machine the wall times follow the neighbours' load; the CPU
figures do not: ``cpu_speedup`` is the serial CPU time over the CPU time of
the busiest worker (the wall-clock speed-up with a free core per worker),
and for the commands ``cli_*_cpu_bound`` is the serial command's CPU time
over half (1/N) of the parallel run's total CPU time: the speed-up N free
cores would give if nothing waited (an upper bound on the wall ratio).

Checks that the sweep tables (``sweep.csv``) are identical to the serial
run's (the split's rows, together, to the serial run's rows).  Prints readable lines, then one JSON object on the last line.

Usage: python benchmarks/bench_sweep.py [--days 365] [--workers 2] [--repeat 2] [--cli [--cli-only] [--cli-repeat N]]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
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


def _load_1min():
    return float(Path("/proc/loadavg").read_text().split()[0]) if Path("/proc/loadavg").exists() else float("nan")


def _subreaper():
    """Make this process the child subreaper (Linux): processes a command
    leaves behind (the forkserver of local workers) are reparented here and
    reaped, so their CPU time counts in RUSAGE_CHILDREN."""
    import ctypes

    try:
        return ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _children_of_self():
    pids = []
    for task in Path("/proc/self/task").iterdir():
        try:
            pids.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return pids


def _reap(keep, timeout_s=30.0):
    """Wait for the descendants reparented to this process (not ``keep``: the external cluster)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = [pid for pid in _children_of_self() if pid not in keep]
        if not left:
            return
        for pid in left:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.02)


def _machine_busy_s():
    """CPU seconds all processes of the machine (every container on its kernel) have used so far."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _tree_cpu_s(pids):
    """CPU seconds so far of the processes ``pids`` and all their descendants (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo, seen = 0.0, list(pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


def _core_speeds(loops=1_000_000):
    """Seconds a fixed pure-Python loop takes on each core this process may
    run on, pinned to each in turn (a virtual machine's host may slow one of
    its cores: here at times up to 1.9x, one core at 0.25-0.29 s for 3 M loops
    and the other at 0.15 s).  Empty with fewer than two cores or no pinning."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    mask = os.sched_getaffinity(0)
    if len(mask) < 2:
        return []
    seconds = []
    try:
        for core in sorted(mask):
            os.sched_setaffinity(0, {core})
            a, x = time.perf_counter(), 0
            for i in range(loops):
                x += i * i
            seconds.append(time.perf_counter() - a)
    finally:
        os.sched_setaffinity(0, mask)
    return seconds


def _spread(speeds):
    """Slowest over fastest of the probes (1.0: the cores ran at one speed)."""
    return round(max(speeds) / min(speeds), 2) if speeds else 1.0


# Runs whose probes before and after show the cores' speeds further apart than this are "uneven".
EVEN_SPREAD = 1.15


def _external_cluster(workers, tmp, timeout_s=60.0):
    """``dask scheduler`` + ``dask worker --nworkers N --nthreads 1`` on 127.0.0.1,
    each in its own session: ``(address, processes)``."""
    bin_dir = Path(sys.executable).parent
    dask_cli = [str(bin_dir / "dask")] if (bin_dir / "dask").exists() else [sys.executable, "-m", "dask"]
    info = Path(tmp) / "scheduler.json"
    procs = [subprocess.Popen([*dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(info)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)]
    deadline = time.monotonic() + timeout_s
    try:
        while not info.exists() or not info.read_text().strip():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                raise RuntimeError("the dask scheduler did not start")
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen([*dask_cli, "worker", address, "--nworkers", str(workers), "--nthreads", "1",
                                       "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
        from dask.distributed import Client

        with Client(address, timeout=f"{max(deadline - time.monotonic(), 1):.0f}s") as client:
            client.wait_for_workers(workers, timeout=max(deadline - time.monotonic(), 1))
    except BaseException:
        _stop(procs)
        raise
    return address, procs


def _stop(procs):
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for p in procs:
        p.wait(timeout=30)


def _pause(procs, paused):
    """Stop (or continue) the external cluster's processes, each group whole:
    idle, its scheduler, nannies and workers still wake 50 times a second
    each (Dask's event-loop watchdog) and took 0.06-0.08 cores from the
    commands measured beside them."""
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGSTOP if paused else signal.SIGCONT)
        except ProcessLookupError:
            pass


def _halves(path, tmp, parts):
    """The sweep split into ``parts`` scenario files of equal work: the
    combinations of the last swept parameter dealt out in turn (the
    example's apertures: each part has both orbit heights)."""
    raw = yaml.safe_load(Path(path).read_text())
    name, values = list(raw["sweep"].items())[-1]
    if len(values) % parts:
        raise SystemExit(f"bench_sweep: the split needs {name}'s {len(values)} values to deal out evenly "
                         f"to {parts} commands (--workers)")
    files = []
    for k in range(parts):
        part = dict(raw, sweep=dict(raw["sweep"], **{name: values[k::parts]}))
        files.append(Path(tmp) / f"part-{k}.yaml")
        files[-1].write_text(yaml.safe_dump(part, sort_keys=False))
    return files


def _run_together(commands, timeout_s=600):
    """Start ``commands`` at once; wait for all (raising if one failed)."""
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL) for c in commands]
    try:
        codes = [p.wait(timeout=timeout_s) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    failed = [k for k, code in enumerate(codes) if code]
    if failed:
        raise subprocess.CalledProcessError(codes[failed[0]], commands[failed[0]])


def _same_rows(serial_csv, part_csvs):
    """Whether the parts' rows are the serial run's rows, byte for byte (in any order)."""
    serial = serial_csv.read_text().splitlines()
    parts = [p.read_text().splitlines() for p in part_csvs]
    return all(p[0] == serial[0] for p in parts) and sorted(r for p in parts for r in p[1:]) == sorted(serial[1:])


def as_processes(path, args, tmp):
    """The satqkd sweep command serially, with --workers N and with
    --scheduler (an external cluster started here), and the sweep split
    into N serial commands run at once, alternating."""
    subreaper = _subreaper()
    address, procs = _external_cluster(args.workers, tmp)
    runs = {"serial": [], "workers": [], "scheduler": [], "split": []}
    extras = {"serial": [], "workers": ["--workers", str(args.workers)], "scheduler": ["--scheduler", address]}
    parts = _halves(path, tmp, args.workers)
    try:
        for r in range(args.cli_repeat):
            for name in ("serial", "workers", "scheduler", "split"):
                if name == "split":
                    outs = [Path(tmp) / f"split-{r}-{k}" for k in range(len(parts))]
                    commands = [[sys.executable, "-m", "satqkd", "sweep", str(part), "--quiet", "-o", str(o)]
                                for part, o in zip(parts, outs)]
                else:
                    commands = [[sys.executable, "-m", "satqkd", "sweep", str(path), "--quiet", "-o",
                                 str(Path(tmp) / f"{name}-{r}"), *extras[name]]]
                load = _load_1min()
                speeds = _core_speeds()
                cluster_before = _tree_cpu_s([p.pid for p in procs]) if name == "scheduler" else 0.0
                cpu_before = _children_cpu_s()
                _pause(procs, paused=name != "scheduler")
                busy_before = _machine_busy_s()
                a = time.perf_counter()
                try:
                    _run_together(commands)
                finally:
                    wall_s = time.perf_counter() - a
                    busy_s = _machine_busy_s() - busy_before
                    _pause(procs, paused=False)
                _reap({p.pid for p in procs})
                speeds += _core_speeds()
                cpu_s = _children_cpu_s() - cpu_before
                if name == "scheduler":
                    cpu_s += _tree_cpu_s([p.pid for p in procs]) - cluster_before
                # What the rest of the machine (the neighbours) used meanwhile, in cores.
                others = max(busy_s - cpu_s, 0.0) / wall_s
                serial_csv = Path(tmp, "serial-0", "sweep.csv")
                if name == "split":
                    same = _same_rows(serial_csv, [o / "sweep.csv" for o in outs])
                else:
                    same = Path(tmp, f"{name}-{r}", "sweep.csv").read_bytes() == serial_csv.read_bytes()
                runs[name].append({"wall_s": round(wall_s, 2), "cpu_s": round(cpu_s, 2), "load_1min": load,
                                   "others_cores": round(others, 2), "core_spread": _spread(speeds),
                                   "identical": same})
                print(f"CLI round {r + 1}: {name:9s} {wall_s:5.1f} s wall, {cpu_s:5.1f} s CPU (load {load:.2f} before; "
                      f"others used {others:.2f} cores meanwhile; cores' speeds {_spread(speeds):.2f}x apart)"
                      f"{'' if same else '  sweep.csv DIFFERS'}", flush=True)
    finally:
        _stop(procs)
    out = {"cli_repeat": args.cli_repeat, "cli_subreaper": subreaper, "cli_runs": runs,
           "cli_identical": all(run["identical"] for rs in runs.values() for run in rs)}
    serial_s = min(run["wall_s"] for run in runs["serial"])
    serial_cpu_s = min(run["cpu_s"] for run in runs["serial"])
    for name in ("workers", "scheduler", "split"):
        best = min(run["wall_s"] for run in runs[name])
        out["cli_serial_s"] = serial_s
        out[f"cli_{name}_s"] = best
        out[f"cli_{name}_speedup"] = round(serial_s / best, 2)
        # Each round's serial run against the parallel run beside it.
        out[f"cli_{name}_pair_speedups"] = [round(s["wall_s"] / p["wall_s"], 2)
                                            for s, p in zip(runs["serial"], runs[name])]
        cpu = min(run["cpu_s"] for run in runs[name])
        out[f"cli_{name}_cpu_s"] = cpu
        out[f"cli_{name}_cpu_bound"] = round(serial_cpu_s / (cpu / args.workers), 2)
    # The same from the runs whose cores ran at one speed (probed before and after each run).
    even = {name: [run for run in rs if run["core_spread"] <= EVEN_SPREAD] for name, rs in runs.items()}
    out["cli_even_runs"] = {name: len(rs) for name, rs in even.items()}
    if even["serial"]:
        for name in ("workers", "scheduler", "split"):
            if even[name]:
                out[f"cli_{name}_speedup_even"] = round(min(run["wall_s"] for run in even["serial"])
                                                        / min(run["wall_s"] for run in even[name]), 2)
    out["cli_serial_cpu_s"] = serial_cpu_s
    # The parallel commands against the split: their time over its (1.0: as fast as this machine's cores
    # run the same combinations with nothing shared; below 1, what the cluster costs).
    for name in ("workers", "scheduler"):
        out[f"cli_{name}_of_split"] = round(out["cli_split_s"] / out[f"cli_{name}_s"], 3)
        out[f"cli_{name}_of_split_pairs"] = [round(s["wall_s"] / p["wall_s"], 3)
                                             for s, p in zip(runs["split"], runs[name])]
    out["cli_speedup"] = out["cli_workers_speedup"]  # the name earlier versions printed
    out["cli_scheduler_first_s"] = runs["scheduler"][0]["wall_s"]
    if args.cli_repeat > 1:
        warm = min(run["wall_s"] for run in runs["scheduler"][1:])
        out["cli_scheduler_warm_speedup"] = round(serial_s / warm, 2)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--cli", action="store_true", help="also time the satqkd sweep command as processes")
    ap.add_argument("--cli-only", action="store_true", help="time the commands only (implies --cli)")
    ap.add_argument("--cli-repeat", type=int, default=None, help="rounds of the commands (default: --repeat)")
    args = ap.parse_args()
    args.cli = args.cli or args.cli_only
    args.cli_repeat = args.repeat if args.cli_repeat is None else args.cli_repeat
    raw = yaml.safe_load((ROOT / "configs" / "sweep-example.yaml").read_text())
    raw["days"] = args.days
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep-year.yaml"
        # The example's order of keys (height_km, then aperture_m): the combinations in its order.
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        out = {"days": args.days, "combinations": 4, "workers": args.workers, "repeat": args.repeat,
               "cpus": os.cpu_count()}
        if not args.cli_only:
            out.update(in_process(path, args))
            print(f"in process: cluster start {out['cluster_start_s']:.1f} s; serial {out['serial_s']:.1f} s, "
                  f"{args.workers} workers {out['parallel_s']:.1f} s: {out['speedup']:.2f}x "
                  f"(first run with the start: {out['speedup_first_with_start']:.2f}x); tables identical: {out['identical']}")
            print(f"CPU time: serial {out['serial_cpu_s']:.1f} s, workers + client {out['parallel_cpu_s']:.1f} s "
                  f"({out['cpu_ratio']:.2f}x); busiest worker {out['busiest_worker_cpu_s']:.1f} s: "
                  f"{out['cpu_speedup']:.2f}x with a core per process (the load-independent figure)")
        if args.cli:
            out.update(as_processes(path, args, tmp))
            for name, flag in (("workers", f"--workers {args.workers}"), ("scheduler", "--scheduler")):
                print(f"CLI: serial {out['cli_serial_s']:.1f} s, {flag} {out[f'cli_{name}_s']:.1f} s: "
                      f"{out[f'cli_{name}_speedup']:.2f}x (pairs {out[f'cli_{name}_pair_speedups']}); CPU: serial "
                      f"{out['cli_serial_cpu_s']:.1f} s, {flag} {out[f'cli_{name}_cpu_s']:.1f} s in all processes "
                      f"(bound with {args.workers} free cores {out[f'cli_{name}_cpu_bound']:.2f}x)")
            print(f"CLI: the sweep as {args.workers} serial commands at once (the combinations dealt out: what "
                  f"{args.workers} cores give with nothing shared) {out['cli_split_s']:.1f} s: "
                  f"{out['cli_split_speedup']:.2f}x (pairs {out['cli_split_pair_speedups']}); against it, "
                  f"--workers {args.workers} {out['cli_workers_of_split']:.3f} (pairs {out['cli_workers_of_split_pairs']}), "
                  f"--scheduler {out['cli_scheduler_of_split']:.3f} (pairs {out['cli_scheduler_of_split_pairs']})")
            evens = ", ".join(f"{flag} {out[f'cli_{name}_speedup_even']:.2f}x" for name, flag in
                              (("workers", f"--workers {args.workers}"), ("scheduler", "--scheduler"),
                               ("split", "split"))
                              if f"cli_{name}_speedup_even" in out)
            print(f"CLI: runs with the cores at one speed (within {EVEN_SPREAD - 1:.0%}) {out['cli_even_runs']}: "
                  f"{evens or 'too few to compare'}")
            print(f"CLI: sweep.csv identical to the serial run's: {out['cli_identical']}; load averages before the runs "
                  f"{sorted(run['load_1min'] for rs in out['cli_runs'].values() for run in rs)}; cores the neighbours "
                  f"used during them {sorted(run['others_cores'] for rs in out['cli_runs'].values() for run in rs)}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Speed of the network stage on a large synthetic network (not a test).

``python benchmarks/bench_network_synthetic.py`` builds a seeded synthetic
network (``benchmarks/synthetic_network.py``: 3,000 nodes -- 1,800 relays
and 1,200 user sites -- 9,000 fibre links, 600 demand pairs asking for key
every hour) and simulates 30 days: 432 k requests, hourly snapshots of
every pool.  Timed in this process, wall and CPU:

* **build** -- the network block validated, the fibre key of every link;
* **simulation** -- :func:`satqkd.network.simulate` (events, routing,
  relay, tables), of which **candidate routes** (the k = 3 shortest simple
  paths per pair, Yen's algorithm in scipy) is timed separately;
* peak resident memory of the whole process.

Baseline (same process, same network): networkx's
``shortest_simple_paths`` per pair -- how the candidates were computed
before -- timed on ``--baseline-pairs`` pairs (default 12) and scaled to
the 600; the baseline's run time is ours with our candidate time replaced
by its scaled one.  Target: build + simulation <= 60 s and <= 2 GB.

Prints readable lines, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import networkx as nx
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from synthetic_network import synthetic_spec  # noqa: E402

from satqkd.network import simulate  # noqa: E402
from satqkd.network.routing import Router  # noqa: E402
from satqkd.network.topology import NetworkSpec, build_network  # noqa: E402


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def networkx_candidates(graph, kinds, a, b, k):
    """The old way: networkx's Yen on a view without the other users."""
    hide = {n for n, kind in kinds.items() if kind == "user"} - {a, b}
    view = nx.subgraph_view(graph, filter_node=lambda n: n not in hide)
    return list(itertools.islice(nx.shortest_simple_paths(view, a, b, weight="length_km"), k + 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--baseline-pairs", type=int, default=12)
    args = ap.parse_args()

    spec, t_spec, _ = _timed(lambda: synthetic_spec(args.seed))
    net, t_build, c_build = _timed(lambda: build_network(NetworkSpec.model_validate(spec), {}, [], "synthetic"))
    print(f"synthetic network (seed {args.seed}): {len(net.nodes)} nodes, {len(net.links)} links, {len(net.demands)} pairs; "
          f"generated in {t_spec:.2f} s, built in {t_build:.2f} s wall ({c_build:.2f} s CPU)")

    spent = {"s": 0.0, "cpu_s": 0.0, "pairs": 0}
    original = Router.candidates

    def timed_candidates(self, a, b):
        if (a, b) in self._paths:
            return original(self, a, b)
        t, c = time.perf_counter(), time.process_time()
        out = original(self, a, b)
        spent["s"] += time.perf_counter() - t
        spent["cpu_s"] += time.process_time() - c
        spent["pairs"] += 1
        return out

    Router.candidates = timed_candidates
    try:
        res, t_sim, c_sim = _timed(lambda: simulate(net, None, pd.Timestamp("2021-05-20T00:00:00Z"), args.days * 86400.0))
    finally:
        Router.candidates = original
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    status = res.requests["status"].value_counts().to_dict()
    print(f"simulation, {args.days:g} days, {len(res.requests)} requests: {t_sim:.1f} s wall ({c_sim:.1f} s CPU); "
          f"candidate routes of {spent['pairs']} pairs {spent['s']:.1f} s ({spent['cpu_s']:.1f} s CPU); peak RSS {rss_gb:.2f} GB")
    print("requests:", status)

    # Baseline: networkx per pair on a sample, scaled.
    kinds = dict(zip(net.nodes["node"], net.nodes["kind"]))
    sample = list(dict.fromkeys((d.a, d.b) for d in net.demands))[: args.baseline_pairs]
    router = Router(net.graph, len(net.links), net.candidate_paths, kinds)
    _, t_ours_sample, _ = _timed(lambda: [router.candidates(a, b) for a, b in sample])
    nx_paths, t_nx_sample, _ = _timed(lambda: [networkx_candidates(net.graph, kinds, a, b, net.candidate_paths) for a, b in sample])
    same = sum(
        [round(sum(net.graph[u][v]["length_km"] for u, v in zip(p[:-1], p[1:])), 6) for p in ps[: net.candidate_paths]]
        == [round(sum(net.graph[u][v]["length_km"] for u, v in zip(r.split(">")[:-1], r.split(">")[1:])), 6)
            for r in router.candidates(a, b)[0]]
        for (a, b), ps in zip(sample, nx_paths))
    per_pair_nx = t_nx_sample / len(sample)
    base_candidates = per_pair_nx * spent["pairs"]
    base_total = t_build + t_sim - spent["s"] + base_candidates
    ours_total = t_build + t_sim
    print(f"candidate routes per pair: ours {t_ours_sample / len(sample) * 1e3:.1f} ms, networkx {per_pair_nx * 1e3:.0f} ms "
          f"({per_pair_nx / (t_ours_sample / len(sample)):.0f}x), same route lengths for {same} of {len(sample)} pairs")
    print(f"build + simulation: ours {ours_total:.1f} s; with networkx per pair {base_total:.0f} s (scaled from {len(sample)} pairs); "
          f"{base_total / ours_total:.1f}x")
    print(json.dumps({
        "nodes": int(len(net.nodes)), "links": int(len(net.links)), "pairs": len(net.demands), "days": args.days,
        "requests": int(len(res.requests)), "build_s": round(t_build, 2), "simulation_s": round(t_sim, 2),
        "simulation_cpu_s": round(c_sim, 2), "candidates_s": round(spent["s"], 2), "candidates_cpu_s": round(spent["cpu_s"], 2),
        "total_s": round(ours_total, 2), "total_cpu_s": round(c_build + c_sim, 2),
        "peak_rss_gb": round(rss_gb, 3), "baseline_networkx_per_pair_s_scaled": round(base_total, 1),
        "candidates_speedup": round(per_pair_nx / (t_ours_sample / len(sample)), 1),
        "speedup_vs_baseline": round(base_total / ours_total, 2), "target_s": 60.0, "target_gb": 2.0,
        "load_average": os.getloadavg()[0],
    }))


if __name__ == "__main__":
    main()

"""Speed of the network stage (not a test; run ``python benchmarks/bench_network.py``).

A year of the shipped China network (``configs/china-network.yaml`` with
``days: 365``: 209 links, 144 user sites, 17 user pairs each asking for key
once an hour, 149 k requests; Micius passes over Nanshan and Xinglong), with
the scenario's weather (one seeded weather year for the simulation, 1,000
for the capacity answers).  The only element set of the 2021 orbit is
propagated over the year (:func:`year_scenario` allows stale elements: the
year's pass pattern, not its exact times, is what a network plan needs).

Timed separately, all in this process:

* **key stage** -- the year's passes and the finite key of each
  (``satqkd.pipeline.run`` without the network): the input of the network
  stage.  Skipped with ``--passes FILE`` (a ``passes.csv`` of an earlier
  run), which ``--save-passes FILE`` writes.
* **network build** -- the network block validated and every fibre link's
  key from the key-rate engine (``load_scenario``; includes reading the YAML).
* **network simulation** -- :func:`satqkd.network.simulate` given the
  year's pass table: schedule of the one terminal, every pool through the
  year, every request routed and relayed, hourly snapshots of every pool.
  This is the figure of the issue's target (<= 10 s).  Wall and CPU time.
* **capacity** -- per pair alone and all demands at once (linear programs),
  over the 1,000 weather years; baseline: the same programs solved for each
  weather year (``--lp-years`` of them, scaled), in this process.
* **outputs** -- rendering pools.csv (1.8 M rows), requests.csv, links.csv
  and the HTML report (not written to disk).
* **end to end** = key stage + build + simulation + capacity + outputs.

Baseline (same process, same network, the first ``--baseline-days`` days):
the same simulation with a router that runs networkx Dijkstra over the links
able to serve for **every** request, without candidate routes or a cache:
what the simulation would cost "calling networkx per request".  Its time per
request is compared with ours on the same days and scaled to the year.

Prints readable lines, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import networkx as nx
import numpy as np
import pandas as pd

from satqkd.config import load_scenario
from satqkd.network import default_pairs, simulate
import importlib

from satqkd.network import routing
from satqkd.network.report import network_files
from satqkd.pipeline import run as run_pipeline

simulate_module = importlib.import_module("satqkd.network.simulate")
SCENARIO = os.path.join(os.path.dirname(__file__), "..", "configs", "china-network.yaml")


class DijkstraEveryRequest(routing.Router):
    """The baseline router: no candidates, no cache, networkx on every request."""

    def candidates(self, a, b):
        return [], [], False

    def fallback(self, a, b, servable):
        hide = {n for n, u in zip(self.names, self._user) if u} - {a, b}
        view = nx.subgraph_view(self.graph, filter_node=lambda n: n not in hide,
                                filter_edge=lambda u, v: servable[self.graph[u][v]["link"]])
        try:
            path = nx.shortest_path(view, a, b, weight="length_km")
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return None
        return ">".join(path), np.array([self.graph[u][v]["link"] for u, v in zip(path[:-1], path[1:])], dtype=np.intp)


def year_scenario(days: float = 365.0):
    """The shipped network scenario over ``days`` from its start, with stale elements allowed."""
    sc = load_scenario(SCENARIO)
    sc.end = sc.start.ts.tt_jd(sc.start.tt + days)
    sc.allow_stale_elements = True
    return sc


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--passes", help="passes.csv of an earlier run (skips the key stage)")
    ap.add_argument("--save-passes", help="write the key stage's passes.csv here")
    ap.add_argument("--baseline-days", type=float, default=7.0)
    ap.add_argument("--lp-years", type=int, default=20, help="weather years solved one by one for the capacity baseline")
    args = ap.parse_args()

    sc, t_build, _ = _timed(lambda: year_scenario(args.days))
    network, sc.network = sc.network, None
    start = pd.Timestamp(sc.start.utc_datetime())
    span_s = args.days * 86400.0
    t_key = None
    if args.passes:
        passes = pd.read_csv(args.passes, parse_dates=["usable_start_utc", "usable_end_utc"])
    else:
        res, t_key, _ = _timed(lambda: run_pipeline(sc))
        passes = res.passes
        if args.save_passes:
            passes.to_csv(args.save_passes, index=False)
    print(f"key stage: {len(passes)} passes" + (f" in {t_key:.1f} s" if t_key is not None else " (read from file)"))
    print(f"network build (YAML + fibre key of {len(network.links)} links): {t_build:.2f} s")

    from satqkd.weather import weather_stage
    from satqkd.schedule import schedule_stage

    flown = schedule_stage(sc, weather_stage(sc, passes))  # the seeded weather year, scheduled
    res, t_sim, c_sim = _timed(lambda: simulate(network, flown, start, span_s))
    n_req = len(res.requests)
    print(f"network simulation, {args.days:g} days, {len(network.links)} links, {n_req} requests: "
          f"{t_sim:.2f} s wall, {c_sim:.2f} s CPU")
    from satqkd.network import capacity as capmod
    from satqkd.weather import scenario_models

    models, longitudes = scenario_models(sc)

    def capacity():
        samples, ceiling = capmod.weather_store_samples(passes, network, start, span_s, models, longitudes,
                                                        years=sc.weather.years, seed=sc.weather.seed)
        joint = {}
        table = capmod.capacity_table(network, res.links, default_pairs(network), passes=res.passes, span_s=span_s,
                                      store_samples=samples, store_clear_sky=ceiling, joint=joint)
        return table, joint, samples, ceiling

    (cap, joint, samples, ceiling), t_cap, _ = _timed(capacity)
    res.capacity, res.joint = cap, joint
    # Baseline: every weather year's programs solved directly (no shared bounds), first --lp-years years.
    n_lp = min(args.lp_years, len(samples))

    def direct():
        for y in range(n_lp):
            capmod.capacity_table(network, res.links, default_pairs(network), passes=res.passes, span_s=span_s,
                                  store_samples=samples[y:y + 1], store_clear_sky=ceiling)

    _, t_direct, _ = _timed(direct)
    t_direct_all = t_direct / max(n_lp, 1) * len(samples)
    print(f"capacity over {len(samples)} weather years: {t_cap:.2f} s; solved year by year: {t_direct:.2f} s for {n_lp} "
          f"years, {t_direct_all:.0f} s scaled ({t_direct_all / t_cap:.0f}x)")
    _, t_out, _ = _timed(lambda: network_files(res, "/nonexistent", title="bench"))
    print(f"capacity {t_cap:.3f} s, outputs rendered {t_out:.2f} s ({len(res.pools)} pool rows)")
    status = res.requests["status"].value_counts().to_dict()
    print("requests:", status)
    row = cap.iloc[0]
    print(f"{row['a']} - {row['b']}: {row['capacity_bits_per_day'] / 1e6:.2f} Mbit/day expected with weather "
          f"(P10-P90 {row['capacity_p10_bits_per_day'] / 1e6:.2f}-{row['capacity_p90_bits_per_day'] / 1e6:.2f}), "
          f"clear-sky ceiling {row['capacity_clear_sky_bits_per_day'] / 1e6:.2f}, limited by {row['bottleneck']}; "
          f"all demands at once {100 * joint['share']:.0f} % (clear sky {100 * joint['share_clear_sky']:.0f} %)")

    # Baseline and ours on the same first days.
    bdays = min(args.baseline_days, args.days)
    ours_b, t_ours_b, _ = _timed(lambda: simulate(network, flown, start, bdays * 86400.0))
    original = simulate_module.Router
    simulate_module.Router = DijkstraEveryRequest
    try:
        base_b, t_base_b, _ = _timed(lambda: simulate(network, flown, start, bdays * 86400.0))
    finally:
        simulate_module.Router = original
    same = (base_b.requests["status"] == ours_b.requests["status"]).mean()
    nb = max(len(ours_b.requests), 1)
    base_year = t_base_b / nb * n_req
    print(f"baseline (networkx Dijkstra per request), first {bdays:g} days: {t_base_b:.2f} s vs ours {t_ours_b:.2f} s "
          f"({t_base_b / t_ours_b:.1f}x); scaled to the run: {base_year:.0f} s; same outcome for {100 * same:.1f} % of requests")

    end_to_end = (t_key or 0.0) + t_build + t_sim + t_cap + t_out
    print(f"end to end: {end_to_end:.1f} s" + ("" if t_key is not None else " (without the key stage)"))
    print(json.dumps({
        "days": args.days, "links": int(len(network.links)), "requests": int(n_req), "passes": int(len(passes)),
        "network_simulation_s": round(t_sim, 3), "network_simulation_cpu_s": round(c_sim, 3),
        "network_build_s": round(t_build, 3), "capacity_s": round(t_cap, 4), "outputs_s": round(t_out, 3),
        "capacity_weather_years": int(len(samples)), "capacity_year_by_year_s_scaled": round(t_direct_all, 2),
        "capacity_speedup_vs_year_by_year": round(t_direct_all / t_cap, 1),
        "key_stage_s": None if t_key is None else round(t_key, 2), "end_to_end_s": round(end_to_end, 2),
        "baseline_dijkstra_per_request_s_scaled": round(base_year, 1), "speedup_vs_baseline": round(base_year / t_sim, 1),
        "target_s": 10.0, "load_average": os.getloadavg()[0],
    }))


if __name__ == "__main__":
    main()

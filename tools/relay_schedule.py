"""Compare the contention rules for the satellite relay on the shipped China network.

    python tools/relay_schedule.py --days 365 [--passes passes.csv]

Runs the key stage of ``configs/china-network.yaml`` over ``--days`` (or
reads a ``passes.csv`` of an earlier run, e.g. written by
``python benchmarks/bench_network.py --save-passes FILE``), schedules the
passes with the key-greedy rule (the default) and with ``rule: relay``
(:func:`satqkd.schedule.relay`), and runs the network simulation on each.
Prints, per rule: the flown key per station, what the relay can use
(the smaller station's key), what the relay actually gave (demand-driven),
and the Urumqi pairs' share of requests served.  The last line is JSON.
Clear sky (no weather draw), as the shipped scenario states it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from satqkd.config import load_scenario  # noqa: E402
from satqkd.network import simulate  # noqa: E402
from satqkd.pipeline import run as run_pipeline  # noqa: E402
from satqkd.schedule import schedule  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--passes", help="passes.csv of an earlier run of the scenario (skips the key stage)")
    args = ap.parse_args(argv)
    sc = load_scenario(ROOT / "configs" / "china-network.yaml")
    sc.end = sc.start.ts.tt_jd(sc.start.tt + args.days)
    sc.allow_stale_elements = True  # one element set for a year: the comparison, not the dates, matters
    network, sc.network = sc.network, None
    start = pd.Timestamp(sc.start.utc_datetime())
    span_s = args.days * 86400.0
    if args.passes:
        passes = pd.read_csv(args.passes, parse_dates=["usable_start_utc", "usable_end_utc"])
    else:
        passes = run_pipeline(sc).passes
    passes = passes.drop(columns=[c for c in ("scheduled", "not_scheduled_reason") if c in passes])
    pairs = [(sl.satellite, *sl.stations) for sl in network.satellites]
    if network.outages:  # stations the network takes down fly nothing, under either rule
        from satqkd.network.outages import station_down
        from satqkd.network.satellite import seconds_since

        passes = passes.assign(station_down=station_down(
            network.outages, passes["station"], seconds_since(passes["usable_start_utc"], start),
            seconds_since(passes["usable_end_utc"], start), span_s, network.seed))
    out = {"days": args.days, "passes": int(len(passes))}
    for rule in ("greedy", "relay"):
        sched = schedule(passes, rule, relay_pairs=pairs)
        flown = sched[sched["scheduled"]]
        per = {s: float(flown.loc[flown["station"] == s, "key_bits"].sum()) for s in ("Nanshan", "Xinglong")}
        res = simulate(network, sched, start, span_s)
        req = res.requests[res.requests["a"].str.startswith("Urumqi")]
        served = float(req["status"].isin(["served", "waited"]).mean())
        relayed = float(res.relays["bits"].sum())
        usable = min(per.values())
        print(f"{rule:>6}: flown Nanshan {per['Nanshan'] / 1e6:,.1f} Mbit, Xinglong {per['Xinglong'] / 1e6:,.1f} Mbit; "
              f"the relay can use {usable / 1e6:,.1f} Mbit ({usable / 1e6 / args.days:.2f} Mbit/day); "
              f"relayed on demand {relayed / 1e6:,.2f} Mbit; Urumqi requests served {100 * served:.1f} %")
        out[rule] = {"nanshan_bits": per["Nanshan"], "xinglong_bits": per["Xinglong"], "relay_usable_bits": usable,
                     "relayed_bits": relayed, "urumqi_served_share": round(served, 4)}
    gain = out["relay"]["relay_usable_bits"] - out["greedy"]["relay_usable_bits"]
    print(f"rule: relay gives the relay {gain / 1e6:+,.1f} Mbit over {args.days:g} days "
          f"({100 * gain / max(out['greedy']['relay_usable_bits'], 1.0):+.1f} %)")
    out["relay_gain_bits"] = gain
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""The trusted-relay network stage: fibre and satellite key in one network of key pools.

This is the last stage of the pipeline (orbits -> passes -> link -> keyrate
-> **network**).  A scenario's ``network:`` block names nodes, fibre links
and satellite links; the passes of the key stage feed the satellite links.

* :mod:`~satqkd.network.topology` -- :class:`NetworkSpec` (the settings the
  YAML fills) and :func:`build_network` -> :class:`Network` (nodes, links,
  graph);
* :mod:`~satqkd.network.fibre` -- fibre equipment presets and the key of a
  fibre span from :mod:`satqkd.keyrate`, in finite-key blocks;
* :mod:`~satqkd.network.pools` -- key pools with capacity, minimum,
  threshold and the states ready / warning / charging / empty; ETSI GS QKD
  014 status;
* :mod:`~satqkd.network.satellite` -- the satellite as a trusted relay:
  on-board stores, XOR relay, one quantum terminal;
* :mod:`~satqkd.network.entangled` -- entanglement links (a satellite's
  pair source, no trusted node) and the comparison with the trusted relay;
* :mod:`~satqkd.network.demand` -- user demands turned into requests;
* :mod:`~satqkd.network.routing` -- key-aware routes over trusted relays;
* :mod:`~satqkd.network.outages` -- links and nodes down (windows or
  MTBF/MTTR), cut or without new key;
* :mod:`~satqkd.network.simulate` -- the event-driven simulation (order of
  service, priorities, admission, multipath, relay on demand);
  :class:`~satqkd.network.simulate.Simulation` keeps its pools readable at
  any instant;
* :mod:`~satqkd.network.capacity` -- end-to-end key per day (max-flow) and
  bottleneck links;
* :mod:`~satqkd.network.report` -- tables and the offline HTML report.

:func:`run_network` runs all of it for a loaded scenario and its pass table.
"""

from __future__ import annotations

import pandas as pd

from .capacity import capacity_table, pair_capacity
from .fibre import FIBRE_PRESETS, FibreSystem, fibre_key
from .pools import PoolSettings, Pools, etsi_status
from .simulate import NetworkResults, Simulation, simulate
from .topology import Network, NetworkSpec, build_network

__all__ = [
    "NetworkSpec", "Network", "build_network", "FibreSystem", "FIBRE_PRESETS", "fibre_key", "PoolSettings",
    "Pools", "etsi_status", "NetworkResults", "Simulation", "simulate", "capacity_table", "pair_capacity", "run_network",
    "default_pairs",
]


def default_pairs(network: Network) -> list:
    """The pairs of the capacity table: those the scenario lists, else one per demand pair."""
    if network.capacity_pairs:
        return [tuple(p) for p in network.capacity_pairs]
    return list(dict.fromkeys((d.a, d.b) for d in network.demands))


def run_network(scenario, passes: pd.DataFrame | None, dual=None) -> NetworkResults:
    """Build the scenario's network, simulate it over the scenario's span, add the capacity table.

    ``dual`` (:class:`satqkd.entanglement.DualResults`) feeds the entanglement links."""
    from .entangled import attach_dual_key

    network = scenario.network
    if (network.links["kind"] == "entanglement").any():
        from ..entanglement import DUAL_SUMMARY_COLUMNS

        summary = dual.summary if dual is not None else pd.DataFrame(columns=DUAL_SUMMARY_COLUMNS)
        network = attach_dual_key(network, summary, f"{scenario.path}: network")
    start = pd.Timestamp(scenario.start.utc_datetime())
    span_s = (scenario.end.tt - scenario.start.tt) * 86400.0
    results = simulate(network, passes, start, span_s)
    results.capacity = capacity_table(network, results.links, default_pairs(network))
    return results

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
* :mod:`~satqkd.network.capacity` -- key per day per pair alone and for all
  demands at once (linear programs), with weather, and the bottlenecks;
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


def run_network(scenario, passes: pd.DataFrame | None, dual=None, *, weather: bool | None = None) -> NetworkResults:
    """Build the scenario's network, simulate it over the scenario's span, add the capacity table.

    ``dual`` (:class:`satqkd.entanglement.DualResults`) feeds the entanglement
    links.  The simulation runs on ``passes`` as given (one weather draw when
    the pipeline drew one).  The capacity answers run over the scenario's
    weather years (its ``weather:`` block: ``years``, ``seed``) when
    ``weather`` is True, or None and the scenario has a ``weather:`` block;
    else clear sky.  ``results.joint`` gets the network-wide concurrent share."""
    from ..parallel import fork_call
    from .entangled import attach_dual_key

    network = scenario.network
    if (network.links["kind"] == "entanglement").any():
        from ..entanglement import DUAL_SUMMARY_COLUMNS

        summary = dual.summary if dual is not None else pd.DataFrame(columns=DUAL_SUMMARY_COLUMNS)
        network = attach_dual_key(network, summary, f"{scenario.path}: network")
    start = pd.Timestamp(scenario.start.utc_datetime())
    span_s = (scenario.end.tt - scenario.start.tt) * 86400.0
    sim = Simulation(network, passes, start, span_s)
    # The capacity answers need only what the simulation knows before it runs (link
    # rates, the flown passes): they are computed in a forked process meanwhile.
    links_before, passes_before = sim.links_table(), sim.passes_table()
    job = fork_call(lambda _: _capacity(scenario, network, passes, links_before, passes_before, start, span_s, weather),
                    name="the capacity answers")
    try:
        results = sim.run_until(span_s).results()
        results.capacity, results.joint = job.result()
    finally:
        job.close()
    return results


def _capacity(scenario, network, passes, links, flown, start, span_s, weather):
    """``(capacity table, joint share)`` of :func:`run_network`."""
    from .. import schedule as schedulelib, weather as weatherlib
    from .capacity import satellite_stores, weather_store_samples

    joint: dict = {}
    settings = getattr(scenario, "weather", None)
    use_weather = settings is not None if weather is None else bool(weather)
    samples, ceiling = None, None
    note = ("clear sky (no satellite link)" if use_weather else
            "clear sky (no weather: block)" if weather is None else "clear sky (weather off)")
    if use_weather and network.satellites:
        settings = settings or weatherlib.WeatherSettings()
        models, longitudes = weatherlib.scenario_models(scenario)
        sched = getattr(scenario, "schedule", None) or schedulelib.ScheduleSettings()
        samples, ceiling = weather_store_samples(passes, network, start, span_s, models, longitudes, years=settings.years,
                                        seed=settings.seed, station_repoint_s=sched.station_repoint_s,
                                        satellite_repoint_s=sched.satellite_repoint_s)
        clear = sorted({st for _, st in satellite_stores(network)} - set(models))
        note = f"{settings.years} weather draws (seed {settings.seed})" + (
            f"; no cloud model, always clear: {', '.join(clear)}" if clear else "")
    table = capacity_table(network, links, default_pairs(network), passes=flown, span_s=span_s,
                           store_samples=samples, store_clear_sky=ceiling, weather_note=note, joint=joint)
    return table, joint

"""The network over time: key pools fed by fibre blocks and satellite passes, drained by requests.

:func:`simulate` is event-driven.  Events are the satellite passes' key
arrivals (at the end of each flown pass's usable window), the requests
(:mod:`satqkd.network.demand`) and their retries, and the snapshots of every
pool written to ``pools.csv`` (every ``record_every_s``).  Events at the same
instant are handled together, in this order: satellite key (and the relay
command it triggers), requests in request order, snapshot.  Fibre key
needs no events: each pool is brought up to date at every event time
(:meth:`~satqkd.network.pools.Pools.advance`), block by block.

A request is served on the route :class:`~satqkd.network.routing.Router`
picks, consuming its bits from every pool of the route; otherwise it waits,
retried every ``retry_every_s``, and fails once ``timeout_s`` has passed.
Its status is ``served`` (first try), ``waited`` (served later),
``failed`` (timed out) or ``pending`` (still waiting when the span ended).  Nothing here is random: the only draw (Poisson request times)
happens in :func:`~satqkd.network.demand.make_requests` from the seed.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .demand import make_requests
from .pools import STATES, Pools, etsi_status
from .routing import Router
from .satellite import SatelliteStores, schedule_passes
from .topology import Network

__all__ = ["NetworkResults", "simulate", "NetworkState", "state_at"]


@dataclass
class NetworkResults:
    """What the network stage produces (tables ready for CSV).

    ``links``: one row per link with its key rate, daily volume and bit
    balance; ``pools``: the level and state of every pool (and every
    on-board store) at each snapshot; ``requests``: one row per request;
    ``passes``: the satellite passes with the key each left on board and
    the key each relay command gave; ``stores``: the on-board stores' bit
    balance; ``status``: ETSI GS QKD 014 status of every pool at the end;
    ``capacity``: filled by :func:`satqkd.network.capacity.capacity_table`.
    """

    network: Network
    start: pd.Timestamp
    span_s: float
    links: pd.DataFrame
    pools: pd.DataFrame
    requests: pd.DataFrame
    passes: pd.DataFrame
    stores: pd.DataFrame
    status: list
    capacity: pd.DataFrame = field(default_factory=pd.DataFrame)


def simulate(network: Network, passes: pd.DataFrame | None, start, span_s: float) -> NetworkResults:
    """Run the network from ``start`` (UTC) for ``span_s`` seconds.

    ``passes`` is the key stage's pass table (``satellite``, ``station``,
    ``usable_start_utc``, ``usable_end_utc``, ``key_bits``, optionally
    ``scheduled`` and ``clear``; see :mod:`satqkd.network.satellite`).
    """
    start = pd.Timestamp(start)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    links = network.links
    n = len(links)
    pools = Pools(network.pools, links["block_bits"].to_numpy(), links["block_s"].to_numpy())
    everything = np.arange(n)

    # Satellite: stores, the pass schedule, the relay pairs each pass triggers.
    store_keys, store_caps, pairs_of = [], [], {}
    for sl in network.satellites:
        for st in sl.stations:
            if (sl.satellite, st) not in store_keys:
                store_keys.append((sl.satellite, st))
                store_caps.append(sl.store_capacity_bits)
        pairs_of.setdefault(sl.satellite, []).append(sl)
    stores = SatelliteStores(store_keys, store_caps)
    sched = schedule_passes(passes, network.satellites, start)
    flown = np.flatnonzero(sched["served"].astype(bool).to_numpy() & (sched["end_s"] >= 0).to_numpy() & (sched["end_s"] < span_s).to_numpy())
    p_sat, p_sta, p_key = sched["satellite"].tolist(), sched["station"].tolist(), sched["key_bits"].tolist()
    relayed_bits = np.zeros(len(sched))
    store_after = np.full(len(sched), np.nan)

    requests = make_requests(network.demands, span_s, network.seed)
    n_req = len(requests)
    req_t = requests["t_s"].to_numpy()
    req_bits = requests["bits"].to_numpy()
    req_timeout = requests["timeout_s"].to_numpy()
    req_a = requests["a"].to_numpy()
    req_b = requests["b"].to_numpy()
    served_t = np.full(n_req, np.nan)
    status = np.full(n_req, "failed", dtype=object)
    route_of = np.full(n_req, "", dtype=object)
    hops = np.zeros(n_req, dtype=np.int64)
    attempts = np.zeros(n_req, dtype=np.int64)

    snap_t = np.arange(0.0, span_s, network.record_every_s)
    snap_t = np.append(snap_t, span_s) if snap_t[-1] < span_s else snap_t
    snap_level = np.empty((snap_t.size, n))
    snap_state = np.empty((snap_t.size, n), dtype=np.int8)
    snap_store = np.empty((snap_t.size, len(store_keys)))

    kinds = {n_: k for n_, k in zip(network.nodes["node"], network.nodes["kind"])}
    router = Router(network.graph, n, network.candidate_paths, kinds)

    # Main events, sorted: (time, kind, payload); kind 0 pass, 1 request, 2 snapshot.
    ev_t = np.concatenate([sched.loc[flown, "end_s"].to_numpy(dtype=float) if len(flown) else np.empty(0), req_t, snap_t])
    ev_k = np.concatenate([np.zeros(len(flown), np.int8), np.ones(n_req, np.int8), np.full(snap_t.size, 2, np.int8)])
    ev_p = np.concatenate([np.asarray(flown, dtype=np.int64), np.arange(n_req), np.arange(snap_t.size)])
    order = np.lexsort((ev_p, ev_k, ev_t))
    ev_t, ev_k, ev_p = ev_t[order].tolist(), ev_k[order].tolist(), ev_p[order].tolist()
    retries: list = []  # heap of (time, request)
    level, minimum, threshold = pools.level, pools.minimum, pools.threshold

    # Per candidate route: its links with their minimum and threshold (fixed settings).
    routes: dict = {}

    def candidates(a, b):
        if (a, b) not in routes:
            paths, idxs, complete = router.candidates(a, b)
            routes[(a, b)] = ([(p, x, minimum[x], threshold[x]) for p, x in zip(paths, idxs)], complete)
        return routes[(a, b)]

    def attempt(r: int, t: float) -> bool:
        bits = req_bits[r]
        cands, complete = candidates(req_a[r], req_b[r])
        chosen, spare = None, None
        for path, idx, mn, thr in cands:
            after = level[idx] - bits
            if (after >= mn).all():
                if (after >= thr).all():
                    chosen = (path, idx, after, mn, thr)
                    break
                if spare is None:
                    spare = (path, idx, after, mn, thr)
        chosen = chosen or spare
        if chosen is None and not complete:
            found = router.fallback(req_a[r], req_b[r], level - bits >= minimum)
            if found is not None:
                chosen = (found[0], found[1], level[found[1]] - bits, minimum[found[1]], threshold[found[1]])
        attempts[r] += 1
        if chosen is None:
            return False
        path, idx, after, mn, thr = chosen
        pools.consume(idx, bits, after, mn, thr)
        served_t[r] = t
        route_of[r] = path
        hops[r] = len(idx)
        return True

    def wait(r: int, t: float):
        """Retry later if the timeout allows; a retry due after the span leaves it pending."""
        t_next = t + network.retry_every_s
        if t_next - req_t[r] > req_timeout[r]:
            return  # stays "failed"
        if t_next >= span_s:
            status[r] = "pending"
            return
        heapq.heappush(retries, (t_next, r))

    i, n_ev = 0, len(ev_t)
    while i < n_ev or retries:
        t = ev_t[i] if i < n_ev else np.inf
        if retries and retries[0][0] < t:
            t = retries[0][0]
        pools.advance(everything, t)
        # Satellite key first, then requests (new, then retries), then the snapshot.
        j = i
        while j < n_ev and ev_t[j] == t and ev_k[j] == 0:
            row = ev_p[j]
            sat, st = p_sat[row], p_sta[row]
            stores.add(stores.index[(sat, st)], float(p_key[row]))
            relayed = 0.0
            for sl in pairs_of[sat]:
                if st not in sl.stations:
                    continue
                ja, jb = stores.index[(sat, sl.stations[0])], stores.index[(sat, sl.stations[1])]
                k = sl.link
                m = stores.relay(ja, jb, pools.capacity[k] - pools.level[k])
                if m > 0:
                    pools.add(np.array([k]), np.array([m]))
                    relayed += m
            relayed_bits[row] = relayed
            store_after[row] = stores.level[stores.index[(sat, st)]]
            j += 1
        while j < n_ev and ev_t[j] == t and ev_k[j] == 1:
            r = ev_p[j]
            if attempt(r, t):
                status[r] = "served"
            else:
                wait(r, t)
            j += 1
        while retries and retries[0][0] == t:
            _, r = heapq.heappop(retries)
            if attempt(r, t):
                status[r] = "waited"
            else:
                wait(r, t)
        while j < n_ev and ev_t[j] == t and ev_k[j] == 2:
            s = ev_p[j]
            snap_level[s] = pools.level
            snap_state[s] = pools.state
            snap_store[s] = stores.level
            j += 1
        i = j

    req_out = requests.drop(columns=["timeout_s"]).copy()
    names = [network.demands[d].label(d) for d in range(len(network.demands))]
    req_out.insert(2, "demand_name", [names[d] for d in req_out["demand"]])
    req_out["time_utc"] = start + pd.to_timedelta(req_out["t_s"], unit="s")
    req_out["status"] = status
    req_out["wait_s"] = served_t - req_t
    req_out["served_bits"] = np.where(np.isfinite(served_t), req_bits, 0.0)
    req_out["attempts"] = attempts
    req_out["hops"] = hops
    req_out["route"] = route_of

    days = span_s / 86400.0
    link_out = links.copy()
    link_out["daily_volume_bits"] = link_out["key_rate_bps"] * 86400.0
    if len(network.satellites):
        for sl in network.satellites:
            got = sched.loc[sched["served"].astype(bool)]
            per = [got.loc[(got["satellite"] == sl.satellite) & (got["station"] == s), "key_bits"].sum() for s in sl.stations]
            # Planning volume: the relay can give at most the smaller station's key.
            link_out.loc[sl.link, "daily_volume_bits"] = min(per) / days if days > 0 else 0.0
            link_out.loc[sl.link, "key_rate_bps"] = link_out.loc[sl.link, "daily_volume_bits"] / 86400.0
    for col, arr in (("generated_bits", pools.generated), ("consumed_bits", pools.consumed),
                     ("discarded_bits", pools.discarded), ("level_bits", pools.level)):
        link_out[col] = arr
    link_out["state"] = [STATES[s] for s in pools.state]

    pool_names = list(links["link"]) + [f"{sat}>{st}" for sat, st in store_keys]
    levels = np.hstack([snap_level, snap_store])
    states = np.hstack([snap_state, np.full(snap_store.shape, -1, np.int8)])
    state_names = np.array(list(STATES) + ["store"], dtype=object)
    pools_out = pd.DataFrame({
        # Formatted once per snapshot (as satqkd.io writes times), not once per row.
        "time_utc": np.repeat((start + pd.to_timedelta(snap_t, unit="s")).strftime("%Y-%m-%dT%H:%M:%S.%fZ").to_numpy(dtype=object),
                              len(pool_names)),
        "pool": np.tile(pool_names, snap_t.size),
        "kind": np.tile(list(links["kind"]) + ["satellite-store"] * len(store_keys), snap_t.size),
        "level_bits": levels.ravel(),
        "state": state_names[states.ravel()],
    })
    stores_out = pd.DataFrame({
        "satellite": [k[0] for k in store_keys], "station": [k[1] for k in store_keys],
        "capacity_bits": stores.capacity, "generated_bits": stores.generated, "consumed_bits": stores.consumed,
        "discarded_bits": stores.discarded, "level_bits": stores.level,
    })
    status_out = [etsi_status(pools, k, links.at[k, "a"], links.at[k, "b"]) | {"link": links.at[k, "link"]} for k in range(n)]
    sched_out = sched.assign(relayed_bits=relayed_bits, store_bits_after=store_after)
    if len(sched_out):
        sched_out.insert(3, "end_utc", start + pd.to_timedelta(sched_out["end_s"], unit="s"))
    return NetworkResults(network, start, float(span_s), link_out, pools_out, req_out, sched_out, stores_out, status_out)


@dataclass
class NetworkState:
    """The network at one instant ``t_s`` as :func:`simulate` leaves it (for :mod:`satqkd.kme`).

    ``level_bits`` and ``state`` (codes of :data:`~satqkd.network.pools.STATES`)
    per link; ``store_keys`` (satellite, station) and ``store_level_bits`` of
    the on-board stores; ``schedule``: the pass table of
    :func:`~satqkd.network.satellite.schedule_passes` (seconds after the
    scenario's start), whose served rows with ``end_s >= t_s`` are the key
    still to arrive.  Fibre blocks need no schedule: pool ``i`` gains
    ``block_bits`` at every multiple of ``block_s`` (``network.links``).
    """

    t_s: float
    level_bits: np.ndarray
    state: np.ndarray
    store_keys: list
    store_level_bits: np.ndarray
    schedule: pd.DataFrame


def state_at(network: Network, passes: pd.DataFrame | None, start, t_s: float) -> NetworkState:
    """Pools and stores at ``t_s`` seconds after ``start``: :func:`simulate` run up to there.

    Everything before ``t_s`` has happened (fibre blocks closed at ``t_s``
    included); passes ending and requests made at ``t_s`` itself have not."""
    start = pd.Timestamp(start)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    sched = schedule_passes(passes, network.satellites, start)
    if t_s <= 0:
        pools = Pools(network.pools, network.links["block_bits"].to_numpy(), network.links["block_s"].to_numpy())
        keys = list(dict.fromkeys((sl.satellite, st) for sl in network.satellites for st in sl.stations))
        return NetworkState(0.0, pools.level.copy(), pools.state.copy(), keys, np.zeros(len(keys)), sched)
    res = simulate(network, passes, start, t_s)
    codes = np.array([STATES.index(s) for s in res.links["state"]], dtype=np.int8)
    keys = list(zip(res.stores["satellite"], res.stores["station"]))
    return NetworkState(float(t_s), res.links["level_bits"].to_numpy(dtype=float), codes, keys,
                        res.stores["level_bits"].to_numpy(dtype=float), sched)

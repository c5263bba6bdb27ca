"""The network over time: key pools fed by fibre blocks and satellite passes, drained by requests.

:class:`Simulation` is event-driven.  Events are outage changes
(:mod:`satqkd.network.outages`), the satellite passes' key arrivals (at the
end of each flown pass's usable window, onto the on-board stores), the
requests (:mod:`satqkd.network.demand`) and their retries, and the
snapshots of every pool written to ``pools.csv`` (every
``record_every_s``).  Events at the same instant are handled together, in
this order: outages begin or end, satellite key arrives, requests are
served, the snapshot is taken.  Fibre key needs no events: a pool is
brought up to date (:meth:`~satqkd.network.pools.Pools.advance`), block by
block, whenever it is looked at.

**Order of service.**  The requests due at one instant -- new ones and
retries alike -- are served by priority class (``priority`` of the demand,
0 first, as QKDNetSim's key manager dequeues its priority queue 0 first:
``QKDKMSQueueLogic``), then oldest first (request order: a retry before a
newer request).  A request is served on the route
:class:`~satqkd.network.routing.Router` picks, consuming its bits from every
pool of the route.  A route through a satellite link is open if the ground
pool plus what the on-board stores could relay covers the request; the
relay is then commanded for exactly what the pool lacks
(:mod:`satqkd.network.satellite`: on demand, first come first served).  A
candidate with two satellite hops on one station's store is dropped (the
direct hop between their outer stations is shorter and counts the store once).

**Reserves per class.**  ``priority_reserve_bits[c]`` (default 0) is kept in
every pool for classes before ``c``: a request of class ``c`` may not take a
pool below ``minimum + priority_reserve_bits[c]``.

**Multipath.**  With ``multipath`` (default on), a request that no single
route can serve may be split over the pair's candidate routes: route by
route, each part takes what keeps every pool of its route at or above its
floor, until the request's bits are covered (the parts add up to exactly
its bits; each part is consumed from every pool of its route).  If the
candidates together cannot cover it, nothing is consumed and it waits.

**Admission.**  With ``admission`` on, each demand (by class, then in the
order listed) is admitted if one of its candidate routes still has, on
every link, the demand's mean rate left (fibre: key rate; satellite link:
the smaller station's flown key over the span, per second); an admitted
demand reserves its rate along that route.  A refused demand's requests
are ``refused`` and never attempted.

A request that cannot be served waits, retried every ``retry_every_s``, and
fails once ``timeout_s`` has passed.  Its status is ``served`` (first try),
``waited`` (served later), ``failed`` (timed out), ``refused`` (admission)
or ``pending`` (still waiting when the span ended).

**Held until a pass** (speed only).  A request that only key from a pass can
serve -- every way it could take crosses a satellite link whose pool and
stores fall short -- is not tried every ``retry_every_s`` in vain: it is held
until a pass adds key to one of those stores, then tried at the next instant
of the ``retry_every_s`` rule; ``attempts`` counts the tries the rule made
meanwhile (all would have failed).  The same requests are served at the same
instants (:meth:`Simulation._hold_stores` says why);
``Simulation.hold_for_passes = False`` tries every waiting request every
``retry_every_s``, and the tests compare the two.

No key crosses a link while it is down.  Nothing here is random except the draws of
:func:`~satqkd.network.demand.make_requests` and of random outages, both
from the seed.

:class:`Simulation` keeps its state readable between events (for a key
server at an instant): :meth:`Simulation.run_until`,
:meth:`Simulation.pool_table`, :meth:`Simulation.store_table`.  A key
server (:mod:`satqkd.kme`) drives it: ``demand_until_s`` ends the
scenario's requests (none is made at or after it, none retried from then
on; one still waiting is ``pending``), and :meth:`Simulation.serve_request`
serves one request from outside at the current instant, by the rules above
(the same code path as the scenario's requests).
:func:`simulate` runs it over the whole span and returns the tables.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from .demand import make_requests
from .outages import down_windows, station_down
from .pools import STATES, Pools, etsi_status
from .routing import Router
from .satellite import SatelliteStores, schedule_passes
from .topology import Network

__all__ = ["NetworkResults", "Simulation", "simulate", "STATUSES"]

STATUSES = ("served", "waited", "failed", "refused", "pending")
_OUTAGE, _PASS, _REQUEST, _SNAPSHOT = 0, 1, 2, 3  # same-instant order
_all = np.logical_and.reduce  # the ufunc itself: ndarray.all() goes through a Python wrapper


@dataclass
class NetworkResults:
    """What the network stage produces (tables ready for CSV).

    ``links``: one row per link with its key rate, daily volume and bit
    balance; ``pools``: the level and state of every pool (and every
    on-board store) at each snapshot; ``requests``: one row per request;
    ``passes``: the satellite passes with the key each left on board and
    the part of it the relay used; ``stores``: the on-board stores' bit
    balance; ``status``: ETSI GS QKD 014 status of every pool at the end;
    ``service``: per demand, the share of requests and of time served;
    ``outages``: per outage window and demand whose first route it cuts,
    how long the pools carried the demand; ``relays``: every relay command
    (time, satellite link, bits); ``capacity``: filled by
    :func:`satqkd.network.capacity.capacity_table`.
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
    service: pd.DataFrame = field(default_factory=pd.DataFrame)
    outages: pd.DataFrame = field(default_factory=pd.DataFrame)
    relays: pd.DataFrame = field(default_factory=pd.DataFrame)
    joint: dict = field(default_factory=dict)  # network-wide concurrent share (satqkd.network.capacity)


@dataclass
class _Route:
    """A candidate route with the settings of its pools (fixed during a run)."""

    path: str
    idx: np.ndarray
    minimum: np.ndarray
    threshold: np.ndarray
    capacity: np.ndarray
    sat: list  # satellite links on the route: (position in idx, link, store a, store b)
    floors: dict = field(default_factory=dict)  # reserve -> (minimum + reserve, max(threshold, minimum + reserve))

    def floors_for(self, reserve: float):
        """The levels a request with ``reserve`` must leave: above its floor, and to stay ready."""
        if reserve not in self.floors:
            low = self.minimum + reserve
            self.floors[reserve] = (low, np.maximum(self.threshold, low))
        return self.floors[reserve]


class Simulation:
    """One run of the network over ``span_s`` seconds from ``start`` (UTC).

    ``passes`` is the key stage's pass table (``satellite``, ``station``,
    ``usable_start_utc``, ``usable_end_utc``, ``key_bits``, optionally
    ``scheduled`` and ``clear``; see :mod:`satqkd.network.satellite`).
    ``demand_until_s`` (default: the span's end): the scenario's requests
    stop there (module docstring).
    """

    def __init__(self, network: Network, passes: pd.DataFrame | None, start, span_s: float,
                 demand_until_s: float | None = None):
        start = pd.Timestamp(start)
        self.start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        self.network = network
        self.span_s = float(span_s)
        self.demand_end_s = self.span_s if demand_until_s is None else min(float(demand_until_s), self.span_s)
        self.links = network.links
        self.n = len(self.links)
        self.pools = Pools(network.pools, self.links["block_bits"].to_numpy(), self.links["block_s"].to_numpy())
        kinds = dict(zip(network.nodes["node"], network.nodes["kind"]))
        self.router = Router(network.graph, self.n, network.candidate_paths, kinds)
        self._routes: dict = {}
        self._common: dict = {}
        self._init_outages()
        self._init_satellite(passes)
        self._init_requests()
        self._init_snapshots()
        self._init_events()
        self.t_s = 0.0

    # --- setting up -----------------------------------------------------------------------

    def _init_outages(self):
        net = self.network
        self.down = down_windows(net.outages, self.links, self.span_s, net.seed)
        self.down_count = np.zeros(self.n, dtype=np.int64)  # open "cut" windows per link
        self.dark_count = np.zeros(self.n, dtype=np.int64)  # open windows of either effect (no key made)
        self.up = np.ones(self.n, dtype=bool)
        self.any_down = False
        # Stations down: windows per node (their passes fly no key).
        self.node_down = {}
        for i, o in enumerate(net.outages):
            if o.node is not None:
                self.node_down.setdefault(o.node, []).append(o.windows(self.span_s, net.seed, i))

    def _init_satellite(self, passes):
        net = self.network
        keys, caps = [], []
        for sl in net.satellites:
            for st in sl.stations:
                if (sl.satellite, st) not in keys:
                    keys.append((sl.satellite, st))
                    caps.append(sl.store_capacity_bits)
        self.stores = SatelliteStores(keys, caps)
        # Per satellite link: its two stores; per store: the satellite links it feeds.
        self.sat_stores = {sl.link: (self.stores.index[(sl.satellite, sl.stations[0])],
                                     self.stores.index[(sl.satellite, sl.stations[1])]) for sl in net.satellites}
        self.links_of_store = {j: [k for k, s in self.sat_stores.items() if j in s] for j in range(len(keys))}
        self.extra = np.zeros(self.n)  # what the stores could relay now, per satellite link
        sched = schedule_passes(passes, net.satellites, self.start)
        if len(sched) and self.node_down:
            hit = station_down(net.outages, sched["station"], sched["start_s"], sched["end_s"], self.span_s, net.seed)
            sched["rule"] = np.where(hit & sched["served"].astype(bool), "station down", sched["rule"])
            sched["served"] = sched["served"].astype(bool) & ~hit
        self.sched = sched
        self._sched_rows = list(zip(sched["satellite"].tolist(), sched["station"].tolist(),
                                    sched["key_bits"].astype(float).tolist(), sched["end_s"].astype(float).tolist()))
        self.store_after = np.full(len(sched), np.nan)  # store level right after each flown pass
        end = sched["end_s"].to_numpy(dtype=float)
        self.flown = np.flatnonzero(sched["served"].astype(bool).to_numpy() & (end >= 0) & (end < self.span_s))

    def _init_requests(self):
        net = self.network
        req = make_requests(net.demands, self.span_s, net.seed)
        if self.demand_end_s < self.span_s:
            req = req.loc[req["t_s"].to_numpy() < self.demand_end_s].reset_index(drop=True)
        self.requests = req
        self.n_req = len(req)
        self.req_t = req["t_s"].to_numpy()
        self.req_bits = req["bits"].to_numpy()
        self.req_timeout = req["timeout_s"].to_numpy()
        self.req_a = req["a"].to_numpy()
        self.req_b = req["b"].to_numpy()
        self.req_prio = req["priority"].to_numpy()
        self.req_demand = req["demand"].to_numpy()
        reserve = list(net.priority_reserve_bits)
        self.reserve = np.array([reserve[c] if c < len(reserve) else 0.0 for c in range(10)], dtype=float)
        # Per request, as plain Python values for the serving loop: (a, b, bits, reserve).
        self._req = list(zip(self.req_a.tolist(), self.req_b.tolist(), self.req_bits.astype(float).tolist(),
                             self.reserve[self.req_prio].tolist()))
        self._prio = self.req_prio.tolist()
        self.served_t = np.full(self.n_req, np.nan)
        self.status = np.full(self.n_req, "failed", dtype=object)
        self.route_of = np.full(self.n_req, "", dtype=object)
        self.part_bits = np.full(self.n_req, "", dtype=object)
        self.n_parts = np.zeros(self.n_req, dtype=np.int64)
        self.hops = np.zeros(self.n_req, dtype=np.int64)
        self.attempts = np.zeros(self.n_req, dtype=np.int64)
        self.retries: list = []  # heap of (time, request)
        # Requests held until a pass (see _hold_stores): next retry instant of the fixed rule,
        # hold number (stale entries in held_on are skipped), requests per on-board store.
        self.hold_for_passes = True  # False: the plain rule, every request tried every retry_every_s
        self.held = np.zeros(self.n_req, dtype=bool)
        self.held_next = np.zeros(self.n_req)
        self.held_gen = np.zeros(self.n_req, dtype=np.int64)
        self.held_on: dict = {}
        self._cut_by_sat: dict = {}
        self.relay_log: list = []
        self.admitted = self._admit() if net.admission else np.ones(len(net.demands), dtype=bool)
        refused = ~self.admitted[self.req_demand] if self.n_req else np.zeros(0, dtype=bool)
        self.status[refused] = "refused"
        self.req_refused = refused

    def _init_snapshots(self):
        t = np.arange(0.0, self.span_s, self.network.record_every_s)
        self.snap_t = np.append(t, self.span_s) if t.size == 0 or t[-1] < self.span_s else t
        self.snap_level = np.empty((self.snap_t.size, self.n))
        self.snap_state = np.empty((self.snap_t.size, self.n), dtype=np.int8)
        self.snap_store = np.empty((self.snap_t.size, len(self.stores.keys)))

    def _init_events(self):
        """All scheduled events sorted by (time, kind, payload); retries join on a heap."""
        changes = self.down
        ev_t = [changes["start_s"].to_numpy(float), changes["end_s"].to_numpy(float),
                self.sched["end_s"].to_numpy(float)[self.flown], self.req_t[~self.req_refused], self.snap_t]
        n_d = len(changes)
        ev_k = [np.full(n_d, _OUTAGE), np.full(n_d, _OUTAGE), np.full(self.flown.size, _PASS),
                np.full(int((~self.req_refused).sum()), _REQUEST), np.full(self.snap_t.size, _SNAPSHOT)]
        # Outage payload: +(row + 1) starts a window, -(row + 1) ends it.
        ev_p = [np.arange(1, n_d + 1), -np.arange(1, n_d + 1), self.flown, np.flatnonzero(~self.req_refused),
                np.arange(self.snap_t.size)]
        t, k, p = np.concatenate(ev_t), np.concatenate(ev_k).astype(np.int8), np.concatenate(ev_p).astype(np.int64)
        keep = t < self.span_s if n_d else np.ones(t.size, dtype=bool)
        keep |= k == _SNAPSHOT
        t, k, p = t[keep], k[keep], p[keep]
        order = np.lexsort((p, k, t))
        self.ev_t, self.ev_k, self.ev_p = t[order].tolist(), k[order].tolist(), p[order].tolist()
        self._i = 0

    # --- routes ---------------------------------------------------------------------------

    def _route(self, path: str, idx: np.ndarray) -> _Route | None:
        p = self.pools
        sat = [(pos, int(k), *self.sat_stores[int(k)]) for pos, k in enumerate(idx) if int(k) in self.sat_stores]
        stores = [s for _, _, a, b in sat for s in (a, b)]
        if len(stores) != len(set(stores)):
            return None  # two satellite hops on one store: the direct hop is shorter and shares no store
        return _Route(path, idx, p.minimum[idx], p.threshold[idx], p.capacity[idx], sat)

    def candidates(self, a, b):
        """``(routes, complete, links)`` of a pair: its candidate routes, whether they
        are all its simple paths, and the union of their links."""
        if (a, b) not in self._routes:
            paths, idxs, complete = self.router.candidates(a, b)
            routes = [r for r in (self._route(pth, x) for pth, x in zip(paths, idxs)) if r is not None]
            union = np.unique(np.concatenate(idxs)) if idxs else np.zeros(0, dtype=np.intp)
            common = union
            for rt in routes:
                common = np.intersect1d(common, rt.idx)
            self._routes[(a, b)] = (routes, complete, union)
            self._common[(a, b)] = common  # links on every candidate: a split cannot pass them by
        return self._routes[(a, b)]

    def _levels(self, route: _Route) -> np.ndarray:
        """Key the route's pools could give now: their level, plus what the stores could relay."""
        lv = self.pools.level[route.idx]
        if route.sat:
            lv = np.minimum(lv + self.extra[route.idx], route.capacity)
        return lv

    def _open(self, route: _Route) -> bool:
        return not self.any_down or bool(self.up[route.idx].all())

    def _pick(self, routes, bits: float, reserve: float, t: float):
        """The first route that stays ready after ``bits``, else the first that stays above its floor.

        Each route's pools are brought up to ``t`` as it is looked at (usually the first
        route serves, and the others' pools wait for a later look)."""
        spare = None
        advance, levels, any_down = self.pools.advance, self._levels, self.any_down
        for route in routes:
            if any_down and not self._open(route):
                continue
            advance(route.idx, t)
            after = levels(route) - bits
            low, ready = route.floors_for(reserve)
            if _all(after >= ready):  # (ready >= low: it stays above its floor too)
                return route
            if spare is None and _all(after >= low):
                spare = route
        return spare

    def _split(self, routes, bits: float, reserve: float, common: np.ndarray):
        """Parts ``[(route, bits)]`` over the candidates that add up to ``bits``, or None."""
        if common.size:
            p = self.pools
            free = np.minimum(p.level[common] + self.extra[common], p.capacity[common]) - p.minimum[common] - reserve
            if free.min() < bits:
                return None  # every part crosses these links: they cannot carry the request
        open_routes = [rt for rt in routes if self._open(rt)]
        free = [float((self._levels(rt) - rt.minimum).min()) - reserve for rt in open_routes]
        if sum(max(f, 0.0) for f in free) < bits:
            return None  # even without shared links the candidates cannot cover it
        taken: dict = {}
        used_stores: set = set()
        parts, remaining = [], bits
        for route in routes:
            if not self._open(route):
                continue
            stores = {s for _, _, a, b in route.sat for s in (a, b)}
            if stores & used_stores:
                continue  # one satellite store is not counted twice
            free = self._levels(route) - np.array([taken.get(int(k), 0.0) for k in route.idx]) - route.minimum - reserve
            part = min(float(free.min()), remaining)
            if part <= 0:
                continue
            parts.append((route, part))
            used_stores |= stores
            for k in route.idx:
                taken[int(k)] = taken.get(int(k), 0.0) + part
            remaining = bits - sum(p for _, p in parts)
            if remaining <= 0:
                break
        if not parts or remaining > 0:
            return None
        return parts

    # --- serving --------------------------------------------------------------------------

    def _attempt(self, r: int, t: float) -> bool:
        self.attempts[r] += 1
        parts = self._place(*self._req[r], t, r)
        if parts is None:
            return False
        self.served_t[r] = t
        self.n_parts[r] = len(parts)
        if len(parts) == 1:
            self.route_of[r] = parts[0][0].path
            self.hops[r] = len(parts[0][0].idx)
            return True
        self.route_of[r] = " | ".join(route.path for route, _ in parts)
        self.hops[r] = sum(len(route.idx) for route, _ in parts)
        self.part_bits[r] = ";".join(f"{p:.17g}" for _, p in parts)
        return True

    def _place(self, a, b, bits: float, reserve: float, t: float, r: int):
        """Serve ``bits`` from ``a`` to ``b`` at ``t`` (route, fallback, multipath, relay,
        consumption): the parts ``[(route, bits)]`` delivered, or None (nothing spent)."""
        routes, complete, union = self.candidates(a, b)
        chosen = self._pick(routes, bits, reserve, t)
        parts = [(chosen, bits)] if chosen is not None else None
        if parts is None and not complete:
            self.pools.advance_all(t)
            lv = np.minimum(self.pools.level + self.extra, self.pools.capacity)
            found = self.router.fallback(a, b, (lv - bits >= self.pools.minimum + reserve) & self.up)
            route = self._route(*found) if found is not None else None
            parts = [(route, bits)] if route is not None else None
        if parts is None and self.network.multipath and len(routes) > 1:
            self.pools.advance(union, t)
            parts = self._split(routes, bits, reserve, self._common[(a, b)])
        if parts is None:
            return None
        for route, part in parts:
            self._deliver(route, part, reserve, t, r)
        return parts

    def serve_request(self, a: str, b: str, bits: float, priority: int = 0) -> list[tuple[str, float]] | None:
        """One request from outside the scenario (a key server's client): ``bits`` from
        ``a`` to ``b`` now (at :attr:`t_s`), served as the scenario's requests are.

        Returns the parts ``[(route, bits)]`` delivered (one, unless split over
        several routes), or None if the network cannot serve it now (nothing is
        spent; it is not retried).  Its relay commands are logged with request -1."""
        if a not in self.router.index or b not in self.router.index or a == b:
            return None
        parts = self._place(a, b, float(bits), self.reserve[int(priority)], self.t_s, -1)
        return None if parts is None else [(route.path, float(part)) for route, part in parts]

    def route_now(self, a: str, b: str, bits: float, priority: int = 0):
        """``(route, usable_bits)`` of the single route a request of ``bits`` would take now
        (pools plus what the stores could relay, above the floors), or None; changes nothing."""
        routes, _, _ = self.candidates(a, b)
        reserve = self.reserve[int(priority)]
        chosen = self._pick(routes, float(bits), reserve, self.t_s)
        if chosen is None:
            return None
        return chosen.path, float((self._levels(chosen) - chosen.minimum).min() - reserve)

    def _deliver(self, route: _Route, bits: float, reserve: float, t: float, r: int):
        """Relay what the route's satellite pools lack, then take ``bits`` from every pool."""
        level = self.pools.level
        for _, k, ja, jb in route.sat:
            need = bits + self.pools.minimum[k] + reserve - level[k]
            if need > 0:
                m = self.stores.relay(ja, jb, need)
                self.pools.add(np.array([k]), np.array([m]))
                self.relay_log.append((t, k, m, r))
                self._refresh_extra((ja, jb))
        self.pools.consume(route.idx, bits)

    def _refresh_extra(self, stores):
        for j in stores:
            for k in self.links_of_store[j]:
                self.extra[k] = self.stores.relayable(*self.sat_stores[k])

    def _wait(self, r: int, t: float):
        """Retry later if the timeout allows; a retry due after the span leaves it pending."""
        t_next = t + self.network.retry_every_s
        if t_next - self.req_t[r] > self.req_timeout[r]:
            return  # stays "failed"
        if t_next >= self.demand_end_s:
            self.status[r] = "pending"
            return
        stores = self._hold_stores(r) if self.hold_for_passes else None
        if stores is not None:
            self.held[r] = True
            self.held_next[r] = t_next
            self.held_gen[r] += 1
            for j in stores:
                self.held_on.setdefault(j, []).append((r, self.held_gen[r]))
            return
        heapq.heappush(self.retries, (t_next, r))

    # --- requests only a pass can serve ---------------------------------------------------

    def _hold_stores(self, r: int):
        """The on-board stores whose key request ``r`` (just failed) waits for, or None.

        Not None only when no try can succeed before a pass adds key to one of them.
        A satellite link's pool makes no key of its own, and its pool plus what its two
        stores could relay (``free`` below, above its floor) never grows between passes
        over its stations: requests and relays only take.  The request fails while

        * every way it could take crosses a satellite link: each candidate route has
          one, and (when the candidates are not all the pair's paths, so the fallback
          search may find another) the pair is cut apart without the satellite links;
        * the candidates' satellite links together fall short: a single route needs
          ``free >= bits`` on each of its satellite links, and the parts of a split
          never share a store, so they add up to at most the sum of ``free`` over
          distinct satellite links;
        * for the fallback search, every satellite link falls short on its own.

        A margin of 1e-9 of the magnitudes keeps rounding on the plain rule's side."""
        a, b = self.req_a[r], self.req_b[r]
        routes, complete, _ = self.candidates(a, b)
        if not self.sat_stores or not all(rt.sat for rt in routes):
            return None
        links = {k for rt in routes for _, k, _, _ in rt.sat}
        fallback = ()
        if not complete:
            if (a, b) not in self._cut_by_sat:
                g, sat = self.network.graph, self.sat_stores
                view = g.edge_subgraph([(u, v) for u, v, k in g.edges(data="link") if k not in sat])
                self._cut_by_sat[(a, b)] = not (a in view and b in view and nx.has_path(view, a, b))
            if not self._cut_by_sat[(a, b)]:
                return None
            fallback = tuple(self.sat_stores)
        p, reserve, bits = self.pools, self.reserve[self.req_prio[r]], self.req_bits[r]
        free = {k: min(p.level[k] + self.extra[k], p.capacity[k]) - p.minimum[k] - reserve
                for k in links.union(fallback)}
        margin = 1e-9 * (bits + sum(abs(p.level[k]) + self.extra[k] + abs(p.minimum[k]) + reserve for k in free))
        if sum(max(free[k], 0.0) for k in links) >= bits - margin:
            return None
        if any(free[k] >= bits - margin for k in fallback):
            return None
        return {j for k in free for j in self.sat_stores[k]}

    def _release(self, j: int, t: float):
        """Key reached store ``j`` at ``t``: its held requests rejoin the fixed rule's retries."""
        for r, gen in self.held_on.pop(j, ()):
            if self.held[r] and self.held_gen[r] == gen:
                self.held[r] = False
                t_next = self._catch_up(r, t)
                if t_next is not None:
                    heapq.heappush(self.retries, (t_next, r))

    def _catch_up(self, r: int, until: float):
        """Count the fixed rule's tries of held request ``r`` before ``until`` (all fail);
        return its next try at or after ``until``, or None when its timeout or the span ends
        first (status then as the rule leaves it).  Exact: integral instants in closed form,
        others by the rule's own additions."""
        g, step = float(self.held_next[r]), float(self.network.retry_every_s)
        t0, timeout, span = float(self.req_t[r]), float(self.req_timeout[r]), self.span_s
        last = t0 + timeout
        if all(x.is_integer() and abs(x) < 2.0**52 for x in (g, step, t0, timeout, last, span)) and abs(until) < 2.0**52:
            n = min(_count(g, step, until, True), _count(g, step, last, False), _count(g, step, span, True))
            self.attempts[r] += n
            g = g + n * step
        while g - t0 <= timeout and g < span and g < until:
            self.attempts[r] += 1
            g = g + step
        self.held_next[r] = g
        if g - t0 > timeout:
            self.held[r] = False
            return None  # stays "failed"
        if g >= span:
            self.held[r] = False
            self.status[r] = "pending"
            return None
        return g

    def _serve(self, due: list, t: float):
        """Serve the requests due at ``t``: by class, then oldest first."""
        prio = self._prio
        due.sort(key=lambda r: (prio[r], r))
        if 16 * len(due) >= self.n:
            # Many requests at once (hourly demands): one pass over every pool is cheaper
            # than one per route; exact either way (pools only gain key between looks).
            self.pools.advance_all(t)
        for r in due:
            first = self.attempts[r] == 0
            if self._attempt(r, t):
                self.status[r] = "served" if first else "waited"
            else:
                self._wait(r, t)

    def _pass_key(self, row: int):
        sat, st, key_bits, end_s = self._sched_rows[row]
        j = self.stores.index[(sat, st)]
        self.stores.add(j, key_bits, row)
        self.store_after[row] = self.stores.level[j]
        self._refresh_extra((j,))
        if self.held_on:
            self._release(j, end_s)

    def _outage(self, rows: list, t: float):
        """Windows begin (+) or end (-) at ``t``: links going dark stop making key, coming
        back restart; links under a cut close to traffic."""
        before = self.dark_count > 0
        links, cut = self.down["link"].to_numpy(), self.down["cut"].to_numpy(bool)
        for p in rows:
            step = 1 if p > 0 else -1
            self.dark_count[links[abs(p) - 1]] += step
            if cut[abs(p) - 1]:
                self.down_count[links[abs(p) - 1]] += step
        after = self.dark_count > 0
        went_dark, came_back = np.flatnonzero(after & ~before), np.flatnonzero(before & ~after)
        if went_dark.size:
            self.pools.pause(went_dark, t)
        if came_back.size:
            self.pools.resume(came_back, t)
        self.up = self.down_count == 0
        self.any_down = not bool(self.up.all())

    def _snapshot(self, s: int, t: float):
        self.pools.advance_all(t)
        self.snap_level[s] = self.pools.level
        self.snap_state[s] = self.pools.state
        self.snap_store[s] = self.stores.level

    def _next_time(self) -> float:
        t = self.ev_t[self._i] if self._i < len(self.ev_t) else np.inf
        if self.retries and self.retries[0][0] < t:
            t = self.retries[0][0]
        return t

    def _step(self, t: float):
        """Every event at instant ``t``, in the documented order."""
        ev_t, ev_k, ev_p, j = self.ev_t, self.ev_k, self.ev_p, self._i
        n_ev = len(ev_t)
        changes = []
        while j < n_ev and ev_t[j] == t and ev_k[j] == _OUTAGE:
            changes.append(ev_p[j])
            j += 1
        if changes:
            self._outage(changes, t)
        while j < n_ev and ev_t[j] == t and ev_k[j] == _PASS:
            self._pass_key(ev_p[j])
            j += 1
        due = []
        while j < n_ev and ev_t[j] == t and ev_k[j] == _REQUEST:
            due.append(ev_p[j])
            j += 1
        while self.retries and self.retries[0][0] == t:
            due.append(heapq.heappop(self.retries)[1])
        if due:
            self._serve(due, t)
        while j < n_ev and ev_t[j] == t and ev_k[j] == _SNAPSHOT:
            self._snapshot(ev_p[j], t)
            j += 1
        self._i = j
        self.t_s = t

    def run_until(self, t_s: float):
        """Handle every event at or before ``t_s`` (capped at the span's end); pools are then up to date at ``t_s``."""
        t_s = min(float(t_s), self.span_s)
        while (t := self._next_time()) <= t_s:
            self._step(t)
        for r in np.flatnonzero(self.held):  # their tries up to t_s, all failed, are counted
            self._catch_up(int(r), np.nextafter(t_s, np.inf))
        self.pools.advance_all(t_s)
        self.t_s = max(self.t_s, t_s)
        return self

    # --- admission ------------------------------------------------------------------------

    def link_rates_bps(self) -> np.ndarray:
        """Long-run key rate per link: fibre, its key rate; a satellite link, the smaller
        of its two stations' flown key within the span, per second."""
        rate = self.links["key_rate_bps"].to_numpy(dtype=float).copy()
        flown = self.sched.iloc[self.flown]
        for sl in self.network.satellites:
            per = [flown.loc[flown["station"] == s, "key_bits"].sum() for s in sl.stations]
            rate[sl.link] = min(per) / self.span_s if self.span_s > 0 else 0.0
        return rate

    def _admit(self) -> np.ndarray:
        demands = self.network.demands
        left = self.link_rates_bps()
        admitted = np.zeros(len(demands), dtype=bool)
        for i in sorted(range(len(demands)), key=lambda i: (demands[i].priority, i)):
            d = demands[i]
            routes, _, _ = self.candidates(d.a, d.b)
            best = max(routes, key=lambda rt: left[rt.idx].min(), default=None)
            if best is not None and left[best.idx].min() >= d.rate_bps_mean:
                left[best.idx] -= d.rate_bps_mean
                admitted[i] = True
        return admitted

    # --- readable state -------------------------------------------------------------------

    def pool_table(self) -> pd.DataFrame:
        """Every link's pool now (at :attr:`t_s`): level, usable bits, state, up."""
        p = self.pools
        return pd.DataFrame({
            "link": self.links["link"].to_numpy(), "a": self.links["a"].to_numpy(), "b": self.links["b"].to_numpy(),
            "kind": self.links["kind"].to_numpy(), "level_bits": p.level.copy(),
            "usable_bits": np.maximum(p.level - p.minimum, 0.0), "relayable_bits": self.extra.copy(),
            "state": [STATES[s] for s in p.state], "up": self.up.copy(),
        })

    def store_table(self) -> pd.DataFrame:
        """Every on-board store now: satellite, station, level."""
        s = self.stores
        return pd.DataFrame({"satellite": [k[0] for k in s.keys], "station": [k[1] for k in s.keys],
                             "capacity_bits": s.capacity, "level_bits": s.level.copy()})

    # --- tables ---------------------------------------------------------------------------

    def results(self) -> NetworkResults:
        """The run's tables (call after :meth:`run_until` the span's end)."""
        return NetworkResults(self.network, self.start, self.span_s, self.links_table(), self._pools_table(),
                              self._requests_table(), self.passes_table(), self._stores_table(),
                              self._status(),
                              service=self._service_table(), outages=self._outages_table(), relays=self._relays_table())

    def _status(self) -> list:
        a, b, name = (self.links[c].tolist() for c in ("a", "b", "link"))
        return [etsi_status(self.pools, k, a[k], b[k]) | {"link": name[k]} for k in range(self.n)]

    def _requests_table(self) -> pd.DataFrame:
        net = self.network
        out = self.requests.drop(columns=["timeout_s"]).copy()
        names = [net.demands[d].label(d) for d in range(len(net.demands))]
        out.insert(2, "demand_name", [names[d] for d in out["demand"]])
        out["time_utc"] = self.start + pd.to_timedelta(out["t_s"], unit="s")
        out["status"] = self.status
        out["wait_s"] = self.served_t - self.req_t
        out["served_bits"] = np.where(np.isfinite(self.served_t), self.req_bits, 0.0)
        out["attempts"] = self.attempts
        out["hops"] = self.hops
        out["route"] = self.route_of
        out["parts"] = self.n_parts
        out["part_bits"] = self.part_bits
        return out

    def links_table(self) -> pd.DataFrame:
        """Every link now: its settings, planning volume per day, and its pool's totals."""
        net, sched, p = self.network, self.sched, self.pools
        days = self.span_s / 86400.0
        out = self.links.copy()
        out["daily_volume_bits"] = out["key_rate_bps"] * 86400.0
        for sl in net.satellites:
            got = sched.iloc[self.flown]  # the passes whose key arrives within the span
            per = [got.loc[(got["satellite"] == sl.satellite) & (got["station"] == s), "key_bits"].sum() for s in sl.stations]
            # Planning volume: the relay can give at most the smaller station's key.
            out.loc[sl.link, "daily_volume_bits"] = min(per) / days if days > 0 else 0.0
            out.loc[sl.link, "key_rate_bps"] = out.loc[sl.link, "daily_volume_bits"] / 86400.0
        for col, arr in (("generated_bits", p.generated), ("consumed_bits", p.consumed),
                         ("discarded_bits", p.discarded), ("level_bits", p.level)):
            out[col] = arr
        out["state"] = [STATES[s] for s in p.state]
        return out

    def _pools_table(self) -> pd.DataFrame:
        keys = self.stores.keys
        names = list(self.links["link"]) + [f"{sat}>{st}" for sat, st in keys]
        levels = np.hstack([self.snap_level, self.snap_store])
        states = np.hstack([self.snap_state, np.full(self.snap_store.shape, -1, np.int8)])
        state_names = list(STATES) + ["store"]
        kinds = np.array(list(self.links["kind"]) + ["satellite-store"] * len(keys), dtype=object)
        kind_names, kind_codes = np.unique(kinds, return_inverse=True) if kinds.size else (np.zeros(0, object), np.zeros(0, int))
        times = (self.start + pd.to_timedelta(self.snap_t, unit="s")).strftime("%Y-%m-%dT%H:%M:%S.%fZ").to_numpy(dtype=object)
        n_snap = self.snap_t.size
        # Categorical columns (a year is 1.8 M rows of a few hundred names): each text is
        # formatted and stored once; the values read (and the CSV) are the same strings.
        return pd.DataFrame({
            "time_utc": pd.Categorical.from_codes(np.repeat(np.arange(n_snap), len(names)), categories=times),
            "pool": pd.Categorical.from_codes(np.tile(np.arange(len(names)), n_snap), categories=names),
            "kind": pd.Categorical.from_codes(np.tile(kind_codes, n_snap), categories=kind_names),
            "level_bits": levels.ravel(),
            "state": pd.Categorical.from_codes(np.where(states < 0, len(STATES), states).ravel(), categories=state_names),
        })

    def _stores_table(self) -> pd.DataFrame:
        s = self.stores
        return pd.DataFrame({
            "satellite": [k[0] for k in s.keys], "station": [k[1] for k in s.keys],
            "capacity_bits": s.capacity, "generated_bits": s.generated, "consumed_bits": s.consumed,
            "discarded_bits": s.discarded, "level_bits": s.level,
        })

    def passes_table(self) -> pd.DataFrame:
        """The satellite passes as scheduled, with the key the relay used of each so far."""
        sched = self.sched
        relayed = np.array([self.stores.used_by_pass.get(row, 0.0) for row in range(len(sched))])
        out = sched.assign(relayed_bits=relayed, store_bits_after=self.store_after)
        if len(out):
            out.insert(3, "end_utc", self.start + pd.to_timedelta(out["end_s"], unit="s"))
        return out

    def _relays_table(self) -> pd.DataFrame:
        log = self.relay_log
        return pd.DataFrame({
            "time_utc": self.start + pd.to_timedelta([e[0] for e in log], unit="s"),
            "link": self.links["link"].to_numpy(dtype=object)[np.array([e[1] for e in log], dtype=np.intp)],
            "bits": np.array([e[2] for e in log], dtype=float),
            "request": np.array([e[3] for e in log], dtype=np.int64),
        })

    def _unserved_s(self, rows: np.ndarray) -> float:
        """Length of the union of the intervals during which requests ``rows`` waited unserved."""
        if rows.size == 0:
            return 0.0
        t = self.req_t[rows]
        end = np.where(np.isfinite(self.served_t[rows]), self.served_t[rows],
                       np.minimum(t + self.req_timeout[rows], self.span_s))
        end = np.where(self.status[rows] == "pending", self.span_s, end)
        end = np.where(self.status[rows] == "refused", self.span_s, end)
        order = np.argsort(t, kind="stable")
        t, end = t[order], end[order]
        reach = np.maximum.accumulate(end)
        starts_new = np.r_[True, t[1:] > reach[:-1]]
        group = np.cumsum(starts_new) - 1
        g_start = t[starts_new]
        g_end = np.zeros(g_start.size)
        np.maximum.at(g_end, group, end)
        return float((g_end - g_start).sum())

    def _service_table(self) -> pd.DataFrame:
        """Per demand: requests by status, share of requests served, share of time served."""
        rows = []
        for i, d in enumerate(self.network.demands):
            mine = np.flatnonzero(self.req_demand == i)
            st = self.status[mine]
            count = {s: int((st == s).sum()) for s in STATUSES}
            n = int(mine.size)
            rows.append({"demand": i, "demand_name": d.label(i), "a": d.a, "b": d.b, "priority": d.priority,
                         "admitted": bool(self.admitted[i]), "requests": n, **count,
                         "served_share": (count["served"] + count["waited"]) / n if n else np.nan,
                         "time_served_share": 1.0 - self._unserved_s(mine) / self.span_s if self.span_s > 0 else np.nan})
        return pd.DataFrame(rows)

    def _outages_table(self) -> pd.DataFrame:
        """Per outage window and per demand whose first candidate route it cuts: how long
        the pools carried the demand (until its first request not served at once)."""
        cols = ["outage", "links", "start_utc", "end_utc", "duration_s", "demand_name", "carried_s", "carried_through"]
        if self.down.empty:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        names = self.links["link"].to_numpy()
        windows = self.down.groupby(["outage", "start_s", "end_s"], sort=False)["link"].apply(list).reset_index()
        rows = []
        for _, w in windows.iterrows():
            cut = set(w["link"])
            for i, d in enumerate(self.network.demands):
                routes, _, _ = self.candidates(d.a, d.b)
                if not routes or not cut & set(routes[0].idx.tolist()):
                    continue
                mine = np.flatnonzero((self.req_demand == i) & (self.req_t >= w["start_s"]) & (self.req_t < w["end_s"]))
                bad = mine[self.status[mine] != "served"]
                carried = (self.req_t[bad[0]] if bad.size else w["end_s"]) - w["start_s"]
                rows.append({"outage": w["outage"], "links": "; ".join(names[k] for k in w["link"]),
                             "start_utc": self.start + pd.Timedelta(seconds=float(w["start_s"])),
                             "end_utc": self.start + pd.Timedelta(seconds=float(w["end_s"])),
                             "duration_s": float(w["end_s"] - w["start_s"]), "demand_name": d.label(i),
                             "carried_s": float(carried), "carried_through": bool(bad.size == 0)})
        return pd.DataFrame(rows, columns=cols)


def _count(g: float, step: float, x: float, strict: bool) -> int:
    """How many of the integral instants ``g + m * step`` (m = 0, 1, ...) are below ``x``
    (``<= x`` unless ``strict``); exact (the estimate is checked both ways)."""
    if math.isinf(x):
        return 0 if x < 0 else 2**62
    below = (lambda v: v < x) if strict else (lambda v: v <= x)  # noqa: E731
    n = max(int(math.floor((x - g) / step)), 0)
    while n > 0 and not below(g + (n - 1) * step):
        n -= 1
    while below(g + n * step):
        n += 1
    return n


def simulate(network: Network, passes: pd.DataFrame | None, start, span_s: float) -> NetworkResults:
    """Run the network from ``start`` (UTC) for ``span_s`` seconds (see :class:`Simulation`)."""
    return Simulation(network, passes, start, span_s).run_until(span_s).results()


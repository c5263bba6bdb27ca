"""End-to-end key capacity: how much key pairs of nodes can share per day, alone and all at once.

**Resources.**  Key is a daily volume, spent by hop-by-hop relay in either
direction:

* a fibre link: its key rate x 86,400 s (bits per day);
* a station's key with a satellite (the on-board store ``SAT>Station``): the
  key of the passes flown over that station **within the simulated span**,
  per day.  A satellite link between stations x and y spends, for every bit
  it relays, one bit of x's key and one of y's (the XOR relay of
  :mod:`satqkd.network.satellite`), so every pair that relays through a
  station shares that station's key: **one resource per station**, not one
  per pair of stations.

**Flows** (an arc-flow linear program, :func:`scipy.optimize.linprog` with
HiGHS).  Relay spends the same bits on every link of a route; routes may run
in parallel; user sites carry no transit (only their own key), as in the
router.

* :func:`pair_capacity` -- one pair **alone**: the maximum flow between its
  two nodes.
* the **joint** answer for the set of demands (one commodity per demand
  pair, its demand in bits per day averaged over the span): the maximum
  concurrent multi-commodity flow ``lambda`` -- the largest common fraction
  of every demand the network carries at once (capped at 1: all of it) --
  and the **max-min fair share** of each pair by progressive filling (raise
  every unfrozen share together; freeze the pairs whose share the
  bottleneck blocks; repeat).
* **bottlenecks**: the resources with a positive shadow price in the
  optimum (their capacities, weighted by the prices, prove the bound: a cut
  for a single pair; the shared bottleneck for the joint answer).

**Weather.**  Each weather year changes only the stations' keys with the
satellite (the right-hand side of the program).  The optimum as a function
of the right-hand side is handled exactly and cheaply (:class:`_Parametric`):
every solved program leaves a dual solution, an upper bound valid for any
right-hand side (dual feasibility does not depend on it), and a primal one,
whose per-pair flows rescaled give a lower bound.  A year whose bounds meet
is answered without solving; otherwise it is solved and its bounds join the
set.  A year of 1,000 weather draws needs a handful of solves.

**Invariants** (tests): the joint share of each pair's demand times the
demand is at most that pair's capacity alone; what the satellite relays for
all pairs together is at most each station's key with it; the clear-sky
answer bounds every weather year's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, csr_matrix, vstack

__all__ = ["FlowModel", "flow_model", "pair_capacity", "joint_capacity", "capacity_table", "route_summary",
           "store_key_per_day", "satellite_stores", "shortest_route", "weather_store_samples", "CAPACITY_COLUMNS"]

# Volumes enter the program in Mbit per day (fibre ~1e4-1e5, stations ~1-100):
# well scaled for HiGHS' tolerances.
_SCALE = 1e6
_TOL = 1e-7

CAPACITY_COLUMNS = [
    "a", "b", "great_circle_km", "route_km", "hops", "demand_bits_per_day",
    "capacity_bits_per_day", "capacity_p10_bits_per_day", "capacity_p50_bits_per_day", "capacity_p90_bits_per_day",
    "capacity_clear_sky_bits_per_day", "bottleneck", "bottleneck_share_of_years",
    "joint_share", "joint_share_p10", "joint_share_p50", "joint_share_p90", "joint_share_clear_sky",
    "joint_bits_per_day", "joint_p10_bits_per_day", "joint_p90_bits_per_day", "joint_bottleneck", "weather",
]


# --------------------------------------------------------------------------
# The network as resources and arcs
# --------------------------------------------------------------------------


@dataclass
class FlowModel:
    """Nodes, arcs (two per link) and the resources each arc spends.

    ``resource_names``: fibre links by their link name, station keys as
    ``SAT>Station``; ``capacity_bits_per_day``: their volumes (clear sky, or
    as given); ``store_resources``: ``(satellite, station)`` -> resource index.
    """

    nodes: list
    kind: dict
    tail: np.ndarray
    head: np.ndarray
    arc_link: np.ndarray
    uses: csr_matrix  # resources x links (0/1)
    resource_names: list
    capacity_bits_per_day: np.ndarray
    store_resources: dict = field(default_factory=dict)


def store_key_per_day(passes: pd.DataFrame | None, span_s: float) -> dict:
    """``(satellite, station)`` -> key flown over the station within ``[0, span_s)``, per day.

    ``passes`` is the satellite-pass table of the simulation (``served``,
    ``end_s``, ``key_bits``); a pass counts when the simulation adds its
    key, i.e. when its key window ends inside the span."""
    if passes is None or len(passes) == 0 or span_s <= 0:
        return {}
    flown = passes["served"].astype(bool) & (passes["end_s"] >= 0) & (passes["end_s"] < span_s)
    got = passes.loc[flown].groupby(["satellite", "station"])["key_bits"].sum()
    return {k: float(v) / (span_s / 86400.0) for k, v in got.items()}


def flow_model(network, links: pd.DataFrame, store_bits_per_day: dict | None = None) -> FlowModel:
    """The resources of ``network``: fibre volumes from ``links['daily_volume_bits']``, station keys
    from ``store_bits_per_day`` (``(satellite, station)`` -> bits per day; without it each station gets
    the daily volume of its satellite link, as a planning stand-in)."""
    nodes = list(network.nodes["node"])
    kind = dict(zip(network.nodes["node"], network.nodes["kind"]))
    index = {n: i for i, n in enumerate(nodes)}
    n_links = len(links)
    vol = links["daily_volume_bits"].to_numpy(float)
    names, caps, rows, cols = [], [], [], []
    sat_of = {sl.link: sl for sl in network.satellites}
    stores: dict = {}
    for k in range(n_links):
        if k in sat_of:
            continue
        rows.append(len(names))
        cols.append(k)
        names.append(str(links.at[k, "link"]))
        caps.append(vol[k])
    for k, sl in sat_of.items():
        for st in sl.stations:
            key = (sl.satellite, st)
            if key not in stores:
                stores[key] = len(names)
                names.append(f"{sl.satellite}>{st}")
                if store_bits_per_day is not None:
                    caps.append(float(store_bits_per_day.get(key, 0.0)))
                else:
                    caps.append(vol[k])
            elif store_bits_per_day is None:
                caps[stores[key]] = max(caps[stores[key]], vol[k])
            rows.append(stores[key])
            cols.append(k)
    uses = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(names), n_links)).tocsr()
    a = links["a"].map(index).to_numpy(int)
    b = links["b"].map(index).to_numpy(int)
    tail = np.r_[a, b]
    head = np.r_[b, a]
    arc_link = np.r_[np.arange(n_links), np.arange(n_links)]
    return FlowModel(nodes, kind, tail, head, arc_link, uses, names, np.asarray(caps, float), stores)


# --------------------------------------------------------------------------
# The program: progressive filling of shares, one commodity per pair
# --------------------------------------------------------------------------


class _Program:
    """``max t`` subject to: each pair ``c`` delivers ``v_c`` from ``a_c`` to ``b_c``;
    resources ``<= capacity``; ``v_c = t d_c`` for the pairs in ``free``, ``v_c = f_c d_c``
    for the frozen ones; ``t <= 1`` if ``capped``.

    Right-hand side layout: ``[resource capacities, (1 if capped), conservation
    zeros, share rows]``.  With one pair, ``d = 1`` and no cap: the pair's maximum flow.
    """

    def __init__(self, model: FlowModel, pairs, demand, free, capped: bool):
        n_nodes = len(model.nodes)
        idx = {n: i for i, n in enumerate(model.nodes)}
        users = np.array([model.kind[n] == "user" for n in model.nodes])
        self.n_pairs = len(pairs)
        self.free = np.asarray(free, bool)
        self.demand = np.asarray(demand, float)
        self.capped = capped
        col_arc, col_pair, v_row = [], [], []
        eq_r, eq_c, eq_v = [], [], []
        row = 0
        for c, (a, b) in enumerate(pairs):
            ia, ib = idx[a], idx[b]
            ok = ~(users[model.tail] & (model.tail != ia) & (model.tail != ib))
            ok &= ~(users[model.head] & (model.head != ia) & (model.head != ib))
            ok &= (model.head != ia) & (model.tail != ib)
            arcs = np.flatnonzero(ok)
            base = len(col_arc)
            col_arc.extend(arcs.tolist())
            col_pair.extend([c] * arcs.size)
            # Conservation at every node but a: inflow - outflow - [node == b] v_c = 0.
            keep = np.ones(n_nodes, bool)
            keep[ia] = False
            node_row = np.full(n_nodes, -1)
            node_row[keep] = row + np.arange(int(keep.sum()))
            j = base + np.arange(arcs.size)
            for nodes_, sign in ((model.head[arcs], 1.0), (model.tail[arcs], -1.0)):
                r = node_row[nodes_]
                m = r >= 0
                eq_r.extend(r[m].tolist())
                eq_c.extend(j[m].tolist())
                eq_v.extend([sign] * int(m.sum()))
            v_row.append(node_row[ib])
            row += int(keep.sum())
        n_x = len(col_arc)
        self.n_x = n_x
        self.col_arc = np.asarray(col_arc, int)
        self.col_pair = np.asarray(col_pair, int)
        v0 = n_x
        t_col = n_x + self.n_pairs
        n_var = t_col + 1
        for c in range(self.n_pairs):
            eq_r.append(v_row[c])
            eq_c.append(v0 + c)
            eq_v.append(-1.0)
        n_cons = row
        # Share rows: v_c - d_c t = 0 (free) or v_c = f_c d_c (frozen: right-hand side).
        for c in range(self.n_pairs):
            eq_r.append(n_cons + c)
            eq_c.append(v0 + c)
            eq_v.append(1.0)
            if self.free[c]:
                eq_r.append(n_cons + c)
                eq_c.append(t_col)
                eq_v.append(-self.demand[c])
        self.n_cons = n_cons
        self.a_eq = coo_matrix((eq_v, (eq_r, eq_c)), shape=(n_cons + self.n_pairs, n_var)).tocsr()
        # Resources: arcs' links through the usage matrix, summed over pairs.
        link_of_col = model.arc_link[self.col_arc]
        u = model.uses[:, link_of_col].tocoo()
        a_ub = coo_matrix((u.data, (u.row, u.col)), shape=(model.uses.shape[0], n_var)).tocsr()
        if capped:
            a_ub = vstack([a_ub, coo_matrix(([1.0], ([0], [t_col])), shape=(1, n_var))]).tocsr()
        self.a_ub = a_ub
        self.n_res = model.uses.shape[0]
        self.cost = np.zeros(n_var)
        self.cost[t_col] = -1.0
        self.t_col, self.v0 = t_col, v0
        # Per pair and resource: the flow's use (filled from a primal solution).
        self._pair_cols = [np.flatnonzero(self.col_pair == c) for c in range(self.n_pairs)]
        self._res_of_col = model.uses[:, link_of_col].tocsc()

    def rhs(self, capacity, frozen_share):
        b_ub = np.asarray(capacity, float) / _SCALE
        if self.capped:
            b_ub = np.r_[b_ub, 1.0]
        share = np.where(self.free, 0.0, np.nan_to_num(frozen_share) * self.demand)
        b_eq = np.r_[np.zeros(self.n_cons), share]
        return b_ub, b_eq

    def solve(self, capacity, frozen_share):
        frozen_share = np.asarray(frozen_share, float)
        for shrink in (1.0, 1.0 - 1e-7, 1.0 - 1e-5):
            # Shares frozen at an earlier optimum can sit a solver tolerance above feasible.
            b_ub, b_eq = self.rhs(capacity, frozen_share * shrink)
            res = linprog(self.cost, A_ub=self.a_ub, b_ub=b_ub, A_eq=self.a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
            if res.status == 0:
                break
        else:
            return None
        x = res.x
        use = np.zeros((self.n_pairs, self.n_res))
        for c, cols in enumerate(self._pair_cols):
            use[c] = self._res_of_col[:, cols] @ x[cols]
        shares = x[self.v0:self.v0 + self.n_pairs] / np.where(self.demand > 0, self.demand, 1.0)
        return {"t": float(x[self.t_col]), "y_ub": res.ineqlin.marginals.copy(), "y_eq": res.eqlin.marginals.copy(),
                "use": use, "share": shares}


class _Parametric:
    """The optimum of one :class:`_Program` for many right-hand sides (weather years), exactly.

    Upper bound: ``-(b . y)`` for every dual solution ``y`` found so far;
    lower bound: every primal solution found so far, each pair's flow
    rescaled to the year's frozen shares and the largest common ``t`` the
    year's capacities allow.  Years whose bounds meet need no solve.
    """

    def __init__(self, program: _Program):
        self.p = program
        self.duals: list = []
        self.primals: list = []

    def _upper(self, caps, frozen):
        p = self.p
        out = np.full(len(caps), np.inf)
        which = np.zeros(len(caps), int)
        fixed = (frozen * p.demand)[:, ~p.free]
        for j, (y_ub, y_eq) in enumerate(self.duals):
            val = caps @ y_ub[: p.n_res] / _SCALE + fixed @ y_eq[p.n_cons:][~p.free]
            if p.capped:
                val = val + y_ub[p.n_res]
            val = -val
            better = val < out
            out[better], which[better] = val[better], j
        return out, which

    def _lower(self, caps, frozen):
        """Each stored primal solution, each pair's flow rescaled: frozen pairs to the
        year's shares, free ones to the largest common share the capacities leave."""
        p = self.p
        room0 = caps / _SCALE
        best = np.full(len(caps), -np.inf)
        for sol in self.primals:
            s, use = sol["share"], sol["use"]
            if any(p.free[c] and s[c] <= _TOL for c in range(p.n_pairs)):
                continue  # a free pair at zero: no common share to scale
            ok = np.ones(len(caps), bool)
            fixed = np.zeros_like(room0)
            per_t = np.zeros(p.n_res)
            for c in range(p.n_pairs):
                if p.free[c]:
                    per_t += use[c] / s[c]
                elif s[c] > _TOL:
                    fixed += np.outer(frozen[:, c] / s[c], use[c])
                else:
                    ok &= frozen[:, c] * p.demand[c] <= _TOL  # no flow to scale: it must want none
            room = room0 - fixed
            ok &= np.all(room >= -_TOL * np.maximum(1.0, room0), axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                lim = np.where(per_t > 0, np.maximum(room, 0.0) / per_t, np.inf)
            t = lim.min(axis=1)
            if p.capped:
                t = np.minimum(t, 1.0)
            best = np.maximum(best, np.where(ok, t, -np.inf))
        return best

    def run(self, caps, frozen):
        """``(t, dual index)`` per row of ``caps`` (``[years, resources]``) and ``frozen`` (``[years, pairs]``)."""
        caps = np.atleast_2d(caps)
        frozen = np.atleast_2d(frozen)
        n = len(caps)
        t = np.full(n, np.nan)
        dual = np.zeros(n, int)
        todo = np.ones(n, bool)
        while todo.any():
            idx = np.flatnonzero(todo)
            if self.duals:
                up, which = self._upper(caps[idx], frozen[idx])
                lo = self._lower(caps[idx], frozen[idx])
                done = up - lo <= _TOL * np.maximum(1.0, np.abs(up))
                t[idx[done]] = np.maximum(lo[done], 0.0)  # the feasible side: later rounds freeze it
                dual[idx[done]] = which[done]
                todo[idx[done]] = False
                if done.all():
                    break
                gap = np.where(done, -np.inf, up - lo)
                k = idx[int(np.argmax(gap))]
            else:
                k = idx[0]
            sol = self.p.solve(caps[k], frozen[k])
            if sol is None:  # pragma: no cover - the program is always feasible (zero flow)
                t[k], todo[k] = 0.0, False
                continue
            self.duals.append((sol["y_ub"], sol["y_eq"]))
            self.primals.append(sol)
            t[k] = max(sol["t"], 0.0)
            dual[k] = len(self.duals) - 1
            todo[k] = False
        return t, dual

    def add(self, caps, frozen) -> int:
        """Solve for one right-hand side, keep its bounds; the index of its dual (-1 if none)."""
        sol = self.p.solve(caps, frozen)
        if sol is None:  # pragma: no cover - the shrunk frozen shares are always feasible
            return -1
        self.duals.append((sol["y_ub"], sol["y_eq"]))
        self.primals.append(sol)
        return len(self.duals) - 1

    def blocked(self, j: int) -> np.ndarray:
        """Pairs whose share row has a nonzero shadow price in dual ``j``."""
        y_eq = self.duals[j][1][self.p.n_cons:]
        return self.p.free & (np.abs(y_eq) > 1e-9)

    def bottleneck(self, j: int) -> np.ndarray:
        """Resources with a positive shadow price in dual ``j``."""
        return np.abs(self.duals[j][0][: self.p.n_res]) > 1e-9


def _separated(model: FlowModel, pairs, resources: np.ndarray, cache: dict) -> np.ndarray:
    """Per pair: True when every route between its ends (no other user's site in transit)
    crosses a link that spends one of ``resources``."""
    key = resources.tobytes()
    if key not in cache:
        cut = np.asarray(model.uses[np.flatnonzero(resources)].sum(axis=0)).ravel() > 0
        g = nx.Graph()
        g.add_nodes_from(range(len(model.nodes)))
        n_links = cut.size
        g.add_edges_from((int(model.tail[k]), int(model.head[k])) for k in range(n_links) if not cut[k])
        idx = {n: i for i, n in enumerate(model.nodes)}
        users = {i for i, n in enumerate(model.nodes) if model.kind[n] == "user"}
        out = []
        for a, b in pairs:
            ia, ib = idx[a], idx[b]
            view = nx.subgraph_view(g, filter_node=lambda n, ia=ia, ib=ib: n not in users or n in (ia, ib))
            out.append(not nx.has_path(view, ia, ib))
        cache[key] = np.array(out, bool)
    return cache[key]


def _scenario_caps(model: FlowModel, store_samples: np.ndarray | None, stores: list) -> np.ndarray:
    """``[years, resources]``: the clear-sky capacities with the stations' keys replaced per year."""
    base = model.capacity_bits_per_day
    if store_samples is None:
        return base[None, :]
    caps = np.repeat(base[None, :], len(store_samples), axis=0)
    for j, key in enumerate(stores):
        caps[:, model.store_resources[key]] = store_samples[:, j]
    return caps


def _names(model: FlowModel, mask: np.ndarray) -> str:
    return "; ".join(n for n, m in zip(model.resource_names, mask) if m)


def pair_capacity(network, volumes, a: str, b: str, store_bits_per_day: dict | None = None):
    """``(bits_per_day, bottleneck_resource_names)`` for nodes ``a`` and ``b`` alone.

    ``volumes``: every link's daily volume (a ``links`` table with
    ``daily_volume_bits`` or the array of it)."""
    links = volumes if isinstance(volumes, pd.DataFrame) else network.links.assign(daily_volume_bits=np.asarray(volumes, float))
    model = flow_model(network, links, store_bits_per_day)
    par = _Parametric(_Program(model, [(a, b)], [1.0], [True], capped=False))
    t, j = par.run(model.capacity_bits_per_day[None, :], np.zeros((1, 1)))
    return float(t[0]) * _SCALE, [n for n, m in zip(model.resource_names, par.bottleneck(int(j[0]))) if m]


def _alone(model: FlowModel, a, b, caps):
    """Capacity alone per row of ``caps`` (bits/day) and the bottleneck names of each."""
    par = _Parametric(_Program(model, [(a, b)], [1.0], [True], capped=False))
    t, j = par.run(caps, np.zeros((len(caps), 1)))
    names = [_names(model, par.bottleneck(int(k))) for k in j]
    return t * _SCALE, names


def joint_capacity(model: FlowModel, pairs, demand_bits_per_day, caps) -> dict:
    """Concurrent flow and max-min fair shares per row of ``caps`` (``[years, resources]``).

    Returns ``lambda`` (``[years]``, the common fraction of every demand, at
    most 1), ``share`` (``[years, pairs]``, max-min fair, at most 1),
    ``bottleneck`` (names of the resources that bound ``lambda``, per year)
    and ``pair_bottleneck`` (per year and pair: those that froze the pair)."""
    caps = np.atleast_2d(caps)
    n_years, n_pairs = len(caps), len(pairs)
    demand = np.asarray(demand_bits_per_day, float) / _SCALE
    share = np.full((n_years, n_pairs), np.nan)
    pair_bn = np.full((n_years, n_pairs), "", dtype=object)
    lam = np.zeros(n_years)
    lam_bn = np.full(n_years, "", dtype=object)
    # Pairs that ask for nothing are served in full.
    share[:, demand <= 0] = 1.0
    programs: dict = {}
    cut_cache: dict = {}
    round_ = 0
    while np.isnan(share).any():
        open_ = np.isnan(share)
        # Group the years by which pairs are still free.
        groups: dict = {}
        for y in np.flatnonzero(open_.any(axis=1)):
            groups.setdefault(open_[y].tobytes(), []).append(y)
        for key, ys in groups.items():
            ys = np.asarray(ys)
            free = np.frombuffer(key, dtype=bool).copy()
            if key not in programs:
                programs[key] = _Parametric(_Program(model, pairs, demand, free, capped=True))
            par = programs[key]
            frozen = np.nan_to_num(share[ys])
            t, j = par.run(caps[ys], frozen)
            t = np.clip(t, 0.0, 1.0) + 0.0  # no negative zeros in the tables
            for y, ty, jy in zip(ys, t, j):
                if round_ == 0:
                    lam[y] = ty
                    lam_bn[y] = _names(model, par.bottleneck(int(jy))) if ty < 1 - 1e-9 else ""
                if ty >= 1.0 - 1e-9:
                    share[y, free] = 1.0
                    continue
                # Blocked: a free pair with a shadow price whose ends the priced (saturated)
                # resources separate; prices alone can mislead when the optimum is degenerate.
                stop = par.blocked(int(jy)) & _separated(model, pairs, par.bottleneck(int(jy)), cut_cache)
                if not stop.any():
                    # The certifying prices came from another year: take this year's own.
                    jy = par.add(caps[y], frozen[np.flatnonzero(ys == y)[0]])
                    if jy >= 0:
                        stop = par.blocked(jy) & _separated(model, pairs, par.bottleneck(jy), cut_cache)
                        if not stop.any():
                            stop = free & _separated(model, pairs, par.bottleneck(jy), cut_cache)
                if not stop.any():
                    stop = free  # nothing identifiable: freeze every free pair at the common level
                share[y, stop] = ty
                pair_bn[y, stop] = _names(model, par.bottleneck(int(jy)))
        round_ += 1
        if round_ > n_pairs + 1:  # pragma: no cover - each round freezes at least one pair
            share[np.isnan(share)] = 0.0
    return {"lambda": lam, "share": share, "bottleneck": lam_bn, "pair_bottleneck": pair_bn}


# --------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------


def shortest_route(network, a: str, b: str) -> list:
    """The nodes of the shortest route by length from ``a`` to ``b`` that crosses no other
    user's site (as the router and the flows allow); ``[]`` without one."""
    kinds = dict(zip(network.nodes["node"], network.nodes["kind"]))
    hide = {n for n, k in kinds.items() if k == "user"} - {a, b}
    view = nx.subgraph_view(network.graph, filter_node=lambda n: n not in hide)
    try:
        return nx.shortest_path(view, a, b, weight="length_km")
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return []


def route_summary(network, a: str, b: str):
    """``(route_km, hops)`` of :func:`shortest_route`; ``(nan, 0)`` without one."""
    route = shortest_route(network, a, b)
    if not route:
        return np.nan, 0
    return float(sum(network.graph[u][v]["length_km"] for u, v in zip(route[:-1], route[1:]))), len(route) - 1


def _demand_pairs(network, span_s: float):
    """Demand pairs (unordered, in order of first appearance) and their bits per day over the span."""
    from .demand import make_requests

    pairs: dict = {}
    if not network.demands or span_s <= 0:
        return pairs
    req = make_requests(network.demands, span_s, network.seed)
    days = span_s / 86400.0
    for d in network.demands:
        key = (d.a, d.b) if (d.b, d.a) not in pairs else (d.b, d.a)
        pairs.setdefault(key, 0.0)
    for (a, b), bits in req.groupby(["a", "b"], sort=False)["bits"].sum().items():
        key = (a, b) if (a, b) in pairs else (b, a)
        pairs[key] += float(bits) / days
    return pairs


def _stats(x: np.ndarray):
    x = np.asarray(x, float)
    return float(x.mean()), *(float(v) for v in np.percentile(x, [10, 50, 90]))


def _mode(names) -> tuple[str, float]:
    s = pd.Series(list(names))
    counts = s.value_counts(sort=True)
    # Ties broken by name, so the choice is deterministic.
    top = counts[counts == counts.iloc[0]].sort_index()
    return str(top.index[0]), float(counts.iloc[0] / len(s))


def capacity_table(network, links: pd.DataFrame, pairs, *, passes: pd.DataFrame | None = None, span_s: float | None = None,
                   store_samples: np.ndarray | None = None, store_clear_sky: np.ndarray | None = None,
                   weather_note: str = "clear sky (no weather: block)", joint: dict | None = None) -> pd.DataFrame:
    """One row per pair: capacity alone (expected with weather, P10/P50/P90, clear-sky ceiling, bottleneck),
    joint share of its demand (max-min fair, with weather and clear sky), route and distance.

    ``pairs``: the pairs listed (demand pairs not listed are added after
    them).  ``passes``/``span_s``: the simulation's satellite passes and span
    (stations' keys per day, and the demands' bits per day); without them,
    the satellite links' daily volumes stand in and only listed pairs are
    given.  ``store_samples``: ``[years, stores]`` bits per day, one row per
    weather year, and ``store_clear_sky``: ``[stores]`` with every night
    clear, stores as :func:`satellite_stores` (both from
    :func:`weather_store_samples`); without them, the passes as flown in the
    simulation are the only answer.
    ``joint`` (a dict, optional) receives the network-wide concurrent
    share: mean, P10/P50/P90, clear sky and the shared bottleneck.
    """
    from .topology import great_circle_km

    stores = satellite_stores(network)
    if store_clear_sky is not None:
        store_clear = dict(zip(stores, np.asarray(store_clear_sky, float)))
    else:
        store_clear = store_key_per_day(passes, span_s) if passes is not None and span_s else None
    model = flow_model(network, links, store_clear)
    weather = store_samples is not None and len(store_samples) > 0
    caps_clear = model.capacity_bits_per_day[None, :]
    caps = _scenario_caps(model, store_samples, stores) if weather else caps_clear
    demands = _demand_pairs(network, span_s) if span_s else {}
    rows_pairs = [tuple(p) for p in pairs]
    for p in demands:
        if p not in rows_pairs and p[::-1] not in rows_pairs:
            rows_pairs.append(p)
    # Joint answer over the demand pairs, per weather year and under a clear sky.
    dp = list(demands)
    dv = np.array([demands[p] for p in dp])
    jw = joint_capacity(model, dp, dv, caps) if dp else None
    jc = joint_capacity(model, dp, dv, caps_clear) if dp else None
    if joint is not None and jw is not None:
        m, p10, p50, p90 = _stats(jw["lambda"])
        bn, frac = _mode(jw["bottleneck"])
        joint.update({"pairs": len(dp), "demand_bits_per_day": float(dv.sum()), "share": m, "share_p10": p10,
                      "share_p50": p50, "share_p90": p90, "share_clear_sky": float(jc["lambda"][0]),
                      "bottleneck": bn, "bottleneck_share_of_years": frac, "clear_sky_bottleneck": str(jc["bottleneck"][0]),
                      "years": int(len(caps)) if weather else 0})
    pos = network.nodes.set_index("node")
    out = []
    for a, b in rows_pairs:
        alone, names = _alone(model, a, b, caps)
        clear, _ = _alone(model, a, b, caps_clear) if weather else (alone, names)
        m, p10, p50, p90 = _stats(alone)
        bn, frac = _mode(names)
        route_km, hops = route_summary(network, a, b)
        key = (a, b) if (a, b) in demands else ((b, a) if (b, a) in demands else None)
        row = {
            "a": a, "b": b,
            "great_circle_km": float(great_circle_km(pos.at[a, "latitude_deg"], pos.at[a, "longitude_deg"],
                                                     pos.at[b, "latitude_deg"], pos.at[b, "longitude_deg"])),
            "route_km": route_km, "hops": hops,
            "demand_bits_per_day": demands[key] if key else np.nan,
            "capacity_bits_per_day": m, "capacity_p10_bits_per_day": p10, "capacity_p50_bits_per_day": p50,
            "capacity_p90_bits_per_day": p90, "capacity_clear_sky_bits_per_day": float(clear[0]),
            "bottleneck": bn, "bottleneck_share_of_years": frac,
        }
        if key is not None:
            c = dp.index(key)
            sm, s10, s50, s90 = _stats(jw["share"][:, c])
            jbn, _ = _mode(jw["pair_bottleneck"][:, c])
            d = demands[key]
            row.update({"joint_share": sm, "joint_share_p10": s10, "joint_share_p50": s50, "joint_share_p90": s90,
                        "joint_share_clear_sky": float(jc["share"][0, c]), "joint_bits_per_day": sm * d,
                        "joint_p10_bits_per_day": s10 * d, "joint_p90_bits_per_day": s90 * d, "joint_bottleneck": jbn})
        row["weather"] = weather_note
        out.append(row)
    return pd.DataFrame(out, columns=CAPACITY_COLUMNS)


def satellite_stores(network) -> list:
    """The ``(satellite, station)`` stores of ``network``'s satellite links, in order."""
    out = []
    for sl in network.satellites:
        for st in sl.stations:
            if (sl.satellite, st) not in out:
                out.append((sl.satellite, st))
    return out


def weather_store_samples(passes: pd.DataFrame, network, start, span_s: float, models: dict, longitudes_deg: dict, *,
                          years: int, seed: int, station_repoint_s: float = 60.0,
                          satellite_repoint_s: float = 60.0):
    """``(samples, clear_sky)``: each station's key with the satellite, bits per day, in ``years``
    seeded weather years (``[years, stores]``, stores as :func:`satellite_stores`)
    and with every night clear (``[stores]``, the ceiling).

    ``passes`` is the key stage's table (every pass, with ``key_bits``); those
    whose key window ends inside the span count, as in the simulation.  In
    each year the clear passes are scheduled by the greedy rule (as the
    weather tables of ``satqkd run`` do): :func:`satqkd.weather.key_samples`
    with :func:`satqkd.schedule.greedy_many`.  Stations without a cloud
    model are clear every night."""
    from .. import schedule, weather as weatherlib
    from .satellite import seconds_since

    stores = satellite_stores(network)
    out = np.zeros((years, len(stores)))
    clear = np.zeros(len(stores))
    if passes is None or passes.empty or "key_bits" not in passes or span_s <= 0:
        return out, clear
    end_col = "usable_end_utc" if "usable_end_utc" in passes else "set_utc"
    end_s = seconds_since(passes[end_col], start)
    inside = passes.loc[np.isfinite(end_s) & (end_s >= 0) & (end_s < span_s)].reset_index(drop=True)
    if inside.empty:
        return out, clear
    key = inside["key_bits"].fillna(0.0).to_numpy(float)
    select = schedule.greedy_many(key, schedule.conflicts(inside, station_repoint_s, satellite_repoint_s))
    samples = weatherlib.key_samples(inside, models, years=years, seed=seed, longitudes_deg=longitudes_deg, select=select)
    ceiling = key * select(np.ones((1, len(inside)), bool))[0]
    sat, sta = inside["satellite"].to_numpy(), inside["station"].to_numpy()
    days = span_s / 86400.0
    for j, (s_, st) in enumerate(stores):
        cols = np.flatnonzero((sat == s_) & (sta == st))
        out[:, j] = samples[:, cols].sum(axis=1) / days
        clear[j] = ceiling[cols].sum() / days
    return out, clear

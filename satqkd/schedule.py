"""Contention: one telescope per station, one quantum terminal per satellite.

A ground station with one telescope tracks one satellite at a time, and
needs ``station_repoint_s`` (default 60 s) between two contacts; a satellite
with one terminal serves one station at a time (``satellite_repoint_s``
between contacts).  A contact occupies its pass's usable window (the
telescope tracks while every constraint holds).  When passes conflict,
some cannot be served.

* :class:`ScheduleSettings` -- a scenario's ``schedule:`` block: the rule and
  the re-pointing times.
* :func:`conflicts` -- every pair of passes that cannot both be served, and
  why (same station or same satellite, too close in time).
* :func:`greedy` -- the default rule: passes by decreasing key, each taken
  if it conflicts with none taken so far (:func:`greedy_many`: the same for
  many weather years at once).
* :func:`optimal` -- the assignment of largest total key: a maximum-weight
  independent set of the conflict graph, solved exactly as a 0/1 integer
  program with :func:`scipy.optimize.milp`, one connected group of
  conflicting passes at a time (groups are small: a few passes that overlap
  in time; :data:`MAX_OPTIMAL_GROUP` bounds them).
* :func:`relay` -- the assignment that maximises the key the satellite
  relay can use (``rule: relay``): a station's key with the satellite is
  worth something only when another station of a satellite link has key to
  pair it with (the XOR relay gives the smaller of two stores).  A 0/1
  integer program over the conflicting passes with one continuous variable
  per relayed station pair ``f_ab``: maximise ``sum f_ab`` subject to
  ``sum_b f_ab <= K_a`` (each station's flown key, shared by all its pairs)
  and the conflicts, with the raw key as a tie-break (weight 1e-6); passes
  free of conflicts are always flown.  Over a long span it favours the
  station with less key (Xinglong against Nanshan in ``china-network``).
* :func:`schedule` -- the passes table with ``scheduled`` and
  ``not_scheduled_reason`` ("cloudy", "station busy (pass 12)", "satellite
  busy (pass 12)"); :func:`schedule_stage` applies a scenario's settings;
  :func:`lost_to_conflicts` sums the key of clear passes left out.
* :func:`key_summary` -- where the key of every pass went: delivered
  (scheduled on a clear night), lost to cloud, lost to conflicts; the three
  add up to the clear-sky ceiling (every pass served, every night clear).
* :func:`weather_years` -- the key over many seeded weather years, each
  scheduled by the greedy rule (:mod:`satqkd.weather` draws the nights).

Cloudy passes (``clear`` False, see :mod:`satqkd.weather`) are not
scheduled: the operator points only at a clear sky.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field

from .errors import SatqkdError

__all__ = ["ScheduleSettings", "conflicts", "greedy", "optimal", "relay", "schedule", "schedule_stage",
           "lost_to_conflicts", "key_summary", "weather_years", "greedy_many", "MAX_OPTIMAL_GROUP"]

MAX_OPTIMAL_GROUP = 2000  # passes in one group of conflicts the exact solver accepts


@dataclass(frozen=True)
class ScheduleSettings:
    """A scenario's ``schedule:`` block (all optional)."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    rule: Literal["greedy", "optimal", "relay"] = "greedy"
    station_repoint_s: Annotated[float, Field(ge=0.0)] = 60.0
    satellite_repoint_s: Annotated[float, Field(ge=0.0)] = 60.0


def _seconds(col) -> np.ndarray:
    t = pd.to_datetime(col, utc=True)
    return ((t - pd.Timestamp("2000-01-01", tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(float)


def _intervals(passes: pd.DataFrame):
    start = _seconds(passes["usable_start_utc"])
    end = _seconds(passes["usable_end_utc"]) + 1.0  # the last usable second is tracked too
    return start, end


def _pairs_in_groups(labels: np.ndarray, start: np.ndarray, end: np.ndarray, gap_s: float):
    """Pairs (i, j), i != j, with the same label whose intervals come closer than ``gap_s``."""
    out_i, out_j = [], []
    for lab in pd.unique(labels):
        idx = np.flatnonzero(labels == lab)
        if idx.size < 2:
            continue
        o = idx[np.argsort(start[idx], kind="stable")]
        s, e = start[o], end[o]
        # Sorted by start, j after i conflicts iff s[j] < e[i] + gap; with
        # nested intervals a later i can reach further, so use the running
        # maximum of the ends for the search bound and filter exactly.
        reach = np.searchsorted(s, np.maximum.accumulate(e) + gap_s, side="left")
        for a in range(o.size):
            b = np.arange(a + 1, reach[a])
            if b.size:
                hit = b[s[b] < e[a] + gap_s]
                out_i.append(np.full(hit.size, o[a]))
                out_j.append(o[hit])
    if not out_i:
        return np.zeros(0, int), np.zeros(0, int)
    return np.concatenate(out_i), np.concatenate(out_j)


def conflicts(passes: pd.DataFrame, station_repoint_s: float = 60.0, satellite_repoint_s: float = 60.0) -> pd.DataFrame:
    """Pairs of passes (by row position) that cannot both be served.

    Columns ``i, j`` (row positions, ``i`` earlier) and ``kind``
    ("station" or "satellite").  Two passes over one station conflict if
    one starts less than ``station_repoint_s`` after the other ends
    (or they overlap); two passes of one satellite likewise.
    """
    if passes.empty:
        return pd.DataFrame({"i": np.zeros(0, int), "j": np.zeros(0, int), "kind": np.zeros(0, object)})
    start, end = _intervals(passes)
    frames = []
    for kind, col, gap in (("station", "station", station_repoint_s), ("satellite", "satellite", satellite_repoint_s)):
        i, j = _pairs_in_groups(passes[col].to_numpy(), start, end, gap)
        frames.append(pd.DataFrame({"i": i, "j": j, "kind": kind}))
    table = pd.concat(frames, ignore_index=True)
    return table.drop_duplicates(["i", "j"]).reset_index(drop=True)


def greedy(weights, pairs: pd.DataFrame, allowed=None) -> np.ndarray:
    """Take passes by decreasing weight (ties: earlier row first), each if it
    conflicts with none taken so far.  Returns a boolean per pass."""
    w = np.asarray(weights, float)
    allowed = np.ones(w.size, bool) if allowed is None else np.asarray(allowed, bool)
    neighbours = _neighbours(w.size, pairs)
    taken = np.zeros(w.size, bool)
    for k in np.argsort(-w, kind="stable"):
        if allowed[k] and not taken[neighbours[k]].any():
            taken[k] = True
    return taken


def greedy_many(weights, pairs: pd.DataFrame):
    """:func:`greedy` for many weather years at once: returns a function
    mapping clear passes ``[years, passes]`` to the scheduled ones."""
    w = np.asarray(weights, float)
    neighbours = _neighbours(w.size, pairs)
    order = np.argsort(-w, kind="stable")

    def select(clear: np.ndarray) -> np.ndarray:
        taken = np.zeros_like(clear, dtype=bool)
        for k in order:
            nb = neighbours[k]
            taken[:, k] = clear[:, k] & ~taken[:, nb].any(axis=1) if nb.size else clear[:, k]
        return taken

    return select


def _neighbours(n: int, pairs: pd.DataFrame) -> list[np.ndarray]:
    i = pairs["i"].to_numpy(int)
    j = pairs["j"].to_numpy(int)
    a, b = np.r_[i, j], np.r_[j, i]
    order = np.argsort(a, kind="stable")
    a, b = a[order], b[order]
    bounds = np.searchsorted(a, np.arange(n + 1))
    return [b[bounds[k]:bounds[k + 1]] for k in range(n)]


def optimal(weights, pairs: pd.DataFrame, allowed=None) -> np.ndarray:
    """The set of passes of largest total weight with no conflicting pair.

    Solved exactly per connected group of conflicts with
    :func:`scipy.optimize.milp` (``x_i + x_j <= 1`` for each conflicting
    pair, ``x`` binary); then every pass still free of conflicts is added
    (passes of no key included), so each pass left out conflicts with one taken.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    w = np.asarray(weights, float)
    n = w.size
    allowed = np.ones(n, bool) if allowed is None else np.asarray(allowed, bool)
    taken = np.zeros(n, bool)
    ok = pairs[allowed[pairs["i"].to_numpy(int)] & allowed[pairs["j"].to_numpy(int)]]
    i, j = ok["i"].to_numpy(int), ok["j"].to_numpy(int)
    graph = coo_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    pair_label = label[i]
    for lab in np.unique(label[allowed]):
        members = np.flatnonzero((label == lab) & allowed)
        sel = pair_label == lab
        if not sel.any():
            taken[members] = True
            continue
        if members.size > MAX_OPTIMAL_GROUP:
            raise SatqkdError(f"schedule.rule: optimal: a group of {members.size} conflicting passes is too large "
                              f"(at most {MAX_OPTIMAL_GROUP}); use rule: greedy")
        pos = {m: k for k, m in enumerate(members)}
        pi = np.array([pos[v] for v in i[sel]])
        pj = np.array([pos[v] for v in j[sel]])
        rows = np.arange(pi.size)
        a = coo_matrix((np.ones(2 * pi.size), (np.r_[rows, rows], np.r_[pi, pj])), shape=(pi.size, members.size))
        c = -np.maximum(w[members], 0.0)
        res = milp(c, constraints=LinearConstraint(a, -np.inf, 1.0), integrality=np.ones(members.size),
                   bounds=Bounds(0, 1))
        if not res.success:  # pragma: no cover - a feasible 0/1 program always solves
            raise SatqkdError(f"schedule: the integer program failed ({res.message})")
        taken[members] = res.x > 0.5
    # Passes the solver left out at no cost (zero key, or ties within its
    # tolerance) are added wherever they are free: the schedule is maximal.
    neighbours = _neighbours(n, ok)
    for k in np.flatnonzero(allowed & ~taken):
        if not taken[neighbours[k]].any():
            taken[k] = True
    return taken


def relay(weights, pairs: pd.DataFrame, allowed, satellite, station, relay_pairs) -> np.ndarray:
    """The set of passes that maximises the key the satellite relay can use.

    ``satellite``, ``station``: per pass; ``relay_pairs``: the
    ``(satellite, station_a, station_b)`` pairs a relay may join (the
    satellite links).  See the module docstring for the program; solved by
    :func:`scipy.optimize.milp` (HiGHS).  Returns a boolean per pass."""
    w = np.maximum(np.asarray(weights, float), 0.0)
    n = w.size
    allowed = np.ones(n, bool) if allowed is None else np.asarray(allowed, bool)
    sat, sta = np.asarray(satellite, object), np.asarray(station, object)
    ok = pairs[allowed[pairs["i"].to_numpy(int)] & allowed[pairs["j"].to_numpy(int)]]
    i, j = ok["i"].to_numpy(int), ok["j"].to_numpy(int)
    involved = np.unique(np.r_[i, j])
    m, q = involved.size, len(relay_pairs)
    taken = allowed.copy()
    if m == 0:
        return taken
    taken[involved] = False
    col = {p: k for k, p in enumerate(involved)}
    try:
        x = _relay_program(w, i, j, involved, col, relay_pairs, sat, sta, allowed, taken, scale=1.0)
    except _NoSolution as exc:
        # HiGHS fails now and then on a program it should solve (Status 4, "Solve error", seen
        # on five passes); the same program scaled by a power of two (exact) is solved.
        if exc.status != 4:  # (a time limit, say: no point in trying again)
            raise SatqkdError(f"schedule.rule: relay: the integer program found no schedule ({exc}); "
                              "use rule: optimal") from None
        try:
            x = _relay_program(w, i, j, involved, col, relay_pairs, sat, sta, allowed, taken, scale=8.0)
        except _NoSolution as exc:
            raise SatqkdError(f"schedule.rule: relay: the integer program found no schedule ({exc}); "
                              "use rule: optimal") from None
    taken[involved] = x > 0.5
    neighbours = _neighbours(n, ok)  # maximal: add what is still free (zero-key passes)
    for k in np.flatnonzero(allowed & ~taken):
        if not taken[neighbours[k]].any():
            taken[k] = True
    return taken


class _NoSolution(Exception):
    """HiGHS returned no solution (its message; ``status`` as scipy's ``milp`` gives it)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def _relay_program(w, i, j, involved, col, relay_pairs, sat, sta, allowed, taken, scale: float):
    """The two solves of :func:`relay` with keys in units of ``scale`` bits: the 0/1 choice
    of every pass involved in a conflict."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    m, q = involved.size, len(relay_pairs)
    # Best in bits (scale 1): HiGHS stops within an absolute gap of 1e-6 of the
    # objective, which must be far below one bit (scaling by the largest key
    # would put a 1-bit difference under it).
    rows, cols, vals, upper = [], [], [], []
    for r, (a, b) in enumerate(zip(i, j)):  # x_i + x_j <= 1
        rows += [r, r]
        cols += [col[a], col[b]]
        vals += [1.0, 1.0]
        upper.append(1.0)
    r = len(upper)
    ends = sorted({(s, x) for s, a, b in relay_pairs for x in (a, b)})
    for s, x in ends:  # sum of the station's pairs' f - its conflicting passes' key <= its other key
        at = (sat == s) & (sta == x) & allowed
        fixed = float(w[at & taken].sum()) / scale
        for k, (ps, pa, pb) in enumerate(relay_pairs):
            if ps == s and x in (pa, pb):
                rows.append(r)
                cols.append(m + k)
                vals.append(1.0)
        for p in np.flatnonzero(at[involved]):
            rows.append(r)
            cols.append(int(p))
            vals.append(-w[involved[p]] / scale)
        upper.append(fixed)
        r += 1
    a_mat = coo_matrix((vals, (rows, cols)), shape=(r, m + q))
    kw = dict(integrality=np.r_[np.ones(m), np.zeros(q)], bounds=Bounds(0, np.r_[np.ones(m), np.full(q, np.inf)]),
              options={"mip_rel_gap": 1e-9, "time_limit": 120.0})

    def solve(c, constraints):
        res = milp(c, constraints=constraints, **kw)
        if res.x is None:
            raise _NoSolution(res.message, res.status)
        return res

    # Lexicographic, in two solves: first the most key the relay can use;
    # then, keeping that, the most key in all.  (One objective with a small
    # weight on the total key would trade a relayable bit for a million raw
    # ones when the passes' keys span orders of magnitude.)
    base = LinearConstraint(a_mat, -np.inf, np.asarray(upper))
    first = solve(-np.r_[np.zeros(m), np.ones(q)], [base])
    best = float(first.x[m:].sum())
    # (Less HiGHS's own tolerance, 1e-6 here: a millionth of a bit.)
    keep = LinearConstraint(np.r_[np.zeros(m), np.ones(q)][None, :], best - max(1e-6, 1e-9 * best), np.inf)
    return solve(-np.r_[w[involved] / scale, np.zeros(q)], [base, keep]).x[:m]


def _relay_pairs(passes: pd.DataFrame) -> list:
    """Every pair of stations per satellite in the table (when no network names them)."""
    out = []
    for s in pd.unique(passes["satellite"]):
        st = sorted(pd.unique(passes.loc[passes["satellite"] == s, "station"]))
        out += [(s, a, b) for k, a in enumerate(st) for b in st[k + 1:]]
    return out


def schedule(passes: pd.DataFrame, rule: str = "greedy", *, station_repoint_s: float = 60.0,
             satellite_repoint_s: float = 60.0, key_column: str = "key_bits", relay_pairs=None) -> pd.DataFrame:
    """The passes table with ``scheduled`` (bool) and ``not_scheduled_reason``.

    Only clear passes (column ``clear``, all if absent) are candidates; the
    weight of a pass is its ``key_column``.  ``relay_pairs`` (rule
    ``relay``): the ``(satellite, station_a, station_b)`` pairs of the
    satellite links; default, every pair of stations of each satellite.
    """
    if rule not in ("greedy", "optimal", "relay"):
        raise SatqkdError(f"schedule.rule: expected greedy, optimal or relay, got {rule!r}")
    out = passes.copy()
    n = len(out)
    if n == 0:
        out["scheduled"] = pd.Series(dtype=bool)
        out["not_scheduled_reason"] = pd.Series(dtype=object)
        return out
    clear = out["clear"].to_numpy(bool) if "clear" in out else np.ones(n, bool)
    # A station known to be down (column station_down, from the network's outages) flies nothing.
    down = out["station_down"].to_numpy(bool) if "station_down" in out else np.zeros(n, bool)
    weights = out[key_column].fillna(0.0).to_numpy(float) if key_column in out else np.zeros(n)
    pairs = conflicts(out, station_repoint_s, satellite_repoint_s)
    if rule == "relay":
        taken = relay(weights, pairs, clear & ~down, out["satellite"].to_numpy(object), out["station"].to_numpy(object),
                      _relay_pairs(out) if relay_pairs is None else list(relay_pairs))
    else:
        taken = (greedy if rule == "greedy" else optimal)(weights, pairs, clear & ~down)
    reason = np.where(clear, np.where(down, "station down", ""), "cloudy").astype(object)
    ids = out["pass_id"].to_numpy() if "pass_id" in out else np.arange(n)
    # Name a taken pass that blocks each clear pass left out (station first).
    for kind in ("satellite", "station"):
        sel = pairs[pairs["kind"] == kind]
        for a, b in ((sel["i"].to_numpy(int), sel["j"].to_numpy(int)), (sel["j"].to_numpy(int), sel["i"].to_numpy(int))):
            hit = clear[a] & ~down[a] & ~taken[a] & taken[b]
            for k, m in zip(a[hit], b[hit]):
                reason[k] = f"{kind} busy (pass {ids[m]})"
    reason[taken] = ""
    out["scheduled"] = taken
    out["not_scheduled_reason"] = reason
    return out


def lost_to_conflicts(passes: pd.DataFrame, key_column: str = "key_bits") -> float:
    """Key bits of clear passes that were not scheduled."""
    if passes.empty or "scheduled" not in passes:
        return 0.0
    clear = passes["clear"].to_numpy(bool) if "clear" in passes else np.ones(len(passes), bool)
    lost = clear & ~passes["scheduled"].to_numpy(bool)
    return float(passes[key_column].fillna(0.0).to_numpy(float)[lost].sum())


def schedule_stage(scenario, passes: pd.DataFrame) -> pd.DataFrame:
    """:func:`schedule` with the scenario's ``schedule:`` settings (defaults if none)."""
    s = getattr(scenario, "schedule", None) or ScheduleSettings()
    network = getattr(scenario, "network", None)
    pairs = [(sl.satellite, *sl.stations) for sl in network.satellites] if network is not None and network.satellites else None
    return schedule(passes, s.rule, station_repoint_s=s.station_repoint_s, satellite_repoint_s=s.satellite_repoint_s,
                    relay_pairs=pairs)


def key_summary(passes: pd.DataFrame, key_column: str = "key_bits") -> dict:
    """Where the key of the span went, in bits, as the headline of a run.

    ``delivered_key_bits``: passes scheduled on a clear night (what the
    stations actually get); ``lost_to_cloud_bits``: passes on cloudy nights;
    ``lost_to_conflicts_bits``: clear passes left out by contention;
    ``clear_sky_ceiling_bits``: every pass served under a clear sky, the
    upper bound -- equal to the sum of the three.  Without ``clear`` or
    ``scheduled`` columns every pass counts as clear or served.
    """
    n = len(passes)
    key = passes[key_column].fillna(0.0).to_numpy(float) if key_column in passes else np.zeros(n)
    clear = passes["clear"].fillna(False).to_numpy(bool) if "clear" in passes else np.ones(n, bool)
    served = passes["scheduled"].fillna(False).to_numpy(bool) if "scheduled" in passes else np.ones(n, bool)
    delivered = clear & served
    return {
        "delivered_key_bits": float(key[delivered].sum()),
        "passes_served": int(delivered.sum()),
        "lost_to_cloud_bits": float(key[~clear].sum()),
        "cloudy_passes": int((~clear).sum()),
        "lost_to_conflicts_bits": float(key[clear & ~served].sum()),
        "conflicting_passes": int((clear & ~served).sum()),
        "clear_sky_ceiling_bits": float(key.sum()),
    }


def weather_years(scenario, passes: pd.DataFrame, *, years: int, seed: int):
    """The key over the span in ``years`` seeded weather years:
    ``(by station and link, by station and month)`` (see
    :func:`satqkd.weather.key_distribution`).  In each weather year the
    clear passes are scheduled by the greedy rule, with the scenario's
    re-pointing times."""
    from . import weather as weatherlib

    models, longitudes = weatherlib.scenario_models(scenario)
    s = getattr(scenario, "schedule", None) or ScheduleSettings()
    pairs = conflicts(passes, s.station_repoint_s, s.satellite_repoint_s)
    select = greedy_many(passes["key_bits"].fillna(0.0).to_numpy(float), pairs)
    kw = dict(years=years, seed=seed, longitudes_deg=longitudes, select=select)
    return weatherlib.key_distribution(passes, models, **kw), weatherlib.monthly_distribution(passes, models, **kw)

"""Passes of many satellites over many stations at once.

:func:`find_passes_many` gives the same table as
:func:`satqkd.passes.find_passes` (same columns, same passes, rise and set
to the same millisecond) but batches the work over every
(satellite, station) pair instead of looping over them:

1. **Coarse grid.**  Satellites are propagated together on one time grid
   with python-sgp4's ``SatrecArray`` (one C call for all of them) and
   rotated to the Earth-fixed frame by the same GMST-1982 rotation as
   :mod:`satqkd.geometry` (its own ``_teme_to_itrs``, reused through a
   small adapter).  Satellites whose coarse steps
   (:func:`satqkd.passes._coarse_step_s`) are within 25 % of each other
   share a grid at the smallest of their steps: a finer grid never loses a
   pass, and rise/set differ from the per-satellite search only by the
   bisection tolerance (under 1 ms).  ``f = elevation - threshold`` then
   comes out for every station as one array per chunk of satellites.
2. **Refinement.**  The local extrema of every pair, found with the same
   rules as :func:`satqkd.passes._find_intervals`, are refined together by
   :func:`satqkd.passes._golden`, and every sign change by
   :func:`satqkd.passes._bisect`: those two functions only ever call
   ``track.f(offsets)`` elementwise, so one "track" that evaluates a
   different (satellite, station) pair for each element refines all pairs
   in a single loop of ~40 iterations.
3. **Per-second constraints.**  Whole seconds inside every pass are
   propagated once per satellite (a second shared by passes over several
   stations is computed once), the Sun and the Moon once per distinct
   second for all pairs, and only the columns some constraint reads are
   computed unless the per-second table is asked for.  When no constraint
   reads the satellite's geometry, the smallest range over a pass's whole
   seconds comes from a golden-section search of the range (a LEO pass's
   range falls then rises) and the whole seconds around its minimum.

Refinement also prunes: after a few golden-section iterations an extremum
that cannot reach the threshold any more is dropped (it cannot make a rise
or a set), so only the extrema near a pass are refined to the full
tolerance.

Chunks of satellites keep the coarse ``f`` array below a few million
values, so a year-long span costs memory proportional to one chunk.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sgp4.api import SatrecArray

from . import geometry as _geometry
from .constraints import Constraints
from .errors import SatqkdError
from .geometry import (
    Clock,
    SunMoon,
    elevation_of,
    look_angles,
    moon_illumination,
    satellite_itrs_km_at,
    separation_deg,
    sunlit,
)
from .passes import (
    GOLDEN,
    _culminate_on_elevation,
    _max_rate_below_deg_s,
    MAX_EPOCH_AGE_DAYS_LEO,
    PASS_COLUMNS,
    SECOND_COLUMNS,
    PassForecast,
    _bisect,
    _coarse_step_s,
    _golden,
    _grid,
    _max_angular_rate_deg_s,
    _utc,
    orbital_period_s,
    to_time,
)

__all__ = ["find_passes_many", "coarse_itrs_km"]

# Satellites whose coarse steps differ by less than this factor share a grid.
_STEP_GROUP_FACTOR = 1.25
# Upper bound on the values of the coarse f array per chunk of satellites
# (8 bytes each, plus a few temporaries of that size).
_CHUNK_VALUES = 4_000_000
# Bracket widths after the pruning stages of golden-section search (see
# _refine_extrema).
_STAGE_WIDTHS_S = (30.0, 8.0, 2.0)


class _ArrayModel:
    """Quacks like a ``Satrec`` for :func:`satqkd.geometry._teme_to_itrs`.

    ``sgp4_array(jd, fr)`` returns positions shaped ``(n_times, n_sats, 3)``
    from a ``SatrecArray``: the rotation transposes them to
    ``(3, n_sats, n_times)`` and broadcasts its per-time cosines over the
    satellites, so the exact same rotation code serves all satellites.
    """

    def __init__(self, models):
        self.array = SatrecArray(list(models))
        self.satnum = 0

    def sgp4_array(self, jd, fr):
        e, r, v = self.array.sgp4(jd, fr)
        return e, r.transpose(1, 0, 2), v.transpose(1, 0, 2)


class _ElementwiseModel:
    """Quacks like a ``Satrec``: element ``k`` is propagated with the model of
    satellite ``sat_idx[k]`` (elements sorted by satellite)."""

    def __init__(self, models, sat_idx):
        self.models = models
        self.bounds = np.searchsorted(sat_idx, np.arange(len(models) + 1))
        self.satnum = 0

    def sgp4_array(self, jd, fr):
        n = len(fr)
        e = np.zeros(n, np.uint8)
        r = np.empty((n, 3))
        v = np.empty((n, 3))
        for i, model in enumerate(self.models):
            lo, hi = self.bounds[i], self.bounds[i + 1]
            if hi > lo:
                e[lo:hi], r[lo:hi], v[lo:hi] = model.sgp4_array(jd[lo:hi], fr[lo:hi])
        return e, r, v


class _Adapter:
    """A stand-in satellite holding one of the model adapters above."""

    def __init__(self, model):
        self.model = model
        self.name = "constellation"


def _raise_first_error(satellites, clock, error, offsets_s):
    """Re-run the first failing sample through the single-satellite path,
    which raises the usual one-line :class:`SatqkdError`."""
    i, k = np.unravel_index(int(np.flatnonzero(error)[0]), error.shape)
    satellite_itrs_km_at(satellites[i], clock, np.atleast_1d(offsets_s[k]), check=True)
    raise SatqkdError("SGP4 failed for a satellite of the constellation")  # pragma: no cover


def coarse_itrs_km(satellites, clock: Clock, offset_s):
    """Earth-fixed positions and velocities of many satellites at common times.

    One ``SatrecArray`` call propagates all ``satellites`` (skyfield
    ``EarthSatellite`` objects) at ``offset_s`` seconds after the clock's
    ``t0``; the GMST-1982 rotation of :mod:`satqkd.geometry` takes TEME to
    the Earth-fixed frame.  Returns ``(r_km, v_km_s)`` shaped
    ``(3, n_satellites, n_times)``; an SGP4 error raises
    :class:`SatqkdError` naming the satellite and the time.
    """
    offset_s = np.atleast_1d(np.asarray(offset_s, dtype=float))
    whole, utc, ut1 = clock.args(offset_s)
    adapter = _Adapter(_ArrayModel(s.model for s in satellites))
    r, v, error = _geometry._teme_to_itrs(adapter, whole, utc, ut1, False, None)
    if np.any(error):
        _raise_first_error(satellites, clock, error, offset_s)
    return r, v


class _PairTrack:
    """``f(t) = elevation - threshold`` with element ``k`` belonging to the
    pair (``sat_idx[k]``, ``st_idx[k]``); elements sorted by satellite.

    It stands in for :class:`satqkd.passes._Track` in ``_golden`` and
    ``_bisect``, which only combine ``f`` values elementwise.
    """

    def __init__(self, satellites, stations, elevations, clock, sat_idx, st_idx):
        self.satellites = satellites
        self.stations = stations
        self.elevations = elevations
        self.clock = clock
        self.sat_idx = sat_idx
        self.adapter = _Adapter(_ElementwiseModel([s.model for s in satellites], sat_idx))
        self.by_station = [(j, np.flatnonzero(st_idx == j)) for j in range(len(stations))]
        self.by_station = [(j, idx) for j, idx in self.by_station if idx.size]

    def positions(self, offset_s):
        offset_s = np.asarray(offset_s, dtype=float)
        whole, utc, ut1 = self.clock.args(offset_s)
        r, v, error = _geometry._teme_to_itrs(self.adapter, whole, utc, ut1, False, None)
        if np.any(error):
            k = int(np.flatnonzero(error)[0])
            satellite_itrs_km_at(self.satellites[self.sat_idx[k]], self.clock, offset_s[k:k + 1], check=True)
        return r, v

    def f(self, offset_s):
        r, _ = self.positions(offset_s)
        out = np.empty(r.shape[1])
        for j, idx in self.by_station:
            la = look_angles(self.stations[j], r[:, idx])
            out[idx] = la.elevation_deg - self.elevations[j].threshold_deg(la.azimuth_deg)
        return out


def _step_chunks(satellites, n_grid_of, n_stations):
    """Groups of satellite indices sharing a coarse step, in chunks."""
    steps = np.array([_coarse_step_s(s) for s in satellites])
    order = np.argsort(steps, kind="stable")
    chunks, current = [], []
    for i in order:
        step = steps[current[0]] if current else steps[i]
        full = current and (len(current) + 1) * n_stations * n_grid_of(step) > _CHUNK_VALUES
        if current and (steps[i] > _STEP_GROUP_FACTOR * step or full):
            chunks.append((np.array(current), step))
            current = []
        current.append(i)
    if current:
        chunks.append((np.array(current), steps[current[0]]))
    return chunks


def _refine_extrema(satellites, stations, elevations, clock, grid, eq, ek, kind, pair_sat, pair_st, rate_deg_s):
    """Golden-section refinement of the extrema (pairs ``eq``, grid indices
    ``ek``, ``kind`` +1 maximum / -1 minimum), in stages.

    Each stage shrinks the brackets by a few golden-section iterations; an
    extremum whose f cannot reach zero inside its bracket (a maximum more
    than ``rate x half-width`` below the threshold, or a minimum as far
    above it) cannot create a rise or a set and is dropped.  The rest end
    with the final bracket width :func:`satqkd.passes._find_intervals` uses
    (``2 step GOLDEN**iters``).  Returns the kept ``eq, kind, t, f``.
    """
    step_s = grid[1] - grid[0]
    iters = int(np.ceil(np.log(2 * step_s / 1e-3) / -np.log(GOLDEN)))
    final_width = 2 * step_s * GOLDEN**iters
    lo, hi = grid[ek - 1], grid[ek + 1]
    width = 2 * step_s
    for target_s in _STAGE_WIDTHS_S:
        n_it = int(np.ceil(np.log(width / target_s) / -np.log(GOLDEN)))
        if n_it <= 0 or target_s <= 10 * final_width or not eq.size:
            continue
        track = _PairTrack(satellites, stations, elevations, clock, pair_sat[eq], pair_st[eq])
        x, fx = _golden(track, lo, hi, kind, n_it)
        half = 0.5 * width * GOLDEN**n_it * 1.001  # slack for rounding
        width = 2 * half
        reach = rate_deg_s[eq] * half
        live = np.where(kind > 0, fx + reach >= 0, fx - reach <= 0)
        eq, kind, lo, hi = eq[live], kind[live], x[live] - half, x[live] + half
    # Enough iterations to end no wider than _find_intervals' bracket.
    n_it = max(int(np.ceil(np.log(width / final_width) / -np.log(GOLDEN))), 0)
    track = _PairTrack(satellites, stations, elevations, clock, pair_sat[eq], pair_st[eq])
    x, fx = _golden(track, lo, hi, kind, n_it) if eq.size else (np.zeros(0), np.zeros(0))
    return eq, kind, x, fx


def _chunk_intervals(satellites, stations, elevations, clock, span_s, step_s):
    """Rise/culmination/set of every pass of ``satellites`` over ``stations``.

    The batched counterpart of :func:`satqkd.passes._find_intervals` (same
    extremum rules, margins and tolerances).  Returns a dict of arrays, one
    element per pass, ordered by (satellite, station, rise); ``sat`` indexes
    ``satellites``.
    """
    n_sat, n_st = len(satellites), len(stations)
    grid = _grid(span_s, step_s)
    n_grid = grid.size
    step_s = grid[1] - grid[0]
    r, _ = coarse_itrs_km(satellites, clock, grid)
    f = np.empty((n_sat, n_st, n_grid))
    flat = r.reshape(3, -1)
    for j, station in enumerate(stations):
        la = look_angles(station, flat)
        f[:, j, :] = (la.elevation_deg - elevations[j].threshold_deg(la.azimuth_deg)).reshape(n_sat, n_grid)
    del r, flat
    fm = f.reshape(n_sat * n_st, n_grid)  # pair q = satellite * n_st + station
    pair_sat = np.repeat(np.arange(n_sat), n_st)
    pair_st = np.tile(np.arange(n_st), n_sat)

    # Extrema to refine, with _find_intervals' rules (see there for why).
    margin = (np.array([_max_angular_rate_deg_s(s) for s in satellites]) * step_s)[pair_sat][:, None]
    below = np.array([[_max_rate_below_deg_s(s, e.min_deg) for e in elevations] for s in satellites])
    masked = np.array([bool(st.horizon_mask) for st in stations])
    rise_margin = np.where(masked[pair_st], margin[:, 0], below[pair_sat, pair_st] * step_s)[:, None]
    fi, left, right = fm[:, 1:-1], fm[:, :-2], fm[:, 2:]
    is_max = (fi >= left) & (fi > right) & (fi > -rise_margin)
    is_min = (fi <= left) & (fi < right) & (fi > 0) & (fi < margin)
    del fi, left, right
    eq, ek = np.nonzero(is_max | is_min)  # sorted by pair, hence by satellite
    ek = ek + 1
    kind = np.where(is_max[eq, ek - 1], 1.0, -1.0)
    del is_max, is_min
    if eq.size:
        eq, kind, ext_t, ext_f = _refine_extrema(
            satellites, stations, elevations, clock, grid, eq, ek, kind, pair_sat, pair_st, margin[:, 0] / step_s
        )
    else:
        ext_t = ext_f = np.zeros(0)
    # Drop the grid's padding (see satqkd.passes._grid) and extrema outside the span.
    inside = (ext_t > 0.0) & (ext_t < span_s)
    eq, kind, ext_t, ext_f = eq[inside], kind[inside], ext_t[inside], ext_f[inside]
    grid, fm = grid[1:-1], np.ascontiguousarray(fm[:, 1:-1])
    n_grid = grid.size

    # Merge every pair's grid with its extrema, in time order, without a
    # global sort: an extremum goes right after the grid sample before it.
    slot = np.clip(np.searchsorted(grid, ext_t, side="right") - 1, 0, n_grid - 1)
    order = np.lexsort((ext_t, slot, eq))
    at = (eq * n_grid + slot + 1)[order]
    t_all = np.insert(np.tile(grid, n_sat * n_st), at, ext_t[order])
    f_all = np.insert(fm.ravel(), at, ext_f[order])
    q_all = np.insert(np.repeat(np.arange(n_sat * n_st), n_grid), at, eq[order])

    up = f_all > 0
    change = np.flatnonzero((up[1:] != up[:-1]) & (q_all[1:] == q_all[:-1]))
    if change.size:
        bisect_iters = int(np.ceil(np.log2(max(step_s, 1.0) / 1e-3)))
        qc = q_all[change]
        track = _PairTrack(satellites, stations, elevations, clock, pair_sat[qc], pair_st[qc])
        crossings = _bisect(track, t_all[change], t_all[change + 1], f_all[change], bisect_iters)
    else:
        qc, crossings = np.zeros(0, int), np.zeros(0)
    rising = ~up[change]
    del t_all, f_all, q_all, up

    # Intervals: rises (or the span's start) pair with the next set (or its
    # end) of the same pair; crossings of one pair alternate by construction.
    first_up = np.flatnonzero(fm[:, 0] > 0)
    last_up = np.flatnonzero(fm[:, -1] > 0)
    s_q = np.concatenate([qc[rising], first_up])
    s_t = np.concatenate([crossings[rising], np.zeros(first_up.size)])
    s_c = np.concatenate([np.zeros(rising.sum(), bool), np.ones(first_up.size, bool)])
    e_q = np.concatenate([qc[~rising], last_up])
    e_t = np.concatenate([crossings[~rising], np.full(last_up.size, span_s)])
    e_c = np.concatenate([np.zeros((~rising).sum(), bool), np.ones(last_up.size, bool)])
    so, eo = np.lexsort((s_t, s_q)), np.lexsort((e_t, e_q))
    q, rise, c0 = s_q[so], s_t[so], s_c[so]
    set_, c1 = e_t[eo], e_c[eo]
    if not np.array_equal(q, e_q[eo]):  # pragma: no cover - would be a bug
        raise RuntimeError("unbalanced rise/set crossings")

    # Culmination: the highest refined maximum inside (f > 0), or a clipped
    # edge, preferring rise, then set, then the earliest maximum on ties
    # (the order _find_intervals' argmax sees them in).
    mx = (kind > 0) & (ext_f > 0)
    m_q, m_t, m_f = eq[mx], ext_t[mx], ext_f[mx]
    width = 2.0 * span_s + 10.0
    iv = np.searchsorted(q * width + rise, m_q * width + m_t, side="right") - 1
    ok = iv >= 0
    ok[ok] = (q[iv[ok]] == m_q[ok]) & (rise[iv[ok]] < m_t[ok]) & (m_t[ok] < set_[iv[ok]])
    iv, m_t, m_f = iv[ok], m_t[ok], m_f[ok]
    n_culm = np.bincount(iv, minlength=q.size)
    best_f = np.full(q.size, -np.inf)
    best_t = rise.copy()
    if iv.size:
        o = np.lexsort((m_t, -m_f, iv))
        head = np.r_[True, iv[o][1:] != iv[o][:-1]]
        best_f[iv[o][head]] = m_f[o][head]
        best_t[iv[o][head]] = m_t[o][head]
    f_rise = np.where(c0, fm[q, 0], -np.inf)
    f_set = np.where(c1, fm[q, -1], -np.inf)
    culm = np.where((f_rise >= f_set) & (f_rise >= best_f), rise, np.where(f_set >= best_f, set_, best_t))
    return {
        "sat": pair_sat[q], "station": pair_st[q], "rise": rise, "culm": culm, "set": set_,
        "c0": c0, "c1": c1, "n_culm": n_culm,
    }


class _Columns(Mapping):
    """Per-second geometry columns computed on first access (constraints
    only read what they need)."""

    def __init__(self, makers):
        self._makers = makers
        self._cache = {}

    def __getitem__(self, key):
        if key not in self._cache:
            self._cache[key] = self._makers[key]()
        return self._cache[key]

    def __iter__(self):
        return iter(self._makers)

    def __len__(self):
        return len(self._makers)


class _Lazy:
    """A value computed on first call."""

    def __init__(self, make):
        self._make = make
        self._value = None
        self.done = False

    def __call__(self):
        if not self.done:
            self._value = self._make()
            self.done = True
        return self._value


def _distinct(offsets):
    """Distinct values of ``offsets`` and the index of each sample among
    them; whole seconds (nearly all) by a table instead of a sort."""
    whole = offsets == np.floor(offsets)
    if not whole.all():
        return np.unique(offsets, return_inverse=True)
    sec = offsets.astype(np.int64)
    lo = sec.min()
    present = np.zeros(sec.max() - lo + 1, bool)
    present[sec - lo] = True
    rank = np.cumsum(present) - 1
    return (np.flatnonzero(present) + lo).astype(float), rank[sec - lo]


class _RangeTrack:
    """Slant range of (satellite, station) pairs, one pair per element, for
    ``_golden``."""

    def __init__(self, pairs: "_PairTrack"):
        self.pairs = pairs

    def f(self, offset_s):
        r, _ = self.pairs.positions(offset_s)
        out = np.empty(r.shape[1])
        for j, idx in self.pairs.by_station:
            d = r[:, idx] - self.pairs.stations[j].itrs_km[:, None]
            out[idx] = np.sqrt(np.einsum("ij,ij->j", d, d))
        return out


def _min_range_km(satellites, stations, clock, iv, first, last, empty, keep, leo):
    """Smallest slant range over each pass's whole seconds (as
    :func:`satqkd.passes.find_passes` takes it, before the culmination is
    added), without propagating every second.

    The range of a LEO pass shorter than 30 min with one culmination falls
    then rises, so its minimum over whole seconds is at the floor or the
    ceiling of the continuous minimum: golden-section search locates that
    to a fraction of a second and the whole seconds around it are
    evaluated.  Other passes (and ones without a whole second) are sampled
    every second.  Passes not in ``keep`` get NaN.
    """
    out = np.full(iv["rise"].size, np.nan)
    regular = keep & ~empty & leo[iv["sat"]] & (iv["n_culm"] <= 1) & (last - first < 1800.0)
    k = np.flatnonzero(regular)
    if k.size:
        pairs = _PairTrack(satellites, stations, [None] * len(stations), clock, iv["sat"][k], iv["station"][k])
        track = _RangeTrack(pairs)
        lo, hi = first[k], last[k]
        iters = int(np.ceil(np.log(np.max(hi - lo) / 0.25 + 1.0) / -np.log(GOLDEN))) + 1
        x, _ = _golden(track, lo, hi, -1.0, iters)
        base = np.floor(x)
        best = np.full(k.size, np.inf)
        for shift in (-1.0, 0.0, 1.0, 2.0):
            best = np.minimum(best, track.f(np.clip(base + shift, lo, hi)))
        out[k] = best
    rest = np.flatnonzero(keep & ~regular)
    if rest.size:
        sizes = np.where(empty[rest], 1, last[rest] - first[rest] + 1).astype(np.int64)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        within = np.arange(bounds[-1]) - np.repeat(bounds[:-1], sizes)
        t = np.repeat(np.where(empty[rest], iv["culm"][rest], first[rest]), sizes) + within * np.repeat(~empty[rest], sizes)
        pairs = _PairTrack(satellites, stations, [None] * len(stations), clock,
                           np.repeat(iv["sat"][rest], sizes), np.repeat(iv["station"][rest], sizes))
        out[rest] = np.minimum.reduceat(_RangeTrack(pairs).f(t), bounds[:-1])
    return out


def _satellite_states(satellites, clock, sat, offsets):
    """Earth-fixed r, v at ``offsets`` (sorted by ``sat``), each distinct
    (satellite, time) propagated once."""
    n = offsets.size
    r, v = np.empty((3, n)), np.empty((3, n))
    bounds = np.searchsorted(sat, np.arange(len(satellites) + 1))
    for i, s in enumerate(satellites):
        lo, hi = bounds[i], bounds[i + 1]
        if hi > lo:
            uniq, inv = np.unique(offsets[lo:hi], return_inverse=True)
            ru, vu, _ = satellite_itrs_km_at(s, clock, uniq)
            r[:, lo:hi], v[:, lo:hi] = ru[:, inv], vu[:, inv]
    return r, v


def find_passes_many(satellites, stations, start, end, constraints=None, *, per_second: bool = False) -> PassForecast:
    """Find every pass of many satellites over many stations, batched.

    Same parameters and result as :func:`satqkd.passes.find_passes` (the
    passes of all satellites in one table, :data:`~satqkd.passes.PASS_COLUMNS`
    and :data:`~satqkd.passes.SECOND_COLUMNS`, the same ``pass_id``
    numbering), computed for all (satellite, station) pairs together: see
    the module docstring.  ``per_second`` defaults to False here because a
    constellation's per-second table is large; the usable windows are
    evaluated per second either way.
    """
    if not isinstance(satellites, (list, tuple)):
        satellites = [satellites]
    if not isinstance(stations, (list, tuple)):
        stations = [stations]
    satellites, stations = list(satellites), list(stations)
    t_start, t_end = to_time(start), to_time(end)
    span_s = (t_end.tt - t_start.tt) * 86400.0
    if not span_s > 0:
        raise SatqkdError(
            f"time span: end {t_end.utc_strftime('%Y-%m-%d %H:%M:%S')} is not after start "
            f"{t_start.utc_strftime('%Y-%m-%d %H:%M:%S')}"
        )
    constraints = constraints if constraints is not None else Constraints()
    cons = [constraints.get(st.name, Constraints()) if isinstance(constraints, dict) else constraints
            for st in stations]
    objs = [c.build(st) for c, st in zip(cons, stations)]
    elevations = [o[0] for o in objs]
    t0_utc = pd.Timestamp(t_start.utc_datetime()).tz_convert("UTC").round("ms")
    clock = Clock(t_start, 0.0, span_s)
    sunmoon = SunMoon(t_start, 0.0, span_s, clock)
    n_st = len(stations)

    # 1-2. Coarse grid and refinement, per chunk of satellites.
    parts = []
    if satellites and stations:
        for idx, step in _step_chunks(satellites, lambda s: _grid(span_s, s).size, n_st):
            out = _chunk_intervals([satellites[i] for i in idx], stations, elevations, clock, span_s, step)
            out["sat"] = idx[out["sat"]]
            parts.append(out)
    iv = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else None
    if iv is None or iv["rise"].size == 0:
        return PassForecast(pd.DataFrame(columns=PASS_COLUMNS), pd.DataFrame(columns=SECOND_COLUMNS), [])
    o = np.lexsort((iv["rise"], iv["station"], iv["sat"]))
    iv = {k: v[o] for k, v in iv.items()}

    # Drop daytime passes before sampling them (find_passes' rule: a pass
    # shorter than 15 min with the Sun above limit + 1 deg at rise,
    # culmination and set is all daylight).
    limits = np.array([np.nan if c.sun_max_altitude_deg is None else c.sun_max_altitude_deg for c in cons])
    ends = np.stack([iv["rise"], iv["culm"], iv["set"]], axis=1)
    limit = limits[iv["station"]]
    check = ~np.isnan(limit) & ((ends[:, 2] - ends[:, 0]) < 900.0)
    day = np.zeros(check.size, bool)
    if check.any():
        sun = sunmoon.sun_itrs_km(ends[check].ravel())
        st_c = np.repeat(iv["station"][check], 3)
        alt = np.empty(st_c.size)
        for j in np.unique(st_c):
            sel = st_c == j
            alt[sel] = elevation_of(stations[j], sun[:, sel])
        day[check] = np.all(alt.reshape(-1, 3) > limit[check][:, None] + 1.0, axis=1)
    iv = {k: v[~day] for k, v in iv.items()}
    n_iv = iv["rise"].size
    if n_iv == 0:
        return PassForecast(pd.DataFrame(columns=PASS_COLUMNS), pd.DataFrame(columns=SECOND_COLUMNS), [])

    # 3. Whole seconds inside every pass (the culmination alone for a pass
    # shorter than a second), all pairs in one array.
    first, last = np.ceil(iv["rise"]), np.floor(iv["set"])
    empty = last < first
    sizes = np.where(empty, 1, last - first + 1).astype(np.int64)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    within = np.arange(bounds[-1]) - np.repeat(bounds[:-1], sizes)
    offsets = np.repeat(np.where(empty, iv["culm"], first), sizes) + within * np.repeat(~empty, sizes)
    s_sat = np.repeat(iv["sat"], sizes)
    s_st = np.repeat(iv["station"], sizes)

    # Satellite states per second are only needed by the per-second table
    # and by constraints on the satellite's geometry; the Sun and the Moon
    # are computed once per distinct second for all pairs.
    states = _Lazy(lambda: _satellite_states(satellites, clock, s_sat, offsets))
    uniq, inv = _distinct(offsets)
    sun_all = _Lazy(lambda: sunmoon.sun_itrs_km(uniq)[:, inv])
    moon_all = _Lazy(lambda: sunmoon.moon_itrs_km(uniq)[:, inv])

    n = offsets.size
    ok = np.ones(n, bool)
    columns = []  # (station index, sample indices, lazy columns)
    for j, station in enumerate(stations):
        idx = np.flatnonzero(s_st == j)
        if not idx.size:
            continue
        la = _Lazy(lambda idx=idx, station=station: look_angles(station, states()[0][:, idx], states()[1][:, idx]))
        sat_dir = lambda idx=idx, station=station: states()[0][:, idx] - station.itrs_km[:, None]  # noqa: E731
        moon_dir = lambda idx=idx, station=station: moon_all()[:, idx] - station.itrs_km[:, None]  # noqa: E731
        cols = _Columns({
            "elevation_deg": lambda la=la: la().elevation_deg,
            "azimuth_deg": lambda la=la: la().azimuth_deg,
            "range_km": lambda la=la: la().range_km,
            "range_rate_km_s": lambda la=la: la().range_rate_km_s,
            "sun_altitude_deg": lambda idx=idx, station=station: elevation_of(station, sun_all()[:, idx]),
            "moon_altitude_deg": lambda idx=idx, station=station: elevation_of(station, moon_all()[:, idx]),
            "moon_separation_deg": lambda a=sat_dir, b=moon_dir: separation_deg(a(), b()),
            "moon_illumination": lambda idx=idx: moon_illumination(moon_all()[:, idx], sun_all()[:, idx]),
            "sunlit": lambda idx=idx: sunlit(states()[0][:, idx], sun_all()[:, idx]),
        })
        # Inside [rise, set] the elevation constraint holds by construction.
        for con in objs[j][1:]:
            ok[idx] &= con.compute(cols)
        columns.append((j, idx, cols))

    # Pass-level reductions over each pass's samples.
    n_ok = np.add.reduceat(ok.astype(np.int64), bounds[:-1])
    usable_start = np.minimum.reduceat(np.where(ok, offsets, np.inf), bounds[:-1])
    usable_end = np.maximum.reduceat(np.where(ok, offsets, -np.inf), bounds[:-1])
    keep = n_ok > 0
    leo = np.array([orbital_period_s(s) < 225 * 60 for s in satellites])
    if per_second or states.done:
        range_km = np.empty(n)
        for _, idx, cols in columns:
            range_km[idx] = cols["range_km"]
        min_range = np.minimum.reduceat(range_km, bounds[:-1])
    else:
        min_range = _min_range_km(satellites, stations, clock, iv, first, last, empty, keep, leo)

    # A horizon mask shifts the maxima of f away from the highest point:
    # culminations at masked stations come from the elevation itself.
    for j, station in enumerate(stations):
        if not station.horizon_mask:
            continue
        for i in np.unique(iv["sat"][iv["station"] == j]):
            sel = np.flatnonzero((iv["station"] == j) & (iv["sat"] == i))
            idx = np.concatenate([np.arange(bounds[k], bounds[k + 1]) for k in sel])
            r_s, _, _ = satellite_itrs_km_at(satellites[i], clock, offsets[idx])
            elevation = look_angles(station, r_s).elevation_deg
            iv["culm"][sel], iv["n_culm"][sel] = _culminate_on_elevation(
                satellites[i], station, clock, iv["rise"][sel], iv["set"][sel], offsets[idx], sizes[sel], elevation
            )

    # Geometry at culmination.
    r_c, _ = _satellite_states(satellites, clock, iv["sat"], iv["culm"])
    sun_c = sunmoon.sun_itrs_km(iv["culm"])
    max_el = np.empty(n_iv)
    range_c = np.empty(n_iv)
    for j, station in enumerate(stations):
        sel = iv["station"] == j
        if sel.any():
            la = look_angles(station, r_c[:, sel])
            max_el[sel], range_c[sel] = la.elevation_deg, la.range_km
    sunlit_c = sunlit(r_c, sun_c)

    epoch_tt = np.array([s.epoch.tt for s in satellites])
    age = (t_start.tt + iv["culm"] / 86400.0) - epoch_tt[iv["sat"]]
    pass_id = np.full(n_iv, -1)
    pass_id[keep] = np.arange(keep.sum())

    notes = []
    if keep.any():
        worst = pd.Series(np.abs(age[keep])).groupby([iv["sat"][keep], iv["station"][keep]]).max()
        for (i, j), w in worst.items():
            if leo[i] and w > MAX_EPOCH_AGE_DAYS_LEO:
                notes.append(
                    f"{satellites[i].name}: passes over {stations[j].name} up to {w:.0f} days from the element "
                    f"epoch (more than {MAX_EPOCH_AGE_DAYS_LEO:g}); SGP4 positions may be off by tens of km"
                )

    sat_names = np.array([s.name for s in satellites], dtype=object)
    st_names = np.array([s.name for s in stations], dtype=object)
    k = keep
    passes = pd.DataFrame({
        "pass_id": pass_id[k],
        "satellite": sat_names[iv["sat"][k]],
        "station": st_names[iv["station"][k]],
        "max_elevation_deg": max_el[k],
        "min_range_km": np.minimum(min_range, range_c)[k],
        "duration_s": (iv["set"] - iv["rise"])[k],
        "usable_s": n_ok[k],
        "clipped": (iv["c0"] | iv["c1"])[k],
        "sunlit": sunlit_c[k],
        "n_culminations": np.maximum(iv["n_culm"], 1)[k],
        "epoch_age_days": age[k],
    })
    for name, values in (("rise", iv["rise"]), ("culmination", iv["culm"]), ("set", iv["set"]),
                         ("usable_start", usable_start), ("usable_end", usable_end)):
        passes[f"{name}_utc"] = _utc(t0_utc, values[k], clock)
    passes = passes.sort_values(["rise_utc", "station"], kind="stable").reset_index(drop=True)
    passes = passes[PASS_COLUMNS]

    if per_second and keep.any():
        sample_keep = ok & np.repeat(keep, sizes)
        data = {}
        for name in SECOND_COLUMNS[4:]:
            values = np.empty(n, bool if name == "sunlit" else float)
            for _, idx, cols in columns:
                values[idx] = cols[name]
            data[name] = values[sample_keep]
        seconds = pd.DataFrame({
            "pass_id": np.repeat(pass_id, sizes)[sample_keep],
            "satellite": sat_names[s_sat[sample_keep]],
            "station": st_names[s_st[sample_keep]],
            "time_utc": _utc(t0_utc, offsets[sample_keep], clock),
            **data,
        })
        seconds = seconds[SECOND_COLUMNS]
    else:
        seconds = pd.DataFrame(columns=SECOND_COLUMNS)
    return PassForecast(passes, seconds, sorted(set(notes)))

"""Passes of satellites over ground stations — one engine for one satellite or thousands.

:func:`find_passes` finds every pass of every satellite over every station
in a span.  One satellite is a constellation of one: the work is batched
over all (satellite, station) pairs and its cost follows what is asked,
not the number of seconds in the passes.

1. **Coarse grid.**  Satellites are propagated together on one time grid
   with python-sgp4's ``SatrecArray`` (one C call for all of them) and
   rotated to the Earth-fixed frame (:mod:`satqkd.geometry`).  The grid
   step is 1/100 of the orbital period (5 s to 10 min, padded by one step
   beyond each end of the span); satellites whose steps are within 25 % of
   each other share a grid at the smallest of them, in chunks that keep
   the coarse array to a few million values whatever the span.
2. **Rise and set.**  ``f = elevation - threshold(azimuth)`` (the minimum
   elevation and the horizon mask) is sampled on the grid; its discrete
   extrema that could hide a pass or split one are refined together by
   golden-section search, and every sign change by bisection to 1 ms.  A
   pass whose peak lies between two samples a hundredth of a degree above
   the threshold is found this way, and so is a dip between the two
   culminations of an elliptical orbit.
3. **Inside each pass**, on a grid of the same kind (the coarse step, at
   most 20 s for near-Earth orbits): the elevation's maxima (the
   culmination at a masked station), the range's minima (the closest
   approach) are refined by golden-section search; every other constraint
   (:mod:`satqkd.constraints`) gives a signed margin, positive where it
   holds, and where the smallest margin changes sign is found by
   bisection, after its discrete extrema are refined so that a dip between
   two samples is not missed.  The usable window is where all hold, to the
   whole second (a crossing within a millisecond of a whole second is
   decided by evaluating the constraint at that second).  The Sun and the
   Moon are computed only when a constraint or a column needs them.
4. **Per-second series** (``per_second=True``, the key-rate stage) are
   computed only inside usable windows, in chunks of a bounded number of
   seconds.

**Two stations at once** (an entangled-photon source on the satellite, one
photon to each): :func:`joint_windows` intersects the two stations' usable
windows per satellite and :func:`joint_seconds` pairs their per-second
rows; both work on this engine's results, not on a second search.

Passes that begin before the span or end after it are cut at the span's
edges and flagged ``clipped``.  Element sets too far from the span are
refused before any work (:func:`satqkd.elements.check_element_age`).

**Position providers.**  A satellite is an SGP4 ``EarthSatellite`` or any
object that gives its own Earth-fixed positions: ``itrs_km_at(clock,
offset_s) -> (r_km, v_km_s)`` at arbitrary offsets, plus ``period_s``,
``semi_major_axis_km``, ``eccentricity``, ``mu_km3_s2``, ``radius_km`` (for
the grid steps and rate bounds above), ``epoch`` and ``check_span(start,
end)`` (which replaces the element-age check).  The ephemerides of
:mod:`satqkd.oem` are such providers; every stage above (the coarse grid,
root finding, the in-pass search, the per-second series) runs on them
unchanged, batched the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sgp4.api import SatrecArray

from . import geometry as _geometry
from . import sky
from .constraints import Constraints
from .elements import check_element_age
from .errors import SatqkdError
from .sky import to_time  # noqa: F401  (a public name of this module too)
from .geometry import (
    Clock,
    SunMoon,
    elevation_of,
    look_angles,
    moon_illumination,
    satellite_itrs_km_at,
    separation_deg,
    sunlit,
    sunlit_margin_km,
)

__all__ = [
    "PassForecast", "find_passes", "find_passes_many", "coarse_itrs_km", "orbital_period_s", "to_time",
    "PASS_COLUMNS", "SECOND_COLUMNS", "joint_windows", "joint_seconds", "JOINT_WINDOW_COLUMNS",
]

GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0

PASS_COLUMNS = [
    "pass_id", "satellite", "station", "rise_utc", "culmination_utc", "set_utc",
    "max_elevation_deg", "min_range_km", "duration_s",
    "usable_start_utc", "usable_end_utc", "usable_s",
    "clipped", "sunlit", "n_culminations", "epoch_age_days",
]
SECOND_COLUMNS = [
    "pass_id", "satellite", "station", "time_utc", "elevation_deg", "azimuth_deg",
    "range_km", "range_rate_km_s", "sun_altitude_deg", "moon_altitude_deg",
    "moon_separation_deg", "moon_illumination", "sunlit",
]

# Satellites whose coarse steps differ by less than this factor share a grid.
_STEP_GROUP_FACTOR = 1.25
# Upper bound on the values of the coarse f array per chunk of satellites.
_CHUNK_VALUES = 4_000_000
# Upper bound on the samples evaluated at once inside passes, and on the
# seconds of one chunk of the per-second series.
_CHUNK_POINTS = 1_000_000
# Bracket widths after the pruning stages of golden-section search (see
# _refine_extrema).
_STAGE_WIDTHS_S = (30.0, 8.0, 2.0)
# Largest step of the in-pass grid for near-Earth orbits (a LEO crosses the
# sky in minutes: a Moon-separation dip must not fall between samples).
_PASS_STEP_NEAR_S = 20.0


def _is_provider(satellite) -> bool:
    """A satellite that gives its own Earth-fixed positions (see the module
    docstring), not an SGP4 element set."""
    return hasattr(satellite, "itrs_km_at")


def orbital_period_s(satellite) -> float:
    """Period from the element set's mean motion (``no_kozai`` in rad/min),
    or a position provider's own ``period_s``."""
    if _is_provider(satellite):
        return float(satellite.period_s)
    return 2.0 * np.pi / satellite.model.no_kozai * 60.0


def _orbit_size(satellite):
    """``(a_km, eccentricity, mu_km3_s2, earth_radius_km)`` of a satellite."""
    if _is_provider(satellite):
        return satellite.semi_major_axis_km, satellite.eccentricity, satellite.mu_km3_s2, satellite.radius_km
    m = satellite.model
    return m.a * m.radiusearthkm, m.ecco, m.mu, m.radiusearthkm


@dataclass
class PassForecast:
    """Passes (one row each) and the per-second geometry of their usable windows."""

    passes: pd.DataFrame
    seconds: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# Root finding, vectorised: ``track.f(t)`` evaluates a different
# (satellite, station) pair for each element.
# ---------------------------------------------------------------------------

def _golden(track, lo, hi, sign, iterations):
    """Vectorised golden-section search for the maximum of ``sign * f``."""
    a, b = np.asarray(lo, float), np.asarray(hi, float)
    c = b - GOLDEN * (b - a)
    d = a + GOLDEN * (b - a)
    fc = sign * track.f(c)
    fd = sign * track.f(d)
    for _ in range(iterations):
        left = fc >= fd
        # left: the maximum is in [a, d]; the new d is the old c.
        a_new = np.where(left, a, c)
        b_new = np.where(left, d, b)
        c_new = np.where(left, b_new - GOLDEN * (b_new - a_new), d)
        d_new = np.where(left, c, a_new + GOLDEN * (b_new - a_new))
        probe = np.where(left, c_new, d_new)
        fp = sign * track.f(probe)
        fc, fd = np.where(left, fp, fd), np.where(left, fc, fp)
        a, b, c, d = a_new, b_new, c_new, d_new
    x = 0.5 * (a + b)
    return x, track.f(x)


def _bisect(track, lo, hi, f_lo, iterations):
    """Vectorised bisection of the sign change of f in [lo, hi]; returns the
    final brackets ``(lo, hi)``."""
    lo = np.asarray(lo, float).copy()
    hi = np.asarray(hi, float).copy()
    pos_lo = f_lo > 0
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        same = (track.f(mid) > 0) == pos_lo
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    return lo, hi


def _iterations(width_s, tol_s, golden=True):
    width_s = max(float(np.max(width_s, initial=0.0)), tol_s)
    if golden:
        return int(np.ceil(np.log(width_s / tol_s) / -np.log(GOLDEN)))
    return int(np.ceil(np.log2(width_s / tol_s)))


def _pair_intervals(q, t, rising, first_up_q, first_t, last_up_q, last_t):
    """Pair the sign changes of many series into intervals where f > 0.

    ``q`` names the series of each crossing (time ``t``, ``rising`` or not);
    series positive at their first sample start an interval at ``first_t``
    and series positive at their last sample end one at ``last_t``.
    Crossings of one series alternate, so the k-th start of a series pairs
    with its k-th end.  Returns ``(q, start, end, clipped_start,
    clipped_end, start_index, end_index)`` sorted by series then start; the
    indices point into the crossings (-1 for a series edge).
    """
    n_up, n_down = int(rising.sum()), int((~rising).sum())
    idx = np.arange(q.size)
    s_q = np.concatenate([q[rising], first_up_q])
    s_t = np.concatenate([t[rising], first_t])
    s_i = np.concatenate([idx[rising], np.full(first_up_q.size, -1)])
    e_q = np.concatenate([q[~rising], last_up_q])
    e_t = np.concatenate([t[~rising], last_t])
    e_i = np.concatenate([idx[~rising], np.full(last_up_q.size, -1)])
    so, eo = np.lexsort((s_t, s_q)), np.lexsort((e_t, e_q))
    if not np.array_equal(s_q[so], e_q[eo]):  # pragma: no cover - would be a bug
        raise RuntimeError("unbalanced crossings")
    clipped_s = np.concatenate([np.zeros(n_up, bool), np.ones(first_up_q.size, bool)])[so]
    clipped_e = np.concatenate([np.zeros(n_down, bool), np.ones(last_up_q.size, bool)])[eo]
    return s_q[so], s_t[so], e_t[eo], clipped_s, clipped_e, s_i[so], e_i[eo]


def _whole_second_after(ctx, sat_idx, st_idx, quantity, lo, hi, rising):
    """The first whole second inside (``rising``) or the last one inside
    (falling) at each crossing bracketed by ``[lo, hi]``: the ceiling or the
    floor, except when a whole second falls inside the final bracket, where
    the quantity itself decides (so counts of whole seconds are exact)."""
    sec = np.where(rising, np.ceil(lo), np.floor(hi))
    ambiguous = np.flatnonzero((sec >= lo) & (sec <= hi))
    if ambiguous.size:
        a = ambiguous
        holds = _Track(ctx, sat_idx[a], st_idx[a], quantity).f(sec[a]) > 0
        sec[a] = np.where(holds, sec[a], sec[a] + np.where(rising[a], 1.0, -1.0))
    return sec


def _grid(span_s, step_s):
    """The coarse grid over [0, span_s], padded by one step at each end.

    The padding makes the span's first and last samples interior, so a pass
    peaking within one step of either edge still shows up as a local
    maximum and gets refined (refined extrema outside the span are dropped).
    """
    n = max(int(np.ceil(span_s / step_s)), 1)
    inner = np.linspace(0.0, span_s, n + 1)
    step = inner[1] - inner[0]
    return np.concatenate([[-step], inner, [span_s + step]])


def _max_angular_rate_deg_s(satellite) -> float:
    """Upper bound on how fast any station sees the satellite move (deg/s):
    perigee speed plus the ground's rotation speed over the perigee height."""
    a_km, ecc, mu, radius_km = _orbit_size(satellite)
    perigee_km = a_km * (1.0 - ecc)
    v_perigee = np.sqrt(mu * (2.0 / perigee_km - 1.0 / a_km))
    height_km = max(perigee_km - radius_km, 100.0)
    return float(np.degrees((v_perigee + 0.47) / height_km))


def _max_rate_below_deg_s(satellite, threshold_deg: float) -> float:
    """Upper bound on the elevation rate (deg/s) while the satellite is at or
    below ``threshold_deg``: its speed relative to the station over the
    shortest possible range at that elevation (perigee height less 10 km for
    a high station, polar Earth radius), with a 20 % safety factor."""
    a_km, ecc, mu, radius_km = _orbit_size(satellite)
    perigee_km = a_km * (1.0 - ecc)
    v_perigee = np.sqrt(mu * (2.0 / perigee_km - 1.0 / a_km))
    h = max(perigee_km - radius_km - 10.0, 100.0)
    r_earth = 6356.75
    e = np.radians(max(threshold_deg, -5.0))
    range_km = np.sqrt((r_earth + h) ** 2 - (r_earth * np.cos(e)) ** 2) - r_earth * np.sin(e)
    return float(1.2 * np.degrees((v_perigee + 0.47) / range_km))


def _coarse_step_s(satellite) -> float:
    """The coarse grid's step: 1/100 of a period (5 s to 10 min), or 1/25
    for a near-circular low orbit.

    Two distinct culminations closer together than one step could merge:
    an elliptical orbit can culminate twice in one pass, so it gets 1/100 of
    a period.  A near-circular LEO culminates once per pass; the refinement
    of every maximum that could reach the threshold (see
    :func:`_chunk_intervals`) finds passes between samples whatever the
    step, so 1/25 (skyfield's ``find_events`` samples 1/20) is enough.
    """
    period = orbital_period_s(satellite)
    if period < 225 * 60 and _orbit_size(satellite)[1] < 0.05:
        return float(np.clip(period / 25.0, 5.0, 600.0))
    return float(np.clip(period / 100.0, 5.0, 600.0))


def _pass_step_s(satellite) -> float:
    step = _coarse_step_s(satellite)
    # SGP4's own split: periods of 225 min and more are deep space.
    return step if orbital_period_s(satellite) >= 225 * 60 else min(step, _PASS_STEP_NEAR_S)


# ---------------------------------------------------------------------------
# Propagation of many satellites
# ---------------------------------------------------------------------------

class _ArrayModel:
    """Quacks like a ``Satrec`` for :func:`satqkd.geometry._teme_to_itrs`:
    ``sgp4_array`` propagates every satellite of a ``SatrecArray`` at common
    times, shaped so the same rotation code broadcasts over satellites."""

    def __init__(self, models):
        self.array = SatrecArray(list(models))
        self.satnum = 0

    def sgp4_array(self, jd, fr):
        e, r, v = self.array.sgp4(jd, fr)
        return e, r.transpose(1, 0, 2), v.transpose(1, 0, 2)


class _ElementwiseModel:
    """Quacks like a ``Satrec``: element ``k`` is propagated with the model
    of satellite ``sat_idx[k]``."""

    def __init__(self, models, sat_idx):
        self.models = models
        self.order = np.argsort(sat_idx, kind="stable")
        self.bounds = np.searchsorted(np.asarray(sat_idx)[self.order], np.arange(len(models) + 1))
        self.satnum = 0

    def sgp4_array(self, jd, fr):
        if len(self.models) == 1:  # one satellite: no gather and scatter (5 % of a year's search)
            return self.models[0].sgp4_array(jd, fr)
        n = len(fr)
        e = np.zeros(n, np.uint8)
        r = np.empty((n, 3))
        v = np.empty((n, 3))
        o = self.order
        for i in np.flatnonzero(np.diff(self.bounds)):
            k = o[self.bounds[i]:self.bounds[i + 1]]
            e[k], r[k], v[k] = self.models[i].sgp4_array(jd[k], fr[k])
        return e, r, v


class _Adapter:
    """A stand-in satellite holding one of the model adapters above."""

    def __init__(self, model):
        self.model = model
        self.name = "constellation"


def coarse_itrs_km(satellites, clock: Clock, offset_s):
    """Earth-fixed positions and velocities of many satellites at common times.

    One ``SatrecArray`` call propagates all ``satellites`` (skyfield
    ``EarthSatellite`` objects) at ``offset_s`` seconds after the clock's
    ``t0``.  Returns ``(r_km, v_km_s)`` shaped ``(3, n_satellites,
    n_times)``; an SGP4 error raises :class:`SatqkdError` naming the
    satellite and the time.
    """
    offset_s = np.atleast_1d(np.asarray(offset_s, dtype=float))
    providers = np.array([_is_provider(s) for s in satellites], bool)
    if providers.any():
        # Position providers give their own positions; the SGP4 ones are
        # still propagated together.
        r = np.empty((3, len(satellites), offset_s.size))
        v = np.empty_like(r)
        for i in np.flatnonzero(providers):
            r[:, i], v[:, i] = satellites[i].itrs_km_at(clock, offset_s)
        rest = np.flatnonzero(~providers)
        if rest.size:
            r[:, rest], v[:, rest] = coarse_itrs_km([satellites[i] for i in rest], clock, offset_s)
        return r, v
    whole, utc, ut1 = clock.args(offset_s)
    adapter = _Adapter(_ArrayModel(s.model for s in satellites))
    r, v, error = _geometry._teme_to_itrs(adapter, whole, utc, ut1, False, None)
    if np.any(error):
        i, k = np.unravel_index(int(np.flatnonzero(error)[0]), error.shape)
        satellite_itrs_km_at(satellites[i], clock, np.atleast_1d(offset_s[k]), check=True)
    return r, v


# ---------------------------------------------------------------------------
# The search context and the geometry of (satellite, station) pairs
# ---------------------------------------------------------------------------

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


class _Columns(Mapping):
    """Geometry columns of pair samples, each computed on first access
    (constraints read only what they need; the Sun and the Moon are
    computed only if read)."""

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


class _Context:
    """Everything a search shares: satellites, stations, their constraint
    objects, the clock and (built on first use) the Sun and the Moon."""

    def __init__(self, satellites, stations, cons, t_start, span_s):
        self.satellites = satellites
        self.stations = stations
        self.cons = cons
        objs = [c.build(st) for c, st in zip(cons, stations)]
        self.elevations = [o[0] for o in objs]
        self.others = [o[1:] for o in objs]
        self.clock = Clock(t_start, 0.0, span_s)
        self._sunmoon = _Lazy(lambda: SunMoon(t_start, 0.0, span_s, self.clock))
        self.providers = np.array([_is_provider(s) for s in satellites], bool)
        # SGP4 models by satellite index (None for a position provider).
        self.models = [None if p else s.model for s, p in zip(satellites, self.providers)]

    @property
    def sunmoon(self) -> SunMoon:
        return self._sunmoon()

    def states(self, sat_idx, offset_s):
        """Earth-fixed r, v (3, n) of satellite ``sat_idx[k]`` at ``offset_s[k]``."""
        offset_s = np.asarray(offset_s, dtype=float)
        if self.providers.any():
            sat_idx = np.asarray(sat_idx)
            on = self.providers[sat_idx]
            if on.any():
                r = np.empty((3, offset_s.size))
                v = np.empty_like(r)
                for i in np.unique(sat_idx[on]):
                    k = np.flatnonzero(sat_idx == i)
                    r[:, k], v[:, k] = self.satellites[i].itrs_km_at(self.clock, offset_s[k])
                rest = np.flatnonzero(~on)
                if rest.size:
                    r[:, rest], v[:, rest] = self.states(sat_idx[rest], offset_s[rest])
                return r, v
        whole, utc, ut1 = self.clock.args(offset_s)
        adapter = _Adapter(_ElementwiseModel(self.models, sat_idx))
        r, v, error = _geometry._teme_to_itrs(adapter, whole, utc, ut1, False, None)
        if np.any(error):
            k = int(np.flatnonzero(error)[0])
            satellite_itrs_km_at(self.satellites[sat_idx[k]], self.clock, offset_s[k:k + 1], check=True)
        return r, v

    def columns(self, sat_idx, st_idx, offset_s) -> _Columns:
        """Lazy geometry columns of pair (``sat_idx[k]``, ``st_idx[k]``) at
        ``offset_s[k]``: the :data:`SECOND_COLUMNS` geometry plus
        ``sunlit_margin_km``."""
        offset_s = np.asarray(offset_s, dtype=float)
        n = offset_s.size
        by_station = [(j, np.flatnonzero(st_idx == j)) for j in np.unique(st_idx)]
        states = _Lazy(lambda: self.states(sat_idx, offset_s))

        # SunMoon evaluates each 20 s cell once, however many pairs share it.
        sun = _Lazy(lambda: self.sunmoon.sun_itrs_km(offset_s))
        moon = _Lazy(lambda: self.sunmoon.moon_itrs_km(offset_s))

        def per_station(fn, dtype=float):
            def make():
                out = np.empty(n, dtype)
                for j, idx in by_station:
                    out[idx] = fn(self.stations[j], idx)
                return out
            return make

        def angles():
            r, v = states()
            out = {k: np.empty(n) for k in ("elevation_deg", "azimuth_deg", "range_km", "range_rate_km_s")}
            for j, idx in by_station:
                la = look_angles(self.stations[j], r[:, idx], v[:, idx])
                out["elevation_deg"][idx] = la.elevation_deg
                out["azimuth_deg"][idx] = la.azimuth_deg
                out["range_km"][idx] = la.range_km
                out["range_rate_km_s"][idx] = la.range_rate_km_s
            return out

        la = _Lazy(angles)

        def moon_sep(st, idx):
            return separation_deg(states()[0][:, idx] - st.itrs_km[:, None], moon()[:, idx] - st.itrs_km[:, None])

        return _Columns({
            "elevation_deg": lambda: la()["elevation_deg"],
            "azimuth_deg": lambda: la()["azimuth_deg"],
            "range_km": lambda: la()["range_km"],
            "range_rate_km_s": lambda: la()["range_rate_km_s"],
            "sun_altitude_deg": per_station(lambda st, idx: elevation_of(st, sun()[:, idx])),
            "moon_altitude_deg": per_station(lambda st, idx: elevation_of(st, moon()[:, idx])),
            "moon_separation_deg": per_station(moon_sep),
            "moon_illumination": lambda: moon_illumination(moon(), sun()),
            "sunlit": lambda: sunlit(states()[0], sun()),
            "sunlit_margin_km": lambda: sunlit_margin_km(states()[0], sun()),
        })

    def f(self, cols, st_idx):
        """Elevation above the station's threshold (minimum elevation, mask)."""
        out = np.empty(st_idx.size)
        el, az = cols["elevation_deg"], cols["azimuth_deg"]
        for j in np.unique(st_idx):
            idx = np.flatnonzero(st_idx == j)
            out[idx] = el[idx] - self.elevations[j].threshold_deg(az[idx])
        return out

    def margin(self, cols, st_idx):
        """The smallest signed margin of the station's other constraints
        (positive where all hold; +inf where a station has none)."""
        out = np.full(st_idx.size, np.inf)
        for j in np.unique(st_idx):
            if not self.others[j]:
                continue
            idx = np.flatnonzero(st_idx == j)
            sub = _Subset(cols, idx)
            for con in self.others[j]:
                out[idx] = np.minimum(out[idx], con.margin(sub))
        return out


class _Subset(Mapping):
    """Rows ``idx`` of a column mapping."""

    def __init__(self, cols, idx):
        self.cols, self.idx = cols, idx

    def __getitem__(self, key):
        return self.cols[key][self.idx]

    def __iter__(self):
        return iter(self.cols)

    def __len__(self):
        return len(self.cols)


class _Track:
    """One quantity of (satellite, station) pairs, one pair per element, as
    ``_golden`` and ``_bisect`` want it: ``f(offsets)``."""

    def __init__(self, ctx: _Context, sat_idx, st_idx, quantity: str):
        self.ctx, self.sat_idx, self.st_idx, self.quantity = ctx, np.asarray(sat_idx), np.asarray(st_idx), quantity

    def f(self, offset_s):
        cols = self.ctx.columns(self.sat_idx, self.st_idx, offset_s)
        if self.quantity == "f":
            return self.ctx.f(cols, self.st_idx)
        if self.quantity == "margin":
            return self.ctx.margin(cols, self.st_idx)
        return cols[self.quantity]


# ---------------------------------------------------------------------------
# Stage 1-2: rise, culmination, set
# ---------------------------------------------------------------------------

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


def _refine_extrema(ctx, grid, eq, ek, kind, pair_sat, pair_st, rate_deg_s):
    """Golden-section refinement of the extrema of f (pairs ``eq``, grid
    indices ``ek``, ``kind`` +1 maximum / -1 minimum), in stages.

    Each stage shrinks the brackets by a few iterations; an extremum whose f
    cannot reach zero inside its bracket (a maximum more than ``rate x
    half-width`` below the threshold, or a minimum as far above it) cannot
    create a rise or a set and is dropped.  The rest end 1 ms wide.
    Returns the kept ``eq, kind, t, f``.
    """
    step_s = grid[1] - grid[0]
    iters = _iterations(2 * step_s, 1e-3)
    final_width = 2 * step_s * GOLDEN**iters
    lo, hi = grid[ek - 1], grid[ek + 1]
    width = 2 * step_s
    for target_s in _STAGE_WIDTHS_S:
        n_it = int(np.ceil(np.log(width / target_s) / -np.log(GOLDEN)))
        if n_it <= 0 or target_s <= 10 * final_width or not eq.size:
            continue
        track = _Track(ctx, pair_sat[eq], pair_st[eq], "f")
        x, fx = _golden(track, lo, hi, kind, n_it)
        half = 0.5 * width * GOLDEN**n_it * 1.001  # slack for rounding
        width = 2 * half
        reach = rate_deg_s[eq] * half
        live = np.where(kind > 0, fx + reach >= 0, fx - reach <= 0)
        eq, kind, lo, hi = eq[live], kind[live], x[live] - half, x[live] + half
    n_it = max(int(np.ceil(np.log(width / final_width) / -np.log(GOLDEN))), 0)
    if not eq.size:
        return eq, kind, np.zeros(0), np.zeros(0)
    x, fx = _golden(_Track(ctx, pair_sat[eq], pair_st[eq], "f"), lo, hi, kind, n_it)
    return eq, kind, x, fx


def _chunk_intervals(ctx, sat_ids, span_s, step_s):
    """Rise/culmination/set of every pass of satellites ``sat_ids`` (sharing
    one grid step) over every station.  Returns a dict of arrays, one
    element per pass; ``sat`` indexes ``ctx.satellites``."""
    satellites = [ctx.satellites[i] for i in sat_ids]
    stations = ctx.stations
    n_sat, n_st = len(satellites), len(stations)
    grid = _grid(span_s, step_s)
    n_grid = grid.size
    step_s = grid[1] - grid[0]
    r, _ = coarse_itrs_km(satellites, ctx.clock, grid)
    f = np.empty((n_sat, n_st, n_grid))
    flat = r.reshape(3, -1)
    for j, station in enumerate(stations):
        la = look_angles(station, flat)
        f[:, j, :] = (la.elevation_deg - ctx.elevations[j].threshold_deg(la.azimuth_deg)).reshape(n_sat, n_grid)
    del r, flat
    fm = f.reshape(n_sat * n_st, n_grid)  # pair q = satellite * n_st + station
    pair_sat = np.repeat(np.asarray(sat_ids), n_st)
    pair_st = np.tile(np.arange(n_st), n_sat)

    # Between samples f can rise above a sample by at most (rate x step):
    # only maxima within that margin of the threshold can hide a pass, and
    # only minima above the threshold and within the margin can hide a dip
    # that splits one pass into two.  Below the threshold the satellite is
    # far away and slow in the sky, which bounds the first margin tightly
    # (a horizon mask's steps do not obey it: keep the general bound then).
    margin = np.repeat(np.array([_max_angular_rate_deg_s(s) for s in satellites]) * step_s, n_st)[:, None]
    below = np.array([[_max_rate_below_deg_s(s, e.min_deg) for e in ctx.elevations] for s in satellites]).ravel()
    masked = np.array([bool(st.horizon_mask) for st in stations])
    rise_margin = np.where(masked[pair_st], margin[:, 0], below * step_s)[:, None]
    fi, left, right = fm[:, 1:-1], fm[:, :-2], fm[:, 2:]
    is_max = (fi >= left) & (fi > right) & (fi > -rise_margin)
    is_min = (fi <= left) & (fi < right) & (fi > 0) & (fi < margin)
    del fi, left, right
    eq, ek = np.nonzero(is_max | is_min)
    ek = ek + 1
    kind = np.where(is_max[eq, ek - 1], 1.0, -1.0)
    del is_max, is_min
    if eq.size:
        eq, kind, ext_t, ext_f = _refine_extrema(ctx, grid, eq, ek, kind, pair_sat, pair_st, margin[:, 0] / step_s)
    else:
        ext_t = ext_f = np.zeros(0)
    # Drop the grid's padding and extrema outside the span.
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
    qc = q_all[change]
    rising = ~up[change]
    if change.size:
        lo, hi = _bisect(_Track(ctx, pair_sat[qc], pair_st[qc], "f"), t_all[change], t_all[change + 1],
                         f_all[change], _iterations(step_s, 1e-3, golden=False))
        crossings = 0.5 * (lo + hi)
        sec = _whole_second_after(ctx, pair_sat[qc], pair_st[qc], "f", lo, hi, rising)
    else:
        crossings = sec = np.zeros(0)
    del t_all, f_all, q_all, up

    first_up = np.flatnonzero(fm[:, 0] > 0)
    last_up = np.flatnonzero(fm[:, -1] > 0)
    q, rise, set_, c0, c1, si, ei = _pair_intervals(qc, crossings, rising, first_up, np.zeros(first_up.size),
                                                    last_up, np.full(last_up.size, span_s))
    first = np.where(si >= 0, sec[np.maximum(si, 0)] if sec.size else 0.0, 0.0)
    last = np.where(ei >= 0, sec[np.maximum(ei, 0)] if sec.size else 0.0, np.floor(span_s))

    # Culmination: the highest refined maximum inside (f > 0), or a clipped
    # edge, preferring rise, then set, then the earliest maximum on ties.
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
        "c0": c0, "c1": c1, "n_culm": np.maximum(n_culm, 1), "first": first, "last": last,
    }


# ---------------------------------------------------------------------------
# Stage 3: inside each pass
# ---------------------------------------------------------------------------

def _pass_grid(iv, k, steps):
    """Samples inside passes ``k``: each pass's [rise, set] cut into equal
    steps no longer than its satellite's in-pass step, both ends included.
    Returns (pass index per sample, offsets)."""
    rise, set_ = iv["rise"][k], iv["set"][k]
    n = np.maximum(np.ceil((set_ - rise) / steps[iv["sat"][k]]), 1).astype(np.int64)
    sizes = n + 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    within = np.arange(bounds[-1]) - np.repeat(bounds[:-1], sizes)
    p = np.repeat(k, sizes)
    t = np.repeat(rise, sizes) + within * np.repeat((set_ - rise) / n, sizes)
    t[bounds[1:] - 1] = set_  # exactly
    return p, t


def _discrete_extrema(values, p, kind):
    """Interior samples that are discrete maxima (kind +1) or minima (-1)
    of ``values`` within the same pass ``p``."""
    if values.size < 3:
        return np.zeros(0, np.int64)
    v, left, right = kind * values[1:-1], kind * values[:-2], kind * values[2:]
    same = (p[1:-1] == p[:-2]) & (p[1:-1] == p[2:])
    return np.flatnonzero(same & (v >= left) & (v > right) & np.isfinite(v)) + 1


def _inside_passes(ctx, iv, k, steps, masked):
    """For passes ``k``: the culmination at masked stations, the minimum
    range, and the usable windows to the whole second.

    Returns a dict with per-pass arrays (``min_range``, ``culm``,
    ``n_culm``) and the windows ``(w_pass, w_first, w_last)`` (whole
    seconds, inclusive).
    """
    sat, st = iv["sat"], iv["station"]
    p, t = _pass_grid(iv, k, steps)
    cols = ctx.columns(sat[p], st[p], t)
    out = {}

    # Closest approach: the smallest sample (the pass's ends included) or a
    # refined interior minimum of the range.
    rng = cols["range_km"]
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
    min_range = np.minimum.reduceat(rng, starts)
    e = _discrete_extrema(rng, p, -1.0)
    if e.size:
        x, fx = _golden(_Track(ctx, sat[p[e]], st[p[e]], "range_km"), t[e - 1], t[e + 1], -1.0,
                        _iterations(t[e + 1] - t[e - 1], 1e-2))
        np.minimum.at(min_range, np.searchsorted(k, p[e]), fx)
    out["min_range"] = min_range

    # At a masked station f's maxima are not the highest points: culminate
    # on the elevation itself, among the pass's ends and its refined maxima.
    culm, n_culm = iv["culm"][k].copy(), iv["n_culm"][k].copy()
    sel_pass = masked[st[k]]
    if sel_pass.any():
        el = cols["elevation_deg"]
        pk = np.searchsorted(k, p)
        on = sel_pass[pk]
        ends = np.concatenate([starts, np.r_[starts[1:] - 1, p.size - 1]])
        ends = ends[on[ends]]
        cand_p, cand_t, cand_v = [pk[ends]], [t[ends]], [el[ends]]
        n_culm[sel_pass] = 0
        e = _discrete_extrema(np.where(on, el, np.nan), p, 1.0)
        if e.size:
            x, fx = _golden(_Track(ctx, sat[p[e]], st[p[e]], "elevation_deg"), t[e - 1], t[e + 1], 1.0,
                            _iterations(t[e + 1] - t[e - 1], 1e-3))
            inside = (x > iv["rise"][p[e]]) & (x < iv["set"][p[e]])
            np.add.at(n_culm, pk[e][inside], 1)
            cand_p.append(pk[e])
            cand_t.append(x)
            cand_v.append(fx)
        cp, ct, cv = (np.concatenate(c) for c in (cand_p, cand_t, cand_v))
        o = np.lexsort((ct, -cv, cp))
        head = np.r_[True, cp[o][1:] != cp[o][:-1]]
        culm[cp[o][head]] = ct[o][head]
        n_culm = np.maximum(n_culm, 1)
    out["culm"], out["n_culm"] = culm, n_culm

    # Usable windows: where the smallest margin of the other constraints is
    # positive, by root finding on the same samples.
    first, last = iv["first"][k], iv["last"][k]
    constrained = np.array([bool(ctx.others[j]) for j in range(len(ctx.stations))])[st[k]]
    w_pass, w_first, w_last = [k[~constrained]], [first[~constrained]], [last[~constrained]]
    ck = np.flatnonzero(constrained)
    if ck.size:
        on = constrained[np.searchsorted(k, p)]
        pc, tc = p[on], t[on]
        m = ctx.margin(_Subset(cols, np.flatnonzero(on)), st[pc])
        # Extrema that could hide a crossing between samples: positive minima
        # and negative maxima, refined.
        ext_t, ext_m, ext_p = [], [], []
        for kind in (-1.0, 1.0):
            e = _discrete_extrema(m, pc, kind)
            e = e[(m[e] > 0) if kind < 0 else (m[e] < 0)]
            if e.size:
                x, fx = _golden(_Track(ctx, sat[pc[e]], st[pc[e]], "margin"), tc[e - 1], tc[e + 1], kind,
                                _iterations(tc[e + 1] - tc[e - 1], 1e-3))
                ext_t.append(x)
                ext_m.append(fx)
                ext_p.append(pc[e])
        if ext_t:
            pc = np.concatenate([pc] + ext_p)
            tc = np.concatenate([tc] + ext_t)
            m = np.concatenate([m] + ext_m)
            o = np.lexsort((tc, pc))
            pc, tc, m = pc[o], tc[o], m[o]
        up = m > 0
        change = np.flatnonzero((up[1:] != up[:-1]) & (pc[1:] == pc[:-1]))
        qc = pc[change]
        if change.size:
            lo, hi = _bisect(_Track(ctx, sat[qc], st[qc], "margin"), tc[change], tc[change + 1], m[change],
                             _iterations(np.max(tc[change + 1] - tc[change]), 1e-3, golden=False))
        else:
            lo = hi = np.zeros(0)
        rising = ~up[change]
        sec = _whole_second_after(ctx, sat[qc], st[qc], "margin", lo, hi, rising)
        starts_c = np.flatnonzero(np.r_[True, pc[1:] != pc[:-1]])
        ends_c = np.r_[starts_c[1:] - 1, pc.size - 1]
        fu, lu = pc[starts_c][up[starts_c]], pc[ends_c][up[ends_c]]
        q, s_t, e_t, *_ = _pair_intervals(qc, sec, rising, fu, first[np.searchsorted(k, fu)],
                                          lu, last[np.searchsorted(k, lu)])
        w_pass.append(q)
        w_first.append(s_t)
        w_last.append(e_t)
    w_pass, w_first, w_last = np.concatenate(w_pass), np.concatenate(w_first), np.concatenate(w_last)
    # Inside the pass's own whole seconds (a crossing next to rise or set).
    at = np.searchsorted(k, w_pass)
    w_first, w_last = np.maximum(w_first, first[at]), np.minimum(w_last, last[at])

    # A pass shorter than a second has no whole second: its culmination
    # stands for it, if the constraints hold there.
    empty = last < first
    if empty.any():
        ek = k[empty]
        drop = np.isin(w_pass, ek)
        w_pass, w_first, w_last = w_pass[~drop], w_first[~drop], w_last[~drop]
        c = culm[empty]
        holds = _Track(ctx, sat[ek], st[ek], "margin").f(c) > 0
        w_pass = np.concatenate([w_pass, ek[holds]])
        w_first = np.concatenate([w_first, c[holds]])
        w_last = np.concatenate([w_last, c[holds]])
    good = w_last >= w_first
    out["windows"] = (w_pass[good], w_first[good], w_last[good])
    return out


def _seconds_of(windows, chunk):
    """Whole seconds of windows ``(pass, first, last)``, in chunks of at most
    ``chunk`` seconds: yields ``(pass per second, offset)``."""
    w_pass, w_first, w_last = windows
    # A window shorter than a second (a sub-second pass) is one sample.
    sizes = np.where(w_last > w_first, np.floor(w_last - w_first) + 1, 1).astype(np.int64)
    # Cut long windows into pieces no longer than a chunk.
    pieces = -(-sizes // chunk)
    rep = np.repeat(np.arange(sizes.size), pieces)
    piece_no = np.arange(rep.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    p_first = w_first[rep] + piece_no * chunk
    p_size = np.minimum(sizes[rep] - piece_no * chunk, chunk)
    ends = np.cumsum(p_size)
    lo = 0
    while lo < rep.size:
        hi = int(np.searchsorted(ends, (ends[lo - 1] if lo else 0) + chunk, side="right"))
        hi = max(hi, lo + 1)
        s = p_size[lo:hi]
        b = np.concatenate([[0], np.cumsum(s)])
        within = np.arange(b[-1]) - np.repeat(b[:-1], s)
        yield np.repeat(w_pass[rep[lo:hi]], s), np.repeat(p_first[lo:hi], s) + within
        lo = hi


def _utc(t0_utc: pd.Timestamp, offset_s, clock) -> pd.Series | pd.Timestamp:
    """UTC timestamps of offsets (TT seconds after the span's start)."""
    return t0_utc + pd.to_timedelta(np.round(clock.utc_label_s(offset_s) * 1e3), unit="ms")


def _empty() -> PassForecast:
    return PassForecast(pd.DataFrame(columns=PASS_COLUMNS), pd.DataFrame(columns=SECOND_COLUMNS), [])


def find_passes(satellites, stations, start, end, constraints=None, *, per_second: bool = True,
                max_element_age_days: float | None = None, allow_stale_elements: bool = False,
                element_age_warning_days: float | None = None) -> PassForecast:
    """Find every pass of each satellite over each station between two times.

    Parameters
    ----------
    satellites
        A skyfield ``EarthSatellite`` or a list of them (a whole catalogue).
    stations
        A :class:`~satqkd.stations.Station` or a list of them.
    start, end
        Span to search: skyfield Times, datetimes (naive means UTC), numpy
        ``datetime64`` (UTC), pandas Timestamps or ISO strings.  ``end``
        must be after ``start``.
    constraints
        One :class:`~satqkd.constraints.Constraints` for all stations, or a
        mapping of station name to its own; default ``Constraints()``.
    per_second
        Also return the per-second geometry of every usable window (computed
        only then, in bounded chunks).
    max_element_age_days, allow_stale_elements, element_age_warning_days
        Element sets further than this from the span are refused (default
        per orbit class, see :func:`satqkd.elements.check_element_age`);
        with ``allow_stale_elements`` they only warn; the warning starts at
        ``element_age_warning_days`` (LEO; default 7, scaled per class).

    Returns
    -------
    PassForecast
        ``passes`` (a row per pass with at least one usable second, columns
        :data:`PASS_COLUMNS`, sorted by rise) and ``seconds``
        (:data:`SECOND_COLUMNS`), plus warnings.
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
    names = [s.name for s in stations]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise SatqkdError(f"stations: {dup!r} is given twice")
    notes = check_element_age([s for s in satellites if not _is_provider(s)], t_start, t_end,
                              max_element_age_days, allow_stale_elements, element_age_warning_days)
    for s in satellites:
        if _is_provider(s):
            s.check_span(t_start, t_end)  # an ephemeris covers the span, or the error says what it covers
    constraints = constraints if constraints is not None else Constraints()
    cons = [constraints.get(st.name, Constraints()) if isinstance(constraints, dict) else constraints
            for st in stations]
    if not satellites or not stations:
        return _empty()
    ctx = _Context(satellites, stations, cons, t_start, span_s)
    t0_utc = pd.Timestamp(t_start.utc_datetime()).tz_convert("UTC").round("ms")

    # 1-2. Coarse grid and refinement, per chunk of satellites.
    parts = [_chunk_intervals(ctx, idx, span_s, step)
             for idx, step in _step_chunks(satellites, lambda s: _grid(span_s, s).size, len(stations))]
    iv = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    if iv["rise"].size == 0:
        return PassForecast(_empty().passes, _empty().seconds, notes)
    o = np.lexsort((iv["rise"], iv["station"], iv["sat"]))
    iv = {key: v[o] for key, v in iv.items()}
    n_iv = iv["rise"].size

    # 3. Inside the passes, in chunks of bounded samples.
    steps = np.array([_pass_step_s(s) for s in satellites])
    masked = np.array([bool(st.horizon_mask) for st in stations])
    n_samples = np.maximum(np.ceil((iv["set"] - iv["rise"]) / steps[iv["sat"]]), 1) + 1
    cut = np.searchsorted(np.cumsum(n_samples), np.arange(_CHUNK_POINTS, n_samples.sum() + _CHUNK_POINTS,
                                                          _CHUNK_POINTS), side="right")
    bounds = np.unique(np.concatenate([[0], cut, [n_iv]]))
    min_range, windows = np.empty(n_iv), []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi <= lo:
            continue
        k = np.arange(lo, hi)
        res = _inside_passes(ctx, iv, k, steps, masked)
        min_range[k] = res["min_range"]
        iv["culm"][k], iv["n_culm"][k] = res["culm"], res["n_culm"]
        windows.append(res["windows"])
    w_pass, w_first, w_last = (np.concatenate(x) for x in zip(*windows))
    o = np.lexsort((w_first, w_pass))
    w_pass, w_first, w_last = w_pass[o], w_first[o], w_last[o]
    w_len = np.where(w_last > w_first, np.floor(w_last - w_first) + 1, 1)
    usable_s = np.bincount(w_pass, weights=w_len, minlength=n_iv).astype(np.int64)
    usable_start = np.full(n_iv, np.nan)
    usable_end = np.full(n_iv, np.nan)
    np.fmin.at(usable_start, w_pass, w_first)
    np.fmax.at(usable_end, w_pass, w_last)
    keep = usable_s > 0

    # Geometry at culmination (one sample per pass).
    cols = ctx.columns(iv["sat"], iv["station"], iv["culm"])
    max_el = cols["elevation_deg"]
    min_range = np.minimum(min_range, cols["range_km"])
    sunlit_c = cols["sunlit"]

    epoch_tt = np.array([s.epoch.tt for s in satellites])
    age = (t_start.tt + iv["culm"] / 86400.0) - epoch_tt[iv["sat"]]
    pass_id = np.full(n_iv, -1)
    pass_id[keep] = np.arange(keep.sum())

    sat_names = np.array([s.name for s in satellites], dtype=object)
    st_names = np.array(names, dtype=object)
    k = keep
    passes = pd.DataFrame({
        "pass_id": pass_id[k],
        "satellite": sat_names[iv["sat"][k]],
        "station": st_names[iv["station"][k]],
        "max_elevation_deg": max_el[k],
        "min_range_km": min_range[k],
        "duration_s": (iv["set"] - iv["rise"])[k],
        "usable_s": usable_s[k],
        "clipped": (iv["c0"] | iv["c1"])[k],
        "sunlit": sunlit_c[k],
        "n_culminations": iv["n_culm"][k],
        "epoch_age_days": age[k],
    })
    for name, values in (("rise", iv["rise"]), ("culmination", iv["culm"]), ("set", iv["set"]),
                         ("usable_start", usable_start), ("usable_end", usable_end)):
        passes[f"{name}_utc"] = _utc(t0_utc, values[k], ctx.clock)
    passes = passes.sort_values(["rise_utc", "station"], kind="stable").reset_index(drop=True)[PASS_COLUMNS]

    seconds = pd.DataFrame(columns=SECOND_COLUMNS)
    if per_second and keep.any():
        frames = []
        for p, t in _seconds_of((w_pass, w_first, w_last), _CHUNK_POINTS):
            c = ctx.columns(iv["sat"][p], iv["station"][p], t)
            frame = {"pass_id": pass_id[p], "satellite": sat_names[iv["sat"][p]],
                     "station": st_names[iv["station"][p]], "time_utc": _utc(t0_utc, t, ctx.clock)}
            frame.update({name: c[name] for name in SECOND_COLUMNS[4:]})
            frames.append(pd.DataFrame(frame))
        seconds = pd.concat(frames, ignore_index=True)[SECOND_COLUMNS]
    return PassForecast(passes, seconds, notes)


def find_passes_many(satellites, stations, start, end, constraints=None, *, per_second: bool = False,
                     **kwargs) -> PassForecast:
    """:func:`find_passes` with ``per_second`` off by default (a
    constellation's per-second table is large).  The same engine."""
    return find_passes(satellites, stations, start, end, constraints, per_second=per_second, **kwargs)


JOINT_WINDOW_COLUMNS = [
    "window_id", "satellite", "station_a", "station_b", "pass_id_a", "pass_id_b",
    "start_utc", "end_utc", "duration_s",
]


def joint_windows(passes: pd.DataFrame, station_a: str, station_b: str) -> pd.DataFrame:
    """The windows when one satellite is usable from both stations at once.

    ``passes`` is a pass table of this engine (:data:`PASS_COLUMNS`, the two
    stations among its rows).  For each satellite, every usable window
    ``[usable_start_utc, usable_end_utc]`` of ``station_a`` is intersected
    with every one of ``station_b`` that overlaps it (one station's windows of
    one satellite never overlap each other, so a sorted search finds the
    partners); an intersection of at least one whole second is a joint
    window.  Returns :data:`JOINT_WINDOW_COLUMNS`, sorted by start, with
    ``duration_s`` the whole seconds in the window (both ends inclusive, as
    ``usable_s``).  A pass whose usable seconds are split by a constraint
    counts as its usable span here; :func:`joint_seconds` holds only the
    seconds both stations can use.
    """
    if station_a == station_b:
        raise SatqkdError(f"joint windows: the two stations must differ, got {station_a!r} twice")
    cols = {c: [] for c in JOINT_WINDOW_COLUMNS[1:]}
    ok = passes["usable_start_utc"].notna() & passes["usable_end_utc"].notna() if len(passes) else []
    p = passes.loc[ok] if len(passes) else passes
    for sat in sorted(set(p["satellite"])) if len(p) else []:
        a = p[(p["satellite"] == sat) & (p["station"] == station_a)].sort_values("usable_start_utc")
        b = p[(p["satellite"] == sat) & (p["station"] == station_b)].sort_values("usable_start_utc")
        if a.empty or b.empty:
            continue
        a0, a1 = (pd.to_datetime(a[c], utc=True).to_numpy("datetime64[ms]").astype(np.int64) for c in ("usable_start_utc", "usable_end_utc"))
        b0, b1 = (pd.to_datetime(b[c], utc=True).to_numpy("datetime64[ms]").astype(np.int64) for c in ("usable_start_utc", "usable_end_utc"))
        # Partners of a: windows of b ending at or after a starts and starting at or before a ends.
        lo = np.searchsorted(b1, a0, side="left")
        hi = np.searchsorted(b0, a1, side="right")
        n = np.maximum(hi - lo, 0)
        ia = np.repeat(np.arange(a0.size), n)
        ib = np.repeat(lo, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
        start, end = np.maximum(a0[ia], b0[ib]), np.minimum(a1[ia], b1[ib])
        whole = np.floor((end - start) / 1000.0 + 1e-9) + 1
        keep = end >= start
        ia, ib, start, end, whole = ia[keep], ib[keep], start[keep], end[keep], whole[keep]
        cols["satellite"] += [sat] * ia.size
        cols["station_a"] += [station_a] * ia.size
        cols["station_b"] += [station_b] * ia.size
        cols["pass_id_a"] += list(a["pass_id"].to_numpy()[ia])
        cols["pass_id_b"] += list(b["pass_id"].to_numpy()[ib])
        cols["start_utc"] += list(pd.to_datetime(start, unit="ms", utc=True))
        cols["end_utc"] += list(pd.to_datetime(end, unit="ms", utc=True))
        cols["duration_s"] += list(whole.astype(np.int64))
    out = pd.DataFrame(cols)
    if out.empty:  # typed like a full table, so that tables of several links concatenate cleanly
        kinds = {"start_utc": "datetime64[ns, UTC]", "end_utc": "datetime64[ns, UTC]", "window_id": np.int64,
                 "pass_id_a": np.int64, "pass_id_b": np.int64, "duration_s": np.int64}
        return pd.DataFrame({c: pd.Series(dtype=kinds.get(c, object)) for c in JOINT_WINDOW_COLUMNS})
    out["start_utc"] = pd.to_datetime(out["start_utc"], utc=True)
    out["end_utc"] = pd.to_datetime(out["end_utc"], utc=True)
    out = out.sort_values(["start_utc", "satellite"], kind="stable").reset_index(drop=True)
    out.insert(0, "window_id", np.arange(len(out)))
    return out[JOINT_WINDOW_COLUMNS]


def joint_seconds(seconds: pd.DataFrame, station_a: str, station_b: str, columns=None) -> pd.DataFrame:
    """The seconds both stations can use, one row each, their columns side by side.

    ``seconds`` is a per-second table of this engine (:data:`SECOND_COLUMNS`
    and any columns joined on later, e.g. the link budget's).  Rows of the
    two stations are paired on ``(satellite, time_utc)``: every station's
    seconds are whole seconds of the same span, so equal times are the same
    instant.  ``columns`` (default: all but the keys) are suffixed ``_a`` and
    ``_b``.  Sorted by satellite and time.
    """
    if station_a == station_b:
        raise SatqkdError(f"joint seconds: the two stations must differ, got {station_a!r} twice")
    keys = ["satellite", "time_utc"]
    if columns is None:
        columns = [c for c in seconds.columns if c not in keys + ["station"]]
    columns = list(columns)
    # One integer per (satellite, instant): the satellite's rank (names
    # sorted) above the milliseconds since the first instant, so that a
    # sorted intersection pairs the rows (a pandas merge on the two columns
    # costs several times more); columns go through numpy once each.
    pos_a = np.flatnonzero((seconds["station"] == station_a).to_numpy())
    pos_b = np.flatnonzero((seconds["station"] == station_b).to_numpy())
    both = np.concatenate([pos_a, pos_b])
    sat_codes, _ = pd.factorize(seconds["satellite"].take(both), sort=True)
    times = seconds["time_utc"]
    t_ms = pd.to_datetime(times.take(both), utc=True).to_numpy(dtype="datetime64[ms]").astype(np.int64)
    t_ms = t_ms - (t_ms.min() if t_ms.size else 0)
    key = sat_codes.astype(np.int64) * (np.int64(1) << np.int64(40)) + t_ms
    if t_ms.size and (t_ms.max() >= (1 << 40) or sat_codes.max() >= (1 << 22)):  # pragma: no cover - > 34 years
        raise SatqkdError("joint seconds: span or satellite count too large to pair")
    _, ia, ib = np.intersect1d(key[: pos_a.size], key[pos_a.size:], assume_unique=True, return_indices=True)
    ra, rb = pos_a[ia], pos_b[ib]
    data = {"satellite": seconds["satellite"].take(ra).reset_index(drop=True),
            "time_utc": times.take(ra).reset_index(drop=True)}
    values = {c: seconds[c].to_numpy() for c in columns}
    data.update({f"{c}_a": values[c][ra] for c in columns})
    data.update({f"{c}_b": values[c][rb] for c in columns})
    return pd.DataFrame(data)

"""Passes of satellites over ground stations, and their per-second geometry.

The search follows skyfield's coarse-grid-then-refine idea, vectorised:

1. Sample ``f(t) = elevation - threshold(azimuth)`` on a coarse grid (1/100
   of an orbital period, 5 s to 10 min, padded by one step beyond each end
   of the span) in the Earth-fixed frame (:mod:`satqkd.geometry`).
2. Refine every discrete local maximum and minimum of ``f`` by golden-section
   search, all at once.  A pass whose peak lies between two grid samples, a
   few hundredths of a degree above the threshold, is found this way, and so
   is a dip between two culminations of an elliptical orbit.
3. Every sign change of ``f`` along the grid augmented with those extrema
   brackets one rise or set; bisection refines them all to 1 ms together.
4. Inside each pass, whole seconds are sampled; all of the station's
   constraints (:mod:`satqkd.constraints`) are evaluated on them and the
   usable window is where all hold.

Passes that begin before the span or end after it are cut at the span's
edges and flagged ``clipped``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import sky
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

__all__ = ["PassForecast", "find_passes", "orbital_period_s", "to_time", "PASS_COLUMNS", "SECOND_COLUMNS"]

GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0
MAX_EPOCH_AGE_DAYS_LEO = 7.0

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


def to_time(value):
    """A skyfield Time from a skyfield or astropy Time, a datetime (naive =
    UTC), a date or an ISO string."""
    import datetime as dt

    ts = sky.timescale()
    if hasattr(value, "tt") and hasattr(value, "whole"):
        return value
    if type(value).__module__.startswith("astropy"):
        return ts.from_astropy(value)
    if isinstance(value, str):
        try:
            value = pd.Timestamp(value)
        except ValueError:
            raise SatqkdError(f"time {value!r}: expected an ISO date such as 2026-11-28 or 2026-11-28T18:00:00Z") from None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return ts.from_datetime(value)


def orbital_period_s(satellite) -> float:
    """Period from the element set's mean motion (``no_kozai`` in rad/min)."""
    return 2.0 * np.pi / satellite.model.no_kozai * 60.0


@dataclass
class PassForecast:
    """Passes (one row each) and the per-second geometry of their usable windows."""

    passes: pd.DataFrame
    seconds: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


class _Track:
    """Evaluates f(t) = elevation - threshold for one satellite and station."""

    def __init__(self, satellite, station, clock, elevation_constraint):
        self.satellite = satellite
        self.station = station
        self.clock = clock
        self.elevation = elevation_constraint

    def positions(self, offset_s):
        return satellite_itrs_km_at(self.satellite, self.clock, offset_s)

    def f_from_positions(self, r):
        la = look_angles(self.station, r)
        return la.elevation_deg - self.elevation.threshold_deg(la.azimuth_deg)

    def f(self, offset_s):
        r, _, _ = self.positions(offset_s)
        return self.f_from_positions(r)


def _golden(track, lo, hi, sign, iterations):
    """Vectorised golden-section search for the maximum of ``sign * f``."""
    a, b = lo.astype(float), hi.astype(float)
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
    """Vectorised bisection of the sign change of f in [lo, hi]."""
    lo = lo.astype(float).copy()
    hi = hi.astype(float).copy()
    pos_lo = f_lo > 0
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        pos_mid = track.f(mid) > 0
        same = pos_mid == pos_lo
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    return 0.5 * (lo + hi)


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
    m = satellite.model
    a_km = m.a * m.radiusearthkm
    perigee_km = a_km * (1.0 - m.ecco)
    mu = m.mu
    v_perigee = np.sqrt(mu * (2.0 / perigee_km - 1.0 / a_km))
    height_km = max(perigee_km - m.radiusearthkm, 100.0)
    return float(np.degrees((v_perigee + 0.47) / height_km))


def _max_rate_below_deg_s(satellite, threshold_deg: float) -> float:
    """Upper bound on the elevation rate (deg/s) while the satellite is at or
    below ``threshold_deg``: its speed relative to the station over the
    shortest possible range at that elevation (perigee height less 10 km for
    a high station, polar Earth radius), with a 20 % safety factor."""
    m = satellite.model
    a_km = m.a * m.radiusearthkm
    perigee_km = a_km * (1.0 - m.ecco)
    v_perigee = np.sqrt(m.mu * (2.0 / perigee_km - 1.0 / a_km))
    h = max(perigee_km - m.radiusearthkm - 10.0, 100.0)
    r_earth = 6356.75
    e = np.radians(max(threshold_deg, -5.0))
    range_km = np.sqrt((r_earth + h) ** 2 - (r_earth * np.cos(e)) ** 2) - r_earth * np.sin(e)
    return float(1.2 * np.degrees((v_perigee + 0.47) / range_km))


def _find_intervals(track, grid, r_grid):
    """Rise/set intervals of f > 0 over the span, with culminations.

    ``grid`` is the padded grid of :func:`_grid` and ``r_grid`` the
    satellite's Earth-fixed positions there, shared by all stations.
    """
    span_s = grid[-2]
    step_s = grid[1] - grid[0]
    f = track.f_from_positions(r_grid)

    # Local extrema of the sampled f (interior points), refined together.
    inner = np.arange(1, len(grid) - 1)
    # Between samples f can rise above a sample by at most (rate x step):
    # only maxima within that margin of the threshold can hide a pass, and
    # only minima above the threshold and within the margin can hide a dip
    # that splits one pass into two.  Below the threshold the satellite is
    # far away and slow in the sky, which bounds the first margin tightly
    # (a horizon mask's steps do not obey it: keep the general bound then).
    margin = _max_angular_rate_deg_s(track.satellite) * step_s
    if track.station.horizon_mask:
        rise_margin = margin
    else:
        rise_margin = _max_rate_below_deg_s(track.satellite, track.elevation.min_deg) * step_s
    fi = f[inner]
    is_max = (fi >= f[inner - 1]) & (fi > f[inner + 1]) & (fi > -rise_margin)
    is_min = (fi <= f[inner - 1]) & (fi < f[inner + 1]) & (fi > 0) & (fi < margin)
    iters = int(np.ceil(np.log(2 * step_s / 1e-3) / -np.log(GOLDEN)))
    ext_t, ext_f, ext_kind = [], [], []
    for mask, sign in ((is_max, 1.0), (is_min, -1.0)):
        idx = inner[mask]
        if idx.size:
            x, fx = _golden(track, grid[idx - 1], grid[idx + 1], sign, iters)
            ext_t.append(x)
            ext_f.append(fx)
            ext_kind.append(np.full(x.size, sign))
    if ext_t:
        ext_t = np.concatenate(ext_t)
        ext_f = np.concatenate(ext_f)
        ext_kind = np.concatenate(ext_kind)
        inside = (ext_t > 0.0) & (ext_t < span_s)
        ext_t, ext_f, ext_kind = ext_t[inside], ext_f[inside], ext_kind[inside]
    else:
        ext_t = ext_f = ext_kind = np.zeros(0)

    grid, f = grid[1:-1], f[1:-1]  # drop the padding: the span itself from here on
    t_all = np.concatenate([grid, ext_t])
    f_all = np.concatenate([f, ext_f])
    order = np.argsort(t_all, kind="stable")
    t_all, f_all = t_all[order], f_all[order]

    up = f_all > 0
    change = np.flatnonzero(up[1:] != up[:-1])
    bisect_iters = int(np.ceil(np.log2(max(step_s, 1.0) / 1e-3)))
    crossings = _bisect(track, t_all[change], t_all[change + 1], f_all[change], bisect_iters) if change.size else np.zeros(0)
    rising = ~up[change]

    # Assemble [rise, set] intervals, clipping at the span's edges.
    intervals = []
    start = 0.0 if up[0] else None
    clipped_start = bool(up[0])
    for tc, r in zip(crossings, rising):
        if r:
            start, clipped_start = tc, False
        elif start is not None:
            intervals.append((start, tc, clipped_start, False))
            start = None
    if start is not None:
        intervals.append((start, span_s, clipped_start, True))

    maxima_t = ext_t[ext_kind > 0]
    maxima_f = ext_f[ext_kind > 0]
    out = []
    for rise, set_, c0, c1 in intervals:
        # Culmination: the highest refined maximum inside, or a clipped edge
        # (f there is on the grid; at a true rise or set f is zero).
        inside = (maxima_t > rise) & (maxima_t < set_) & (maxima_f > 0)
        cand_t = np.concatenate([[rise, set_], maxima_t[inside]])
        cand_f = np.concatenate([[f[0] if c0 else -np.inf, f[-1] if c1 else -np.inf], maxima_f[inside]])
        k = int(np.argmax(cand_f))
        out.append((rise, cand_t[k], set_, c0, c1, int(inside.sum())))
    return out


def _culminate_on_elevation(satellite, station, clock, rise, set_, offsets, sizes, elevation_deg):
    """Culmination times and counts of passes from the elevation itself.

    With a horizon mask the search runs on ``f = elevation - mask(azimuth)``,
    whose maxima are not the satellite's highest points.  Given each pass's
    whole-second ``offsets`` and ``elevation_deg`` (concatenated, ``sizes``
    per pass), the highest second is refined by golden-section search on the
    plain elevation, and culminations are counted as the per-second series'
    local maxima.  Returns ``(culmination_s, n_culminations)`` arrays.
    """
    from .constraints import ElevationAbove

    bounds = np.concatenate([[0], np.cumsum(sizes)])
    starts = bounds[:-1]
    best = np.array([starts[k] + int(np.argmax(elevation_deg[starts[k]:bounds[k + 1]])) for k in range(len(sizes))])
    lo = np.maximum(offsets[best] - 1.0, rise)
    hi = np.minimum(offsets[best] + 1.0, set_)
    plain = _Track(satellite, station, clock, ElevationAbove(0.0, None))
    iters = int(np.ceil(np.log(2.0 / 1e-3) / -np.log(GOLDEN)))
    culm, _ = _golden(plain, lo, np.maximum(hi, lo + 1e-6), 1.0, iters)
    e = elevation_deg
    peak = np.zeros(e.size, bool)
    peak[1:-1] = (e[1:-1] > e[:-2]) & (e[1:-1] >= e[2:])
    peak[starts] = False  # a pass's first and last seconds are edges, not culminations
    peak[bounds[1:] - 1] = False
    n = np.add.reduceat(peak.astype(int), starts)
    return culm, np.maximum(n, 1)


def _coarse_step_s(satellite) -> float:
    # Two distinct culminations closer together than one step could merge;
    # 1/100 of a period keeps them apart for every orbit type (skyfield's
    # find_events samples 1/20 of an orbit).
    return float(np.clip(orbital_period_s(satellite) / 100.0, 5.0, 600.0))


def _samples(satellite, station, clock, offsets_s, sunmoon):
    """Per-second geometry columns at offsets (seconds after the clock's t0)."""
    r, v, _ = satellite_itrs_km_at(satellite, clock, offsets_s)
    la = look_angles(station, r, v)
    sun = sunmoon.sun_itrs_km(offsets_s)
    moon = sunmoon.moon_itrs_km(offsets_s)
    sat_dir = r - station.itrs_km[:, None]
    moon_dir = moon - station.itrs_km[:, None]
    return {
        "elevation_deg": la.elevation_deg,
        "azimuth_deg": la.azimuth_deg,
        "range_km": la.range_km,
        "range_rate_km_s": la.range_rate_km_s,
        "sun_altitude_deg": elevation_of(station, sun),
        "moon_altitude_deg": elevation_of(station, moon),
        "moon_separation_deg": separation_deg(sat_dir, moon_dir),
        "moon_illumination": moon_illumination(moon, sun),
        "sunlit": sunlit(r, sun),
    }


def _utc(t0_utc: pd.Timestamp, offset_s, clock) -> pd.Series | pd.Timestamp:
    """UTC timestamps of offsets (TT seconds after the span's start)."""
    return t0_utc + pd.to_timedelta(np.round(clock.utc_label_s(offset_s) * 1e3), unit="ms")


def find_passes(satellites, stations, start, end, constraints=None, *, per_second: bool = True) -> PassForecast:
    """Find every pass of each satellite over each station between two times.

    Parameters
    ----------
    satellites
        A skyfield ``EarthSatellite`` or a list of them.
    stations
        A :class:`~satqkd.stations.Station` or a list of them.
    start, end
        Span to search: skyfield Times, datetimes (naive means UTC) or ISO
        strings.  ``end`` must be after ``start``.
    constraints
        One :class:`~satqkd.constraints.Constraints` for all stations, or a
        mapping of station name to its own; default ``Constraints()``.
    per_second
        Also return the per-second geometry of every usable window.

    Returns
    -------
    PassForecast
        ``passes`` (a row per pass with at least one usable second, columns
        :data:`PASS_COLUMNS`) and ``seconds`` (:data:`SECOND_COLUMNS`), plus
        warnings (element sets far from their epoch).
    """
    if not isinstance(satellites, (list, tuple)):
        satellites = [satellites]
    if not isinstance(stations, (list, tuple)):
        stations = [stations]
    t_start, t_end = to_time(start), to_time(end)
    span_s = (t_end.tt - t_start.tt) * 86400.0
    if not span_s > 0:
        raise SatqkdError(
            f"time span: end {t_end.utc_strftime('%Y-%m-%d %H:%M:%S')} is not after start "
            f"{t_start.utc_strftime('%Y-%m-%d %H:%M:%S')}"
        )
    constraints = constraints if constraints is not None else Constraints()
    t0_utc = pd.Timestamp(t_start.utc_datetime()).tz_convert("UTC").round("ms")
    clock = Clock(t_start, 0.0, span_s)
    sunmoon = SunMoon(t_start, 0.0, span_s, clock)

    pass_rows, second_frames, notes = [], [], []
    pass_id = 0
    for sat in satellites:
        step_s = _coarse_step_s(sat)
        period_s = orbital_period_s(sat)
        epoch_jd = sat.epoch.tt
        grid = _grid(span_s, step_s)
        r_grid, _, _ = satellite_itrs_km_at(sat, clock, grid)
        for station in stations:
            cons = constraints.get(station.name, Constraints()) if isinstance(constraints, dict) else constraints
            objs = cons.build(station)
            track = _Track(sat, station, clock, objs[0])
            intervals = _find_intervals(track, grid, r_grid)
            sun_limit = cons.sun_max_altitude_deg
            if intervals and sun_limit is not None:
                # Drop daytime passes before sampling them.  Within a pass
                # shorter than 15 min the Sun's altitude is monotonic, or near
                # its daily extremum bends by under 0.1 deg, so a pass with
                # the Sun above limit + 1 deg at rise, culmination and set is
                # daylight throughout.
                ends = np.array([[iv[0], iv[1], iv[2]] for iv in intervals])
                sun_alt = elevation_of(station, sunmoon.sun_itrs_km(ends.ravel())).reshape(-1, 3)
                short = (ends[:, 2] - ends[:, 0]) < 900.0
                day = short & np.all(sun_alt > sun_limit + 1.0, axis=1)
                intervals = [iv for iv, d in zip(intervals, day) if not d]
            if not intervals:
                continue
            # Whole seconds inside every pass, evaluated in one batch.
            chunks = []
            for rise, culm, set_, *_ in intervals:
                first, last = np.ceil(rise), np.floor(set_)
                chunks.append(np.arange(first, last + 1.0) if last >= first else np.array([culm]))
            sizes = np.array([c.size for c in chunks])
            offsets = np.concatenate(chunks)
            cols = _samples(sat, station, clock, offsets, sunmoon)
            ok = np.ones(offsets.size, bool)
            for con in objs[1:]:
                ok &= con.compute(cols)
            if station.horizon_mask:
                rises = np.array([iv[0] for iv in intervals])
                sets = np.array([iv[2] for iv in intervals])
                culm_e, n_e = _culminate_on_elevation(sat, station, clock, rises, sets, offsets, sizes,
                                                      cols["elevation_deg"])
                intervals = [(iv[0], c, iv[2], iv[3], iv[4], int(n)) for iv, c, n in zip(intervals, culm_e, n_e)]
            culms = np.array([iv[1] for iv in intervals])
            culm_cols = _samples(sat, station, clock, culms, sunmoon)
            bounds = np.concatenate([[0], np.cumsum(sizes)])
            worst_age = 0.0
            keep_pass = np.zeros(len(intervals), bool)
            pass_ids_all = np.full(len(intervals), -1)
            for k, (rise, culm, set_, c0, c1, n_culm) in enumerate(intervals):
                sl = slice(bounds[k], bounds[k + 1])
                ok_k = ok[sl]
                if not ok_k.any():
                    continue
                off_k = offsets[sl][ok_k]
                age_days = (t_start.tt + culm / 86400.0) - epoch_jd
                worst_age = max(worst_age, abs(age_days))
                pass_rows.append(
                    {
                        "pass_id": pass_id,
                        "satellite": sat.name,
                        "station": station.name,
                        "rise_s": rise,
                        "culmination_s": culm,
                        "set_s": set_,
                        "max_elevation_deg": float(culm_cols["elevation_deg"][k]),
                        "min_range_km": float(min(cols["range_km"][sl].min(), culm_cols["range_km"][k])),
                        "duration_s": set_ - rise,
                        "usable_start_s": off_k[0],
                        "usable_end_s": off_k[-1],
                        "usable_s": int(ok_k.sum()),
                        "clipped": bool(c0 or c1),
                        "sunlit": bool(culm_cols["sunlit"][k]),
                        "n_culminations": max(n_culm, 1),
                        "epoch_age_days": age_days,
                    }
                )
                keep_pass[k] = True
                pass_ids_all[k] = pass_id
                pass_id += 1
            if period_s < 225 * 60 and worst_age > MAX_EPOCH_AGE_DAYS_LEO:
                notes.append(
                    f"{sat.name}: passes over {station.name} up to {worst_age:.0f} days from the element epoch "
                    f"(more than {MAX_EPOCH_AGE_DAYS_LEO:g}); SGP4 positions may be off by tens of km"
                )
            if per_second and keep_pass.any():
                keep = ok & np.repeat(keep_pass, sizes)
                frame = {"pass_id": np.repeat(pass_ids_all, sizes)[keep], "satellite": sat.name,
                         "station": station.name, "offset_s": offsets[keep]}
                frame.update({name: v[keep] for name, v in cols.items()})
                second_frames.append(pd.DataFrame(frame))

    passes = pd.DataFrame(pass_rows)
    if passes.empty:
        passes = pd.DataFrame(columns=PASS_COLUMNS)
    else:
        for name in ("rise", "culmination", "set", "usable_start", "usable_end"):
            passes[f"{name}_utc"] = _utc(t0_utc, passes.pop(f"{name}_s").to_numpy(), clock)
        passes = passes.sort_values(["rise_utc", "station"], kind="stable").reset_index(drop=True)
        passes = passes[PASS_COLUMNS]
    if second_frames:
        seconds = pd.concat(second_frames, ignore_index=True)
        seconds.insert(3, "time_utc", _utc(t0_utc, seconds.pop("offset_s").to_numpy(), clock))
        seconds = seconds[SECOND_COLUMNS]
    else:
        seconds = pd.DataFrame(columns=SECOND_COLUMNS)
    return PassForecast(passes, seconds, sorted(set(notes)))

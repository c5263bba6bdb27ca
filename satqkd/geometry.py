"""Look angles from stations to satellites, the Sun and the Moon — vectorised.

The topocentric direction of a satellite does not depend on precession or
nutation: both the satellite and the station can be expressed in the
Earth-fixed frame and subtracted there.  SGP4 gives TEME coordinates, and
TEME differs from the pseudo-Earth-fixed frame by one rotation about the
pole through Greenwich mean sidereal time (GMST 1982).  Skyfield's full path,
``(satellite - topos).at(t).altaz()``, performs the same rotation composed
with its inverse precession-nutation pair, so the two agree to rounding error
(``tests/test_geometry.py`` checks 1e-6 degrees), while this module costs one
``sgp4_array`` call and a few array operations per sample.

Polar motion (~10 m at the surface) is ignored, as skyfield does unless a
polar-motion table is loaded.

The Sun and the Moon move slowly compared to a LEO satellite, so
:class:`SunMoon` interpolates their apparent geocentric positions from an
hourly skyfield grid and rotates them to the Earth-fixed frame at each query time:
altitudes agree with skyfield's ``altaz()`` to about 1e-4 degrees.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from skyfield.sgp4lib import theta_GMST1982

from . import sky
from .errors import SatqkdError

__all__ = [
    "seconds_to_time",
    "Clock",
    "satellite_itrs_km",
    "satellite_itrs_km_at",
    "LookAngles",
    "look_angles",
    "SunMoon",
    "sunlit",
    "sunlit_margin_km",
    "sun_separation_deg",
    "EQUATORIAL_RADIUS_KM",
]

DAY_S = 86400.0
EQUATORIAL_RADIUS_KM = 6378.137  # WGS-84, the radius of the shadow cylinder


def seconds_to_time(t0, offset_s):
    """Skyfield Time(s) ``offset_s`` seconds (TT) after the Time ``t0``."""
    offset = np.asarray(offset_s, dtype=float)
    return sky.timescale().tt_jd(t0.whole, t0.tt_fraction + offset / DAY_S)


class Clock:
    """Fast time arguments for SGP4 over a span, as offsets in seconds from ``t0``.

    SGP4 wants UTC Julian dates and the TEME -> Earth-fixed rotation wants
    UT1.  Building a skyfield ``Time`` for every probe of a root search costs
    far more than SGP4 itself, so the clock computes UTC by a constant
    offset from TT (exact while no leap second falls inside the span; with
    one, it falls back to skyfield) and UT1 by linear interpolation of
    skyfield's exact values on a 6-hour grid (Delta T changes by
    milliseconds over a year and smoothly: the interpolation error is below
    a microsecond).
    """

    STEP_S = 6 * 3600.0

    def __init__(self, t0, start_s: float = 0.0, end_s: float = 86400.0):
        self.t0 = t0
        self.whole = float(np.asarray(t0.whole).ravel()[0]) if np.ndim(t0.whole) else float(t0.whole)
        n = int(np.ceil((end_s - start_s) / self.STEP_S)) + 3
        self.grid_s = start_s - self.STEP_S + self.STEP_S * np.arange(n)
        t = seconds_to_time(t0, self.grid_s)
        utc = (np.asarray(t.whole) - self.whole) + t.tai_fraction - t._leap_seconds() / DAY_S
        self._utc_offset = utc - self.grid_s / DAY_S  # constant unless a leap second intervenes
        # A leap second shifts the offset by 1 s; rounding over a long span by
        # far less than a microsecond.
        self._exact_utc = np.ptp(self._utc_offset) < 1e-6 / DAY_S
        self._ut1 = (np.asarray(t.whole) - self.whole) + t.ut1_fraction

    def utc_label_s(self, offset_s):
        """UTC-labelled seconds after ``t0``'s UTC label.

        Equal to ``offset_s`` (TT seconds) unless a leap second falls in
        between, which the UTC clock face absorbs.
        """
        offset_s = np.asarray(offset_s, dtype=float)
        if self._exact_utc or offset_s.size == 0:
            return offset_s
        t = seconds_to_time(self.t0, offset_s)
        return offset_s - (t._leap_seconds() - self.t0._leap_seconds())

    def args(self, offset_s):
        """``(whole, utc_fraction, ut1_fraction)`` arrays for ``sgp4_array``."""
        offset_s = np.atleast_1d(np.asarray(offset_s, dtype=float))
        if self._exact_utc:
            utc = self._utc_offset[0] + offset_s / DAY_S
        else:  # a leap second in the span: ask skyfield
            t = seconds_to_time(self.t0, offset_s)
            utc = (np.asarray(t.whole) - self.whole) + t.tai_fraction - t._leap_seconds() / DAY_S
        ut1 = np.interp(offset_s, self.grid_s, self._ut1)
        return np.full(offset_s.shape, self.whole), utc, ut1


def _teme_to_itrs(satellite, whole, utc_fraction, ut1_fraction, check, when):
    model = satellite.model
    error, r, v = model.sgp4_array(np.ascontiguousarray(whole), np.ascontiguousarray(utc_fraction))
    if check and np.any(error):
        bad = int(np.flatnonzero(error)[0])
        from sgp4.api import SGP4_ERRORS

        raise SatqkdError(
            f"satellite {satellite.name or model.satnum}: SGP4 cannot propagate to "
            f"{when(bad)} UTC ({SGP4_ERRORS[int(error[bad])]}); use an element set closer to that date"
        )
    theta, theta_dot = theta_GMST1982(whole, ut1_fraction)
    c, s = np.cos(theta), np.sin(theta)
    r = r.T
    v = v.T
    # Rotate TEME -> pseudo-Earth-fixed by -GMST; the frame itself turns at
    # theta_dot, which removes omega x r from the velocity.  Written into
    # preallocated rows: this runs once per sample of every search.
    out_r, out_v = np.empty(r.shape), np.empty(v.shape)
    x, y = out_r[0], out_r[1]
    np.multiply(c, r[0], out=x)
    x += s * r[1]
    np.multiply(c, r[1], out=y)
    y -= s * r[0]
    out_r[2] = r[2]
    omega = theta_dot / DAY_S
    vx, vy = out_v[0], out_v[1]
    np.multiply(c, v[0], out=vx)
    vx += s * v[1]
    vx += omega * y
    np.multiply(c, v[1], out=vy)
    vy -= s * v[0]
    vy -= omega * x
    out_v[2] = v[2]
    return out_r, out_v, error


def satellite_itrs_km(satellite, t, *, check: bool = True):
    """Earth-fixed position and velocity of ``satellite`` at Time array ``t``.

    Returns ``(r_km, v_km_s, error)`` with ``r`` and ``v`` of shape ``(3, n)``
    and ``error`` the SGP4 error code per sample.  With ``check`` an SGP4
    error (a decayed or invalid element set) raises :class:`SatqkdError`
    naming the satellite and the first failing time, so NaNs never reach a
    table.
    """
    utc_fraction = np.atleast_1d(t.tai_fraction - t._leap_seconds() / DAY_S)
    whole = np.broadcast_to(np.atleast_1d(np.asarray(t.whole, dtype=float)), utc_fraction.shape)
    ut1 = np.broadcast_to(np.atleast_1d(t.ut1_fraction), utc_fraction.shape)

    def when(i):
        tt = t[i] if getattr(t, "shape", ()) else t
        return tt.utc_strftime("%Y-%m-%d %H:%M:%S")

    return _teme_to_itrs(satellite, whole, utc_fraction, ut1, check, when)


def satellite_itrs_km_at(satellite, clock: "Clock", offset_s, *, check: bool = True):
    """Like :func:`satellite_itrs_km`, at offsets in seconds through a :class:`Clock`."""
    whole, utc, ut1 = clock.args(offset_s)

    def when(i):
        return seconds_to_time(clock.t0, float(np.atleast_1d(offset_s)[i])).utc_strftime("%Y-%m-%d %H:%M:%S")

    return _teme_to_itrs(satellite, whole, utc, ut1, check, when)


@dataclass
class LookAngles:
    """Topocentric look angles of one target from one station, per sample."""

    elevation_deg: np.ndarray
    azimuth_deg: np.ndarray
    range_km: np.ndarray
    range_rate_km_s: np.ndarray | None = None


def look_angles(station, r_km, v_km_s=None) -> LookAngles:
    """Elevation, azimuth, range (and range rate) of Earth-fixed positions.

    ``r_km`` (and ``v_km_s``) have shape ``(3, n)`` in ITRS; ``station`` is a
    :class:`~satqkd.stations.Station`.  Elevation is geodetic (from the
    ellipsoid normal), as in skyfield's ``altaz()``, without refraction.
    """
    d = r_km - station.itrs_km[:, None]
    # einsum, not @: a BLAS call here wakes OpenBLAS's thread pool, whose
    # spinning threads then starve the key-rate optimiser on a small machine.
    enu = np.einsum("ij,jn->in", station.enu_matrix, d)
    range_km = np.sqrt(np.einsum("ij,ij->j", d, d))
    elevation_deg = np.degrees(np.arcsin(np.clip(enu[2] / range_km, -1.0, 1.0)))
    azimuth_deg = np.degrees(np.arctan2(enu[0], enu[1])) % 360.0
    rate = None
    if v_km_s is not None:
        rate = np.einsum("ij,ij->j", d, v_km_s) / range_km
    return LookAngles(elevation_deg, azimuth_deg, range_km, rate)


class _UniformCubic:
    """Piecewise-cubic Hermite interpolation of ``values`` (shape ``(3, n)``,
    n >= 5) sampled every ``step`` from ``x0``: slopes from fourth-order
    central differences (second-order one-sided at the two ends of the
    grid), so the error is O(step^4), as for a cubic spline.  Plain numpy:
    importing scipy.interpolate costs a short forecast more than the
    interpolation itself.  Beyond the grid, the end cubics extrapolate."""

    def __init__(self, x0: float, step: float, values: np.ndarray):
        self.x0, self.step = float(x0), float(step)
        self.values = np.asarray(values, dtype=float)
        slope = np.gradient(self.values, self.step, axis=1, edge_order=2)
        v = self.values
        slope[:, 2:-2] = (v[:, :-4] - 8.0 * v[:, 1:-3] + 8.0 * v[:, 3:-1] - v[:, 4:]) / (12.0 * self.step)
        self.slope = slope

    def __call__(self, x) -> np.ndarray:
        u = (np.asarray(x, dtype=float) - self.x0) / self.step
        i = np.clip(np.floor(u).astype(np.int64), 0, self.values.shape[1] - 2)
        t = u - i
        t2, t3 = t * t, t * t * t
        h00 = 2.0 * t3 - 3.0 * t2 + 1.0
        h10 = (t3 - 2.0 * t2 + t) * self.step
        h01 = -2.0 * t3 + 3.0 * t2
        h11 = (t3 - t2) * self.step
        v, d = self.values, self.slope
        return h00 * v[:, i] + h10 * d[:, i] + h01 * v[:, i + 1] + h11 * d[:, i + 1]


class SunMoon:
    """Earth-fixed Sun and Moon positions over a span, interpolated.

    Apparent geocentric (GCRS) positions are computed by skyfield every
    hour and interpolated by cubics (Hermite, slopes from fourth-order
    differences; the Moon, the faster of the two, moves half a degree per
    hour: the interpolation error is below 1e-8 degrees, checked against
    skyfield at random times in ``tests/test_geometry.py``).  They are rotated to the Earth-fixed frame at each query time
    by ``Rz(-GAST) M``, with the precession-nutation matrix ``M`` and the
    equation of the equinoxes computed daily and interpolated (full IAU 2000A
    nutation at every second would cost more than the rest of a forecast),
    and GMST from the :class:`Clock`.  Altitudes agree with skyfield's
    apparent ``altaz()`` to about 1e-4 degrees.

    Parameters
    ----------
    t0
        Skyfield Time at offset zero.
    start_s, end_s
        Span to cover, in seconds after ``t0``.
    clock
        A :class:`Clock` covering the span (built if not given).
    """

    STEP_S = 3600.0
    SUN_EVERY = 6

    def __init__(self, t0, start_s: float, end_s: float, clock: "Clock | None" = None):
        self.t0 = t0
        self.clock = clock or Clock(t0, start_s, end_s)
        # Two samples of the Sun (every SUN_EVERY-th of the grid) beyond each
        # end of the span: the slopes there come from central differences.
        n = (int(np.ceil((end_s - start_s) / (self.STEP_S * self.SUN_EVERY))) + 4) * self.SUN_EVERY + 1
        self._grid_s = start_s - 2 * self.SUN_EVERY * self.STEP_S + self.STEP_S * np.arange(n)
        self._splines = {}
        days_s = np.arange(self._grid_s[0], self._grid_s[-1] + 2 * DAY_S, DAY_S)
        td = seconds_to_time(t0, days_s)
        self._days_s = days_s
        self._M = td.M.reshape(9, -1)
        # GAST - GMST1982: the equation of the equinoxes plus the (tiny,
        # slowly varying) difference between the IAU 2006 and 1982 GMST.
        gmst82, _ = theta_GMST1982(td.whole, td.ut1_fraction)
        self._gast_minus_gmst82 = np.unwrap(np.radians(15.0 * td.gast) - gmst82)

    def _spline(self, body: str):
        # Each body is computed on first use: a search whose constraints
        # never read the Moon never pays for it.  The Sun, 13 times slower
        # across the sky than the Moon, is sampled every SUN_EVERY-th hour
        # (its interpolation error is still below 1e-10 degrees).
        if body not in self._splines:
            every = self.SUN_EVERY if body == "sun" else 1
            grid_s = self._grid_s[::every]
            t = seconds_to_time(self.t0, grid_s)
            target = sky.sun() if body == "sun" else sky.moon()
            xyz = sky.earth().at(t).observe(target).apparent().position.km
            self._splines[body] = _UniformCubic(grid_s[0], self.STEP_S * every, xyz)
        return self._splines[body]

    def _itrs(self, spline, offset_s):
        offset_s = np.atleast_1d(np.asarray(offset_s, dtype=float))
        xyz = spline(offset_s)
        M = np.array([np.interp(offset_s, self._days_s, row) for row in self._M]).reshape(3, 3, -1)
        whole, _, ut1 = self.clock.args(offset_s)
        gmst82, _ = theta_GMST1982(whole, ut1)
        gast = gmst82 + np.interp(offset_s, self._days_s, self._gast_minus_gmst82)
        tod = np.einsum("ijn,jn->in", M, xyz)
        c, s = np.cos(gast), np.sin(gast)
        return np.array([c * tod[0] + s * tod[1], -s * tod[0] + c * tod[1], tod[2]])

    def sun_itrs_km(self, offset_s):
        """Sun position (km, apparent, Earth-fixed) at offsets in seconds."""
        return self._itrs(self._spline("sun"), offset_s)

    def moon_itrs_km(self, offset_s):
        """Moon position (km, apparent, Earth-fixed) at offsets in seconds."""
        return self._itrs(self._spline("moon"), offset_s)


def unit(v):
    return v / np.sqrt(np.einsum("ij,ij->j", v, v))


def elevation_of(station, r_km):
    """Geodetic elevation (deg) of Earth-fixed positions seen from ``station``."""
    d = r_km - station.itrs_km[:, None]
    up = station.enu_matrix[2]
    return np.degrees(np.arcsin(np.clip(np.einsum("i,in->n", up, d) / np.sqrt(np.einsum("ij,ij->j", d, d)), -1, 1)))


def separation_deg(a, b):
    """Angle between two arrays of vectors of shape ``(3, n)``."""
    cosang = np.einsum("ij,ij->j", unit(a), unit(b))
    return np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))


def sunlit(r_sat_km, r_sun_km):
    """True where the satellite is outside Earth's cylindrical shadow."""
    s_hat = unit(r_sun_km)
    along = np.einsum("ij,ij->j", r_sat_km, s_hat)
    perp = r_sat_km - along * s_hat
    perp_km = np.sqrt(np.einsum("ij,ij->j", perp, perp))
    return (along > 0) | (perp_km > EQUATORIAL_RADIUS_KM)


def sunlit_margin_km(r_sat_km, r_sun_km):
    """How far the satellite is outside Earth's cylindrical shadow (km):
    positive where :func:`sunlit` is True, negative inside the shadow, and
    continuous, so a search can find where it changes sign."""
    s_hat = unit(r_sun_km)
    along = np.einsum("ij,ij->j", r_sat_km, s_hat)
    perp = r_sat_km - along * s_hat
    perp_km = np.sqrt(np.einsum("ij,ij->j", perp, perp))
    return np.maximum(along, perp_km - EQUATORIAL_RADIUS_KM)


def moon_illumination(r_moon_km, r_sun_km):
    """Illuminated fraction of the Moon's disc from geocentric positions."""
    to_sun = r_sun_km - r_moon_km
    to_earth = -r_moon_km
    phase = np.radians(separation_deg(to_sun, to_earth))
    return 0.5 * (1.0 + np.cos(phase))


_SUN_CELL_S = 20.0


@functools.lru_cache(maxsize=8)
def _sun_spline(day_utc: str, days: int) -> "SunMoon":
    """A :class:`SunMoon` from ``day_utc`` 00:00 UTC over ``days`` whole days:
    built once per span and shared by the units of a run (the hourly Sun
    spline of a year costs ~0.2 s)."""
    from .sky import to_time

    return SunMoon(to_time(day_utc), 0.0, days * DAY_S + 2 * _SUN_CELL_S)


def sun_separation_deg(station, time_utc, elevation_deg, azimuth_deg, *, sun_altitude_deg=None,
                       below_deg: float = -1.0) -> np.ndarray:
    """Angle (deg) between the Sun and a line of sight from ``station``.

    ``time_utc`` are UTC times (a pandas Series or anything
    ``pandas.to_datetime`` reads; only the seconds that need the Sun are
    converted) and ``elevation_deg``,
    ``azimuth_deg`` the line of sight at each.  The Sun comes from
    :class:`SunMoon` over the span of the samples.  Where
    ``sun_altitude_deg`` is given and below ``below_deg`` the Sun cannot
    light the sky and the angle is not computed (90 is returned): a night
    run pays nothing.
    """
    import pandas as pd

    el = np.asarray(elevation_deg, dtype=float)
    out = np.full(el.shape, 90.0)
    need = np.ones(el.shape, bool) if sun_altitude_deg is None else np.asarray(sun_altitude_deg) > below_deg
    if not need.any():
        return out
    times = time_utc if isinstance(time_utc, pd.Series) else pd.Series(time_utc)
    t = pd.to_datetime(times[need], utc=True).reset_index(drop=True)
    t0 = t.min().floor("D")
    offset_s = (t - t0).dt.total_seconds().to_numpy()
    sm = _sun_spline(t0.strftime("%Y-%m-%d"), int(offset_s.max() // DAY_S) + 1)
    # The Sun moves 0.08 deg in a 20 s cell: evaluated once per cell edge,
    # linear in between (error ~1e-6 deg), as the pass search does.
    cell = np.floor(offset_s / _SUN_CELL_S)
    if cell.size > 1 and np.all(cell[1:] >= cell[:-1]):
        # Time-ordered (as a unit's seconds are): the distinct cells without sorting.
        first = np.r_[True, cell[1:] != cell[:-1]]
        cells = cell[first]
        lo = np.cumsum(first) - 1
        edges = np.concatenate([cells, cells + 1.0])
        hi = lo + cells.size
    else:
        edges, where = np.unique(np.concatenate([cell, cell + 1.0]), return_inverse=True)
        lo, hi = where[:cell.size], where[cell.size:]
    sun_edges = sm.sun_itrs_km(edges * _SUN_CELL_S)
    frac = offset_s / _SUN_CELL_S - cell
    d = sun_edges[:, lo] * (1.0 - frac) + sun_edges[:, hi] * frac - station.itrs_km[:, None]
    e, a = np.radians(el[need]), np.radians(np.asarray(azimuth_deg, dtype=float)[need])
    enu = np.array([np.cos(e) * np.sin(a), np.cos(e) * np.cos(a), np.sin(e)])
    los = station.enu_matrix.T @ enu
    out[need] = separation_deg(d, los)
    return out

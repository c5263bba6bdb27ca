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

The Sun and the Moon move slowly across the sky compared to a LEO satellite,
so :class:`SunMoon` samples their Earth-fixed positions on a 5-minute grid
with skyfield and interpolates linearly: the error in direction is below
0.005 degrees, far below any constraint a ground station sets on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skyfield.framelib import itrs
from skyfield.sgp4lib import theta_GMST1982

from . import sky
from .errors import SatqkdError

__all__ = [
    "seconds_to_time",
    "satellite_itrs_km",
    "LookAngles",
    "look_angles",
    "SunMoon",
    "EARTH_RADIUS_KM",
]

DAY_S = 86400.0
EARTH_RADIUS_KM = 6378.137  # WGS-84 equatorial radius, used for the shadow cylinder


def seconds_to_time(t0, offset_s):
    """Skyfield Time(s) ``offset_s`` seconds (TT) after the Time ``t0``."""
    offset = np.asarray(offset_s, dtype=float)
    return sky.timescale().tt_jd(t0.whole, t0.tt_fraction + offset / DAY_S)


def satellite_itrs_km(satellite, t, *, check: bool = True):
    """Earth-fixed position and velocity of ``satellite`` at Time array ``t``.

    Returns ``(r_km, v_km_s, error)`` with ``r`` and ``v`` of shape ``(3, n)``
    and ``error`` the SGP4 error code per sample.  With ``check`` an SGP4
    error (a decayed or invalid element set) raises :class:`SatqkdError`
    naming the satellite and the first failing time, so NaNs never reach a
    table.
    """
    model = satellite.model
    whole = np.atleast_1d(np.asarray(t.whole, dtype=float))
    utc_fraction = np.atleast_1d(t.tai_fraction - t._leap_seconds() / DAY_S)
    whole = np.broadcast_to(whole, utc_fraction.shape)
    error, r, v = model.sgp4_array(np.ascontiguousarray(whole), np.ascontiguousarray(utc_fraction))
    if check and np.any(error):
        bad = int(np.flatnonzero(error)[0])
        from sgp4.api import SGP4_ERRORS

        when = t[bad] if getattr(t, "shape", ()) else t
        raise SatqkdError(
            f"satellite {satellite.name or model.satnum}: SGP4 cannot propagate to "
            f"{when.utc_strftime('%Y-%m-%d %H:%M:%S')} UTC ({SGP4_ERRORS[int(error[bad])]}); "
            "use an element set closer to that date"
        )
    theta, theta_dot = theta_GMST1982(whole, np.atleast_1d(t.ut1_fraction))
    c, s = np.cos(theta), np.sin(theta)
    r = r.T
    v = v.T
    # Rotate TEME -> pseudo-Earth-fixed by -GMST; the frame itself turns at
    # theta_dot, which removes omega x r from the velocity.
    x = c * r[0] + s * r[1]
    y = -s * r[0] + c * r[1]
    omega = theta_dot / DAY_S
    vx = c * v[0] + s * v[1] + omega * y
    vy = -s * v[0] + c * v[1] - omega * x
    return np.array([x, y, r[2]]), np.array([vx, vy, v[2]]), error


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
    enu = station.enu_matrix @ d
    range_km = np.sqrt(np.einsum("ij,ij->j", d, d))
    elevation_deg = np.degrees(np.arcsin(np.clip(enu[2] / range_km, -1.0, 1.0)))
    azimuth_deg = np.degrees(np.arctan2(enu[0], enu[1])) % 360.0
    rate = None
    if v_km_s is not None:
        rate = np.einsum("ij,ij->j", d, v_km_s) / range_km
    return LookAngles(elevation_deg, azimuth_deg, range_km, rate)


class SunMoon:
    """Earth-fixed Sun and Moon positions over a span, interpolated.

    Parameters
    ----------
    t0
        Skyfield Time at offset zero.
    start_s, end_s
        Span to cover, in seconds after ``t0``.
    step_s
        Sampling step of the underlying skyfield computation.
    """

    def __init__(self, t0, start_s: float, end_s: float, step_s: float = 300.0):
        self.t0 = t0
        n = int(np.ceil((end_s - start_s) / step_s)) + 3
        self.grid_s = start_s - step_s + step_s * np.arange(n)
        t = seconds_to_time(t0, self.grid_s)
        earth = sky.earth()
        # Apparent positions (light time and aberration), in ITRS; the Sun's
        # and Moon's altitudes then match skyfield's altaz() without refraction.
        self._sun = earth.at(t).observe(sky.sun()).apparent().frame_xyz(itrs).km
        self._moon = earth.at(t).observe(sky.moon()).apparent().frame_xyz(itrs).km

    def _interp(self, table, offset_s):
        offset_s = np.asarray(offset_s, dtype=float)
        return np.array([np.interp(offset_s, self.grid_s, table[k]) for k in range(3)])

    def sun_itrs_km(self, offset_s):
        return self._interp(self._sun, offset_s)

    def moon_itrs_km(self, offset_s):
        return self._interp(self._moon, offset_s)


def unit(v):
    return v / np.sqrt(np.einsum("ij,ij->j", v, v))


def elevation_of(station, r_km):
    """Geodetic elevation (deg) of Earth-fixed positions seen from ``station``."""
    d = r_km - station.itrs_km[:, None]
    up = station.enu_matrix[2]
    return np.degrees(np.arcsin(np.clip(up @ d / np.sqrt(np.einsum("ij,ij->j", d, d)), -1, 1)))


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
    return (along > 0) | (perp_km > EARTH_RADIUS_KM)


def moon_illumination(r_moon_km, r_sun_km):
    """Illuminated fraction of the Moon's disc from geocentric positions."""
    to_sun = r_sun_km - r_moon_km
    to_earth = -r_moon_km
    phase = np.radians(separation_deg(to_sun, to_earth))
    return 0.5 * (1.0 + np.cos(phase))

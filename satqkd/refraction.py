"""Atmospheric refraction: how much higher a satellite looks than it is.

Light from a satellite bends in the atmosphere, so it is seen above its
geometric (airless) elevation.  The link stage uses the *apparent*
elevation for everything that depends on the path through the air (air
mass, turbulence, seeing); the slant range stays geometric (the extra
optical path is centimetres).

* :func:`standard_pressure_hpa` -- pressure at a site height (isothermal
  scale height 8,434.5 m, as Kasten's air-mass correction).
* :func:`saemundsson_refraction_deg` -- refraction from the *true*
  elevation: Saemundsson, Sky & Telescope 72, 70 (1986),
  R = 1.02' / tan(h + 10.3 / (h + 5.11)) (h in degrees).
* :func:`bennett_refraction_deg` -- refraction from the *apparent*
  elevation: Bennett, J. Navigation 35, 255 (1982),
  R = 1' / tan(h0 + 7.31 / (h0 + 4.4)).
* :func:`apparent_elevation_deg` / :func:`true_elevation_deg` -- the two
  conversions, with a site's pressure and temperature.

Both formulas are for 1010 hPa and 10 degC and scale with
(P / 1010 hPa) (283 K / T) (Meeus, *Astronomical Algorithms*, 2nd ed.,
ch. 16); they agree with each other to ~0.1' down to the horizon, where
refraction is ~34'.  They are written for visible light; at 850 nm the
refractivity of air is ~1.5 % lower, which we neglect (< 0.1' above 5 deg).

How the pass engine could use it: a threshold on the *apparent* elevation
(what a telescope's horizon limit or a dome actually cuts) is a geometric
threshold of ``true_elevation_deg(threshold)``, e.g. 10 deg apparent is
9.91 deg geometric at 1010 hPa and 10 degC; a constraint can convert its threshold
once and keep searching in geometric elevation.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "STANDARD_PRESSURE_HPA",
    "STANDARD_TEMPERATURE_C",
    "standard_pressure_hpa",
    "saemundsson_refraction_deg",
    "bennett_refraction_deg",
    "apparent_elevation_deg",
    "true_elevation_deg",
]

STANDARD_PRESSURE_HPA = 1010.0  # the conditions both formulas are written for
STANDARD_TEMPERATURE_C = 10.0
_SEA_LEVEL_HPA = 1013.25
_SCALE_HEIGHT_M = 8434.5


def standard_pressure_hpa(height_m) -> np.ndarray:
    """Mean pressure at ``height_m`` above sea level: 1013.25 hPa exp(-h / 8434.5 m)."""
    return _SEA_LEVEL_HPA * np.exp(-np.asarray(height_m, dtype=float) / _SCALE_HEIGHT_M)


def _weather_factor(pressure_hpa, temperature_c) -> np.ndarray:
    return (np.asarray(pressure_hpa, dtype=float) / STANDARD_PRESSURE_HPA) * (
        283.0 / (273.0 + np.asarray(temperature_c, dtype=float)))


def saemundsson_refraction_deg(true_elevation_deg, pressure_hpa=STANDARD_PRESSURE_HPA,
                               temperature_c=STANDARD_TEMPERATURE_C) -> np.ndarray:
    """Refraction R (degrees) of an object at geometric elevation h (degrees).

    R = 1.02' / tan(h + 10.3 / (h + 5.11)) (Saemundsson 1986), scaled by
    (P / 1010)(283 / (273 + T)).  Clipped to 0 where the formula turns
    negative (h > 90 deg); valid from about -1 deg up.
    """
    h = np.asarray(true_elevation_deg, dtype=float)
    r_arcmin = 1.02 / np.tan(np.radians(h + 10.3 / (h + 5.11)))
    return np.maximum(r_arcmin, 0.0) / 60.0 * _weather_factor(pressure_hpa, temperature_c)


def bennett_refraction_deg(apparent_elevation_deg, pressure_hpa=STANDARD_PRESSURE_HPA,
                           temperature_c=STANDARD_TEMPERATURE_C) -> np.ndarray:
    """Refraction R (degrees) of an object seen at apparent elevation h0 (degrees).

    R = 1' / tan(h0 + 7.31 / (h0 + 4.4)) (Bennett 1982; 34.5' at the
    horizon), scaled by (P / 1010)(283 / (273 + T)).
    """
    h0 = np.asarray(apparent_elevation_deg, dtype=float)
    r_arcmin = 1.0 / np.tan(np.radians(h0 + 7.31 / (h0 + 4.4)))
    return np.maximum(r_arcmin, 0.0) / 60.0 * _weather_factor(pressure_hpa, temperature_c)


def apparent_elevation_deg(true_elevation_deg, pressure_hpa=STANDARD_PRESSURE_HPA,
                           temperature_c=STANDARD_TEMPERATURE_C) -> np.ndarray:
    """Apparent elevation of an object at geometric ``true_elevation_deg`` (never above 90)."""
    h = np.asarray(true_elevation_deg, dtype=float)
    return np.minimum(h + saemundsson_refraction_deg(h, pressure_hpa, temperature_c), 90.0)


def true_elevation_deg(apparent_elevation_deg, pressure_hpa=STANDARD_PRESSURE_HPA,
                       temperature_c=STANDARD_TEMPERATURE_C) -> np.ndarray:
    """Geometric elevation of an object seen at ``apparent_elevation_deg``."""
    h0 = np.asarray(apparent_elevation_deg, dtype=float)
    return h0 - bennett_refraction_deg(h0, pressure_hpa, temperature_c)

"""Observing constraints of an optical ground station, composable.

Every constraint is a small object with two methods that take the geometry
of a pass (a mapping of column name to array: ``elevation_deg``,
``sun_altitude_deg``, ``moon_separation_deg`` ...): ``compute(samples)``
returns a boolean array, True where the constraint holds, and
``margin(samples)`` a signed distance from its limit in the constraint's own
unit (degrees, km), positive where it holds and continuous in time, so the
pass search finds where a constraint starts and stops holding by root
finding instead of testing every second.  The usable window of a pass is
where all of a station's constraints hold at once.
(astroplan's constraint classes are the model: one signature, presets as
classmethods, expensive geometry computed once and shared.)

The minimum elevation and the horizon mask are special: they define the
pass itself (rise and set are found to the millisecond by root finding);
the others cut usable windows out of it, to the whole second.

:class:`Constraints` is the plain settings object that scenarios and the
CLI fill in; :meth:`Constraints.build` turns it into constraint objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import ConfigDict, Field

__all__ = [
    "Constraint",
    "ElevationAbove",
    "SunBelow",
    "MoonSeparationAbove",
    "MoonBelow",
    "MoonIlluminationBelow",
    "RangeBelow",
    "SatelliteIllumination",
    "Constraints",
    "NIGHT_LIMITS_DEG",
    "parse_night",
]

NIGHT_LIMITS_DEG = {"civil": -6.0, "nautical": -12.0, "astronomical": -18.0}


class Constraint:
    """Base class: ``compute(samples) -> bool array`` where the constraint
    holds, ``margin(samples) -> float array`` positive where it holds.

    A subclass that only defines ``compute`` gets a +1/-1 margin: its
    windows are still found to the millisecond, but a dip shorter than the
    search's sampling step may be missed.
    """

    def compute(self, samples) -> np.ndarray:
        return self.margin(samples) > 0

    def margin(self, samples) -> np.ndarray:
        return np.where(self.compute(samples), 1.0, -1.0)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class ElevationAbove(Constraint):
    """Satellite elevation above ``min_deg`` and above the station's horizon mask."""

    def __init__(self, min_deg: float = 0.0, station=None):
        self.min_deg = float(min_deg)
        self.station = station

    def threshold_deg(self, azimuth_deg):
        base = np.full(np.shape(azimuth_deg), self.min_deg)
        if self.station is not None and self.station.horizon_mask:
            base = np.maximum(base, self.station.mask_elevation_deg(azimuth_deg))
        return base

    def compute(self, samples):
        return samples["elevation_deg"] >= self.threshold_deg(samples["azimuth_deg"])

    def margin(self, samples):
        return samples["elevation_deg"] - self.threshold_deg(samples["azimuth_deg"])


class SunBelow(Constraint):
    """Sun altitude at the station below ``max_altitude_deg`` (darkness)."""

    def __init__(self, max_altitude_deg: float):
        self.max_altitude_deg = float(max_altitude_deg)

    @classmethod
    def twilight_civil(cls):
        return cls(NIGHT_LIMITS_DEG["civil"])

    @classmethod
    def twilight_nautical(cls):
        return cls(NIGHT_LIMITS_DEG["nautical"])

    @classmethod
    def twilight_astronomical(cls):
        return cls(NIGHT_LIMITS_DEG["astronomical"])

    def compute(self, samples):
        return samples["sun_altitude_deg"] < self.max_altitude_deg

    def margin(self, samples):
        return self.max_altitude_deg - samples["sun_altitude_deg"]


class MoonSeparationAbove(Constraint):
    """Angle between the satellite and the Moon at least ``min_deg``."""

    def __init__(self, min_deg: float):
        self.min_deg = float(min_deg)

    def compute(self, samples):
        return samples["moon_separation_deg"] >= self.min_deg

    def margin(self, samples):
        return samples["moon_separation_deg"] - self.min_deg


class MoonBelow(Constraint):
    """Moon altitude below ``max_altitude_deg`` (0: Moon below the horizon)."""

    def __init__(self, max_altitude_deg: float = 0.0):
        self.max_altitude_deg = float(max_altitude_deg)

    def compute(self, samples):
        return samples["moon_altitude_deg"] < self.max_altitude_deg

    def margin(self, samples):
        return self.max_altitude_deg - samples["moon_altitude_deg"]


class MoonIlluminationBelow(Constraint):
    """Moon illuminated fraction at most ``max_fraction``, or Moon below the horizon."""

    def __init__(self, max_fraction: float):
        self.max_fraction = float(max_fraction)

    def compute(self, samples):
        return (samples["moon_illumination"] <= self.max_fraction) | (samples["moon_altitude_deg"] < 0.0)

    def margin(self, samples):
        # Either condition suffices: the larger margin (illuminated fraction
        # and degrees below the horizon; only the sign is compared).
        return np.maximum(self.max_fraction - samples["moon_illumination"], -samples["moon_altitude_deg"])


class RangeBelow(Constraint):
    """Slant range at most ``max_km``."""

    def __init__(self, max_km: float):
        self.max_km = float(max_km)

    def compute(self, samples):
        return samples["range_km"] <= self.max_km

    def margin(self, samples):
        return self.max_km - samples["range_km"]


class SatelliteIllumination(Constraint):
    """Satellite sunlit (``sunlit=True``) or in Earth's shadow (``sunlit=False``)."""

    def __init__(self, sunlit: bool):
        self.sunlit = bool(sunlit)

    def compute(self, samples):
        return samples["sunlit"] == self.sunlit

    def margin(self, samples):
        # km outside Earth's shadow cylinder (sunlit) or inside it (shadow).
        m = samples["sunlit_margin_km"]
        return m if self.sunlit else -m


def parse_night(value) -> float | None:
    """Sun-altitude limit from ``none|civil|nautical|astronomical`` or a number."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().lower()
    if text in ("none", "any", "off"):
        return None
    if text in NIGHT_LIMITS_DEG:
        return NIGHT_LIMITS_DEG[text]
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"expected none, civil, nautical, astronomical or a sun altitude in degrees, got {value!r}"
        ) from None


Night = Union[Literal["none", "civil", "nautical", "astronomical"], Annotated[float, Field(ge=-90.0, le=90.0)], None]


@dataclass(frozen=True)
class Constraints:
    """A station's observing constraints, as a scenario or the CLI states them.

    Parameters
    ----------
    min_elevation_deg
        Passes are found above this elevation (and above the horizon mask).
    night
        Sun-altitude limit at the station: ``"civil"`` (-6 deg),
        ``"nautical"`` (-12), ``"astronomical"`` (-18), a number in degrees,
        or ``"none"`` for day and night.
    moon_separation_deg
        Minimum angle between the satellite and the Moon.
    moon_max_altitude_deg
        Require the Moon below this altitude (0: below the horizon).
    moon_max_illumination
        Require the Moon's illuminated fraction at most this, unless the Moon
        is below the horizon.
    max_range_km
        Maximum slant range.
    satellite
        ``"sunlit"`` or ``"shadow"`` to require either; ``"any"`` (default).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    min_elevation_deg: Annotated[float, Field(ge=-5.0, lt=90.0)] = 10.0
    night: Night = "nautical"
    moon_separation_deg: Annotated[float, Field(ge=0.0, le=180.0)] | None = None
    moon_max_altitude_deg: Annotated[float, Field(ge=-90.0, le=90.0)] | None = None
    moon_max_illumination: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    max_range_km: Annotated[float, Field(gt=0.0)] | None = None
    satellite: Literal["any", "sunlit", "shadow"] = "any"

    @property
    def sun_max_altitude_deg(self) -> float | None:
        return parse_night(self.night)

    def elevation(self, station=None) -> ElevationAbove:
        return ElevationAbove(self.min_elevation_deg, station)

    def build(self, station=None) -> list[Constraint]:
        """Every constraint object, the elevation one first."""
        out: list[Constraint] = [self.elevation(station)]
        sun = self.sun_max_altitude_deg
        if sun is not None:
            out.append(SunBelow(sun))
        if self.moon_separation_deg is not None:
            out.append(MoonSeparationAbove(self.moon_separation_deg))
        if self.moon_max_altitude_deg is not None:
            out.append(MoonBelow(self.moon_max_altitude_deg))
        if self.moon_max_illumination is not None:
            out.append(MoonIlluminationBelow(self.moon_max_illumination))
        if self.max_range_km is not None:
            out.append(RangeBelow(self.max_range_km))
        if self.satellite != "any":
            out.append(SatelliteIllumination(self.satellite == "sunlit"))
        return out

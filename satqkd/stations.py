"""Optical ground stations: where they are and what their horizon looks like.

A :class:`Station` is a point on the WGS-84 ellipsoid with an optional
horizon mask (a table of azimuth -> minimum elevation, for buildings, domes
and mountains).  Presets carry the coordinates tabulated in
``shared/reference/system.md`` (WGS-84; Nanshan's are those of the site's
radio antenna, same site as the 1.2 m telescope).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import ConfigDict, Field

from .errors import SatqkdError

__all__ = ["Station", "STATION_PRESETS", "parse_station", "load_horizon_mask"]


@dataclass(frozen=True)
class Station:
    """A ground station on the WGS-84 ellipsoid.

    Parameters
    ----------
    name
        Label used in tables and reports.
    latitude_deg, longitude_deg
        Geodetic WGS-84 coordinates (north and east positive).
    height_m
        Height above the ellipsoid.
    horizon_mask
        Optional ``((azimuth_deg, elevation_deg), ...)`` pairs: the lowest
        elevation the telescope can see at each azimuth, interpolated
        linearly (and periodically) in azimuth.  Combined with a scenario's
        minimum elevation by taking the larger of the two.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    name: str
    latitude_deg: Annotated[float, Field(ge=-90.0, le=90.0)]
    longitude_deg: Annotated[float, Field(ge=-180.0, le=360.0)]
    height_m: Annotated[float, Field(ge=-500.0, le=9000.0)] = 0.0
    horizon_mask: tuple[tuple[float, float], ...] = field(default=())

    # --- presets (system.md, "Ground sites (WGS-84)") --------------------
    @classmethod
    def nanshan(cls) -> "Station":
        """Nanshan, Xinjiang: 1.2 m QKD telescope of the 2021 network."""
        return cls("Nanshan", 43.47151, 87.17814, 2034.0)

    @classmethod
    def xinglong(cls) -> "Station":
        """Xinglong, Hebei: 1.0 m telescope of the 2017 and 2021 experiments."""
        return cls("Xinglong", 40.39587, 117.57746, 890.0)

    @classmethod
    def delingha(cls) -> "Station":
        """Delingha, Qinghai: 1.2 m telescope (2020); height ~3,200 m."""
        return cls("Delingha", 37.37900, 97.72695, 3200.0)

    @classmethod
    def lijiang(cls) -> "Station":
        """Lijiang (Gaomeigu) observatory; height ~3,193 m."""
        return cls("Lijiang", 26.69393, 100.02932, 3193.0)

    @classmethod
    def ngari(cls) -> "Station":
        """Ngari (Ali), Tibet; height ~5,100 m."""
        return cls("Ngari", 32.32502, 80.02616, 5100.0)

    # --- geometry ----------------------------------------------------------
    @functools.cached_property
    def itrs_km(self) -> np.ndarray:
        """Earth-fixed (ITRS) position of the station in km."""
        from skyfield.api import wgs84

        topos = wgs84.latlon(self.latitude_deg, self.longitude_deg, elevation_m=self.height_m)
        return np.asarray(topos.itrs_xyz.km, dtype=float)

    @functools.cached_property
    def enu_matrix(self) -> np.ndarray:
        """Rows are the local east, north and up unit vectors in ITRS."""
        lat = np.radians(self.latitude_deg)
        lon = np.radians(self.longitude_deg)
        sl, cl = np.sin(lat), np.cos(lat)
        so, co = np.sin(lon), np.cos(lon)
        return np.array(
            [
                [-so, co, 0.0],
                [-sl * co, -sl * so, cl],
                [cl * co, cl * so, sl],
            ]
        )

    def mask_elevation_deg(self, azimuth_deg: np.ndarray) -> np.ndarray:
        """Minimum visible elevation from the horizon mask (0 where none)."""
        az = np.asarray(azimuth_deg, dtype=float)
        if not self.horizon_mask:
            return np.zeros_like(az)
        table = np.array(sorted(self.horizon_mask), dtype=float)
        return np.interp(az % 360.0, table[:, 0], table[:, 1], period=360.0)

    def __hash__(self) -> int:  # cached_property needs a hashable, frozen object
        return hash((self.name, self.latitude_deg, self.longitude_deg, self.height_m, self.horizon_mask))


STATION_PRESETS = {
    "nanshan": Station.nanshan,
    "xinglong": Station.xinglong,
    "delingha": Station.delingha,
    "lijiang": Station.lijiang,
    "ngari": Station.ngari,
}


def parse_station(text: str) -> Station:
    """A station from a preset name (``nanshan``) or ``LAT,LON[,HEIGHT_M]``."""
    key = text.strip().lower()
    if key in STATION_PRESETS:
        return STATION_PRESETS[key]()
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (2, 3):
        raise SatqkdError(
            f"--station {text!r}: expected a preset ({', '.join(STATION_PRESETS)}) or LAT,LON[,HEIGHT_M]"
        )
    lat, lon = values[0], values[1]
    height = values[2] if len(values) == 3 else 0.0
    if not -90 <= lat <= 90 or not -180 <= lon <= 360:
        raise SatqkdError(f"--station {text!r}: latitude must be in [-90, 90] and longitude in [-180, 360]")
    if not -500 <= height <= 9000:
        # The same bounds as Station.height_m (a scenario's stations are validated against them).
        raise SatqkdError(f"--station {text!r}: height must be in [-500, 9000] m above the ellipsoid, got {height:g}")
    return Station(f"{lat:.4f},{lon:.4f}", lat, lon, height)


def load_horizon_mask(path: str | Path) -> tuple[tuple[float, float], ...]:
    """Read a horizon mask: two numbers per line, ``azimuth_deg elevation_deg``.

    Separators may be spaces, tabs or commas; ``#`` starts a comment and a
    header line of words is skipped.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SatqkdError(f"{path}: cannot read horizon mask ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise SatqkdError(f"{path}: horizon mask is not a UTF-8 text file (byte {exc.start})") from None
    rows = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].replace(",", " ").strip()
        if not line:
            continue
        parts = line.split()
        try:
            az, el = (float(p) for p in parts)
        except ValueError:
            if not rows and not any(ch.isdigit() for ch in line):
                continue  # a header such as "azimuth_deg elevation_deg"
            raise SatqkdError(f"{path}:{lineno}: expected 'azimuth_deg elevation_deg', got {raw.strip()!r}") from None
        if not (0 <= az <= 360 and -5 <= el <= 90):
            raise SatqkdError(f"{path}:{lineno}: azimuth must be in [0, 360] and elevation in [-5, 90], got {raw.strip()!r}")
        rows.append((az, el))
    if not rows:
        raise SatqkdError(f"{path}: horizon mask has no rows (expected 'azimuth_deg elevation_deg' lines)")
    return tuple(rows)

"""YAML scenarios and equipment files, validated by pydantic.

A scenario names satellites, stations, equipment and constraints::

    name: Micius-like forecast
    start: today            # UTC midnight of the run's date; or 2026-11-28[T18:00:00]
    days: 7                 # or end: 2026-12-05
    constraints: {min_elevation_deg: 10, night: nautical}
    protocol: {preset: micius_2021}
    satellites:
      - name: Micius-like
        orbit: {sun_synchronous: {height_km: 500, ltan_hours: 0.5}}   # or elements: FILE
        transmitter: {preset: micius}
        source: {preset: micius_2021}
    stations:
      - preset: nanshan     # or name/latitude_deg/longitude_deg/height_m
        telescope: {preset: nanshan}
        detector: {preset: micius_2021_nanshan}
        constraints: {min_elevation_deg: 15}      # overrides the scenario's

Every equipment block is a mapping of the fields of one physics dataclass
(:class:`~satqkd.link.Telescope`, :class:`~satqkd.detector.Detector`, ...),
optionally starting from ``preset: NAME`` whose values the other keys
override.  Any mistake — an unknown key, a wrong type, a value out of range,
an unknown preset, a missing file — raises :class:`SatqkdError` with one line
naming the file, the field path and what was expected.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from .errors import SatqkdError

__all__ = ["Scenario", "load_scenario", "build_block", "read_yaml", "format_validation_error", "DEFAULT_SCENARIO"]



def _default_scenario() -> Path:
    """``configs/micius.yaml``, shipped inside the package as ``satqkd.configs``."""
    from importlib.resources import files

    return Path(str(files("satqkd.configs") / "micius.yaml"))


DEFAULT_SCENARIO = None  # resolved lazily by load_scenario(None)


def format_validation_error(exc: ValidationError, where: str) -> str:
    """One line from the first pydantic error: ``where: field.path: message``."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
    msg = err["msg"]
    if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        msg = "unknown key"
    elif "input" in err and err["type"] not in ("missing", "missing_argument"):
        msg = f"{msg}, got {err['input']!r}"
    loc = loc.replace(".[", "[")
    return f"{where}: {loc}: {msg}" if loc else f"{where}: {msg}"


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, with one-line errors for every way it can fail."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SatqkdError(f"{path}: no such file") from None
    except OSError as exc:
        raise SatqkdError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise SatqkdError(f"{where}: invalid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise SatqkdError(f"{path}: expected a YAML mapping of keys to values at the top level")
    return data


def build_block(cls, presets: dict, data: Any, where: str, *, default: str | None = None):
    """Validate one equipment block into dataclass ``cls``.

    ``data`` is ``None`` (use ``default``), a preset name, or a mapping with an
    optional ``preset`` key whose other keys override the preset's fields.
    """
    if data is None:
        data = {} if default is None else {"preset": default}
    if isinstance(data, str):
        data = {"preset": data}
    if not isinstance(data, dict):
        raise SatqkdError(f"{where}: expected a mapping of fields or a preset name, got {data!r}")
    data = dict(data)
    preset = data.pop("preset", default)
    base: dict = {}
    if preset is not None:
        if preset not in presets:
            raise SatqkdError(f"{where}.preset: unknown preset {preset!r}; expected one of {', '.join(presets)}")
        base = dataclasses.asdict(presets[preset]())
    try:
        return TypeAdapter(cls).validate_python({**base, **data})
    except ValidationError as exc:
        raise SatqkdError(format_validation_error(exc, where)) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SunSynchronous(_Strict):
    height_km: Annotated[float, Field(gt=150.0, lt=6000.0)] = 500.0
    ltan_hours: Annotated[float, Field(ge=0.0, lt=24.0)] = 0.5
    eccentricity: Annotated[float, Field(ge=0.0, lt=0.1)] = 0.0


class Classical(_Strict):
    height_km: Annotated[float, Field(gt=150.0)] | None = None
    semi_major_axis_km: Annotated[float, Field(gt=6528.0)] | None = None
    eccentricity: Annotated[float, Field(ge=0.0, lt=0.95)] = 0.0
    inclination_deg: Annotated[float, Field(ge=0.0, le=180.0)]
    raan_deg: Annotated[float, Field(ge=0.0, lt=360.0)] = 0.0
    arg_perigee_deg: Annotated[float, Field(ge=0.0, lt=360.0)] = 0.0
    mean_anomaly_deg: Annotated[float, Field(ge=0.0, lt=360.0)] = 0.0


class Geostationary(_Strict):
    longitude_deg: Annotated[float, Field(ge=-180.0, le=360.0)]


class Orbit(_Strict):
    """Exactly one way of saying where the satellite is."""

    elements: str | None = None
    sun_synchronous: SunSynchronous | None = None
    classical: Classical | None = None
    geostationary: Geostationary | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("elements", "sun_synchronous", "classical", "geostationary") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of elements, sun_synchronous, classical, geostationary")
        return self


class SatelliteSpec(_Strict):
    name: str | None = None
    orbit: Orbit
    transmitter: Any = None
    source: Any = None


class StationSpec(_Strict):
    preset: str | None = None
    name: str | None = None
    latitude_deg: Annotated[float, Field(ge=-90.0, le=90.0)] | None = None
    longitude_deg: Annotated[float, Field(ge=-180.0, le=360.0)] | None = None
    height_m: Annotated[float, Field(ge=-500.0, le=9000.0)] | None = None
    horizon_mask: str | list[tuple[float, float]] | None = None
    telescope: Any = None
    detector: Any = None
    atmosphere: Any = None
    turbulence: Any = None
    sky: Any = None
    constraints: dict | None = None


class ScenarioSpec(_Strict):
    name: str = "satqkd scenario"
    start: str | dt.date | dt.datetime = "today"
    days: Annotated[float, Field(gt=0.0, le=3660.0)] | None = None
    end: str | dt.date | dt.datetime | None = None
    constraints: dict = Field(default_factory=dict)
    protocol: Any = None
    optimise: bool = True
    seconds_format: Literal["csv", "parquet"] = "csv"
    satellites: list[SatelliteSpec] = Field(min_length=1)
    stations: list[StationSpec] = Field(min_length=1)


@dataclasses.dataclass
class StationSetup:
    station: Any
    telescope: Any
    detector: Any
    constraints: Any
    atmosphere: Any = None
    turbulence: Any = None
    sky: Any = None


@dataclasses.dataclass
class SatelliteSetup:
    satellite: Any
    transmitter: Any
    source: Any


@dataclasses.dataclass
class Scenario:
    """A validated scenario: physics objects ready for :mod:`satqkd.pipeline`."""

    name: str
    path: Path | None
    start: Any  # skyfield Time
    end: Any
    satellites: list[SatelliteSetup]
    stations: list[StationSetup]
    protocol: Any
    optimise: bool = True
    seconds_format: str = "csv"


def _parse_when(value, where: str, today: dt.date):
    from .passes import to_time

    if isinstance(value, str) and value.strip().lower() in ("today", "tonight"):
        value = dt.datetime(today.year, today.month, today.day, tzinfo=dt.timezone.utc)
    try:
        return to_time(value)
    except (SatqkdError, ValueError, TypeError):
        raise SatqkdError(f"{where}: expected 'today' or an ISO date/time such as 2026-11-28T12:00:00, got {value!r}") from None


def load_scenario(path: str | Path | None = None, *, today: dt.date | None = None) -> Scenario:
    """Read and validate a scenario file (the shipped default when ``None``)."""
    from . import elements, keyrate, link
    from .constraints import Constraints
    from .detector import DETECTOR_PRESETS, Detector
    from .stations import STATION_PRESETS, Station, load_horizon_mask

    path = Path(path) if path is not None else _default_scenario()
    name = str(path)
    raw = read_yaml(path)
    try:
        spec = ScenarioSpec.model_validate(raw)
    except ValidationError as exc:
        raise SatqkdError(format_validation_error(exc, name)) from None

    today = today or dt.datetime.now(dt.timezone.utc).date()
    start = _parse_when(spec.start, f"{name}: start", today)
    if spec.end is not None and spec.days is not None:
        raise SatqkdError(f"{name}: give either days or end, not both")
    if spec.end is not None:
        end = _parse_when(spec.end, f"{name}: end", today)
    else:
        end = start.ts.tt_jd(start.tt + (spec.days if spec.days is not None else 7.0))
    if not end.tt > start.tt:
        raise SatqkdError(f"{name}: end: must be after start ({spec.start} -> {spec.end})")

    protocol = build_block(keyrate.Protocol, keyrate.PROTOCOL_PRESETS, spec.protocol, f"{name}: protocol")
    base_constraints = build_block(Constraints, {}, spec.constraints, f"{name}: constraints")

    satellites = []
    for i, sat in enumerate(spec.satellites):
        where = f"{name}: satellites[{i}]"
        o = sat.orbit
        if o.elements is not None:
            epath = Path(o.elements)
            if not epath.is_absolute():
                epath = path.parent / epath
            loaded = elements.load_elements(epath)
            if sat.name is not None:
                matches = [s for s in loaded if s.name == sat.name]
                loaded = matches or loaded[:1]
            sats = loaded
        elif o.sun_synchronous is not None:
            ss = o.sun_synchronous
            sats = [elements.sun_synchronous(ss.height_km, ss.ltan_hours, start, name=sat.name or "SSO", eccentricity=ss.eccentricity)]
        elif o.classical is not None:
            c = o.classical
            if (c.height_km is None) == (c.semi_major_axis_km is None):
                raise SatqkdError(f"{where}.orbit.classical: give exactly one of height_km or semi_major_axis_km")
            sats = [
                elements.classical(
                    semi_major_axis_km=c.semi_major_axis_km, height_km=c.height_km, eccentricity=c.eccentricity,
                    inclination_deg=c.inclination_deg, raan_deg=c.raan_deg, arg_perigee_deg=c.arg_perigee_deg,
                    mean_anomaly_deg=c.mean_anomaly_deg, epoch=start, name=sat.name or "SAT",
                )
            ]
        else:
            sats = [elements.geostationary(o.geostationary.longitude_deg, start, name=sat.name or "GEO")]
        tx = build_block(link.Transmitter, link.TRANSMITTER_PRESETS, sat.transmitter, f"{where}.transmitter", default="micius")
        src = build_block(keyrate.Source, keyrate.SOURCE_PRESETS, sat.source, f"{where}.source", default="micius_2021")
        for s in sats:
            satellites.append(SatelliteSetup(s, tx, src))

    stations = []
    for i, st in enumerate(spec.stations):
        where = f"{name}: stations[{i}]"
        if st.preset is not None:
            if st.preset not in STATION_PRESETS:
                raise SatqkdError(f"{where}.preset: unknown station {st.preset!r}; expected one of {', '.join(STATION_PRESETS)}")
            station = STATION_PRESETS[st.preset]()
            overrides = {k: getattr(st, k) for k in ("name", "latitude_deg", "longitude_deg", "height_m") if getattr(st, k) is not None}
            station = dataclasses.replace(station, **overrides)
        else:
            missing = [k for k in ("latitude_deg", "longitude_deg") if getattr(st, k) is None]
            if missing:
                raise SatqkdError(f"{where}: {missing[0]}: required when no preset is given")
            station = Station(st.name or f"station{i}", st.latitude_deg, st.longitude_deg, st.height_m or 0.0)
        if st.horizon_mask is not None:
            if isinstance(st.horizon_mask, str):
                mpath = Path(st.horizon_mask)
                mask = load_horizon_mask(mpath if mpath.is_absolute() else path.parent / mpath)
            else:
                mask = tuple((float(a), float(e)) for a, e in st.horizon_mask)
            station = dataclasses.replace(station, horizon_mask=mask)
        cons = build_block(Constraints, {}, {**dataclasses.asdict(base_constraints), **(st.constraints or {})}, f"{where}.constraints")
        default_tel = st.preset if st.preset in link.TELESCOPE_PRESETS else None
        telescope = build_block(link.Telescope, link.TELESCOPE_PRESETS, st.telescope, f"{where}.telescope", default=default_tel)
        detector = build_block(Detector, DETECTOR_PRESETS, st.detector, f"{where}.detector")
        extra = {}
        for key, cls_name, presets_name in (
            ("atmosphere", "Atmosphere", "ATMOSPHERE_PRESETS"),
            ("turbulence", "Turbulence", "TURBULENCE_PRESETS"),
            ("sky", "Sky", "SKY_PRESETS"),
        ):
            block = getattr(st, key)
            if block is not None:
                extra[key] = build_block(getattr(link, cls_name), getattr(link, presets_name, {}), block, f"{where}.{key}")
        stations.append(StationSetup(station, telescope, detector, cons, **extra))

    names = [s.station.name for s in stations]
    if len(set(names)) != len(names):
        raise SatqkdError(f"{name}: stations: two stations share a name; give each a distinct name")
    return Scenario(spec.name, path, start, end, satellites, stations, protocol, spec.optimise, spec.seconds_format)

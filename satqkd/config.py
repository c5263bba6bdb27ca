"""YAML scenarios and equipment files, validated by pydantic.

A scenario names satellites, stations, equipment and constraints::

    name: Micius-like forecast
    start: today            # UTC midnight of the run's date; or 2026-11-28[T18:00:00]
    days: 7                 # or end: 2026-12-05
    constraints: {min_elevation_deg: 10, night: nautical}
    protocol: {preset: satellite}
    satellites:
      - name: Micius-like
        orbit: {sun_synchronous: {height_km: 500, ltan_hours: 12.0}}   # or elements: FILE, ephemeris: OEM
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
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .errors import SatqkdError
from .sky import check_span  # noqa: F401  (where it lived before; the CLI imports it from sky)

__all__ = ["Scenario", "load_scenario", "load_system", "shipped", "find_config", "build_block", "read_yaml", "format_validation_error", "DEFAULT_SCENARIO"]

# Shared with the network's loader; they live one level down (satqkd.equipment)
# and stay importable from here.
from .equipment import build_block, find_config, format_validation_error, load_system, read_yaml, shipped  # noqa: E402



def _default_scenario() -> Path:
    """``configs/micius.yaml``, shipped inside the package as ``satqkd.configs``."""
    from importlib.resources import files

    return Path(str(files("satqkd.configs") / "micius.yaml"))


DEFAULT_SCENARIO = None  # resolved lazily by load_scenario(None)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SunSynchronous(_Strict):
    height_km: Annotated[float, Field(gt=150.0, lt=6000.0)] = 500.0
    ltan_hours: Annotated[float, Field(ge=0.0, lt=24.0)] = 12.0  # Micius-like: ascending node at local noon, night passes descending
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
    ephemeris: str | None = None  # a CCSDS OEM (KVN or XML), satqkd.oem
    sun_synchronous: SunSynchronous | None = None
    classical: Classical | None = None
    geostationary: Geostationary | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("elements", "ephemeris", "sun_synchronous", "classical", "geostationary")
                 if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of elements, ephemeris, sun_synchronous, classical, geostationary")
        return self


class SatelliteSpec(_Strict):
    name: str | None = None
    orbit: Orbit
    transmitter: Any = None
    source: Any = None
    receiver: Any = None  # an uplink's receiving telescope on the satellite (satqkd.link.Telescope)
    detector: Any = None  # and its detectors


class StationSpec(_Strict):
    preset: str | None = None
    name: str | None = None
    latitude_deg: Annotated[float, Field(ge=-90.0, le=90.0)] | None = None
    longitude_deg: Annotated[float, Field(ge=-180.0, le=360.0)] | None = None
    height_m: Annotated[float, Field(ge=-500.0, le=9000.0)] | None = None
    # The list first, so that a bad row is reported at its own index.
    horizon_mask: list[tuple[Annotated[float, Field(ge=0.0, le=360.0)], Annotated[float, Field(ge=-5.0, le=90.0)]]] | str | None = None
    telescope: Any = None
    detector: Any = None
    atmosphere: Any = None
    turbulence: Any = None
    sky: Any = None
    transmitter: Any = None  # a ground transmitter: this station's links are uplinks
    source: Any = None       # the uplink's source (default micius_2017)
    constraints: dict | None = None
    weather: Any = None  # a satqkd.weather.CloudModel block; default: the preset of the station's name


class DualDownlinkSpec(_Strict):
    """A ``dual_downlinks:`` entry: an entangled-pair source on a satellite
    (one of the scenario's, or every one when omitted) sending one photon to
    each of two of the scenario's stations (names or preset names)::

        dual_downlinks:
          - name: Delingha-Nanshan
            stations: [delingha, nanshan]
            satellite: MICIUS                 # optional
            source: {preset: micius_2020}     # satqkd.entanglement.EntangledSource
            protocol: {preset: yin_2020}      # satqkd.entanglement.BBM92
    """

    name: str | None = None
    stations: tuple[str, str]
    satellite: str | None = None
    source: Any = None
    protocol: Any = None


def _date_or_text(value):
    # YAML gives dates and times as date/datetime objects and the rest as
    # text; anything else (``start: 2021``) is refused here rather than
    # taken by pydantic for a Unix timestamp.
    if not isinstance(value, (str, dt.date)):
        raise ValueError(f"expected 'today' or an ISO date/time such as 2026-11-28T12:00:00, got {value!r}")
    return value


When = Annotated[Any, BeforeValidator(_date_or_text)]


class ScenarioSpec(_Strict):
    name: str = "satqkd scenario"
    start: When = "today"
    days: Annotated[float, Field(gt=0.0, le=3660.0)] | None = None
    end: When | None = None
    constraints: dict = Field(default_factory=dict)
    protocol: Any = None
    optimise: bool = True
    seconds_format: Literal["csv", "parquet"] = "csv"
    # Element sets further than this from the span are refused (days; the
    # LEO limit, scaled for other orbit classes; default 30), unless allowed.
    max_element_age_days: Annotated[float, Field(gt=0.0)] | None = None
    # Above this age (days; LEO, scaled for other classes; default 7) a
    # forecast warns: a scenario that knowingly uses older elements says so.
    element_age_warning_days: Annotated[float, Field(gt=0.0)] | None = None
    allow_stale_elements: bool = False
    satellites: list[SatelliteSpec] = Field(min_length=1)
    stations: list[StationSpec] = Field(min_length=1)
    weather: dict | None = None   # satqkd.weather.WeatherSettings
    schedule: dict | None = None  # satqkd.schedule.ScheduleSettings
    sweep: dict[str, list[Any]] | None = None  # satqkd.study: parameter -> values
    network: Any = None  # validated by satqkd.network.topology.NetworkSpec
    dual_downlinks: list[DualDownlinkSpec] | None = None  # satqkd.entanglement: pair source to two stations


@dataclasses.dataclass
class StationSetup:
    station: Any
    telescope: Any
    detector: Any
    constraints: Any
    atmosphere: Any = None
    turbulence: Any = None
    sky: Any = None
    weather: Any = None  # satqkd.weather.CloudModel or None (always clear)
    transmitter: Any = None  # a ground transmitter: the station's links are uplinks (satqkd.link.uplink_budget)
    source: Any = None       # the uplink's source

    @property
    def uplink(self) -> bool:
        """True when this station transmits (its links are uplinks)."""
        return self.transmitter is not None


@dataclasses.dataclass
class SatelliteSetup:
    satellite: Any
    transmitter: Any
    source: Any
    receiver: Any = None  # an uplink's receiving telescope on the satellite
    detector: Any = None  # and its detectors


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
    weather: Any = None   # satqkd.weather.WeatherSettings, None without a weather: block
    schedule: Any = None  # satqkd.schedule.ScheduleSettings
    sweep: dict | None = None
    raw: dict | None = dataclasses.field(default=None, repr=False)  # the YAML mapping it was built from
    today: Any = None     # the date "today" meant (rebuilding it elsewhere gives the same span)
    max_element_age_days: float | None = None
    allow_stale_elements: bool = False
    network: Any = None  # a satqkd.network.Network when the scenario has a network: block
    element_age_warning_days: float | None = None
    dual_downlinks: list = dataclasses.field(default_factory=list)  # satqkd.entanglement.DualDownlink


def _dual_downlinks(spec, stations, satellites, name: str) -> list:
    """Resolve the ``dual_downlinks:`` block against the scenario's stations
    and satellites into :class:`satqkd.entanglement.DualDownlink` objects."""
    from . import entanglement as en

    by_name = {s.station.name: s.station.name for s in stations}
    by_lower = {s.station.name.lower(): s.station.name for s in stations}
    sat_names = [s.satellite.name for s in satellites]
    out = []
    for i, d in enumerate(spec or []):
        where = f"{name}: dual_downlinks[{i}]"
        pair = []
        for j, st in enumerate(d.stations):
            found = by_name.get(st) or by_lower.get(st.lower())
            if found is None:
                raise SatqkdError(f"{where}.stations[{j}]: unknown station {st!r}; expected one of {', '.join(by_name)}")
            pair.append(found)
        if pair[0] == pair[1]:
            raise SatqkdError(f"{where}.stations: expected two different stations, got {pair[0]!r} twice")
        if d.satellite is not None and d.satellite not in sat_names:
            raise SatqkdError(f"{where}.satellite: unknown satellite {d.satellite!r}; expected one of {', '.join(sat_names)}")
        source = build_block(en.EntangledSource, en.ENTANGLED_SOURCE_PRESETS, d.source, f"{where}.source", default="micius_2020")
        protocol = build_block(en.BBM92, en.BBM92_PRESETS, d.protocol, f"{where}.protocol", default="yin_2020")
        for sat in satellites:
            if (d.satellite is None or sat.satellite.name == d.satellite) and \
                    abs(sat.transmitter.wavelength_nm - source.wavelength_nm) > 1e-6:
                raise SatqkdError(
                    f"{where}.source.wavelength_nm: {source.wavelength_nm:g} nm differs from satellite "
                    f"{sat.satellite.name!r}'s transmitter ({sat.transmitter.wavelength_nm:g} nm); expected the same wavelength")
        link_name = d.name or f"{pair[0]}-{pair[1]}"
        if link_name in [o.name for o in out]:
            raise SatqkdError(f"{where}.name: {link_name!r} is given twice; give each dual downlink a distinct name")
        out.append(en.DualDownlink(link_name, pair[0], pair[1], d.satellite, source, protocol))
    return out


def _parse_when(value, where: str, today: dt.date):
    from .passes import to_time

    if isinstance(value, str) and value.strip().lower() in ("today", "tonight"):
        value = dt.datetime(today.year, today.month, today.day, tzinfo=dt.timezone.utc)
    try:
        return to_time(value)
    except (SatqkdError, ValueError, TypeError):
        raise SatqkdError(f"{where}: expected 'today' or an ISO date/time such as 2026-11-28T12:00:00, got {value!r}") from None


def load_scenario(path: str | Path | None = None, *, today: dt.date | None = None, raw: dict | None = None) -> Scenario:
    """Read and validate a scenario file (the shipped default when ``None``);
    with ``raw``, validate that mapping instead (``path`` still names it and
    anchors relative file names)."""
    from . import elements, keyrate, link
    from .constraints import Constraints
    from .detector import DETECTOR_PRESETS, Detector
    from .stations import STATION_PRESETS, Station, load_horizon_mask

    path = find_config(path, "scenarios") if path is not None else _default_scenario()
    name = str(path)
    raw = read_yaml(path) if raw is None else raw
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
    check_span(start, end, f"{name}: ")
    if spec.seconds_format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            # Found now, not after the whole run when seconds.parquet is written.
            raise SatqkdError(f"{name}: seconds_format: parquet needs pyarrow (pip install pyarrow); use csv instead") from None

    protocol = build_block(keyrate.Protocol, keyrate.PROTOCOL_PRESETS, spec.protocol, f"{name}: protocol")
    base_constraints = build_block(Constraints, {}, spec.constraints, f"{name}: constraints")

    satellites = []
    for i, sat in enumerate(spec.satellites):
        where = f"{name}: satellites[{i}]"
        o = sat.orbit
        if o.elements is not None or o.ephemeris is not None:
            key = "elements" if o.elements is not None else "ephemeris"
            epath = Path(getattr(o, key))
            if not epath.is_absolute():
                epath = path.parent / epath
            if not epath.exists():
                # A shipped element set by name (micius-2021-04-27), as scenarios are named.
                epath = find_config(o.elements, "ephemeris") if not Path(o.elements).is_absolute() else epath
            try:
                if key == "elements":
                    loaded = elements.load_elements(epath)
                else:
                    from .oem import load_oem

                    loaded = load_oem(epath)
            except SatqkdError as exc:
                raise SatqkdError(f"{where}.orbit.{key}: {exc}") from None
            if sat.name is not None:
                matches = [s for s in loaded if s.name == sat.name]
                if not matches and len(loaded) > 1:
                    # With one element set the name is just a label; with
                    # several, silently taking the first would plan the wrong satellite.
                    names = ", ".join(repr(s.name) for s in loaded[:10])
                    what = "element set" if key == "elements" else "object"
                    raise SatqkdError(f"{where}.name: no {what} named {sat.name!r} in {epath}; expected one of {names}")
                if not matches:  # one element set: the name is its label in tables
                    loaded[0].name = sat.name
                loaded = matches or loaded
            sats = loaded
            if key == "ephemeris":
                for s in sats:
                    try:  # found now, not after the other units have run
                        s.check_span(start, end)
                    except SatqkdError as exc:
                        raise SatqkdError(f"{where}.orbit.ephemeris: {exc}") from None
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
        rx = (None if sat.receiver is None else
              build_block(link.Telescope, link.TELESCOPE_PRESETS, sat.receiver, f"{where}.receiver"))
        rx_det = (None if sat.detector is None else
                  build_block(Detector, DETECTOR_PRESETS, sat.detector, f"{where}.detector"))
        for s in sats:
            satellites.append(SatelliteSetup(s, tx, src, rx, rx_det))

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
                raise SatqkdError(f"{where}.{missing[0]}: required when no preset is given")
            station = Station(st.name or f"station{i}", st.latitude_deg, st.longitude_deg, st.height_m or 0.0)
        if st.horizon_mask is not None:
            if isinstance(st.horizon_mask, str):
                mpath = Path(st.horizon_mask)
                try:
                    mask = load_horizon_mask(mpath if mpath.is_absolute() else path.parent / mpath)
                except SatqkdError as exc:
                    raise SatqkdError(f"{where}.horizon_mask: {exc}") from None
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
        from . import weather as weatherlib

        default_weather = st.preset if st.preset in weatherlib.CLOUD_PRESETS else None
        if st.weather is not None or default_weather is not None:
            extra["weather"] = build_block(weatherlib.CloudModel, weatherlib.CLOUD_PRESETS, st.weather,
                                           f"{where}.weather", default=default_weather)
        if st.transmitter is not None:
            # An uplink: the station transmits, every satellite must be able to receive.
            extra["transmitter"] = build_block(link.Transmitter, link.TRANSMITTER_PRESETS, st.transmitter,
                                               f"{where}.transmitter")
            extra["source"] = build_block(keyrate.Source, keyrate.SOURCE_PRESETS, st.source, f"{where}.source",
                                          default="micius_2017")
            for k, sat in enumerate(spec.satellites):
                for key in ("receiver", "detector"):
                    if getattr(sat, key) is None:
                        raise SatqkdError(f"{name}: satellites[{k}].{key}: required because stations[{i}] has a "
                                          f"transmitter (an uplink); expected a mapping of fields or {{preset: NAME}}")
        elif st.source is not None:
            raise SatqkdError(f"{where}.source: a station source needs a station transmitter (an uplink)")
        stations.append(StationSetup(station, telescope, detector, cons, **extra))

    sat_names = [s.satellite.name for s in satellites]
    for i, sat_name in enumerate(sat_names):
        if sat_name in sat_names[:i]:
            raise SatqkdError(f"{name}: satellites: two satellites are named {sat_name!r}; give each a distinct name")
    names = [s.station.name for s in stations]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise SatqkdError(
                f"{name}: stations[{i}].name: {n!r} is also the name of stations[{names.index(n)}]; give each station a distinct name"
            )
    network = None
    if spec.network is not None:
        from .network.topology import build_network, parse_network

        network = build_network(
            parse_network(spec.network, f"{name}: network"), {s.station.name: s.station for s in stations},
            sat_names, f"{name}: network", base_dir=path.parent,
        )
    dual = _dual_downlinks(spec.dual_downlinks, stations, satellites, name)
    if network is not None:
        from .network.entangled import check_entanglement_links

        check_entanglement_links(network, dual, f"{name}: network")
    from .schedule import ScheduleSettings
    from .weather import WeatherSettings

    weather = None if spec.weather is None else build_block(WeatherSettings, {}, spec.weather, f"{name}: weather")
    sched = build_block(ScheduleSettings, {}, spec.schedule, f"{name}: schedule")
    return Scenario(spec.name, path, start, end, satellites, stations, protocol, spec.optimise, spec.seconds_format,
                    weather=weather, schedule=sched, sweep=spec.sweep, raw=raw, today=today,
                    max_element_age_days=spec.max_element_age_days, allow_stale_elements=spec.allow_stale_elements,
                    element_age_warning_days=spec.element_age_warning_days,
                    network=network, dual_downlinks=dual)

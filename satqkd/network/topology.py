"""The network's topology: nodes, fibre links, satellite links, as a scenario states them.

:class:`NetworkSpec` is the plain settings object of a scenario's
``network:`` block (validated by pydantic, one-line errors);
:meth:`NetworkSpec.build` turns it into a :class:`Network`:

* **nodes** -- ground stations (the scenario's stations, coordinates taken
  from there), trusted relays and user sites, each with coordinates;
* **links** -- one row per link: fibre spans (length given, or the
  great-circle distance times ``route_factor``; key rate from
  :mod:`satqkd.network.fibre`) and satellite links (a pair of ground
  stations joined through a satellite's on-board key store, fed by the
  scenario's passes; see :mod:`satqkd.network.satellite`) and entanglement
  links (two ground stations sharing key from a satellite's pair source,
  trusting nothing between them, fed by the scenario's dual downlinks; see
  :mod:`satqkd.network.entangled`);
* **pools** -- the key-pool settings of every link
  (:class:`~satqkd.network.pools.PoolSettings`);
* **graph** -- a :class:`networkx.Graph` whose edges carry the link index.

Every link has exactly one key pool: both ends of a QKD link hold the same
key, so one level describes the pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import networkx as nx
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import SatqkdError
from .demand import DemandSpec
from .fibre import FIBRE_PRESETS, FibreSystem, fibre_key, with_overrides
from .outages import OutageSpec
from .pools import PoolSettings

__all__ = ["NodeSpec", "FibreLinkSpec", "SatelliteLinkSpec", "EntanglementLinkSpec", "NetworkSpec", "Network", "great_circle_km", "EARTH_RADIUS_KM"]

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


def great_circle_km(lat1_deg, lon1_deg, lat2_deg, lon2_deg):
    """Haversine distance on a sphere of the mean Earth radius (km), vectorised."""
    p1, p2 = np.radians(lat1_deg), np.radians(lat2_deg)
    dlat = p2 - p1
    dlon = np.radians(np.asarray(lon2_deg) - np.asarray(lon1_deg))
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class NodeSpec(_Strict):
    """A node: ``kind`` station (coordinates default to the scenario's station), relay or user."""

    name: str
    kind: Literal["station", "relay", "user"]
    latitude_deg: Annotated[float, Field(ge=-90.0, le=90.0)] | None = None
    longitude_deg: Annotated[float, Field(ge=-180.0, le=360.0)] | None = None
    city: str | None = None


class FibreLinkSpec(_Strict):
    """A fibre span between nodes ``a`` and ``b``.

    ``length_km``: the fibre route; without it, the great-circle distance
    times the network's ``route_factor``.  ``system``: a preset of
    :data:`~satqkd.network.fibre.FIBRE_PRESETS` or an equipment YAML file
    (``satqkd keyrate --system`` format).  ``count``: parallel QKD systems on
    the span (their key adds up).  ``note``: where the length comes from.
    """

    a: str
    b: str
    length_km: Positive | None = None
    system: str | None = None
    count: Annotated[int, Field(ge=1, le=1000)] = 1
    pool: dict | None = None
    note: str | None = None


class SatelliteLinkSpec(_Strict):
    """Ground stations joined through one satellite's on-board key store.

    ``stations`` are scenario station names (two or more); ``satellite`` a
    scenario satellite (default: the first).  ``store_capacity_bits`` is the
    on-board memory for the key shared with each station.
    """

    satellite: str | None = None
    stations: list[str] = Field(min_length=2)
    store_capacity_bits: Positive = 1e10
    slew_s: NonNegative = 60.0
    pool: dict | None = None


class EntanglementLinkSpec(_Strict):
    """Two ground stations sharing key from a satellite's entangled-pair source.

    ``stations`` are two station nodes; ``dual_downlink`` names the
    scenario's ``dual_downlinks:`` entry that feeds it (default: the one
    joining these two stations).  Its key reaches the pool as the span's
    mean rate (:mod:`satqkd.network.entangled`).
    """

    stations: tuple[str, str]
    dual_downlink: str | None = None
    pool: dict | None = None


class NetworkSpec(_Strict):
    """A scenario's ``network:`` block (see the README's Network section)."""

    nodes: list[NodeSpec] = Field(min_length=2)
    fibre_links: list[FibreLinkSpec] = Field(default_factory=list)
    satellite_links: list[SatelliteLinkSpec] = Field(default_factory=list)
    entanglement_links: list[EntanglementLinkSpec] = Field(default_factory=list)
    fibre_system: str = "chen2021_625mhz"
    route_factor: Annotated[float, Field(ge=1.0, le=5.0)] = 1.5
    connector_loss_db: NonNegative | None = None
    block_detections: Annotated[float, Field(ge=1e3)] | None = None
    pool: dict = Field(default_factory=dict)
    demands: list[DemandSpec] = Field(default_factory=list)
    capacity_pairs: list[tuple[str, str]] = Field(default_factory=list)
    candidate_paths: Annotated[int, Field(ge=1, le=20)] = 3
    retry_every_s: Positive = 300.0
    record_every_s: Positive = 3600.0
    seed: int = 0
    # Service (satqkd.network.simulate): split over candidates, admission, reserves per class, outages.
    multipath: bool = True
    admission: bool = False
    priority_reserve_bits: list[NonNegative] = Field(default_factory=list)
    outages: list[OutageSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self):
        names = [n.name for n in self.nodes]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise ValueError(f"nodes[{i}].name: {n!r} is also the name of nodes[{names.index(n)}]")
        return self


@dataclass
class SatelliteLink:
    """A built satellite link: its pool index and the stations it joins."""

    satellite: str
    stations: list[str]
    store_capacity_bits: float
    slew_s: float
    link: int


@dataclass
class Network:
    """A built network: nodes and links tables, pool settings, graph, demands."""

    nodes: pd.DataFrame
    links: pd.DataFrame
    pools: list[PoolSettings]
    satellites: list[SatelliteLink]
    graph: nx.Graph
    demands: list = field(default_factory=list)
    capacity_pairs: list = field(default_factory=list)
    candidate_paths: int = 3
    retry_every_s: float = 300.0
    record_every_s: float = 3600.0
    seed: int = 0
    multipath: bool = True
    admission: bool = False
    priority_reserve_bits: list = field(default_factory=list)
    outages: list = field(default_factory=list)

    @property
    def n_links(self) -> int:
        return len(self.links)


def parse_network(raw, where: str) -> NetworkSpec:
    """Validate a ``network:`` mapping; ``where`` prefixes errors (``FILE: network``)."""
    from ..equipment import format_validation_error

    if not isinstance(raw, dict):
        raise SatqkdError(f"{where}: expected a mapping with nodes, fibre_links, satellite_links, demands")
    try:
        return NetworkSpec.model_validate(raw)
    except ValidationError as exc:
        file, sep, field_ = where.rpartition(": ")
        raise SatqkdError(format_validation_error(exc, file, field_) if sep else format_validation_error(exc, where)) from None


def _system(name: str, base_dir: Path | None, where: str, cache: dict) -> FibreSystem:
    if name in cache:
        return cache[name]
    if name in FIBRE_PRESETS:
        system = FIBRE_PRESETS[name]()
    else:
        from ..equipment import load_system

        path = Path(name)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.exists():
            raise SatqkdError(f"{where}: unknown fibre system {name!r}; expected one of {', '.join(FIBRE_PRESETS)} or an equipment YAML file")
        system = FibreSystem.from_system(load_system(path))
    cache[name] = system
    return system


def entanglement_link_rows(spec, pos: dict, nodes: pd.DataFrame, graph, base_pool, where: str):
    """The links table rows of a network block's ``entanglement_links``:
    yields ``(row, pool settings, (a, b))`` with the key rate still 0 (set by
    :func:`satqkd.network.entangled.attach_dual_key` once the dual downlinks have run)."""
    from ..equipment import build_block

    for i, el in enumerate(spec.entanglement_links):
        w = f"{where}.entanglement_links[{i}]"
        a, b = el.stations
        for j, s in enumerate((a, b)):
            if s not in pos or nodes.loc[nodes["node"] == s, "kind"].iat[0] != "station":
                raise SatqkdError(f"{w}.stations[{j}]: {s!r} is not a station node of the network")
        if a == b:
            raise SatqkdError(f"{w}.stations: expected two different stations, got {a!r} twice")
        if graph.has_edge(a, b):
            raise SatqkdError(f"{w}.stations: {a!r} and {b!r} are already linked")
        pool = build_block(PoolSettings, {}, {**vars(base_pool), **(el.pool or {})}, f"{w}.pool")
        gc = float(great_circle_km(*pos[a], *pos[b]))
        row = {
            "link": f"{a}~{b}", "a": a, "b": b, "kind": "entanglement", "system": el.dual_downlink or "", "count": 1,
            "length_km": gc, "great_circle_km": gc, "length_assumed": False, "loss_db": np.nan, "qber": np.nan,
            "block_bits": 0.0, "block_s": 86400.0, "key_rate_bps": 0.0,
            "note": "entanglement dual downlink: trusts only the two stations",
        }
        yield row, pool, (a, b)  # topology adds the edge before the next link is checked


def build_network(spec: NetworkSpec, stations: dict, satellites: list[str], where: str = "network",
                  base_dir: Path | None = None) -> Network:
    """Resolve names, lengths, fibre key rates and pool settings.

    ``stations`` maps a scenario station name to its
    :class:`~satqkd.stations.Station`; ``satellites`` lists the scenario's
    satellite names.
    """
    from ..equipment import build_block

    rows = []
    for i, n in enumerate(spec.nodes):
        lat, lon = n.latitude_deg, n.longitude_deg
        if n.kind == "station":
            if n.name not in stations:
                raise SatqkdError(f"{where}.nodes[{i}].name: station {n.name!r} is not a scenario station; expected one of {', '.join(stations)}")
            st = stations[n.name]
            lat = st.latitude_deg if lat is None else lat
            lon = st.longitude_deg if lon is None else lon
        elif lat is None or lon is None:
            raise SatqkdError(f"{where}.nodes[{i}]: latitude_deg and longitude_deg are required for a {n.kind}")
        rows.append({"node": n.name, "kind": n.kind, "city": n.city or "", "latitude_deg": float(lat),
                     "longitude_deg": float(lon) if lon <= 180 else float(lon) - 360.0})
    nodes = pd.DataFrame(rows)
    pos = {r["node"]: (r["latitude_deg"], r["longitude_deg"]) for r in rows}

    def check_node(name, field_):
        if name not in pos:
            raise SatqkdError(f"{where}.{field_}: unknown node {name!r}")

    base_pool = build_block(PoolSettings, {}, spec.pool, f"{where}.pool")
    systems: dict = {}
    links, pools = [], []
    graph = nx.Graph()
    graph.add_nodes_from(pos)
    overrides = {"connector_loss_db": spec.connector_loss_db, "block_detections": spec.block_detections}
    rate_cache: dict = {}
    for i, fl in enumerate(spec.fibre_links):
        w = f"{where}.fibre_links[{i}]"
        check_node(fl.a, f"fibre_links[{i}].a")
        check_node(fl.b, f"fibre_links[{i}].b")
        if fl.a == fl.b:
            raise SatqkdError(f"{w}.b: a link needs two different nodes, got {fl.a!r} twice")
        if graph.has_edge(fl.a, fl.b):
            raise SatqkdError(f"{w}: a second link between {fl.a!r} and {fl.b!r}; use count: for parallel systems")
        name = fl.system or spec.fibre_system
        system = with_overrides(_system(name, base_dir, f"{w}.system", systems), **overrides)
        gc = float(great_circle_km(*pos[fl.a], *pos[fl.b]))
        length = fl.length_km if fl.length_km is not None else round(spec.route_factor * gc, 1)
        key = (name, round(length, 6))
        if key not in rate_cache:
            rate_cache[key] = fibre_key(system, length)
        fk = rate_cache[key]
        pool = build_block(PoolSettings, {}, {**vars(base_pool), **fl.pool}, f"{w}.pool") if fl.pool else base_pool
        idx = len(links)
        links.append({
            "link": f"{fl.a}~{fl.b}", "a": fl.a, "b": fl.b, "kind": "fibre", "system": name, "count": fl.count,
            "length_km": length, "great_circle_km": gc, "length_assumed": fl.length_km is None,
            "loss_db": fk.loss_db, "qber": fk.qber, "block_bits": fk.block_bits * fl.count, "block_s": fk.block_s,
            "key_rate_bps": fk.key_rate_bps * fl.count, "note": fl.note or "",
        })
        pools.append(pool)
        graph.add_edge(fl.a, fl.b, link=idx, length_km=length)

    sats = []
    for i, sl in enumerate(spec.satellite_links):
        w = f"{where}.satellite_links[{i}]"
        sat = sl.satellite or (satellites[0] if satellites else None)
        if sat not in satellites:
            raise SatqkdError(f"{w}.satellite: unknown satellite {sat!r}; expected one of {', '.join(map(str, satellites))}")
        for j, s in enumerate(sl.stations):
            if s not in pos or nodes.loc[nodes["node"] == s, "kind"].iat[0] != "station":
                raise SatqkdError(f"{w}.stations[{j}]: {s!r} is not a station node of the network")
        if len(set(sl.stations)) != len(sl.stations):
            raise SatqkdError(f"{w}.stations: a station is listed twice")
        pool = build_block(PoolSettings, {}, {**vars(base_pool), **(sl.pool or {})}, f"{w}.pool")
        # One pool per pair of stations: the key the ground command makes them share.
        for x in range(len(sl.stations)):
            for y in range(x + 1, len(sl.stations)):
                a, b = sl.stations[x], sl.stations[y]
                if graph.has_edge(a, b):
                    raise SatqkdError(f"{w}.stations: {a!r} and {b!r} are already linked")
                gc = float(great_circle_km(*pos[a], *pos[b]))
                idx = len(links)
                links.append({
                    "link": f"{a}~{b}", "a": a, "b": b, "kind": "satellite", "system": sat, "count": 1,
                    "length_km": gc, "great_circle_km": gc, "length_assumed": False, "loss_db": np.nan,
                    "qber": np.nan, "block_bits": 0.0, "block_s": math.inf, "key_rate_bps": 0.0,
                    "note": f"trusted relay through {sat}'s on-board key store",
                })
                pools.append(pool)
                graph.add_edge(a, b, link=idx, length_km=gc)
                sats.append(SatelliteLink(sat, [a, b], sl.store_capacity_bits, sl.slew_s, idx))
    for row, pool, (a, b) in entanglement_link_rows(spec, pos, nodes, graph, base_pool, where):
        graph.add_edge(a, b, link=len(links), length_km=row["length_km"])
        links.append(row)
        pools.append(pool)
    if not links:
        raise SatqkdError(f"{where}: no links; give fibre_links, satellite_links or entanglement_links")

    demands = []
    for i, d in enumerate(spec.demands):
        for end in ("a", "b"):
            check_node(getattr(d, end), f"demands[{i}].{end}")
        if d.a == d.b:
            raise SatqkdError(f"{where}.demands[{i}].b: a demand needs two different nodes")
        demands.append(d)
    for i, (a, b) in enumerate(spec.capacity_pairs):
        check_node(a, f"capacity_pairs[{i}][0]")
        check_node(b, f"capacity_pairs[{i}][1]")
        if a == b:
            raise SatqkdError(f"{where}.capacity_pairs[{i}]: a pair needs two different nodes, got {a!r} twice")
    for i, o in enumerate(spec.outages):
        if o.node is not None:
            check_node(o.node, f"outages[{i}].node")
        elif len(o.link.split("~")) != 2 or not graph.has_edge(*o.link.split("~")):
            raise SatqkdError(f"{where}.outages[{i}].link: unknown link {o.link!r}; expected A~B of two linked nodes")
    return Network(nodes, pd.DataFrame(links), pools, sats, graph, demands, list(spec.capacity_pairs),
                   spec.candidate_paths, spec.retry_every_s, spec.record_every_s, spec.seed, spec.multipath,
                   spec.admission, list(spec.priority_reserve_bits), list(spec.outages))

"""The network stage: fibre key, pools, satellite relay, routing, capacity, invariants.

Invariants are property tests (hypothesis) over random small networks:
pools never negative or above capacity, bits conserved per link and overall,
equal consumption on every hop, the satellite relay never above the smaller
store, byte-identical outputs for the same scenario and seed.
"""

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from satqkd.config import load_scenario
from satqkd.errors import SatqkdError
from satqkd.network import FibreSystem, build_network, capacity_table, fibre_key, simulate
from satqkd.network.pools import CHARGING, EMPTY, READY, WARNING, PoolSettings, Pools, etsi_status
from satqkd.network.report import network_files
from satqkd.network.satellite import SatelliteStores, schedule_passes
from satqkd.network.topology import NetworkSpec, great_circle_km
from satqkd.stations import Station

from network_cases import START, network, passes_table  # noqa: E402
STATIONS = {"SA": Station("SA", 43.0, 87.0, 2000.0), "SB": Station("SB", 40.0, 117.0, 900.0)}


def _net(spec: dict):
    return network(spec, STATIONS)


_passes = passes_table


# --- fibre links ------------------------------------------------------------

def test_fibre_loss_and_rate_by_hand():
    """eta = 0.15 x 10^(-(0.2 L + 1)/10); key rate = block key / block time; falls with length."""
    sys_ = FibreSystem.chen2021_625mhz()
    k = fibre_key(sys_, 50.0)
    assert k.loss_db == pytest.approx(0.2 * 50 + 1.0)
    assert k.key_rate_bps == pytest.approx(k.block_bits / k.block_s)
    rates = [fibre_key(sys_, L).key_rate_bps for L in (10, 50, 90, 130)]
    assert all(a > b for a, b in zip(rates, rates[1:]))
    # The block closes at n_X = 1e7 key-basis detections: with 50:50 bases and
    # all intensities, n_X ~ rate x 1/4 x p(click); hand estimate of its length.
    eta = 0.15 * 10 ** (-(0.2 * 50 + 1.0) / 10)
    p_click = sum(p * (1 - math.exp(-eta * mu)) for p, mu in zip((0.70, 0.19, 0.11), (0.50, 0.19, 2e-4)))
    t_hand = 1e7 / (625e6 * 0.25 * p_click * 1.01)
    assert k.block_s == pytest.approx(t_hand, rel=0.15)  # dead time and dark counts shift it a little


def test_fibre_rates_against_published_networks():
    """Sanity against other networks (reference/network.md): Tokyo 2010, 45 km decoy BB84 at
    1 GHz ~300 kbit/s; SECOQC 2008, links up to 83 km at 0.5-17 kbit/s."""
    tokyo_like = fibre_key(FibreSystem.chen2021_625mhz(), 45.0).key_rate_bps * 1e9 / 625e6
    assert 100e3 < tokyo_like < 1000e3
    secoqc_like = fibre_key(FibreSystem.chen2021_40mhz(), 83.0).key_rate_bps
    assert 0.5e3 < secoqc_like < 17e3


def test_too_long_fibre_gives_no_key():
    k = fibre_key(FibreSystem.chen2021_40mhz(), 300.0)
    assert k.block_bits == 0 and k.key_rate_bps == 0 and math.isinf(k.block_s)


# --- pools -----------------------------------------------------------------

def test_pool_states_follow_qkdnetsim():
    """EMPTY at/below minimum; CHARGING rising (or out of EMPTY); READY at/above threshold;
    WARNING falling below the threshold (network.md, QKDNetSim)."""
    p = Pools([PoolSettings(capacity_bits=100, minimum_bits=10, threshold_bits=50)], [0.0], [math.inf])
    idx = np.array([0])
    seen = [int(p.state[0])]
    for bits in (5, 20, 40, 30):
        p.add(idx, [bits])
        seen.append(int(p.state[0]))
    assert seen == [EMPTY, EMPTY, CHARGING, READY, READY]
    assert p.level[0] == 95 - 0 and p.discarded[0] == 0
    p.add(idx, [20])
    assert p.level[0] == 100 and p.discarded[0] == 15
    p.consume(idx, 60)
    assert p.state[0] == WARNING
    p.add(idx, [1])
    assert p.state[0] == CHARGING
    p.consume(idx, 31)
    assert p.state[0] == EMPTY and p.level[0] == 10
    assert not p.can_serve(idx, 1)[0]
    assert np.allclose(p.balance(), 0)


def test_fibre_blocks_arrive_whole_and_lazily():
    p = Pools([PoolSettings(capacity_bits=1e6, threshold_bits=0)], [1000.0], [10.0])
    p.advance(np.array([0]), 9.99)
    assert p.level[0] == 0
    p.advance(np.array([0]), 35.0)
    assert p.level[0] == 3000  # blocks closed at 10, 20, 30 s


def test_etsi_status_shape():
    p = Pools([PoolSettings(capacity_bits=1e6, minimum_bits=1000, key_size_bits=256)], [0.0], [math.inf])
    p.add(np.array([0]), [257_000])
    s = etsi_status(p, 0, "Hefei", "Shanghai")
    assert {"source_KME_ID", "target_KME_ID", "master_SAE_ID", "slave_SAE_ID", "key_size", "stored_key_count",
            "max_key_count", "max_key_per_request", "max_key_size", "min_key_size", "max_SAE_ID_count"} <= set(s)
    assert s["key_size"] == 256 and s["stored_key_count"] == (257_000 - 1000) // 256 and s["max_key_count"] == 1_000_000 // 256


def test_pool_settings_refuse_threshold_outside():
    with pytest.raises(SatqkdError, match="threshold"):
        _net({"nodes": [{"name": "x", "kind": "relay", "latitude_deg": 30, "longitude_deg": 110},
                        {"name": "y", "kind": "relay", "latitude_deg": 31, "longitude_deg": 110}],
              "fibre_links": [{"a": "x", "b": "y", "length_km": 20}],
              "pool": {"capacity_bits": 100, "threshold_bits": 1000}})


# --- satellite ---------------------------------------------------------------

def test_relay_gives_the_smaller_store_and_consumes_both():
    """Liao et al. 2018: the XOR announcement leaves both stations min(a, b) of shared key."""
    s = SatelliteStores([("SAT", "SA"), ("SAT", "SB")], [1e9, 1e9])
    s.add(0, 300.0)
    s.add(1, 120.0)
    assert s.relay(0, 1, 1e9) == 120.0
    assert list(s.level) == [180.0, 0.0]
    assert s.relay(0, 1, 1e9) == 0.0
    s.add(1, 500.0)
    assert s.relay(0, 1, 50.0) == 50.0  # capped by the ground pool's room
    assert np.allclose(s.balance(), 0)


def test_one_terminal_keeps_the_bigger_pass():
    net = _sat_net()
    passes = _passes([("SA", 100, 400, 5e6), ("SB", 380, 600, 9e6), ("SA", 5000, 5300, 1e6), ("SB", 5330, 5600, 2e6)])
    sched = schedule_passes(passes, net.satellites, START)
    served = dict(zip(sched["pass_id"], sched["served"]))
    # 0 and 1 overlap; 2 and 3 are 30 s apart, less than the 60 s to re-point: the bigger wins.
    assert served == {0: False, 1: True, 2: False, 3: True}
    passes = _passes([("SA", 5000, 5300, 1e6), ("SB", 5400, 5600, 2e6)])
    assert list(schedule_passes(passes, net.satellites, START)["served"]) == [True, True]


def test_scheduled_and_clear_columns_are_honoured():
    net = _sat_net()
    passes = _passes([("SA", 100, 400, 5e6), ("SB", 380, 600, 9e6)])
    passes["scheduled"] = [True, False]
    passes["clear"] = [0.5, 1.0]
    sched = schedule_passes(passes, net.satellites, START)
    assert list(sched["served"]) == [True, False] and sched["key_bits"].iat[0] == 2.5e6


def _sat_net(**pool):
    return _net({
        "nodes": [{"name": "SA", "kind": "station"}, {"name": "SB", "kind": "station"},
                  {"name": "ua", "kind": "user", "latitude_deg": 43.1, "longitude_deg": 87.1},
                  {"name": "ub", "kind": "user", "latitude_deg": 40.1, "longitude_deg": 117.1}],
        "fibre_links": [{"a": "ua", "b": "SA", "length_km": 20}, {"a": "ub", "b": "SB", "length_km": 30}],
        "satellite_links": [{"satellite": "SAT", "stations": ["SA", "SB"]}],
        "pool": {"threshold_bits": 0, **pool},
        "demands": [{"a": "ua", "b": "ub", "kind": "constant", "rate_bps": 10, "every_s": 600, "timeout_s": 7200}],
    })


def test_satellite_path_waits_for_the_relay():
    net = _sat_net()
    passes = _passes([("SA", 1000, 1300, 4e6), ("SB", 7000, 7300, 1e6)])
    res = simulate(net, passes, START, 4 * 3600.0)
    r = res.requests
    early = r[r["t_s"] < 7300 - 7200]
    assert (early["status"] == "failed").all()  # nothing to relay before the second pass
    first = r[r["status"] != "failed"].iloc[0]
    assert first["t_s"] + first["wait_s"] >= 7300 and first["route"] == "ua>SA>SB>ub"
    sat = res.links[res.links["kind"] == "satellite"].iloc[0]
    # Relay on demand: exactly what the served requests took, never more than min(4e6, 1e6).
    served = r.loc[r["status"] != "failed", "bits"].sum()
    assert sat["generated_bits"] == pytest.approx(served) and served <= 1e6
    assert np.allclose(res.stores["consumed_bits"], served)


# --- routing -------------------------------------------------------------------

def _ring():
    """Two routes from u to v: short (x) and long (y)."""
    nodes = [{"name": n, "kind": "relay", "latitude_deg": 30 + 0.1 * i, "longitude_deg": 110 + 0.1 * (i % 2)}
             for i, n in enumerate(["x", "y"])]
    nodes += [{"name": "u", "kind": "user", "latitude_deg": 30, "longitude_deg": 109.9},
              {"name": "v", "kind": "user", "latitude_deg": 30.1, "longitude_deg": 110.2}]
    return nodes


def test_threshold_steers_routes_to_ready_pools():
    """With the short route's pool below its threshold after a delivery, the router takes the
    long route whose pools stay ready (the threshold works, unlike QKDNetSim's default)."""
    net = _net({
        "nodes": _ring(),
        "fibre_links": [{"a": "u", "b": "x", "length_km": 10, "pool": {"initial_bits": 2e6}},
                        {"a": "x", "b": "v", "length_km": 10, "pool": {"initial_bits": 1.2e6}},
                        {"a": "u", "b": "y", "length_km": 30, "pool": {"initial_bits": 5e6}},
                        {"a": "y", "b": "v", "length_km": 30, "pool": {"initial_bits": 5e6}}],
        "fibre_system": "chen2021_40mhz",
        "pool": {"capacity_bits": 1e7, "threshold_bits": 1e6},
        "demands": [{"a": "u", "b": "v", "kind": "constant", "rate_bps": 300, "every_s": 1000}],  # 3e5 bits
    })
    res = simulate(net, None, START, 1.0)
    assert res.requests["route"].iat[0] == "u>y>v"
    net.pools[1] = PoolSettings(capacity_bits=1e7, threshold_bits=1e6, initial_bits=3e6)
    res = simulate(net, None, START, 1.0)
    assert res.requests["route"].iat[0] == "u>x>v"


# --- capacity --------------------------------------------------------------------

def test_capacity_is_the_max_flow_with_its_min_cut():
    """Two disjoint routes: capacity = sum over routes of each route's weakest link (hand)."""
    net = _net({"nodes": _ring(), "fibre_links": [
        {"a": "u", "b": "x", "length_km": 10}, {"a": "x", "b": "v", "length_km": 60},
        {"a": "u", "b": "y", "length_km": 80}, {"a": "y", "b": "v", "length_km": 20}],
        "fibre_system": "chen2021_40mhz"})
    links = net.links.assign(daily_volume_bits=net.links["key_rate_bps"] * 86400)
    table = capacity_table(net, links, [("u", "v")])
    v = links.set_index("link")["daily_volume_bits"]
    expect = min(v["u~x"], v["x~v"]) + min(v["u~y"], v["y~v"])
    assert table["capacity_bits_per_day"].iat[0] == pytest.approx(expect)
    assert set(table["bottleneck"].iat[0].split("; ")) == {"x~v", "u~y"}


# --- invariants (hypothesis) ---------------------------------------------------------

@st.composite
def networks(draw):
    n_relays = draw(st.integers(1, 4))
    nodes = [{"name": "SA", "kind": "station"}, {"name": "SB", "kind": "station"}]
    relays = [f"r{i}" for i in range(n_relays)]
    nodes += [{"name": r, "kind": "relay", "latitude_deg": 40 + 0.2 * i, "longitude_deg": 117 + 0.1 * i} for i, r in enumerate(relays)]
    users = ["u0", "u1", "u2"]
    nodes += [{"name": u, "kind": "user", "latitude_deg": 40.5 + 0.1 * i, "longitude_deg": 117.3} for i, u in enumerate(users)]
    chain = ["SB"] + relays
    links = [{"a": a, "b": b, "length_km": draw(st.floats(5, 140))} for a, b in zip(chain[:-1], chain[1:])]
    if n_relays > 2 and draw(st.booleans()):
        links.append({"a": relays[0], "b": relays[-1], "length_km": draw(st.floats(5, 140))})
    links += [{"a": "u0", "b": relays[-1], "length_km": 10}, {"a": "u1", "b": relays[0], "length_km": 15},
              {"a": "u2", "b": "SA", "length_km": 20}]
    cap = draw(st.floats(1e5, 1e9))
    minimum = draw(st.floats(0, 0.2)) * cap
    pool = {"capacity_bits": cap, "minimum_bits": minimum, "threshold_bits": minimum + draw(st.floats(0, 0.5)) * (cap - minimum),
            "initial_bits": draw(st.floats(0, 1)) * cap}
    demands = [{"a": a, "b": b, "kind": "constant", "rate_bps": draw(st.floats(1, 1e5)), "every_s": draw(st.floats(60, 3600)),
                "timeout_s": draw(st.floats(0, 7200)), "poisson": draw(st.booleans())}
               for a, b in (("u0", "u1"), ("u2", "u0"), ("u2", "u1"))]
    spec = {"nodes": nodes, "fibre_links": links, "fibre_system": draw(st.sampled_from(["chen2021_625mhz", "chen2021_40mhz"])),
            "satellite_links": [{"satellite": "SAT", "stations": ["SA", "SB"], "store_capacity_bits": draw(st.floats(1e4, 1e9))}],
            "pool": pool, "demands": demands, "record_every_s": 1800, "retry_every_s": draw(st.floats(60, 1800)),
            "seed": draw(st.integers(0, 2**31))}
    rows, t = [], 0.0
    for _ in range(draw(st.integers(0, 8))):
        t += draw(st.floats(100, 20000))
        rows.append((draw(st.sampled_from(["SA", "SB"])), t, t + draw(st.floats(30, 500)), draw(st.floats(0, 5e7))))
    return spec, rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_invariants(case):
    spec, rows = case
    net = _net(spec)
    res = simulate(net, _passes(rows), START, 86400.0)
    links, pools = res.links, res.pools
    cap = dict(zip(links["link"], links["generated_bits"] * 0 + [p.capacity_bits for p in net.pools]))
    # No pool negative or above its capacity, at any snapshot.
    assert (pools["level_bits"] >= 0).all()
    fibre = pools[pools["kind"] != "satellite-store"]
    assert (fibre["level_bits"] <= fibre["pool"].map(cap) * (1 + 1e-12)).all()
    store_cap = dict(zip(res.stores["satellite"] + ">" + res.stores["station"], res.stores["capacity_bits"]))
    stores = pools[pools["kind"] == "satellite-store"]
    assert (stores["level_bits"] <= stores["pool"].map(store_cap) * (1 + 1e-12)).all()
    # Bits conserved per link, per store and overall.
    initial = np.array([p.initial_bits for p in net.pools])
    bal = links["generated_bits"] - (links["level_bits"] - initial) - links["consumed_bits"] - links["discarded_bits"]
    scale = links["generated_bits"].abs().max() + initial.max() + 1.0
    assert np.abs(bal).max() <= 1e-9 * scale and abs(bal.sum()) <= 1e-9 * scale * len(bal)
    # Fibre key generated over the day is exactly the blocks closed by its end (hand count):
    # nothing simulated past the span.
    fib = links[(links["kind"] == "fibre") & (links["block_bits"] > 0)]
    assert np.allclose(fib["generated_bits"], fib["block_bits"] * np.floor(86400.0 / fib["block_s"]), rtol=1e-12)
    assert set(res.requests["status"]) <= {"served", "waited", "failed", "pending"}
    s = res.stores
    assert np.allclose(s["generated_bits"], s["level_bits"] + s["consumed_bits"] + s["discarded_bits"], rtol=1e-12, atol=1e-6)
    # Every delivery consumes its bits from every hop: per-link sums of the routes match.
    served = res.requests[res.requests["status"] != "failed"]
    expect = dict.fromkeys(links["link"], 0.0)
    for route, bits, parts in zip(served["route"], served["bits"], served["part_bits"].fillna("")):
        # A request split over routes (multipath) lists them with " | " and their bits.
        shares = [float(x) for x in parts.split(";")] if parts else [bits]
        for path, share in zip(route.split(" | "), shares):
            hops = path.split(">")
            for a, b in zip(hops[:-1], hops[1:]):
                name = f"{a}~{b}" if f"{a}~{b}" in expect else f"{b}~{a}"
                expect[name] += share
    assert np.allclose(links["consumed_bits"], [expect[k] for k in links["link"]], rtol=1e-12, atol=1e-6)
    assert (served["hops"] == served["route"].str.count(">")).all()
    # The relay never gives more than the smaller store: what the ground pair got is what
    # each store gave, and no more than the smaller station's flown key.
    sat = links[links["kind"] == "satellite"].iloc[0]
    assert np.allclose(s["consumed_bits"], sat["generated_bits"])
    assert sat["generated_bits"] <= s["generated_bits"].min() + 1e-6
    # Each pass's relayed_bits is the part of its key the relay used: per station they add
    # up to what its store gave.
    for station, gave in zip(s["station"], s["consumed_bits"]):
        mine = res.passes.loc[res.passes["station"] == station, "relayed_bits"] if len(res.passes) else pd.Series([0.0])
        assert mine.sum() == pytest.approx(gave, abs=1e-6)
    # Same scenario and seed: byte-identical outputs.
    again = simulate(_net(spec), _passes(rows), START, 86400.0)
    again.capacity = res.capacity = capacity_table(net, res.links, [("u0", "u1")])
    a = network_files(res, "/nonexistent", report=False)
    b = network_files(again, "/nonexistent", report=False)
    assert a == b


# --- scenario, CLI ----------------------------------------------------------------------

def test_china_network_scenario_matches_its_sources():
    """Backbone of Chen et al. 2021 (reference/network.md): > 2,000 km of route, 32 trusted
    relays, hops of 50-90 km; >= 150 links; Xinglong to Beijing by fibre; Nanshan only via the satellite."""
    sc = load_scenario("configs/china-network.yaml")
    net = sc.network
    bb = net.links[net.links["link"].str.contains(r"BJ-JN|JN-HF|HF-SH")]
    assert bb["length_km"].sum() > 2000 and bb["length_km"].between(50, 90).all()
    relays = net.nodes[net.nodes["node"].str.match(r"^(BJ-JN|JN-HF|HF-SH)-\d+$")]
    assert len(relays) == 32
    assert len(net.links) >= 150
    g = net.graph.copy()
    g.remove_edge("Nanshan", "Xinglong")
    import networkx as nx

    assert nx.has_path(g, "Xinglong", "Beijing") and not nx.has_path(g, "Nanshan", "Shanghai")
    for city in ("Beijing", "Jinan", "Hefei", "Shanghai", "Urumqi"):
        assert (net.nodes["kind"].eq("user") & net.nodes["city"].eq(city)).any()
    ns = net.nodes.set_index("node")
    d = great_circle_km(ns.at["Nanshan", "latitude_deg"], ns.at["Nanshan", "longitude_deg"],
                        ns.at["Xinglong", "latitude_deg"], ns.at["Xinglong", "longitude_deg"])
    assert d == pytest.approx(2523, abs=3)  # system.md, derived great circle


def test_network_block_errors_are_one_line(tmp_path):
    text = open("configs/china-network.yaml").read().replace("{a: Nanshan, b: Urumqi,", "{a: Nanshan, b: Urumqx,")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("../ephemeris", str((__import__("pathlib").Path("ephemeris")).resolve())))
    with pytest.raises(SatqkdError, match=r"network\.fibre_links\[\d+\]\.b: unknown node 'Urumqx'"):
        load_scenario(bad)


def test_cli_network_needs_a_network_block(tmp_path):
    r = subprocess.run([sys.executable, "-m", "satqkd", "network", "configs/micius-2021-nanshan.yaml", "-o", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "network: missing block" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("name,preset", [("fibre-625mhz", "chen2021_625mhz"), ("fibre-40mhz", "chen2021_40mhz")])
def test_equipment_files_are_the_presets(name, preset):
    """configs/systems/fibre-*.yaml (for `satqkd keyrate --system`) state the network presets."""
    from satqkd.config import load_system
    from satqkd.network import FIBRE_PRESETS

    from_file = FibreSystem.from_system(load_system(f"configs/systems/{name}.yaml"))
    p = FIBRE_PRESETS[preset]()
    assert from_file.source == p.source and from_file.protocol == p.protocol
    for f in vars(p.detector):
        assert getattr(from_file.detector, f) == pytest.approx(getattr(p.detector, f)), f


SMALL = """
name: two stations, two users, one day
start: 2021-05-20T00:00:00
days: 1
optimise: false
constraints: {min_elevation_deg: 10, night: nautical}
protocol: {preset: satellite}
satellites:
  - name: MICIUS
    orbit: {elements: %s}
stations:
  - {preset: nanshan, telescope: {preset: nanshan}, detector: {preset: micius_2021_nanshan}}
  - {preset: xinglong, telescope: {preset: xinglong}, detector: {preset: micius_2021_xinglong}}
network:
  nodes:
    - {name: Nanshan, kind: station}
    - {name: Xinglong, kind: station}
    - {name: u1, kind: user, latitude_deg: 43.8, longitude_deg: 87.6}
    - {name: u2, kind: user, latitude_deg: 40.2, longitude_deg: 117.2}
  fibre_links:
    - {a: u1, b: Nanshan, length_km: 60}
    - {a: u2, b: Xinglong, length_km: 40, system: chen2021_40mhz}
  satellite_links: [{stations: [Nanshan, Xinglong]}]
  demands: [{a: u1, b: u2, kind: aes_rekey, every_s: 3600, timeout_s: 86400, poisson: true}]
"""


def test_run_and_network_commands_write_the_same_network_files(tmp_path):
    """`satqkd run` of a scenario with a network block writes the network files too; two runs
    of `satqkd network` give byte-identical files (report included)."""
    from pathlib import Path

    from satqkd.cli import main

    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL % (Path("ephemeris/micius-2021-04-27.tle").resolve()))
    assert main(["run", str(scenario), "-o", str(tmp_path / "run"), "--no-report"]) == 0
    assert main(["network", str(scenario), "-o", str(tmp_path / "n1")]) == 0
    assert main(["network", str(scenario), "-o", str(tmp_path / "n2")]) == 0
    for name in ("pools.csv", "requests.csv", "links.csv", "capacity.csv", "satellite-passes.csv", "status.json", "network.html"):
        assert (tmp_path / "n1" / name).read_bytes() == (tmp_path / "n2" / name).read_bytes(), name
        if name != "network.html":
            assert (tmp_path / "run" / name).read_bytes() == (tmp_path / "n1" / name).read_bytes(), name
    assert not (tmp_path / "run" / "network.html").exists()
    assert "<script src=" not in (tmp_path / "n1" / "network.html").read_text()  # plotly.js embedded
    cap = pd.read_csv(tmp_path / "n1" / "capacity.csv")
    assert cap["bottleneck"].iat[0] in ("MICIUS>Nanshan", "MICIUS>Xinglong") and cap["capacity_bits_per_day"].iat[0] > 0


def test_map_is_a_plain_scatter_that_needs_no_world_map():
    """plotly's geographic traces fetch their world map from a CDN; the network map must not use them."""
    from satqkd.network.report import _map

    res = simulate(_sat_net(), _passes([("SA", 1000, 1300, 4e6)]), START, 3600.0)
    fig = _map(res)
    assert {t.type for t in fig.data} == {"scatter"}
    assert len(fig.data) >= 3 + 2  # outline rings, links, nodes


def test_shipped_outline_contains_every_node():
    """The map's hand-drawn outline of China holds every node of the shipped network
    (coordinates of system.md), by ray casting."""
    from satqkd.network.outline import CHINA_OUTLINE

    ring = CHINA_OUTLINE[0]

    def inside(lon, lat):
        hit = False
        for (x1, y1), (x2, y2) in zip(ring[:-1], ring[1:]):
            if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                hit = not hit
        return hit

    nodes = load_scenario("configs/china-network.yaml").network.nodes
    outside = [n for n, lo, la in zip(nodes["node"], nodes["longitude_deg"], nodes["latitude_deg"]) if not inside(lo, la)]
    assert outside == []
    assert not inside(139.7, 35.7) and not inside(127.0, 37.5)  # Tokyo, Seoul


def test_demand_kinds_and_schedules():
    """Bits per request: otp_call = 8 kbit/s x 120 s; aes_rekey = 256 bit/s x interval;
    a schedule of times is taken as given within the span."""
    from satqkd.network.demand import DemandSpec, make_requests

    d = [DemandSpec(a="x", b="y", kind="otp_call", every_s=600),
         DemandSpec(a="x", b="y", kind="aes_rekey", every_s=60),
         DemandSpec(a="x", b="y", kind="constant", rate_bps=10, times_s=[5000, 10, 99999])]
    r = make_requests(d, 3600.0)
    assert r.loc[r["demand"] == 0, "bits"].unique().tolist() == [8000 * 120]
    assert (r["demand"] == 0).sum() == 6 and (r["demand"] == 1).sum() == 60
    assert r.loc[r["demand"] == 1, "bits"].iat[0] == 256 * 60
    assert r.loc[r["demand"] == 2, "t_s"].tolist() == [10.0]
    assert list(r["t_s"]) == sorted(r["t_s"])
    with pytest.raises(ValueError):
        DemandSpec(a="x", b="y", kind="constant")


class _EagerPool:
    """QKDNetSim's state machine written out change by change (network.md): the reference
    the derived state must equal."""

    def __init__(self, cap, lo, thr, level):
        self.cap, self.lo, self.thr, self.level = cap, lo, thr, level
        self.state = EMPTY if level <= lo else READY if level >= thr else CHARGING

    def add(self, bits):
        total = min(self.level + bits, self.cap)
        if total <= self.lo:
            self.state = EMPTY
        elif total >= self.thr:
            self.state = READY
        elif total > self.level:
            self.state = CHARGING
        self.level = total

    def take(self, bits):
        self.level -= bits
        self.state = EMPTY if self.level <= self.lo else READY if self.level >= self.thr else WARNING


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 50), st.integers(0, 80), st.integers(0, 100),
       st.lists(st.tuples(st.booleans(), st.integers(0, 60)), max_size=30))
def test_pool_state_from_level_and_direction_equals_the_state_machine(lo, gap, initial, ops):
    thr, cap = lo + gap, lo + gap + 40
    initial = min(initial, cap)
    p = Pools([PoolSettings(capacity_bits=cap, minimum_bits=lo, threshold_bits=thr, initial_bits=initial)], [0.0], [math.inf])
    ref = _EagerPool(cap, lo, thr, float(initial))
    idx = np.array([0])
    assert p.state[0] == ref.state
    for is_add, bits in ops:
        if is_add:
            p.add(idx, [bits])
            ref.add(bits)
        elif p.can_serve(idx, bits)[0]:
            p.consume(idx, bits)
            ref.take(bits)
        assert p.level[0] == ref.level and p.state[0] == ref.state

"""Capacity of the network: per pair alone, all demands at once, under weather (satqkd.network.capacity).

References are independent computations written here: hand max-flows and
cuts, networkx's maximum flow over the satellite drawn as a hub node (each
station joined to it by its own key: the textbook trusted-node model of a
satellite relay), and the linear program solved afresh for every weather
year.  Regression tests name the bug of issue 15 they pin (capacity.csv
(a)-(d), the benchmark's stale element set).
"""

import importlib.util
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from satqkd.errors import SatqkdError
from satqkd.network import build_network, capacity_table, simulate
from satqkd.network import capacity as capmod
from satqkd.network.topology import NetworkSpec
from satqkd.stations import Station

ROOT = Path(__file__).resolve().parents[1]
from network_cases import START, network, passes_table  # noqa: E402
STATIONS = {"SA": Station("SA", 43.0, 87.0, 2000.0), "SB": Station("SB", 40.0, 117.0, 900.0),
            "SC": Station("SC", 30.0, 100.0, 3000.0)}
DAY = 86400.0


def _net(spec: dict):
    return network(spec, STATIONS)


_passes = passes_table


def _three_stations(**extra):
    """Three stations on one satellite link, a user behind each by fibre."""
    return _net({
        "nodes": [{"name": s, "kind": "station"} for s in ("SA", "SB", "SC")]
        + [{"name": f"u{s[-1].lower()}", "kind": "user", "latitude_deg": STATIONS[s].latitude_deg + 0.1,
            "longitude_deg": STATIONS[s].longitude_deg + 0.1} for s in ("SA", "SB", "SC")],
        "fibre_links": [{"a": f"u{s[-1].lower()}", "b": s, "length_km": 20} for s in ("SA", "SB", "SC")],
        "satellite_links": [{"satellite": "SAT", "stations": ["SA", "SB", "SC"]}],
        "pool": {"threshold_bits": 0}, **extra,
    })


# --- capacity.csv bugs (issue 15) ------------------------------------------------------

def test_a_station_key_is_one_resource_for_every_pair_through_it():
    """(a) Three stations on one satellite: SB has 4 Mbit a day with the satellite, so SB and
    SC share at most 4 Mbit a day (main said 8: one pool per pair of stations, SB counted twice)."""
    net = _three_stations()
    passes = _passes([("SA", 1000, 1300, 10e6), ("SB", 7000, 7300, 4e6), ("SC", 20000, 20300, 10e6)])
    res = simulate(net, passes, START, DAY)
    table = capacity_table(net, res.links, [("SB", "SC"), ("ub", "uc")])
    assert table["capacity_bits_per_day"].tolist() == pytest.approx([4e6, 4e6])
    assert table["bottleneck"].iat[0] == "SAT>SB"
    # The same with the stations' keys counted from the passes flown.
    table = capacity_table(net, res.links, [("SB", "SC")], passes=res.passes, span_s=DAY)
    assert table["capacity_bits_per_day"].iat[0] == pytest.approx(4e6)


def test_passes_after_the_span_do_not_count():
    """(b) The satellite's daily volume counts only the passes whose key arrives within the
    simulated span (main: both passes, 12 instead of 6 Mbit/day)."""
    net = _three_stations()
    passes = _passes([("SA", 1000, 1300, 6e6), ("SB", 7000, 7300, 6e6),
                      ("SA", DAY + 1000, DAY + 1300, 6e6), ("SB", DAY + 7000, DAY + 7300, 6e6)])
    res = simulate(net, passes, START, DAY)
    sat = res.links[res.links["link"] == "SA~SB"].iloc[0]
    assert sat["daily_volume_bits"] == pytest.approx(6e6)
    table = capacity_table(net, res.links, [("SA", "SB")], passes=res.passes, span_s=DAY)
    assert table["capacity_bits_per_day"].iat[0] == pytest.approx(6e6)


def test_route_never_crosses_another_users_site():
    """(c) Route length and hops avoid other users' sites, as the router and the flows do
    (main: u>w>v, 20 km over a third user's site)."""
    net = _net({
        "nodes": [{"name": "u", "kind": "user", "latitude_deg": 30.0, "longitude_deg": 110.0},
                  {"name": "w", "kind": "user", "latitude_deg": 30.05, "longitude_deg": 110.05},
                  {"name": "v", "kind": "user", "latitude_deg": 30.1, "longitude_deg": 110.1},
                  {"name": "r", "kind": "relay", "latitude_deg": 30.2, "longitude_deg": 110.0}],
        "fibre_links": [{"a": "u", "b": "w", "length_km": 10}, {"a": "w", "b": "v", "length_km": 10},
                        {"a": "u", "b": "r", "length_km": 30}, {"a": "r", "b": "v", "length_km": 30}],
    })
    links = net.links.assign(daily_volume_bits=net.links["key_rate_bps"] * DAY)
    row = capacity_table(net, links, [("u", "v")]).iloc[0]
    assert (row["route_km"], row["hops"]) == (60.0, 2)
    v = links.set_index("link")["daily_volume_bits"]
    assert row["capacity_bits_per_day"] == pytest.approx(min(v["u~r"], v["r~v"]))


def test_a_capacity_pair_of_one_node_is_refused_in_one_line():
    """(d) capacity_pairs: [[A, A]] is refused when the scenario loads (main: a networkx traceback
    after the key stage)."""
    with pytest.raises(SatqkdError) as err:
        _net({"nodes": [{"name": "SA", "kind": "station"}, {"name": "SB", "kind": "station"}],
              "satellite_links": [{"stations": ["SA", "SB"]}], "capacity_pairs": [["SA", "SA"]]})
    msg = str(err.value)
    assert "\n" not in msg and "capacity_pairs[0]" in msg and "two different nodes" in msg


def test_the_network_benchmark_runs_a_year():
    """The benchmark's year of the shipped network loads and passes the element-age check
    (at main it was refused as stale and the benchmark failed)."""
    from satqkd.elements import check_element_age

    spec = importlib.util.spec_from_file_location("bench_network", ROOT / "benchmarks" / "bench_network.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    sc = bench.year_scenario(365.0)
    assert (sc.end.tt - sc.start.tt) == pytest.approx(365.0)
    notes = check_element_age([s.satellite for s in sc.satellites], sc.start, sc.end, sc.max_element_age_days,
                              sc.allow_stale_elements)
    assert any("allowed" in n for n in notes)
    assert sc.weather is not None and sc.weather.years >= 100


# --- against independent computations ------------------------------------------------------

def _hub_max_flow(net, links, store):
    """networkx maximum flow with the satellite as a hub node joined to each station by its key."""
    g = nx.Graph()
    kinds = dict(zip(net.nodes["node"], net.nodes["kind"]))
    for _, r in links.iterrows():
        if r["kind"] == "fibre":
            g.add_edge(r["a"], r["b"], capacity=r["daily_volume_bits"])
    for (sat, stn), k in store.items():
        g.add_edge(stn, f"hub:{sat}", capacity=k)
    return g, kinds


@st.composite
def cases(draw):
    n_relays = draw(st.integers(1, 4))
    nodes = [{"name": s, "kind": "station"} for s in ("SA", "SB", "SC")]
    relays = [f"r{i}" for i in range(n_relays)]
    nodes += [{"name": r, "kind": "relay", "latitude_deg": 40 + 0.2 * i, "longitude_deg": 117 + 0.1 * i}
              for i, r in enumerate(relays)]
    users = ["u0", "u1", "u2", "u3"]
    nodes += [{"name": u, "kind": "user", "latitude_deg": 40.5 + 0.1 * i, "longitude_deg": 117.3} for i, u in enumerate(users)]
    chain = ["SB"] + relays
    links = [{"a": a, "b": b, "length_km": draw(st.floats(5, 200))} for a, b in zip(chain[:-1], chain[1:])]
    if n_relays > 2 and draw(st.booleans()):
        links.append({"a": relays[0], "b": relays[-1], "length_km": draw(st.floats(5, 200))})
    links += [{"a": "u0", "b": relays[-1], "length_km": draw(st.floats(5, 150))},
              {"a": "u1", "b": relays[0], "length_km": draw(st.floats(5, 150))},
              {"a": "u2", "b": "SA", "length_km": draw(st.floats(5, 150))},
              {"a": "u3", "b": "SC", "length_km": draw(st.floats(5, 150))}]
    if draw(st.booleans()):  # a user site between two relays of the chain: no transit through it
        links.append({"a": "u0", "b": "SB", "length_km": 10})
    spec = {"nodes": nodes, "fibre_links": links, "fibre_system": "chen2021_40mhz",
            "satellite_links": [{"satellite": "SAT", "stations": draw(st.sampled_from([["SA", "SB"], ["SA", "SB", "SC"]]))}],
            "demands": [{"a": a, "b": b, "kind": "constant", "rate_bps": draw(st.floats(1, 2e5)), "every_s": 3600}
                        for a, b in (("u2", "u0"), ("u3", "u1"), ("u0", "u1"), ("u2", "u3"))]}
    years = draw(st.integers(1, 12))
    store = np.array(draw(st.lists(st.lists(st.floats(0, 3e9), min_size=3, max_size=3), min_size=years, max_size=years)))
    return spec, store


def _model(spec, store_year):
    net = _net(spec)
    links = net.links.assign(daily_volume_bits=net.links["key_rate_bps"] * DAY)
    stores = capmod.satellite_stores(net)
    key = dict(zip(stores, store_year[: len(stores)]))
    return net, links, stores, key


@settings(max_examples=25, deadline=None, report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_capacity_alone_is_networkx_max_flow_with_the_satellite_as_a_hub(case):
    """Per pair alone, every weather year: the program's maximum flow equals networkx's over the
    hub model (exact for one pair: a relayed bit spends one bit of each end station's key)."""
    spec, store = case
    net, links, stores, _ = _model(spec, store[0])
    samples = store[:, : len(stores)]
    table = capacity_table(net, links, [("u2", "u0"), ("u3", "u1"), ("u0", "u1")], store_samples=samples,
                           store_clear_sky=samples.max(axis=0))
    users = {n for n, k in zip(net.nodes["node"], net.nodes["kind"]) if k == "user"}
    for _, row in table.head(3).iterrows():
        expect = []
        for y in range(len(samples)):
            g, _ = _hub_max_flow(net, links, dict(zip(stores, samples[y])))
            g.remove_nodes_from(users - {row["a"], row["b"]})
            expect.append(nx.maximum_flow_value(g.to_directed(), row["a"], row["b"]) if row["a"] in g and row["b"] in g else 0.0)
        expect = np.array(expect)
        assert row["capacity_bits_per_day"] == pytest.approx(expect.mean(), rel=1e-6, abs=1.0)
        assert row["capacity_p10_bits_per_day"] == pytest.approx(np.percentile(expect, 10), rel=1e-6, abs=1.0)
        assert row["capacity_p90_bits_per_day"] == pytest.approx(np.percentile(expect, 90), rel=1e-6, abs=1.0)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_joint_answers_match_a_fresh_solve_per_year_and_respect_the_invariants(case):
    """The shared-bounds solver gives, year by year, the concurrent share and max-min fair shares
    of solving each year's program afresh; and the invariants of issue 15 hold: the joint
    share of every pair is at most what it gets alone, and everything the satellite relays
    through a station (all pairs together) fits in that station's key."""
    spec, store = case
    net, links, stores, _ = _model(spec, store[0])
    samples = store[:, : len(stores)]
    model = capmod.flow_model(net, links, dict(zip(stores, samples.max(axis=0))))
    caps = capmod._scenario_caps(model, samples, stores)
    demands = capmod._demand_pairs(net, 7 * DAY)
    pairs, d = list(demands), np.array(list(demands.values()))
    got = capmod.joint_capacity(model, pairs, d, caps)
    for y in range(len(caps)):
        one = capmod.joint_capacity(model, pairs, d, caps[y:y + 1])
        assert got["lambda"][y] == pytest.approx(one["lambda"][0], abs=1e-6)
        # Within 10 bits a day of each pair's demand: the programs run in Mbit per day with
        # HiGHS's tolerances (1e-7 on volumes up to 3,000 Mbit here), so a fair share of a few
        # bits a day is at their resolution, and which side of it a pair freezes on is noise.
        resolution = np.maximum(1e-6, 10.0 / d)
        assert (np.abs(got["share"][y] - one["share"][0]) <= resolution).all(), (got["share"], one["share"], got["lambda"], y)
        # Concurrent <= every fair share <= 1; each pair's joint key <= its capacity alone.
        assert (got["share"][y] >= got["lambda"][y] - 1e-6).all() and (got["share"][y] <= 1 + 1e-9).all()
        for c, (a, b) in enumerate(pairs):
            alone, _ = capmod._alone(model, a, b, caps[y:y + 1])
            assert got["share"][y, c] * d[c] <= alone[0] * (1 + 1e-6) + 1e-6 * d[c] + 1.0
            assert got["lambda"][y] * d[c] <= alone[0] * (1 + 1e-6) + 1e-6 * d[c] + 1.0  # joint <= every pair alone
    # The joint program's own flows: no station's key overspent (a primal solution of year 0).
    prog = capmod._Program(model, pairs, d / capmod._SCALE, np.ones(len(pairs), bool), capped=True)
    sol = prog.solve(caps[0], np.zeros(len(pairs)))
    used = sol["use"].sum(axis=0) * capmod._SCALE
    for key, r in model.store_resources.items():
        assert used[r] <= caps[0, r] * (1 + 1e-6) + 1.0


def test_concurrent_share_by_hand():
    """Two demands through one satellite whose weaker station has 4 Mbit a day: 3 and 5 Mbit a
    day asked, so each gets 4 / 8 = 50 % at once (hand), and alone each could have 4."""
    net = _three_stations(demands=[{"a": "ua", "b": "ub", "kind": "constant", "rate_bps": 3e6 / DAY, "every_s": 3600},
                                   {"a": "uc", "b": "ub", "kind": "constant", "rate_bps": 5e6 / DAY, "every_s": 3600}])
    passes = _passes([("SA", 1000, 1300, 50e6), ("SB", 7000, 7300, 4e6), ("SC", 20000, 20300, 50e6)])
    res = simulate(net, passes, START, DAY)
    joint = {}
    table = capacity_table(net, res.links, [], passes=res.passes, span_s=DAY, joint=joint).set_index(["a", "b"])
    assert joint["share"] == pytest.approx(0.5) and joint["bottleneck"] == "SAT>SB"
    assert table.loc[("ua", "ub"), "joint_share"] == pytest.approx(0.5)
    assert table.loc[("uc", "ub"), "joint_bits_per_day"] == pytest.approx(2.5e6)
    assert table.loc[("ua", "ub"), "capacity_bits_per_day"] == pytest.approx(4e6)


def test_max_min_fair_share_gives_the_rest_to_the_unblocked_pair():
    """Pair 1 asks 8 Mbit/day through SB (4 Mbit/day), pair 2 asks 2 through SA-SC (50 each):
    all at once 50 % of every demand, but max-min fair gives pair 2 all it asks (hand)."""
    net = _three_stations(demands=[{"a": "ua", "b": "ub", "kind": "constant", "rate_bps": 8e6 / DAY, "every_s": 3600},
                                   {"a": "ua", "b": "uc", "kind": "constant", "rate_bps": 2e6 / DAY, "every_s": 3600}])
    passes = _passes([("SA", 1000, 1300, 50e6), ("SB", 7000, 7300, 4e6), ("SC", 20000, 20300, 50e6)])
    res = simulate(net, passes, START, DAY)
    joint = {}
    table = capacity_table(net, res.links, [], passes=res.passes, span_s=DAY, joint=joint).set_index(["a", "b"])
    assert joint["share"] == pytest.approx(0.5)
    assert table.loc[("ua", "ub"), "joint_share"] == pytest.approx(0.5)
    assert table.loc[("ua", "uc"), "joint_share"] == pytest.approx(1.0)
    assert table.loc[("ua", "ub"), "joint_bottleneck"] == "SAT>SB"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["SA", "SB", "SC"]), st.floats(0, 5e7)), min_size=1, max_size=10),
       st.lists(st.floats(1, 2e3), min_size=3, max_size=3))
def test_satellite_relays_no_more_than_each_stations_key(rows, rates):
    """Simulation over three stations on one satellite: what every satellite pool received
    through a station, summed over the pairs, is at most that station's flown key."""
    passes = _passes([(s, 3000 * (i + 1), 3000 * (i + 1) + 300, k) for i, (s, k) in enumerate(rows)])
    net = _three_stations(demands=[{"a": a, "b": b, "kind": "constant", "rate_bps": r, "every_s": 600, "timeout_s": 7200}
                                   for (a, b), r in zip((("ua", "ub"), ("ub", "uc"), ("ua", "uc")), rates)])
    res = simulate(net, passes, START, DAY)
    sat = res.links[res.links["kind"] == "satellite"]
    store = res.stores.set_index("station")
    for s in ("SA", "SB", "SC"):
        through = sat.loc[(sat["a"] == s) | (sat["b"] == s), "generated_bits"].sum()
        assert through <= store.at[s, "generated_bits"] * (1 + 1e-12) + 1e-6


# --- the shipped scenario, end to end ------------------------------------------------------

SMALL = """
name: small network with weather
start: 2021-05-20T00:00:00
days: 2
optimise: false
constraints: {min_elevation_deg: 10, night: nautical}
protocol: {preset: satellite}
satellites:
  - name: MICIUS
    orbit: {elements: %s}
stations:
  - {preset: nanshan, telescope: {preset: nanshan}, detector: {preset: micius_2021_nanshan}}
  - {preset: xinglong, telescope: {preset: xinglong}, detector: {preset: micius_2021_xinglong}}
weather: {seed: 3, years: 200}
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
  demands: [{a: u1, b: u2, kind: constant, rate_bps: 50, every_s: 3600, timeout_s: 86400}]
"""


def test_weather_answers_are_expected_first_and_byte_identical(tmp_path):
    """A scenario with a weather block: capacity.csv's first numbers are the mean over the
    weather draws, never above the clear-sky ceiling; the same scenario and seed give
    byte-identical files."""
    from satqkd.cli import main

    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL % (ROOT / "ephemeris" / "micius-2021-04-27.tle"))
    assert main(["network", str(scenario), "-o", str(tmp_path / "n1"), "--quiet"]) == 0
    assert main(["network", str(scenario), "-o", str(tmp_path / "n2"), "--quiet"]) == 0
    for name in ("pools.csv", "requests.csv", "links.csv", "capacity.csv", "satellite-passes.csv", "status.json", "network.html"):
        assert (tmp_path / "n1" / name).read_bytes() == (tmp_path / "n2" / name).read_bytes(), name
    cap = pd.read_csv(tmp_path / "n1" / "capacity.csv")
    row = cap.iloc[0]
    assert row["weather"].startswith("200 weather draws (seed 3)")
    assert row["capacity_p10_bits_per_day"] <= row["capacity_bits_per_day"] <= row["capacity_clear_sky_bits_per_day"]
    assert row["capacity_p90_bits_per_day"] <= row["capacity_clear_sky_bits_per_day"] * (1 + 1e-9)
    assert 0 <= row["joint_share"] <= row["joint_share_clear_sky"] + 1e-9

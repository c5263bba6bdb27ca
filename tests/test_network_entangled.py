"""Entanglement links in the network, the two-architecture comparison, weather on dual downlinks.

References: Yin et al., Nature 582, 501 (2020), p. 502 (Delingha and Nanshan
are 1,120 km apart); the trust model of satellite QKD as relay versus
entanglement source (Liao et al., PRL 120, 030501 (2018); Yin et al. 2020,
p. 501: "without the need for trusted relays").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from satqkd import entanglement as en
from satqkd.errors import SatqkdError
from satqkd.network.entangled import compare_architectures

SCENARIO = Path(__file__).resolve().parents[1] / "configs" / "micius-2020-delingha-nanshan.yaml"
NETWORK = {"nodes": [{"name": "Delingha", "kind": "station"}, {"name": "Nanshan", "kind": "station"}],
           "entanglement_links": [{"stations": ["Delingha", "Nanshan"]}],
           "capacity_pairs": [["Delingha", "Nanshan"]]}


def _raw(**changes):
    from satqkd.config import read_yaml

    raw = read_yaml(SCENARIO)
    raw["days"] = 2
    raw.update(changes)
    return raw


@pytest.fixture(scope="module")
def results():
    from satqkd.config import load_scenario
    from satqkd.pipeline import run

    return run(load_scenario(SCENARIO, raw=_raw(network=NETWORK)))


def test_station_separation_is_yin_2020s_1120_km():
    """Yin 2020 p. 502: Delingha and Nanshan are 1,120 km apart."""
    from satqkd.network.topology import great_circle_km
    from satqkd.stations import Station

    d, n = Station.delingha(), Station.nanshan()
    assert float(great_circle_km(d.latitude_deg, d.longitude_deg, n.latitude_deg, n.longitude_deg)) == pytest.approx(1120.0, abs=5.0)


def test_entanglement_link_carries_the_dual_downlink_key(results):
    links = results.network.links
    row = links[links["kind"] == "entanglement"].iloc[0]
    per_day = results.dual.summary["key_bits_per_day"].iat[0]
    assert per_day > 0
    assert row["daily_volume_bits"] == pytest.approx(per_day, rel=1e-9)
    assert row["generated_bits"] == pytest.approx(2 * per_day, rel=1e-6)  # two days
    cap = results.network.capacity
    assert cap["capacity_clear_sky_bits_per_day"].iat[0] == pytest.approx(per_day, rel=1e-6)  # the entanglement link limits the pair


def test_architectures_table_compares_key_and_trust(results):
    arch = results.dual.architectures
    assert list(arch["architecture"]) == ["trusted-relay satellite", "entanglement dual downlink"]
    relay, ent = arch.iloc[0], arch.iloc[1]
    p = results.passes
    delivered = [float((p.loc[p["station"] == s, "key_bits"] * p.loc[p["station"] == s, "scheduled"]
                        * p.loc[p["station"] == s, "clear"]).sum()) for s in ("Delingha", "Nanshan")]
    assert relay["key_bits"] == pytest.approx(min(delivered))
    assert "satellite" in relay["trusted"] and "only the two stations" in ent["trusted"]
    assert ent["key_bits_per_day"] == pytest.approx(results.dual.summary["key_bits_per_day"].iat[0])


def test_missing_dual_downlink_for_an_entanglement_link_is_refused_at_load():
    from satqkd.config import load_scenario

    raw = _raw(network={**NETWORK, "entanglement_links": [{"stations": ["Delingha", "Nanshan"], "dual_downlink": "nope"}]})
    with pytest.raises(SatqkdError) as err:
        load_scenario(SCENARIO, raw=raw)
    msg = str(err.value)
    assert "network.entanglement_links: Delingha~Nanshan: the scenario has no dual downlink 'nope'" in msg
    assert str(SCENARIO) in msg and "\n" not in msg
    raw = _raw(network=NETWORK)
    del raw["dual_downlinks"]
    with pytest.raises(SatqkdError, match="no dual downlink between 'Delingha' and 'Nanshan'"):
        load_scenario(SCENARIO, raw=raw)


def test_entanglement_link_to_a_non_station_is_refused():
    from satqkd.config import load_scenario

    net = {**NETWORK, "nodes": NETWORK["nodes"] + [{"name": "X", "kind": "relay", "latitude_deg": 40, "longitude_deg": 90}],
           "entanglement_links": [{"stations": ["Delingha", "X"]}]}
    with pytest.raises(SatqkdError) as err:
        load_scenario(SCENARIO, raw=_raw(network=net))
    assert "network.entanglement_links[0].stations[1]: 'X' is not a station node" in str(err.value)


def test_weather_counts_only_windows_clear_at_both_ends():
    """A joint window counts when the passes at both stations are clear; the
    clear-sky key stays as the ceiling."""
    link = en.DualDownlink("L", "A", "B", None, en.EntangledSource(), en.BBM92())
    windows = pd.DataFrame({"window_id": [0, 1], "satellite": "S", "station_a": "A", "station_b": "B",
                            "pass_id_a": [0, 2], "pass_id_b": [1, 3],
                            "start_utc": pd.to_datetime(["2021-01-01 00:00", "2021-01-02 00:00"], utc=True),
                            "end_utc": pd.to_datetime(["2021-01-01 00:04", "2021-01-02 00:04"], utc=True),
                            "duration_s": [241, 241]})
    t = pd.date_range("2021-01-01 00:00", periods=241, freq="s", tz="UTC").append(
        pd.date_range("2021-01-02 00:00", periods=241, freq="s", tz="UTC"))
    n = t.size
    seconds = pd.DataFrame({c: np.zeros(n) for c in en.DUAL_SECOND_COLUMNS})
    seconds = seconds.assign(link="L", satellite="S", time_utc=t, coincidence_cps=50.0, sifted_cps=25.0, qber=0.03,
                             key_rate_bps=10.0, loss_db=60.0)
    passes = pd.DataFrame({"pass_id": [0, 1, 2, 3], "clear": [True, True, True, False]})
    w, s = en.dual_windows(windows, seconds, link, passes)
    assert list(w["clear"]) == [1.0, 0.0]
    row = en.dual_summary(w, link, 2.0)
    assert row["sifted_bits"] == pytest.approx(25.0 * 241)
    assert row["key_bits"] == pytest.approx(float(en.finite_key_bits(25.0 * 241, 0.03, link.protocol)))
    assert row["key_bits_clear_sky"] == pytest.approx(float(en.finite_key_bits(2 * 25.0 * 241, 0.03, link.protocol)))
    assert row["key_bits"] < row["key_bits_clear_sky"]


def test_pipeline_weather_reaches_the_dual_windows():
    """With a weather draw, a joint window is clear when both of its passes
    are (passes.csv's ``clear``), and the key is the block of those windows."""
    from satqkd.config import load_scenario
    from satqkd.pipeline import run

    raw = _raw(days=7, weather={"seed": 2, "years": 5})
    r = run(load_scenario(SCENARIO, raw=raw))
    w, clear = r.dual.windows, r.passes.set_index("pass_id")["clear"].astype(float)
    expected = clear.reindex(w["pass_id_a"]).to_numpy() * clear.reindex(w["pass_id_b"]).to_numpy()
    np.testing.assert_array_equal(w["clear"].to_numpy(), expected)
    assert 0 < expected.sum() < len(w)  # this draw has both kinds
    row = r.dual.summary.iloc[0]
    sifted = float((w["sifted_bits"] * expected).sum())
    e = float((w["qber"] * w["sifted_bits"] * expected).sum()) / sifted
    assert row["key_bits"] == pytest.approx(float(en.finite_key_bits(sifted, e, en.BBM92.yin_2020())))
    assert row["key_bits"] < row["key_bits_clear_sky"]

"""The entanglement dual downlink (satqkd.entanglement and the joint windows of satqkd.passes).

References: Yin et al., Nature 582, 501 (2020), pp. 503-504 (2.2 pairs/s,
SNR 15:1, sifted 1.1 bit/s, QBER ~4.5 %, f = 1.19, asymptotic 0.43 bit/s,
finite 0.12 bit/s at eps = 1e-10, 372 bits); Yin et al., Science 356, 1140
(2017) (two downlinks summing to 1,600-2,400 km; 64-82 dB recalled); Shor &
Preskill, PRL 85, 441 (2000) (the 11 % threshold); hand derivations written
out in the tests.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from satqkd import entanglement as en
from satqkd.errors import SatqkdError
from satqkd.passes import joint_seconds, joint_windows

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SCENARIO = CONFIGS / "micius-2020-delingha-nanshan.yaml"


def h2(x):
    """Binary entropy written out for the tests (not the library's)."""
    return -x * math.log2(x) - (1 - x) * math.log2(1 - x)


# --- rates -------------------------------------------------------------------


def test_coincidence_and_accidental_rates_by_hand():
    """C_true = R eta_a eta_b; C_acc = (R eta_a + N_a)(R eta_b + N_b) tau."""
    true, acc = en.coincidence_rates(1e6, 1e-3, 2e-3, 100.0, 200.0, 1e-9)
    assert true == pytest.approx(2.0, rel=1e-12)
    assert acc == pytest.approx(1100.0 * 2200.0 * 1e-9, rel=1e-12)


def test_accidental_rate_matches_a_seeded_poisson_simulation():
    """Two independent Poisson click streams (1e5 /s each, 10 ns window):
    the pairs closer than half the window, counted directly, average
    S_a S_b tau = 100 /s within 4 standard deviations."""
    rng = np.random.default_rng(16)
    rate, tau, span = 1e5, 10e-9, 20.0
    a = np.sort(rng.uniform(0.0, span, rng.poisson(rate * span)))
    b = np.sort(rng.uniform(0.0, span, rng.poisson(rate * span)))
    count = np.searchsorted(b, a + tau / 2) - np.searchsorted(b, a - tau / 2)
    measured = count.sum() / span
    _, expected = en.coincidence_rates(0.0, 0.0, 0.0, rate, rate, tau)
    assert expected == pytest.approx(100.0)
    assert abs(measured - expected) < 4 * math.sqrt(expected * span) / span


def test_qber_from_snr_15_to_1_is_yin_2020s_4_5_percent():
    """Yin 2020 p. 503: SNR 15:1 and QBER ~4.5 %; the preset's intrinsic
    error is derived from them, so 15 true : 1 accidental gives 4.5 %."""
    src = en.EntangledSource.micius_2020()
    assert float(en.qber(15.0, 1.0, src.intrinsic_qber)) == pytest.approx(0.045, abs=0.001)
    # Limits: no accidentals -> the intrinsic error; only accidentals -> 1/2.
    assert float(en.qber(1.0, 0.0, 0.02)) == pytest.approx(0.02)
    assert float(en.qber(0.0, 1.0, 0.02)) == pytest.approx(0.5)


def test_sifting_factor():
    """Two 50:50 passive choices match half the time; 10:90 against 50:50 too."""
    assert en.sifting_factor(0.5, 0.5) == 0.5
    assert en.sifting_factor(0.1, 0.1) == pytest.approx(0.01 + 0.81)
    assert en.sifting_factor(0.1, 0.5) == pytest.approx(0.5)


def test_asymptotic_bbm92_rate_at_known_qber():
    """Shor-Preskill: 1 - 2 h(E) per sifted bit with perfect error
    correction, zero at E = 11.0 %; with f = 1.19 at 4.5 %: 1 - 2.19 h(0.045)."""
    assert float(en.asymptotic_key_rate_bps(1.0, 0.0, 1.0)) == pytest.approx(1.0)
    assert float(en.asymptotic_key_rate_bps(1.0, 0.1100, 1.0)) == pytest.approx(0.0, abs=1e-3)
    assert float(en.asymptotic_key_rate_bps(1.0, 0.1110, 1.0)) == 0.0
    assert float(en.asymptotic_key_rate_bps(1.1, 0.045, 1.19)) == pytest.approx(1.1 * (1 - 2.19 * h2(0.045)), rel=1e-12)


def test_finite_key_reproduces_yin_2020_within_10_percent():
    """Yin 2020 p. 504: 372 bits (0.12 bit/s) from 1.1 sifted bits/s at QBER
    4.5 %, f = 1.19, eps = 1e-10; 372 / 0.12 = 3,100 s of data."""
    proto = en.BBM92.yin_2020()
    bits = float(en.finite_key_bits(1.1 * 3100.0, 0.045, proto))
    assert bits == pytest.approx(372.0, rel=0.10)
    # The hand formula: n [1 - h(E + theta)] - f n h(E) - log2(2 / eps^3).
    n, k = 3410.0, 1705.0
    theta = math.sqrt(math.log(1e10) / (2 * k))
    assert bits == pytest.approx(n * (1 - h2(0.045 + theta)) - 1.19 * n * h2(0.045) - math.log2(2e30), rel=1e-9)


def test_finite_key_never_exceeds_asymptotic_and_approaches_it():
    proto = en.BBM92.yin_2020()
    n = np.logspace(2, 12, 30)
    fin = en.finite_key_bits(n, 0.03, proto)
    asym = en.asymptotic_key_rate_bps(n, 0.03, proto.f_ec)
    assert np.all(fin <= asym + 1e-9)
    assert np.all(np.diff(fin / n) >= -1e-12)
    assert fin[-1] / asym[-1] > 0.99
    serf = en.finite_key_bits(n, 0.03, dataclasses.replace(proto, phase_bound="serfling"))
    assert np.all(serf <= fin) and serf[-1] / asym[-1] > 0.98
    # Yin's 3,410 bits give nothing with the coherent-attack (Serfling) margin.
    assert float(en.finite_key_bits(3410.0, 0.045, dataclasses.replace(proto, phase_bound="serfling"))) == 0.0


def test_equidistant_geometry_against_the_slant_range():
    """Zero separation: the satellite equidistant from both is above the
    station, so the elevation is the one whose slant range is ``range``."""
    from satqkd.link import slant_range_km

    e = en.equidistant_elevation_deg(0.0, 800.0, 500.0)
    assert float(slant_range_km(e, 500.0)) == pytest.approx(800.0, rel=1e-6)
    assert en.equidistant_elevation_deg(0.0, 500.0, 500.0) == pytest.approx(90.0, abs=1e-3)
    with pytest.raises(SatqkdError):
        en.equidistant_elevation_deg(1200.0, 400.0, 500.0)


# --- joint windows -----------------------------------------------------------


def _passes(rows):
    return pd.DataFrame([{"pass_id": i, "satellite": s, "station": st,
                          "usable_start_utc": pd.Timestamp(a, tz="UTC"), "usable_end_utc": pd.Timestamp(b, tz="UTC")}
                         for i, (s, st, a, b) in enumerate(rows)])


def test_joint_windows_intersect_by_hand():
    p = _passes([
        ("S", "A", "2021-01-01 00:00:00", "2021-01-01 00:05:00"),
        ("S", "B", "2021-01-01 00:03:00", "2021-01-01 00:08:00"),
        ("S", "A", "2021-01-01 02:00:00", "2021-01-01 02:01:00"),   # no partner
        ("T", "B", "2021-01-01 00:00:00", "2021-01-01 00:10:00"),   # other satellite
        ("S", "B", "2021-01-01 00:04:59", "2021-01-01 00:04:59"),   # would overlap; one second
    ])
    w = joint_windows(p, "A", "B")
    assert list(w["start_utc"].dt.strftime("%H:%M:%S")) == ["00:03:00", "00:04:59"]
    assert list(w["end_utc"].dt.strftime("%H:%M:%S")) == ["00:05:00", "00:04:59"]
    assert list(w["duration_s"]) == [121, 1]
    assert list(w["pass_id_b"]) == [1, 4]
    with pytest.raises(SatqkdError):
        joint_windows(p, "A", "A")


def test_a_link_without_joint_windows_beside_one_with_them():
    """Regression: a dual downlink between stations that never see the
    satellite together made the windows table untyped, and the report failed."""
    from satqkd.detector import Detector
    from satqkd.report import _dual_section

    p = _passes([("S", "A", "2021-01-01 00:00:00", "2021-01-01 00:00:09"),
                 ("S", "B", "2021-01-01 00:00:00", "2021-01-01 00:00:09")])
    t = pd.date_range("2021-01-01", periods=10, freq="s", tz="UTC")
    sec = pd.concat([pd.DataFrame({"satellite": "S", "station": st, "time_utc": t, "elevation_deg": 45.0,
                                   "range_km": 700.0, "loss_db": 30.0, "efficiency": 1e-3, "background_cps": 100.0})
                     for st in ("A", "B", "C")], ignore_index=True)
    links = [en.DualDownlink(name, "A", b, None, en.EntangledSource(), en.BBM92()) for name, b in (("AC", "C"), ("AB", "B"))]
    dual = en.dual_downlink_stage(links, p, sec, {s: Detector() for s in "ABC"}, 1.0)
    assert list(dual.summary["windows"]) == [0, 1]
    assert str(dual.windows["start_utc"].dtype).startswith("datetime64")
    assert len(dual.seconds) == 10

    class R:
        pass

    r = R()
    r.dual = dual
    assert "AB" in "".join(_dual_section(r))


@pytest.fixture(scope="module")
def forecast(micius_2021):
    from satqkd.constraints import Constraints
    from satqkd.passes import find_passes
    from satqkd.stations import Station

    stations = [Station.delingha(), Station.nanshan()]
    return find_passes(micius_2021, stations, "2021-05-20", "2021-05-23", Constraints(min_elevation_deg=10.0),
                       allow_stale_elements=True)


def test_joint_seconds_are_the_common_seconds_of_the_pass_engine(forecast):
    """An independent count: the set intersection of each station's usable
    (satellite, second) pairs equals the joint seconds, and each joint window
    holds exactly the joint seconds inside it (one usable window per pass here)."""
    s = forecast.seconds
    sets = [set(zip(s.loc[s["station"] == n, "satellite"], s.loc[s["station"] == n, "time_utc"]))
            for n in ("Delingha", "Nanshan")]
    common = sets[0] & sets[1]
    j = joint_seconds(s, "Delingha", "Nanshan", columns=["elevation_deg"])
    assert len(common) > 100 and len(j) == len(common)
    w = joint_windows(forecast.passes, "Delingha", "Nanshan")
    assert w["duration_s"].sum() == len(common)
    assert (j["elevation_deg_a"] >= 10.0).all() and (j["elevation_deg_b"] >= 10.0).all()


# --- scenario, pipeline, outputs ---------------------------------------------


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

    return run(load_scenario(SCENARIO, raw=_raw()))


def test_dual_stage_sums_the_two_link_budgets(results):
    """The per-second two-link loss is the sum of two direct link_budget calls
    at the seconds' own geometry; the rates follow the hand formulas."""
    from satqkd.link import Telescope, Transmitter, link_budget
    from satqkd.detector import DETECTOR_PRESETS

    d = results.dual
    assert d is not None and len(d.seconds) > 100
    s = d.seconds.iloc[:: max(1, len(d.seconds) // 40)]
    tx, det = Transmitter.micius_entanglement(), DETECTOR_PRESETS["si_apd_810"]()
    sec = results.seconds.set_index(["station", "time_utc"])
    losses = []
    for side, name, tel in (("a", "Delingha", Telescope.delingha()), ("b", "Nanshan", Telescope.nanshan())):
        geo = sec.loc[[(name, t) for t in s["time_utc"]]]
        b = link_budget(s[f"range_km_{side}"].to_numpy(), s[f"elevation_deg_{side}"].to_numpy(), tx, tel, det,
                        site_height_m=results.scenario.stations[0 if side == "a" else 1].station.height_m,
                        sun_altitude_deg=geo["sun_altitude_deg"].to_numpy(), moon_altitude_deg=geo["moon_altitude_deg"].to_numpy(),
                        moon_illumination=geo["moon_illumination"].to_numpy(), moon_separation_deg=geo["moon_separation_deg"].to_numpy())
        losses.append(b)
    # rtol 1e-5: link_budget takes one turbulence integral at the median orbit
    # height of the samples it is given, and these are a subset.
    np.testing.assert_allclose(s["loss_db"], losses[0]["loss_db"].to_numpy() + losses[1]["loss_db"].to_numpy(), rtol=1e-5)
    src, tau = en.EntangledSource.micius_2020(), en.BBM92.yin_2020().coincidence_window_s
    ea, eb = losses[0]["efficiency"].to_numpy(), losses[1]["efficiency"].to_numpy()
    na = losses[0]["background_cps"].to_numpy() + det.dark_count_prob / det.window_s
    nb = losses[1]["background_cps"].to_numpy() + det.dark_count_prob / det.window_s
    true = src.pair_rate_hz * ea * eb
    acc = (src.pair_rate_hz * ea + na) * (src.pair_rate_hz * eb + nb) * tau
    np.testing.assert_allclose(s["coincidence_cps"], true + acc, rtol=1e-4)
    np.testing.assert_allclose(s["accidental_cps"], acc, rtol=1e-4)


def test_dual_windows_and_summary_add_up(results):
    d = results.dual
    w, row = d.windows, d.summary.iloc[0]
    assert row["windows"] == len(w) > 0
    assert row["joint_s"] == w["joint_s"].sum() == len(d.seconds)
    assert row["sifted_bits"] == pytest.approx(d.seconds["sifted_cps"].sum(), rel=1e-9)
    assert row["key_bits"] <= row["asymptotic_key_bits"]
    assert row["key_bits"] == pytest.approx(float(en.finite_key_bits(row["sifted_bits"], row["qber"], en.BBM92.yin_2020())))
    assert "only the two stations" in row["trusted"]


def test_run_writes_dual_outputs_identically_twice(results, tmp_path):
    from satqkd.pipeline import write_outputs

    a = write_outputs(results, tmp_path / "a", report=True)
    b = write_outputs(results, tmp_path / "b", report=False)
    c = write_outputs(results, tmp_path / "c", report=False, seconds="none")
    assert "dual_seconds" not in c and "dual_windows" in c
    for name in ("dual_summary", "dual_windows", "dual_seconds"):
        assert Path(a[name]).read_bytes() == Path(b[name]).read_bytes()
    run_json = __import__("json").loads(Path(a["run"]).read_text())
    assert run_json["dual_downlinks"][0]["key_bits"] == pytest.approx(results.dual.summary["key_bits"].iat[0])
    html = Path(a["report"]).read_text()
    assert "Entanglement dual downlink" in html and html.index("id='dual'") < html.index('id="totals"')


@pytest.mark.parametrize("change, needle", [
    ({"stations": ["delingha", "xinglong"]}, "dual_downlinks[0].stations[1]: unknown station 'xinglong'"),
    ({"stations": ["delingha", "Delingha"]}, "dual_downlinks[0].stations: expected two different stations"),
    ({"satellite": "NOPE"}, "dual_downlinks[0].satellite: unknown satellite 'NOPE'"),
    ({"source": {"preset": "micius_2020", "wavelength_nm": 850}}, "dual_downlinks[0].source.wavelength_nm: 850 nm differs"),
    ({"source": {"pair_rate": 1}}, "dual_downlinks[0].source.pair_rate: unknown key"),
    ({"protocol": {"phase_bound": "chernoff"}}, "dual_downlinks[0].protocol.phase_bound"),
])
def test_bad_dual_downlink_block_is_one_line(change, needle):
    from satqkd.config import load_scenario

    raw = _raw()
    raw["dual_downlinks"] = [{**raw["dual_downlinks"][0], **change}]
    with pytest.raises(SatqkdError) as err:
        load_scenario(SCENARIO, raw=raw)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg and str(SCENARIO) in msg


def test_bad_dual_downlink_exits_2_without_traceback(tmp_path, capsys):
    import yaml

    from satqkd.cli import main

    raw = _raw()
    raw["dual_downlinks"][0]["stations"] = ["delingha"]
    raw["satellites"][0]["orbit"]["elements"] = str(CONFIGS.parent / "ephemeris" / "micius-2021-04-27.tle")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["run", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert "dual_downlinks[0].stations[1]: required field is missing" in err
    assert not (tmp_path / "out").exists()


def test_shipped_scenario_is_listed():
    from satqkd.config import shipped

    assert "micius-2020-delingha-nanshan" in shipped("scenarios")


# --- validation rows ---------------------------------------------------------


@pytest.fixture(scope="module")
def rows():
    return en.validation_rows()


def test_validation_rows_have_the_fields_satqkd_validate_reads(rows):
    fields = ["architecture", "name", "quantity", "published", "value", "unit", "tolerance", "within", "source", "note"]
    assert len(rows) >= 4
    for r in rows:
        assert list(r) == fields
        assert r["architecture"] == "dual downlink" and isinstance(r["within"], bool)
        assert np.isfinite(r["value"]) and r["note"]


def test_yin_2020_key_stage_rows_are_within_tolerance(rows):
    """Yin 2020 p. 504: 0.43 bit/s asymptotic, 0.12 bit/s finite, both ±10 %."""
    by = {r["name"]: r for r in rows}
    assert by["Yin 2020 asymptotic key from the published counts"]["within"]
    assert by["Yin 2020 finite key from the published counts"]["within"]
    assert by["Yin 2020 finite key from the published counts"]["value"] == pytest.approx(0.12, rel=0.10)


def test_yin_2020_chain_is_optimistic_by_a_bounded_factor(rows):
    """Yin 2020 p. 503: 2.2 pairs/s.  The whole chain with the shipped 2020
    equipment gives more (the single-link optimism of the link model, twice);
    bounded so that a regression either way fails."""
    r = {x["name"]: x for x in rows}["Yin 2020 two-photon count rate, whole chain"]
    assert 2.2 < r["value"] < 2.2 * 30


def test_cli_run_says_the_dual_downlink_key_first(tmp_path, capsys):
    """`satqkd run` of a dual-downlink scenario: the first line is the
    entanglement key and whom it trusts; the files are written."""
    import yaml

    from satqkd.cli import main

    raw = _raw(days=1)
    raw["satellites"][0]["orbit"]["elements"] = str(CONFIGS.parent / "ephemeris" / "micius-2021-04-27.tle")
    path = tmp_path / "dual.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["run", str(path), "-o", str(tmp_path / "out"), "--no-report", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "dual downlink Delingha-Nanshan:" in lines[0] and "trusts only the two stations" in lines[0]
    assert "each station alone (prepare-and-measure downlink)" in lines[1]
    for name in ("dual_summary.csv", "dual_windows.csv", "dual_seconds.csv", "architectures.csv"):
        assert (tmp_path / "out" / name).exists()


def test_validation_rows_follow_the_equipment_files(rows):
    """The rows built from presets equal the rows built from the loaded
    equipment files they stand for (so a change to either is seen here)."""
    from satqkd.config import load_scenario

    nature = load_scenario(SCENARIO)
    again = en.validation_rows(nature_2020=nature)
    assert [r["name"] for r in again] == [r["name"] for r in rows]
    for a, b in zip(again, rows):
        assert a["value"] == pytest.approx(b["value"], rel=1e-6), a["name"]

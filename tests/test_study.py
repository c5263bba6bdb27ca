"""Dask runs give the serial run's tables, byte for byte; sweeps; Parquet partitions."""

import copy
import math

import pandas as pd
import pytest
import yaml
from conftest import short_scenario

from satqkd import pipeline, study
from satqkd.cli import main
from satqkd.config import load_scenario
from satqkd.errors import SatqkdError


def _two_stations(tmp_path):
    raw = short_scenario()
    raw["stations"].append({"preset": "xinglong", "detector": {"preset": "micius_2021_xinglong"}})
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_two_worker_cluster_writes_the_serial_tables_byte_for_byte(tmp_path):
    path = _two_stations(tmp_path)
    sc = load_scenario(path)
    serial = pipeline.run(sc)
    with study.cluster(workers=2) as client:  # real worker processes
        parallel = study.run(sc, client=client)
        # Workers keep glibc's own malloc trim threshold: Dask's 64 KiB made
        # them unmap and re-fault every unit's arrays (5 s of system time in
        # benchmarks/bench_study.py).
        import os

        trims = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        assert len(trims) == 2 and set(trims.values()) == {None}
    pipeline.write_outputs(serial, tmp_path / "a", report=False)
    pipeline.write_outputs(parallel, tmp_path / "b", report=False)
    for name in ("passes.csv", "seconds.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert set(serial.passes["station"]) == {"Nanshan", "Xinglong"}


def test_sweep_rows_and_report(tmp_path):
    path = _two_stations(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["stations"] = raw["stations"][:1]
    raw["sweep"] = {"aperture_m": [0.6, 1.2], "stations.0.detector.efficiency": [0.3, 0.6]}
    path.write_text(yaml.safe_dump(raw))
    sc = load_scenario(path)
    table = study.sweep(sc)
    assert len(table) == 4 and list(table.columns[:2]) == ["aperture_m", "stations.0.detector.efficiency"]
    key = table.set_index(["aperture_m", "stations.0.detector.efficiency"])["key_bits"]
    # A larger telescope and a better detector each give more key, the same passes.
    assert key[(1.2, 0.6)] > key[(0.6, 0.6)] and key[(1.2, 0.6)] > key[(1.2, 0.3)]
    assert table["passes"].nunique() == 1
    assert "Trade-off: telescope aperture (m)" in study.sweep_report(table, list(sc.sweep))


def test_sweep_unknown_parameter_is_one_line(tmp_path):
    path = _two_stations(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["sweep"] = {"colour": [1, 2]}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SatqkdError, match="sweep.colour: unknown parameter"):
        study.sweep_scenarios(load_scenario(path))


def test_large_per_second_tables_go_to_parquet_partitions(tmp_path, monkeypatch):
    path = _two_stations(tmp_path)
    results = pipeline.run(load_scenario(path))
    monkeypatch.setattr(pipeline, "SECONDS_CSV_MAX_ROWS", 10)
    pipeline.write_outputs(results, tmp_path / "out", report=False)
    parts = sorted((tmp_path / "out" / "seconds").glob("part-*.parquet"))
    assert not (tmp_path / "out" / "seconds.csv").exists() and len(parts) == 2
    back = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    assert len(back) == len(results.seconds)


def test_cli_run_weather_and_workers_options(tmp_path, capsys):
    path = _two_stations(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["weather"] = {"seed": 1, "years": 50}
    path.write_text(yaml.safe_dump(raw))
    assert main(["run", str(path), "-o", str(tmp_path / "w"), "--no-report"]) == 0
    passes = pd.read_csv(tmp_path / "w" / "passes.csv")
    assert {"clear", "scheduled", "not_scheduled_reason"} <= set(passes.columns)
    weather = pd.read_csv(tmp_path / "w" / "weather.csv")
    assert {"clear_sky_bits", "mean_bits", "p10_bits", "p90_bits"} <= set(weather.columns)
    assert main(["run", str(path), "-o", str(tmp_path / "c"), "--no-report", "--weather", "clear"]) == 0
    assert pd.read_csv(tmp_path / "c" / "passes.csv")["clear"].all()
    assert not (tmp_path / "c" / "weather.csv").exists()
    capsys.readouterr()
    assert main(["run", str(path), "-o", str(tmp_path / "x"), "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


def _sweep_over_heights(tmp_path):
    """Two sun-synchronous orbit heights x two apertures, one day over Nanshan."""
    raw = short_scenario()
    raw["start"] = "2026-11-28"
    raw["satellites"][0]["orbit"] = {"sun_synchronous": {"height_km": 500, "ltan_hours": 12.0}}
    raw["sweep"] = {"aperture_m": [0.6, 1.2], "height_km": [500, 800]}
    path = tmp_path / "heights.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_scenario(path)


def test_unit_cost_is_the_span_times_search_share_plus_the_sky_in_view(tmp_path):
    """Against a hand derivation by another route: the nadir angle eta of a
    station at elevation e seen from radius r is sin(eta) = R cos(e) / r (law
    of sines), the Earth-central angle lam = 90 deg - e - eta, and the cap
    within lam is (1 - cos lam) / 2 of the sphere."""
    from satqkd.pipeline import _SEARCH_COST_PER_SPAN_S, unit_cost, units

    sc = _sweep_over_heights(tmp_path)
    _, scenarios = study.sweep_scenarios(sc)
    span_s = 86400.0
    for combo in scenarios:
        sat = combo.satellites[0].satellite.model
        r_km, earth_km = sat.a * sat.radiusearthkm, sat.radiusearthkm
        e = math.radians(10.0)
        eta = math.asin(earth_km * math.cos(e) / r_km)
        lam = math.pi / 2 - e - eta
        expected = span_s * (_SEARCH_COST_PER_SPAN_S + (1 - math.cos(lam)) / 2)
        assert unit_cost(combo, units(combo)[0]) == pytest.approx(expected, rel=1e-9)
    # 800 km has 1.8 times the sky in view that 500 km has: the higher orbit costs more.
    costs = [unit_cost(c, units(c)[0]) for c in scenarios]
    assert costs[1] > 1.5 * costs[0] and costs[0] == pytest.approx(costs[2]) and costs[1] == pytest.approx(costs[3])


def test_units_go_to_the_cluster_longest_first_and_rows_stay_in_order(tmp_path):
    """The 800 km combinations (1.8 times the sky in view) are sent before the
    500 km ones; the rows still come back in the sweep's order, equal to the
    serial ones.  With 4 units on 2 threads each thread has one unit at a
    time (none queued behind it: the next goes to the first thread free)."""
    sc = _sweep_over_heights(tmp_path)
    serial = study.sweep(sc)
    sent, events = [], []
    with study.cluster(workers=2, processes=False) as client:
        submit = client.submit

        def spy(fn, raw, *args, **kwargs):
            sent.append(raw["satellites"][0]["orbit"]["sun_synchronous"]["height_km"])
            events.append("sent")
            return submit(fn, raw, *args, **kwargs)

        def progress(stage, done, total):
            if stage == "units":
                events.append(done)

        client.submit = spy
        parallel = study.sweep(sc, client, progress=progress)
    assert sent == [800, 800, 500, 500]
    assert events == ["sent", "sent", 0, "sent", 1, "sent", 2, 3, 4]
    assert parallel.equals(serial)

"""Dask runs give the serial run's tables, byte for byte; sweeps; Parquet partitions."""

import copy

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

"""The progress display names the real stage, counts passes, estimates the
time left, says when a cluster starts; --quiet and non-terminals get none."""

import contextlib
import io
import subprocess
import sys

import yaml
from conftest import short_scenario
from rich.console import Console

import satqkd.cli as cli
from satqkd import pipeline, study
from satqkd.cli import _Status, main
from satqkd.config import load_scenario


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_status_names_the_stage_counts_and_estimates_time_left():
    """It said 'searching passes' during the key stage, counted units (0/2)
    and showed 'left -:--:--' throughout."""
    clock = FakeClock()
    s = _Status(clock)
    s.update("passes", 0, 2)
    assert s.description == "searching passes" and s.count == "0/2 satellite-station pairs" and s.left == ""
    clock.now += 3.0
    s.update("key", 0, 1200)
    assert s.description == "key per pass" and s.count == "0/1,200 passes" and s.left == ""
    clock.now += 10.0
    s.update("key", 300, 1200)  # 30 passes a second: 900 more take 30 s
    assert s.count == "300/1,200 passes"
    assert s.left == "left 0:00:30" and s.elapsed == "elapsed 0:00:13"
    clock.now += 5.0  # no news for 5 s: the estimate counts down
    assert s.left == "left 0:00:25"
    s.update("schedule")
    assert s.description == "weather and schedule" and s.count == "" and s.left == ""
    assert s.text.startswith("weather and schedule  elapsed 0:00:18")


def test_status_on_a_cluster_and_in_a_serial_sweep():
    clock = FakeClock()
    s = _Status(clock)
    s.update("cluster")
    assert s.description == "starting the Dask cluster"  # not 'reading the scenario'
    s.update("units", 1, 4)
    s.update("passes done", 621, 0)
    assert s.description == "running on the cluster"
    assert s.count == "1/4 pairs, 621 passes done"
    s = _Status(clock)
    s.update("scenario", 1, 4)
    s.update("key", 5, 10)
    assert s.description == "combination 2/4: key per pass"


def test_pipeline_reports_the_key_stage_in_passes(tmp_path):
    raw = short_scenario()
    raw["stations"].append({"preset": "xinglong", "detector": {"preset": "micius_2021_xinglong"}})
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(raw))
    calls = []
    # In one process: the search of each unit, then one step per pass.
    results = pipeline.run(load_scenario(path), progress=lambda stage, done=0, total=0: calls.append((stage, done, total)),
                           processes=1)
    stages = [c[0] for c in calls]
    assert stages[:2] == ["passes", "passes"] and stages[-1] == "schedule"
    key = [c for c in calls if c[0] == "key"]
    n = len(results.passes)
    assert n > 0 and key[0] == ("key", 0, n) and key[-1] == ("key", n, n)
    assert [c[1] for c in key] == list(range(n + 1))  # one step per pass
    # The units side by side: the same stages, counted as the forked processes get on (steps
    # read every 0.2 s, so fewer), from 0 to every pass, never backwards.
    calls.clear()
    again = pipeline.run(load_scenario(path), progress=lambda stage, done=0, total=0: calls.append((stage, done, total)),
                         processes=2)
    assert len(again.passes) == n
    assert calls[0] == ("passes", 0, 2) and calls[-1][0] == "schedule"
    key = [c for c in calls if c[0] == "key"]
    assert key[0] == ("key", 0, n) and key[-1] == ("key", n, n) and all(c[2] == n for c in key)
    assert [c[1] for c in key] == sorted(c[1] for c in key)
    assert [c[0] for c in calls] == sorted((c[0] for c in calls), key=["passes", "key", "schedule"].index)


def test_a_cluster_run_says_the_cluster_is_starting(tmp_path, monkeypatch):
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(short_scenario()))
    sc = load_scenario(path)
    calls = []

    @contextlib.contextmanager
    def fake_cluster(workers=None, scheduler=None):
        calls.append(("cluster entered",))
        yield None  # serial: the stages after the start are the pipeline's

    monkeypatch.setattr(study, "cluster", fake_cluster)
    study.run(sc, workers=2, progress=lambda stage, done=0, total=0: calls.append((stage,)))
    assert calls[:2] == [("cluster",), ("cluster entered",)]


def _terminal(streams):
    def console():
        streams.append(io.StringIO())
        return Console(file=streams[-1], force_terminal=True, width=100)

    return console


def test_progress_draws_stage_count_and_time_on_a_terminal(monkeypatch):
    streams = []
    monkeypatch.setattr(cli, "_stderr_console", _terminal(streams))
    with cli._progress(False) as update:
        update("key", 3, 10)
        update.refresh()
        shown = streams[-1].getvalue()
    assert "key per pass" in shown and "3/10 passes" in shown and "elapsed 0:00:0" in shown
    assert "-:--:--" not in shown


def test_sweep_quiet_draws_nothing(tmp_path, monkeypatch, capsys):
    """`satqkd sweep` had no --quiet while `run` had."""
    raw = short_scenario()
    raw["sweep"] = {"aperture_m": [0.6, 1.2]}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(raw))
    streams = []
    monkeypatch.setattr(cli, "_stderr_console", _terminal(streams))
    assert main(["sweep", str(path), "-o", str(tmp_path / "q"), "--quiet"]) == 0
    assert streams[-1].getvalue() == ""
    assert main(["sweep", str(path), "-o", str(tmp_path / "p")]) == 0
    assert "writing outputs" in streams[-1].getvalue() or "key per pass" in streams[-1].getvalue()
    assert (tmp_path / "q" / "sweep.csv").read_bytes() == (tmp_path / "p" / "sweep.csv").read_bytes()


def test_passes_command_imports_neither_scipy_nor_the_scenario_models(tmp_path):
    """A plain `satqkd passes` paid 0.3 s for scipy.interpolate (the Sun's
    spline) and 0.07 s for satqkd.config; it needs neither."""
    code = ("import contextlib, io, sys\nfrom satqkd.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    rc = main(['passes', '--tle', 'ephemeris/micius-2021-04-27.tle', '--station', 'nanshan',"
            " '--start', '2021-04-27', '--days', '2', '--format', 'csv', '--quiet'])\n"
            "print(rc, 'scipy' in sys.modules, 'satqkd.config' in sys.modules)\n")
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.split() == ["0", "False", "False"]

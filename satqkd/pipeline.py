"""A scenario, end to end: passes -> per-second link -> key per pass.

:func:`run` is the library call under ``satqkd run``; it returns plain
DataFrames and the CLI and the report only format them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import keyrate, link
from .config import Scenario
from .errors import SatqkdError
from .passes import find_passes

__all__ = ["Results", "run", "write_outputs", "KEY_COLUMNS"]

KEY_COLUMNS = ["sifted_bits", "key_bits", "key_window_s", "mean_key_rate_bps", "qber", "min_loss_db", "mean_loss_db"]


@dataclass
class Results:
    """What a scenario produces: one row per pass, one row per usable second."""

    scenario: Scenario
    passes: pd.DataFrame
    seconds: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    network: object = None  # satqkd.network.NetworkResults when the scenario has a network: block


def _link_for(setup, sat_setup, geom: pd.DataFrame) -> pd.DataFrame:
    kwargs = {k: getattr(setup, k) for k in ("atmosphere", "turbulence", "sky") if getattr(setup, k) is not None}
    return link.link_budget(
        geom["range_km"].to_numpy(),
        geom["elevation_deg"].to_numpy(),
        sat_setup.transmitter,
        setup.telescope,
        setup.detector,
        site_height_m=setup.station.height_m,
        sun_altitude_deg=geom["sun_altitude_deg"].to_numpy(),
        moon_altitude_deg=geom["moon_altitude_deg"].to_numpy(),
        moon_illumination=geom["moon_illumination"].to_numpy(),
        moon_separation_deg=geom["moon_separation_deg"].to_numpy(),
        **kwargs,
    )


def run(scenario: Scenario) -> Results:
    """Forecast every pass of the scenario and the key each one yields."""
    for i, setup in enumerate(scenario.stations):
        # The link budget needs the satellite above the horizon (airmass).
        if setup.constraints.min_elevation_deg <= 0.0:
            raise SatqkdError(
                f"{scenario.path}: stations[{i}].constraints.min_elevation_deg: expected a value above 0 deg "
                f"for the link budget, got {setup.constraints.min_elevation_deg:g} (satqkd passes accepts it)"
            )
    pass_frames, second_frames, notes = [], [], []
    next_id = 0
    constraints = {s.station.name: s.constraints for s in scenario.stations}
    for sat_setup in scenario.satellites:
        forecast = find_passes(
            sat_setup.satellite,
            [s.station for s in scenario.stations],
            scenario.start,
            scenario.end,
            constraints,
        )
        notes.extend(forecast.warnings)
        passes, seconds = forecast.passes.copy(), forecast.seconds.copy()
        if passes.empty:
            continue
        # Renumber so pass ids are unique across satellites.
        remap = {old: next_id + i for i, old in enumerate(passes["pass_id"])}
        passes["pass_id"] = passes["pass_id"].map(remap)
        seconds["pass_id"] = seconds["pass_id"].map(remap)
        next_id += len(passes)

        link_parts = []
        for setup in scenario.stations:
            rows = seconds["station"] == setup.station.name
            if rows.any():
                budget = _link_for(setup, sat_setup, seconds.loc[rows])
                budget.index = seconds.index[rows]
                link_parts.append(budget.drop(columns=[c for c in ("range_km", "elevation_deg") if c in budget]))
        seconds = seconds.join(pd.concat(link_parts))

        key_rows = []
        seconds["key_rate_bps"] = 0.0
        seconds["in_key_window"] = False
        previous = {}
        for pid, g in seconds.groupby("pass_id", sort=True):
            setup = next(s for s in scenario.stations if s.station.name == g["station"].iat[0])
            eta = g["efficiency"].to_numpy()
            y0 = g["noise_prob"].to_numpy()
            elevation = g["elevation_deg"].to_numpy()
            if scenario.optimise:
                result = keyrate.optimise_pass(
                    eta, y0, sat_setup.source, setup.detector, scenario.protocol,
                    slot_s=1.0, elevation_deg=elevation, x0=previous.get(setup.station.name),
                )
                previous[setup.station.name] = result
            else:
                result = keyrate.finite_key(eta, y0, sat_setup.source, setup.detector, scenario.protocol, slot_s=1.0)
            per_pulse = keyrate.asymptotic_key_per_pulse(eta, y0, result.source, setup.detector, scenario.protocol)
            seconds.loc[g.index, "key_rate_bps"] = per_pulse * result.source.rep_rate_hz
            seconds.loc[g.index, "in_key_window"] = np.asarray(result.window_mask, bool)
            window_loss = g["loss_db"].to_numpy()[np.asarray(result.window_mask, bool)]
            key_rows.append(
                {
                    "pass_id": pid,
                    "sifted_bits": float(result.sifted_bits),
                    "key_bits": float(result.key_bits),
                    "key_window_s": float(result.window_s),
                    "mean_key_rate_bps": float(result.key_bits / result.window_s) if result.window_s > 0 else 0.0,
                    "qber": float(result.qber_x),
                    "min_loss_db": float(window_loss.min()) if window_loss.size else float("nan"),
                    "mean_loss_db": float(window_loss.mean()) if window_loss.size else float("nan"),
                }
            )
        passes = passes.merge(pd.DataFrame(key_rows), on="pass_id", how="left")
        pass_frames.append(passes)
        second_frames.append(seconds)

    if pass_frames:
        passes = pd.concat(pass_frames, ignore_index=True).sort_values(["rise_utc", "station"], kind="stable")
        seconds = pd.concat(second_frames, ignore_index=True)
    else:
        from .passes import PASS_COLUMNS, SECOND_COLUMNS

        passes = pd.DataFrame(columns=PASS_COLUMNS + KEY_COLUMNS)
        seconds = pd.DataFrame(columns=SECOND_COLUMNS)
    results = Results(scenario, passes.reset_index(drop=True), seconds, sorted(set(notes)))
    if scenario.network is not None:
        from .network import run_network

        results.network = run_network(scenario, results.passes)
    return results


def write_outputs(results: Results, out_dir: str | Path, *, report: bool = True) -> dict[str, Path]:
    """Write ``passes.csv``, ``seconds.csv`` (or ``.parquet``) and ``report.html``."""
    from .io import prepare_dir, render_table, write_files

    out = prepare_dir(out_dir)
    # Render everything first, then stage all files and rename them together:
    # an error leaves the folder as it was, never a mixed set.
    seconds_path = out / f"seconds.{results.scenario.seconds_format}"
    contents = {
        out / "passes.csv": render_table(results.passes, out / "passes.csv"),
        seconds_path: render_table(results.seconds, seconds_path),
    }
    if report:
        from .report import render_report

        contents[out / "report.html"] = render_report(results)
    if results.network is not None:
        from .network.report import network_files

        contents.update(network_files(results.network, out, title=results.scenario.name, report=report))
    paths = write_files(contents)
    return {("seconds" if p == seconds_path else p.stem): p for p in paths}

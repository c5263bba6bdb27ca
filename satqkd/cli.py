"""The ``satqkd`` command line: a thin shell over the library.

Every command turns its options into library calls and formats the
DataFrames it gets back; no physics lives here.  Bad input raises
:class:`~satqkd.errors.SatqkdError`, printed as one line with exit status 2.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from .errors import SatqkdError

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Plan satellite quantum key distribution: passes, link budgets and key per pass.",
    pretty_exceptions_enable=False,
)


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _emit(frame, fmt: Format, title: str = "", float_format: str = "{:.3f}") -> None:
    """Print a DataFrame as a rich table, CSV or JSON records."""
    import pandas as pd

    if fmt == Format.csv:
        sys.stdout.write(frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ"))
        return
    if fmt == Format.json:
        out = frame.copy()
        for c in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[c]):
                out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        sys.stdout.write(out.to_json(orient="records", indent=1) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None, header_style="bold", show_lines=False)
    for c in frame.columns:
        table.add_column(str(c), justify="left" if frame[c].dtype == object else "right")
    for _, row in frame.iterrows():
        cells = []
        for c in frame.columns:
            v = row[c]
            if isinstance(v, pd.Timestamp):
                cells.append(v.strftime("%Y-%m-%d %H:%M:%S"))
            elif isinstance(v, float):
                cells.append(float_format.format(v) if abs(v) < 1e6 else f"{v:.4g}")
            else:
                cells.append(str(v))
        table.add_row(*cells)
    Console(width=max(160, 0)).print(table)


def _warn(lines) -> None:
    for line in lines:
        typer.echo(f"satqkd: warning: {line}", err=True)


@app.command()
def run(
    scenario: Optional[Path] = typer.Argument(None, help="Scenario YAML (default: the shipped configs/micius.yaml)."),
    out: Path = typer.Option(Path("out"), "-o", "--out", help="Output folder for report.html, passes.csv, seconds.csv."),
    no_report: bool = typer.Option(False, "--no-report", help="Write the tables only."),
):
    """Run a whole scenario: passes, per-second link and key, report."""
    from .config import load_scenario
    from .pipeline import run as run_pipeline, write_outputs

    sc = load_scenario(scenario)
    results = run_pipeline(sc)
    _warn(results.warnings)
    written = write_outputs(results, out, report=not no_report)
    p = results.passes
    total = float(p["key_bits"].sum()) if len(p) else 0.0
    typer.echo(
        f"{sc.name}: {len(p)} passes from {sc.start.utc_strftime('%Y-%m-%d %H:%M')} to "
        f"{sc.end.utc_strftime('%Y-%m-%d %H:%M')} UTC, {total / 1e6:.2f} Mbit of final key"
    )
    for kind, path in written.items():
        typer.echo(f"  {kind:8s} {path}")


def _night(value: str):
    from .constraints import parse_night

    try:
        parse_night(value)
    except ValueError as exc:
        raise SatqkdError(f"--night: {exc}") from None
    try:
        return float(value)
    except ValueError:
        return value.lower()


@app.command()
def passes(
    scenario: Optional[Path] = typer.Argument(None, help="Scenario YAML; or give --tle/--omm and --station."),
    tle: Optional[Path] = typer.Option(None, "--tle", help="TLE file (2- or 3-line)."),
    omm: Optional[Path] = typer.Option(None, "--omm", help="CelesTrak OMM file (JSON, CSV or XML)."),
    station: Optional[List[str]] = typer.Option(None, "--station", help="Preset name or LAT,LON,HEIGHT_M (repeatable)."),
    start: Optional[str] = typer.Option(None, "--start", help="Start (ISO date/time, UTC); default: the scenario's, or today."),
    days: Optional[float] = typer.Option(None, "--days", help="Length of the span in days (default 7)."),
    min_elevation: Optional[float] = typer.Option(None, "--min-elevation", help="Minimum elevation (deg)."),
    night: Optional[str] = typer.Option(None, "--night", help="none|civil|nautical|astronomical|DEG (sun altitude limit)."),
    horizon_mask: Optional[Path] = typer.Option(None, "--horizon-mask", help="File of 'azimuth_deg elevation_deg' rows."),
    moon_separation: Optional[float] = typer.Option(None, "--moon-separation", help="Minimum Moon separation (deg)."),
    max_range_km: Optional[float] = typer.Option(None, "--max-range-km", help="Maximum slant range (km)."),
    fmt: Format = typer.Option(Format.table, "--format", help="Output format."),
):
    """Forecast passes (no report is written)."""
    import dataclasses
    import datetime as dt

    from .config import build_block, load_scenario
    from .constraints import Constraints
    from .elements import load_elements
    from .passes import find_passes, to_time
    from .stations import load_horizon_mask, parse_station

    if days is not None and not days > 0:
        raise SatqkdError(f"--days: expected a positive number of days, got {days}")
    overrides = {}
    if min_elevation is not None:
        overrides["min_elevation_deg"] = min_elevation
    if night is not None:
        overrides["night"] = _night(night)
    if moon_separation is not None:
        overrides["moon_separation_deg"] = moon_separation
    if max_range_km is not None:
        overrides["max_range_km"] = max_range_km

    if scenario is not None:
        sc = load_scenario(scenario)
        sats = [s.satellite for s in sc.satellites]
        stations = [s.station for s in sc.stations]
        cons = {s.station.name: build_block(Constraints, {}, {**dataclasses.asdict(s.constraints), **overrides}, "options") for s in sc.stations}
        t0, t1 = sc.start, sc.end
    else:
        if (tle is None) == (omm is None):
            raise SatqkdError("passes: give a scenario, or exactly one of --tle FILE / --omm FILE with --station")
        sats = load_elements(tle or omm)
        if not station:
            raise SatqkdError("passes: --station: give at least one station (a preset such as nanshan, or LAT,LON,HEIGHT_M)")
        stations = [parse_station(s) for s in station]
        cons = build_block(Constraints, {}, overrides, "options")
        today = dt.datetime.now(dt.timezone.utc).date()
        t0 = to_time(dt.datetime(today.year, today.month, today.day))
        t1 = None
    if start is not None:
        t0 = to_time(start)
        t1 = None
    if t1 is None or days is not None:
        t1 = t0.ts.tt_jd(t0.tt + (days if days is not None else 7.0))
    if horizon_mask is not None:
        mask = load_horizon_mask(horizon_mask)
        stations = [dataclasses.replace(s, horizon_mask=mask) for s in stations]
    forecast = find_passes(sats, stations, t0, t1, cons, per_second=False)
    _warn(forecast.warnings)
    table = forecast.passes.drop(columns=["pass_id"])
    if fmt == Format.table:
        table = table[["satellite", "station", "rise_utc", "culmination_utc", "set_utc", "max_elevation_deg",
                       "min_range_km", "usable_start_utc", "usable_end_utc", "usable_s", "clipped", "sunlit"]]
    _emit(table, fmt, title=f"{len(table)} passes", float_format="{:.1f}")


@app.command()
def link(
    scenario: Optional[Path] = typer.Argument(None, help="Scenario YAML (default: the shipped configs/micius.yaml)."),
    compare_geo: bool = typer.Option(False, "--compare-geo", help="Print the LEO-versus-GEO loss comparison."),
    height_km: float = typer.Option(500.0, "--height-km", help="Orbit height for the loss-vs-elevation table."),
    fmt: Format = typer.Option(Format.table, "--format", help="Output format."),
):
    """Loss budget against elevation (a row per 5 deg, a column per component)."""
    from . import link as linklib
    from .config import load_scenario

    if compare_geo:
        _emit(linklib.geo_comparison(), fmt, title="LEO (Micius 2021) versus GEO downlink", float_format="{:.2f}")
        return
    if not height_km > 0:
        raise SatqkdError(f"--height-km: expected a positive height, got {height_km}")
    sc = load_scenario(scenario)
    for setup in sc.stations:
        for sat in sc.satellites[:1]:
            table = linklib.loss_table(sat.transmitter, setup.telescope, setup.detector,
                                       height_km=height_km, site_height_m=setup.station.height_m)
            _emit(table, fmt, title=f"Loss budget (dB): {sat.satellite.name} -> {setup.station.name}", float_format="{:.2f}")


def _range(text: str, option: str):
    import numpy as np

    parts = text.split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        return np.array(values)
    if len(values) != 3 or values[2] <= 0 or values[1] < values[0]:
        raise SatqkdError(f"{option} {text!r}: expected START:STOP:STEP with STOP >= START and STEP > 0, or one value")
    start, stop, step = values
    return np.round(np.arange(start, stop + step / 2, step), 10)


@app.command()
def keyrate(
    system: Path = typer.Option(..., "--system", help="Equipment YAML: source, detector, protocol (e.g. configs/systems/gys-2004.yaml)."),
    loss_db: Optional[str] = typer.Option(None, "--loss-db", help="Channel loss START:STOP:STEP (dB)."),
    fibre_km: Optional[str] = typer.Option(None, "--fibre-km", help="Fibre length START:STOP:STEP (km)."),
    asymptotic: bool = typer.Option(False, "--asymptotic", help="Infinite-key (GLLP decoy) rate."),
    block_pulses: Optional[float] = typer.Option(None, "--block-pulses", help="Finite block: pulses sent."),
    block_detections: Optional[float] = typer.Option(None, "--block-detections", help="Finite block: n_X detections (Lim 2014)."),
    optimise: bool = typer.Option(False, "--optimise", help="Optimise intensities, probabilities and q_x."),
    fmt: Format = typer.Option(Format.table, "--format", help="Output format."),
):
    """Key rate against loss, without any orbit."""
    from . import keyrate as kr

    if (loss_db is None) == (fibre_km is None):
        raise SatqkdError("keyrate: give exactly one of --loss-db START:STOP:STEP or --fibre-km START:STOP:STEP")
    given = [asymptotic, block_pulses is not None, block_detections is not None]
    if sum(given) != 1:
        raise SatqkdError("keyrate: give exactly one of --asymptotic, --block-pulses N, --block-detections N")
    for name, value in (("--block-pulses", block_pulses), ("--block-detections", block_detections)):
        if value is not None and not value > 0:
            raise SatqkdError(f"{name}: expected a positive number, got {value:g}")
    sys_ = kr.load_system(system)
    table = kr.keyrate_table(
        sys_.source, sys_.detector, sys_.protocol,
        loss_db=_range(loss_db, "--loss-db") if loss_db is not None else None,
        fibre_km=_range(fibre_km, "--fibre-km") if fibre_km is not None else None,
        fibre_loss_db_per_km=sys_.fibre_loss_db_per_km,
        block_pulses=block_pulses, block_detections=block_detections,
        asymptotic=asymptotic, optimise=optimise,
    )
    _emit(table, fmt, title=f"Key rate: {system.name}", float_format="{:.4g}")


class ElementsFormat(str, Enum):
    tle = "tle"
    three_le = "3le"
    omm_json = "omm-json"
    omm_csv = "omm-csv"
    omm_xml = "omm-xml"


@app.command()
def elements(
    kind: str = typer.Argument(..., help="sso | geo | classical | convert"),
    epoch: Optional[str] = typer.Option(None, "--epoch", help="Epoch (ISO, UTC); default now."),
    name: Optional[str] = typer.Option(None, "--name", help="Object name."),
    height_km: Optional[float] = typer.Option(None, "--height-km", help="Height above the equator (sso, classical)."),
    ltan_hours: float = typer.Option(0.5, "--ltan-hours", help="Local time of the ascending node (sso)."),
    longitude_deg: Optional[float] = typer.Option(None, "--longitude-deg", help="Longitude (geo)."),
    semi_major_axis_km: Optional[float] = typer.Option(None, "--semi-major-axis-km"),
    eccentricity: float = typer.Option(0.0, "--eccentricity"),
    inclination_deg: Optional[float] = typer.Option(None, "--inclination-deg"),
    raan_deg: float = typer.Option(0.0, "--raan-deg"),
    arg_perigee_deg: float = typer.Option(0.0, "--arg-perigee-deg"),
    mean_anomaly_deg: float = typer.Option(0.0, "--mean-anomaly-deg"),
    source_file: Optional[Path] = typer.Option(None, "--from", help="Element file to convert (convert)."),
    fmt: ElementsFormat = typer.Option(ElementsFormat.three_le, "--format", help="Output format."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write to this file (atomically) instead of stdout."),
):
    """Build an element set (sso, geo, classical) or convert one, and export it as TLE or OMM."""
    import datetime as dt

    from . import elements as el
    from .passes import to_time

    t = to_time(epoch) if epoch else to_time(dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
    kind = kind.lower()
    if kind == "sso":
        sats = [el.sun_synchronous(height_km if height_km is not None else 500.0, ltan_hours, t, name=name or "SSO", eccentricity=eccentricity)]
    elif kind == "geo":
        if longitude_deg is None:
            raise SatqkdError("elements geo: --longitude-deg is required")
        sats = [el.geostationary(longitude_deg, t, name=name or "GEO")]
    elif kind == "classical":
        if inclination_deg is None or (height_km is None) == (semi_major_axis_km is None):
            raise SatqkdError("elements classical: give --inclination-deg and exactly one of --height-km / --semi-major-axis-km")
        sats = [el.classical(semi_major_axis_km=semi_major_axis_km, height_km=height_km, eccentricity=eccentricity,
                             inclination_deg=inclination_deg, raan_deg=raan_deg, arg_perigee_deg=arg_perigee_deg,
                             mean_anomaly_deg=mean_anomaly_deg, epoch=t, name=name or "SAT")]
    elif kind == "convert":
        if source_file is None:
            raise SatqkdError("elements convert: --from FILE is required")
        sats = el.load_elements(source_file)
    else:
        raise SatqkdError(f"elements: unknown kind {kind!r}; expected sso, geo, classical or convert")
    text = el.format_elements(sats, fmt.value)
    if output is None:
        sys.stdout.write(text)
    else:
        from .io import write_atomic

        write_atomic(output, text)
        typer.echo(f"wrote {output}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning input errors into one line and exit 2."""
    try:
        app(args=argv, standalone_mode=False)
    except SatqkdError as exc:
        typer.echo(f"satqkd: error: {exc}", err=True)
        return 2
    except FileNotFoundError as exc:
        typer.echo(f"satqkd: error: {exc.filename}: no such file", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("satqkd: interrupted", err=True)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            return 1
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

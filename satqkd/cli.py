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
        table.add_column(str(c), justify="right" if pd.api.types.is_numeric_dtype(frame[c]) else "left")
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
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # pipes and files get the whole table, unwrapped
    console.print(table)


def _warn(lines) -> None:
    for line in lines:
        typer.echo(f"satqkd: warning: {line}", err=True)


@app.command()
def run(
    scenario: Optional[Path] = typer.Argument(None, help="Scenario YAML (default: the shipped configs/micius.yaml)."),
    out: Path = typer.Option(Path("out"), "-o", "--out", help="Output folder for report.html, passes.csv, seconds.csv."),
    no_report: bool = typer.Option(False, "--no-report", help="Write the tables only."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Run on a local Dask cluster of N worker processes."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run on the existing Dask cluster at ADDRESS."),
    weather: Optional[str] = typer.Option(None, "--weather", help="clear: every night clear; draw: one seeded weather year "
                                          "(default: draw if the scenario has a weather block)."),
    seconds: str = typer.Option("auto", "--seconds", help="Per-second table: auto (CSV up to 100,000 rows, else "
                                "partitioned Parquet), single, parquet or none."),
):
    """Run a whole scenario: passes, per-second link and key, weather, schedule, report."""
    from .config import load_scenario
    from .pipeline import weather_tables, write_outputs
    from .schedule import lost_to_conflicts
    from .study import run as run_study

    if out.exists() and not out.is_dir():
        # Found before the run, not after minutes of computing.
        raise SatqkdError(f"-o/--out {out}: exists and is not a folder")
    if weather not in (None, "clear", "draw"):
        raise SatqkdError(f"--weather: expected clear or draw, got {weather!r}")
    if seconds not in ("auto", "single", "parquet", "none"):
        raise SatqkdError(f"--seconds: expected auto, single, parquet or none, got {seconds!r}")
    sc = load_scenario(scenario)
    draw = None if weather is None else weather == "draw"
    results = run_study(sc, workers=workers, scheduler=scheduler, weather=draw)
    _warn(results.warnings)
    extra = {}
    if sc.weather is not None and weather != "clear":
        from .io import render_table

        yearly, monthly = weather_tables(results)
        extra = {"weather.csv": render_table(yearly, "weather.csv"), "weather-monthly.csv": render_table(monthly, "weather-monthly.csv")}
    written = write_outputs(results, out, report=not no_report, seconds=seconds, extra=extra)
    p = results.passes
    total = float(p["key_bits"].sum()) if len(p) else 0.0
    delivered = float(p.loc[p["scheduled"] & p["clear"], "key_bits"].sum()) if len(p) else 0.0
    typer.echo(
        f"{sc.name}: {len(p)} passes from {sc.start.utc_strftime('%Y-%m-%d %H:%M')} to "
        f"{sc.end.utc_strftime('%Y-%m-%d %H:%M')} UTC, {total / 1e6:.2f} Mbit of final key "
        f"({delivered / 1e6:.2f} Mbit in {int(p['scheduled'].sum()) if len(p) else 0} scheduled passes, "
        f"{lost_to_conflicts(p) / 1e6:.2f} Mbit lost to conflicts)"
    )
    for kind, path in written.items():
        if not kind.startswith("seconds["):
            typer.echo(f"  {kind:8s} {path}")
    if any(k.startswith("seconds[") for k in written):
        typer.echo(f"  seconds  {out / 'seconds'}/ (Parquet, one file per satellite and station)")


@app.command()
def sweep(
    scenario: Path = typer.Argument(..., help="Scenario YAML with a sweep: block (parameter: [values])."),
    out: Path = typer.Option(Path("sweep"), "-o", "--out", help="Output folder for sweep.csv and sweep.html."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Run on a local Dask cluster of N worker processes."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run on the existing Dask cluster at ADDRESS."),
):
    """Run every combination of a scenario's sweep: one row each, and trade-off plots."""
    from .config import load_scenario
    from .io import prepare_dir, render_table, write_files
    from .study import cluster, sweep as run_sweep, sweep_report

    if out.exists() and not out.is_dir():
        raise SatqkdError(f"-o/--out {out}: exists and is not a folder")
    sc = load_scenario(scenario)
    if not sc.sweep:
        raise SatqkdError(f"{scenario}: sweep: missing block; expected parameter: [values, ...]")
    with cluster(workers, scheduler) as client:
        table = run_sweep(sc, client)
    folder = prepare_dir(out)
    paths = write_files({folder / "sweep.csv": render_table(table, folder / "sweep.csv"),
                         folder / "sweep.html": sweep_report(table, list(sc.sweep), title=f"Sweep: {sc.name}")})
    _emit(table, Format.table, title=f"{len(table)} combinations", float_format="{:.4g}")
    for path in paths:
        typer.echo(f"  {path}")


MAX_DAYS = 3660.0  # the same limit as a scenario's ``days``


def _time(value: str, option: str):
    """A skyfield Time from an option's ISO text, with the option in any error."""
    from .passes import to_time

    try:
        return to_time(value)
    except (SatqkdError, ValueError, TypeError, OverflowError):
        raise SatqkdError(f"{option} {value!r}: expected an ISO date/time (UTC) such as 2026-11-28 or 2026-11-28T18:00:00") from None


# Constraint fields and the ``passes`` options that set them.
_CONSTRAINT_OPTIONS = {
    "min_elevation_deg": "--min-elevation",
    "night": "--night",
    "moon_separation_deg": "--moon-separation",
    "max_range_km": "--max-range-km",
}


def _constraints(base: dict, overrides: dict):
    """Constraints from ``base`` fields with the command line's ``overrides``.

    Each override is validated on its own first, so an error names the
    option (``--min-elevation``) rather than the dataclass field.
    """
    from pydantic import TypeAdapter, ValidationError

    from .config import format_validation_error
    from .constraints import Constraints

    adapter = TypeAdapter(Constraints)
    for key, value in overrides.items():
        try:
            adapter.validate_python({key: value})
        except ValidationError as exc:
            message = format_validation_error(exc, _CONSTRAINT_OPTIONS[key])
            # "--night: night: expected ..." -> "--night: expected ..."
            raise SatqkdError(message.replace(f": {key}: ", ": ", 1)) from None
    return adapter.validate_python({**base, **overrides})


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
    import pandas as pd

    import dataclasses
    import datetime as dt

    from .config import check_span, load_scenario
    from .elements import load_elements
    from .passes import find_passes, to_time
    from .stations import load_horizon_mask, parse_station

    if days is not None and not 0 < days <= MAX_DAYS:
        raise SatqkdError(f"--days: expected a number of days greater than 0 and at most {MAX_DAYS:g}, got {days:g}")
    if scenario is not None and (tle is not None or omm is not None or station):
        raise SatqkdError("passes: give either a scenario or --tle/--omm with --station, not both")
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
        cons = {s.station.name: _constraints(dataclasses.asdict(s.constraints), overrides) for s in sc.stations}
        t0, t1 = sc.start, sc.end
    else:
        if (tle is None) == (omm is None):
            raise SatqkdError("passes: give a scenario, or exactly one of --tle FILE / --omm FILE with --station")
        sats = load_elements(tle or omm)
        if not station:
            raise SatqkdError("passes: --station: give at least one station (a preset such as nanshan, or LAT,LON,HEIGHT_M)")
        stations = [parse_station(s) for s in station]
        cons = _constraints({}, overrides)
        today = dt.datetime.now(dt.timezone.utc).date()
        t0 = to_time(dt.datetime(today.year, today.month, today.day))
        t1 = None
    if start is not None:
        t0 = _time(start, "--start")
        t1 = None
    if t1 is None or days is not None:
        t1 = t0.ts.tt_jd(t0.tt + (days if days is not None else 7.0))
    check_span(t0, t1, "", labels=("--start", "--start + --days"))
    if horizon_mask is not None:
        mask = load_horizon_mask(horizon_mask)
        stations = [dataclasses.replace(s, horizon_mask=mask) for s in stations]
    forecast = find_passes(sats, stations, t0, t1, cons, per_second=False)
    _warn(forecast.warnings)
    table = forecast.passes.drop(columns=["pass_id"])
    if fmt == Format.table:
        # A terminal is narrow: one date column, then times of day.
        def hms(col):
            return table[col].dt.strftime("%H:%M:%S") if len(table) else table[col]

        table = pd.DataFrame({
            "satellite": table["satellite"], "station": table["station"],
            "date (UTC)": table["rise_utc"].dt.strftime("%Y-%m-%d") if len(table) else table["rise_utc"],
            "rise": hms("rise_utc"), "culmination": hms("culmination_utc"), "set": hms("set_utc"),
            "max el (deg)": table["max_elevation_deg"], "min range (km)": table["min_range_km"],
            "usable from": hms("usable_start_utc"), "to": hms("usable_end_utc"), "usable (s)": table["usable_s"],
            "clipped": table["clipped"].map({True: "yes", False: ""}),
            "sunlit": table["sunlit"].map({True: "yes", False: ""}),
        })
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
        _emit(linklib.geo_comparison().rename_axis("link").reset_index(), fmt, title="LEO (Micius 2021) versus GEO downlink", float_format="{:.2f}")
        return
    if not height_km > 0:
        raise SatqkdError(f"--height-km: expected a positive height, got {height_km}")
    import pandas as pd

    sc = load_scenario(scenario)
    tables = []
    for setup in sc.stations:
        for sat in sc.satellites[:1]:
            table = linklib.loss_table(sat.transmitter, setup.telescope, setup.detector,
                                       height_km=height_km, site_height_m=setup.station.height_m)
            if fmt == Format.table:
                _emit(table, fmt, title=f"Loss budget (dB): {sat.satellite.name} -> {setup.station.name}", float_format="{:.2f}")
            else:
                tables.append(table.assign(satellite=sat.satellite.name, station=setup.station.name))
    if tables:
        # One CSV/JSON document for all stations (two concatenated ones parse as neither).
        table = pd.concat(tables, ignore_index=True)
        _emit(table[["satellite", "station"] + [c for c in table.columns if c not in ("satellite", "station")]], fmt)


MAX_POINTS = 10_000  # rows of a keyrate table: more is a typo, not a plan


def _range(text: str, option: str):
    """``START:STOP:STEP`` (inclusive) or one value; finite and non-negative."""
    import math

    import numpy as np

    parts = text.split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    expected = "expected START:STOP:STEP (numbers >= 0, STOP >= START, STEP > 0) or one number >= 0"
    if len(values) not in (1, 3) or not all(math.isfinite(v) for v in values) or min(values[:2]) < 0:
        raise SatqkdError(f"{option} {text!r}: {expected}")
    if len(values) == 1:
        return np.array(values)
    start, stop, step = values
    if step <= 0 or stop < start:
        raise SatqkdError(f"{option} {text!r}: {expected}")
    # Inclusive of STOP when it falls on the grid (allowing for rounding in STEP).
    n = math.floor((stop - start) / step * (1 + 1e-12) + 1e-9) + 1
    if n > MAX_POINTS:
        raise SatqkdError(f"{option} {text!r}: {n} points; expected at most {MAX_POINTS} (use a larger STEP)")
    return np.round(start + step * np.arange(n), 10)


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
        if value is not None and not 0 < value < float("inf"):
            raise SatqkdError(f"{name}: expected a positive finite number, got {value:g}")
    from .config import load_system

    sys_ = load_system(system)
    table = kr.keyrate_table(
        sys_.source, sys_.detector, sys_.protocol,
        loss_db=_range(loss_db, "--loss-db") if loss_db is not None else None,
        fibre_km=_range(fibre_km, "--fibre-km") if fibre_km is not None else None,
        fibre_loss_db_per_km=sys_.channel.fibre_loss_db_per_km,
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
    ltan_hours: float = typer.Option(12.0, "--ltan-hours", help="Local time of the ascending node, hours (sso; 12 = Micius-like)."),
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

    import math

    kind = kind.lower()
    if kind not in ("sso", "geo", "classical", "convert"):
        raise SatqkdError(f"elements: unknown kind {kind!r}; expected sso, geo, classical or convert")
    t = _time(epoch, "--epoch") if epoch else to_time(dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
    numbers = {
        "--height-km": height_km, "--ltan-hours": ltan_hours, "--longitude-deg": longitude_deg,
        "--semi-major-axis-km": semi_major_axis_km, "--eccentricity": eccentricity,
        "--inclination-deg": inclination_deg, "--raan-deg": raan_deg,
        "--arg-perigee-deg": arg_perigee_deg, "--mean-anomaly-deg": mean_anomaly_deg,
    }
    for option, value in numbers.items():
        if value is not None and not math.isfinite(value):
            raise SatqkdError(f"elements {kind}: {option}: expected a finite number, got {value}")
    if not 0.0 <= eccentricity < 1.0:
        raise SatqkdError(f"elements {kind}: --eccentricity: expected 0 <= e < 1, got {eccentricity:g}")
    if height_km is not None and not 150.0 < height_km < 100000.0:
        # Below ~150 km an orbit decays within hours; SGP4 is not meant for it.
        raise SatqkdError(f"elements {kind}: --height-km: expected a height between 150 and 100,000 km, got {height_km:g}")
    for option in ("--raan-deg", "--arg-perigee-deg", "--mean-anomaly-deg"):
        if not -360.0 <= numbers[option] <= 360.0:
            raise SatqkdError(f"elements {kind}: {option}: expected an angle from -360 to 360 degrees, got {numbers[option]:g}")
    try:
        sats = _build_elements(el, kind, t, name, height_km, ltan_hours, longitude_deg, semi_major_axis_km, eccentricity,
                               inclination_deg, raan_deg, arg_perigee_deg, mean_anomaly_deg, source_file)
        text = el.format_elements(sats, fmt.value)
    except SatqkdError as exc:
        message = str(exc)
        field = message.split(":", 1)[0]
        if f"--{field.replace('_', '-')}" in numbers:
            # The library names its argument (height_km); the user typed --height-km.
            message = f"--{field.replace('_', '-')}" + message[len(field):]
        if not message.startswith("elements"):
            message = f"elements {kind}: {message}"
        raise SatqkdError(message) from None
    if output is None:
        sys.stdout.write(text)
    else:
        from .io import write_atomic

        write_atomic(output, text)
        typer.echo(f"wrote {output}", err=True)


def _build_elements(el, kind, t, name, height_km, ltan_hours, longitude_deg, semi_major_axis_km, eccentricity,
                    inclination_deg, raan_deg, arg_perigee_deg, mean_anomaly_deg, source_file):
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
    return sats


def _click_exceptions():
    """The click exception classes in use: typer >= 0.26 vendors click as ``typer._click``."""
    usage, abort = [], [typer.Abort]
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            mod = __import__(module, fromlist=["ClickException"])
        except ImportError:
            continue
        usage.append(mod.ClickException)
        if hasattr(mod, "Abort"):
            abort.append(mod.Abort)
    return tuple(usage), tuple(abort)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning input errors into one line and exit 2."""
    usage_errors, aborts = _click_exceptions()
    try:
        app(args=argv, standalone_mode=False, prog_name="satqkd")
    except SatqkdError as exc:
        typer.echo(f"satqkd: error: {_one_line(exc)}", err=True)
        return 2
    except FileNotFoundError as exc:
        typer.echo(f"satqkd: error: {exc.filename}: no such file", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("satqkd: interrupted", err=True)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except usage_errors as exc:
        # A usage error (unknown option, bad --format, missing argument):
        # one line like every other error, naming the command.
        message = _one_line(exc.format_message()).replace("Value error, ", "")
        if not message:  # no_args_is_help: the help has been printed
            return exc.exit_code
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None and ctx.command_path else "satqkd"
        sub = command.split(" ", 1)[1] + ": " if " " in command else ""
        typer.echo(f"satqkd: error: {sub}{message} (see '{command} --help')", err=True)
        return exc.exit_code
    except aborts:
        typer.echo("satqkd: aborted", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

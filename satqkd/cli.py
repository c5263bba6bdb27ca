"""The ``satqkd`` command line: a thin shell over the library.

Every command turns its options into library calls and formats the
DataFrames it gets back; no physics lives here.  Bad input raises
:class:`~satqkd.errors.SatqkdError`, printed as one line with exit status 2.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .errors import SIGNAL_WORDS, SatqkdError

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Plan satellite quantum key distribution: passes, link budgets and key per pass.",
    epilog="Start with: satqkd run   (the default scenario; satqkd scenarios lists the shipped ones)",
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"satqkd {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
):
    """Plan satellite quantum key distribution: passes, link budgets and key per pass."""


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


_UNITS = {"_deg": "deg", "_km": "km", "_db": "dB", "_s": "s", "_bps": "bit/s", "_cps": "counts/s",
          "_bits": "bits", "_hz": "Hz", "_m": "m", "_hours": "h"}


def _header(name: str) -> str:
    """``geometric_loss_db`` -> ``geometric loss (dB)`` (terminal tables only)."""
    for suffix, unit in _UNITS.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return f"{name[:-len(suffix)].replace('_', ' ')} ({unit})"
    return name.replace("_", " ")


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _sci(v: float, digits: int = 2) -> str:
    """Compact scientific notation: 7.10e-4, 1.23e+9."""
    mantissa, exponent = f"{v:.{digits}e}".split("e")
    return f"{mantissa}e{int(exponent):+d}"


def _number_formatter(values, significant: int = 4):
    """One format for a numeric column, the only number format of the
    terminal tables.

    A column is either all plain or all scientific, never a mix: scientific
    (``7.10e-4``, ``3.10e+12``) when any non-zero value is below 1e-3 or
    the largest reaches 1e7; otherwise plain, with the decimals that give
    the largest value ``significant`` digits, and more for a small value
    that would otherwise show fewer than three (``4829``, ``18``, ``8.74``,
    ``0.148`` in one column).  Whole-number columns have no decimals.
    """
    import numpy as np

    finite = np.abs(np.asarray(values, dtype=float))
    finite = finite[np.isfinite(finite)]
    nonzero = finite[finite > 0]
    top = float(finite.max()) if finite.size else 0.0
    if top == 0.0:
        decimals = 1
    else:
        decimals = int(min(max(significant - 1 - math.floor(math.log10(top)), 0), 6))
    column_sci = bool(nonzero.size) and (float(nonzero.min()) < 1e-3 or top >= 1e7)
    whole = bool(finite.size) and bool(np.all(finite == np.round(finite)))
    if whole:
        decimals = 0  # counts and whole seconds

    def fmt(v) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        v = float(v)
        if v == 0.0:
            return "0"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if column_sci:
            return _sci(v)
        d = decimals
        if not whole:
            d = max(d, min(2 - math.floor(math.log10(abs(v))), 6))  # at least three significant digits
        return f"{v:.{d}f}"

    return fmt


def _emit(frame, fmt: Format, title: str = "", float_format: str | None = None, *, keep: int = 1, overflow: str = "drop") -> None:
    """Print a DataFrame as a rich table, CSV or JSON records.

    The table never cuts a number: each column is as wide as its widest
    cell.  When the table is wider than the terminal (or ``$COLUMNS``), the
    columns that do not fit are dropped (``overflow="drop"``; the footer
    names them) or printed as further tables below, repeating the first
    ``keep`` columns (``overflow="stack"``).  Columns are in order of
    importance: the last ones go first.  Piped output without ``$COLUMNS``
    gets the whole table on one line per row.  ``float_format`` is
    accepted for older callers and ignored: numbers are formatted per
    column by :func:`_number_formatter`.
    """
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

    columns = [str(c) for c in frame.columns]
    cells: dict[str, list[str]] = {}
    numeric, wraps = {}, {}
    for c, name in zip(frame.columns, columns):
        col = frame[c]
        numeric[name] = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if numeric[name]:
            f = _number_formatter(col.to_numpy(dtype=float))
            cells[name] = [f(v) for v in col.to_numpy(dtype=float)]
        elif pd.api.types.is_datetime64_any_dtype(col):
            cells[name] = [v.strftime("%Y-%m-%d %H:%M:%S") if not pd.isna(v) else "–" for v in col]
        else:
            cells[name] = ["" if v is None else str(v) for v in col]
            wraps[name] = True  # free text (names, descriptions) may wrap at spaces
    headers = {c: _header(c) for c in columns}

    def longest_word(texts):
        return max([len(w) for t in texts for w in t.split()] + [0])

    # The narrowest a column may be: its widest number or time (never cut),
    # or for free text its longest word; headers wrap at spaces.  Spare
    # room then widens columns towards their whole cell and header.
    width = {c: max(longest_word(cells[c]) if wraps.get(c) else max([len(v) for v in cells[c]] + [0]),
                    longest_word([headers[c]])) for c in columns}
    want = {c: max([len(v) for v in cells[c]] + [len(headers[c])]) for c in columns}

    console = Console()
    explicit = console.is_terminal or "COLUMNS" in os.environ
    needed = sum(want[c] + 3 for c in columns) + 1
    limit = console.width if explicit else max(needed, 80)
    parts, left = [], list(columns)
    fixed = columns[:keep]
    while left:
        part = list(fixed) if parts else []
        used = sum(width[c] + 3 for c in part) + 1
        for c in [c for c in left if c not in part]:
            if used + width[c] + 3 <= limit or not part:
                part.append(c)
                used += width[c] + 3
            else:
                break
        new = [c for c in part if c in left]
        if not new:  # not even one more column fits beside the fixed ones
            break
        parts.append(part)
        left = [c for c in left if c not in part]
        if overflow == "drop":
            break
    if not console.is_terminal:
        console = Console(width=max(limit, 20))
    for i, part in enumerate(parts):
        caption = None
        if i == len(parts) - 1:
            notes = []
            if left:
                notes.append(f"not shown to fit {limit} columns: {', '.join(headers[c] for c in left)} (--format csv has them all)")
            if len(parts) > 1:
                notes.append(f"split in {len(parts)} tables to fit {limit} columns")
            caption = "; ".join(notes) or None
        table = Table(title=(title if i == 0 else f"{title} (continued)") or None, header_style="bold",
                      caption=caption, caption_justify="left")
        # Exact widths (rich would otherwise share the space by header length
        # and crop the last column); spare room unwraps headers, left first.
        spare = limit - (sum(width[c] + 3 for c in part) + 1)
        for c in part:
            w = width[c] + max(0, min(want[c] - width[c], spare))
            spare -= w - width[c]
            table.add_column(headers[c], justify="right" if numeric[c] else "left", width=w)
        for r in range(len(frame)):
            table.add_row(*[cells[c][r] for c in part])
        console.print(table)


def _width(err: bool = False) -> int | None:
    """The width to wrap messages at: the terminal's (or ``$COLUMNS``), or
    None for piped output (one line per message, as scripts expect)."""
    stream = sys.stderr if err else sys.stdout
    if "COLUMNS" in os.environ:
        try:
            return max(int(os.environ["COLUMNS"]), 20)
        except ValueError:
            pass
    try:
        if stream.isatty():
            return max(os.get_terminal_size(stream.fileno()).columns, 20)
    except (AttributeError, OSError, ValueError):
        pass
    return None


def _say(text: str, err: bool = False, indent: str | None = None) -> None:
    """Print a message wrapped at spaces to the terminal's width, never
    inside a word; continuation lines are indented (two spaces more than
    the first)."""
    import textwrap

    width = _width(err)
    if width is None or len(text) <= width:
        typer.echo(text, err=err)
        return
    lead = text[:len(text) - len(text.lstrip(" "))]
    indent = lead + "  " if indent is None else indent
    typer.echo(textwrap.fill(text.strip(), width=width, initial_indent=lead, subsequent_indent=indent,
                             break_long_words=False, break_on_hyphens=False), err=err)


def _warn(lines) -> None:
    for line in lines:
        _say(f"satqkd: warning: {line}", err=True)


class _Status:
    """What the progress line says, from the library's ``progress(stage,
    done, total)`` calls: the stage (``combination 2/4: key per pass``), what
    is counted (``620/1,213 passes``), the time elapsed since the start and
    the time the stage has left at the rate it has gone so far (blank until
    there is a rate)."""

    LABELS = {"load": "reading the scenario", "cluster": "starting the Dask cluster",
              "passes": "searching passes", "key": "key per pass", "units": "running on the cluster",
              "schedule": "weather and schedule", "weather": "weather Monte Carlo", "write": "writing outputs"}
    # What ``done/total`` counts in a stage: (satellite, station) pairs, or passes.
    # On a cluster the line also counts the passes done: "pairs" keeps it within 100 columns.
    COUNTS = {"passes": "satellite-station pairs", "key": "passes", "units": "pairs"}

    def __init__(self, clock=None):
        import time

        self.clock = clock or time.monotonic
        self.start = self.clock()
        self.stage, self.prefix = "", ""
        self.done = self.total = 0
        self.passes_done = None
        self._since = (self.start, 0)  # (time, done) when the stage began
        self._last = self.start  # time of the last update

    def update(self, stage, done=0, total=0) -> None:
        now = self.clock()
        if stage == "scenario":  # a sweep, serially: one scenario after another
            self.prefix = f"combination {done + 1}/{total}: "
            return
        if stage == "passes done":  # on a cluster: passes of the units finished
            self.passes_done = done
            return
        if stage != self.stage:
            self.stage, self._since, self.passes_done = stage, (now, done), None
        self.done, self.total, self._last = done, total, now

    @property
    def description(self) -> str:
        return self.prefix + self.LABELS.get(self.stage, self.stage or "starting")

    @property
    def count(self) -> str:
        if not self.total:
            return ""
        text = f"{self.done:,}/{self.total:,} {self.COUNTS.get(self.stage, '')}".rstrip()
        if self.passes_done is not None:
            text += f", {self.passes_done:,} passes done"
        return text

    @staticmethod
    def _clock_text(seconds: float) -> str:
        seconds = int(round(max(seconds, 0.0)))
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"

    @property
    def elapsed(self) -> str:
        return f"elapsed {self._clock_text(self.clock() - self.start)}"

    @property
    def left(self) -> str:
        t0, done0 = self._since
        if not self.total or self.done <= done0 or self._last <= t0:
            return ""
        rate = (self.done - done0) / (self._last - t0)
        # Counts down between updates, never below zero.
        return f"left {self._clock_text((self.total - self.done) / rate - (self.clock() - self._last))}"

    @property
    def text(self) -> str:
        return "  ".join(t for t in (self.description, self.count, self.elapsed, self.left) if t)


@contextlib.contextmanager
def _progress(quiet: bool):
    """A progress display on stderr (stage, what is done of how many, time
    elapsed and left: :class:`_Status`), shown only on a terminal and
    without ``--quiet``; yields ``update(stage, done, total)`` for the
    library's ``progress=`` hooks."""
    console = _stderr_console()
    if quiet or not console.is_terminal:
        yield lambda stage, done=0, total=0: None
        return
    from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn
    from rich.text import Text

    status = _Status()

    class Column(ProgressColumn):
        def __init__(self, part):
            super().__init__()
            self.part = part

        def render(self, task):
            return Text(getattr(status, self.part))

    with Progress(SpinnerColumn(), Column("description"), BarColumn(bar_width=20), Column("count"),
                  Column("elapsed"), Column("left"), console=console, transient=True) as bar:
        task = bar.add_task("", total=None)

        def update(stage, done=0, total=0):
            status.update(stage, done, total)
            if status.stage == stage:
                bar.update(task, completed=done, total=total or None)

        update.refresh = bar.refresh  # draw now (tests; the display also redraws itself)
        yield update


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


_QUIET = typer.Option(False, "--quiet", "-q", help="No progress display on stderr.")


@app.command(epilog="Examples: satqkd run  ·  satqkd run micius-2021-nanshan -o out/2021  ·  satqkd run my.yaml --no-report")
def run(
    scenario: Optional[str] = typer.Argument(None, metavar="SCENARIO", help="Scenario YAML, or the name of a shipped one (satqkd scenarios); default: micius."),
    out: str = typer.Option("out", "-o", "--out", metavar="DIR", help="Output folder for report.html, passes.csv, seconds.csv, run.json."),
    no_report: bool = typer.Option(False, "--no-report", help="Write the tables only."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Run on a local Dask cluster of N worker processes."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run on the existing Dask cluster at ADDRESS."),
    weather: Optional[str] = typer.Option(None, "--weather", help="clear: every night clear; draw: one seeded weather year "
                                          "(default: draw if the scenario has a weather block)."),
    seconds: str = typer.Option("auto", "--seconds", help="Per-second table: auto (CSV up to 100,000 rows, else "
                                "partitioned Parquet), single, parquet or none."),
    allow_stale_elements: bool = typer.Option(False, "--allow-stale-elements",
                                              help="Forecast with element sets too old for the span (a warning, not an error)."),
    quiet: bool = _QUIET,
):
    """Run a whole scenario: passes, per-second link and key, weather, schedule, report."""
    from .config import load_scenario
    from .io import check_output_dir
    from .pipeline import run as run_pipeline, weather_tables, write_outputs
    from .study import run as run_study

    # Found before the run, not after minutes of computing.
    check_output_dir(out, "-o/--out")
    if weather not in (None, "clear", "draw"):
        raise SatqkdError(f"--weather: expected clear or draw, got {weather!r}")
    if seconds not in ("auto", "single", "parquet", "none"):
        raise SatqkdError(f"--seconds: expected auto, single, parquet or none, got {seconds!r}")
    with _progress(quiet) as update:
        update("load")
        sc = load_scenario(scenario)
        if allow_stale_elements:
            sc.allow_stale_elements = True
        draw = None if weather is None else weather == "draw"
        if workers is None and scheduler is None:
            results = run_pipeline(sc, progress=update, weather=draw)
        else:
            results = run_study(sc, workers=workers, scheduler=scheduler, weather=draw, progress=update)
        extra = {}
        if sc.weather is not None and weather != "clear":
            from .io import render_table

            update("weather")
            yearly, monthly = weather_tables(results)
            extra = {"weather.csv": render_table(yearly, "weather.csv"),
                     "weather-monthly.csv": render_table(monthly, "weather-monthly.csv")}
        update("write")
        written = write_outputs(results, Path(out), report=not no_report, seconds=seconds, extra=extra)
    _warn(results.warnings)
    if results.dual is not None:
        from .entanglement import summary_line

        for _, row in results.dual.summary.iterrows():
            typer.echo(f"{sc.name}: {summary_line(row)}")
    _say(_run_summary(results, "each station alone (prepare-and-measure downlink): " if results.dual is not None else ""))
    for kind, path in written.items():
        if not kind.startswith("seconds["):
            typer.echo(f"  {kind:15s} {path}")
    if any(k.startswith("seconds[") for k in written):
        typer.echo(f"  {'seconds':15s} {Path(out) / 'seconds'}/ (Parquet, one file per satellite and station)")


def _run_summary(results, label: str = "") -> str:
    """The run's headline: delivered key first, then where the rest went and
    the clear-sky ceiling (:func:`satqkd.schedule.key_summary`), and with a
    weather block the spread over the weather years.  ``label`` follows the
    scenario's name (what the line counts, when the run has more than one
    kind of link)."""
    from .schedule import key_summary
    from .units import format_bits

    sc, p = results.scenario, results.passes
    k = key_summary(p)
    days = sc.end.tt - sc.start.tt
    text = (f"{sc.name}: {label}{format_bits(k['delivered_key_bits'])} of key delivered "
            f"in {k['passes_served']:,} of {len(p):,} {'pass' if len(p) == 1 else 'passes'} "
            f"({format_bits(k['delivered_key_bits'] / days)} a day), "
            f"{sc.start.utc_strftime('%Y-%m-%d %H:%M')} to {sc.end.utc_strftime('%Y-%m-%d %H:%M')} UTC; ")
    lost = []
    if sc.weather is not None or k["cloudy_passes"]:
        lost.append(f"to cloud {format_bits(k['lost_to_cloud_bits'])} ({_plural(k['cloudy_passes'], 'pass', 'passes')})")
    if k["conflicting_passes"]:
        lost.append(f"to conflicts {format_bits(k['lost_to_conflicts_bits'])} "
                    f"({_plural(k['conflicting_passes'], 'pass', 'passes')})")
    text += (f"lost {', '.join(lost)}; " if lost else "no pass lost to conflicts; ")
    text += f"clear-sky ceiling {format_bits(k['clear_sky_ceiling_bits'])}"
    cache = getattr(results, "_weather_cache", {})
    if sc.weather is not None and (sc.weather.years, sc.weather.seed) in cache:
        yearly = cache[(sc.weather.years, sc.weather.seed)][0]
        t = yearly[(yearly["satellite"] == "all") & (yearly["station"] == "all")].iloc[0]
        text += (f"; over {sc.weather.years:,} weather years: mean {format_bits(t['mean_bits'])}, "
                 f"P10 {format_bits(t['p10_bits'])}, P90 {format_bits(t['p90_bits'])}")
    return text


def _load_table_output() -> None:
    """Have rich load what :func:`_emit` prints a table with (0.05 s on first
    use), by printing a one-row table to memory; a command runs it while it
    waits for its Dask workers."""
    import io

    from rich.console import Console
    from rich.table import Table

    table = Table(title="t")
    table.add_column("a", justify="right")
    table.add_column("b")
    table.add_row("1.5", "x")
    Console(file=io.StringIO(), width=100).print(table)


def _quietly(*fns) -> None:
    """Each ``fn()`` for its side effects only (loading code ahead of use): whatever it raises,
    the real call raises again where it is reported properly."""
    for fn in fns:
        try:
            fn()
        except Exception:
            pass


@app.command()
def sweep(
    scenario: str = typer.Argument(..., metavar="SCENARIO", help="Scenario YAML with a sweep: block (parameter: [values]), or a shipped one's name."),
    out: str = typer.Option("sweep", "-o", "--out", metavar="DIR", help="Output folder for sweep.csv and sweep.html."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Run on a local Dask cluster of N worker processes."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run on the existing Dask cluster at ADDRESS."),
    quiet: bool = _QUIET,
):
    """Run every combination of a scenario's sweep: one row each, and trade-off plots."""
    from .clusters import cluster, sigint_blocked, starting_local_cluster

    local = workers is not None and scheduler is None
    client = None
    with _progress(quiet) as update, contextlib.ExitStack() as stack:
        # A local cluster starts in the background, its workers' server importing what a unit needs on
        # another core, while this thread imports and reads the scenario.  Ctrl-C waits until the cluster
        # is up: an import interrupted midway can leave Python's import lock held, and the starting
        # thread waiting for it for ever.
        with sigint_blocked() if local else contextlib.nullcontext():
            if local:
                update("cluster")
            starting = stack.enter_context(starting_local_cluster(workers)) if local else None
            from .config import load_scenario
            from .io import check_output_dir, prepare_dir, render_table, write_files
            from .study import load_sweep_report, sweep as run_sweep, sweep_report, sweep_scenarios

            check_output_dir(out, "-o/--out")
            if scheduler is not None:
                # Connected first: the cluster's workers import what a unit needs while this process reads the scenario.
                update("cluster")
                client = stack.enter_context(cluster(workers, scheduler))
            update("load")
            sc = load_scenario(scenario)
            if not sc.sweep:
                raise SatqkdError(f"{scenario}: sweep: missing block; expected parameter: [values, ...]")
            combinations = sweep_scenarios(sc)  # made while the local workers start
            loading = None
            if starting is not None or client is not None:
                # sweep.html's plotting code and the table printer are loaded while the local workers start
                # (this process then waits for their imports) or, on a running cluster, while its workers compute.
                loading = threading.Thread(target=_quietly, args=(load_sweep_report, _load_table_output),
                                           name="satqkd-load-report", daemon=True)
                loading.start()
            if starting is not None:
                update("cluster")
                client = starting()
        table = run_sweep(sc, client, progress=update, combinations=combinations)
        stack.close()
        if loading is not None:
            loading.join()  # plotly is used by one thread at a time
        update("write")
        folder = prepare_dir(out)
        span_days = float(sc.end.tt - sc.start.tt)
        paths = write_files({folder / "sweep.csv": render_table(table, folder / "sweep.csv"),
                             folder / "sweep.html": sweep_report(table, list(sc.sweep), title=f"Sweep: {sc.name}",
                                                                 span_days=span_days)})
    _emit(table, Format.table, title=f"{len(table)} combinations", float_format="{:.4g}")
    for path in paths:
        typer.echo(f"  {path}")


@app.command(epilog="Example: satqkd scenarios; then satqkd run micius-2021-nanshan")
def scenarios():
    """List the scenarios and equipment files shipped with satqkd, by name."""
    import pandas as pd

    from .config import read_yaml, shipped

    rows = []
    for name, path in shipped("scenarios").items():
        rows.append({"name": name, "kind": "scenario", "description": str(read_yaml(path).get("name", ""))})
    for name, path in shipped("systems").items():
        # An equipment file has no name field: its first comment line says what it is.
        first = next((line.lstrip("# ").strip() for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")), "")
        rows.append({"name": name, "kind": "equipment", "description": first})
    _emit(pd.DataFrame(rows), Format.table, title="Shipped with satqkd: satqkd run NAME, satqkd keyrate --system NAME", keep=1)


def _significant(v: float) -> str:
    """A number for a cell of a table whose rows have different units (as
    ``validate``'s): 4 significant digits, thousands separated; scientific
    notation (:func:`_sci`) outside 1e-2 to 1e5."""
    if not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-2):
        return _sci(v)
    digits = max(0, 3 - math.floor(math.log10(abs(v)))) if v != 0 else 0
    return f"{v:,.{digits}f}"


@app.command(epilog="Examples: satqkd validate  ·  satqkd validate --format csv > validation.csv")
def validate(
    fmt: Format = typer.Option(Format.table, "--format", help="Output format: table, csv or json (every field)."),
):
    """Every published result satqkd is checked against: published value, satqkd's, difference, tolerance."""
    import pandas as pd

    from .validation import rows, rows_frame

    items = rows()
    frame = rows_frame(items)
    if fmt != Format.table:
        _emit(frame, fmt)
        return
    table = pd.DataFrame({
        "#": [str(i + 1) for i in range(len(items))],
        "link": frame["architecture"],
        "quantity": frame["quantity"],
        "published": [_significant(r.published) for r in items],
        "satqkd": [_significant(r.value) for r in items],
        "diff": [_significant(r.difference) for r in items],
        "unit": frame["unit"],
        "tolerance": [("±" + _significant(r.tolerance)) if r.tolerance > 0 else "one-sided" for r in items],
        "within": ["yes" if r.within else "NO" for r in items],
    })
    _emit(table, fmt, title="satqkd against published results (sources and notes below)", keep=1, overflow="stack")
    import textwrap

    width = min(_width() or 100, 100)
    for i, r in enumerate(items, 1):
        stated = f" Published: {r.published_text}." if r.published_text else ""
        text = f"[{i}] {r.name}.{stated} {r.source}. {r.note}".rstrip(";. ") + "."
        typer.echo(textwrap.fill(text, width=width, subsequent_indent="    "))
    missed = [str(i) for i, r in enumerate(items, 1) if not r.within]
    typer.echo(f"{len(items) - len(missed)} of {len(items)} rows within their tolerance"
               + (f"; outside: {', '.join(missed)} (the note names the unknown)" if missed else ""))


@app.command(epilog="Example: satqkd network china-network -o out/network")
def network(
    scenario: str = typer.Argument(..., metavar="SCENARIO", help="Scenario YAML with a network: block, or a shipped one's name (china-network)."),
    out: str = typer.Option("out", "-o", "--out", metavar="DIR", help="Output folder for pools.csv, requests.csv, links.csv, capacity.csv, network.html."),
    no_report: bool = typer.Option(False, "--no-report", help="Write the tables only."),
    weather: Optional[str] = typer.Option(None, "--weather", help="clear: every night clear; draw: one seeded weather year "
                                          "(default: draw if the scenario has a weather block)."),
    quiet: bool = _QUIET,
):
    """Run a scenario's trusted-relay network: key pools, relay, requests, capacity."""
    from .config import load_scenario
    from .io import check_output_dir, prepare_dir, write_files
    from .network.report import network_files
    from .pipeline import run as run_pipeline

    check_output_dir(out, "-o/--out")
    if weather not in (None, "clear", "draw"):
        raise SatqkdError(f"--weather: expected clear or draw, got {weather!r}")
    with _progress(quiet) as update:
        update("load")
        sc = load_scenario(scenario)
        if sc.network is None:
            raise SatqkdError(f"{scenario}: network: missing block (nodes, fibre_links, satellite_links, demands)")
        results = run_pipeline(sc, progress=update, weather=None if weather is None else weather == "draw", seconds=False)
        update("write")
        written = write_files(network_files(results.network, prepare_dir(out), title=sc.name, report=not no_report, lazy=True))
    _warn(results.warnings)
    req = results.network.requests
    shown = ("served", "waited", "failed") + (("refused",) if (req["status"] == "refused").any() else ()) + ("pending",)
    counts = ", ".join(f"{(req['status'] == s).sum():,} {s}" for s in shown)

    _say(f"{sc.name}: {_plural(len(results.network.links), 'link', 'links')}, "
         f"{len(req):,} {'request' if len(req) == 1 else 'requests'} ({counts})")
    for line in _network_summary(results.network):
        _say(line)
    for path in written:
        typer.echo(f"  {path}")


def _network_summary(res) -> list[str]:
    """The network's answers, expected value first (with weather when the scenario has it),
    clear sky labelled as the ceiling; short lines (a terminal of 100 columns)."""
    from .network import default_pairs
    from .network.report import format_bits as fb

    out = []
    j = res.joint
    cap = res.capacity
    if len(cap):
        out.append(f"  capacity per day over {cap['weather'].iat[0]}:")
    if j:
        out.append(f"  every demand at once: {100 * j['share']:.0f} % of each expected "
                   f"(P10-P90 {100 * j['share_p10']:.0f}-{100 * j['share_p90']:.0f} %; clear-sky ceiling "
                   f"{100 * j['share_clear_sky']:.0f} %)")
        if j["bottleneck"]:
            out.append(f"      shared bottleneck: {j['bottleneck']}")
    # The pairs the scenario lists (capacity_pairs, else the demand pairs); capacity.csv has every demand pair.
    for _, row in cap.head(len(default_pairs(res.network))).iterrows():
        out.append(f"  {row['a']} - {row['b']} ({row['great_circle_km']:,.0f} km apart, {row['route_km']:,.0f} km of route)")
        out.append(f"      alone: {fb(row['capacity_bits_per_day'])}/day expected (P10-P90 "
                   f"{fb(row['capacity_p10_bits_per_day'])} to {fb(row['capacity_p90_bits_per_day'])}), "
                   f"clear-sky ceiling {fb(row['capacity_clear_sky_bits_per_day'])}")
        out.append(f"      limited by {row['bottleneck']}")
        if row["demand_bits_per_day"] == row["demand_bits_per_day"]:  # a demand pair
            out.append(f"      all at once: {100 * row['joint_share']:.0f} % of its {fb(row['demand_bits_per_day'])}/day "
                       f"= {fb(row['joint_bits_per_day'])}/day (P10-P90 {100 * row['joint_share_p10']:.0f}-"
                       f"{100 * row['joint_share_p90']:.0f} %)")
    return out


@app.command(epilog="Example: satqkd serve china-network --at 2021-05-23T00:00:00 --pki pki  (then curl, README 'Serving keys')")
def serve(
    scenario: str = typer.Argument(..., metavar="SCENARIO", help="Scenario YAML with a network: block, or a shipped one's name (china-network)."),
    at: Optional[str] = typer.Option(None, "--at", metavar="TIME", help="UTC instant inside the span where the clock starts (default: the span's start)."),
    speed: float = typer.Option(1.0, "--speed", metavar="X", help="Simulated seconds per real second (0 stops the clock)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8443, "--port", help="TCP port (0: a free one, printed in the ready line)."),
    pki: str = typer.Option("pki", "--pki", metavar="DIR", help="ca.pem, server.pem, server.key (written there, with sae/<SAE_ID>.pem/.key, if absent)."),
    out: Optional[str] = typer.Option(None, "-o", "--out", metavar="DIR", help="Write the session report here on exit (kme-pairs.csv, kme-pools.csv, kme-session.html)."),
    log_level: str = typer.Option("info", "--log-level", help="debug (a line per request), info (a summary a minute), warning, error."),
    weather: Optional[str] = typer.Option(None, "--weather", help="clear: every night clear; draw: the scenario's seeded weather year "
                                          "(default: draw if the scenario has a weather block)."),
    log_every: float = typer.Option(60.0, "--log-every", metavar="SECONDS", help="Seconds between summary lines (and pool snapshots of the report)."),
):
    """Serve the planned network's keys over ETSI GS QKD 014 (HTTPS, mutual TLS): one KME for every node."""
    import logging
    import threading

    from .config import load_scenario
    from .io import check_output_dir
    from .kme.pki import ensure_pki, existing_pki
    from .kme.server import build_twin, check_pki, serve as run_server

    levels = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
    if log_level not in levels:
        raise SatqkdError(f"--log-level: expected one of {', '.join(levels)}, got {log_level!r}")
    if not (math.isfinite(speed) and 0.0 <= speed <= 1e7):
        raise SatqkdError(f"--speed: expected simulated seconds per real second from 0 to 1e7, got {speed:g}")
    if not 0 <= port <= 65535:
        raise SatqkdError(f"--port: expected 0 to 65535, got {port}")
    if weather not in (None, "clear", "draw"):
        raise SatqkdError(f"--weather: expected clear or draw, got {weather!r}")
    if not (math.isfinite(log_every) and log_every >= 0.1):
        raise SatqkdError(f"--log-every: expected at least 0.1 s, got {log_every:g}")
    if out is not None:
        check_output_dir(out, "-o/--out")
    start = None if at is None else _time(at, "--at").utc_datetime()
    brought = existing_pki(pki)  # a partial or unusable PKI is found before the network is computed
    if brought is not None:
        check_pki(brought)
    sc = load_scenario(scenario)
    if sc.network is None:
        raise SatqkdError(f"{scenario}: network: missing block (nodes, fibre_links, satellite_links, demands)")
    twin = build_twin(sc, start, speed, weather=None if weather is None else weather == "draw")
    files = ensure_pki(pki, twin.saes)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    logger = logging.getLogger("satqkd.kme")
    logger.handlers[:] = [handler]
    logger.setLevel(levels[log_level])
    logger.propagate = False
    if files.created:
        typer.echo(f"satqkd: wrote a test PKI in {pki}/ (ca.pem, server.pem, server.key, sae/<SAE_ID>.pem and .key)")

    stop, caught = threading.Event(), []

    def on_signal(signum, frame):
        caught.append(signum)
        stop.set()

    def ready(h, p):
        shown = f"[{h}]" if ":" in str(h) else h  # an IPv6 address in a URL
        typer.echo(f"satqkd: serving https://{shown}:{p} ({_plural(len(twin.saes), 'SAE', 'SAEs')})")
        sys.stdout.flush()

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        written = run_server(twin, files, host, port, out=None if out is None else Path(out), title=sc.name,
                             log_every_s=log_every, on_ready=ready, stop=stop)
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)
    served = sum(k for k, _ in twin.issued.values())
    why = SIGNAL_WORDS.get(caught[0] if caught else None, "stopped")
    typer.echo(f"satqkd: {why}: stopped serving after {_plural(served, 'key', 'keys')} served")
    for path in written:
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

    from .constraints import Constraints

    adapter = TypeAdapter(Constraints)
    for key, value in overrides.items():
        try:
            adapter.validate_python({key: value})
        except ValidationError as exc:
            from .config import format_validation_error

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


@app.command(epilog="Examples: satqkd passes --tle ephemeris/micius-2016-12-18.tle --station xinglong --start 2016-12-19 --days 1  ·  "
                     "satqkd passes --oem ephemeris/micius-2021-04-27.oem --station nanshan")
def passes(
    scenario: Optional[str] = typer.Argument(None, metavar="SCENARIO", help="Scenario YAML or shipped name; or give --tle/--omm/--oem and --station."),
    tle: Optional[Path] = typer.Option(None, "--tle", help="TLE file (2- or 3-line)."),
    omm: Optional[Path] = typer.Option(None, "--omm", help="CelesTrak OMM file (JSON, CSV or XML)."),
    oem: Optional[Path] = typer.Option(None, "--oem", help="CCSDS OEM ephemeris (KVN or XML); the span defaults to "
                                       "its first 7 days."),
    station: Optional[List[str]] = typer.Option(None, "--station", metavar="NAME|LAT,LON,HEIGHT_M", help="Preset name or LAT,LON,HEIGHT_M (repeatable)."),
    start: Optional[str] = typer.Option(None, "--start", help="Start (ISO date/time, UTC); default: the scenario's, the OEM's, or today."),
    days: Optional[float] = typer.Option(None, "--days", help="Length of the span in days (default 7)."),
    min_elevation: Optional[float] = typer.Option(None, "--min-elevation", help="Minimum elevation (deg)."),
    night: Optional[str] = typer.Option(None, "--night", help="none|civil|nautical|astronomical|DEG (sun altitude limit)."),
    horizon_mask: Optional[Path] = typer.Option(None, "--horizon-mask", help="File of 'azimuth_deg elevation_deg' rows."),
    moon_separation: Optional[float] = typer.Option(None, "--moon-separation", help="Minimum Moon separation (deg)."),
    max_range_km: Optional[float] = typer.Option(None, "--max-range-km", help="Maximum slant range (km)."),
    fmt: Format = typer.Option(Format.table, "--format", help="Output format."),
    allow_stale_elements: bool = typer.Option(False, "--allow-stale-elements",
                                              help="Forecast with element sets too old for the span (a warning, not an error)."),
    quiet: bool = _QUIET,
):
    """Forecast passes (no report is written)."""
    import pandas as pd

    import dataclasses
    import datetime as dt

    from .equipment import find_config
    from .elements import load_catalogue, load_elements
    from .passes import find_passes, to_time
    from .stations import load_horizon_mask, parse_station

    if days is not None and not 0 < days <= MAX_DAYS:
        raise SatqkdError(f"--days: expected a number of days greater than 0 and at most {MAX_DAYS:g}, got {days:g}")
    if scenario is not None and (tle is not None or omm is not None or oem is not None or station):
        raise SatqkdError("passes: give either a scenario or --tle/--omm/--oem with --station, not both")
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
        from .config import load_scenario

        sc = load_scenario(scenario)
        sats = [s.satellite for s in sc.satellites]
        stations = [s.station for s in sc.stations]
        cons = {s.station.name: _constraints(dataclasses.asdict(s.constraints), overrides) for s in sc.stations}
        t0, t1 = sc.start, sc.end
    else:
        if sum(x is not None for x in (tle, omm, oem)) != 1:
            raise SatqkdError("passes: give a scenario, or exactly one of --tle FILE / --omm FILE / --oem FILE with --station")
        if oem is not None:
            from .oem import load_oem

            sats = load_oem(oem)
        elif tle is not None:
            # A catalogue as it comes: keep what SGP4 accepts, report the rest.
            sats, rejected = load_catalogue(find_config(tle, "ephemeris"))
            _warn(rejected)
        else:
            sats = load_elements(find_config(omm, "ephemeris"))
        if not station:
            raise SatqkdError("passes: --station: give at least one station (a preset such as nanshan, or LAT,LON,HEIGHT_M)")
        stations = [parse_station(s) for s in station]
        names = [s.name for s in stations]
        for i, n in enumerate(names):
            if n in names[:i]:
                # The same rule as a scenario's stations: each pass listed once.
                raise SatqkdError(f"--station {station[i]!r}: station {n!r} is given twice; give each station once")
        cons = _constraints({}, overrides)
        today = dt.datetime.now(dt.timezone.utc).date()
        t0 = to_time(dt.datetime(today.year, today.month, today.day))
        t1 = None
        if oem is not None and start is None:
            # An ephemeris has a span of its own: start at its first state.
            t0 = min((s.epoch for s in sats), key=lambda t: t.tt)
            end = max((s.end for s in sats), key=lambda t: t.tt)
            if days is None:  # its first 7 days, or all of it if shorter
                t1 = t0.ts.tt_jd(min(t0.tt + 7.0, end.tt))
    if start is not None:
        t0 = _time(start, "--start")
        t1 = None
    if t1 is None or days is not None:
        t1 = t0.ts.tt_jd(t0.tt + (days if days is not None else 7.0))
    from .sky import check_span  # (not via satqkd.config: its models cost a plain search 0.07 s to import)

    check_span(t0, t1, "", labels=("--start", "--start + --days"))
    if horizon_mask is not None:
        mask = load_horizon_mask(horizon_mask)
        stations = [dataclasses.replace(s, horizon_mask=mask) for s in stations]
    stale = {"max_element_age_days": sc.max_element_age_days, "allow_stale_elements": sc.allow_stale_elements,
             "element_age_warning_days": sc.element_age_warning_days} \
        if scenario is not None else {}
    if allow_stale_elements:
        stale["allow_stale_elements"] = True
    with _progress(quiet) as update:
        update("passes")
        forecast = find_passes(sats, stations, t0, t1, cons, per_second=False, **stale)
    _warn(forecast.warnings)
    table = forecast.passes.drop(columns=["pass_id"])
    n_passes = len(table)
    if fmt == Format.table:
        # A terminal is narrow: one date column, then times of day.
        def hms(col):
            return table[col].dt.strftime("%H:%M:%S") if len(table) else table[col]

        table = pd.DataFrame({
            "satellite": table["satellite"], "station": table["station"],
            "date (UTC)": table["rise_utc"].dt.strftime("%Y-%m-%d") if len(table) else table["rise_utc"],
            "rise": hms("rise_utc"), "culmination": hms("culmination_utc"), "set": hms("set_utc"),
            "max_elevation_deg": table["max_elevation_deg"], "usable_s": table["usable_s"],
            "min_range_km": table["min_range_km"],
            "usable from": hms("usable_start_utc"), "usable to": hms("usable_end_utc"),
            "clipped": table["clipped"].map({True: "yes", False: ""}),
            "sunlit": table["sunlit"].map({True: "yes", False: ""}),
        })
    _emit(table, fmt, title=_plural(n_passes, "pass", "passes"), keep=3)


HEIGHT_KM = (150.0, 100_000.0)  # below ~150 km an orbit decays within hours; beyond, not an Earth orbit


def _check_height(height_km: float, option: str) -> None:
    lo, hi = HEIGHT_KM
    if not (math.isfinite(height_km) and lo < height_km < hi):
        raise SatqkdError(f"{option}: expected a height between {lo:g} and {hi:,.0f} km, got {height_km:g}")


@app.command(epilog="Examples: satqkd link micius-2021-nanshan  ·  satqkd link --height-km 35786  ·  satqkd link --compare-geo")
def link(
    scenario: Optional[str] = typer.Argument(None, metavar="SCENARIO", help="Scenario YAML or shipped name (default: micius)."),
    compare_geo: bool = typer.Option(False, "--compare-geo", help="Print the LEO-versus-GEO loss comparison."),
    height_km: Optional[float] = typer.Option(None, "--height-km", help="Orbit height for the loss-vs-elevation table (default: each satellite's own)."),
    fmt: Format = typer.Option(Format.table, "--format", help="Output format."),
):
    """Loss budget against elevation (a row per 5 deg, a column per component)."""
    from . import link as linklib
    from .config import load_scenario
    from .report import orbit_height_km

    if compare_geo:
        _emit(linklib.geo_comparison().rename_axis("link").reset_index(), fmt, title="LEO (Micius 2021) versus GEO downlink", overflow="stack")
        return
    if height_km is not None:
        _check_height(height_km, "--height-km")
    import pandas as pd

    sc = load_scenario(scenario)
    tables = []
    for setup in sc.stations:
        for sat in sc.satellites[:1]:
            h = height_km if height_km is not None else orbit_height_km(sat.satellite)
            if setup.uplink:
                table = linklib.loss_table(setup.transmitter, sat.receiver, sat.detector, height_km=h,
                                           site_height_m=setup.station.height_m, uplink=True)
                what = f"Uplink loss budget (dB): {setup.station.name} -> {sat.satellite.name}"
            else:
                table = linklib.loss_table(sat.transmitter, setup.telescope, setup.detector,
                                           height_km=h, site_height_m=setup.station.height_m)
                what = f"Loss budget (dB): {sat.satellite.name} -> {setup.station.name}"
            if fmt == Format.table:
                first = ["elevation_deg", "range_km", "loss_db"]
                table = table[first + [c for c in table.columns if c not in first]]
                _emit(table, fmt, title=f"{what}, {h:,.0f} km orbit", keep=1, overflow="stack")
            else:
                tables.append(table.assign(satellite=sat.satellite.name, station=setup.station.name,
                                           direction="uplink" if setup.uplink else "downlink"))
    if tables:
        # One CSV/JSON document for all stations (two concatenated ones parse as neither).
        table = pd.concat(tables, ignore_index=True)
        _emit(table[["satellite", "station"] + [c for c in table.columns if c not in ("satellite", "station")]], fmt)


MAX_POINTS = 10_000  # rows of a keyrate table: more is a typo, not a plan
MAX_LOSS_DB = 500.0  # no photon crosses more: a GEO downlink is ~35 dB, 1,000 km of fibre ~200 dB
MAX_FIBRE_KM = 10_000.0


def _range(text: str, option: str, maximum: float = float("inf")):
    """``START:STOP:STEP`` (inclusive) or one value; finite, non-negative
    and at most ``maximum``."""
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
    if max(values[:2]) > maximum:
        raise SatqkdError(f"{option} {text!r}: expected values up to {maximum:g}")
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


MAX_BLOCK = 1e20  # pulses or detections in one block: 1e20 pulses at 10 GHz is 300 years


@app.command(epilog="Example: satqkd keyrate --system gys-2004 --fibre-km 0:150:10 --asymptotic")
def keyrate(
    system: str = typer.Option(..., "--system", metavar="FILE|NAME", help="Equipment YAML, or a shipped name: gys-2004, lim-2014, micius-2017-xinglong, micius-2021-nanshan (satqkd scenarios)."),
    loss_db: Optional[str] = typer.Option(None, "--loss-db", help="Channel loss START:STOP:STEP (dB)."),
    fibre_km: Optional[str] = typer.Option(None, "--fibre-km", help="Fibre length START:STOP:STEP (km)."),
    asymptotic: bool = typer.Option(False, "--asymptotic", help="Textbook infinite-key GLLP decoy rate (both bases sifted; not the per-second large-block rate of satqkd run)."),
    block_pulses: Optional[float] = typer.Option(None, "--block-pulses", help="Finite block: pulses sent."),
    block_detections: Optional[float] = typer.Option(None, "--block-detections", help="Finite block: n_X detections (Lim 2014)."),
    optimise: bool = typer.Option(False, "--optimise", help="Optimise intensities, probabilities and q_x."),
    fmt: Format = typer.Option(Format.table, "--format", help="Output format."),
    profile: Optional[Path] = typer.Option(None, "--profile", help="Per-second pass profile CSV (time_s; loss_db, channel_loss_db or efficiency; optional noise_prob, elevation_deg, pass_id): the finite key of that pass."),
):
    """Key rate against loss (GLLP with --asymptotic; Lim 2014 finite key otherwise), or the key of a measured pass (--profile)."""
    from . import keyrate as kr

    if profile is not None:
        # The key of a measured pass: one block per pass, no table options.
        extra = [o for o, v in (("--loss-db", loss_db), ("--fibre-km", fibre_km), ("--asymptotic", asymptotic or None),
                                ("--block-pulses", block_pulses), ("--block-detections", block_detections)) if v is not None]
        if extra:
            raise SatqkdError(f"keyrate --profile: {extra[0]} does not apply (the profile sets the block)")
        from .config import find_config, load_system

        sys_ = load_system(system)
        profile = find_config(profile, "profiles")
        table = kr.profile_keys(kr.read_profile(profile), sys_.source, sys_.detector, sys_.protocol,
                                optimise=optimise, where=str(profile))
        _emit(table, fmt, title=f"Finite key of {profile.name} ({Path(system).name})", float_format="{:.4g}")
        return
    if (loss_db is None) == (fibre_km is None):
        raise SatqkdError("keyrate: give exactly one of --loss-db START:STOP:STEP or --fibre-km START:STOP:STEP")
    given = [asymptotic, block_pulses is not None, block_detections is not None]
    if sum(given) != 1:
        raise SatqkdError("keyrate: give exactly one of --asymptotic, --block-pulses N, --block-detections N")
    for name, value in (("--block-pulses", block_pulses), ("--block-detections", block_detections)):
        if value is not None and not 0 < value <= MAX_BLOCK:
            raise SatqkdError(f"{name}: expected a positive number up to {MAX_BLOCK:g}, got {value:g}")
    from .config import load_system

    sys_ = load_system(system)
    table = kr.keyrate_table(
        sys_.source, sys_.detector, sys_.protocol,
        loss_db=_range(loss_db, "--loss-db", MAX_LOSS_DB) if loss_db is not None else None,
        fibre_km=_range(fibre_km, "--fibre-km", MAX_FIBRE_KM) if fibre_km is not None else None,
        fibre_loss_db_per_km=sys_.channel.fibre_loss_db_per_km,
        block_pulses=block_pulses, block_detections=block_detections,
        asymptotic=asymptotic, optimise=optimise,
    )
    _emit(table, fmt, title=f"Key rate: {Path(system).stem}", keep=2, overflow="stack")


class ElementsFormat(str, Enum):
    tle = "tle"
    three_le = "3le"
    omm_json = "omm-json"
    omm_csv = "omm-csv"
    omm_xml = "omm-xml"


@app.command(epilog="Examples: satqkd elements sso --height-km 500 --ltan-hours 12 -o sso.tle  ·  "
                     "satqkd elements convert --from ephemeris/micius-2021-04-27.tle --format omm-json")
def elements(
    kind: str = typer.Argument(..., metavar="KIND", help="sso | geo | classical | convert"),
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
    output: Optional[str] = typer.Option(None, "-o", "--output", metavar="FILE", help="Write to this file (atomically) instead of stdout."),
):
    """Build an element set (sso, geo, classical) or convert one, and export it as TLE or OMM."""
    import datetime as dt

    from . import elements as el
    from .passes import to_time

    import math

    kind = kind.lower()
    if kind not in ("sso", "geo", "classical", "convert"):
        raise SatqkdError(f"elements: unknown kind {kind!r}; expected sso, geo, classical or convert")
    if output is not None:
        from .io import check_output_file

        check_output_file(output, f"elements {kind}: -o/--output")
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
    if height_km is not None:
        _check_height(height_km, f"elements {kind}: --height-km")
    if semi_major_axis_km is not None:
        lo, hi = (h + 6378.135 for h in HEIGHT_KM)
        if not lo < semi_major_axis_km < hi:
            raise SatqkdError(f"elements {kind}: --semi-major-axis-km: expected {lo:,.0f} to {hi:,.0f} km "
                              f"({HEIGHT_KM[0]:g} to {HEIGHT_KM[1]:,.0f} km above the equator), got {semi_major_axis_km:g}")
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

        write_atomic(Path(output), text)
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
        from .config import find_config

        sats = el.load_elements(find_config(source_file, "ephemeris"))
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


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM, raised from the signal handler :func:`main` installs
    (not a KeyboardInterrupt, which typer turns into a return value)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _signals_raise():
    """In the main thread, SIGINT and SIGTERM raise :class:`Interrupted`, so
    ``finally`` blocks run (temporary files go) and the exit status is 128+N."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signum)

    old = {}
    for name in ("SIGINT", "SIGTERM"):
        sig = getattr(signal, name, None)
        if sig is not None:
            old[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def _command():
    """The click command of :data:`app`, with flags shown without a bogus
    ``<bool>`` value in ``--help`` (typer labels every option with its type)."""
    import typer.main

    root = typer.main.get_command(app)

    def tidy(cmd):
        for param in cmd.params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        original = cmd.get_help_option

        def get_help_option(ctx, _original=original):
            option = _original(ctx)
            if option is not None and option.metavar is None:
                option.metavar = ""
            return option

        cmd.get_help_option = get_help_option
        for sub in getattr(cmd, "commands", {}).values():
            tidy(sub)

    tidy(root)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning input errors into one line and exit 2,
    Ctrl-C into ``satqkd: interrupted`` and exit 130 (SIGTERM: 143)."""
    from .io import remove_temporaries

    try:
        with _signals_raise():
            return _main(argv)
    except BaseException as exc:
        interrupt = _interrupt_behind(exc)
        if interrupt is None:
            raise
        signum = getattr(interrupt, "signum", signal.SIGINT)
        typer.echo(f"satqkd: {SIGNAL_WORDS[signum]}", err=True)
        return 128 + int(signum)
    finally:
        remove_temporaries()


def _interrupt_behind(exc: BaseException) -> BaseException | None:
    """The Ctrl-C or SIGTERM that ``exc`` is, or that it was raised while
    handling: a library's bare ``except:`` (skyfield's ``iokit`` has one around
    an import) turns an interrupt into an error of its own."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, (Interrupted, KeyboardInterrupt)):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def entry() -> None:
    """The ``satqkd`` command (``python -m satqkd`` too): :func:`main`, then the process ends
    at once, without tearing down the interpreter's objects one by one (a year's tables:
    millions of them, 0.3 s; every file is written and closed, every child joined by then)."""
    import logging

    code = main()
    try:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: nothing more to say
        pass
    os._exit(code)


def _main(argv) -> int:
    usage_errors, aborts = _click_exceptions()
    try:
        rv = _command().main(args=argv, standalone_mode=False, prog_name="satqkd")
    except SatqkdError as exc:
        typer.echo(f"satqkd: error: {_one_line(exc)}", err=True)
        return 2
    except FileNotFoundError as exc:
        typer.echo(f"satqkd: error: {exc.filename}: no such file", err=True)
        return 2
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
    if isinstance(rv, int) and rv == 130:
        # typer turns a KeyboardInterrupt it catches into a returned 130.
        raise KeyboardInterrupt
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

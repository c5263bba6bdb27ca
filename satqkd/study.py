"""Studies that outgrow one process: scenario runs and parameter sweeps on Dask.

A scenario's work splits into units, one per (satellite, station) pair
(:func:`satqkd.pipeline.units`), that share nothing; :mod:`dask.distributed`
runs them on a cluster and :func:`satqkd.pipeline.finish` puts them together
in a fixed order, so the tables are the same, byte for byte, as a serial run.

* :func:`cluster` -- a context manager giving a Dask ``Client``: a local
  cluster of ``workers`` processes, or the existing cluster at ``scheduler``
  (what dask-jobqueue on Slurm/PBS or dask-kubernetes gives), or ``None``
  (serial) when neither is given (from :mod:`satqkd.clusters`).
* :func:`run` -- :func:`satqkd.pipeline.run` with the units on the cluster.
* :func:`sweep_scenarios` -- the scenarios of a ``sweep:`` block: one per
  combination of the values it lists (names in :data:`SWEEP_PARAMETERS`, or
  a dotted path into the scenario such as ``stations.0.telescope.fov_urad``).
* :func:`sweep` -- runs every combination (all units of all combinations in
  one go on the cluster) and returns one row per combination: passes,
  scheduled passes, key, key per year, mean key rate, key lost to conflicts.
* :func:`sweep_report` -- an HTML page of the sweep: its table (named
  columns with units, one number format per column; a key per year scaled
  from a span shorter than a year says so) and trade-off plots
  (:func:`sweep_figures`).

Workers rebuild a scenario from its YAML mapping (skyfield's satellites do
not pickle), once per worker and scenario.
"""

from __future__ import annotations

import contextlib
import copy
import html
import itertools
import json
import math
import threading
import time
from typing import Any

import numpy as np
import pandas as pd

from . import pipeline
from .config import Scenario, load_scenario
from .errors import SatqkdError
from .clusters import cluster, start_local_workers

__all__ = ["cluster", "start_local_workers", "run", "run_many", "sweep_scenarios", "sweep", "sweep_columns", "sweep_figures", "sweep_report", "SWEEP_PARAMETERS"]

# Short names of the usual sweep parameters: where each one lives in the
# scenario (every satellite's or every station's block).
SWEEP_PARAMETERS = {
    "height_km": ("satellites", "orbit.sun_synchronous.height_km"),
    "ltan_hours": ("satellites", "orbit.sun_synchronous.ltan_hours"),
    "wavelength_nm": ("satellites", "transmitter.wavelength_nm"),
    "divergence_urad": ("satellites", "transmitter.divergence_urad"),
    "transmitter_aperture_m": ("satellites", "transmitter.aperture_m"),
    "aperture_m": ("stations", "telescope.aperture_m"),
    "fov_urad": ("stations", "telescope.fov_urad"),
}


# --------------------------------------------------------------------------
# Units on workers
# --------------------------------------------------------------------------

_SCENARIOS: dict = {}


def _key(raw, path, today) -> str:
    return json.dumps([raw, str(path), str(today)], sort_keys=True, default=str)


def _scenario_on_worker(raw, path, today) -> Scenario:
    key = _key(raw, path, today)
    if key not in _SCENARIOS:
        if len(_SCENARIOS) > 16:
            _SCENARIOS.clear()
        _SCENARIOS[key] = load_scenario(path, today=today, raw=raw)
    return _SCENARIOS[key]


# glibc's mallopt parameters and the environment variables that set them at start.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
_malloc_lock = threading.Lock()
_malloc_users = 0


def _glibc():
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


@contextlib.contextmanager
def _malloc_as_serial():
    """glibc's malloc as in a plain process while a unit runs, restored after.

    A worker started by a Dask nanny (``dask worker``, any external cluster)
    has ``MALLOC_TRIM_THRESHOLD_=65536`` in its environment, which also turns
    off glibc's adaptive mmap threshold: every array above 128 KiB is then
    mapped, faulted page by page and unmapped again (a year's unit: 250 k
    page faults and 0.7 s of system time instead of 20-36 k and 0.1-0.2 s
    serially, and 20 % more user time).  For the unit's duration the
    thresholds are those the adaptive rule reaches (32 MiB mapped, 64 MiB
    trimmed); after it the worker's own settings come back and the freed
    memory is handed back to the OS (``malloc_trim``), as the setting wants.
    Nothing changes in a process without those variables (serial runs, our
    local workers)."""
    global _malloc_users
    import os

    libc = _glibc() if any(v in os.environ for v in _MALLOC_ENV) else None
    if libc is None:
        yield
        return
    with _malloc_lock:
        if _malloc_users == 0:
            libc.mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)
            libc.mallopt(_M_TRIM_THRESHOLD, 64 * 2**20)
        _malloc_users += 1
    try:
        yield
    finally:
        with _malloc_lock:
            _malloc_users -= 1
            if _malloc_users == 0:
                libc.mallopt(_M_TRIM_THRESHOLD, _env_bytes("MALLOC_TRIM_THRESHOLD_", 128 * 1024))
                libc.mallopt(_M_MMAP_THRESHOLD, _env_bytes("MALLOC_MMAP_THRESHOLD_", 128 * 1024))
                libc.malloc_trim(0)


def _env_bytes(name: str, default: int) -> int:
    import os

    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return default


def _unit_task(raw, path, today, unit, seconds=True):
    with _malloc_as_serial():
        passes, table, warnings = pipeline.run_unit(_scenario_on_worker(raw, path, today), unit)
        if not seconds:
            table = table.iloc[:0]
    # A unit's per-second table is ~50 MB a year: not sent back when unused.
    return passes, table, warnings


def run_many(scenarios: list[Scenario], client=None, *, seconds: bool = True, progress=None, **kwargs) -> list:
    """Run several scenarios, all their units at once on ``client`` (serially
    without one); returns their :class:`~satqkd.pipeline.Results` in order.

    ``seconds=False``: the results' per-second tables are left empty (the
    passes are the same); on a cluster they then never leave the workers.
    ``progress(stage, done, total)``: serially, :func:`satqkd.pipeline.run`'s
    stages, with ``"scenario"`` (scenarios done) before each scenario; on a
    cluster, stage ``"units"`` (units done of all scenarios' units) and
    ``"passes done"`` (passes of the units done, total unknown: 0).
    """
    if client is None:
        results = []
        for k, sc in enumerate(scenarios):
            if progress is not None and len(scenarios) > 1:
                progress("scenario", k, len(scenarios))
            results.append(pipeline.run(sc, progress=progress, seconds=seconds, **kwargs))
        return results
    for sc in scenarios:
        pipeline.check_scenario(sc)
        if sc.raw is None:
            raise SatqkdError("a scenario for a Dask run must come from load_scenario (it is rebuilt on the workers)")
    # Each scenario is finished as soon as its units are in, while the workers run the others'.
    return _run_units(client, scenarios, seconds, progress,
                      finish=lambda i, parts: pipeline.finish(scenarios[i], parts, **kwargs))


def _run_units(client, scenarios: list[Scenario], seconds: bool, progress=None, finish=None) -> list:
    """The results of every unit of ``scenarios`` on the cluster, a list per
    scenario; with ``finish``, ``finish(i, results of scenario i)`` in place
    of each list, called as soon as that scenario's units are all in.

    Units are sent as worker threads free up (Dask places tasks it is
    given all at once on workers in turn, before it knows how long they
    take), the longest first by an estimate (:func:`satqkd.pipeline.unit_cost`):
    in the sweep's order (aperture listed before height), the 4 units of a
    year's sweep on 2 workers ran as 3.5 + 3.2 s on one worker and 4.1 +
    3.7 s on the other, the first idle for the last second (with height
    listed first, each worker happened to get one unit of each height).
    While more units are left than the cluster has threads, each thread has
    one more waiting (no idle round trip between units: 120 units of 0.4 s
    ran 2 s longer without); the last ones go each to the first thread free.  Threads are counted again at most once a
    second (a cluster may grow or lose workers).  Results are fetched as
    each unit ends (``client.gather`` waits for the last task before it
    fetches any, leaving the workers idle while hundreds of MB of per-second
    tables cross over).  ``progress``: see :func:`run_many`.
    """
    from dask.distributed import as_completed

    per_scenario = [pipeline.units(sc) for sc in scenarios]
    work = [(i, j, unit) for i, units in enumerate(per_scenario) for j, unit in enumerate(units)]
    work.sort(key=lambda w: -pipeline.unit_cost(scenarios[w[0]], w[2]))  # stable: ties keep their order
    out = [[None] * len(units) for units in per_scenario]
    missing = [len(parts) for parts in out]
    where = {}

    def send(k):
        i, j, unit = work[k]
        sc = scenarios[i]
        future = client.submit(_unit_task, sc.raw, sc.path, sc.today, unit, seconds, pure=False)
        where[future.key] = (i, j)
        return future

    counted = [0.0, 1]  # when, threads

    def threads() -> int:
        if time.monotonic() - counted[0] > 1.0:
            counted[:] = [time.monotonic(), max(sum(client.nthreads().values()), 1)]
        return counted[1]

    unsent = len(work)

    def top_up(running) -> None:  # the freed thread's next unit first
        nonlocal unsent, in_flight
        while unsent and in_flight < (2 if unsent > threads() else 1) * threads():
            future = send(len(work) - unsent)
            unsent, in_flight = unsent - 1, in_flight + 1
            if running is not None:
                running.add(future)
            else:
                first.append(future)

    first, in_flight = [], 0
    top_up(None)
    running = as_completed(first, with_results=True)
    first.clear()  # a result fetched is let go on its worker: no future outlives its turn here
    done, passes = 0, 0
    if progress is not None:
        progress("units", 0, len(work))
    for future, result in running:
        in_flight -= 1
        top_up(running)
        i, j = where.pop(future.key)
        out[i][j] = result
        missing[i] -= 1
        done, passes = done + 1, passes + len(result[0])
        if progress is not None:
            progress("units", done, len(work))
            progress("passes done", passes, 0)
        if finish is not None and missing[i] == 0:
            out[i] = finish(i, out[i])
        del future, result
    if finish is not None:  # scenarios without units
        out = [finish(i, []) if not parts else parts for i, parts in enumerate(out)]
    return out


def run(scenario: Scenario, *, workers: int | None = None, scheduler: str | None = None, client=None,
        progress=None, **kwargs):
    """:func:`satqkd.pipeline.run` with the units on a Dask cluster
    (``progress``: see :func:`run_many`; stage ``"cluster"`` while it starts)."""
    if client is not None:
        return run_many([scenario], client, progress=progress, **kwargs)[0]
    if progress is not None and (workers is not None or scheduler is not None):
        progress("cluster", 0, 0)
    with cluster(workers, scheduler) as c:
        return run_many([scenario], c, progress=progress, **kwargs)[0]


# --------------------------------------------------------------------------
# Sweeps
# --------------------------------------------------------------------------


def _set(raw: dict, dotted: str, value, where: str) -> None:
    """Set ``value`` at a dotted path (list indices as numbers) in ``raw``."""
    parts = dotted.split(".")
    node: Any = raw
    for k, part in enumerate(parts[:-1]):
        nxt = int(part) if isinstance(node, list) and part.isdigit() else part
        try:
            child = node[nxt]
        except (KeyError, IndexError, TypeError):
            child = None
        if child is None or isinstance(child, str):
            if isinstance(node, list):
                raise SatqkdError(f"{where}: {'.'.join(parts[:k + 1])}: no such item in the scenario")
            # An equipment block given as a preset name (or not at all): a mapping with that preset.
            child = {} if child is None else {"preset": child}
            node[nxt] = child
        node = child
    if not isinstance(node, dict):
        raise SatqkdError(f"{where}: {dotted}: not a field of a mapping in the scenario")
    node[parts[-1]] = value


def sweep_scenarios(scenario: Scenario, sweep: dict | None = None) -> tuple[pd.DataFrame, list[Scenario]]:
    """One scenario per combination of the sweep's values (the scenario's own
    ``sweep:`` block by default): ``(parameters table, scenarios)``."""
    sweep = scenario.sweep if sweep is None else sweep
    where = f"{scenario.path}: sweep"
    if not sweep:
        raise SatqkdError(f"{where}: the scenario has no sweep block (parameter: [values, ...])")
    if scenario.raw is None:
        raise SatqkdError(f"{where}: the scenario must come from load_scenario")
    names = list(sweep)
    for name in names:
        if not isinstance(sweep[name], list) or not sweep[name]:
            raise SatqkdError(f"{where}.{name}: expected a list of values")
        if name not in SWEEP_PARAMETERS and "." not in name:
            raise SatqkdError(f"{where}.{name}: unknown parameter; expected one of {', '.join(SWEEP_PARAMETERS)} "
                              "or a dotted path such as stations.0.telescope.fov_urad")
    combos = list(itertools.product(*(sweep[n] for n in names)))
    scenarios = []
    for combo in combos:
        raw = copy.deepcopy(scenario.raw)
        raw.pop("sweep", None)
        for name, value in zip(names, combo):
            if name in SWEEP_PARAMETERS:
                group, path = SWEEP_PARAMETERS[name]
                for i in range(len(raw[group])):
                    _set(raw, f"{group}.{i}.{path}", value, f"{where}.{name}")
            else:
                _set(raw, name, value, f"{where}.{name}")
        label = ", ".join(f"{n}={v}" for n, v in zip(names, combo))
        try:
            scenarios.append(load_scenario(scenario.path, today=scenario.today, raw=raw))
        except SatqkdError as exc:
            raise SatqkdError(f"{where} ({label}): {exc}") from None
    return pd.DataFrame(combos, columns=names), scenarios


def _row(results) -> dict:
    from .schedule import lost_to_conflicts

    p = results.passes
    sc = results.scenario
    days = (sc.end.tt - sc.start.tt)
    delivered = p.loc[p["scheduled"] & p["clear"], "key_bits"].sum() if len(p) else 0.0
    rate = p.loc[p["key_bits"] > 0, "mean_key_rate_bps"] if len(p) else pd.Series(dtype=float)
    row = {
        "passes": len(p),
        "scheduled_passes": int(p["scheduled"].sum()) if len(p) else 0,
        "key_bits": float(delivered),
        "key_bits_per_year": float(delivered) * 365.25 / days,
        "mean_key_rate_bps": float(rate.mean()) if len(rate) else 0.0,
        "lost_to_conflicts_bits": lost_to_conflicts(p),
    }
    if sc.weather is not None and len(p):
        yearly, _ = pipeline.weather_tables(results)
        total = yearly[(yearly["satellite"] == "all") & (yearly["station"] == "all")].iloc[0]
        for col in ("mean", "p10", "p90"):
            row[f"weather_{col}_bits_per_year"] = float(total[f"{col}_bits"]) * 365.25 / days
    return row


def sweep(scenario: Scenario, client=None, progress=None, combinations=None) -> pd.DataFrame:
    """One row per combination of the sweep: its parameters, then passes,
    scheduled passes, key bits of the scheduled passes under a clear sky,
    key bits per year (the span scaled to 365.25 days), mean key rate of
    passes with key (bit/s), key lost to conflicts, and with a ``weather:``
    block the mean, P10 and P90 key per year over its weather years.
    ``progress``: see :func:`run_many`; ``combinations``: what
    :func:`sweep_scenarios` gives for ``scenario``, if already made (a
    command makes them while its local cluster starts)."""
    params, scenarios = sweep_scenarios(scenario) if combinations is None else combinations
    results = run_many(scenarios, client, weather=False, seconds=False, progress=progress)
    return pd.concat([params, pd.DataFrame([_row(r) for r in results])], axis=1)


def load_sweep_report() -> None:
    """Have plotly import what :func:`sweep_report` draws with (it loads its
    figure classes and validators on first use: 0.2 s), by drawing the
    report of a two-row sweep; a command runs it while Dask workers compute."""
    columns = ["passes", "scheduled_passes", "key_bits", "key_bits_per_year", "mean_key_rate_bps",
               "lost_to_conflicts_bits"]
    sweep_report(pd.DataFrame({"height_km": [500.0, 600.0], **{c: [1.0, 2.0] for c in columns}}), ["height_km"])


# How sweep.html names the columns of a sweep table: label and unit.
_PARAMETER_LABELS = {
    "height_km": "orbit height (km)", "ltan_hours": "LTAN (h)", "wavelength_nm": "wavelength (nm)",
    "divergence_urad": "beam divergence (µrad)", "transmitter_aperture_m": "transmitter aperture (m)",
    "aperture_m": "telescope aperture (m)", "fov_urad": "field of view (µrad)",
}
_UNIT_SUFFIXES = {"_km": "km", "_m": "m", "_nm": "nm", "_urad": "µrad", "_deg": "deg", "_hours": "h", "_s": "s",
                  "_db": "dB", "_hz": "Hz", "_bps": "bit/s"}
_RESULT_LABELS = {  # column -> (label, base unit for a decimal prefix, or None for a plain number)
    "passes": ("passes", None), "scheduled_passes": ("scheduled passes", None),
    "key_bits": ("key over the span", "bit"), "key_bits_per_year": ("key per year", "bit"),
    "mean_key_rate_bps": ("mean key rate", "bit/s"), "lost_to_conflicts_bits": ("lost to conflicts", "bit"),
    "weather_mean_bits_per_year": ("key per year, weather mean", "bit"),
    "weather_p10_bits_per_year": ("key per year, weather P10", "bit"),
    "weather_p90_bits_per_year": ("key per year, weather P90", "bit"),
}


def _parameter_label(name: str) -> str:
    """``aperture_m`` -> ``telescope aperture (m)``; a dotted path keeps its
    text, with the unit its last part names."""
    if name in _PARAMETER_LABELS:
        return _PARAMETER_LABELS[name]
    for suffix, unit in _UNIT_SUFFIXES.items():
        if name.endswith(suffix):
            return f"{name[:-len(suffix)]} ({unit})"
    return name


def _parameter_value(name: str, value) -> str:
    """``aperture_m``, 0.6 -> ``telescope aperture 0.6 m``."""
    label = _parameter_label(name)
    if label.endswith(")") and " (" in label:
        text, unit = label[:-1].rsplit(" (", 1)
        return f"{text} {value} {unit}"
    return f"{label} {value}"


def _prefixed(values: np.ndarray, unit: str) -> tuple[float, str]:
    """The scale and unit (bit, kbit, Mbit, Gbit, Tbit) for a column's largest value."""
    top = float(np.nanmax(np.abs(values))) if values.size else 0.0
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if top >= scale:
            return scale, prefix + unit
    return 1.0, unit


def _column_format(values: np.ndarray):
    """One format for a column: thousands separators and, for fractions,
    the decimals that give four significant digits at its largest value."""
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0 or np.all(finite == np.round(finite)):
        decimals = 0
    else:
        top = float(finite.max())
        decimals = int(min(max(3 - math.floor(math.log10(top)), 0), 4)) if top > 0 else 0

    def fmt(v) -> str:
        return "–" if not np.isfinite(v) else f"{v:,.{decimals}f}"

    return fmt


def _given_format(values: np.ndarray):
    """A parameter's values as the sweep lists them (0.6, 1.2), with the
    decimals of the most precise one, the same for the whole column."""
    texts = [f"{v:g}" for v in values if np.isfinite(v)]
    if any("e" in t for t in texts):
        return _column_format(values)
    decimals = max([len(t.split(".")[1]) if "." in t else 0 for t in texts] + [0])
    return lambda v: "–" if not np.isfinite(v) else f"{v:,.{decimals}f}"


def sweep_columns(table: pd.DataFrame, parameters: list[str], span_days: float | None = None) -> list[tuple]:
    """How each column of a sweep table reads: ``(column, label with unit,
    scale, formatter)``, the key columns in the prefixed unit of their
    largest value.  ``span_days``: the length of the swept span; a key per
    year scaled from a span shorter than a year says so in its label."""
    scaled = ""
    if span_days is not None and span_days < 365.0:
        scaled = f", {span_days:g}-day span × {365.25 / span_days:,.4g}"
    columns = []
    for col in table.columns:
        values = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float)
        if col in parameters:
            columns.append((col, _parameter_label(col), 1.0, _given_format(values)))
            continue
        if col in _RESULT_LABELS:
            label, unit = _RESULT_LABELS[col]
            scale = 1.0
            if unit is not None:
                scale, unit = _prefixed(values, unit)
                label = f"{label} ({unit}{scaled if col.endswith('per_year') else ''})"
        else:
            label, scale = col.replace("_", " "), 1.0
        columns.append((col, label, scale, _column_format(values / scale)))
    return columns


def sweep_figures(table: pd.DataFrame, parameters: list[str], span_days: float | None = None) -> list:
    """For each parameter, a plotly figure of key per year and mean key rate
    against it: one line per combination of the other parameters, in one
    colour in both panels (and the legend)."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    columns = {c[0]: c for c in sweep_columns(table, parameters, span_days)}
    _, year_label, year_scale, _ = columns["key_bits_per_year"]
    _, rate_label, rate_scale, _ = columns["mean_key_rate_bps"]
    palette = qualitative.Plotly
    figs = []
    for name in parameters:
        others = [p for p in parameters if p != name]
        fig = make_subplots(rows=1, cols=2, subplot_titles=(year_label, rate_label))
        groups = table.groupby(others, sort=True) if others else [((), table)]
        for k, (label, g) in enumerate(groups):
            label = label if isinstance(label, tuple) else (label,)
            text = ", ".join(_parameter_value(o, v) for o, v in zip(others, label)) or "all"
            g = g.sort_values(name)
            style = dict(mode="lines+markers", name=text, legendgroup=text,
                         line={"color": palette[k % len(palette)]}, marker={"color": palette[k % len(palette)]})
            fig.add_trace(go.Scatter(x=g[name], y=g["key_bits_per_year"] / year_scale, **style), row=1, col=1)
            fig.add_trace(go.Scatter(x=g[name], y=g["mean_key_rate_bps"] / rate_scale, showlegend=False, **style),
                          row=1, col=2)
        fig.update_xaxes(title_text=_parameter_label(name))
        fig.update_yaxes(title_text=year_label, row=1, col=1)
        fig.update_yaxes(title_text=rate_label, row=1, col=2)
        fig.update_layout(template="plotly_white", title=f"Trade-off: {_parameter_label(name)}", height=420)
        figs.append(fig)
    return figs


def sweep_report(table: pd.DataFrame, parameters: list[str], title: str = "satqkd sweep",
                 span_days: float | None = None) -> str:
    """A self-contained HTML page: the sweep table (named columns with units,
    one number format per column) and, for each parameter, key per year and
    mean key rate against it (one line per combination of the other
    parameters, in the same colour in both plots and the legend).
    ``span_days``: the swept span, named where a key per year is scaled from it."""
    from plotly.offline import get_plotlyjs

    columns = {c[0]: c for c in sweep_columns(table, parameters, span_days)}
    figs = [fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
            for fig in sweep_figures(table, parameters, span_days)]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _, _ in columns.values())
    rows = []
    for r in range(len(table)):
        cells = []
        for col, _, scale, fmt in columns.values():
            v = table[col].iloc[r]
            number = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            cells.append(f"<td>{fmt(float(v) / scale)}</td>" if number else f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = ""
    if span_days is not None and span_days < 365.0:
        note = (f"<p>Key per year is the key of the {span_days:g}-day span scaled by 365.25/{span_days:g}: "
                "it samples neither the seasons nor the year's weather. Set <code>days: 365</code> to measure it.</p>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<script>{get_plotlyjs()}</script><style>body{{font-family:system-ui,sans-serif;margin:2rem auto;"
            "max-width:1200px}} table{border-collapse:collapse;font-size:.85rem} td,th{padding:.2rem .5rem;"
            "border-bottom:1px solid #eee;text-align:right} th{vertical-align:bottom}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><table><tr>{head}</tr>{''.join(rows)}</table>{note}" + "".join(figs)
            + "</body></html>")

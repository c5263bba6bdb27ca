"""A scenario, end to end: passes -> per-second link -> key per pass -> weather -> schedule.

:func:`run` is the library call under ``satqkd run``; it returns plain
DataFrames and the CLI and the report only format them.

The work is split into *units*, one per (satellite, station) pair
(:class:`Unit`).  Each unit goes through three stage functions, each taking
and returning tables:

* :func:`pass_stage` -- the passes of one satellite over one station and the
  per-second geometry of their usable windows;
* :func:`link_stage` -- the per-second link budget (one vectorised call);
* :func:`key_stage` -- the finite key of every pass (the optimiser is warm
  started from another pass of the same unit, so a unit's result does not
  depend on which other units ran before it).

:func:`run_unit` chains the three.  :func:`assemble` concatenates the units in
a fixed order and numbers the passes, so the result is the same whether the
units ran one after another (``run``) or on a Dask cluster
(:mod:`satqkd.study`).  Two scenario-wide stages follow: weather
(:func:`satqkd.weather.clear_column`, one seeded draw; a cloudy pass yields no
key) and contention (:func:`satqkd.schedule.schedule`, one telescope per
station and one terminal per satellite).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from . import link
from .config import Scenario
from .errors import SatqkdError
from .passes import PASS_COLUMNS, SECOND_COLUMNS, find_passes

__all__ = [
    "Results", "Unit", "run", "run_unit", "units", "unit_cost", "assemble", "finish", "weather_tables", "pass_stage", "link_stage", "key_stage",
    "write_outputs", "link_ends", "KEY_COLUMNS", "SECONDS_CSV_MAX_ROWS",
]

KEY_COLUMNS = ["sifted_bits", "key_bits", "key_window_s", "mean_key_rate_bps", "qber", "min_loss_db", "mean_loss_db"]

# Above this many per-second rows (about 50 MB of CSV; a week of the default
# scenario has ~8,000, a year ~420,000) seconds.csv is not written: the
# per-second table goes to seconds/part-NNNNN.parquet, one file per unit.
SECONDS_CSV_MAX_ROWS = 100_000


@dataclass
class Results:
    """What a scenario produces: one row per pass, one row per usable second."""

    scenario: Scenario
    passes: pd.DataFrame
    seconds: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    network: object = None  # satqkd.network.NetworkResults when the scenario has a network: block
    _weather_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def weather_tables(self, *, years: int | None = None, seed: int | None = None):
        """The key over the span in many seeded weather years: ``(by station
        and link, by station and month)`` (:func:`satqkd.schedule.weather_years`;
        the scenario's ``weather:`` settings unless given).  Computed once per
        results: the CLI writes the tables, the report shows them."""
        from . import schedule, weather as weatherlib

        settings = self.scenario.weather or weatherlib.WeatherSettings()
        years = settings.years if years is None else years
        seed = settings.seed if seed is None else seed
        if (years, seed) not in self._weather_cache:
            self._weather_cache[(years, seed)] = schedule.weather_years(self.scenario, self.passes, years=years, seed=seed)
        return self._weather_cache[(years, seed)]
    dual: object = None  # satqkd.entanglement.DualResults when the scenario has dual_downlinks


@dataclass(frozen=True)
class Unit:
    """One independent piece of work: a satellite (index) over a station (index)."""

    satellite: int
    station: int


def units(scenario: Scenario) -> list[Unit]:
    """The units of a scenario, in the order :func:`assemble` expects them."""
    return [Unit(i, j) for i in range(len(scenario.satellites)) for j in range(len(scenario.stations))]


# A unit's relative cost (:func:`unit_cost`): the search scans the whole span,
# the link and key stages only the seconds in view.  Measured on a year of
# the sweep example (500-600 km, Nanshan, 10 deg): 0.8 s of search, 2.2-2.9 s
# of link and key for 1.5-1.8 % of the time in view, so a second of the span
# costs what 0.005 of a second in view costs.
_SEARCH_COST_PER_SPAN_S = 0.005


def unit_cost(scenario: Scenario, unit: Unit) -> float:
    """A rough relative cost of a unit, to send the longest first (the last
    ones to finish on a cluster are then short): the span's length times the
    search's share plus the fraction of the sky's sphere of the orbit that
    the station sees above its minimum elevation (the time in view of a
    circular orbit of the satellite's semi-major axis, ignoring latitude and
    inclination).  Only an order: the results do not depend on it."""
    from .passes import _orbit_size

    span_s = (scenario.end.tt - scenario.start.tt) * 86400.0
    try:
        a_km, _, _, earth_km = _orbit_size(scenario.satellites[unit.satellite].satellite)
        e = np.radians(scenario.stations[unit.station].constraints.min_elevation_deg)
        cap = np.arccos(np.clip(earth_km / a_km * np.cos(e), -1.0, 1.0)) - e  # Earth-central half-angle
        in_view = float((1.0 - np.cos(max(cap, 0.0))) / 2.0)
    except (AttributeError, TypeError, ValueError, ZeroDivisionError):  # an odd satellite: the span alone
        in_view = 0.0
    return span_s * (_SEARCH_COST_PER_SPAN_S + (in_view if np.isfinite(in_view) else 0.0))


def check_scenario(scenario: Scenario) -> None:
    """Refuse what the link stage cannot compute, before any work is done."""
    for i, setup in enumerate(scenario.stations):
        # The link budget needs the satellite above the horizon (airmass).
        if setup.constraints.min_elevation_deg <= 0.0:
            raise SatqkdError(
                f"{scenario.path}: stations[{i}].constraints.min_elevation_deg: expected a value above 0 deg "
                f"for the link budget, got {setup.constraints.min_elevation_deg:g} (satqkd passes accepts it)"
            )


# --------------------------------------------------------------------------
# Stages of one unit
# --------------------------------------------------------------------------


def pass_stage(scenario: Scenario, unit: Unit):
    """Passes of one satellite over one station (a :class:`~satqkd.passes.PassForecast`)."""
    sat = scenario.satellites[unit.satellite].satellite
    setup = scenario.stations[unit.station]
    return find_passes(sat, [setup.station], scenario.start, scenario.end, {setup.station.name: setup.constraints},
                       max_element_age_days=scenario.max_element_age_days,
                       allow_stale_elements=scenario.allow_stale_elements,
                       element_age_warning_days=getattr(scenario, "element_age_warning_days", None))


def link_stage(scenario: Scenario, unit: Unit, seconds: pd.DataFrame) -> pd.DataFrame:
    """The per-second table with the link budget's columns joined on."""
    if seconds.empty:
        return seconds
    from .geometry import sun_separation_deg

    setup = scenario.stations[unit.station]
    sat_setup = scenario.satellites[unit.satellite]
    sun_alt = seconds["sun_altitude_deg"].to_numpy()
    if setup.uplink:
        # Ground transmitter -> the satellite's receiver and detectors.
        kwargs = {k: getattr(setup, k) for k in ("atmosphere", "turbulence") if getattr(setup, k) is not None}
        budget = link.uplink_budget(
            seconds["range_km"].to_numpy(), seconds["elevation_deg"].to_numpy(), setup.transmitter,
            sat_setup.receiver, sat_setup.detector, site_height_m=setup.station.height_m,
            sun_altitude_deg=sun_alt, **kwargs)
        budget.index = seconds.index
        return seconds.join(budget.drop(columns=["range_km", "elevation_deg"]))
    kwargs = {k: getattr(setup, k) for k in ("atmosphere", "turbulence", "sky") if getattr(setup, k) is not None}
    # The Sun-line-of-sight angle sets the daylight sky; only computed for
    # seconds with the Sun near or above the horizon.
    sun_sep = sun_separation_deg(setup.station, seconds["time_utc"], seconds["elevation_deg"].to_numpy(),
                                 seconds["azimuth_deg"].to_numpy(), sun_altitude_deg=sun_alt)
    budget = link.link_budget(
        seconds["range_km"].to_numpy(),
        seconds["elevation_deg"].to_numpy(),
        sat_setup.transmitter,
        setup.telescope,
        setup.detector,
        site_height_m=setup.station.height_m,
        sun_altitude_deg=sun_alt,
        moon_altitude_deg=seconds["moon_altitude_deg"].to_numpy(),
        moon_illumination=seconds["moon_illumination"].to_numpy(),
        moon_separation_deg=seconds["moon_separation_deg"].to_numpy(),
        sun_separation_deg=sun_sep,
        **kwargs,
    )
    budget.index = seconds.index
    return seconds.join(budget.drop(columns=[c for c in ("range_km", "elevation_deg") if c in budget]))


def link_ends(scenario: Scenario, unit: Unit):
    """``(source, detector)`` of a unit's link: the satellite's source and the
    station's detectors for a downlink, the station's source and the
    satellite's detectors for an uplink."""
    setup = scenario.stations[unit.station]
    sat_setup = scenario.satellites[unit.satellite]
    if setup.uplink:
        return setup.source, sat_setup.detector
    return sat_setup.source, setup.detector


def key_stage(scenario: Scenario, unit: Unit, passes: pd.DataFrame, seconds: pd.DataFrame,
              progress: Callable | None = None):
    """The finite key of every pass: ``passes`` gains :data:`KEY_COLUMNS`,
    ``seconds`` gains ``key_rate_bps`` and ``in_key_window``.

    ``seconds`` must hold each pass's rows together (as :func:`pass_stage`
    gives them).  Passes are optimised from the highest to the lowest, each
    warm-started from the previous one of the unit.  ``progress(done)``, if
    given, is called after each pass with the number of passes done.
    """
    from . import keyrate  # here: a command that leaves the units to Dask workers never needs scipy.optimize

    source, detector = link_ends(scenario, unit)
    n = len(seconds)
    key_rate = np.zeros(n)
    in_window = np.zeros(n, bool)
    rows = {c: np.full(len(passes), np.nan) for c in KEY_COLUMNS}
    if n:
        pid = seconds["pass_id"].to_numpy()
        starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
        if len(np.unique(pid)) != starts.size:
            raise AssertionError("key_stage: the seconds of a pass must be contiguous")
        bounds = np.r_[starts, n]
        eta_all = seconds["efficiency"].to_numpy()
        y0_all = seconds["noise_prob"].to_numpy()
        elev_all = seconds["elevation_deg"].to_numpy()
        loss_all = seconds["loss_db"].to_numpy()
        row_of = {p: k for k, p in enumerate(passes["pass_id"].to_numpy())}
        # Highest passes first, each warm-started from the last: neighbours
        # in maximum elevation have nearby optima (23 % fewer evaluations
        # than in time order over 90 days of the default scenario).
        order = np.argsort(-passes["max_elevation_deg"].to_numpy()[[row_of[p] for p in pid[starts]]], kind="stable")
        previous = None
        for done, i in enumerate(order):
            sl = slice(bounds[i], bounds[i + 1])
            eta, y0 = eta_all[sl], y0_all[sl]
            if scenario.optimise:
                result = keyrate.optimise_pass(
                    eta, y0, source, detector, scenario.protocol,
                    slot_s=1.0, elevation_deg=elev_all[sl], x0=previous,
                )
                previous = result
            else:
                result = keyrate.finite_key(eta, y0, source, detector, scenario.protocol, slot_s=1.0)
            # The large-block limit of the bound that gives the pass's key (same bases, intensities).
            per_pulse = keyrate.large_block_key_per_pulse(eta, y0, result.source, detector, scenario.protocol,
                                                          key_basis=result.key_basis)
            window = np.asarray(result.window_mask, bool)
            key_rate[sl] = per_pulse * result.source.rep_rate_hz
            in_window[sl] = window
            window_loss = loss_all[sl][window]
            k = row_of[pid[starts[i]]]
            rows["sifted_bits"][k] = float(result.sifted_bits)
            rows["key_bits"][k] = float(result.key_bits)
            rows["key_window_s"][k] = float(result.window_s)
            rows["mean_key_rate_bps"][k] = float(result.key_bits / result.window_s) if result.window_s > 0 else 0.0
            rows["qber"][k] = float(result.qber_x)
            if window_loss.size:
                rows["min_loss_db"][k] = float(window_loss.min())
                rows["mean_loss_db"][k] = float(window_loss.mean())
            if progress is not None:
                progress(done + 1)
    passes = passes.assign(**rows)
    seconds = seconds.assign(key_rate_bps=key_rate, in_key_window=in_window)
    return passes, seconds


def load_unit_modules() -> None:
    """Import what a unit imports where it first uses it (scipy.optimize:
    reading a scenario does not need it, and a command whose units run on
    Dask workers never does): before BLAS is limited (:func:`one_blas_thread`)
    and before units are forked, which would each import it again (0.3 s)."""
    import scipy.optimize  # noqa: F401


def one_blas_thread():
    """BLAS on one thread for the duration of a ``with`` block (see
    :func:`run_unit`).  threadpoolctl limits the libraries loaded when the
    block starts, so scipy.optimize is loaded first: its OpenBLAS, loaded
    later, ran L-BFGS-B on two threads, 1.5 s more CPU in a year's sweep."""
    from threadpoolctl import threadpool_limits

    load_unit_modules()
    return threadpool_limits(limits=1, user_api="blas")


def run_unit(scenario: Scenario, unit: Unit, progress: Callable | None = None):
    """Passes, link and key of one unit: ``(passes, seconds, warnings)``.

    ``progress(stage, n)``, if given: ``("passes", passes found)`` after the
    search, then ``("key", passes done)`` after each pass.

    BLAS runs on one thread: the optimiser's L-BFGS-B calls BLAS on
    five-element vectors thousands of times a pass, and OpenBLAS's extra
    threads only spin-wait (measured: a month of the default scenario in 2 s
    instead of 6 s on two cores).
    """
    with one_blas_thread():
        forecast = pass_stage(scenario, unit)
        if progress is not None:
            progress("passes", len(forecast.passes))
        seconds = link_stage(scenario, unit, forecast.seconds)
        passes, seconds = key_stage(scenario, unit, forecast.passes, seconds,
                                    progress=None if progress is None else (lambda n: progress("key", n)))
    return passes, seconds, list(forecast.warnings)


def assemble(parts: Iterable) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Concatenate the results of :func:`units` (in that order) into one
    passes table (sorted by rise time, then station and satellite, with pass
    ids 0, 1, ... in that order) and one seconds table (grouped by pass id)."""
    pass_frames, second_frames, notes = [], [], []
    for k, (passes, seconds, warnings) in enumerate(parts):
        notes.extend(warnings)
        if passes.empty:
            continue
        pass_frames.append(passes.assign(_unit=k))
        second_frames.append(seconds.assign(_unit=k))
    if not pass_frames:
        return pd.DataFrame(columns=PASS_COLUMNS + KEY_COLUMNS), pd.DataFrame(columns=SECOND_COLUMNS), sorted(set(notes))
    passes = pd.concat(pass_frames, ignore_index=True)
    passes = passes.sort_values(["rise_utc", "station", "satellite"], kind="stable").reset_index(drop=True)
    new_id = pd.Series(np.arange(len(passes)), index=pd.MultiIndex.from_arrays([passes["_unit"], passes["pass_id"]]))
    seconds = pd.concat(second_frames, ignore_index=True)
    seconds["pass_id"] = new_id.reindex(pd.MultiIndex.from_arrays([seconds["_unit"], seconds["pass_id"]])).to_numpy()
    seconds = seconds.sort_values("pass_id", kind="stable").reset_index(drop=True).drop(columns="_unit")
    passes["pass_id"] = np.arange(len(passes))
    return passes.drop(columns="_unit"), seconds, sorted(set(notes))


def run(scenario: Scenario, progress: Callable | None = None, *, weather: bool | None = None,
        seed: int | None = None, processes: int | None = None, seconds: bool = True) -> Results:
    """Forecast every pass of the scenario, the key each one yields, which
    passes are clear and which are scheduled (the units on this machine's
    cores; :func:`satqkd.study.run` runs them on Dask).

    ``weather`` draws one weather year (default: when the scenario has a
    ``weather`` block); ``seed`` overrides the scenario's weather seed.
    ``progress(stage, done, total)``, if given, is called as the work goes:
    stage ``"passes"`` counts the (satellite, station) units searched, then
    ``"key"`` the passes whose key is done (the pass search of every unit
    comes first, so the key stage knows how many passes there are), then
    ``"schedule"`` once.  The results are those of :func:`run_unit` on each
    unit.

    The units run on this machine's cores, each in a forked process
    (:func:`satqkd.parallel.fork_map`; ``processes`` caps how many at once,
    default the cores available, 1 runs them here one after another); the
    tables are the same either way.  ``seconds=False`` keeps no per-second
    table (``results.seconds`` is empty; a caller that writes none, such as
    ``satqkd network``), unless the dual downlinks need it.
    """
    from .parallel import available_cores, can_fork

    check_scenario(scenario)
    work = units(scenario)
    report = progress if progress is not None else (lambda stage, done=0, total=0: None)
    if processes is None:
        processes = available_cores()
    keep = seconds or bool(scenario.dual_downlinks)
    if processes > 1 and len(work) > 1 and can_fork():
        parts = _run_units_forked(scenario, work, report, processes, keep)
        report("schedule", 0, 0)
        return finish(scenario, parts, weather=weather, seed=seed)
    forecasts = []
    with one_blas_thread():  # as in run_unit
        for k, u in enumerate(work):
            report("passes", k, len(work))
            forecasts.append(pass_stage(scenario, u))
        total = sum(len(f.passes) for f in forecasts)
        parts, done = [], 0
        report("key", 0, total)
        for k, (u, forecast) in enumerate(zip(work, forecasts)):
            passes, table = key_stage(scenario, u, forecast.passes, link_stage(scenario, u, forecast.seconds),
                                      progress=lambda n, _base=done: report("key", _base + n, total))
            parts.append((passes, table if keep else table.iloc[:0], list(forecast.warnings)))
            forecasts[k] = None  # its per-second table now lives in parts
            done += len(passes)
    report("schedule", 0, 0)
    return finish(scenario, parts, weather=weather, seed=seed)


def _run_units_forked(scenario: Scenario, work: list, report: Callable, processes: int, keep: bool = True) -> list:
    """:func:`run_unit` of every unit, each in a forked process; progress as :func:`run` gives it
    (the pass search of every unit first, then the passes whose key is done)."""
    from .parallel import counters, fork_map

    load_unit_modules()
    # Per unit: its passes + 1 once its search is done (0 before), and its passes with key.
    found, keyed = counters(len(work)), counters(len(work))

    def job(k):
        def step(stage, n):
            (found if stage == "passes" else keyed)[k] = n + (stage == "passes")

        passes, table, warnings = run_unit(scenario, work[k], progress=step)
        return passes, table if keep else table.iloc[:0], warnings  # (only what is kept travels back)

    last = [("passes", 0, len(work))]

    def say(*step):
        if step != last[-1]:
            if step[0] == "key" and last[-1][0] == "passes":
                report("key", 0, step[2])
            report(*step)
            last.append(step)

    def on_wait():
        searched = [n for n in found if n > 0]
        if len(searched) < len(work):
            say("passes", len(searched), len(work))
        else:
            say("key", int(sum(keyed)), int(sum(searched) - len(work)))

    report(*last[0])
    parts = fork_map(job, range(len(work)), processes, on_wait=on_wait,
                     name=lambda k: f"{scenario.satellites[work[k].satellite].satellite.name} over "
                                    f"{scenario.stations[work[k].station].station.name}")
    total = sum(len(p[0]) for p in parts)
    say("key", total, total)
    return parts


def finish(scenario: Scenario, parts, *, weather: bool | None = None, seed: int | None = None,
           network: bool = True) -> Results:
    """The scenario-wide stages after the units: assemble, weather, schedule,
    then the dual downlinks and (unless ``network`` is False: a caller that
    runs the network itself, as :mod:`satqkd.kme` does) the network."""
    from . import schedule, weather as weatherlib

    passes, seconds, notes = assemble(parts)
    passes = weatherlib.weather_stage(scenario, passes, enabled=weather, seed=seed)
    if scenario.network is not None and scenario.network.outages and len(passes):
        # Stations the network takes down fly nothing: the schedule must know before it chooses.
        from .network.outages import station_down
        from .network.satellite import seconds_since

        t0 = pd.Timestamp(scenario.start.utc_datetime())
        span_s = (scenario.end.tt - scenario.start.tt) * 86400.0
        passes = passes.assign(station_down=station_down(
            scenario.network.outages, passes["station"], seconds_since(passes["usable_start_utc"], t0),
            seconds_since(passes["usable_end_utc"], t0), span_s, scenario.network.seed))
    passes = schedule.schedule_stage(scenario, passes)
    results = Results(scenario, passes, seconds, notes)
    if scenario.dual_downlinks:
        # The entanglement dual downlinks: the seconds both stations can use.
        from .entanglement import dual_downlink_stage

        detectors = {s.station.name: s.detector for s in scenario.stations}
        days = float(scenario.end.tt - scenario.start.tt)
        results.dual = dual_downlink_stage(scenario.dual_downlinks, passes, seconds, detectors, days)
        from .network.entangled import compare_architectures

        results.dual.architectures = compare_architectures(passes, results.dual.summary, days)
    if network and scenario.network is not None:
        # The network stage: key pools fed by the scheduled, clear passes (and the dual downlinks).
        from .network import run_network

        results.network = run_network(scenario, results.passes, results.dual, weather=weather)
    return results


def weather_tables(results: Results, *, years: int | None = None, seed: int | None = None):
    """:meth:`Results.weather_tables` (kept as a function for callers of the library)."""
    return results.weather_tables(years=years, seed=seed)


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def write_outputs(results: Results, out_dir: str | Path, *, report: bool = True,
                  seconds: str = "auto", extra: dict | None = None) -> dict[str, Path]:
    """Write ``passes.csv``, the per-second table, the contact plan
    (``contacts.csv``, ``contacts.ics``, ``orbit.oem``: :mod:`satqkd.contacts`)
    and ``report.html``.

    ``seconds``: ``"auto"`` writes ``seconds.csv`` (or ``.parquet`` with the
    scenario's ``seconds_format``) up to :data:`SECONDS_CSV_MAX_ROWS` rows and
    partitioned Parquet above (``seconds/part-NNNNN.parquet``, one file per
    satellite and station); ``"single"`` always one file; ``"parquet"``
    always partitions; ``"none"`` writes no per-second table.  ``extra``
    maps further file names to their contents (tables of the weather
    Monte Carlo, ...), written together with the rest.
    """
    from .io import prepare_dir, previous_outputs, remove_previous_outputs, render_table, write_files
    from .report import provenance, render_provenance

    if seconds not in ("auto", "single", "parquet", "none"):
        raise SatqkdError(f"seconds: expected auto, single, parquet or none, got {seconds!r}")
    out = prepare_dir(out_dir)
    # What an earlier run wrote here (its run.json): removed once the new files are in place.
    previous = previous_outputs(out)
    # Render everything first, then stage all files and rename them together:
    # an error leaves the folder as it was, never a mixed set.  The large ones
    # are functions that render them: write_files runs those side by side.
    contents = {out / "passes.csv": render_table(results.passes, out / "passes.csv")}
    names = ["passes"]
    table = results.seconds
    if seconds == "auto":
        seconds = "single" if len(table) <= SECONDS_CSV_MAX_ROWS else "parquet"
    seconds_file = None
    if seconds == "single":
        path = out / f"seconds.{results.scenario.seconds_format}"
        seconds_file = path.name
        contents[path] = lambda path=path, table=table: render_table(table, path, provenance(results))
        names.append("seconds")
    elif seconds == "parquet" and len(table):
        folder = prepare_dir(out / "seconds")
        for k, (_, part) in enumerate(table.groupby(["satellite", "station"], sort=True)):
            path = folder / f"part-{k:05d}.parquet"
            contents[path] = lambda path=path, part=part: render_table(part.reset_index(drop=True), path, provenance(results))
            names.append(f"seconds[{k}]")
            seconds_file = "seconds/part-*.parquet (one file per satellite and station)"
    if results.dual is not None:
        # One row per link, per joint window and per joint second.
        for name, table in (("dual_summary", results.dual.summary), ("dual_windows", results.dual.windows),
                            ("dual_seconds", results.dual.seconds), ("architectures", results.dual.architectures)):
            if name == "dual_seconds" and seconds == "none":  # no per-second table asked for
                continue
            path = out / f"{name}.csv"
            contents[path] = render_table(table, path)
            names.append(name)
    for name, data in (extra or {}).items():
        contents[out / name] = data
        names.append(Path(name).stem)
    # The contact plan of the scheduled passes: contacts.csv, contacts.ics, orbit.oem.
    from .contacts import contact_plan_files

    for name, (path, data) in contact_plan_files(results, out).items():
        contents[path] = data
        names.append(name)
    if report:
        from .report import render_report

        contents[out / "report.html"] = lambda: render_report(results, seconds_file=seconds_file)
        names.append("report")
    if results.network is not None:
        from .network.report import network_files

        for path, data in network_files(results.network, out, title=results.scenario.name, report=report, lazy=True).items():
            contents[path] = data
            names.append(Path(path).stem)
    # Which satqkd and which scenario made these files: a sidecar, so the
    # CSVs stay plain for every CSV reader (Parquet also carries it inside).
    contents[out / "run.json"] = render_provenance(results, [Path(p).relative_to(out).as_posix() for p in contents])
    names.append("run")
    paths = write_files(contents)
    remove_previous_outputs(out, previous, paths)
    return dict(zip(names, paths))

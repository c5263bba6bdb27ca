"""Clear and cloudy nights at the ground stations, and the key they let through.

A cloudy pass yields no key.  Objects and functions:

* :class:`CloudModel` -- one station's weather: the probability that a night
  is clear, month by month (January first), and the night-to-night
  persistence ``rho``.  Nights follow a two-state Markov chain whose
  stationary probability is the month's clear fraction ``p``:
  ``P(clear | clear) = p + rho (1 - p)``, ``P(clear | cloudy) = p (1 - rho)``,
  so the lag-one correlation of the clear/cloudy series is ``rho`` and
  ``rho = 0`` gives independent nights.  Presets for the shipped sites
  (:data:`CLOUD_PRESETS`) cite their sources; what is assumed is marked.
* :class:`WeatherSettings` -- a scenario's ``weather:`` block: seed and the
  number of Monte Carlo weather years.
* :func:`night_of` -- the local night (the date of its evening) of each pass.
* :func:`draw_clear` -- seeded draws of clear nights, ``[years, nights]``.
* :func:`clear_column` -- one draw: a boolean per pass (what a network
  simulation uses for one run); :func:`weather_stage` adds it to a scenario's
  passes table.
* :func:`key_distribution` and :func:`monthly_distribution` -- Monte Carlo
  over many weather years: the key per station and per link (satellite to
  station) as mean and P10/P50/P90, with the clear-sky key as upper bound.
* :func:`distribution_figure` and :func:`distribution_html` -- the same for
  the report (a plotly figure, an HTML fragment).

All draws take a seed; the stream of a station depends only on the seed and
the station's name, so adding a station leaves the others' weather as it was.
"""

from __future__ import annotations

import html
import zlib
from dataclasses import dataclass, field
from typing import Annotated, Mapping

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field

from .errors import SatqkdError

__all__ = [
    "CloudModel", "CLOUD_PRESETS", "WeatherSettings", "night_of", "draw_clear", "clear_column",
    "weather_stage", "scenario_models", "key_distribution", "monthly_distribution", "key_samples",
    "distribution_figure", "distribution_html",
]

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class CloudModel:
    """Clear-night probability per month and night-to-night persistence.

    Parameters
    ----------
    clear_fraction
        Twelve probabilities that a night is clear enough for a pass to make
        key, January to December (the stationary probability of the chain).
    persistence
        Lag-one correlation ``rho`` of clear/cloudy nights, in [0, 1).
    source
        Where the numbers come from (shown in tables).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    clear_fraction: tuple[Fraction, Fraction, Fraction, Fraction, Fraction, Fraction,
                          Fraction, Fraction, Fraction, Fraction, Fraction, Fraction]
    persistence: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.5
    source: str = "user"

    @property
    def annual_clear_fraction(self) -> float:
        return float(np.mean(self.clear_fraction))

    # --- presets (shared/reference/network.md, "Clear-night statistics") ---
    # Annual means are the sourced numbers; the month-to-month shape and the
    # persistence rho = 0.5 (clouds come in spells of a few nights) are our
    # assumptions, shaped by "worst in summer" where the source says so.
    @classmethod
    def xinglong(cls) -> "CloudModel":
        """Xinglong: 63 % spectroscopic nights a year, 2007-14, worst in summer
        (site-testing paper, arXiv 1601.08114) [secondary]; a spectroscopic
        night is taken to let a pass make key [ours] (photometric: 32 %)."""
        return cls((0.78, 0.76, 0.70, 0.62, 0.58, 0.45, 0.35, 0.38, 0.60, 0.72, 0.76, 0.80), 0.5,
                   "Xinglong: 63 % spectroscopic nights/yr (arXiv 1601.08114) [secondary]; monthly shape, rho [ours]")

    @classmethod
    def nanshan(cls) -> "CloudModel":
        """Nanshan: no site statistic found; Muztagh-ata (Xinjiang), ~175 clear
        nights a year = 48 % [secondary], taken for Nanshan [ours]; a nearly
        flat year, slightly clearer in summer [ours]."""
        return cls((0.45, 0.45, 0.45, 0.45, 0.50, 0.52, 0.52, 0.52, 0.52, 0.48, 0.45, 0.45), 0.5,
                   "Muztagh-ata proxy: ~175 clear nights/yr [secondary]; Nanshan itself, monthly shape, rho [ours]")

    @classmethod
    def ngari(cls) -> "CloudModel":
        """Ngari (Ali): 57 % photometric nights (31 years of reanalysis), worst
        July-August [secondary]."""
        return cls((0.66, 0.64, 0.62, 0.60, 0.60, 0.50, 0.36, 0.38, 0.55, 0.66, 0.64, 0.63), 0.5,
                   "Ali/Ngari: 57 % photometric nights (reanalysis) [secondary]; monthly shape, rho [ours]")

    @classmethod
    def delingha(cls) -> "CloudModel":
        """Delingha: Lenghu (Qinghai, nearby), 65-75 % of night time photometric
        2019-23 [secondary], taken as 70 % clear nights [ours]."""
        return cls((0.78, 0.76, 0.72, 0.70, 0.68, 0.62, 0.60, 0.62, 0.68, 0.74, 0.76, 0.74), 0.5,
                   "Lenghu proxy: 65-75 % photometric night time [secondary]; Delingha, monthly shape, rho [ours]")

    @classmethod
    def clear(cls) -> "CloudModel":
        """Every night clear: the upper bound."""
        return cls((1.0,) * 12, 0.0, "always clear")


# Lijiang ships as a station but no clear-night statistic for it was found:
# give its weather in the scenario.
CLOUD_PRESETS = {
    "xinglong": CloudModel.xinglong,
    "nanshan": CloudModel.nanshan,
    "ngari": CloudModel.ngari,
    "delingha": CloudModel.delingha,
    "clear": CloudModel.clear,
}


@dataclass(frozen=True)
class WeatherSettings:
    """A scenario's ``weather:`` block.

    ``seed`` seeds every draw; ``years`` is the number of Monte Carlo weather
    years of the key distribution; ``draw`` whether ``satqkd run`` draws one
    weather year for ``passes.csv`` (``--weather clear`` turns it off).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    seed: Annotated[int, Field(ge=0)] = 0
    years: Annotated[int, Field(ge=1, le=100_000)] = 1000
    draw: bool = True


# --------------------------------------------------------------------------
# Nights and draws
# --------------------------------------------------------------------------


def night_of(times_utc, longitude_deg) -> pd.DatetimeIndex:
    """The local night of each time: the date of its evening (local mean
    solar time, from the longitude; the date changes at local noon)."""
    t = pd.DatetimeIndex(pd.to_datetime(times_utc, utc=True)).tz_convert(None)
    shift = pd.to_timedelta(np.asarray(longitude_deg, float) / 15.0 - 12.0, unit="h")
    return (t + shift).floor("D")


def _rng(seed: int, station: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(station.encode("utf-8"))])


def draw_clear(model: CloudModel, nights: pd.DatetimeIndex, years: int, seed: int, station: str) -> np.ndarray:
    """Clear (True) or cloudy for ``years`` independent weather years over the
    consecutive ``nights`` (a daily DatetimeIndex): an array ``[years, nights]``."""
    n = len(nights)
    rng = _rng(seed, station)
    out = np.zeros((years, n), bool)
    if n == 0:
        return out
    p = np.asarray(model.clear_fraction, float)[np.asarray(nights.month) - 1]
    rho = model.persistence
    u = rng.random((n, years))
    state = u[0] < p[0]  # the first night from the stationary distribution
    out[:, 0] = state
    # One step per night, vectorised over years (a year is ~365 steps).
    for d in range(1, n):
        prob = np.where(state, p[d] + rho * (1.0 - p[d]), p[d] * (1.0 - rho))
        state = u[d] < prob
        out[:, d] = state
    return out


def _night_span(nights: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return pd.date_range(nights.min(), nights.max(), freq="D")


def _pass_nights(passes: pd.DataFrame, longitudes_deg: Mapping[str, float]) -> pd.DatetimeIndex:
    time_col = "culmination_utc" if "culmination_utc" in passes else "rise_utc"
    lon = passes["station"].map(lambda s: longitudes_deg.get(s, 0.0)).to_numpy(float)
    return night_of(passes[time_col], lon)


def _station_draws(passes, models, longitudes_deg, years, seed):
    """For each station with a model: (row positions, [years, passes] clear)."""
    nights = _pass_nights(passes, longitudes_deg)
    stations = passes["station"].to_numpy()
    out = {}
    for name in pd.unique(stations):
        rows = np.flatnonzero(stations == name)
        model = models.get(name)
        if model is None:
            continue
        span = _night_span(nights[rows])
        draws = draw_clear(model, span, years, seed, name)
        col = ((nights[rows] - span[0]) // pd.Timedelta(days=1)).to_numpy()
        out[name] = (rows, draws[:, col])
    return out


def clear_column(passes: pd.DataFrame, seed: int, models: Mapping[str, CloudModel],
                 longitudes_deg: Mapping[str, float] | None = None) -> pd.Series:
    """One seeded weather draw: True for each pass on a clear night.

    ``models`` maps station name to its :class:`CloudModel` (stations
    without one are always clear); ``longitudes_deg`` maps station name to
    longitude, to find each pass's local night (default 0: UTC).  All passes
    over a station in one night share its weather.
    """
    clear = np.ones(len(passes), bool)
    if len(passes):
        for rows, draws in _station_draws(passes, models, longitudes_deg or {}, 1, seed).values():
            clear[rows] = draws[0]
    return pd.Series(clear, index=passes.index, name="clear")


def scenario_models(scenario) -> tuple[dict, dict]:
    """``(models, longitudes_deg)`` by station name from a scenario."""
    models = {s.station.name: s.weather for s in scenario.stations if getattr(s, "weather", None) is not None}
    longitudes = {s.station.name: s.station.longitude_deg for s in scenario.stations}
    return models, longitudes


def weather_stage(scenario, passes: pd.DataFrame, *, enabled: bool | None = None, seed: int | None = None) -> pd.DataFrame:
    """The passes table with a ``clear`` column: one weather draw when the
    scenario has a ``weather:`` block (or ``enabled``), else all clear."""
    settings = getattr(scenario, "weather", None)
    if enabled is None:
        enabled = settings is not None and settings.draw
    if not enabled:
        return passes.assign(clear=True)
    models, longitudes = scenario_models(scenario)
    if seed is None:
        seed = settings.seed if settings is not None else 0
    return passes.assign(clear=clear_column(passes, seed, models, longitudes).to_numpy())


# --------------------------------------------------------------------------
# Monte Carlo over weather years
# --------------------------------------------------------------------------


def _yearly_samples(passes, models, longitudes_deg, years, seed, key_column, select=None):
    """Key bits per weather year of every pass: ``[years, passes]`` (float)."""
    key = passes[key_column].fillna(0.0).to_numpy(float)
    clear = np.ones((years, len(passes)), bool)
    for rows, draws in _station_draws(passes, models, longitudes_deg, years, seed).values():
        clear[:, rows] = draws
    if select is not None:
        clear = select(clear)
    return key * clear


def key_samples(passes: pd.DataFrame, models: Mapping[str, CloudModel], *, years: int, seed: int,
                longitudes_deg: Mapping[str, float] | None = None, key_column: str = "key_bits", select=None) -> np.ndarray:
    """The key of every pass in each of ``years`` seeded weather years, ``[years, passes]``
    (the draws :func:`key_distribution` sums; ``select`` as there)."""
    return _yearly_samples(passes, models, longitudes_deg or {}, years, seed, key_column, select)


def _clear_sky(passes, key_column, select=None) -> np.ndarray:
    """Key of every pass under a clear sky (after ``select``): the upper bound."""
    key = passes[key_column].fillna(0.0).to_numpy(float)
    if select is None:
        return key
    return key * select(np.ones((1, len(passes)), bool))[0]


def _summary(groups: dict, samples: np.ndarray, key: np.ndarray, label_cols: list[str]) -> pd.DataFrame:
    rows = []
    for label, idx in groups.items():
        total = samples[:, idx].sum(axis=1)
        p10, p50, p90 = np.percentile(total, [10, 50, 90])
        rows.append({**dict(zip(label_cols, label)), "clear_sky_bits": float(key[idx].sum()),
                     "mean_bits": float(total.mean()), "p10_bits": float(p10), "p50_bits": float(p50),
                     "p90_bits": float(p90)})
    return pd.DataFrame(rows, columns=label_cols + ["clear_sky_bits", "mean_bits", "p10_bits", "p50_bits", "p90_bits"])


def key_distribution(passes: pd.DataFrame, models: Mapping[str, CloudModel], *, years: int = 1000, seed: int = 0,
                     longitudes_deg: Mapping[str, float] | None = None, key_column: str = "key_bits",
                     select=None) -> pd.DataFrame:
    """The key of the whole span over ``years`` seeded weather years: one row
    per station (``satellite`` = "all"), one per link (satellite, station)
    and a total row, with ``clear_sky_bits`` (every night clear, after
    ``select``) and the mean,
    P10, P50 and P90 of the weather years.  ``select`` maps the clear passes
    of each year (``[years, passes]`` booleans) to those that make key, e.g.
    :func:`satqkd.schedule.greedy_many` (contention); default: all clear ones."""
    if years < 1:
        raise SatqkdError(f"weather.years: expected at least 1, got {years}")
    samples = _yearly_samples(passes, models, longitudes_deg or {}, years, seed, key_column, select)
    key = _clear_sky(passes, key_column, select)
    groups = {("all", "all"): np.arange(len(passes))}
    for name, idx in passes.groupby("station", sort=True).indices.items():
        groups[("all", name)] = idx
    for (sat, name), idx in passes.groupby(["satellite", "station"], sort=True).indices.items():
        groups[(sat, name)] = idx
    table = _summary(groups, samples, key, ["satellite", "station"])
    sources = {name: m.source for name, m in models.items()}
    table["weather"] = table["station"].map(lambda s: sources.get(s, "clear" if s != "all" else ""))
    return table


def monthly_distribution(passes: pd.DataFrame, models: Mapping[str, CloudModel], *, years: int = 1000, seed: int = 0,
                         longitudes_deg: Mapping[str, float] | None = None, key_column: str = "key_bits",
                         select=None) -> pd.DataFrame:
    """As :func:`key_distribution`, one row per station and calendar month
    of the passes' nights (the same draws: the same seed gives months that
    add up to the year), then with several stations one row per month for
    all of them (``station`` = "all": the percentiles of the sum, not a sum
    of percentiles)."""
    samples = _yearly_samples(passes, models, longitudes_deg or {}, years, seed, key_column, select)
    key = _clear_sky(passes, key_column, select)
    month = _pass_nights(passes, longitudes_deg or {}).month
    frame = pd.DataFrame({"station": passes["station"].to_numpy(), "month": np.asarray(month)})
    groups = {(st, MONTHS[m - 1]): idx for (st, m), idx in frame.groupby(["station", "month"], sort=True).indices.items()}
    if frame["station"].nunique() > 1:
        for m, idx in frame.groupby("month", sort=True).indices.items():
            groups[("all", MONTHS[m - 1])] = idx
    return _summary(groups, samples, key, ["station", "month"])


# --------------------------------------------------------------------------
# Report parts
# --------------------------------------------------------------------------


def distribution_figure(table: pd.DataFrame):
    """Bar chart of the key per station: clear sky, and the weather mean with
    a P10-P90 bar (a plotly Figure)."""
    import plotly.graph_objects as go

    from .units import bits_unit

    t = table[(table["satellite"] == "all") & (table["station"] != "all")]
    scale, unit = bits_unit(t["clear_sky_bits"])
    fig = go.Figure()
    fig.add_bar(name="clear-sky ceiling", x=t["station"], y=t["clear_sky_bits"] / scale, marker_color="#c8d6e5")
    fig.add_bar(name="delivered with weather: mean, P10-P90", x=t["station"], y=t["mean_bits"] / scale, marker_color="#2e86de",
                error_y=dict(type="data", symmetric=False, array=(t["p90_bits"] - t["mean_bits"]) / scale,
                             arrayminus=(t["mean_bits"] - t["p10_bits"]) / scale))
    fig.update_layout(barmode="group", title="Delivered key over the span per station", yaxis_title=f"key ({unit})")
    return fig


def distribution_html(table: pd.DataFrame, years: int, seed: int) -> str:
    """An HTML fragment (heading, table, figure without plotly.js) for the
    report: one unit for the key columns, the weather source as wrapping text."""
    from .units import bits_unit

    cols = ("clear_sky_bits", "mean_bits", "p10_bits", "p50_bits", "p90_bits")
    scale, unit = bits_unit(table["clear_sky_bits"])
    head = ["satellite", "station", f"clear sky ({unit})", f"mean ({unit})", f"P10 ({unit})", f"P50 ({unit})",
            f"P90 ({unit})", "weather (source)"]
    body = []
    for _, r in table.iterrows():
        cells = [f"<td class='left'>{html.escape(str(r[c]))}</td>" for c in ("satellite", "station")]
        cells += [f"<td>{r[c] / scale:,.2f}</td>" for c in cols]
        cells.append(f"<td class='left wrap'>{html.escape(str(r['weather']))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    heads = "".join(f"<th class='{'left' if i < 2 or i == 7 else ''}'>{html.escape(h)}</th>" for i, h in enumerate(head))
    fig = distribution_figure(table).to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
    return (f"<h2>Key with weather</h2><p class='meta'>{years:,} seeded weather years (seed {seed}); "
            "a cloudy pass yields no key; clear sky is the upper bound (every night clear, passes scheduled).</p>"
            f"<table class='weather'><thead><tr>{heads}</tr></thead><tbody>" + "".join(body) + "</tbody></table>" + fig)

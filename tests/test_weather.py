"""Weather: the Markov chain of clear nights, presets against their sources,
the per-pass draw and the Monte Carlo key distribution."""

import numpy as np
import pandas as pd
import pytest

from satqkd import weather
from satqkd.weather import CloudModel


def _nights(n, start="2026-01-01"):
    return pd.date_range(start, periods=n, freq="D")


def test_stationary_fraction_and_persistence_match_the_chain():
    """Hand derivation: with P(c|c) = p + rho(1-p), P(c|cloudy) = p(1-rho), the
    stationary clear probability is p and the lag-one correlation is rho."""
    p, rho = 0.3, 0.6
    model = CloudModel((p,) * 12, rho)
    draws = weather.draw_clear(model, _nights(365), 400, seed=1, station="X").astype(float)
    assert draws.mean() == pytest.approx(p, abs=0.01)
    x, y = draws[:, :-1].ravel(), draws[:, 1:].ravel()
    assert np.corrcoef(x, y)[0, 1] == pytest.approx(rho, abs=0.02)


def test_independent_nights_when_rho_is_zero():
    draws = weather.draw_clear(CloudModel((0.5,) * 12, 0.0), _nights(365), 300, seed=2, station="X").astype(float)
    assert abs(np.corrcoef(draws[:, :-1].ravel(), draws[:, 1:].ravel())[0, 1]) < 0.02


def test_monthly_fractions_follow_the_months():
    fractions = (0.9,) * 6 + (0.1,) * 6
    draws = weather.draw_clear(CloudModel(fractions, 0.3), _nights(365), 300, seed=3, station="X")
    months = _nights(365).month
    assert draws[:, (months >= 2) & (months <= 5)].mean() == pytest.approx(0.9, abs=0.02)
    assert draws[:, (months >= 8) & (months <= 11)].mean() == pytest.approx(0.1, abs=0.02)


@pytest.mark.parametrize("name, annual, tol", [
    # shared/reference/network.md, "Clear-night statistics"
    ("xinglong", 0.63, 0.01),   # 63 % spectroscopic nights (arXiv 1601.08114)
    ("nanshan", 175 / 365, 0.01),  # Muztagh-ata proxy, ~175 clear nights a year
    ("ngari", 0.57, 0.01),      # 57 % photometric nights
    ("delingha", 0.70, 0.01),   # Lenghu proxy, 65-75 %
])
def test_presets_match_their_sources(name, annual, tol):
    model = weather.CLOUD_PRESETS[name]()
    assert model.annual_clear_fraction == pytest.approx(annual, abs=tol)
    assert "[ours]" in model.source and "[secondary]" in model.source


def test_worst_in_summer_where_the_source_says_so():
    for name in ("xinglong", "ngari"):
        f = np.array(weather.CLOUD_PRESETS[name]().clear_fraction)
        assert f[6:8].max() < f[[0, 1, 9, 10, 11]].min()


def test_night_of_is_the_local_evening_date():
    # Xinglong (117.6 E) at 16:00 UTC is 23:50 local mean time: night of the same date;
    # at 20:00 UTC it is 03:50 the next morning: still the night of the previous evening.
    t = pd.to_datetime(["2026-03-01T16:00:00Z", "2026-03-01T20:00:00Z", "2026-03-02T05:00:00Z"])
    nights = weather.night_of(t, 117.6)
    assert [str(d.date()) for d in nights] == ["2026-03-01", "2026-03-01", "2026-03-02"]


def _passes():
    rows = []
    for d in range(60):
        for k, station in enumerate(["A", "B"]):
            t = pd.Timestamp("2026-01-01T18:00:00Z") + pd.Timedelta(days=d, minutes=5 * k)
            rows.append({"satellite": "S", "station": station, "rise_utc": t, "culmination_utc": t,
                         "key_bits": 1e6 * (1 + k)})
        # a second pass over A in the same night
        t = pd.Timestamp("2026-01-01T20:00:00Z") + pd.Timedelta(days=d)
        rows.append({"satellite": "S", "station": "A", "rise_utc": t, "culmination_utc": t, "key_bits": 5e5})
    return pd.DataFrame(rows)


def test_clear_column_is_seeded_and_shared_within_a_night():
    passes = _passes()
    models = {"A": CloudModel((0.5,) * 12, 0.3), "B": CloudModel((0.5,) * 12, 0.3)}
    a = weather.clear_column(passes, 7, models)
    assert a.equals(weather.clear_column(passes, 7, models))
    assert not a.equals(weather.clear_column(passes, 8, models))
    on_a = passes["station"] == "A"
    nights = passes.loc[on_a, "culmination_utc"].dt.floor("D") - pd.Timedelta(hours=12)
    same = a[on_a].groupby(nights.dt.floor("D").to_numpy()).nunique()
    assert (same == 1).all()
    # a station without a model is always clear; a station's draw ignores the others
    only_a = weather.clear_column(passes, 7, {"A": models["A"]})
    assert only_a[~on_a].all() and only_a[on_a].equals(a[on_a])


def test_key_distribution_mean_is_the_expectation():
    """E[key] = sum over passes of key x p(month): computed by hand here."""
    passes = _passes()
    models = {"A": CloudModel((0.7,) * 12, 0.5), "B": CloudModel((0.4,) * 12, 0.5)}
    table = weather.key_distribution(passes, models, years=4000, seed=3)
    expect = {"A": 0.7 * passes.loc[passes.station == "A", "key_bits"].sum(),
              "B": 0.4 * passes.loc[passes.station == "B", "key_bits"].sum()}
    rows = table[(table.satellite == "all")].set_index("station")
    for name, value in expect.items():
        # standard error of the mean ~0.5 % here (60 nights, rho 0.5, 4000 years): 5 of them
        assert rows.loc[name, "mean_bits"] == pytest.approx(value, rel=0.025)
        assert rows.loc[name, "p10_bits"] <= rows.loc[name, "p50_bits"] <= rows.loc[name, "p90_bits"]
        assert rows.loc[name, "p90_bits"] <= rows.loc[name, "clear_sky_bits"] == passes.loc[passes.station == name, "key_bits"].sum()
    assert rows.loc["all", "mean_bits"] == pytest.approx(sum(expect.values()), rel=0.025)
    months = weather.monthly_distribution(passes, models, years=4000, seed=3)
    assert months.groupby("station")["mean_bits"].sum()["A"] == pytest.approx(rows.loc["A", "mean_bits"], rel=1e-9)
    assert "<table class='weather'>" in weather.distribution_html(table, 4000, 3)


def test_persistence_widens_the_spread_not_the_mean():
    passes = _passes()
    def table(rho):
        t = weather.key_distribution(passes, {"A": CloudModel((0.5,) * 12, rho)}, years=3000, seed=1)
        return t[t.satellite == "all"].set_index("station")

    lo, hi = table(0.0), table(0.8)
    assert hi.loc["A", "mean_bits"] == pytest.approx(lo.loc["A", "mean_bits"], rel=0.02)
    assert hi.loc["A", "p90_bits"] - hi.loc["A", "p10_bits"] > 2 * (lo.loc["A", "p90_bits"] - lo.loc["A", "p10_bits"])


def test_scenario_weather_blocks(tmp_path):
    """Station presets bring their weather; a bad block is one line naming the field."""
    import yaml
    from conftest import short_scenario

    from satqkd.config import load_scenario
    from satqkd.errors import SatqkdError

    raw = short_scenario()
    raw["weather"] = {"seed": 4, "years": 10}
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(raw))
    sc = load_scenario(path)
    assert sc.stations[0].weather == CloudModel.nanshan() and sc.weather.seed == 4
    raw["stations"][0]["weather"] = {"clear_fraction": [0.5] * 11}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SatqkdError, match=r"stations\[0\]\.weather\.clear_fraction"):
        load_scenario(path)
    raw["stations"][0]["weather"] = {"preset": "xinglong", "persistence": 1.5}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SatqkdError, match=r"stations\[0\]\.weather\.persistence"):
        load_scenario(path)

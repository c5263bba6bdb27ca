"""The daytime sky (satqkd.link.day_sky_radiance, solar_irradiance, Sky's
daylight branch), the Sun-line-of-sight angle, and day passes that make key.

References: the solar constant 1361 W m^-2 (Kopp & Lean, GRL 38, L01706
(2011)); the single-scattering radiance of a plane-parallel layer (Liou,
*An Introduction to Atmospheric Radiation* (2002), sect. 3.4), here
integrated numerically along the line of sight; the horizon-sky
measurements of Appl. Opt. 6, 2105 (1967): a typical peak of
5 µW cm^-2 sr^-1 nm^-1 looking at the north horizon at noon with a
meteorological range of 30 km or more; skyfield for the Sun's position.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from satqkd import link
from satqkd.config import load_scenario
from satqkd.pipeline import run

CONFIGS = __import__("pathlib").Path(__file__).resolve().parents[1] / "configs"


def test_solar_irradiance_integrates_to_the_solar_constant():
    """A 5,778 K black body at 1 au carries 1,361 W m^-2 (Kopp & Lean 2011) within 1 %."""
    lam = np.linspace(100.0, 1e5, 400_000)
    total = np.trapezoid(link.solar_irradiance(lam), lam)
    assert total == pytest.approx(1361.0, rel=0.01)


def test_single_scattering_closed_form_against_a_numerical_path_integral():
    """L = int_0^tau F0/(4 pi) S e^{-t m_s} e^{-(tau - t) m_v} m_v dt, summed
    slab by slab (sunlight attenuated down to depth t, scattered, attenuated
    along the line of sight to the ground), S = (tau_R P_R + w tau_a P_HG) / tau."""
    atm = link.Atmosphere()
    lam, sun, elev, sep = 1550.0, 35.0, 50.0, 70.0
    tau_r = float(atm.rayleigh_depth(lam))
    tau_a = float(atm.scattering_depth(lam)) - tau_r
    tau = tau_r + tau_a + float(atm.absorption_depth(lam))
    mu = math.cos(math.radians(sep))
    hg = (1 - 0.7**2) / (1 + 0.7**2 - 2 * 0.7 * mu) ** 1.5
    s = (tau_r * 0.75 * (1 + mu**2) + 0.9 * tau_a * hg) / tau
    ms, mv = float(link.kasten_young_airmass(sun)), float(link.kasten_young_airmass(elev))
    t = np.linspace(0.0, tau, 20001)
    integrand = float(link.solar_irradiance(lam)) / (4 * math.pi) * s * np.exp(-t * ms) * np.exp(-(tau - t) * mv) * mv
    expected = np.trapezoid(integrand, t)
    assert float(link.day_sky_radiance(lam, sun, elev, sep, atm)) == pytest.approx(expected, rel=1e-6)
    # The limit m_s = m_v of the closed form.
    same = float(link.day_sky_radiance(lam, elev, elev, sep, atm))
    assert same == pytest.approx(float(link.solar_irradiance(lam)) / (4 * math.pi) * s * tau * mv * math.exp(-tau * mv))


def test_horizon_sky_against_the_1967_measurement():
    """Appl. Opt. 6, 2105 (1967): north horizon at noon, >= 30 km visibility,
    peak ~5 µW cm^-2 sr^-1 nm^-1 = 0.05 W m^-2 sr^-1 nm^-1.  The Sun ~40-74 deg
    high in the south, looking 2 deg above the north horizon; single
    scattering, so at most the measurement and within 50 % of it."""
    for sun in (40.0, 60.0, 74.0):
        peak = max(float(link.day_sky_radiance(lam, sun, 2.0, 178.0 - sun)) for lam in (450, 500, 550, 600))
        assert 0.025 < peak <= 0.06


def test_day_sky_by_wavelength_sun_and_angle():
    """Darker in the infrared (Rayleigh lambda^-4, aerosol lambda^-1.3, less
    sunlight), brighter towards the Sun (the aerosol's forward peak), darker
    with the Sun lower, dark with the Sun down."""
    r = lambda lam, sun=45.0, sep=60.0: float(link.day_sky_radiance(lam, sun, 45.0, sep))
    assert r(550) > r(850) > r(1550)
    assert 5.0 < r(850) / r(1550) < 30.0
    assert r(850, sep=20.0) > r(850, sep=60.0) > r(850, sep=100.0)
    assert r(850, sun=60.0) > r(850, sun=10.0)
    assert float(link.day_sky_radiance(850, -1.0, 45.0, 60.0)) == 0.0


def test_sky_daylight_branch_and_constant_fallback():
    sky = link.Sky()
    kw = dict(elevation_deg=45.0, sun_separation_deg=60.0)
    day = float(sky.radiance(45.0, wavelength_nm=1550.0, **kw))
    assert day == pytest.approx(float(link.day_sky_radiance(1550.0, 45.0, 45.0, 60.0)))
    # Night and twilight are unchanged by the line of sight.
    for sun in (-30.0, -12.0, -3.0):
        assert float(sky.radiance(sun, wavelength_nm=1550.0, **kw)) == float(sky.radiance(sun, wavelength_nm=1550.0))
    constant = dataclasses.replace(sky, daylight="constant")
    assert float(constant.radiance(45.0, wavelength_nm=850.0, **kw)) == pytest.approx(constant.day_radiance)


def test_sun_separation_against_skyfield():
    """The Sun-line-of-sight angle of the pipeline, against skyfield's apparent Sun."""
    from satqkd import sky
    from satqkd.geometry import sun_separation_deg
    from satqkd.stations import Station

    st = Station.nanshan()
    times = pd.to_datetime(["2026-06-21T04:00:00", "2026-06-21T06:30:00", "2026-06-21T09:00:00"], utc=True)
    el, az = np.array([30.0, 60.0, 15.0]), np.array([100.0, 200.0, 300.0])
    got = sun_separation_deg(st, times.to_numpy(), el, az)
    from skyfield.api import wgs84

    ts = sky.timescale()
    topos = sky.earth() + wgs84.latlon(st.latitude_deg, st.longitude_deg, elevation_m=st.height_m)
    for k, t in enumerate(times):
        alt, saz, _ = topos.at(ts.from_datetime(t.to_pydatetime())).observe(sky.sun()).apparent().altaz()
        a1, z1, a2, z2 = map(math.radians, (alt.degrees, saz.degrees, el[k], az[k]))
        c = math.sin(a1) * math.sin(a2) + math.cos(a1) * math.cos(a2) * math.cos(z1 - z2)
        assert got[k] == pytest.approx(math.degrees(math.acos(c)), abs=0.02)
    # Night seconds are not computed.
    assert sun_separation_deg(st, times.to_numpy(), el, az, sun_altitude_deg=np.full(3, -20.0)).tolist() == [90.0] * 3


def test_daylight_passes_make_key_where_the_noise_allows():
    """configs/leo-1550-daylight.yaml (night: none): day passes see a sky
    hundreds of times brighter than night passes and still make key through
    the single-mode 6 µrad field and 0.1 nm filter."""
    sc = load_scenario(CONFIGS / "leo-1550-daylight.yaml")
    res = run(sc)
    s = res.seconds
    day = s["sun_altitude_deg"] > 10.0
    night = s["sun_altitude_deg"] < -18.0
    assert day.any() and night.any()
    assert s.loc[day, "background_cps"].median() > 100 * s.loc[night, "background_cps"].median()
    assert (s.loc[day, "noise_prob"] > sc.stations[0].detector.dark_count_prob).all()
    per_pass = s.groupby("pass_id")["sun_altitude_deg"].median()
    day_passes = per_pass.index[per_pass > 10.0]
    p = res.passes.set_index("pass_id")
    assert p.loc[day_passes, "key_bits"].max() > 0
    # The same receiver with the wide 100 µrad, 1 nm field of a night station: no key in daylight.
    wide = dataclasses.replace(sc.stations[0], telescope=dataclasses.replace(sc.stations[0].telescope, fov_urad=100.0,
                                                                             filter_bandwidth_nm=1.0))
    res_wide = run(dataclasses.replace(sc, stations=[wide]))
    pw = res_wide.passes.set_index("pass_id")
    sw = res_wide.seconds
    med = sw.groupby("pass_id")["sun_altitude_deg"].median()
    assert pw.loc[med.index[med > 10.0], "key_bits"].sum() < 0.1 * p.loc[day_passes, "key_bits"].sum()


def test_report_shows_the_sun_and_the_sky_background():
    from satqkd.report import render_report

    sc = load_scenario(CONFIGS / "leo-1550-daylight.yaml")
    res = run(dataclasses.replace(sc, end=sc.start.ts.tt_jd(sc.start.tt + 1.0)))
    page = render_report(res)
    assert "Sun, highest (°)" in page and "sky background (counts/s)" in page
    assert "(daylight)" in page and '"bg":[' in page
    # A night scenario's report has none of it.
    night = load_scenario(CONFIGS / "micius-2017-xinglong.yaml")
    assert "Sun, highest" not in render_report(run(night))

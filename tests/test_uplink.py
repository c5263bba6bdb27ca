"""The uplink budget (satqkd.link.uplink_budget) and uplink scenarios.

References: Andrews & Phillips, *Laser Beam Propagation through Random
Media*, 2nd ed. (2005), ch. 12 -- the uplink/downlink asymmetry and the
plane-wave relation rho0 = r0 / 2.1 between the coherence radius and the
Fried parameter (0.423 vs 1.46 in the structure-function integrals);
Fante, Proc. IEEE 63, 1669 (1975) -- the long-term beam as diffraction and
turbulence spread added in quadrature; the Gaussian-beam formulas of
link-budget.md written out by hand.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from satqkd import link
from satqkd.config import load_scenario
from satqkd.detector import DETECTOR_PRESETS
from satqkd.errors import SatqkdError
from satqkd.pipeline import run

CONFIGS = __import__("pathlib").Path(__file__).resolve().parents[1] / "configs"


def test_uplink_spread_is_the_plane_wave_limit_for_a_distant_satellite():
    """For a receiver far above the turbulence the uplink weight (1 - h/H)^5/3
    is 1, so rho0 = (1.46 k^2 mu0)^-3/5 = r0 (0.423 / 1.46)^3/5 = r0 / 2.10
    (A&P 2005) and theta_t = 2 sqrt(2) / (k rho0)."""
    turb = link.Turbulence.hv57()
    lam_nm = 810.0
    k = 2 * math.pi / (lam_nm * 1e-9)
    for elev in (90.0, 30.0):
        r0 = float(turb.fried_parameter_m(elev, lam_nm))
        rho0 = r0 * (0.423 / 1.46) ** 0.6
        assert rho0 == pytest.approx(r0 / 2.10, rel=0.01)
        expected = 2 * math.sqrt(2) / (k * rho0)
        assert float(turb.uplink_spread_rad(elev, 1e6, lam_nm)) == pytest.approx(expected, rel=1e-3)


def test_uplink_feels_turbulence_far_more_than_a_downlink():
    """A&P ch. 12: the turbulence sits next to the uplink's transmitter, at
    the receiver end of a downlink; at 500 km the uplink spread is >30x."""
    turb = link.Turbulence.hv57()
    up = float(turb.uplink_spread_rad(45.0, 500.0, 810.0))
    down = float(turb.downlink_spread_rad(45.0, 500.0, 810.0))
    assert up / down > 30.0
    # ~ lambda / r0: an uplink beam cannot be narrower than the turbulence allows.
    r0 = float(turb.fried_parameter_m(45.0, 810.0))
    assert 0.5 < up / (810e-9 / r0) < 2.0


def test_uplink_budget_by_hand_at_zenith():
    """Geometric, turbulence and pointing losses of the Ngari preset at 500 km
    zenith written out: w(L) of the vacuum beam, w_LT^2 = w^2 + (theta_t L)^2,
    eta = 1 - exp(-2 a^2 / w^2), <eta_point> = 1 / (1 + 4 s^2 / theta^2)."""
    tx, rx = link.Transmitter.ngari_uplink(), link.Telescope.micius_receiver()
    det = DETECTOR_PRESETS["si_apd_810"]()
    turb = link.Turbulence.hv57()
    b = link.uplink_budget(500.0, 90.0, tx, rx, det, site_height_m=5100.0, turbulence=turb,
                           refraction=False).iloc[0]
    L = 500e3
    w0 = tx.waist_m
    zr = w0 / tx.half_angle_rad
    w = w0 * math.sqrt(1 + (L / zr) ** 2)
    a = rx.aperture_m / 2
    eta_geo = 1 - math.exp(-2 * a**2 / w**2)
    theta_t = float(turb.uplink_spread_rad(90.0, 500.0, tx.wavelength_nm))
    w_lt = math.hypot(w, theta_t * L)
    eta_turb = (1 - math.exp(-2 * a**2 / w_lt**2)) / eta_geo
    theta = math.hypot(tx.half_angle_rad, theta_t)
    eta_point = 1 / (1 + 4 * (tx.pointing_jitter_urad * 1e-6) ** 2 / theta**2)
    assert b["geometric_loss_db"] == pytest.approx(-10 * math.log10(eta_geo), abs=1e-9)
    assert b["turbulence_loss_db"] == pytest.approx(-10 * math.log10(eta_turb), abs=1e-9)
    assert b["pointing_loss_db"] == pytest.approx(-10 * math.log10(eta_point), abs=1e-9)
    assert b["transmitter_loss_db"] == pytest.approx(-10 * math.log10(0.8))
    assert b["receiver_loss_db"] == pytest.approx(-10 * math.log10(rx.optics_efficiency))
    assert b["loss_db"] == pytest.approx(sum(b[c] for c in b.index if c.endswith("_loss_db")))


def test_without_turbulence_an_uplink_is_a_downlink_with_the_ends_swapped():
    """No turbulence: no spread and no seeing, so the same transmitter,
    aperture and detector give the same loss whichever way the light goes."""
    tx, tel = link.Transmitter.micius(), link.Telescope.nanshan()
    det = DETECTOR_PRESETS["micius_2021_nanshan"]()
    r = link.slant_range_km(np.array([20.0, 45.0, 80.0]), 500.0)
    kw = dict(site_height_m=2034.0, turbulence=link.Turbulence.off())
    up = link.uplink_budget(r, [20.0, 45.0, 80.0], tx, tel, det, **kw)
    down = link.link_budget(r, [20.0, 45.0, 80.0], tx, tel, det, **kw)
    np.testing.assert_allclose(up["loss_db"], down["loss_db"], rtol=1e-12)


def test_uplink_background_is_the_sunlit_ground():
    """Lambertian ground of albedo A lit at altitude s: L = A E_sun sin(s) / pi; none at night."""
    assert float(link.earth_radiance(810.0, -10.0)) == 0.0
    got = float(link.earth_radiance(810.0, 30.0, albedo=0.3))
    assert got == pytest.approx(0.3 * float(link.solar_irradiance(810.0)) * 0.5 / math.pi)


def test_micius_uplink_scenario_makes_key_at_night():
    """configs/micius-uplink-ngari.yaml: Ngari transmits, the satellite's Si
    APDs detect; at night the noise is their dark counts alone."""
    sc = load_scenario(CONFIGS / "micius-uplink-ngari.yaml")
    sc = dataclasses.replace(sc, end=sc.start.ts.tt_jd(sc.start.tt + 2.0))
    res = run(sc)
    assert len(res.passes) > 0 and res.passes["key_bits"].sum() > 0
    s = res.seconds
    det = sc.satellites[0].detector
    np.testing.assert_allclose(s["noise_prob"], det.dark_count_prob, rtol=1e-9)
    assert (s["background_cps"] == 0).all()
    # The loss of every second is the uplink budget of that second (to the
    # turbulence integral's one orbit height per call: 1e-6 relative).
    b = link.uplink_budget(s["range_km"].iloc[:5], s["elevation_deg"].iloc[:5], sc.stations[0].transmitter,
                           sc.satellites[0].receiver, det, site_height_m=5100.0)
    np.testing.assert_allclose(s["loss_db"].iloc[:5], b["loss_db"], rtol=1e-5)


def test_uplink_station_needs_a_receiver_on_the_satellite(tmp_path, capsys):
    from satqkd.cli import main

    text = (CONFIGS / "micius-uplink-ngari.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("    receiver: {preset: micius_receiver}\n", ""), encoding="utf-8")
    with pytest.raises(SatqkdError, match=r"satellites\[0\]\.receiver: required because stations\[0\] has a transmitter"):
        load_scenario(bad)
    assert main(["run", str(bad), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "receiver" in err[0]
    assert not (tmp_path / "out").exists()


def test_qeyssat_like_uplink_loads():
    sc = load_scenario(CONFIGS / "qeyssat-uplink.yaml")
    st = sc.stations[0]
    assert st.uplink and st.transmitter.wavelength_nm == 785.0 and st.source.rep_rate_hz == 1e8
    assert sc.satellites[0].receiver.aperture_m == 0.08


def test_report_of_an_uplink_says_uplink():
    """The report labels an uplink's passes station -> satellite, draws the
    uplink's budget and lists the ground transmitter, not a downlink's."""
    from satqkd.report import render_report

    sc = load_scenario(CONFIGS / "micius-uplink-ngari.yaml")
    res = run(dataclasses.replace(sc, end=sc.start.ts.tt_jd(sc.start.tt + 2.0)))
    page = render_report(res)
    assert "Uplink loss budget, Ngari" in page  # (plotly escapes the arrow)
    assert "Uplink Ngari \\u2192 Micius-like" in page  # the pass titles, JSON in the page
    assert ">uplink<" in page  # the pass table's link column
    assert "Ngari: uplink transmitter" in page and "Micius-like: uplink receiver" in page
    assert "Micius-like: transmitter" not in page

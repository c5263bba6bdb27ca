"""Tests for satqkd.refraction against hand evaluations and ERFA (via pyerfa,
astropy's dependency), an independent implementation.

References:
  Saemundsson, Sky & Telescope 72, 70 (1986); Bennett, J. Navigation 35, 255
  (1982); Meeus, Astronomical Algorithms, 2nd ed., ch. 16 (34.5' at the
  horizon from Bennett; the pressure/temperature factor); ERFA eraRefco
  (the A tan z + B tan^3 z model of the IAU SOFA library).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from satqkd.refraction import (
    apparent_elevation_deg,
    bennett_refraction_deg,
    saemundsson_refraction_deg,
    standard_pressure_hpa,
    true_elevation_deg,
)


def test_bennett_at_the_horizon_is_34_5_arcmin():
    """Bennett's R = 1'/tan(h0 + 7.31/(h0 + 4.4)) at h0 = 0: 1/tan(1.6614 deg) = 34.48'."""
    assert float(bennett_refraction_deg(0.0)) * 60 == pytest.approx(1 / math.tan(math.radians(7.31 / 4.4)), rel=1e-12)
    assert float(bennett_refraction_deg(0.0)) * 60 == pytest.approx(34.5, abs=0.05)


def test_saemundsson_by_hand_with_pressure_and_temperature():
    """R = 1.02'/tan(h + 10.3/(h + 5.11)) x (P/1010)(283/(273 + T)); at h = 10 deg,
    800 hPa and -10 degC by hand."""
    h = 10.0
    r = 1.02 / math.tan(math.radians(h + 10.3 / (h + 5.11))) * (800 / 1010) * (283 / 263)
    assert float(saemundsson_refraction_deg(h, 800.0, -10.0)) * 60 == pytest.approx(r, rel=1e-12)


def test_formulas_invert_each_other():
    """Saemundsson (true -> apparent) and Bennett (apparent -> true) are
    consistent to ~0.1' from the horizon up (Meeus ch. 16)."""
    h = np.array([0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 45.0, 80.0])
    back = true_elevation_deg(apparent_elevation_deg(h))
    assert np.all(np.abs(back - h) * 60 < 0.1)


@pytest.mark.parametrize("elevation", [15.0, 20.0, 30.0, 45.0, 70.0])
def test_agrees_with_erfa_refco(elevation):
    """ERFA's refraction constants (eraRefco, 1010 hPa, 10 degC, dry air,
    0.55 um) give R = A tan z + B tan^3 z for the apparent zenith distance
    z; Bennett's formula agrees within 0.1' from 15 deg up."""
    import erfa

    a, b = erfa.refco(1010.0, 10.0, 0.0, 0.55)
    z = math.radians(90.0 - elevation)
    r_erfa = math.degrees(a * math.tan(z) + b * math.tan(z) ** 3) * 60
    assert float(bennett_refraction_deg(elevation)) * 60 == pytest.approx(r_erfa, abs=0.1)


def test_standard_pressure_at_site_height():
    """1013.25 hPa exp(-h / 8434.5 m): Nanshan (2,034 m) ~797 hPa, by hand."""
    assert float(standard_pressure_hpa(2034.0)) == pytest.approx(1013.25 * math.exp(-2034 / 8434.5), rel=1e-12)
    assert float(standard_pressure_hpa(0.0)) == pytest.approx(1013.25)


def test_link_budget_uses_apparent_elevation():
    """The link stage reports the apparent elevation per sample and uses it for
    the air mass: at 10 deg and sea level the atmosphere loss is that of
    Kasten-Young at 10 deg + Saemundsson's refraction (5.4' at 1013 hPa, 10 degC)."""
    from satqkd.detector import Detector
    from satqkd.link import Atmosphere, Telescope, Transmitter, link_budget, slant_range_km

    df = link_budget(slant_range_km(10.0, 500.0), 10.0, Transmitter.micius(), Telescope.nanshan(), Detector())
    app = 10.0 + float(saemundsson_refraction_deg(10.0, 1013.25, 10.0))
    assert df.apparent_elevation_deg.iloc[0] == pytest.approx(app, rel=1e-12)
    assert (app - 10.0) * 60 == pytest.approx(5.4, abs=0.05)
    t = float(Atmosphere().transmittance(app, 850.0, 0.0))
    assert df.atmosphere_loss_db.iloc[0] == pytest.approx(-10 * math.log10(t), rel=1e-12)
    flat = link_budget(slant_range_km(10.0, 500.0), 10.0, Transmitter.micius(), Telescope.nanshan(), Detector(),
                       refraction=False)
    assert flat.atmosphere_loss_db.iloc[0] > df.atmosphere_loss_db.iloc[0]

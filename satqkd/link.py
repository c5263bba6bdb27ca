"""Free-space link budgets, downlink and uplink: from a laser to a click.

The efficiency of one second of a pass is a product of independent factors,

    eta = eta_geo(range) * eta_turb * eta_point * eta_tx * T_atm(elevation, site)
          * eta_rx * eta_field_stop(seeing) * eta_det,

and ``loss_db = -10 log10(eta)`` is the sum of the per-factor losses.  Each
factor is a small model with presets whose docstring says where its numbers
come from:

* :class:`Transmitter` -- the satellite's beam: a Gaussian truncated by the
  transmit aperture and its obscuration (Klein & Degnan 1974), with a real
  (worse than diffraction-limited) divergence, pointing jitter and
  transmit-optics efficiency.
* :class:`Atmosphere` -- extinction: Rayleigh + Angstrom aerosol optical
  depth, scaled to the site's height, times the Kasten & Young (1989) air
  mass.
* :class:`Turbulence` -- a Hufnagel-Valley C_n^2 profile: (a) the small
  broadening of the *downlink* beam (turbulence sits at the receiver end of
  the path, where it hardly matters), (b) the seeing blur at the receiver,
  which matters when the receiver's field stop is narrow.
* :class:`Telescope` -- the ground receiver: aperture, central obscuration,
  optics efficiency, field of view and spectral filter.
* :class:`satqkd.detector.Detector` -- the detector's efficiency and dark
  counts (not defined here).
* :class:`Sky` -- sky background radiance (night sky per wavelength with OH
  airglow, twilight, the Moon with the Krisciunas & Schaefer phase law, the
  daytime sky by single scattering, :func:`day_sky_radiance`) turned into
  noise clicks per pulse.

:func:`link_budget` is the downlink (satellite transmitter, ground
receiver); :func:`uplink_budget` the uplink (ground transmitter, receiver
on the satellite), where turbulence next to the transmitter spreads and
wanders the beam (:meth:`Turbulence.uplink_spread_rad`) and the background
is the sunlit ground (:func:`earth_radiance`).  Invariant of both:
``loss_db`` is the sum of the ``*_loss_db`` components and ``noise_prob``
is the detector's dark clicks plus the background within its gate.

References used throughout:
Siegman, *Lasers* (1986), ch. 17 (Gaussian beams, M^2);
Kasten & Young, Appl. Opt. 28, 4735 (1989) (air mass);
Andrews & Phillips, *Laser Beam Propagation through Random Media*, 2nd ed.
(SPIE 2005), ch. 12 (slant paths, HV profile, downlink/uplink asymmetry);
Fried, JOSA 56, 1372 (1966) (r0, seeing);
Bourgoin et al., NJP 15, 023006 (2013) (satellite QKD link budgets);
Chen et al., Nature 589, 214 (2021) and Liao et al., Nature 549, 43 (2017)
(Micius).  Numbers tagged [paper], [unverified] or [assumption] as in
``shared/reference/system.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable, Literal, Optional

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field

from satqkd.detector import Detector
from satqkd.errors import SatqkdError
from satqkd.refraction import apparent_elevation_deg, standard_pressure_hpa

__all__ = [
    "EARTH_RADIUS_KM",
    "GEO_HEIGHT_KM",
    "Transmitter",
    "Atmosphere",
    "Turbulence",
    "Telescope",
    "Sky",
    "TRANSMITTER_PRESETS",
    "ATMOSPHERE_PRESETS",
    "TURBULENCE_PRESETS",
    "TELESCOPE_PRESETS",
    "SKY_PRESETS",
    "slant_range_km",
    "geo_elevation_deg",
    "truncated_gaussian_gain",
    "night_sky_radiance",
    "solar_spectrum_ratio",
    "moon_phase_factor",
    "kasten_young_airmass",
    "gaussian_beam_radius_m",
    "annular_gaussian_efficiency",
    "pointing_efficiency",
    "solar_irradiance",
    "day_sky_radiance",
    "earth_radiance",
    "link_budget",
    "uplink_budget",
    "loss_table",
    "geo_comparison",
]

EARTH_RADIUS_KM = 6371.0
GEO_HEIGHT_KM = 35786.0
NANSHAN_LATITUDE_DEG = 43.47151
NANSHAN_HEIGHT_M = 2034.0
XINGLONG_HEIGHT_M = 890.0

_MOFFAT_BETA = 4.765  # Kolmogorov long-exposure PSF as a Moffat profile (Trujillo et al. 2001)
_H_PLANCK = 6.62607015e-34
_C_LIGHT = 299792458.0

Fraction = Annotated[float, Field(gt=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


# ---------------------------------------------------------------------------
# Geometry and closed-form building blocks
# ---------------------------------------------------------------------------


def slant_range_km(elevation_deg, height_km, earth_radius_km: float = EARTH_RADIUS_KM) -> np.ndarray:
    """Distance from a ground station to a satellite at ``height_km`` seen at ``elevation_deg``.

    Spherical Earth: d(e) = sqrt((R + h)^2 - R^2 cos^2 e) - R sin e.
    Broadcasts over array inputs.
    """
    e = np.radians(np.asarray(elevation_deg, dtype=float))
    r = float(earth_radius_km)
    rs = r + np.asarray(height_km, dtype=float)
    return np.sqrt(rs**2 - (r * np.cos(e)) ** 2) - r * np.sin(e)


def geo_elevation_deg(latitude_deg, longitude_offset_deg=0.0, earth_radius_km: float = EARTH_RADIUS_KM):
    """Elevation of a geostationary satellite from a site at ``latitude_deg``.

    ``longitude_offset_deg`` is the satellite's longitude minus the site's.
    With the central angle gamma (cos gamma = cos lat cos dlon), the
    elevation is atan((cos gamma - R / (R + h_GEO)) / sin gamma).
    """
    lat = np.radians(np.asarray(latitude_deg, dtype=float))
    dlon = np.radians(np.asarray(longitude_offset_deg, dtype=float))
    cos_g = np.cos(lat) * np.cos(dlon)
    sin_g = np.sqrt(np.clip(1.0 - cos_g**2, 0.0, None))
    ratio = earth_radius_km / (earth_radius_km + GEO_HEIGHT_KM)
    return np.degrees(np.arctan2(cos_g - ratio, sin_g))


def kasten_young_airmass(elevation_deg) -> np.ndarray:
    """Relative optical air mass of Kasten & Young, Appl. Opt. 28, 4735 (1989), eq. (3).

    m = 1 / (sin e + 0.50572 (e + 6.07995 deg)^-1.6364), e in degrees.  The
    formula is for the *apparent* elevation (:mod:`satqkd.refraction`;
    :func:`link_budget` passes it).  Finite at the horizon (38.09), unlike
    the plane-parallel 1 / sin e.
    """
    e = np.asarray(elevation_deg, dtype=float)
    return 1.0 / (np.sin(np.radians(e)) + 0.50572 * (e + 6.07995) ** -1.6364)


def gaussian_beam_radius_m(distance_m, waist_m, rayleigh_range_m) -> np.ndarray:
    """1/e^2 intensity radius of a Gaussian beam: w(L) = w0 sqrt(1 + (L / z_R)^2)."""
    L = np.asarray(distance_m, dtype=float)
    return waist_m * np.sqrt(1.0 + (L / rayleigh_range_m) ** 2)


def annular_gaussian_efficiency(beam_radius_m, aperture_radius_m, obscuration_radius_m=0.0) -> np.ndarray:
    """Fraction of a centred Gaussian beam (1/e^2 radius w) falling on an annulus.

    eta = exp(-2 b^2 / w^2) - exp(-2 a^2 / w^2) for outer radius a and central
    obscuration radius b (b = 0 gives 1 - exp(-2 a^2 / w^2)).
    """
    w2 = np.asarray(beam_radius_m, dtype=float) ** 2
    # -expm1 keeps precision when the beam is much wider than the aperture
    return -np.expm1(-2.0 * aperture_radius_m**2 / w2) + np.expm1(-2.0 * obscuration_radius_m**2 / w2)


def pointing_efficiency(jitter_rad, half_angle_rad) -> np.ndarray:
    """Mean efficiency of a Gaussian beam with Gaussian pointing jitter.

    <eta_point> = 1 / (1 + 4 sigma^2 / theta^2) for jitter sigma per axis and
    1/e^2 far-field half-angle theta (receiver small compared with the beam;
    averaging exp(-2 r^2 / w^2) over a Rayleigh-distributed offset r).
    sigma = theta / 2 costs 3 dB.
    """
    s = np.asarray(jitter_rad, dtype=float)
    t = np.asarray(half_angle_rad, dtype=float)
    return 1.0 / (1.0 + 4.0 * s**2 / t**2)


def _db(eta) -> np.ndarray:
    return -10.0 * np.log10(eta)


def _loss_parts(L, eta_geo, eta_atm, eta_turb, eta_point, transmitter, receiver, eta_fs, detector) -> dict:
    """The loss budget's components in dB, in :data:`_COLUMNS`' order, for
    a downlink (receiver: the ground telescope) or an uplink (the satellite's)."""
    return {
        "geometric_loss_db": _db(eta_geo),
        "atmosphere_loss_db": _db(eta_atm),
        "turbulence_loss_db": _db(eta_turb),
        "pointing_loss_db": _db(eta_point),
        "transmitter_loss_db": np.full_like(L, _db(transmitter.optics_efficiency)),
        "receiver_loss_db": np.full_like(L, _db(receiver.optics_efficiency)),
        "field_stop_loss_db": _db(eta_fs),
        "detector_loss_db": np.full_like(L, _db(detector.efficiency)),
    }


# ---------------------------------------------------------------------------
# Transmitter
# ---------------------------------------------------------------------------


def truncated_gaussian_gain(truncation_ratio, obscuration_ratio=0.0) -> np.ndarray:
    """On-axis far-field gain factor g of a truncated, obscured Gaussian beam.

    Klein & Degnan, Appl. Opt. 13, 2134 (1974): a Gaussian of 1/e^2
    intensity radius w leaving a circular aperture of radius a with a
    central obscuration of radius b = gamma a has the on-axis far-field gain
    G = (4 pi A / lambda^2) g with A = pi a^2 and

        g(alpha, gamma) = (2 / alpha^2) [exp(-gamma^2 alpha^2) - exp(-alpha^2)]^2,
        alpha = a / w.

    ``truncation_ratio`` is w / a = 1 / alpha.  Unobscured, g peaks at 0.8145
    for w / a = 0.8920 (alpha = 1.121): no Gaussian beam from an aperture
    puts more than 81 % of a uniformly lit aperture's gain on axis.
    """
    alpha = 1.0 / np.asarray(truncation_ratio, dtype=float)
    gam = np.asarray(obscuration_ratio, dtype=float)
    return 2.0 / alpha**2 * (np.exp(-(gam * alpha) ** 2) - np.exp(-alpha**2)) ** 2


_FWHM_PER_E2 = float(np.sqrt(np.log(2.0) / 2.0))  # Gaussian: FWHM full angle / 1/e^2 full angle


@dataclass(frozen=True)
class Transmitter:
    """The satellite's downlink beam: a Gaussian truncated by the transmit aperture.

    The laser fills the transmit telescope with a Gaussian of 1/e^2 radius
    ``w = truncation_ratio * a`` (a = aperture radius), cut by the aperture
    edge and by the central obscuration.  Its far field is not Gaussian,
    but the link budget only needs the beam where the receiver is, which is
    close to the axis: we use the Gaussian with the same on-axis intensity.
    With Klein & Degnan's gain factor g (:func:`truncated_gaussian_gain`)
    its 1/e^2 half-angle is

        theta_dl = (lambda / (pi a)) sqrt(2 / g),

    i.e. 1.57 lambda / (pi a) at the best truncation (g = 0.81): a
    diffraction-limited 0.3 m beam at 850 nm cannot be narrower than
    5.7 µrad full angle (an untruncated Gaussian of waist a would claim
    3.6 µrad).  A real beam is worse by its beam quality M^2 >= 1:
    theta = M^2 theta_dl.

    The divergence of a preset is the **1/e^2 full angle** of the far-field
    intensity (``divergence_urad``); a FWHM full angle can be given instead
    (``divergence_fwhm_urad``; FWHM = 0.589 x the 1/e^2 full angle for a
    Gaussian).  With neither, ``m2`` sets it.  Either must not beat
    ``2 theta_dl``.

    Parameters
    ----------
    wavelength_nm
        Signal wavelength.
    aperture_m
        Transmit telescope diameter.
    obscuration_m
        Diameter of the transmit telescope's central obscuration (0 for an
        off-axis or refractive telescope).
    truncation_ratio
        1/e^2 radius of the beam at the aperture over the aperture radius;
        0.89 is Klein & Degnan's optimum for an unobscured aperture.
    divergence_urad
        Far-field 1/e^2 **full-angle** divergence (µrad).
    divergence_fwhm_urad
        Far-field **FWHM full-angle** divergence (µrad), instead of
        ``divergence_urad`` (give at most one; ``null`` the other when
        overriding a preset).
    m2
        Beam quality factor, used only when no divergence is given.
    pointing_jitter_urad
        RMS pointing error per axis (µrad) of the beam centre.
    optics_efficiency
        Transmission of the transmit optics after the source's output (the
        source's mean photon number is defined at the telescope exit if this
        is 1).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    wavelength_nm: Positive = 850.0
    aperture_m: Positive = 0.3
    divergence_urad: Optional[Positive] = 10.0
    m2: Annotated[float, Field(ge=1.0)] = 1.0
    pointing_jitter_urad: NonNegative = 0.5
    optics_efficiency: Fraction = 1.0
    obscuration_m: NonNegative = 0.0
    truncation_ratio: Annotated[float, Field(ge=0.2, le=5.0)] = 0.89
    divergence_fwhm_urad: Optional[Positive] = None

    def __post_init__(self) -> None:
        if self.obscuration_m >= self.aperture_m:
            raise SatqkdError(
                f"transmitter.obscuration_m: {self.obscuration_m:g} m must be smaller than "
                f"aperture_m {self.aperture_m:g} m"
            )
        if self.divergence_urad is not None and self.divergence_fwhm_urad is not None:
            raise SatqkdError(
                "transmitter.divergence_fwhm_urad: give either divergence_urad (1/e^2 full angle) or "
                "divergence_fwhm_urad (FWHM), not both; set divergence_urad: null to override a preset"
            )
        limit = 2e6 * self.diffraction_half_angle_rad
        given = self.full_divergence_urad
        if given < limit * (1 - 1e-9):
            field, value = (("divergence_urad", self.divergence_urad) if self.divergence_urad is not None
                            else ("divergence_fwhm_urad", self.divergence_fwhm_urad))
            raise SatqkdError(
                f"transmitter.{field}: {value:g} µrad ({given:.3g} µrad 1/e^2 full angle) is below the "
                f"diffraction limit {limit:.3g} µrad of a truncated Gaussian from a {self.aperture_m:g} m "
                f"aperture at {self.wavelength_nm:g} nm; expected a larger divergence or aperture"
            )

    @property
    def wavelength_m(self) -> float:
        return self.wavelength_nm * 1e-9

    @property
    def waist_m(self) -> float:
        """1/e^2 radius of the beam at the transmit aperture (before truncation)."""
        return self.truncation_ratio * self.aperture_m / 2.0

    @property
    def gain_factor(self) -> float:
        """Klein & Degnan's on-axis gain factor g of this aperture's truncated Gaussian."""
        return float(truncated_gaussian_gain(self.truncation_ratio, self.obscuration_m / self.aperture_m))

    @property
    def diffraction_half_angle_rad(self) -> float:
        """1/e^2 half-angle of the diffraction-limited truncated beam: (lambda / (pi a)) sqrt(2 / g)."""
        a = self.aperture_m / 2.0
        return self.wavelength_m / (np.pi * a) * float(np.sqrt(2.0 / self.gain_factor))

    @property
    def half_angle_rad(self) -> float:
        """Far-field 1/e^2 half-angle divergence theta."""
        if self.divergence_urad is not None:
            return self.divergence_urad * 0.5e-6
        if self.divergence_fwhm_urad is not None:
            return self.divergence_fwhm_urad / _FWHM_PER_E2 * 0.5e-6
        return self.m2 * self.diffraction_half_angle_rad

    @property
    def full_divergence_urad(self) -> float:
        """Far-field 1/e^2 full-angle divergence (µrad)."""
        return 2e6 * self.half_angle_rad

    @property
    def fwhm_divergence_urad(self) -> float:
        """Far-field FWHM full-angle divergence (µrad)."""
        return self.full_divergence_urad * _FWHM_PER_E2

    @property
    def beam_quality(self) -> float:
        """Effective M^2 = theta / theta_dl (1 for a diffraction-limited truncated beam)."""
        return self.half_angle_rad / self.diffraction_half_angle_rad

    @property
    def rayleigh_range_m(self) -> float:
        """Rayleigh range of the equivalent Gaussian, z_R = w0 / theta."""
        return self.waist_m / self.half_angle_rad

    def beam_radius_m(self, range_km) -> np.ndarray:
        """1/e^2 radius of the equivalent Gaussian at ``range_km`` (vacuum diffraction only)."""
        return gaussian_beam_radius_m(np.asarray(range_km, dtype=float) * 1e3, self.waist_m, self.rayleigh_range_m)

    @classmethod
    def micius(cls) -> "Transmitter":
        """Micius's decoy-BB84 downlink as flown in 2016-2017 (Liao et al. 2017).

        850 nm [secondary]; ~0.3 m transmit telescope [unverified]; ~10 µrad
        full-angle downlink divergence [unverified], read here as the 1/e^2
        full angle (the sources do not say which; read as a FWHM it would
        be 17 µrad 1/e^2 and cost 4.6 dB more) -- 1.8x the 5.7 µrad limit
        of a truncated Gaussian from an unobscured 0.3 m aperture at 850 nm
        (the obscuration is not published; 0 assumed); pointing jitter 1.0 µrad per
        axis [assumption: the order of the quoted sub-µrad-to-µrad Micius
        fine-tracking accuracy]; transmit optics 0.8 [assumption].
        """
        return cls(wavelength_nm=850.0, aperture_m=0.3, divergence_urad=10.0,
                   pointing_jitter_urad=1.0, optics_efficiency=0.8)

    @classmethod
    def micius_entanglement(cls) -> "Transmitter":
        """One of Micius's two entangled-photon downlinks (Yin et al., Science 356, 1140 (2017)).

        810 nm (the SPDC source) [secondary]; the same transmitter class as
        the decoy downlink -- 0.3 m aperture, ~10 µrad 1/e^2 full angle,
        1.0 µrad jitter, optics 0.8 [unverified / assumption, as
        :meth:`micius`; the second entanglement transmitter is said to be
        smaller].  A photon of a pair is emitted into the telescope with
        certainty, so the loss is the same kind of number as the decoy
        link's.
        """
        return cls(wavelength_nm=810.0, aperture_m=0.3, divergence_urad=10.0,
                   pointing_jitter_urad=1.0, optics_efficiency=0.8)

    @classmethod
    def leo_1550(cls) -> "Transmitter":
        """A 1550 nm LEO downlink [assumption throughout]: a Micius-class 0.3 m
        telescope with the same beam quality as Micius's 850 nm beam
        (M^2 ~ 1.8 over the truncated-Gaussian limit), so ~18 µrad 1/e^2 full
        angle at 1550 nm (diffraction grows with the wavelength), 1.0 µrad
        jitter, optics 0.8."""
        return cls(wavelength_nm=1550.0, aperture_m=0.3, divergence_urad=None, m2=1.77,
                   pointing_jitter_urad=1.0, optics_efficiency=0.8)

    @classmethod
    def ngari_uplink(cls) -> "Transmitter":
        """The Ngari (Tibet, ~5,100 m) ground transmitter of the Micius
        teleportation uplink (Ren et al., Nature 549, 70 (2017)).

        The paper's abstract names "a narrow beam divergence" and fast,
        accurate tracking; the numbers here are **assumptions** (the
        stored copies of the paper give the abstract only): 810 nm (a
        Si-APD band photon, as Micius's on-board detectors need); a 0.13 m
        transmit aperture [recalled, unverified] filled at Klein & Degnan's
        optimum, M^2 = 1.3, so ~16 µrad 1/e^2 full angle in vacuum -- the
        turbulence near the ground (HV 5/7) widens it to ~24 µrad at zenith
        (:meth:`Turbulence.uplink_spread_rad`); 1.0 µrad per-axis pointing
        jitter of the fine-tracking loop; transmit optics 0.8.
        """
        return cls(wavelength_nm=810.0, aperture_m=0.13, divergence_urad=None, m2=1.3,
                   pointing_jitter_urad=1.0, optics_efficiency=0.8)

    @classmethod
    def qeyssat_uplink(cls) -> "Transmitter":
        """A QEYSSat-like ground transmitter (Canada; uplink of weak coherent
        pulses) [assumption throughout: QEYSSat's ground optics are not in
        our sources]: 785 nm, a 0.25 m transmit aperture, M^2 = 1.3
        (~8 µrad 1/e^2 in vacuum, so turbulence dominates), 1.0 µrad
        pointing jitter, optics 0.8."""
        return cls(wavelength_nm=785.0, aperture_m=0.25, divergence_urad=None, m2=1.3,
                   pointing_jitter_urad=1.0, optics_efficiency=0.8)

    @classmethod
    def geo(cls) -> "Transmitter":
        """A plausible geostationary QKD payload [assumption throughout].

        850 nm; a 2.0 m transmit telescope (a flagship-size space optic, the
        class of China's 2 m CSST survey telescope -- ambitious, but a GEO
        downlink needs it: range^2 costs ~35 dB against LEO), unobscured,
        filled at Klein & Degnan's optimum truncation; near-diffraction-
        limited, M^2 = 1.2, i.e. ~1.0 µrad 1/e^2 full-angle divergence; 0.1
        µrad per-axis pointing jitter (a GEO platform is slow and quiet);
        transmit optics 0.8.
        """
        return cls(wavelength_nm=850.0, aperture_m=2.0, divergence_urad=None, m2=1.2,
                   pointing_jitter_urad=0.1, optics_efficiency=0.8)


# ---------------------------------------------------------------------------
# Atmosphere
# ---------------------------------------------------------------------------


# Sea-level zenith optical depth of molecular absorption (mostly water
# vapour: the 810-835 nm band and its wings) at the wavelengths of the
# MODTRAN table shipped with SatQuMA (ground at sea level, satellite at
# 500 km, 785-850 nm every 5 nm): -ln T_zen(MODTRAN) minus our Rayleigh and
# default aerosol depths, so that 850 nm carries none (the default aerosol
# is tuned there).  1550 nm: 0.015 [assumption: the weak H2O/CO2 lines of the
# 1.55 um window, ~1.5 % at zenith; no table at hand].
_ABSORPTION_NM = np.array([785.0, 790.0, 795.0, 800.0, 805.0, 810.0, 815.0, 820.0, 825.0, 830.0,
                           835.0, 840.0, 845.0, 850.0, 1540.0, 1560.0])
_ABSORPTION_DEPTH = np.array([0.0051, 0.0187, 0.0255, 0.0278, 0.0336, 0.0859, 0.1799, 0.2138, 0.1827,
                              0.1394, 0.0837, 0.0341, 0.0084, 0.0, 0.015, 0.015])


@dataclass(frozen=True)
class Atmosphere:
    """Clear-sky extinction: Rayleigh + aerosol scattering and molecular absorption.

    Zenith optical depth at wavelength lambda (µm) for a site at height h:

        tau = tau_R(lambda) exp(-h / H_R) + tau_a (lambda / lambda_ref)^-alpha exp(-h / H_a)
              + s tau_abs(lambda) exp(-h / H_w)

    with the sea-level Rayleigh depth tau_R = 0.008569 lambda^-4
    (1 + 0.0113 lambda^-2 + 0.00013 lambda^-4) (Hansen & Travis 1974, Space
    Sci. Rev. 16, 527), the pressure scale height H_R, the Angstrom (1929)
    aerosol law with an aerosol scale height H_a (aerosol sits in the
    boundary layer, so a high site loses most of it), and the molecular
    absorption tau_abs(lambda) kept apart from the aerosol: a table derived
    from MODTRAN (785-850 nm, where the 810-835 nm water-vapour band takes
    up to 0.21; 1550 nm an assumption; linear in between, the end values
    outside), scaled by ``absorption_scale`` s and the water-vapour scale
    height H_w.  Transmittance

        T = exp(-(tau_R + tau_a) m(e) - tau_abs m(e)^beta)

    with the Kasten & Young (1989) air mass m(e) of the apparent elevation.
    Band absorption by many saturated lines grows slower than the air mass
    (the curve of growth): beta = 0.6 reproduces the MODTRAN table's
    810-835 nm band from 10 to 90 deg.

    The default ``aerosol_depth`` is tuned so that 850 nm at sea level gives
    T_zen = 0.8952 (tau = 0.1107), the MODTRAN value shipped with SatQuMA
    (see ``shared/reference/link-budget.md``).

    Parameters
    ----------
    aerosol_depth
        Sea-level zenith aerosol optical depth at ``reference_wavelength_nm``.
    reference_wavelength_nm
        Wavelength at which ``aerosol_depth`` is given.
    angstrom_exponent
        Angstrom alpha (1.3 is Angstrom's continental average).
    rayleigh_scale_height_km
        Pressure scale height (8.4345 km as in Kasten's 1980 pressure
        correction exp(-z / 8434.5 m)).
    aerosol_scale_height_km
        Aerosol scale height (1.2 km near the ground, Elterman 1968, AFCRL-
        68-0153) [assumption for a specific site].
    absorption_scale
        Multiplier of the tabulated molecular absorption (more or less
        precipitable water than the MODTRAN profile; 0 switches it off).
    absorption_scale_height_km
        Water-vapour scale height (~2 km, the standard mid-latitude value).
    absorption_airmass_exponent
        beta, the curve-of-growth exponent of the band absorption.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    aerosol_depth: NonNegative = 0.09403
    reference_wavelength_nm: Positive = 850.0
    angstrom_exponent: Annotated[float, Field(ge=0.0, le=4.0)] = 1.3
    rayleigh_scale_height_km: Positive = 8.4345
    aerosol_scale_height_km: Positive = 1.2
    absorption_scale: NonNegative = 1.0
    absorption_scale_height_km: Positive = 2.0
    absorption_airmass_exponent: Annotated[float, Field(gt=0.0, le=1.0)] = 0.6

    @staticmethod
    def rayleigh_depth(wavelength_nm) -> np.ndarray:
        """Sea-level zenith Rayleigh optical depth (Hansen & Travis 1974, eq. 2.29)."""
        lam = np.asarray(wavelength_nm, dtype=float) * 1e-3
        return 0.008569 * lam**-4 * (1.0 + 0.0113 * lam**-2 + 0.00013 * lam**-4)

    def absorption_depth(self, wavelength_nm, site_height_m=0.0) -> np.ndarray:
        """Zenith molecular-absorption depth at ``wavelength_nm`` above a site."""
        lam = np.asarray(wavelength_nm, dtype=float)
        h_km = np.asarray(site_height_m, dtype=float) * 1e-3
        return (self.absorption_scale * np.interp(lam, _ABSORPTION_NM, _ABSORPTION_DEPTH)
                * np.exp(-h_km / self.absorption_scale_height_km))

    def scattering_depth(self, wavelength_nm, site_height_m=0.0) -> np.ndarray:
        """Zenith Rayleigh + aerosol depth at ``wavelength_nm`` above a site."""
        h_km = np.asarray(site_height_m, dtype=float) * 1e-3
        lam = np.asarray(wavelength_nm, dtype=float)
        tau_r = self.rayleigh_depth(lam) * np.exp(-h_km / self.rayleigh_scale_height_km)
        tau_a = (self.aerosol_depth * (lam / self.reference_wavelength_nm) ** -self.angstrom_exponent
                 * np.exp(-h_km / self.aerosol_scale_height_km))
        return tau_r + tau_a

    def zenith_depth(self, wavelength_nm, site_height_m=0.0) -> np.ndarray:
        """Zenith optical depth tau (scattering + absorption) at ``wavelength_nm`` above a site."""
        return self.scattering_depth(wavelength_nm, site_height_m) + self.absorption_depth(wavelength_nm, site_height_m)

    def transmittance(self, elevation_deg, wavelength_nm=850.0, site_height_m=0.0) -> np.ndarray:
        """Clear-sky transmittance exp(-tau_s m - tau_abs m^beta), m = m_KY(e) of the apparent elevation."""
        m = kasten_young_airmass(elevation_deg)
        return np.exp(-self.scattering_depth(wavelength_nm, site_height_m) * m
                      - self.absorption_depth(wavelength_nm, site_height_m) * m ** self.absorption_airmass_exponent)

    @classmethod
    def modtran_rural(cls) -> "Atmosphere":
        """Tuned to MODTRAN's 850 nm zenith T = 0.8952 at sea level (SatQuMA table)."""
        return cls()

    @classmethod
    def hazy(cls) -> "Atmosphere":
        """Three times the aerosol of :meth:`modtran_rural`, spread over a 2 km boundary layer [assumption].

        Stands for a hazy winter night at the edge of the North China plain
        (Xinglong, 890 m, ~120 km from Beijing): T_zen(850 nm) ~ 0.74 at sea
        level, ~0.80 at Xinglong.  Used for the 2017 Xinglong calibration.
        """
        return cls(aerosol_depth=3 * 0.09403, aerosol_scale_height_km=2.0)


# ---------------------------------------------------------------------------
# Turbulence
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Turbulence:
    """Hufnagel-Valley refractive-index structure profile C_n^2(h).

    C_n^2(h) = 0.00594 (v / 27)^2 (1e-5 h)^10 exp(-h / 1000)
               + 2.7e-16 exp(-h / 1500) + A exp(-h / 100)     [m^-2/3, h in m]

    (Andrews & Phillips 2005, eq. 12.1), with h the height above the
    ground station.  HV 5/7 (v = 21 m/s, A = 1.7e-14) gives r0 ~ 5 cm at
    500 nm at zenith (~2 arcsec seeing).

    Two effects are derived from it, both from path integrals along the slant
    path (dz = dh / sin e, flat-Earth geometry, fine above 10 deg):

    * the Fried parameter at the receiver, r0 = [0.423 k^2 sec(zeta)
      int C_n^2 dh]^-3/5 (plane wave; Fried 1966), which sets the long-
      exposure seeing blur FWHM = 0.98 lambda / r0 in the receiver's focal
      plane;
    * the spherical-wave coherence radius *at the satellite* of a point
      source on the ground, rho0 = [1.46 k^2 sec(zeta) int C_n^2(h)
      (h / H)^5/3 dh]^-3/5 (Andrews & Phillips 2005, ch. 12: the
      (h/H)^5/3 weight is why downlinks barely feel turbulence -- it sits at
      the receiver end).  With the mutual coherence exp(-(rho/rho0)^5/3)
      approximated by exp(-(rho/rho0)^2), the long-term (wander + spread)
      far-field beam gains a 1/e^2 half-angle theta_t = 2 sqrt(2) / (k rho0)
      added in quadrature to the vacuum divergence.

    Parameters
    ----------
    ground_cn2
        Boundary-layer coefficient A (m^-2/3).
    wind_speed_m_s
        RMS high-altitude wind speed v.
    free_atmosphere_cn2
        Coefficient of the exp(-h / 1500 m) free-troposphere term (2.7e-16
        in the HV model).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    ground_cn2: NonNegative = 1.7e-14
    wind_speed_m_s: NonNegative = 21.0
    free_atmosphere_cn2: NonNegative = 2.7e-16

    # The integrals are done on a fixed log-spaced height grid (1 m .. 30 km)
    # once per call: C_n^2 is negligible above 30 km and the grid resolves the
    # 100 m boundary layer.
    _GRID_M = np.concatenate(([0.0], np.geomspace(1.0, 3.0e4, 2000)))

    def cn2(self, height_m) -> np.ndarray:
        """C_n^2 at ``height_m`` above the ground station (m^-2/3)."""
        h = np.asarray(height_m, dtype=float)
        return (0.00594 * (self.wind_speed_m_s / 27.0) ** 2 * (1e-5 * h) ** 10 * np.exp(-h / 1000.0)
                + self.free_atmosphere_cn2 * np.exp(-h / 1500.0) + self.ground_cn2 * np.exp(-h / 100.0))

    def _moments(self, top_height_m: float) -> tuple[float, float]:
        h = self._GRID_M
        c = self.cn2(h)
        mu0 = np.trapezoid(c, h)
        mu_down = np.trapezoid(c * (h / top_height_m) ** (5.0 / 3.0), h)
        return float(mu0), float(mu_down)

    def fried_parameter_m(self, elevation_deg, wavelength_nm=850.0) -> np.ndarray:
        """Fried parameter r0 at the ground for a source at ``elevation_deg`` (inf if no turbulence)."""
        mu0, _ = self._moments(1.0)
        k = 2 * np.pi / (np.asarray(wavelength_nm, dtype=float) * 1e-9)
        secz = 1.0 / np.sin(np.radians(np.asarray(elevation_deg, dtype=float)))
        with np.errstate(divide="ignore"):
            return (0.423 * k**2 * secz * mu0) ** -0.6

    def seeing_fwhm_urad(self, elevation_deg, wavelength_nm=850.0) -> np.ndarray:
        """Long-exposure seeing FWHM 0.98 lambda / r0 (µrad)."""
        lam = np.asarray(wavelength_nm, dtype=float) * 1e-9
        return 0.98 * lam / self.fried_parameter_m(elevation_deg, wavelength_nm) * 1e6

    def downlink_spread_rad(self, elevation_deg, orbit_height_km=500.0, wavelength_nm=850.0) -> np.ndarray:
        """Turbulence-induced far-field 1/e^2 half-angle theta_t of a downlink beam (rad)."""
        _, mu = self._moments(float(orbit_height_km) * 1e3)
        k = 2 * np.pi / (np.asarray(wavelength_nm, dtype=float) * 1e-9)
        secz = 1.0 / np.sin(np.radians(np.asarray(elevation_deg, dtype=float)))
        # theta_t = 2 sqrt(2) / (k rho0) with rho0^(-5/3) = 1.46 k^2 sec(zeta) mu
        return 2.0 * np.sqrt(2.0) / k * (1.46 * k**2 * secz * mu) ** 0.6

    def uplink_spread_rad(self, elevation_deg, orbit_height_km=500.0, wavelength_nm=850.0) -> np.ndarray:
        """Turbulence-induced far-field 1/e^2 half-angle theta_t of an *uplink* beam (rad).

        The long-term (beam wander + short-term spread) broadening of a beam
        sent from the ground: the same construction as
        :meth:`downlink_spread_rad` with the path weight of a beam whose
        transmitter is at the *bottom*, (1 - h/H)^5/3 instead of (h/H)^5/3
        (Andrews & Phillips 2005, ch. 12, the uplink long-term beam radius:
        W_LT^2 = W^2 + (2 L / (k rho0))^2 x const, rho0 the coherence radius
        of a spherical wave weighted by (1 - z/L)^5/3 with z measured from
        the transmitter; Fante, Proc. IEEE 63, 1669 (1975) for the
        long-term spread as the quadrature sum of diffraction and
        turbulence).  Turbulence next to the transmitter tilts and spreads
        the beam at the start of a path of hundreds of km, so an uplink
        loses ~10 dB more to it than a downlink: the dominant uplink term.
        With HV 5/7 at 850 nm, zenith: theta_t ~ 8 µrad (1/e^2 half-angle),
        i.e. a beam cannot be narrower than ~ lambda / r0 whatever the
        telescope.
        """
        h = self._GRID_M
        top = float(orbit_height_km) * 1e3
        w = np.clip(1.0 - h / top, 0.0, None) ** (5.0 / 3.0)
        mu = float(np.trapezoid(self.cn2(h) * w, h))
        k = 2 * np.pi / (np.asarray(wavelength_nm, dtype=float) * 1e-9)
        secz = 1.0 / np.sin(np.radians(np.asarray(elevation_deg, dtype=float)))
        return 2.0 * np.sqrt(2.0) / k * (1.46 * k**2 * secz * mu) ** 0.6

    @classmethod
    def hv57(cls) -> "Turbulence":
        """HV 5/7: r0 = 5 cm and isoplanatic angle 7 µrad at 500 nm (Andrews & Phillips 2005)."""
        return cls(ground_cn2=1.7e-14, wind_speed_m_s=21.0)

    @classmethod
    def good_site(cls) -> "Turbulence":
        """A quieter night-time boundary layer, A = 4e-15 [assumption]: r0 ~ 8 cm at 500 nm (~1.2 arcsec)."""
        return cls(ground_cn2=4.0e-15, wind_speed_m_s=21.0)

    @classmethod
    def off(cls) -> "Turbulence":
        """No turbulence at all (C_n^2 = 0): no beam spread, no seeing."""
        return cls(ground_cn2=0.0, wind_speed_m_s=0.0, free_atmosphere_cn2=0.0)


# ---------------------------------------------------------------------------
# Receiver telescope
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Telescope:
    """The ground receiver up to the detector.

    The collecting area is the annulus between ``obscuration_m`` and
    ``aperture_m``.  The light is focused through a field stop of full angle
    ``fov_urad``; the seeing-blurred image passes it with the efficiency of
    :meth:`field_stop_efficiency`.  A narrow field stop rejects sky background but
    loses signal at low elevation where seeing is worse: the 2021 upgrade
    used "a beam expander with lower magnification ... to increase the field
    of view" (Chen et al. 2021, Ext. Data Fig. 3) [paper].

    Parameters
    ----------
    aperture_m
        Primary mirror diameter.
    obscuration_m
        Central obscuration (secondary mirror) diameter.
    optics_efficiency
        Telescope + follow-up optics (beam expander, BB84 module, filters at
        their peak) up to the detectors.
    fov_urad
        Full-angle field of view of the field stop (µrad).
    filter_bandwidth_nm
        Spectral filter bandwidth for the sky background.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    aperture_m: Positive = 1.0
    obscuration_m: NonNegative = 0.0
    optics_efficiency: Fraction = 0.5
    fov_urad: Positive = 100.0
    filter_bandwidth_nm: Positive = 1.0

    def __post_init__(self) -> None:
        if self.obscuration_m >= self.aperture_m:
            raise SatqkdError(
                f"telescope.obscuration_m: {self.obscuration_m:g} m must be smaller than "
                f"aperture_m {self.aperture_m:g} m"
            )

    @property
    def collecting_area_m2(self) -> float:
        return np.pi / 4.0 * (self.aperture_m**2 - self.obscuration_m**2)

    @property
    def solid_angle_sr(self) -> float:
        """Solid angle of the (circular) field of view."""
        return np.pi / 4.0 * (self.fov_urad * 1e-6) ** 2

    def field_stop_efficiency(self, seeing_fwhm_urad, wavelength_nm=850.0) -> np.ndarray:
        """Share of the seeing-blurred image inside the field stop.

        The long-exposure image is a Moffat profile with beta = 4.765, the
        fit to the Kolmogorov seeing PSF of Trujillo et al. (2001, MNRAS 328,
        977); its encircled energy within radius r is
        1 - (1 + r^2 / alpha^2)^(1 - beta), FWHM = 2 alpha sqrt(2^(1/beta) - 1).
        The telescope's diffraction FWHM 1.03 lambda / D is added in
        quadrature.
        """
        diff = 1.03 * wavelength_nm * 1e-9 / self.aperture_m * 1e6
        fwhm2 = np.asarray(seeing_fwhm_urad, dtype=float) ** 2 + diff**2
        alpha2 = fwhm2 / (4.0 * (2.0 ** (1.0 / _MOFFAT_BETA) - 1.0))
        r2 = (self.fov_urad / 2.0) ** 2
        return -np.expm1((1.0 - _MOFFAT_BETA) * np.log1p(r2 / alpha2))

    @classmethod
    def nanshan(cls) -> "Telescope":
        """Nanshan 1.2 m (Xinjiang, 2,034 m), as used in 2021.

        Aperture 1.2 m [paper]; obscuration 0.3 m [assumption, typical
        secondary of a 1-m-class Cassegrain]; optics 0.35 [assumption, the
        2021 calibration's one fitted value: re-fitted from 0.40 when the
        finite key gained the v_Z1 <= m_Z cap, which raised the typical 2021
        pass from 54.5 to 60.6 kbit/s]; field of view 100 µrad (the widened
        2021 field) [assumption]; 1 nm filter [assumption].
        """
        return cls(aperture_m=1.2, obscuration_m=0.3, optics_efficiency=0.35, fov_urad=100.0,
                   filter_bandwidth_nm=1.0)

    @classmethod
    def xinglong(cls) -> "Telescope":
        """Xinglong 1.0 m (Hebei, 890 m) after the 2021 upgrade.

        Aperture 1.0 m [paper]; obscuration 0.25 m [assumption]; optics 0.4
        [assumption]; field of view 100 µrad after the lower-magnification
        beam expander [paper: widened; value assumption]; 1 nm filter
        [assumption].
        """
        return cls(aperture_m=1.0, obscuration_m=0.25, optics_efficiency=0.4, fov_urad=100.0,
                   filter_bandwidth_nm=1.0)

    @classmethod
    def xinglong_2017(cls) -> "Telescope":
        """Xinglong 1.0 m as used for the 2016-2017 QKD passes (Liao et al. 2017).

        As :meth:`xinglong` but with the narrow pre-2021 field of view: 9
        µrad full angle, the HV 5/7 zenith seeing FWHM at 850 nm [assumption,
        chosen so that the 645 -> 1,200 km loss rise lands in the reported
        10-13 dB together with :meth:`Atmosphere.hazy`; Chen et al. 2021 only
        say the field of view was later increased] and a 5 nm filter
        [assumption].
        """
        return cls(aperture_m=1.0, obscuration_m=0.25, optics_efficiency=0.4, fov_urad=9.0,
                   filter_bandwidth_nm=5.0)

    @classmethod
    def delingha(cls) -> "Telescope":
        """Delingha 1.2 m (Qinghai, ~3,200 m; 2020).

        Aperture 1.2 m [secondary]; obscuration 0.3 m, optics 0.35, 100 µrad,
        1 nm [assumptions, as Nanshan].
        """
        return cls(aperture_m=1.2, obscuration_m=0.3, optics_efficiency=0.35, fov_urad=100.0,
                   filter_bandwidth_nm=1.0)


    @classmethod
    def micius_receiver(cls) -> "Telescope":
        """Micius's on-board receiving telescope for the uplink (Ren et al. 2017).

        0.3 m aperture [unverified: the Micius telescope class, as the
        transmitter], unobscured (refractive/off-axis, assumed); optics 0.5
        [assumption: telescope, polarisation analysis and coupling to the
        detectors]; 100 µrad field of view, 3 nm filter [assumptions].
        """
        return cls(aperture_m=0.3, obscuration_m=0.0, optics_efficiency=0.5, fov_urad=100.0,
                   filter_bandwidth_nm=3.0)

    @classmethod
    def qeyssat_receiver(cls) -> "Telescope":
        """A QEYSSat-like microsatellite receiver [assumption throughout]:
        0.08 m aperture, unobscured, optics 0.6, 200 µrad field of view,
        3 nm filter."""
        return cls(aperture_m=0.08, obscuration_m=0.0, optics_efficiency=0.6, fov_urad=200.0,
                   filter_bandwidth_nm=3.0)

    @classmethod
    def daylight_1550(cls) -> "Telescope":
        """A 1550 nm daylight receiver in the manner of Liao et al. (Nature
        Photonics 11, 509, 2017): the light coupled into single-mode fibre,
        which makes the field of view the diffraction-limited ~1.22 lambda / D
        (a 0.6 m aperture: ~6 µrad full angle) -- the main daylight
        defence -- and a narrow filter.  Aperture 0.6 m, obscuration 0.15
        m, optics 0.3 (fibre coupling under turbulence included), 6 µrad,
        0.1 nm [assumptions].  With a field this narrow the seeing blur
        costs signal, as :meth:`field_stop_efficiency` computes (adaptive
        optics would recover it)."""
        return cls(aperture_m=0.6, obscuration_m=0.15, optics_efficiency=0.3, fov_urad=6.0,
                   filter_bandwidth_nm=0.1)

    @classmethod
    def lijiang(cls) -> "Telescope":
        """Lijiang (Gaomeigu) 1.8 m (Yunnan, ~3,200 m), the second station of the 2017 entanglement link.

        Aperture 1.8 m [secondary]; obscuration 0.45 m (a quarter of the
        aperture, as the others) [assumption]; optics 0.35, 100 µrad, 1 nm
        [assumptions, as Nanshan].
        """
        return cls(aperture_m=1.8, obscuration_m=0.45, optics_efficiency=0.35, fov_urad=100.0,
                   filter_bandwidth_nm=1.0)


# ---------------------------------------------------------------------------
# Sky background
# ---------------------------------------------------------------------------


# Moonless night-sky surface brightness of a moderately dark site (mag /
# arcsec^2) in the Johnson-Cousins R, I and the J, H bands at their
# effective wavelengths, with the Bessell, Castelli & Plez (1998, A&A 333,
# 231, Table A2) zero points f_lambda (W m^-2 nm^-1).  I = 19.5 is our
# assumption for such a site (pristine sites ~19.9); R 20.6, J 16.0,
# H 14.0 are the same site ~0.3-0.5 mag brighter than the darkest
# observatories (R ~20.9, J ~16.5, H ~14.4).  Beyond ~700 nm the night sky is
# mostly OH airglow (Meinel bands), which grows steeply into the J and H
# bands: at 1550 nm it is ~10x brighter per nm than at 850 nm.
_NIGHT_SKY_NM = np.array([641.0, 798.0, 1220.0, 1630.0])
_NIGHT_SKY_MAG = np.array([20.6, 19.5, 16.0, 14.0])
_NIGHT_SKY_F0 = np.array([2.177e-11, 1.126e-11, 3.129e-12, 1.133e-12])
_ARCSEC2_SR = (np.pi / 180.0 / 3600.0) ** 2
_SUN_TEMPERATURE_K = 5778.0


def night_sky_radiance(wavelength_nm) -> np.ndarray:
    """Moonless night-sky spectral radiance (W m^-2 sr^-1 nm^-1) at ``wavelength_nm``.

    Log-linear interpolation between the R, I, J and H points of the table
    above (the end values outside 641-1630 nm): 7.6e-9 in the I band,
    ~9.7e-9 at 850 nm, ~1.0e-7 at 1550 nm (OH airglow).  A narrow filter
    between the OH lines sees less; one on a line more.
    """
    log_r = np.log10(10.0 ** (-0.4 * _NIGHT_SKY_MAG) * _NIGHT_SKY_F0 / _ARCSEC2_SR)
    return 10.0 ** np.interp(np.asarray(wavelength_nm, dtype=float), _NIGHT_SKY_NM, log_r)


def solar_spectrum_ratio(wavelength_nm, reference_nm=850.0) -> np.ndarray:
    """Sunlight (a 5,778 K black body) at ``wavelength_nm`` relative to ``reference_nm``.

    Scales twilight, daylight and moonlight, which are scattered or
    reflected sunlight [assumption: grey scattering and lunar albedo; the
    Moon is in fact ~1.5x redder between 850 and 1550 nm].
    """
    c2 = 1.438777e7  # h c / k in nm K
    lam = np.asarray(wavelength_nm, dtype=float)

    def planck(x):
        return x**-5.0 / np.expm1(c2 / (x * _SUN_TEMPERATURE_K))

    return planck(lam) / planck(float(reference_nm))


_SOLAR_RADIUS_M = 6.957e8
_AU_M = 1.495978707e11


def solar_irradiance(wavelength_nm) -> np.ndarray:
    """Solar spectral irradiance above the atmosphere (W m^-2 nm^-1) at 1 au.

    The Sun as a 5,778 K black body, E = pi B_lambda(T) (R_sun / 1 au)^2:
    1.84 at 550 nm, 0.95 at 850 nm, 0.26 at 1550 nm, within ~10 % of the
    measured extraterrestrial spectrum (ASTM E-490: ~1.86, ~0.96, ~0.26)
    away from the Fraunhofer lines [tested against those values].
    """
    lam_m = np.asarray(wavelength_nm, dtype=float) * 1e-9
    b = 2.0 * _H_PLANCK * _C_LIGHT**2 / lam_m**5 / np.expm1(_H_PLANCK * _C_LIGHT / (lam_m * 1.380649e-23 * _SUN_TEMPERATURE_K))
    return np.pi * b * (_SOLAR_RADIUS_M / _AU_M) ** 2 * 1e-9


def _henyey_greenstein(cos_theta, g) -> np.ndarray:
    """Henyey-Greenstein phase function, normalised to 4 pi over the sphere (1 for isotropic)."""
    return (1.0 - g**2) / (1.0 + g**2 - 2.0 * g * cos_theta) ** 1.5


def day_sky_radiance(wavelength_nm, sun_altitude_deg, elevation_deg, sun_separation_deg,
                     atmosphere: "Atmosphere | None" = None, site_height_m=0.0, *,
                     aerosol_asymmetry: float = 0.7, aerosol_albedo: float = 0.9) -> np.ndarray:
    """Clear-sky daytime spectral radiance (W m^-2 sr^-1 nm^-1) along a line of sight.

    Single scattering of sunlight in a plane-parallel atmosphere, seen
    from the ground (Chandrasekhar, *Radiative Transfer* (1950), and
    Liou, *An Introduction to Atmospheric Radiation*, 2nd ed. (2002),
    sect. 3.4 / 6.1: the single-scattered diffuse radiance at the bottom of
    a layer of optical depth tau):

        L = F0 / (4 pi) * (tau_R P_R(Theta) + w_a tau_a P_HG(Theta))
            * m_v (exp(-tau m_s) - exp(-tau m_v)) / (tau (m_v - m_s)),

    F0 the extraterrestrial solar irradiance (:func:`solar_irradiance`),
    tau_R, tau_a the Rayleigh and aerosol depths of ``atmosphere`` above
    the site, tau the total extinction depth, m_s and m_v the Kasten & Young
    air masses of the Sun and of the line of sight (finite at the horizon,
    where 1 / cos of the plane-parallel formula is not), Theta the
    scattering angle (the Sun-line-of-sight separation), P_R = 3/4 (1 +
    cos^2 Theta) the Rayleigh phase function and P_HG the Henyey-Greenstein
    function with asymmetry g = 0.7 and single-scattering albedo 0.9 for
    continental aerosol (d'Almeida, Koepke & Shettle, *Atmospheric
    Aerosols* (1991)) [assumption for a given site].

    Multiple scattering and the ground's reflection are left out: this is
    a *lower* bound, ~1.3-2x low in the blue and close to the Sun, less in
    the near infrared where the sky is optically thin (tau ~ 0.1; the
    single-scattering share is 1 - O(tau)).  The Sun below the horizon gives
    0 (twilight is :class:`Sky`'s).  Broadcasts over its array arguments.
    """
    atmosphere = Atmosphere() if atmosphere is None else atmosphere
    lam = np.asarray(wavelength_nm, dtype=float)
    sun = np.asarray(sun_altitude_deg, dtype=float)
    h_km = float(site_height_m) * 1e-3
    tau_r = atmosphere.rayleigh_depth(lam) * np.exp(-h_km / atmosphere.rayleigh_scale_height_km)
    tau_a = atmosphere.scattering_depth(lam, site_height_m) - tau_r
    tau = tau_r + tau_a + atmosphere.absorption_depth(lam, site_height_m)
    mu = np.cos(np.radians(np.asarray(sun_separation_deg, dtype=float)))
    scatter = tau_r * 0.75 * (1.0 + mu**2) + aerosol_albedo * tau_a * _henyey_greenstein(mu, aerosol_asymmetry)
    m_s = kasten_young_airmass(np.clip(sun, 0.0, 90.0))
    m_v = kasten_young_airmass(np.asarray(elevation_deg, dtype=float))
    dm = m_v - m_s
    # (exp(-tau m_s) - exp(-tau m_v)) / (tau dm) -> exp(-tau m) as dm -> 0.
    safe = np.where(np.abs(dm) < 1e-9, 1.0, dm)
    path = np.where(np.abs(dm) < 1e-9, np.exp(-tau * m_v),
                    (np.exp(-tau * m_s) - np.exp(-tau * m_v)) / (tau * safe))
    rad = solar_irradiance(lam) / (4.0 * np.pi) * scatter * m_v * path
    return np.where(sun > 0.0, rad, 0.0)


def earth_radiance(wavelength_nm, sun_altitude_deg, albedo: float = 0.3) -> np.ndarray:
    """Radiance of the ground seen from above (W m^-2 sr^-1 nm^-1): what an
    uplink receiver on the satellite looks at.

    A Lambertian surface of ``albedo`` (0.3, the Earth's mean Bond albedo
    [assumption for a given site: snow is brighter, dark ground less]) lit
    by the Sun at ``sun_altitude_deg``: albedo E_sun(lambda) sin(alt) / pi;
    0 at night (city lights and moonlight left out: at night the
    satellite's detector dark counts dominate).
    """
    sun = np.asarray(sun_altitude_deg, dtype=float)
    return albedo * solar_irradiance(wavelength_nm) * np.clip(np.sin(np.radians(sun)), 0.0, None) / np.pi


def moon_phase_factor(illumination) -> np.ndarray:
    """Moonlight relative to the full Moon for an illuminated fraction k.

    Krisciunas & Schaefer (1991, PASP 103, 1033), eq. 20: the Moon's
    V magnitude at phase angle alpha (deg) is -12.73 + 0.026 |alpha| +
    4e-9 alpha^4 (the illuminance I* = 10^(-0.4 (3.84 + 0.026|alpha| +
    4e-9 alpha^4))), with alpha = arccos(2k - 1) from k = (1 + cos alpha)/2.
    A half Moon (k = 0.5, alpha = 90 deg) gives 0.091 of the full Moon, not
    0.5: the opposition surge and the rough surface's shadows make
    moonlight fall much faster than the lit area.
    """
    k = np.clip(np.asarray(illumination, dtype=float), 0.0, 1.0)
    alpha = np.degrees(np.arccos(2.0 * k - 1.0))
    return np.where(k > 0.0, 10.0 ** (-0.4 * (0.026 * alpha + 4e-9 * alpha**4)), 0.0)


@dataclass(frozen=True)
class Sky:
    """Sky spectral radiance near the signal wavelength (W m^-2 sr^-1 nm^-1).

    * Astronomical night (Sun below -18 deg), no Moon: ``night_radiance`` if
      given, else :func:`night_sky_radiance` at the signal wavelength (7.6e-9
      in the I band, i.e. 19.5 mag/arcsec^2 [assumption: a moderately dark
      site]; ~1e-7 at 1550 nm, where OH airglow dominates), brightened by
      ``light_pollution_mag``.
    * Twilight (-18 < Sun < 0 deg): log10 radiance rises linearly from
      night to ``sunset_radiance`` at Sun altitude 0 [assumption: a coarse
      fit to the ~6-7 decades of twilight brightening].
    * Day (Sun above the horizon): with ``daylight: scattering`` (the
      default) and the line of sight known (``elevation_deg`` and
      ``sun_separation_deg``, as the pipeline gives them), the
      single-scattering clear sky of :func:`day_sky_radiance` for the
      station's atmosphere -- by wavelength, Sun elevation and
      Sun-line-of-sight angle -- and never below the sunset value;
      otherwise (``daylight: constant``, or no line of sight) log-linear
      from sunset to ``day_radiance`` at Sun altitude +10 deg and constant
      above [assumption: order of magnitude of clear blue sky in the near
      infrared].
    * Moon: adds ``moon_radiance * moon_phase_factor(illumination) *
      sin(altitude)`` times the Krisciunas & Schaefer (1991, PASP 103, 1033)
      scattering function normalised to 1 at 90 deg from the Moon (1 if the
      separation is not given).  ``moon_radiance`` = 5e-8 makes a full Moon
      at 45 deg roughly 2 mag/arcsec^2 brighter than the dark I-band sky
      [assumption].  The phase law is K&S eq. 20
      (:func:`moon_phase_factor`), not the illuminated fraction.

    ``sunset_radiance``, ``day_radiance`` and ``moon_radiance`` are given at
    850 nm and scaled to the signal wavelength with the solar spectrum
    (:func:`solar_spectrum_ratio`).

    The 2017 Micius experiment reported a night background of a few hundred
    counts/s [unverified].  This model gives ~40 counts/s from a moonless
    sky into the 2021 Nanshan receiver (100 µrad, 1 nm, 850 nm) and a few
    hundred with a bright Moon, but only ~2 counts/s into the narrow 9 µrad field assumed for
    2017 Xinglong: the reported figure presumably includes detector dark
    counts and light pollution.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    night_radiance: Optional[Positive] = None
    sunset_radiance: Positive = 1e-3
    day_radiance: Positive = 1e-2
    moon_radiance: NonNegative = 5e-8
    light_pollution_mag: Annotated[float, Field(ge=0.0, le=10.0)] = 0.0
    daylight: Literal["scattering", "constant"] = "scattering"

    def night(self, wavelength_nm=850.0) -> np.ndarray:
        """Moonless astronomical-night radiance at ``wavelength_nm``."""
        base = night_sky_radiance(wavelength_nm) if self.night_radiance is None else self.night_radiance
        return base * 10.0 ** (0.4 * self.light_pollution_mag)

    def radiance(self, sun_altitude_deg=None, moon_altitude_deg=None, moon_illumination=None,
                 moon_separation_deg=None, wavelength_nm=850.0, *, elevation_deg=None,
                 sun_separation_deg=None, atmosphere: "Atmosphere | None" = None,
                 site_height_m=0.0) -> np.ndarray:
        """Sky radiance for the given Sun and Moon geometry (``None``: Sun/Moon down).

        ``elevation_deg`` (of the line of sight) and ``sun_separation_deg``
        switch on the scattered daylight of :func:`day_sky_radiance` when
        the Sun is up (``atmosphere`` and ``site_height_m`` set its optical
        depths).
        """
        sun = np.asarray(-90.0 if sun_altitude_deg is None else sun_altitude_deg, dtype=float)
        solar = solar_spectrum_ratio(wavelength_nm)
        lo = np.log10(self.night(wavelength_nm))
        mid, hi = np.log10([self.sunset_radiance * solar, self.day_radiance * solar])
        scattering = (self.daylight == "scattering" and elevation_deg is not None
                      and sun_separation_deg is not None)
        if scattering:
            # Only the seconds with the Sun up pay for the scattering model.
            up = np.broadcast_to(sun > 0.0, np.broadcast_shapes(sun.shape, np.shape(elevation_deg),
                                                                np.shape(sun_separation_deg)))
            log_day = np.full(up.shape, mid)
            if up.any():
                pick = lambda v: np.broadcast_to(np.asarray(v, dtype=float), up.shape)[up]  # noqa: E731
                day = day_sky_radiance(wavelength_nm, pick(sun), pick(elevation_deg), pick(sun_separation_deg),
                                       atmosphere, site_height_m)
                log_day[up] = np.log10(np.maximum(day, 10.0**mid))
        else:
            log_day = mid + (hi - mid) * np.clip(sun / 10.0, 0.0, 1.0)
        log_r = np.where(sun <= 0.0, lo + (mid - lo) * np.clip((sun + 18.0) / 18.0, 0.0, 1.0), log_day)
        rad = 10.0**log_r
        if moon_altitude_deg is not None:
            alt = np.asarray(moon_altitude_deg, dtype=float)
            phase = moon_phase_factor(1.0 if moon_illumination is None else moon_illumination)
            if moon_separation_deg is None:
                scat = 1.0
            else:
                scat = _ks_scattering(moon_separation_deg) / _ks_scattering(90.0)
            rad = rad + (self.moon_radiance * solar * phase
                         * np.clip(np.sin(np.radians(alt)), 0.0, None) * scat)
        return rad

    @classmethod
    def dark_site(cls) -> "Sky":
        """Default: the night-sky table (I ~ 19.5 mag/arcsec^2) [assumption]."""
        return cls()

    @classmethod
    def suburban(cls) -> "Sky":
        """Light-polluted night, 1.5 mag brighter at every wavelength [assumption]."""
        return cls(light_pollution_mag=1.5)


def _ks_scattering(separation_deg) -> np.ndarray:
    """Krisciunas & Schaefer (1991) scattering function f(rho), rho in degrees."""
    rho = np.clip(np.asarray(separation_deg, dtype=float), 1.0, 180.0)
    return 10**5.36 * (1.06 + np.cos(np.radians(rho)) ** 2) + 10 ** (6.15 - rho / 40.0)


# ---------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------

TRANSMITTER_PRESETS: dict[str, Callable[[], Transmitter]] = {
    "micius": Transmitter.micius,
    "micius_entanglement": Transmitter.micius_entanglement,
    "leo_1550": Transmitter.leo_1550,
    "geo": Transmitter.geo,
    "ngari_uplink": Transmitter.ngari_uplink,
    "qeyssat_uplink": Transmitter.qeyssat_uplink,
}
ATMOSPHERE_PRESETS: dict[str, Callable[[], Atmosphere]] = {
    "modtran_rural": Atmosphere.modtran_rural,
    "hazy": Atmosphere.hazy,
}
TURBULENCE_PRESETS: dict[str, Callable[[], Turbulence]] = {
    "hv57": Turbulence.hv57,
    "good_site": Turbulence.good_site,
    "off": Turbulence.off,
}
TELESCOPE_PRESETS: dict[str, Callable[[], Telescope]] = {
    "nanshan": Telescope.nanshan,
    "xinglong": Telescope.xinglong,
    "xinglong_2017": Telescope.xinglong_2017,
    "delingha": Telescope.delingha,
    "lijiang": Telescope.lijiang,
    "micius_receiver": Telescope.micius_receiver,
    "qeyssat_receiver": Telescope.qeyssat_receiver,
    "daylight_1550": Telescope.daylight_1550,
}
SKY_PRESETS: dict[str, Callable[[], Sky]] = {
    "dark_site": Sky.dark_site,
    "suburban": Sky.suburban,
}


# ---------------------------------------------------------------------------
# The budget
# ---------------------------------------------------------------------------

_COLUMNS = [
    "range_km", "elevation_deg", "apparent_elevation_deg", "geometric_loss_db", "atmosphere_loss_db", "turbulence_loss_db",
    "pointing_loss_db", "transmitter_loss_db", "receiver_loss_db", "field_stop_loss_db",
    "detector_loss_db", "loss_db", "efficiency", "background_cps", "noise_prob",
]


def _orbit_height_km(range_km, elevation_deg) -> np.ndarray:
    """Satellite height from range and elevation (inverse of :func:`slant_range_km`)."""
    r = EARTH_RADIUS_KM
    d = range_km
    e = np.radians(elevation_deg)
    return np.sqrt(r**2 + d**2 + 2 * r * d * np.sin(e)) - r


def link_budget(range_km, elevation_deg, transmitter: Transmitter, telescope: Telescope,
                detector: Detector, *, site_height_m=0.0, atmosphere: Atmosphere | None = None,
                turbulence: Turbulence | None = None, sky: Sky | None = None,
                sun_altitude_deg=None, moon_altitude_deg=None, moon_illumination=None,
                moon_separation_deg=None, sun_separation_deg=None, temperature_c: float = 10.0,
                refraction: bool = True) -> pd.DataFrame:
    """Per-sample loss budget of a downlink, one row per (range, elevation) sample.

    Parameters
    ----------
    range_km, elevation_deg
        Slant range and elevation of the satellite, arrays of equal shape (or
        scalars); elevation must be in (0, 90].
    transmitter, telescope, detector
        The equipment.
    site_height_m
        Ground station height above sea level (thins the atmosphere).
    atmosphere, turbulence, sky
        Models; ``None`` means the defaults :meth:`Atmosphere.modtran_rural`,
        :meth:`Turbulence.hv57` and :meth:`Sky.dark_site`.
    sun_altitude_deg, moon_altitude_deg, moon_illumination, moon_separation_deg
        Sky geometry per sample or scalar; ``None`` for the Sun means
        astronomical night, for the Moon that it is down.
    sun_separation_deg
        Angle between the Sun and the line of sight per sample: with the
        Sun up it sets the scattered daylight (:func:`day_sky_radiance`).
    temperature_c, refraction
        Air temperature at the site, and whether to refract: the air mass,
        turbulence and seeing use the apparent elevation
        (:func:`satqkd.refraction.apparent_elevation_deg` at the site's
        standard pressure); the range stays geometric.

    Returns
    -------
    pandas.DataFrame
        Columns ``range_km, elevation_deg, apparent_elevation_deg, geometric_loss_db,
        atmosphere_loss_db, turbulence_loss_db, pointing_loss_db,
        transmitter_loss_db, receiver_loss_db, field_stop_loss_db,
        detector_loss_db, loss_db, efficiency, background_cps, noise_prob``.
        ``loss_db`` is the sum of the ``*_loss_db`` parts and
        ``efficiency = 10**(-loss_db/10)``.  ``geometric_loss_db`` is vacuum
        diffraction onto the annular aperture; ``turbulence_loss_db`` the
        extra from turbulent beam spread; ``pointing_loss_db`` uses the
        turbulence-broadened divergence; ``field_stop_loss_db`` is seeing
        against the receiver's field of view; ``noise_prob`` is
        ``detector.dark_count_prob`` plus sky background clicks per pulse
        (``background_cps * detector.window_s``).
    """
    atmosphere = Atmosphere() if atmosphere is None else atmosphere
    turbulence = Turbulence.hv57() if turbulence is None else turbulence
    sky = Sky() if sky is None else sky

    rng_km, elev = np.broadcast_arrays(np.atleast_1d(np.asarray(range_km, dtype=float)),
                                       np.atleast_1d(np.asarray(elevation_deg, dtype=float)))
    rng_km = rng_km.astype(float).ravel()
    elev = elev.astype(float).ravel()
    if np.any(~np.isfinite(rng_km)) or np.any(rng_km <= 0):
        raise SatqkdError("link_budget: range_km must be finite and positive")
    if np.any(~np.isfinite(elev)) or np.any(elev <= 0) or np.any(elev > 90):
        raise SatqkdError("link_budget: elevation_deg must be in (0, 90] degrees")

    lam_nm = transmitter.wavelength_nm
    L = rng_km * 1e3
    if refraction:
        app = apparent_elevation_deg(elev, standard_pressure_hpa(site_height_m), temperature_c)
    else:
        app = elev
    a = telescope.aperture_m / 2.0
    b = telescope.obscuration_m / 2.0

    # Vacuum diffraction onto the annular aperture.
    w = transmitter.beam_radius_m(rng_km)
    eta_geo = annular_gaussian_efficiency(w, a, b)

    # Turbulent long-term spread adds in quadrature to the vacuum beam; the
    # path integral depends on the orbit height, recovered from the geometry.
    # Orbit heights of a pass differ little, so one integral at the median
    # height serves all samples (the weight (h/H)^5/3 changes by <1 %).
    height_km = float(np.median(_orbit_height_km(rng_km, elev)))
    theta_t = turbulence.downlink_spread_rad(app, max(height_km, 1.0), lam_nm)
    w_lt = np.sqrt(w**2 + (theta_t * L) ** 2)
    eta_turb = annular_gaussian_efficiency(w_lt, a, b) / eta_geo

    theta_lt = np.sqrt(transmitter.half_angle_rad**2 + theta_t**2)
    eta_point = pointing_efficiency(transmitter.pointing_jitter_urad * 1e-6, theta_lt)

    eta_atm = atmosphere.transmittance(app, lam_nm, site_height_m)
    seeing = turbulence.seeing_fwhm_urad(app, lam_nm)
    eta_fs = telescope.field_stop_efficiency(seeing, lam_nm)

    parts = _loss_parts(L, eta_geo, eta_atm, eta_turb, eta_point, transmitter, telescope, eta_fs, detector)
    loss_db = sum(parts.values())

    radiance = np.broadcast_to(
        sky.radiance(sun_altitude_deg, moon_altitude_deg, moon_illumination, moon_separation_deg, lam_nm,
                     elevation_deg=app, sun_separation_deg=sun_separation_deg, atmosphere=atmosphere,
                     site_height_m=site_height_m), L.shape)
    background_cps = _background_cps(radiance, telescope, detector, lam_nm)
    noise_prob = detector.noise_click_prob(background_cps)

    out = {"range_km": rng_km, "elevation_deg": elev, "apparent_elevation_deg": app, **parts, "loss_db": loss_db,
           "efficiency": 10.0 ** (-loss_db / 10.0), "background_cps": background_cps,
           "noise_prob": noise_prob}
    return pd.DataFrame({k: np.asarray(out[k], dtype=float) for k in _COLUMNS})


def _background_cps(radiance, telescope: Telescope, detector: Detector, wavelength_nm: float) -> np.ndarray:
    """Detected background counts per second from a sky of spectral ``radiance``
    filling the field of view: L A Omega dlambda eta_optics eta_det / (h c / lambda)."""
    photon_j = _H_PLANCK * _C_LIGHT / (wavelength_nm * 1e-9)
    return (radiance * telescope.collecting_area_m2 * telescope.solid_angle_sr * telescope.filter_bandwidth_nm
            * telescope.optics_efficiency * detector.efficiency / photon_j)


def uplink_budget(range_km, elevation_deg, transmitter: Transmitter, receiver: Telescope, detector: Detector, *,
                  site_height_m=0.0, atmosphere: Atmosphere | None = None, turbulence: Turbulence | None = None,
                  sun_altitude_deg=None, earth_albedo: float = 0.3, temperature_c: float = 10.0,
                  refraction: bool = True) -> pd.DataFrame:
    """Per-sample loss budget of an *uplink*: a ground transmitter to a receiver on the satellite.

    The same factors as :func:`link_budget`, with the roles turned round:

    * ``transmitter`` is the ground station's telescope and beam (its
      divergence, pointing jitter of the mount and optics);
    * ``receiver`` (a :class:`Telescope`) and ``detector`` are the
      satellite's;
    * turbulence sits at the *transmitter* end of the path: the long-term
      beam spread and wander of :meth:`Turbulence.uplink_spread_rad` add in
      quadrature to the vacuum beam (the dominant uplink term, ~10 dB more
      than a downlink suffers); pointing jitter is taken against the
      broadened beam;
    * the satellite sees the transmitter as a point source above the
      turbulence (angle-of-arrival blur negligible), so its field stop
      passes the diffraction-limited image;
    * the background is the sunlit ground (:func:`earth_radiance`) filling
      the satellite's field of view, 0 at night.

    Returns the columns of :func:`link_budget` (``geometric_loss_db`` is
    vacuum diffraction of the ground beam onto the satellite's aperture).
    """
    atmosphere = Atmosphere() if atmosphere is None else atmosphere
    turbulence = Turbulence.hv57() if turbulence is None else turbulence
    rng_km, elev = np.broadcast_arrays(np.atleast_1d(np.asarray(range_km, dtype=float)),
                                       np.atleast_1d(np.asarray(elevation_deg, dtype=float)))
    rng_km = rng_km.astype(float).ravel()
    elev = elev.astype(float).ravel()
    if np.any(~np.isfinite(rng_km)) or np.any(rng_km <= 0):
        raise SatqkdError("uplink_budget: range_km must be finite and positive")
    if np.any(~np.isfinite(elev)) or np.any(elev <= 0) or np.any(elev > 90):
        raise SatqkdError("uplink_budget: elevation_deg must be in (0, 90] degrees")
    lam_nm = transmitter.wavelength_nm
    L = rng_km * 1e3
    app = apparent_elevation_deg(elev, standard_pressure_hpa(site_height_m), temperature_c) if refraction else elev
    a, b = receiver.aperture_m / 2.0, receiver.obscuration_m / 2.0

    w = transmitter.beam_radius_m(rng_km)
    eta_geo = annular_gaussian_efficiency(w, a, b)
    height_km = float(np.median(_orbit_height_km(rng_km, elev)))
    theta_t = turbulence.uplink_spread_rad(app, max(height_km, 1.0), lam_nm)
    w_lt = np.sqrt(w**2 + (theta_t * L) ** 2)
    eta_turb = annular_gaussian_efficiency(w_lt, a, b) / eta_geo
    theta_lt = np.sqrt(transmitter.half_angle_rad**2 + theta_t**2)
    eta_point = pointing_efficiency(transmitter.pointing_jitter_urad * 1e-6, theta_lt)
    eta_atm = atmosphere.transmittance(app, lam_nm, site_height_m)
    eta_fs = receiver.field_stop_efficiency(np.zeros_like(L), lam_nm)

    parts = _loss_parts(L, eta_geo, eta_atm, eta_turb, eta_point, transmitter, receiver, eta_fs, detector)
    loss_db = sum(parts.values())
    sun = -90.0 if sun_altitude_deg is None else sun_altitude_deg
    radiance = np.broadcast_to(earth_radiance(lam_nm, sun, earth_albedo) * eta_atm, L.shape)
    background_cps = _background_cps(radiance, receiver, detector, lam_nm)
    out = {"range_km": rng_km, "elevation_deg": elev, "apparent_elevation_deg": app, **parts, "loss_db": loss_db,
           "efficiency": 10.0 ** (-loss_db / 10.0), "background_cps": background_cps,
           "noise_prob": detector.noise_click_prob(background_cps)}
    return pd.DataFrame({k: np.asarray(out[k], dtype=float) for k in _COLUMNS})


def loss_table(transmitter: Transmitter, telescope: Telescope, detector: Detector, *,
               height_km: float = 500.0, site_height_m: float = 0.0,
               elevations_deg=range(10, 95, 5), atmosphere: Atmosphere | None = None,
               turbulence: Turbulence | None = None, sky: Sky | None = None,
               uplink: bool = False) -> pd.DataFrame:
    """Loss budget at a list of elevations for a circular orbit at ``height_km``.

    One row per elevation, a column per loss component (see
    :func:`link_budget`); the range is the analytic slant range.  With
    ``uplink``, ``transmitter`` is the ground's and ``telescope`` and
    ``detector`` the satellite's (:func:`uplink_budget`).
    """
    elev = np.asarray(list(elevations_deg), dtype=float)
    if uplink:
        return uplink_budget(slant_range_km(elev, height_km), elev, transmitter, telescope, detector,
                             site_height_m=site_height_m, atmosphere=atmosphere, turbulence=turbulence)
    return link_budget(slant_range_km(elev, height_km), elev, transmitter, telescope, detector,
                       site_height_m=site_height_m, atmosphere=atmosphere, turbulence=turbulence,
                       sky=sky)


def geo_comparison(*, leo_elevation_deg: float = 45.0, leo_low_elevation_deg: float = 10.0,
                   geo_elevation: float | None = None, leo_height_km: float = 500.0,
                   leo_transmitter: Transmitter | None = None,
                   geo_transmitter: Transmitter | None = None, telescope: Telescope | None = None,
                   detector: Detector | None = None, site_height_m: float = NANSHAN_HEIGHT_M,
                   site_latitude_deg: float = NANSHAN_LATITUDE_DEG,
                   atmosphere: Atmosphere | None = None,
                   turbulence: Turbulence | None = None) -> pd.DataFrame:
    """LEO (Micius 2021) versus GEO downlink loss into the same ground station.

    Chen et al. (2021) state that the 2021 satellite-to-ground channel loss
    "is comparable to that between a geostationary satellite and the
    ground".  This puts both links into the same receiver (default Nanshan
    1.2 m at 2,034 m, same detector, atmosphere and turbulence) and returns
    rows ``LEO`` (Micius 2021 at ``leo_elevation_deg``, a typical mid-pass
    elevation), ``LEO_low`` (the same at ``leo_low_elevation_deg``, the edge
    of the key window) and ``GEO`` (:meth:`Transmitter.geo`: 2 m, M^2 = 1.2,
    0.1 µrad jitter -- assumptions -- at the site's longitude, so at
    :func:`geo_elevation_deg` of the site, ~40 deg from Nanshan, unless
    ``geo_elevation`` is given).  Columns: ``height_km, range_km,
    elevation_deg, divergence_urad, tx_aperture_m, rx_aperture_m,
    geometric_loss_db, loss_db``.

    With these assumptions the GEO loss lands ~6.5 dB above the LEO loss at
    the low-elevation end of a pass and ~15 dB above the mid-pass loss:
    "comparable" needs at least a ~2 m class GEO transmitter.
    """
    leo_tx = Transmitter.micius() if leo_transmitter is None else leo_transmitter
    geo_tx = Transmitter.geo() if geo_transmitter is None else geo_transmitter
    telescope = Telescope.nanshan() if telescope is None else telescope
    if detector is None:  # the 2021 Nanshan receiver of configs/micius-2021-nanshan.yaml
        from .detector import DETECTOR_PRESETS

        detector = DETECTOR_PRESETS["micius_2021_nanshan"]()
    geo_el = float(geo_elevation_deg(site_latitude_deg)) if geo_elevation is None else float(geo_elevation)

    rows = {}
    for name, tx, h, el in (("LEO", leo_tx, leo_height_km, leo_elevation_deg),
                            ("LEO_low", leo_tx, leo_height_km, leo_low_elevation_deg),
                            ("GEO", geo_tx, GEO_HEIGHT_KM, geo_el)):
        rng = float(slant_range_km(el, h))
        b = link_budget(rng, el, tx, telescope, detector, site_height_m=site_height_m,
                        atmosphere=atmosphere, turbulence=turbulence).iloc[0]
        rows[name] = {"height_km": float(h), "range_km": rng, "elevation_deg": float(el),
                      "divergence_urad": tx.full_divergence_urad, "tx_aperture_m": tx.aperture_m,
                      "rx_aperture_m": telescope.aperture_m,
                      "geometric_loss_db": b["geometric_loss_db"], "loss_db": b["loss_db"]}
    return pd.DataFrame.from_dict(rows, orient="index")

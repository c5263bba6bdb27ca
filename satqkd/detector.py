"""The single-photon receiver's detectors: efficiency, noise and imperfections.

A :class:`Detector` is everything that happens to a photon after the channel
and the telescope optics: the basis beam splitter, the detection efficiency,
dark counts inside the coincidence window, afterpulsing, dead time and the
intrinsic misalignment (polarisation) error.  Both the link budget
(:mod:`satqkd.link`, which reports the detector's share of the loss and turns
sky background into counts per pulse) and the key-rate engine
(:mod:`satqkd.keyrate`) read it.

Fields are annotated with pydantic constraints so that the scenario loader
can validate a YAML block straight into this dataclass.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import ConfigDict, Field

__all__ = ["Detector", "DETECTOR_PRESETS"]

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


@dataclass(frozen=True)
class Detector:
    """Single-photon detection at the receiver.

    Parameters
    ----------
    efficiency
        Detection efficiency of the receiver after the telescope optics
        (detector quantum efficiency times any follow-up optics not modelled
        elsewhere).  For a fibre system this is the whole of Bob's
        efficiency (``eta_Bob`` in Ma et al. 2005).
    dark_count_prob
        Probability of a noise click per pulse from the detectors
        themselves, **summed over all detectors** inside the coincidence
        window (``Y_0`` of a fibre system).  A paper quoting ``p_dc`` per
        detector (Lim et al. 2014) means ``n_detectors x p_dc`` here (two
        detectors per basis measurement: ``2 p_dc``).  Sky background is
        added by the link model.
    window_s
        Coincidence (time-gate) window; turns a count *rate* (background
        photons, dark counts per second) into a probability per pulse.
    misalignment
        Intrinsic error probability of a detected signal photon
        (``e_det`` / ``e_mis``).
    afterpulse_prob
        Probability that a detection triggers an afterpulse (adds noise in
        proportion to the click rate; Lim et al. 2014 use 4 %).
    dead_time_s
        Detector dead time (non-paralysable); saturates the count rate at
        short range and high repetition rate.  Zero to ignore.
    n_detectors
        Number of detectors, half of them in each basis (dead time is per
        detector: each basis's detectors share that basis's clicks, so with
        a 10:90 X:Z splitter and four detectors each Z detector sees 45 % of
        all clicks).
    basis_prob_x
        Probability that the receiver measures in the X basis: 0.5 for a
        50:50 passive basis beam splitter, 0.1 for the 10:90 splitter of the
        2021 Nanshan receiver.  The key comes from the basis measured more
        often (Z at Nanshan); the other serves parameter estimation.
    """

    __pydantic_config__ = ConfigDict(extra="forbid", allow_inf_nan=False)

    efficiency: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    dark_count_prob: Annotated[float, Field(ge=0.0, lt=0.1)] = 1e-6
    window_s: Annotated[float, Field(gt=0.0, le=1e-6)] = 1e-9
    misalignment: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.01
    afterpulse_prob: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    dead_time_s: NonNegative = 0.0
    n_detectors: Annotated[int, Field(ge=1)] = 4
    basis_prob_x: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5

    def noise_click_prob(self, background_cps=0.0, background_prob=None):
        """Noise click probability per pulse, ``Y_0``.

        The detectors' own dark clicks and background light are independent:
        ``Y_0 = 1 - (1 - p_dark)(1 - p_bg)`` with ``p_bg = 1 - exp(-rate *
        window)`` for a Poisson background of ``background_cps`` counts per
        second inside the coincidence window, or ``background_prob`` given
        directly.  Always a probability, however bright the sky.
        """
        if background_prob is None:
            p_bg = -np.expm1(-np.asarray(background_cps, dtype=float) * self.window_s)
        else:
            p_bg = np.asarray(background_prob, dtype=float)
        return 1.0 - (1.0 - self.dark_count_prob) * (1.0 - p_bg)


def _micius_2017_xinglong() -> Detector:
    """Xinglong receiver of the 2017 downlink (Liao et al., Nature 549, 43 (2017)).

    Silicon avalanche photodiodes at 850 nm behind a 50:50 basis splitter
    [secondary].  Efficiency (detectors and the coupling into them, 0.33),
    dark counts and misalignment are our calibration assumptions (README,
    "Calibration"), not published values: with them the loss including
    detection runs from ~30 dB at 645 km to ~40 dB at 1,200 km, as the
    digitised 2017 curve does [unverified].
    """
    return Detector(
        efficiency=0.33,
        dark_count_prob=4 * 25.0 * 2e-9,  # 4 Si-APDs x ~25 counts/s x 2 ns window (assumed)
        window_s=2e-9,
        misalignment=0.01,
        afterpulse_prob=0.0,
        dead_time_s=50e-9,
        n_detectors=4,
        basis_prob_x=0.5,
    )


def _micius_2021_nanshan() -> Detector:
    """Nanshan receiver of the 2021 network (Chen et al., Nature 589, 214 (2021)).

    The 10:90 X:Z basis beam splitter is published (Extended Data Fig. 3).
    Nothing else about the detectors is, so everything else is the 2017
    Xinglong detector unchanged: the 2021 calibration then differs from the
    2017 one only in what the paper says changed.
    """
    return dataclasses.replace(_micius_2017_xinglong(), basis_prob_x=0.1)


def _micius_2021_xinglong() -> Detector:
    """Xinglong receiver of the 2021 network: 50:50 basis splitter (Ext. Data Fig. 3)."""
    return dataclasses.replace(_micius_2021_nanshan(), basis_prob_x=0.5)


def _gys_2004() -> Detector:
    """GYS 2004 fibre system as tabulated by Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005).

    eta_Bob = 4.5 %, Y_0 = 1.7e-6, e_det = 3.3 %.  ``Y_0`` is already the
    noise click probability of the whole receiver (two detectors), which is
    what ``dark_count_prob`` means.  Same values as configs/systems/gys-2004.yaml.
    """
    return Detector(efficiency=0.045, dark_count_prob=1.7e-6, misalignment=0.033, afterpulse_prob=0.0,
                    dead_time_s=0.0, n_detectors=2, basis_prob_x=0.5)


def _lim_2014() -> Detector:
    """Simulation model of Lim, Curty, Walenta, Xu, Zbinden, PRA 89, 022307 (2014).

    eta_Bob = 10 %, p_dc = 6e-7 *per detector*, afterpulse 4 %, e_mis =
    0.5 %.  The paper's click model is ``1 - (1 - 2 p_dc) e^(-eta k)`` (two
    detectors), so ``dark_count_prob`` -- the noise click probability summed
    over the detectors -- is 2 x 6e-7 = 1.2e-6.  The basis probability is
    optimised by the key-rate engine.  Same values as
    configs/systems/lim-2014.yaml.
    """
    return Detector(efficiency=0.10, dark_count_prob=2 * 6e-7, misalignment=0.005, afterpulse_prob=0.04,
                    dead_time_s=0.0, n_detectors=2, basis_prob_x=0.5)


def _si_apd_810() -> Detector:
    """Silicon APDs at 810 nm for an entanglement-type downlink (Yin et al. 2017).

    Si APDs reach ~0.5-0.6 quantum efficiency at 810 nm; with coupling we
    keep the 0.33 of the 2017 Xinglong receiver [assumption]; dark counts,
    window, misalignment and dead time as :func:`_micius_2017_xinglong`.
    """
    return _micius_2017_xinglong()


def _ingaas_1550() -> Detector:
    """Gated InGaAs/InP avalanche diodes at 1550 nm.

    Chen et al. 2021 (Ext. Data Fig. 5) [paper] for the 40 MHz fibre
    systems: ~15 % efficiency at a 1.6 ns gate, dark count < 250 /s,
    afterpulse < 1 % at 5 µs dead time.  Four detectors, so 4 x 250 /s x
    1.6 ns of dark clicks per pulse; misalignment 1 % [assumption].  The
    5 µs dead time saturates a bright downlink: use a slow clock or many
    detectors.
    """
    return Detector(efficiency=0.15, dark_count_prob=4 * 250.0 * 1.6e-9, window_s=1.6e-9,
                    misalignment=0.01, afterpulse_prob=0.01, dead_time_s=5e-6, n_detectors=4,
                    basis_prob_x=0.5)


def _snspd_1550() -> Detector:
    """Superconducting nanowire detectors at 1550 nm [assumption: a typical
    commercial fibre-coupled SNSPD system]: 80 % efficiency including the
    coupling of a free-space beam into few-mode fibre, 100 dark counts/s per
    detector in a 0.5 ns window, 50 ns recovery, no afterpulsing,
    misalignment 1 %.  (Coupling a turbulent downlink into fibre is the
    hard part; lower ``efficiency`` for a real receiver.)"""
    return Detector(efficiency=0.8, dark_count_prob=4 * 100.0 * 0.5e-9, window_s=0.5e-9,
                    misalignment=0.01, afterpulse_prob=0.0, dead_time_s=50e-9, n_detectors=4,
                    basis_prob_x=0.5)


DETECTOR_PRESETS = {
    "micius_2017_xinglong": _micius_2017_xinglong,
    "micius_2021_nanshan": _micius_2021_nanshan,
    "micius_2021_xinglong": _micius_2021_xinglong,
    "gys_2004": _gys_2004,
    "lim_2014": _lim_2014,
    "si_apd_810": _si_apd_810,
    "ingaas_1550": _ingaas_1550,
    "snspd_1550": _snspd_1550,
}

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

from dataclasses import dataclass
from typing import Annotated

from pydantic import ConfigDict, Field

__all__ = ["Detector"]

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
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
        themselves, summed over all detectors inside the coincidence window
        (``Y_0`` of a fibre system).  Sky background is added by the link
        model.
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
        Number of detectors sharing the clicks (dead time is per detector).
    basis_prob_x
        Probability that the receiver measures in the X (key) basis: 0.5 for
        a 50:50 passive basis beam splitter, 0.1 for the 10:90 splitter of
        the 2021 Nanshan receiver.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    efficiency: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    dark_count_prob: NonNegative = 1e-6
    window_s: Positive = 1e-9
    misalignment: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.01
    afterpulse_prob: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    dead_time_s: NonNegative = 0.0
    n_detectors: Annotated[int, Field(ge=1)] = 4
    basis_prob_x: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5

"""Decoy-state BB84 key rates: asymptotic bounds and the finite key of one pass.

This is the key-rate stage of the pipeline (orbits -> passes -> link ->
**keyrate** -> network).  It turns a per-slot total efficiency ``eta`` and a
per-slot noise click probability ``y0`` into secret key:

* :func:`asymptotic_key_per_pulse` -- the textbook GLLP rate with decoy
  states (Lo, Ma, Chen, PRL 94, 230504 (2005); Ma, Qi, Zhao, Lo, PRA 72,
  012326 (2005)): vacuum + weak decoy, two weak decoys, the perfect-decoy
  limit and GLLP without decoys; what ``satqkd keyrate --asymptotic``
  prints, to compare with published curves.
* :func:`large_block_key_per_pulse` -- the large-block limit of the finite
  key below, per slot: the per-second ``key_rate_bps`` of ``satqkd run``.
  Summed over a pass it is never below the pass's finite key.  Vectorised
  over slots; meant for years of per-second losses.
* :func:`finite_key` / :func:`optimise_pass` -- the finite key of one block
  (one satellite pass) with three intensities, after Lim, Curty, Walenta, Xu,
  Zbinden, PRA 89, 022307 (2014).  Expected counts per slot are summed over
  the key window and the bound is applied to the sums.  The optimiser tunes
  the intensities, their probabilities, the basis bias and the key window.
* :func:`keyrate_table` -- key rate against loss or fibre length, for the
  ``satqkd keyrate`` command.
* :func:`read_profile` / :func:`profile_keys` -- the finite key of a measured
  pass: a per-second profile of loss (or efficiency) and noise, for
  ``satqkd keyrate --profile``.
* :func:`satqkd.config.load_system` reads a YAML equipment file (source, detector, protocol,
  channel) validated into the dataclasses.

Conventions
-----------
``eta``
    Total efficiency of a photon sent by the transmitter: channel times
    receiver optics **times the detector efficiency**.
``y0``
    Probability of a noise click per pulse (summed over the detectors inside
    the coincidence window) **including the detectors' own dark counts**:
    ``y0 = noise_click_prob(detector, background)``.  Passing ``None`` uses
    ``detector.dark_count_prob`` alone (a fibre system in the dark).
Key basis
    The key is drawn from the basis the *receiver* picks more often: X when
    ``detector.basis_prob_x >= 0.5``, Z otherwise (a 10:90 X:Z splitter
    makes Z the key basis).  The other basis only estimates the phase error.
    ``Source.basis_prob_x`` is always the transmitter's probability of X.
Detector model (per pulse of intensity mu; Lim et al. 2014, appendix)
    ``p_sig = 1 - exp(-eta mu)``; clicks ``D = 1 - (1 - y0) exp(-eta mu)``;
    errors ``e_mis p_sig + y0 (1 - p_sig) / 2``; afterpulsing multiplies the
    clicks by ``1 + p_ap`` and adds ``p_ap D / 2`` errors; dead time scales
    every click of one basis in a slot by ``1 / (1 + r tau)`` with ``r`` the
    click rate of each of that basis's ``n_detectors / 2`` detectors, from
    the receiver's real split of the clicks (non-paralysable saturation; a
    10:90 X:Z splitter sends 45 % of all clicks to each Z detector).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Annotated, Callable, Literal

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field

from satqkd.detector import Detector
from satqkd.errors import SatqkdError

__all__ = [
    "Source",
    "Protocol",
    "Channel",
    "System",
    "PassKey",
    "SOURCE_PRESETS",
    "PROTOCOL_PRESETS",
    "DECOY_METHODS",
    "binary_entropy",
    "noise_click_prob",
    "expected_counts",
    "asymptotic_key_per_pulse",
    "asymptotic_rate_bps",
    "large_block_key_per_pulse",
    "large_block_rate_bps",
    "finite_key",
    "optimise_pass",
    "keyrate_table",
    "read_profile",
    "profile_keys",
]

DECOY_METHODS = ("vacuum+weak", "two-weak", "perfect", "none")

Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
OpenFraction = Annotated[float, Field(gt=0.0, lt=1.0)]


# --------------------------------------------------------------------------
# Equipment and protocol
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """The transmitter: a weak-coherent-pulse decoy-state BB84 source.

    Parameters
    ----------
    rep_rate_hz
        Pulses per second.
    intensities
        Mean photon numbers ``(mu1, mu2, mu3)``: signal, decoy and the weakest
        (vacuum or near-vacuum) state; ``mu1 > mu2 > mu3 >= 0`` and
        ``mu1 > mu2 + mu3`` (Lim et al. 2014).
    probabilities
        Probability of sending each intensity; non-negative, summing to 1.
        The finite-key bound needs all three positive.
    basis_prob_x
        The transmitter's probability of preparing the X basis.
    wavelength_nm
        Carrier wavelength (informational here; the link model uses it).

    Presets cite their numbers; see :meth:`micius_2017`, :meth:`micius_2021`,
    :meth:`gys_2004`, :meth:`lim_2014`.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    rep_rate_hz: Positive
    intensities: tuple[NonNegative, NonNegative, NonNegative]
    probabilities: tuple[NonNegative, NonNegative, NonNegative]
    basis_prob_x: OpenFraction = 0.5
    wavelength_nm: Positive = 850.0

    def __post_init__(self) -> None:
        mu1, mu2, mu3 = self.intensities
        if not (mu1 > mu2 > mu3 >= 0.0):
            raise ValueError(
                f"intensities must satisfy mu1 > mu2 > mu3 >= 0, got {self.intensities}"
            )
        if not mu1 > mu2 + mu3:
            raise ValueError(
                f"intensities must satisfy mu1 > mu2 + mu3, got {self.intensities}"
            )
        p = self.probabilities
        if min(p) < 0.0 or abs(sum(p) - 1.0) > 1e-9:
            raise ValueError(
                f"probabilities must be >= 0 and sum to 1, got {p} (sum {sum(p):.12g})"
            )
        if p[0] <= 0.0:
            raise ValueError("probabilities: the signal intensity must have probability > 0")

    @classmethod
    def micius_2017(cls) -> "Source":
        """Micius 2017 downlink (system.md, secondary): 850 nm, 100 MHz,
        mu = 0.8 / 0.1 / 0 sent with probability 0.5 / 0.25 / 0.25, 50:50 bases."""
        return cls(100e6, (0.8, 0.1, 0.0), (0.5, 0.25, 0.25), 0.5, 850.0)

    @classmethod
    def micius_2021(cls) -> "Source":
        """Micius for the 2021 Nanshan links (Chen et al., Nature 589, 214).

        **Our assumption**: the reference files do not give the 2021 source
        settings, so this keeps the 2017 intensities and probabilities and
        the 50:50 transmitter bases, and assumes the repetition rate was
        doubled to 200 MHz.  The biased 10:90 X:Z basis choice at Nanshan is
        the receiver's (``Detector.basis_prob_x = 0.1``), which makes Z the
        key basis.  Optimise the intensities with :func:`optimise_pass`.
        """
        return cls(200e6, (0.8, 0.1, 0.0), (0.5, 0.25, 0.25), 0.5, 850.0)

    @classmethod
    def gys_2004(cls) -> "Source":
        """Source for the GYS 2004 fibre system as tabulated by Ma et al. 2005.

        1550 nm; mu = 0.48 (the perfect-decoy optimum quoted in keyrate.md),
        weak decoy 0.05 and vacuum.  Decoys a vanishing fraction of pulses
        (probabilities 1 / 0 / 0), which is Ma et al.'s asymptotic
        convention.  The 2 MHz repetition rate is **our assumption** (GYS
        ran gated InGaAs detectors at MHz rates); it scales bit/s only.
        """
        return cls(2e6, (0.48, 0.05, 0.0), (1.0, 0.0, 0.0), 0.5, 1550.0)

    @classmethod
    def lim_2014(cls) -> "Source":
        """Starting point for the Lim et al. 2014 simulation model.

        mu3 = 2e-4 is the paper's; mu1, mu2, their probabilities and q_x are
        optimised in the paper, so the values here are only a start
        (**our choice**).  The 1 GHz repetition rate is **our assumption**;
        the paper's comparison is per pulse.
        """
        return cls(1e9, (0.5, 0.1, 2e-4), (0.7, 0.2, 0.1), 0.8, 1550.0)


@dataclass(frozen=True)
class Protocol:
    """Post-processing and security parameters.

    Parameters
    ----------
    f_ec
        Error-correction inefficiency: leaked bits are ``f_ec n H2(E)``.
    eps_sec, eps_cor
        Secrecy and correctness parameters of the finite key.
    eps_sec_per_bit
        If set, ``eps_sec = eps_sec_per_bit * key_bits`` (Lim et al. 2014's
        ``eps_sec = kappa l``), solved by fixed-point iteration; ``eps_sec``
        is then ignored.
    tail
        Concentration bound for the decoy estimates: ``"hoeffding"`` (Lim
        et al. 2014, an additive deviation set by the total count) or
        ``"chernoff"`` (multiplicative Chernoff bounds per count, tighter for
        the small vacuum/decoy counts; cf. Zhang et al., PRA 95, 012333
        (2017)).  Both spend ``eps_sec / 21`` per tail.
    tie_bases
        If True, the receiver chooses its basis actively with the same
        probability as the transmitter (Lim et al. 2014: "q_x by both
        sides"); ``Detector.basis_prob_x`` is then ignored.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    f_ec: Annotated[float, Field(ge=1.0)] = 1.16
    eps_sec: OpenFraction = 1e-10
    eps_cor: OpenFraction = 1e-15
    eps_sec_per_bit: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    tail: Literal["hoeffding", "chernoff"] = "hoeffding"
    tie_bases: bool = False

    @classmethod
    def gys_2004(cls) -> "Protocol":
        """Ma et al. 2005's GYS comparison: f = 1.22 (keyrate.md)."""
        return cls(f_ec=1.22)

    @classmethod
    def lim_2014(cls) -> "Protocol":
        """Lim et al. 2014 simulation: f = 1.16, eps_cor = 1e-15,
        eps_sec = 1e-15 * l, and q_x chosen by both sides (keyrate.md)."""
        return cls(f_ec=1.16, eps_cor=1e-15, eps_sec_per_bit=1e-15, tie_bases=True)

    @classmethod
    def satellite(cls) -> "Protocol":
        """Defaults for a satellite pass (**our choice**): f = 1.16,
        eps_sec = 1e-10, eps_cor = 1e-15, Hoeffding tails."""
        return cls()


@dataclass(frozen=True)
class Channel:
    """Fibre channel of a table run: loss per km (0.2 dB/km if not given)."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    fibre_loss_db_per_km: NonNegative = 0.2


@dataclass(frozen=True)
class System:
    """An equipment file: source, detector, protocol and channel."""

    source: Source
    detector: Detector
    protocol: Protocol
    channel: Channel = field(default_factory=Channel)


SOURCE_PRESETS: dict[str, Callable[[], Source]] = {
    "micius_2017": Source.micius_2017,
    "micius_2021": Source.micius_2021,
    "gys_2004": Source.gys_2004,
    "lim_2014": Source.lim_2014,
}
PROTOCOL_PRESETS: dict[str, Callable[[], Protocol]] = {
    "satellite": Protocol.satellite,
    "gys_2004": Protocol.gys_2004,
    "lim_2014": Protocol.lim_2014,
}


# --------------------------------------------------------------------------
# Per-pulse channel model (expected counts; not part of the security bound)
# --------------------------------------------------------------------------


def binary_entropy(x):
    """H2(x) in bits, vectorised; 1 for x >= 1/2 and 0 for x <= 0."""
    x = np.clip(np.asarray(x, dtype=float), 1e-300, 0.5)
    return np.where(
        x >= 0.5, 1.0, -x * np.log2(x) - (1.0 - x) * np.log2(1.0 - x)
    )


def noise_click_prob(detector: Detector, background_prob=0.0):
    """Noise click probability per pulse, the ``y0`` of this module.

    Combines the detectors' dark counts (``detector.dark_count_prob``) with a
    background click probability per pulse (e.g. sky light from the link
    model) as independent events.
    """
    return detector.noise_click_prob(background_prob=background_prob)


def _clicks(eta, y0, mu, detector: Detector):
    """Click and error probability per pulse of intensity ``mu`` (broadcast)."""
    p_sig = -np.expm1(-eta * mu)
    noise = y0 * (1.0 - p_sig)
    click = p_sig + noise
    err = detector.misalignment * p_sig + 0.5 * noise
    ap = detector.afterpulse_prob
    if ap:
        err = err + 0.5 * ap * click
        click = click * (1.0 + ap)
    return click, err


def _saturation(total_click_per_pulse, rep_rate_hz, detector: Detector, basis_share=0.5):
    """Non-paralysable dead-time factor 1/(1 + r tau) of one basis's detectors.

    ``basis_share`` is the fraction of all clicks that land in that basis
    (the receiver's probability of measuring it: a passive splitter sends
    each photon one way whatever the transmitter chose).  The basis's clicks
    are shared by its ``n_detectors / 2`` detectors, so with a 10:90 X:Z
    splitter each Z detector sees 45 % of the clicks and each X detector 5 %
    (a single detector sees them all).
    """
    if not detector.dead_time_s:
        return 1.0
    if detector.n_detectors >= 2:
        r = total_click_per_pulse * rep_rate_hz * basis_share / (detector.n_detectors / 2.0)
    else:
        r = total_click_per_pulse * rep_rate_hz
    return 1.0 / (1.0 + r * detector.dead_time_s)


def _as_arrays(eta, y0, detector):
    eta = np.asarray(eta, dtype=float)
    if y0 is None:
        y0 = detector.dark_count_prob
    y0 = np.asarray(y0, dtype=float)
    return eta, y0


def expected_counts(eta, y0, source: Source, detector: Detector, slot_s: float = 1.0):
    """Expected detections and errors per slot for each intensity and basis.

    Returns a dict of arrays of shape ``(3, n_slots)`` (intensity first):
    ``n_x``/``m_x`` detections/errors with both parties in X, ``n_z``/``m_z``
    both in Z, and ``pulses`` (per slot).  Dead-time saturation and
    afterpulsing included.
    """
    eta, y0 = _as_arrays(eta, y0, detector)
    eta, y0 = np.broadcast_arrays(np.atleast_1d(eta), np.atleast_1d(y0))
    mu = np.asarray(source.intensities)[:, None]
    p = np.asarray(source.probabilities)[:, None]
    click, err = _clicks(eta[None, :], y0[None, :], mu, detector)
    pulses = source.rep_rate_hz * slot_s
    qa, qb = source.basis_prob_x, detector.basis_prob_x
    total = (p * click).sum(axis=0)
    sat_x = _saturation(total, source.rep_rate_hz, detector, qb)
    sat_z = _saturation(total, source.rep_rate_hz, detector, 1 - qb)
    base = pulses * p
    return {
        "n_x": base * qa * qb * sat_x * click,
        "m_x": base * qa * qb * sat_x * err,
        "n_z": base * (1 - qa) * (1 - qb) * sat_z * click,
        "m_z": base * (1 - qa) * (1 - qb) * sat_z * err,
        "pulses": np.full(eta.shape, pulses),
    }


# --------------------------------------------------------------------------
# Asymptotic GLLP with decoys
# --------------------------------------------------------------------------


def asymptotic_key_per_pulse(
    eta,
    y0,
    source: Source,
    detector: Detector,
    protocol: Protocol,
    decoy: str = "vacuum+weak",
) -> np.ndarray:
    """Asymptotic decoy-state GLLP secret key per pulse sent.

    ``R = p1 q {-Q_mu f H2(E_mu) + Q_1 [1 - H2(e_1)]}`` (Lo, Ma, Chen 2005;
    Ma et al. 2005) with ``Q_1``, ``e_1`` bounded from the expected gains:

    ``"vacuum+weak"``
        signal ``mu1``, weak decoy ``mu2`` and a true vacuum (its gain is the
        noise alone, whatever ``mu3`` is);
    ``"two-weak"``
        decoys ``nu1 = mu2 > nu2 = mu3``;
    ``"perfect"``
        the infinite-decoy limit: the true single-photon yield and error;
    ``"none"``
        GLLP without decoys: all multi-photon pulses assumed detected.

    ``p1`` is the signal probability (only signal pulses make key; Ma et
    al.'s convention is ``p1 -> 1``), and ``q = qA qB + (1-qA)(1-qB)``
    counts the sifted bits of both bases (asymptotically each basis's phase
    error is estimated from the other at no cost).  Vectorised over slots;
    negative rates are returned as 0.
    """
    if decoy not in DECOY_METHODS:
        raise SatqkdError(f"decoy: expected one of {', '.join(DECOY_METHODS)}, got {decoy!r}")
    eta, y0 = _as_arrays(eta, y0, detector)
    mu1, mu2, mu3 = source.intensities
    p = source.probabilities
    click1, err1 = _clicks(eta, y0, mu1, detector)
    click2, err2 = _clicks(eta, y0, mu2, detector)
    click3, err3 = _clicks(eta, y0, mu3, detector)
    # Dead time scales every count of one basis alike, whatever its
    # intensity, and the rate below is linear in the counts: evaluate it
    # unsaturated and weight each basis's sifted share by its own factor.
    qa, qb = _basis_probs(source.basis_prob_x, detector, protocol)
    total = p[0] * click1 + p[1] * click2 + p[2] * click3
    sat_x = _saturation(total, source.rep_rate_hz, detector, qb)
    sat_z = _saturation(total, source.rep_rate_hz, detector, 1 - qb)
    sat = 1.0
    q_mu, eq_mu = sat * click1, sat * err1
    f = protocol.f_ec
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if decoy == "vacuum+weak":
            click0, err0 = _clicks(eta, y0, 0.0, detector)
            y_0, ey_0 = sat * click0, sat * err0
            nu = mu2
            q_nu, eq_nu = sat * click2, sat * err2
            y1 = (mu1 / (mu1 * nu - nu * nu)) * (
                q_nu * np.exp(nu)
                - q_mu * np.exp(mu1) * nu * nu / (mu1 * mu1)
                - (mu1 * mu1 - nu * nu) / (mu1 * mu1) * y_0
            )
            e1 = (eq_nu * np.exp(nu) - ey_0) / (nu * y1)
            q1 = y1 * mu1 * np.exp(-mu1)
        elif decoy == "two-weak":
            n1, n2 = mu2, mu3
            q1_, e1_ = sat * click2, sat * err2
            q2_, e2_ = sat * click3, sat * err3
            y0l = np.maximum((n1 * q2_ * np.exp(n2) - n2 * q1_ * np.exp(n1)) / (n1 - n2), 0.0)
            y1 = (mu1 / (mu1 * n1 - mu1 * n2 - n1 * n1 + n2 * n2)) * (
                q1_ * np.exp(n1)
                - q2_ * np.exp(n2)
                - (n1 * n1 - n2 * n2) / (mu1 * mu1) * (q_mu * np.exp(mu1) - y0l)
            )
            e1 = (e1_ * np.exp(n1) - e2_ * np.exp(n2)) / ((n1 - n2) * y1)
            q1 = y1 * mu1 * np.exp(-mu1)
        elif decoy == "perfect":
            # One photon: detection probability eta exactly, not 1 - e^-eta.
            p1_sig = eta
            noise = y0 * (1 - p1_sig)
            c1 = p1_sig + noise
            er1 = detector.misalignment * p1_sig + 0.5 * noise
            ap = detector.afterpulse_prob
            er1 = er1 + 0.5 * ap * c1
            c1 = c1 * (1 + ap)
            y1 = sat * c1
            e1 = sat * er1 / y1
            q1 = y1 * mu1 * np.exp(-mu1)
        else:  # "none": GLLP, every multi-photon pulse assumed detected
            p_multi = 1.0 - np.exp(-mu1) * (1.0 + mu1)
            q1 = q_mu - p_multi
            e1 = eq_mu / q1
        e_mu = eq_mu / q_mu
        q_sift = qa * qb * sat_x + (1 - qa) * (1 - qb) * sat_z
        rate = p[0] * q_sift * (
            -q_mu * f * binary_entropy(e_mu) + q1 * (1.0 - binary_entropy(e1))
        )
        ok = np.isfinite(rate) & (q1 > 0) & (e1 >= 0) & (e1 < 0.5)
    return np.where(ok, np.maximum(rate, 0.0), 0.0)


def asymptotic_rate_bps(eta, y0, source, detector, protocol, decoy="vacuum+weak"):
    """:func:`asymptotic_key_per_pulse` times the repetition rate (bit/s)."""
    return source.rep_rate_hz * asymptotic_key_per_pulse(
        eta, y0, source, detector, protocol, decoy
    )


def large_block_key_per_pulse(eta, y0, source: Source, detector: Detector, protocol: Protocol,
                              key_basis: str | None = None) -> np.ndarray:
    """Per-slot key per pulse: the large-block limit of the pass's finite key.

    The Lim et al. 2014 bound of :func:`finite_key` applied to the expected
    counts of each slot on its own with every finite-size term removed (no
    tails, no gamma, no epsilon costs): the same sifting, the same key and
    test bases and intensities, the same dead time and the same cap on
    ``v_Z1``.  This is the per-second ``key_rate_bps`` of ``satqkd run``.
    Summed over the slots of a pass it is never below the pass's finite key:
    every finite-size term only lowers the bound, the decoy estimates are
    linear in the counts, and pooling slots can only raise the entropies
    ``H2(E)`` and ``H2(phi)`` (both concave).

    Not the textbook GLLP rate of :func:`asymptotic_key_per_pulse`, which
    counts the sifted bits of *both* bases as key and is the rate published
    curves (Ma et al. 2005) show.  ``key_basis`` ("X" or "Z") defaults to
    the basis :func:`finite_key` would use.  Negative rates are returned as
    0.
    """
    eta, y0 = _check_inputs(eta, y0, detector)
    if key_basis is None:
        key_is_x = _key_basis_is_x(source, detector, protocol)
    elif key_basis in ("X", "Z"):
        key_is_x = key_basis == "X"
    else:
        raise SatqkdError(f"key_basis: expected 'X' or 'Z', got {key_basis!r}")
    qa, qb = _basis_probs(source.basis_prob_x, detector, protocol)
    a = qa if key_is_x else 1.0 - qa
    b = qb if key_is_x else 1.0 - qb
    mu = np.asarray(source.intensities, dtype=float)[:, None]
    p = np.asarray(source.probabilities, dtype=float)[:, None]
    click, err = _clicks(eta[None, :], y0[None, :], mu, detector)
    total = (p * click).sum(axis=0)
    sat_k = _saturation(total, source.rep_rate_hz, detector, b)
    sat_t = _saturation(total, source.rep_rate_hz, detector, 1.0 - b)
    wk, wt = a * b * p * sat_k, (1 - a) * (1 - b) * p * sat_t
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _lim_bound((wk * click)[None], (wk * err)[None], (wt * click)[None], (wt * err)[None],
                         mu.T, p.T, protocol, np.full((1, eta.size), protocol.eps_sec), large_block=True)
    ell = out["ell"][0]
    return np.where(np.isfinite(ell), np.maximum(ell, 0.0), 0.0)


def large_block_rate_bps(eta, y0, source, detector, protocol, key_basis=None) -> np.ndarray:
    """:func:`large_block_key_per_pulse` times the repetition rate (bit/s)."""
    return source.rep_rate_hz * large_block_key_per_pulse(eta, y0, source, detector, protocol, key_basis)


def _basis_probs(qa_x: float, detector: Detector, protocol: Protocol):
    """(transmitter, receiver) probabilities of X, honouring ``tie_bases``."""
    qb_x = qa_x if protocol.tie_bases else detector.basis_prob_x
    return qa_x, qb_x


# --------------------------------------------------------------------------
# Finite key (Lim et al. 2014), batched over parameter sets and windows
# --------------------------------------------------------------------------


def _tails(x, total, ln_term, tail):
    """Lower and upper bounds on the expectation of count ``x``."""
    if tail == "hoeffding":
        d = np.sqrt(0.5 * total * ln_term)
        return x - d, x + d
    # Multiplicative Chernoff, inverted in closed form.  Upper bound from
    # P(X <= (1-d) m) <= exp(-d^2 m / 2); lower from
    # P(X >= (1+d) m) <= exp(-d^2 m / (2 + d)).
    # The lower bound is the m with m + delta(m) = x exactly, where
    # delta(m) = (L + sqrt(L^2 + 8 L m)) / 2 solves d^2 m / (2 + d) = L.
    # (SatQuMA's nXZpm puts x for m inside the root, which is looser by L.)
    L = ln_term
    xp = np.maximum(x, 0.0)
    upper = xp + L + np.sqrt(L * L + 2.0 * L * xp)
    lower = xp - 0.5 * (np.sqrt(L * L + 8.0 * L * xp) - L)
    return lower, upper


def _lim_bound(nx, mx, nz, mz, mu, p, protocol: Protocol, eps_sec, large_block: bool = False):
    """Lim et al. 2014 key length.  Counts ``[B, 3, W]``; mu, p ``[B, 3]``;
    eps_sec broadcastable to ``[B, W]``.  Returns a dict of ``[B, W]``.

    The upper bound on single-photon errors in the test basis ``v_Z1`` is
    capped at the errors observed there, ``m_Z``: single-photon errors are
    a subset of all errors (SatQuMA applies the same cap).  With
    ``large_block`` every finite-size term vanishes (no tails, no gamma, no
    epsilon costs): the large-block limit of the same bound."""
    mu = mu[:, :, None]
    p = p[:, :, None]
    mu1, mu2, mu3 = mu[:, 0], mu[:, 1], mu[:, 2]
    emu = np.exp(-mu)
    tau0 = (p * emu).sum(axis=1)
    tau1 = (p * emu * mu).sum(axis=1)
    ln_term = np.log(21.0 / eps_sec)
    tail = protocol.tail
    fac = 1.0 / (emu * p)  # e^k / p_k

    def decoy_bounds(n):
        if large_block:
            return fac * n, fac * n
        lo, hi = _tails(n, n.sum(axis=1, keepdims=True), ln_term[:, None], tail)
        return fac * lo, fac * hi

    def s01(n):
        lo, hi = decoy_bounds(n)
        s0 = tau0 * (mu2 * lo[:, 2] - mu3 * hi[:, 1]) / (mu2 - mu3)
        s0 = np.maximum(s0, 0.0)
        s1 = (
            tau1
            * mu1
            * (lo[:, 1] - hi[:, 2] - (mu2 * mu2 - mu3 * mu3) / (mu1 * mu1) * (hi[:, 0] - s0 / tau0))
            / (mu1 * (mu2 - mu3) - mu2 * mu2 + mu3 * mu3)
        )
        return s0, s1

    sx0, sx1 = s01(nx)
    _, sz1 = s01(nz)
    lo, hi = decoy_bounds(mz)
    vz1 = np.minimum(tau1 * (hi[:, 1] - lo[:, 2]) / (mu2 - mu3), mz.sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        good = (sz1 > 0) & (sx1 > 0)
        b = np.where(good, np.clip(vz1 / np.where(good, sz1, 1.0), 1e-12, 0.5), 0.5)
        c = np.where(good, sz1, 1.0)
        d = np.where(good, sx1, 1.0)
        arg = (c + d) / (c * d * (1 - b) * b) * (21.0 / eps_sec) ** 2
        gamma = np.sqrt(
            np.maximum((c + d) * (1 - b) * b / (c * d * math.log(2)) * np.log2(arg), 0.0)
        )
        if large_block:
            gamma = 0.0
    phi = np.where(good, np.minimum(b + gamma, 0.5), 0.5)
    n_x = nx.sum(axis=1)
    m_x = mx.sum(axis=1)
    qber = m_x / np.maximum(n_x, 1e-300)
    leak = protocol.f_ec * n_x * binary_entropy(qber)
    ell = sx0 + np.maximum(sx1, 0.0) * (1.0 - binary_entropy(phi)) - leak
    if not large_block:
        ell = ell - 6.0 * np.log2(21.0 / eps_sec) - math.log2(2.0 / protocol.eps_cor)
    return {"ell": ell, "s_x0": sx0, "s_x1": sx1, "phi": phi, "n_x": n_x, "qber": qber,
            "s_z1": sz1, "v_z1": vz1}


@dataclass
class _Block:
    """Per-slot inputs of one block, sorted by window rank."""

    eta: np.ndarray          # [S] sorted so that windows are prefixes
    y0: np.ndarray           # [S]
    order: np.ndarray        # [S] slot index of each sorted position
    ends: np.ndarray         # [W] allowed last positions of a window
    pulses_per_slot: float
    rep_rate_hz: float
    detector: Detector
    protocol: Protocol
    key_is_x: bool
    n_x_target: float | None = None


def _evaluate(block: _Block, mu, p, qa_x, qb_x):
    """Key length for every parameter row and every window: dict of [B, W]."""
    mu = np.atleast_2d(mu)
    p = np.atleast_2d(p)
    qa_x = np.atleast_1d(qa_x)
    qb_x = np.atleast_1d(qb_x)
    a = qa_x if block.key_is_x else 1.0 - qa_x  # key-basis probabilities
    b = qb_x if block.key_is_x else 1.0 - qb_x
    click, err = _clicks(block.eta[None, None, :], block.y0[None, None, :], mu[:, :, None], block.detector)

    def cum(v):
        return np.cumsum(v, axis=-1)[:, :, block.ends] * block.pulses_per_slot

    if block.detector.dead_time_s:
        # Each basis's detectors saturate on their own share of the clicks.
        total = (p[:, :, None] * click).sum(axis=1)
        sat_k = _saturation(total, block.rep_rate_hz, block.detector, b[:, None])[:, None, :]
        sat_t = _saturation(total, block.rep_rate_hz, block.detector, 1.0 - b[:, None])[:, None, :]
        ck, ek, ct, et = cum(click * sat_k), cum(err * sat_k), cum(click * sat_t), cum(err * sat_t)
    else:
        ck, ek = cum(click), cum(err)
        ct, et = ck, ek
    w_key = (a * b)[:, None, None] * p[:, :, None]
    w_test = ((1 - a) * (1 - b))[:, None, None] * p[:, :, None]
    nx, mx = w_key * ck, w_key * ek
    nz, mz = w_test * ct, w_test * et
    n_slots = (block.ends + 1).astype(float)[None, :]
    pulses = np.broadcast_to(n_slots * block.pulses_per_slot, (mu.shape[0], block.ends.size)).copy()
    if block.n_x_target is not None:
        scale = block.n_x_target / nx.sum(axis=1)
        nx, mx, nz, mz = (v * scale[:, None, :] for v in (nx, mx, nz, mz))
        pulses = pulses * scale
    prot = block.protocol
    if prot.eps_sec_per_bit is None:
        out = _lim_bound(nx, mx, nz, mz, mu, p, prot, np.full(pulses.shape, prot.eps_sec))
        eps = np.full(pulses.shape, prot.eps_sec)
    else:
        # eps_sec = kappa * l, l itself depends on log(1/eps_sec): iterate
        # from above (l <= n_x); three rounds settle it to well under a bit.
        eps = np.clip(prot.eps_sec_per_bit * nx.sum(axis=1), 1e-300, 0.5)
        for _ in range(3):
            out = _lim_bound(nx, mx, nz, mz, mu, p, prot, eps)
            eps = np.clip(prot.eps_sec_per_bit * np.maximum(out["ell"], 1.0), 1e-300, 0.5)
    out["eps_sec"] = eps
    out["pulses"] = pulses
    out["n_z"] = nz.sum(axis=1)
    return out


@dataclass
class PassKey:
    """The finite key of one block (one pass).

    ``key_bits`` is the Lim et al. 2014 key length (0 if negative);
    ``sifted_bits`` are the detections of all intensities in which sender
    and receiver chose the same basis (either basis), as experiments report
    them; ``n_x`` the key-basis share of those (the Lim ``n_X``);
    ``qber_x`` the key basis's error rate;
    ``phase_error_bound`` the bound on the single-photon phase error;
    ``window_mask`` the slots used; ``source`` the parameters used
    (``source.basis_prob_x`` is the transmitter's X probability);
    ``key_basis`` "X" or "Z" (see module docstring).
    """

    key_bits: float
    sifted_bits: float
    n_x: float
    qber_x: float
    phase_error_bound: float
    window_mask: np.ndarray = field(repr=False)
    window_s: float
    source: Source
    key_rate_bps: float
    s_x0: float = 0.0
    s_x1: float = 0.0
    n_pulses: float = 0.0
    eps_sec: float = 0.0
    receiver_basis_prob_x: float = 0.5
    key_basis: str = "X"
    elevation_threshold_deg: float | None = None
    raw_key_length: float = 0.0
    n_evaluations: int = 0

    @property
    def key_per_pulse(self) -> float:
        return self.key_bits / self.n_pulses if self.n_pulses > 0 else 0.0


def _check_inputs(eta, y0, detector, name="eta"):
    eta, y0 = _as_arrays(eta, y0, detector)
    eta = np.atleast_1d(eta)
    if eta.ndim != 1:
        raise SatqkdError(f"{name}: expected a 1-D array of per-slot efficiencies")
    if not np.all(np.isfinite(eta)) or eta.min(initial=0) < 0 or eta.max(initial=0) > 1:
        raise SatqkdError(f"{name}: expected finite efficiencies between 0 and 1")
    y0 = np.broadcast_to(y0, eta.shape).astype(float)
    if not np.all(np.isfinite(y0)) or y0.min(initial=0) < 0 or y0.max(initial=0) >= 1:
        raise SatqkdError("y0: expected finite noise click probabilities in [0, 1)")
    return eta, y0


def _make_block(eta, y0, order, ends, source, detector, protocol, slot_s, n_x_target=None):
    return _Block(
        eta=eta[order], y0=y0[order], order=order, ends=np.asarray(ends, dtype=int),
        pulses_per_slot=source.rep_rate_hz * slot_s, rep_rate_hz=source.rep_rate_hz,
        detector=detector, protocol=protocol,
        key_is_x=(protocol.tie_bases or detector.basis_prob_x >= 0.5),
        n_x_target=n_x_target,
    )


def _key_basis_is_x(source, detector, protocol) -> bool:
    if protocol.tie_bases:
        return source.basis_prob_x >= 0.5
    return detector.basis_prob_x >= 0.5


def _result(block: _Block, out, row, w, mu, p, qa, qb, slot_s, elev_sorted, n_eval, source):
    n_slots = block.ends[w] + 1
    mask = np.zeros(block.order.size, dtype=bool)
    mask[block.order[:n_slots]] = True
    window_s = n_slots * slot_s
    ell = float(out["ell"][row, w])
    key = float(max(math.floor(ell), 0.0)) if np.isfinite(ell) else 0.0
    src = dataclasses.replace(
        source,
        intensities=tuple(float(v) for v in mu[row]),
        probabilities=tuple(float(v) for v in p[row]),
        basis_prob_x=float(qa[row]),
    )
    n_pulses = float(out["pulses"][row, w])
    if block.n_x_target is not None:
        window_s = n_pulses / block.rep_rate_hz
    return PassKey(
        key_bits=key,
        sifted_bits=float(out["n_x"][row, w] + out["n_z"][row, w]),
        n_x=float(out["n_x"][row, w]),
        qber_x=float(out["qber"][row, w]),
        phase_error_bound=float(out["phi"][row, w]),
        window_mask=mask,
        window_s=float(window_s),
        source=src,
        key_rate_bps=float(key / window_s) if window_s > 0 else 0.0,
        s_x0=float(out["s_x0"][row, w]),
        s_x1=float(out["s_x1"][row, w]),
        n_pulses=n_pulses,
        eps_sec=float(out["eps_sec"][row, w]),
        receiver_basis_prob_x=float(qb[row]),
        key_basis="X" if block.key_is_x else "Z",
        elevation_threshold_deg=None if elev_sorted is None else float(elev_sorted[block.ends[w]]),
        raw_key_length=ell,
        n_evaluations=n_eval,
    )


def finite_key(
    eta,
    y0,
    source: Source,
    detector: Detector,
    protocol: Protocol,
    slot_s: float = 1.0,
    window_mask=None,
    *,
    block_detections: float | None = None,
) -> PassKey:
    """Finite key of one block with the source's parameters (no optimisation).

    Expected counts of each slot (``source.rep_rate_hz * slot_s`` pulses) are
    summed over ``window_mask`` (default: every slot) and the bound of Lim et
    al. 2014 is applied to the sums.  With ``block_detections`` the block is
    instead scaled to that many key-basis detections ``n_X`` (the
    parametrisation of Lim et al.'s figures).
    """
    if min(source.probabilities) <= 0:
        raise SatqkdError(
            "source.probabilities: the finite-key bound needs all three intensities sent "
            f"(probabilities > 0), got {source.probabilities}"
        )
    eta, y0 = _check_inputs(eta, y0, detector)
    if window_mask is None:
        idx = np.arange(eta.size)
    else:
        window_mask = np.asarray(window_mask, dtype=bool)
        if window_mask.shape != eta.shape:
            raise SatqkdError("window_mask: expected one boolean per slot")
        idx = np.flatnonzero(window_mask)
    order = np.concatenate([idx, np.setdiff1d(np.arange(eta.size), idx)])
    if idx.size == 0:
        raise SatqkdError("window_mask: selects no slot")
    block = _make_block(eta, y0, order, [idx.size - 1], source, detector, protocol, slot_s, block_detections)
    block.key_is_x = _key_basis_is_x(source, detector, protocol)
    mu = np.array([source.intensities])
    p = np.array([source.probabilities])
    qa, qb = _basis_probs(source.basis_prob_x, detector, protocol)
    qa, qb = np.array([qa]), np.array([qb])
    out = _evaluate(block, mu, p, qa, qb)
    return _result(block, out, 0, 0, mu, p, qa, qb, slot_s, None, 1, source)


# -- optimiser: transformed parameter space -------------------------------
#
# u = [log d1, log d2, v1, v2, w]:  mu2 = mu3 + d2, mu1 = mu2 + mu3 + d1
# (so mu1 > mu2 + mu3 and mu2 > mu3 by construction); p = softmax(v1, v2, 0);
# key-basis probability of the transmitter = sigmoid(w).  mu3 is held at the
# source's value: it is the weakest state the hardware makes and the bound
# only improves as it falls.

_LOWER = np.array([math.log(1e-3), math.log(1e-4), -7.0, -7.0, -6.0])
_UPPER = np.array([math.log(1.5), math.log(1.0), 7.0, 7.0, 6.0])


def _decode(u, mu3):
    u = np.atleast_2d(u)
    d1, d2 = np.exp(u[:, 0]), np.exp(u[:, 1])
    mu2 = mu3 + d2
    mu1 = mu2 + mu3 + d1
    mu = np.stack([mu1, mu2, np.full_like(mu1, mu3)], axis=1)
    z = np.stack([u[:, 2], u[:, 3], np.zeros(len(u))], axis=1)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    p = z / z.sum(axis=1, keepdims=True)
    a = 1.0 / (1.0 + np.exp(-u[:, 4]))
    return mu, p, a


def _encode(mu, p, a):
    mu1, mu2, mu3 = mu
    d1 = max(mu1 - mu2 - mu3, 1e-3)
    d2 = max(mu2 - mu3, 1e-4)
    pp = np.clip(np.asarray(p, dtype=float), 1e-3, None)
    a = min(max(a, 1e-3), 1 - 1e-3)
    u = np.array([math.log(d1), math.log(d2), math.log(pp[0] / pp[2]), math.log(pp[1] / pp[2]),
                  math.log(a / (1 - a))])
    return np.clip(u, _LOWER, _UPPER)


def _grid(mu3):
    """Coarse deterministic start grid (one local solve follows; not multi-start)."""
    rows = []
    for mu1 in (0.3, 0.5, 0.75):
        for r2 in (0.15, 0.35):
            for p1 in (0.55, 0.8):
                for a in (0.5, 0.8, 0.95):
                    mu2 = max(r2 * mu1, mu3 + 1e-3)
                    rows.append(_encode((mu1, mu2, mu3), (p1, 0.6 * (1 - p1), 0.4 * (1 - p1)), a))
    return np.array(rows)


def optimise_pass(
    eta,
    y0,
    source: Source,
    detector: Detector,
    protocol: Protocol,
    slot_s: float = 1.0,
    elevation_deg=None,
    x0=None,
    optimise_window: bool = True,
    *,
    block_detections: float | None = None,
    optimise_basis: bool = True,
) -> PassKey:
    """Finite key of one pass with the source settings and window optimised.

    Optimises ``mu1``, ``mu2`` (``mu3`` is held at the source's value), the
    three probabilities, the transmitter's key-basis probability and the key
    window.  The window is every slot with ``elevation_deg >= threshold``;
    the threshold is chosen exactly for each parameter set (cumulative sums
    over slots sorted by elevation make every threshold cost O(1)).  Without
    ``elevation_deg`` the window is a symmetric trim of the slots in the
    order given (centre slots kept first).

    The solver is L-BFGS-B on a transformed, box-bounded parameter space
    with finite-difference gradients on the best window, started from ``x0`` (a
    previous :class:`PassKey` or a :class:`Source`) when given; without a
    usable warm start (none, or one giving no key) it starts from the best
    point of a small fixed grid, and it never returns less than that point.
    The figure of merit is the key bits of the pass (with
    ``block_detections``: key per pulse, the block length being free).  If
    no setting gives key, the source's own settings are reported.
    ``optimise_basis=False`` holds the transmitter's basis probability.
    """
    eta, y0 = _check_inputs(eta, y0, detector)
    n = eta.size
    elev_sorted = None
    if optimise_window and n > 1:
        if elevation_deg is not None:
            elev = np.broadcast_to(np.asarray(elevation_deg, dtype=float), eta.shape)
            if not np.all(np.isfinite(elev)):
                raise SatqkdError("elevation_deg: expected finite elevations, one per slot")
            rank = elev
        else:
            rank = -np.abs(np.arange(n) - 0.5 * (n - 1))
        order = np.argsort(-rank, kind="stable")
        r = rank[order]
        ends = np.flatnonzero(np.append(r[1:] != r[:-1], True))
        if elevation_deg is not None:
            elev_sorted = r
    else:
        order = np.arange(n)
        ends = np.array([n - 1])
    block = _make_block(eta, y0, order, ends, source, detector, protocol, slot_s, block_detections)
    mu3 = source.intensities[2]
    tie = protocol.tie_bases
    if tie:
        block.key_is_x = True  # the shared q_x is optimised as the key-basis probability
    rx_key = detector.basis_prob_x if block.key_is_x else 1 - detector.basis_prob_x
    n_eval = [0]

    def params(u):
        mu, p, a_key = _decode(u, mu3)
        if not optimise_basis:
            a_tx = np.full(len(mu), source.basis_prob_x)
            a_key = a_tx if block.key_is_x else 1 - a_tx
        b_key = a_key if tie else np.full_like(a_key, rx_key)
        qa = a_key if block.key_is_x else 1 - a_key
        qb = b_key if block.key_is_x else 1 - b_key
        return mu, p, qa, qb

    def batch(u, blk=block):
        """Bound of every row of ``u`` on every window of ``blk``: ``(out, ell)``, ell [B, W] the figure of merit."""
        mu, p, qa, qb = params(u)
        n_eval[0] += len(mu)
        out = _evaluate(blk, mu, p, qa, qb)
        ell = out["ell"]
        if block.n_x_target is not None:
            # Fixed n_X, free number of pulses: the figure of merit is key per pulse.
            ell = ell / out["pulses"]
        return out, np.where(np.isfinite(ell), ell, -1e300)

    # Each evaluated point keeps its value, best window and bound, so neither
    # the solver's first call (the starting point) nor the final comparison
    # evaluates it again.
    h = 1e-6
    dim = 5
    seen: dict = {}  # u.tobytes() -> (f, best window, out, row of out)

    def evaluate(points):
        points = np.atleast_2d(points)
        out, ell = batch(points)
        w = ell.argmax(axis=1)
        f = ell[np.arange(len(points)), w]
        for k, u in enumerate(points):
            seen.setdefault(u.tobytes(), (float(f[k]), int(w[k]), out, k))
        return f

    # Starting point: the warm start if it yields key, else the grid's best.
    u_best, f_best = None, -np.inf
    if x0 is not None:
        src0 = x0.source if isinstance(x0, PassKey) else x0
        if not isinstance(src0, Source):
            raise SatqkdError("x0: expected a PassKey or a Source to start from")
        a0 = src0.basis_prob_x if block.key_is_x else 1 - src0.basis_prob_x
        u_best = _encode(src0.intensities, src0.probabilities, a0)
        f_best = float(evaluate(u_best)[0])
    if not f_best > 0:
        a_src = source.basis_prob_x if block.key_is_x else 1 - source.basis_prob_x
        cand = np.vstack([_grid(mu3), _encode(source.intensities, source.probabilities, a_src)])
        f = evaluate(cand)
        i = int(np.argmax(f))
        if f[i] > f_best:
            u_best, f_best = cand[i], float(f[i])

    # Normalise so that L-BFGS-B's tolerances are relative (key bits of a
    # pass and key per pulse differ by ten orders of magnitude).
    scale = abs(f_best) if np.isfinite(f_best) and f_best != 0 else 1.0

    def fun(u):
        # The key is the maximum over windows of a smooth function, so its
        # gradient is that of the best window alone (Danskin): the shifted
        # points are evaluated on that one window, over only its slots.
        if u.tobytes() not in seen:
            evaluate(u)
        f0, w0, _, _ = seen[u.tobytes()]
        end = int(block.ends[w0])
        one = dataclasses.replace(block, eta=block.eta[:end + 1], y0=block.y0[:end + 1], ends=np.array([end]))
        _, f1 = batch(u + h * np.eye(dim), one)
        grad = -(f1[:, 0] - f0) / h / scale
        if not optimise_basis:
            grad[4] = 0.0
        return -f0 / scale, grad

    # ftol 1e-5 is relative to the key (f is normalised): stopping there
    # instead of at 1e-10 halves the evaluations and costs 5e-6 of the key
    # on average (30 days of the default scenario, worst pass 3e-5).
    from scipy.optimize import minimize  # here: reading a scenario needs this module, not scipy.optimize (0.3 s)

    res = minimize(fun, u_best, jac=True, method="L-BFGS-B",
                   bounds=list(zip(_LOWER, _UPPER)), options={"maxiter": 200, "ftol": 1e-5, "gtol": 1e-8})
    u_fin = np.clip(res.x, _LOWER, _UPPER)
    if u_fin.tobytes() not in seen:
        evaluate(u_fin)
    f_fin, f_start = seen[u_fin.tobytes()][0], seen[u_best.tobytes()][0]
    u_row = u_fin if f_fin >= f_start else u_best
    if not max(f_fin, f_start) > 0:
        # No key anywhere we looked: report the source's own settings rather
        # than wherever the solver drifted while minimising a deficit.
        a_src = source.basis_prob_x if block.key_is_x else 1 - source.basis_prob_x
        u_row = _encode(source.intensities, source.probabilities, a_src)
        if u_row.tobytes() not in seen:
            evaluate(u_row)
    _, w, out, row = seen[u_row.tobytes()]
    out = {k: v[row:row + 1] for k, v in out.items()}
    mu, p, qa, qb = params(u_row[None, :])
    return _result(block, out, 0, w, mu, p, qa, qb, slot_s, elev_sorted, n_eval[0], source)


# --------------------------------------------------------------------------
# Tables for the CLI
# --------------------------------------------------------------------------


def _optimise_asymptotic_mu1(eta, y0, source, detector, protocol, decoy):
    """Best signal intensity for one eta (decoys held: asymptotically smaller is better)."""
    mu1_0, mu2, mu3 = source.intensities
    if decoy in ("perfect", "none"):
        # The decoys play no part: scale them with mu1 to keep the ordering.
        lo = 1e-3

        def src_of(m):
            return dataclasses.replace(
                source, intensities=(float(m), m * mu2 / mu1_0, m * mu3 / mu1_0))
    else:
        lo = mu2 + mu3 + 1e-4

        def src_of(m):
            return dataclasses.replace(source, intensities=(float(m), mu2, mu3))
    grid = np.geomspace(max(lo, 1e-3), 1.5, 60)
    grid = grid[grid > lo]

    def rate(m):
        return float(asymptotic_key_per_pulse(eta, y0, src_of(m), detector, protocol, decoy))

    vals = np.array([rate(m) for m in grid])
    i = int(np.argmax(vals))
    if vals[i] <= 0:
        return source, 0.0
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    from scipy.optimize import minimize_scalar

    r = minimize_scalar(lambda m: -rate(m), bounds=(a, b), method="bounded",
                        options={"xatol": 1e-5})
    m = r.x if -r.fun >= vals[i] else grid[i]
    return src_of(m), max(-r.fun, vals[i])


def keyrate_table(
    source: Source,
    detector: Detector,
    protocol: Protocol,
    loss_db=None,
    fibre_km=None,
    fibre_loss_db_per_km: float = 0.2,
    block_pulses: float | None = None,
    block_detections: float | None = None,
    asymptotic: bool = False,
    optimise: bool = False,
    decoy: str = "vacuum+weak",
) -> pd.DataFrame:
    """Key rate against channel loss (or fibre length), one row per point.

    ``eta = 10**(-loss_db/10) * detector.efficiency`` and ``y0 =
    detector.dark_count_prob``.  With ``asymptotic`` the rate is
    :func:`asymptotic_key_per_pulse` (``decoy`` method; ``optimise`` tunes
    ``mu1``).  Otherwise it is the finite key of a block of ``block_pulses``
    pulses or of ``block_detections`` key-basis detections ``n_X`` (Lim et
    al. 2014), optimised over all source parameters with ``optimise`` (each
    row warm-starts from the previous one).

    Columns: loss_db, fibre_km (if given), key_per_pulse, key_rate_bps,
    qber, mu1, mu2, mu3, p1, p2, p3, q_x, for finite keys n_x, n_pulses,
    phase_error, and ``bound`` naming the bound ("GLLP vacuum+weak", ...,
    or "Lim 2014 finite").
    """
    if (loss_db is None) == (fibre_km is None):
        raise SatqkdError("keyrate table: give exactly one of loss_db or fibre_km")
    if fibre_km is not None:
        fibre_km = np.atleast_1d(np.asarray(fibre_km, dtype=float))
        loss = np.round(fibre_km * fibre_loss_db_per_km, 9)  # 100 km x 0.21 dB/km prints as 21, not 21.000000000000004
    else:
        loss = np.atleast_1d(np.asarray(loss_db, dtype=float))
    if not asymptotic and (block_pulses is None) == (block_detections is None):
        raise SatqkdError("keyrate table: a finite key needs exactly one of block_pulses or block_detections")
    y0 = detector.dark_count_prob
    rows = []
    prev = None
    for i, L in enumerate(loss):
        eta = 10.0 ** (-L / 10.0) * detector.efficiency
        row = {"loss_db": float(L)}
        if fibre_km is not None:
            row["fibre_km"] = float(fibre_km[i])
        if asymptotic:
            src = source
            if optimise:
                src, _ = _optimise_asymptotic_mu1(eta, y0, source, detector, protocol, decoy)
            kpp = float(asymptotic_key_per_pulse(eta, y0, src, detector, protocol, decoy))
            c = expected_counts(eta, y0, src, detector)
            qber = float(c["m_x"][0, 0] / c["n_x"][0, 0]) if c["n_x"][0, 0] > 0 else np.nan
            row.update(key_per_pulse=kpp, key_rate_bps=kpp * src.rep_rate_hz, qber=qber)
        else:
            slot_s = (block_pulses / source.rep_rate_hz) if block_pulses is not None else 1.0
            if optimise:
                pk = optimise_pass([eta], y0, source, detector, protocol, slot_s=slot_s,
                                   x0=prev, optimise_window=False, block_detections=block_detections)
                if pk.key_bits > 0:
                    prev = pk
            else:
                pk = finite_key([eta], y0, source, detector, protocol, slot_s=slot_s,
                                block_detections=block_detections)
            src = pk.source
            row.update(key_per_pulse=pk.key_per_pulse, key_rate_bps=pk.key_per_pulse * src.rep_rate_hz,
                       qber=pk.qber_x)
        row.update(mu1=src.intensities[0], mu2=src.intensities[1], mu3=src.intensities[2],
                   p1=src.probabilities[0], p2=src.probabilities[1], p3=src.probabilities[2],
                   q_x=src.basis_prob_x)
        if not asymptotic:
            row.update(n_x=pk.n_x, n_pulses=pk.n_pulses, phase_error=pk.phase_error_bound)
        # Name the bound: the textbook GLLP rate is not the large-block limit
        # of the finite key that `satqkd run` reports per second.
        row["bound"] = f"GLLP {decoy}" if asymptotic else "Lim 2014 finite"
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# The key of a measured pass (a per-second profile)
# --------------------------------------------------------------------------

_PROFILE_LOSS = ("loss_db", "channel_loss_db", "efficiency")


def read_profile(path) -> pd.DataFrame:
    """Read and check a per-slot pass profile (CSV) for :func:`profile_keys`.

    Columns: ``time_s`` (or ``time_utc``, ISO times as in ``seconds.csv``),
    exactly one of ``loss_db`` (total loss, detection included, as in
    ``seconds.csv``), ``channel_loss_db`` (before the detector: the
    detector's efficiency is applied on top) or ``efficiency`` (total, in
    (0, 1]); optional ``noise_prob`` (noise clicks per pulse, dark counts
    included), ``elevation_deg`` (lets the optimiser choose the key window
    by elevation) and ``pass_id`` (several passes in one file, one key
    each).  Slots must be evenly spaced within a pass.  Bad input raises a
    one-line :class:`SatqkdError` naming the file and the column.
    """
    from pathlib import Path

    path = Path(path)
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise SatqkdError(f"{path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise SatqkdError(f"{path}: not a readable CSV profile ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    cols = set(df.columns)
    if "time_s" not in cols and "time_utc" not in cols:
        raise SatqkdError(f"{path}: time_s: missing column (seconds, or time_utc as ISO times)")
    given = [c for c in _PROFILE_LOSS if c in cols]
    if len(given) != 1:
        raise SatqkdError(f"{path}: {'/'.join(_PROFILE_LOSS)}: expected exactly one of these columns, got "
                          f"{', '.join(given) or 'none'}")
    out = pd.DataFrame(index=df.index)
    if "time_s" in cols:
        out["time_s"] = _numeric_column(df, "time_s", path)
    else:
        t = pd.to_datetime(df["time_utc"], utc=True, errors="coerce")
        if t.isna().any():
            raise SatqkdError(f"{path}: time_utc: expected ISO times in every row (row {int(t.isna().values.argmax()) + 2})")
        out["time_s"] = (t - t.iloc[0]).dt.total_seconds()
    for c in (given[0], "noise_prob", "elevation_deg"):
        if c in cols:
            out[c] = _numeric_column(df, c, path)
    out["pass_id"] = df["pass_id"].astype(str) if "pass_id" in cols else ""
    checks = {
        "loss_db": (lambda v: v >= 0, "losses >= 0 dB"),
        "channel_loss_db": (lambda v: v >= 0, "losses >= 0 dB"),
        "efficiency": (lambda v: (v > 0) & (v <= 1), "efficiencies in (0, 1]"),
        "noise_prob": (lambda v: (v >= 0) & (v < 1), "probabilities in [0, 1)"),
        "elevation_deg": (lambda v: (v >= -90) & (v <= 90), "elevations in [-90, 90]"),
    }
    for c, (ok, what) in checks.items():
        if c in out and not ok(out[c]).all():
            row = int((~ok(out[c])).values.argmax()) + 2
            raise SatqkdError(f"{path}: {c}: expected {what} (row {row})")
    if len(out) == 0:
        raise SatqkdError(f"{path}: no rows")
    return out


def _numeric_column(df, name, path):
    v = pd.to_numeric(df[name], errors="coerce")
    bad = v.isna() | ~np.isfinite(v.astype(float))
    if bad.any():
        raise SatqkdError(f"{path}: {name}: expected a finite number in every row (row {int(bad.values.argmax()) + 2})")
    return v.astype(float)


def profile_keys(profile: pd.DataFrame, source: Source, detector: Detector, protocol: Protocol,
                 optimise: bool = False, where: str = "profile") -> pd.DataFrame:
    """Finite key of each pass of a per-slot profile (see :func:`read_profile`).

    One block per ``pass_id``.  With ``optimise`` the intensities,
    probabilities, basis bias and key window are optimised
    (:func:`optimise_pass`, the window by elevation when the profile has
    it); otherwise the source's settings over every slot
    (:func:`finite_key`).  Columns: ``pass_id, n_slots, slot_s,
    key_window_s, sifted_bits, n_x, key_bits, key_rate_bps, qber,
    phase_error, large_block_bits, key_basis, mu1, mu2, mu3, p1, p2, p3,
    q_x``; ``large_block_bits`` is the sum of the per-slot large-block rate
    (:func:`large_block_key_per_pulse`), an upper reference for
    ``key_bits``.
    """
    rows = []
    ids = profile["pass_id"].astype(str) if "pass_id" in profile else pd.Series("", index=profile.index)
    for pid, g in profile.groupby(ids, sort=False):
        label = f"{where}: pass_id {pid}: " if pid != "" else f"{where}: "
        t = g["time_s"].to_numpy(float)
        if t.size > 1:
            dt = np.diff(t)
            slot_s = float(np.median(dt))
            if not slot_s > 0 or np.any(np.abs(dt - slot_s) > 1e-6 * max(slot_s, 1.0)):
                raise SatqkdError(f"{label}time_s: expected evenly spaced, increasing times")
        else:
            slot_s = 1.0
        if "efficiency" in g:
            eta = g["efficiency"].to_numpy(float)
        elif "loss_db" in g:
            eta = 10.0 ** (-g["loss_db"].to_numpy(float) / 10.0)
        else:
            eta = 10.0 ** (-g["channel_loss_db"].to_numpy(float) / 10.0) * detector.efficiency
        y0 = g["noise_prob"].to_numpy(float) if "noise_prob" in g else None
        elev = g["elevation_deg"].to_numpy(float) if "elevation_deg" in g else None
        if optimise:
            pk = optimise_pass(eta, y0, source, detector, protocol, slot_s=slot_s, elevation_deg=elev)
        else:
            pk = finite_key(eta, y0, source, detector, protocol, slot_s=slot_s)
        src = pk.source
        lb = large_block_key_per_pulse(eta, y0, src, detector, protocol, key_basis=pk.key_basis)
        rows.append({
            "pass_id": pid, "n_slots": int(t.size), "slot_s": slot_s, "key_window_s": pk.window_s,
            "sifted_bits": pk.sifted_bits, "n_x": pk.n_x, "key_bits": pk.key_bits,
            "key_rate_bps": pk.key_rate_bps, "qber": pk.qber_x, "phase_error": pk.phase_error_bound,
            "large_block_bits": float(lb.sum() * src.rep_rate_hz * slot_s), "key_basis": pk.key_basis,
            "mu1": src.intensities[0], "mu2": src.intensities[1], "mu3": src.intensities[2],
            "p1": src.probabilities[0], "p2": src.probabilities[1], "p3": src.probabilities[2],
            "q_x": src.basis_prob_x,
        })
    out = pd.DataFrame(rows)
    if (out["pass_id"] == "").all():
        out = out.drop(columns="pass_id")
    return out


# --------------------------------------------------------------------------
# Equipment files
# --------------------------------------------------------------------------



"""Demand: users asking for end-to-end key, turned into timed requests.

:class:`DemandSpec` is one line of a scenario's ``network.demands``: a pair
of nodes and what they need.  Three kinds:

* ``constant`` -- ``rate_bps`` all the time; every ``every_s`` seconds a
  request for the next interval's key, ``rate_bps * every_s`` bits;
* ``otp_call`` -- a one-time-pad call of ``rate_bps`` (default 8 kbit/s, the
  low end of the 8-25 kbit/s quoted for China's one-time-pad routes
  [secondary]) lasting ``duration_s`` (default 120 s, **ours**) starts every
  ``every_s``; the whole call's key is requested when it starts;
* ``aes_rekey`` -- a new 256-bit AES key every second (``rate_bps`` = 256),
  requested in bundles of ``every_s`` seconds.

Requests start at ``start_s`` (seconds after the scenario's start) and run to
``end_s`` or the end of the span; or they follow a schedule, ``times_s``: a
list of request times (seconds after the start).  With ``poisson: true`` the gaps between
requests are exponential with mean ``every_s``, drawn from the network's
``seed`` (the only random draw of the network stage).  A request that no
route can serve waits, retried every ``network.retry_every_s``, until
``timeout_s``; then it fails.  :func:`make_requests` returns the table of
all requests, ordered by time.

``priority`` is the demand's class (0, the default, is served first; see
:mod:`satqkd.network.simulate`), and :attr:`DemandSpec.rate_bps_mean` the
long-run rate admission control checks against the route.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DemandSpec", "make_requests", "DEFAULT_RATE_BPS"]

DEFAULT_RATE_BPS = {"otp_call": 8000.0, "aes_rekey": 256.0}

Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class DemandSpec(BaseModel):
    """One user pair's demand (see the module docstring for the kinds)."""

    model_config = ConfigDict(extra="forbid")

    a: str
    b: str
    kind: Literal["constant", "otp_call", "aes_rekey"] = "constant"
    rate_bps: Positive | None = None
    every_s: Positive = 3600.0
    duration_s: Positive | None = None
    start_s: NonNegative = 0.0
    end_s: Positive | None = None
    timeout_s: NonNegative = 3600.0
    poisson: bool = False
    times_s: list[NonNegative] | None = None
    name: str | None = None
    priority: Annotated[int, Field(ge=0, le=9)] = 0

    @model_validator(mode="after")
    def _rate(self):
        if self.kind == "constant" and self.rate_bps is None:
            raise ValueError("rate_bps: required for a constant demand")
        if self.kind == "aes_rekey" and self.rate_bps is not None and self.rate_bps != 256.0:
            raise ValueError("rate_bps: an aes_rekey demand is 256 bits every second; use kind: constant for another rate")
        if self.kind != "otp_call" and self.duration_s is not None:
            raise ValueError("duration_s: only an otp_call has a duration (others ask for every_s worth of key)")
        if self.times_s is not None and self.poisson:
            raise ValueError("times_s: a schedule of request times cannot also be poisson")
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s: expected after start_s ({self.start_s:g}), got {self.end_s:g}")
        return self

    @property
    def bits_per_request(self) -> float:
        rate = self.rate_bps if self.rate_bps is not None else DEFAULT_RATE_BPS[self.kind]
        if self.kind == "otp_call":
            return rate * (self.duration_s if self.duration_s is not None else 120.0)
        return rate * self.every_s

    @property
    def rate_bps_mean(self) -> float:
        """Long-run key rate the demand asks for: bits per request / interval."""
        return self.bits_per_request / self.every_s

    def label(self, i: int) -> str:
        return self.name or f"{self.a}~{self.b}#{i}"


def make_requests(demands: list[DemandSpec], span_s: float, seed: int = 0) -> pd.DataFrame:
    """Every request of every demand within ``[0, span_s)``, sorted by time (stable).

    Columns: ``request`` (0..n-1), ``demand`` (index), ``a``, ``b``,
    ``t_s`` (seconds after the start), ``bits``, ``timeout_s``, ``priority``.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for i, d in enumerate(demands):
        end = min(d.end_s, span_s) if d.end_s is not None else span_s
        if d.times_s is not None:
            t = np.sort(np.asarray(d.times_s, dtype=float))
            t = t[(t >= d.start_s) & (t < end)]
        elif d.poisson:
            n_max = int((end - d.start_s) / d.every_s * 1.5 + 50)
            t = d.start_s + np.cumsum(rng.exponential(d.every_s, n_max))
            while t.size and t[-1] < end:
                t = np.concatenate([t, t[-1] + np.cumsum(rng.exponential(d.every_s, n_max))])
            t = t[t < end]
        else:
            t = d.start_s + d.every_s * np.arange(max(int(np.ceil((end - d.start_s) / d.every_s)), 0))
            t = t[t < end]
        parts.append(pd.DataFrame({"demand": i, "a": d.a, "b": d.b, "t_s": t, "bits": d.bits_per_request,
                                   "timeout_s": d.timeout_s, "priority": d.priority}))
    if not parts:
        return pd.DataFrame({"request": pd.Series(dtype=int), "demand": pd.Series(dtype=int), "a": pd.Series(dtype=str),
                             "b": pd.Series(dtype=str), "t_s": pd.Series(dtype=float), "bits": pd.Series(dtype=float),
                             "timeout_s": pd.Series(dtype=float), "priority": pd.Series(dtype=int)})
    out = pd.concat(parts, ignore_index=True).sort_values(["t_s", "demand"], kind="stable").reset_index(drop=True)
    out.insert(0, "request", np.arange(len(out)))
    return out

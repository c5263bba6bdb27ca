"""Outages: when a link or a node of the network is down.

:class:`OutageSpec` is one line of a scenario's ``network.outages``: a
``link`` (its name, ``A~B`` as in ``links.csv``) or a ``node``, down either
in explicit ``windows_s`` (``[start, end]`` pairs, seconds after the
scenario's start) or at random, alternating up and down times drawn as
exponentials of mean ``mtbf_s`` (mean time between failures, up) and
``mttr_s`` (mean time to repair, down), starting up.  The random draw takes
the network's ``seed`` and the outage's position in the list (its own
stream: adding an outage does not change the request times).

Two effects (``effect``):

* ``cut`` (default) -- the link is **down**: no key crosses it (no route
  through it serves a request, a satellite link relays nothing) and it
  generates none; a fibre cut, a relay site lost;
* ``no_key`` -- the QKD equipment is down but the classical channel works:
  the link generates no key, and what its pool holds can still be used
  (the pools carry the users through); a station whose telescope is down.

Either way a fibre link's finite-key block under way is lost, and blocks
start again when the outage ends (:meth:`~satqkd.network.pools.Pools.pause`);
its pool keeps what it holds.  A node's outage applies to every link at it;
a ground station under either effect also flies no pass whose usable window
overlaps the outage.

:func:`down_windows` turns the specs into one table of windows per link
(``link``, ``start_s``, ``end_s``, ``outage``, ``cut``); overlapping windows
of a link simply overlap (the link is up again when the last one ends).
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["OutageSpec", "down_windows", "station_down"]

Positive = Annotated[float, Field(gt=0.0)]


class OutageSpec(BaseModel):
    """One outage line (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    link: str | None = None
    node: str | None = None
    windows_s: list[tuple[Annotated[float, Field(ge=0.0)], Annotated[float, Field(ge=0.0)]]] | None = None
    mtbf_s: Positive | None = None
    mttr_s: Positive | None = None
    name: str | None = None
    effect: Literal["cut", "no_key"] = "cut"

    @model_validator(mode="after")
    def _one_of_each(self):
        if (self.link is None) == (self.node is None):
            raise ValueError("expected exactly one of link (A~B) or node")
        random = self.mtbf_s is not None or self.mttr_s is not None
        if random and (self.mtbf_s is None or self.mttr_s is None):
            raise ValueError("mtbf_s and mttr_s: give both (mean up and mean down time)")
        if random == (self.windows_s is not None):
            raise ValueError("expected either windows_s or mtbf_s with mttr_s")
        for i, (a, b) in enumerate(self.windows_s or []):
            if b <= a:
                raise ValueError(f"windows_s[{i}]: expected end after start, got [{a:g}, {b:g}]")
        return self

    def label(self, i: int) -> str:
        return self.name or f"{self.link or self.node}#{i}"

    def windows(self, span_s: float, seed: int, i: int) -> np.ndarray:
        """The ``[start, end)`` windows within ``[0, span_s)``, shape ``(n, 2)``."""
        if self.windows_s is not None:
            w = np.asarray(self.windows_s, dtype=float).reshape(-1, 2)
        else:
            rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 15, i])
            out, t = [], 0.0
            while t < span_s:
                t += rng.exponential(self.mtbf_s)
                down = rng.exponential(self.mttr_s)
                if t < span_s:
                    out.append((t, t + down))
                t += down
            w = np.asarray(out, dtype=float).reshape(-1, 2)
        w = w[w[:, 0] < span_s]
        return np.c_[w[:, 0], np.minimum(w[:, 1], span_s)]


def down_windows(outages: list[OutageSpec], links: pd.DataFrame, span_s: float, seed: int) -> pd.DataFrame:
    """Every outage window per link: ``outage`` (label), ``link`` (index), ``start_s``, ``end_s``,
    ``cut`` (True: nothing crosses; False: no key generated).

    ``links`` is the network's links table (``link``, ``a``, ``b``); names
    were checked when the network was built."""
    rows = []
    by_name = {name: k for k, name in enumerate(links["link"])}
    a, b = links["a"].to_numpy(), links["b"].to_numpy()
    for i, o in enumerate(outages):
        w = o.windows(span_s, seed, i)
        if o.link is not None:
            name = o.link if o.link in by_name else "~".join(o.link.split("~")[::-1])
            ks = [by_name[name]]
        else:
            ks = np.flatnonzero((a == o.node) | (b == o.node)).tolist()
        for k in ks:
            for s, e in w:
                rows.append({"outage": o.label(i), "link": int(k), "start_s": float(s), "end_s": float(e),
                             "cut": o.effect == "cut"})
    if not rows:
        return pd.DataFrame({"outage": pd.Series(dtype=object), "link": pd.Series(dtype=int),
                             "start_s": pd.Series(dtype=float), "end_s": pd.Series(dtype=float),
                             "cut": pd.Series(dtype=bool)})
    return pd.DataFrame(rows)


def station_down(outages: list[OutageSpec], stations, start_s, end_s, span_s: float, seed: int) -> np.ndarray:
    """Per pass (its station and usable window, seconds after the start): True if a
    node outage of its station overlaps the window (the pass flies no key)."""
    stations = np.asarray(stations, dtype=object)
    start_s, end_s = np.asarray(start_s, dtype=float), np.asarray(end_s, dtype=float)
    hit = np.zeros(stations.size, dtype=bool)
    for i, o in enumerate(outages):
        if o.node is None:
            continue
        at = stations == o.node
        for ws, we in o.windows(span_s, seed, i):
            hit |= at & (start_s < we) & (end_s >= ws)
    return hit

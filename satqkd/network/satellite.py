"""The satellite as a trusted relay (Liao et al., PRL 120, 030501 (2018)).

Each pass leaves secret key shared between the satellite and **one** ground
station.  The satellite keeps it on board in a :class:`SatelliteStores`
entry per (satellite, station), each with a capacity (its memory; key
beyond it is discarded).  When the satellite holds key with two stations of
a satellite link, a ground command makes it announce the XOR of the two
keys: the stations then share key equal to the **smaller** of the two
stores, and that much is consumed from **both** stores.

**On demand.**  The command is issued when a request needs key across the
satellite link (:mod:`satqkd.network.simulate`): a route through the link is
open if the ground pool plus what the stores could relay covers the
request, and the relay then releases exactly what the pool lacks, no more
(key stays on board, where every pair of the station can still use it).
**Policy for a station's on-board key shared by several pairs** (a
satellite link over three or more stations): first come, first served, in
the order requests are served (priority class, then age); no share is set
aside per pair.  Within a store, key is used oldest pass first, so each
pass's ``relayed_bits`` is the part of its key the relay used.

**One quantum terminal.**  The satellite serves one station at a time and
needs ``slew_s`` (60 s, the common scheduling assumption of
``reference/network.md``) to re-point.  Which passes are flown is decided
by the contention stage (:mod:`satqkd.schedule`): the pass table's
``scheduled`` column.  A pass table without one (built elsewhere) is
scheduled here by that module's default rule (greedy by key: a pass is
flown unless it conflicts with a bigger one already taken).  If the table
has a ``clear`` column (bool, or a fraction of the pass that is clear), a
pass's key is multiplied by it.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

__all__ = ["SatelliteStores", "schedule_passes", "seconds_since"]


def seconds_since(times, start: pd.Timestamp) -> np.ndarray:
    """UTC timestamps (a Series or array) as seconds after ``start``."""
    t = pd.to_datetime(pd.Series(times), utc=True)
    s = pd.Timestamp(start)
    s = s.tz_localize("UTC") if s.tzinfo is None else s.tz_convert("UTC")
    return ((t - s).dt.total_seconds()).to_numpy(dtype=float)


def schedule_passes(passes: pd.DataFrame, links, start: pd.Timestamp) -> pd.DataFrame:
    """The passes of the satellite links' stations, with the key each delivers.

    Returns one row per candidate pass: ``pass_id``, ``satellite``,
    ``station``, ``start_s``, ``end_s`` (the usable window, seconds after
    ``start``), ``key_bits`` (after ``clear``), ``served`` (flown by the one
    terminal) and ``rule`` (why it was dropped, or "").
    """
    wanted = {(sl.satellite, st): sl.slew_s for sl in links for st in sl.stations}
    cols = ["pass_id", "satellite", "station", "start_s", "end_s", "key_bits", "served", "rule"]
    if passes is None or passes.empty or "key_bits" not in passes:
        return pd.DataFrame({c: pd.Series(dtype=float if c.endswith("_s") or c == "key_bits" else object) for c in cols})
    keep = np.array([(s, st) in wanted for s, st in zip(passes["satellite"], passes["station"])], dtype=bool)
    p = passes.loc[keep]
    start_col = "usable_start_utc" if "usable_start_utc" in p else "rise_utc"
    end_col = "usable_end_utc" if "usable_end_utc" in p else "set_utc"
    ok = p[start_col].notna() & p[end_col].notna()
    p = p.loc[ok]
    key = np.nan_to_num(p["key_bits"].to_numpy(dtype=float), nan=0.0)
    if "clear" in p:
        key = key * p["clear"].to_numpy(dtype=float)
    out = pd.DataFrame({
        "pass_id": p["pass_id"].to_numpy() if "pass_id" in p else np.arange(len(p)),
        "satellite": p["satellite"].to_numpy(),
        "station": p["station"].to_numpy(),
        "start_s": seconds_since(p[start_col], start),
        "end_s": seconds_since(p[end_col], start),
        "key_bits": key,
    })
    if "scheduled" not in p:
        # No contention stage ran (a pass table from elsewhere): apply its
        # default rule here, one terminal per satellite, one telescope per
        # station, with the links' re-pointing time.
        from ..schedule import schedule

        slew_s = max(wanted.values()) if wanted else 60.0
        p = schedule(p, "greedy", station_repoint_s=slew_s, satellite_repoint_s=slew_s)
    out["served"] = p["scheduled"].astype(bool).to_numpy()
    out["rule"] = (p["not_scheduled_reason"].fillna("").to_numpy(object) if "not_scheduled_reason" in p
                   else np.where(out["served"], "", "not scheduled"))
    return out.sort_values(["start_s", "station"], kind="stable").reset_index(drop=True)


class SatelliteStores:
    """On-board key stores, one per (satellite, station), with capacities.

    Each store also remembers which pass its key came from (first in, first
    out), so :attr:`used_by_pass` tells how much of each pass's key a relay
    used."""

    def __init__(self, keys: list[tuple[str, str]], capacity_bits):
        self.keys = list(keys)
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.capacity = np.asarray(capacity_bits, dtype=float)
        n = len(self.keys)
        self.level = np.zeros(n)
        self.generated = np.zeros(n)
        self.consumed = np.zeros(n)
        self.discarded = np.zeros(n)
        self._fifo = [deque() for _ in range(n)]
        self.used_by_pass: dict = {}

    def add(self, j: int, bits: float, pass_row=None):
        """Key of one pass; beyond the store's capacity it is discarded."""
        self.generated[j] += bits
        room = self.capacity[j] - self.level[j]
        kept = min(bits, room)
        self.discarded[j] += bits - kept
        self.level[j] += kept
        if kept > 0:
            self._fifo[j].append([pass_row, kept])

    def _take(self, j: int, bits: float):
        self.level[j] -= bits
        self.consumed[j] += bits
        fifo = self._fifo[j]
        while bits > 0 and fifo:
            head = fifo[0]
            used = min(head[1], bits)
            self.used_by_pass[head[0]] = self.used_by_pass.get(head[0], 0.0) + used
            head[1] -= used
            bits -= used
            if head[1] <= 0:
                fifo.popleft()

    def relayable(self, ja: int, jb: int) -> float:
        """What one XOR announcement between the two stores could give now."""
        return min(self.level[ja], self.level[jb])

    def relay(self, ja: int, jb: int, room_bits: float) -> float:
        """XOR announcement: both stores give ``min(a, b, room)``; returns that amount."""
        m = max(min(self.level[ja], self.level[jb], room_bits), 0.0)
        if m > 0:
            for j in (ja, jb):
                self._take(j, m)
        return m

    def balance(self):
        return self.generated - self.level - self.consumed - self.discarded


"""Key pools: the store of secret key on every link, with QKDNetSim's four states.

:class:`PoolSettings` is the plain settings object (capacity, minimum,
threshold, initial level, key size) a scenario fills; :class:`Pools` holds
the level of every link's pool as numpy arrays and is what the simulation
updates.  Semantics follow QKDNetSim (Mehic et al.; ``reference/network.md``):

* **ready** -- level at or above the threshold;
* **warning** -- between the minimum and the threshold, and falling (or just
  fallen from ready);
* **charging** -- between the minimum and the threshold, and rising (or
  recovering from empty);
* **empty** -- at or below the minimum.

Key that would take a pool above its capacity is **discarded** (and
counted).  A pool never serves key that would take it below its minimum.
Unlike QKDNetSim's code (whose threshold starts at the minimum, so warning
and charging never occur), the threshold here is its own setting and does
work: the router prefers routes whose every pool stays ready
(:mod:`satqkd.network.routing`).

Bits are conserved per pool: ``generated = level - initial + consumed +
discarded`` at every instant.  :func:`etsi_status` writes a pool in the shape
of the ETSI GS QKD 014 ``status`` response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import ConfigDict, Field

__all__ = ["PoolSettings", "Pools", "STATES", "READY", "WARNING", "CHARGING", "EMPTY", "etsi_status"]

READY, WARNING, CHARGING, EMPTY = 0, 1, 2, 3
STATES = ("ready", "warning", "charging", "empty")

NonNegative = Annotated[float, Field(ge=0.0)]


@dataclass(frozen=True)
class PoolSettings:
    """One link's key pool.

    Parameters
    ----------
    capacity_bits
        Most key the pool holds; more is discarded (1e9 bits, **ours**).
    minimum_bits
        Reserve never handed out (e.g. for authenticating the next rounds).
    threshold_bits
        Level at and above which the pool is *ready*; below it *warning* or
        *charging*.  Must lie between the minimum and the capacity.
    initial_bits
        Level at the start of the simulation.
    key_size_bits
        Size of one key handed out by the ETSI 014 interface (``key_size``).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    capacity_bits: Annotated[float, Field(gt=0.0)] = 1e9
    minimum_bits: NonNegative = 0.0
    threshold_bits: NonNegative = 1e6
    initial_bits: NonNegative = 0.0
    key_size_bits: Annotated[int, Field(gt=0)] = 256

    def __post_init__(self):
        if not self.minimum_bits <= self.threshold_bits <= self.capacity_bits:
            raise ValueError(
                f"expected minimum_bits <= threshold_bits <= capacity_bits, got {self.minimum_bits:g}, "
                f"{self.threshold_bits:g}, {self.capacity_bits:g}"
            )
        if self.initial_bits > self.capacity_bits:
            raise ValueError(f"initial_bits: expected at most capacity_bits ({self.capacity_bits:g}), got {self.initial_bits:g}")


class Pools:
    """The levels of ``n`` pools, fed by steady fibre blocks and by events.

    Fibre key arrives in blocks: pool ``i`` gains ``block_bits[i]`` every
    ``block_s[i]`` seconds (the first block closes at ``block_s[i]``).  The
    level is brought up to date lazily (:meth:`advance`) whenever a pool is
    looked at; this is exact, because between two looks a pool only gains
    key, and clipping at capacity once equals clipping after every block.
    A link that goes down stops its blocks (:meth:`pause`, :meth:`resume`).
    """

    def __init__(self, settings: list[PoolSettings], block_bits, block_s):
        self.settings = settings
        self.capacity = np.array([s.capacity_bits for s in settings], dtype=float)
        self.minimum = np.array([s.minimum_bits for s in settings], dtype=float)
        self.threshold = np.array([s.threshold_bits for s in settings], dtype=float)
        self.initial = np.array([s.initial_bits for s in settings], dtype=float)
        self.level = self.initial.copy()
        self.block_bits = np.asarray(block_bits, dtype=float)
        bs = np.asarray(block_s, dtype=float)
        self.steady = np.isfinite(bs) & (self.block_bits > 0)
        self.block_s = np.where(self.steady, bs, 1.0)
        self.blocks_done = np.zeros(len(settings))  # whole blocks since origin_s (exact in float)
        self.origin_s = np.zeros(len(settings))  # time the current run of blocks started
        self.running = np.ones(len(settings), dtype=bool)  # False while the link is down
        self.next_s = np.where(self.steady, self.block_s, np.inf)  # when the next block closes
        self.generated = np.zeros(len(settings))
        self.consumed = np.zeros(len(settings))
        self.discarded = np.zeros(len(settings))
        # The state follows from the level and the direction of its last change (see
        # :attr:`state`): only that direction is kept.
        self.falling = np.zeros(len(settings), dtype=bool)
        self.current_s = -np.inf  # every pool is up to date at this instant (advance_all)
        self._every = np.arange(len(settings))

    def __len__(self):
        return self.level.size

    @property
    def state(self) -> np.ndarray:
        """Each pool's state (int8, :data:`STATES`): empty at or below the minimum, ready at
        or above the threshold, between them warning if the last change took key and
        charging if it added key (or none happened yet).  The same as setting the state at
        every change: an addition that leaves the level where it was keeps the state."""
        return np.where(self.level <= self.minimum, EMPTY,
                        np.where(self.level >= self.threshold, READY,
                                 np.where(self.falling, WARNING, CHARGING))).astype(np.int8)

    def add(self, idx, bits):
        """Add ``bits`` (>= 0) of new key to pools ``idx`` (distinct); overflow beyond capacity is discarded.

        A level that rises ends charging, ready (at or above the threshold)
        or empty (still at or below the minimum); one that stays keeps its state."""
        bits = np.asarray(bits, dtype=float)
        self.generated[idx] += bits
        old = self.level[idx]
        total = old + bits
        cap = self.capacity[idx]
        if (total > cap).any():
            self.discarded[idx] += np.maximum(total - cap, 0.0)
            total = np.minimum(total, cap)
        self.falling[idx] &= ~(total > old)
        self.level[idx] = total

    def advance_all(self, t_s: float):
        """:meth:`advance` of every pool; a second call at the same instant does nothing."""
        if t_s != self.current_s:
            self.advance(self._every, t_s)
            self.current_s = t_s

    def advance(self, idx, t_s: float):
        """Bring pools ``idx`` up to time ``t_s``: add the fibre blocks closed since the last look."""
        if t_s == self.current_s:
            return  # everything is up to date at t_s (blocks close only later)
        # Only pools whose next block is due (with a margin: floor() below decides exactly).
        due = idx[self.next_s[idx] <= t_s * (1.0 + 1e-12) + 1e-9]
        if due.size == 0:
            return
        done = np.floor((t_s - self.origin_s[due]) / self.block_s[due])
        new = done - self.blocks_done[due]
        self.blocks_done[due] = done
        self.next_s[due] = self.origin_s[due] + (done + 1.0) * self.block_s[due]
        self.add(due, new * self.block_bits[due])

    def pause(self, idx, t_s: float):
        """Stop the fibre key of pools ``idx`` at ``t_s`` (their link went down).

        Blocks closed by ``t_s`` are added; the block under way is lost."""
        self.advance(idx, t_s)
        self.current_s = -np.inf
        self.running[idx] = False
        self.next_s[idx] = np.inf

    def resume(self, idx, t_s: float):
        """Start the fibre key of pools ``idx`` again at ``t_s``: the first block closes ``block_s`` later."""
        self.current_s = -np.inf
        self.running[idx] = True
        self.origin_s[idx] = t_s
        self.blocks_done[idx] = 0.0
        self.next_s[idx] = np.where(self.steady[idx], t_s + self.block_s[idx], np.inf)

    def can_serve(self, idx, bits: float):
        """True for each pool in ``idx`` that can give ``bits`` without going below its minimum."""
        return self.level[idx] - bits >= self.minimum[idx]

    def consume(self, idx, bits: float):
        """Take ``bits`` from every pool in ``idx`` (the caller checked :meth:`can_serve`).

        A level that falls ends empty, ready or warning (never charging)."""
        self.consumed[idx] += bits
        self.level[idx] -= bits
        self.falling[idx] = True

    def balance(self):
        """Per pool: generated - (level - initial) - consumed - discarded (zero up to rounding)."""
        return self.generated - (self.level - self.initial) - self.consumed - self.discarded


def etsi_status(pools: Pools, i: int, source: str, target: str) -> dict:
    """Pool ``i`` as an ETSI GS QKD 014 ``GET /api/v1/keys/{slave_SAE_ID}/status`` response.

    Keys are counted in whole keys of ``key_size`` bits; the key management
    entities (KMEs) are the link's two nodes and the secure application
    entities (SAEs) are named after them.
    """
    s = pools.settings[i]
    size = int(s.key_size_bits)
    usable = max(pools.level[i] - pools.minimum[i], 0.0)
    return {
        "source_KME_ID": source,
        "target_KME_ID": target,
        "master_SAE_ID": f"{source}-SAE",
        "slave_SAE_ID": f"{target}-SAE",
        "key_size": size,
        "stored_key_count": int(usable // size),
        "max_key_count": int(s.capacity_bits // size),
        "max_key_per_request": 128,
        "max_key_size": 8 * size,
        "min_key_size": 64,
        "max_SAE_ID_count": 0,
        "state": STATES[int(pools.state[i])],
    }

"""The live twin of a planned network: the network's own simulation on a running clock, and the keys handed out.

:class:`NetworkTwin` holds the network stage's
:class:`~satqkd.network.simulate.Simulation` of the scenario, with the
scenario's own requests up to the start instant and none after it (from
then on the clients are the demand), run up to that instant.  Its clock
goes on in real time scaled by ``speed`` (simulated seconds per real
second), and every look at the twin first runs the simulation up to now
(:meth:`~satqkd.network.simulate.Simulation.run_until`): fibre blocks keep
closing, outages begin and end, satellite passes leave their key on board
at the end of their usable window -- all as the simulation says, up to the
end of the scenario's span, where the plan (and the twin's clock) stops.

**Requests** of the key-delivery interface are the demand: :meth:`issue`
asks the simulation to serve ``number * size`` bits from master to slave
at that instant
(:meth:`~satqkd.network.simulate.Simulation.serve_request`: its route
choice, multipath, satellite relay on demand and pool consumption, the
code path of the scenario's own requests); if it cannot, the answer is 503
and nothing is spent.  This module only keeps the clock, the keys handed
out and the counters; the network's rules live in the simulation alone.

Keys are fresh bytes from the operating system's CSPRNG (:func:`secrets.token_bytes`),
each with a random UUID (version 4).  A key is held until its slave fetches
it (:meth:`fetch`), then forgotten: it is served to the master once and to
the slave once.  Invariants: per pool, ``generated - (level - initial) -
consumed - discarded = 0`` (:meth:`~satqkd.network.pools.Pools.balance`);
bits consumed on a pool = the bits of the keys issued on routes through it.
Every method takes the twin's lock: one request at a time sees and changes
the pools, so two requests never spend the same bits.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..network.pools import STATES
from ..network.simulate import Simulation

__all__ = ["NetworkTwin", "KeyRefused", "Limits"]


class KeyRefused(Exception):
    """A request the twin cannot serve: ``status`` (400, 401, 503) and a message that names no key."""

    def __init__(self, status: int, message: str, details: list | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []


@dataclass(frozen=True)
class Limits:
    """What the status response advertises and every request is held to.

    ``key_size_bits`` is the default size (the pools' ``key_size_bits``);
    sizes are whole bytes between ``min_key_size_bits`` and
    ``max_key_size_bits``; at most ``max_key_per_request`` keys per request
    (enc_keys ``number``, dec_keys ``key_IDs``).  ``max_keys_held`` bounds
    the keys issued but not yet fetched (503 beyond it).
    """

    key_size_bits: int = 256
    min_key_size_bits: int = 64
    max_key_size_bits: int = 2048
    max_key_per_request: int = 128
    max_keys_held: int = 100_000


class NetworkTwin:
    """The keys of a network served from ``sim``, a :class:`~satqkd.network.simulate.Simulation`
    already run up to the start instant (its ``t_s``; built with ``demand_until_s`` there)."""

    def __init__(self, sim: Simulation, speed: float = 1.0, clock=time.monotonic):
        self.sim = sim
        self.network = sim.network
        self.start = sim.start
        self.span_s = sim.span_s
        self.speed = float(speed)
        self._clock = clock
        self.lock = threading.Lock()
        kinds = dict(zip(self.network.nodes["node"], self.network.nodes["kind"]))
        self.saes = sorted(node for node, kind in kinds.items() if kind == "user")
        self._sae_set = frozenset(self.saes)
        self.limits = Limits(key_size_bits=int(min(p.key_size_bits for p in self.network.pools)))
        self.t0_s = float(sim.t_s)
        self._real0 = clock()
        # The session's bit balance starts here: pool counters at the start instant.
        p = sim.pools
        self._start = {"level": p.level.copy(), "generated": p.generated.copy(), "consumed": p.consumed.copy(),
                       "discarded": p.discarded.copy(), "relays": len(sim.relay_log)}
        end = sim.sched["end_s"].to_numpy(dtype=float)[sim.flown]
        self._pass_end_s = np.sort(end[end >= self.t0_s])  # passes whose key still arrives (after run_until(t0))
        self._held: dict[str, tuple[str, str, bytes]] = {}
        # Counters per (master, slave): keys and bits issued per route, refusals by status.
        self.issued: dict = defaultdict(lambda: [0, 0])
        self.fetched: dict = defaultdict(int)
        self.refused: dict = defaultdict(lambda: defaultdict(int))

    @property
    def pools(self):
        """The simulation's :class:`~satqkd.network.pools.Pools`."""
        return self.sim.pools

    @property
    def stores(self):
        """The simulation's on-board :class:`~satqkd.network.satellite.SatelliteStores`."""
        return self.sim.stores

    @property
    def passes_arrived(self) -> int:
        """Flown passes whose key arrived on board since the start instant."""
        return int(np.searchsorted(self._pass_end_s, self.sim.t_s, side="right")) - int(
            np.searchsorted(self._pass_end_s, self.t0_s, side="right"))

    @property
    def relay_commands(self) -> int:
        """Satellite relay commands (XOR announcements) issued since the start instant."""
        return len(self.sim.relay_log) - self._start["relays"]

    # -- the clock ---------------------------------------------------------
    def start_clock(self):
        """(Re)start the clock at the start instant: the server calls it once it listens."""
        with self.lock:
            self._real0 = self._clock()

    def now_s(self) -> float:
        """Simulated seconds after the scenario's start (at most the span's end: the plan stops there)."""
        return min(self.t0_s + self.speed * (self._clock() - self._real0), self.span_s)

    def now_utc(self) -> pd.Timestamp:
        return self.start + pd.to_timedelta(self.now_s(), unit="s")

    def _catch_up(self) -> float:
        """Run the simulation up to now (the caller holds the lock)."""
        t = self.now_s()
        self.sim.run_until(t)
        return self.sim.t_s

    # -- the requests ------------------------------------------------------
    def is_sae(self, name: str) -> bool:
        return name in self._sae_set

    def _check_pair(self, master: str, slave: str, role: str):
        other = slave if role == "master" else master
        if other not in self._sae_set:
            raise KeyRefused(400, f"unknown SAE ID: {other[:80]!r} is not a user site of the network")
        if master == slave:
            raise KeyRefused(400, "master and slave SAE are the same")

    def refuse(self, master: str, slave: str, status: int):
        """Count a refusal (names that are no SAE are counted as ``(unknown)``: the table stays bounded)."""
        master = master if master in self._sae_set else "(unknown)"
        slave = slave if slave in self._sae_set else "(unknown)"
        with self.lock:
            self.refused[(master, slave)][status] += 1

    def status(self, master: str, slave: str) -> dict:
        """ETSI GS QKD 014 ``status`` (section 6.1) of the pair, on the route a request would take now."""
        self._check_pair(master, slave, "master")
        lim = self.limits
        with self.lock:
            self._catch_up()
            sim, p = self.sim, self.pools
            found = sim.route_now(master, slave, lim.key_size_bits)
            stored = int(found[1] // lim.key_size_bits) if found is not None else 0
            routes, _, _ = sim.candidates(master, slave)
            idx = routes[0].idx if routes else np.empty(0, dtype=np.intp)
            most = int((p.capacity[idx] - p.minimum[idx]).min() // lim.key_size_bits) if idx.size else 0
        return {
            "source_KME_ID": f"KME-{master}",
            "target_KME_ID": f"KME-{slave}",
            "master_SAE_ID": master,
            "slave_SAE_ID": slave,
            "key_size": lim.key_size_bits,
            "stored_key_count": stored,
            "max_key_count": most,
            "max_key_per_request": lim.max_key_per_request,
            "max_key_size": lim.max_key_size_bits,
            "min_key_size": lim.min_key_size_bits,
            "max_SAE_ID_count": 0,
        }

    def check_size(self, number: int, size: int):
        lim = self.limits
        if not 1 <= number <= lim.max_key_per_request:
            raise KeyRefused(400, f"number: expected 1 to {lim.max_key_per_request} (max_key_per_request), got {number}")
        if not lim.min_key_size_bits <= size <= lim.max_key_size_bits or size % 8:
            raise KeyRefused(400, f"size: expected a multiple of 8 from {lim.min_key_size_bits} to "
                                  f"{lim.max_key_size_bits} bits (min_key_size, max_key_size), got {size}")

    def issue(self, master: str, slave: str, number: int, size: int) -> list[tuple[str, bytes]]:
        """``number`` fresh keys of ``size`` bits from ``master`` to ``slave``, relayed now; or 503."""
        self._check_pair(master, slave, "master")
        self.check_size(number, size)
        bits = float(number * size)
        with self.lock:
            if len(self._held) + number > self.limits.max_keys_held:
                raise KeyRefused(503, "too many keys issued and not yet fetched by their slave SAEs")
            t = self._catch_up()
            parts = self.sim.serve_request(master, slave, bits)
            if parts is None:
                raise KeyRefused(503, f"not enough key between {master} and {slave} now "
                                      f"({pd.Timestamp(self.start + pd.to_timedelta(t, unit='s')):%Y-%m-%d %H:%M:%S} UTC "
                                      f"in the plan)", [{"requested_bits": int(bits)}])
            keys = [(str(uuid.uuid4()), secrets.token_bytes(size // 8)) for _ in range(number)]
            for key_id, key in keys:
                self._held[key_id] = (master, slave, key)
            for j, (route, part_bits) in enumerate(parts):  # a split request: its keys on its first route
                c = self.issued[(master, slave, route)]
                c[0] += number if j == 0 else 0
                c[1] += part_bits
        return keys

    def fetch(self, master: str, slave: str, key_ids: list[str]) -> list[tuple[str, bytes]]:
        """The keys ``key_ids`` that ``master`` sent to ``slave``, once: all of them, or an error and none.

        A key that does not exist, was fetched already or belongs to another
        pair gets the same answer, so a request learns nothing about keys
        that are not its own."""
        self._check_pair(master, slave, "slave")
        if not 1 <= len(key_ids) <= self.limits.max_key_per_request:
            raise KeyRefused(400, f"key_IDs: expected 1 to {self.limits.max_key_per_request} key IDs, got {len(key_ids)}")
        if len(set(key_ids)) != len(key_ids):
            raise KeyRefused(400, "key_IDs: a key_ID is listed twice")
        with self.lock:
            for k in key_ids:
                held = self._held.get(k)
                if held is None or held[0] != master or held[1] != slave:
                    raise KeyRefused(400, "key_ID not found for this master and slave SAE (unknown, or fetched already)",
                                     [{"key_ID": k}])
            out = [(k, self._held.pop(k)[2]) for k in key_ids]
            self.fetched[(master, slave)] += len(out)
        return out

    # -- what the session did ------------------------------------------------
    def pool_table(self) -> pd.DataFrame:
        """Every pool now: level, state, and the bits generated, consumed and discarded in the session."""
        with self.lock:
            t = self._catch_up()
            p, s0 = self.pools, self._start
            links = self.network.links
            return pd.DataFrame({
                "time_utc": (self.start + pd.to_timedelta(t, unit="s")).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "pool": links["link"].to_numpy(), "kind": links["kind"].to_numpy(),
                "level_bits": p.level.copy(), "state": [STATES[s] for s in p.state],
                "start_level_bits": s0["level"].copy(), "generated_bits": p.generated - s0["generated"],
                "consumed_bits": p.consumed - s0["consumed"], "discarded_bits": p.discarded - s0["discarded"],
            })

    def pair_table(self) -> pd.DataFrame:
        """Per (master, slave, route): keys and bits issued, keys fetched, requests refused by status."""
        with self.lock:
            rows = []
            pairs = {(m, s) for m, s, _ in self.issued} | set(self.refused) | set(self.fetched)
            for m, s in sorted(pairs):
                routes = sorted(r for mm, ss, r in self.issued if (mm, ss) == (m, s)) or [""]
                for j, r in enumerate(routes):
                    keys, bits = self.issued.get((m, s, r), (0, 0))
                    ref = self.refused.get((m, s), {}) if j == 0 else {}
                    rows.append({"master_SAE_ID": m, "slave_SAE_ID": s, "route": r, "hops": r.count(">"),
                                 "keys_served": keys, "bits_served": bits,
                                 "keys_fetched": self.fetched.get((m, s), 0) if j == 0 else 0,
                                 "refused_400": ref.get(400, 0), "refused_401": ref.get(401, 0),
                                 "refused_503": ref.get(503, 0)})
        cols = ["master_SAE_ID", "slave_SAE_ID", "route", "hops", "keys_served", "bits_served", "keys_fetched",
                "refused_400", "refused_401", "refused_503"]
        return pd.DataFrame(rows, columns=cols)

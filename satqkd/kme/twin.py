"""The live twin of a planned network: its key pools on a running clock, and the keys handed out.

:class:`NetworkTwin` starts from the network as the simulation leaves it at
an instant (:func:`satqkd.network.simulate.state_at`: every pool's level
and state, every on-board store, the passes still to come) and goes on in
real time scaled by ``speed`` (simulated seconds per real second):

* **fibre** blocks keep closing, ``block_bits`` every ``block_s``
  (:meth:`~satqkd.network.pools.Pools.advance`, exact between looks);
* **satellite** passes keep arriving at the end of their usable window and
  are relayed by the ground command
  (:func:`~satqkd.network.satellite.relay_pass`), up to the end of the
  scenario's span; after it only fibre adds key;
* **requests** of the key-delivery interface drain it: :meth:`issue`
  relays ``number * size`` bits from master to slave on the route
  :meth:`~satqkd.network.routing.Router.choose` picks at that instant (the
  simulation's rule), consuming them from every pool of the route.  The
  scenario's own demands stop at the start instant: the clients are the
  demand now.

The pools, the router and the relay are the network stage's own; this
module only keeps the clock, the keys handed out and the counters.

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

from ..network.pools import STATES, Pools
from ..network.routing import Router
from ..network.satellite import SatelliteStores, relay_pass
from ..network.simulate import NetworkState
from ..network.topology import Network

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
    """Pools, stores and keys of a network, on a clock started at ``state.t_s`` (seconds after ``start``)."""

    def __init__(self, network: Network, state: NetworkState, start, span_s: float, speed: float = 1.0,
                 clock=time.monotonic):
        self.network = network
        self.start = pd.Timestamp(start)
        self.span_s = float(span_s)
        self.speed = float(speed)
        self._clock = clock
        self.lock = threading.Lock()
        links = network.links
        n = len(links)
        self.pools = Pools(network.pools, links["block_bits"].to_numpy(), links["block_s"].to_numpy())
        self.pools.start_at(state.level_bits, state.state, state.t_s)
        caps = {(sl.satellite, st): sl.store_capacity_bits for sl in network.satellites for st in sl.stations}
        self.stores = SatelliteStores(state.store_keys, [caps[k] for k in state.store_keys])
        self.stores.level[:] = state.store_level_bits
        sched = state.schedule
        due = (sched["served"].astype(bool) & (sched["end_s"] >= state.t_s) & (sched["end_s"] < span_s)).to_numpy()
        future = sched.loc[due].sort_values("end_s", kind="stable")
        self._passes = list(zip(future["end_s"].astype(float), future["satellite"], future["station"],
                                future["key_bits"].astype(float)))
        self._next_pass = 0
        self.passes_relayed = 0
        self._everything = np.arange(n)
        kinds = dict(zip(network.nodes["node"], network.nodes["kind"]))
        self.router = Router(network.graph, n, network.candidate_paths, kinds)
        self.saes = sorted(node for node, kind in kinds.items() if kind == "user")
        self._sae_set = frozenset(self.saes)
        self.limits = Limits(key_size_bits=int(min(p.key_size_bits for p in network.pools)))
        self.t0_s = float(state.t_s)
        self._real0 = clock()
        self._held: dict[str, tuple[str, str, bytes]] = {}
        # Counters per (master, slave): keys and bits issued per route, refusals by status.
        self.issued: dict = defaultdict(lambda: [0, 0])
        self.fetched: dict = defaultdict(int)
        self.refused: dict = defaultdict(lambda: defaultdict(int))

    # -- the clock ---------------------------------------------------------
    def start_clock(self):
        """(Re)start the clock at the start instant: the server calls it once it listens."""
        with self.lock:
            self._real0 = self._clock()

    def now_s(self) -> float:
        """Simulated seconds after the scenario's start."""
        return self.t0_s + self.speed * (self._clock() - self._real0)

    def now_utc(self) -> pd.Timestamp:
        return self.start + pd.to_timedelta(self.now_s(), unit="s")

    def _catch_up(self) -> float:
        """Bring pools and stores to now: the passes that ended since, then the fibre blocks."""
        t = self.now_s()
        while self._next_pass < len(self._passes) and self._passes[self._next_pass][0] <= t:
            end_s, sat, st, key = self._passes[self._next_pass]
            self.pools.advance(self._everything, end_s)
            relay_pass(self.stores, self.pools, self.network.satellites, sat, st, key)
            self._next_pass += 1
            self.passes_relayed += 1
        self.pools.advance(self._everything, t)
        return t

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
            p = self.pools
            found = self.router.choose(master, slave, lim.key_size_bits, p.level, p.minimum, p.threshold)
            if found is None:
                paths, idxs, _ = self.router.candidates(master, slave)
                idx = idxs[0] if idxs else np.empty(0, dtype=np.intp)
            else:
                idx = found[1]
            usable = np.maximum(p.level[idx] - p.minimum[idx], 0.0)
            stored = int(usable.min() // lim.key_size_bits) if idx.size and found is not None else 0
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
            p = self.pools
            found = self.router.choose(master, slave, bits, p.level, p.minimum, p.threshold)
            if found is None:
                raise KeyRefused(503, f"not enough key between {master} and {slave} now "
                                      f"({pd.Timestamp(self.start + pd.to_timedelta(t, unit='s')):%Y-%m-%d %H:%M:%S} UTC "
                                      f"in the plan)", [{"requested_bits": int(bits)}])
            route, idx = found
            p.consume(idx, bits)
            keys = [(str(uuid.uuid4()), secrets.token_bytes(size // 8)) for _ in range(number)]
            for key_id, key in keys:
                self._held[key_id] = (master, slave, key)
            c = self.issued[(master, slave, route)]
            c[0] += number
            c[1] += int(bits)
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
            p = self.pools
            links = self.network.links
            return pd.DataFrame({
                "time_utc": (self.start + pd.to_timedelta(t, unit="s")).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "pool": links["link"].to_numpy(), "kind": links["kind"].to_numpy(),
                "level_bits": p.level.copy(), "state": [STATES[s] for s in p.state],
                "start_level_bits": p.initial.copy(), "generated_bits": p.generated.copy(),
                "consumed_bits": p.consumed.copy(), "discarded_bits": p.discarded.copy(),
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

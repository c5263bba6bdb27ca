"""A synthetic trusted-relay network for the large benchmark (seeded, no satellite).

``synthetic_spec(seed)`` returns a ``network:`` mapping (the scenario's
YAML shape) of ``n_relays`` relays and ``n_users`` user sites scattered
over a 12 x 12 degree box: a minimum spanning tree of the relays plus
their shortest other neighbour links up to ``n_links`` links in all, each
user on one access link to its nearest relay, and ``n_pairs`` demand pairs
of distinct users (constant 64 bit/s, requested hourly).  Fibre lengths
are the great-circle distance x 1.5, rounded to 1 km (so the fibre key of
only a few hundred distinct lengths is computed).
"""

from __future__ import annotations

import numpy as np


def synthetic_spec(seed: int = 1, n_relays: int = 1800, n_users: int = 1200, n_links: int = 9000,
                   n_pairs: int = 600, rate_bps: float = 64.0) -> dict:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial import cKDTree

    from satqkd.network.topology import great_circle_km

    rng = np.random.default_rng(seed)
    lat = rng.uniform(28.0, 40.0, n_relays + n_users)
    lon = rng.uniform(105.0, 117.0, n_relays + n_users)
    xy = np.c_[lat, lon * np.cos(np.radians(34.0))]
    names = [f"R{i:04d}" for i in range(n_relays)] + [f"U{i:04d}" for i in range(n_users)]
    nodes = [{"name": names[i], "kind": "relay" if i < n_relays else "user",
              "latitude_deg": round(float(lat[i]), 5), "longitude_deg": round(float(lon[i]), 5)} for i in range(len(names))]
    # Relay backbone: spanning tree first (connected), then the shortest neighbour pairs.
    tree = cKDTree(xy[:n_relays])
    d, j = tree.query(xy[:n_relays], k=13)
    i = np.repeat(np.arange(n_relays), 12)
    j, d = j[:, 1:].ravel(), d[:, 1:].ravel()
    a, b = np.minimum(i, j), np.maximum(i, j)
    key = a * n_relays + b
    key, first = np.unique(key, return_index=True)
    a, b, d = a[first], b[first], d[first]
    mst = minimum_spanning_tree(coo_matrix((d, (a, b)), shape=(n_relays, n_relays))).tocoo()
    chosen = set(zip(np.minimum(mst.row, mst.col).tolist(), np.maximum(mst.row, mst.col).tolist()))
    want = n_links - n_users
    for k in np.argsort(d, kind="stable"):
        if len(chosen) >= want:
            break
        chosen.add((int(a[k]), int(b[k])))
    pairs = sorted(chosen)
    _, near = tree.query(xy[n_relays:], k=1)
    ends = pairs + [(n_relays + u, int(near[u])) for u in range(n_users)]
    ea, eb = np.array([e[0] for e in ends]), np.array([e[1] for e in ends])
    km = np.maximum(np.round(1.5 * great_circle_km(lat[ea], lon[ea], lat[eb], lon[eb])), 1.0)
    links = [{"a": names[x], "b": names[y], "length_km": float(L)} for x, y, L in zip(ea, eb, km)]
    users = rng.permutation(np.arange(n_relays, n_relays + n_users))
    demands = [{"a": names[users[2 * p]], "b": names[users[2 * p + 1]], "kind": "constant", "rate_bps": rate_bps,
                "every_s": 3600, "timeout_s": 7200} for p in range(n_pairs)]
    return {"nodes": nodes, "fibre_links": links, "fibre_system": "chen2021_625mhz", "demands": demands,
            "pool": {"capacity_bits": 1e9, "minimum_bits": 1e4, "threshold_bits": 1e6, "initial_bits": 1e6},
            "record_every_s": 3600, "seed": seed}

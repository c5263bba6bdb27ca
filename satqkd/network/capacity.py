"""End-to-end key capacity: how much key a pair of nodes can share per day.

Each link can carry its **daily key volume** (fibre: key rate x 86,400 s;
satellite link: the smaller of the two stations' flown pass keys per day,
which is all the XOR relay can give).  Hop-by-hop relay spends the same bits
on every link of a route, and routes may run in parallel, so the most key
two nodes can share per day is the **maximum flow** between them over the
undirected graph with these capacities (networkx ``maximum_flow``), and the
links that limit them are the edges of a **minimum cut** (networkx
``minimum_cut``).  User sites other than the two ends carry no transit.
Pool capacities and timing are ignored here; the simulation has them.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

__all__ = ["capacity_table", "pair_capacity"]


def _digraph(network, volumes, a, b) -> nx.DiGraph:
    g = nx.DiGraph()
    kinds = dict(zip(network.nodes["node"], network.nodes["kind"]))
    for u, v, data in network.graph.edges(data=True):
        if (kinds[u] == "user" and u not in (a, b)) or (kinds[v] == "user" and v not in (a, b)):
            continue
        cap = float(volumes[data["link"]])
        g.add_edge(u, v, capacity=cap, link=data["link"])
        g.add_edge(v, u, capacity=cap, link=data["link"])
    g.add_nodes_from((a, b))
    return g


def pair_capacity(network, volumes, a: str, b: str):
    """``(bits_per_day, bottleneck_link_indices)`` for nodes ``a`` and ``b``."""
    g = _digraph(network, np.asarray(volumes, dtype=float), a, b)
    value, (side_a, side_b) = nx.minimum_cut(g, a, b)
    cut = sorted({g[u][v]["link"] for u in side_a for v in g.successors(u) if v in side_b})
    return float(value), cut


def capacity_table(network, links: pd.DataFrame, pairs) -> pd.DataFrame:
    """One row per pair: daily capacity, bottleneck link(s), shortest route and distance."""
    from .topology import great_circle_km

    vol = links["daily_volume_bits"].to_numpy()
    pos = network.nodes.set_index("node")
    rows = []
    for a, b in pairs:
        value, cut = pair_capacity(network, vol, a, b)
        try:
            route = nx.shortest_path(network.graph, a, b, weight="length_km")
            route_km = float(sum(network.graph[u][v]["length_km"] for u, v in zip(route[:-1], route[1:])))
            n_hops = len(route) - 1
        except nx.NetworkXNoPath:
            route_km, n_hops = np.nan, 0
        rows.append({
            "a": a, "b": b,
            "great_circle_km": float(great_circle_km(pos.at[a, "latitude_deg"], pos.at[a, "longitude_deg"],
                                                     pos.at[b, "latitude_deg"], pos.at[b, "longitude_deg"])),
            "route_km": route_km, "hops": n_hops,
            "capacity_bits_per_day": value,
            "bottleneck": "; ".join(links.at[k, "link"] for k in cut),
            "bottleneck_bits_per_day": float(sum(vol[k] for k in cut)),
        })
    return pd.DataFrame(rows)

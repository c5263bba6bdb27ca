"""Key-aware routing over trusted relays.

A route is a path of links; relaying ``bits`` end to end consumes ``bits``
from **every** pool on it (hop-by-hop one-time-pad relay: each relay
decrypts with one link's key and re-encrypts with the next's).

:class:`Router` precomputes, once per node pair, the ``k`` shortest simple
paths by fibre length (networkx ``shortest_simple_paths``).  For a request
it takes the first candidate on which every pool stays **at or above its
threshold** after the delivery (all *ready*); failing that, the first on
which every pool stays at or above its minimum; failing that, if the pair
has more than ``k`` simple paths, a networkx Dijkstra over the links that
can serve, cached by the set of those links (so it runs again only when
that set changes).  Routes never pass through user sites that are not an
end of the request.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np

__all__ = ["Router"]


class Router:
    """Candidate routes per node pair and the key-aware choice among them."""

    def __init__(self, graph: nx.Graph, n_links: int, k: int = 3, transit_kinds: dict | None = None):
        self.graph = graph
        self.k = int(k)
        self.n_links = n_links
        # Users are ends, never transit: route on a view without the other users.
        self.users = {n for n, kind in (transit_kinds or {}).items() if kind == "user"}
        self._paths: dict = {}
        self._fallback: dict = {}

    def _view(self, a, b, edge_ok=None):
        hide = self.users - {a, b}
        return nx.subgraph_view(self.graph, filter_node=lambda n: n not in hide,
                                filter_edge=(lambda u, v: edge_ok[self.graph[u][v]["link"]]) if edge_ok is not None else nx.filters.no_filter)

    def _links(self, path):
        return np.array([self.graph[u][v]["link"] for u, v in zip(path[:-1], path[1:])], dtype=np.intp)

    def candidates(self, a, b):
        """``(routes, link_index_arrays, complete)`` for the pair, computed once.

        A route is its node names joined by ``>``; ``complete`` is True when
        the pair has no more simple paths than the candidates."""
        key = (a, b)
        if key not in self._paths:
            view = self._view(a, b)
            try:
                gen = nx.shortest_simple_paths(view, a, b, weight="length_km")
                paths = list(itertools.islice(gen, self.k + 1))
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                paths = []
            complete = len(paths) <= self.k
            paths = paths[: self.k]
            self._paths[key] = ([">".join(p) for p in paths], [self._links(p) for p in paths], complete)
            self._paths[(b, a)] = ([">".join(p[::-1]) for p in paths], [x[::-1] for x in self._paths[key][1]], complete)
        return self._paths[key]

    def choose(self, a, b, bits: float, level, minimum, threshold):
        """``(route, link_indices)`` that relays ``bits`` from ``a`` to ``b`` now, or None.

        The rule of the module docstring (the one :func:`~satqkd.network.simulate.simulate`
        applies): the first candidate whose pools all stay ready, else the
        first whose pools all stay above their minimum, else the fallback."""
        paths, idxs, complete = self.candidates(a, b)
        spare = None
        for path, idx in zip(paths, idxs):
            after = level[idx] - bits
            if (after >= minimum[idx]).all():
                if (after >= threshold[idx]).all():
                    return path, idx
                if spare is None:
                    spare = (path, idx)
        if spare is not None or complete:
            return spare
        return self.fallback(a, b, level - bits >= minimum)

    def fallback(self, a, b, servable: np.ndarray):
        """``(route, link_indices)`` of the shortest path over the links that can
        serve (cached by that set), or None."""
        key = (a, b, np.packbits(servable).tobytes())
        if len(self._fallback) > 100_000:
            self._fallback.clear()  # bounded memory over long runs
        if key not in self._fallback:
            try:
                path = nx.shortest_path(self._view(a, b, servable), a, b, weight="length_km")
                self._fallback[key] = (">".join(path), self._links(path))
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                self._fallback[key] = None
        return self._fallback[key]

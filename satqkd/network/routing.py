"""Key-aware routing over trusted relays.

A route is a path of links; relaying ``bits`` end to end consumes ``bits``
from **every** pool on it (hop-by-hop one-time-pad relay: each relay
decrypts with one link's key and re-encrypts with the next's).

:class:`Router` computes, once per node pair, the ``k`` shortest simple
paths by fibre length (Yen's algorithm, :func:`scipy.sparse.csgraph.yen`,
on a directed copy of the graph in which user sites other than the
request's ends have no outgoing edge, so they are never transit).  For a
request the simulation takes the first candidate on which every pool stays
**at or above its threshold** after the delivery (all *ready*); failing
that, the first on which every pool stays at or above its minimum; failing
that, if the pair has more than ``k`` simple paths, :meth:`Router.fallback`:
a Dijkstra (:func:`scipy.sparse.csgraph.dijkstra`) over the links that can
serve, cached by the set of those links (so it runs again only when that
set changes).  Routes never pass through user sites that are not an end of
the request.

Equal-length paths are ordered as scipy's Yen returns them (deterministic
for a given graph); the route of a request is therefore reproducible, but
may differ from networkx's ``shortest_simple_paths`` among ties.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra, yen

__all__ = ["Router"]


class Router:
    """Candidate routes per node pair and the key-aware choice among them."""

    def __init__(self, graph: nx.Graph, n_links: int, k: int = 3, transit_kinds: dict | None = None):
        self.graph = graph
        self.k = int(k)
        self.n_links = n_links
        kinds = transit_kinds or {}
        self.names = list(graph.nodes)
        self.index = {n: i for i, n in enumerate(self.names)}
        n_nodes = len(self.names)
        # Both directions of every edge, with its link index and length.
        src, dst, length, link = [], [], [], []
        for u, v, data in graph.edges(data=True):
            iu, iv = self.index[u], self.index[v]
            src += [iu, iv]
            dst += [iv, iu]
            length += [float(data["length_km"])] * 2
            link += [int(data["link"])] * 2
        self._src = np.asarray(src, dtype=np.int64)
        self._dst = np.asarray(dst, dtype=np.int64)
        self._length = np.asarray(length, dtype=float)
        self._edge_link = np.asarray(link, dtype=np.int64)
        self._user = np.array([kinds.get(n) == "user" for n in self.names], dtype=bool)
        self._n_nodes = n_nodes
        # Users are ends, never transit: their outgoing edges are kept only for the source.
        self._transit = ~self._user[self._src]
        self._link_of = {}
        for e in range(self._src.size):
            self._link_of[(int(self._src[e]), int(self._dst[e]))] = int(self._edge_link[e])
        self._paths: dict = {}
        self._fallback: dict = {}

    def _matrix(self, a: int, edge_ok=None) -> csr_matrix:
        keep = self._transit | (self._src == a)
        if edge_ok is not None:
            keep &= edge_ok[self._edge_link]
        return csr_matrix((self._length[keep], (self._src[keep], self._dst[keep])), shape=(self._n_nodes, self._n_nodes))

    def _walk(self, pred_row: np.ndarray, a: int, b: int) -> list[int]:
        path = [b]
        while path[-1] != a:
            path.append(int(pred_row[path[-1]]))
        return path[::-1]

    def _route(self, path: list[int]):
        names = ">".join(self.names[i] for i in path)
        links = np.array([self._link_of[(u, v)] for u, v in zip(path[:-1], path[1:])], dtype=np.intp)
        return names, links

    def candidates(self, a, b):
        """``(routes, link_index_arrays, complete)`` for the pair, computed once.

        A route is its node names joined by ``>``; ``complete`` is True when
        the pair has no more simple paths than the candidates."""
        key = (a, b)
        if key not in self._paths:
            paths = []
            if a in self.index and b in self.index and a != b:
                ia, ib = self.index[a], self.index[b]
                _, pred = yen(self._matrix(ia), ia, ib, self.k + 1, return_predecessors=True)
                paths = [self._walk(pred[i], ia, ib) for i in range(pred.shape[0])]
            complete = len(paths) <= self.k
            paths = paths[: self.k]
            routes = [self._route(p) for p in paths]
            self._paths[key] = ([r[0] for r in routes], [r[1] for r in routes], complete)
            self._paths[(b, a)] = ([">".join(r[0].split(">")[::-1]) for r in routes], [r[1][::-1] for r in routes], complete)
        return self._paths[key]

    def fallback(self, a, b, servable: np.ndarray):
        """``(route, link_indices)`` of the shortest path over the links that can
        serve (cached by that set), or None."""
        key = (a, b, np.packbits(servable).tobytes())
        if len(self._fallback) > 100_000:
            self._fallback.clear()  # bounded memory over long runs
        if key not in self._fallback:
            ia, ib = self.index[a], self.index[b]
            dist, pred = dijkstra(self._matrix(ia, np.asarray(servable, bool)), indices=ia, return_predecessors=True)
            self._fallback[key] = self._route(self._walk(pred, ia, ib)) if np.isfinite(dist[ib]) else None
        return self._fallback[key]

"""Entanglement links: two ground stations sharing key from a satellite's pair source.

A link type beside the trusted-relay satellite (:mod:`satqkd.network.satellite`),
so that a planner can put both architectures into one scenario and compare
them on the same passes:

* **trusted-relay satellite** -- each pass leaves key shared between the
  satellite and one station; the satellite announces the XOR of two stations'
  keys.  The satellite holds every key it relays: it (and its operator) must
  be trusted, as must the two stations.  Between two stations over a span it
  relays at most the smaller of the two stations' delivered keys (an
  unlimited on-board store; the XOR consumes equal amounts from both).
* **entanglement dual downlink** (:mod:`satqkd.entanglement`) -- the
  satellite sends one photon of each pair to each station at once; the key
  is made by the stations alone and the source may even be the adversary's:
  only the two stations are trusted.  It needs both stations to see the
  satellite together, and it loses both links' photons.

In the network an entanglement link is one pool (both ends hold the same
key) fed at the span's mean rate: the dual downlink's finite key over the
span (one block, clear windows) spread evenly, in daily instalments
(``block_s`` = 1 day), so it behaves like a fibre link in the simulation and
in the capacity table.  That is a planning average: the key of a
one-block-per-span link only exists once the span's data are in.

Invariants: an entanglement link's daily volume is its dual downlink's
``key_bits_per_day``; nothing here changes a satellite or fibre link.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..errors import SatqkdError

__all__ = ["check_entanglement_links", "attach_dual_key", "compare_architectures", "RELAY_TRUSTED", "ARCHITECTURE_COLUMNS"]

RELAY_TRUSTED = "the satellite (it holds both stations' keys) and the two stations"
ARCHITECTURE_COLUMNS = ["station_a", "station_b", "satellite", "architecture", "key_bits", "key_bits_per_day",
                        "trusted", "note"]
_DAY_S = 86400.0


def _matching(rows: pd.DataFrame, a: str, b: str, name: str) -> pd.DataFrame:
    """The rows (``link``, ``station_a``, ``station_b``) that feed link a~b."""
    if name:
        return rows[rows["link"] == name]
    return rows[((rows["station_a"] == a) & (rows["station_b"] == b)) | ((rows["station_a"] == b) & (rows["station_b"] == a))]


def check_entanglement_links(network, dual_downlinks, where: str = "network") -> None:
    """Refuse, when the scenario is loaded, an entanglement link that no
    ``dual_downlinks:`` entry feeds (by its name, else by its two stations),
    or one whose named dual downlink joins other stations."""
    links = network.links
    rows = pd.DataFrame([{"link": d.name, "station_a": d.station_a, "station_b": d.station_b} for d in dual_downlinks],
                        columns=["link", "station_a", "station_b"])
    for k in links.index[links["kind"] == "entanglement"]:
        a, b, name = links.at[k, "a"], links.at[k, "b"], links.at[k, "system"]
        match = _matching(rows, a, b, name)
        what = f"dual downlink {name!r}" if name else f"dual downlink between {a!r} and {b!r}"
        if match.empty:
            raise SatqkdError(f"{where}.entanglement_links: {links.at[k, 'link']}: the scenario has no {what}; "
                              f"add it to dual_downlinks")
        if {match["station_a"].iat[0], match["station_b"].iat[0]} != {a, b}:
            raise SatqkdError(f"{where}.entanglement_links: {links.at[k, 'link']}: {what} joins "
                              f"{match['station_a'].iat[0]!r} and {match['station_b'].iat[0]!r}; expected {a!r} and {b!r}")


def attach_dual_key(network, dual_summary: pd.DataFrame, where: str = "network"):
    """A copy of ``network`` whose entanglement links carry their dual
    downlink's mean key rate (``key_bits_per_day / 86400``), in daily blocks.

    An entanglement link is matched to the ``dual_summary`` row named by its
    ``system`` (the ``dual_downlink`` it gave), else to the row joining the
    same two stations (either order).
    """
    links = network.links.copy()
    rows = links.index[links["kind"] == "entanglement"]
    if not len(rows):
        return network
    for k in rows:
        a, b, name = links.at[k, "a"], links.at[k, "b"], links.at[k, "system"]
        match = _matching(dual_summary, a, b, name)
        if match.empty:
            what = f"dual downlink {name!r}" if name else f"a dual downlink between {a!r} and {b!r}"
            raise SatqkdError(f"{where}.entanglement_links: {links.at[k, 'link']}: the scenario has no {what}; "
                              f"add it to dual_downlinks")
        per_day = float(match["key_bits_per_day"].iat[0])
        links.at[k, "system"] = str(match["link"].iat[0])
        links.at[k, "qber"] = float(match["qber"].iat[0])
        links.at[k, "key_rate_bps"] = per_day / _DAY_S
        links.at[k, "block_bits"] = per_day
        links.at[k, "block_s"] = _DAY_S
    return dataclasses.replace(network, links=links)


def compare_architectures(passes: pd.DataFrame, dual_summary: pd.DataFrame, days: float) -> pd.DataFrame:
    """Key per day and who is trusted, for every dual downlink's station pair:
    the entanglement link itself and the same satellite as a trusted relay.

    The relay's key is the smaller of the two stations' delivered
    prepare-and-measure key over the span (passes ``scheduled`` and
    ``clear`` when those columns exist), i.e. an unlimited on-board store.
    Returns :data:`ARCHITECTURE_COLUMNS`, two rows per pair.
    """
    rows = []
    for _, d in dual_summary.iterrows():
        sats = [s.strip() for s in str(d["satellite"]).split(",") if s.strip() and s.strip() != "-"]
        got = []
        for st in (d["station_a"], d["station_b"]):
            p = passes[(passes["station"] == st) & passes["satellite"].isin(sats)] if len(passes) else passes
            key = p["key_bits"].fillna(0.0).to_numpy(float) if len(p) else np.zeros(0)
            if len(p) and "scheduled" in p:
                key = key * p["scheduled"].astype(bool).to_numpy()
            if len(p) and "clear" in p:
                key = key * p["clear"].astype(float).to_numpy()
            got.append(float(key.sum()))
        relay = min(got)
        rows.append({"station_a": d["station_a"], "station_b": d["station_b"], "satellite": d["satellite"],
                     "architecture": "trusted-relay satellite", "key_bits": relay,
                     "key_bits_per_day": relay / days if days > 0 else np.nan, "trusted": RELAY_TRUSTED,
                     "note": f"smaller of the two stations' delivered downlink keys ({got[0]:,.0f} and {got[1]:,.0f} bits)"})
        rows.append({"station_a": d["station_a"], "station_b": d["station_b"], "satellite": d["satellite"],
                     "architecture": "entanglement dual downlink", "key_bits": float(d["key_bits"]),
                     "key_bits_per_day": float(d["key_bits_per_day"]), "trusted": d["trusted"],
                     "note": f"BBM92 finite key, {d['block']} block, {int(d['windows'])} joint windows"})
    return pd.DataFrame(rows, columns=ARCHITECTURE_COLUMNS)

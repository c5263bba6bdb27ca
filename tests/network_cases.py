"""Small networks for the network tests: pass tables and networks over test stations.

Shared by tests/test_network*.py (imported by name: pytest puts this folder on
the path of its test modules)."""

from __future__ import annotations

import pandas as pd

from satqkd.network import build_network
from satqkd.network.topology import NetworkSpec

START = pd.Timestamp("2021-05-20T00:00:00Z")


def network(spec: dict, stations: dict):
    """A network from a ``network:`` block over ``stations`` (name -> Station), satellite "SAT"."""
    return build_network(NetworkSpec.model_validate(spec), stations, ["SAT"], "test: network")


def passes_table(rows, start: pd.Timestamp = START) -> pd.DataFrame:
    """Pass table rows (station, start_s, end_s, key_bits) of satellite "SAT", as the key stage writes them."""
    return pd.DataFrame({
        "pass_id": range(len(rows)), "satellite": "SAT", "station": [r[0] for r in rows],
        "usable_start_utc": [start + pd.Timedelta(seconds=r[1]) for r in rows],
        "usable_end_utc": [start + pd.Timedelta(seconds=r[2]) for r in rows],
        "key_bits": [float(r[3]) for r in rows],
    })

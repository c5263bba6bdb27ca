"""Passes of many satellites over many stations: the names of the one engine.

:mod:`satqkd.passes` is batched over satellites and stations (one
satellite is a constellation of one); this module keeps the names earlier
code imports.  :func:`find_passes_many` is :func:`satqkd.passes.find_passes`
with ``per_second`` off by default.
"""

from .passes import coarse_itrs_km, find_passes_many

__all__ = ["find_passes_many", "coarse_itrs_km"]

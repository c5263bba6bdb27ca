"""Shared, offline skyfield objects: the builtin timescale and the DE421 ephemeris.

Nothing here touches the network.  The timescale uses the leap-second and
Delta T tables built into skyfield (``builtin=True``) and the planetary
ephemeris is the DE421 file that the ``skyfield-data`` package installs.
"""

from __future__ import annotations

import functools
import warnings

from skyfield.api import Loader, load

__all__ = ["timescale", "ephemeris", "earth", "sun", "moon"]


@functools.lru_cache(maxsize=None)
def timescale():
    """Return skyfield's builtin timescale (no download, ever)."""
    return load.timescale(builtin=True)


@functools.lru_cache(maxsize=None)
def ephemeris():
    """Return the DE421 ephemeris shipped by ``skyfield-data`` (1900-2050)."""
    import skyfield_data

    with warnings.catch_warnings():
        # skyfield-data warns that its *Earth orientation* file is old; we
        # never use that file (the builtin timescale has its own tables).
        warnings.simplefilter("ignore", RuntimeWarning)
        path = skyfield_data.get_skyfield_data_path()
    loader = Loader(path, verbose=False, expire=False)
    return loader("de421.bsp")


def earth():
    return ephemeris()["earth"]


def sun():
    return ephemeris()["sun"]


def moon():
    return ephemeris()["moon"]

"""Shared, offline skyfield objects: the builtin timescale and the DE421 ephemeris.

Nothing here touches the network.  The timescale uses the leap-second and
Delta T tables built into skyfield (``builtin=True``) and the planetary
ephemeris is the DE421 file that the ``skyfield-data`` package installs;
:func:`check_span` refuses a span it does not cover.
"""

from __future__ import annotations

import functools
import math
import warnings

from skyfield.api import Loader, load

from .errors import SatqkdError

__all__ = ["timescale", "ephemeris", "earth", "sun", "moon", "check_span"]


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


def check_span(start, end, where: str, labels: tuple[str, str] = ("start", "end")) -> None:
    """Refuse a time span the planetary ephemeris (DE421) does not cover.

    Sun and Moon positions (night, Moon constraints, sky background) come
    from DE421, 1899-07-29 to 2053-10-09; outside it skyfield raises deep in
    the pass search, after minutes of work.
    """
    segments = [seg.spk_segment for seg in ephemeris().segments]
    # One day of margin: the search samples a little beyond the span.
    first = max(seg.start_jd for seg in segments) + 1.0
    last = min(seg.end_jd for seg in segments) - 1.0
    ts = timescale()
    for label, t in zip(labels, (start, end)):
        if not (math.isfinite(t.tdb) and first <= t.tdb <= last):
            lo, hi = ts.tdb_jd(first).utc_strftime("%Y-%m-%d"), ts.tdb_jd(last).utc_strftime("%Y-%m-%d")
            shown = t.utc_strftime("%Y-%m-%d") if math.isfinite(t.tdb) else "not finite"
            raise SatqkdError(f"{where}{label}: {shown} is outside the DE421 ephemeris; expected dates from {lo} to {hi}")

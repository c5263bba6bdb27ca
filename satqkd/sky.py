"""Shared, offline skyfield objects: the builtin timescale and the DE421 ephemeris.

Nothing here touches the network.  The timescale uses the leap-second and
Delta T tables built into skyfield (``builtin=True``) and the planetary
ephemeris is the DE421 file that the ``skyfield-data`` package installs;
:func:`check_span` refuses a span it does not cover.
"""

from __future__ import annotations

import functools
import math
import os
import warnings

from skyfield.api import Loader, load

from .errors import SatqkdError

__all__ = ["timescale", "ephemeris", "earth", "sun", "moon", "check_span", "to_time"]


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


def _read_ephemeris_before_fork() -> None:
    """jplephem reads each segment's header lazily with a seek and a read on the kernel's one
    file object, whose offset a forked child shares with its parent and siblings: two
    children reading at once get each other's bytes (seen as "cannot reshape array of size
    40480 into shape (0,6969)").  So before any fork, the parent reads every segment of the
    open kernel (its coefficients are mapped, not copied; once per process)."""
    if ephemeris.cache_info().currsize:
        for segment in ephemeris().spk.segments:
            segment._data  # noqa: B018 (jplephem caches it on the segment)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_read_ephemeris_before_fork)


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


def to_time(value):
    """A skyfield Time from a skyfield or astropy Time, a datetime (naive =
    UTC), a date, a numpy ``datetime64`` (UTC), a pandas Timestamp or an
    ISO string."""
    import datetime as dt

    import numpy as np
    import pandas as pd

    ts = timescale()
    if hasattr(value, "tt") and hasattr(value, "whole"):
        return value
    if type(value).__module__.startswith("astropy"):
        return ts.from_astropy(value)
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise SatqkdError("time: expected a date, got numpy NaT")
        value = pd.Timestamp(value)
    if isinstance(value, str):
        try:
            value = pd.Timestamp(value)
        except ValueError:
            raise SatqkdError(f"time {value!r}: expected an ISO date such as 2026-11-28 or 2026-11-28T18:00:00Z") from None
    if isinstance(value, pd.Timestamp):
        if value is pd.NaT:
            raise SatqkdError("time: expected a date, got NaT")
        value = value.to_pydatetime()
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise SatqkdError(f"time: expected a date or time, got {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return ts.from_datetime(value)

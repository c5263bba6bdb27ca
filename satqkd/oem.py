"""CCSDS Orbit Ephemeris Messages (OEM): read them as satellites, and write them.

Mission teams deliver their orbit as an OEM (CCSDS 502.0-B-3, *Orbit Data
Messages*, ch. 5): time-tagged positions and velocities, in segments, each
with a reference frame, a time system and the interpolation to use between
states.  This module turns one into satellites the pass engine
(:mod:`satqkd.passes`) searches exactly as it searches SGP4 satellites, and
writes any satellite's orbit as an OEM.

Reading
-------
:func:`load_oem` reads KVN (the ``KEY = value`` text form) and XML (the NDM/XML
schema, bare ``<oem>`` or inside ``<ndm>``).  Every object of the file
(``OBJECT_NAME``/``OBJECT_ID``) becomes one :class:`EphemerisSatellite`, its
segments kept in file order (a later segment wins where two overlap, as after
a manoeuvre).  Every malformed input raises one
:class:`~satqkd.errors.SatqkdError` whose single line names the file, the line
(KVN) or the element (XML) and what was expected.

* **Frames.**  ``EME2000``, ``GCRF`` (and ``ICRF`` centred on the Earth, whose
  axes are the GCRF's), ``ITRF*`` (any realisation: ITRF93, ITRF2014, ...) and
  ``TEME``.  Every state is rotated once, on loading, to the Earth-fixed frame
  the pass engine works in (:mod:`satqkd.geometry`: the ITRS without polar
  motion, ~10 m at the surface, as for SGP4).  GCRF -> ITRS is the IAU
  2006/2000A CIO-based rotation ``R3(ERA) . C(t)`` (ERFA ``c2i06a`` and
  ``era00``; the celestial-to-intermediate matrix ``C`` holds precession and
  nutation, whose fastest terms have periods of days, and is interpolated
  linearly from a 6-hour grid: below a milli-arcsecond, 3 cm at a LEO
  satellite; ERA is exact at each state); EME2000 -> GCRF is the constant frame bias (ERFA ``bp00``);
  TEME -> ITRS is ``R3(GMST 1982)``, the rotation SGP4's TEME is defined with
  (Vallado et al. 2006, AIAA 2006-6753), which is the pass engine's own for
  SGP4.  Velocities lose the frame's rotation (``v - omega x r``).  UT1 comes
  from skyfield's builtin timescale: nothing is downloaded.
* **Time systems.**  ``UTC``, ``TAI``, ``TT``, ``GPS`` and ``TDB``.
* **Interpolation** as the segment says: ``LAGRANGE`` of ``INTERPOLATION_DEGREE``
  N on the N + 1 nearest states (centred on the time: as many states on each
  side, or centred on the nearest state for an odd number), ``HERMITE`` of degree N on the (N + 1) / 2
  nearest states (positions and velocities), ``LINEAR``; a segment without
  ``INTERPOLATION`` gets Lagrange of degree 7 (our choice; the standard leaves
  it to the producer).  The interpolant is built on the Earth-fixed states:
  the rotation is smooth, the same method and degree interpolate it, and a
  query then costs a few array operations (no rotation per query).
  Velocities are the Lagrange interpolant of the velocities (Lagrange) or
  the derivative of the Hermite polynomial (Hermite).  Windows never
  straddle two segments.
* **Coverage.**  A satellite is defined from the first to the last usable
  state of its segments (``USEABLE_START_TIME``/``USEABLE_STOP_TIME`` where
  given); :meth:`EphemerisSatellite.check_span` refuses a span outside that,
  or across a gap between segments, naming the file's start and stop.  The
  pass engine samples a step beyond each end of its span; there the state
  is held at the edge (never extrapolated).

Writing
-------
:func:`format_oem` samples any satellite (SGP4 or ephemeris) through the pass
engine's own Earth-fixed positions and writes a KVN OEM (EME2000 or ITRF,
UTC, Lagrange of degree 7), so a station's tracking software receives the
orbit satqkd planned with.  Reading it back gives that orbit to well under a
metre (``tests/test_oem.py``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import io
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import sky
from .errors import SatqkdError

__all__ = [
    "OEM_FRAMES",
    "OEM_TIME_SYSTEMS",
    "OEM_INTERPOLATIONS",
    "EphemerisSatellite",
    "Segment",
    "load_oem",
    "parse_oem",
    "format_oem",
    "itrs_to_frame",
    "frame_to_itrs",
    "is_ephemeris",
]

#: Reference frames understood (the Earth-centred ones of SANA's registry that
#: Earth-orbiter OEMs use); ``ITRF`` stands for every ``ITRF*`` realisation.
OEM_FRAMES = ("EME2000", "GCRF", "ICRF", "ITRF", "TEME")
#: Time systems understood.
OEM_TIME_SYSTEMS = ("UTC", "TAI", "TT", "GPS", "TDB")
#: Interpolation methods understood.
OEM_INTERPOLATIONS = ("LAGRANGE", "HERMITE", "LINEAR")

DAY_S = 86400.0
MU_KM3_S2 = 398600.4418  # EGM-96/WGS-84 GM of the Earth
EARTH_RADIUS_KM = 6378.137
DEFAULT_DEGREE = 7
# The Earth rotation angle's rate (IERS Conventions 2010, eq. 5.15), rad/s.
ERA_RATE_RAD_S = 2.0 * math.pi * 1.00273781191135448 / DAY_S
# Grid of the celestial-to-intermediate matrix (interpolated between): the
# largest nutation term of short period (13.66 d, 0.23") is interpolated
# linearly to 0.4 mas from 6-hourly values.
_C2I_STEP_S = 6 * 3600.0

_REQUIRED_META = ("OBJECT_NAME", "OBJECT_ID", "CENTER_NAME", "REF_FRAME", "TIME_SYSTEM", "START_TIME", "STOP_TIME")
_KNOWN_META = _REQUIRED_META + ("REF_FRAME_EPOCH", "USEABLE_START_TIME", "USEABLE_STOP_TIME", "INTERPOLATION",
                                "INTERPOLATION_DEGREE", "COMMENT")
_HEADER_KEYS = ("CCSDS_OEM_VERS", "COMMENT", "CLASSIFICATION", "CREATION_DATE", "ORIGINATOR", "MESSAGE_ID")
_XML_STATE = ("EPOCH", "X", "Y", "Z", "X_DOT", "Y_DOT", "Z_DOT")
_XML_ACCEL = ("X_DDOT", "Y_DDOT", "Z_DDOT")
_KVN_LINE = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*(.*?)\s*$")
_EPOCH_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d*)?Z?$")
_EPOCH_DOY = re.compile(r"^(\d{4})-(\d{3})T(\d{2}:\d{2}:\d{2}(?:\.\d*)?)Z?$")


def is_ephemeris(satellite) -> bool:
    """True for a satellite that gives its own Earth-fixed positions (a
    position provider such as :class:`EphemerisSatellite`), False for an
    SGP4 ``EarthSatellite``."""
    return hasattr(satellite, "itrs_km_at")


# ---------------------------------------------------------------------------
# Times
# ---------------------------------------------------------------------------

def _parse_epochs(values, where, strip: bool = True) -> np.ndarray:
    """Epoch labels (ISO ``YYYY-MM-DDThh:mm:ss[.s][Z]`` or day of year
    ``YYYY-DDDThh:mm:ss``) as ``datetime64[ns]``; ``where(i)`` names the
    i-th value in an error; ``strip=False`` for values already without
    surrounding blanks."""
    u = np.asarray(values, dtype=str)
    if strip:
        u = np.char.strip(u)
    if u.size and np.char.endswith(u, "Z").any():
        u = np.char.rstrip(u, "Z")
    t_at = np.char.find(u, "T")
    doy = t_at == 8
    if doy.any():
        def convert(text):
            m = _EPOCH_DOY.match(text + "Z")
            if not m:
                return text
            day = dt.date(int(m.group(1)), 1, 1) + dt.timedelta(days=int(m.group(2)) - 1)
            return f"{day.isoformat()}T{m.group(3)}"
        u = u.astype(object)
        u[doy] = [convert(x) for x in u[doy]]
        u = u.astype(str)
        t_at = np.char.find(u, "T")
    if np.all(t_at == 10):
        try:
            return u.astype("datetime64[ns]")
        except (ValueError, OverflowError):
            pass
    for i, text in enumerate(u.tolist()):
        try:
            if not _EPOCH_ISO.match(text):
                raise ValueError
            np.datetime64(text, "ns")
        except (ValueError, TypeError, OverflowError):
            raise SatqkdError(
                f"{where(i)}: expected an epoch such as 2021-04-27T00:00:00.000 (or 2021-117T00:00:00), "
                f"got {text!r}"
            ) from None
    raise SatqkdError(f"{where(0)}: expected epochs such as 2021-04-27T00:00:00.000")  # pragma: no cover


def _times(labels: np.ndarray, system: str):
    """Skyfield Times of ``datetime64[ns]`` labels read in ``system``."""
    ts = sky.timescale()
    ns = labels.astype("datetime64[ns]").astype(np.int64)
    days = np.floor_divide(ns, 86_400_000_000_000)
    sec = (ns - days * 86_400_000_000_000) / 1e9
    if system == "UTC":
        return ts.utc(1970, 1, 1 + days, 0, 0, sec)
    whole = 2440587.5 + days.astype(float)
    frac = sec / DAY_S
    if system == "GPS":  # GPS = TAI - 19 s
        return ts.tai_jd(whole, frac + 19.0 / DAY_S)
    return {"TAI": ts.tai_jd, "TT": ts.tt_jd, "TDB": ts.tdb_jd}[system](whole, frac)


# ---------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------

def _frame_key(name: str) -> str | None:
    name = name.strip().upper()
    if name.startswith("ITRF"):
        return "ITRF"
    return name if name in OEM_FRAMES else None


def _r3(angle):
    """``R3(angle)`` matrices (n, 3, 3): a rotation of the axes about z."""
    c, s = np.cos(angle), np.sin(angle)
    z, o = np.zeros_like(angle), np.ones_like(angle)
    return np.stack([np.stack([c, s, z], -1), np.stack([-s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _celestial_to_itrs(t):
    """``(R, omega)``: GCRS -> ITRS matrices (n, 3, 3) without polar motion
    at skyfield Times ``t``, and the frame's rotation rate (rad/s)."""
    import erfa

    tt_whole = np.atleast_1d(np.asarray(t.whole, float))
    tt_frac = np.atleast_1d(np.asarray(t.tt_fraction, float))
    ut1_frac = np.atleast_1d(np.asarray(t.ut1_fraction, float))
    tt_whole = np.broadcast_to(tt_whole, tt_frac.shape)
    # C(t) on a 6-hour grid, linearly interpolated (see _C2I_STEP_S).
    tt_s = ((tt_whole - tt_whole[0]) + tt_frac) * DAY_S
    lo, hi = float(tt_s.min()), float(tt_s.max())
    n = int(math.ceil((hi - lo) / _C2I_STEP_S)) + 2
    grid_s = lo + _C2I_STEP_S * np.arange(n)
    c2i = erfa.c2i06a(np.full(n, tt_whole[0]), (grid_s / DAY_S))
    c = np.empty((tt_s.size, 3, 3))
    for i in range(3):
        for j in range(3):
            c[:, i, j] = np.interp(tt_s, grid_s, c2i[:, i, j])
    era = erfa.era00(np.broadcast_to(np.atleast_1d(np.asarray(t.whole, float)), ut1_frac.shape), ut1_frac)
    return np.einsum("nij,njk->nik", _r3(era), c), ERA_RATE_RAD_S


def _frame_matrices(frame: str, t):
    """``(R, omega)``: frame -> ITRS matrices (n, 3, 3) at Times ``t`` and the
    rotation rate of the Earth-fixed frame relative to ``frame`` (rad/s)."""
    import erfa

    n = np.atleast_1d(np.asarray(t.tt)).size
    if frame == "ITRF":
        return np.broadcast_to(np.identity(3), (n, 3, 3)), 0.0
    if frame == "TEME":
        from skyfield.sgp4lib import theta_GMST1982

        whole = np.broadcast_to(np.atleast_1d(np.asarray(t.whole, float)), (n,))
        theta, theta_dot = theta_GMST1982(whole, np.atleast_1d(np.asarray(t.ut1_fraction, float)))
        return _r3(theta), float(np.mean(theta_dot)) / DAY_S
    r, omega = _celestial_to_itrs(t)
    if frame == "EME2000":
        rb, _, _ = erfa.bp00(2451545.0, 0.0)  # GCRS -> mean J2000 (the frame bias)
        r = np.einsum("nij,jk->nik", r, rb.T)
    return r, omega


def frame_to_itrs(frame: str, t, r_km, v_km_s):
    """Positions and velocities ``(3, n)`` in ``frame`` (one of
    :data:`OEM_FRAMES`, or an ITRF realisation) at Times ``t``, rotated to
    the Earth-fixed frame of :mod:`satqkd.geometry`."""
    key = _frame_key(frame)
    if key is None:
        raise SatqkdError(f"REF_FRAME: expected one of {', '.join(OEM_FRAMES)} (or ITRFyyyy), got {frame!r}")
    m, omega = _frame_matrices(key, t)
    r = np.einsum("nij,jn->in", m, r_km)
    v = np.einsum("nij,jn->in", m, v_km_s)
    if omega:
        v[0] += omega * r[1]
        v[1] -= omega * r[0]
    return r, v


def itrs_to_frame(frame: str, t, r_km, v_km_s):
    """The inverse of :func:`frame_to_itrs`."""
    key = _frame_key(frame)
    if key is None:
        raise SatqkdError(f"frame: expected one of {', '.join(OEM_FRAMES)} (or ITRFyyyy), got {frame!r}")
    m, omega = _frame_matrices(key, t)
    v = np.array(v_km_s, dtype=float, copy=True)
    if omega:
        v[0] -= omega * r_km[1]
        v[1] += omega * r_km[0]
    return np.einsum("nji,jn->in", m, r_km), np.einsum("nji,jn->in", m, v)


# ---------------------------------------------------------------------------
# Interpolation
# ---------------------------------------------------------------------------

def _inverse_denominators(nodes):
    """``1 / prod_{k != j} (t_j - t_k)`` (n, m) of Lagrange windows ``nodes`` (n, m)."""
    m = nodes.shape[1]
    den = np.ones(nodes.shape)
    for j in range(m):
        for k in range(m):
            if k != j:
                den[:, j] *= nodes[:, j] - nodes[:, k]
    return 1.0 / den


def _lagrange_weights(t, nodes, inverse_den=None):
    """Lagrange basis values (n, m) at ``t`` (n,) on ``nodes`` (n, m);
    ``inverse_den`` from :func:`_inverse_denominators` if precomputed."""
    d = t[:, None] - nodes
    m = nodes.shape[1]
    left = np.ones_like(d)
    right = np.ones_like(d)
    if m > 1:
        left[:, 1:] = np.cumprod(d[:, :-1], axis=1)
        right[:, :-1] = np.cumprod(d[:, :0:-1], axis=1)[:, ::-1]
    return left * right * (_inverse_denominators(nodes) if inverse_den is None else inverse_den)


def _lagrange_derivative_weights(t, nodes):
    """Derivatives of the Lagrange basis (n, m) at ``t``: no division by
    ``t - t_k``, so exact at the nodes too."""
    d = t[:, None] - nodes
    n, m = d.shape
    out = np.zeros_like(d)
    cols = np.arange(m)
    for j in range(m):
        den = np.ones(n)
        for k in range(m):
            if k != j:
                den *= nodes[:, j] - nodes[:, k]
                others = (cols != j) & (cols != k)
                out[:, j] += np.prod(d[:, others], axis=1)
        out[:, j] /= den
    return out


@dataclass
class Segment:
    """One OEM segment, as read (file frame and time system)."""

    object_name: str
    object_id: str
    frame: str
    time_system: str
    interpolation: str
    degree: int
    epochs: np.ndarray            # datetime64[ns] labels in time_system
    r_km: np.ndarray              # (3, n)
    v_km_s: np.ndarray            # (3, n)
    usable: tuple                 # (first, last) datetime64[ns] labels
    line: int = 0                 # where it starts in the file (KVN line; XML: segment number)
    comments: list[str] = field(default_factory=list)


class EphemerisSatellite:
    """A satellite defined by an ephemeris: Earth-fixed positions at any time.

    The pass engine's position provider (see :mod:`satqkd.passes`): it has a
    ``name``, an ``epoch`` (the first usable state), the orbit's size
    (``semi_major_axis_km``, ``eccentricity``, ``period_s``: from the
    smallest and largest radius of its states, which is all the engine's
    step and rate bounds need) and :meth:`itrs_km_at`.

    Built by :func:`load_oem`; ``source`` names the file in messages.
    """

    def __init__(self, segments: list[Segment], source: str):
        if not segments:
            raise SatqkdError(f"{source}: no segments")
        self.source = source
        self.segments = segments
        self.name = segments[0].object_name
        self.object_id = segments[0].object_id
        ts = sky.timescale()
        parts, bounds, cover = [], [0], []
        for seg in segments:
            t = _times(seg.epochs, seg.time_system)
            r, v = frame_to_itrs(seg.frame, t, seg.r_km, seg.v_km_s)
            u = _times(np.asarray(seg.usable, dtype="datetime64[ns]"), seg.time_system)
            parts.append((t, r, v, u))
        # Seconds of TT after a reference day: float64 keeps 1e-8 s over decades.
        self._ref_whole = float(np.floor(np.min([np.asarray(p[0].whole).min() for p in parts])))
        t_all, r_all, v_all = [], [], []
        self._points, self._method = [], []
        for seg, (t, r, v, u) in zip(segments, parts):
            t_s = self._seconds(t)
            t_all.append(t_s)
            r_all.append(r)
            v_all.append(v)
            bounds.append(bounds[-1] + t_s.size)
            cover.append(tuple(self._seconds(u)))
            if seg.interpolation == "HERMITE":
                m = max((seg.degree + 1) // 2, 2)
            elif seg.interpolation == "LINEAR":
                m = 2
            else:
                m = seg.degree + 1
            self._points.append(int(min(m, t_s.size)))
            self._method.append(seg.interpolation)
        self._t = np.concatenate(t_all)
        self._r = np.concatenate(r_all, axis=1)
        self._v = np.concatenate(v_all, axis=1)
        self._bounds = np.array(bounds)
        self._cover = np.array(cover, dtype=float)  # (n_segments, 2) usable TT seconds
        # The Lagrange denominators of every window, once: a query then
        # costs O(m) array operations instead of O(m^2).
        self._inverse_den = []
        for s, m in enumerate(self._points):
            nodes = np.lib.stride_tricks.sliding_window_view(self._t[bounds[s]:bounds[s + 1]], m)
            self._inverse_den.append(_inverse_denominators(nodes - nodes[:, :1]))
        self._clock_offsets: dict = {}
        radius = np.sqrt(np.einsum("ij,ij->j", self._r, self._r))
        rp, ra = float(radius.min()), float(radius.max())
        self.semi_major_axis_km = 0.5 * (rp + ra)
        self.eccentricity = (ra - rp) / (ra + rp)
        self.period_s = 2.0 * math.pi * math.sqrt(self.semi_major_axis_km**3 / MU_KM3_S2)
        self.mu_km3_s2 = MU_KM3_S2
        self.radius_km = EARTH_RADIUS_KM
        self.epoch = ts.tt_jd(self._ref_whole, float(self._cover[:, 0].min()) / DAY_S)
        self.end = ts.tt_jd(self._ref_whole, float(self._cover[:, 1].max()) / DAY_S)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_clock_offsets"] = {}  # keyed by id(): meaningless in another process
        return state

    def __repr__(self):
        return f"EphemerisSatellite({self.name!r}, {len(self.segments)} segment(s), {self._t.size} states)"

    def _seconds(self, t):
        return ((np.asarray(t.whole, float) - self._ref_whole) + np.asarray(t.tt_fraction, float)) * DAY_S

    # -- coverage -------------------------------------------------------------

    def _label(self, seconds: float) -> str:
        ts = sky.timescale()
        return ts.tt_jd(self._ref_whole, seconds / DAY_S).utc_strftime("%Y-%m-%d %H:%M:%S")

    def coverage(self) -> list[tuple[float, float]]:
        """The covered intervals (TT seconds after the reference day), gaps
        between segments apart; touching or overlapping segments merge."""
        spans = sorted(map(tuple, self._cover))
        merged = [list(spans[0])]
        for lo, hi in spans[1:]:
            if lo <= merged[-1][1] + 1e-3:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        return [tuple(m) for m in merged]

    def check_span(self, start, end) -> None:
        """Raise :class:`SatqkdError` unless the ephemeris covers ``[start,
        end]`` (skyfield Times) without a gap: the message names the file,
        the object and its first and last usable state (UTC)."""
        lo, hi = float(self._seconds(start)), float(self._seconds(end))
        for a, b in self.coverage():
            if a - 1e-3 <= lo and hi <= b + 1e-3:
                return
        pieces = "; ".join(f"{self._label(a)} to {self._label(b)}" for a, b in self.coverage())
        raise SatqkdError(
            f"{self.source}: {self.name}: the span {self._label(lo)} to {self._label(hi)} UTC is outside the "
            f"ephemeris, which covers {pieces} UTC; choose a span inside it"
        )

    # -- positions ------------------------------------------------------------

    def _offset_of(self, clock) -> float:
        key = id(clock)
        if key not in self._clock_offsets:
            self._clock_offsets[key] = (clock, float(self._seconds(clock.t0)))
        return self._clock_offsets[key][1]

    def itrs_km_at(self, clock, offset_s):
        """Earth-fixed ``(r_km, v_km_s)``, each ``(3, n)``, at ``offset_s``
        seconds (TT) after the :class:`~satqkd.geometry.Clock`'s ``t0``."""
        offset_s = np.atleast_1d(np.asarray(offset_s, dtype=float))
        return self.itrs_km_tt(offset_s + self._offset_of(clock))

    def itrs_km_tt(self, t_s):
        """Earth-fixed ``(r_km, v_km_s)`` at TT seconds after the reference
        day (held at the edge beyond the covered span)."""
        t_s = np.atleast_1d(np.asarray(t_s, dtype=float))
        n = t_s.size
        r = np.empty((3, n))
        v = np.empty((3, n))
        if n == 0:
            return r, v
        cover = self._cover
        # The segment of each time: the last one (in file order) covering it;
        # outside every segment, the nearest edge of the nearest one.
        if len(self.segments) == 1:
            seg_of = np.zeros(n, np.int64)
        else:
            seg_of = np.full(n, -1, np.int64)
            for s in range(len(self.segments)):
                inside = (t_s >= cover[s, 0] - 1e-6) & (t_s <= cover[s, 1] + 1e-6)
                seg_of[inside] = s
            missing = np.flatnonzero(seg_of < 0)
            if missing.size:
                dist = np.maximum(cover[:, 0][None, :] - t_s[missing, None], t_s[missing, None] - cover[:, 1][None, :])
                seg_of[missing] = np.argmin(dist, axis=1)
        for s in np.unique(seg_of):
            idx = np.flatnonzero(seg_of == s) if len(self.segments) > 1 else slice(None)
            lo, hi = self._bounds[s], self._bounds[s + 1]
            t = np.clip(t_s[idx], max(cover[s, 0], self._t[lo]), min(cover[s, 1], self._t[hi - 1]))
            r[:, idx], v[:, idx] = self._interpolate(s, lo, hi, t)
        return r, v

    def _interpolate(self, s, lo, hi, t):
        m = self._points[s]
        nodes_all = self._t[lo:hi]
        i = np.searchsorted(nodes_all, t, side="right")
        if m % 2:
            # An odd number of states: centred on the nearest one.
            below = nodes_all[np.clip(i - 1, 0, hi - lo - 1)]
            above = nodes_all[np.clip(i, 0, hi - lo - 1)]
            i = np.where(t - below <= above - t, i - 1, i)
            start = np.clip(i - m // 2, 0, hi - lo - m) + lo
        else:  # an even number: as many on each side
            start = np.clip(i - m // 2, 0, hi - lo - m) + lo
        cols = start[:, None] + np.arange(m)
        nodes = self._t[cols]
        # Relative to the window's first node: well conditioned.
        base = nodes[:, :1]
        tt = t - base[:, 0]
        w = _lagrange_weights(tt, nodes - base, self._inverse_den[s][start - lo])
        rn, vn = self._r[:, cols], self._v[:, cols]
        v = np.einsum("inm,nm->in", vn, w)
        if self._method[s] == "HERMITE":
            # H(t) = sum_j [(1 - 2 a_j (t - t_j)) y_j + (t - t_j) y'_j] L_j(t)^2,
            # a_j = sum_{k != j} 1 / (t_j - t_k).
            rel = nodes - base
            diff = rel[:, :, None] - rel[:, None, :]
            diag = np.arange(m)
            diff[:, diag, diag] = np.inf
            a = np.sum(1.0 / diff, axis=2)
            dt_ = tt[:, None] - rel
            w2 = w * w
            r = np.einsum("inm,nm->in", rn, (1.0 - 2.0 * a * dt_) * w2) + np.einsum("inm,nm->in", vn, dt_ * w2)
            # H'(t): d/dt of each term, with L_j' from the derivative weights.
            dw = _lagrange_derivative_weights(tt, rel)
            two_l_dl = 2.0 * w * dw
            v = (np.einsum("inm,nm->in", rn, -2.0 * a * w2 + (1.0 - 2.0 * a * dt_) * two_l_dl)
                 + np.einsum("inm,nm->in", vn, w2 + dt_ * two_l_dl))
        else:
            r = np.einsum("inm,nm->in", rn, w)
        return r, v


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

def load_oem(path) -> list[EphemerisSatellite]:
    """Read an OEM file (KVN or XML): one :class:`EphemerisSatellite` per
    object, in the order objects first appear.

    Raises
    ------
    SatqkdError
        The file is missing, unreadable or malformed, names a frame, time
        system, centre or interpolation this module does not handle; the
        one-line message names the file and the line or element.
    """
    from .io import read_text

    text = read_text(path, "a CCSDS OEM file (KVN or XML)")
    source = str(path)
    return parse_oem(text, source)


def parse_oem(text: str, source: str = "<string>") -> list[EphemerisSatellite]:
    """Parse an OEM from a string (KVN or XML, recognised from the content);
    ``source`` names it in error messages."""
    stripped = text.lstrip()
    if not stripped:
        raise SatqkdError(f"{source}: the file is empty: expected a CCSDS OEM (KVN or XML)")
    segments = _parse_xml(text, source) if stripped.startswith("<") else _parse_kvn(text, source)
    groups: dict = {}
    for seg in segments:
        groups.setdefault((seg.object_name, seg.object_id), []).append(seg)
    return [EphemerisSatellite(segs, source) for segs in groups.values()]


def _check_meta(meta: dict, where: str, keys_where) -> Segment:
    """A segment's metadata checked; ``keys_where(key)`` names a key's place."""
    for key in _REQUIRED_META:
        if key not in meta or meta[key] == "":
            raise SatqkdError(f"{where}: metadata: {key} is missing; expected {key} = ...")
    if meta["CENTER_NAME"].strip().upper() != "EARTH":
        raise SatqkdError(f"{keys_where('CENTER_NAME')}: CENTER_NAME: expected EARTH (satqkd plans Earth orbiters), "
                          f"got {meta['CENTER_NAME']!r}")
    frame = _frame_key(meta["REF_FRAME"])
    if frame is None:
        raise SatqkdError(f"{keys_where('REF_FRAME')}: REF_FRAME: expected one of {', '.join(OEM_FRAMES)} "
                          f"(or ITRFyyyy), got {meta['REF_FRAME']!r}")
    system = meta["TIME_SYSTEM"].strip().upper()
    if system not in OEM_TIME_SYSTEMS:
        raise SatqkdError(f"{keys_where('TIME_SYSTEM')}: TIME_SYSTEM: expected one of {', '.join(OEM_TIME_SYSTEMS)}, "
                          f"got {meta['TIME_SYSTEM']!r}")
    method = meta.get("INTERPOLATION", "LAGRANGE").strip().upper() or "LAGRANGE"
    if method not in OEM_INTERPOLATIONS:
        raise SatqkdError(f"{keys_where('INTERPOLATION')}: INTERPOLATION: expected one of "
                          f"{', '.join(OEM_INTERPOLATIONS)}, got {meta['INTERPOLATION']!r}")
    degree_text = meta.get("INTERPOLATION_DEGREE", "")
    if degree_text.strip():
        try:
            degree = int(degree_text)
        except ValueError:
            degree = -1
        if not 1 <= degree <= 31:
            raise SatqkdError(f"{keys_where('INTERPOLATION_DEGREE')}: INTERPOLATION_DEGREE: expected an integer "
                              f"from 1 to 31, got {degree_text!r}")
    else:
        degree = 1 if method == "LINEAR" else DEFAULT_DEGREE
    return Segment(meta["OBJECT_NAME"].strip(), meta["OBJECT_ID"].strip(), meta["REF_FRAME"].strip().upper(), system,
                   method, degree, np.zeros(0, "datetime64[ns]"), np.zeros((3, 0)), np.zeros((3, 0)), ())


def _finish_segment(seg: Segment, meta: dict, epochs, states, where_state, keys_where) -> Segment:
    """Attach the states to a segment and check them against its times."""
    if epochs.size < 2:
        raise SatqkdError(f"{where_state(max(epochs.size - 1, 0))}: a segment needs at least 2 states, got {epochs.size}")
    step = np.diff(epochs.astype(np.int64))
    bad = np.flatnonzero(step <= 0)
    if bad.size:
        raise SatqkdError(f"{where_state(int(bad[0]) + 1)}: epochs must increase: this state is not after the one before")
    times = {}
    for key in ("START_TIME", "STOP_TIME", "USEABLE_START_TIME", "USEABLE_STOP_TIME"):
        if meta.get(key, "").strip():
            times[key] = _parse_epochs([meta[key]], lambda i, k=key: f"{keys_where(k)}: {k}")[0]
    tol = np.timedelta64(1, "ms")
    if epochs[0] < times["START_TIME"] - tol or epochs[-1] > times["STOP_TIME"] + tol:
        k = 0 if epochs[0] < times["START_TIME"] - tol else epochs.size - 1
        raise SatqkdError(f"{where_state(k)}: state outside the segment's START_TIME {meta['START_TIME'].strip()} "
                          f"to STOP_TIME {meta['STOP_TIME'].strip()}")
    first = max(times.get("USEABLE_START_TIME", epochs[0]), epochs[0])
    last = min(times.get("USEABLE_STOP_TIME", epochs[-1]), epochs[-1])
    if not last > first:
        raise SatqkdError(f"{keys_where('USEABLE_START_TIME')}: the usable span of the segment is empty")
    seg.epochs = epochs
    seg.r_km = np.ascontiguousarray(states[:, 0:3].T, dtype=float)
    seg.v_km_s = np.ascontiguousarray(states[:, 3:6].T, dtype=float)
    if not (np.all(np.isfinite(seg.r_km)) and np.all(np.isfinite(seg.v_km_s))):
        k = int(np.flatnonzero(~np.all(np.isfinite(states[:, :6]), axis=1))[0])
        raise SatqkdError(f"{where_state(k)}: expected finite numbers")
    radius = np.sqrt(np.einsum("ij,ij->j", seg.r_km, seg.r_km))
    if radius.min() < 6000.0 or radius.max() > 2.0e6:
        k = int(np.argmin(radius)) if radius.min() < 6000.0 else int(np.argmax(radius))
        raise SatqkdError(f"{where_state(k)}: a position {radius[k]:,.0f} km from the Earth's centre: expected km "
                          f"of an Earth orbiter (above 6,000 km)")
    seg.usable = (first, last)
    return seg


def _parse_kvn(text: str, source: str) -> list[Segment]:
    lines = text.splitlines()
    n = len(lines)
    i = 0

    def key_value(k):
        m = _KVN_LINE.match(lines[k])
        return (m.group(1), m.group(2)) if m else (None, None)

    # Header.
    while i < n and not lines[i].strip():
        i += 1
    key, value = key_value(i) if i < n else (None, None)
    if key != "CCSDS_OEM_VERS":
        raise SatqkdError(f"{source}:{i + 1}: expected CCSDS_OEM_VERS = 2.0 (or 1.0, 3.0) first: not a CCSDS OEM in KVN")
    if value.split()[0] not in ("1.0", "2.0", "3.0"):
        raise SatqkdError(f"{source}:{i + 1}: CCSDS_OEM_VERS: expected 1.0, 2.0 or 3.0, got {value!r}")
    i += 1
    while i < n:
        s = lines[i].strip()
        if not s:
            i += 1
            continue
        if s.startswith("COMMENT"):
            i += 1
            continue
        if s == "META_START":
            break
        key, _ = key_value(i)
        if key in _HEADER_KEYS:
            i += 1
            continue
        raise SatqkdError(f"{source}:{i + 1}: expected a header keyword ({', '.join(_HEADER_KEYS[2:])}) or "
                          f"META_START, got {_short(s)}")
    if i >= n:
        raise SatqkdError(f"{source}: no segment: expected META_START after the header")

    # Where each data block ends: the next META_START or COVARIANCE_START
    # (one pass over the lines; the data lines themselves go to pandas).
    block_ends = [k for k, line in enumerate(lines) if "_START" in line]  # a fast substring test first
    block_ends = [k for k in block_ends if lines[k].lstrip().startswith(("META_START", "COVARIANCE_START"))]
    block_ends.append(n)
    segments = []
    while i < n:
        s = lines[i].strip()
        if not s or s.startswith("COMMENT"):
            i += 1
            continue
        if s != "META_START":
            raise SatqkdError(f"{source}:{i + 1}: expected META_START (a new segment), got {_short(s)}")
        meta_line = i + 1
        meta, meta_lines = {}, {}
        i += 1
        while i < n and lines[i].strip() != "META_STOP":
            s = lines[i].strip()
            if s and not s.startswith("COMMENT"):
                key, value = key_value(i)
                if key is None:
                    raise SatqkdError(f"{source}:{i + 1}: expected KEYWORD = value in the metadata, got {_short(s)}")
                if key not in _KNOWN_META:
                    raise SatqkdError(f"{source}:{i + 1}: {key}: unknown metadata keyword; expected one of "
                                      f"{', '.join(_KNOWN_META[:-1])}")
                if key in meta:
                    raise SatqkdError(f"{source}:{i + 1}: {key} is given twice in one metadata block")
                meta[key], meta_lines[key] = value, i + 1
            i += 1
        if i >= n:
            raise SatqkdError(f"{source}:{meta_line}: META_START without META_STOP")
        stop_line = i + 1
        i += 1

        def keys_where(k, _lines=meta_lines, _stop=stop_line):
            return f"{source}:{_lines.get(k, _stop)}"

        seg = _check_meta(meta, f"{source}:{meta_line}", keys_where)
        seg.line = meta_line
        # The data block: up to the next META_START, COVARIANCE_START or the
        # end; COMMENT lines may open it.
        j = block_ends[bisect.bisect_left(block_ends, i)]
        while i < j and (not lines[i].strip() or lines[i].lstrip().startswith("COMMENT")):
            if lines[i].strip():
                seg.comments.append(lines[i].strip()[7:].strip())
            i += 1
        epochs, states, linenos = _kvn_states(lines, i, j, source, stop_line)

        def where_state(k, _nos=linenos, _stop=stop_line):
            return f"{source}:{_nos[k]}" if len(_nos) else f"{source}:{_stop}"

        segments.append(_finish_segment(seg, meta, epochs, states, where_state, keys_where))
        i = j
        if i < n and lines[i].strip() == "COVARIANCE_START":
            while i < n and lines[i].strip() != "COVARIANCE_STOP":
                i += 1
            if i >= n:
                raise SatqkdError(f"{source}:{j + 1}: COVARIANCE_START without COVARIANCE_STOP")
            i += 1
    if not segments:
        raise SatqkdError(f"{source}: no segment: expected META_START after the header")
    return segments


def _short(text: str, width: int = 40) -> str:
    return repr(text if len(text) <= width else text[:width] + "...")


def _kvn_states(lines, i, j, source, stop_line):
    """Epochs, states (n, 6 or 9) and line numbers of the KVN data lines
    ``lines[i:j]``: parsed by pandas for a valid block; the first bad line is
    named otherwise."""
    body = "\n".join(lines[i:j])
    if not body.strip():
        raise SatqkdError(f"{source}:{stop_line}: a segment without states: expected lines "
                          f"'EPOCH X Y Z X_DOT Y_DOT Z_DOT' after META_STOP")
    frame = None
    if "COMMENT" not in body and "=" not in body:
        try:
            # Epochs as Python strings (object): faster than pandas' string dtype.
            frame = pd.read_csv(io.StringIO(body), sep=r"\s+", header=None, dtype={0: object}, engine="c",
                                skip_blank_lines=True)
        except (pd.errors.ParserError, ValueError):
            frame = None
    if (frame is not None and frame.shape[1] in (7, 10)
            and all(pd.api.types.is_float_dtype(frame[c]) or pd.api.types.is_integer_dtype(frame[c])
                    for c in frame.columns[1:])
            and not frame.isna().to_numpy().any()):
        blank = [k + 1 for k in range(i, j) if not lines[k].strip()] if len(frame) != j - i else []
        linenos = np.arange(i, j) + 1
        if blank:
            linenos = np.array([k + 1 for k in range(i, j) if lines[k].strip()])
        states = frame.iloc[:, 1:].to_numpy(dtype=float)
        epochs = _parse_epochs(frame.iloc[:, 0].to_numpy(), lambda k: f"{source}:{linenos[k]}", strip=False)
        return epochs, states, linenos
    # Slow path: find the first bad line.
    block_lines = [(k, lines[k]) for k in range(i, j) if lines[k].strip()]
    width = None
    for k, line in block_lines:
        parts = line.split()
        where = f"{source}:{k + 1}"
        if parts[0].isalpha() or "=" in line:
            raise SatqkdError(f"{where}: expected a state line 'EPOCH X Y Z X_DOT Y_DOT Z_DOT' (km, km/s), "
                              f"got {_short(line.strip())}")
        if len(parts) not in (7, 10):
            raise SatqkdError(f"{where}: expected 7 fields (epoch, position km, velocity km/s) or 10 "
                              f"(with acceleration), got {len(parts)}")
        if width is not None and len(parts) != width:
            raise SatqkdError(f"{where}: expected {width} fields like the line before, got {len(parts)}")
        width = len(parts)
        for p in parts[1:]:
            try:
                float(p)
            except ValueError:
                raise SatqkdError(f"{where}: expected a number, got {p!r}") from None
        _parse_epochs([parts[0]], lambda i, w=where: w)
    raise SatqkdError(f"{source}:{block_lines[0][0] + 1}: malformed state lines")  # pragma: no cover


def _strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(text: str, source: str) -> list[Segment]:
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 0
        raise SatqkdError(f"{source}:{line}: not well-formed XML ({str(exc).split(':')[0]}): expected a CCSDS OEM") from None
    for el in root.iter():
        el.tag = _strip_ns(el.tag)
    oems = [root] if root.tag == "oem" else root.findall("oem")
    if not oems:
        raise SatqkdError(f"{source}: expected an <oem> element (CCSDS NDM/XML), got <{root.tag}>")
    segments = []
    for o, oem_el in enumerate(oems):
        body = oem_el.find("body")
        if body is None:
            raise SatqkdError(f"{source}: oem[{o}]: <body> is missing")
        for s, seg_el in enumerate(body.findall("segment")):
            where = f"{source}: segment {len(segments) + 1}"
            meta_el = seg_el.find("metadata")
            data_el = seg_el.find("data")
            if meta_el is None or data_el is None:
                raise SatqkdError(f"{where}: expected <metadata> and <data>")
            meta = {}
            for child in meta_el:
                if child.tag == "COMMENT":
                    continue
                if child.tag not in _KNOWN_META:
                    raise SatqkdError(f"{where}: <{child.tag}>: unknown metadata element; expected one of "
                                      f"{', '.join(_KNOWN_META[:-1])}")
                meta[child.tag] = (child.text or "").strip()
            seg = _check_meta(meta, where, lambda k, w=where: f"{w}: metadata")
            seg.line = len(segments) + 1
            seg.comments = [(c.text or "").strip() for c in data_el.findall("COMMENT")]
            vectors = data_el.findall("stateVector")
            if not vectors:
                raise SatqkdError(f"{where}: no <stateVector> in <data>")
            epochs, rows = [], []
            for k, sv in enumerate(vectors):
                values = {c.tag: c for c in sv}
                row = []
                for tag in _XML_STATE:
                    el = values.get(tag)
                    if el is None:
                        raise SatqkdError(f"{where}: stateVector {k + 1}: <{tag}> is missing")
                    if tag == "EPOCH":
                        epochs.append((el.text or "").strip())
                        continue
                    unit = el.get("units")
                    expected = "km/s" if tag.endswith("_DOT") else "km"
                    if unit is not None and unit != expected:
                        raise SatqkdError(f"{where}: stateVector {k + 1}: <{tag}> units: expected {expected}, got {unit!r}")
                    try:
                        row.append(float(el.text))
                    except (TypeError, ValueError):
                        raise SatqkdError(f"{where}: stateVector {k + 1}: <{tag}>: expected a number, "
                                          f"got {el.text!r}") from None
                rows.append(row)
            epoch_arr = _parse_epochs(epochs, lambda k, w=where: f"{w}: stateVector {k + 1}: <EPOCH>")

            def where_state(k, w=where):
                return f"{w}: stateVector {k + 1}"

            segments.append(_finish_segment(seg, meta, epoch_arr, np.array(rows, float), where_state,
                                            lambda k, w=where: f"{w}: metadata"))
    if not segments:
        raise SatqkdError(f"{source}: no <segment> in the OEM")
    return segments


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

def format_oem(satellites, start, end, *, step_s: float = 60.0, frame: str = "EME2000",
               originator: str = "satqkd", comments: list[str] | None = None,
               creation_date: str | None = None, windows: dict | None = None) -> str:
    """A KVN OEM of ``satellites`` (SGP4 or ephemeris) from ``start`` to
    ``end`` (skyfield Times), one segment each, a state every ``step_s``
    seconds (UTC, both ends included), in ``frame`` (``EME2000``, ``GCRF``,
    ``ITRF`` or ``TEME``), Lagrange of degree 7.

    ``windows`` (``{satellite name: [(start_s, end_s), ...]}``, seconds from
    ``start``, sorted and disjoint) limits a satellite to those windows, one
    segment each (a satellite without an entry gets no segment): the cost
    then follows the contacts, not the span.

    The states are the pass engine's own Earth-fixed positions
    (:func:`satqkd.geometry.satellite_itrs_km_at` or the ephemeris's
    interpolant) rotated to ``frame`` with the inverse of the rotation
    :func:`load_oem` applies.  ``creation_date`` defaults to ``start`` so the
    same inputs give the same bytes.
    """
    from .geometry import Clock, satellite_itrs_km_at
    from .passes import to_time

    if not isinstance(satellites, (list, tuple)):
        satellites = [satellites]
    t0, t1 = to_time(start), to_time(end)
    span_s = (t1.tt - t0.tt) * DAY_S
    if not span_s > 0:
        raise SatqkdError("OEM: end is not after start")
    key = _frame_key(frame)
    if key is None or key == "ICRF":
        raise SatqkdError(f"frame: expected EME2000, GCRF, ITRF or TEME, got {frame!r}")
    clock = Clock(t0, 0.0, span_s)
    n = int(math.floor(span_s / step_s + 1e-9))
    offsets = step_s * np.arange(n + 1)
    if offsets[-1] < span_s - 1e-6:
        offsets = np.append(offsets, span_s)
    ts = sky.timescale()
    t = ts.tt_jd(t0.whole, t0.tt_fraction + offsets / DAY_S)
    t0_utc = np.datetime64(pd.Timestamp(t0.utc_datetime()).tz_convert(None).round("ms").to_datetime64(), "ms")
    labels = t0_utc + np.round(clock.utc_label_s(offsets) * 1e3).astype(np.int64).astype("timedelta64[ms]")
    stamps = labels.astype(str)  # 2021-04-27T00:00:00.000
    frame_name = "ITRF" if key == "ITRF" else key
    created = creation_date or t0.utc_strftime("%Y-%m-%dT%H:%M:%S")
    out = ["CCSDS_OEM_VERS = 2.0"]
    for line in comments or []:
        out.append(f"COMMENT {line}")
    out += [f"CREATION_DATE = {created}", f"ORIGINATOR = {originator}", ""]
    segments = []
    for sat in satellites:
        if windows is None:
            segments.append((sat, offsets, t, stamps))
            continue
        for w0, w1 in windows.get(sat.name, []):
            # The span's own grid, clipped to the window, with both ends.
            inner = offsets[(offsets > w0) & (offsets < w1)]
            o = np.concatenate(([w0], inner, [w1]))
            lab = t0_utc + np.round(clock.utc_label_s(o) * 1e3).astype(np.int64).astype("timedelta64[ms]")
            segments.append((sat, o, ts.tt_jd(t0.whole, t0.tt_fraction + o / DAY_S), lab.astype(str)))
    for sat, offsets, t, stamps in segments:
        if is_ephemeris(sat):
            r, v = sat.itrs_km_at(clock, offsets)
        else:
            r, v, _ = satellite_itrs_km_at(sat, clock, offsets)
        r_f, v_f = itrs_to_frame(key, t, r, v)
        object_id = getattr(sat, "object_id", None) or _object_id(sat)
        out += [
            "META_START",
            f"OBJECT_NAME = {sat.name or 'SATELLITE'}",
            f"OBJECT_ID = {object_id}",
            "CENTER_NAME = EARTH",
            f"REF_FRAME = {frame_name}",
            "TIME_SYSTEM = UTC",
            f"START_TIME = {stamps[0]}",
            f"STOP_TIME = {stamps[-1]}",
            "INTERPOLATION = LAGRANGE",
            "INTERPOLATION_DEGREE = 7",
            "META_STOP",
            "",
        ]
        # One %-format over all rows: C speed, no Python loop per state.
        rows = np.empty((stamps.size, 7), dtype=object)
        rows[:, 0] = stamps.tolist()
        rows[:, 1:4] = r_f.T
        rows[:, 4:] = v_f.T
        out.append((("%s %.6f %.6f %.6f %.9f %.9f %.9f\n" * stamps.size) % tuple(rows.ravel().tolist())).rstrip("\n"))
        out.append("")
    return "\n".join(out)


def _object_id(sat) -> str:
    """The international designator (``2016-051A``) of an SGP4 satellite, or
    its catalog number when the element set has none."""
    model = getattr(sat, "model", None)
    intl = (getattr(model, "intldesg", "") or "").strip()
    if len(intl) >= 5 and intl[:2].isdigit():
        year = int(intl[:2])
        return f"{1900 + year if year >= 57 else 2000 + year}-{intl[2:]}"
    return str(getattr(model, "satnum", "UNKNOWN"))

"""The contact plan: what a ground station needs to fly the scheduled passes.

After the schedule (:mod:`satqkd.schedule`) has chosen which passes are
served, :func:`contact_plan_files` renders three files for ``satqkd run``
(written by :func:`satqkd.pipeline.write_outputs`, atomically with the rest,
and listed in ``run.json``):

* ``contacts.csv`` -- one row per scheduled pass (:data:`CONTACT_COLUMNS`):
  the contact is the pass's usable window (every constraint holds; whole
  seconds), with rise, culmination and set for the tracking mount and the
  pass's finite key as ``expected_key_bits`` (the key if the night is clear,
  as the schedule assumed).  Plain CSV, one header row.
* ``contacts.ics`` -- the same contacts as an iCalendar file (RFC 5545): one
  ``VEVENT`` per contact with the station (``LOCATION``, ``GEO``), the
  satellite, start and end in UTC, and the expected key in the summary and
  description.  Lines end in CRLF and are folded at 75 octets; each event's
  ``UID`` is a hash of the scenario, satellite, station and start, and
  ``DTSTAMP`` is the scenario's start, so the same run gives the same bytes
  (and a calendar that imports it twice updates the events rather than
  duplicating them).
* ``orbit.oem`` -- a CCSDS OEM of every satellite around its contacts
  (:func:`satqkd.oem.format_oem`: EME2000, UTC, a state a minute, Lagrange of
  degree 7; one segment per contact, from :data:`OEM_MARGIN_S` before rise
  to as long after set, overlapping ones merged, clipped to the span), the
  Earth-fixed positions the pass search used, so the station's tracking
  software points where satqkd planned.  Its size follows the contacts, not
  the span (a year of the default scenario is not 52 MB of orbit).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["CONTACT_COLUMNS", "contact_table", "contact_windows_s", "format_ical", "contact_plan_files", "OEM_STEP_S",
           "OEM_MARGIN_S"]

CONTACT_COLUMNS = [
    "contact", "station", "satellite", "start_utc", "end_utc", "duration_s",
    "rise_utc", "culmination_utc", "set_utc", "max_elevation_deg", "min_range_km",
    "expected_key_bits", "key_window_s", "pass_id",
]

#: Spacing of the states of ``orbit.oem`` (s): a LEO moves ~460 km between
#: them; Lagrange of degree 7 on them is good to well under a metre.
OEM_STEP_S = 60.0
#: How long before rise and after set ``orbit.oem`` covers a contact (s):
#: time for the mount to slew and acquire, and room for the interpolant.
OEM_MARGIN_S = 600.0


def contact_windows_s(contacts: pd.DataFrame, start, span_s: float, margin_s: float = OEM_MARGIN_S) -> dict:
    """``{satellite: [(start_s, end_s), ...]}``: each contact's rise to set
    widened by ``margin_s``, in seconds from ``start`` (a skyfield Time),
    clipped to the span, overlapping windows merged, in time order."""
    t0 = pd.Timestamp(start.utc_datetime()).tz_convert("UTC")
    out = {}
    for sat, group in contacts.groupby("satellite", sort=True):
        rise = (pd.to_datetime(group["rise_utc"], utc=True) - t0).dt.total_seconds().to_numpy() - margin_s
        sets = (pd.to_datetime(group["set_utc"], utc=True) - t0).dt.total_seconds().to_numpy() + margin_s
        order = np.argsort(rise)
        merged = []
        for a, b in zip(np.clip(rise[order], 0.0, span_s), np.clip(sets[order], 0.0, span_s)):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            elif b > a:
                merged.append([a, b])
        out[sat] = [(float(a), float(b)) for a, b in merged]
    return out


def contact_table(passes: pd.DataFrame) -> pd.DataFrame:
    """The scheduled passes as contacts (:data:`CONTACT_COLUMNS`), in time order.

    ``start_utc``/``end_utc`` are the usable window (whole seconds, both
    inclusive, so ``duration_s`` = end - start + 1 s); ``expected_key_bits``
    is the pass's finite key (0 when the key stage made none)."""
    if passes.empty or "scheduled" not in passes:
        return pd.DataFrame(columns=CONTACT_COLUMNS)
    p = passes[passes["scheduled"].astype(bool)].sort_values(["usable_start_utc", "station", "satellite"], kind="stable")
    start = p["usable_start_utc"].dt.floor("s")
    end = p["usable_end_utc"].dt.ceil("s")
    key = p["key_bits"].fillna(0.0) if "key_bits" in p else pd.Series(0.0, index=p.index)
    window = p["key_window_s"] if "key_window_s" in p else pd.Series(np.nan, index=p.index)
    out = pd.DataFrame({
        "contact": np.arange(1, len(p) + 1),
        "station": p["station"].to_numpy(),
        "satellite": p["satellite"].to_numpy(),
        "start_utc": start.to_numpy(),
        "end_utc": end.to_numpy(),
        "duration_s": ((end - start).dt.total_seconds() + 1.0).to_numpy(),
        "rise_utc": p["rise_utc"].to_numpy(),
        "culmination_utc": p["culmination_utc"].to_numpy(),
        "set_utc": p["set_utc"].to_numpy(),
        "max_elevation_deg": p["max_elevation_deg"].round(3).to_numpy(),
        "min_range_km": p["min_range_km"].round(3).to_numpy(),
        "expected_key_bits": key.round(0).to_numpy(),
        "key_window_s": window.to_numpy(),
        "pass_id": p["pass_id"].to_numpy(),
    })
    for c in ("start_utc", "end_utc", "rise_utc", "culmination_utc", "set_utc"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return out[CONTACT_COLUMNS]


# -- iCalendar (RFC 5545) ---------------------------------------------------------

def _escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 section 3.3.11)."""
    return (str(text).replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (section 3.1): continuation lines
    start with a space; a UTF-8 character is never split."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    parts, current, limit = [], b"", 75
    for ch in line:
        b = ch.encode("utf-8")
        if len(current) + len(b) > limit:
            parts.append(current)
            current, limit = b"", 74  # the leading space counts
        current += b
    parts.append(current)
    return "\r\n ".join(p.decode("utf-8") for p in parts)


def _stamp(t: pd.Timestamp) -> str:
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y%m%dT%H%M%SZ")


def _bits(value: float) -> str:
    for unit, scale in (("Gbit", 1e9), ("Mbit", 1e6), ("kbit", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value:.0f} bit"


def format_ical(contacts: pd.DataFrame, *, calendar_name: str, dtstamp, stations: dict | None = None,
                version: str = "") -> str:
    """An iCalendar document (CRLF line ends) with one ``VEVENT`` per row of
    :func:`contact_table`.

    ``dtstamp`` (a timestamp) is every event's ``DTSTAMP``; ``stations``
    maps a station name to an object with ``latitude_deg``,
    ``longitude_deg`` and ``height_m`` (for ``LOCATION`` and ``GEO``)."""
    stations = stations or {}
    stamp = _stamp(dtstamp)
    product = f"satqkd {version}".strip()
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:-//satqkd//{product}//EN",
             "CALSCALE:GREGORIAN", "METHOD:PUBLISH", f"X-WR-CALNAME:{_escape(calendar_name)}"]
    for row in contacts.itertuples(index=False):
        start, end = _stamp(row.start_utc), _stamp(row.end_utc + pd.Timedelta(seconds=1))
        uid = hashlib.sha1(f"{calendar_name}|{row.satellite}|{row.station}|{start}".encode()).hexdigest()[:20]
        key = float(row.expected_key_bits)
        st = stations.get(row.station)
        description = [
            f"Satellite: {row.satellite}",
            f"Station: {row.station}",
            f"Contact (UTC): {pd.Timestamp(row.start_utc):%Y-%m-%d %H:%M:%S} to {pd.Timestamp(row.end_utc):%H:%M:%S} "
            f"({row.duration_s:.0f} s)",
            f"Rise / culmination / set (UTC): {pd.Timestamp(row.rise_utc):%H:%M:%S} / "
            f"{pd.Timestamp(row.culmination_utc):%H:%M:%S} / {pd.Timestamp(row.set_utc):%H:%M:%S}",
            f"Maximum elevation: {row.max_elevation_deg:.1f} deg; closest range {row.min_range_km:,.0f} km",
            f"Expected key: {key:,.0f} bits ({_bits(key)}) if the sky is clear",
            f"satqkd contact {row.contact}, pass {row.pass_id}; orbit in orbit.oem",
        ]
        lines += ["BEGIN:VEVENT", f"UID:{uid}@satqkd", f"DTSTAMP:{stamp}", f"DTSTART:{start}", f"DTEND:{end}",
                  _escape_line("SUMMARY", f"QKD {row.satellite} -> {row.station}: {_bits(key)} expected")]
        if st is not None:
            lines.append(_escape_line("LOCATION", f"{row.station} ({st.latitude_deg:.4f} N, {st.longitude_deg:.4f} E, "
                                                  f"{st.height_m:.0f} m)"))
            lines.append(f"GEO:{st.latitude_deg:.6f};{st.longitude_deg:.6f}")
        lines += [_escape_line("DESCRIPTION", "\n".join(description)), "CATEGORIES:QKD,SATELLITE CONTACT",
                  "TRANSP:OPAQUE", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _escape_line(name: str, text: str) -> str:
    return f"{name}:{_escape(text)}"


# -- the files of a run -----------------------------------------------------------

def contact_plan_files(results, out_dir) -> dict[str, tuple[Path, str]]:
    """``{kind: (path, contents)}`` of the contact plan of a run
    (:class:`satqkd.pipeline.Results`): ``contacts`` (CSV), ``calendar``
    (iCalendar) and ``orbit`` (CCSDS OEM), in ``out_dir``."""
    from . import __version__
    from .io import render_table
    from .oem import format_oem, is_ephemeris

    out = Path(out_dir)
    sc = results.scenario
    contacts = contact_table(results.passes)
    stations = {s.station.name: s.station for s in sc.stations}
    start = pd.Timestamp(sc.start.utc_datetime()).tz_convert("UTC").floor("s")
    files = {
        "contacts": (out / "contacts.csv", render_table(contacts, out / "contacts.csv")),
        "calendar": (out / "contacts.ics", format_ical(contacts, calendar_name=f"satqkd contacts: {sc.name}",
                                                       dtstamp=start, stations=stations, version=__version__)),
    }
    sats = [s.satellite for s in sc.satellites]
    comments = [f"Orbit used by satqkd {__version__} for the scenario {sc.name!r}, "
                f"{sc.start.utc_strftime('%Y-%m-%d %H:%M')} to {sc.end.utc_strftime('%Y-%m-%d %H:%M')} UTC."]
    for s in sats:
        if is_ephemeris(s):
            comments.append(f"{s.name}: interpolated from the CCSDS OEM {Path(s.source).name}.")
        else:
            comments.append(f"{s.name}: SGP4 from elements of epoch {s.epoch.utc_strftime('%Y-%m-%d %H:%M:%S')} UTC.")
    comments.append(f"Positions: the pass search's own Earth-fixed positions rotated to EME2000; a state every "
                    f"{OEM_STEP_S:g} s; one segment per contact, {OEM_MARGIN_S:g} s before rise to {OEM_MARGIN_S:g} s "
                    f"after set (contacts.csv).")
    span_s = (sc.end.tt - sc.start.tt) * 86400.0
    step = OEM_STEP_S if span_s >= 8 * OEM_STEP_S else max(span_s / 8.0, 1.0)
    files["orbit"] = (out / "orbit.oem", format_oem(sats, sc.start, sc.end, step_s=step, comments=comments,
                                                    originator=f"satqkd {__version__}",
                                                    windows=contact_windows_s(contacts, sc.start, span_s)))
    return files

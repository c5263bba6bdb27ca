"""Orbital elements: read and write TLE and OMM files, and build orbits from elements.

Every satellite in satqkd is a :class:`skyfield.api.EarthSatellite` whose
``model`` is an SGP4 ``Satrec`` (WGS-72 constants, Vallado's "improved"
``'i'`` mode).  This module is where those objects come from:

* **Files.**  :func:`load_elements` reads Two-Line Element sets (two-line or
  three-line with a name line, several per file, checksums verified,
  Alpha-5 catalog numbers) and CelesTrak's Orbit Mean-elements Messages
  (OMM) as JSON, CSV or CCSDS NDM/XML.  The format is recognised from the
  content, the file extension only breaks ties.  Catalog numbers above
  99999 can only be written in OMM (or Alpha-5 up to 339999); they survive
  as :func:`catalog_number`.  Every malformed input raises one
  :class:`~satqkd.errors.SatqkdError` whose single line names the file, the
  line (TLE) or the record and field (OMM) and what was expected.
* **Orbits from elements.**  :func:`sun_synchronous` (a Micius-like orbit for
  any date: :func:`micius_like`), :func:`classical` (any Keplerian mean
  elements, circular or a Molniya-type HEO) and :func:`geostationary`.
* **Export.**  :func:`to_tle`, :func:`to_omm` and :func:`format_elements`.
* **Validity.**  :func:`epoch_age_days` and :func:`check_propagation`, which
  turns SGP4's error codes (a decayed satellite) into a SatqkdError instead
  of letting NaN positions flow downstream; :func:`check_element_age`, which
  refuses element sets too old for a span, with limits by
  :func:`orbit_class`.
* **Catalogues as they come.**  :func:`load_catalogue` keeps the sets SGP4
  accepts from a file of thousands and reports the rest by line.

Mean elements and heights
-------------------------
SGP4 mean motion is *Kozai's* mean motion; SGP4 converts it internally to
Brouwer's mean motion and Brouwer mean semi-major axis ``a`` (Hoots &
Roehrich 1980, Spacetrack Report No. 3, "SGP4 initialisation").  The
builders invert that step exactly, so ``semi_major_axis_km`` is the Brouwer
mean semi-major axis SGP4 works with.  ``height_km`` is the *mean altitude*:
the time-averaged geocentric radius of the propagated orbit minus the WGS-72
equatorial radius ``R_e = 6378.135 km``.  That radius exceeds ``a`` by SGP4's
short-period J2 term (4.5 km for a 500 km sun-synchronous orbit), which the
builders take out, so a circular orbit built for 500 km really averages
``R_e + 500 km`` under SGP4 (checked in the tests to 20 m over 10 days).
Heights are above the *equatorial* radius, like published perigee/apogee
heights, which come from the Kozai mean motion: Micius's December 2016 TLE
gives 485 x 503 km that way (mean 494 km), while its SGP4 mean altitude in
our sense is 495.6 km (radius varying 480-510 km) and its Brouwer ``a`` is
491.0 km up.  The geodetic altitude above WGS-84 is larger at high
latitude, by up to 21 km over the poles.

Local time of the ascending node
--------------------------------
LTAN is the *local mean solar time* at the ascending node (the usual
convention for sun-synchronous missions; Capderou, *Satellites: Orbits and
Missions*, Springer 2005, ch. 6).  With the mean Sun's right ascension
``alpha_ms = GMST - 15 deg/h * (UT1 - 12 h)`` (the mean Sun crosses the
Greenwich meridian at 12:00 UT1), a node at right ascension ``RAAN`` has the
local mean time ``12 h + (RAAN - alpha_ms) / 15 deg/h``, i.e.
``LTAN = UT1 + (RAAN - GMST) / 15 deg/h``.  GMST is the IAU-1982 angle that
SGP4's TEME frame is defined with, so RAAN and GMST are in the same frame.
``solar_time="apparent"`` uses the true Sun instead (apparent right ascension
from the DE421 ephemeris of :mod:`satqkd.sky`, expressed in TEME); the two
differ by the equation of time (up to about 16 minutes).  A sun-synchronous
node follows the *mean* Sun, which is why the mean convention is the default.

Micius (NORAD 41731): its real LTAN, from the element sets shipped in
``ephemeris/``, was 11:58 (2016-12-18), 11:41 (2021-04-27) and 12:25
(2025-09-22) local mean time, so its descending node is near local midnight
and its night passes over China come around local midnight (Xinglong: about
00:50 Beijing time).  :func:`micius_like` therefore uses LTAN = 12:00.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from sgp4.alpha5 import from_alpha5
from sgp4.api import SGP4_ERRORS, WGS72, Satrec
from sgp4.earth_gravity import wgs72
from sgp4.exporter import export_tle
from sgp4.functions import jday
from sgp4.io import compute_checksum
from skyfield.api import EarthSatellite
from skyfield.sgp4lib import TEME, theta_GMST1982
from skyfield.timelib import Time

from satqkd import sky
from satqkd.errors import SatqkdError

__all__ = [
    "ELEMENT_FORMATS",
    "OMM_FIELDS",
    "MICIUS_LIKE_LTAN_HOURS",
    "TROPICAL_YEAR_DAYS",
    "load_elements",
    "parse_elements",
    "parse_tle",
    "parse_omm",
    "catalog_number",
    "sun_synchronous_inclination_deg",
    "raan_deg_for_ltan",
    "ltan_hours",
    "sun_synchronous",
    "micius_like",
    "classical",
    "geostationary",
    "to_tle",
    "to_omm",
    "format_elements",
    "epoch_age_days",
    "check_propagation",
    "orbit_class",
    "is_deep_space",
    "element_age_limits_days",
    "check_element_age",
    "load_catalogue",
]

#: Output formats understood by :func:`format_elements`.
ELEMENT_FORMATS = ("tle", "3le", "omm-json", "omm-csv", "omm-xml")

#: CelesTrak's OMM field names, in CelesTrak's column order.
OMM_FIELDS = (
    "OBJECT_NAME", "OBJECT_ID", "EPOCH", "MEAN_MOTION", "ECCENTRICITY",
    "INCLINATION", "RA_OF_ASC_NODE", "ARG_OF_PERICENTER", "MEAN_ANOMALY",
    "EPHEMERIS_TYPE", "CLASSIFICATION_TYPE", "NORAD_CAT_ID", "ELEMENT_SET_NO",
    "REV_AT_EPOCH", "BSTAR", "MEAN_MOTION_DOT", "MEAN_MOTION_DDOT",
)

#: Tropical year (mean equinox to mean equinox), days of 86400 s: the period
#: of the mean Sun's right ascension that a sun-synchronous node must follow
#: (Astronomical Almanac value, 365.24219 d).
TROPICAL_YEAR_DAYS = 365.2421897

#: LTAN of :func:`micius_like`: local mean noon, so the descending node is at
#: local midnight (real Micius: 11:58 in Dec 2016, 11:41 in Apr 2021; see the
#: module docstring).  Our choice, rounded from those measurements.
MICIUS_LIKE_LTAN_HOURS = 12.0

# SGP4's own WGS-72 constants: the orbits we build are propagated with them.
_RE_KM = wgs72.radiusearthkm
_MU_KM3_S2 = wgs72.mu
_J2 = wgs72.j2
_XKE = wgs72.xke  # sqrt(mu) in Earth radii^1.5 per minute

_MIN_PER_DAY = 1440.0
_XPDOTP = _MIN_PER_DAY / (2.0 * math.pi)  # rev/day per rad/min
_NDOT_UNITS = _XPDOTP * _MIN_PER_DAY  # (rev/day^2) per (rad/min^2)
_NDDOT_UNITS = _XPDOTP * _MIN_PER_DAY**2  # (rev/day^3) per (rad/min^3)
_JD_1949_DEC_31 = 2433281.5  # sgp4init counts epochs in days from here (UTC)
_ALPHA5_MAX = 339999  # largest number a 5-character TLE field can hold
_SIDEREAL_RATE_RAD_PER_MIN = 7.2921158553e-5 * 60.0  # Earth rotation (IERS)

_TLE_SUFFIXES = {".tle", ".txt", ".2le", ".3le", ".tce"}
_FORMAT_BY_SUFFIX = {".json": "omm-json", ".csv": "omm-csv", ".xml": "omm-xml"}


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------

def load_elements(path) -> list[EarthSatellite]:
    """Read every element set in a TLE or OMM (JSON, CSV, XML) file.

    Parameters
    ----------
    path
        The file.  Its format is recognised from the content: ``[`` or ``{``
        starts JSON, ``<`` starts XML, a comma-separated header naming OMM
        fields is CSV, lines starting ``1 `` / ``2 `` are TLE.  The
        extension (``.json``, ``.csv``, ``.xml``, ``.tle``/``.txt``/``.3le``)
        decides only when the content does not.

    Returns
    -------
    list of EarthSatellite
        In file order, with ``name`` (None when the file has none) and a
        ``catalog_number`` attribute (see :func:`catalog_number`).

    Raises
    ------
    SatqkdError
        The file is missing, empty, not text, or malformed; the one-line
        message names the file and the line or record.
    """
    from .io import read_text

    text = read_text(path, "an element file (TLE lines or OMM as JSON, CSV or XML)")
    source = str(path)
    return parse_elements(text, source=source)


def parse_elements(text: str, source: str = "<string>", fmt: str | None = None) -> list[EarthSatellite]:
    """Parse element sets from a string; ``fmt`` is "tle", "omm-json",
    "omm-csv" or "omm-xml", or None to recognise it (see :func:`load_elements`).
    ``source`` is the name used in error messages."""
    if fmt is None:
        fmt = _detect_format(text, source)
    if fmt in ("tle", "2le", "3le"):
        return parse_tle(text, source)
    if fmt in ("omm-json", "omm-csv", "omm-xml", "json", "csv", "xml"):
        return parse_omm(text, source, fmt=fmt.removeprefix("omm-"))
    raise SatqkdError(f"{source}: unknown element format {fmt!r}: expected tle, omm-json, omm-csv or omm-xml")


def _detect_format(text: str, source: str) -> str:
    stripped = text.lstrip()
    if not stripped:
        raise SatqkdError(f"{source}: the file is empty: expected TLE lines or OMM as JSON, CSV or XML")
    if stripped[0] in "[{":
        return "omm-json"
    if stripped[0] == "<":
        return "omm-xml"
    lines = [ln.strip() for ln in stripped.splitlines() if ln.strip()]
    first = lines[0].upper()
    if "," in first and re.search(r"\b(NORAD_CAT_ID|OBJECT_NAME|MEAN_MOTION|EPOCH)\b", first):
        return "omm-csv"
    if any(ln.startswith(("1 ", "2 ")) for ln in lines[:3]):
        return "tle"
    suffix = Path(source).suffix.lower()
    if suffix in _FORMAT_BY_SUFFIX:
        return _FORMAT_BY_SUFFIX[suffix]
    if suffix in _TLE_SUFFIXES:
        return "tle"
    raise SatqkdError(
        f"{source}: cannot tell the format: expected TLE lines (starting '1 ' and '2 '), "
        "or OMM as JSON, CSV or XML"
    )


# -- TLE -------------------------------------------------------------------

# Fixed columns of the TLE format (0-based slices; messages quote 1-based
# columns).  https://celestrak.org/columns/v04n03/ documents the layout.
_SEPARATORS = {"1": (1, 8, 17, 32, 43, 52, 61, 63), "2": (1, 7, 16, 25, 33, 42, 51)}
_SATNUM_RE = re.compile(r"^(?:[ \d]{4}\d|[A-HJ-NP-Z]\d{4})$")
_DECIMAL_RE = re.compile(r"^ *[+-]?(?:\d+\.?\d*|\.\d+)$")
_EXP_RE = re.compile(r"^[ +-][ \d]{5}[ +-]\d$")  # assumed-decimal "-11606-4"
_DIGITS_RE = re.compile(r"^[ \d]*\d$")


def parse_tle(text: str, source: str = "<string>") -> list[EarthSatellite]:
    """Parse two-line or three-line element sets from a string.

    Several sets may follow one another; a set may be preceded by a name
    line (a Space-Track ``0 `` prefix is removed).  Blank lines, leading and
    trailing whitespace and CRLF line ends are tolerated; everything else
    of the fixed-column format is checked (length, separators, each field,
    the checksum of both lines, the same catalog number on both lines).
    """
    lines = text.splitlines()
    sats: list[EarthSatellite] = []
    name = None
    name_lineno = 0
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        lineno = i + 1
        if not line:
            i += 1
            continue
        if line.startswith("1 "):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j == len(lines):
                raise SatqkdError(f"{source}:{lineno}: line 1 of an element set is not followed by its line 2")
            sats.append(_parse_tle_pair(line, lines[j].strip(), lineno, j + 1, name, source))
            name = None
            i = j + 1
        elif line.startswith("2 "):
            raise SatqkdError(f"{source}:{lineno}: line 2 of an element set without its line 1 before it")
        else:
            if name is not None:
                raise SatqkdError(
                    f"{source}:{lineno}: expected line 1 of an element set (starting '1 ') "
                    f"after the name line {name!r}, got {_quote(line)}"
                )
            name = line[2:].strip() if line.startswith("0 ") else line
            name_lineno = lineno
            i += 1
    if name is not None:
        raise SatqkdError(f"{source}:{name_lineno}: name line {name!r} is not followed by an element set")
    if not sats:
        raise SatqkdError(f"{source}: no element sets found: expected TLE lines or OMM as JSON, CSV or XML")
    return sats


def _quote(text: str, width: int = 30) -> str:
    return repr(text if len(text) <= width else text[:width] + "...")


def _parse_tle_pair(line1, line2, n1, n2, name, source) -> EarthSatellite:
    if not line2.startswith("2 "):
        raise SatqkdError(f"{source}:{n2}: expected line 2 of the element set (starting '2 '), got {_quote(line2)}")
    for line, no, kind in ((line1, n1, "1"), (line2, n2, "2")):
        where = f"{source}:{no}"
        if len(line) != 69:
            raise SatqkdError(f"{where}: expected 69 characters on TLE line {kind}, got {len(line)}")
        last = line[68]
        if not last.isdigit():
            raise SatqkdError(f"{where}: expected a checksum digit in column 69, got {last!r}")
        expected = compute_checksum(line)
        if int(last) != expected:
            raise SatqkdError(f"{where}: bad checksum: expected {expected}, line ends in {last}")
        for col in _SEPARATORS[kind]:
            if line[col] != " ":
                raise SatqkdError(f"{where}: expected a space in column {col + 1}, got {line[col]!r}")
        if not _SATNUM_RE.match(line[2:7]):
            raise SatqkdError(
                f"{where}: columns 3-7 (catalog number): expected 5 digits or Alpha-5 "
                f"(a letter and 4 digits), got {line[2:7]!r}"
            )

    w1, w2 = f"{source}:{n1}", f"{source}:{n2}"
    if line1[7] not in "UCS ":
        raise SatqkdError(f"{w1}: column 8 (classification): expected U, C or S, got {line1[7]!r}")
    _tle_field(line1, 18, 20, "epoch year", w1, _DIGITS_RE, "two digits")
    day = _tle_field(line1, 20, 32, "epoch day of year", w1, _DECIMAL_RE, "a day of year like 117.42314584")
    if not 1.0 <= day < 367.0:
        raise SatqkdError(f"{w1}: columns 21-32 (epoch day of year): expected 1 <= day < 367, got {line1[20:32]!r}")
    _tle_field(line1, 33, 43, "first derivative of mean motion", w1, _DECIMAL_RE, "a number")
    _tle_field(line1, 44, 52, "second derivative of mean motion", w1, _EXP_RE, "a number like ' 12345-6'")
    _tle_field(line1, 53, 61, "BSTAR drag term", w1, _EXP_RE, "a number like ' 30260-4'")
    if line1[62] not in "0123456789 ":
        raise SatqkdError(f"{w1}: column 63 (ephemeris type): expected a digit, got {line1[62]!r}")
    _tle_field(line1, 64, 68, "element set number", w1, re.compile(r"^[ \d]{4}$"), "up to 4 digits")

    for start, stop, label, high in ((8, 16, "inclination", 180.0), (17, 25, "right ascension of ascending node", 360.0),
                                     (34, 42, "argument of perigee", 360.0), (43, 51, "mean anomaly", 360.0)):
        value = _tle_field(line2, start, stop, label, w2, _DECIMAL_RE, "an angle in degrees")
        if not 0.0 <= value <= high:
            raise SatqkdError(
                f"{w2}: columns {start + 1}-{stop} ({label}): expected 0 to {high:g} degrees, got {line2[start:stop]!r}"
            )
    _tle_field(line2, 26, 33, "eccentricity", w2, _DIGITS_RE, "7 digits (assumed leading decimal point)")
    n = _tle_field(line2, 52, 63, "mean motion", w2, _DECIMAL_RE, "revolutions per day")
    if not n > 0.0:
        raise SatqkdError(f"{w2}: columns 53-63 (mean motion): expected a positive number, got {line2[52:63]!r}")
    _tle_field(line2, 63, 68, "revolution number", w2, re.compile(r"^[ \d]{5}$"), "up to 5 digits")

    if line1[2:7] != line2[2:7]:
        raise SatqkdError(
            f"{w2}: catalog number {line2[2:7].strip()!r} does not match {line1[2:7].strip()!r} on line {n1}"
        )

    sat = EarthSatellite(line1, line2, name=name, ts=sky.timescale())
    if sat.model.error:
        raise SatqkdError(f"{w2}: SGP4 rejects these elements: {SGP4_ERRORS.get(sat.model.error, sat.model.error)}")
    sat.catalog_number = from_alpha5(line1[2:7].replace(" ", "0"))
    return sat


def _tle_field(line, start, stop, label, where, pattern, expected):
    text = line[start:stop]
    if not pattern.match(text):
        raise SatqkdError(f"{where}: columns {start + 1}-{stop} ({label}): expected {expected}, got {text!r}")
    if pattern is _EXP_RE or pattern is _DIGITS_RE:
        return None
    return float(text)


# -- OMM -------------------------------------------------------------------

_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_EPOCH_RE = re.compile(
    r"^(\d{4})-(?:(\d{2})-(\d{2})|(\d{3}))[T ](\d{2}):(\d{2}):(\d{2}(?:\.\d*)?)Z?$"
)
_OBJECT_ID_RE = re.compile(r"^(\d{4})-(\d{3})([A-Z]{1,3})$")


def parse_omm(text: str, source: str = "<string>", fmt: str | None = None) -> list[EarthSatellite]:
    """Parse CelesTrak OMM records: ``fmt`` "json" (a list of objects or one
    object), "csv" (header row of field names) or "xml" (CCSDS NDM/XML, one
    ``<segment>`` per satellite), or None to recognise it from the content.

    Required fields: EPOCH, MEAN_MOTION, ECCENTRICITY, INCLINATION,
    RA_OF_ASC_NODE, ARG_OF_PERICENTER, MEAN_ANOMALY and NORAD_CAT_ID.  The
    others default to CelesTrak's usual values (no name, classification U,
    ephemeris type 0, element set 999, revolution 0) and to zero drag
    (BSTAR, MEAN_MOTION_DOT, MEAN_MOTION_DDOT).  If present, CENTER_NAME,
    REF_FRAME, TIME_SYSTEM and MEAN_ELEMENT_THEORY must be EARTH, TEME, UTC
    and SGP4: other element theories (such as SGP4-XP) would be silently
    wrong under SGP4.
    """
    if fmt is None:
        fmt = _detect_format(text, source).removeprefix("omm-")
    fmt = fmt.removeprefix("omm-")
    if not text.strip():
        raise SatqkdError(f"{source}: the file is empty: expected OMM records")
    if fmt == "json":
        records = _omm_json_records(text, source)
    elif fmt == "csv":
        records = _omm_csv_records(text, source)
    elif fmt == "xml":
        records = _omm_xml_records(text, source)
    else:
        raise SatqkdError(f"{source}: unknown OMM format {fmt!r}: expected json, csv or xml")
    if not records:
        raise SatqkdError(f"{source}: no element sets found: expected at least one OMM record")
    return [_sat_from_omm(fields, f"{source}: record {k}") for k, fields in enumerate(records, start=1)]


def _omm_json_records(text, source):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SatqkdError(f"{source}:{exc.lineno}: invalid JSON at column {exc.colno}: {exc.msg}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise SatqkdError(f"{source}: expected a JSON list of OMM objects, got {type(data).__name__}")
    for k, record in enumerate(data, start=1):
        if not isinstance(record, dict):
            raise SatqkdError(f"{source}: record {k}: expected an object of OMM fields, got {type(record).__name__}")
    return data


def _omm_csv_records(text, source):
    reader = csv.reader(io.StringIO(text))
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        raise SatqkdError(f"{source}: the file is empty: expected a CSV header of OMM field names")
    header = [cell.strip().upper() for cell in rows[0]]
    for needed in ("EPOCH", "MEAN_MOTION", "NORAD_CAT_ID"):
        if needed not in header:
            raise SatqkdError(f"{source}: the CSV header has no column {needed}: expected OMM field names")
    records = []
    for k, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise SatqkdError(f"{source}: record {k}: expected {len(header)} comma-separated fields, got {len(row)}")
        records.append(dict(zip(header, row)))
    return records


def _omm_xml_records(text, source):
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        line, col = exc.position
        raise SatqkdError(f"{source}:{line}: invalid XML at column {col + 1}: {exc.msg.split(':')[0]}") from None
    records = []
    for segment in root.iter():
        if _local(segment.tag) != "segment":
            continue
        fields = {}
        for element in segment.iter():
            if len(element) == 0 and element is not segment:
                fields[_local(element.tag).upper()] = (element.text or "").strip()
        records.append(fields)
    if not records and _local(root.tag) != "ndm" and _local(root.tag) != "omm":
        raise SatqkdError(f"{source}: expected a CCSDS NDM/OMM XML document, got <{_local(root.tag)}>")
    return records


def _local(tag: str) -> str:
    # Strip an XML namespace "{uri}" so namespaced NDM files read the same.
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


_REQUIRED = object()


def _omm_value(fields, key):
    value = fields.get(key)
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            value = None
    return value


def _omm_float(fields, key, where, default=_REQUIRED):
    value = _omm_value(fields, key)
    if value is None:
        if default is _REQUIRED:
            raise SatqkdError(f"{where}: missing field {key}")
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SatqkdError(f"{where}: field {key}: expected a number, got {value!r}")
    if isinstance(value, str):
        if not _NUMBER_RE.match(value):
            raise SatqkdError(f"{where}: field {key}: expected a number, got {_quote(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise SatqkdError(f"{where}: field {key}: expected a finite number, got {value!r}")
    return value


def _omm_int(fields, key, where, default=_REQUIRED, low=0, high=None):
    value = _omm_value(fields, key)
    if value is None:
        if default is _REQUIRED:
            raise SatqkdError(f"{where}: missing field {key}")
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SatqkdError(f"{where}: field {key}: expected an integer, got {_quote(str(value))}")
    if value < low or (high is not None and value > high):
        span = f"{low} to {high}" if high is not None else f"at least {low}"
        raise SatqkdError(f"{where}: field {key}: expected an integer {span}, got {value}")
    return value


def _omm_text(fields, key, where, default=""):
    value = _omm_value(fields, key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise SatqkdError(f"{where}: field {key}: expected text, got {value!r}")
    return value


def _parse_epoch(text, where):
    """``YYYY-MM-DDThh:mm:ss[.ffffff][Z]`` or ``YYYY-DDDThh:mm:ss...`` (UTC)
    -> (jd, fraction) as sgp4.functions.jday gives them."""
    match = _EPOCH_RE.match(text) if isinstance(text, str) else None
    if match:
        year, month, day, doy, hour, minute, second = match.groups()
        try:
            if doy is not None:
                date = dt.date(int(year), 1, 1) + dt.timedelta(days=int(doy) - 1)
                if date.year != int(year) or int(doy) < 1:
                    raise ValueError
            else:
                date = dt.date(int(year), int(month), int(day))
            sec = float(second)
            if int(hour) > 23 or int(minute) > 59 or sec >= 61.0:
                raise ValueError
        except ValueError:
            match = None
        else:
            return jday(date.year, date.month, date.day, int(hour), int(minute), sec)
    raise SatqkdError(
        f"{where}: field EPOCH: expected a UTC date like 2021-04-27T10:09:19.800576, got {_quote(str(text))}"
    )


def _sat_from_omm(record: Mapping, where: str) -> EarthSatellite:
    fields = {str(k).strip().upper(): v for k, v in record.items() if k is not None}
    for key, wanted in (("CENTER_NAME", "EARTH"), ("REF_FRAME", "TEME"), ("TIME_SYSTEM", "UTC"),
                        ("MEAN_ELEMENT_THEORY", "SGP4")):
        value = _omm_text(fields, key, where, default=wanted)
        if value.upper() != wanted:
            raise SatqkdError(f"{where}: field {key}: expected {wanted}, got {_quote(value)}")

    epoch_text = _omm_value(fields, "EPOCH")
    if epoch_text is None:
        raise SatqkdError(f"{where}: missing field EPOCH")
    jd, fr = _parse_epoch(epoch_text, where)

    n_rev_day = _omm_float(fields, "MEAN_MOTION", where)
    if not n_rev_day > 0.0:
        raise SatqkdError(f"{where}: field MEAN_MOTION: expected revolutions per day > 0, got {n_rev_day!r}")
    ecc = _omm_float(fields, "ECCENTRICITY", where)
    if not 0.0 <= ecc < 1.0:
        raise SatqkdError(f"{where}: field ECCENTRICITY: expected 0 <= e < 1, got {ecc!r}")
    incl = _omm_float(fields, "INCLINATION", where)
    if not 0.0 <= incl <= 180.0:
        raise SatqkdError(f"{where}: field INCLINATION: expected 0 to 180 degrees, got {incl!r}")
    raan = _omm_float(fields, "RA_OF_ASC_NODE", where) % 360.0
    argp = _omm_float(fields, "ARG_OF_PERICENTER", where) % 360.0
    mean_anomaly = _omm_float(fields, "MEAN_ANOMALY", where) % 360.0
    catnum = _omm_int(fields, "NORAD_CAT_ID", where, low=1, high=999_999_999)
    bstar = _omm_float(fields, "BSTAR", where, default=0.0)
    ndot = _omm_float(fields, "MEAN_MOTION_DOT", where, default=0.0)
    nddot = _omm_float(fields, "MEAN_MOTION_DDOT", where, default=0.0)
    ephtype = _omm_int(fields, "EPHEMERIS_TYPE", where, default=0, high=9)
    elnum = _omm_int(fields, "ELEMENT_SET_NO", where, default=999, high=9999)
    revnum = _omm_int(fields, "REV_AT_EPOCH", where, default=0)
    classification = _omm_text(fields, "CLASSIFICATION_TYPE", where, default="U").upper()
    if classification not in ("U", "C", "S"):
        raise SatqkdError(f"{where}: field CLASSIFICATION_TYPE: expected U, C or S, got {_quote(classification)}")
    name = _omm_text(fields, "OBJECT_NAME", where, default="") or None
    object_id = _omm_text(fields, "OBJECT_ID", where, default="")

    satrec = Satrec()
    satrec.sgp4init(
        WGS72, "i", catnum if catnum <= _ALPHA5_MAX else 0,
        (jd - _JD_1949_DEC_31) + fr, bstar, ndot / _NDOT_UNITS, nddot / _NDDOT_UNITS, ecc,
        math.radians(argp), math.radians(incl), math.radians(mean_anomaly),
        n_rev_day / _XPDOTP, math.radians(raan),
    )
    if satrec.error:
        raise SatqkdError(f"{where}: SGP4 rejects these elements: {SGP4_ERRORS.get(satrec.error, satrec.error)}")
    satrec.classification = classification
    satrec.intldesg = _intldesg(object_id)
    satrec.ephtype = ephtype
    satrec.elnum = elnum
    satrec.revnum = revnum
    return _wrap(satrec, name, catnum)


def _intldesg(object_id: str) -> str:
    """COSPAR ID "2016-051A" -> the TLE's international designator "16051A"."""
    match = _OBJECT_ID_RE.match(object_id.strip().upper())
    if not match:
        return ""
    year, launch, piece = match.groups()
    return year[2:] + launch + piece


def _object_id(intldesg: str) -> str:
    """The inverse of :func:`_intldesg` (TLE years 57-99 are 19xx)."""
    match = re.match(r"^(\d{2})(\d{3})([A-Z]{1,3})$", (intldesg or "").strip())
    if not match:
        return ""
    yy, launch, piece = match.groups()
    year = int(yy) + (1900 if int(yy) >= 57 else 2000)
    return f"{year}-{launch}{piece}"


def _wrap(satrec: Satrec, name: str | None, catnum: int) -> EarthSatellite:
    sat = EarthSatellite.from_satrec(satrec, sky.timescale())
    sat.name = name
    # Satrec stores the number in 5 Alpha-5 characters (<= 339999); the
    # EarthSatellite carries the full OMM number for everything else.
    sat.catalog_number = int(catnum)
    return sat


def catalog_number(sat: EarthSatellite) -> int:
    """The satellite's NORAD catalog number, including numbers above 339999
    that an SGP4 ``Satrec`` cannot hold (those satellites, which come only
    from OMM, have ``model.satnum == 0``)."""
    number = getattr(sat, "catalog_number", None)
    return int(number) if number is not None else int(sat.model.satnum)


# ---------------------------------------------------------------------------
# Orbits from elements
# ---------------------------------------------------------------------------

def sun_synchronous_inclination_deg(height_km, eccentricity=0.0) -> float:
    """Inclination at which the J2 nodal precession follows the mean Sun.

    The first-order secular J2 rate of the ascending node is

        dOmega/dt = -(3/2) n J2 (R_e / p)^2 cos(i),   n = sqrt(mu / a^3),
        p = a (1 - e^2)

    (e.g. Vallado, *Fundamentals of Astrodynamics and Applications*, 4th ed.,
    2013, sec. 9.6; Boain, "A-B-Cs of Sun-Synchronous Orbit Mission Design",
    AAS 04-108, 2004).  Setting it to 360 degrees per tropical year gives

        cos(i) = -(2/3) (dOmega/dt)_sun p^2 / (n J2 R_e^2).

    ``a = R_e + height_km`` is the mean semi-major axis; ``mu``, ``R_e`` and
    ``J2`` are SGP4's WGS-72 constants.  Values: 97.40 deg at 500 km,
    97.79 deg at 600 km, 98.19 deg at 700 km, 98.21 deg at 705 km (Landsat 8
    flies 705 km, 98.2 deg).  SGP4's secular theory adds J2^2 and J4 terms
    that slow the node by 0.3 % at the same mean semi-major axis;
    :func:`sun_synchronous` refines the inclination for them.

    Raises SatqkdError above about 5,980 km, where no inclination is fast
    enough.
    """
    height_km = float(height_km)
    eccentricity = float(eccentricity)
    if not 0.0 <= eccentricity < 1.0:
        raise SatqkdError(f"eccentricity: expected 0 <= e < 1, got {eccentricity!r}")
    a = _RE_KM + height_km
    if not a * (1.0 - eccentricity) > _RE_KM:
        raise SatqkdError(f"height_km: the perigee would be below the Earth's surface (height {height_km!r} km)")
    p = a * (1.0 - eccentricity**2)
    n = math.sqrt(_MU_KM3_S2 / a**3)  # rad/s
    node_rate = 2.0 * math.pi / (TROPICAL_YEAR_DAYS * 86400.0)  # rad/s
    cos_i = -(2.0 / 3.0) * node_rate * p**2 / (n * _J2 * _RE_KM**2)
    if cos_i < -1.0:
        raise SatqkdError(
            f"height_km: no sun-synchronous inclination exists at {height_km:g} km "
            "(J2 precession is too slow above about 5,980 km)"
        )
    return math.degrees(math.acos(cos_i))


def _as_time(epoch, what="epoch") -> Time:
    if isinstance(epoch, Time):
        if np.ndim(epoch.tt) != 0:
            raise SatqkdError(f"{what}: expected a single time, got an array of {np.size(epoch.tt)}")
        return epoch
    if isinstance(epoch, dt.datetime):
        if epoch.tzinfo is None or epoch.utcoffset() is None:
            raise SatqkdError(f"{what}: expected a timezone-aware datetime (e.g. tzinfo=UTC), got a naive one")
        return sky.timescale().from_datetime(epoch)
    raise SatqkdError(f"{what}: expected a skyfield Time or a timezone-aware datetime, got {type(epoch).__name__}")


def _sgp4_epoch(t: Time) -> float:
    """Days from 1949-12-31 00:00 UTC, the epoch argument of sgp4init."""
    year, month, day, hour, minute, second = t.utc
    jd, fr = jday(int(year), int(month), int(day), int(hour), int(minute), float(second))
    return (jd - _JD_1949_DEC_31) + fr


def _mean_sun_ra_rad(t: Time):
    """Right ascension of the mean Sun in TEME: GMST(1982) - 15 deg/h (UT1 - 12 h)."""
    theta, _ = theta_GMST1982(t.whole, t.ut1_fraction)
    ut1_hours = ((t.ut1_fraction + 0.5) % 1.0) * 24.0  # Time.whole is a noon-based JD
    return theta - np.radians(15.0 * (ut1_hours - 12.0))


def _apparent_sun_ra_rad(t: Time):
    """Apparent right ascension of the Sun (DE421) in TEME."""
    x, y, _ = sky.earth().at(t).observe(sky.sun()).apparent().frame_xyz(TEME).au
    return np.arctan2(y, x)


def _sun_ra_rad(t: Time, solar_time: str):
    if solar_time == "mean":
        return _mean_sun_ra_rad(t)
    if solar_time == "apparent":
        return _apparent_sun_ra_rad(t)
    raise SatqkdError(f"solar_time: expected 'mean' or 'apparent', got {solar_time!r}")


def raan_deg_for_ltan(ltan_hours, epoch, solar_time: str = "mean") -> float:
    """Right ascension of the ascending node (TEME, degrees in [0, 360)) that
    puts the node at local solar time ``ltan_hours`` at ``epoch``:
    ``RAAN = alpha_sun + 15 deg/h (LTAN - 12 h)`` (see the module docstring)."""
    t = _as_time(epoch)
    ltan = float(ltan_hours)
    if not 0.0 <= ltan < 24.0:
        raise SatqkdError(f"ltan_hours: expected 0 <= LTAN < 24 hours, got {ltan_hours!r}")
    raan = np.degrees(_sun_ra_rad(t, solar_time)) + 15.0 * (ltan - 12.0)
    return float(raan % 360.0)


def ltan_hours(sat: EarthSatellite, t=None, solar_time: str = "mean"):
    """Local solar time of the ascending node at time ``t`` (default: the
    element epoch), from SGP4's secular node ``nodeo + nodedot * (t - epoch)``.
    Works on arrays of times."""
    if t is None:
        t = sat.epoch
    minutes = (t.tt - sat.epoch.tt) * _MIN_PER_DAY
    raan = sat.model.nodeo + sat.model.nodedot * minutes
    hours = 12.0 + np.degrees(raan - _sun_ra_rad(t, solar_time)) / 15.0
    return hours % 24.0


def _kozai_mean_motion(n_brouwer: float, ecc: float, incl_rad: float) -> float:
    """Invert SGP4's Kozai -> Brouwer mean-motion step (Spacetrack Report
    No. 3, SGP4 initialisation: ``a1 = (ke/n0)^(2/3)``, ``delta1``, ``a0``,
    ``delta0``, ``n0'' = n0 / (1 + delta0)``) for the Kozai mean motion
    (rad/min) whose Brouwer mean motion is ``n_brouwer``."""
    cosi2 = math.cos(incl_rad) ** 2
    beta0 = math.sqrt(1.0 - ecc**2)
    d1 = 0.75 * _J2 * (3.0 * cosi2 - 1.0) / (beta0 * beta0**2)
    n_kozai = n_brouwer
    for _ in range(50):  # fixed point; converges to 1e-16 in a few steps
        ak = (_XKE / n_kozai) ** (2.0 / 3.0)
        delta = d1 / (ak * ak)
        adel = ak * (1.0 - delta * delta - delta * (1.0 / 3.0 + 134.0 * delta * delta / 81.0))
        delta = d1 / (adel * adel)
        new = n_brouwer * (1.0 + delta)
        if abs(new - n_kozai) < 1e-15 * n_brouwer:
            return new
        n_kozai = new
    return n_kozai


def _brouwer_a_km(height_km: float, eccentricity: float, inclination_deg: float) -> float:
    """Brouwer mean semi-major axis whose SGP4 orbit has the time-averaged
    geocentric radius ``R_e + height_km``.

    SGP4's osculating radius is ``r_l (1 - 1.5 k2 beta (3 cos^2 i - 1) / p^2)
    + (periodic terms)`` with ``k2 = J2 / 2`` (Hoots & Roehrich 1980, SGP4
    short-period update; ``p`` in Earth radii) and ``r_l = a (1 - e cos E)``
    averages ``a (1 + e^2 / 2)`` over time, so the mean radius is ``a`` times
    ``(1 + e^2 / 2) (1 + 0.75 J2 beta (1 - 3 cos^2 i) / p^2)``: 4.5 km above
    ``a`` for a 500 km sun-synchronous orbit.  Solved by fixed point."""
    target = _RE_KM + float(height_km)
    beta = math.sqrt(1.0 - eccentricity**2)
    shape = 0.75 * _J2 * beta * (1.0 - 3.0 * math.cos(math.radians(inclination_deg)) ** 2)
    a_km = target
    for _ in range(20):
        p_er = a_km * (1.0 - eccentricity**2) / _RE_KM
        a_km = target / ((1.0 + 0.5 * eccentricity**2) * (1.0 + shape / p_er**2))
    return a_km


def _build(*, epoch: Time, a_km: float, eccentricity: float, inclination_deg: float, raan_deg: float,
           arg_perigee_deg: float, mean_anomaly_deg: float, name: str | None, catalog_number: int,
           bstar: float, n_kozai: float | None = None) -> EarthSatellite:
    ecc = float(eccentricity)
    if not 0.0 <= ecc < 1.0:
        raise SatqkdError(f"eccentricity: expected 0 <= e < 1, got {eccentricity!r}")
    incl = float(inclination_deg)
    if not 0.0 <= incl <= 180.0:
        raise SatqkdError(f"inclination_deg: expected 0 to 180 degrees, got {inclination_deg!r}")
    if not a_km * (1.0 - ecc) > _RE_KM:
        raise SatqkdError(
            f"semi_major_axis_km: the perigee {a_km * (1.0 - ecc):.1f} km from the Earth's centre "
            f"is below the surface ({_RE_KM} km)"
        )
    catnum = int(catalog_number)
    if not 1 <= catnum <= 999_999_999:
        raise SatqkdError(f"catalog_number: expected 1 to 999999999, got {catalog_number!r}")
    if n_kozai is None:
        n_brouwer = _XKE * (a_km / _RE_KM) ** -1.5  # rad/min
        n_kozai = _kozai_mean_motion(n_brouwer, ecc, math.radians(incl))
    satrec = Satrec()
    satrec.sgp4init(
        WGS72, "i", catnum if catnum <= _ALPHA5_MAX else 0, _sgp4_epoch(epoch), float(bstar), 0.0, 0.0,
        ecc, math.radians(float(arg_perigee_deg) % 360.0), math.radians(incl),
        math.radians(float(mean_anomaly_deg) % 360.0), n_kozai, math.radians(float(raan_deg) % 360.0),
    )
    if satrec.error:
        raise SatqkdError(f"{name}: SGP4 rejects these elements: {SGP4_ERRORS.get(satrec.error, satrec.error)}")
    satrec.elnum = 999
    sat = _wrap(satrec, name, catnum)
    # Built here from chosen elements, not fitted to a real satellite's
    # tracking: "element age" means something else for it.
    sat.synthetic = True
    return sat


def sun_synchronous(height_km, ltan_hours, epoch, name="SSO", eccentricity=0.0, catalog_number=99999, *,
                    arg_perigee_deg=0.0, mean_anomaly_deg=0.0, bstar=0.0, solar_time="mean") -> EarthSatellite:
    """A sun-synchronous orbit at mean height ``height_km`` with its ascending
    node at local solar time ``ltan_hours`` at ``epoch``.

    The node comes from :func:`raan_deg_for_ltan` (mean Sun by default),
    the mean motion from the mean altitude (see the module docstring).  The
    inclination starts from the first-order J2 value of
    :func:`sun_synchronous_inclination_deg` and is refined (by +0.007 deg at
    500 km) until SGP4's own secular node rate, which adds the J2^2 and J4
    terms, equals the mean Sun's 360 deg per tropical year exactly, so the
    LTAN stays put however far SGP4 propagates.  At the epoch the satellite
    is at the argument of perigee plus ``mean_anomaly_deg`` from the node;
    both default to 0 (at the ascending node).  ``epoch`` is a skyfield Time
    or a timezone-aware datetime.
    """
    t = _as_time(epoch)
    incl = sun_synchronous_inclination_deg(height_km, eccentricity)
    raan = raan_deg_for_ltan(ltan_hours, t, solar_time)
    target = 2.0 * math.pi / (TROPICAL_YEAR_DAYS * _MIN_PER_DAY)  # rad/min
    for _ in range(8):
        # Newton on SGP4's own secular node rate, which is proportional to
        # cos(i): d(rate)/di = -rate tan(i).
        sat = _build(epoch=t, a_km=_brouwer_a_km(height_km, eccentricity, incl), eccentricity=eccentricity,
                     inclination_deg=incl, raan_deg=raan, arg_perigee_deg=arg_perigee_deg,
                     mean_anomaly_deg=mean_anomaly_deg, name=name, catalog_number=catalog_number, bstar=bstar)
        rate = sat.model.nodedot
        if abs(rate - target) < 1e-13 * target:
            break
        incl += math.degrees((rate - target) / (rate * math.tan(math.radians(incl))))
    return sat


def micius_like(epoch, height_km=500.0, ltan_hours=MICIUS_LIKE_LTAN_HOURS, name="MICIUS-LIKE",
                catalog_number=99999, **kwargs) -> EarthSatellite:
    """A Micius-like orbit for any date: circular, sun-synchronous, 500 km,
    ascending node at local noon (descending node and night passes near local
    midnight).  Micius (NORAD 41731) flew 485 x 503 km, i = 97.37 deg (TLE of
    2016-12-18) with LTAN 11:41-11:58; it has decayed since 2025, so forecasts
    need an orbit like this one.  Extra keywords go to :func:`sun_synchronous`."""
    return sun_synchronous(height_km, ltan_hours, epoch, name=name, catalog_number=catalog_number, **kwargs)


def classical(*, epoch, inclination_deg, semi_major_axis_km=None, height_km=None, eccentricity=0.0,
              raan_deg=0.0, arg_perigee_deg=0.0, mean_anomaly_deg=0.0, name="SAT", catalog_number=99999,
              bstar=0.0) -> EarthSatellite:
    """An orbit from classical mean elements.

    Give either ``semi_major_axis_km`` (Brouwer mean semi-major axis, as
    SGP4 uses internally) or ``height_km`` (= a - 6378.135 km).  Angles in
    degrees, TEME frame; ``epoch`` a skyfield Time or an aware datetime.
    Orbits with periods over 225 minutes (such as a Molniya orbit,
    a = 26,554 km, e = 0.72, i = 63.4 deg, argument of perigee 270 deg) are
    propagated by SGP4's deep-space branch (SDP4) with lunar and solar terms.
    """
    t = _as_time(epoch)
    if (semi_major_axis_km is None) == (height_km is None):
        raise SatqkdError("classical(): give exactly one of semi_major_axis_km and height_km")
    if semi_major_axis_km is not None:
        a_km = float(semi_major_axis_km)
    else:
        a_km = _brouwer_a_km(float(height_km), float(eccentricity), float(inclination_deg))
    return _build(epoch=t, a_km=a_km, eccentricity=eccentricity, inclination_deg=inclination_deg,
                  raan_deg=raan_deg, arg_perigee_deg=arg_perigee_deg, mean_anomaly_deg=mean_anomaly_deg,
                  name=name, catalog_number=catalog_number, bstar=bstar)


def geostationary(longitude_deg, epoch, name="GEO", catalog_number=99999) -> EarthSatellite:
    """A geostationary satellite over ``longitude_deg`` (east positive) at ``epoch``.

    Circular and equatorial.  The mean motion and mean anomaly are tuned on
    SGP4's own output (its deep-space branch, with J2, lunar-solar and
    24-hour resonance terms) so that over the first two days the satellite
    stays over ``longitude_deg`` (measured: within 0.005 deg over three
    days).  Later it drifts as a real satellite without station keeping
    would: the Earth's triaxiality pulls it towards the stable longitudes
    75 E and 105 W (from 100 E: 0.6 deg westwards in 30 days, 2.6 deg in
    60 days; at 75 E it stays within 0.05 deg for 30 days).
    """
    t = _as_time(epoch)
    lon = float(longitude_deg)
    if not -360.0 <= lon <= 360.0:
        raise SatqkdError(f"longitude_deg: expected -360 to 360 degrees, got {longitude_deg!r}")
    # Fit the longitude SGP4 actually produces over two days (hourly, in
    # TEME against GMST-1982, the angle TEME is defined with) and correct the
    # mean motion by its drift and the mean anomaly by its offset.  Two days
    # are short enough that the tesseral (triaxiality) acceleration, real
    # physics we keep, adds less than 0.003 deg.
    offsets_days = np.arange(0.0, 2.0 + 1e-9, 1.0 / 24.0)
    times = sky.timescale().tt_jd(t.tt + offsets_days)
    theta, _ = theta_GMST1982(times.whole, times.ut1_fraction)
    n_kozai = _SIDEREAL_RATE_RAD_PER_MIN
    mean_anomaly = math.degrees(theta[0]) + lon
    for _ in range(4):
        sat = _build(epoch=t, a_km=42164.0, eccentricity=0.0, inclination_deg=0.0, raan_deg=0.0,
                     arg_perigee_deg=0.0, mean_anomaly_deg=mean_anomaly, name=name,
                     catalog_number=catalog_number, bstar=0.0, n_kozai=n_kozai)
        m = sat.model
        _, r, _ = m.sgp4_array(np.full(offsets_days.size, m.jdsatepoch), m.jdsatepochF + offsets_days)
        drift = np.unwrap(np.arctan2(r[:, 1], r[:, 0]) - theta - math.radians(lon))
        drift = (drift + math.pi) % (2.0 * math.pi) - math.pi
        slope, offset = np.polyfit(offsets_days * _MIN_PER_DAY, drift, 1)
        if abs(slope) < 1e-12 and abs(offset) < 1e-8:
            break
        n_kozai -= slope  # the longitude rate moves one-for-one with n
        mean_anomaly -= math.degrees(offset)
    return sat


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

def _label(sat: EarthSatellite) -> str:
    return f"{sat.name or 'satellite'} (catalog {catalog_number(sat)})"


def to_tle(sat: EarthSatellite) -> tuple[str, str]:
    """The two TLE lines of ``sat`` (valid checksums).  Catalog numbers up
    to 99999 are written as digits, up to 339999 as Alpha-5; larger ones
    cannot be written as TLE (use :func:`to_omm`).  TLE fields round angles
    to 1e-4 deg, so an orbit built here moves by up to ~15 m in LEO when
    written as TLE; OMM keeps full precision."""
    number = catalog_number(sat)
    if number > _ALPHA5_MAX:
        raise SatqkdError(
            f"{_label(sat)}: catalog numbers above {_ALPHA5_MAX} cannot be written as TLE: use OMM"
        )
    year = sat.epoch.utc.year if hasattr(sat.epoch, "utc") else None
    if year is not None and not 1957 <= int(year) <= 2056:
        # The TLE epoch has a two-digit year: 57-99 -> 1957-1999, 00-56 -> 2000-2056.
        raise SatqkdError(f"{_label(sat)}: epoch year {int(year)} cannot be written as TLE (1957-2056): use OMM")
    try:
        line1, line2 = export_tle(sat.model)
    except ValueError as exc:
        raise SatqkdError(f"{_label(sat)}: cannot be written as TLE: {exc.args[0]}") from None
    for line in (line1, line2):
        if len(line) != 69:
            raise SatqkdError(
                f"{_label(sat)}: cannot be written as TLE: a field overflows its columns ({line!r})"
            )
    return line1, line2


def _g(x: float) -> float:
    # 12 significant digits: TLE-born values print as written in the TLE
    # (15.25507799, not 15.255077990000001); 1e-12 relative is far below
    # SGP4's accuracy.
    return float(f"{x:.12g}")


def _epoch_string(satrec: Satrec) -> str:
    whole_days = round(satrec.jdsatepoch - _JD_1949_DEC_31)
    micro = round(satrec.jdsatepochF * 86400e6)
    when = dt.datetime(1949, 12, 31) + dt.timedelta(days=whole_days, microseconds=micro)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")


def to_omm(sat: EarthSatellite) -> dict:
    """The satellite's elements as a CelesTrak OMM JSON record (the 17
    fields of :data:`OMM_FIELDS`, CelesTrak's names and units: degrees,
    revolutions per day and its derivatives, EPOCH in UTC to the
    microsecond)."""
    m = sat.model
    return {
        "OBJECT_NAME": sat.name or "",
        "OBJECT_ID": _object_id(m.intldesg),
        "EPOCH": _epoch_string(m),
        "MEAN_MOTION": _g(m.no_kozai * _XPDOTP),
        "ECCENTRICITY": _g(m.ecco),
        "INCLINATION": _g(math.degrees(m.inclo)),
        "RA_OF_ASC_NODE": _g(math.degrees(m.nodeo)),
        "ARG_OF_PERICENTER": _g(math.degrees(m.argpo)),
        "MEAN_ANOMALY": _g(math.degrees(m.mo)),
        "EPHEMERIS_TYPE": int(m.ephtype),
        "CLASSIFICATION_TYPE": (m.classification or "U").strip() or "U",
        "NORAD_CAT_ID": catalog_number(sat),
        "ELEMENT_SET_NO": int(m.elnum),
        "REV_AT_EPOCH": int(m.revnum),
        "BSTAR": _g(m.bstar),
        "MEAN_MOTION_DOT": _g(m.ndot * _NDOT_UNITS),
        "MEAN_MOTION_DDOT": _g(m.nddot * _NDDOT_UNITS),
    }


def _omm_xml(records: Sequence[dict]) -> str:
    ndm = ET.Element("ndm", {
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:noNamespaceSchemaLocation":
            "https://sanaregistry.org/r/ndmxml_unqualified/ndmxml-2.0.0-master-2.0.xsd",
    })
    groups = (
        ("metadata", ("OBJECT_NAME", "OBJECT_ID", "CENTER_NAME", "REF_FRAME", "TIME_SYSTEM", "MEAN_ELEMENT_THEORY")),
        ("meanElements", ("EPOCH", "MEAN_MOTION", "ECCENTRICITY", "INCLINATION", "RA_OF_ASC_NODE",
                          "ARG_OF_PERICENTER", "MEAN_ANOMALY")),
        ("tleParameters", ("EPHEMERIS_TYPE", "CLASSIFICATION_TYPE", "NORAD_CAT_ID", "ELEMENT_SET_NO",
                           "REV_AT_EPOCH", "BSTAR", "MEAN_MOTION_DOT", "MEAN_MOTION_DDOT")),
    )
    fixed = {"CENTER_NAME": "EARTH", "REF_FRAME": "TEME", "TIME_SYSTEM": "UTC", "MEAN_ELEMENT_THEORY": "SGP4"}
    for record in records:
        values = {**fixed, **record}
        omm = ET.SubElement(ndm, "omm", {"id": "CCSDS_OMM_VERS", "version": "2.0"})
        header = ET.SubElement(omm, "header")
        ET.SubElement(header, "CREATION_DATE")
        ET.SubElement(header, "ORIGINATOR").text = "satqkd"
        segment = ET.SubElement(ET.SubElement(omm, "body"), "segment")
        data = None
        for group, keys in groups:
            if group == "metadata":
                parent = ET.SubElement(segment, "metadata")
            else:
                data = data if data is not None else ET.SubElement(segment, "data")
                parent = ET.SubElement(data, group)
            for key in keys:
                ET.SubElement(parent, key).text = str(values[key])
    ET.indent(ndm)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(ndm, encoding="unicode") + "\n"


def format_elements(sats: Iterable[EarthSatellite], fmt: str = "tle") -> str:
    """Write satellites as text in one of :data:`ELEMENT_FORMATS`: "tle"
    (two lines each), "3le" (a name line, then two lines), "omm-json",
    "omm-csv" or "omm-xml" (CelesTrak's layouts).  Every format reads back
    with :func:`load_elements`."""
    sats = list(sats)
    if fmt in ("tle", "3le"):
        out = []
        for sat in sats:
            if fmt == "3le":
                out.append(sat.name or f"NORAD {catalog_number(sat)}")
            out.extend(to_tle(sat))
        return "\n".join(out) + "\n"
    records = [to_omm(sat) for sat in sats]
    if fmt == "omm-json":
        return json.dumps(records, indent=2) + "\n"
    if fmt == "omm-csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=OMM_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return buffer.getvalue()
    if fmt == "omm-xml":
        return _omm_xml(records)
    raise SatqkdError(f"format: expected one of {', '.join(ELEMENT_FORMATS)}, got {fmt!r}")


# ---------------------------------------------------------------------------
# Validity
# ---------------------------------------------------------------------------

def epoch_age_days(sat: EarthSatellite, t) -> np.ndarray:
    """Days from the element epoch to ``t`` (negative before the epoch)."""
    return np.asarray(t.tt - sat.epoch.tt)


def check_propagation(sat: EarthSatellite, t) -> None:
    """Raise SatqkdError if SGP4 cannot propagate ``sat`` to every time in
    ``t`` (a skyfield Time, scalar or array): the message names the
    satellite, the first failing UTC time, its distance from the element
    epoch and SGP4's reason (for example a decayed satellite).  SGP4 flags
    these with a nonzero error code and NaN positions; this stops them
    before they turn into NaN elevations downstream."""
    # SGP4 epochs are UTC: feed it UTC Julian dates, as skyfield does.
    year, month, day, hour, minute, second = (np.atleast_1d(np.asarray(c, dtype=float)) for c in t.utc)
    jd, fr = jday(year, month, day, hour, minute, second)
    jd = np.broadcast_to(np.asarray(jd, dtype=float), np.shape(year)).copy()
    fr = np.broadcast_to(np.asarray(fr, dtype=float), np.shape(year)).copy()
    errors, positions, _ = sat.model.sgp4_array(jd, fr)
    bad = np.flatnonzero((errors != 0) | ~np.all(np.isfinite(positions), axis=1))
    if bad.size == 0:
        return
    k = int(bad[0])
    when = t if np.ndim(t.tt) == 0 else t[k]
    code = int(errors[k])
    reason = SGP4_ERRORS.get(code, "non-finite position") if code else "non-finite position"
    age = float(when.tt - sat.epoch.tt)
    raise SatqkdError(
        f"{_label(sat)}: SGP4 cannot propagate to {when.utc_strftime('%Y-%m-%d %H:%M:%S')} UTC "
        f"({age:+.1f} days from the element epoch {sat.epoch.utc_strftime('%Y-%m-%d %H:%M')} UTC): "
        f"{reason}; use elements nearer that time"
    )


# ---------------------------------------------------------------------------
# Element age by orbit class
# ---------------------------------------------------------------------------

#: Element age (days between the epoch and the furthest end of a span) above
#: which a forecast warns, and above which it is refused, per orbit class.
#: SGP4's error grows with the age of the elements for every class: fastest
#: for low orbits (drag; kilometres per day), slower for MEO and GEO (mostly
#: along-track, from luni-solar and resonance terms), and for highly
#: eccentric orbits whose perigee dips into the atmosphere in between.  The
#: numbers are our planning choices, not a published accuracy bound.
ELEMENT_AGE_LIMITS_DAYS = {
    "LEO": (7.0, 30.0),
    "MEO": (30.0, 180.0),
    "GEO": (30.0, 180.0),
    "HEO": (14.0, 90.0),
}
_ORBIT_WORDS = {
    "LEO": "a low orbit (drag): kilometres per day of age",
    "MEO": "a medium orbit: mostly along-track, growing with age",
    "GEO": "a geosynchronous orbit: mostly along-track drift, growing with age",
    "HEO": "a highly eccentric orbit: perigee drag and luni-solar terms, growing with age",
}


def is_deep_space(sat: EarthSatellite) -> bool:
    """SGP4's own split: periods of 225 min and more use the deep-space (SDP4) terms."""
    return 2.0 * math.pi / sat.model.no_kozai >= 225.0


def orbit_class(sat: EarthSatellite) -> str:
    """``"LEO"`` (period under 225 min), ``"HEO"`` (eccentricity above 0.25),
    ``"GEO"`` (period within 10 % of a sidereal day, including IGSO) or
    ``"MEO"``."""
    m = sat.model
    period_min = 2.0 * math.pi / m.no_kozai
    if period_min < 225.0:
        return "LEO"
    if m.ecco > 0.25:
        return "HEO"
    if abs(period_min / 1436.07 - 1.0) < 0.1:
        return "GEO"
    return "MEO"


def element_age_limits_days(sat: EarthSatellite, max_age_days: float | None = None,
                            warn_age_days: float | None = None) -> tuple[float, float]:
    """``(warn, refuse)`` element ages in days for this satellite's orbit
    class; ``max_age_days`` replaces the LEO limit and scales the others in
    proportion; ``warn_age_days`` replaces the LEO warning age the same way
    (a scenario that knowingly uses older elements, or an idealised orbit
    over a long span, says so; a real set above the refusal limit is still
    refused)."""
    warn, refuse = ELEMENT_AGE_LIMITS_DAYS[orbit_class(sat)]
    if max_age_days is not None:
        scale = float(max_age_days) / ELEMENT_AGE_LIMITS_DAYS["LEO"][1]
        warn, refuse = min(warn * scale, warn), refuse * scale
    if warn_age_days is not None:
        warn = warn * float(warn_age_days) / ELEMENT_AGE_LIMITS_DAYS["LEO"][0]
    return warn, refuse


def check_element_age(satellites, start, end, max_age_days: float | None = None,
                      allow_stale: bool = False, warn_age_days: float | None = None) -> list[str]:
    """Refuse element sets too far from a span; return warnings for the rest.

    The age of a set is the distance from its epoch to the furthest end of
    the span ``[start, end]`` (skyfield Times).  Above the refusal limit of
    its orbit class (:data:`ELEMENT_AGE_LIMITS_DAYS`, or ``max_age_days``
    for LEO and scaled for the others) a :class:`SatqkdError` says how old
    it is, unless ``allow_stale`` turns that into a warning; above the
    warning age (``warn_age_days`` for LEO, scaled) a warning says so.  Orbits built
    by :func:`sun_synchronous`, :func:`classical` or :func:`geostationary`
    are idealised orbits, not stale tracking: a long span only gets a
    warning that says so.
    """
    notes, stale = [], []
    for sat in satellites:
        age = max(abs(start.tt - sat.epoch.tt), abs(end.tt - sat.epoch.tt))
        warn, refuse = element_age_limits_days(sat, max_age_days, warn_age_days)
        cls = orbit_class(sat)
        label = sat.name or f"catalog {catalog_number(sat)}"
        epoch = sat.epoch.utc_strftime("%Y-%m-%d")
        if getattr(sat, "synthetic", False):
            if age > warn:
                notes.append(
                    f"{label}: an idealised {cls} orbit built from elements at {epoch}, propagated {age:.0f} days "
                    f"by SGP4 (mean elements, no manoeuvres or station keeping): pass times late in the span "
                    f"show the orbit's geometry, not a real satellite's schedule"
                )
        elif age > refuse:
            stale.append((age, label, epoch, cls, refuse))
        elif age > warn:
            notes.append(
                f"{label}: elements of {epoch} are {age:.0f} days from the span (over {warn:g} for {cls}); "
                f"SGP4 errors for {_ORBIT_WORDS[cls]}"
            )
    if stale:
        stale.sort(reverse=True)
        age, label, epoch, cls, refuse = stale[0]
        more = f" (and {len(stale) - 1} more element sets)" if len(stale) > 1 else ""
        if not allow_stale:
            raise SatqkdError(
                f"{label}: elements of {epoch} are {age:.0f} days from the span, over the {refuse:g}-day limit "
                f"for {cls}{more}: use elements nearer the span, or allow stale elements "
                f"(--allow-stale-elements; allow_stale_elements: true in a scenario)"
            )
        for age, label, epoch, cls, refuse in stale:
            notes.append(
                f"{label}: elements of {epoch} are {age:.0f} days from the span, over the {refuse:g}-day limit "
                f"for {cls} (allowed): SGP4 errors for {_ORBIT_WORDS[cls]}; positions may be off by tens of km"
            )
    return notes


def load_catalogue(path) -> tuple[list[EarthSatellite], list[str]]:
    """Read a whole catalogue: every set SGP4 accepts, and the rest reported.

    Like :func:`load_elements`, but a malformed or unusable element set
    does not refuse the file: returns ``(satellites, rejected)`` where each
    rejected entry is a one-line message naming the file, the line (or
    record) and the reason.  A file with no usable set at all is an error.
    """
    try:
        return load_elements(path), []
    except SatqkdError as exc:
        first = exc
        p = Path(path)
        if not p.is_file():
            raise
        try:
            text = p.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            raise first from None
        try:
            fmt = _detect_format(text, str(path))
        except SatqkdError:
            raise first from None
        if fmt != "tle":
            raise first from None
    sats, rejected = [], []
    lines = text.splitlines()
    i = 0
    name, name_no = None, 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if line.startswith("1 ") and i + 1 < len(lines) and lines[i + 1].strip().startswith("2 "):
            block = ([lines[name_no - 1]] if name is not None else []) + [lines[i], lines[i + 1]]
            try:
                got = parse_tle("\n".join(block), str(path))
                sats.extend(got)
            except SatqkdError as exc:
                where = _renumber(str(exc), str(path), name_no if name is not None else i + 1)
                rejected.append(f"{where} (set {name!r})" if name else where)
            name = None
            i += 2
            continue
        if line.startswith(("1 ", "2 ")):
            rejected.append(f"{path}:{i + 1}: {'line 1 without its line 2' if line.startswith('1 ') else 'line 2 without its line 1'}"
                            + (f" ({name})" if name else ""))
            name = None
            i += 1
            continue
        if name is not None:
            rejected.append(f"{path}:{name_no}: name line {name!r} is not followed by an element set")
        name, name_no = (line[2:].strip() if line.startswith("0 ") else line), i + 1
        i += 1
    if name is not None:
        rejected.append(f"{path}:{name_no}: name line {name!r} is not followed by an element set")
    if not sats:
        raise first from None
    return sats, rejected


def _renumber(message: str, source: str, first_line: int) -> str:
    """Shift the line numbers of a parse error on a sub-block to the file's."""
    prefix = f"{source}:"
    if message.startswith(prefix):
        rest = message[len(prefix):]
        num, sep, tail = rest.partition(":")
        if num.isdigit():
            return f"{source}:{int(num) + first_line - 1}:{tail}"
    return message

"""Numbers as people read them: bits and bit rates with a scaled unit.

One place decides how an amount of key is written in a summary line, a
report card or a table: the unit prefix (bit, kbit, Mbit, Gbit, Tbit)
follows the size, so a year reads ``13.09 Gbit`` and not ``13094.14 Mbit``,
and a pass ``316 kbit``.  Prefixes are decimal (SI: 1 kbit = 1,000 bits),
as key rates are quoted in the QKD literature.

* :func:`bit_prefix` -- the prefix (scale, name) for a magnitude;
* :func:`format_bits` / :func:`format_bps` -- one value with its unit;
* :func:`bits_unit` -- one prefix for a whole column or figure axis (its
  largest value decides), so the values of a column compare at a glance.

Invariant: the text always has three significant digits or more, and
never uses scientific notation.
"""

from __future__ import annotations

import math

__all__ = ["bit_prefix", "format_bits", "format_bps", "bits_unit"]

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))


def bit_prefix(value: float) -> tuple[float, str]:
    """``(scale, prefix)`` for a magnitude: 6.99e9 -> (1e9, "G"); below 1,000 -> (1, "")."""
    v = abs(float(value))
    if not math.isfinite(v):
        return 1.0, ""
    for scale, prefix in _PREFIXES:
        # 999.996e6 rounds to 1,000.00 Mbit: take the next prefix instead.
        if v >= scale * (1.0 - 5e-6):
            return scale, prefix
    return 1.0, ""


def _digits(x: float, digits: int) -> str:
    """``x`` with ``digits`` decimals, but at least three significant digits."""
    ax = abs(x)
    if ax != 0.0 and ax < 1.0:
        digits = max(digits, 2 - math.floor(math.log10(ax)))
    return f"{x:,.{digits}f}"


def format_bits(bits: float, digits: int = 2, unit: str = "bit") -> str:
    """``6988930000`` -> ``6.99 Gbit``; ``316000`` -> ``316.00 kbit``; 0 -> ``0 bit``."""
    if bits is None or (isinstance(bits, float) and math.isnan(bits)):
        return "–"
    bits = float(bits)
    if bits == 0.0:
        return f"0 {unit}"
    scale, prefix = bit_prefix(bits)
    if scale == 1.0 and float(bits).is_integer():
        return f"{bits:,.0f} {unit}"
    value = bits / scale
    # Rounded up into this prefix (0.9999999 Gbit): the plain digits.
    return f"{(_digits(value, digits) if scale == 1.0 else f'{value:,.{digits}f}')} {prefix}{unit}"


def format_bps(rate_bps: float, digits: int = 2) -> str:
    """A key rate: ``52400`` -> ``52.40 kbit/s``."""
    return format_bits(rate_bps, digits, unit="bit/s")


def bits_unit(values, unit: str = "bit") -> tuple[float, str]:
    """One ``(scale, "Gbit")`` for a column or axis: its largest magnitude decides."""
    top = 0.0
    for v in values:
        try:
            v = abs(float(v))
        except (TypeError, ValueError):
            continue
        if math.isfinite(v) and v > top:
            top = v
    scale, prefix = bit_prefix(top) if top else (1.0, "")
    return scale, f"{prefix}{unit}"

"""sweep.html reads right: line colours match the legend, columns are named
with units, one number format per column, a scaled key per year says so."""

import re

import numpy as np
import pandas as pd

from satqkd.study import sweep_columns, sweep_figures, sweep_report

PARAMETERS = ["height_km", "aperture_m"]


def _table():
    # One night of the sweep example's shape; key values of very different
    # size in one column (4,012 bits next to 26,810) as the issue saw them.
    return pd.DataFrame({
        "height_km": [500, 500, 600, 600],
        "aperture_m": [0.6, 1.2, 0.6, 1.2],
        "passes": [2, 2, 3, 3],
        "scheduled_passes": [2, 2, 3, 3],
        "key_bits": [4012.0, 26810.0, 3511.5, 21000.25],
        "key_bits_per_year": [4012.0 * 365.25, 26810.0 * 365.25, 3511.5 * 365.25, 21000.25 * 365.25],
        "mean_key_rate_bps": [6008.3, 37842.9, 4316.0, 27976.4],
        "lost_to_conflicts_bits": [0.0, 0.0, 0.0, 0.0],
    })


def test_each_line_has_its_legend_colour_in_both_panels():
    """The right panel's traces took the next colours of plotly's cycle, so
    no line matched the legend entry (drawn from the left panel)."""
    for fig in sweep_figures(_table(), PARAMETERS, span_days=1.0):
        colours = {}
        for trace in fig.data:
            assert trace.line.color is not None and trace.marker.color == trace.line.color
            colours.setdefault(trace.legendgroup, set()).add(trace.line.color)
        assert all(len(c) == 1 for c in colours.values())
        assert len({next(iter(c)) for c in colours.values()}) == len(colours) == 2  # one colour per line


def test_columns_have_names_with_units_and_one_format_each():
    page = sweep_report(_table(), PARAMETERS, span_days=1.0)
    headers = re.findall(r"<th>(.*?)</th>", page)
    assert headers[:2] == ["orbit height (km)", "telescope aperture (m)"]
    assert "key over the span (kbit)" in headers and "mean key rate (kbit/s)" in headers
    assert not [h for h in headers if "_" in h]  # no raw column names
    rows = re.findall(r"<tr>(<td>.*?)</tr>", page)
    cells = [re.findall(r"<td>(.*?)</td>", r) for r in rows]
    key = [row[headers.index("key over the span (kbit)")] for row in cells]
    assert key == ["4.01", "26.81", "3.51", "21.00"]  # one format: 4 digits at the largest, never 2.681e+04
    assert not any("e+" in c or "e-" in c for row in cells for c in row)
    assert [row[headers.index("passes")] for row in cells] == ["2", "2", "3", "3"]


def test_key_per_year_scaled_from_one_night_says_so():
    """'key per year' was one night x 365.25, and the page did not say so."""
    page = sweep_report(_table(), PARAMETERS, span_days=1.0)
    assert "key per year (Mbit, 1-day span × 365.2)" in re.findall(r"<th>(.*?)</th>", page)
    assert "scaled by 365.25/1" in page
    year = sweep_report(_table(), PARAMETERS, span_days=365.0)
    assert "span ×" not in year and "scaled by" not in year
    labels = [label for _, label, _, _ in sweep_columns(_table(), PARAMETERS, span_days=365.0)]
    assert "key per year (Mbit)" in labels


def test_formatter_keeps_a_column_in_one_unit():
    label = {c: (lab, scale) for c, lab, scale, _ in sweep_columns(_table(), PARAMETERS)}
    assert label["key_bits_per_year"] == ("key per year (Mbit)", 1e6)
    assert label["mean_key_rate_bps"] == ("mean key rate (kbit/s)", 1e3)
    assert np.isclose(label["aperture_m"][1], 1.0)


def test_parameters_read_as_the_sweep_lists_them():
    page = sweep_report(_table(), PARAMETERS, span_days=1.0)
    cells = [re.findall(r"<td>(.*?)</td>", r) for r in re.findall(r"<tr>(<td>.*?)</tr>", page)]
    assert [row[:2] for row in cells] == [["500", "0.6"], ["500", "1.2"], ["600", "0.6"], ["600", "1.2"]]

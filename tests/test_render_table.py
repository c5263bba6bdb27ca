"""satqkd.io.render_table writes the CSV pandas' ``to_csv`` writes, byte for byte.

The reference is pandas itself (``DataFrame.to_csv(index=False, date_format=TIME_FORMAT)``,
an independent implementation: its row writer goes through Python's csv module), on random
frames of every kind of column the writer formats itself, and on kinds it hands to pandas.
"""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from satqkd.io import TIME_FORMAT, render_table

TEXT = st.text(alphabet=st.sampled_from(list("ab ,\"\n\r;é~>-_0")), max_size=6)


@st.composite
def frames(draw):
    n = draw(st.integers(0, 12))
    floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e16, 1e-5, 1e-4, 0.1, 123456.0])
    kinds = draw(st.lists(st.sampled_from(["float", "int", "bool", "text", "object", "time", "category", "mixed",
                                           "nullable"]), min_size=2, max_size=5))
    cols = {}
    for i, kind in enumerate(kinds):
        if kind == "float":
            v = pd.Series(draw(st.lists(floats, min_size=n, max_size=n)), dtype=float)
        elif kind == "int":
            v = pd.Series(draw(st.lists(st.integers(-2**62, 2**62), min_size=n, max_size=n)), dtype=np.int64)
        elif kind == "bool":
            v = pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        elif kind in ("text", "object"):
            v = pd.Series(draw(st.lists(TEXT | st.none(), min_size=n, max_size=n)), dtype=str if kind == "text" else object)
        elif kind == "time":
            us = draw(st.lists(st.integers(0, 2**52) | st.none(), min_size=n, max_size=n))
            v = pd.Series(pd.to_datetime([u for u in us], unit="us", utc=True))
        elif kind == "category":
            v = pd.Series(pd.Categorical(draw(st.lists(TEXT | st.none(), min_size=n, max_size=n))))
        elif kind == "mixed":
            v = pd.Series(draw(st.lists(st.one_of(TEXT, st.integers(-9, 9), st.floats(allow_nan=False)), min_size=n, max_size=n)),
                          dtype=object)
        else:
            v = pd.Series(draw(st.lists(st.integers(-9, 9) | st.none(), min_size=n, max_size=n)), dtype="Int64")
        cols[draw(TEXT) + f"c{i}"] = v
    return pd.DataFrame(cols)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_csv_is_what_pandas_writes(frame):
    assert render_table(frame, "t.csv") == frame.to_csv(index=False, date_format=TIME_FORMAT)


def test_pool_levels_of_a_year_are_formatted_as_pandas_does():
    """A million floats over 60 orders of magnitude (plus 0, -0, NaN, inf), as the pools table's
    levels are: the same text as pandas (numpy's shortest round-trip digits)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(10**6) * 10.0 ** rng.integers(-30, 30, 10**6)
    x[:6] = [0.0, -0.0, np.nan, np.inf, 1e16, 9999999999999998.0]
    frame = pd.DataFrame({"pool": pd.Categorical.from_codes(np.arange(x.size) % 3, ["a", "b,c", 'd"e']), "level_bits": x})
    assert render_table(frame, "t.csv") == frame.to_csv(index=False, date_format=TIME_FORMAT)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_long_columns_of_repeated_values_are_what_pandas_writes(frame):
    """Above 50,000 rows a column whose values repeat has each distinct value formatted once
    (pools.csv: 1.8 M rows, 9,000 distinct levels): the same bytes as pandas, missing values,
    -0.0 beside 0.0, times and text included."""
    if len(frame) == 0:
        return
    long = pd.concat([frame] * (50_000 // len(frame) + 1), ignore_index=True)
    assert len(long) >= 50_000
    assert render_table(long, "t.csv") == long.to_csv(index=False, date_format=TIME_FORMAT)


def test_long_repeated_columns_keep_minus_zero_missing_values_and_times():
    n = 60_000
    t = pd.Series(pd.to_datetime(np.arange(n) % 7 * 3_600_000_000, unit="us", utc=True))
    t[5] = pd.NaT
    frame = pd.DataFrame({
        "level_bits": np.tile([0.0, -0.0, 1.5, np.nan], n // 4),   # -0.0 equals 0.0 but is written "-0.0"
        "other_bits": np.tile([2.5, np.nan, 1e16], n // 3),
        "hops": np.tile([1, 2, 3], n // 3),
        "ok": np.tile([True, False], n // 2),
        "name": pd.Series(np.tile(["a", None, "b c"], n // 3), dtype=str),
        "time_utc": t,
    })
    assert render_table(frame, "t.csv") == frame.to_csv(index=False, date_format=TIME_FORMAT)

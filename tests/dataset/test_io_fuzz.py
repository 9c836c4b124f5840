"""Property-based fuzzing of the file parser :func:`mods.dataset.io.read_table`.

Whatever the bytes (random bytes, random TSV/CSV shapes, huge numbers, NaN/inf, unicode or
duplicate headers, BOMs, CRLF, quotes), ``read_table`` either returns a valid
:class:`~mods.dataset.io.Dataset` or raises :class:`~mods.errors.DataError` with a one-line
message; nothing else may come out.  Example counts are bounded so the module runs in
seconds; the seed is fixed (``derandomize``) so a failure is reproducible.
"""

import codecs
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mods.dataset.io import Dataset, read_table
from mods.errors import DataError

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

CELLS = st.one_of(
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "-", "NaN", "nan", "inf", "-inf", "Infinity", "1e308", "1e309",
                     "-1e400", "None", "null", "NA", '""', "1,5", "0x1F", "1_000", " 7 ",
                     "2019-06-01T00:00:00Z", "2019-06-01 00:10", "not a date", "\u00e9t\u00e9",
                     "\U0001F600", "'", '"', '"a\tb"', '"x\ny"']),
    st.text(max_size=8),
)
NAMES = st.one_of(
    st.sampled_from(["window_start", "window_end", "time", "timestamp", "label", "anomaly",
                     "conn_in", "conn_out", "", " ", "x", "x", "é", "\ufeffconn", "\u200b",
                     "1", "nan", '"q"']),
    st.text(min_size=0, max_size=6),
)


def _check(source, **kwargs):
    """Call ``read_table``; only a valid Dataset or a one-line DataError may come out."""
    try:
        ds = read_table(source, **kwargs)
    except DataError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message, repr(message)
        return None
    assert isinstance(ds, Dataset)
    assert ds.values.ndim == 2 and ds.values.shape == (ds.n_rows, len(ds.columns))
    assert ds.n_rows >= 1 and ds.n_features >= 1
    assert not np.isnan(ds.values).any()
    if ds.time is not None:
        assert len(ds.time) == ds.n_rows
    return ds


@st.composite
def tables(draw):
    """Bytes of a random delimited table: ragged or not, with odd cells and headers."""
    sep = draw(st.sampled_from(["\t", ",", ";", " "]))
    n_cols = draw(st.integers(min_value=1, max_value=6))
    header = [draw(NAMES) for _ in range(n_cols)]
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=25))):
        width = n_cols if draw(st.integers(0, 9)) else draw(st.integers(0, n_cols + 2))
        rows.append([draw(CELLS) for _ in range(width)])
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(sep.join(r) for r in [header] + rows)
    if draw(st.booleans()):
        text += newline
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        data = codecs.BOM_UTF8 + data
    return data


@st.composite
def numeric_series(draw):
    """A mostly valid TSV: time column, numeric features with extremes and missing cells."""
    n_rows = draw(st.integers(min_value=1, max_value=40))
    n_feat = draw(st.integers(min_value=1, max_value=4))
    names = draw(st.lists(st.sampled_from(["conn_in", "conn_out", "ssh", "dns", "é", "a b"]),
                          min_size=n_feat, max_size=n_feat))
    value = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64).map(repr),
                      st.integers(-10**20, 10**20).map(str), st.just(""))
    step = draw(st.sampled_from([600, 60, 3600]))
    order = draw(st.permutations(list(range(n_rows))))
    gaps = draw(st.integers(min_value=0, max_value=3))
    lines = ["window_start\t" + "\t".join(names) + ("\tlabel" if gaps % 2 else "")]
    for i in order:
        stamp = np.datetime64("2019-06-01T00:00:00") + np.timedelta64((i + (i > 5) * gaps)
                                                                       * step, "s")
        cells = [draw(value) for _ in names]
        if gaps % 2:
            cells.append(draw(st.sampled_from(["0", "1", "", "2", "x"])))
        lines.append(str(stamp) + "Z\t" + "\t".join(cells))
    return ("\r\n" if draw(st.booleans()) else "\n").join(lines).encode()


@SETTINGS
@given(st.binary(max_size=400))
@example(b"")
@example(b"\xef\xbb\xbf")
@example(b"\x00\x01\x02")
@example(b"\xff\xfe" + "a\tb\n1\t2\n".encode("utf-16-le"))
@example(b'a\tb\n"1\t2\n')
@example(b"\r\r\r")
def test_random_bytes_only_data_error(raw):
    _check(raw, name="upload.tsv")


@SETTINGS
@given(tables(), st.sampled_from(["upload.tsv", "upload.csv", "upload", "x.txt"]))
@example(b"a\ta\n1\t2\n", "dup.tsv")
@example(b"\xef\xbb\xbfconn_in\r\n1\r\n2\r\n", "bom.tsv")
@example("v\u00e9\tw\n1e308\t1e309\n-inf\tnan\n".encode(), "huge.tsv")
@example(b"x\n" + b"9" * 400 + b"\n", "longnum.tsv")
@example(b"time\tx\n2019-06-01\t1\n1e300\t2\n", "badtime.tsv")
@example(b"window_start\tx\n2019-06-01T00:00:00Z\t1\n2300-01-01T00:00:00Z\t2\n", "far.tsv")
def test_random_tables_only_data_error(raw, name):
    _check(raw, name=name)


@SETTINGS
@given(numeric_series(), st.sampled_from([None, "conn_in", "conn_in,ssh", "nope"]))
def test_numeric_series_valid_or_data_error(raw, columns):
    ds = _check(raw, name="series.tsv", columns=columns)
    if ds is not None:  # infinities are refused, missing cells interpolated
        assert np.isfinite(ds.values).all()


@SETTINGS
@given(st.text(max_size=200), st.sampled_from(["t.tsv", "t.csv", "t"]))
def test_random_text_only_data_error(text, name):
    _check(text.encode("utf-8", errors="surrogatepass"), name=name)


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e309", "Infinity"])
def test_infinite_values_are_refused_or_finite(cell):
    ds = _check(("x\ty\n1\t2\n%s\t3\n4\t5\n" % cell).encode(), name="inf.tsv")
    if ds is not None:
        assert all(math.isfinite(v) for v in ds.values.ravel()), ds.values

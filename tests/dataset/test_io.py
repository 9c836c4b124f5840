"""Tests of mods.dataset.io: reading, validating and filling time-series tables."""

import io
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mods.dataset.io import Dataset, read_table, write_table
from mods.errors import DataError

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SAMPLE = SHARED_DATA / "mods-sample-w01h-s10m.tsv"
DATAPOOL_FILES = sorted(SHARED_DATA.glob("mods-datapool/tsv/*/2019/06/*/w01h-s10m.tsv"))


def tsv(*lines):
    """Bytes of a tab-separated table given as lines of fields (lists) or strings."""
    out = []
    for line in lines:
        out.append(line if isinstance(line, str) else "\t".join(str(f) for f in line))
    return ("\n".join(out) + "\n").encode("utf-8")


TIMES = [f"2019-06-01T00:{m:02d}:00.000Z" for m in range(0, 60, 10)]


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------

ERROR_CASES = {
    "binary": (b"a\tb\n1\t2\x00\x00\n", {}, "x.tsv: not a text file (binary or not UTF-8)"),
    "latin-1": ("a\tb\n1\tcaf\xe9\n".encode("latin-1"), {},
                "x.tsv: not a text file (binary or not UTF-8)"),
    "empty": (b"", {}, "x.tsv: the file is empty"),
    "blank": (b"\n  \r\n\n", {}, "x.tsv: the file is empty"),
    "header only": (b"a\tb\n", {}, "x.tsv: no data rows (header only)"),
    "header only, blank lines": (b"a\tb\r\n\r\n\r\n", {}, "x.tsv: no data rows (header only)"),
    "too many fields": (tsv("a\tb", "1\t2", "3\t4\t5", "6\t7"), {},
                        "x.tsv: line 3 has 3 field(s), but the header has 2"),
    "too few fields": (tsv("a\tb\tc", "1\t2\t3", "4\t5\t6", "7\t8"), {},
                       "x.tsv: line 4 has 2 field(s), but the header has 3"),
    "ragged after blank line": (tsv("a\tb", "1\t2", "", "3"), {},
                                "x.tsv: line 4 has 1 field(s), but the header has 2"),
    "duplicate column": (tsv("a\tb\ta", "1\t2\t3"), {},
                         "x.tsv: column 'a' appears twice in the header"),
    "header looks like data": (tsv("54775\t19540", "54989\t19255"), {},
                               "x.tsv: the first line must be a header"),
    "unclosed quote": (tsv("a\tb", "1\t2", '3\t"4'), {},
                       "x.tsv: line 3: a quote (\") is opened but never closed"),
    "unknown column": (tsv("a\tb\tc", "1\t2\t3"), {"columns": ["a", "x"]},
                       "x.tsv: unknown column 'x'; available: a, b, c"),
    "unknown column (string)": (tsv("a\tb", "1\t2"), {"columns": "b, zz"},
                                "x.tsv: unknown column 'zz'; available: a, b"),
    "column named twice": (tsv("a\tb", "1\t2"), {"columns": "a,b,a"},
                           "x.tsv: column 'a' is named twice in columns"),
    "unknown time column": (tsv("a\tb", "1\t2"), {"time_column": "when"},
                            "x.tsv: unknown column 'when'; available: a, b"),
    "unknown label column": (tsv("a\tb", "1\t2"), {"label_column": "lab"},
                             "x.tsv: unknown column 'lab'; available: a, b"),
    "text in a numeric column": (
        tsv("window_start\tconn_in", [TIMES[0], 1], [TIMES[1], 2], [TIMES[2], 3],
            [TIMES[3], "abc"], [TIMES[4], 5]), {},
        "x.tsv: line 5, column 'conn_in': 'abc' is not a number"),
    "text in a selected column": (tsv("a\tb", "1\tx", "2\ty"), {"columns": ["a", "b"]},
                                  "x.tsv: line 2, column 'b': 'x' is not a number (1 more in "
                                  "this column)"),
    "decimal comma": (tsv("a\tb", "1\t2", "3\t4,5"), {},
                      "x.tsv: line 3, column 'b': '4,5' is not a number"),
    "infinity": (tsv("a\tb", "1\t2", "inf\t3"), {},
                 "x.tsv: line 3, column 'a': 'inf' is not a finite number"),
    "no numeric column": (tsv("name\tcolour", "x\ty", "z\tw"), {},
                          "x.tsv: no numeric column to use as a feature (columns: name, "
                          "colour)"),
    "only empty columns": (tsv("a\tb", "\t-", "NA\t"), {},
                           "x.tsv: no numeric column to use as a feature"),
    "selected column without values": (tsv("a\tb", '1\t""', "2\t-"), {"columns": "a,b"},
                                       "x.tsv: column 'b' has no values (every cell is "
                                       "missing)"),
    "unparseable time": (tsv("window_start\ta", [TIMES[0], 1], ["yesterday", 2]), {},
                         "x.tsv: line 3, column 'window_start': 'yesterday' is not a "
                         "date/time"),
    "missing time": (tsv("window_start\ta", [TIMES[0], 1], [TIMES[1], 2], ["", 3]), {},
                     "x.tsv: line 4, column 'window_start': the time is missing"),
    "time column as feature": (tsv("window_start\ta", [TIMES[0], 1]),
                               {"columns": ["window_start", "a"]},
                               "x.tsv: column 'window_start' is the time column and cannot "
                               "be a feature"),
    "absurd gap": (tsv("window_start\ta", [TIMES[0], 1], [TIMES[1], 2], [TIMES[2], 3],
                       ["2019-07-01T00:00:00.000Z", 4]), {},
                   "x.tsv: the time column 'window_start' is too irregular"),
    "label not 0/1": (tsv("a\tlabel", "1\t0", "2\t2"), {},
                      "x.tsv: line 3, column 'label': '2' is not a label (0 or 1)"),
    "label not a number": (tsv("a\tanomaly", "1\tyes", "2\t0"), {},
                           "x.tsv: line 2, column 'anomaly': 'yes' is not a label (0 or 1)"),
    "expected column missing": (
        tsv("a\tb", "1\t2"), {"expected_columns": ["a", "c", "d"]},
        "x.tsv: missing column(s) 'c', 'd' the model was trained on (model columns: a, c, "
        "d; file columns: a, b)"),
    "columns differ from expected": (tsv("a\tb", "1\t2"),
                                     {"columns": ["b"], "expected_columns": ["a", "b"]},
                                     "x.tsv: the columns asked for (b) differ from those the "
                                     "model was trained on (a, b)"),
    "min_rows": (tsv("a", "1", "2"), {"min_rows": 10, "min_rows_reason":
                                      "sequence_len + steps_ahead"},
                 "x.tsv: 2 rows, but at least 10 are needed (sequence_len + steps_ahead)"),
    "min_rows without reason": (tsv("a", "1", "2"), {"min_rows": 3},
                                "x.tsv: 2 rows, but at least 3 are needed"),
    "unnamed column with values": (tsv("a\t", "1\t2"), {},
                                   "x.tsv: column 2 of the header has no name, but has "
                                   "values"),
}


@pytest.mark.parametrize("data,kwargs,expected", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_errors(data, kwargs, expected, caplog):
    with caplog.at_level(logging.INFO, logger="mods"):
        with pytest.raises(DataError) as info:
            read_table(data, name="x.tsv", **kwargs)
    message = str(info.value)
    assert message.startswith(expected)
    assert "\n" not in message
    assert any(message in record.getMessage() for record in caplog.records)  # logged


def test_error_line_numbers_count_quoted_newlines():
    data = b'a,note\n1,"two\nlines"\n2,ok\nx,fine\n'
    with pytest.raises(DataError, match=r"^x\.csv: line 5, column 'a': 'x' is not a number$"):
        read_table(data, name="x.csv")


def test_error_names_the_file_of_a_path(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_bytes(tsv("conn_in\tconn_out", "1\t2", "3\t4", "5\t6", "abc\t8"))
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(info.value) == "data.tsv: line 5, column 'conn_in': 'abc' is not a number"


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"^nothing\.tsv: no such file"):
        read_table(tmp_path / "nothing.tsv")


def test_upload_is_the_default_name():
    with pytest.raises(DataError, match=r"^upload: the file is empty$"):
        read_table(b"")


def test_mostly_numeric_column_with_text_is_an_error_not_dropped():
    rows = [[i, i * 2] for i in range(20)]
    rows[12][1] = "n/a?"
    with pytest.raises(DataError, match=r"line 14, column 'b': 'n/a\?' is not a number"):
        read_table(tsv("a\tb", *rows), name="x.tsv")


# ---------------------------------------------------------------------------------------
# Inputs, separators, encodings
# ---------------------------------------------------------------------------------------


def test_path_and_bytes_give_the_same_dataset(tmp_path):
    data = tsv("a\tb", "1\t10", "2\t20", "3\t30")
    path = tmp_path / "small.tsv"
    path.write_bytes(data)
    from_path = read_table(path)
    from_str = read_table(str(path))
    from_bytes = read_table(data)
    assert from_path.source == "small.tsv" and from_str.source == "small.tsv"
    assert from_bytes.source == "upload"
    for ds in (from_path, from_str, from_bytes):
        assert ds.columns == ["a", "b"]
        np.testing.assert_array_equal(ds.values, [[1, 10], [2, 20], [3, 30]])
        assert ds.values.dtype == np.float64
        assert (ds.n_rows, ds.n_features) == (3, 2)
        assert ds.time is None and ds.freq is None and ds.labels is None


def test_file_object_input():
    ds = read_table(io.BytesIO(b"a,b\n1,2\n"), name="f.csv")
    assert ds.source == "f.csv"
    np.testing.assert_array_equal(ds.values, [[1, 2]])


@pytest.mark.parametrize(
    "data,name",
    [
        (b"a\tb\n1\t2\n3\t4\n", "t.tsv"),
        (b"a\tb\n1\t2\n3\t4\n", "t.tab"),
        (b"a,b\n1,2\n3,4\n", "t.csv"),
        (b"a\tb\n1\t2\n3\t4\n", None),  # sniffed: tab
        (b"a,b\n1,2\n3,4\n", None),  # sniffed: comma
        (b"a;b\n1;2\n3;4\n", None),  # sniffed: semicolon
        (b"a;b\n1;2\n3;4\n", "t.txt"),  # unknown extension: sniffed
        (b"a\tb\n1\t2\n3\t4\n", "t.csv"),  # .csv that is tab-separated
        (b'"a","b"\n"1","2"\n3,4\n', "t.csv"),  # quoted fields
    ],
)
def test_separators(data, name):
    ds = read_table(data, name=name)
    assert ds.columns == ["a", "b"]
    np.testing.assert_array_equal(ds.values, [[1, 2], [3, 4]])


def test_sniffing_ignores_separators_inside_quotes():
    data = b'"x,y";b\n1;2\n'
    ds = read_table(data)
    assert ds.columns == ["x,y", "b"]


def test_quoted_fields_may_hold_separators_and_newlines():
    data = b'note,a,b\n"one, two",1,2\n"three\nfour",3,4\n'
    ds = read_table(data, name="q.csv")
    assert ds.columns == ["a", "b"]  # "note" is text: not a feature
    np.testing.assert_array_equal(ds.values, [[1, 2], [3, 4]])


def test_bom_and_crlf():
    data = "\ufeffa\tb\r\n1\t2\r\n\r\n3\t4\r\n".encode("utf-8")
    ds = read_table(data, name="w.tsv")
    assert ds.columns == ["a", "b"]  # no BOM in the first name
    np.testing.assert_array_equal(ds.values, [[1, 2], [3, 4]])


def test_old_mac_line_endings():
    ds = read_table(b"a,b\r1,2\r3,4\r", name="m.csv")
    np.testing.assert_array_equal(ds.values, [[1, 2], [3, 4]])


def test_header_names_and_cells_are_stripped():
    ds = read_table(b" a , b \n 1 , 2 \n 3 , NA \n 5 , 6 \n", name="s.csv")
    assert ds.columns == ["a", "b"]
    np.testing.assert_array_equal(ds.values, [[1, 2], [3, 4], [5, 6]])
    assert ds.filled_cells == 1


def test_empty_trailing_column_is_ignored():
    ds = read_table(b"a\tb\t\n1\t2\t\n3\t4\t\n", name="t.tsv")
    assert ds.columns == ["a", "b"]


# ---------------------------------------------------------------------------------------
# Missing values
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "-", '""', "None", "NaN", "nan", "null", "NA"])
def test_each_missing_token_is_interpolated(token):
    ds = read_table(tsv("a\tb", "1\t10", f"2\t{token}", "3\t30"), name="m.tsv")
    np.testing.assert_array_equal(ds.values[:, 1], [10, 20, 30])
    assert ds.filled_cells == 1


def test_interpolation_is_linear_inside_and_constant_at_the_edges():
    data = tsv("a\tb", '-\t1', '2\t""', "NA\t3", "null\tNaN", "8\t5", "10\t", "None\t")
    ds = read_table(data, name="m.tsv")
    np.testing.assert_allclose(ds.values[:, 0], [2, 2, 4, 6, 8, 10, 10])
    np.testing.assert_allclose(ds.values[:, 1], [1, 2, 3, 4, 5, 5, 5])
    assert ds.filled_cells == 8
    assert not np.isnan(ds.values).any()


# ---------------------------------------------------------------------------------------
# Time column
# ---------------------------------------------------------------------------------------


def test_time_column_is_parsed_sorted_and_not_a_feature():
    data = tsv("window_start\twindow_end\tv",
               [TIMES[2], TIMES[3], 3], [TIMES[0], TIMES[1], 1], [TIMES[1], TIMES[2], 2])
    ds = read_table(data, name="t.tsv")
    assert ds.time_column == "window_start"
    assert ds.columns == ["v"]  # window_end (text) is ignored
    assert ds.time.tz is None
    assert list(ds.time) == list(pd.date_range("2019-06-01", periods=3, freq="10min"))
    np.testing.assert_array_equal(ds.values[:, 0], [1, 2, 3])
    assert ds.freq == pd.Timedelta(minutes=10)
    assert ds.filled_rows == 0


def test_times_are_converted_to_utc():
    data = tsv("timestamp\tv", ["2019-06-01T02:00:00+02:00", 1], ["2019-06-01 00:10:00", 2])
    ds = read_table(data, name="t.tsv")
    assert ds.time_column == "timestamp"
    assert ds.time[0] == pd.Timestamp("2019-06-01 00:00:00")
    assert ds.time[1] == pd.Timestamp("2019-06-01 00:10:00")


def test_explicit_time_column():
    data = tsv("when\tv", [TIMES[1], 2], [TIMES[0], 1])
    ds = read_table(data, name="t.tsv", time_column="when")
    assert ds.time_column == "when" and ds.columns == ["v"]
    np.testing.assert_array_equal(ds.values[:, 0], [1, 2])


def test_numeric_time_named_column_is_a_feature_not_the_time():
    ds = read_table(tsv("time\tv", "1\t5", "2\t6"), name="t.tsv")
    assert ds.time is None and ds.time_column is None
    assert ds.columns == ["time", "v"]


def test_duplicate_timestamps_keep_the_last(caplog):
    data = tsv("window_start\tv", [TIMES[0], 1], [TIMES[1], 2], [TIMES[1], 20],
               [TIMES[2], 3], [TIMES[1], 200])
    with caplog.at_level(logging.INFO, logger="mods"):
        ds = read_table(data, name="d.tsv")
    np.testing.assert_array_equal(ds.values[:, 0], [1, 200, 3])
    assert ds.n_rows == 3
    assert any("2 duplicate timestamp(s)" in r.getMessage() for r in caplog.records)


def test_input_rows_map_each_file_row_to_its_series_row():
    # shuffled, a duplicate time (the later row wins) and a gap of two steps
    data = tsv("window_start\tv", [TIMES[4], 40], [TIMES[0], 0], [TIMES[1], 10],
               [TIMES[0], 1], [TIMES[5], 50])
    ds = read_table(data, name="m.tsv")
    assert list(ds.time) == list(pd.date_range("2019-06-01", periods=6, freq="10min"))
    np.testing.assert_array_equal(ds.input_rows, [4, 0, 1, 0, 5])
    np.testing.assert_array_equal(ds.values[ds.input_rows, 0], [40, 1, 10, 1, 50])


def test_input_rows_is_none_for_an_ordered_regular_file():
    ds = read_table(tsv("window_start\tv", [TIMES[0], 1], [TIMES[1], 2], [TIMES[2], 3]),
                    name="o.tsv")
    assert ds.input_rows is None


def test_missing_time_steps_are_inserted_and_counted():
    data = tsv("window_start\tv\tlabel",
               [TIMES[0], 0, 0], [TIMES[1], 10, 1], [TIMES[4], 40, 1], [TIMES[5], 50, 0])
    ds = read_table(data, name="g.tsv")
    assert ds.filled_rows == 2
    assert ds.filled_cells == 0
    assert list(ds.time) == list(pd.date_range("2019-06-01", periods=6, freq="10min"))
    np.testing.assert_allclose(ds.values[:, 0], [0, 10, 20, 30, 40, 50])
    np.testing.assert_array_equal(ds.labels, [0, 1, 0, 0, 1, 0])


def test_jittered_times_keep_every_row():
    data = tsv("timestamp\tv", ["2019-06-01 00:00:00", 1], ["2019-06-01 00:10:02", 2],
               ["2019-06-01 00:19:58", 3], ["2019-06-01 00:40:00", 5])
    ds = read_table(data, name="j.tsv")
    assert ds.n_rows == 5 and ds.filled_rows == 1
    np.testing.assert_allclose(ds.values[:, 0], [1, 2, 3, 4, 5])


def test_min_rows_counts_filled_rows():
    data = tsv("window_start\tv", [TIMES[0], 0], [TIMES[1], 1], [TIMES[2], 2], [TIMES[5], 5])
    ds = read_table(data, name="g.tsv", min_rows=6)
    assert ds.n_rows == 6 and ds.filled_rows == 2
    with pytest.raises(DataError, match=r"^g\.tsv: 6 rows, but at least 7 are needed$"):
        read_table(data, name="g.tsv", min_rows=7)


# ---------------------------------------------------------------------------------------
# Labels and columns
# ---------------------------------------------------------------------------------------


def test_label_column_is_not_a_feature():
    ds = read_table(tsv("a\tlabel\tb", "1\t0\t2", "3\t\t4", "5\t1\t6"), name="l.tsv")
    assert ds.columns == ["a", "b"]
    assert ds.label_column == "label"
    assert ds.labels.dtype.kind == "i"
    np.testing.assert_array_equal(ds.labels, [0, 0, 1])


def test_anomaly_column_and_explicit_label_column():
    ds = read_table(tsv("a\tanomaly", "1\t1", "2\t0"), name="l.tsv")
    assert ds.label_column == "anomaly" and ds.columns == ["a"]
    np.testing.assert_array_equal(ds.labels, [1, 0])
    ds = read_table(tsv("a\tflag", "1\t1", "2\t0"), name="l.tsv", label_column="flag")
    assert ds.label_column == "flag" and ds.columns == ["a"]
    np.testing.assert_array_equal(ds.labels, [1, 0])


def test_label_is_a_feature_only_when_listed():
    ds = read_table(tsv("a\tlabel", "1\t1", "2\t0"), name="l.tsv", columns="label,a")
    assert ds.columns == ["label", "a"]
    np.testing.assert_array_equal(ds.values, [[1, 1], [0, 2]])
    np.testing.assert_array_equal(ds.labels, [1, 0])


@pytest.mark.parametrize("columns", [["c", "a"], "c,a", " c , a "])
def test_columns_select_and_order(columns):
    ds = read_table(tsv("a\tb\tc", "1\t2\t3", "4\t5\t6"), name="c.tsv", columns=columns)
    assert ds.columns == ["c", "a"]
    np.testing.assert_array_equal(ds.values, [[3, 1], [6, 4]])


def test_expected_columns_give_the_features_in_model_order():
    data = tsv("window_start\tx\tb\ta", [TIMES[0], 9, 2, 1], [TIMES[1], 9, 4, 3])
    ds = read_table(data, name="e.tsv", expected_columns=["a", "b"])
    assert ds.columns == ["a", "b"]
    np.testing.assert_array_equal(ds.values, [[1, 2], [3, 4]])


def test_selected_text_column_is_an_error():
    data = tsv("window_start\twindow_end\tv", [TIMES[0], TIMES[1], 1])
    with pytest.raises(DataError, match=r"column 'window_end': '2019-06-01T00:10:00.000Z' is "
                                        r"not a number"):
        read_table(data, name="t.tsv", columns=["v", "window_end"])


def test_all_empty_column_is_dropped_from_the_default_selection(caplog):
    with caplog.at_level(logging.INFO, logger="mods"):
        ds = read_table(tsv("a\tb\tc", '1\t""\t5', '2\t""\t6'), name="e.tsv")
    assert ds.columns == ["a", "c"]
    assert any("without any value" in r.getMessage() and "b" in r.getMessage()
               for r in caplog.records)


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------


def test_frame_and_write_table_round_trip(tmp_path):
    data = tsv("window_start\tv\tw\tlabel", [TIMES[0], 1, 5, 0], [TIMES[2], 3, 7, 1],
               [TIMES[3], 4, 8, 0], [TIMES[4], 5, 9, 0])
    ds = read_table(data, name="r.tsv")
    frame = ds.frame()
    assert list(frame.columns) == ["window_start", "v", "w", "label"]
    assert len(frame) == 5 and ds.filled_rows == 1
    path = tmp_path / "out.tsv"
    write_table(frame, path)
    text = path.read_text()
    assert text.splitlines()[0] == "window_start\tv\tw\tlabel"
    assert text.splitlines()[2].startswith("2019-06-01T00:10:00.000Z\t2.0\t6.0\t0")
    again = read_table(path)
    np.testing.assert_array_equal(again.values, ds.values)
    np.testing.assert_array_equal(again.labels, ds.labels)
    assert list(again.time) == list(ds.time)


def test_write_table_csv_to_a_buffer_with_tz_aware_times():
    frame = pd.DataFrame({"t": pd.to_datetime(["2019-06-01T02:00:00+02:00"]), "v": [1.5]})
    buf = io.StringIO()
    write_table(frame, buf, sep=",")
    assert buf.getvalue() == "t,v\n2019-06-01T00:00:00.000Z,1.5\n"


def test_dataset_without_time_frame():
    ds = Dataset(values=np.array([[1.0, 2.0]]), columns=["a", "b"], source="x")
    assert list(ds.frame().columns) == ["a", "b"]
    assert ds.n_rows == 1 and ds.n_features == 2


# ---------------------------------------------------------------------------------------
# Speed and the shared data
# ---------------------------------------------------------------------------------------


def test_reading_50000_rows():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(50_000, 10)) * 1000
    frame = pd.DataFrame(values, columns=[f"c{i}" for i in range(10)])
    frame.insert(0, "window_start", pd.date_range("2019-01-01", periods=50_000, freq="10min"))
    buf = io.StringIO()
    write_table(frame, buf)
    data = buf.getvalue().encode()
    ds = read_table(data, name="big.tsv")
    assert ds.values.shape == (50_000, 10)
    np.testing.assert_allclose(ds.values, values, rtol=1e-12)


@pytest.mark.skipif(not SAMPLE.is_file(), reason="shared sample data not present")
def test_shared_sample_file():
    ds = read_table(SAMPLE)
    assert ds.source == "mods-sample-w01h-s10m.tsv"
    assert ds.columns == ["conn_in", "conn_out", "dns_in_distinct", "ssh_in"]
    assert ds.values.shape == (4464, 4)
    assert ds.time is None and ds.labels is None
    np.testing.assert_array_equal(ds.values[0], [54775, 19540, 42, 4951])


@pytest.mark.skipif(not DATAPOOL_FILES, reason="shared datapool not present")
@pytest.mark.parametrize("path", DATAPOOL_FILES,
                         ids=["/".join(p.parts[-5:-1]) for p in DATAPOOL_FILES])
def test_shared_datapool_files(path):
    ds = read_table(path)
    assert ds.time_column == "window_start"
    assert "window_end" not in ds.columns and ds.n_features > 0
    assert ds.freq == pd.Timedelta(minutes=10)
    assert ds.n_rows == 144  # one day at 10 minutes, gaps filled
    assert ds.time[0] == pd.Timestamp(path.parts[-4] + "-" + path.parts[-3] + "-"
                                      + path.parts[-2])
    assert not np.isnan(ds.values).any()


# ---------------------------------------------------------------------------------------
# Odds and ends
# ---------------------------------------------------------------------------------------


def test_true_false_column_is_not_a_feature_unless_selected():
    data = tsv("a\tb", "1\tTrue", "2\tFalse")
    assert read_table(data, name="b.tsv").columns == ["a"]
    with pytest.raises(DataError, match=r"line 2, column 'b': 'True' is not a number"):
        read_table(data, name="b.tsv", columns="a,b")


def test_time_named_text_column_that_is_not_dates_is_ignored():
    ds = read_table(tsv("Time\tv", "morning\t1", "evening\t2"), name="t.tsv")
    assert ds.time is None and ds.columns == ["v"]


def test_other_date_layouts_and_leading_blank_lines():
    data = b"\n\nTime\tv\n06/01/2019 10:00\t1\n06/01/2019 10:10\t2\n\n06/01/2019 10:20\tx\n"
    with pytest.raises(DataError, match=r"^t\.tsv: line 7, column 'v': 'x' is not a number$"):
        read_table(data, name="t.tsv")
    ds = read_table(data.replace(b"\tx", b"\t3"), name="t.tsv")
    assert ds.time_column == "Time"
    assert list(ds.time) == list(pd.date_range("2019-06-01 10:00", periods=3, freq="10min"))

"""Read time-series tables (.tsv/.csv, from a path or an upload) into a validated :class:`Dataset`.

What :func:`read_table` does, in order:

1. decodes the bytes as UTF-8 (a BOM is dropped, CRLF line endings are fine) and refuses
   binary files;
2. picks the separator from the extension (``.tsv``/``.tab``: tab, ``.csv``: comma) or sniffs
   it from the header line (tab, comma or semicolon);
3. checks the structure: a header is required, every row has as many fields as the header,
   column names are unique (standard CSV quoting is understood);
4. parses the table with :func:`pandas.read_csv` (missing-value tokens: empty cell, ``-``,
   ``""``, ``None``, ``NaN``, ``nan``, ``null``, ``NA``), finds the time, label and feature
   columns and reports the first bad cell with its line number;
5. sorts the rows by time, drops duplicate timestamps (keeping the last), inserts rows for
   missing time steps and interpolates every missing cell.

Every problem is a :class:`~mods.errors.DataError` whose one-line message starts with the
file's name, so the command line and the web service can show it as it is.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mods import config
from mods.errors import DataError, fail

LOG = logging.getLogger("mods")

#: Cell values that mean "no value" (besides an empty cell); they are interpolated.
MISSING_TOKENS = ("", "-", '""', "None", "NaN", "nan", "null", "NA")
#: Names of the time column looked for when none is given (``window_start`` comes first).
TIME_COLUMN_DEFAULT = "window_start"
TIME_COLUMN_CANDIDATES = ("time", "timestamp", "datetime")
#: Names of the label column looked for when none is given.
LABEL_COLUMN_CANDIDATES = ("label", "anomaly")
#: Filling missing time steps may add at most this many times the rows of the file.
MAX_FILL_FACTOR = 10
#: Format of times written by :func:`write_table` (that of the datapool's ``window_start``).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.000Z"

_SEPARATORS = {"\t": "tab", ",": "comma", ";": "semicolon"}
_EXTENSION_SEPARATORS = {".tsv": "\t", ".tab": "\t", ".csv": ","}


@dataclass
class Dataset:
    """A validated table of numeric time series, with no missing value.

    Attributes
    ----------
    values : numpy.ndarray
        float64 array of shape ``(n_rows, n_features)``; missing cells are interpolated.
    columns : list of str
        Feature names, in the order of ``values``' columns.
    time : pandas.DatetimeIndex or None
        Time of each row (tz-naive, UTC), sorted and regular; ``None`` without a time column.
    time_column : str or None
        Name of the time column in the file.
    freq : pandas.Timedelta or None
        Regular step of the series (median of the positive time differences); ``None``
        without a time column or with a single row.
    labels : numpy.ndarray or None
        int 0/1 per row when the file had a label column, else ``None``.
    label_column : str or None
        Name of the label column in the file.
    filled_cells : int
        Missing cells (of the features) that were interpolated.
    filled_rows : int
        Rows inserted for missing time steps (their values are interpolated, labels 0).
    input_rows : numpy.ndarray or None
        For each row of the file, in file order, the index of the row of ``values`` it became
        (rows with a duplicate time: the row kept for that time); ``None`` when the file was
        already in time order without duplicates or gaps (row ``i`` is row ``i``).
    source : str
        Name used in messages (file name, or ``"upload"``).
    """

    values: np.ndarray
    columns: list[str]
    time: pd.DatetimeIndex | None = None
    time_column: str | None = None
    freq: pd.Timedelta | None = None
    labels: np.ndarray | None = None
    label_column: str | None = None
    filled_cells: int = 0
    filled_rows: int = 0
    source: str = "upload"
    input_rows: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        """Number of rows (time steps)."""
        return int(self.values.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return int(self.values.shape[1])

    def frame(self) -> pd.DataFrame:
        """The data as a table for output: time column (if any), features, label (if any).

        Returns
        -------
        pandas.DataFrame
            One row per time step, with a fresh ``RangeIndex``.
        """
        parts = {}
        if self.time is not None:
            parts[self.time_column or "time"] = pd.DatetimeIndex(self.time)
        for j, name in enumerate(self.columns):
            parts[name] = self.values[:, j]
        if self.labels is not None:
            label = self.label_column or "label"
            if label not in self.columns:
                parts[label] = np.asarray(self.labels, dtype=int)
        return pd.DataFrame(parts, index=pd.RangeIndex(self.n_rows))


def write_table(frame: pd.DataFrame, path_or_buffer, sep: str = "\t") -> None:
    """Write ``frame`` as a table, with datetime columns as ``2019-06-01T00:00:00.000Z``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Table to write; its index is written as a first column only when it is a
        :class:`pandas.DatetimeIndex` (named after the index, or ``time``).
    path_or_buffer : str, pathlib.Path or file-like
        Destination, as for :meth:`pandas.DataFrame.to_csv`.
    sep : str, default tab
        Field separator.
    """
    out = frame.copy()
    if isinstance(out.index, pd.DatetimeIndex):
        out.index = out.index.rename(out.index.name or "time")
        out = out.reset_index()
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            if getattr(column.dt, "tz", None) is not None:
                column = column.dt.tz_convert("UTC").dt.tz_localize(None)
            out[name] = column.dt.strftime(TIME_FORMAT)
    out.to_csv(path_or_buffer, sep=sep, index=False, lineterminator="\n")


def read_table(
    source,
    *,
    name: str | None = None,
    columns=None,
    time_column: str | None = None,
    label_column: str | None = None,
    min_rows: int = 1,
    expected_columns=None,
    min_rows_reason: str | None = None,
    max_rows: int | None = None,
    max_columns: int | None = None,
) -> Dataset:
    """Read and validate a .tsv/.csv time-series table.

    Parameters
    ----------
    source : str, pathlib.Path, bytes or file-like
        A file's path, or the bytes of an upload (or a binary/text file object).
    name : str, optional
        Name used in messages (default: the file's base name, or ``"upload"``). Its
        extension also chooses the separator for bytes.
    columns : list of str or str, optional
        Feature columns, in order (a list or a comma-separated string). Default: every
        numeric column except the time and label columns.
    time_column : str, optional
        Name of the time column. Default: ``window_start`` if present, else a column named
        ``time``, ``timestamp`` or ``datetime`` whose cells are dates; none is required.
    label_column : str, optional
        Name of the 0/1 label column. Default: ``label`` or ``anomaly`` if present. It is
        never a feature unless listed in ``columns``.
    min_rows : int, default 1
        Least number of rows (after filling missing time steps).
    expected_columns : list of str or str, optional
        Columns a model was trained on: the file must have them all, and they become the
        features, in that order.
    min_rows_reason : str, optional
        Explanation added to the ``min_rows`` message, e.g. ``"sequence_len + steps_ahead"``.
    max_rows : int, optional
        Most data rows, in the file and after filling missing time steps (default:
        :func:`mods.config.max_rows`, ``MODS_MAX_ROWS``; ``0``: no limit).
    max_columns : int, optional
        Most columns in the header (default: :func:`mods.config.max_columns`,
        ``MODS_MAX_COLUMNS``; ``0``: no limit).

    Returns
    -------
    Dataset

    Raises
    ------
    mods.errors.DataError
        With a one-line message starting with the name, for every problem of the data.
    """
    raw, name, ext = _load(source, name)
    raw = _decode_check(raw, name)
    sep = _choose_separator(raw, ext, name)
    table = _Structure(raw, sep, name)
    max_rows = config.max_rows() if max_rows is None else max_rows
    max_columns = config.max_columns() if max_columns is None else max_columns
    if max_columns and int(table.fields[0]) > max_columns:
        raise fail(DataError, f"{name}: {int(table.fields[0])} columns, more than the limit "
                   f"of {max_columns} (MODS_MAX_COLUMNS)")
    if max_rows and table.n_rows > max_rows:
        raise fail(DataError, f"{name}: {table.n_rows} data rows, more than the limit of "
                   f"{max_rows} (MODS_MAX_ROWS); send fewer rows")
    header = table.header_names()

    requested = _names_list(columns, "columns", name)
    expected = _names_list(expected_columns, "expected_columns", name)
    time_column, time_candidates = _resolve_time_column(header, time_column, name)
    label_column = _resolve_label_column(header, label_column, time_column, name)
    selection = _resolve_selection(
        header, requested, expected, time_column, time_candidates, name
    )

    frame = table.read_frame()

    # --- time column (auto-detected candidates only when they parse as dates) -----------
    times = None
    if time_column is not None:
        times = _parse_times(frame[time_column], time_column, table, header, strict=True)
    else:
        for candidate in time_candidates:
            parsed = _parse_times(frame[candidate], candidate, table, header, strict=False)
            if parsed is not None:  # (a candidate selected as a feature is not tried)
                time_column, times = candidate, parsed
                break

    # --- features ------------------------------------------------------------------------
    excluded = {time_column, label_column}
    if selection is None:
        features, blocks, empty = [], [], []
        for col in header:
            if col in excluded or col.startswith(_Structure.UNNAMED):
                continue
            values = _numeric_column(frame[col], col, table, header, explicit=False)
            if values is _EMPTY:
                empty.append(col)
            elif values is not None:
                features.append(col)
                blocks.append(values)
        if empty:
            LOG.warning("%s: %d column(s) without any value not used: %s", name, len(empty),
                        ", ".join(empty))
        if not features:
            shown = ", ".join(c for c in header if not c.startswith(_Structure.UNNAMED))
            raise fail(DataError, f"{name}: no numeric column to use as a feature "
                       f"(columns: {shown})")
    else:
        features = list(selection)
        blocks = [_numeric_column(frame[c], c, table, header, explicit=True) for c in features]
    values = np.column_stack(blocks).astype(np.float64, copy=False)

    labels = None
    if label_column is not None:
        labels = _parse_labels(frame[label_column], label_column, table, header)

    # --- order, duplicates, missing time steps ---------------------------------------------
    freq, filled_rows = None, 0
    if times is not None:
        times, values, labels, freq, filled_rows, input_rows = _regularise(
            times, values, labels, time_column, name
        )
    else:
        input_rows = None

    missing = np.isnan(values)
    filled_cells = int(missing.sum()) - filled_rows * values.shape[1]
    if missing.any():
        _interpolate(values, missing)
        LOG.info("%s: interpolated %d missing cell(s) and %d missing row(s)",
                 name, filled_cells, filled_rows)

    n_rows = values.shape[0]
    if max_rows and n_rows > max_rows:
        raise fail(DataError, f"{name}: {n_rows} rows after filling missing time steps, more "
                   f"than the limit of {max_rows} (MODS_MAX_ROWS)")
    if n_rows < min_rows:
        reason = f" ({min_rows_reason})" if min_rows_reason else ""
        raise fail(DataError, f"{name}: {n_rows} rows, but at least {min_rows} are "
                   f"needed{reason}")

    return Dataset(
        values=values,
        columns=features,
        time=times,
        time_column=time_column if times is not None else None,
        freq=freq,
        labels=labels,
        label_column=label_column,
        filled_cells=filled_cells,
        filled_rows=filled_rows,
        source=name,
        input_rows=input_rows,
    )


# ---------------------------------------------------------------------------------------
# Bytes, decoding, separator
# ---------------------------------------------------------------------------------------


def _load(source, name):
    """Return ``(bytes, name, extension)`` of ``source``."""
    ext = ""
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        name = name or "upload"
    elif isinstance(source, (str, Path)):
        path = Path(source)
        name = name or path.name or str(source)
        ext = path.suffix.lower()
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise fail(DataError, f"{name}: no such file ({path})") from None
        except IsADirectoryError:
            raise fail(DataError, f"{name}: is a folder, not a file ({path})") from None
        except OSError as exc:
            raise fail(DataError, f"{name}: cannot be read ({exc.strerror or exc})") from None
    elif hasattr(source, "read"):
        raw = source.read()
        name = name or Path(str(getattr(source, "name", "") or "upload")).name or "upload"
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        raw = bytes(raw)
    else:
        raise TypeError(f"read_table: expected a path, bytes or a file object, "
                        f"not {type(source).__name__}")
    if not ext:
        ext = Path(name).suffix.lower()
    return raw, name, ext


def _decode_check(raw, name):
    """Drop a UTF-8 BOM, refuse binary/non-UTF-8 and empty data; return the bytes."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    if b"\x00" in raw:
        raise fail(DataError, f"{name}: not a text file (binary or not UTF-8)")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(DataError, f"{name}: not a text file (binary or not UTF-8)") from None
    if not raw or raw.isspace():
        raise fail(DataError, f"{name}: the file is empty")
    if b"\n" not in raw and b"\r" in raw:  # old Mac line endings
        raw = raw.replace(b"\r", b"\n")
    return raw


def _first_line(raw):
    for line in raw.split(b"\n", 50)[:50]:
        if line.strip():
            return line.decode("utf-8")
    return ""


def _sniff(line):
    """Separator of a header line: the most frequent of tab, comma, semicolon (tab if none)."""
    unquoted = re.sub(r'"[^"]*"', "", line)
    counts = {sep: unquoted.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda s: counts[s])  # ties: tab, then comma
    return best if counts[best] else "\t"


def _choose_separator(raw, ext, name):
    line = _first_line(raw)
    sniffed = _sniff(line)
    sep = _EXTENSION_SEPARATORS.get(ext)
    if sep is None:
        return sniffed
    if sep not in re.sub(r'"[^"]*"', "", line) and sniffed != sep and sniffed in line:
        LOG.info("%s: the header has no %s but has %ss; reading it %s-separated",
                 name, _SEPARATORS[sep], _SEPARATORS[sniffed], _SEPARATORS[sniffed])
        return sniffed
    return sep


# ---------------------------------------------------------------------------------------
# Structure: records, line numbers, header
# ---------------------------------------------------------------------------------------


class _Structure:
    """Records of the text (quote-aware, vectorised), their line numbers and the header."""

    UNNAMED = "\x00unnamed:"

    def __init__(self, raw, sep, name):
        self.raw, self.sep, self.name = raw, sep, name
        self.sep_name = _SEPARATORS.get(sep, repr(sep))
        arr = np.frombuffer(raw, dtype=np.uint8)
        newlines = np.flatnonzero(arr == 10)
        seps = np.flatnonzero(arr == ord(sep))
        if b'"' in raw:
            quotes = np.flatnonzero(arr == 34)
            if len(quotes) % 2:
                line = int(np.searchsorted(newlines, quotes[-1])) + 1
                raise fail(DataError, f"{name}: line {line}: a quote (\") is opened but "
                           "never closed")
            # a newline/separator is structural when an even number of quotes precede it
            newlines_s = newlines[(np.searchsorted(quotes, newlines) & 1) == 0]
            seps = seps[(np.searchsorted(quotes, seps) & 1) == 0]
        else:
            newlines_s = newlines
        starts = np.concatenate(([0], newlines_s + 1))
        ends = np.concatenate((newlines_s, [len(raw)]))
        if starts[-1] >= len(raw):  # text ends with a newline
            starts, ends = starts[:-1], ends[:-1]
        fields = np.searchsorted(seps, ends) - np.searchsorted(seps, starts) + 1
        # blank records (no separator, only white space) are skipped, as pandas does
        blank = np.zeros(len(starts), dtype=bool)
        for i in np.flatnonzero(fields == 1):
            if not raw[starts[i]:ends[i]].strip():
                blank[i] = True
        keep = np.flatnonzero(~blank)
        self.starts, self.ends, self.fields = starts[keep], ends[keep], fields[keep]
        self.lines = np.searchsorted(newlines, self.starts) + 1  # 1-based line numbers
        if len(self.starts) < 2:
            raise fail(DataError, f"{name}: no data rows (header only)")
        n_header = int(self.fields[0])
        bad = np.flatnonzero(self.fields[1:] != n_header)
        if len(bad):
            i = int(bad[0]) + 1
            more = f" ({len(bad) - 1} more such row(s))" if len(bad) > 1 else ""
            raise fail(DataError, f"{name}: line {self.lines[i]} has {self.fields[i]} "
                       f"field(s), but the header has {n_header} (fields are "
                       f"{self.sep_name}-separated){more}")
        self._header = None

    @property
    def n_rows(self):
        return len(self.starts) - 1

    def record(self, i):
        """Fields of record ``i`` (0: header), as csv parses them."""
        text = self.raw[self.starts[i]:self.ends[i]].decode("utf-8")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=self.sep))
        return [f for row in rows for f in row] if len(rows) != 1 else rows[0]

    def line_of_row(self, row):
        """File line number (header is line 1 when it starts the file) of data row ``row``."""
        return int(self.lines[row + 1])

    def cell(self, row, col):
        """Text of data row ``row``, field ``col`` (for messages)."""
        fields = self.record(row + 1)
        return fields[col] if col < len(fields) else ""

    def header_names(self):
        """Column names (stripped); duplicates and names missing on data are refused."""
        names = [f.strip() for f in self.record(0)]
        if len(names) != int(self.fields[0]):  # cannot happen with standard quoting
            names = (names + [""] * int(self.fields[0]))[: int(self.fields[0])]
        if names and all(_is_number(n) for n in names if n) and any(names):
            shown = ", ".join(repr(n) for n in names[:4])
            raise fail(DataError, f"{self.name}: the first line must be a header with the "
                       f"column names, but it looks like data ({shown}...)")
        seen = set()
        for n in names:
            if n and n in seen:
                raise fail(DataError, f"{self.name}: column '{n}' appears twice in the "
                           "header")
            seen.add(n)
        self._header = [n if n else f"{self.UNNAMED}{j + 1}" for j, n in enumerate(names)]
        return self._header

    def read_frame(self):
        """Parse the table with pandas: numbers as float/int, other cells as str, NaN if missing."""
        try:
            frame = pd.read_csv(
                io.BytesIO(self.raw), sep=self.sep, header=0, dtype=None,
                na_values=list(MISSING_TOKENS), keep_default_na=False,
                skip_blank_lines=True, low_memory=False, encoding="utf-8",
                true_values=[], false_values=[],
            )
        except (pd.errors.ParserError, ValueError) as exc:
            raise fail(DataError, f"{self.name}: cannot be read as a "
                       f"{self.sep_name}-separated table ({exc})") from None
        if frame.shape != (self.n_rows, len(self._header)):
            raise fail(DataError, f"{self.name}: cannot be read as a "
                       f"{self.sep_name}-separated table (found {frame.shape[0]} rows of "
                       f"{frame.shape[1]} fields, expected {self.n_rows} of "
                       f"{len(self._header)}); check the quoting")
        frame.columns = self._header
        for j, col in enumerate(self._header):
            if col.startswith(self.UNNAMED) and frame[col].notna().any():
                raise fail(DataError, f"{self.name}: column {j + 1} of the header has no "
                           "name, but has values")
        return frame


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------
# Column names
# ---------------------------------------------------------------------------------------


def _names_list(value, what, name):
    """A list of column names from a list or a comma-separated string (None if empty)."""
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split(",")
    else:
        items = list(value)
    names = [str(v).strip() for v in items]
    names = [n for n in names if n]
    if not names:
        return None
    seen = set()
    for n in names:
        if n in seen:
            raise fail(DataError, f"{name}: column '{n}' is named twice in {what}")
        seen.add(n)
    return names


def _unknown(column, header, name):
    shown = ", ".join(c for c in header if not c.startswith(_Structure.UNNAMED))
    return fail(DataError, f"{name}: unknown column '{column}'; available: {shown}")


def _resolve_time_column(header, time_column, name):
    """``(time column or None, candidates to try)``."""
    if time_column:
        time_column = time_column.strip()
        if time_column not in header:
            raise _unknown(time_column, header, name)
        return time_column, []
    if TIME_COLUMN_DEFAULT in header:
        return TIME_COLUMN_DEFAULT, []
    return None, [c for c in header if c.lower() in TIME_COLUMN_CANDIDATES]


def _resolve_label_column(header, label_column, time_column, name):
    if label_column:
        label_column = label_column.strip()
        if label_column not in header:
            raise _unknown(label_column, header, name)
        if label_column == time_column:
            raise fail(DataError, f"{name}: column '{label_column}' cannot be both the time "
                       "and the label column")
        return label_column
    for c in header:
        if c.lower() in LABEL_COLUMN_CANDIDATES and c != time_column:
            return c
    return None


def _resolve_selection(header, requested, expected, time_column, time_candidates, name):
    """The features named by the caller (``expected`` wins), or None for the default."""
    if expected is not None:
        missing = [c for c in expected if c not in header]
        if missing:
            shown = ", ".join(c for c in header if not c.startswith(_Structure.UNNAMED))
            raise fail(DataError, f"{name}: missing column(s) "
                       f"{', '.join(repr(c) for c in missing)} the model was trained on "
                       f"(model columns: {', '.join(expected)}; file columns: {shown})")
        if requested is not None and requested != expected:
            raise fail(DataError, f"{name}: the columns asked for ({', '.join(requested)}) "
                       f"differ from those the model was trained on ({', '.join(expected)})")
        selection = expected
    elif requested is not None:
        for c in requested:
            if c not in header:
                raise _unknown(c, header, name)
        selection = requested
    else:
        return None
    if time_column is not None and time_column in selection:
        raise fail(DataError, f"{name}: column '{time_column}' is the time column and cannot "
                   "be a feature")
    # an explicitly selected column named like a time column is a feature, not the time
    time_candidates[:] = [c for c in time_candidates if c not in selection]
    return selection


# ---------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------


def _shorten(text, limit=40):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bad_cell(table, header, col, rows, what):
    """DataError for the first of ``rows`` (data-row indices) in column ``col``."""
    row = int(rows[0])
    text = table.cell(row, header.index(col))
    more = f" ({len(rows) - 1} more in this column)" if len(rows) > 1 else ""
    return fail(DataError, f"{table.name}: line {table.line_of_row(row)}, column '{col}': "
                f"'{_shorten(text)}' {what}{more}")


def _to_numbers(series, explicit):
    """Float values, missing mask and bad (non-numeric) rows of a column as pandas read it.

    Returns ``(values, missing, bad)``, or None when ``explicit`` is false and the column is
    clearly not numeric (fewer than half of its present cells are numbers).
    """
    missing = series.isna().to_numpy()
    if pd.api.types.is_bool_dtype(series.dtype):  # True/False: not numbers
        if not explicit:
            return None
        return np.full(len(series), np.nan), missing, np.flatnonzero(~missing)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), missing, _NO_ROWS
    present = np.flatnonzero(~missing)
    if not explicit and len(present) > 200:
        # quick look at a sample, so that text columns (e.g. window_end) cost little
        sample = series.iloc[present[np.linspace(0, len(present) - 1, 200).astype(int)]]
        if _numbers(sample).notna().mean() < 0.1:
            return None
    values = _numbers(series).to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~missing & np.isnan(values))
    if len(bad):
        # cells padded with white space: "  NA ", " 12 "
        stripped = series.iloc[bad].astype(str).str.strip()
        token = stripped.isin(MISSING_TOKENS).to_numpy()
        missing[bad[token]] = True
        again = _numbers(stripped).to_numpy(dtype=np.float64, na_value=np.nan)
        fixed = ~token & ~np.isnan(again)
        values[bad[fixed]] = again[fixed]
        bad = bad[~token & ~fixed]
    if not explicit:
        present = int((~missing).sum())
        if present and len(bad) > present / 2:
            return None
    return values, missing, bad


def _numbers(series):
    return pd.to_numeric(series, errors="coerce")


_NO_ROWS = np.empty(0, dtype=np.int64)


def _numeric_column(series, col, table, header, explicit):
    """Float values of a feature column (NaN where missing).

    Returns None for a column the default selection skips (not numeric, or empty).
    """
    name = table.name
    converted = _to_numbers(series, explicit)
    if converted is None:
        LOG.debug("%s: column '%s' is not numeric; not used", name, col)
        return None
    values, missing, bad = converted
    if missing.all():
        if explicit:
            raise fail(DataError, f"{name}: column '{col}' has no values (every cell is "
                       "missing)")
        return _EMPTY
    if len(bad):
        raise _bad_cell(table, header, col, bad, "is not a number")
    values[missing] = np.nan
    infinite = np.flatnonzero(np.isinf(values))
    if len(infinite):
        raise _bad_cell(table, header, col, infinite, "is not a finite number")
    return values


_EMPTY = object()  # marker: a column whose every cell is missing


def _parse_labels(series, col, table, header):
    """int 0/1 labels (missing: 0)."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.fillna(False).astype(int).to_numpy()
    values, missing, bad = _to_numbers(series, explicit=True)
    if len(bad):
        raise _bad_cell(table, header, col, bad, "is not a label (0 or 1)")
    values[missing] = 0.0
    bad = np.flatnonzero(~np.isin(values, (0.0, 1.0)))
    if len(bad):
        raise _bad_cell(table, header, col, bad, "is not a label (0 or 1)")
    return values.astype(int)


_TZ_SUFFIX = r"(?:[zZ]|[+-]\d\d(?::?\d\d)?)$"


def _iso_times(text):
    """ISO 8601 strings (None: missing) to UTC times, NaT where they do not parse.

    Strings without a time zone are UTC. pandas gives a naive string that follows one with
    an offset that offset, so a column mixing both is parsed in two groups.
    """
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    if len(text) > 1:
        aware = text.str.contains(_TZ_SUFFIX, regex=True, na=False).to_numpy()
        naive = ~aware & text.notna().to_numpy()
        if aware.any() and naive.any():
            parsed[naive] = pd.to_datetime(text[naive], utc=True, format="ISO8601",
                                           errors="coerce")
    return parsed


def _parse_times(series, col, table, header, strict):
    """Times of a column as a tz-naive UTC DatetimeIndex.

    With ``strict=False`` (an auto-detected candidate), returns None unless at least half
    of the present cells are dates; then every bad or missing cell is an error.
    """
    name = table.name
    missing = series.isna().to_numpy()
    if not strict and (pd.api.types.is_numeric_dtype(series.dtype) or missing.all()):
        return None
    text = series.astype(object).where(~missing, None)
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        text = text.map(lambda v: None if v is None else str(v))
    parsed = _iso_times(text)
    failed = np.flatnonzero(parsed.isna().to_numpy() & ~missing)
    if len(failed):
        retry = text.iloc[failed].astype(str).str.strip()
        token = retry.isin(MISSING_TOKENS)
        missing[failed[token.to_numpy()]] = True
        retry = retry[~token]
        # ISO after stripping, then other layouts (e.g. "06/01/2019 10:00"), never numbers
        again = _iso_times(retry)
        parsed.loc[again.index] = again
        retry = retry[again.isna() & _numbers(retry).isna()]
        if len(retry):
            try:
                again = pd.to_datetime(retry, utc=True, format="mixed", errors="coerce")
            except (ValueError, TypeError, OverflowError):
                again = None
            if again is not None:
                parsed.loc[again.index] = again
        failed = np.flatnonzero(parsed.isna().to_numpy() & ~missing)
    if not strict:
        present = int((~missing).sum())
        if not present or len(failed) > present / 2:
            return None
    if len(failed):
        raise _bad_cell(table, header, col, failed, "is not a date/time")
    if missing.any():
        rows = np.flatnonzero(missing)
        more = f" ({len(rows) - 1} more)" if len(rows) > 1 else ""
        raise fail(DataError, f"{name}: line {table.line_of_row(int(rows[0]))}, column "
                   f"'{col}': the time is missing{more}")
    return pd.DatetimeIndex(parsed.dt.tz_localize(None).to_numpy())


# ---------------------------------------------------------------------------------------
# Time order, duplicates, missing steps, interpolation
# ---------------------------------------------------------------------------------------


def _regularise(times, values, labels, time_column, name):
    """Sort by time, drop duplicate times, insert rows for missing steps.

    Returns ``(times, values, labels, freq, inserted_rows, input_rows)``; inserted rows are
    NaN (labels 0); ``input_rows`` maps each row of the file to its row in the result
    (``None`` when that is the identity).
    """
    stamps = times.asi8
    order = np.argsort(stamps, kind="stable")
    where = None  # sorted position of each file row, then its row in the result
    if np.any(order != np.arange(len(order))):
        where = np.empty(len(order), dtype=np.int64)
        where[order] = np.arange(len(order))
        LOG.info("%s: rows are not in time order; sorted by '%s'", name, time_column)
        stamps, values = stamps[order], values[order]
        labels = labels[order] if labels is not None else None
    last = np.ones(len(stamps), dtype=bool)
    last[:-1] = stamps[1:] != stamps[:-1]  # keep the last row of equal times
    duplicates = int((~last).sum())
    if duplicates:
        LOG.warning("%s: %d duplicate timestamp(s) in '%s'; kept the last row of each",
                    name, duplicates, time_column)
        # a dropped row maps to the kept (last) row of its time: the next kept one
        kept_before = np.cumsum(last) - last
        where = kept_before if where is None else kept_before[where]
        stamps, values = stamps[last], values[last]
        labels = labels[last] if labels is not None else None

    n = len(stamps)
    if n < 2:
        return (pd.DatetimeIndex(stamps.astype("datetime64[ns]")), values, labels, None, 0,
                where)
    steps = np.diff(stamps)
    step = int(np.median(steps))  # every difference is positive after de-duplication
    freq = pd.Timedelta(step, unit="ns")
    gaps = np.maximum(np.rint(steps / step).astype(np.int64) - 1, 0)
    inserted = int(gaps.sum())
    if inserted > MAX_FILL_FACTOR * n:
        raise fail(DataError, f"{name}: the time column '{time_column}' is too irregular: "
                   f"filling its gaps at the usual step of {freq} would add {inserted} rows "
                   f"to the {n} of the file (more than {MAX_FILL_FACTOR} times as many); "
                   "check the times or resample the data to a regular step")
    if inserted:
        LOG.info("%s: %d missing time step(s) of %s inserted", name, inserted, freq)
        after = np.repeat(np.arange(n - 1), gaps)
        offsets = np.arange(inserted) - np.repeat(np.cumsum(gaps) - gaps, gaps) + 1
        new_stamps = stamps[after] + offsets * step
        position = np.arange(n) + np.concatenate(([0], np.cumsum(gaps)))
        where = position if where is None else position[where]
        total = n + inserted
        all_stamps = np.empty(total, dtype=np.int64)
        all_values = np.full((total, values.shape[1]), np.nan)
        filled = np.ones(total, dtype=bool)
        filled[position] = False
        all_stamps[position], all_values[position] = stamps, values
        all_stamps[filled] = new_stamps
        if labels is not None:
            all_labels = np.zeros(total, dtype=int)
            all_labels[position] = labels
            labels = all_labels
        stamps, values = all_stamps, all_values
    return (pd.DatetimeIndex(stamps.astype("datetime64[ns]")), values, labels, freq, inserted,
            where)


def _interpolate(values, missing):
    """Fill NaN in place: linear inside, nearest value at the edges (per column)."""
    positions = np.arange(values.shape[0])
    for j in np.flatnonzero(missing.any(axis=0)):
        gaps = missing[:, j]
        known = ~gaps
        values[gaps, j] = np.interp(positions[gaps], positions[known], values[known, j])

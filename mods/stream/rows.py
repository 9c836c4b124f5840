"""Feature lines to rows on the model's time grid, as the batch reader would make them.

Two parts:

:class:`LineParser`
    TSV/CSV lines (header first, or the model's columns in order) to ``(time, values)``
    rows; a malformed line raises :class:`~mods.errors.DataError`, which the caller counts
    and skips.  A header seen again (a rotated file, a new connection) is re-read.
:class:`Regulariser`
    puts rows on the regular grid of the model's frequency, as
    :func:`mods.dataset.io.read_table` does for a file: missing time steps are inserted and
    every missing cell is interpolated linearly between the known values of its column
    around it (the first known value before any, the last one at the end of the stream).
    Rows with a missing cell are therefore held until the next known value of that column
    arrives; rows arriving late (time not after the last row) are counted and skipped.
"""

import datetime as _dt
import logging
import math

import numpy as np

from mods.dataset.io import MISSING_TOKENS
from mods.errors import DataError, fail

LOG = logging.getLogger("mods.stream")

_MISSING = frozenset(MISSING_TOKENS) | {"nan", "NaN", "none"}
_EPOCH = _dt.datetime(1970, 1, 1)


def parse_time(text):
    """Seconds since the epoch (UTC; naive times are UTC) of an ISO 8601 time stamp.

    Raises
    ------
    DataError
        When ``text`` is not a date/time.
    """
    s = text.strip().strip('"')
    try:
        stamp = _dt.datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith("Z") else s)
    except ValueError:
        try:
            import pandas as pd

            stamp = pd.Timestamp(s).to_pydatetime()
        except (ValueError, TypeError):
            raise fail(DataError, "%r is not a date/time" % s[:40], LOG) from None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return (stamp - _EPOCH).total_seconds()


def iso(seconds):
    """``2019-06-01T00:10:00Z`` for seconds since the epoch (the batch answers' format)."""
    return (_EPOCH + _dt.timedelta(seconds=round(seconds, 6))).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(text):
    s = text.strip()
    if s in _MISSING:
        return math.nan
    value = float(s)  # ValueError for text
    return value if math.isfinite(value) else math.nan


class LineParser:
    """Split feature lines into ``(key, time, values)`` rows with the model's columns.

    Parameters
    ----------
    columns : list of str
        The model's feature columns, in model order.
    time_column : str or None
        Name of the time column (``window_start``); rows without it have no time.
    key_column : str or None
        Column holding a stream id (one state per id); ``None``: a single stream.

    Notes
    -----
    The first line of each *origin* (a file generation, a connection) is its header when
    one of its cells is a model column; otherwise the lines are taken to hold the time
    (when ``time_column`` is set and the line has one more cell) and the model's columns in
    model order.  The separator is a tab when the header has one, else a comma.  Extra
    columns (``window_end``, ``label``) are ignored.
    """

    def __init__(self, columns, time_column=None, key_column=None):
        self.columns = list(columns)
        self.time_column = time_column
        self.key_column = key_column
        self._layouts = {}

    def forget(self, origin):
        """Drop the header of ``origin`` (its file was rotated, its connection closed)."""
        self._layouts.pop(origin, None)

    def _layout_from_header(self, cells, sep):
        names = [c.strip().strip('"') for c in cells]
        missing = [c for c in self.columns if c not in names]
        if missing:
            raise fail(DataError, "header lacks the model's column(s) %s"
                       % ", ".join(missing), LOG)
        t = names.index(self.time_column) if self.time_column in names else None
        k = None
        if self.key_column:
            if self.key_column not in names:
                raise fail(DataError, "header lacks the stream key column %r"
                           % self.key_column, LOG)
            k = names.index(self.key_column)
        return sep, [names.index(c) for c in self.columns], t, k, len(names)

    def parse(self, line, origin=None):
        """Parse one line.

        Returns
        -------
        tuple or None
            ``(key, time_seconds_or_None, values)`` for a data line, ``None`` for a header
            or an empty line.

        Raises
        ------
        DataError
            For a malformed line (cell count, text in a number, bad time).
        """
        text = line.rstrip("\r\n")
        if not text.strip() or text.startswith("#"):
            return None
        layout = self._layouts.get(origin)
        if layout is None:
            sep = "\t" if "\t" in text else ","
            cells = text.split(sep)
            if any(c.strip().strip('"') in self.columns for c in cells):
                self._layouts[origin] = self._layout_from_header(cells, sep)
                return None
            n = len(self.columns)
            if self.key_column:
                raise fail(DataError, "a header naming %r is needed to key streams"
                           % self.key_column, LOG)
            if self.time_column and len(cells) == n + 1:
                layout = (sep, list(range(1, n + 1)), 0, None, n + 1)
            elif len(cells) == n:
                layout = (sep, list(range(n)), None, None, n)
            else:
                raise fail(DataError, "no header and %d cells where the model has %d "
                           "columns" % (len(cells), n), LOG)
            self._layouts[origin] = layout
        sep, idx, t, k, width = layout
        cells = text.split(sep)
        if len(cells) != width:
            for sep2 in ("\t", ","):  # a header again (rotated input), maybe another layout
                cells2 = text.split(sep2)
                names = [c.strip().strip('"') for c in cells2]
                if all(c in names for c in self.columns):
                    self._layouts[origin] = self._layout_from_header(cells2, sep2)
                    return None
            raise fail(DataError, "%d cells where the header has %d" % (len(cells), width),
                       LOG)
        try:
            values = [_cell(cells[j]) for j in idx]
        except ValueError:
            if all(c in [x.strip().strip('"') for x in cells] for c in self.columns):
                self._layouts[origin] = self._layout_from_header(cells, sep)
                return None
            raise fail(DataError, "text where a number is expected", LOG) from None
        when = None
        if t is not None:
            if cells[t].strip() in _MISSING:
                raise fail(DataError, "the time is missing", LOG)
            when = parse_time(cells[t])
        key = cells[k].strip() if k is not None else None
        return key, when, values


class Regulariser:
    """Rows of one stream on a regular grid, missing cells interpolated (see module doc).

    Parameters
    ----------
    n_columns : int
    freq_seconds : float or None
        Step of the grid (the model's frequency); ``None``: the difference of the first two
        rows.  Without times (``time`` None) rows are taken in order, no gap is filled.

    Attributes
    ----------
    late : int
        Rows skipped because their time was not after the previous row's.
    filled_rows, filled_cells : int
        Rows inserted for missing time steps and missing cells interpolated.
    """

    def __init__(self, n_columns, freq_seconds=None):
        self.f = int(n_columns)
        self.step = float(freq_seconds) if freq_seconds else None
        self.last_time = None
        self.position = 0  # grid index of the next row
        self._pending = []  # [position, time, values (ndarray), inserted]
        self._known_pos = np.full(self.f, -1, dtype=np.int64)
        self._known_val = np.full(self.f, np.nan)
        self.late = self.filled_rows = self.filled_cells = 0

    @property
    def pending(self):
        """Rows held back waiting for a known value of a column."""
        return len(self._pending)

    def push(self, time, values):
        """Add one row; return the rows now complete: ``[(time, values, inserted)]``."""
        row = np.asarray(values, dtype=np.float64)
        if time is not None:
            if self.last_time is not None:
                if time <= self.last_time:
                    self.late += 1
                    LOG.warning("row at %s is not after the previous row (%s): skipped",
                                iso(time), iso(self.last_time))
                    return []
                if self.step is None:
                    self.step = time - self.last_time
                gap = max(int(np.rint((time - self.last_time) / self.step)) - 1, 0)
                if gap:
                    LOG.info("%d missing time step(s) before %s inserted", gap, iso(time))
                for j in range(1, gap + 1):
                    self._add(self.last_time + j * self.step, np.full(self.f, np.nan), True)
                self.filled_rows += gap
            self.last_time = time
        self._add(time, row, False)
        return self._release()

    def _add(self, time, row, inserted):
        pos = self.position
        self.position += 1
        missing = np.isnan(row)
        self.filled_cells += int(missing.sum()) if not inserted else 0
        known = np.flatnonzero(~missing)
        if known.size and self._pending:
            for j in known:
                p0, v0, v1 = self._known_pos[j], self._known_val[j], row[j]
                for item in self._pending:
                    if np.isnan(item[2][j]):
                        if p0 < 0:
                            item[2][j] = v1
                        else:  # np.interp's formula
                            slope = (v1 - v0) / (pos - p0)
                            item[2][j] = slope * (item[0] - p0) + v0
        self._known_pos[known] = pos
        self._known_val[known] = row[known]
        self._pending.append([pos, time, row, inserted])

    def _release(self):
        out = []
        while self._pending and not np.isnan(self._pending[0][2]).any():
            _, time, row, inserted = self._pending.pop(0)
            out.append((time, row, inserted))
        return out

    def flush(self):
        """End of the stream: fill what is still missing with the last known values."""
        out = []
        for _, time, row, inserted in self._pending:
            nan = np.isnan(row)
            row[nan] = np.nan_to_num(self._known_val[nan], nan=0.0)
            out.append((time, row, inserted))
        self._pending = []
        return out

"""Select training data from a feature datapool, with the predecessor's query syntax.

Layout
------
A datapool holds one file per protocol, day and window (as written by
:func:`mods.features.build_datapool`, and as the real MODS datapool is laid out)::

    <datapool>/tsv/<protocol>/YYYY/MM/DD/<window>.tsv      e.g. tsv/conn/2019/06/01/w01h-s10m.tsv

``datapool_dir`` may be the datapool root or its ``tsv`` folder.

Query
-----
(one line, cut here)::

    conn|in_count_uid~conn_in|out_count_uid~conn_out;dns|in_distinct_query~dns_in_distinct;
    ssh|in~ssh_in#window_start,window_end

* protocols are separated by ``;``;
* each protocol is ``protocol|column[~new_name]|column[~new_name]...``: the columns of its
  files to keep, each renamed after ``~`` (kept as is without ``~``; the final names must
  be distinct);
* ``#`` ends the query with the comma-separated join columns (default
  ``window_start,window_end``), on which the protocols' tables are joined.

Spaces around ``; | ~ # ,`` are ignored. Column names are those of the files' headers:

* ``ssh|in`` is the ``in`` column of the ``ssh`` files: ``http``, ``ssh`` and ``ssl`` have
  a single feature, the number of records of each direction, named after the direction
  alone (``in``, ``out``, ``internal``; for ``conn``/``dns``/``sip`` the same count is
  ``in_count_uid``...). So ``ssh|in~ssh_in`` selects the number of incoming SSH records.
* ``sip``'s distinct counts are named with back-quotes in the datapool
  (``in_distinct_`id.orig_h```); the name without back-quotes is accepted too.
* As with the predecessor, a new name ending in ``_kb``, ``_mb`` or ``_gb`` (any case)
  converts the values from bytes to whole KiB, MiB or GiB (rounded down).

Time ranges
-----------
``<2019-06-01,2019-06-03)`` selects the windows whose ``window_start`` ``t`` satisfies
``2019-06-01 <= t < 2019-06-03``: ``<`` and ``>`` are closed bounds, ``(`` and ``)`` open
ones (``[`` and ``]`` are accepted as closed bounds too). A bound is a date
(``2019-06-01``) or a time (``2019-06-01T12:00``, ``2019-06-01 12:00:00``, UTC); an empty
bound is unbounded (``<2019-06-02,)``). Several ranges are written one after the other
(optionally separated by spaces, ``;`` or ``,``) or given as a list: ``ranges`` keeps the
windows in any of them, ``exclude`` drops the windows in any of them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mods.errors import DataError, fail

DEFAULT_JOIN = ("window_start", "window_end")
TIME_COLUMNS = ("window_start", "window_end")
_UNITS = {"_kb": 1024, "_mb": 1024 ** 2, "_gb": 1024 ** 3}
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_BOUND = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?Z?$")
_RANGE = re.compile(r"\s*([<(\[])\s*([^,<>()\[\]]*?)\s*,\s*([^,<>()\[\]]*?)\s*([>)\]])\s*[;,]?")
_DAY = pd.Timedelta(days=1)


# ---------------------------------------------------------------------------------- query
@dataclass(frozen=True)
class ProtocolQuery:
    """The columns selected from one protocol: ``((column, new_name), ...)``."""

    protocol: str
    columns: tuple


@dataclass(frozen=True)
class Query:
    """A parsed selection query."""

    protocols: tuple
    join: tuple = DEFAULT_JOIN

    @property
    def names(self) -> list:
        """Names of the selected columns, in order (after renaming)."""
        return [new for p in self.protocols for _, new in p.columns]


def parse_query(text: str) -> Query:
    """Parse ``protocol|column~name|...;protocol|...#join,columns``.

    Raises
    ------
    mods.errors.DataError
        For an empty query, a protocol without columns, a bad name or a name selected
        twice.

    Examples
    --------
    >>> q = parse_query("conn|in_count_uid~conn_in;ssh|in~ssh_in#window_start")
    >>> q.names, q.join
    (['conn_in', 'ssh_in'], ('window_start',))
    """
    if not isinstance(text, str) or not text.strip():
        raise fail(DataError, "datapool query: empty (expected e.g. "
                   "conn|in_count_uid~conn_in;ssh|in~ssh_in#window_start,window_end)")
    body, _, join_text = text.strip().partition("#")
    join = tuple(c.strip() for c in join_text.split(",") if c.strip()) or DEFAULT_JOIN
    protocols = []
    for spec in body.split(";"):
        if not spec.strip():
            continue
        items = [i.strip() for i in spec.split("|")]
        protocol, cols = items[0], []
        if not _NAME.match(protocol):
            raise fail(DataError, f"datapool query: bad protocol name {protocol!r} in "
                       f"{spec.strip()!r}")
        for item in items[1:]:
            source, _, new = (p.strip() for p in item.partition("~"))
            if not source or ("~" in item and not new):
                raise fail(DataError, f"datapool query: bad column {item!r} for {protocol} "
                           f"(expected column or column~new_name)")
            cols.append((source, new or source))
        if not cols:
            raise fail(DataError, f"datapool query: no column selected for {protocol} "
                       f"(expected {protocol}|column[~new_name]|...)")
        protocols.append(ProtocolQuery(protocol, tuple(cols)))
    if not protocols:
        raise fail(DataError, "datapool query: no protocol selected")
    query = Query(tuple(protocols), join)
    seen = set(join)
    for name in query.names:
        if name in seen:
            raise fail(DataError, f"datapool query: column name {name!r} selected twice "
                       f"(rename one with ~new_name)")
        seen.add(name)
    return query


# --------------------------------------------------------------------------------- ranges
@dataclass(frozen=True)
class TimeRange:
    """A time interval; ``None`` bounds are unbounded. Times are UTC, tz-naive."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    start_closed: bool = True
    end_closed: bool = False

    def contains(self, times) -> np.ndarray:
        """Boolean array: which ``times`` lie in the range."""
        t = pd.DatetimeIndex(times)
        ok = np.ones(len(t), dtype=bool)
        if self.start is not None:
            ok &= np.asarray(t >= self.start if self.start_closed else t > self.start)
        if self.end is not None:
            ok &= np.asarray(t <= self.end if self.end_closed else t < self.end)
        return ok

    def overlaps(self, lo: pd.Timestamp, hi: pd.Timestamp) -> bool:
        """Whether the range meets ``[lo, hi)``."""
        if self.start is not None and not self.start < hi:
            return False
        if self.end is not None and (self.end < lo or (self.end == lo and not self.end_closed)):
            return False
        return True

    def covers(self, lo: pd.Timestamp, hi: pd.Timestamp) -> bool:
        """Whether the range holds all of ``[lo, hi)``."""
        start_ok = self.start is None or self.start < lo or (self.start == lo
                                                              and self.start_closed)
        return start_ok and (self.end is None or self.end >= hi)


def _bound(text: str, spec: str):
    if not text:
        return None
    if not _BOUND.match(text):
        raise fail(DataError, f"time range {spec!r}: bad date {text!r} (expected YYYY-MM-DD "
                   f"or YYYY-MM-DDTHH:MM[:SS])")
    try:
        stamp = pd.Timestamp(text.rstrip("Z").replace(" ", "T"))
    except ValueError:
        raise fail(DataError, f"time range {spec!r}: bad date {text!r}") from None
    return stamp


def parse_ranges(spec) -> list[TimeRange]:
    """Parse time ranges like ``<2019-06-01,2019-06-03)`` (see the module's docstring).

    Parameters
    ----------
    spec : str, TimeRange, list of them, or None
        The ranges; ``None`` or ``""`` gives ``[]``.

    Raises
    ------
    mods.errors.DataError
        Naming the malformed range, a bad date or an empty range (start after end).
    """
    if spec is None:
        return []
    if isinstance(spec, TimeRange):
        return [spec]
    if not isinstance(spec, str):
        return [r for item in spec for r in parse_ranges(item)]
    out, pos, text = [], 0, spec.strip()
    while pos < len(text):
        match = _RANGE.match(text, pos)
        if not match:
            raise fail(DataError, f"time range {text[pos:]!r}: expected <start,end) with < or "
                       f"( opening and > or ) closing, e.g. <2019-06-01,2019-06-03)")
        opening, lo, hi, closing = match.groups()
        whole = match.group(0).strip().rstrip(";,").strip()
        rng = TimeRange(_bound(lo, whole), _bound(hi, whole), opening in "<[", closing in ">]")
        if rng.start is not None and rng.end is not None and (
                rng.start > rng.end or (rng.start == rng.end
                                        and not (rng.start_closed and rng.end_closed))):
            raise fail(DataError, f"time range {whole!r}: empty (start after end)")
        out.append(rng)
        pos = match.end()
    return out


# -------------------------------------------------------------------------------- reading
def _root(datapool_dir) -> Path:
    root = Path(datapool_dir)
    if not root.is_dir():
        raise fail(DataError, f"{root}: no such datapool folder")
    return root / "tsv" if (root / "tsv").is_dir() else root


def _day_files(root: Path, protocol: str, window: str):
    """``[(day, path)]`` of one protocol's files for ``window``, sorted by day."""
    out = []
    for path in (root / protocol).glob(f"[0-9]*/[0-9]*/[0-9]*/{window}.tsv"):
        y, m, d = path.parts[-4:-1]
        try:
            out.append((pd.Timestamp(int(y), int(m), int(d)), path))
        except ValueError:
            continue
    return sorted(out)


def _resolve_column(name: str, header: list, protocol: str) -> str:
    if name in header:
        return name
    quoted = re.sub(r"distinct_([^`].*\..*)$", lambda m: f"distinct_`{m.group(1)}`", name)
    if quoted in header:
        return quoted
    shown = ", ".join(c for c in header if c not in TIME_COLUMNS)
    raise fail(DataError, f"datapool query: {protocol} has no column {name!r} "
               f"(columns: {shown})")


def _read_protocol(root, pq: ProtocolQuery, join, window, ranges, exclude) -> pd.DataFrame:
    protocol = pq.protocol
    if not (root / protocol).is_dir():
        known = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise fail(DataError, f"datapool query: unknown protocol {protocol!r} (datapool "
                   f"{root} has: {', '.join(known) or 'nothing'})")
    files = _day_files(root, protocol, window)
    if not files:
        have = sorted({p.name[:-4] for p in (root / protocol).rglob("*.tsv")})
        raise fail(DataError, f"{root / protocol}: no {window} files (windows there: "
                   f"{', '.join(have) or 'none'})")
    header = pd.read_csv(files[0][1], sep="\t", nrows=0).columns.tolist()
    sources = [_resolve_column(c, header, protocol) for c, _ in pq.columns]
    for col in join:
        if col not in header:
            raise fail(DataError, f"datapool query: join column {col!r} not in {protocol}'s "
                       f"files (columns: {', '.join(header)})")
    files = [(day, path) for day, path in files
             if (not ranges or any(r.overlaps(day, day + _DAY) for r in ranges))
             and not any(r.covers(day, day + _DAY) for r in exclude)]
    usecols = list(dict.fromkeys(list(join) + sources))
    frames = []
    for _, path in files:
        try:
            frames.append(pd.read_csv(path, sep="\t", usecols=usecols))
        except (ValueError, pd.errors.ParserError) as exc:
            raise fail(DataError, f"{path}: {' '.join(str(exc).split())}") from None
    if not frames:
        return pd.DataFrame(columns=usecols)
    frame = pd.concat(frames, ignore_index=True)
    for col in join:
        if col in TIME_COLUMNS:
            frame[col] = _times(frame[col], protocol, col)
    if "window_start" in frame:
        keep = np.ones(len(frame), dtype=bool)
        if ranges:
            keep = np.any([r.contains(frame["window_start"]) for r in ranges], axis=0)
        for r in exclude:
            keep &= ~r.contains(frame["window_start"])
        frame = frame[keep]
    frame = frame.drop_duplicates(subset=list(join), keep="last")
    out = frame[list(join)].copy()
    for (_, new), source in zip(pq.columns, sources):
        values = pd.to_numeric(frame[source], errors="coerce")
        divisor = _UNITS.get(new[-3:].lower())
        out[new] = np.floor(values / divisor) if divisor else values
    return out


def _times(values: pd.Series, protocol: str, col: str) -> pd.Series:
    times = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    if times.isna().any():
        bad = values[times.isna()].iloc[0]
        raise fail(DataError, f"datapool: {protocol} has a bad {col} {bad!r}")
    return times.dt.tz_localize(None)


def _tidy(frame: pd.DataFrame, names) -> pd.DataFrame:
    """Whole-number columns as nullable integers (written without ``.0``)."""
    for name in names:
        values = frame[name].to_numpy(dtype="float64", na_value=np.nan)
        finite = values[~np.isnan(values)]
        if np.all(np.floor(finite) == finite) and np.all(np.abs(finite) < 2 ** 53):
            frame[name] = pd.array(values, dtype="Int64")
    return frame


def select(datapool_dir, query, ranges=None, exclude=None, window="w01h-s10m",
           how="inner") -> pd.DataFrame:
    """Select, rename and join feature columns of a datapool over time ranges.

    Parameters
    ----------
    datapool_dir : str or pathlib.Path
        Datapool root (or its ``tsv`` folder).
    query : str or Query
        Selection query (see the module's docstring).
    ranges : str or list, optional
        Time ranges of ``window_start`` to keep (default: everything).
    exclude : str or list, optional
        Time ranges to drop.
    window : str, default ``"w01h-s10m"``
        Window of the files to read.
    how : {"inner", "outer", "left"}, default ``"inner"``
        How the protocols' tables are joined: ``inner`` (as the predecessor did) keeps the
        windows present for every protocol.

    Returns
    -------
    pandas.DataFrame
        Join columns first (``window_start``/``window_end`` as tz-naive UTC times), then the
        selected columns in query order; sorted by the join columns; whole-number columns
        are nullable integers, missing cells ``<NA>``/``NaN``.

    Raises
    ------
    mods.errors.DataError
        Unknown protocol or column, malformed query or range, no data selected.
    mods.errors.ConfigError
        Bad window name.
    """
    from mods.features import parse_window

    query = query if isinstance(query, Query) else parse_query(query)
    window = parse_window(window).name
    if how not in ("inner", "outer", "left"):
        raise fail(DataError, f"bad join {how!r}: expected inner, outer or left")
    include, drop = parse_ranges(ranges), parse_ranges(exclude)
    root = _root(datapool_dir)
    merged = None
    for pq in query.protocols:
        part = _read_protocol(root, pq, query.join, window, include, drop)
        if not len(part):
            raise fail(DataError, f"{root / pq.protocol}: no {window} data in the time "
                       f"ranges selected")
        merged = part if merged is None else pd.merge(merged, part, on=list(query.join),
                                                      how=how)
    merged = merged.sort_values(list(query.join), kind="stable").reset_index(drop=True)
    if not len(merged):
        raise fail(DataError, f"{root}: the protocols selected have no window in common "
                   f"(join on {', '.join(query.join)})")
    return _tidy(merged[list(query.join) + query.names], query.names)


def to_tsv_bytes(frame: pd.DataFrame) -> bytes:
    """The selection as TSV bytes (times like ``2019-06-01T00:00:00.000Z``, empty cells for
    missing values), ready for :func:`mods.dataset.io.read_table`."""
    from mods.dataset.io import write_table

    buf = io.StringIO()
    write_table(frame, buf)
    return buf.getvalue().encode("utf-8")

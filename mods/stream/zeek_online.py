"""Raw Zeek logs to model rows, online: the ``mods-stream --zeek`` input.

Zeek lines (TSV or JSON, as :mod:`mods.features.zeek` reads them) are parsed as they come,
reduced to the pane-level aggregates of the batch engine
(:class:`mods.features.windows_pandas.ProtocolPanes`: same direction rules, same integer
aggregates), and each window is turned into its datapool row
(:func:`mods.features.render_rows`) when it *closes*.  No feature arithmetic lives here: a
window emitted online has exactly the cells of the same window in the files of
:func:`mods.features.build_datapool` when it received the same records.

Watermark
---------
The watermark is the latest record time seen (over every protocol followed).  Window ``k``
(``[k * slide, k * slide + length)``) closes once the watermark reaches its end plus the
allowed lateness (``lateness_s``, default :data:`DEFAULT_LATENESS_S`: Zeek writes a
connection when it ends, with the time it started).  At the end of a finite input (and on
SIGTERM without ``--follow``) every window starting at or before the last record closes.
Windows are emitted in order, one row per window, empty windows too (zeros), from the
first window containing the first record that starts on or after that record's UTC day
(so a log starting at midnight gives the datapool's first row).  A record older than the
start of the first open window is *late*: counted and dropped; one older than the end of
the last emitted window but still inside an open window is counted late and kept for the
open windows.

Columns
-------
The datapool columns are mapped to the model's features with the predecessor's selection
query (:mod:`mods.dataset.datapool`), :data:`DEFAULT_QUERY` by default (the four features
of the default model).  Only ``window_start``/``window_end`` joins are possible here.
"""

import collections
import json
import logging
import math
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from mods.errors import ConfigError, DataError, fail

LOG = logging.getLogger("mods.stream")

#: The predecessor's query for the default model's features (conn_in conn_out
#: dns_in_distinct ssh_in).
DEFAULT_QUERY = ("conn|in_count_uid~conn_in|out_count_uid~conn_out;"
                 "dns|in_distinct_query~dns_in_distinct;ssh|in~ssh_in#window_start,window_end")
#: Allowed lateness of records, seconds.
DEFAULT_LATENESS_S = 600.0
#: How many bad lines are logged one by one before warnings thin out.
_WARN_FIRST = 10
_WARN_EVERY = 1000


# ---------------------------------------------------------------------------- parsing
class LineReader:
    """Zeek lines of several files (TSV or JSON, headers included) to typed record frames.

    Each *origin* (a file, or one generation of a followed file) has its own header state;
    its format is that of its first non-blank line (``#separator``: TSV, ``{``: JSON).  The
    log type comes from ``#path`` / ``_path``, else the file name up to its first dot.

    Parameters
    ----------
    protocols : iterable of str
        Log types kept; the records of others are dropped.

    Attributes
    ----------
    malformed : int
        Lines skipped: wrong number of fields, not JSON, no or bad ``ts``, data before a
        ``#fields`` line.
    """

    def __init__(self, protocols):
        from mods.features import needed_fields

        self.protocols = tuple(protocols)
        self.wanted = {p: ["ts"] + [c for c in needed_fields(p) if c != "ts"]
                       for p in self.protocols}
        self._state = {}  # origin -> [fmt, header, log type from the name]
        self._pending = collections.OrderedDict()  # (log type, key) -> items
        self.malformed = 0

    def forget(self, origin):
        """Drop the header state of ``origin`` (its file was rotated)."""
        self._state.pop(origin, None)

    def _bad(self, origin, why, line):
        self.malformed += 1
        if self.malformed <= _WARN_FIRST or self.malformed % _WARN_EVERY == 0:
            LOG.warning("malformed Zeek line skipped (%d so far): %s: %s: %r",
                        self.malformed, origin, why, line[:80])

    def add(self, origin, line, name=None):
        """Take one line of ``origin`` (``name``: the file name, for the log type)."""
        from mods.features import zeek

        line = line.rstrip("\r\n")
        if not line.strip():
            return
        state = self._state.get(origin)
        if state is None:
            hint = zeek.log_type_from_name(Path(name or str(origin).split("#")[0]))
            fmt = "json" if line.lstrip().startswith("{") else "tsv"
            state = self._state[origin] = [fmt, zeek.HeaderState(), hint]
        fmt, header, hint = state
        if fmt == "tsv":
            if line.startswith("#"):
                header.apply(line)
                return
            log_type = header.path or hint
            if log_type not in self.wanted:
                return
            if not header.fields:
                return self._bad(origin, "no #fields line before it", line)
            if line.count(header.separator) != len(header.fields) - 1:
                return self._bad(origin, "%d fields, expected %d" % (
                    line.count(header.separator) + 1, len(header.fields)), line)
            key = ("tsv", header.separator, tuple(header.fields), tuple(header.types),
                   header.unset_field, header.empty_field)
            self._pending.setdefault((log_type, key), []).append(line)
            return
        try:
            obj = json.JSONDecoder().raw_decode(line.lstrip(" \t"))[0]
        except ValueError:
            return self._bad(origin, "not valid JSON", line)
        if not isinstance(obj, dict):
            return self._bad(origin, "not a JSON object", line)
        path = obj.get("_path")
        log_type = path if isinstance(path, str) else hint
        if log_type in self.wanted:
            self._pending.setdefault((log_type, ("json",)), []).append(obj)

    def take(self):
        """Typed frames of the records added since the last call: ``{log type: frame}``."""
        from mods.features import zeek

        out = {}
        pending, self._pending = self._pending, collections.OrderedDict()
        for (log_type, key), items in pending.items():
            wanted = self.wanted[log_type]
            frame = zeek.convert_records(key, items, log_type, wanted)
            frame, missing = zeek.split_bad_timestamps(frame)
            for _ in range(len(missing)):
                self._bad(log_type, "missing or bad ts", "")
            source = zeek.LogSource(Path(log_type), log_type, key[0])
            out.setdefault(log_type, []).append(zeek.assemble_frames([frame], source, wanted))
        return {p: (f[0] if len(f) == 1 else pd.concat(f, ignore_index=True))
                for p, f in out.items()}


# ---------------------------------------------------------------------------- windows
def _pane_store():
    from mods.features import windows_pandas

    class PaneStore(windows_pandas.ProtocolPanes):
        """The batch engine's pane aggregates of one protocol, with eviction."""

        def compact(self):
            if len(self.additive) > 1:
                self.additive = [pd.concat(self.additive).groupby(level=[0, 1]).sum()]
            for key, parts in self.distinct.items():
                if len(parts) > 1:
                    self.distinct[key] = [pd.concat(parts, ignore_index=True)
                                          .drop_duplicates()]

        def table(self, window, pane_stop):
            """Window table (batch :func:`window_table`) of the panes before ``pane_stop``."""
            self.compact()
            additive = (self.additive[0] if self.additive else
                        pd.DataFrame(columns=self.keys["additive"], dtype=np.int64))
            if len(additive):
                additive = additive[additive.index.get_level_values(0) < pane_stop]
            distinct = {}
            for key, parts in self.distinct.items():
                if parts:
                    triples = parts[0][parts[0]["pane"] < pane_stop]
                    codes, _ = pd.factorize(triples["value"])
                    distinct[key] = pd.DataFrame({"pane": triples["pane"].to_numpy(),
                                                  "d": triples["d"].to_numpy(),
                                                  "code": codes}).drop_duplicates()
            return windows_pandas.window_table(self.protocol, window, self.pane_len,
                                               additive, distinct)

        def evict(self, pane_min):
            """Forget the panes before ``pane_min`` (no open window contains them)."""
            self.compact()
            if self.additive:
                a = self.additive[0]
                self.additive = [a[a.index.get_level_values(0) >= pane_min]]
            for key, parts in self.distinct.items():
                if parts:
                    self.distinct[key] = [parts[0][parts[0]["pane"] >= pane_min]]

    return PaneStore


class OnlineWindows:
    """Window features of Zeek records that arrive over time (see the module's doc).

    Parameters
    ----------
    protocols : iterable of str
        Protocols computed (those of the selection query).
    window : str or mods.features.Window
        One window (``w01h-s10m``).
    local_nets : str or list, optional
        Local networks (default RFC 1918).
    lateness_s : float
        Allowed lateness of records, seconds.

    Attributes
    ----------
    late, dropped : int
        Records older than the end of the last emitted window; those of them dropped
        (older than every open window).
    records : int
        Records taken.
    """

    def __init__(self, protocols, window="w01h-s10m", local_nets=None,
                 lateness_s=DEFAULT_LATENESS_S):
        from mods.features import (FEATURES, parse_networks, parse_window, pane_us)

        self.window = window if not isinstance(window, str) else parse_window(window)
        unknown = [p for p in protocols if p not in FEATURES]
        if unknown:
            raise fail(ConfigError, "no features for protocol(s) %s (known: %s)"
                       % (", ".join(unknown), ", ".join(FEATURES)), LOG)
        if not (lateness_s >= 0):
            raise fail(ConfigError, "bad lateness %r: expected seconds >= 0" % lateness_s, LOG)
        self.nets = parse_networks(local_nets)
        self.pane = pane_us([self.window])
        self.lateness_us = int(round(float(lateness_s) * 1e6))
        store = _pane_store()
        self.stores = {p: store(p, self.pane, self.nets) for p in protocols}
        self.next_k = None    # first window not emitted yet
        self.watermark = None  # latest record time, microseconds
        self.late = self.dropped = self.records = 0

    def add(self, frames):
        """Take typed record frames ``{protocol: frame}`` (from :meth:`LineReader.take`)."""
        w = self.window
        frames = {p: f for p, f in frames.items() if p in self.stores and len(f)}
        if self.next_k is None and frames:
            first = min(int(pd.DatetimeIndex(f["ts"]).asi8.min()) // 1000
                        for f in frames.values())
            day = first // 86_400_000_000 * 86_400_000_000
            self.next_k = max(-(-day // w.slide_us), (first - w.length_us) // w.slide_us + 1)
            self._start_k = self.next_k
        for protocol, frame in frames.items():
            ts = pd.DatetimeIndex(frame["ts"]).asi8 // 1000
            self.records += len(frame)
            if self.next_k > self._start_k:  # windows emitted: end of the last one
                late = ts < (self.next_k - 1) * w.slide_us + w.length_us
            else:
                late = ts < self.next_k * w.slide_us
            if late.any():
                keep = ts >= self.next_k * w.slide_us
                self.late += int(late.sum())
                self.dropped += int((~keep).sum())
                if not keep.all():
                    LOG.warning("%d late %s record(s) dropped (older than every open window)",
                                int((~keep).sum()), protocol)
                    frame = frame[keep].reset_index(drop=True)
                    ts = ts[keep]
                if not len(frame):
                    continue
            hi = int(ts.max())
            self.watermark = hi if self.watermark is None else max(self.watermark, hi)
            self.stores[protocol].add(SimpleNamespace(frame=frame, malformed=0))

    def close(self, final=False):
        """Rows of the windows that closed: ``[(window_start_us, {protocol: cells})]``.

        ``final``: the input ended; close every window starting at or before the last
        record.
        """
        from mods.features import render_rows

        if self.watermark is None:
            return []
        w = self.window
        if final:
            k_last = self.watermark // w.slide_us
        else:
            k_last = (self.watermark - self.lateness_us - w.length_us) // w.slide_us
        if k_last < self.next_k:
            return []
        pane_stop = -(-(k_last * w.slide_us + w.length_us) // self.pane)
        cells = {}
        for protocol, store in self.stores.items():
            table = store.table(w, pane_stop)
            cells[protocol] = render_rows(protocol, w, table, self.next_k, k_last + 1)
            store.evict((k_last + 1) * w.slide_us // self.pane)
        out = [((self.next_k + i) * w.slide_us, {p: c[i] for p, c in cells.items()})
               for i in range(k_last + 1 - self.next_k)]
        self.next_k = k_last + 1
        return out


# ---------------------------------------------------------------------------- features
def _unit_divisor(name):
    from mods.dataset.datapool import _UNITS

    return _UNITS.get(name[-3:].lower())


class ZeekFeatures:
    """Zeek lines in, feature lines (TSV, header first) for the model out.

    Parameters
    ----------
    query : str, optional
        Selection query (default :data:`DEFAULT_QUERY`).
    columns : list of str, optional
        The model's feature columns: each must be a name the query selects.
    window, local_nets, lateness_s
        See :class:`OnlineWindows`.
    """

    def __init__(self, query=None, columns=None, window="w01h-s10m", local_nets=None,
                 lateness_s=DEFAULT_LATENESS_S):
        from mods.dataset import datapool
        from mods.features import columns as datapool_columns

        try:
            q = datapool.parse_query(query or DEFAULT_QUERY)
        except DataError as exc:
            raise fail(ConfigError, str(exc), LOG) from None
        if set(q.join) - {"window_start", "window_end"}:
            raise fail(ConfigError, "--query: only window_start/window_end joins are "
                       "possible on a stream (got %s)" % ", ".join(q.join), LOG)
        self.protocols = list(dict.fromkeys(pq.protocol for pq in q.protocols))
        self.windows = OnlineWindows(self.protocols, window, local_nets, lateness_s)
        self.select = []  # (name, protocol, cell index, divisor)
        for pq in q.protocols:
            header = datapool_columns(pq.protocol)
            for source, new in pq.columns:
                try:
                    col = datapool._resolve_column(source, header, pq.protocol)
                except DataError as exc:
                    raise fail(ConfigError, str(exc), LOG) from None
                self.select.append((new, pq.protocol, header.index(col), _unit_divisor(new)))
        self.names = [s[0] for s in self.select]
        if columns is not None:
            missing = [c for c in columns if c not in self.names]
            if missing:
                raise fail(ConfigError, "the query selects %s, the model needs %s (missing "
                           "%s): give --query" % (", ".join(self.names), ", ".join(columns),
                                                  ", ".join(missing)), LOG)
            by_name = {s[0]: s for s in self.select}
            self.select = [by_name[c] for c in columns]
            self.names = list(columns)
        self.reader = LineReader(self.protocols)
        self._header_sent = False

    def header(self):
        """The feature lines' header."""
        return "\t".join(["window_start", "window_end"] + self.names)

    def _lines(self, closed):
        out = []
        if closed and not self._header_sent:
            out.append(self.header())
            self._header_sent = True
        for _, cells in closed:
            first = next(iter(cells.values()))
            values = []
            for _, protocol, j, div in self.select:
                text = cells[protocol][j]
                try:
                    v = float(text)
                except ValueError:
                    v = math.nan  # an undefined average ("")
                if div and math.isfinite(v):
                    v = math.floor(v / div)
                values.append("" if math.isnan(v) else
                              (str(int(v)) if v.is_integer() else repr(v)))
            out.append("\t".join([first[0], first[1]] + values))
        return out

    def feed(self, lines, names=None):
        """Take ``[(origin, line)]`` (``line`` None: the origin ended); return feature lines.

        ``names``: ``{origin: file name}`` for the log type of files without ``#path``.
        """
        for origin, line in lines:
            if line is None:
                self.reader.forget(origin)
                continue
            self.reader.add(origin, line, (names or {}).get(origin))
        self.windows.add(self.reader.take())
        return self._lines(self.windows.close())

    def flush(self):
        """The input ended: close every window up to the last record; their lines."""
        self.windows.add(self.reader.take())
        return self._lines(self.windows.close(final=True))

    def summary(self):
        """Counters for the exit message."""
        w = self.windows
        return {"zeek_records": w.records, "zeek_malformed": self.reader.malformed,
                "zeek_late": w.late, "zeek_late_dropped": w.dropped}


# ---------------------------------------------------------------------------- sources
class ZeekFollowSource:
    """The current logs of a Zeek folder (``<dir>/<protocol>.log``), followed like tail -F.

    Zeek rotates ``conn.log`` by renaming it and starting a new one: the rest of the old
    file is read, then the new one (:class:`mods.stream.sources.FileSource`).  A log that
    does not exist yet is waited for.  A single file may be given instead of a folder.
    """

    def __init__(self, path, protocols, from_end=False):
        from mods.stream.sources import FileSource

        path = Path(path)
        files = [path] if path.is_file() else [path / ("%s.log" % p) for p in protocols]
        if not path.is_file() and not path.is_dir():
            raise fail(DataError, "no such file or folder: %s" % path, LOG)
        self.sources = [FileSource(f, follow=True, from_end=from_end) for f in files]
        self.names = {}

    def read(self, timeout):
        from mods.stream.sources import POLL_S

        deadline = time.monotonic() + timeout
        while True:
            out = []
            for src in self.sources:
                origin = src.origin
                lines = src.read(0) or []
                if src.origin != origin:
                    out.append((origin, None))
                for o, line in lines:
                    self.names[o] = src.path.name
                    out.append((o, line))
            if any(line is not None for _, line in out) or time.monotonic() >= deadline:
                return out
            time.sleep(POLL_S * 10)

    def close(self):
        for src in self.sources:
            src.close()


class ZeekFilesSource:
    """Zeek log files read once (plain or gzip), in time order, a round at a time.

    The files (one, or every log of a folder tree, :func:`mods.features.zeek.scan`) of the
    protocols wanted are ordered by their first record's time and read in rounds of the
    files whose first record falls in the same ``round_s`` slice of time (an hour: Zeek's
    rotation interval): so the rotated logs of all protocols advance together and the
    watermark closes windows as it would live.
    """

    def __init__(self, path, protocols, round_s=3600.0):
        from mods.features import zeek

        sources = [s for s in zeek.scan(path) if s.log_type in protocols]
        if not sources:
            raise fail(DataError, "%s: no Zeek log of %s found" % (path, ", ".join(protocols)),
                       LOG)
        firsts = [(self._first_ts(s), str(s.path), s) for s in sources]
        firsts.sort(key=lambda x: (x[0], x[1]))
        self.rounds = []
        for first, _, src in firsts:
            bucket = math.floor(first / round_s) if math.isfinite(first) else math.inf
            if self.rounds and self.rounds[-1][0] == bucket:
                self.rounds[-1][1].append(src)
            else:
                self.rounds.append((bucket, [src]))
        self.names = {}

    @staticmethod
    def _first_ts(source):
        from mods.features import zeek

        for line in zeek.head_lines(source.path):
            if not line.strip() or line.startswith("#"):
                continue
            try:
                if source.fmt == "json":
                    value = json.JSONDecoder().raw_decode(line.lstrip())[0].get("ts")
                else:
                    value = line.split(source.separator)[source.fields.index("ts")]
                us = zeek.to_time_us(pd.Series([value], dtype=object))[0]
                return float(us) / 1e6 if us == us else math.inf
            except (ValueError, IndexError, AttributeError):
                return math.inf
        return math.inf

    def read(self, timeout):
        from mods.features import zeek

        if not self.rounds:
            return None
        _, files = self.rounds.pop(0)
        out = []
        for src in files:
            origin = str(src.path)
            self.names[origin] = src.path.name
            out += [(origin, line) for line in zeek.read_text(src.path).split("\n")]
        return out

    def close(self):
        self.rounds = []


def open_zeek_source(path, protocols, follow=False, from_end=False):
    """:class:`ZeekFollowSource` (``follow``) or :class:`ZeekFilesSource` for ``path``."""
    if path in (None, "-") or str(path).startswith("tcp://"):
        raise fail(ConfigError, "--zeek reads a Zeek log folder or file: give --input "
                   "DIR_OR_FILE", LOG)
    if follow:
        return ZeekFollowSource(path, protocols, from_end=from_end)
    if from_end:
        raise fail(ConfigError, "--from-end applies to --follow", LOG)
    if not os.path.exists(path):
        raise fail(DataError, "no such file or folder: %s" % path, LOG)
    return ZeekFilesSource(path, protocols)

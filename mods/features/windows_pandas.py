"""Window features on one machine, with pandas (the default engine).

How: the log files are read in batches of about 200,000 lines (only the fields the features
need; a large file is a batch of its own), their records get a direction and a *pane* (a
slice of time that divides every window's length and slide, see
:func:`mods.features.pane_us`), and are reduced at once to

* additive aggregates per ``(pane, direction)``: record counts, sums, sums of durations in
  microseconds and their counts, per-value counts of flags;
* the distinct ``(pane, direction, value)`` triples of each field counted distinctly.

Memory thus holds one batch of records at a time plus these small tables. At the end the
panes are spread over the windows that contain them (:func:`explode`): additive aggregates
are summed per ``(window, direction)`` and distinct triples are de-duplicated per window and
counted. All aggregates are integers, so the order of records and files does not matter and
the Spark engine (:mod:`mods.features.windows_spark`) gets exactly the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mods.features import (EngineResult, FEATURES, PROTOCOLS, aggregate_keys, direction_codes,
                           is_local, needed_fields, pane_us, window_range)
from mods.features import zeek

#: Microseconds per second, and the largest magnitude kept exact through float64.
_US = 1_000_000
_MAX_EXACT = float(2 ** 53)


def local_flags(addresses: pd.Series, networks, cache: dict) -> np.ndarray:
    """Whether each address is local (invalid and missing ones are not); ``cache`` is reused."""
    todo = [a for a in pd.unique(addresses.dropna()) if a not in cache]
    for addr in todo:
        cache[addr] = is_local(addr, networks)
    return addresses.map(cache).eq(True).to_numpy()


def duration_us(values) -> tuple[np.ndarray, np.ndarray]:
    """Durations in whole microseconds (``floor(x * 1e6 + 0.5)``) and which are valid."""
    x = np.asarray(values, dtype="float64")
    with np.errstate(invalid="ignore", over="ignore"):
        us = np.floor(x * 1e6 + 0.5)
        valid = np.abs(us) < _MAX_EXACT
    return np.where(valid, us, 0).astype(np.int64), valid


def additive_columns(frame: pd.DataFrame, protocol: str) -> dict:
    """Integer columns (one per additive aggregate key) of the records of ``frame``."""
    n = len(frame)
    cols = {}
    for key in aggregate_keys(protocol)["additive"]:
        kind, _, rest = key.partition(":")
        if kind == "n":
            cols[key] = np.ones(n, dtype=np.int64)
        elif kind == "sum":
            values = frame[rest].to_numpy(dtype="float64", na_value=np.nan)
            cols[key] = np.nan_to_num(values, nan=0.0).astype(np.int64)
        elif kind in ("avg_sum", "avg_n"):
            us, valid = duration_us(frame[rest].to_numpy(dtype="float64", na_value=np.nan))
            cols[key] = us if kind == "avg_sum" else valid.astype(np.int64)
        elif kind == "flag":
            name, _, value = rest.rpartition(":")
            col = frame[name].astype("boolean")
            cols[key] = col.eq(value == "true").fillna(False).to_numpy(dtype=bool).astype(
                np.int64)
    return cols


def explode(panes: np.ndarray, window, pane_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Spread panes over the windows containing them.

    Returns
    -------
    rows, k : numpy.ndarray
        For every (pane, window) pair: the position of the pane in ``panes`` and the
        window index (window start ``k * slide``).
    """
    panes = np.asarray(panes, dtype=np.int64)
    lo, hi = window_range(panes, pane_len, window)
    counts = np.maximum(hi - lo + 1, 0)
    rows = np.repeat(np.arange(len(panes)), counts)
    offsets = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, np.repeat(lo, counts) + offsets


def spread_additive(additive: pd.DataFrame, window, pane_len: int) -> pd.DataFrame:
    """Window aggregates (indexed ``(k, d)``) from additive aggregates indexed ``(pane, d)``."""
    rows, k = explode(additive.index.get_level_values(0), window, pane_len)
    sub = additive.iloc[rows]
    spread = sub.reset_index(drop=True)
    spread.insert(0, "k", k)
    spread.insert(1, "d", sub.index.get_level_values(1))
    return spread.groupby(["k", "d"]).sum()


def count_distinct(triples: pd.DataFrame, window, pane_len: int, key: str) -> pd.Series:
    """Distinct values per ``(k, d)`` from the distinct ``(pane, d, code)`` triples."""
    rows, k = explode(triples["pane"].to_numpy(), window, pane_len)
    spread = pd.DataFrame({"k": k, "d": triples["d"].to_numpy()[rows],
                           "code": triples["code"].to_numpy()[rows]})
    return spread.drop_duplicates().groupby(["k", "d"]).size().rename(key)


def assemble(protocol: str, parts) -> pd.DataFrame:
    """One table indexed ``(k, d)`` with every aggregate key of ``protocol`` (int64, sorted).

    Parameters
    ----------
    protocol : str
        The protocol.
    parts : list
        DataFrames and Series indexed ``(k, d)`` whose columns (names) are aggregate keys;
        missing keys and rows are zeros.
    """
    keys = aggregate_keys(protocol)
    names = keys["additive"] + keys["distinct"]
    parts = [p.to_frame() if isinstance(p, pd.Series) else p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=names, index=pd.MultiIndex.from_arrays(
            [np.array([], np.int64), np.array([], np.int64)], names=["k", "d"]),
            dtype=np.int64)
    table = pd.concat(parts, axis=1).fillna(0).astype(np.int64)
    table.index = table.index.set_names(["k", "d"])
    return table.reindex(columns=names, fill_value=0).sort_index()


def window_table(protocol, window, pane_len, additive, distinct) -> pd.DataFrame:
    """Aggregates per ``(k, d)`` of one protocol and window, from the pane-level tables.

    Parameters
    ----------
    protocol : str
        The protocol.
    window : mods.features.Window
        The window.
    pane_len : int
        Pane length in microseconds.
    additive : pandas.DataFrame
        Additive aggregates indexed by ``(pane, d)``.
    distinct : dict
        ``{key: DataFrame(pane, d, code)}`` of distinct triples (values as integer codes).

    Returns
    -------
    pandas.DataFrame
        See :func:`assemble`.
    """
    parts = [spread_additive(additive, window, pane_len)] if len(additive) else []
    for key, triples in distinct.items():
        if len(triples):
            parts.append(count_distinct(triples, window, pane_len, key))
    return assemble(protocol, parts)


class ProtocolPanes:
    """Pane-level aggregates of one protocol, accumulated file by file."""

    def __init__(self, protocol, pane_len, networks):
        self.protocol, self.pane_len, self.networks = protocol, pane_len, networks
        self.keys = aggregate_keys(protocol)
        self.additive, self.distinct = [], {k: [] for k in self.keys["distinct"]}
        self.cache, self.records, self.used, self.malformed = {}, 0, 0, 0
        self.ts_min = self.ts_max = None

    def add(self, batch) -> None:
        frame = batch.frame
        self.records += len(frame)
        self.malformed += batch.malformed
        if not len(frame):
            return
        ts = pd.DatetimeIndex(frame["ts"]).asi8 // 1000
        lo, hi = int(ts.min()), int(ts.max())
        self.ts_min = lo if self.ts_min is None else min(self.ts_min, lo)
        self.ts_max = hi if self.ts_max is None else max(self.ts_max, hi)
        d = direction_codes(local_flags(frame["id.orig_h"], self.networks, self.cache),
                            local_flags(frame["id.resp_h"], self.networks, self.cache))
        keep = d >= 0
        self.used += int(keep.sum())
        if not keep.any():
            return
        frame = frame[keep].reset_index(drop=True)
        pane, d = ts[keep] // self.pane_len, d[keep]
        cols = {"pane": pane, "d": d, **additive_columns(frame, self.protocol)}
        self.additive.append(pd.DataFrame(cols).groupby(["pane", "d"]).sum())
        for key in self.keys["distinct"]:
            values = frame[key.partition(":")[2]]
            ok = values.notna().to_numpy()
            triples = pd.DataFrame({"pane": pane[ok], "d": d[ok],
                                    "value": values.to_numpy()[ok]}).drop_duplicates()
            self.distinct[key].append(triples)

    def tables(self, windows) -> dict:
        additive = (pd.concat(self.additive).groupby(level=[0, 1]).sum() if self.additive
                    else pd.DataFrame(columns=self.keys["additive"], dtype=np.int64))
        distinct = {}
        for key, parts in self.distinct.items():
            if parts:
                triples = pd.concat(parts, ignore_index=True)
                codes, _ = pd.factorize(triples["value"])
                distinct[key] = pd.DataFrame({"pane": triples["pane"].to_numpy(),
                                              "d": triples["d"].to_numpy(),
                                              "code": codes}).drop_duplicates()
        return {(self.protocol, w.name): window_table(self.protocol, w, self.pane_len,
                                                      additive, distinct) for w in windows}


def compute(sources, windows, networks, progress=None) -> EngineResult:
    """Aggregates of every protocol and window from the log files ``sources``.

    Parameters
    ----------
    sources : list of mods.features.zeek.LogSource
        Log files (from :func:`mods.features.zeek.scan`); other log types are ignored.
    windows : list of mods.features.Window
        Windows to compute.
    networks : list
        Local networks (from :func:`mods.features.parse_networks`).
    progress : callable, optional
        ``progress(done, total, label)`` after each file.

    Returns
    -------
    mods.features.EngineResult
    """
    pane_len = pane_us(windows)
    todo = [s for s in sources if s.log_type in FEATURES]
    result = EngineResult()
    bounds = []
    done = 0
    for protocol in PROTOCOLS:
        files = [s for s in todo if s.log_type == protocol]
        if not files:
            continue
        acc = ProtocolPanes(protocol, pane_len, networks)
        for batch in zeek.read_batches(files, columns=needed_fields(protocol)):
            acc.add(batch)
            done += len(batch.sources)
            if progress is not None:
                progress(done, len(todo), batch.sources[-1].name)
        result.protocols.append(protocol)
        result.records[protocol], result.used[protocol] = acc.records, acc.used
        result.malformed += acc.malformed
        if acc.ts_min is not None:
            bounds += [acc.ts_min, acc.ts_max]
        result.tables.update(acc.tables(windows))
    if bounds:
        result.ts_range = (min(bounds), max(bounds))
    return result

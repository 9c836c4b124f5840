"""From raw Zeek logs to the feature datapool (window features per protocol and direction).

The pieces, in the order data flows through them:

:mod:`mods.features.zeek`
    reads Zeek logs (TSV or JSON lines, plain or gzip, one file or a tree of rotated logs).
:mod:`mods.features.windows_pandas`
    the default engine, on one machine (pandas).
:mod:`mods.features.windows_spark`
    the same features on Spark (local mode or any cluster); it writes exactly the same files.
:func:`build_datapool` (here)
    runs an engine and writes ``<out>/tsv/<protocol>/YYYY/MM/DD/<window>.tsv``.
:mod:`mods.features.zeekgen` and :mod:`mods.features.cli`
    sample logs and the ``mods-features`` command.

This module holds what both engines share, so that they cannot drift apart: the feature
definitions (:data:`FEATURES`, column names and order of the real MODS datapool), the window
names (:func:`parse_window`), the local networks and the direction rules
(:func:`parse_networks`, :func:`direction_codes`) and the final step that turns the integer
aggregates of an engine into the text of the day files (:func:`render_day`).

Directions
----------
A record goes from its originator (``id.orig_h``) to its responder (``id.resp_h``). With the
local networks (default RFC 1918: ``10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16``):

============  ===============  ===============
direction     originator       responder
============  ===============  ===============
``in``        remote           local
``out``       local            remote
``internal``  local            local
============  ===============  ===============

Records between two remote hosts (transit, spoofed or mirrored traffic) are **ignored**: they
are neither coming in, going out nor internal. An address that is not a valid IPv4/IPv6
address (unset ``-``, garbage) counts as remote.

Windows
-------
A window name ``wLL<u>-sSS<u>`` (units ``s``, ``m``, ``h``, ``d``; e.g. ``w01h-s10m``) gives
the window length and slide. Windows start at multiples of the slide since the Unix epoch
(UTC), so ``w01h-s10m`` windows start at :00, :10, :20... A record with time ``ts`` belongs to
every window with ``start <= ts < start + length`` (six windows for ``w01h-s10m``).

Every window whose start falls within the days covered by the logs (from the day of the
first record to the day of the last one, over all protocols) is written, empty or not; a
window belongs to the file of the day of its start. Cell values:

* counts, distinct counts, sums and per-value counts: integers, ``0`` where no record;
* averages (``avg_duration``): a float written as Python's ``repr`` (the shortest form
  that reads back to the same number, as in the real datapool), ``""`` where no record
  has a value.

.. note::
   The real datapool was written by a Spark job that left the whole block of a direction
   ``""`` when the direction had no record in a window (e.g. ``ssh`` ``out``) and wrote no
   row at all for a window without any record (``sip`` has 135-139 rows on some days).
   Here counts are ``0`` and every window is present, as asked by the issue: ``0`` is the
   true count, while ``""`` is read by :func:`mods.dataset.io.read_table` as a *missing*
   value and interpolated. Only the averages of an empty window stay ``""`` (undefined).

Columns
-------
The column names and their order are those of the real datapool
(``/work/shared/data/mods-datapool/tsv/<protocol>/2019/06/01/w01h-s10m.tsv``):
``window_start``, ``window_end``, then for ``in``, ``out`` and ``internal`` in turn the
features of the protocol (see :data:`FEATURES`). Notes on some of them:

* ``count_uid`` counts records (every Zeek record has a ``uid``); ``http``, ``ssh`` and
  ``ssl`` only have that count, and the datapool names it after the direction alone
  (``in``, ``out``, ``internal``).
* ``sip``'s distinct counts keep the datapool's names with back-quotes, e.g.
  ``in_distinct_`id.orig_h``` (the name Spark gives ``countDistinct(`id.orig_h`)``).
* ``avg_duration`` is computed from durations rounded to the microsecond (Zeek writes
  intervals with 6 decimals) as ``sum / count`` in exact integer arithmetic, then rounded
  once to a float: both engines give the same bits whatever the order of the records.
* ``dns`` ``AA/RA/RD/TC/rejected`` ``_true/_false`` count records with that value; unset
  values count in neither.

Every column of the real datapool can be derived from the Zeek logs of the same names.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import logging
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from mods.errors import ConfigError, DataError, fail
from mods.files import atomic_write

LOG = logging.getLogger("mods.features")

#: Protocols (Zeek log types) with features, in the order they are processed.
PROTOCOLS = ("conn", "dns", "http", "sip", "ssh", "ssl")
#: Directions, in the order of their column blocks; the codes are their positions.
DIRECTIONS = ("in", "out", "internal")
#: Default local networks (RFC 1918).
DEFAULT_LOCAL_NETS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
#: Default window.
DEFAULT_WINDOW = "w01h-s10m"
#: Cell written where a value is undefined (an average without values), as the datapool does.
EMPTY_CELL = '""'
#: Time format of ``window_start`` / ``window_end``.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"

_US = 1_000_000
_DAY_US = 86_400 * _US
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_WINDOW_RE = re.compile(r"^w(\d{1,4})([smhd])-s(\d{1,4})([smhd])$")


# ------------------------------------------------------------------------------ features
@dataclass(frozen=True)
class Feature:
    """One feature of a protocol, computed for each direction and window.

    Attributes
    ----------
    name : str
        Column name after the direction prefix (``""``: the column is the direction alone).
    kind : str
        ``count`` (records), ``sum`` / ``avg`` (of a numeric field), ``distinct`` (number
        of distinct values of a field) or ``flag`` (records whose boolean field is
        ``value``).
    field : str or None
        Zeek field the feature is computed from.
    value : bool or None
        Value counted by a ``flag`` feature.
    """

    name: str
    kind: str
    field: str | None = None
    value: bool | None = None

    def column(self, direction: str) -> str:
        """Name of the feature's column for ``direction`` (e.g. ``in_count_uid``)."""
        return direction if not self.name else f"{direction}_{self.name}"

    @property
    def keys(self) -> tuple:
        """Names of the integer aggregates the feature is made of (see :func:`render_day`)."""
        if self.kind == "count":
            return ("n",)
        if self.kind == "avg":
            return (f"avg_sum:{self.field}", f"avg_n:{self.field}")
        if self.kind == "flag":
            return (f"flag:{self.field}:{str(self.value).lower()}",)
        return (f"{self.kind}:{self.field}",)


def _flags(*names):
    return [Feature(f"{n}_{str(v).lower()}", "flag", n, v) for n in names for v in (False, True)]


def _distinct(field_name):
    quoted = f"`{field_name}`" if "." in field_name else field_name
    return Feature(f"distinct_{quoted}", "distinct", field_name)


#: Features of each protocol, in the column order of the real datapool.
FEATURES = {
    "conn": [Feature("sum_orig_bytes", "sum", "orig_bytes"),
             Feature("sum_resp_bytes", "sum", "resp_bytes"),
             Feature("avg_duration", "avg", "duration"),
             Feature("count_uid", "count")],
    "dns": [Feature("count_uid", "count"), _distinct("query"), _distinct("proto"),
            *_flags("AA", "RA", "RD", "TC", "rejected")],
    "http": [Feature("", "count")],
    "sip": [Feature("count_uid", "count"), _distinct("id.orig_h"), _distinct("id.orig_p"),
            _distinct("id.resp_h"), _distinct("id.resp_p"), _distinct("user_agent")],
    "ssh": [Feature("", "count")],
    "ssl": [Feature("", "count")],
}


def columns(protocol: str) -> list[str]:
    """Header of a protocol's day files: ``window_start``, ``window_end``, the features.

    Examples
    --------
    >>> columns("ssh")
    ['window_start', 'window_end', 'in', 'out', 'internal']
    """
    return ["window_start", "window_end"] + [
        f.column(d) for d in DIRECTIONS for f in FEATURES[protocol]]


def needed_fields(protocol: str) -> list[str]:
    """Zeek fields an engine reads for ``protocol`` (time, addresses, feature fields)."""
    out = ["ts", "id.orig_h", "id.resp_h"]
    for feat in FEATURES[protocol]:
        if feat.field and feat.field not in out:
            out.append(feat.field)
    return out


def aggregate_keys(protocol: str) -> dict[str, list[str]]:
    """Integer aggregates of ``protocol`` by kind: ``additive`` and ``distinct`` keys.

    Additive aggregates (record counts, sums, sums of microseconds and their counts,
    per-value counts) add up over panes and files; distinct counts do not.
    """
    additive, distinct = [], []
    for feat in FEATURES[protocol]:
        target = distinct if feat.kind == "distinct" else additive
        for key in feat.keys:
            if key not in target:
                target.append(key)
    return {"additive": additive, "distinct": distinct}


# ------------------------------------------------------------------------------- windows
@dataclass(frozen=True)
class Window:
    """A sliding window: its canonical name, length and slide in seconds."""

    name: str
    length: int
    slide: int

    @property
    def length_us(self) -> int:
        """Length in microseconds."""
        return self.length * _US

    @property
    def slide_us(self) -> int:
        """Slide in microseconds."""
        return self.slide * _US


def parse_window(name: str) -> Window:
    """Parse a window name like ``w01h-s10m`` (length 1 hour, slide 10 minutes).

    Units are ``s``, ``m``, ``h`` and ``d``; the name is made canonical (two digits at
    least: ``w1h-s10m`` gives ``w01h-s10m``), as the datapool's file names are.

    Raises
    ------
    mods.errors.ConfigError
        For a malformed name or a zero length or slide.

    Examples
    --------
    >>> parse_window("w10m-s01m")
    Window(name='w10m-s01m', length=600, slide=60)
    """
    text = str(name).strip()
    match = _WINDOW_RE.match(text)
    if not match:
        raise fail(ConfigError, f"bad window name {name!r}: expected w<length><unit>-"
                   f"s<slide><unit> with units s, m, h or d, e.g. w01h-s10m")
    n_len, u_len, n_slide, u_slide = match.groups()
    length, slide = int(n_len) * _UNITS[u_len], int(n_slide) * _UNITS[u_slide]
    if length <= 0 or slide <= 0:
        raise fail(ConfigError, f"bad window name {name!r}: length and slide must be > 0")
    return Window(f"w{int(n_len):02d}{u_len}-s{int(n_slide):02d}{u_slide}", length, slide)


def parse_windows(names) -> list[Window]:
    """Windows from a comma-separated string or a list of names (duplicates dropped)."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    out = []
    for name in names or []:
        win = name if isinstance(name, Window) else parse_window(name)
        if win not in out:
            out.append(win)
    if not out:
        raise fail(ConfigError, "no window given (e.g. w01h-s10m)")
    return out


def pane_us(windows) -> int:
    """Common pane (in microseconds) of ``windows``: the gcd of their lengths and slides.

    Every window is a whole number of panes and starts on a pane boundary, so additive
    aggregates computed per pane add up exactly to window aggregates.
    """
    g = 0
    for win in windows:
        g = math.gcd(g, win.length, win.slide)
    return g * _US


def window_range(pane: int, pane_len_us: int, window: Window) -> tuple[int, int]:
    """First and last window index ``k`` (start ``k * slide``) containing pane ``pane``.

    The range is empty (first > last) for a pane that falls in a gap between windows
    (slide longer than length).
    """
    r = window.slide_us // pane_len_us
    m = window.length_us // pane_len_us
    return (pane - m) // r + 1, pane // r


# ------------------------------------------------------------------------------ networks
def parse_networks(nets=None) -> list:
    """Local networks from a comma-separated string or a list of CIDR blocks.

    ``None`` gives :data:`DEFAULT_LOCAL_NETS`. Host bits are allowed (``10.1.2.3/8`` is
    ``10.0.0.0/8``).

    Raises
    ------
    mods.errors.ConfigError
        Naming the first block that is not a valid IPv4/IPv6 network.
    """
    if nets is None:
        nets = DEFAULT_LOCAL_NETS
    if isinstance(nets, str):
        nets = [n for n in nets.split(",") if n.strip()]
    out = []
    for net in nets:
        if isinstance(net, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            out.append(net)
            continue
        try:
            out.append(ipaddress.ip_network(str(net).strip(), strict=False))
        except ValueError:
            raise fail(ConfigError, f"bad local network {str(net).strip()!r}: expected a "
                       f"CIDR block such as 10.0.0.0/8") from None
    if not out:
        raise fail(ConfigError, "no local network given (e.g. 10.0.0.0/8)")
    return out


def is_local(address, networks) -> bool:
    """Whether ``address`` (text) lies in one of ``networks``; invalid addresses are not."""
    try:
        addr = ipaddress.ip_address(str(address))
    except ValueError:
        return False
    return any(addr.version == net.version and addr in net for net in networks)


def direction_codes(orig_local, resp_local):
    """Direction codes (0 ``in``, 1 ``out``, 2 ``internal``, -1 ignored) of boolean arrays.

    Examples
    --------
    >>> direction_codes([False, True, True, False], [True, False, True, False]).tolist()
    [0, 1, 2, -1]
    """
    import numpy as np

    orig = np.asarray(orig_local, dtype=bool)
    resp = np.asarray(resp_local, dtype=bool)
    return np.select([orig & resp, orig, resp], [2, 1, 0], -1).astype(np.int8)


# -------------------------------------------------------------------------------- output
@dataclass
class EngineResult:
    """What an engine computed from the logs; :func:`write_datapool` turns it into files.

    Attributes
    ----------
    tables : dict
        ``{(protocol, window_name): DataFrame}``; each frame is indexed by ``(k, d)``
        (window index, direction code) and holds one int64 column per aggregate key of
        the protocol (:func:`aggregate_keys`), only for windows and directions with
        records.
    ts_range : tuple of int or None
        First and last record time (microseconds since the epoch) over all protocols.
    records : dict
        Well-formed records read, per protocol.
    used : dict
        Records with a direction (not remote to remote), per protocol.
    malformed : int
        Malformed lines skipped.
    protocols : list of str
        Protocols that had at least one log file.
    """

    tables: dict = field(default_factory=dict)
    ts_range: tuple | None = None
    records: dict = field(default_factory=dict)
    used: dict = field(default_factory=dict)
    malformed: int = 0
    protocols: list = field(default_factory=list)


def format_time(us: int) -> str:
    """``2019-06-01T00:00:00.000Z`` for a time in microseconds since the epoch."""
    stamp = _dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=int(us))
    return stamp.strftime(TIME_FORMAT) + ".%03dZ" % (stamp.microsecond // 1000)


def day_range(ts_range) -> list[int]:
    """Start (microseconds) of every UTC day from the first to the last record's day."""
    if ts_range is None:
        return []
    first, last = (int(t) // _DAY_US for t in ts_range)
    return [day * _DAY_US for day in range(first, last + 1)]


def render_day(protocol: str, window: Window, table, day_us: int) -> str:
    """Text of one day file: header and one row per window starting in that day.

    Parameters
    ----------
    protocol : str
        One of :data:`PROTOCOLS`.
    window : Window
        The window.
    table : pandas.DataFrame
        The engine's aggregates, indexed by ``(k, d)`` (see :class:`EngineResult`).
    day_us : int
        Start of the day (UTC midnight) in microseconds.

    Returns
    -------
    str
        Tab-separated lines ending with ``\\n``.
    """
    slide = window.slide_us
    k_first = -(-day_us // slide)
    k_stop = -(-(day_us + _DAY_US) // slide)
    lines = ["\t".join(columns(protocol))]
    lines += ["\t".join(cells) for cells in render_rows(protocol, window, table, k_first,
                                                        k_stop)]
    return "\n".join(lines) + "\n"


def render_rows(protocol: str, window: Window, table, k_first: int, k_stop: int) -> list:
    """Cells (text, in :func:`columns` order) of windows ``k_first <= k < k_stop``.

    Window ``k`` starts at ``k * slide``; ``table`` is an engine's aggregates indexed by
    ``(k, d)`` (see :class:`EngineResult`); windows and directions it lacks are empty.
    Used by :func:`render_day` and by the online windows of :mod:`mods.stream.zeek_online`.
    """
    slide = window.slide_us
    rows = {}
    if table is not None and len(table):
        sub = table[(table.index.get_level_values(0) >= k_first)
                    & (table.index.get_level_values(0) < k_stop)]
        for (k, d), values in zip(sub.index, sub.itertuples(index=False, name=None)):
            rows[(int(k), int(d))] = dict(zip(sub.columns, (int(v) for v in values)))
    feats = FEATURES[protocol]
    out = []
    for k in range(k_first, k_stop):
        start = k * slide
        cells = [format_time(start), format_time(start + window.length_us)]
        for d in range(len(DIRECTIONS)):
            agg = rows.get((k, d), {})
            for feat in feats:
                cells.append(_cell(feat, agg))
        out.append(cells)
    return out


def _cell(feat: Feature, agg: dict) -> str:
    if feat.kind == "avg":
        total, n = (agg.get(key, 0) for key in feat.keys)
        # exact: int / int is correctly rounded in Python, whatever the magnitudes
        return repr(total / (n * _US)) if n else EMPTY_CELL
    return str(agg.get(feat.keys[0], 0))


def day_path(out_dir, protocol: str, window: Window, day_us: int) -> Path:
    """``<out>/tsv/<protocol>/YYYY/MM/DD/<window>.tsv`` for the day starting at ``day_us``."""
    day = _dt.date(1970, 1, 1) + _dt.timedelta(days=day_us // _DAY_US)
    return (Path(out_dir) / "tsv" / protocol / f"{day.year:04d}" / f"{day.month:02d}"
            / f"{day.day:02d}" / f"{window.name}.tsv")


def write_datapool(result: EngineResult, out_dir, windows) -> list[Path]:
    """Write the day files of every protocol and window of ``result``; return their paths."""
    written = []
    days = day_range(result.ts_range)
    for protocol in PROTOCOLS:
        if protocol not in result.protocols:
            continue
        for window in windows:
            table = result.tables.get((protocol, window.name))
            for day_us in days:
                path = day_path(out_dir, protocol, window, day_us)
                atomic_write(path, render_day(protocol, window, table, day_us))
                written.append(path)
    return written


# ------------------------------------------------------------------------------- builder
@dataclass
class BuildReport:
    """Summary of :func:`build_datapool`."""

    files: list
    records: dict
    used: dict
    malformed: int
    seconds: float
    engine: str

    @property
    def n_records(self) -> int:
        """Well-formed records read over all protocols."""
        return int(sum(self.records.values()))


def build_datapool(logs, out_dir, windows=DEFAULT_WINDOW, local_nets=None, engine="pandas",
                   master=None, spark=None, progress=None) -> BuildReport:
    """Compute the window features of the Zeek logs under ``logs`` into a datapool.

    Parameters
    ----------
    logs : str or pathlib.Path
        A Zeek log file or a folder searched recursively (see :func:`mods.features.zeek.scan`).
    out_dir : str or pathlib.Path
        Datapool root; files go to ``<out_dir>/tsv/<protocol>/YYYY/MM/DD/<window>.tsv``.
    windows : str or list, default ``"w01h-s10m"``
        Window names (comma-separated string or list).
    local_nets : str or list, optional
        Local networks (CIDR); default RFC 1918.
    engine : {"pandas", "spark"}
        Where the features are computed.
    master : str, optional
        Spark master URL (spark engine; default ``local[2]``).
    spark : pyspark.sql.SparkSession, optional
        An existing session to use (spark engine).
    progress : callable, optional
        ``progress(done, total, label)`` called as the work advances.

    Returns
    -------
    BuildReport

    Raises
    ------
    mods.errors.DataError
        No Zeek log of a known protocol, or a file that is not a Zeek log.
    mods.errors.ConfigError
        A bad window name, network, engine, or a missing pyspark.
    """
    from mods.features import zeek

    started = time.perf_counter()
    wins = parse_windows(windows)
    nets = parse_networks(local_nets)
    sources = [s for s in zeek.scan(logs) if s.log_type in PROTOCOLS]
    if not sources:
        raise fail(DataError, f"{logs}: no Zeek log of {', '.join(PROTOCOLS)} found")
    if engine == "pandas":
        from mods.features import windows_pandas

        result = windows_pandas.compute(sources, wins, nets, progress=progress)
    elif engine == "spark":
        from mods.features import windows_spark

        result = windows_spark.compute(sources, wins, nets, master=master, spark=spark,
                                       progress=progress)
    else:
        raise fail(ConfigError, f"unknown engine {engine!r}: expected pandas or spark")
    if result.ts_range is None:
        LOG.warning("%s: no well-formed record in the logs, nothing written", logs)
    files = write_datapool(result, out_dir, wins)
    return BuildReport(files=files, records=result.records, used=result.used,
                       malformed=result.malformed, seconds=time.perf_counter() - started,
                       engine=engine)

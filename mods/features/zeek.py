"""Read Zeek logs (TSV or JSON lines, plain or gzip, one file or a tree of rotated logs).

Formats
-------
*TSV* (Zeek's default ASCII writer): header lines ``#separator \\x09``, ``#set_separator``,
``#empty_field`` (``(empty)``), ``#unset_field`` (``-``), ``#path``, ``#open``, ``#fields``,
``#types`` then one record per line, and ``#close`` at the end. A file may hold several
header blocks (concatenated logs); each ``#fields`` line applies to the lines after it.

*JSON lines* (``LogAscii::use_json = T``): one object per line with flat keys
(``"id.orig_h"``); unset fields are absent or ``null``; ``ts`` is a number of seconds or an
ISO 8601 string.

Either may be gzip-compressed (recognised by its content, whatever the name). A folder is
searched recursively for ``*.log``, ``*.json`` and ``*.jsonl`` files, each optionally
``.gz`` (``conn.2019-06-01-00-00-00.log.gz``, ``2019-06-01/dns.00:00:00-01:00:00.log.gz``);
hidden files are skipped. The log type comes from ``#path`` (TSV), ``_path`` (JSON) or else
from the file name up to its first dot.

Values
------
==============================  ===========================================================
Zeek type                       pandas column
==============================  ===========================================================
``time``                        ``datetime64[ns, UTC]``, rounded to the microsecond
``count``, ``int``, ``port``    ``float64`` (exact up to 2**53; a value that is not a whole
                                number below 2**53 is missing)
``interval``, ``double``        ``float64``
``bool`` (``T``/``F``)          pandas ``boolean``
anything else                   text as written (Zeek's ``\\x..`` escapes are kept);
                                ``(empty)`` is ``""``
==============================  ===========================================================

The unset value (``-``) and unparsable numbers are missing (``NaN``/``NaT``/``<NA>``).

Malformed lines (wrong number of fields, invalid JSON, a missing or unparsable ``ts``) are
counted and skipped, with one warning per file naming the file and the first bad lines.
A file that is not a Zeek log at all raises :class:`~mods.errors.DataError` naming it; an
empty file (a quiet hour of a JSON log) is an empty log.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import operator
import re
import zlib
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path

import numpy as np
import pandas as pd

from mods.errors import DataError, fail

LOG = logging.getLogger("mods.features")

#: Types of the fields of the six log types with features (Zeek 2.6 / 3.x names). They give
#: the types of JSON logs (which have no ``#types`` line) and the generator's headers.
ZEEK_FIELDS = {
    "conn": "ts:time uid:string id.orig_h:addr id.orig_p:port id.resp_h:addr id.resp_p:port "
            "proto:enum service:string duration:interval orig_bytes:count resp_bytes:count "
            "conn_state:string local_orig:bool local_resp:bool missed_bytes:count "
            "history:string orig_pkts:count orig_ip_bytes:count resp_pkts:count "
            "resp_ip_bytes:count tunnel_parents:set[string]",
    "dns": "ts:time uid:string id.orig_h:addr id.orig_p:port id.resp_h:addr id.resp_p:port "
           "proto:enum trans_id:count rtt:interval query:string qclass:count "
           "qclass_name:string qtype:count qtype_name:string rcode:count rcode_name:string "
           "AA:bool TC:bool RD:bool RA:bool Z:count answers:vector[string] "
           "TTLs:vector[interval] rejected:bool",
    "http": "ts:time uid:string id.orig_h:addr id.orig_p:port id.resp_h:addr id.resp_p:port "
            "trans_depth:count method:string host:string uri:string referrer:string "
            "version:string user_agent:string request_body_len:count "
            "response_body_len:count status_code:count status_msg:string info_code:count "
            "info_msg:string tags:set[enum] username:string password:string "
            "proxied:set[string] orig_fuids:vector[string] orig_filenames:vector[string] "
            "orig_mime_types:vector[string] resp_fuids:vector[string] "
            "resp_filenames:vector[string] resp_mime_types:vector[string]",
    "sip": "ts:time uid:string id.orig_h:addr id.orig_p:port id.resp_h:addr id.resp_p:port "
           "trans_depth:count method:string uri:string date:string request_from:string "
           "request_to:string response_from:string response_to:string reply_to:string "
           "call_id:string seq:string subject:string request_path:vector[string] "
           "response_path:vector[string] user_agent:string status_code:count "
           "status_msg:string warning:string request_body_len:count "
           "response_body_len:count content_type:string",
    "ssh": "ts:time uid:string id.orig_h:addr id.orig_p:port id.resp_h:addr id.resp_p:port "
           "version:count auth_success:bool auth_attempts:count direction:enum "
           "client:string server:string cipher_alg:string mac_alg:string "
           "compression_alg:string kex_alg:string host_key_alg:string host_key:string",
    "ssl": "ts:time uid:string id.orig_h:addr id.orig_p:port id.resp_h:addr id.resp_p:port "
           "version:string cipher:string curve:string server_name:string resumed:bool "
           "last_alert:string next_protocol:string established:bool "
           "cert_chain_fuids:vector[string] client_cert_chain_fuids:vector[string] "
           "subject:string issuer:string client_subject:string client_issuer:string "
           "validation_status:string",
}
ZEEK_FIELDS = {log: [tuple(item.split(":", 1)) for item in spec.split()]
               for log, spec in ZEEK_FIELDS.items()}

INTEGER_TYPES = frozenset({"count", "int", "port"})
FLOAT_TYPES = frozenset({"interval", "double"})
#: Numbers at or beyond this magnitude are not exact in float64 and count as missing.
MAX_EXACT = float(2 ** 53)
#: Times (microseconds) at or beyond this magnitude are out of pandas' range: malformed.
MAX_TIME_US = 9.0e15
#: Malformed lines named in a file's warning.
SHOWN_BAD_LINES = 5

_LOG_NAME = re.compile(r"\.(log|json|jsonl)(\.gz)?$", re.IGNORECASE)
_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class LogSource:
    """A Zeek log file and what its header says.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    log_type : str
        ``conn``, ``dns``... (``#path``, ``_path`` or the file name).
    fmt : str
        ``"tsv"`` or ``"json"``.
    fields, types : tuple of str
        Field names and Zeek types of the first header block (TSV; empty for JSON).
    separator, set_separator, empty_field, unset_field : str
        TSV markers of the first header block.
    """

    path: Path
    log_type: str
    fmt: str
    fields: tuple = ()
    types: tuple = ()
    separator: str = "\t"
    set_separator: str = ","
    empty_field: str = "(empty)"
    unset_field: str = "-"

    @property
    def name(self) -> str:
        """The file's name, as used in messages."""
        return self.path.name

    def type_of(self, name: str) -> str:
        """Zeek type of field ``name``: from ``#types``, else the known types, else string."""
        if name in self.fields and len(self.types) == len(self.fields):
            return self.types[self.fields.index(name)]
        return known_type(self.log_type, name)


@dataclass
class ZeekLog:
    """One log file read: its records and what was skipped.

    Attributes
    ----------
    source : LogSource
        The file and its header.
    frame : pandas.DataFrame
        One row per well-formed record, typed columns (see the module's docstring).
    lines : int
        Non-blank data lines seen (well-formed or not).
    malformed : int
        Lines skipped.
    bad_lines : list of tuple
        ``(line number, reason)`` of the first skipped lines.
    """

    source: LogSource
    frame: pd.DataFrame
    lines: int = 0
    malformed: int = 0
    bad_lines: list = field(default_factory=list)


def known_type(log_type: str, name: str) -> str:
    """Zeek type of a field of a known log type (``ts`` is always ``time``; else string)."""
    if name == "ts":
        return "time"
    for fname, ftype in ZEEK_FIELDS.get(log_type, ()):
        if fname == name:
            return ftype
    return "string"


# ------------------------------------------------------------------------------ discovery
def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _not_zeek(path, why) -> DataError:
    return fail(DataError, f"{path}: not a Zeek log ({why})")


def _open_binary(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == _GZIP_MAGIC else open(path, "rb")


def head_lines(path: Path, max_lines: int = 64) -> list[str]:
    """First lines of a file (header lines and the first record), decoded leniently."""
    out = []
    try:
        with _open_binary(path) as fh:
            for raw in fh:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                out.append(line)
                if len(out) >= max_lines or (line and not line.startswith("#")):
                    break
    except (OSError, EOFError, zlib.error) as exc:
        raise _not_zeek(path, f"unreadable: {exc}") from None
    return out


def log_type_from_name(path: Path) -> str:
    """Zeek log type from a file name (``conn.2019-06-01-00-00-00.log.gz`` -> ``conn``)."""
    return path.name.split(".", 1)[0]


def sniff(path) -> LogSource:
    """Recognise a Zeek log from its first lines.

    Raises
    ------
    mods.errors.DataError
        ``<path>: not a Zeek log (...)`` for a gzip error or anything that is neither a Zeek
        TSV header nor a JSON object with a ``ts`` key. An empty file (or only blank lines)
        is an empty log, typed by its name.
    """
    path = Path(path)
    head = [line for line in head_lines(path) if line.strip()]
    if not head:  # e.g. a JSON log of a quiet hour: no record, no header
        return LogSource(path, log_type_from_name(path), "json")
    first = head[0]
    if first.startswith("#separator"):
        header = HeaderState()
        for line in head:
            if not line.startswith("#"):
                break
            header.apply(line)
        if not header.fields:
            raise _not_zeek(path, "no #fields line in the header")
        return LogSource(path, header.path or log_type_from_name(path), "tsv",
                         tuple(header.fields), tuple(header.types), header.separator,
                         header.set_separator, header.empty_field, header.unset_field)
    if first.startswith("{"):
        try:
            obj = json.loads(first)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and "ts" in obj:
            log_type = obj.get("_path") if isinstance(obj.get("_path"), str) else None
            return LogSource(path, log_type or log_type_from_name(path), "json")
    raise _not_zeek(path, "no '#separator' header line and not JSON lines with a 'ts' key")


def scan(path) -> list[LogSource]:
    """The Zeek logs at ``path``: one file, or every log file of a folder tree (sorted).

    Raises
    ------
    mods.errors.DataError
        For a missing path or a file that is not a Zeek log.
    """
    path = Path(path)
    if path.is_file():
        return [sniff(path)]
    if not path.is_dir():
        raise fail(DataError, f"{path}: no such file or folder")
    found = []
    for item in sorted(path.rglob("*")):
        rel = item.relative_to(path).parts
        if any(part.startswith(".") for part in rel) or not item.is_file():
            continue
        if _LOG_NAME.search(item.name):
            found.append(sniff(item))
    return found


# -------------------------------------------------------------------------------- parsing
class HeaderState:
    """State of the TSV header lines read so far."""

    def __init__(self):
        self.separator, self.set_separator = "\t", ","
        self.empty_field, self.unset_field = "(empty)", "-"
        self.path, self.fields, self.types = None, [], []

    def apply(self, line: str) -> None:
        if line.startswith("#separator"):
            value = line[len("#separator"):].strip()
            self.separator = _unescape(value) if value else "\t"
            return
        key, _, rest = line[1:].partition(self.separator)
        values = rest.split(self.separator)
        if key == "fields":
            self.fields, self.types = values, []
        elif key == "types":
            self.types = values
        elif key == "set_separator":
            self.set_separator = _unescape(values[0])
        elif key == "empty_field":
            self.empty_field = values[0]
        elif key == "unset_field":
            self.unset_field = values[0]
        elif key == "path":
            self.path = values[0]

    def type_of(self, name, log_type):
        if name in self.fields and len(self.types) == len(self.fields):
            return self.types[self.fields.index(name)]
        return known_type(log_type, name)


def to_float(values: pd.Series) -> pd.Series:
    """Numbers of a column of text (or JSON values); anything unparsable is NaN."""
    try:
        out = values.astype("float64")
    except (ValueError, TypeError):
        out = pd.to_numeric(values, errors="coerce").astype("float64")
    return out


def to_time_us(values: pd.Series) -> np.ndarray:
    """Microseconds since the epoch (float, NaN where invalid) of seconds or ISO 8601 text.

    Seconds are rounded to the microsecond as ``floor(x * 1e6 + 0.5)`` (the Spark engine
    does the same, so both give the same integers).
    """
    seconds = to_float(values)
    us = np.floor(seconds.to_numpy(dtype="float64") * 1e6 + 0.5)
    todo = np.isnan(us) & values.notna().to_numpy()
    if todo.any():  # ISO 8601 text (JSON logs)
        texts = values[todo].astype(str)
        stamps = pd.to_datetime(texts, utc=True, errors="coerce", format="ISO8601")
        whole = stamps.to_numpy(dtype="datetime64[ns]").astype("int64") // 1000  # exact
        iso = whole.astype("float64")
        iso[stamps.isna().to_numpy()] = np.nan
        us[todo] = iso
    us[~(np.abs(us) < MAX_TIME_US)] = np.nan
    return us


def _times(us: np.ndarray) -> pd.Series:
    valid = ~np.isnan(us)
    ns = np.full(len(us), np.iinfo(np.int64).min, dtype=np.int64)
    ns[valid] = us[valid].astype(np.int64) * 1000
    return pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC"))


def convert(values: pd.Series, ztype: str, empty_field: str | None = None) -> pd.Series:
    """Typed column from raw values (text with missing values already NaN, or JSON values).

    Parameters
    ----------
    values : pandas.Series
        Raw values (object); unset values must already be missing.
    ztype : str
        Zeek type (``time``, ``count``, ``bool``, ``string``, ``set[string]``...).
    empty_field : str, optional
        The TSV empty marker (``(empty)``), turned into ``""`` for text and NaN otherwise.
    """
    if ztype == "time":
        return _times(to_time_us(values))
    if ztype in INTEGER_TYPES or ztype in FLOAT_TYPES:
        out = to_float(values)
        if ztype in INTEGER_TYPES:
            arr = out.to_numpy(copy=True)
            with np.errstate(invalid="ignore"):
                arr[~((np.abs(arr) < MAX_EXACT) & (np.floor(arr) == arr))] = np.nan
            out = pd.Series(arr)
        return out
    tsv = empty_field is not None
    if ztype == "bool":
        if tsv:
            return values.map({"T": True, "F": False}).astype("boolean")
        return values.map(lambda v: v if isinstance(v, bool) else None).astype("boolean")
    if tsv:
        arr = values.to_numpy(dtype=object)
        hit = arr == empty_field
        if hit.any():
            arr = arr.copy()
            arr[hit] = ""
        return pd.Series(arr, dtype=object)
    if len(values):
        scalar = values.map(lambda v: isinstance(v, str) or v is None
                            or (isinstance(v, float) and np.isnan(v)))
        if not scalar.all():  # JSON values that are not text: compact JSON, as Spark has
            values = values.where(scalar, values.map(
                lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False)))
    return values.astype(object)


def _empty_column(ztype: str, n: int) -> pd.Series:
    return convert(pd.Series([None] * n, dtype=object), ztype)


def read_text(path: Path) -> str:
    """Whole text of a log file (gzip or plain; bad UTF-8 replaced, CR/CRLF -> LF).

    Raises
    ------
    DataError
        When the file cannot be read or decompressed.
    """
    try:
        with _open_binary(path) as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise fail(DataError, f"{path}: cannot read the log: {exc}") from None
    text = raw.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _split_fields(lines, sep, names, wanted, unset):
    """DataFrame of the text cells (unset ones NaN) of lines that have ``len(names)`` fields."""
    usecols = [i for i, n in enumerate(names) if n in wanted]
    if len(sep) == 1 and len(set(names)) == len(names) and lines:
        frame = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep, header=None,
                            names=names, usecols=usecols, dtype=str, na_values=[unset],
                            keep_default_na=False, quoting=csv.QUOTE_NONE, engine="c",
                            skip_blank_lines=False)
        if len(frame) == len(lines):
            return frame[[names[i] for i in usecols]]
    rows = [line.split(sep) for line in lines]
    frame = pd.DataFrame([[r[i] for i in usecols] for r in rows],
                         columns=[names[i] for i in usecols], dtype=object)
    return frame.mask(frame == unset)


@dataclass
class _Segment:
    """Well-formed lines of one header block: text lines (TSV) or objects (JSON)."""

    key: tuple          # ("tsv", separator, fields, types, unset, empty) or ("json",)
    items: list
    numbers: np.ndarray  # their line numbers in the file


def _tsv_segments(text):
    """Segments (one per header block), bad lines ``(number, why)`` and data lines seen."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = HeaderState()
    marks = [i for i, line in enumerate(lines) if line[:1] == "#"] + [len(lines)]
    segments, bad, n_data, start = [], [], 0, 0
    for mark in marks:
        seg = lines[start:mark]
        if seg:
            nonblank = np.fromiter(map(len, seg), dtype=np.int64, count=len(seg)) > 0
            n_data += int(nonblank.sum())
            if header.fields:
                counts = np.fromiter(map(operator.methodcaller("count", header.separator), seg),
                                     dtype=np.int64, count=len(seg))
                good = nonblank & (counts == len(header.fields) - 1)
            else:
                good = np.zeros(len(seg), dtype=bool)
            for j in np.flatnonzero(nonblank & ~good):
                why = ("no #fields line before it" if not header.fields else
                       f"{int(counts[j]) + 1} fields, expected {len(header.fields)}")
                bad.append((start + int(j) + 1, why))
            if good.any():
                key = ("tsv", header.separator, tuple(header.fields), tuple(header.types),
                       header.unset_field, header.empty_field)
                segments.append(_Segment(key, list(compress(seg, good)),
                                         start + 1 + np.flatnonzero(good)))
        if mark < len(lines):
            header.apply(lines[mark])
        start = mark + 1
    return segments, bad, n_data


def _json_segments(text):
    decode = json.JSONDecoder().raw_decode
    objs, numbers, bad, n_data = [], [], [], 0
    for i, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        n_data += 1
        try:  # what follows the object is ignored, as Spark's from_json does
            obj = decode(line.lstrip(" \t"))[0]
        except ValueError:
            bad.append((i, "not valid JSON"))
            continue
        if not isinstance(obj, dict):
            bad.append((i, "not a JSON object"))
            continue
        objs.append(obj)
        numbers.append(i)
    segments = [_Segment(("json",), objs, np.asarray(numbers))] if objs else []
    return segments, bad, n_data


def _segments(source):
    text = read_text(source.path)
    return _tsv_segments(text) if source.fmt == "tsv" else _json_segments(text)


def convert_records(key, items, log_type, wanted) -> pd.DataFrame:
    """Typed frame of the items (lines or objects) of segments sharing ``key``."""
    if key[0] == "tsv":
        _, sep, fields, types, unset, empty = key
        raw = _split_fields(items, sep, list(fields), set(wanted or fields), unset)
        typed = dict(zip(fields, types)) if len(types) == len(fields) else {}
    else:
        raw = pd.DataFrame.from_records(items, columns=list(wanted) if wanted else None)
        raw = raw.astype(object).where(raw.notna(), np.nan)
        typed, empty = {}, None
    raw = raw.reset_index(drop=True)
    return pd.DataFrame({name: convert(raw[name], typed.get(name) or
                                       known_type(log_type, name), empty)
                         for name in raw.columns})


def _warn_bad(source, bad):
    if bad:
        shown = "; ".join(f"line {n} ({why})" for n, why in bad[:SHOWN_BAD_LINES])
        more = f"; and {len(bad) - SHOWN_BAD_LINES} more" if len(bad) > SHOWN_BAD_LINES else ""
        LOG.warning("%s: skipped %d malformed line(s): %s%s", source.path, len(bad), shown, more)


def split_bad_timestamps(frame):
    """The frame without rows lacking a valid ``ts``, and those rows' positions."""
    if "ts" not in frame:
        return frame.iloc[0:0], np.arange(len(frame))
    missing = frame["ts"].isna().to_numpy()
    if not missing.any():
        return frame, np.array([], dtype=np.int64)
    return frame[~missing].reset_index(drop=True), np.flatnonzero(missing)


def _wanted(columns):
    return None if columns is None else ["ts"] + [c for c in columns if c != "ts"]


def read_log(source, columns=None) -> ZeekLog:
    """Read one Zeek log file.

    Parameters
    ----------
    source : str, pathlib.Path or LogSource
        The file (or what :func:`sniff` said about it).
    columns : list of str, optional
        Fields to keep (``ts`` is always kept); fields the file lacks are added, all
        missing. Default: every field of the file.

    Returns
    -------
    ZeekLog

    Raises
    ------
    mods.errors.DataError
        If the file is not a Zeek log or cannot be read.
    """
    if not isinstance(source, LogSource):
        source = sniff(source)
    wanted = _wanted(columns)
    segments, bad, n_data = _segments(source)
    frames = []
    for seg in segments:
        frame, missing = split_bad_timestamps(convert_records(seg.key, seg.items, source.log_type, wanted))
        bad.extend((int(n), "missing or bad ts") for n in seg.numbers[missing])
        frames.append(frame)
    frame = assemble_frames(frames, source, wanted)
    bad.sort()
    _warn_bad(source, bad)
    return ZeekLog(source, frame, lines=n_data, malformed=len(bad),
                   bad_lines=bad[:SHOWN_BAD_LINES * 4])


@dataclass
class Batch:
    """Records of several log files of one type read together (see :func:`read_batches`)."""

    sources: list
    frame: pd.DataFrame
    lines: int = 0
    malformed: int = 0


def read_batches(sources, columns=None, batch_lines: int = 200_000):
    """Read log files of one type in batches of about ``batch_lines`` lines.

    The lines of the files of a batch that share a header are parsed and typed together,
    which saves the fixed cost of each file (hourly logs of a quiet protocol are small).
    Malformed lines are reported per file, as :func:`read_log` does.

    Parameters
    ----------
    sources : list of LogSource
        Files of one log type.
    columns : list of str, optional
        Fields to keep (see :func:`read_log`).
    batch_lines : int
        Lines gathered before parsing.

    Yields
    ------
    Batch
        Records in no particular order within a batch.
    """
    wanted = _wanted(columns)
    pending, count = [], 0
    for source in sources:
        segments, bad, n_data = _segments(source)
        pending.append((source, segments, bad, n_data))
        count += n_data
        if count >= batch_lines:
            yield _flush(pending, wanted)
            pending, count = [], 0
    if pending:
        yield _flush(pending, wanted)


def _flush(pending, wanted) -> Batch:
    groups = {}
    for index, (_, segments, _, _) in enumerate(pending):
        for seg in segments:
            items, owners, numbers = groups.setdefault(seg.key, ([], [], []))
            items.extend(seg.items)
            owners.append(np.full(len(seg.items), index))
            numbers.append(seg.numbers)
    first = pending[0][0]
    frames = []
    for key, (items, owners, numbers) in groups.items():
        frame, missing = split_bad_timestamps(convert_records(key, items, first.log_type, wanted))
        owner, number = np.concatenate(owners), np.concatenate(numbers)
        for i in missing:
            pending[owner[i]][2].append((int(number[i]), "missing or bad ts"))
        frames.append(frame)
    malformed = 0
    for source, _, bad, _ in pending:
        bad.sort()
        _warn_bad(source, bad)
        malformed += len(bad)
    return Batch([p[0] for p in pending], assemble_frames(frames, first, wanted),
                 lines=sum(p[3] for p in pending), malformed=malformed)


def assemble_frames(frames, source, wanted):
    """One frame of a source's typed frames, with exactly the ``wanted`` columns (typed
    empty columns for fields the source lacks); every field when ``wanted`` is None."""
    if len(frames) == 1:
        frame = frames[0]
    elif frames:
        frame = pd.concat(frames, ignore_index=True)
    else:
        names = wanted or list(source.fields) or ["ts"]
        frame = pd.DataFrame({n: _empty_column(source.type_of(n), 0) for n in names})
    if wanted is not None:
        for name in wanted:
            if name not in frame:
                frame[name] = _empty_column(source.type_of(name), len(frame))
        frame = frame[wanted]
    return frame


def read_logs(path, columns=None, log_types=None) -> dict[str, pd.DataFrame]:
    """Read every Zeek log at ``path`` (a file or a folder tree), concatenated per log type.

    Parameters
    ----------
    path : str or pathlib.Path
        A log file or a folder (see :func:`scan`).
    columns : list of str, optional
        Fields to keep (see :func:`read_log`).
    log_types : iterable of str, optional
        Only these log types (default: all found).

    Returns
    -------
    dict
        ``{log_type: DataFrame}``, records in file order (files sorted by path).
    """
    frames = {}
    for source in scan(path):
        if log_types is not None and source.log_type not in log_types:
            continue
        frames.setdefault(source.log_type, []).append(read_log(source, columns).frame)
    return {k: (v[0] if len(v) == 1 else pd.concat(v, ignore_index=True))
            for k, v in frames.items()}

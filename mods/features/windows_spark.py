"""Window features on Spark (local mode by default, any cluster through ``master``).

It writes exactly the same files as :mod:`mods.features.windows_pandas`: the records are
parsed, typed, given a direction and a pane on the executors with the same rules (the
driver only reads the header lines of each file), Spark reduces them to the same integer
aggregates, and the driver spreads the pane aggregates over the windows and renders the
files with the code the pandas engine uses.

Per protocol, one Spark job gives the additive aggregates per ``(pane, direction)`` together
with the record counts, first and last times and malformed lines per file; protocols with
distinct counts (``dns``, ``sip``) take one more job (all windows at once). The protocols'
jobs run concurrently.

Requirements and limits
-----------------------
* pyspark (``pip install 'pyspark>=3.5'`` or ``mods[spark]``) and Java 17; pyspark is
  imported only when this engine runs.
* The log files are read through ``file:`` paths: on a cluster they must be on a file system
  mounted at the same path on the driver and every executor (NFS, CephFS...). Sessions
  started here read the local file system without Hadoop checksum files, so names with
  colons (``conn.00:00:00-01:00:00.log.gz``) work; with a session of your own, such files
  are read the same way, only more slowly.
* A TSV file is split with its first header; a file holding several header blocks with
  different fields (concatenated logs) is only read right by the pandas engine.
* Malformed lines are counted per file, without line numbers.
* Exotic numerals are parsed by Java (``12d`` is 12 for Spark, missing for pandas);
  everything Zeek writes is read the same by both engines.
"""

from __future__ import annotations

import logging
import os
import sys

import pandas as pd

from mods.errors import ConfigError, fail
from mods.features import EngineResult, FEATURES, PROTOCOLS, aggregate_keys, needed_fields, \
    pane_us
from mods.features.windows_pandas import assemble, spread_additive
from mods.features.zeek import INTEGER_TYPES, MAX_EXACT, MAX_TIME_US

LOG = logging.getLogger("mods.features")

DEFAULT_MASTER = "local[2]"
#: IPv4 address in dotted-decimal form without leading zeros (what Python's ipaddress takes).
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_RE = rf"^{_OCTET}(\.{_OCTET}){{3}}$"
#: Hadoop's local file system without checksum files, which cannot read names with colons.
RAW_LOCAL_FS = "org.apache.hadoop.fs.RawLocalFileSystem"
#: Read options giving it to one read in a session started without it (slower: no cache).
_RAW_LOCAL = {"fs.file.impl": RAW_LOCAL_FS, "fs.file.impl.disable.cache": "true"}


def _pyspark():
    """``(SparkSession, functions, types, StorageLevel)``, or a clear error without pyspark."""
    try:
        from pyspark import StorageLevel
        from pyspark.sql import SparkSession, functions, types
    except ImportError:
        raise fail(ConfigError, "the spark engine needs pyspark, which is not installed: "
                   "pip install 'pyspark>=3.5' (or mods[spark]); it also needs Java 17"
                   ) from None
    return SparkSession, functions, types, StorageLevel


def session(master: str = DEFAULT_MASTER, app_name: str = "mods-features"):
    """A Spark session for the feature jobs (UTC session time zone, no web UI).

    Parameters
    ----------
    master : str, default ``"local[2]"``
        Spark master URL (``local[N]``, ``spark://host:7077``, ``yarn``...).
    app_name : str
        Application name.
    """
    spark_session, _, _, _ = _pyspark()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (spark_session.builder.master(master).appName(app_name)
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.hadoop.fs.file.impl", RAW_LOCAL_FS))
    if master.startswith("local"):  # small shuffles; adaptive planning costs more than it saves
        builder = (builder.config("spark.sql.shuffle.partitions", "4")
                   .config("spark.sql.adaptive.enabled", "false")
                   # list the many small hourly files on the driver, not in a Spark job
                   .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000"))
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # Java missing, bad master URL...
        raise fail(ConfigError, f"cannot start Spark ({master}): "
                   f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# ------------------------------------------------------------------------------- parsing
# Each step below is its own projection: a column used several times by the next step is
# then computed once per row (Spark does not inline a costly expression used twice).

def _micros(F, value, limit):
    """``floor(value * 1e6 + 0.5)`` as a long where its magnitude is below ``limit``."""
    w = value * F.lit(1e6) + F.lit(0.5)
    fl = F.floor(F.when(F.abs(w) < F.lit(1e16), w))
    return F.when(F.abs(fl) < F.lit(limit), fl).cast("long")


def _groups(sources):
    """Files grouped by format and header (each group is read by one Spark scan)."""
    groups = {}
    for src in sources:
        key = (src.fmt, src.fields, src.types, src.separator, src.empty_field, src.unset_field)
        groups.setdefault(key, []).append(src)
    return list(groups.values())


def _local_fs_class(spark):
    """Class name of the file system Spark reads ``file:`` paths with.

    Hadoop caches file systems per JVM: a session started after another one (of this
    project or not) may get the cached instance whatever its own configuration says.
    """
    jvm, conf = spark._jvm, spark.sparkContext._jsc.hadoopConfiguration()
    return jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"),
                                                   conf).getClass().getName()


def _raw_fields(spark, F, T, members, fields):
    """``file, ok, f0, f1...``: the text of the needed fields (unset: null) of every line."""
    first = members[0]
    paths = [str(m.path.resolve()) for m in members]
    reader = spark.read
    if any(":" in m.path.name for m in members) and _local_fs_class(spark) != RAW_LOCAL_FS:
        reader = reader.options(**_RAW_LOCAL)
    text = (reader.text(paths)
            .select(F.col("_metadata.file_path").alias("file"), F.col("value"))
            .where(F.length("value") > 0))
    if first.fmt == "json":
        schema = T.StructType([T.StructField(f, T.StringType()) for f in fields])
        rows = text.select("file", F.from_json(F.col("value"), schema).alias("j"))
        return rows.select("file", F.col("j").isNotNull().alias("ok"),
                           *[F.col("j").getField(n).alias(f"f{i}") for i, n in enumerate(fields)])
    names = list(first.fields)
    rows = (text.where(~F.col("value").startswith("#"))
            .select("file", F.split(F.col("value"), "\\Q%s\\E" % first.separator, -1)
                    .alias("parts")))
    cols = []
    for i, name in enumerate(fields):
        if name in names:
            raw = F.try_element_at(F.col("parts"), F.lit(names.index(name) + 1))
            cols.append(F.when(raw != F.lit(first.unset_field), raw).alias(f"f{i}"))
        else:
            cols.append(F.lit(None).cast("string").alias(f"f{i}"))
    return rows.select("file", (F.size("parts") == F.lit(len(names))).alias("ok"), *cols)


def _typed_fields(F, raw, source, fields):
    """``file, ok, ts_us`` and the typed fields (named as in Zeek) of a raw frame."""
    json_log = source.fmt == "json"
    first, second = [F.col("file"), F.col("ok")], [F.col("file"), F.col("ok")]
    for i, name in enumerate(fields):
        col, ztype = F.col(f"f{i}"), source.type_of(name)
        if name == "ts":
            first.append(F.expr(f"try_cast(f{i} AS DOUBLE)").alias("ts_num"))
            ts_us = _micros(F, F.col("ts_num"), MAX_TIME_US)
            if json_log:
                first.append(F.expr(f"unix_micros(try_cast(f{i} AS TIMESTAMP))").alias("ts_iso"))
                iso = F.col("ts_iso")
                ts_us = F.coalesce(ts_us, F.when(F.abs(iso) < F.lit(MAX_TIME_US), iso))
            second.append(ts_us.alias("ts_us"))
            continue
        if ztype in INTEGER_TYPES or ztype in ("interval", "double", "time"):
            first.append(F.expr(f"try_cast(f{i} AS DOUBLE)").alias(name))
            value = F.col(f"`{name}`")
            if ztype in INTEGER_TYPES:
                value = F.when((F.abs(value) < F.lit(MAX_EXACT)) & (F.floor(value) == value),
                               value)
            second.append(value.alias(name))
            continue
        if ztype == "bool":
            true, false = ("true", "false") if json_log else ("T", "F")
            value = F.when(col == F.lit(true), F.lit(True)).when(col == F.lit(false),
                                                                   F.lit(False))
        elif json_log:
            value = col
        else:
            value = F.when(col == F.lit(source.empty_field), F.lit("")).otherwise(col)
        first.append(value.alias(name))
        second.append(F.col(f"`{name}`"))
    return raw.select(*first).select(*second)


def _records(spark, sources, protocol, networks, pane_len):
    """One DataFrame of the protocol's lines: ``file, ok, ts_us, d, pane`` and the fields.

    Durations to average also get ``<field>__us`` (whole microseconds, null if unusable).
    """
    _, F, T, _ = _pyspark()
    fields = needed_fields(protocol)
    frame = None
    for members in _groups(sources):
        typed = _typed_fields(F, _raw_fields(spark, F, T, members, fields), members[0], fields)
        frame = typed if frame is None else frame.unionByName(typed)
    v4 = [n for n in networks if n.version == 4]
    v6 = [n for n in networks if n.version == 6]
    ends = {"orig": "`id.orig_h`", "resp": "`id.resp_h`"}
    # step 1: validity, IPv4 octets, microseconds of the durations to average
    avg = [f.field for f in FEATURES[protocol] if f.kind == "avg"]
    frame = frame.select(
        "*", *[F.when(F.col(c).rlike(IPV4_RE), F.split(F.col(c), "\\.")).alias(f"{e}_oct")
               for e, c in ends.items()],
        *[_micros(F, F.col(f"`{a}`"), MAX_EXACT).alias(f"{a}__us") for a in avg])
    # step 2: IPv4 addresses as numbers
    frame = frame.select("*", *[
        sum((F.try_element_at(F.col(f"{e}_oct"), F.lit(j + 1)).cast("long") * (256 ** (3 - j))
             for j in range(4)), F.lit(0)).alias(f"{e}_ip") for e in ends])
    # step 3: local or not
    udf6 = None
    if v6:
        from mods.features import is_local

        udf6 = F.udf(lambda a: bool(a) and is_local(a, v6), T.BooleanType(), useArrow=False)
    locs = []
    for e, c in ends.items():
        conds = [F.col(f"{e}_ip").between(int(n.network_address), int(n.broadcast_address))
                 for n in v4]
        if udf6 is not None:
            conds.append(F.when(F.col(c).contains(":"), udf6(F.col(c))))
        local = F.lit(False)
        for cond in conds:
            local = local | F.coalesce(cond, F.lit(False))
        locs.append(local.alias(f"{e}_local"))
    frame = frame.select("*", (F.col("ok") & F.col("ts_us").isNotNull()).alias("good"), *locs)
    # step 4: direction and pane of the well-formed lines
    orig, resp, good = F.col("orig_local"), F.col("resp_local"), F.col("good")
    d = F.when(orig & resp, 2).when(orig, 1).when(resp, 0).otherwise(-1)
    pane = F.expr(f"(ts_us - pmod(ts_us, {pane_len})) div {pane_len}")
    keep = ["file", "ts_us"] + [c for c in frame.columns if c in fields and c != "ts"] + [
        f"{a}__us" for a in avg]
    return frame.select(*[F.col(f"`{c}`") for c in keep], good.alias("ok"),
                        F.when(good, d).cast("int").alias("d"),
                        F.when(good, pane).alias("pane"))


# --------------------------------------------------------------------------- aggregation
def _additive_exprs(F, protocol):
    exprs = []
    for key in aggregate_keys(protocol)["additive"]:
        kind, _, rest = key.partition(":")
        if kind == "n":
            exprs.append(F.count(F.lit(1)).alias(key))
            continue
        if kind == "sum":
            value = F.col(f"`{rest}`").cast("long")
        elif kind in ("avg_sum", "avg_n"):
            us = F.col(f"`{rest}__us`")
            value = us if kind == "avg_sum" else F.when(us.isNotNull(), F.lit(1))
        else:
            name, _, want = rest.rpartition(":")
            value = F.when(F.col(f"`{name}`") == F.lit(want == "true"), F.lit(1))
        exprs.append(F.sum(F.coalesce(value.cast("long"), F.lit(0))).alias(key))
    return exprs


def _pane_stats(records, protocol):
    """Collected ``(pane, d, bad_file)`` groups: additive aggregates, times, bad lines."""
    _, F, _, _ = _pyspark()
    bad_file = F.when(~F.col("ok"), F.col("file")).alias("bad_file")
    rows = (records.groupBy("pane", "d", bad_file)
            .agg(*_additive_exprs(F, protocol), F.min("ts_us").alias("ts_min"),
                 F.max("ts_us").alias("ts_max"))
            .collect())
    return pd.DataFrame([r.asDict() for r in rows],
                        columns=["pane", "d", "bad_file"] + aggregate_keys(protocol)["additive"]
                        + ["ts_min", "ts_max"])


def _distinct_counts(records, protocol, windows, pane_len):
    """``{window name: {key: Series indexed (k, d)}}`` of distinct counts, in one Spark job.

    The distinct ``(key, pane, d, value)`` quadruples are spread over the windows holding
    their pane (of every window at once), then counted per ``(key, window, k, d)``.
    """
    _, F, _, _ = _pyspark()
    keys = aggregate_keys(protocol)["distinct"]
    if not keys:
        return {}
    types = dict(records.dtypes)
    values = []
    for key in keys:
        name = key.partition(":")[2]
        col = F.col(f"`{name}`")
        if types.get(name) == "double":  # ports: whole numbers, compared as text
            col = col.cast("long")
        values.append(F.struct(F.lit(key).alias("key"), col.cast("string").alias("v")))
    quads = (records.where(F.col("ok") & (F.col("d") >= 0))
             .select("pane", "d", F.explode(F.array(*values)).alias("kv"))
             .where(F.col("kv.v").isNotNull())
             .select(F.col("kv.key").alias("key"), "pane", "d", F.col("kv.v").alias("v"))
             .distinct())
    spreads = []
    for i, window in enumerate(windows):
        r, m = window.slide_us // pane_len, window.length_us // pane_len
        lo = F.expr(f"(pane - {m} - pmod(pane - {m}, {r})) div {r} + 1")
        hi = F.expr(f"(pane - pmod(pane, {r})) div {r}")
        ks = F.when(lo <= hi, F.sequence(lo, hi)).otherwise(F.array().cast("array<bigint>"))
        spreads.append(F.transform(ks, _tag_window(F, i)))
    wk = spreads[0] if len(spreads) == 1 else F.concat(*spreads)
    rows = (quads.select("key", "d", "v", F.explode(wk).alias("wk"))
            .groupBy("key", F.col("wk.w").alias("w"), F.col("wk.k").alias("k"), "d")
            .agg(F.countDistinct("v").alias("count"))
            .collect())
    frame = pd.DataFrame([r.asDict() for r in rows], columns=["key", "w", "k", "d", "count"])
    out = {}
    for i, window in enumerate(windows):
        out[window.name] = {}
        for key in keys:
            sub = frame[(frame["w"] == i) & (frame["key"] == key)]
            out[window.name][key] = pd.Series(
                sub["count"].to_numpy("int64"), name=key, index=pd.MultiIndex.from_arrays(
                    [sub["k"].to_numpy("int64"), sub["d"].to_numpy("int64")],
                    names=["k", "d"]))
    return out


def _tag_window(F, index):
    """``k -> struct(w=index, k=k)`` (a one-argument function: Spark passes the position as
    a second argument to a two-argument one)."""
    def tag(k):
        return F.struct(F.lit(index).alias("w"), k.alias("k"))
    return tag


def _protocol(spark, sources, protocol, windows, networks, pane_len, storage):
    """``(stats, distinct)`` of one protocol: two Spark jobs (one without distinct counts)."""
    records = _records(spark, sources, protocol, networks, pane_len)
    distinct = bool(aggregate_keys(protocol)["distinct"])
    if not distinct:
        return _pane_stats(records, protocol), {}
    records = records.persist(storage.MEMORY_AND_DISK)
    try:
        return (_pane_stats(records, protocol),
                _distinct_counts(records, protocol, windows, pane_len))
    finally:
        records.unpersist()


def compute(sources, windows, networks, master=None, spark=None, progress=None
            ) -> EngineResult:
    """Aggregates of every protocol and window, computed by Spark.

    The protocols' jobs are submitted at once (from threads), so that small protocols do
    not wait for large ones and the cluster stays busy.

    Parameters
    ----------
    sources : list of mods.features.zeek.LogSource
        Log files (from :func:`mods.features.zeek.scan`); other log types are ignored.
    windows : list of mods.features.Window
        Windows to compute.
    networks : list
        Local networks (from :func:`mods.features.parse_networks`).
    master : str, optional
        Spark master URL when no ``spark`` session is given (default ``local[2]``).
    spark : pyspark.sql.SparkSession, optional
        Session to use (left running). Without it, the active session if any, else one
        started on ``master`` and stopped at the end.
    progress : callable, optional
        ``progress(done, total, label)`` after each protocol.

    Returns
    -------
    mods.features.EngineResult
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    spark_session, _, _, storage = _pyspark()
    own = False
    if spark is None:
        spark = spark_session.getActiveSession()
        if spark is None:  # start one, and stop it at the end
            spark, own = session(master or DEFAULT_MASTER), True
        elif master:
            LOG.info("using the running Spark session, not a new one on %s", master)
    old_tz = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    pane_len = pane_us(windows)
    todo = [p for p in PROTOCOLS if any(s.log_type == p for s in sources)]
    outputs = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
            futures = {pool.submit(_protocol, spark, [s for s in sources if s.log_type == p],
                                   p, windows, networks, pane_len, storage): p for p in todo}
            for done, future in enumerate(as_completed(futures), 1):
                outputs[futures[future]] = future.result()
                if progress is not None:
                    progress(done, len(todo), futures[future])
    finally:
        if own:
            spark.stop()
        elif old_tz:
            spark.conf.set("spark.sql.session.timeZone", old_tz)
    result = EngineResult()
    bounds = []
    for protocol in todo:
        stats, dist = outputs[protocol]
        _account(result, protocol, stats, bounds)
        good = stats[stats["bad_file"].isna() & (stats["d"] >= 0)]
        keys = aggregate_keys(protocol)["additive"]
        additive = good.set_index(["pane", "d"])[keys].astype("int64")
        additive.index = pd.MultiIndex.from_arrays(
            [additive.index.get_level_values(0).astype("int64"),
             additive.index.get_level_values(1).astype("int64")])
        for window in windows:
            parts = [spread_additive(additive, window, pane_len)] if len(additive) else []
            parts += list(dist.get(window.name, {}).values())
            result.tables[(protocol, window.name)] = assemble(protocol, parts)
    if bounds:
        result.ts_range = (min(bounds), max(bounds))
    return result


def _account(result, protocol, stats, bounds):
    """Record counts, time bounds and malformed lines of one protocol into ``result``."""
    result.protocols.append(protocol)
    ok = stats[stats["bad_file"].isna()]
    result.records[protocol] = int(ok["n"].sum())
    result.used[protocol] = int(ok.loc[ok["d"] >= 0, "n"].sum())
    if len(ok):
        bounds += [int(ok["ts_min"].min()), int(ok["ts_max"].max())]
    bad = stats[stats["bad_file"].notna()]
    result.malformed += int(bad["n"].sum())
    for name, count in bad.groupby("bad_file")["n"].sum().items():
        LOG.warning("%s: skipped %d malformed line(s)", str(name).replace("file:", "", 1),
                    int(count))


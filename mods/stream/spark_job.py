"""``mods-stream-spark``: many streams scored by Spark Structured Streaming.

::

    mods-stream-spark --model-name NAME --input DIR --output DIR [--master local[2]]
                      [--checkpoint DIR] [--trigger-seconds N] [--once]
                      [--key-column sensor] [--time-column window_start] [--sep TAB]
                      [--kafka-bootstrap HOST:PORT --kafka-topic TOPIC]

Input
    a directory source: TSV (or ``--sep ,`` CSV) files with a header, the columns being the
    stream id (``--key-column``, default ``sensor``), the time (``window_start``) and the
    model's feature columns, in that order (other columns are not allowed: Spark checks
    the header against this schema).  New files are picked up as they appear (write them
    elsewhere and move them in).  Or Kafka (``--kafka-bootstrap``, ``--kafka-topic``):
    each message value is one line ``sensor<sep>window_start<sep>feature...`` without a
    header; this needs the Spark Kafka connector on the classpath, e.g.
    ``--packages org.apache.spark:spark-sql-kafka-0-10_2.13:<spark version>`` (or
    ``PYSPARK_SUBMIT_ARGS``); it is documented, not tested.
Scoring
    rows are keyed by stream id and scored with ``applyInPandasWithState``: the group
    state holds the pickled :class:`~mods.stream.rows.Regulariser` and
    :class:`~mods.stream.scorer.StreamScorer` of the stream, without the model (the
    forecaster, its detector, the compiled model call and the scaler are written as
    references and re-attached from the bundle, loaded once per Python worker).  Within a
    micro-batch a stream's rows are sorted by time; rows not after the stream's last row
    are counted late and skipped, as in ``mods-stream``.
Output
    ``<output>/results/``: text files of JSON lines, one per scored row, exactly the lines
    of ``mods-stream --key-column`` (``stream`` holds the id); ``<output>/events/``: the
    alert events (``{"model_name", "stream", "time", "event"}``, as POSTed by the
    webhook); both written per micro-batch (``foreachBatch``).  The checkpoint (default
    ``<output>/_checkpoint``) keeps the state: a restarted job goes on where it stopped.

pyspark is an optional extra (``pip install mods[spark]``), imported when the job starts.
"""

import io
import json
import logging
import os
import pickle
import sys

from mods.cliparser import Parser
from mods.errors import ConfigError, DataError, ModsError, fail
from mods.tfenv import quiet_tensorflow

LOG = logging.getLogger("mods.stream")

OUTPUT_SCHEMA = ("stream string, time string, row long, score double, level string, "
                 "result string, event string")
STATE_SCHEMA = "blob binary"

_BUNDLES = {}    # (models_dir, name) -> forecaster, per Python worker
_TEMPLATES = {}  # same key -> StreamScorer whose model parts are re-attached


def _bundle(name, models_dir):
    key = (models_dir, name)
    if key not in _BUNDLES:
        from mods.forecast import bundle

        quiet_tensorflow()
        _BUNDLES[key] = bundle.load(name, models_dir)
    return _BUNDLES[key]


def _template(name, models_dir):
    key = (models_dir, name)
    if key not in _TEMPLATES:
        from mods.stream.scorer import StreamScorer

        _TEMPLATES[key] = StreamScorer(_bundle(name, models_dir))
    return _TEMPLATES[key]


def _static_parts(scorer):
    """``{id(object): token}`` of the parts of ``scorer`` that come from the bundle."""
    parts = {"fc": scorer.fc, "tr": scorer.forecasts.tr,
             "call": scorer.forecasts.model_call}
    if scorer.det is not None:
        parts["det"] = scorer.det
        for i, ch in enumerate(scorer.channels):
            parts["ch%d" % i] = ch.scorer
    return parts


class _Pickler(pickle.Pickler):
    def __init__(self, fh, tokens):
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.tokens = tokens

    def persistent_id(self, obj):
        return self.tokens.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh, parts):
        super().__init__(fh)
        self.parts = parts

    def persistent_load(self, pid):
        try:
            return self.parts[pid]
        except KeyError:
            raise fail(DataError, "stream state refers to %r, unknown to the model" % pid,
                       LOG) from None


def dump_state(regulariser, scorer):
    """Bytes of a stream's state (regulariser and scorer), without the model's parts."""
    tokens = {id(obj): tok for tok, obj in _static_parts(scorer).items()}
    buf = io.BytesIO()
    _Pickler(buf, tokens).dump((regulariser, scorer))
    return buf.getvalue()


def load_state(blob, template):
    """``(regulariser, scorer)`` from :func:`dump_state`'s bytes, with the parts of
    ``template`` (a :class:`~mods.stream.scorer.StreamScorer` of the same bundle)."""
    return _Unpickler(io.BytesIO(blob), _static_parts(template)).load()


def make_scorer_function(model_name, models_dir, key_column, time_column):
    """The function given to ``applyInPandasWithState`` (one call per stream and batch)."""

    def score(key, frames, state):
        import numpy as np
        import pandas as pd

        from mods.stream.rows import Regulariser, parse_time

        stream = str(key[0])
        fc = _bundle(model_name, models_dir)
        template = _template(model_name, models_dir)
        if state.exists:
            reg, scorer = load_state(state.get[0], template)
        else:  # a copy of the fresh template: its compiled model call is shared
            reg = Regulariser(len(fc.columns), fc.info.get("freq_seconds"))
            reg, scorer = load_state(dump_state(reg, template), template)
            scorer.stream = stream
        frame = pd.concat(list(frames), ignore_index=True)
        times = []
        for text in frame[time_column].tolist():
            try:
                times.append(parse_time(str(text)))
            except DataError:
                times.append(None)
        frame = frame.assign(_t=times).dropna(subset=["_t"]).sort_values("_t", kind="stable")
        values = frame[list(fc.columns)].to_numpy(dtype=np.float64, na_value=np.nan)
        rows = []
        for when, vals in zip(frame["_t"].tolist(), values):
            rows += reg.push(when, vals)
        results = scorer.push(rows)
        state.update((dump_state(reg, scorer),))
        out = {"stream": [], "time": [], "row": [], "score": [], "level": [], "result": [],
               "event": []}
        for res in results:
            out["stream"].append(stream)
            out["time"].append(res["time"])
            out["row"].append(res["row"])
            out["score"].append(res.get("score"))
            out["level"].append(res.get("level"))
            out["result"].append(json.dumps(res, separators=(",", ":")))
            out["event"].append(json.dumps(
                {"model_name": model_name, "stream": stream, "time": res["time"],
                 "event": res["event"]}, separators=(",", ":")) if "event" in res else None)
        yield pd.DataFrame(out)

    return score


def _schema(columns, key_column, time_column):
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    return StructType([StructField(key_column, StringType()),
                       StructField(time_column, StringType())]
                      + [StructField(c, DoubleType()) for c in columns])


def session(master="local[2]", app="mods-stream-spark"):
    """The feature builder's Spark session (:func:`mods.features.windows_spark.session`:
    UTC, no web UI, raw local file system, a clear error without pyspark or Java), with few
    shuffle partitions (streams are small) and temporary checkpoints removed at the end."""
    from mods.features.windows_spark import session as feature_session

    spark = feature_session(master, app)
    spark.conf.set("spark.sql.shuffle.partitions", "4")
    spark.conf.set("spark.sql.streaming.forceDeleteTempCheckpointLocation", "true")
    return spark


def read_rows(spark, columns, input_dir=None, key_column="sensor",
              time_column="window_start", sep="\t", kafka_bootstrap=None, kafka_topic=None,
              max_files_per_trigger=None):
    """The streaming DataFrame of feature rows (directory or Kafka source)."""
    from pyspark.sql import functions as F

    schema = _schema(columns, key_column, time_column)
    if kafka_bootstrap:
        raw = (spark.readStream.format("kafka")
               .option("kafka.bootstrap.servers", kafka_bootstrap)
               .option("subscribe", kafka_topic).load())
        cells = F.split(F.col("value").cast("string"), sep)
        return raw.select(*[cells.getItem(i).cast(f.dataType).alias(f.name)
                            for i, f in enumerate(schema.fields)])
    reader = (spark.readStream.format("csv").schema(schema).option("header", "true")
              .option("sep", sep).option("enforceSchema", "false")
              .option("mode", "DROPMALFORMED"))
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", int(max_files_per_trigger))
    return reader.load(str(input_dir))


def start(spark, model_name, output_dir, input_dir=None, checkpoint=None, models_dir=None,
          key_column="sensor", time_column=None, sep="\t", trigger_seconds=5.0, once=False,
          kafka_bootstrap=None, kafka_topic=None, max_files_per_trigger=None):
    """Start the streaming query; return it (``query.awaitTermination()`` to wait).

    Raises
    ------
    mods.errors.ModsError
        Unknown model, missing input folder, bad options.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.streaming.state import GroupStateTimeout

    fc = _bundle(model_name, models_dir)
    time_column = time_column or fc.info.get("time_column") or "window_start"
    if kafka_bootstrap and not kafka_topic:
        raise fail(ConfigError, "--kafka-bootstrap needs --kafka-topic", LOG)
    if not kafka_bootstrap and not (input_dir and os.path.isdir(input_dir)):
        raise fail(DataError, "no such input folder: %s" % input_dir, LOG)
    if trigger_seconds is not None and not trigger_seconds > 0:
        raise fail(ConfigError, "--trigger-seconds must be > 0", LOG)
    rows = read_rows(spark, list(fc.columns), input_dir, key_column, time_column, sep,
                     kafka_bootstrap, kafka_topic, max_files_per_trigger)
    scored = rows.groupBy(key_column).applyInPandasWithState(
        make_scorer_function(model_name, models_dir, key_column, time_column),
        OUTPUT_SCHEMA, STATE_SCHEMA, "append", GroupStateTimeout.NoTimeout)
    results_dir = os.path.join(output_dir, "results")
    events_dir = os.path.join(output_dir, "events")

    def write_batch(batch, batch_id):
        batch = batch.persist()
        try:
            batch.select("result").write.mode("append").text(results_dir)
            events = batch.where(F.col("event").isNotNull()).select("event")
            if not events.isEmpty():
                events.write.mode("append").text(events_dir)
        finally:
            batch.unpersist()

    writer = (scored.writeStream.foreachBatch(write_batch)
              .option("checkpointLocation",
                      checkpoint or os.path.join(output_dir, "_checkpoint")))
    writer = writer.trigger(availableNow=True) if once else writer.trigger(
        processingTime="%g seconds" % float(trigger_seconds or 5.0))
    return writer.start()


def read_results(output_dir):
    """The JSON results written under ``<output>/results`` (every part file), as dicts."""
    from pathlib import Path

    out = []
    for path in sorted(Path(output_dir, "results").glob("part-*")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out



def build_parser():
    """The ``mods-stream-spark`` argument parser."""
    p = Parser(prog="mods-stream-spark", description="Score many feature streams with Spark "
                "Structured Streaming: JSON results and alert events in --output.")
    p.add_argument("--model-name", default=None,
                   help="bundle name (default: $MODS_DEFAULT_MODEL or 'default')")
    p.add_argument("--models-dir", default=None, help="models folder")
    p.add_argument("--input", default=None, metavar="DIR",
                   help="folder of TSV/CSV files: key, time and model columns, with header")
    p.add_argument("--output", required=True, metavar="DIR",
                   help="results/ and events/ (JSON lines) are written here")
    p.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    p.add_argument("--checkpoint", default=None, metavar="DIR",
                   help="checkpoint folder (default <output>/_checkpoint)")
    p.add_argument("--trigger-seconds", type=float, default=5.0,
                   help="micro-batch interval (default 5)")
    p.add_argument("--once", action="store_true",
                   help="process what is in --input now, then stop (availableNow)")
    p.add_argument("--key-column", default="sensor", help="stream id column (default sensor)")
    p.add_argument("--time-column", default=None, help="time column (default the model's)")
    p.add_argument("--sep", default="\t", help="field separator (default tab)")
    p.add_argument("--max-files-per-trigger", type=int, default=None)
    p.add_argument("--kafka-bootstrap", default=None, metavar="HOST:PORT",
                   help="read lines from Kafka instead (needs spark-sql-kafka-0-10)")
    p.add_argument("--kafka-topic", default=None)
    p.add_argument("--verbose", action="store_true")
    return p


def main(argv=None):
    """Entry point of ``mods-stream-spark``."""
    from mods import config

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    try:
        if not args.kafka_bootstrap and not args.input:
            raise fail(ConfigError, "give --input DIR (or --kafka-bootstrap and "
                       "--kafka-topic)", LOG)
        if not args.kafka_bootstrap and not os.path.isdir(args.input):
            raise fail(DataError, "no such input folder: %s" % args.input, LOG)
        name = args.model_name or config.default_model_name()
        _bundle(name, args.models_dir)  # an unknown model: exit 2 before Spark starts
        spark = session(args.master)
        spark.sparkContext.setLogLevel("ERROR")
        query = start(spark, name, args.output, args.input, args.checkpoint,
                      args.models_dir, args.key_column, args.time_column, args.sep,
                      args.trigger_seconds, args.once, args.kafka_bootstrap,
                      args.kafka_topic, args.max_files_per_trigger)
        try:
            query.awaitTermination()
        except KeyboardInterrupt:
            query.stop()
        spark.stop()
        return 0
    except ModsError as exc:
        print("mods-stream-spark: error: %s" % exc, file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

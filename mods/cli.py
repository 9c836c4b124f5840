"""Command line: ``mods-train``, ``mods-predict``, ``mods-test``, ``mods-detect``.

Thin doors onto :mod:`mods.workflow`. Bad input exits with status 2 and one line on stderr.
"""

import argparse
import json
import logging
import sys

from mods.anomaly.detector import DetectorConfig
from mods.cliparser import Parser
from mods.errors import ModsError
from mods.files import atomic_write
from mods.tfenv import quiet_tensorflow
from mods.forecast.params import Params



def _bool(text):
    low = str(text).strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError("expected true or false, got %r" % text)


def add_param_options(parser):
    """One ``--option`` per hyper-parameter of :class:`Params` (dashes for underscores)."""
    from mods.forecast.registry import MODEL_TYPES

    group = parser.add_argument_group("hyper-parameters")
    for name, typ, default, meta in Params.describe():
        flag = "--" + name.replace("_", "-")
        help_ = "%s (default: %s)" % (meta["help"], default)
        if meta.get("min") is not None:
            help_ += "; range %s..%s" % (meta["min"], meta["max"])
        if typ is bool:
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                               default=None, help=help_)
        elif name == "model_type":
            group.add_argument(flag, dest=name, choices=list(MODEL_TYPES), default=None,
                               metavar="TYPE", help=help_ + "; one of " + ", ".join(MODEL_TYPES))
        else:
            group.add_argument(flag, dest=name, type=typ, default=None,
                               choices=meta.get("choices"), help=help_)


def add_detector_options(parser, detect_time_only):
    """One ``--detector-<option>`` per anomaly detector option (all of them for training,
    for prediction only those not fixed at fit time)."""
    rows = DetectorConfig.detect_time_options() if detect_time_only \
        else DetectorConfig.describe()
    group = parser.add_argument_group("anomaly detector", (
        "options for this run (default: the ones stored in the bundle)" if detect_time_only
        else "stored in the bundle"))
    for name, typ, default, meta in rows:
        flag = "--detector-" + name.replace("_", "-")
        help_ = meta["help"].replace("%", "%%")  # argparse expands %
        if not detect_time_only:
            help_ += " (default: %s)" % (default,)
        if meta.get("min") is not None:
            help_ += "; range %s..%s" % (meta["min"], meta["max"])
        dest = "detector_" + name
        if typ is bool:
            group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction,
                               default=None, help=help_)
        else:
            choices = meta.get("choices")
            group.add_argument(flag, dest=dest, type=typ, default=None, choices=choices,
                               metavar=None if choices else {int: "N", float: "X"}.get(
                                   typ, "TEXT"), help=help_)


def params_from_args(args):
    """Params from parsed options (unset options keep their defaults)."""
    given = {name: getattr(args, name) for name, *_ in Params.describe()
             if getattr(args, name, None) is not None}
    return Params.from_dict(given)


def _data_options(parser):
    parser.add_argument("--columns", default=None,
                        help="comma-separated feature columns, in order (default: all numeric)")
    parser.add_argument("--time-column", default=None,
                        help="name of the time column (default: window_start when present)")


def _setup_logging(verbose):
    """Warnings only; with ``verbose`` also the training progress (``mods.train``)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose:
        for name in ("mods.train", "mods.forecast", "mods.bundle"):
            logging.getLogger(name).setLevel(logging.INFO)
    quiet_tensorflow()


def _run(func, args, prog):
    try:
        return func(args) or 0
    except ModsError as exc:
        print("%s: error: %s" % (prog, exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("%s: interrupted" % prog, file=sys.stderr)
        return 130


def _columns(args):
    return [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None


def _model_file_parser(prog, description):
    """Parser of the tools that apply a trained model to a file (predict, test, detect)."""
    parser = Parser(prog=prog, description=description)
    parser.add_argument("--model-name", default=None, help="bundle name (default: the "
                        "default model)")
    parser.add_argument("--file", required=True, help="data file (.tsv or .csv)")
    parser.add_argument("--models-dir", default=None, help="models folder (default: "
                        "$MODS_MODELS_DIR or models/)")
    _data_options(parser)
    add_detector_options(parser, detect_time_only=True)
    return parser


def _predict(a):
    """``(forecaster, dataset, prediction)`` of the parsed ``--model-name``/``--file``."""
    from mods import workflow

    return workflow.predict(a.file, a.model_name, columns=_columns(a),
                            time_column=a.time_column, models_dir=a.models_dir,
                            detector_overrides=DetectorConfig.given(vars(a)))


# ---------------------------------------------------------------------------- mods-train
def train_main(argv=None):
    """``mods-train --data FILE --model-name NAME [hyper-parameters]``."""
    parser = Parser(prog="mods-train", description="Train a forecaster on a .tsv/.csv file "
                     "and save it as a model bundle (<models>/<NAME>.zip).")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="training data file (.tsv or .csv)")
    source.add_argument("--query", help="datapool selection query instead of a file, e.g. "
                        "'conn|in_count_uid~conn_in;ssh|in_count_uid~ssh_in#window_start,"
                        "window_end'")
    parser.add_argument("--ranges", default=None, help="with --query: time ranges to keep, "
                        "e.g. '<2019-06-01,2019-06-03)' ('<' '>' closed, '(' ')' open)")
    parser.add_argument("--exclude", default=None, help="with --query: time ranges to drop")
    parser.add_argument("--datapool", default=None, help="with --query: datapool folder "
                        "(default: $MODS_DATAPOOL_DIR or data/datapool)")
    parser.add_argument("--model-name", required=True, help="bundle name (a plain file name)")
    _data_options(parser)
    parser.add_argument("--models-dir", default=None, help="models folder (default: "
                        "$MODS_MODELS_DIR or models/)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-epoch log")
    add_param_options(parser)
    add_detector_options(parser, detect_time_only=False)
    args = parser.parse_args(argv)
    _setup_logging(not args.quiet)

    def run(a):
        from mods import workflow

        detector = DetectorConfig.given(vars(a))
        detector_config = DetectorConfig.from_dict(detector) if detector else None

        data, name, selection = a.data, None, None
        if a.query:
            data, selection = workflow.select_datapool(a.query, a.ranges, a.exclude,
                                                       a.datapool)
            name = "datapool query"
        report = workflow.train(data, a.model_name, params_from_args(a), name=name,
                                columns=_columns(a), time_column=a.time_column,
                                models_dir=a.models_dir, selection=selection,
                                detector_config=detector_config)
        if a.json:
            print(json.dumps(report, indent=2))
        else:
            m = report["metrics"] or {}
            print("saved %s (%s, %d epochs, %.1f s)" % (report["bundle"], report["model_type"],
                                                        report["epochs_run"],
                                                        report["training_time_s"]))
            _print_metrics(m)
            d = report.get("detector")
            if d:
                print("anomaly thresholds (%s): warning %.4g, critical %.4g; calibration rows "
                      "left out: %.1f %% in noisy blocks, %.1f %% trimmed"
                      % (d["method"], d["warning"], d["critical"],
                         100 * d["noisy_blocks_fraction"], 100 * d["trimmed_fraction"]))
                if d.get("note"):
                    print("note: " + d["note"])
    return _run(run, args, "mods-train")


def _print_metrics(m):
    if not m:
        print("no held-out rows to evaluate")
        return
    print("%-15s %12s %10s %10s %8s" % ("", "MAE", "SMAPE %", "RMSE", "R2"))
    for key in ("model", "naive", "seasonal_naive"):
        b = m.get(key)
        if b:
            print("%-15s %12.4g %10.3f %10.4g %8.3f" % (key, b["mae"], b["smape"], b["rmse"],
                                                     b["r2"] if b["r2"] is not None else 0))
    if m.get("mae_ratio_vs_naive") is not None:
        print("MAE ratio model/naive: %.3f" % m["mae_ratio_vs_naive"])


# ---------------------------------------------------------------------------- mods-predict
def predict_main(argv=None):
    """``mods-predict --model-name NAME --file FILE [--output FILE.tsv] [--plot FILE.png]``."""
    parser = _model_file_parser("mods-predict", "Forecast the next step(s) from every row of "
                                "FILE and score anomalies with a trained model.")
    parser.add_argument("--output", default=None, help="write the per-row TSV (time, score, "
                        "level, actual, forecast, per-column score) to this file")
    parser.add_argument("--plot", default=None, help="write a PNG picture to this file")
    args = parser.parse_args(argv)
    _setup_logging(False)

    def run(a):
        from mods import outputs

        fc, ds, pred = _predict(a)
        name = a.model_name or fc.info.get("name")
        if a.output:
            atomic_write(a.output, outputs.prediction_tsv(fc, ds, pred).encode())
        if a.plot:
            from mods import plots

            atomic_write(a.plot, plots.prediction_png(fc, ds, pred))
        if not a.output and not a.plot:
            print(json.dumps(outputs.prediction_json(fc, ds, pred, name), indent=1))
        else:
            doc = outputs.prediction_json(fc, ds, pred, name, include_origins=False)
            print(json.dumps({k: doc[k] for k in ("model_name", "rows", "next")}))
    return _run(run, args, "mods-predict")


# ---------------------------------------------------------------------------- mods-test
def test_main(argv=None):
    """``mods-test --model-name NAME --file FILE [--json]``: metrics vs baselines."""
    parser = _model_file_parser("mods-test", "Evaluate a trained model on FILE against the "
                                "actual values, next to the naive and seasonal naive baselines.")
    parser.add_argument("--json", action="store_true", help="print one JSON object "
                        "{model, naive, seasonal_naive, ...}")
    args = parser.parse_args(argv)
    _setup_logging(False)

    def run(a):
        fc, ds, pred = _predict(a)
        ev = pred.evaluation
        if ev is None:
            from mods.errors import DataError, fail

            raise fail(DataError, "%s: no row has both a forecast and an actual value"
                       % ds.source)
        doc = {"model": ev["model"], "naive": ev["naive"],
               "seasonal_naive": ev["seasonal_naive"],
               "mae_ratio_vs_naive": ev["mae_ratio_vs_naive"], "steps": ev["steps"]}
        if pred.detection is not None and ds.labels is not None:
            from mods import metrics

            doc["detection"] = metrics.detection_metrics(ds.labels, pred.detection.flags)
        if a.json:
            print(json.dumps(doc))
        else:
            _print_metrics(ev)
            if "detection" in doc:
                print("detection: %s" % json.dumps(doc["detection"]))
    return _run(run, args, "mods-test")


# ---------------------------------------------------------------------------- mods-detect
def detect_main(argv=None):
    """``mods-detect --model-name NAME --file FILE``: alert events, one JSON per line."""
    parser = _model_file_parser("mods-detect", "Print the alert events found in FILE, one "
                                "JSON object per line.")
    args = parser.parse_args(argv)
    _setup_logging(False)

    def run(a):
        _, _, pred = _predict(a)
        for event in (pred.detection.events if pred.detection is not None else []):
            print(json.dumps(event))
    return _run(run, args, "mods-detect")

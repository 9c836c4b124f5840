"""DEEPaaS v2 entry points of MODS: glue only (parse arguments, call, shape the answer).

The work is done by :mod:`mods.workflow`; this module turns DEEPaaS arguments into calls and
results into JSON, TSV or PNG.  Loaded models are cached per worker process
(:data:`mods.forecast.bundle.CACHE`, keyed by path and modification time).
"""

import logging
import os

from mods import __version__, config, outputs, runs, schemas, workflow
from mods.errors import DataError, ModsError, fail
from mods.forecast.params import Params
from mods.tfenv import quiet_tensorflow

LOG = logging.getLogger("mods.api")

schema = schemas.Prediction
#: ``accept`` value the launcher's ``POST /models/mods/predict`` passes to :func:`predict`
#: (never an HTTP argument): the JSON answer comes back as text, serialised in the worker.
SERIALIZED_JSON = "application/json; serialized-by=worker"


def get_metadata():
    """Name, version, authors... and every bundle in the models folder."""
    return {
        "name": "mods",
        "version": __version__,
        "summary": "Forecasts multivariate network-monitoring time series with Keras models "
                   "and raises alerts where prediction and reality disagree.",
        "author": "MODS developers",
        "license": "Apache-2.0",
        "url": "https://github.com/mods/mods",
        "default_model": config.default_model_name(),
        "models": workflow.model_summaries(),
    }


def warm():
    """Load the default model into this worker's cache (no error if it is missing)."""
    quiet_tensorflow()
    try:
        workflow.get_model(None)
    except ModsError as exc:
        LOG.warning("default model not loaded: %s", exc)


def get_predict_args():
    from mods.forecast import bundle

    return schemas.predict_args(bundle.list_bundles())


def get_train_args():
    return schemas.train_args()


def _upload(data):
    """``(path, display name)`` of an uploaded file argument (``UploadedFile``)."""
    if data is None:
        raise fail(DataError, "no file uploaded: send the data as multipart form field 'data'")
    path = getattr(data, "filename", None)
    if not path or not os.path.isfile(path):
        raise fail(DataError, "the upload 'data' is not a file")
    name = os.path.basename(getattr(data, "original_filename", None) or "upload")
    return path, name or "upload"


def _remove(data):
    path = getattr(data, "filename", None)
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


def _split(columns):
    if not columns:
        return None
    return [c.strip() for c in str(columns).split(",") if c.strip()]


def predict(**kwargs):
    """Forecast and score the uploaded file; answer JSON, TSV or PNG per ``accept``."""
    data = kwargs.get("data")
    try:
        path, name = _upload(data)
        from mods.anomaly.detector import DetectorConfig

        overrides = DetectorConfig.given(kwargs)
        model_name = kwargs.get("model_name") or config.default_model_name()
        fc, ds, pred = workflow.predict(path, model_name, name=name,
                                        columns=_split(kwargs.get("columns")),
                                        time_column=kwargs.get("time_column"),
                                        label_column=kwargs.get("label_column"),
                                        detector_overrides=overrides)
    finally:
        _remove(data)
    accept = kwargs.get("accept") or "application/json"
    if accept == "text/tab-separated-values":
        return outputs.prediction_tsv(fc, ds, pred)
    if accept == "image/png":
        from mods import plots

        return plots.prediction_png(fc, ds, pred)
    doc = outputs.prediction_json(fc, ds, pred, model_name,
                                  as_fragment=accept == SERIALIZED_JSON)
    if ds.labels is not None and pred.detection is not None:
        from mods import metrics

        doc["anomaly"]["detection_metrics"] = metrics.detection_metrics(
            ds.labels, pred.detection.flags)
    if accept == SERIALIZED_JSON:  # the launcher's route: JSON bytes made here
        return outputs.json_bytes(doc)
    return doc


def train(**kwargs):
    """Train a new bundle from an upload or a data-folder file; record per-epoch progress."""
    data = kwargs.get("data")
    run_id = kwargs.get("run_id") or runs.new_run_id()
    recorder = None
    try:
        params = Params.from_dict({k: kwargs[k] for k in Params().to_dict() if k in kwargs})
        selection = None
        if data is not None:
            path, name = _upload(data)
        elif kwargs.get("query"):
            path, selection = workflow.select_datapool(kwargs["query"], kwargs.get("ranges"),
                                                       kwargs.get("exclude"))
            name = "datapool query"
        elif kwargs.get("data_file"):
            path = workflow.resolve_data_file(kwargs["data_file"])
            name = path.name
        else:
            raise fail(DataError, "no training data: upload a file as 'data', name one in "
                       "the data folder with 'data_file', or give a datapool 'query'")
        recorder = runs.Recorder(run_id, model_name=kwargs.get("model_name"),
                                 model_type=params.model_type)
        from mods.anomaly.detector import DetectorConfig

        given = DetectorConfig.given(kwargs)
        detector_config = DetectorConfig.from_dict(given) if given else None
        report = workflow.train(path, kwargs.get("model_name"), params, name=name,
                                columns=_split(kwargs.get("columns")),
                                time_column=kwargs.get("time_column"), on_epoch=recorder,
                                detector_config=detector_config, selection=selection)
        recorder.finish("done", result={k: report[k] for k in
                                        ("model_name", "epochs_run", "training_time_s")})
        return report
    except Exception as exc:
        if recorder is not None:
            recorder.finish("error", message=str(exc))
        else:
            runs.write(run_id, {"status": "error", "message": str(exc)})
        if isinstance(exc, ModsError):
            raise
        LOG.exception("training failed")
        raise ModsError("training failed: %s: %s" % (type(exc).__name__, exc)) from None
    finally:
        _remove(data)

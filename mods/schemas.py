"""HTTP edge: webargs fields for predict/train and the marshmallow response schema.

Everything here is derived from :class:`mods.forecast.params.Params` and the model registry,
so the Swagger page, the CLI and the code agree on names, defaults and ranges.
"""

from marshmallow import Schema, fields as mfields
from webargs import fields, validate

from mods import config
from mods.forecast.params import Params
from mods.anomaly.detector import DetectorConfig
from mods.forecast.registry import MODEL_TYPES

ACCEPT_TYPES = ["application/json", "text/tab-separated-values", "image/png"]


def _field(cls, description, location=None, enum=None, **kwargs):
    """A webargs field with its description (and location/enum) in ``metadata``."""
    metadata = {"description": description}
    if location:
        metadata["location"] = location
    if enum:
        metadata["enum"] = list(enum)
    return cls(metadata=metadata, **kwargs)


def detector_fields(detect_time_only):
    """``detector_<option>`` fields for the anomaly detector's options.

    Training takes every option (:class:`~mods.anomaly.detector.DetectorConfig`);
    prediction only those not fixed at fit time, applied to this request alone.  Unset
    fields are ``None``: the defaults (training) or the bundle's own options (prediction).
    """
    rows = DetectorConfig.detect_time_options() if detect_time_only \
        else DetectorConfig.describe()
    out = {}
    for name, typ, default, meta in rows:
        kwargs = dict(required=False, load_default=None, allow_none=True)
        enum = None
        if meta.get("choices"):
            enum = list(meta["choices"])
            kwargs["validate"] = validate.OneOf(enum)
        elif meta.get("min") is not None:
            kwargs["validate"] = validate.Range(min=meta["min"], max=meta["max"])
        elif name == "horizons":
            kwargs["validate"] = _valid_horizons
        help_ = meta["help"]
        help_ += (" (this request only; default: the model's)" if detect_time_only
                  else " (default: %s)" % (default,))
        field_cls = {int: fields.Int, float: fields.Float, bool: fields.Bool}.get(typ,
                                                                                 fields.Str)
        out["detector_" + name] = _field(field_cls, "Anomaly detector: " + help_, enum=enum,
                                         **kwargs)
    return out


def _valid_horizons(value):
    """webargs validator of ``detector_horizons`` (refused before a training starts)."""
    from marshmallow import ValidationError

    from mods.anomaly.horizons import check_horizons
    from mods.errors import ModsError

    try:
        check_horizons(value)
    except ModsError as exc:
        raise ValidationError(str(exc)) from None
    return True


def _file_field(description, required):
    field = _field(fields.Raw, description, location="form", required=required)
    field.metadata["type"] = "file"
    return field


def _data_fields(file_required):
    return {
        "data": _file_field("Observations: a .tsv or .csv file with a header row; feature "
                            "columns numeric, optional time column (window_start)",
                            file_required),
        "columns": _field(fields.Str, "Comma-separated feature columns, in order (default: "
                                      "the model's / all numeric columns)",
                          required=False, load_default=None, allow_none=True),
        "time_column": _field(fields.Str, "Name of the time column (default: window_start "
                                          "when present)",
                              required=False, load_default=None, allow_none=True),
    }


def predict_args(available_models=()):
    """Arguments of ``predict``: file upload, model name, columns, detector, accept."""
    default = config.default_model_name()
    args = _data_fields(file_required=True)
    args.update({
        "model_name": _field(
            fields.Str, "Model bundle to use (default %r). Available: %s"
            % (default, ", ".join(available_models) or "see GET /v2/models/"),
            required=False, load_default=default),
        "label_column": _field(fields.Str, "Column of 0/1 incident labels (default: label or "
                                           "anomaly when present)",
                               required=False, load_default=None, allow_none=True),
        **detector_fields(detect_time_only=True),
        "accept": _field(
            fields.Str, "Answer as JSON (forecasts, evaluation, anomalies), TSV (one row per "
                        "input row) or a PNG picture",
            location="headers", required=False, load_default="application/json",
            validate=validate.OneOf(list(ACCEPT_TYPES))),
    })
    return args


def train_args():
    """Arguments of ``train``: data, model name and every hyper-parameter."""
    args = _data_fields(file_required=False)
    args["data"].metadata["description"] = (
        "Training data (.tsv/.csv upload); or give data_file instead")
    args.update({
        "data_file": _field(fields.Str, "Name of a file in the server's data folder, used "
                                        "when no file is uploaded",
                            required=False, load_default=None, allow_none=True),
        "query": _field(fields.Str, "Datapool selection query used instead of a file, e.g. "
                                    "conn|in_count_uid~conn_in;ssh|in_count_uid~ssh_in"
                                    "#window_start,window_end",
                        required=False, load_default=None, allow_none=True),
        "ranges": _field(fields.Str, "With query: time ranges to keep, e.g. "
                                     "<2019-06-01,2019-06-03)",
                         required=False, load_default=None, allow_none=True),
        "exclude": _field(fields.Str, "With query: time ranges to drop",
                          required=False, load_default=None, allow_none=True),
        "model_name": _field(
            fields.Str, "Name of the new bundle (<models>/<model_name>.zip)", required=True,
            validate=validate.Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", error="model_name must be a plain file "
                "name (letters, digits, '.', '_', '-'; no path separators)")),
        **detector_fields(detect_time_only=False),
        "run_id": _field(fields.Str, "Identifier of the training's progress record (set by "
                                     "mods-serve; leave empty)",
                         required=False, load_default=None, allow_none=True,
                         validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$")),
    })
    for name, typ, default, meta in Params.describe():
        kwargs = dict(required=False, load_default=default)
        enum = None
        if name == "model_type":
            enum = list(MODEL_TYPES)
            kwargs["validate"] = validate.OneOf(enum)
        elif meta.get("choices"):
            enum = list(meta["choices"])
            kwargs["validate"] = validate.OneOf(enum)
        elif meta.get("min") is not None:
            high = meta["max"]
            if name == "num_epochs" and config.max_epochs():  # MODS_MAX_EPOCHS, in Swagger
                high = min(high, config.max_epochs())
                kwargs["load_default"] = min(default, high)
            kwargs["validate"] = validate.Range(min=meta["min"], max=high)
        field_cls = {int: fields.Int, float: fields.Float, bool: fields.Bool}.get(typ,
                                                                                 fields.Str)
        args[name] = _field(field_cls, meta["help"], enum=enum, **kwargs)
    return args


class Prediction(Schema):
    """JSON answer of ``predict`` (documented on the Swagger page, validated by DEEPaaS)."""

    status = mfields.Str(required=True)
    model_name = mfields.Str(required=True)
    model_type = mfields.Str(required=True)
    columns = mfields.List(mfields.Str(), required=True)
    time_column = mfields.Str(allow_none=True)
    sequence_len = mfields.Int(required=True)
    steps_ahead = mfields.Int(required=True)
    rows = mfields.Int(required=True)
    filled_cells = mfields.Int()
    filled_rows = mfields.Int()
    forecasts = mfields.List(mfields.Dict(), required=True,
                             metadata={"description": "One entry per forecast origin: row, "
                                                      "time, values {column: [t+1..t+k]}"})
    next = mfields.Dict(required=True, metadata={
        "description": "Forecast beyond the last row: times, values {column: [t+1..t+k]}"})
    evaluation = mfields.Dict(allow_none=True, metadata={
        "description": "Metrics of the model, naive and seasonal naive on the same rows"})
    anomaly = mfields.Dict(allow_none=True, metadata={
        "description": "Per-row scores in [0,1] (0.5 = warning threshold), levels, alert "
                       "events and the thresholds used"})

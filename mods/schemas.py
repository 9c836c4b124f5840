"""HTTP edge: webargs fields for predict/train and the marshmallow response schema.

Everything here is derived from :class:`mods.forecast.params.Params` and the model registry,
so the Swagger page, the CLI and the code agree on names, defaults and ranges.
"""

from marshmallow import Schema, fields as mfields
from webargs import fields, validate

from mods import config
from mods.forecast.params import Params
from mods.forecast.registry import MODEL_TYPES

ACCEPT_TYPES = ["application/json", "text/tab-separated-values", "image/png"]
DETECTOR_METHODS = ["quantile", "ksigma", "dynamic"]


def _file_field(description, required):
    return fields.Field(required=required, location="form", type="file",
                        description=description)


def _data_fields(file_required):
    return {
        "data": _file_field("Observations: a .tsv or .csv file with a header row; feature "
                            "columns numeric, optional time column (window_start)",
                            file_required),
        "columns": fields.Str(required=False, missing=None, allow_none=True,
                              description="Comma-separated feature columns, in order "
                                          "(default: the model's / all numeric columns)"),
        "time_column": fields.Str(required=False, missing=None, allow_none=True,
                                  description="Name of the time column (default: "
                                              "window_start when present)"),
    }


def predict_args(available_models=()):
    """Arguments of ``predict``: file upload, model name, columns, detector, accept."""
    default = config.default_model_name()
    args = _data_fields(file_required=True)
    args.update({
        "model_name": fields.Str(
            required=False, missing=default,
            description="Model bundle to use (default %r). Available: %s"
                        % (default, ", ".join(available_models) or "see GET /v2/models/")),
        "label_column": fields.Str(required=False, missing=None, allow_none=True,
                                   description="Column of 0/1 incident labels (default: "
                                               "label or anomaly when present)"),
        "detector_method": fields.Str(
            required=False, missing=None, allow_none=True,
            validate=validate.OneOf(DETECTOR_METHODS),
            description="Anomaly threshold method (default: the one calibrated at training)"),
        "accept": fields.Str(
            required=False, missing="application/json", location="headers",
            validate=validate.OneOf(list(ACCEPT_TYPES)),
            description="Answer as JSON (forecasts, evaluation, anomalies), TSV (one row "
                        "per input row) or a PNG picture"),
    })
    return args


def train_args():
    """Arguments of ``train``: data, model name and every hyper-parameter."""
    args = _data_fields(file_required=False)
    args["data"].metadata["description"] = (
        "Training data (.tsv/.csv upload); or give data_file instead")
    args.update({
        "data_file": fields.Str(required=False, missing=None, allow_none=True,
                                description="Name of a file in the server's data folder, used "
                                            "when no file is uploaded"),
        "model_name": fields.Str(required=True, validate=validate.Regexp(
            r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", error="model_name must be a plain file name "
            "(letters, digits, '.', '_', '-'; no path separators)"),
            description="Name of the new bundle (<models>/<model_name>.zip)"),
        "detector_method": fields.Str(
            required=False, missing=None, allow_none=True,
            validate=validate.OneOf(DETECTOR_METHODS),
            description="Anomaly threshold method calibrated into the bundle"),
        "run_id": fields.Str(required=False, missing=None, allow_none=True,
                             validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$"),
                             description="Identifier of the training's progress record (set "
                                         "by mods-serve; leave empty)"),
    })
    for name, typ, default, meta in Params.describe():
        kwargs = dict(required=False, missing=default, description=meta["help"])
        if name == "model_type":
            kwargs["validate"] = validate.OneOf(list(MODEL_TYPES))
            kwargs["enum"] = list(MODEL_TYPES)
        elif meta.get("choices"):
            kwargs["validate"] = validate.OneOf(list(meta["choices"]))
            kwargs["enum"] = list(meta["choices"])
        elif meta.get("min") is not None:
            kwargs["validate"] = validate.Range(min=meta["min"], max=meta["max"])
        field_cls = {int: fields.Int, float: fields.Float, bool: fields.Bool}.get(typ,
                                                                                 fields.Str)
        args[name] = field_cls(**kwargs)
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
                       "events"})

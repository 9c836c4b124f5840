"""The operations every door (CLI, HTTP API, stream) calls: train, predict, test.

Inputs are paths or bytes and plain values; outputs are plain Python objects.
"""

import logging
import time
from pathlib import Path

from mods import config
from mods.dataset.io import read_table
from mods.errors import ConfigError, DataError, ModelNotFound, fail
from mods.forecast import bundle
from mods.forecast.params import Params

LOG = logging.getLogger("mods")


def resolve_data_file(name, data_dir=None):
    """Path of the data file ``name`` inside the data folder (no path tricks).

    Raises
    ------
    DataError
        For names with separators, ``..``, hidden names, or files that do not exist.
    """
    folder = Path(data_dir or config.data_dir())
    if (not isinstance(name, str) or not name or "/" in name or "\\" in name or ".." in name
            or name.startswith(".")):
        raise fail(DataError, "invalid data file name %r: give a plain file name from the data "
                   "folder (no path separators or '..')" % (name,))
    path = folder / name
    if not path.is_file():
        available = sorted(p.name for p in folder.glob("*") if p.suffix in (".tsv", ".csv"))
        raise fail(DataError, "no data file %r in the data folder; available: %s"
                   % (name, ", ".join(available) or "none"))
    return path


def load_dataset(data, name=None, columns=None, time_column=None, label_column=None,
                 min_rows=1, expected_columns=None, min_rows_reason=None):
    """Read ``data`` (path or bytes) into a :class:`mods.dataset.io.Dataset`."""
    kwargs = dict(name=name, columns=columns, time_column=time_column,
                  label_column=label_column, min_rows=min_rows,
                  expected_columns=expected_columns)
    if min_rows_reason:
        kwargs["min_rows_reason"] = min_rows_reason
    return read_table(data, **kwargs)


def select_datapool(query, ranges=None, exclude=None, datapool=None):
    """TSV bytes of a datapool selection (see :mod:`mods.dataset.datapool`) and its record."""
    from mods.dataset import datapool as dp

    folder = Path(datapool or config.datapool_dir())
    frame = dp.select(folder, query, ranges=ranges, exclude=exclude)
    selection = {"query": query, "ranges": ranges, "exclude": exclude,
                 "datapool": str(folder), "rows": int(len(frame))}
    return dp.to_tsv_bytes(frame), selection


def train(data, model_name, params=None, *, name=None, columns=None, time_column=None,
          on_epoch=None, detector_config=None, models_dir=None, selection=None):
    """Train a model on ``data`` and save it as bundle ``model_name``.

    ``selection`` (from :func:`select_datapool`) is recorded in the bundle's config when the
    data came from a datapool query.

    Returns
    -------
    dict
        ``model_name``, ``path``, ``metrics`` (model, naive, seasonal naive), ``epochs_run``,
        ``best_epoch``, ``training_time_s``, ``history``...
    """
    params = params or Params()
    bundle.check_name(model_name)  # refuse bad names before spending time training
    on_epoch = _capped(params, on_epoch)
    dataset = load_dataset(data, name=name, columns=columns, time_column=time_column,
                           min_rows=params.sequence_len + params.steps_ahead + 1,
                           min_rows_reason="sequence_len + steps_ahead + 1")
    from mods.forecast.forecaster import Forecaster

    t0 = time.perf_counter()
    fc, report = Forecaster.fit(dataset, params, on_epoch=on_epoch,
                                detector_config=detector_config)
    if selection:
        fc.info["selection"] = selection
    path = bundle.save(fc, model_name, models_dir)
    report = dict(report)
    report.update({
        "model_name": path.stem,
        "bundle": path.name,
        "model_type": params.model_type,
        "columns": dataset.columns,
        "filled_cells": dataset.filled_cells,
        "filled_rows": dataset.filled_rows,
        "total_time_s": round(time.perf_counter() - t0, 3),
    })
    return report


def _capped(params, on_epoch):
    """Check ``num_epochs`` against ``MODS_MAX_EPOCHS``; wrap ``on_epoch`` so that a training
    running past ``MODS_MAX_TRAIN_SECONDS`` stops at the end of an epoch with an error.

    Raises
    ------
    ConfigError
        When ``params.num_epochs`` is above the limit.
    """
    max_epochs, max_seconds = config.max_epochs(), config.max_train_seconds()
    if max_epochs and params.num_epochs > max_epochs:
        raise fail(ConfigError, "num_epochs %d is above the limit of %d (MODS_MAX_EPOCHS)"
                   % (params.num_epochs, max_epochs))
    if not max_seconds:
        return on_epoch
    t0 = time.monotonic()

    def check(rec):
        if on_epoch is not None:
            on_epoch(rec)
        elapsed = time.monotonic() - t0
        if elapsed > max_seconds:
            raise fail(ConfigError, "training stopped after %.0f s and %s epoch(s): above the "
                       "time limit of %g s (MODS_MAX_TRAIN_SECONDS)"
                       % (elapsed, rec.get("epoch", "?"), max_seconds))

    return check


def get_model(model_name=None, models_dir=None):
    """The cached forecaster of ``model_name`` (default model when ``None``)."""
    name = model_name or config.default_model_name()
    return bundle.CACHE.get(name, models_dir)


def predict(data, model_name=None, *, name=None, columns=None, time_column=None,
            label_column=None, models_dir=None, detector_overrides=None):
    """Forecast (and score anomalies) on ``data`` with the bundle ``model_name``.

    Returns
    -------
    (Forecaster, Dataset, Prediction)
    """
    fc = get_model(model_name, models_dir)
    expected = fc.columns if not columns else None
    dataset = load_dataset(
        data, name=name, columns=columns, time_column=time_column,
        label_column=label_column, expected_columns=expected, min_rows=fc.min_rows(),
        min_rows_reason="sequence_len %d + steps_ahead %d" % (fc.sequence_len, fc.steps_ahead))
    pred = fc.predict(dataset, detector_overrides=detector_overrides)
    return fc, dataset, pred


def model_summaries(models_dir=None):
    """One dict per bundle in the models folder (no Keras loading)."""
    out = []
    folder = Path(models_dir or config.models_dir())
    for name in bundle.list_bundles(folder):
        try:
            cfg, met = bundle.read_info(folder / (name + ".zip"))
        except Exception as exc:  # a broken bundle must not hide the others
            out.append({"name": name, "error": str(exc)})
            continue
        test = (met or {}).get("test") or {}
        headline = {key: (test.get(key) or {}).get("mae")
                    for key in ("model", "naive", "seasonal_naive")}
        out.append({
            "name": name,
            "model_type": cfg.get("params", {}).get("model_type"),
            "columns": cfg.get("columns"),
            "sequence_len": cfg.get("sequence_len"),
            "steps_ahead": cfg.get("steps_ahead"),
            "created": cfg.get("created"),
            "time_column": cfg.get("time_column"),
            "metrics": {"mae": headline, "mae_ratio_vs_naive": test.get("mae_ratio_vs_naive"),
                        "smape": (test.get("model") or {}).get("smape")},
        })
    return out


def require_model(model_name, models_dir=None):
    """Raise :class:`ModelNotFound` unless bundle ``model_name`` exists."""
    path = bundle.bundle_path(model_name, models_dir)
    if not path.is_file():
        raise fail(ModelNotFound, "unknown model_name %r; available models: %s" % (
            model_name, ", ".join(bundle.list_bundles(path.parent)) or "none"))
    return path

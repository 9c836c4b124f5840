"""Shape predictions for people and programs: JSON dicts and TSV tables."""

import io
import math

import numpy as np

ISO = "%Y-%m-%dT%H:%M:%SZ"


def _num(x):
    """A JSON-safe float (``None`` for NaN/inf)."""
    x = float(x)
    return x if math.isfinite(x) else None


def _round(arr, digits=6):
    """Nested lists of JSON-safe rounded floats."""
    a = np.asarray(arr, dtype=np.float64)
    a = np.where(np.isfinite(a), np.round(a, digits), np.nan)
    return [[None if v != v else v for v in row] for row in a.tolist()]


def _times(dataset):
    if dataset.time is None:
        return None
    return [t.strftime(ISO) for t in dataset.time]


def next_times(dataset, k):
    """Times of the ``k`` rows after the last one (``None`` without a time column)."""
    if dataset.time is None or dataset.freq is None:
        return None
    last = dataset.time[-1]
    return [(last + dataset.freq * j).strftime(ISO) for j in range(1, k + 1)]


def prediction_json(fc, dataset, pred, model_name, include_origins=True):
    """The JSON answer of a prediction.

    Keys: ``model_name``, ``model_type``, ``columns``, ``time_column``, ``sequence_len``,
    ``steps_ahead``, ``rows``, ``filled_cells``, ``filled_rows``, ``forecasts`` (one entry
    per forecast origin: ``row``, ``time``, ``values`` = ``{column: [t+1..t+k]}``),
    ``next`` (the forecast beyond the last row), ``evaluation`` and ``anomaly``.
    """
    times = _times(dataset)
    k = fc.steps_ahead
    cols = fc.columns
    entries = []
    if include_origins:
        fcs = np.round(pred.forecasts, 6)
        for idx, origin in enumerate(pred.origins.tolist()):
            block = fcs[idx]
            entries.append({
                "row": origin,
                "time": times[origin] if times else None,
                "values": {c: [_num(v) for v in block[:, j]] for j, c in enumerate(cols)},
            })
    last = np.round(pred.forecasts[-1], 6)
    out = {
        "status": "ok",
        "model_name": model_name,
        "model_type": fc.params.model_type,
        "columns": cols,
        "time_column": dataset.time_column,
        "sequence_len": fc.sequence_len,
        "steps_ahead": k,
        "rows": int(dataset.n_rows),
        "filled_cells": int(dataset.filled_cells),
        "filled_rows": int(dataset.filled_rows),
        "forecasts": entries,
        "next": {
            "from_row": int(pred.origins[-1]),
            "times": next_times(dataset, k),
            "values": {c: [_num(v) for v in last[:, j]] for j, c in enumerate(cols)},
        },
        "evaluation": pred.evaluation,
        "anomaly": anomaly_json(pred.detection, times),
    }
    return out


def anomaly_json(detection, times=None):
    """Per-step scores and levels plus the alert events (``None`` without a detector).

    Event times are rewritten from their row indices so that they read exactly like the
    other times of the answer.
    """
    if detection is None:
        return None
    events = []
    for event in detection.events:
        event = dict(event)
        if times:
            for key, idx in (("start_time", "start"), ("end_time", "end"),
                             ("peak_time", "peak_index")):
                if event.get(idx) is not None and 0 <= event[idx] < len(times):
                    event[key] = times[event[idx]]
        events.append(event)
    return {
        "scores": [_num(round(float(s), 6)) for s in detection.scores],
        "levels": list(detection.levels),
        "n_flagged": int(np.count_nonzero(detection.flags)),
        "events": events,
    }


def prediction_table(fc, dataset, pred):
    """One row per input row: time, ``score``, ``level``, then per feature
    ``<name>``, ``<name>_forecast``, ``<name>_score`` (empty forecasts before the first
    forecastable row)."""
    import pandas as pd

    cols = {}
    if dataset.time is not None:
        cols[dataset.time_column] = [t.strftime(ISO) for t in dataset.time]
    det = pred.detection
    n = dataset.n_rows
    cols["score"] = np.round(det.scores, 6) if det is not None else np.zeros(n)
    cols["level"] = list(det.levels) if det is not None else ["normal"] * n
    for j, c in enumerate(fc.columns):
        cols[c] = dataset.values[:, j]
        cols[c + "_forecast"] = np.round(pred.step1[:, j], 6)
        cols[c + "_score"] = (np.round(det.column_scores[:, j], 6) if det is not None
                              else np.zeros(n))
    return pd.DataFrame(cols)


def prediction_tsv(fc, dataset, pred):
    """:func:`prediction_table` as TSV text."""
    buf = io.StringIO()
    frame = prediction_table(fc, dataset, pred)
    frame.to_csv(buf, sep="\t", index=False, na_rep="", float_format="%.6g")
    return buf.getvalue()

"""JSON and TSV shapes of a prediction (mods.outputs): exact numbers, JSON-safe values."""

import io
import json

import numpy as np
import pandas as pd
import pytest

from mods import outputs
from mods.dataset.io import read_table
from mods.forecast import bundle
from tests.helpers import tsv_bytes

DEFAULT = bundle.bundle_path("default", "models")


@pytest.fixture(scope="module")
def predicted():
    fc = bundle.load(DEFAULT)
    ds = read_table(tsv_bytes(n_rows=300, seed=4), name="gen.tsv")
    return fc, ds, fc.predict(ds)


def test_json_has_one_entry_per_origin_with_values_per_column(predicted):
    fc, ds, pred = predicted
    doc = outputs.prediction_json(fc, ds, pred, "default")
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    assert len(doc["forecasts"]) == len(pred.origins)
    entry = doc["forecasts"][7]
    assert entry["row"] == int(pred.origins[7])
    assert entry["time"] == ds.time[entry["row"]].strftime(outputs.ISO)
    for j, column in enumerate(fc.columns):
        assert entry["values"][column] == pytest.approx(
            np.round(pred.forecasts[7, :, j], 6).tolist())
    assert len(doc["anomaly"]["scores"]) == ds.n_rows


def test_json_turns_nan_and_inf_into_null(predicted):
    fc, ds, pred = predicted
    pred.forecasts = pred.forecasts.copy()
    pred.forecasts[3, 0, 1] = np.nan
    pred.forecasts[4, 0, 0] = np.inf
    doc = outputs.prediction_json(fc, ds, pred, "default")
    json.dumps(doc, allow_nan=False)  # strict JSON
    assert doc["forecasts"][3]["values"][fc.columns[1]][0] is None
    assert doc["forecasts"][4]["values"][fc.columns[0]][0] is None


def test_tsv_keeps_every_digit_of_large_counters(predicted):
    """Byte counters exceed a million: the TSV must not round them (no %g formatting)."""
    fc, ds, pred = predicted
    ds.values = ds.values.copy()
    ds.values[:, 0] = 123456789 + np.arange(ds.n_rows)
    ds.values[:, 1] += 0.123456789  # non-integral: printed exactly too
    frame = pd.read_csv(io.StringIO(outputs.prediction_tsv(fc, ds, pred)), sep="\t")
    assert frame.shape[0] == ds.n_rows
    np.testing.assert_array_equal(frame[fc.columns[0]].to_numpy(), ds.values[:, 0])
    assert frame[fc.columns[0]].dtype.kind == "i"
    np.testing.assert_array_equal(frame[fc.columns[1]].to_numpy(), ds.values[:, 1])
    forecast = frame[fc.columns[0] + "_forecast"].to_numpy()
    assert np.isnan(forecast[: fc.first_origin + 1]).all()
    np.testing.assert_allclose(forecast[fc.first_origin + 1:],
                               pred.step1[fc.first_origin + 1:, 0], atol=5e-7)


def test_tsv_has_one_row_per_input_row_in_input_order():
    """Issue 4: shuffled rows, a duplicate time and a gap give the file's rows, in its order."""
    fc = bundle.load(DEFAULT)
    lines = tsv_bytes(n_rows=200, seed=5).decode().splitlines()
    header, rows = lines[0], lines[1:]
    del rows[150:153]  # a gap of three steps: inserted, interpolated, not printed
    rows = rows[100:] + rows[:100] + [rows[20]]  # out of order, row 20's time twice
    ds = read_table(("\n".join([header] + rows) + "\n").encode(), name="shuffled.tsv")
    assert ds.filled_rows == 3
    pred = fc.predict(ds)
    frame = pd.read_csv(io.StringIO(outputs.prediction_tsv(fc, ds, pred)), sep="\t")
    assert frame.shape[0] == len(rows)
    assert (pd.to_datetime(frame[ds.time_column]).tolist()
            == pd.to_datetime([r.split("\t")[0] for r in rows]).tolist())
    np.testing.assert_array_equal(frame["score"].to_numpy(),
                                  np.round(pred.detection.scores[ds.input_rows], 6))


def test_json_bytes_is_compact_json_of_plain_and_numpy_values():
    from mods.outputs import json_bytes

    doc = {"a": [1.5, None, 2], "b": {"c": "é", "d": True}, "n": np.float64(0.25),
           "i": np.int64(3), "arr": np.array([1.0, 2.5])}
    out = json_bytes(doc)
    assert isinstance(out, bytes) and b" " not in out
    assert json.loads(out) == {"a": [1.5, None, 2], "b": {"c": "é", "d": True}, "n": 0.25,
                               "i": 3, "arr": [1.0, 2.5]}
    plain = {"x": [0.1, 1e-7, 123456.789, -0.0], "y": "text"}
    assert json.loads(json_bytes(plain)) == json.loads(json.dumps(plain))


@pytest.mark.parametrize("m, k, columns, with_times", [
    (300, 1, ["conn_in", "conn_out"], False),
    (57, 3, ["a"], True),
    (5, 2, ['é "quoted"', "b\\c", "日本", "d,e"], True),
    (1, 1, ["x", "y", "z"], False),
])
def test_bulk_forecast_entries_are_the_json_of_the_entry_dicts(m, k, columns, with_times):
    rng = np.random.default_rng(m)
    fcs = np.round(rng.normal(scale=1e4, size=(m, k, len(columns))), 6)
    fcs.flat[::7] = np.nan
    fcs.flat[3::11] = -np.inf
    fcs.flat[1::13] = -0.0
    origins = list(range(20, 20 + m))
    times = (["2026-01-01T00:%02d:00Z" % (i % 60) if i % 5 else None for i in range(m)]
             if with_times else None)
    text = outputs.forecast_entries_bytes(origins, times, fcs, columns)
    blocks = np.where(np.isfinite(fcs), fcs, None).transpose(0, 2, 1).tolist()
    expected = [{"row": o, "time": None if times is None else times[i],
                 "values": dict(zip(columns, blocks[i]))} for i, o in enumerate(origins)]
    assert json.loads(text) == expected
    assert text == outputs.json_bytes(expected)
    assert outputs.forecast_entries_bytes([], None, fcs[:0], columns) == b"[]"


def test_answer_with_bulk_forecasts_is_the_same_json_with_or_without_orjson(predicted,
                                                                            monkeypatch):
    fc, ds, pred = predicted
    plain = outputs.prediction_json(fc, ds, pred, "default")
    bulk = outputs.prediction_json(fc, ds, pred, "default", as_fragment=True)
    assert isinstance(bulk["forecasts"], outputs.RawJSON)
    fast = outputs.json_bytes(bulk)
    assert fast == outputs.json_bytes(plain)
    assert json.loads(fast) == json.loads(json.dumps(plain))
    import builtins

    real_import = builtins.__import__

    def no_orjson(name, *args, **kwargs):
        if name == "orjson":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_orjson)
    assert json.loads(outputs.json_bytes(bulk)) == json.loads(fast)

"""Training, forecasting and bundles for every registered model type (real Keras, tiny)."""

import numpy as np
import pytest

from mods.errors import DataError
from mods.forecast import bundle
from mods.forecast.forecaster import Forecaster
from mods.forecast.params import Params
from mods.forecast.registry import MODEL_TYPES
from tests.helpers import dataset

TINY = dict(num_epochs=1, blocks=4, batch_size=32, sequence_len=6)


@pytest.fixture(scope="module")
def data():
    return dataset(n_rows=240, seed=3)


@pytest.mark.parametrize("model_type", list(MODEL_TYPES))
def test_every_type_trains_and_round_trips(model_type, data, tmp_path):
    fc, report = Forecaster.fit(data, Params(model_type=model_type, **TINY))
    assert report["epochs_run"] == 1
    assert report["metrics"]["model"]["mae"] > 0
    path = bundle.save(fc, "m-" + model_type, tmp_path)
    again = bundle.load("m-" + model_type, tmp_path)
    assert again.params.model_type == model_type
    assert again.columns == data.columns
    origins = fc.all_origins(data.n_rows)
    a = fc.forecast_origins(data.values, origins)
    b = again.forecast_origins(data.values, origins)
    c = bundle.load(path).forecast_origins(data.values, origins)
    # the reloaded model computes the same function (float32 op order may differ in the
    # last bit for attention), and two loads of one bundle give bit-identical predictions
    np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_array_equal(b, c)


@pytest.mark.parametrize("k", [1, 4])
def test_horizon_shapes_and_units(k, data):
    fc, report = Forecaster.fit(data, Params(steps_ahead=k, **TINY))
    pred = fc.predict(data)
    n, f = data.values.shape
    assert pred.forecasts.shape == (n - fc.first_origin, k, f)
    assert pred.origins[-1] == n - 1  # a forecast beyond the last row
    # original units: forecasts are near the series' level, not scaled differences
    level = np.abs(data.values).mean(axis=0)
    assert np.all(np.abs(pred.forecasts.mean(axis=(0, 1)) - level) < 0.5 * level)
    assert [s["step"] for s in report["metrics"]["steps"]] == list(range(1, k + 1))


def test_seed_makes_training_reproducible(data):
    p = Params(seed=7, **TINY)
    a, _ = Forecaster.fit(data, p)
    b, _ = Forecaster.fit(data, p)
    o = a.all_origins(data.n_rows)
    np.testing.assert_array_equal(a.forecast_origins(data.values, o),
                                  b.forecast_origins(data.values, o))


def test_early_stopping_restores_best(data):
    _, report = Forecaster.fit(data, Params(num_epochs=40, epochs_patience=1, blocks=4,
                                            sequence_len=6, learning_rate=0.05))
    assert report["epochs_run"] < 40
    assert 1 <= report["best_epoch"] <= report["epochs_run"]
    assert len(report["history"]) == report["epochs_run"]
    assert report["training_time_s"] > 0
    det = report["detector"]  # what the calibration did, for the user to see
    assert det["method"] == "rate" and 0 < det["warning"] < det["critical"]
    assert det["noisy_blocks_fraction"] == 0.0  # block_trim is off by default
    # a few hundred calibration rows cannot show a budget of 0.75 per 1,000: the report says so
    assert det["calibration_rows"] < 4000 and "calibrate on 4000 rows or more" in det["note"]
    assert 0.0 <= det["trimmed_fraction"] < 0.5


def test_split_is_chronological():
    split = Forecaster.split(1000, Params(test_fraction=0.2, validation_fraction=0.1))
    assert (split.train_end, split.val_end, split.n) == (720, 800, 1000)


def test_too_few_rows_for_training():
    with pytest.raises(DataError, match="too few to train"):
        Forecaster.fit(dataset(n_rows=16), Params(**TINY, test_fraction=0.5))


def test_predict_refuses_other_columns(data):
    fc, _ = Forecaster.fit(data, Params(**TINY))
    other = dataset(n_rows=60)
    other.columns = ["a", "b", "c", "d"]
    with pytest.raises(DataError, match="differ from the ones the model was trained on"):
        fc.predict(other)


def test_forecast_alignment_against_naive(data):
    """The evaluation compares the forecast for row t with the actual value at t."""
    fc, _ = Forecaster.fit(data, Params(**TINY))
    pred = fc.predict(data)
    ev = pred.evaluation
    o = pred.origins[:-1]
    naive_mae = np.abs(data.values[o + 1] - data.values[o]).mean(axis=0).mean()
    model_mae = np.abs(data.values[o + 1] - pred.forecasts[:-1, 0]).mean(axis=0).mean()
    assert ev["steps"][0]["n"] <= len(o)
    if ev["seasonal_naive"] is None:  # no season in 240 rows: all origins evaluated
        assert ev["naive"]["mae"] == pytest.approx(naive_mae, rel=1e-5)
        assert ev["model"]["mae"] == pytest.approx(model_mae, rel=1e-5)


@pytest.mark.parametrize("model_delta", [True, False])
@pytest.mark.parametrize("model_type", ["MLP", "LSTM", "TCN"])
def test_compiled_recursion_equals_step_by_step(model_type, model_delta, data, monkeypatch):
    """The detector's long-horizon forecasts: one compiled call per chunk of origins gives
    exactly the forecasts of one model call per step (chunks of 50 origins here)."""
    from mods.anomaly.horizons import horizon_forecasts
    from mods.forecast import forecaster as F

    fc, _ = Forecaster.fit(data, Params(model_type=model_type, model_delta=model_delta,
                                        **TINY))
    monkeypatch.setattr(F, "PREDICT_BATCH", 50)
    args = (data.values, [2, 5, 30], fc.transform, fc._infer, fc.sequence_len, fc.steps_ahead)
    loop = horizon_forecasts(*args)
    compiled = horizon_forecasts(*args, iterate=fc._iterate)
    for h in (2, 5, 30):
        assert np.isfinite(loop[h]).sum() > 100
        np.testing.assert_array_equal(np.isnan(loop[h]), np.isnan(compiled[h]))
        np.testing.assert_allclose(compiled[h], loop[h], rtol=1e-6, atol=1e-9)


def test_predict_again_uses_the_horizon_memo_with_the_same_result(data, monkeypatch):
    """A file sent again is scored from the memo (no recursion), with the same numbers."""
    fc, _ = Forecaster.fit(data, Params(**TINY))
    first = fc.predict(data)
    memo = fc._horizon_memo(fc.detector.horizons)
    stored = len(memo)
    assert stored > 100 and memo.hits == 0
    calls = []
    monkeypatch.setattr(fc, "_iterate", lambda *a: calls.append(1))
    second = fc.predict(data)
    assert calls == [] and memo.hits == stored
    np.testing.assert_array_equal(first.detection.scores, second.detection.scores)
    np.testing.assert_array_equal(first.detection.column_scores, second.detection.column_scores)
    monkeypatch.setenv("MODS_HORIZON_MEMO", "0")
    assert fc._horizon_memo(fc.detector.horizons) is None

"""Tests of mods.metrics: point metrics, baselines, honest evaluation, detection metrics."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from mods import metrics as M
from mods.errors import DataError

# ------------------------------------------------------------------------------ point


@pytest.mark.parametrize("shape", [(7,), (7, 3)])
def test_perfect_forecast(shape):
    a = np.random.default_rng(0).normal(size=shape)
    for name, want in [("smape", 0.0), ("mae", 0.0), ("rmse", 0.0), ("r2", 1.0),
                       ("cosine", 1.0)]:
        got = getattr(M, name)(a, a.copy())
        np.testing.assert_allclose(got, want, atol=1e-12, err_msg=name)
        if len(shape) == 1:
            assert isinstance(got, float)
        else:
            assert got.shape == (shape[1],)


def test_smape_hand():
    # terms: 2*1/3, 0  ->  100/2 * 2/3
    assert M.smape([1.0, 2.0], [2.0, 2.0]) == pytest.approx(100 / 3)
    # A = F = 0 term counts as 0 (not NaN, not dropped from n)
    assert M.smape([0.0, 1.0], [0.0, 3.0]) == pytest.approx(50.0)
    assert M.smape([0.0, 0.0], [0.0, 0.0]) == 0.0
    # opposite signs / one zero: the maximum 200
    assert M.smape([0.0, 1.0], [5.0, -1.0]) == pytest.approx(200.0)


def test_mae_rmse_hand():
    a, f = [1.0, 2.0, 3.0], [2.0, 2.0, 5.0]
    assert M.mae(a, f) == pytest.approx(1.0)
    assert M.rmse(a, f) == pytest.approx(math.sqrt(5 / 3))


def test_r2_hand_and_constant_rule():
    assert M.r2([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]) == pytest.approx(0.5)  # 1 - 1/2
    assert M.r2([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-3.0)  # 1 - 8/2
    assert M.r2([2.0, 2.0, 2.0], [2.0, 2.0, 2.0]) == 1.0
    assert M.r2([2.0, 2.0, 2.0], [2.0, 2.0, 3.0]) == 0.0
    # constant column whose float mean is not exact: still the SS_tot == 0 rule
    assert M.r2([0.1] * 3, [0.1] * 3) == 1.0
    assert M.r2([0.1] * 3, [0.1, 0.1, 0.2]) == 0.0


def test_cosine_hand():
    assert M.cosine([1.0, 0.0], [0.0, 1.0]) == pytest.approx(0.0)
    assert M.cosine([1.0, 1.0], [2.0, 2.0]) == pytest.approx(1.0)
    assert M.cosine([1.0, 0.0], [1.0, 1.0]) == pytest.approx(1 / math.sqrt(2))
    assert M.cosine([1.0, 2.0], [-1.0, -2.0]) == pytest.approx(-1.0)
    assert M.cosine([0.0, 0.0], [0.0, 0.0]) == 1.0
    assert M.cosine([0.0, 0.0], [1.0, 0.0]) == 0.0
    assert M.cosine([1.0, 0.0], [0.0, 0.0]) == 0.0


def test_per_column():
    a = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    f = np.array([[2.0, 0.0], [2.0, 3.0], [5.0, 0.0]])
    np.testing.assert_allclose(M.mae(a, f), [1.0, 2 / 3])
    np.testing.assert_allclose(M.smape(a, f), [M.smape(a[:, 0], f[:, 0]),
                                               M.smape(a[:, 1], f[:, 1])])
    np.testing.assert_allclose(M.r2(a, f), [M.r2(a[:, 0], f[:, 0]), M.r2(a[:, 1], f[:, 1])])
    np.testing.assert_allclose(M.cosine(a, f), [M.cosine(a[:, 0], f[:, 0]), 1.0])


@pytest.mark.parametrize("a, f", [
    (np.zeros(3), np.zeros(4)),
    (np.zeros((3, 2)), np.zeros((3, 1))),
    (np.zeros((0, 2)), np.zeros((0, 2))),
    (np.zeros((2, 2, 2)), np.zeros((2, 2, 2))),
])
def test_point_metric_bad_shapes(a, f):
    for name in M.METRICS:
        with pytest.raises(DataError):
            getattr(M, name)(a, f)


def test_metric_block():
    a = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    f = np.array([[2.0, 0.0], [2.0, 3.0], [5.0, 0.0]])
    block = M.metric_block(a, f, ["in", "out"])
    assert set(block) == {"mae", "smape", "rmse", "r2", "cosine", "per_column", "n"}
    assert block["n"] == 3
    assert set(block["per_column"]) == {"in", "out"}
    assert block["per_column"]["in"]["mae"] == 1.0
    assert block["mae"] == pytest.approx((1.0 + 2 / 3) / 2, rel=1e-5)
    for name in M.METRICS:
        assert type(block[name]) is float
        assert block[name] == pytest.approx(float(np.mean(getattr(M, name)(a, f))), rel=1e-5)
    json.dumps(block, allow_nan=False)
    with pytest.raises(DataError):
        M.metric_block(a, f, ["only_one"])
    assert M.metric_block([1.0, 2.0], [1.0, 2.0], ["x"])["per_column"]["x"]["r2"] == 1.0


# ------------------------------------------------------------------------------ baselines


def _loop_naive(values, origins, k):
    out = np.empty((len(origins), k, values.shape[1]))
    for i, o in enumerate(origins):
        for j in range(1, k + 1):
            out[i, j - 1] = values[o]
    return out


def _loop_seasonal(values, origins, k, season):
    out = np.full((len(origins), k, values.shape[1]), np.nan)
    for i, o in enumerate(origins):
        for j in range(1, k + 1):
            src = o + j - season
            while src > o:  # never use a row after the origin (only when j > season)
                src -= season
            if src >= 0:
                out[i, j - 1] = values[src]
    return out


def test_naive_and_seasonal_match_loops():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(40, 3))
    origins = rng.integers(0, 40, size=25)
    k, season = 11, 4
    np.testing.assert_array_equal(M.naive_forecast(values, origins, k),
                                  _loop_naive(values, origins, k))
    seas = M.seasonal_naive_forecast(values, origins, k, season)
    assert seas.shape == (25, k, 3)
    np.testing.assert_array_equal(seas, _loop_seasonal(values, origins, k, season))
    # for j <= season it is exactly values[origin + j - season]
    for i, o in enumerate(origins):
        for j in range(1, season + 1):
            if o + j - season >= 0:
                np.testing.assert_array_equal(seas[i, j - 1], values[o + j - season])
            else:
                assert np.isnan(seas[i, j - 1]).all()


def test_baseline_bad_inputs():
    v = np.zeros((5, 2))
    with pytest.raises(DataError):
        M.naive_forecast(v, [5], 1)
    with pytest.raises(DataError):
        M.naive_forecast(v, [-1], 1)
    with pytest.raises(DataError):
        M.naive_forecast(v, [0], 0)
    with pytest.raises(DataError):
        M.seasonal_naive_forecast(v, [0], 1, 0)
    assert M.naive_forecast(np.arange(5.0), [2], 3).shape == (1, 3, 1)


def test_infer_season():
    assert M.infer_season(pd.Timedelta("10min")) == 144
    assert M.infer_season(pd.Timedelta("1h")) == 24
    assert M.infer_season("30s") == 2880
    assert M.infer_season(pd.Timedelta("7min")) == 206  # 205.7 rounded
    assert M.infer_season(pd.Timedelta("2D")) == 1
    assert M.infer_season(None) == 144
    assert M.infer_season(None, default_steps=24) == 24
    for bad in (pd.Timedelta(0), pd.Timedelta("-1h"), "nonsense"):
        with pytest.raises(DataError):
            M.infer_season(bad)


# ------------------------------------------------------------------------------ evaluation


def _series(n=60, f=2, seed=2):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=(n, f)), axis=0) + 10.0


def _true_forecasts(values, origins, k, fill=1e6):
    """forecasts[i, j-1] = values[origins[i] + j]; `fill` where the target is outside."""
    n, f = values.shape
    out = np.full((len(origins), k, f), fill)
    for i, o in enumerate(origins):
        for j in range(1, k + 1):
            if o + j < n:
                out[i, j - 1] = values[o + j]
    return out


def test_evaluate_alignment():
    values = _series()
    origins = np.arange(10, 60)  # the last origins have targets outside the data
    k, season = 3, 6
    good = _true_forecasts(values, origins, k)
    res = M.evaluate_forecasts(values, origins, good, ["a", "b"], season)
    assert [s["step"] for s in res["steps"]] == [1, 2, 3]
    for step in res["steps"]:
        assert step["model"]["mae"] == 0.0
        assert step["model"]["smape"] == 0.0
        assert step["model"]["r2"] == 1.0
        assert step["naive"]["mae"] > 0
    assert res["model"] == res["steps"][0]["model"]
    assert res["mae_ratio_vs_naive"] == 0.0
    assert res["season"] == season
    json.dumps(res, allow_nan=False)

    # Forecasts shifted by one row (forecast of row t+j-1 reported for row t+j): not zero.
    shifted = np.full_like(good, 1e6)
    for i, o in enumerate(origins):
        for j in range(1, k + 1):
            if o + j < len(values):
                shifted[i, j - 1] = values[o + j - 1]
    res_s = M.evaluate_forecasts(values, origins, shifted, ["a", "b"], season)
    for step in res_s["steps"]:
        assert step["model"]["mae"] > 0


def test_evaluate_hand_example():
    values = np.array([1.0, 2.0, 4.0, 8.0])
    origins = np.array([0, 1, 2, 3])
    forecasts = np.array([[2.0, 5.0], [4.0, 8.0], [9.0, 0.0], [0.0, 0.0]])  # (m, k) single col
    res = M.evaluate_forecasts(values, origins, forecasts, ["x"], None)
    s1, s2 = res["steps"]
    assert s1["n"] == 3 and s2["n"] == 2
    # values are rounded to 6 significant digits, hence rel=1e-5
    assert s1["model"]["mae"] == pytest.approx(1 / 3, rel=1e-5)  # only row 3 (9 vs 8) is off
    assert s1["naive"]["mae"] == pytest.approx((1 + 2 + 4) / 3, rel=1e-5)
    assert s2["model"]["mae"] == pytest.approx(0.5)  # 5 vs 4, 8 vs 8
    assert s2["naive"]["mae"] == pytest.approx((3 + 6) / 2)
    assert s1["seasonal_naive"] is None and res["seasonal_naive"] is None
    assert res["mae_ratio_vs_naive"] == pytest.approx((1 / 3) / (7 / 3), rel=1e-5)


def test_evaluate_naive_as_model_ratio_one():
    values = _series(seed=3)
    origins = np.arange(0, 59)
    k = 4
    naive = M.naive_forecast(values, origins, k)
    res = M.evaluate_forecasts(values, origins, naive, ["a", "b"], 5)
    assert res["mae_ratio_vs_naive"] == 1.0
    for step in res["steps"]:
        assert step["model"] == step["naive"]


def test_evaluate_seasonal_restriction():
    values = _series(seed=4)
    n = len(values)
    origins = np.arange(0, n)
    k, season = 5, 8
    res = M.evaluate_forecasts(values, origins, _true_forecasts(values, origins, k),
                               ["a", "b"], season)
    for step in res["steps"]:
        j = step["step"]
        want = int(np.sum((origins + j < n) & (origins + j - season >= 0)))
        assert step["n"] == want
        assert step["model"]["n"] == step["naive"]["n"] == step["seasonal_naive"]["n"] == want
        assert step["model"]["mae"] == 0.0
    # Scored on the same rows: seasonal naive MAE equals an independent computation.
    j = 2
    rows = [(o, o + j) for o in origins if o + j < n and o + j - season >= 0]
    manual = np.mean([np.abs(values[t] - values[t - season]) for _, t in rows], axis=0)
    assert res["steps"][j - 1]["seasonal_naive"]["mae"] == pytest.approx(manual.mean(),
                                                                          rel=1e-5)


def test_evaluate_without_seasonal_rows_uses_all_targets():
    values = _series(n=20, seed=5)
    origins = np.arange(0, 10)
    res = M.evaluate_forecasts(values, origins, _true_forecasts(values, origins, 2),
                               ["a", "b"], 144)
    assert res["steps"][0]["n"] == 10
    assert res["seasonal_naive"] is None
    assert res["steps"][1]["seasonal_naive"] is None


def test_evaluate_edge_cases():
    values = _series(n=10, seed=6)
    # no origin has a target inside the data
    assert M.evaluate_forecasts(values, [9, 9], np.zeros((2, 3, 2)), ["a", "b"], 2) is None
    assert M.evaluate_forecasts(values, [], np.zeros((0, 3, 2)), ["a", "b"], 2) is None
    # a step with no target inside the data keeps its place in the list
    res = M.evaluate_forecasts(values, [7], np.zeros((1, 3, 2)), ["a", "b"], None)
    assert [s["n"] for s in res["steps"]] == [1, 1, 0]
    assert res["steps"][2]["model"] is None
    # zero naive error -> ratio None
    flat = np.ones((10, 1))
    res = M.evaluate_forecasts(flat, [0, 1], np.full((2, 1, 1), 2.0), ["c"], None)
    assert res["mae_ratio_vs_naive"] is None
    with pytest.raises(DataError):
        M.evaluate_forecasts(values, [0, 1], np.zeros((3, 2, 2)), ["a", "b"], 2)
    with pytest.raises(DataError):
        M.evaluate_forecasts(values, [0, 1], np.zeros((2, 2, 3)), ["a", "b"], 2)
    with pytest.raises(DataError):
        M.evaluate_forecasts(values, [0, 1], np.zeros((2, 2, 2)), ["a"], 2)
    with pytest.raises(DataError):
        M.evaluate_forecasts(values, [0, 10], np.zeros((2, 2, 2)), ["a", "b"], 2)


# ------------------------------------------------------------------------------ detection


def _loop_runs(mask):
    out, start = [], None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        if not m and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(mask) - 1))
    return out


def test_runs():
    assert M.runs([]) == []
    assert M.runs([0, 0]) == []
    assert M.runs([1, 1, 1]) == [(0, 2)]
    assert M.runs([True, False, True, True, False, True]) == [(0, 0), (2, 3), (5, 5)]
    rng = np.random.default_rng(7)
    for _ in range(20):
        mask = rng.random(50) < 0.4
        assert M.runs(mask) == _loop_runs(mask)
    assert all(type(x) is int for r in M.runs([0, 1]) for x in r)


def test_detection_metrics_crafted():
    #            0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16 17 18 19
    labels = [0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    flags = [0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0]
    # label events (2,4) (7,8) (12,12); alert events (1,1) (3,4) (10,11) (16,16)
    d = M.detection_metrics(labels, np.array(flags, dtype=bool))
    assert d["n"] == 20
    assert d["n_label_events"] == 3 and d["n_alert_events"] == 4
    assert d["precision"] == pytest.approx(2 / 6, rel=1e-5)
    assert d["recall"] == pytest.approx(2 / 6, rel=1e-5)
    assert d["f1"] == pytest.approx(2 / 6, rel=1e-5)
    assert d["event_recall"] == pytest.approx(1 / 3, rel=1e-5)
    assert d["false_alert_events"] == 3  # (1,1) (10,11) (16,16)
    assert d["false_alerts_per_1000"] == pytest.approx(150.0)
    assert d["mean_detection_delay"] == 1.0  # event (2,4) first flagged at 3
    assert d["n_detected_events"] == 1
    json.dumps(d, allow_nan=False)

    # max_delay: the only detection took 1 step
    assert M.detection_metrics(labels, flags, max_delay=1)["event_recall"] == pytest.approx(
        1 / 3, rel=1e-5)
    d0 = M.detection_metrics(labels, flags, max_delay=0)
    assert d0["event_recall"] == 0.0 and d0["mean_detection_delay"] is None


def test_detection_delays_and_overlap():
    labels = np.zeros(30, dtype=int)
    labels[5:10] = 1   # event A: flagged from 8 -> delay 3
    labels[15:18] = 1  # event B: alert 13..15 starts before, overlaps -> delay 0
    labels[25:27] = 1  # event C: missed
    flags = np.zeros(30, dtype=bool)
    flags[8:12] = True   # one alert event spanning the end of A: overlaps, not false
    flags[13:16] = True
    flags[20] = True     # false
    d = M.detection_metrics(labels, flags)
    assert d["n_label_events"] == 3 and d["n_alert_events"] == 3
    assert d["false_alert_events"] == 1
    assert d["event_recall"] == pytest.approx(2 / 3, rel=1e-5)
    assert d["mean_detection_delay"] == pytest.approx(1.5)  # (3 + 0) / 2
    assert d["precision"] == pytest.approx(3 / 8)  # 8, 9, 15 of 8 flagged points
    assert d["recall"] == pytest.approx(3 / 10)
    d2 = M.detection_metrics(labels, flags, max_delay=2)
    assert d2["event_recall"] == pytest.approx(1 / 3, rel=1e-5)
    assert d2["mean_detection_delay"] == 0.0


def test_detection_degenerate():
    none_flagged = M.detection_metrics([0, 1, 1, 0], [0, 0, 0, 0])
    assert none_flagged["precision"] == 0.0
    assert none_flagged["recall"] == 0.0 and none_flagged["f1"] == 0.0
    assert none_flagged["event_recall"] == 0.0
    assert none_flagged["mean_detection_delay"] is None
    assert none_flagged["n_alert_events"] == 0
    no_labels = M.detection_metrics([0, 0, 0, 0], [0, 1, 0, 1])
    assert no_labels["recall"] is None and no_labels["f1"] is None
    assert no_labels["event_recall"] is None
    assert no_labels["precision"] == 0.0
    assert no_labels["false_alert_events"] == 2
    assert no_labels["false_alerts_per_1000"] == 500.0
    with pytest.raises(DataError):
        M.detection_metrics([0, 1], [0, 1, 0])
    with pytest.raises(DataError):
        M.detection_metrics([], [])
    with pytest.raises(DataError):
        M.detection_metrics([0, 2], [0, 1])
    with pytest.raises(DataError):
        M.detection_metrics([0, 1], [0, 1], max_delay=-1)

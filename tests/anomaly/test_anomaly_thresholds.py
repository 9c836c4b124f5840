"""Thresholds: the four methods, Hundman et al.'s dynamic threshold, calibrated scores."""

import json
import math

import numpy as np
import pytest

from mods.errors import ConfigError, DataError
from mods.anomaly import thresholds as th


def clean_scores(n=3000, seed=0):
    """Step-score-like values: max over 5 columns of smoothed |t| noise."""
    rng = np.random.default_rng(seed)
    x = np.abs(rng.standard_t(4, size=(n + 5, 5)))
    x = np.cumsum(x, axis=0)
    x = (x[5:] - x[:-5]) / 5
    return x.max(axis=1)


@pytest.mark.parametrize("method", th.METHODS)
def test_each_method_gives_warning_below_critical_json_able(method):
    s = clean_scores()
    out = th.calibrate(s, method)
    assert out["method"] == method
    assert 0 < out["warning"] < out["critical"]
    assert np.quantile(s, 0.9) < out["warning"]  # above the bulk of clean scores
    assert json.loads(json.dumps(out)) == out


def test_quantile_method_tail_extrapolation():
    rng = np.random.default_rng(1)
    s = rng.exponential(1.0, 200000)
    # Exponential scores: the tail fit recovers the true quantile -log(1 - q).
    for q in (0.999, 0.9999):
        assert th.tail_quantile(s, q, 0.1) == pytest.approx(-np.log(1 - q), rel=0.05)
    small = s[:3000]
    assert th.tail_quantile(small, 0.9, 0.1) == pytest.approx(np.quantile(small, 0.9))
    assert th.tail_quantile(small, 0.999, 0.0) == pytest.approx(np.quantile(small, 0.999))
    out = th.quantile_thresholds(small, 0.99, 0.999, quantile_scale=2.0, quantile_tail=0.0)
    assert out["warning"] == pytest.approx(2 * np.quantile(small, 0.99))
    with pytest.raises(ConfigError):
        th.quantile_thresholds(small, 0.999, 0.99)


def test_ksigma_method():
    s = clean_scores()
    out = th.ksigma_thresholds(s, 3, 5)
    assert out["warning"] == pytest.approx(s.mean() + 3 * s.std())
    assert out["critical"] == pytest.approx(s.mean() + 5 * s.std())
    with pytest.raises(ConfigError):
        th.ksigma_thresholds(s, 5, 3)


def test_calibration_needs_data_and_a_known_method():
    with pytest.raises(DataError):
        th.calibrate([np.nan, 1.0], "quantile")
    with pytest.raises(ConfigError):
        th.calibrate(clean_scores(), "magic")


def toy_errors():
    rng = np.random.default_rng(7)
    e = 0.1 + 0.05 * rng.random(1000)
    e[500:506] = [0.6, 0.9, 1.0, 0.95, 0.8, 0.6]  # one clear anomaly
    return e


def test_hundman_epsilon_on_a_toy_example():
    e = toy_errors()
    eps, z = th.find_epsilon(e)
    assert 0.15 < eps < 0.6  # between the noise and the anomaly
    assert z in th.z_grid()
    res = th.hundman_anomalies(e)
    assert res["sequences"] == [(498, 507)]  # the anomaly widened by the buffer of 3
    assert res["mask"][500:506].all() and res["mask"].sum() == 10
    assert res["non_anomalous_max"] < 0.16


def test_hundman_picks_the_largest_z_without_anomaly_and_handles_constants():
    assert th.find_epsilon(np.ones(100)) == (1.0, 12.0)
    eps, z = th.find_epsilon(np.zeros(0))
    assert np.isnan(eps)


def test_pruning_rule():
    # sorted 10, 9.5, 5 then the non-anomalous max 1: drops 5 %, 47 %, 80 % -> keep all
    np.testing.assert_array_equal(th.prune_sequences([9.5, 10, 5], 1.0), [True, True, True])
    # nothing stands 13 % clear of the noise: everything pruned
    np.testing.assert_array_equal(th.prune_sequences([5.2, 5.0], 4.9), [False, False])
    # the second sequence is too close to the noise
    np.testing.assert_array_equal(th.prune_sequences([10, 5.2], 5.0), [True, False])
    assert th.prune_sequences([], 1.0).size == 0


def test_dynamic_thresholds_carry_the_pruning_rule():
    s = clean_scores()
    out = th.dynamic_thresholds(s)
    assert out["warning"] >= out["epsilon"]
    assert out["warning"] >= out["normal_max"] / (1 - 0.13) - 1e-12
    assert out["critical"] == pytest.approx(1.5 * out["warning"])
    # An anomaly inside the calibration data is recognised, not absorbed into the threshold.
    dirty = s.copy()
    dirty[1000:1010] += 40.0
    out2 = th.dynamic_thresholds(dirty)
    assert out2["anomalous_rows"] >= 10
    assert out2["warning"] < 40.0


def test_trailing_dynamic_thresholds_are_causal_and_floored():
    s = clean_scores(5000, seed=3)
    base = th.dynamic_thresholds(s[:2000])
    w, c = th.trailing_dynamic_thresholds(s, base, window=1000, stride=100)
    assert (w >= base["warning"]).all() and (c > w).all()
    s2 = s.copy()
    s2[3050:] *= 5.0  # noise level rises for good
    w2, _ = th.trailing_dynamic_thresholds(s2, base, window=1000, stride=100)
    np.testing.assert_array_equal(w2[:3100], w[:3100])
    assert w2[-1] > 2 * base["warning"]  # adapted: no alert for ever


def test_calibrated_score_mapping():
    w, c = 2.0, 3.0
    assert th.calibrated_score(w, w, c) == 0.5
    assert th.calibrated_score(c, w, c) == 0.75
    assert th.calibrated_score(0.0, w, c) == 0.0
    assert th.calibrated_score(np.nan, w, c) == 0.0
    grid = np.concatenate((np.linspace(0, 10, 1001), w * np.array([1e2, 1e4, 1e6, 1e8])))
    out = th.calibrated_score(grid, w, c)
    assert ((0 <= out) & (out < 1)).all()
    assert (np.diff(out) > 0).all()  # strictly increasing: no ties, even far above
    assert th.calibrated_score(np.inf, w, c) <= 1.0
    with pytest.raises(ConfigError):
        th.calibrated_score(1.0, 2.0, 2.0)


def test_levels():
    codes = th.level_codes(np.array([0.1, 2.0, 2.5, 3.0, np.nan]), 2.0, 3.0)
    assert codes.tolist() == [0, 1, 1, 2, 0]
    assert th.level_names(codes) == ["normal", "warning", "warning", "critical", "normal"]


def test_runs_helper():
    starts, ends = th.runs([0, 1, 1, 0, 1])
    assert starts.tolist() == [1, 4] and ends.tolist() == [2, 4]
    assert th.runs([])[0].size == 0


# ---------------------------------------------------------------------------- rate method
def test_event_peaks_decluster_like_the_alert_layer():
    s = np.zeros(100)
    s[[10, 11, 12, 14, 40, 41]] = [5, 7, 5, 6, 3, 4]  # 10-14: one event (gap 1), 40-41
    s[60] = np.nan  # missing: below any level
    peaks, rows = th.event_peaks(s, 1.0, merge_gap=3)
    assert peaks.tolist() == [7, 4] and rows.tolist() == [4, 2]
    peaks, rows = th.event_peaks(s, 1.0, merge_gap=0)  # three events: 3 + 1 + 2 rows
    assert peaks.tolist() == [7, 6, 4] and rows.tolist() == [3, 1, 2]
    assert th.event_peaks(s, 9.0)[0].size == 0


def test_event_level_interpolates_between_peaks_and_extrapolates_above():
    peaks = [2.0, 7.0, 4.0]
    assert th.event_level(peaks, 1, 1.0) == 7.0  # crossed by the highest peak only
    assert th.event_level(peaks, 2, 1.0) == 4.0
    assert th.event_level(peaks, 1.5, 1.0) == 5.5
    assert th.event_level(peaks, 10, 1.0) == 2.0  # more events than peaks: the lowest
    # below one event: the exponential tail of the peaks, one more scale per factor e
    assert th.event_level(peaks, 1 / math.e, 2.0) == pytest.approx(9.0)
    levels = [th.event_level(peaks, k, 1.0) for k in (0.1, 0.5, 1, 1.2, 2, 2.5, 3)]
    assert levels == sorted(levels, reverse=True)  # fewer events, a higher level


def test_rate_method_counts_the_calibration_rows_own_events():
    s = np.zeros(4000)
    s[[100, 900, 1700, 2500, 3300]] = [9.0, 8.0, 7.0, 6.0, 5.0]
    s[[101, 102]] = 9.0  # the 9 lasts three rows: still one event
    # 0.5 per 1,000 rows of 4,000 rows: 2 events, at the second highest peak
    out = th.rate_thresholds(s, false_alerts=0.5, quantile_tail=0.01)
    assert out["events"] == 2 and out["peaks"] == 5 and out["warning"] == 8.0
    assert out["event_rows"] == pytest.approx(7 / 5)
    # critical: 0.2 events, above the highest peak by the peaks' mean excess * log(5)
    assert out["critical"] == pytest.approx(9.0 + out["tail_scale"] * math.log(5))
    assert th.rate_thresholds(s, false_alerts=1.0, quantile_tail=0.01)["warning"] == 6.0
    assert th.rate_thresholds(s, quantile_tail=0)["warning"] == 9.0  # no events: the highest


def events_per_1000(scores, level, merge_gap=3):
    starts, ends = th.runs(scores >= level)
    if starts.size == 0:
        return 0.0
    events = 1 + np.count_nonzero(starts[1:] - ends[:-1] - 1 > merge_gap)
    return 1000.0 * events / scores.size


@pytest.mark.parametrize("budget", [0.5, 2.0])
def test_rate_method_raises_about_the_asked_number_of_alerts_on_unseen_scores(budget):
    out = th.calibrate(clean_scores(n=20000, seed=1), "rate", false_alerts=budget)
    assert out["method"] == "rate" and out["false_alerts"] == budget
    assert out["event_rows"] > 1.5  # the 5-row means come in clusters
    assert out["events"] == pytest.approx(budget * 20)  # 20,000 rows
    fresh = np.concatenate([clean_scores(n=20000, seed=s) for s in (2, 3, 4, 5, 6)])
    rate = events_per_1000(fresh, out["warning"])
    assert budget / 2.5 < rate < budget * 2.5, rate
    # the critical level is ten times rarer
    assert events_per_1000(fresh, out["critical"]) < rate / 3
    # a larger budget is a lower level
    assert th.calibrate(clean_scores(n=20000, seed=1), "rate",
                        false_alerts=budget * 4)["warning"] < out["warning"]


@pytest.mark.parametrize("bad", [{"false_alerts": 0}, {"false_alerts": -1},
                                 {"false_alerts": float("nan")}, {"merge_gap": -1}])
def test_rate_method_refuses_bad_parameters(bad):
    with pytest.raises(ConfigError):
        th.rate_thresholds(clean_scores(), **bad)

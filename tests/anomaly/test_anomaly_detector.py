"""Detector: fit/detect, NaN rows, causality, persistence, overrides, speed."""

import json

import numpy as np
import pytest

from mods.errors import ConfigError, DataError
from mods.anomaly.baselines import evaluate, synthetic_series
from mods.anomaly.detector import Detection, Detector, DetectorConfig


@pytest.fixture(scope="module")
def data():
    return synthetic_series(n_val=3000, n_test=6000, n_columns=5, seed=11)


@pytest.fixture(scope="module")
def detector(data):
    return Detector().fit(data["val_actual"], data["val_forecast"],
                          columns=["in", "out", "err", "drop", "cpu"])


def test_config_defaults_round_trip_and_validation():
    cfg = DetectorConfig()
    assert cfg.method == "rate" and cfg.false_alerts == 0.75 and cfg.smoothing == 12
    assert DetectorConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert DetectorConfig.from_dict({"smoothing": 6.0}).smoothing == 6
    for bad in ({"method": "magic"}, {"smoothing": -1}, {"smoothing": 2.5},
                {"k_warning": 5, "k_critical": 3}, {"quantile_warning": 0.9999},
                {"merge_gap": True}, {"nope": 1}, {"false_alerts": 0},
                {"false_alerts": "many"}, {"seasonal_days": -1}, {"season_rows": 1.5}):
        with pytest.raises(ConfigError):
            DetectorConfig.from_dict(bad)
    assert {row[0] for row in DetectorConfig.describe()} >= {"method", "smoothing"}
    # what a prediction may change: everything but the options fixed at fit time
    live = {row[0] for row in DetectorConfig.detect_time_options()}
    assert "method" in live and "mask_margin" in live and "quantile_warning" in live
    assert not live & {"smoothing", "horizons", "calibration_rounds", "joint", "sustained"}


def test_costly_settings_are_refused_with_the_setting_that_would_do():
    with pytest.raises(ConfigError, match="more than 1000 values: use a larger z_step"):
        DetectorConfig(z_min=0.0, z_max=100.0, z_step=0.05)
    DetectorConfig(z_min=0.0, z_max=100.0, z_step=0.2)  # 501 values
    cfg = DetectorConfig(method="dynamic", dynamic_window=2016, dynamic_stride=144)
    cfg.check_trailing_cost(100_000)  # 695 re-thresholdings of 2,016 scores
    with pytest.raises(ConfigError, match=r"use dynamic_stride >= 400 \(or a smaller window\)"):
        cfg.check_trailing_cost(2_000_000)
    DetectorConfig(method="dynamic", dynamic_window=2016,
                   dynamic_stride=400).check_trailing_cost(2_000_000)
    DetectorConfig(method="quantile", dynamic_window=2016,
                   dynamic_stride=1).check_trailing_cost(2_000_000)  # no trailing window


def test_detect_output_shapes_and_ranges(data, detector):
    found = detector.detect(data["actual"], data["forecast"])
    n, f = data["actual"].shape
    assert isinstance(found, Detection)
    assert found.scores.shape == (n,) and found.column_scores.shape == (n, f)
    assert len(found.levels) == n and found.flags.dtype == bool
    assert ((found.scores >= 0) & (found.scores <= 1)).all()
    assert ((found.column_scores >= 0) & (found.column_scores <= 1)).all()
    # the step score is the most deviating column's score; with the joint score it is at
    # least that (more where several columns deviate together)
    np.testing.assert_allclose(found.scores, found.column_scores.max(axis=1))
    joint = Detector(DetectorConfig(joint=True)).fit(data["val_actual"], data["val_forecast"])
    both = joint.detect(data["actual"], data["forecast"])
    assert (both.scores >= both.column_scores.max(axis=1) - 1e-12).all()
    assert (both.scores > both.column_scores.max(axis=1) + 1e-6).any()
    flagged = np.array([lv != "normal" for lv in found.levels])
    np.testing.assert_array_equal(flagged, found.scores >= 0.5)
    assert found.flags.sum() == flagged.sum()  # min_event_length=1: every flag is in an event
    crit = np.array([lv == "critical" for lv in found.levels])
    assert (found.scores[crit] >= 0.75).all()
    ok = np.isfinite(found.band_low).all(axis=1)
    assert (found.band_low[ok] < data["forecast"][ok]).all()
    assert (found.band_high[ok] > data["forecast"][ok]).all()
    json.dumps(found.to_dict())


def test_rows_without_forecast_score_zero(data, detector):
    found = detector.detect(data["actual"], data["forecast"])
    early = np.isnan(data["forecast"]).all(axis=1)
    assert early.sum() == 12
    assert (found.scores[early] == 0).all() and (found.column_scores[early] == 0).all()
    assert all(found.levels[i] == "normal" for i in np.flatnonzero(early))
    assert not found.flags[early].any()
    assert np.isnan(found.band_low[early]).all() and np.isnan(found.band_high[early]).all()
    assert np.isfinite(found.band_low[~early]).all()


def test_validation_rows_score_low_and_a_big_residual_high(data, detector):
    val = detector.detect(data["val_actual"], data["val_forecast"])
    assert np.median(val.scores) < 0.3
    assert np.mean(val.scores >= 0.5) < 0.005
    actual = data["val_forecast"][-200:].copy()
    actual[100:106, 3] += 30 * data["sigma"][3]
    found = detector.detect(actual, data["val_forecast"][-200:])
    assert found.scores[105] > 0.5 and found.levels[105] != "normal"
    assert found.events and found.events[0]["columns"][0]["name"] == "drop"


def test_detect_is_causal(data, detector):
    a, fc = data["actual"], data["forecast"]
    found = detector.detect(a, fc)
    a2 = a.copy()
    a2[3000:] *= 3.0
    later = detector.detect(a2, fc)
    np.testing.assert_array_equal(found.scores[:3000], later.scores[:3000])
    np.testing.assert_array_equal(found.column_scores[:3000], later.column_scores[:3000])
    assert found.levels[:3000] == later.levels[:3000]
    np.testing.assert_array_equal(found.band_low[:3000], later.band_low[:3000])
    dyn = {"method": "dynamic", "dynamic_window": 1000, "dynamic_stride": 100}
    np.testing.assert_array_equal(detector.detect(a, fc, config_overrides=dyn).scores[:3000],
                                  detector.detect(a2, fc, config_overrides=dyn).scores[:3000])


@pytest.mark.parametrize("method", ["rate", "quantile", "ksigma", "dynamic"])
def test_each_method_flags_the_incidents(data, method):
    det = Detector(DetectorConfig(method=method)).fit(data["val_actual"],
                                                      data["val_forecast"])
    assert det.thresholds["warning"] < det.thresholds["critical"]
    found = det.detect(data["actual"], data["forecast"])
    res = evaluate([(e["start"], e["end"]) for e in found.events], data["incidents"],
                   len(found.scores))
    assert res["recall"] >= 0.8, res
    assert res["recall_by_kind"]["outage"] == 1.0
    assert res["false_per_1000"] <= 5.0


def test_events_report_the_incident(data, detector):
    found = detector.detect(data["actual"], data["forecast"],
                            times=np.arange(len(data["actual"])) * 600)
    outage = next(i for i in data["incidents"] if i["kind"] == "outage")
    ev = next(e for e in found.events
              if e["start"] <= outage["end"] + 6 and e["end"] >= outage["start"])
    assert ev["direction"] == "drop" and ev["level"] == "critical"
    assert ev["start"] <= ev["peak_index"] <= ev["end"]
    assert ev["start_time"] == ev["start"] * 600
    assert 1 <= len(ev["columns"]) <= 3
    for col in ev["columns"]:
        assert col["name"] in ("in", "out", "err", "drop", "cpu")
        assert col["actual"] < col["expected_low"] < col["forecast"] < col["expected_high"]
        assert col["direction"] == "drop" and col["score"] >= 0.5
    spike = next(i for i in data["incidents"] if i["kind"] == "spike")
    ev = next(e for e in found.events
              if e["start"] <= spike["end"] + 6 and e["end"] >= spike["start"])
    assert ev["columns"][0]["index"] in spike["columns"]


def test_round_trip_gives_identical_detection(data, detector):
    state = json.loads(json.dumps(detector.to_dict()))
    again = Detector.from_dict(state)
    for overrides in (None, {"method": "dynamic", "merge_gap": 0}, {"method": "ksigma"}):
        x = detector.detect(data["actual"], data["forecast"], config_overrides=overrides)
        y = again.detect(data["actual"], data["forecast"], config_overrides=overrides)
        np.testing.assert_array_equal(x.scores, y.scores)
        np.testing.assert_array_equal(x.column_scores, y.column_scores)
        np.testing.assert_array_equal(x.band_low, y.band_low)
        np.testing.assert_array_equal(x.band_high, y.band_high)
        assert x.levels == y.levels and x.events == y.events
    assert Detector.from_json(detector.to_json()).thresholds == detector.thresholds
    with pytest.raises(ConfigError):
        Detector.from_dict({"version": 99})
    with pytest.raises(ConfigError):
        Detector.from_dict(dict(state, scorer={}))


def test_calibration_summary_says_when_the_budget_is_rough(data, detector):
    summary = detector.calibration_summary()  # 3,000 rows: 2.2 events at 0.75 per 1,000
    assert summary["method"] == "rate" and summary["calibration_rows"] <= 3000
    assert "2.2 alert events" in summary["note"] and "4000 rows or more" in summary["note"]
    roomy = Detector(DetectorConfig(false_alerts=2.0)).fit(data["val_actual"],
                                                          data["val_forecast"])
    assert "note" not in roomy.calibration_summary()  # 6 events: no note
    dyn = Detector(DetectorConfig(method="dynamic")).fit(data["val_actual"],
                                                         data["val_forecast"])
    assert dyn.calibration_summary()["method"] == "dynamic"
    assert "note" not in dyn.calibration_summary()


def test_overrides_recalibrate_and_fit_only_options_are_refused(data, detector):
    fresh = Detector(DetectorConfig(method="ksigma")).fit(data["val_actual"],
                                                         data["val_forecast"])
    over = detector.detect(data["actual"], data["forecast"],
                           config_overrides={"method": "ksigma"})
    direct = fresh.detect(data["actual"], data["forecast"])
    np.testing.assert_array_equal(over.scores, direct.scores)
    assert over.thresholds == fresh.thresholds
    assert detector.config.method == "rate"  # the override was for one call only
    with pytest.raises(ConfigError):
        detector.detect(data["actual"], data["forecast"], config_overrides={"smoothing": 3})
    with pytest.raises(ConfigError):
        detector.detect(data["actual"], data["forecast"], config_overrides={"bogus": 3})
    with pytest.raises(ConfigError):
        detector.detect(data["actual"], data["forecast"], config_overrides={"merge_gap": -2})


def test_data_errors(data, detector):
    with pytest.raises(DataError):
        detector.detect(data["actual"], data["forecast"][:, :4])
    with pytest.raises(DataError):
        detector.detect(data["actual"][:, :4], data["forecast"][:, :4])
    with pytest.raises(DataError):
        detector.detect(data["actual"], data["forecast"], times=[1, 2])
    with pytest.raises(DataError):
        detector.detect(data["actual"], data["forecast"], columns=["x"])
    with pytest.raises(DataError):
        Detector().fit(np.ones((10, 2)), np.full((10, 2), np.nan))
    with pytest.raises(DataError):
        Detector().fit(np.ones((10, 2)), np.ones((10, 3)))


def test_tiny_validation_still_fits(caplog):
    rng = np.random.default_rng(0)
    det = Detector().fit(rng.normal(size=(8, 2)), np.zeros((8, 2)))
    assert "only 8 validation rows" in caplog.text
    assert det.thresholds["warning"] >= 2.0  # the floor keeps it sane
    a = np.zeros((50, 2))
    a[30:40, 0] = 50.0
    found = det.detect(a, np.zeros((50, 2)))
    assert [e["start"] for e in found.events] == [30]
    with pytest.raises(ConfigError):
        Detector().detect(np.ones((10, 2)), np.ones((10, 2)))


def test_one_dimensional_input():
    rng = np.random.default_rng(0)
    det = Detector().fit(rng.normal(size=500), np.zeros(500))
    a = rng.normal(size=300)
    a[200:230] += 15
    found = det.detect(a, np.zeros(300))
    assert found.column_scores.shape == (300, 1)
    assert len(found.events) >= 1 and found.events[0]["direction"] == "spike"


def test_detect_on_a_long_wide_series():
    """50,000 rows x 10 columns of heavy-tailed noise: shapes hold and alerts stay rare.

    Speed is measured by bench/bench_detect.py, not here.
    """
    rng = np.random.default_rng(0)
    n, f = 50000, 10
    fc = 100 + np.zeros((n, f))
    actual = fc + rng.standard_t(4, size=(n, f))
    det = Detector().fit(actual[:3000], fc[:3000])
    out = det.detect(actual, fc)
    assert out.scores.shape == (n,) and out.column_scores.shape == (n, f)
    assert np.isfinite(out.scores).all()
    assert len(out.events) < n / 1000 * 5


def test_band_edge_is_the_sustained_warning_level(data, detector):
    fc = data["val_forecast"][-300:]
    found = detector.detect(fc, fc)
    col = 2
    actual = fc.copy()
    actual[:, col] = found.band_high[:, col]  # sit on the upper edge for good
    edge = detector.detect(actual, fc)
    assert edge.column_scores[-1, col] == pytest.approx(0.5, abs=1e-6)
    actual[:, col] = found.band_low[:, col]
    assert detector.detect(actual, fc).column_scores[-1, col] == pytest.approx(0.5, abs=1e-6)


def _blocks_series(seed, n_blocks, incidents=(), size=144):
    """Two columns of residual noise in ``n_blocks`` blocks of ``size`` rows, plus
    ``(start, length, shift)`` level shifts of the first column (unlabelled incidents)."""
    rng = np.random.default_rng(seed)
    n = n_blocks * size
    actual = 100 + rng.normal(0, 1, (n, 2))
    forecast = actual - rng.normal(0, 1, (n, 2))
    for start, length, shift in incidents:
        actual[start:start + length, 0] += shift
    return actual, forecast


def test_block_trim_leaves_out_the_blocks_of_unlabelled_incidents():
    incidents = [(3 * 144 + 30, 30, 8.0), (17 * 144 + 30, 30, 8.0)]
    actual, forecast = _blocks_series(0, 30, incidents)
    off = Detector(DetectorConfig(horizons="")).fit(actual, forecast)
    on = Detector(DetectorConfig(horizons="", block_trim=1.6)).fit(actual, forecast)
    assert off.noisy_fraction_ == 0.0
    assert on.noisy_fraction_ == pytest.approx(2 / 30)  # the two blocks, nothing else
    clean = Detector(DetectorConfig(horizons="", block_trim=1.6)).fit(*_blocks_series(0, 30))
    assert clean.noisy_fraction_ == 0.0
    again = Detector.from_json(on.to_json())
    assert again.config.block_trim == 1.6 and again.thresholds == on.thresholds


def test_block_trim_never_leaves_out_more_than_half_and_needs_enough_blocks():
    # a noise level that rises for good (20 of 30 blocks) is the norm, not 20 incidents
    lasting = [(b * 144, 144, 8.0) for b in range(10, 30)]
    det = Detector(DetectorConfig(horizons="", block_trim=1.6)).fit(
        *_blocks_series(1, 30, lasting))
    assert det.noisy_fraction_ <= 0.5
    few = Detector(DetectorConfig(horizons="", block_trim=1.6)).fit(
        *_blocks_series(2, 5, [(144 + 30, 30, 8.0)]))
    assert few.noisy_fraction_ == 0.0  # 5 blocks: too few to tell an incident apart
    with pytest.raises(ConfigError, match="block_rows"):
        DetectorConfig(block_rows=1)

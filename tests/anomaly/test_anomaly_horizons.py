"""Multi-horizon channels: forecasts, calibration, masking, persistence, config."""

import json

import numpy as np
import pytest

from mods.anomaly.detector import Detector, DetectorConfig, rescale_in_sample
from mods.anomaly.horizons import check_horizons, horizon_forecasts
from mods.dataset.windows import Transform, make_scaler
from mods.errors import ConfigError, DataError


def persistence(x, h):
    """Forecast of row t made at t - h by a persistence model: x[t - h]."""
    out = np.full(x.shape, np.nan)
    out[h:] = x[:-h]
    return out


def toy(n=6000, seed=0, shifts=(), amplitude=5.0):
    """Seasonal series with noise; ``shifts``: (start, length, size) level shifts."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    x = 100 + amplitude * np.sin(2 * np.pi * t / 144 + np.array([0.0, 1.0, 2.0])) \
        + rng.normal(size=(n, 3))
    for start, length, size in shifts:
        x[start:start + length, 0] += size
    return x


def fit_toy(horizons="6,72", amplitude=5.0, **cfg):
    x = toy(seed=1, amplitude=amplitude)
    extra = {h: persistence(x, h) for h in (6, 72)}
    det = Detector(DetectorConfig(horizons=horizons, **cfg)).fit(
        x, persistence(x, 1), extra=extra, context=12)
    return det


# ---------------------------------------------------------------------------- forecasts
def test_horizon_forecasts_iterate_the_one_step_model():
    x = np.cumsum(np.ones((50, 2)), axis=0) * np.array([1.0, 2.0])
    transform = Transform(model_delta=True, scaler=None)
    # a model that forecasts a change of +0.5 per row, whatever it sees
    infer = lambda w: np.full((w.shape[0], 1, w.shape[2]), 0.5, dtype=np.float32)  # noqa: E731
    out = horizon_forecasts(x, [3, 6], transform, infer, sequence_len=4)
    first = 4  # first origin: sequence_len - 1 + offset
    for h in (3, 6):
        assert np.isnan(out[h][:first + h]).all()
        np.testing.assert_allclose(out[h][first + h:], x[first:-h] + 0.5 * h)


def test_horizon_forecasts_use_the_multi_step_output_and_are_causal():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2)).cumsum(axis=0)
    transform = Transform(model_delta=False, scaler=None)

    def infer(w):  # k = 3 outputs: mean of the window, then twice that
        m = w.mean(axis=1)
        return np.stack([m, 2 * m, 3 * m], axis=1).astype(np.float32)

    out = horizon_forecasts(x, [2, 3, 5], transform, infer, sequence_len=5, steps_ahead=3)
    o = 10
    np.testing.assert_allclose(out[3][o + 3], 3 * x[o - 4:o + 1].mean(axis=0), rtol=1e-5)
    # the forecast of row t made at t - h never reads a row after t - h
    y = x.copy()
    y[40:] += 100.0
    again = horizon_forecasts(y, [2, 3, 5], transform, infer, sequence_len=5, steps_ahead=3)
    for h in (2, 3, 5):
        np.testing.assert_array_equal(out[h][:40 + h], again[h][:40 + h])


@pytest.mark.parametrize("model_delta", [True, False])
def test_horizon_forecasts_do_not_depend_on_the_chunk_of_origins(monkeypatch, model_delta):
    """Long series are iterated by chunks of origins (bounded memory): same numbers."""
    from mods.anomaly import horizons

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 3)).cumsum(axis=0)
    transform = Transform(model_delta=model_delta, scaler=make_scaler("minmax")).fit(x)

    def infer(w):  # a nonlinear one-step model
        return np.tanh(w[:, -3:].mean(axis=1, keepdims=True) * 1.3).astype(np.float32)

    whole = horizon_forecasts(x, [2, 6, 20], transform, infer, sequence_len=5)
    monkeypatch.setattr(horizons, "ITERATE_CHUNK", 7)
    chunked = horizon_forecasts(x, [2, 6, 20], transform, infer, sequence_len=5)
    for h in (2, 6, 20):
        assert np.isfinite(whole[h][40:]).all()
        np.testing.assert_array_equal(whole[h], chunked[h])


def counting_model():
    """A toy one-step model ``infer(windows)`` and the list of its call sizes."""
    calls = []

    def infer(w):
        calls.append(len(w))
        return np.tanh(w[:, -2:].mean(axis=1, keepdims=True)).astype(np.float32)

    return infer, calls


def test_horizon_memo_reuses_windows_and_stays_bounded():
    from mods.anomaly.horizons import HorizonMemo

    rng = np.random.default_rng(4)
    z = rng.normal(size=(230, 2)).cumsum(axis=0)
    x = z[:200]
    transform = Transform(model_delta=True, scaler=make_scaler("minmax")).fit(x)
    infer, calls = counting_model()

    fresh = horizon_forecasts(x, [6, 20], transform, infer, sequence_len=5)
    memo = HorizonMemo(1000)
    first = horizon_forecasts(x, [6, 20], transform, infer, sequence_len=5, memo=memo)
    origins = len(memo)
    assert origins > 150 and memo.misses == origins and memo.hits == 0
    calls.clear()
    again = horizon_forecasts(x, [6, 20], transform, infer, sequence_len=5, memo=memo)
    assert calls == [origins]  # the one-step call only: no recursion
    assert memo.hits == origins
    for h in (6, 20):
        np.testing.assert_array_equal(fresh[h], first[h])
        np.testing.assert_array_equal(fresh[h], again[h])
    # a sliding window: 30 rows older dropped, 30 new ones: only new windows are iterated
    calls.clear()
    later = horizon_forecasts(z[30:], [6, 20], transform, infer, sequence_len=5, memo=memo)
    assert memo.misses == origins + 30
    assert calls[1:] == [30] * 19  # the recursion: 20 - 1 steps over the 30 new windows
    whole = horizon_forecasts(z, [6, 20], transform, infer, sequence_len=5)
    for h in (6, 20):
        np.testing.assert_allclose(later[h][40:], whole[h][70:], rtol=1e-6)
    # bounded: the oldest entries go
    small = HorizonMemo(50)
    horizon_forecasts(x, [6, 20], transform, infer, sequence_len=5, memo=small)
    assert len(small) == 0  # more origins than it holds: not stored
    horizon_forecasts(x[:40], [6, 20], transform, infer, sequence_len=5, memo=small)
    horizon_forecasts(x[100:140], [6, 20], transform, infer, sequence_len=5, memo=small)
    assert len(small) == 50


def test_horizon_forecasts_take_the_outputs_the_caller_already_has():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(150, 2)).cumsum(axis=0)
    transform = Transform(model_delta=True, scaler=make_scaler("minmax")).fit(x)
    infer, calls = counting_model()

    fresh = horizon_forecasts(x, [4, 9], transform, infer, sequence_len=5)
    from mods.dataset import windows as W

    first = W.first_origin(5, transform.offset)
    series = transform.forward(x)
    every = infer(np.ascontiguousarray(
        W.origin_windows(series, np.arange(first, len(x)), 5, transform.offset)))
    calls.clear()
    reused = horizon_forecasts(x, [4, 9], transform, infer, sequence_len=5, outputs=every)
    assert calls == [len(x) - first - 4] * 8  # only the recursion's steps: no first call
    for h in (4, 9):
        np.testing.assert_array_equal(fresh[h], reused[h])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_window_keys_are_the_bytes_of_each_window_and_its_last_row(dtype):
    from mods.anomaly.horizons import _window_keys

    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 6, 3)).astype(dtype)[::2]  # not contiguous
    base = rng.normal(size=(20, 3))
    keys = _window_keys(x, base)
    assert keys == [w.tobytes() + b.tobytes() for w, b in zip(x, base)]
    assert len(set(keys)) == 20


def test_check_horizons():
    assert check_horizons("72, 6,6") == [6, 72]
    assert check_horizons("") == [] and check_horizons(None) == []
    for bad in ("1", "x", "6,0", [True]):
        with pytest.raises(ConfigError):
            check_horizons(bad)
    assert DetectorConfig(horizons=" 72,6 ").horizons == "6,72"
    with pytest.raises(ConfigError):
        DetectorConfig(horizons="3,one")
    with pytest.raises(ConfigError):
        DetectorConfig(mask_horizons="yes")


# ---------------------------------------------------------------------------- detection
def test_a_level_shift_the_one_step_forecast_follows_is_found_by_a_horizon_channel():
    det = fit_toy()
    assert det.horizons == [6, 72] and det.thresholds["warning"] > 0
    x = toy(n=3000, seed=2, shifts=[(1500, 300, 6.0)])
    extra = {h: persistence(x, h) for h in (6, 72)}
    found = det.detect(x, persistence(x, 1), extra=extra)
    hits = [e for e in found.events if 1490 <= e["start"] <= 1520]
    assert hits and hits[0]["horizon"] > 1, found.events
    # the one-step channel alone misses it
    alone = Detector(DetectorConfig(horizons="", seasonal_days=0)).fit(
        toy(seed=1), persistence(toy(seed=1), 1))
    assert not [e for e in alone.detect(x, persistence(x, 1)).events
                if 1490 <= e["start"] <= 1520]
    # few events on the clean part (3 with the column maxima alone, 5 with the joint score:
    # the toy's columns share their noise)
    assert len([e for e in found.events if e["end"] < 1400]) <= 5


def test_masking_drops_the_echo_when_the_incident_ends():
    det = fit_toy(amplitude=0.0)
    x = toy(n=3000, seed=3, shifts=[(1500, 10, 12.0)], amplitude=0.0)
    extra = {h: persistence(x, h) for h in (6, 72)}
    fc = persistence(x, 1)
    masked = det.detect(x, fc, extra=extra)
    echo = det.detect(x, fc, extra=extra, config_overrides={"mask_horizons": False})
    near = lambda found, lo, hi: [e for e in found.events if lo <= e["start"] <= hi]  # noqa
    assert near(masked, 1495, 1515) and near(echo, 1495, 1515)
    assert near(echo, 1560, 1590)  # the 72-row forecast made inside the incident
    assert not near(masked, 1560, 1590)


def test_detect_without_the_horizon_forecasts_uses_the_one_step_channel():
    det = fit_toy()
    x = toy(n=1000, seed=4, shifts=[(500, 6, 30.0)])
    found = det.detect(x, persistence(x, 1))
    assert [e for e in found.events if 495 <= e["start"] <= 510]
    with pytest.raises(DataError):
        det.detect(x, persistence(x, 1), extra={6: np.zeros((10, 3))})


@pytest.mark.parametrize("options", [{}, {"joint": True, "sustained": 24}])
def test_multi_channel_detection_is_causal_and_survives_a_round_trip(options):
    det = fit_toy(**options)
    x = toy(n=2000, seed=5, shifts=[(800, 40, 8.0)])
    extra = {h: persistence(x, h) for h in (6, 72)}
    fc = persistence(x, 1)
    found = det.detect(x, fc, extra=extra)
    assert (found.scores >= found.column_scores.max(axis=1) - 1e-12).all()
    y = x.copy()
    y[1200:] *= 2.0
    later = det.detect(y, persistence(y, 1), extra={h: persistence(y, h) for h in (6, 72)})
    np.testing.assert_array_equal(found.scores[:1200], later.scores[:1200])
    state = json.loads(json.dumps(det.to_dict()))
    assert state["version"] == 4
    channels = [(c["horizon"], c["span"], c["seasonal"]) for c in state["channels"]]
    # the seasonal channel comes last: a day of 144 rows (the default), EWMA span 24
    if options:  # + the sustained (rolling median) channel on the 72-row residuals
        assert channels == [(6, 6, False), (72, 24, False), (72, -24, False),
                            (144, 24, True)]
        assert state["joint_norm"] > 0 and all(c["joint_norm"] > 0 for c in state["channels"])
    else:
        assert channels == [(6, 6, False), (72, 24, False), (144, 24, True)]
        assert state["joint_norm"] is None
    assert state["season"] == 144 and det.horizons == [6, 72]
    again = Detector.from_dict(state)
    other = again.detect(x, fc, extra=extra)
    np.testing.assert_array_equal(found.scores, other.scores)
    assert found.events == other.events
    with pytest.raises(ConfigError):
        det.detect(x, fc, extra=extra, config_overrides={"horizons": "6"})
    with pytest.raises(ConfigError):
        Detector.from_dict(dict(state, channels=[dict(state["channels"][0], norm=0)]))


def test_a_version_1_state_still_loads():
    x = toy(n=2000, seed=6)
    det = Detector(DetectorConfig(horizons="", calibration_rounds=0, joint=False,
                                  seasonal_days=0)).fit(x, persistence(x, 1))
    state = det.to_dict()
    old = {k: state[k] for k in ("config", "scorer", "thresholds", "calibration_scores",
                                 "columns")}
    old["version"] = 1
    del old["config"]["horizons"], old["config"]["calibration_rounds"]
    for name in ("mask_horizons", "joint", "sustained", "seasonal_days",
                 "seasonal_min_days", "season_rows"):
        del old["config"][name]
    loaded = Detector.from_dict(old)
    assert loaded.horizons == []
    np.testing.assert_array_equal(loaded.detect(x, persistence(x, 1)).scores,
                                  det.detect(x, persistence(x, 1)).scores)


# ---------------------------------------------------------------------------- calibration
def test_in_sample_residuals_take_the_out_of_sample_spread():
    rng = np.random.default_rng(0)
    r = np.vstack([rng.normal(0, 1, (3000, 2)), rng.normal(5, 2, (1000, 2))])
    out = rescale_in_sample(r, np.arange(4000) < 3000)
    assert np.std(out[:3000], axis=0) == pytest.approx([2, 2], rel=0.1)
    assert np.median(out[:3000], axis=0) == pytest.approx([5, 5], abs=0.2)
    np.testing.assert_array_equal(out[3000:], r[3000:])
    np.testing.assert_array_equal(rescale_in_sample(r[:40], np.arange(40) < 20), r[:40])


def test_calibration_rounds_resist_incidents_in_the_calibration_rows():
    rng = np.random.default_rng(7)
    t = np.arange(6000)[:, None]
    signal = 100 + 5 * np.sin(2 * np.pi * t / 144 + np.array([0.0, 1.0, 2.0]))
    clean = signal + rng.normal(size=signal.shape)
    x = clean.copy()
    for start in (1000, 3000, 5000):  # three large incidents among the calibration rows
        x[start:start + 20, 0] += 30.0
    ref = Detector(DetectorConfig(horizons="")).fit(clean, signal)
    plain = Detector(DetectorConfig(horizons="", calibration_rounds=0)).fit(x, signal)
    robust = Detector(DetectorConfig(horizons="")).fit(x, signal)
    assert ref.trimmed_fraction_ == 0.0  # clean rows hardly reach the critical level
    assert 0.01 < robust.trimmed_fraction_ < 0.1
    assert plain.thresholds["warning"] > 5 * ref.thresholds["warning"]
    assert robust.thresholds["warning"] == pytest.approx(ref.thresholds["warning"], rel=0.1)

"""The seasonal channel: the median of the same time of day over the previous days."""

import json

import numpy as np
import pytest

from mods.anomaly.detector import Detector, DetectorConfig
from mods.anomaly.seasonal import seasonal_expectation
from mods.errors import ConfigError


def daily(n=144 * 20, seed=0, season=144):
    """Three columns with a daily cycle and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    return 100 + 20 * np.sin(2 * np.pi * t / season + np.array([0.0, 1.0, 2.0])) \
        + rng.normal(size=(n, 3))


def follower(x):
    """A one-step forecast that follows the series (persistence): it adapts to any change
    after one row, as the default model does to a slow ramp."""
    out = np.full(x.shape, np.nan)
    out[1:] = x[:-1]
    return out


# ---------------------------------------------------------------------------- expectation
def test_expectation_is_the_median_of_the_previous_days_same_row():
    x = np.arange(40, dtype=float).reshape(20, 2)
    out = seasonal_expectation(x, season=4, days=3, min_days=2)
    assert np.isnan(out[:8]).all()  # fewer than 2 previous days
    np.testing.assert_array_equal(out[8], np.median([x[4], x[0]], axis=0))
    np.testing.assert_array_equal(out[19], np.median([x[15], x[11], x[7]], axis=0))
    # one previous day is enough with min_days=1; only `days` days are read
    assert np.isfinite(seasonal_expectation(x, 4, 3, 1)[4:]).all()
    # a later chunk alone (a stream) gives the same values as the whole series
    np.testing.assert_array_equal(seasonal_expectation(x, 4, 3, 2, start=13), out[13:])
    np.testing.assert_array_equal(seasonal_expectation(x[13 - 12:], 4, 3, 2, start=12),
                                  out[13:])


def test_expectation_is_causal_ignores_gaps_and_resists_one_bad_day():
    x = daily(n=144 * 9)
    base = seasonal_expectation(x, 144, 7, 3)
    y = x.copy()
    y[1000:] *= 3.0
    np.testing.assert_array_equal(seasonal_expectation(y, 144, 7, 3)[:1000 + 144],
                                  base[:1000 + 144])
    z = x.copy()
    z[144 * 7 + 10, 0] = np.nan  # a missing value is left out of the median
    assert np.isfinite(seasonal_expectation(z, 144, 7, 3)[144 * 8 + 10, 0])
    w = x.copy()
    w[144 * 7: 144 * 8] += 500.0  # yesterday was an incident all day
    today = slice(144 * 8, 144 * 9)
    assert np.abs(seasonal_expectation(w, 144, 7, 3)[today] - x[today]).max() < 10


@pytest.mark.parametrize("args", [(0, 7, 3), (144, -1, 3), (144, 7, 0), (144.5, 7, 3),
                                  (True, 7, 3)])
def test_bad_parameters_are_refused(args):
    with pytest.raises(ConfigError):
        seasonal_expectation(np.zeros((10, 1)), *args)


# ---------------------------------------------------------------------------- detector
def test_a_slow_ramp_the_forecast_follows_is_found_by_the_seasonal_channel():
    x = daily(seed=1)
    ramp = daily(seed=2)
    # a slow ramp up and back over twenty hours
    ramp[2000:2120, 1] += np.concatenate([np.linspace(0, 40, 60), np.linspace(40, 0, 60)])
    # the quantile method's level (stricter than the default): the channel is under test
    det = Detector(DetectorConfig(horizons="", method="quantile")).fit(x, follower(x))
    assert [ch["seasonal"] for ch in det.channels] == [True]
    assert det.horizons == [] and det.season_ == 144
    found = det.detect(ramp, follower(ramp))
    hits = [e for e in found.events if 2000 <= e["start"] <= 2120]
    # found on its way up, by the seasonal channel, above the normal rows' few alerts
    assert hits and hits[0]["start"] < 2030 and hits[0]["horizon"] == 144, found.events
    before = [e["peak_score"] for e in found.events if e["start"] < 1900]
    assert len(before) <= 2 and hits[0]["peak_score"] > max(before, default=0)
    # without it, the one-step residuals of a forecast that follows see the turn at most
    alone = Detector(DetectorConfig(horizons="", method="quantile", seasonal_days=0)).fit(
        x, follower(x))
    assert alone.channels == []
    late = [e for e in alone.detect(ramp, follower(ramp)).events if 2000 <= e["start"] <= 2120]
    assert all(e["start"] >= 2060 and e["peak_score"] < hits[0]["peak_score"] for e in late)


def test_the_season_follows_the_data_and_the_state_round_trips():
    x = daily(n=288 * 12, season=288)  # 5-minute rows: 288 in a day
    det = Detector(DetectorConfig(horizons="")).fit(x, follower(x), season=288)
    assert det.season_ == 288 and det.channels[-1]["seasonal"]
    fixed = Detector(DetectorConfig(horizons="", season_rows=144)).fit(x, follower(x),
                                                                       season=288)
    assert fixed.season_ == 144  # season_rows wins over the data's time step
    state = json.loads(json.dumps(det.to_dict()))
    assert state["season"] == 288 and state["channels"][-1]["seasonal"] is True
    again = Detector.from_dict(state)
    np.testing.assert_array_equal(again.detect(x, follower(x)).scores,
                                  det.detect(x, follower(x)).scores)
    with pytest.raises(ConfigError):
        Detector.from_dict(dict(state, season=None))
    with pytest.raises(ConfigError):
        det.detect(x, follower(x), config_overrides={"seasonal_days": 3})


def test_too_short_a_calibration_leaves_the_channel_out():
    x = daily(n=144 * 3 + 50)  # 50 rows after 3 days: fewer than 100 calibration rows
    det = Detector(DetectorConfig(horizons="")).fit(x, follower(x))
    assert det.channels == []
    longer = daily(n=144 * 4)
    assert Detector(DetectorConfig(horizons="")).fit(longer, follower(longer)).channels
    # a day of one row (daily data) is no season
    assert Detector(DetectorConfig(horizons="", season_rows=1)).fit(
        longer, follower(longer)).channels == []


def test_a_state_from_before_the_seasonal_channel_loads_without_it():
    x = daily(seed=3)
    det = Detector(DetectorConfig(horizons="", seasonal_days=0)).fit(x, follower(x))
    state = det.to_dict()
    state["version"] = 3
    del state["season"]
    for name in ("seasonal_days", "seasonal_min_days", "season_rows"):
        del state["config"][name]
    old = Detector.from_dict(state)
    assert old.config.seasonal_days == 0 and old.channels == []
    np.testing.assert_array_equal(old.detect(x, follower(x)).scores,
                                  det.detect(x, follower(x)).scores)

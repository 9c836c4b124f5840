"""Residual scorer: robust normalisation, EWMA, causality, rolling z-score baseline."""

import numpy as np
import pytest

from mods.errors import ConfigError, DataError
from mods.anomaly.scorers import (ResidualScorer, combine_columns, ewma, rolling_zscore,
                                  rolling_zscore_baseline)


def ewma_loop(x, span, initial):
    a = 2.0 / (span + 1.0)
    out = np.empty_like(x)
    state = np.asarray(initial, dtype=float)
    for t in range(x.shape[0]):
        state = a * x[t] + (1 - a) * state
        out[t] = state
    return out


@pytest.mark.parametrize("span", [2, 3, 12, 500])
def test_ewma_matches_the_recursion_over_many_blocks(span):
    rng = np.random.default_rng(span)
    x = np.abs(rng.standard_t(3, size=(7000, 3))) * [1.0, 1e6, 1e-6]
    got = ewma(x, span, initial=[0.5, 2e5, 1e-7])
    np.testing.assert_allclose(got, ewma_loop(x, span, [0.5, 2e5, 1e-7]), rtol=1e-9,
                               atol=0)


def test_ewma_off_and_1d():
    x = np.arange(5.0)
    np.testing.assert_array_equal(ewma(x, 1), x)
    np.testing.assert_array_equal(ewma(x, 0), x)
    np.testing.assert_allclose(ewma(x, 3), ewma_loop(x[:, None], 3, [0.0])[:, 0])
    with pytest.raises(ConfigError):
        ewma(x, -1)
    with pytest.raises(ConfigError):
        ewma(x, 2.5)


def test_normalisation_on_validation_residuals():
    rng = np.random.default_rng(0)
    scale = np.array([1e-3, 1.0, 1e6])
    resid = rng.normal(0.5, 1.0, size=(4000, 3)) * scale  # biased forecast
    scorer = ResidualScorer().fit(resid)
    np.testing.assert_allclose(scorer.centre_, 0.5 * scale, rtol=0.1)
    np.testing.assert_allclose(scorer.spread_, scale, rtol=0.1)
    fresh = rng.normal(0.5, 1.0, size=(4000, 3)) * scale
    abs_z, signed = scorer.raw(fresh)
    # |N(0, 1)| has median 0.674: clean residuals score low, whatever the column's unit.
    np.testing.assert_allclose(np.median(abs_z, axis=0), 0.674, atol=0.06)
    np.testing.assert_allclose(abs_z, np.abs(signed))
    big = np.array([[0.5, 0.5, 0.5 + 12.0]]) * scale
    z, s = scorer.raw(big)
    assert z[0, 2] > 10 and s[0, 2] > 0
    assert scorer.raw(-big)[1][0, 2] < -10  # the sign keeps the direction


def test_spread_floor_for_constant_and_mostly_constant_columns():
    resid = np.zeros((500, 3))
    resid[::50, 1] = 1.0  # mostly zero: MAD is 0, mean absolute deviation is not
    actual = np.full((500, 3), 200.0)
    scorer = ResidualScorer().fit(resid, actual)
    assert scorer.spread_[0] == pytest.approx(200.0 * 1e-3)  # floor: 0.1 % of magnitude
    assert scorer.spread_[1] == pytest.approx(max(0.02 * 1.2533, 0.2))
    z, _ = scorer.raw(np.array([[0.01, 0.0, 0.0]]))
    assert np.isfinite(z).all() and z[0, 0] == pytest.approx(0.05)


def test_step_score_is_the_max_over_columns_and_nan_rows_stay_nan():
    cs = np.array([[0.1, 2.0], [np.nan, 1.0], [np.nan, np.nan]])
    np.testing.assert_array_equal(combine_columns(cs), [2.0, 1.0, np.nan])
    cs = np.array([[np.nan, -np.inf, np.nan], [3.0, np.nan, 5.0], [np.nan, np.nan, -1.0]])
    np.testing.assert_array_equal(combine_columns(cs), [-np.inf, 5.0, -1.0])
    np.testing.assert_array_equal(combine_columns(np.array([1.0, np.nan])), [1.0, np.nan])


def test_scores_are_causal():
    rng = np.random.default_rng(1)
    scorer = ResidualScorer(smoothing=12).fit(rng.normal(size=(1000, 4)))
    r = rng.normal(size=(600, 4))
    base = scorer.column_scores(r)
    r2 = r.copy()
    r2[400:] += 50.0
    r2[450, 2] = np.nan
    changed = scorer.column_scores(r2)
    np.testing.assert_array_equal(base[:400], changed[:400])
    assert (changed[400:450] > base[400:450]).all()
    assert np.isnan(changed[450, 2])


def test_smoothing_rewards_sustained_errors():
    rng = np.random.default_rng(2)
    val = rng.normal(size=(2000, 1))
    raw = ResidualScorer(smoothing=1).fit(val)
    smooth = ResidualScorer(smoothing=12).fit(val)
    r = rng.normal(size=(300, 1))
    r[200:260] += 3.0  # sustained 3-sigma offset
    noise_raw = raw.column_scores(r)[:200].max()
    noise_smooth = smooth.column_scores(r)[:200].max()
    assert smooth.column_scores(r)[250, 0] / noise_smooth > raw.column_scores(r)[250, 0] \
        / noise_raw * 0.9
    assert noise_smooth < noise_raw


def test_round_trip_and_errors():
    rng = np.random.default_rng(3)
    scorer = ResidualScorer(smoothing=6).fit(rng.normal(size=(100, 2)))
    again = ResidualScorer.from_dict(scorer.to_dict())
    r = rng.normal(size=(50, 2))
    np.testing.assert_array_equal(again.column_scores(r), scorer.column_scores(r))
    with pytest.raises(DataError):
        scorer.column_scores(np.zeros((5, 3)))
    with pytest.raises(DataError):
        ResidualScorer().fit(np.full((10, 1), np.nan))
    with pytest.raises(ConfigError):
        ResidualScorer().column_scores(r)
    with pytest.raises(ConfigError):
        ResidualScorer.from_dict({"smoothing": 1})


def test_rolling_zscore_matches_a_loop_and_is_causal():
    rng = np.random.default_rng(4)
    x = 1e9 + rng.normal(size=(300, 2)) * [1.0, 100.0]
    x[37, 1] = np.nan
    z = rolling_zscore(x, window=20)
    for t in (5, 25, 38, 120, 299):
        for j in range(2):
            past = x[max(0, t - 20):t, j]
            past = past[np.isfinite(past)]
            if np.isnan(x[t, j]):
                assert np.isnan(z[t, j])
                continue
            expect = (x[t, j] - past.mean()) / past.std(ddof=1)
            assert z[t, j] == pytest.approx(expect, rel=1e-6)
    assert np.isnan(z[:4]).all()  # fewer than window // 4 past rows
    x2 = x.copy()
    x2[200:] += 1e6
    np.testing.assert_array_equal(rolling_zscore(x2, 20)[:200], z[:200])


def test_rolling_zscore_baseline_flags_a_spike():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1000, 3))
    x[600, 1] += 12.0
    flags = rolling_zscore_baseline(x, window=144, k=4.0)
    assert flags.dtype == bool and flags.shape == (1000,)
    assert flags[600]
    assert flags.sum() <= 5
    with pytest.raises(ConfigError):
        rolling_zscore_baseline(x, k=0)
    with pytest.raises(ConfigError):
        rolling_zscore_baseline(x, window=1)


def test_surprise_puts_heavy_tailed_columns_on_the_same_scale():
    rng = np.random.default_rng(6)
    n = 4000
    light = rng.normal(size=n)
    heavy = rng.normal(size=n)
    # Normal bursts on 8 % of rows: a heavy tail.  (The median excess over the 95th
    # percentile sees tail mass above 2.5 %; rarer bursts are left to the thresholds.)
    bursts = rng.random(n) < 0.08
    heavy[bursts] += rng.exponential(12.0, bursts.sum())
    scorer = ResidualScorer(column_tail=0.05).fit(np.column_stack([light, heavy]))
    plain = ResidualScorer(column_tail=0).fit(np.column_stack([light, heavy]))
    test = np.array([[6.0, 0.0], [0.0, 12.0]])  # 6 sigma on the light column, a burst
    s = scorer.column_scores(test)
    p = plain.column_scores(test)
    assert p[1, 1] > p[0, 0]  # without the surprise the normal burst looks worse
    assert s[0, 0] > s[1, 1]  # with it, the light column's deviation stands out
    z = np.linspace(0, 30, 301)[:, None] * np.ones(2)
    sz = scorer.surprise(z)
    assert (np.diff(sz, axis=0) > 0).all()  # continuous and increasing
    np.testing.assert_allclose(scorer.inverse_surprise(sz), z, atol=1e-9)
    np.testing.assert_array_equal(plain.surprise(z), z)

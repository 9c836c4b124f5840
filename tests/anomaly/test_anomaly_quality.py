"""Quality on the synthetic incident benchmark (heavy-tailed, autocorrelated residuals).

Targets for the default configuration, without per-data-set tuning: event recall >= 0.9
with at most 1 false alert event per 1,000 steps.  ``python -m mods.anomaly.baselines``
prints the full table (every method, per incident kind, the rolling z-score baseline).

The detectors calibrate on 4,464 rows, what a month of 10-minute rows gives a trained
model's calibration.  With 3,000 rows the default ``rate`` method's budget rests on 2.2
events and its false alerts spread more (10 seeds: mean 1.00, one seed 2.95 per 1,000 steps;
with 4,464 rows 0.73, at most 1.45); a training on so few rows says so in its report.
"""

import numpy as np
import pytest

from mods.anomaly.baselines import INCIDENT_KINDS, benchmark, evaluate, synthetic_series


@pytest.fixture(scope="module")
def results():
    return benchmark(methods=("rate", "quantile", "ksigma", "dynamic"), seeds=range(4),
                     n_test=20000, n_val=4464)


def test_default_meets_the_targets(results, capsys):
    with capsys.disabled():
        for name, r in results.items():
            print("\n%-30s recall %.3f  false alerts/1000 steps %.3f" % (
                name, r["recall"], r["false_per_1000"]), end="")
        print()
    r = results["rate"]  # the default method, budget 0.75 false alerts per 1,000 rows
    assert r["recall"] >= 0.9, r
    assert r["false_per_1000"] <= 1.0, r
    assert r["max_false_per_1000"] <= 1.5, r
    for kind in INCIDENT_KINDS:
        assert r["recall_by_kind"][kind] >= 0.8, (kind, r)


def test_other_methods_trade_recall_for_false_alerts(results):
    assert results["ksigma"]["recall"] >= 0.95  # 3/5 sigma: sensitive, noisy
    # the quantile tail fit: a little more recall here, for more false alerts
    assert results["quantile"]["recall"] >= 0.9
    assert results["quantile"]["false_per_1000"] >= results["dynamic"]["false_per_1000"]
    # Hundman's dynamic threshold: above the calibration's largest scores, conservative
    assert results["dynamic"]["recall"] >= 0.9
    assert results["dynamic"]["false_per_1000"] < results["rate"]["false_per_1000"]
    # The model-free baseline cannot see through daily seasonality.
    baseline = [v for k, v in results.items() if k.startswith("rolling_zscore")][0]
    assert baseline["recall"] < results["rate"]["recall"]


def test_synthetic_series_and_evaluate():
    d = synthetic_series(n_val=500, n_test=3000, n_columns=2, seed=0)
    assert d["val_actual"].shape == (500, 2) and d["actual"].shape == (3000, 2)
    assert np.isnan(d["forecast"][:12]).all() and np.isfinite(d["actual"]).all()
    kinds = {i["kind"] for i in d["incidents"]}
    assert kinds == set(INCIDENT_KINDS)
    inc = d["incidents"]
    res = evaluate([(inc[0]["start"], inc[0]["end"]), (0, 1)], inc, 3000)
    assert res["recall"] == pytest.approx(1 / len(inc)) and res["false_events"] == 1
    assert res["false_per_1000"] == pytest.approx(1000 / 3000)

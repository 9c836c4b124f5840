"""bench/ceiling.py: the reference ceiling of event recall on generated data."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mods.dataset.generate import generate_with_incidents

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def ceil():
    spec = importlib.util.spec_from_file_location("ceiling", BENCH / "ceiling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _series(rng, n=3000, bursts=(), incidents=(), column=1, f=2):
    """Expected level 100 with 1 % noise; bursts (unlabelled, column 0) and incidents
    (labelled, in ``column``)."""
    expected = np.full((n, f), 100.0)
    actual = expected * (1 + 0.01 * rng.standard_normal((n, f)))
    labels = np.zeros(n, dtype=int)
    for start, size in bursts:
        actual[start:start + 3, 0] *= 1 + size
    kinds = []
    for start, size in incidents:
        actual[start:start + 3, column] *= 1 + size
        labels[start:start + 3] = 1
        kinds.append("spike")
    return actual, expected, labels, kinds


def test_incidents_larger_than_every_burst_are_all_found(ceil):
    rng = np.random.default_rng(0)
    series = [_series(rng, bursts=[(500, 0.5), (1500, 0.6)], incidents=[(1000, 2.0), (2500, 1.5)])
              for _ in range(3)]
    got = ceil.ceiling(series, max_false_per_1000=0.0)
    assert got["event_recall"] == 1.0
    assert got["false_alerts_per_1000"] == 0.0
    assert got["label_events"] == 6
    assert got["recall_by_type"] == {"spike": 1.0}


def test_incidents_smaller_than_the_bursts_cannot_be_found_without_false_alerts(ceil):
    rng = np.random.default_rng(1)
    series = [_series(rng, bursts=[(300 * i, 1.0) for i in range(1, 9)],
                      incidents=[(2800, 0.3)], column=0, f=1) for _ in range(2)]
    strict = ceil.ceiling(series, max_false_per_1000=0.0)
    assert strict["event_recall"] == 0.0
    loose = ceil.ceiling(series, max_false_per_1000=10.0)  # every burst may alert
    assert loose["event_recall"] == 1.0
    assert 0 < loose["false_alerts_per_1000"] <= 10.0
    # the same incidents in a quiet column stand out of that column's own noise
    quiet = [_series(rng, bursts=[(300 * i, 1.0) for i in range(1, 9)],
                     incidents=[(2800, 0.3)], column=1) for _ in range(2)]
    assert ceil.ceiling(quiet, max_false_per_1000=0.0)["event_recall"] == 1.0


def test_long_small_deviations_count_through_the_rolling_means(ceil):
    dev = ceil.deviations(np.full((50, 1), 110.0), np.full((50, 1), 100.0))
    assert set(dev) == set(ceil.WINDOWS)
    for values in dev.values():
        np.testing.assert_allclose(values, 0.1)
    # causal: a change at row 40 leaves the rolling means of earlier rows alone
    actual = np.full((50, 1), 100.0)
    actual[40:] = 200.0
    dev = ceil.deviations(actual, np.full((50, 1), 100.0))
    assert (dev[36][:40] == 0).all() and dev[36][40, 0] == pytest.approx(1 / 36)


def test_the_generated_expected_series_differs_only_by_its_bursts():
    with_bursts, inc = generate_with_incidents(n_rows=2000, seed=5, incidents=None)
    without, _ = generate_with_incidents(n_rows=2000, seed=5, incidents=None, bursts=False)
    assert inc == []
    for column in ("conn_in", "conn_out", "dns_in_distinct", "ssh_in"):
        lower = without[column].to_numpy() <= with_bursts[column].to_numpy()
        same = without[column].to_numpy() == with_bursts[column].to_numpy()
        assert lower.all(), column
        assert 0.5 < same.mean() < 0.99, column  # bursts touch some rows, not all
    labelled, _ = generate_with_incidents(n_rows=2000, seed=5)
    labelled_nb, _ = generate_with_incidents(n_rows=2000, seed=5, bursts=False)
    assert (labelled["label"] == labelled_nb["label"]).all()

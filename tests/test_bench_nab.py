"""bench/bench_nab.py's scoring: NAB windows to rows, found windows and false alert events."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def nab():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_nab", BENCH / "bench_nab.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


def test_windows_become_row_spans_by_timestamp(nab, tmp_path):
    (tmp_path / "data" / "cat").mkdir(parents=True)
    times = pd.date_range("2015-01-01", periods=10, freq="5min")
    pd.DataFrame({"timestamp": times.strftime("%Y-%m-%d %H:%M:%S"),
                  "value": np.arange(10.0)}).to_csv(tmp_path / "data" / "cat" / "s.csv",
                                                     index=False)
    windows = {"cat/s.csv": [["2015-01-01 00:10:00.000000", "2015-01-01 00:20:00.000000"],
                             ["2016-01-01 00:00:00.000000", "2016-01-02 00:00:00.000000"]]}
    values, spans = nab.load_series(tmp_path, "cat/s.csv", windows)
    assert values.shape == (10, 1) and values[3, 0] == 3.0
    assert spans == [(2, 4)]  # rows 00:10..00:20; a window outside the series is dropped


def test_event_figures_count_found_windows_and_false_alerts_after_the_training_rows(nab):
    n, lo = 40, 10
    spans = [(6, 12), (15, 18), (30, 33)]  # the first one starts in the training rows
    alerts = np.zeros(n, dtype=bool)
    alerts[3:5] = True  # in the training rows: not counted
    alerts[11:13] = True  # overlaps the uncounted window: neither found nor false
    alerts[17:20] = True  # overlaps the second window: found
    alerts[24:26] = True  # overlaps nothing: false alert
    alerts[38:40] = True  # false alert
    found, windows, false, rows = nab.event_figures(alerts, spans, lo, n)
    assert (found, windows, false, rows) == (1, 2, 2, 30)


def test_without_a_nab_copy_the_bench_says_so_and_exits_2(nab, tmp_path, capsys):
    assert nab.main(["--nab", str(tmp_path), "--out", str(tmp_path / "o.json")]) == 2
    assert "no NAB copy" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_pooled_figures(nab):
    results = {"a": {"default": (1, 2, 3, 1000)}, "b": {"default": (2, 2, 1, 3000)}}
    out = nab.pooled(results, "default")
    assert out["event_recall"] == 0.75 and out["false_alerts_per_1000"] == 1.0
    json.dumps(out)

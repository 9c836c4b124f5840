"""Alert events: merging, refractory period, peak, columns, band, direction, status."""

import datetime as dt
import json

import numpy as np
import pytest

from mods.errors import ConfigError
from mods.anomaly.alerts import build_events, json_time, merge_runs


def test_merge_runs():
    mask = np.zeros(40, dtype=bool)
    mask[[2, 3, 6, 20, 30, 31, 32]] = True
    s, e = merge_runs(mask, merge_gap=3)
    assert list(zip(s.tolist(), e.tolist())) == [(2, 6), (20, 20), (30, 32)]
    s, e = merge_runs(mask, merge_gap=0)
    assert list(zip(s.tolist(), e.tolist())) == [(2, 3), (6, 6), (20, 20), (30, 32)]
    s, e = merge_runs(mask, merge_gap=3, min_event_length=2)
    assert list(zip(s.tolist(), e.tolist())) == [(2, 6), (30, 32)]
    assert merge_runs(np.zeros(5, bool))[0].size == 0
    with pytest.raises(ConfigError):
        merge_runs(mask, merge_gap=-1)


def make_case(n=60, f=3):
    flags = np.zeros(n, dtype=bool)
    scores = np.full(n, 0.1)
    col = np.full((n, f), 0.05)
    actual = np.full((n, f), 100.0)
    forecast = np.full((n, f), 100.0)
    # event A: rows 10-14 (gap of 2 at 12-13 merges), spike on column 1, peak at 11
    for t, v in ((10, 0.6), (11, 0.9), (14, 0.55)):
        flags[t], scores[t], col[t, 1] = True, v, v
    col[11, 2] = 0.7  # a second deviating column at the peak
    col[11, 0] = 0.3  # below warning: not reported
    actual[11, 1] = 180.0
    actual[11, 2] = 20.0
    # event B: rows 20-21, 5 rows after A (refractory 6): reported, no new alert
    flags[20:22], scores[20:22], col[20:22, 0] = True, 0.8, 0.8
    actual[20:22, 0] = 10.0
    # event C: last rows: open
    flags[58:], scores[58:], col[58:, 2] = True, 0.7, 0.7
    levels = (scores >= 0.5).astype(np.int8) + (scores >= 0.75).astype(np.int8)
    band_low, band_high = forecast - 15.0, forecast + 15.0
    return flags, scores, levels, col, actual, forecast, band_low, band_high


def test_build_events():
    flags, scores, levels, col, actual, forecast, lo, hi = make_case()
    times = [dt.datetime(2024, 1, 1) + dt.timedelta(minutes=10 * i) for i in range(60)]
    events, mask = build_events(flags, scores, levels, col, actual, forecast, lo, hi,
                                times=times, columns=["a", "b", "c"], merge_gap=3,
                                refractory=6)
    assert [(e["start"], e["end"]) for e in events] == [(10, 14), (20, 21), (58, 59)]
    a, b, c = events
    assert a["length"] == 5 and a["flagged_steps"] == 3
    assert a["peak_index"] == 11 and a["peak_score"] == 0.9
    assert a["level"] == "critical" and b["level"] == "critical" and c["level"] == "warning"
    assert a["start_time"] == "2024-01-01T01:40:00" and a["peak_time"] == "2024-01-01T01:50:00"
    assert [x["name"] for x in a["columns"]] == ["b", "c"]  # column a below warning
    top = a["columns"][0]
    assert top == {"name": "b", "index": 1, "actual": 180.0, "forecast": 100.0,
                   "expected_low": 85.0, "expected_high": 115.0, "score": 0.9,
                   "direction": "spike"}
    assert a["columns"][1]["direction"] == "drop"
    assert a["direction"] == "spike" and b["direction"] == "drop"
    assert a["alert"] and not b["alert"] and c["alert"]  # b: within the refractory period
    assert a["status"] == "closed" and c["status"] == "open"
    assert mask.sum() == flags.sum()
    json.dumps(events)  # JSON-able


def test_min_event_length_and_max_columns():
    flags, scores, levels, col, actual, forecast, lo, hi = make_case()
    events, mask = build_events(flags, scores, levels, col, actual, forecast, lo, hi,
                                min_event_length=3, max_columns=1)
    assert [(e["start"], e["end"]) for e in events] == [(10, 14)]
    assert not mask[20:22].any() and not mask[58:].any()
    assert len(events[0]["columns"]) == 1 and events[0]["columns"][0]["name"] == "1"
    assert events[0]["start_time"] is None


def test_json_time():
    assert json_time(np.datetime64("2024-01-01T00:10")) == "2024-01-01T00:10"
    assert json_time(np.datetime64("NaT")) is None
    assert json_time(np.int64(5)) == 5
    assert json_time(1.5) == 1.5
    assert json_time(dt.date(2024, 1, 2)) == "2024-01-02"
    assert json_time("x") == "x"

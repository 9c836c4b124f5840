"""Alert events: flagged steps merged into incidents a person can act on.

Third stage of the anomaly layer.  Consecutive flagged steps (level warning or critical) form
an event; events separated by at most ``merge_gap`` normal steps are joined (a noisy
incident that dips under the threshold for a row or two is still one incident); events
shorter than ``min_event_length`` steps are dropped.  An alert *fires* once per event, at its
onset; an event that starts within ``refractory`` steps of the end of the previous one is
kept (it is still reported) but fires no new alert (``"alert": False``), so a flapping
signal does not page anyone twice.

Each event is a JSON-able dict::

    {"start": 120, "end": 131, "length": 12, "start_time": ..., "end_time": ...,
     "peak_index": 123, "peak_time": ..., "peak_score": 0.91, "level": "critical",
     "status": "closed", "alert": True, "flagged_steps": 11, "direction": "drop",
     "columns": [{"name": "bytes_in", "index": 0, "actual": 10.0, "forecast": 95.2,
                  "expected_low": 80.1, "expected_high": 110.3, "score": 0.91,
                  "direction": "drop"}, ...]}

``start``/``end`` are inclusive row indices; the ``*_time`` keys hold the matching entries
of ``times`` (ISO strings for datetimes) or None.  ``columns`` lists the columns that deviate
most at the peak row (those at or above the warning level, at most ``max_columns``, at least
one), with their expected band; ``direction`` is ``"spike"`` when the actual value is above
the expected value (the middle of the band) and ``"drop"`` otherwise.  ``status`` is
``"open"`` when the event reaches the last row (it may still be going on), else ``"closed"``.
"""

import datetime as _dt
import math

import numpy as np

from mods.errors import ConfigError, fail
from mods.anomaly.thresholds import LEVELS, runs


def merge_runs(mask, merge_gap=3, min_event_length=1):
    """Runs of True in ``mask``, joined across gaps of at most ``merge_gap`` False values.

    Parameters
    ----------
    mask : array_like of bool, shape (n,)
    merge_gap : int, default 3
        Largest number of False rows between two runs that are still joined.
    min_event_length : int, default 1
        Joined runs spanning fewer rows are dropped.

    Returns
    -------
    starts, ends : ndarray of int
        Inclusive bounds of each event.

    Examples
    --------
    >>> merge_runs([1, 1, 0, 0, 1, 0, 0, 0, 0, 1], merge_gap=2)
    (array([0, 9]), array([4, 9]))
    """
    for name, value in (("merge_gap", merge_gap), ("min_event_length", min_event_length)):
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise fail(ConfigError, "%s must be an integer >= 0, got %r" % (name, value))
    starts, ends = runs(mask)
    if starts.size > 1:
        gaps = starts[1:] - ends[:-1] - 1
        new = np.concatenate(([True], gaps > merge_gap))
        starts = starts[new]
        ends = ends[np.concatenate((new[1:], [True]))]
    if min_event_length > 1 and starts.size:
        keep = ends - starts + 1 >= min_event_length
        starts, ends = starts[keep], ends[keep]
    return starts, ends


def json_time(value):
    """A JSON-able form of one time stamp (ISO string for datetimes, plain numbers)."""
    if value is None:
        return None
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else str(np.datetime_as_string(value))
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # pandas Timestamp
        try:
            return value.isoformat()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return str(value)


def _num(value):
    value = float(value)
    return value if math.isfinite(value) else None


def build_events(flags, scores, levels, column_scores, actual, forecast, band_low, band_high,
                 times=None, columns=None, merge_gap=3, min_event_length=1, refractory=6,
                 max_columns=3):
    """Group flagged steps into alert events (see the module docstring for the dict).

    Parameters
    ----------
    flags : array_like of bool, shape (n,)
        Steps at warning level or above.
    scores : ndarray, shape (n,)
        Calibrated step scores in ``[0, 1]``.
    levels : ndarray of int, shape (n,)
        Level codes (0 normal, 1 warning, 2 critical).
    column_scores : ndarray, shape (n, f)
        Calibrated column scores.
    actual, forecast, band_low, band_high : ndarray, shape (n, f)
        Original units.
    times : sequence, optional
        One time stamp per row.
    columns : sequence of str, optional
        Column names (default ``"0"``, ``"1"``...).
    merge_gap, min_event_length, refractory, max_columns : int

    Returns
    -------
    events : list of dict
    mask : ndarray of bool, shape (n,)
        The flagged steps that belong to a kept event.
    """
    flags = np.asarray(flags, dtype=bool)
    n = flags.size
    f = column_scores.shape[1]
    names = [str(j) for j in range(f)] if columns is None else [str(c) for c in columns]
    for name, value in (("refractory", refractory), ("max_columns", max_columns)):
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise fail(ConfigError, "%s must be an integer >= 0, got %r" % (name, value))
    starts, ends = merge_runs(flags, merge_gap, min_event_length)
    mask = np.zeros(n, dtype=bool)
    events = []
    prev_end = None
    for start, end in zip(starts.tolist(), ends.tolist()):
        mask[start:end + 1] = flags[start:end + 1]
        seg = scores[start:end + 1]
        peak = start + int(np.argmax(seg))
        cs = np.nan_to_num(column_scores[peak], nan=-1.0)
        order = np.argsort(-cs, kind="stable")
        chosen = [j for j in order[:max(int(max_columns), 1)] if cs[j] >= 0.5] or [order[0]]
        cols = []
        for j in chosen:
            a, fc = actual[peak, j], forecast[peak, j]
            lo, hi = band_low[peak, j], band_high[peak, j]
            mid = 0.5 * (lo + hi)
            cols.append({"name": names[j], "index": int(j), "actual": _num(a),
                         "forecast": _num(fc), "expected_low": _num(lo),
                         "expected_high": _num(hi), "score": float(cs[j]),
                         "direction": "spike" if a > mid else "drop"})
        alert = prev_end is None or start - prev_end - 1 > refractory
        prev_end = end
        events.append({
            "start": start, "end": end, "length": end - start + 1,
            "start_time": None if times is None else json_time(times[start]),
            "end_time": None if times is None else json_time(times[end]),
            "peak_index": peak,
            "peak_time": None if times is None else json_time(times[peak]),
            "peak_score": float(scores[peak]),
            "level": LEVELS[int(levels[start:end + 1].max())],
            "status": "open" if end == n - 1 else "closed",
            "alert": bool(alert),
            "flagged_steps": int(flags[start:end + 1].sum()),
            "direction": cols[0]["direction"],
            "columns": cols,
        })
    return events, mask

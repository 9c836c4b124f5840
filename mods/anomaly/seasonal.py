"""Seasonal channel: what the same time of day looked like on the previous days.

A forecaster that reads the last two hours (the default model) predicts the next rows well,
but its forecasts 12 hours ahead know nothing of the daily cycle, and it follows a slow
drift or a level shift after a step or two.  The seasonal expectation of row ``t`` is the
median of rows ``t - season``, ``t - 2 season`` ... ``t - days * season`` (the same time of
day on each of the previous ``days`` days), per column.  A slow ramp, a level shift or one
counter running high for hours departs from it for as long as it lasts, whatever the model
learned; the median of a week shrugs off one bad day (an incident yesterday at that hour) and
keeps the working-day level (five working days out of seven).

Model-free and causal: the expectation of row ``t`` reads rows ``<= t - season`` only.  A row
with fewer than ``min_days`` previous days (the first days of a series, a short upload) has
none (NaN): the detector scores it with its other channels.

Measured with ``bench/bench_detect.py`` and ``bench/bench_nab.py`` (recall / false alert events
per 1,000 rows, without -> with this channel, default detector): generated data 0.798 / 0.43
-> 0.806 / 0.27, with labelled incidents in training 0.651 / 0.40 -> 0.736 / 0.31, the real
sample with injected incidents 0.692 / 2.69 -> 0.821 / 2.69, NAB 0.784 / 2.40 -> 0.838 / 2.34.
"""

import numpy as np

from mods.errors import ConfigError, fail


def check_seasonal(season, days, min_days):
    """Validate the seasonal channel's parameters (``days = 0``: channel off)."""
    for name, value, low in (("season", season, 1), ("days", days, 0),
                             ("min_days", min_days, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or value < low:
            raise fail(ConfigError, "seasonal %s must be an integer >= %d, got %r"
                       % (name, low, value))


def seasonal_expectation(actual, season, days, min_days=1, start=0):
    """Median of the same time of day over the previous ``days`` days, per row and column.

    Parameters
    ----------
    actual : ndarray, shape (n, f)
        Values in original units, in time order (NaN: missing, ignored).
    season : int
        Rows in one day (144 for the 10-minute rows of MODS).
    days : int
        Previous days whose same row of the day enter the median.
    min_days : int, default 1
        Fewer finite previous values than this: NaN (at most ``days`` are asked for).
    start : int, default 0
        First row to compute (a stream passes its kept rows followed by the new ones).

    Returns
    -------
    ndarray, shape (n - start, f)
        ``out[t] = median(actual[t - season], ..., actual[t - days * season])`` (NaN
        ignored) for ``t >= start``, NaN where fewer than ``min_days`` of them exist.
        Causal: ``out[t]`` reads rows ``<= t - season``, so a stream that keeps the last
        ``days * season`` rows gets the same values as the batch.
    """
    check_seasonal(season, days, min_days)
    a = np.asarray(actual, dtype=float)
    n, f = a.shape
    start = min(max(int(start), 0), n)
    rows = np.arange(start, n)
    out = np.full((rows.size, f), np.nan)
    if days == 0 or rows.size == 0:
        return out
    stack = np.full((days, rows.size, f), np.nan)
    for k in range(1, days + 1):
        src = rows - k * season
        ok = src >= 0
        stack[k - 1, ok] = a[src[ok]]
    count = np.isfinite(stack).sum(axis=0)
    enough = count >= min(min_days, days)
    if not enough.any():
        return out
    # The median of the finite values by sorting (NaN sort last): the mean of the two middle
    # ones.  np.nanmedian gives the same values, bit for bit, but this function then took
    # 0.52 ms for a stream's single row (now 0.09 ms) and 0.40 s for 50,000 x 10 rows (0.14).
    ordered = np.sort(stack, axis=0)
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0)[None] // 2, axis=0)[0]
    high = np.take_along_axis(ordered, (count // 2)[None], axis=0)[0]
    out[enough] = ((low + high) / 2.0)[enough]
    return out

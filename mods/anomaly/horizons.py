"""Multi-horizon forecasts for the anomaly detector: the forecast of row ``t`` made ``h`` rows
earlier, for every row at once.

Why: a one-step forecaster on differenced sliding-window sums follows a level shift, a drift
or a pattern change after one step, so its one-step residuals see such an incident only
briefly.  The forecast made ``h`` rows before was made from rows the incident had not reached
yet: its residual accumulates the change over ``h`` rows and stays large for ``h`` rows (see
:mod:`mods.anomaly.detector`).  Everything stays causal: the forecast of row ``t`` made at
``t - h`` uses rows ``<= t - h`` only.

How: horizons up to the model's own ``steps_ahead`` are read off its multi-step output;
longer ones iterate the one-step output on its own forecasts (the forecast of row ``o + 1``
becomes the last row of the window that forecasts ``o + 2``, and so on).  One batched model
call per step of the recursion, for all origins together; nothing here loops over rows.

Pure numpy around a model call given as a function; no Keras import.
"""

import numpy as np

from mods.dataset import windows as W
from mods.errors import ConfigError, fail

MAX_HORIZON = 10000


def check_horizons(horizons):
    """Sorted distinct horizons (ints ``>= 2``) from a list or a comma-separated string."""
    if horizons is None:
        return []
    if isinstance(horizons, str):
        parts = [p.strip() for p in horizons.replace(";", ",").split(",")]
        horizons = [p for p in parts if p]
    out = set()
    for h in horizons:
        try:
            value = int(str(h).strip()) if not isinstance(h, (int, np.integer)) else int(h)
        except ValueError:
            raise fail(ConfigError, "horizons must be integers >= 2, got %r" % (h,)) from None
        if isinstance(h, bool) or not 2 <= value <= MAX_HORIZON:
            raise fail(ConfigError, "horizons must be integers in [2, %d], got %r"
                       % (MAX_HORIZON, h))
        out.add(value)
    return sorted(out)


#: Origins iterated together (memory: about 1.5 KB per origin and column).
ITERATE_CHUNK = 16384


def horizon_forecasts(values, horizons, transform, infer, sequence_len, steps_ahead=1,
                      rows=None, iterate=None):
    """Forecasts of every row made ``h`` rows earlier, for each ``h`` of ``horizons``.

    Parameters
    ----------
    values : ndarray, shape (n, f)
        The series in original units.
    horizons : sequence of int
        Horizons ``h >= 2`` (rows).
    transform : mods.dataset.windows.Transform
        The forecaster's fitted transform.
    infer : callable
        ``infer(x)`` maps model-space windows ``(m, sequence_len, f)`` to model-space outputs
        ``(m, steps_ahead, f)`` (the first step is the one-step forecast).
    sequence_len, steps_ahead : int
        The model's input length and output steps.
    rows : ndarray of bool, shape (n,), optional
        Only the forecasts of these target rows are needed (origins whose targets are all
        outside are skipped); default every row.
    iterate : callable, optional
        ``iterate(x, first_step, n_steps)`` -> ``(n_steps, m, f)``: the model-space one-step
        outputs of the recursion (see :meth:`mods.forecast.forecaster.Forecaster._iterate`),
        e.g. compiled in one call; default one ``infer`` call per step.

    Returns
    -------
    dict
        ``{h: ndarray (n, f)}``: row ``t`` holds the forecast of row ``t`` made at origin
        ``t - h`` (NaN where that origin has no full input window, or outside ``rows``).
    """
    values = np.asarray(values, dtype=np.float64)
    horizons = check_horizons(horizons)
    n, f = values.shape
    out = {h: np.full((n, f), np.nan) for h in horizons}
    if not horizons:
        return out
    first = W.first_origin(sequence_len, transform.offset)
    top = max(horizons)
    origins = np.arange(first, n - min(horizons))
    if rows is not None:
        wanted = np.zeros(n + top + 1, dtype=bool)
        wanted[:n] = np.asarray(rows, dtype=bool)
        need = np.zeros(origins.size, dtype=bool)
        for h in horizons:
            need |= wanted[origins + h]
        origins = origins[need]
        rows = wanted
    if origins.size == 0:
        return out
    series = transform.forward(values)
    x = np.ascontiguousarray(W.origin_windows(series, origins, sequence_len, transform.offset))
    y = np.asarray(infer(x), dtype=np.float32)
    k = y.shape[1]
    direct = transform.inverse(values, origins, y)  # (m, k, f) original units

    def place(h, forecast, at=origins):
        target = at + h
        ok = target < n
        if rows is not None:
            ok &= rows[target]
        out[h][target[ok]] = forecast[ok]

    for h in horizons:
        if h <= k:
            place(h, direct[:, h - 1])
    longer = [h for h in horizons if h > k]
    if not longer:
        return out
    # Iterate the one-step output: each forecast becomes the newest row of the next window.
    # By chunks of origins: the steps of every origin at once would take 72 x 20 bytes per
    # origin and value: a 500,000-row, 4-column prediction peaked at 4.9 GB, 1.25 GB by
    # chunks (bench/bench_large_predict.py); per origin the arithmetic is
    # the same, so the result does not depend on the chunk size.
    n_steps = max(longer) - 1
    first_step = np.ascontiguousarray(y[:, :1])
    f = values.shape[1]
    for lo in range(0, origins.size, ITERATE_CHUNK):
        part = slice(lo, lo + ITERATE_CHUNK)
        xc, step = x[part], first_step[part]
        m = xc.shape[0]
        if iterate is not None:
            steps = np.asarray(iterate(xc, step, n_steps), dtype=np.float32)
        else:
            steps = []
            for _ in range(n_steps):
                xc = np.concatenate([xc[:, 1:], step], axis=1)
                step = np.asarray(infer(xc), dtype=np.float32)[:, :1]
                steps.append(step[:, 0])
            steps = np.stack(steps)
        # Back to original units, all steps at once: each step's change (scaling undone)
        # adds to the level of the step before (a running sum, in the same order as step by
        # step).
        change = transform.inverse(np.zeros((1, f)), np.zeros(n_steps * m, dtype=np.int64),
                                   steps.reshape(n_steps * m, 1, f)).reshape(n_steps, m, f)
        del steps
        if transform.offset:
            levels = np.cumsum(np.concatenate([direct[None, part, 0], change]), axis=0)[1:]
        else:
            levels = change
        for h in longer:
            place(h, levels[h - 2], origins[part])
    return out

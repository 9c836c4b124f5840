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

import itertools
import threading

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


class HorizonMemo:
    """Horizon forecasts already iterated, by input window: a bounded map of one model's.

    A user who sends the recent observations again and again (a sliding window re-sent every
    few minutes, or a dashboard polling the same file) sends mostly windows the model has
    already iterated 72 steps from. The key is the origin's model-space input window and its
    value in original units (the bytes of both); the value is the horizon forecasts made
    from it when it was first seen (a forecast computed again in a batch of another size may
    differ in its last float32 bits, with or without the memo). Oldest entries go first
    past ``max_entries`` (about 450 bytes each with 4 columns).
    """

    def __init__(self, max_entries=100_000):
        self.max_entries = int(max_entries)
        self._items = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self):
        return len(self._items)

    def get_many(self, keys):
        """The stored value (bytes) of each key, ``b""`` where there is none.

        (Empty bytes rather than ``None``: the caller finds the hits by length and joins the
        values as they are, with no Python loop over the keys.)
        """
        with self._lock:
            found = list(map(self._items.get, keys, itertools.repeat(b"")))
        hits = len(found) - found.count(b"")
        self.hits += hits
        self.misses += len(found) - hits
        return found

    def put_many(self, keys, values):
        """Store ``values`` (bytes) under ``keys``; forget the oldest entries past the cap."""
        with self._lock:
            self._items.update(zip(keys, values))
            excess = len(self._items) - self.max_entries
            if excess > 0:
                for key in list(itertools.islice(self._items, excess)):
                    del self._items[key]


def _window_keys(x, base):
    """One ``bytes`` key per origin: its model-space window and its last row's values.

    The same bytes as ``w.tobytes() + b.tobytes()`` for each pair, made in one numpy call
    (a void view of the concatenated rows) instead of a Python loop: 0.2 ms instead of 1.9 ms
    for 4,452 origins of 12 x 4 values.
    """
    m = x.shape[0]
    raw = np.concatenate([np.ascontiguousarray(x).reshape(m, -1).view(np.uint8),
                          np.ascontiguousarray(base).reshape(m, -1).view(np.uint8)], axis=1)
    raw = np.ascontiguousarray(raw)
    return raw.view(np.dtype((np.void, raw.shape[1]))).ravel().tolist()


def horizon_forecasts(values, horizons, transform, infer, sequence_len, steps_ahead=1,
                      rows=None, iterate=None, memo=None, outputs=None):
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
    memo : HorizonMemo, optional
        Forecasts of the horizons longer than ``steps_ahead`` already made by this model
        with these ``horizons``: origins found there are not iterated again; the others are
        added (not when there are more origins than the memo holds).
    outputs : ndarray, shape (n - first origin, steps_ahead, f), optional
        ``infer``'s outputs for every origin of ``values`` (first one first), when the caller
        already has them (the forecasts of the prediction itself): not computed again.

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
    if outputs is not None:
        y = np.asarray(outputs, dtype=np.float32)[origins - first]
    else:
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
    todo = np.arange(origins.size)
    keys = None
    if memo is not None and 0 < origins.size <= memo.max_entries:
        keys = _window_keys(x, values[origins])
        found = memo.get_many(keys)
        hit = np.fromiter(map(len, found), dtype=np.int64, count=len(found)) > 0
        if hit.any():
            got = np.frombuffer(b"".join(found), dtype=np.float64).reshape(-1, len(longer), f)
            for j, h in enumerate(longer):
                place(h, got[:, j], origins[hit])
            todo = np.flatnonzero(~hit)
    for lo in range(0, todo.size, ITERATE_CHUNK):
        part = todo[lo:lo + ITERATE_CHUNK]
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
            levels = np.cumsum(np.concatenate([direct[part, 0][None], change]), axis=0)[1:]
        else:
            levels = change
        for h in longer:
            place(h, levels[h - 2], origins[part])
        if keys is not None:
            kept = np.ascontiguousarray(np.stack([levels[h - 2] for h in longer], axis=1))
            memo.put_many([keys[i] for i in part.tolist()], [r.tobytes() for r in kept])
    return out

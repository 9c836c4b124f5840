"""Masking of the horizon channels: no forecast made from flagged rows is a reference.

After an incident, a forecast made ``h`` rows earlier from inside it predicts the
incident's level, so the return to normal would raise a second ("echo") alert ``h`` rows
later.  The residual of a horizon channel at row ``t`` is therefore ignored when the input
window of the forecast it comes from (the ``context`` rows ending at ``t - h``) holds a
*flagged* row, or a row within ``margin`` rows of that window on either side (on the later
side at most ``h - 1`` rows, so that the rule stays causal).

Why the margin: the flags of an incident start and end later than the incident itself (the
EWMA smoothing takes up to its span to rise above the threshold and to fall back), so a
forecast made from the incident's first or last rows could read no flagged row and still
predict the incident's level.  On generated data, half of the false alerts of the default
detector came from such forecasts, 72 rows after an incident (``conn_out`` "drops" once a
level shift on the other columns had ended); a margin of one EWMA span (12 rows) removed a
quarter to a third of all false alerts without losing an incident.

Which rows are flagged depends on the masking itself, so the rule has to be applied in time
order: the flag of row ``t`` decides the masks of rows ``t + h`` and later.  Using the flags
the channels give *before* masking instead lets a noisy long-horizon channel (whose own
values will be masked) hide the shorter channels: on generated data an outage of every
column to 1 % of its level for two hours scored below the warning level that way, because
the 72-row channel had "flagged" the rows before it.  :func:`final_flags` applies the rule
exactly: rows the one-step channel flags and rows no channel flags are settled at once,
and only the remaining ones (a horizon channel above the threshold, the one-step channel
below: few rows) are decided one by one, in order.  Causal: the flag
of row ``t`` reads rows ``<= t``.

The batch detector (:meth:`mods.anomaly.detector.Detector.detect`) and the stream scorer
(:mod:`mods.stream.scorer`) both call :func:`final_flags`, so they agree row for row.
"""

import bisect

import numpy as np


def shifted(mask, h):
    """``out[t] = mask[t - h]`` (False for ``t < h``)."""
    out = np.zeros_like(mask)
    if h < mask.size:
        out[h:] = mask[:mask.size - h]
    return out


def recent(mask, rows):
    """``out[t]``: some row of ``t - rows + 1 .. t`` is True (causal window, vectorised)."""
    c = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
    t = np.arange(mask.size)
    return (c[t + 1] - c[np.maximum(t - max(int(rows), 1) + 1, 0)]) > 0


def masked_window(h, context, margin=0):
    """``(rows, shift)``: channel ``h``'s residual at row ``t`` is masked when a row of
    ``t - shift - rows + 1 .. t - shift`` is flagged (the forecast's input window, widened by
    ``margin`` rows on each side, by at most ``h - 1`` on the later one)."""
    lead = max(min(int(margin), int(h) - 1), 0)
    return max(int(context), 1) + max(int(margin), 0) + lead, int(h) - lead


def final_flags(steps, horizons, warning, context, history=None, margin=0):
    """Flags of the rows once each horizon channel is masked by the flags before it.

    Parameters
    ----------
    steps : list of ndarray, shape (n,)
        Step score of each channel (NaN: no score), the one-step channel first; it is never
        masked.
    horizons : list of int
        Horizon of each channel (``horizons[0]`` is the one-step channel's, ignored).
    warning : ndarray, shape (n,)
        Warning threshold of each row.
    context : int
        Rows a forecast reads: the residual of channel ``h`` at row ``t`` is masked when a
        row of ``t - h - context + 1 .. t - h`` is flagged (widened by ``margin``).
    history : array_like of bool, optional
        Final flags of the rows just before these ones (a stream's earlier rows), oldest
        first; rows before it count as not flagged.
    margin : int
        Rows added on each side of the window (see the module docstring and
        :func:`masked_window`).

    Returns
    -------
    flags : ndarray of bool, shape (n,)
        Rows at the warning level or above once masked.
    masks : list of ndarray of bool, shape (n,)
        For each channel, the rows whose residual is masked (all False for the first).
    """
    n = np.asarray(warning).shape[0]
    prev = np.zeros(0, dtype=bool) if history is None else np.asarray(history, dtype=bool)
    p = prev.size
    w = np.asarray(warning, dtype=float)
    vals = [np.nan_to_num(np.asarray(s, dtype=float), nan=-np.inf) for s in steps]
    sure = vals[0] >= w
    others = [v >= w for v in vals[1:]]
    maybe = ~sure & np.logical_or.reduce(others) if others else np.zeros(n, dtype=bool)
    flags = np.concatenate([prev, sure])  # all rows, history first; updated in place
    # The rows read for row t all lie before it, where the flags are final: the rows flagged
    # from the start (sorted) and the undecided ones flagged so far (in order): a window
    # holds a flag when the first flagged row at or after its start lies before its end.
    fixed = np.flatnonzero(flags).tolist()
    added = []
    windows = [masked_window(h, context, margin) for h in horizons[1:]]
    for t in np.flatnonzero(maybe).tolist():
        for above, (rows, shift) in zip(others, windows):
            if not above[t]:
                continue
            end = p + t - shift + 1  # one past the window's last row, in ``flags``
            start = max(end - rows, 0)
            if end > 0:
                i = bisect.bisect_left(fixed, start)
                if i < len(fixed) and fixed[i] < end:
                    continue
                i = bisect.bisect_left(added, start)
                if i < len(added) and added[i] < end:
                    continue
            flags[p + t] = True
            added.append(p + t)
            break
    masks = [np.zeros(n, dtype=bool)] + [shifted(recent(flags, rows), shift)[p:]
                                         for rows, shift in windows]
    return flags[p:], masks

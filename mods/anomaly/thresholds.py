"""Thresholds on step scores: calibration, levels and calibrated ``[0, 1]`` scores.

Second stage of the anomaly layer.  Thresholds are calibrated once, at fit time, on the step
scores of the validation rows (see :mod:`mods.anomaly.scorers`) and kept as a JSON-able dict
``{"method", "warning", "critical", ...}``.  Four methods:

``rate`` (the detector's default, 0.75 per 1,000 rows)
    An alert budget: the warning level is the one the calibration scores would cross
    ``false_alerts`` times per 1,000 rows (alert *events*, not rows), read off the peaks of
    their own events; the critical level is ten times rarer (:func:`rate_thresholds`).
``quantile``
    ``warning = scale * Q(q_warning)``, ``critical = scale * Q(q_critical)`` of the
    validation scores, extreme levels read off an exponential tail fitted to the top 10 %
    (:func:`tail_quantile`).
``ksigma``
    ``mean + k * std`` of the validation scores (``k = 3`` warning, ``k = 5`` critical).
``dynamic``
    The nonparametric dynamic threshold of Hundman et al., *Detecting spacecraft anomalies
    using LSTMs and nonparametric dynamic thresholding*, KDD 2018 (telemanom), see
    :func:`find_epsilon`, :func:`prune_sequences` and :func:`dynamic_thresholds`.  It can also
    be re-run at detect time over a trailing window of past scores
    (:func:`trailing_dynamic_thresholds`).

Calibrated scores (:func:`calibrated_score`) map a step score ``s`` to ``[0, 1)``::

    g(s) = s / w                              for s < w
    g(s) = 1 + log(s / w) / log(c / w)        for s >= w
    score = 1 - 2 ** -g(s)

so ``0`` maps to 0, the warning threshold ``w`` to exactly 0.5, the critical threshold ``c``
to exactly 0.75, every further factor ``c / w`` above it halves the distance to 1 again.  The
map is continuous and strictly increasing; because it grows logarithmically above ``w`` it
never saturates in practice (a score reaches 1.0 in float64 only beyond ``(c/w) ** 52``
times the warning threshold), so large incidents stay distinguishable instead of tying at 1.
"""

import math

import numpy as np

from mods.errors import ConfigError, DataError, fail

METHODS = ("rate", "quantile", "ksigma", "dynamic")
CRITICAL_RARITY = 10.0  # the rate method's critical level: ten times rarer than warning
LEVELS = ("normal", "warning", "critical")
MIN_THRESHOLD = 1e-9  # thresholds are positive so that scores can be divided by them
MIN_CRITICAL_RATIO = 1.1  # critical is at least 10 % above warning


# ---------------------------------------------------------------------------- helpers
def _finite(scores, name="scores"):
    s = np.asarray(scores, dtype=float).ravel()
    s = s[np.isfinite(s)]
    if s.size < 2:
        raise fail(DataError, "need at least 2 finite %s to calibrate thresholds, got %d"
                   % (name, s.size))
    return s


def _ordered(warning, critical, min_ratio=MIN_CRITICAL_RATIO):
    """Positive warning, critical strictly above it."""
    warning = max(float(warning), MIN_THRESHOLD)
    critical = max(float(critical), warning * min_ratio)
    return warning, critical


def z_grid(z_min=2.5, z_max=12.0, z_step=0.5):
    """The ``z`` values tried by :func:`find_epsilon`: ``z_min, z_min + z_step, ..., z_max``."""
    if not (0 < z_step and 0 <= z_min <= z_max):
        raise fail(ConfigError, "need 0 <= z_min <= z_max and z_step > 0, got %r, %r, %r"
                   % (z_min, z_max, z_step))
    count = int(math.floor((z_max - z_min) / z_step + 1e-9)) + 1
    return z_min + z_step * np.arange(count)


def runs(mask):
    """``(starts, ends)`` of the runs of True in a 1-D boolean array (``ends`` inclusive)."""
    m = np.asarray(mask, dtype=bool).ravel()
    if m.size == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    d = np.diff(np.concatenate(([False], m, [False])).astype(np.int8))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1


def _dilate(mask, buffer):
    """Mark ``i - (buffer-1) .. i + (buffer-1)`` around every True (telemanom's error buffer)."""
    k = int(buffer) - 1
    if k <= 0 or not mask.any():
        return mask
    n = mask.size
    c = np.concatenate(([0], np.cumsum(mask)))
    idx = np.arange(n)
    return (c[np.minimum(idx + k + 1, n)] - c[np.maximum(idx - k, 0)]) > 0


# ---------------------------------------------------------------------------- Hundman et al.
def _compress(e, lowest, k):
    """``e`` with the values below ``lowest`` dropped, keeping at most ``2k+1`` rows
    (``k`` at the ends) between the remaining ones; the dropped rows become ``-inf``."""
    k = max(int(k), 0)
    cand = np.flatnonzero(e >= lowest)
    if cand.size == 0:
        return np.full(1, -np.inf)
    fill = np.minimum(np.diff(cand) - 1, 2 * k + 1)
    pos = min(int(cand[0]), k) + np.concatenate(([0], np.cumsum(fill + 1)))
    out = np.full(int(pos[-1]) + 1 + min(e.size - 1 - int(cand[-1]), k), -np.inf)
    out[pos] = e[cand]
    return out


def _anomaly_counts(e, eps, buffer):
    """For each threshold of ``eps``: anomalous points and sequences (runs longer than one)."""
    above = e[None, :] >= eps[:, None]
    k = int(buffer) - 1
    if k > 0:
        c = np.concatenate((np.zeros((eps.size, 1), dtype=np.int64),
                            np.cumsum(above, axis=1)), axis=1)
        idx = np.arange(e.size)
        anom = (c[:, np.minimum(idx + k + 1, e.size)] - c[:, np.maximum(idx - k, 0)]) > 0
    else:
        anom = above
    pad = np.zeros((eps.size, 1), dtype=np.int8)
    edges = np.diff(np.concatenate((pad, anom.astype(np.int8), pad), axis=1), axis=1)
    n_runs = (edges == 1).sum(axis=1)
    singles = ((edges[:, :-1] == 1) & (edges[:, 1:] == -1)).sum(axis=1)  # runs of length 1
    return anom.sum(axis=1), n_runs - singles


def find_epsilon(errors, z_values=None, buffer=3, max_sequences=5, max_fraction=0.5):
    """Hundman et al.'s unsupervised threshold ``epsilon = mean + z * std`` of the errors.

    For every ``z`` of the grid, the points ``>= epsilon`` (widened by ``buffer``) are the
    candidate anomalies ``e_a`` and their contiguous runs longer than one point the
    sequences ``E_seq``.  The chosen ``z`` maximises::

        (delta_mean / mean + delta_std / std) / (|e_a| + |E_seq| ** 2)

    where ``delta_mean`` and ``delta_std`` are the drops in the mean and standard deviation
    of the errors once the points ``>= epsilon`` are removed: a good threshold removes much
    of the spread with few points in few sequences.  This is the paper's equation and
    telemanom's code (``len(E_seq) ** 2 + len(i_anom)``); as in telemanom a ``z`` is only
    eligible with at most ``max_sequences`` sequences and fewer than ``max_fraction`` of the
    points flagged, ties go to the larger ``z``, and when no ``z`` is eligible the largest
    one is used.

    Parameters
    ----------
    errors : array_like, shape (n,)
        Smoothed errors (step scores); NaN are ignored.
    z_values : array_like, optional
        Grid of ``z`` (default :func:`z_grid`: 2.5 to 12 by 0.5).
    buffer : int, default 3
        Points within ``buffer - 1`` rows of an exceedance count as anomalous too.
    max_sequences : int, default 5
    max_fraction : float, default 0.5

    Returns
    -------
    epsilon : float
    z : float
    """
    e = np.asarray(errors, dtype=float).ravel()
    e = e[np.isfinite(e)]
    zs = z_grid() if z_values is None else np.asarray(z_values, dtype=float).ravel()
    if e.size == 0:
        return float("nan"), float(zs.max())
    mean, std = float(e.mean()), float(e.std())
    if not std > 0:
        return mean, float(zs.max())
    zs = np.sort(zs)
    z_top = float(zs[-1])
    eps = mean + zs * std
    srt = np.sort(e)
    kept = np.searchsorted(srt, eps, side="left")  # points < eps, for every z at once
    live = (kept > 0) & (kept < e.size)
    if not live.any():
        return mean + z_top * std, z_top
    zs, eps, kept = zs[live], eps[live], kept[live]
    c1 = np.concatenate(([0.0], np.cumsum(srt)))
    c2 = np.concatenate(([0.0], np.cumsum(srt * srt)))
    p_mean = c1[kept] / kept
    p_std = np.sqrt(np.maximum(c2[kept] / kept - p_mean * p_mean, 0.0))
    # Anomalous points (exceedances widened by the buffer) and their runs, many z at once,
    # on a compressed copy: only the points above the smallest epsilon matter, and a quiet
    # stretch longer than 2k+1 rows between two of them (k = buffer - 1) can shrink to 2k+1
    # rows without changing any count (their widened intervals stay apart and whole).
    comp = _compress(e, eps[0], int(buffer) - 1)
    chunk = max(1, int(4_000_000 // max(comp.size, 1)))
    counts = [_anomaly_counts(comp, eps[i:i + chunk], buffer)
              for i in range(0, eps.size, chunk)]
    n_anom = np.concatenate([c[0] for c in counts])
    n_seq = np.concatenate([c[1] for c in counts])
    d_mean = (mean - p_mean) / mean if mean != 0 else np.zeros_like(p_mean)
    score = (d_mean + (std - p_std) / std) / (n_anom + n_seq ** 2)
    ok = (n_seq <= max_sequences) & (n_anom < e.size * max_fraction)
    if not ok.any():
        return mean + z_top * std, z_top
    score = np.where(ok, score, -np.inf)
    best = int(np.flatnonzero(score == score.max())[-1])  # ties: the larger z
    best_z = float(zs[best])
    return mean + best_z * std, best_z


def prune_sequences(peaks, non_anomalous_max, p=0.13):
    """Hundman et al.'s pruning: which anomalous sequences are kept.

    The sequence peaks are sorted in decreasing order, followed by the largest
    non-anomalous error.  Walking down the list, a sequence whose relative decrease to the
    next value ``(x[i] - x[i+1]) / x[i]`` is below ``p`` is a removal candidate; a decrease of
    at least ``p`` clears the candidates found so far.  So the kept sequences are the largest
    ones down to the last drop of at least ``p``: anomalies must stand clear of the noise
    *and* of each other's tail.

    Parameters
    ----------
    peaks : array_like, shape (m,)
        Maximum error of each anomalous sequence.
    non_anomalous_max : float
        Largest error outside the anomalous sequences (0 when unknown).
    p : float, default 0.13
        Minimum relative separation (telemanom's default).

    Returns
    -------
    ndarray of bool, shape (m,)
        True for the sequences kept.
    """
    peaks = np.asarray(peaks, dtype=float).ravel()
    m = peaks.size
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(-peaks, kind="stable")
    values = np.concatenate((peaks[order], [max(float(non_anomalous_max), 0.0)]))
    with np.errstate(invalid="ignore", divide="ignore"):
        drops = (values[:-1] - values[1:]) / values[:-1]
    big = np.flatnonzero(drops >= p)
    keep_sorted = np.zeros(m, dtype=bool)
    if big.size:
        keep_sorted[:big[-1] + 1] = True
    keep = np.empty(m, dtype=bool)
    keep[order] = keep_sorted
    return keep


def hundman_anomalies(errors, z_values=None, buffer=3, p=0.13, max_sequences=5,
                      max_fraction=0.5):
    """Full Hundman et al. detection on one window of errors: epsilon, sequences, pruning.

    Returns
    -------
    dict
        ``epsilon``, ``z``, ``mask`` (bool (n,), points of the kept sequences, NaN never),
        ``sequences`` (list of ``(start, end)`` kept, inclusive), ``pruned`` (list of
        ``(start, end)`` removed by pruning) and ``non_anomalous_max``.
    """
    e = np.asarray(errors, dtype=float).ravel()
    finite = np.isfinite(e)
    eps, z = find_epsilon(e, z_values, buffer, max_sequences, max_fraction)
    n = e.size
    out = {"epsilon": float(eps), "z": float(z), "mask": np.zeros(n, dtype=bool),
           "sequences": [], "pruned": [], "non_anomalous_max": 0.0}
    if not np.isfinite(eps):
        return out
    above = finite & (np.where(finite, e, -np.inf) >= eps)
    anom = _dilate(above, buffer)
    rest = finite & ~anom
    non_anom_max = float(e[rest].max()) if rest.any() else 0.0
    starts, ends = runs(anom)
    if starts.size == 0:
        out["non_anomalous_max"] = non_anom_max
        return out
    cs = np.where(finite, e, -np.inf)
    peaks = np.maximum.reduceat(cs, starts)
    keep = prune_sequences(peaks, non_anom_max, p)
    mask = np.zeros(n, dtype=bool)
    for s, t, k in zip(starts, ends, keep):
        if k:
            mask[s:t + 1] = True
    out.update(mask=mask & finite, non_anomalous_max=non_anom_max,
               sequences=[(int(s), int(t)) for s, t, k in zip(starts, ends, keep) if k],
               pruned=[(int(s), int(t)) for s, t, k in zip(starts, ends, keep) if not k])
    return out


# ---------------------------------------------------------------------------- calibration
def tail_quantile(scores, q, tail=0.1):
    """Quantile ``q`` of ``scores``, extrapolated by an exponential tail beyond ``1 - tail``.

    Up to level ``1 - tail`` this is the empirical quantile.  Above it, the excesses over
    ``u = Q(1 - tail)`` are modelled as exponential (peaks over threshold, as in SPOT,
    Siffer et al., KDD 2017, with the shape fixed at 0 for stability) with mean ``beta``, so
    ``Q(q) = u + beta * log(tail / (1 - q))``.  The estimate uses the whole top ``tail`` of
    the scores instead of the few largest ones: on a few thousand autocorrelated validation
    rows the empirical 0.999 quantile is the third largest score, and varies a lot from one
    validation period to the next.  ``tail = 0`` gives the plain empirical quantile.
    """
    s = _finite(scores)
    if not 0 < q <= 1:
        raise fail(ConfigError, "quantile level must be in (0, 1], got %r" % (q,))
    if not 0 <= tail < 1:
        raise fail(ConfigError, "quantile_tail must be in [0, 1), got %r" % (tail,))
    if tail == 0 or q <= 1 - tail or q == 1:
        return float(np.quantile(s, q))
    u = float(np.quantile(s, 1 - tail))
    excess = s[s > u] - u
    if excess.size == 0:
        return u
    return u + float(excess.mean()) * math.log(tail / (1.0 - q))


def quantile_thresholds(scores, quantile_warning=0.999, quantile_critical=0.9999,
                        quantile_scale=1.0, quantile_tail=0.1):
    """``scale * Q(q)`` of the validation scores for the warning and critical levels.

    Quantiles above ``1 - quantile_tail`` come from the exponential tail fitted by
    :func:`tail_quantile` (``quantile_tail = 0``: empirical quantiles).
    """
    if not 0 < quantile_warning < quantile_critical <= 1:
        raise fail(ConfigError, "need 0 < quantile_warning < quantile_critical <= 1, got "
                   "%r and %r" % (quantile_warning, quantile_critical))
    if not quantile_scale > 0:
        raise fail(ConfigError, "quantile_scale must be > 0, got %r" % (quantile_scale,))
    qw = tail_quantile(scores, quantile_warning, quantile_tail)
    qc = tail_quantile(scores, quantile_critical, quantile_tail)
    w, c = _ordered(quantile_scale * qw, quantile_scale * qc)
    return {"method": "quantile", "warning": w, "critical": c,
            "quantile_warning": float(quantile_warning),
            "quantile_critical": float(quantile_critical),
            "quantile_scale": float(quantile_scale), "quantile_tail": float(quantile_tail)}


def event_peaks(scores, level, merge_gap=3):
    """Events of the scores above ``level``: ``(peaks, rows)``, the highest score of each
    event and its rows above ``level`` (runs closer than ``merge_gap`` rows joined, as the
    alert layer joins flagged rows; NaN counts as below).

    This is runs declustering in extreme value theory: scores above a high level come in
    clusters (an EWMA keeps a score up for a while, a burst lasts several rows), and an
    alert is one cluster, not one row.
    """
    from mods.anomaly.alerts import merge_runs  # alerts imports this module: import here

    s = np.nan_to_num(np.asarray(scores, dtype=float).ravel(), nan=-np.inf)
    above = s > level
    starts, ends = merge_runs(above, merge_gap)
    if starts.size == 0:
        return np.zeros(0), np.zeros(0, dtype=int)
    # per event, over its rows [start, end + 1): the highest score and the rows above level
    bounds = np.column_stack((starts, ends + 1)).ravel()
    peaks = np.maximum.reduceat(np.append(s, -np.inf), bounds)[::2]
    rows = np.add.reduceat(np.append(above, False).astype(int), bounds)[::2]
    return peaks, rows


def event_level(peaks, events, tail_scale):
    """The level that ``events`` of the event ``peaks`` cross (``events`` may be fractional).

    Between the ``i``-th and ``(i+1)``-th highest peaks it interpolates linearly (``events =
    i``: the ``i``-th highest); fewer than one event (a budget below what the calibration
    rows can show) extrapolates above the highest peak by the exponential tail of the
    peaks, ``peak_1 + tail_scale * log(1 / events)``.
    """
    p = np.sort(np.asarray(peaks, dtype=float))[::-1]
    if p.size == 0:
        return -np.inf
    if events < 1:
        return float(p[0] + tail_scale * math.log(1.0 / events))
    i = int(math.floor(events))
    if i >= p.size:
        return float(p[-1])
    return float(p[i - 1] + (events - i) * (p[i] - p[i - 1]))


def rate_thresholds(scores, false_alerts=0.75, merge_gap=3, quantile_tail=0.1):
    """Warning at the level the calibration scores cross ``false_alerts`` times per 1,000
    rows (alert events), critical at one ten times rarer.

    The scores above their ``1 - quantile_tail`` quantile are grouped into events
    (:func:`event_peaks`, with the alert layer's ``merge_gap``).  ``n`` calibration rows
    may raise ``k = false_alerts * n / 1000`` events at the warning level, so the warning is
    the level ``k`` event peaks cross (:func:`event_level`: the ``k``-th highest peak,
    interpolated; beyond the highest peak, an exponential tail fitted to the peaks).  The
    level is read off the calibration rows' own events, with no assumption on the shape of
    the scores' tail nor on how long an event lasts.  So the option is in the user's units
    (false alerts per 1,000 rows, about a week of 10-minute rows) and the false alert rate
    follows it.  Measured, budget 0.5 (recall / false alerts per 1,000 rows): generated
    data 0.899 / 0.51 (1.0: 0.922 / 0.75); the synthetic residual benchmark 0.983 / 0.99
    (its clean series: 0.66).  The first version of this method read the level off an
    exponential tail of the *rows* above the 0.99 quantile and divided by the mean rows per
    event: 0.907 / 0.60, 0.983 / 1.43 and 1.20.

    Parameters
    ----------
    scores : array_like
        Calibration step scores, in time order (NaN ignored).
    false_alerts : float, default 0.75
        Alert events per 1,000 calibration rows at the warning level (> 0).
    merge_gap : int, default 3
        Normal rows between flagged rows that still make one event.
    quantile_tail : float, default 0.1
        Top fraction of the scores whose events are counted (0: none, the warning level is
        the highest calibration score).

    Returns
    -------
    dict
        ``method="rate"``, ``warning``, ``critical``, ``events`` (``k``), ``peaks`` (the
        events above the reference level), ``tail_scale`` (mean excess of their peaks),
        ``event_rows`` (their mean rows) and the parameters.
    """
    if not false_alerts > 0 or not math.isfinite(false_alerts):
        raise fail(ConfigError, "false_alerts must be a number > 0, got %r" % (false_alerts,))
    if isinstance(merge_gap, bool) or int(merge_gap) != merge_gap or merge_gap < 0:
        raise fail(ConfigError, "merge_gap must be an integer >= 0, got %r" % (merge_gap,))
    if not 0 <= quantile_tail < 1:
        raise fail(ConfigError, "quantile_tail must be in [0, 1), got %r" % (quantile_tail,))
    s = _finite(scores)
    reference = float(np.quantile(s, 1.0 - quantile_tail))
    peaks, rows = event_peaks(scores, reference, int(merge_gap))
    scale = float(np.mean(peaks - reference)) if peaks.size else 0.0
    events = false_alerts * s.size / 1000.0
    if peaks.size == 0:  # constant scores, or quantile_tail 0: nothing above the reference
        w = c = reference
    else:
        w = event_level(peaks, events, scale)
        c = event_level(peaks, events / CRITICAL_RARITY, scale)
    w, c = _ordered(w, c)
    return {"method": "rate", "warning": w, "critical": c, "false_alerts": float(false_alerts),
            "events": events, "peaks": int(peaks.size), "tail_scale": scale,
            "event_rows": float(rows.mean()) if rows.size else 1.0,
            "merge_gap": int(merge_gap), "quantile_tail": float(quantile_tail)}


def ksigma_thresholds(scores, k_warning=3.0, k_critical=5.0):
    """``mean + k * std`` of the validation scores for the warning and critical levels."""
    if not 0 <= k_warning < k_critical:
        raise fail(ConfigError, "need 0 <= k_warning < k_critical, got %r and %r"
                   % (k_warning, k_critical))
    s = _finite(scores)
    mean, std = float(s.mean()), float(s.std())
    w, c = _ordered(mean + k_warning * std, mean + k_critical * std)
    return {"method": "ksigma", "warning": w, "critical": c, "mean": mean, "std": std,
            "k_warning": float(k_warning), "k_critical": float(k_critical)}


def dynamic_thresholds(scores, z_min=2.5, z_max=12.0, z_step=0.5, prune_p=0.13,
                       dynamic_buffer=3, dynamic_critical_ratio=1.5):
    """Hundman et al.'s dynamic threshold, turned into fixed warning/critical levels.

    Steps on the (validation or trailing-window) scores:

    1. ``epsilon = mean + z * std`` with ``z`` chosen by :func:`find_epsilon`;
    2. the sequences above ``epsilon`` are pruned (:func:`prune_sequences`, ``p``): the kept
       ones are anomalies of the calibration rows themselves, the pruned ones are noise;
    3. ``warning = max(epsilon, normal_max / (1 - p))`` where ``normal_max`` is the largest
       score outside the kept sequences.  A later sequence then survives the same pruning
       test against the calibration rows exactly when it reaches ``warning``: this is how
       the pruning rule carries over from one window to fixed thresholds;
    4. ``critical = dynamic_critical_ratio * warning``.

    Returns
    -------
    dict
        ``method="dynamic"``, ``warning``, ``critical``, ``epsilon``, ``z``, ``normal_max``,
        ``anomalous_rows`` (rows of the kept sequences) and the parameters.
    """
    if not 0 <= prune_p < 1:
        raise fail(ConfigError, "prune_p must be in [0, 1), got %r" % (prune_p,))
    if not dynamic_critical_ratio > 1:
        raise fail(ConfigError, "dynamic_critical_ratio must be > 1, got %r"
                   % (dynamic_critical_ratio,))
    if isinstance(dynamic_buffer, bool) or int(dynamic_buffer) != dynamic_buffer \
            or dynamic_buffer < 1:
        raise fail(ConfigError, "dynamic_buffer must be an integer >= 1, got %r"
                   % (dynamic_buffer,))
    s = np.asarray(scores, dtype=float).ravel()
    _finite(s)
    res = hundman_anomalies(s, z_grid(z_min, z_max, z_step), int(dynamic_buffer), prune_p)
    finite = np.isfinite(s)
    normal = finite & ~res["mask"]
    normal_max = float(s[normal].max()) if normal.any() else float(s[finite].max())
    w, c = _ordered(max(res["epsilon"], normal_max / (1.0 - prune_p)), 0.0)
    c = max(c, w * float(dynamic_critical_ratio))
    return {"method": "dynamic", "warning": w, "critical": c,
            "epsilon": float(res["epsilon"]), "z": float(res["z"]),
            "normal_max": normal_max, "anomalous_rows": int(res["mask"].sum()),
            "z_min": float(z_min), "z_max": float(z_max), "z_step": float(z_step),
            "prune_p": float(prune_p), "dynamic_buffer": int(dynamic_buffer),
            "dynamic_critical_ratio": float(dynamic_critical_ratio)}


def calibrate(scores, method="quantile", min_warning=0.0, **params):
    """Calibrate thresholds with ``method`` on validation step scores.

    Parameters
    ----------
    scores : array_like, shape (n,)
        Validation step scores (NaN ignored).
    method : {"rate", "quantile", "ksigma", "dynamic"}
    min_warning : float, default 0
        Floor of the warning threshold (a validation period so quiet that the method puts
        the threshold inside the rounding noise); ``floored`` tells when it applied.
    **params
        Parameters of that method (see :func:`rate_thresholds`, :func:`quantile_thresholds`,
        :func:`ksigma_thresholds`, :func:`dynamic_thresholds`); others are ignored.

    Returns
    -------
    dict
        JSON-able, at least ``method``, ``warning`` and ``critical``
        (``critical >= 1.1 * warning``).
    """
    funcs = {"rate": rate_thresholds, "quantile": quantile_thresholds,
             "ksigma": ksigma_thresholds, "dynamic": dynamic_thresholds}
    if method not in funcs:
        raise fail(ConfigError, "unknown threshold method %r; valid methods: %s"
                   % (method, ", ".join(METHODS)))
    func = funcs[method]
    names = func.__code__.co_varnames[1:func.__code__.co_argcount]
    out = func(scores, **{k: v for k, v in params.items() if k in names})
    out["floored"] = bool(out["warning"] < min_warning)
    if out["floored"]:
        out["warning"] = float(min_warning)
        out["critical"] = max(out["critical"], out["warning"] * MIN_CRITICAL_RATIO)
    out["min_warning"] = float(min_warning)
    return out


def robust_epsilon(errors, z_values=None, buffer=3, p=0.13, rounds=3):
    """Hundman et al.'s ``epsilon`` after removing the window's own anomalies.

    :func:`hundman_anomalies` is run, the rows of the sequences it keeps (anomalies standing
    clear of the rest, after pruning) are removed and the search is repeated on the
    remainder, at most ``rounds`` times; the last ``epsilon`` is returned.  A past outage in
    the window therefore does not inflate the mean and standard deviation behind epsilon.
    A lasting change of the noise level is not an anomaly for long: once it fills half of
    the window, no ``z`` with fewer than half the points flagged can isolate it, and it
    becomes the window's norm.
    """
    e = np.asarray(errors, dtype=float).ravel()
    e = e[np.isfinite(e)]
    eps = float("nan")
    for _ in range(max(int(rounds), 1)):
        res = hundman_anomalies(e, z_values, buffer, p)
        eps = res["epsilon"]
        if not res["sequences"] or res["mask"].all():
            break
        e = e[~res["mask"]]
        if e.size < 2:
            break
    return eps


def trailing_dynamic_thresholds(scores, base, window=2016, stride=144, **params):
    """Causal per-row thresholds: the dynamic method re-run on a trailing window.

    Every ``stride`` rows, :func:`robust_epsilon` (Hundman et al.'s ``epsilon`` once the
    window's own anomalies are removed) is computed on the past ``window`` scores (rows
    before the block only, so the thresholds of row ``t`` depend on rows ``< t``).  The rows
    of the block get ``warning = max(base warning, epsilon)`` and ``critical = max(base
    critical, ratio * epsilon)``: the calibrated thresholds are a floor, and a lasting rise
    of the noise (a degraded model, a new traffic regime) raises the thresholds once it
    fills about half of the window, instead of raising alerts for ever.  Removing the
    window's anomalies first matters: with a plain trailing epsilon, a past outage hides
    every smaller incident for a whole window.  (The ``normal_max / (1 - p)`` part of
    :func:`dynamic_thresholds` is not used on windows: with incidents' sub-threshold tails in
    the window it ratchets the threshold up block after block.)  Blocks with fewer than
    ``window // 4`` past scores keep the base thresholds.

    Parameters
    ----------
    scores : ndarray, shape (n,)
    base : dict
        Calibrated thresholds (``warning``, ``critical``).
    window, stride : int
    **params
        ``z_min``, ``z_max``, ``z_step``, ``prune_p``, ``dynamic_buffer``,
        ``dynamic_critical_ratio`` (as :func:`dynamic_thresholds`).

    Returns
    -------
    warning, critical : ndarray, shape (n,)
    """
    s = np.asarray(scores, dtype=float).ravel()
    n = s.size
    warning = np.full(n, float(base["warning"]))
    critical = np.full(n, float(base["critical"]))
    window, stride = int(window), max(int(stride), 1)
    if window <= 0:
        return warning, critical
    zs = z_grid(params.get("z_min", 2.5), params.get("z_max", 12.0), params.get("z_step", 0.5))
    buffer = int(params.get("dynamic_buffer", 3))
    p = float(params.get("prune_p", 0.13))
    ratio = float(params.get("dynamic_critical_ratio", 1.5))
    finite = np.isfinite(s)
    for b in range(0, n, stride):
        lo = max(0, b - window)
        past = s[lo:b][finite[lo:b]]
        if past.size < max(window // 4, 2):
            continue
        eps = robust_epsilon(past, zs, buffer, p)
        if np.isfinite(eps):
            warning[b:b + stride] = max(warning[b], eps)
            critical[b:b + stride] = max(critical[b], ratio * eps)
    return warning, critical


# ---------------------------------------------------------------------------- scores, levels
def calibrated_score(scores, warning, critical):
    """Map step (or column) scores to ``[0, 1)``: 0.5 at ``warning``, 0.75 at ``critical``.

    See the module docstring for the formula.  NaN scores map to 0.

    Parameters
    ----------
    scores : array_like
    warning, critical : float or array_like broadcastable to ``scores``
        Thresholds with ``0 < warning < critical``.

    Returns
    -------
    ndarray
        Same shape as ``scores``.
    """
    s = np.asarray(scores, dtype=float)
    w = np.asarray(warning, dtype=float)
    c = np.asarray(critical, dtype=float)
    if (w <= 0).any() or (c <= w).any():
        raise fail(ConfigError, "need 0 < warning < critical to calibrate scores")
    s = np.where(np.isfinite(s) & (s > 0), s, np.where(s == np.inf, np.finfo(float).max, 0.0))
    ratio = s / w
    with np.errstate(divide="ignore"):
        g = np.where(ratio < 1.0, ratio, 1.0 + np.log(np.maximum(ratio, 1.0)) / np.log(c / w))
    return 1.0 - np.exp2(-g)


def level_codes(scores, warning, critical):
    """Level of each score: 0 normal (``< warning`` or NaN), 1 warning, 2 critical."""
    s = np.asarray(scores, dtype=float)
    s = np.where(np.isnan(s), -np.inf, s)
    return (s >= warning).astype(np.int8) + (s >= critical).astype(np.int8)


def level_names(codes):
    """``["normal", "warning", "critical"]`` names of :func:`level_codes` output."""
    return np.asarray(LEVELS, dtype=object)[np.asarray(codes, dtype=int)].tolist()

"""Residual scoring: how unusual is each forecast error, per column and per step.

First stage of the anomaly layer (scorer -> threshold -> alert, as in darts ``ad/`` and
Merlion ``post_process/``).  A :class:`ResidualScorer` is fitted on the residuals
``actual - forecast`` (original units, shape ``(n, f)``) of the model on its own validation
rows and turns any later residuals into

* a **signed normalised residual** per column, ``(r - centre) / spread`` with a robust centre
  (median) and spread (MAD x 1.4826, floored), which keeps the direction of the deviation;
* a **column score**: its absolute value, optionally smoothed by a causal EWMA (the telemanom
  recipe: smoothing rewards sustained errors and damps the isolated noisy ones), then
  expressed as a *surprise* relative to the column's own validation scores (see below);
* a **step score**, the maximum of the column scores of the row.

Why the surprise: counters differ in the shape of their errors, not only in their scale.
On MODS-like data (:mod:`mods.dataset.generate` and an MLP forecaster) a distinct-count
column with normal bursts has a validation 99th percentile of 13-19 robust standard
deviations where a connection counter has 6-7; after the MAD normalisation alone, the bursty
column's *normal* errors dominate the maximum over columns and hide the incidents of the
others (incident recall 0.23 against 0.63 with the surprise, at the same false alert rate).
So each column's smoothed score ``z`` is mapped to ``-log P(validation score >= z)``,
estimated with the column's empirical ``1 - column_tail`` quantile ``u`` (the 95th percentile
by default) and an exponential tail above it (scale ``beta`` from the median excess over
``u``, robust to a few incidents in the validation rows)::

    surprise(z) = L * z / u                 for z < u        (L = -log column_tail)
    surprise(z) = L + (z - u) / beta        for z >= u

continuous and increasing; columns are then comparable (nats of surprise) whatever their
tails.  ``column_tail=0`` keeps the plain ``z``.

Why the maximum over columns: an incident often touches a single counter (one interface,
one link); a mean or a median over the columns would dilute it by the number of columns.  The
maximum inflates the score of clean rows too (it is the largest of ``f`` noisy values) but the
thresholds are calibrated on the validation *step* scores, so that inflation is accounted for.

Everything is causal: the score of row ``t`` depends on rows ``<= t`` only, so scores do not
change when later rows arrive.  Everything is vectorised (no Python loop over rows).
"""

import math

import numpy as np

from mods.errors import ConfigError, DataError, fail

MAD_TO_STD = 1.4826  # MAD of a normal distribution x 1.4826 = its standard deviation
MEAN_AD_TO_STD = 1.2533  # mean absolute deviation of a normal x 1.2533 = its standard deviation
ABS_SPREAD_FLOOR = 1e-12
MIN_TAIL_SCALE = 0.25  # smallest exponential tail scale, in robust standard deviations


def as_2d(values, name="values"):
    """Return ``values`` as a float ``(n, f)`` array (a 1-D input becomes one column).

    Raises
    ------
    DataError
        When ``values`` is not 1-D or 2-D or holds something that is not a number.
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise fail(DataError, "%s must be numeric" % name) from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise fail(DataError, "%s must be a 1-D or 2-D array, got shape %s" % (name, arr.shape))
    return arr


def check_smoothing(span):
    """Validate an EWMA span (``0`` or ``1`` mean no smoothing) and return it as ``int``."""
    if isinstance(span, bool) or not isinstance(span, (int, float, np.integer)):
        raise fail(ConfigError, "smoothing must be an integer span >= 0, got %r" % (span,))
    if span != span or span < 0 or int(span) != span:
        raise fail(ConfigError, "smoothing must be an integer span >= 0, got %r" % (span,))
    return int(span)


def ewma(x, span, initial=None):
    """Causal exponentially weighted moving average along axis 0.

    ``y[t] = a * x[t] + (1 - a) * y[t-1]`` with ``a = 2 / (span + 1)`` (the pandas ``span``
    convention used by telemanom) and ``y[-1] = initial`` (default: ``x[0]``), so the output
    at row ``t`` only depends on rows ``<= t``.

    Parameters
    ----------
    x : ndarray, shape (n,) or (n, f)
        Values without NaN.
    span : int
        EWMA span; ``0`` or ``1`` returns a copy of ``x``.
    initial : float or ndarray of shape (f,), optional
        State before the first row (e.g. the long-run mean of ``x``).

    Returns
    -------
    ndarray
        Same shape as ``x``.

    Notes
    -----
    The recursion runs in C (``scipy.signal.lfilter``, a first-order IIR filter with the
    state as its initial condition), row after row: a series scored in chunks, each starting
    from the previous chunk's last output, gives the same bits as the whole series (the
    stream scorer relies on it), in about a tenth of the time of the former block-wise
    cumulative sums.
    """
    from scipy.signal import lfilter

    x = np.asarray(x, dtype=float)
    span = check_smoothing(span)
    if span <= 1 or x.shape[0] == 0:
        return x.copy()
    squeeze = x.ndim == 1
    if squeeze:
        x = x[:, None]
    alpha = 2.0 / (span + 1.0)
    decay = 1.0 - alpha
    state = x[0].copy() if initial is None else np.broadcast_to(
        np.asarray(initial, dtype=float), x.shape[1:]).copy()
    out, _ = lfilter([alpha], [1.0, -decay], x, axis=0, zi=(decay * state)[None, :])
    return out[:, 0] if squeeze else out


def rolling_median(x, window, history):
    """Causal rolling median along axis 0: ``out[t] = median(x[t - window + 1 .. t])``.

    Parameters
    ----------
    x : ndarray, shape (n, f)
        Values without NaN.
    window : int
        Rows in each median (>= 2).
    history : ndarray, shape (window - 1, f)
        The rows before ``x[0]``, oldest first (a stream's last rows, or the long-run level).

    Returns
    -------
    ndarray, shape (n, f)

    Notes
    -----
    A median over ``window`` rows ignores any excursion shorter than half the window (a
    normal burst) and keeps a sustained one whole: the smoother of the ``sustained`` channel
    of :class:`mods.anomaly.detector.Detector`.
    """
    x = np.asarray(x, dtype=float)
    if x.shape[0] == 0:
        return x.copy()
    padded = np.concatenate([np.asarray(history, dtype=float).reshape(-1, x.shape[1]), x])
    view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)
    return np.median(view, axis=-1)


def combine_columns(column_scores):
    """Step score of each row: the maximum column score, ``NaN`` where every column is NaN."""
    cs = np.asarray(column_scores, dtype=float)
    if cs.ndim == 1:
        return cs.copy()
    if cs.shape[1] == 0:
        return np.full(cs.shape[0], np.nan)
    # fmax ignores NaN and gives NaN only where both are NaN; one call per column is several
    # times faster than a reduction along a short last axis
    step = cs[:, 0].copy()
    for j in range(1, cs.shape[1]):
        np.fmax(step, cs[:, j], out=step)
    return step


def joint_scores(column_scores):
    """Joint score of each row: the sum of its column scores (NaN ignored; NaN if all are).

    With surprises as column scores (``-log`` of a tail probability) this is Fisher's way of
    combining the evidence of several columns: two columns at a surprise of 4 each weigh as
    one column at 8.  The sum is calibrated on its own calibration rows (like a channel), so
    it only adds alerts where several columns deviate *together*, which independent normal
    bursts rarely do.
    """
    cs = np.asarray(column_scores, dtype=float)
    if cs.ndim == 1:
        return cs.copy()
    out = np.nansum(cs, axis=1)
    out[np.isnan(cs).all(axis=1)] = np.nan
    return out


class ResidualScorer:
    """Robust per-column normalisation of forecast residuals, with optional EWMA smoothing.

    Parameters
    ----------
    smoothing : int, default 1
        Span of the causal EWMA applied to the absolute normalised residuals (telemanom
        smooths its errors the same way); ``0`` or ``1`` turns smoothing off.
    spread_floor : float, default 1e-3
        The spread of a column is at least ``spread_floor`` times the column's typical
        magnitude (median absolute actual value, or of the residuals when no actual values
        are given), so that a constant column whose forecast is perfect on the validation
        rows does not give infinite scores for a tiny later change.
    column_tail : float, default 0.05
        Fraction of each column's fitting scores above which its tail is modelled as
        exponential for the surprise (module docstring); ``0`` turns the surprise off.

    Attributes
    ----------
    centre_ : ndarray, shape (f,)
        Median residual per column (a systematic forecast bias is not an anomaly).
    spread_ : ndarray, shape (f,)
        Robust standard deviation per column: MAD x 1.4826, or mean absolute deviation x
        1.2533 when the MAD is 0 (a mostly-constant column), floored as described above.
    level_ : ndarray, shape (f,)
        Mean absolute normalised residual on the fitting rows: the long-run value of the
        EWMA, used as its state before the first row (and for missing values).
    tail_start_, tail_scale_ : ndarray, shape (f,)
        ``u`` and ``beta`` of the surprise of each column.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scorer = ResidualScorer(column_tail=0).fit(rng.normal(size=(500, 2)))
    >>> scorer.column_scores(np.array([[0.1, 8.0]])).round(1)
    array([[0.2, 8.8]])
    """

    def __init__(self, smoothing=1, spread_floor=1e-3, column_tail=0.05, median=0):
        self.smoothing = check_smoothing(smoothing)
        self.median = check_smoothing(median)
        for name, value in (("spread_floor", spread_floor), ("column_tail", column_tail)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0 <= value < 1:
                raise fail(ConfigError, "%s must be a number in [0, 1), got %r"
                           % (name, value))
        self.spread_floor = float(spread_floor)
        self.column_tail = float(column_tail)
        self.centre_ = self.spread_ = self.level_ = None
        self.tail_start_ = self.tail_scale_ = None

    # ------------------------------------------------------------------ fitting
    def fit(self, residuals, actual=None):
        """Fit centre, spread and EWMA level on validation residuals.

        Parameters
        ----------
        residuals : array_like, shape (n, f)
            ``actual - forecast`` on validation rows, original units; NaN rows are ignored.
        actual : array_like, shape (n, f), optional
            The actual values, only used for the typical magnitude of each column (spread
            floor).

        Returns
        -------
        ResidualScorer
            ``self``.

        Raises
        ------
        DataError
            When a column has fewer than 2 finite residuals.
        """
        r = as_2d(residuals, "residuals")
        counts = np.isfinite(r).sum(axis=0)
        if r.shape[1] == 0 or (counts < 2).any():
            bad = [int(j) for j in np.flatnonzero(counts < 2)]
            raise fail(DataError, "need at least 2 finite residuals per column to fit the "
                       "anomaly scorer; column(s) %s have fewer" % (bad or "none"))
        r = np.where(np.isfinite(r), r, np.nan)
        centre = np.nanmedian(r, axis=0)
        dev = np.abs(r - centre)
        spread = np.nanmedian(dev, axis=0) * MAD_TO_STD
        mean_ad = np.nanmean(dev, axis=0) * MEAN_AD_TO_STD
        spread = np.where(spread > 0, spread, mean_ad)
        if actual is not None:
            a = as_2d(actual, "actual")
            if a.shape != r.shape:
                raise fail(DataError, "actual has shape %s but residuals %s"
                           % (a.shape, r.shape))
            a = np.where(np.isfinite(a), np.abs(a), np.nan)
            typical = np.nanmedian(a, axis=0) if np.isfinite(a).any(axis=0).all() \
                else np.zeros(r.shape[1])
        else:
            typical = np.nanmedian(np.abs(r), axis=0)
        typical = np.nan_to_num(typical, nan=0.0)
        floor = np.maximum(self.spread_floor * typical, ABS_SPREAD_FLOOR)
        self.centre_ = centre
        self.spread_ = np.maximum(spread, floor)
        z = np.abs(r - centre) / self.spread_
        self.level_ = np.nan_to_num(np.nanmean(z, axis=0), nan=0.0)
        self._fit_tails(self.smooth(z))
        return self

    def _fit_tails(self, smoothed):
        f = smoothed.shape[1]
        start = np.zeros(f)
        scale = np.full(f, MIN_TAIL_SCALE)
        if self.column_tail > 0:
            for j in range(f):
                v = smoothed[:, j]
                v = v[np.isfinite(v)]
                start[j] = np.quantile(v, 1.0 - self.column_tail)
                excess = v[v > start[j]] - start[j]
                if excess.size:
                    scale[j] = max(float(np.median(excess)) / math.log(2.0), MIN_TAIL_SCALE)
        self.tail_start_, self.tail_scale_ = start, scale

    def _check_fitted(self):
        if self.centre_ is None:
            raise fail(ConfigError, "the anomaly scorer is not fitted; call fit() first")

    @property
    def n_columns(self):
        """Number of columns the scorer was fitted on."""
        self._check_fitted()
        return int(self.centre_.shape[0])

    # ------------------------------------------------------------------ scoring
    def _residuals(self, residuals):
        self._check_fitted()
        r = as_2d(residuals, "residuals")
        if r.shape[1] != self.n_columns:
            raise fail(DataError, "residuals have %d column(s) but the scorer was fitted on %d"
                       % (r.shape[1], self.n_columns))
        return r

    def raw(self, residuals):
        """Unsmoothed normalised residuals.

        Parameters
        ----------
        residuals : array_like, shape (n, f)

        Returns
        -------
        abs_z : ndarray, shape (n, f)
            ``|r - centre| / spread`` (NaN where the residual is NaN).
        signed_z : ndarray, shape (n, f)
            ``(r - centre) / spread``: positive when the actual value is above the forecast.
        """
        r = self._residuals(residuals)
        signed = (r - self.centre_) / self.spread_
        signed[~np.isfinite(signed)] = np.nan
        return np.abs(signed), signed

    def smooth(self, values, initial=None):
        """Causal EWMA of ``values`` (n, f); NaN entries count as the long-run level.

        NaN are kept NaN in the output; inside the recursion they are replaced by the
        column's fitted ``level_`` so that a gap neither raises nor hides later scores.
        """
        v = np.asarray(values, dtype=float)
        if self.median > 1:
            nan = np.isnan(v)
            filled = np.where(nan, self.level_, v)
            if initial is None:
                initial = np.broadcast_to(self.level_, (self.median - 1, v.shape[1]))
            out = rolling_median(filled, self.median, initial)
            out[nan] = np.nan
            return out
        if self.smoothing <= 1:
            return v.copy()
        nan = np.isnan(v)
        filled = np.where(nan, self.level_, v)
        out = ewma(filled, self.smoothing, self.level_ if initial is None else initial)
        out[nan] = np.nan
        return out

    def signed_scores(self, residuals):
        """Smoothed signed normalised residuals (n, f): magnitude and direction together."""
        _, signed = self.raw(residuals)
        if self.smoothing <= 1:
            return signed
        nan = np.isnan(signed)
        out = ewma(np.where(nan, 0.0, signed), self.smoothing, 0.0)
        out[nan] = np.nan
        return out

    def surprise(self, z):
        """Map smoothed normalised scores ``z`` (n, f) to each column's surprise (NaN kept).

        Identity when ``column_tail`` is 0.  See the module docstring for the formula.
        """
        z = np.asarray(z, dtype=float)
        if self.column_tail <= 0:
            return z.copy()
        lead = -math.log(self.column_tail)
        u, beta = self.tail_start_, self.tail_scale_
        with np.errstate(divide="ignore", invalid="ignore"):
            body = np.where(u > 0, lead * z / np.where(u > 0, u, 1.0), lead)
            return np.where(z < u, body, lead + (z - u) / beta)

    def inverse_surprise(self, s):
        """The smoothed normalised score ``z`` whose surprise is ``s`` (broadcast over columns).

        ``s`` may be a scalar or an array broadcastable to ``(n, f)``; used for the expected
        band (the residual at which a column reaches a threshold).
        """
        s = np.asarray(s, dtype=float)
        if self.column_tail <= 0:
            return s * np.ones(self.n_columns)
        lead = -math.log(self.column_tail)
        u, beta = self.tail_start_, self.tail_scale_
        return np.where(s < lead, u * s / lead, u + (s - lead) * beta)

    def column_scores(self, residuals):
        """Per-column scores (n, f): surprise of the EWMA-smoothed ``|r - centre| / spread``."""
        abs_z, _ = self.raw(residuals)
        return self.surprise(self.smooth(abs_z))

    def step_scores(self, residuals):
        """Per-row scores (n,): maximum column score (NaN where every column is NaN)."""
        return combine_columns(self.column_scores(residuals))

    # ------------------------------------------------------------------ persistence
    def to_dict(self):
        """JSON-able state (plain floats and lists)."""
        self._check_fitted()
        return {"smoothing": self.smoothing, "median": self.median,
                "spread_floor": self.spread_floor,
                "column_tail": self.column_tail,
                "centre": [float(v) for v in self.centre_],
                "spread": [float(v) for v in self.spread_],
                "level": [float(v) for v in self.level_],
                "tail_start": [float(v) for v in self.tail_start_],
                "tail_scale": [float(v) for v in self.tail_scale_]}

    @classmethod
    def from_dict(cls, data):
        """Rebuild a fitted scorer from :meth:`to_dict` output."""
        try:
            scorer = cls(smoothing=data["smoothing"], spread_floor=data["spread_floor"],
                         column_tail=data["column_tail"], median=data.get("median", 0))
            scorer.centre_ = np.asarray(data["centre"], dtype=float)
            scorer.spread_ = np.asarray(data["spread"], dtype=float)
            scorer.level_ = np.asarray(data["level"], dtype=float)
            scorer.tail_start_ = np.asarray(data["tail_start"], dtype=float)
            scorer.tail_scale_ = np.asarray(data["tail_scale"], dtype=float)
        except (KeyError, TypeError, ValueError) as exc:
            raise fail(ConfigError, "invalid anomaly scorer state: %s" % exc) from None
        shapes = {a.shape for a in (scorer.centre_, scorer.spread_, scorer.level_,
                                    scorer.tail_start_, scorer.tail_scale_)}
        if len(shapes) != 1 or scorer.centre_.ndim != 1 or (scorer.spread_ <= 0).any() \
                or (scorer.tail_scale_ <= 0).any():
            raise fail(ConfigError, "invalid anomaly scorer state: inconsistent arrays")
        return scorer


def rolling_zscore(values, window=144, min_periods=None):
    """Causal rolling z-score of each column against its *previous* ``window`` rows.

    ``z[t] = (x[t] - mean(x[t-w:t])) / std(x[t-w:t])``: the current row is not part of its
    own reference, so a spike does not mask itself.  Rows with fewer than ``min_periods``
    finite past values (default ``max(2, window // 4)``) get NaN.  NaN values are skipped.

    Parameters
    ----------
    values : array_like, shape (n,) or (n, f)
    window : int, default 144 (one day of 10-minute rows)
    min_periods : int, optional

    Returns
    -------
    ndarray, shape (n, f)
    """
    x = as_2d(values, "values")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
        raise fail(ConfigError, "window must be an integer >= 2, got %r" % (window,))
    min_periods = max(2, window // 4) if min_periods is None else int(min_periods)
    n = x.shape[0]
    finite = np.isfinite(x)
    # Shift by each column's first finite value: keeps the running sums of squares accurate
    # for counters with a large offset (and the first finite value is causal).
    first = np.array([col[np.isfinite(col)][0] if np.isfinite(col).any() else 0.0
                      for col in x.T]) if x.shape[1] else np.zeros(0)
    v = np.where(finite, x - first, 0.0)
    zeros = np.zeros((1, x.shape[1]))
    c1 = np.vstack([zeros, np.cumsum(v, axis=0)])
    c2 = np.vstack([zeros, np.cumsum(v * v, axis=0)])
    cn = np.vstack([zeros, np.cumsum(finite, axis=0)])
    t = np.arange(n)
    lo = np.maximum(t - window, 0)
    s1 = c1[t] - c1[lo]
    s2 = c2[t] - c2[lo]
    cnt = cn[t] - cn[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / cnt
        var = (s2 - cnt * mean * mean) / (cnt - 1)
        std = np.sqrt(np.maximum(var, 0.0))
        z = (v - mean) / std
    z[(cnt < min_periods) | ~finite] = np.nan
    z[std <= 1e-12 * (np.abs(mean) + np.abs(first) + 1.0)] = np.nan
    return z


def rolling_zscore_baseline(values, window=144, k=4.0, min_periods=None):
    """Model-free baseline detector: flag rows where some column has ``|z| > k``.

    ``z`` is the causal rolling z-score of :func:`rolling_zscore` (value against the mean and
    standard deviation of the previous ``window`` rows).  This is the reference the forecast
    residual detector has to beat: it needs no model, but daily seasonality inflates the
    rolling standard deviation and level changes keep firing until the window has absorbed
    them.

    Parameters
    ----------
    values : array_like, shape (n,) or (n, f)
        Raw series (not residuals).
    window : int, default 144
        Past rows in the reference window (144 = one day of 10-minute rows).
    k : float, default 4.0
        Threshold on ``|z|``.
    min_periods : int, optional
        See :func:`rolling_zscore`.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not k > 0:
        raise fail(ConfigError, "k must be a positive number, got %r" % (k,))
    z = np.abs(rolling_zscore(values, window, min_periods))
    return np.nan_to_num(z, nan=0.0).max(axis=1, initial=0.0) > k

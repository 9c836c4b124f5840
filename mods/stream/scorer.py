"""Incremental scoring: one result per time step, equal to the batch ``predict``.

:class:`StreamScorer` keeps the state a causal score needs and nothing more, for one stream:

* the last ``sequence_len + offset - 1`` rows in original units (``offset`` = 1 with
  differencing): with the new row, the input window of the next forecast;
* the multi-horizon *trajectories* of the detector's horizon channels (default 6 and 72
  rows): for each of the last ``max(horizon)`` origins, its model-space window, last
  one-step output and level (:mod:`mods.anomaly.horizons` iterates the one-step output on
  its own forecasts; here each origin's recursion advances lazily, one batched model call
  per step for all origins together, only as far as the rows that arrived need it), and
  the forecasts already made for the next row;
* per channel and column, the state of the causal EWMA of the normalised residuals;
* for the seasonal channel, the last ``seasonal_days`` days of rows in original units
  (:mod:`mods.anomaly.seasonal`: 1,008 rows of 10-minute data);
* the warning flags of the last ``max(horizon) + context + mask_margin`` rows (masking;
  ``max(horizon)`` is a day's rows with the seasonal channel), and with a trailing dynamic threshold (``dynamic_window > 0``) the last
  ``dynamic_window`` step scores;
* the alert event being built (start, end, peak, level...) and the end of the previous one
  (refractory period).

So a burst of ``B`` rows costs ``1 + min(B, max(horizon)) - 1`` model calls, each on up to
``B + max(horizon)`` windows, and one row costs one call on ``max(horizon) + 1`` windows.

Equality with batch
-------------------
Every step repeats the batch arithmetic on the same rows (same transform, same model, same
residual scorers, thresholds, masking and event rules); the only differences are
floating-point rounding (the model evaluated in batches of other sizes, the EWMA as a
recursion instead of blocked sums), a few units in the last place of forecasts and
scores.  Row indices count from the first row of the stream, as the batch indices count
from the first row of the file.

Events
------
An event *opens* on its first flagged row (once it spans ``min_event_length`` rows), *grows*
with each later flagged row that joins it (at most ``merge_gap`` normal rows after the
previous one) and *closes* on the ``merge_gap + 1``-th normal row after its last flagged row;
the dict is the batch event's (:mod:`mods.anomaly.alerts`), with ``status`` ``"open"`` until
it closes and ``change`` = ``"opened"``, ``"grew"`` or ``"closed"``.
"""

import collections
import logging
import math

import numpy as np

from mods.anomaly import thresholds as th
from mods.anomaly.masking import final_flags
from mods.anomaly.detector import Detector
from mods.anomaly.scorers import ewma, joint_scores, rolling_median
from mods.errors import ConfigError, DataError, fail
from mods.stream.rows import iso

LOG = logging.getLogger("mods.stream")

DIGITS = 6


def _num(x, digits=DIGITS):
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def _nums(a, digits=DIGITS):
    """JSON-safe rounded floats of a 1-D array (``None`` for NaN)."""
    a = np.round(np.asarray(a, dtype=np.float64), digits)
    return [v if v == v and abs(v) != math.inf else None for v in a.tolist()]


def _rows(a, digits=DIGITS):
    """:func:`_nums` of each row of a 2-D array, rounded in one call."""
    a = np.round(np.asarray(a, dtype=np.float64), digits)
    return [[v if v == v and abs(v) != math.inf else None for v in row] for row in a.tolist()]


def _nanmax(arrays):
    out = arrays[0].copy()
    for a in arrays[1:]:
        out = np.fmax(out, a)
    return out


class _Trailing:
    """Per-row thresholds of the trailing dynamic method, one row at a time."""

    def __init__(self, base, cfg):
        self.base_w, self.base_c = float(base["warning"]), float(base["critical"])
        self.window = int(cfg.dynamic_window)
        self.stride = max(int(cfg.dynamic_stride), 1)
        self.params = cfg.threshold_params()
        self.zs = th.z_grid(cfg.z_min, cfg.z_max, cfg.z_step)
        self.past = collections.deque(maxlen=max(self.window, 1))
        self.current = (self.base_w, self.base_c)

    def levels(self, row):
        """Thresholds of row ``row`` (recomputed at block starts from earlier scores)."""
        if self.window > 0 and row % self.stride == 0:
            self.current = (self.base_w, self.base_c)
            past = np.asarray([s for s in self.past if math.isfinite(s)])
            if past.size >= max(self.window // 4, 2):
                eps = th.robust_epsilon(past, self.zs, int(self.params["dynamic_buffer"]),
                                        float(self.params["prune_p"]))
                if np.isfinite(eps):
                    ratio = float(self.params["dynamic_critical_ratio"])
                    self.current = (max(self.base_w, eps), max(self.base_c, ratio * eps))
        return self.current

    def push(self, score):
        if self.window > 0:
            self.past.append(float(score))


class _FastTransform:
    """:class:`mods.dataset.windows.Transform` without scikit-learn's per-call checks.

    The same arithmetic in the same order as the fitted ``MinMaxScaler`` /
    ``StandardScaler`` (so the same bits); any other scaler goes through the original.
    """

    def __init__(self, transform):
        self.transform = transform
        self.offset = transform.offset
        self.delta = transform.model_delta
        sc = transform.scaler
        name = type(sc).__name__ if sc is not None else None
        self.kind = None
        if name == "MinMaxScaler" and not getattr(sc, "clip", False):
            self.kind, self.a, self.b = "minmax", sc.scale_, sc.min_
        elif name == "StandardScaler":
            self.kind = "standard"
            self.a = sc.mean_ if sc.with_mean else None
            self.b = sc.scale_ if sc.with_std else None
        elif sc is None:
            self.kind = "none"

    def forward(self, values):
        if self.kind is None:
            return self.transform.forward(values)
        raw = np.diff(values, axis=0) if self.delta else np.array(values, dtype=np.float64)
        if self.kind == "minmax":
            raw *= self.a
            raw += self.b
        elif self.kind == "standard":
            if self.a is not None:
                raw -= self.a
            if self.b is not None:
                raw /= self.b
        return np.ascontiguousarray(raw, dtype=np.float32)

    def inverse(self, values, origins, forecasts):
        if self.kind is None:
            return self.transform.inverse(values, origins, forecasts)
        out = np.array(forecasts, dtype=np.float64)
        if self.kind == "minmax":
            out -= self.b
            out /= self.a
        elif self.kind == "standard":
            if self.b is not None:
                out *= self.b
            if self.a is not None:
                out += self.a
        if self.delta:
            out = np.asarray(values, dtype=np.float64)[origins][:, None, :] + out
        return out


def _model_function(fc):
    """A compiled call of the Keras model (less overhead per call than predict_on_batch),
    or ``fc._infer`` when the backend is not TensorFlow."""
    try:
        import keras
        import tensorflow as tf

        if keras.backend.backend() != "tensorflow":
            return fc._infer
    except ImportError:  # pragma: no cover
        return fc._infer
    model = fc.model
    spec = tf.TensorSpec([None, fc.sequence_len, len(fc.columns)], tf.float32)
    # the concrete function: no per-call signature binding and trace-cache lookup
    call = tf.function(lambda x: model(x, training=False), input_signature=[spec],
                       autograph=False).get_concrete_function()

    def infer(x):
        return call(x).numpy()
    return infer


class _Forecasts:
    """One-step and horizon forecasts of each new row, from the rows before it."""

    def __init__(self, fc, horizons):
        self.fc = fc
        self.L = fc.sequence_len
        self.off = fc.transform.offset
        self.k = fc.steps_ahead
        self.keep = self.L + self.off - 1
        self.first = self.L - 1 + self.off
        self.f = len(fc.columns)
        self.hist = np.zeros((0, self.f))
        self.n = 0  # rows seen
        self.direct = [h for h in horizons if h <= self.k]
        self.longer = [h for h in horizons if h > self.k]
        self.top = max(self.longer) if self.longer else 0
        # trajectories (origins, windows, last outputs, levels, depths)
        self.t_origin = np.zeros(0, dtype=np.int64)
        self.t_x = np.zeros((0, self.L, self.f), dtype=np.float32)
        self.t_step = np.zeros((0, 1, self.f), dtype=np.float32)
        self.t_level = np.zeros((0, self.f))
        self.t_depth = np.zeros(0, dtype=np.int64)
        self.pending = {h: {} for h in [1] + list(horizons)}  # {h: {row: (f,)}}
        self.next = None  # (k, f) forecasts beyond the last row
        self.calls = 0
        self.tr = _FastTransform(fc.transform)
        self.model_call = _model_function(fc)

    def _infer(self, x):
        self.calls += 1
        return np.asarray(self.model_call(np.ascontiguousarray(x, dtype=np.float32)),
                          dtype=np.float32)

    def add(self, values):
        """Take rows ``values`` (B, f); make every forecast of rows up to the next one."""
        b = values.shape[0]
        full = np.concatenate([self.hist, values], axis=0)
        base = self.n - self.hist.shape[0]  # global index of full[0]
        tr = self.tr
        local = np.arange(max(self.first - base, full.shape[0] - b), full.shape[0])
        new_x = None
        if local.size:
            series = tr.forward(full)
            idx = local - self.off - self.L + 1
            new_x = np.stack([series[i:i + self.L] for i in idx]).astype(np.float32)
        last = self.n + b - 1
        # Existing trajectories that must advance for the rows up to last + 1.
        need = np.minimum(self.top, last + 1 - self.t_origin)
        sel = np.flatnonzero(self.t_depth < need)
        adv_x = None
        if sel.size:
            adv_x = np.concatenate([self.t_x[sel][:, 1:], self.t_step[sel]], axis=1)
        parts = [p for p in (new_x, adv_x) if p is not None]
        if parts:
            y = self._infer(np.concatenate(parts, axis=0))
            m = 0 if new_x is None else new_x.shape[0]
            if sel.size:
                self._advance(sel, adv_x, y[m:])
            if m:
                origins = base + local
                direct = tr.inverse(full, local, y[:m])  # (m, k, f)
                for h in [1] + self.direct:
                    for o, v in zip(origins.tolist(), direct[:, h - 1]):
                        self.pending[h][o + h] = v
                self.next = direct[-1] if origins[-1] == last else None
                if self.longer:
                    self.t_origin = np.concatenate([self.t_origin, origins])
                    self.t_x = np.concatenate([self.t_x, new_x])
                    self.t_step = np.concatenate([self.t_step, y[:m, :1]])
                    self.t_level = np.concatenate([self.t_level, direct[:, 0]])
                    self.t_depth = np.concatenate([self.t_depth,
                                                   np.ones(m, dtype=np.int64)])
        # Further recursion steps (bursts): one call per step for every origin behind.
        while self.longer:
            need = np.minimum(self.top, last + 1 - self.t_origin)
            sel = np.flatnonzero(self.t_depth < need)
            if not sel.size:
                break
            x = np.concatenate([self.t_x[sel][:, 1:], self.t_step[sel]], axis=1)
            self._advance(sel, x, self._infer(x))
        done = self.t_depth >= self.top
        if done.any():
            keep = ~done
            self.t_origin, self.t_x, self.t_step = (self.t_origin[keep], self.t_x[keep],
                                                    self.t_step[keep])
            self.t_level, self.t_depth = self.t_level[keep], self.t_depth[keep]
        self.hist = full[-self.keep:] if self.keep else full[:0]
        self.n += b

    def _advance(self, sel, x, y):
        step = y[:, :1]
        index = np.arange(sel.size)
        level = self.tr.inverse(self.t_level[sel], index, step)[:, 0]
        self.t_x[sel], self.t_step[sel], self.t_level[sel] = x, step, level
        self.t_depth[sel] += 1
        depth = self.t_depth[sel]
        for h in self.longer:  # only the trajectories reaching a horizon now
            hit = np.flatnonzero(depth == h)
            pending = self.pending[h]
            for i, o in zip(hit.tolist(), self.t_origin[sel][hit].tolist()):
                pending[o + h] = level[i]

    def take(self, row):
        """``{h: forecast (f,) or NaN}`` of row ``row`` (removed from the state)."""
        nan = np.full(self.f, np.nan)
        return {h: p.pop(row, nan) for h, p in self.pending.items()}


class _Channel:
    """Incremental :class:`~mods.anomaly.scorers.ResidualScorer` column scores."""

    def __init__(self, horizon, scorer, factor, joint_factor=None, seasonal=False):
        self.horizon = int(horizon)
        self.seasonal = bool(seasonal)
        self.scorer = scorer
        self.factor = float(factor)
        self.joint_factor = joint_factor
        self.smooth = scorer.smoothing > 1
        self.state = np.array(scorer.level_, dtype=float)
        m = scorer.median
        self.window = np.tile(scorer.level_, (m - 1, 1)) if m > 1 else None

    def scores(self, resid):
        """Column scores (B, f) and joint scores (B,) or None of residual rows (B, f).

        The smoother's state (EWMA level or the median's last rows) moves on.
        """
        sc = self.scorer
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.abs((resid - sc.centre_) / sc.spread_)
        z[~np.isfinite(z)] = np.nan
        if self.window is not None:
            nan = np.isnan(z)
            filled = np.where(nan, sc.level_, z)
            sm = rolling_median(filled, sc.median, self.window)
            self.window = np.concatenate([self.window, filled])[-(sc.median - 1):]
            sm[nan] = np.nan
            z = sm
        elif self.smooth:
            nan = np.isnan(z)
            sm = ewma(np.where(nan, sc.level_, z), sc.smoothing, self.state)
            self.state = sm[-1].copy()
            sm[nan] = np.nan
            z = sm
        cs = sc.surprise(z)
        joint = None if self.joint_factor is None else joint_scores(cs) * self.joint_factor
        return cs * self.factor, joint


class StreamScorer:
    """Forecast, score and group into events the rows of one stream, as they arrive.

    Parameters
    ----------
    forecaster : mods.forecast.forecaster.Forecaster
        A loaded bundle (:func:`mods.forecast.bundle.load`); its detector gives the scores.
    stream : str, optional
        Stream id copied into every result (``"stream"``).
    config_overrides : dict, optional
        Detector options for this stream (threshold method and event options), as for
        :meth:`mods.anomaly.detector.Detector.detect`.

    Examples
    --------
    >>> scorer = StreamScorer(bundle.load("default"))              # doctest: +SKIP
    >>> results = scorer.push([(t0, row0, False), (t1, row1, False)])  # doctest: +SKIP
    >>> results[-1]["score"], results[-1]["level"]                  # doctest: +SKIP
    (0.12, 'normal')
    """

    def __init__(self, forecaster, stream=None, config_overrides=None):
        self.fc = forecaster
        self.stream = stream
        self.columns = list(forecaster.columns)
        self.f = len(self.columns)
        det = forecaster.detector
        self.det = det
        self.rows = 0
        if det is None:
            horizons = []
        else:
            self.cfg = det.effective_config(config_overrides)
            thr = det.thresholds_for(self.cfg)
            self.thresholds = dict(thr)
            horizons = det.horizons
            ref = det.norm_ or 1.0
            self.channels = [_Channel(h, sc, ref / norm, None if jn is None else ref / jn,
                                      seasonal)
                             for h, sc, norm, jn, seasonal in det.channel_list()]
            # rows the seasonal channel reads (the last seasonal_days days), oldest first
            self.keep = det.season_ * det.config.seasonal_days \
                if any(ch.seasonal for ch in self.channels) else 0
            self.past = np.zeros((0, self.f))
            self.context = int(det.context or 1)
            self.mask = bool(self.cfg.mask_horizons) and len(self.channels) > 1
            self.margin = int(self.cfg.mask_margin)
            memory = max(ch.horizon for ch in self.channels) + self.context + self.margin + 1
            self.flags = collections.deque(maxlen=memory)  # final flags of recent rows
            self.trail_raw = _Trailing(thr, self.cfg)
            self.trail = _Trailing(thr, self.cfg)
            self.event = None
            self.prev_end = None
        self.forecasts = _Forecasts(forecaster, horizons)

    # ------------------------------------------------------------------ state
    def state_summary(self):
        """What the state holds (sizes), for logs and the documentation."""
        fs = self.forecasts
        out = {"rows": self.rows, "history_rows": int(fs.hist.shape[0]),
               "trajectories": int(fs.t_origin.size),
               "pending_forecasts": sum(len(p) for p in fs.pending.values()),
               "model_calls": fs.calls}
        if self.det is not None:
            out.update({"flag_memory": len(self.flags),
                        "event_open": self.event is not None,
                        "seasonal_rows": int(self.past.shape[0]),
                        "trailing_scores": len(self.trail.past)
                        if self.cfg.dynamic_window else 0})
        return out

    # ------------------------------------------------------------------ scoring
    def push(self, rows):
        """Score rows ``[(time_seconds or None, values (f,), inserted)]``, in time order.

        A list of rows (a burst) is scored together: the model calls and the detector's
        arithmetic are vectorised over it.

        Returns
        -------
        list of dict
            One JSON-able result per row: ``time``, ``row``, ``stream`` (when keyed),
            ``actual`` and ``forecast`` (per column; the forecast of the row made at the
            previous row, ``None`` before the first full input window), ``filled`` (rows
            inserted for a missing time step), ``scores`` (per column), ``score``,
            ``level``, ``event`` (when an alert event opens, grows or closes) and, on the
            last row of the burst, ``next`` (the forecasts of the following rows).
        """
        if not rows:
            return []
        b = len(rows)
        values = np.asarray([r[1] for r in rows], dtype=np.float64).reshape(b, -1)
        if values.shape[1] != self.f:
            raise fail(DataError, "rows have %d values, the model %d columns"
                       % (values.shape[1], self.f), LOG)
        self.forecasts.add(values)
        t0 = self.rows
        taken = [self.forecasts.take(t0 + i) for i in range(b)]
        fcs = {h: np.stack([tk[h] for tk in taken]) for h in taken[0]}
        det = self._detect_block(t0, rows, values, fcs) if self.det is not None else None
        out = []
        cols = self.columns
        # rounded once per burst: per-row rounding was a fifth of the time of a burst
        actuals, forecasts = _rows(values), _rows(fcs[1])
        if det is not None:
            col_scores, scores = _rows(det["col_scores"]), _nums(det["scores"])
        for i, (when, _, inserted) in enumerate(rows):
            t = t0 + i
            res = {"time": iso(when) if when is not None else None, "row": t}
            if self.stream is not None:
                res["stream"] = self.stream
            res["actual"] = dict(zip(cols, actuals[i]))
            res["forecast"] = dict(zip(cols, forecasts[i]))
            if inserted:
                res["filled"] = True
            if det is not None:
                res["scores"] = dict(zip(cols, col_scores[i]))
                res["score"] = scores[i]
                res["level"] = th.LEVELS[int(det["codes"][i])]
                event = det["events"].get(i)
                if event is not None:
                    res["event"] = event
            out.append(res)
        self.rows += b
        nxt = self.forecasts.next
        when = rows[-1][0]
        if nxt is not None:
            step = self.fc.info.get("freq_seconds")
            out[-1]["next"] = {
                "times": [iso(when + step * j) for j in range(1, nxt.shape[0] + 1)]
                if when is not None and step else None,
                "values": {c: _nums(nxt[:, j]) for j, c in enumerate(cols)}}
        return out

    def _detect_block(self, t0, rows, actual, fcs):
        b = actual.shape[0]
        if self.keep:
            rows_seen = np.concatenate([self.past, actual])
            fcs = dict(fcs, seasonal=self.det.seasonal_forecasts(
                rows_seen, start=self.past.shape[0]))
            self.past = rows_seen[-self.keep:]
        scored = [ch.scores(actual - fcs["seasonal" if ch.seasonal else ch.horizon])
                  for ch in self.channels]
        parts = [cs for cs, _ in scored]
        joints = [jt for _, jt in scored if jt is not None]
        step = Detector.step_scores(parts, joints)
        warning, critical = self._levels(self.trail_raw, t0, step)
        if self.mask:
            prev = np.fromiter(self.flags, dtype=bool, count=len(self.flags))
            flagged, masks = final_flags(
                [Detector.step_scores([p], joints[i:i + 1]) for i, p in enumerate(parts)],
                [ch.horizon for ch in self.channels], warning, self.context, history=prev,
                margin=self.margin)
            for i in range(1, len(parts)):
                parts[i] = np.where(masks[i][:, None], np.nan, parts[i])
                if joints:
                    joints[i] = np.where(masks[i], np.nan, joints[i])
            self.flags.extend(flagged.tolist())
            step = Detector.step_scores(parts, joints)
            warning, critical = self._levels(self.trail, t0, step)
        col_raw = _nanmax(parts)
        codes = th.level_codes(step, warning, critical)
        scores = th.calibrated_score(step, warning, critical)
        col_scores = th.calibrated_score(col_raw, warning[:, None], critical[:, None])
        events = {}
        active = np.flatnonzero(codes > 0)
        if active.size or self.event is not None:
            stack = np.stack([np.nan_to_num(Detector.step_scores([p], joints[i:i + 1]), nan=-np.inf)
                              for i, p in enumerate(parts)])
            for i in range(b):
                if codes[i] == 0 and self.event is None:
                    continue
                ev = self._event(t0 + i, rows[i][0], int(codes[i]), float(scores[i]),
                                 col_scores[i], actual[i], fcs[1][i], float(warning[i]),
                                 stack[:, i])
                if ev is not None:
                    events[i] = ev
        return {"codes": codes, "scores": scores, "col_scores": col_scores,
                "events": events}

    def _levels(self, trail, t0, step):
        b = step.size
        if not self.cfg.dynamic_window:
            return np.full(b, trail.base_w), np.full(b, trail.base_c)
        w, c = np.empty(b), np.empty(b)
        for i in range(b):
            w[i], c[i] = trail.levels(t0 + i)
            trail.push(step[i])
        return w, c

    # ------------------------------------------------------------------ events
    def _columns_at(self, col_scores, actual, forecast, warning):
        sc = self.det.scorer
        half = sc.inverse_surprise(np.full((1, self.f), warning))[0] * sc.spread_
        mid = forecast + sc.centre_
        lo, hi = mid - half, mid + half
        cs = np.nan_to_num(col_scores, nan=-1.0)
        order = np.argsort(-cs, kind="stable")
        chosen = [j for j in order[:max(int(self.cfg.max_columns), 1)] if cs[j] >= 0.5] \
            or [order[0]]
        cols = []
        for j in chosen:
            a, fcv, m = actual[j], forecast[j], 0.5 * (lo[j] + hi[j])
            cols.append({"name": self.columns[j], "index": int(j), "actual": _num(a, 12),
                         "forecast": _num(fcv, 12), "expected_low": _num(lo[j], 12),
                         "expected_high": _num(hi[j], 12), "score": float(cs[j]),
                         "direction": "spike" if a > m else "drop"})
        return cols

    def _event(self, t, when, code, score, col_scores, actual, forecast, warning, stack):
        cfg = self.cfg
        ev = self.event
        if code > 0:
            horizon = self.channels[int(np.argmax(stack))].horizon
            peak = None
            if ev is None or score > ev["peak_score"]:
                peak = {"peak_index": t, "peak_time": iso(when) if when is not None else None,
                        "peak_score": score, "horizon": horizon,
                        "columns": self._columns_at(col_scores, actual, forecast, warning)}
            if ev is None:
                alert = self.prev_end is None or t - self.prev_end - 1 > cfg.refractory
                ev = self.event = {"start": t, "start_time": peak["peak_time"],
                                   "level_code": code, "flagged_steps": 0, "alert": alert,
                                   "announced": False}
            ev["end"], ev["end_time"] = t, iso(when) if when is not None else None
            ev["flagged_steps"] += 1
            ev["level_code"] = max(ev["level_code"], code)
            if peak:
                ev.update(peak)
            if ev["end"] - ev["start"] + 1 >= cfg.min_event_length:
                change = "grew" if ev["announced"] else "opened"
                ev["announced"] = True
                return self._event_dict(ev, "open", change)
            return None
        if ev is not None and t - ev["end"] > cfg.merge_gap:
            self.event = None
            if ev["end"] - ev["start"] + 1 >= cfg.min_event_length:
                self.prev_end = ev["end"]
                return self._event_dict(ev, "closed", "closed")
        return None

    @staticmethod
    def _event_dict(ev, status, change):
        cols = ev["columns"]
        return {"start": ev["start"], "end": ev["end"], "length": ev["end"] - ev["start"] + 1,
                "start_time": ev["start_time"], "end_time": ev["end_time"],
                "peak_index": ev["peak_index"], "peak_time": ev["peak_time"],
                "peak_score": ev["peak_score"], "level": th.LEVELS[ev["level_code"]],
                "status": status, "alert": bool(ev["alert"]),
                "flagged_steps": ev["flagged_steps"], "direction": cols[0]["direction"],
                "columns": cols, "horizon": ev["horizon"], "change": change}


def check_forecaster(fc):
    """Raise :class:`ConfigError` unless ``fc`` can be streamed (it has a time frequency)."""
    if fc.detector is None:
        LOG.warning("model %s has no anomaly detector: only forecasts are emitted",
                    fc.info.get("name"))
    if not fc.columns:
        raise fail(ConfigError, "the model has no columns", LOG)
    return fc

"""Differencing, scaling and sliding windows, and their inverse.

Index conventions (``Y`` the series in original units, ``n`` rows):

* with ``model_delta`` the model sees ``D[t] = Y[t] - Y[t-1]`` (``t >= 1``); without it,
  ``Y`` itself.  ``offset`` is 1 or 0 accordingly: row ``s`` of the transformed series is
  row ``s + offset`` of ``Y``.
* a forecast *origin* ``i`` is the last row of ``Y`` the model has seen; its window holds the
  transformed rows ending at ``Y`` row ``i``; it forecasts rows ``i+1 .. i+k``.
* with ``model_delta`` the target of step ``j`` is the *cumulative* change ``Y[i+j] - Y[i]``
  (scaled like the one-step differences), so that the training loss weighs the error of the
  level at every horizon step, not only of the successive differences.
"""

import numpy as np

from mods.errors import ConfigError, fail

SCALERS = ("minmax", "standard", "none")


def make_scaler(kind):
    """Return an unfitted scikit-learn scaler for ``kind`` (``None`` for ``"none"``)."""
    if kind == "none":
        return None
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    if kind == "minmax":
        return MinMaxScaler(feature_range=(-1, 1))
    if kind == "standard":
        return StandardScaler()
    raise fail(ConfigError, "unknown scaler %r; valid: %s" % (kind, ", ".join(SCALERS)))


class Transform:
    """First-order differencing (optional) followed by scaling fitted on training rows.

    Parameters
    ----------
    model_delta : bool
        Model differences ``Y[t] - Y[t-1]`` instead of values.
    scaler : sklearn transformer or None
        Fitted by :meth:`fit`; ``None`` leaves values unscaled.
    """

    def __init__(self, model_delta=True, scaler=None):
        self.model_delta = bool(model_delta)
        self.scaler = scaler

    @property
    def offset(self):
        """Rows of ``Y`` lost at the start by differencing (1 or 0)."""
        return 1 if self.model_delta else 0

    def _raw(self, values):
        values = np.asarray(values, dtype=np.float64)
        return np.diff(values, axis=0) if self.model_delta else values

    def fit(self, values):
        """Fit the scaler on the transformed training rows ``values`` (original units)."""
        if self.scaler is not None:
            self.scaler.fit(self._raw(values))
        return self

    def forward(self, values):
        """Original units ``(n, f)`` -> model space ``(n - offset, f)`` as float32."""
        raw = self._raw(values)
        if self.scaler is not None:
            raw = self.scaler.transform(raw)
        return np.ascontiguousarray(raw, dtype=np.float32)

    def targets(self, values, origins, steps_ahead):
        """Model-space targets of ``origins`` for steps ``1..k`` -> ``(m, k, f)`` float32."""
        values = np.asarray(values, dtype=np.float64)
        origins = np.asarray(origins)
        idx = origins[:, None] + np.arange(1, steps_ahead + 1)[None, :]
        out = values[idx]
        if self.model_delta:
            out = out - values[origins][:, None, :]
        m, k, f = out.shape
        if self.scaler is not None:
            out = self.scaler.transform(out.reshape(m * k, f)).reshape(m, k, f)
        return np.ascontiguousarray(out, dtype=np.float32)

    def inverse(self, values, origins, forecasts):
        """Model-space forecasts ``(m, k, f)`` -> original units.

        Parameters
        ----------
        values : ndarray (n, f)
            The series in original units (needed to undo differencing).
        origins : ndarray of int (m,)
            Row of ``values`` each forecast starts from.
        forecasts : ndarray (m, k, f)
            Model outputs for rows ``origin+1 .. origin+k`` (cumulative changes with
            ``model_delta``).
        """
        m, k, f = forecasts.shape
        out = np.asarray(forecasts, dtype=np.float64).reshape(m * k, f)
        if self.scaler is not None:
            out = self.scaler.inverse_transform(out)
        out = out.reshape(m, k, f)
        if self.model_delta:
            base = np.asarray(values, dtype=np.float64)[origins]
            out = base[:, None, :] + out
        return out


def first_origin(sequence_len, offset):
    """Smallest origin with a full window."""
    return sequence_len - 1 + offset


def windows(series, sequence_len):
    """All windows of ``sequence_len`` rows of ``series`` ``(n, f)`` -> ``(n-L+1, L, f)``.

    A read-only view: no copy is made.
    """
    view = np.lib.stride_tricks.sliding_window_view(series, sequence_len, axis=0)
    return view.transpose(0, 2, 1)


def origin_windows(series, origins, sequence_len, offset):
    """Windows ending at Y rows ``origins`` (model-space ``series``) -> ``(m, L, f)``."""
    all_w = windows(series, sequence_len)
    return all_w[np.asarray(origins) - offset - sequence_len + 1]

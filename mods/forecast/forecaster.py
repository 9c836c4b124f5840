"""The Forecaster: fit a Keras model on a dataset, forecast, evaluate, detect anomalies.

Plain functions and objects: no HTTP, no files (see :mod:`mods.forecast.bundle` for those).
"""

import hashlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from mods import metrics
from mods.dataset import windows as W
from mods.errors import DataError, fail
from mods.forecast.params import Params

LOG = logging.getLogger("mods.forecast")

PREDICT_BATCH = 16384


def fingerprint(values, columns):
    """SHA-256 of the feature values and names: identifies the training data."""
    h = hashlib.sha256()
    h.update("\t".join(columns).encode())
    h.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return "sha256:" + h.hexdigest()


@dataclass
class Split:
    """Row ranges of a chronological train / validation / test split."""

    n: int
    train_end: int       # rows [0, train_end) train the model and fit the scaler
    val_end: int         # rows [train_end, val_end) drive early stopping and calibration
    # rows [val_end, n) are held out for the reported metrics

    def as_dict(self):
        return {"train": self.train_end, "validation": self.val_end - self.train_end,
                "test": self.n - self.val_end}


@dataclass
class Prediction:
    """What :meth:`Forecaster.predict` returns (original units throughout)."""

    origins: np.ndarray           # (m,) row index of each forecast origin
    forecasts: np.ndarray         # (m, k, f)
    evaluation: dict = None       # metrics vs naive / seasonal naive, None without actuals
    detection: object = None      # mods.anomaly.detector.Detection or None
    step1: np.ndarray = None      # (n, f) one-step forecast of every row (NaN when none)
    extra: dict = field(default_factory=dict)


class Forecaster:
    """A trained (or to-be-trained) forecasting model with its transform and calibration.

    Parameters
    ----------
    params : Params
        Hyper-parameters.
    columns : list of str
        Feature names, in model order.
    transform : mods.dataset.windows.Transform
        Differencing and fitted scaler.
    model : keras.Model
        Output ``(batch, steps_ahead, n_features)`` in model space.
    detector : mods.anomaly.detector.Detector, optional
        Calibrated anomaly detector.
    info : dict, optional
        Provenance: time column, frequency, training data fingerprint, metrics...
    """

    def __init__(self, params, columns, transform, model, detector=None, info=None):
        self.params = params
        self.columns = list(columns)
        self.transform = transform
        self.model = model
        self.detector = detector
        self.info = dict(info or {})

    # ------------------------------------------------------------------ properties
    @property
    def sequence_len(self):
        return self.params.sequence_len

    @property
    def steps_ahead(self):
        return self.params.steps_ahead

    @property
    def season(self):
        """Rows in one day at the training data's time step (144 when it had none)."""
        import pandas as pd

        seconds = self.info.get("freq_seconds")
        return metrics.infer_season(pd.Timedelta(seconds=float(seconds)) if seconds else None)

    @property
    def first_origin(self):
        """First row from which a forecast can be made."""
        return W.first_origin(self.sequence_len, self.transform.offset)

    def min_rows(self):
        """Rows a file needs for at least one forecast (``sequence_len + steps_ahead``)."""
        return self.sequence_len + max(self.steps_ahead, self.transform.offset)

    # ------------------------------------------------------------------ training
    @staticmethod
    def split(n, params):
        """Chronological split of ``n`` rows per ``params``; checks every part is usable."""
        offset = 1 if params.model_delta else 0
        n_test = int(n * params.test_fraction)
        n_fit = n - n_test
        n_val = max(int(n_fit * params.validation_fraction), params.steps_ahead + 1)
        split = Split(n=n, train_end=n_fit - n_val, val_end=n_fit)
        n_train_windows = split.train_end - params.sequence_len - offset - params.steps_ahead + 1
        need = params.sequence_len + offset + params.steps_ahead
        if n_train_windows < 1:
            raise fail(DataError, "%d rows are too few to train: the training part (%d rows) "
                       "needs at least %d (sequence_len + steps_ahead%s) plus validation and "
                       "test rows; give more data or lower sequence_len/test_fraction"
                       % (n, split.train_end, need, " + 1 for differencing" if offset else ""))
        return split

    @classmethod
    def fit(cls, dataset, params=None, on_epoch=None, detector_config=None):
        """Train a new forecaster on ``dataset``.

        Parameters
        ----------
        dataset : mods.dataset.io.Dataset
        params : Params, optional
        on_epoch : callable, optional
            Called with a dict after every epoch (progress reporting).
        detector_config : mods.anomaly.detector.DetectorConfig, optional

        Returns
        -------
        (Forecaster, dict)
            The model and its training report (history, epochs, time, metrics).
        """
        import keras

        from mods.forecast import registry, training

        params = (params or Params()).validate()
        t0 = time.perf_counter()
        values = dataset.values
        split = cls.split(len(values), params)
        transform = W.Transform(params.model_delta, W.make_scaler(params.scaler))
        transform.fit(values[: split.train_end])
        series = transform.forward(values)
        offset, L, k = transform.offset, params.sequence_len, params.steps_ahead

        first = W.first_origin(L, offset)
        train_o = np.arange(first, split.train_end - k)
        val_o = np.arange(max(first, split.train_end - 1), split.val_end - k)
        x_train = W.origin_windows(series, train_o, L, offset)
        y_train = transform.targets(values, train_o, k)
        x_val = W.origin_windows(series, val_o, L, offset)
        y_val = transform.targets(values, val_o, k)

        training.seed_everything(params.seed)
        model = registry.build_model(params.model_type, (L, values.shape[1]), k,
                                     values.shape[1], params)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=params.learning_rate),
                      loss="mae")
        LOG.info("training %s on %d windows (%d validation), %d features, k=%d",
                 params.model_type, len(train_o), len(val_o), values.shape[1], k)
        history = []

        def record(rec):
            history.append(rec)
            if on_epoch is not None:
                on_epoch(rec)

        model.fit(x_train, y_train, validation_data=(x_val, y_val) if len(val_o) else None,
                  epochs=params.num_epochs, batch_size=params.batch_size, shuffle=True,
                  callbacks=training.callbacks(params, record), verbose=0)
        train_seconds = time.perf_counter() - t0

        info = {
            "time_column": dataset.time_column,
            "freq_seconds": dataset.freq.total_seconds() if dataset.freq is not None else None,
            "label_column": dataset.label_column,
            "data": {"fingerprint": fingerprint(values, dataset.columns), "rows": len(values),
                     "source": dataset.source, "split": split.as_dict(),
                     "first_time": _iso(dataset.time[0]) if dataset.time is not None else None,
                     "last_time": _iso(dataset.time[-1]) if dataset.time is not None else None},
        }
        fc = cls(params, dataset.columns, transform, model, info=info)

        # Calibrate the anomaly detector on the residuals of every row after the first
        # window: one-step and multi-horizon (mods.anomaly.horizons).  The validation and
        # test rows are out of sample; the training rows' residuals are rescaled to their
        # spread by the detector (Detector.fit, in_sample).  Labelled rows, when the data
        # has labels, are known incidents and calibrate nothing.
        if len(val_o):
            fc.fit_detector(values, detector_config, labels=dataset.labels)

        best = int(np.nanargmin([h["val_loss"] for h in history])) + 1 if history else 0
        test_o = np.arange(max(first, split.val_end - 1), split.n - 1)
        if len(test_o) == 0:
            test_o = val_o
        evaluation = fc.evaluate_origins(values, test_o, dataset.freq)
        report = {
            "epochs_run": len(history),
            "best_epoch": best,
            "training_time_s": round(train_seconds, 3),
            "windows": {"train": int(len(train_o)), "validation": int(len(val_o)),
                        "test": int(len(test_o))},
            "rows": split.as_dict(),
            "history": history,
            "metrics": evaluation,
        }
        if fc.detector is not None:
            report["detector"] = fc.detector.calibration_summary()
        fc.info["training"] = {k2: v for k2, v in report.items() if k2 != "metrics"}
        fc.info["metrics"] = evaluation
        LOG.info("trained %s: %d epochs (best %d) in %.1f s; test MAE ratio vs naive %s",
                 params.model_type, len(history), best, train_seconds,
                 evaluation and evaluation.get("mae_ratio_vs_naive"))
        return fc, report

    def fit_detector(self, values, config=None, labels=None):
        """Calibrate a new anomaly detector on the series the model was trained on.

        Parameters
        ----------
        values : ndarray, shape (n, f)
            The training series (original units), split as in :meth:`fit`.
        config : mods.anomaly.detector.DetectorConfig, optional
        labels : array_like of 0/1, shape (n,), optional
            Known incidents: these rows calibrate nothing.

        Returns
        -------
        mods.anomaly.detector.Detector
            Also set as ``self.detector``.
        """
        from mods.anomaly.detector import Detector

        values = np.asarray(values, dtype=np.float64)
        split = self.split(len(values), self.params)
        first = self.first_origin
        detector = Detector(config)
        cal_o = np.arange(first, split.n - 1)
        step1 = np.full(values.shape, np.nan)
        step1[cal_o + 1] = self.forecast_origins(values, cal_o)[:, 0, :]
        extra = _horizon_forecasts(self, values, detector.wanted_horizons())
        known = None if labels is None else np.asarray(labels) > 0
        self.detector = detector.fit(values, step1, extra=extra, in_sample=split.train_end,
                                     context=self.sequence_len + self.transform.offset,
                                     exclude=known, season=self.season)
        return self.detector

    # ------------------------------------------------------------------ inference
    def _infer(self, x):
        if len(x) == 0:
            return np.zeros((0, self.steps_ahead, len(self.columns)), dtype=np.float32)
        parts = [self.model.predict_on_batch(x[i:i + PREDICT_BATCH])
                 for i in range(0, len(x), PREDICT_BATCH)]
        return np.concatenate([np.asarray(p) for p in parts], axis=0)

    def _iterate(self, x, first_step, n_steps):
        """Recursive one-step forecasts: ``n_steps`` model calls, each window shifted by one
        row with the previous output appended (``first_step`` the first appended row).

        Parameters
        ----------
        x : ndarray, shape (m, sequence_len, f)
            Model-space windows of the origins.
        first_step : ndarray, shape (m, 1, f)
            Model-space one-step output of ``x``.
        n_steps : int
            Further steps.

        Returns
        -------
        ndarray, shape (n_steps, m, f)
            Model-space one-step outputs of steps 2 .. ``n_steps + 1``. On TensorFlow the
            recursion runs in one compiled call per chunk of origins (no Python round trip
            per step); elsewhere one :meth:`_infer` call per step.
        """
        m, _, f = x.shape
        if n_steps <= 0 or m == 0:
            return np.zeros((max(n_steps, 0), m, f), dtype=np.float32)
        run = self._recursion_function()
        if run is None:
            out, step = [], first_step
            for _ in range(n_steps):
                x = np.concatenate([x[:, 1:], step], axis=1)
                step = np.asarray(self._infer(x), dtype=np.float32)[:, :1]
                out.append(step[:, 0])
            return np.stack(out)
        parts = [run(x[i:i + PREDICT_BATCH], first_step[i:i + PREDICT_BATCH],
                     np.int32(n_steps)).numpy()
                 for i in range(0, m, PREDICT_BATCH)]
        return np.concatenate(parts, axis=1)

    def _recursion_function(self):
        """The compiled recursion of :meth:`_iterate` (``None`` off TensorFlow); built once."""
        if getattr(self, "_recursion", False) is not False:
            return self._recursion
        self._recursion = None
        try:
            import keras

            if keras.backend.backend() != "tensorflow":
                return None
            import tensorflow as tf
        except ImportError:  # pragma: no cover
            return None
        model, L, f = self.model, self.sequence_len, len(self.columns)

        # autograph=False with an explicit while_loop: autograph would write
        # __autograph_generated_file*.py into the temp folder of every worker.
        @tf.function(input_signature=[tf.TensorSpec([None, L, f], tf.float32),
                                      tf.TensorSpec([None, 1, f], tf.float32),
                                      tf.TensorSpec([], tf.int32)],
                     autograph=False)
        def run(x, step, n_steps):
            def body(j, x, step, out):
                x = tf.concat([x[:, 1:], step], axis=1)
                step = model(x, training=False)[:, :1]
                return j + 1, x, step, out.write(j, step[:, 0])

            out = tf.TensorArray(tf.float32, size=n_steps)
            _, _, _, out = tf.while_loop(lambda j, *_: j < n_steps, body,
                                         (tf.constant(0), x, step, out))
            return out.stack()

        self._recursion = run
        return run

    def _horizon_memo(self, horizons):
        """This model's :class:`~mods.anomaly.horizons.HorizonMemo` for ``horizons``
        (``None`` when ``MODS_HORIZON_MEMO`` is 0)."""
        from mods import config
        from mods.anomaly.horizons import HorizonMemo

        size = config.horizon_memo_entries()
        if not size:
            return None
        memos = self.__dict__.setdefault("_memos", {})
        key = tuple(horizons)
        if key not in memos or memos[key].max_entries != size:
            memos[key] = HorizonMemo(size)
        return memos[key]

    def forecast_origins(self, values, origins, model_space=False):
        """Forecasts ``(m, k, f)`` in original units from rows ``origins`` of ``values``.

        With ``model_space`` also the model's outputs before the inverse transform:
        ``(forecasts, outputs)``.
        """
        values = np.asarray(values, dtype=np.float64)
        origins = np.asarray(origins, dtype=np.int64)
        series = self.transform.forward(values)
        x = W.origin_windows(series, origins, self.sequence_len, self.transform.offset)
        outputs = self._infer(np.ascontiguousarray(x))
        forecasts = self.transform.inverse(values, origins, outputs)
        return (forecasts, outputs) if model_space else forecasts

    def all_origins(self, n):
        """Every row of an ``n``-row series from which a forecast can be made."""
        return np.arange(self.first_origin, n)

    def evaluate_origins(self, values, origins, freq=None):
        """Model vs naive and seasonal naive on the targets of ``origins``."""
        forecasts = self.forecast_origins(values, origins)
        return metrics.evaluate_forecasts(values, origins, forecasts, self.columns,
                                          metrics.infer_season(freq))

    def check_columns(self, dataset):
        """Raise :class:`DataError` when ``dataset``'s features differ from the model's."""
        if list(dataset.columns) != self.columns:
            raise fail(DataError, "%s: columns %s differ from the ones the model was trained "
                       "on (%s)" % (dataset.source, ", ".join(dataset.columns),
                                    ", ".join(self.columns)))

    def predict(self, dataset, detect=True, detector_overrides=None):
        """Forecast from every row of ``dataset``, evaluate and score anomalies.

        Returns
        -------
        Prediction
        """
        self.check_columns(dataset)
        values = dataset.values
        n = len(values)
        if n < self.min_rows():
            raise fail(DataError, "%s: %d rows, but at least %d are needed (sequence_len %d + "
                       "steps_ahead %d)" % (dataset.source, n, self.min_rows(),
                                            self.sequence_len, self.steps_ahead))
        origins = self.all_origins(n)
        forecasts, outputs = self.forecast_origins(values, origins, model_space=True)
        pred = Prediction(origins=origins, forecasts=forecasts)
        if len(origins) and origins[0] < n - 1:
            pred.evaluation = metrics.evaluate_forecasts(
                values, origins, forecasts, self.columns, metrics.infer_season(dataset.freq))
        step1 = np.full(values.shape, np.nan)
        step1[origins[:-1] + 1] = forecasts[:-1, 0, :]
        pred.step1 = step1
        if detect and self.detector is not None:
            extra = _horizon_forecasts(self, values, self.detector.horizons,
                                       memo=self._horizon_memo(self.detector.horizons),
                                       outputs=outputs)
            pred.detection = self.detector.detect(
                values, step1, times=dataset.time, columns=self.columns,
                config_overrides=detector_overrides, extra=extra)
        return pred


def _horizon_forecasts(fc, values, horizons, memo=None, outputs=None):
    """``{h: (n, f)}`` forecasts of every row made ``h`` rows earlier (anomaly detection).

    ``outputs``: the model's outputs for every origin, when already computed.
    """
    if not horizons:
        return {}
    from mods.anomaly.horizons import horizon_forecasts

    return horizon_forecasts(values, horizons, fc.transform, fc._infer, fc.sequence_len,
                             fc.steps_ahead, iterate=fc._iterate, memo=memo, outputs=outputs)


def _iso(ts):
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")

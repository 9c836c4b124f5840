"""Keras plumbing for training: seeding, callbacks, progress reporting."""

import logging
import time

LOG = logging.getLogger("mods.train")

_DETERMINISM = False


def seed_everything(seed):
    """Seed Python, NumPy and TensorFlow; make TensorFlow ops deterministic on CPU."""
    global _DETERMINISM
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    if not _DETERMINISM:
        try:
            tf.config.experimental.enable_op_determinism()
        except Exception as exc:  # pragma: no cover - very old TF
            LOG.debug("op determinism unavailable: %s", exc)
        _DETERMINISM = True


def make_progress_callback(num_epochs, on_epoch=None):
    """A Keras callback logging each epoch and forwarding it to ``on_epoch(record)``.

    ``record`` is ``{"epoch": 1-based, "num_epochs": cap, "loss": .., "val_loss": ..,
    "learning_rate": .., "seconds": elapsed}``.
    """
    import keras

    class Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            lr = self.model.optimizer.learning_rate
            record = {
                "epoch": epoch + 1,
                "num_epochs": num_epochs,
                "loss": float(logs.get("loss", float("nan"))),
                "val_loss": float(logs.get("val_loss", float("nan"))),
                "learning_rate": float(keras.ops.convert_to_numpy(lr)),
                "seconds": round(time.perf_counter() - self.t0, 3),
            }
            LOG.info("epoch %d/%d loss=%.5f val_loss=%.5f lr=%.2g (%.1f s)",
                     record["epoch"], num_epochs, record["loss"], record["val_loss"],
                     record["learning_rate"], record["seconds"])
            if on_epoch is not None:
                on_epoch(record)

    return Progress()


def callbacks(params, on_epoch=None):
    """Early stopping (best weights restored), learning-rate decay and progress."""
    import keras

    patience = int(params.epochs_patience)
    return [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                      restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5,
                                          patience=max(1, patience // 2), min_lr=1e-5,
                                          verbose=0),
        make_progress_callback(params.num_epochs, on_epoch),
    ]

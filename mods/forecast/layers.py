"""Small helpers shared by the model builders (``mlp``, ``cnn``, ``rnn``, ``attention``, ``tcn``).

Every builder has the signature ``build(input_shape, steps_ahead, n_outputs, params)`` and
returns an uncompiled functional :class:`keras.Model` named after its model type, with input
``(batch, sequence_len, n_features)`` and output ``(batch, steps_ahead, n_outputs)``.

The helpers only compose built-in Keras layers, so models built from them save to and load
from ``.keras`` files without any custom object.
"""

import keras
from keras import layers

from mods.errors import ConfigError, fail


def check_shapes(input_shape, steps_ahead, n_outputs):
    """Validate the builder arguments; return ``(sequence_len, n_features)`` as ints.

    Raises
    ------
    ConfigError
        If ``input_shape`` is not ``(sequence_len, n_features)`` of positive ints, or
        ``steps_ahead`` / ``n_outputs`` is not a positive int.
    """
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise fail(ConfigError, "input_shape must be (sequence_len, n_features), got %r"
                   % (input_shape,)) from None
    if len(shape) != 2 or min(shape) < 1:
        raise fail(ConfigError, "input_shape must be (sequence_len, n_features) of positive "
                   "integers, got %r" % (input_shape,))
    if int(steps_ahead) < 1 or int(n_outputs) < 1:
        raise fail(ConfigError, "steps_ahead and n_outputs must be >= 1, got %r and %r"
                   % (steps_ahead, n_outputs))
    return shape


def model_input(input_shape):
    """The ``keras.Input`` of a window ``(sequence_len, n_features)``."""
    return keras.Input(shape=tuple(int(d) for d in input_shape), name="window")


def post_block(x, params, name):
    """Append the optional BatchNormalization and Dropout that follow every block.

    ``params.batch_normalization`` adds ``<name>_bn``; ``params.dropout_rate > 0`` adds
    ``<name>_dropout``.  Without either, ``x`` is returned unchanged.
    """
    if params.batch_normalization:
        x = layers.BatchNormalization(name=name + "_bn")(x)
    if params.dropout_rate > 0:
        x = layers.Dropout(params.dropout_rate, name=name + "_dropout")(x)
    return x


def last_step(x, name="last_step"):
    """``(batch, time, features) -> (batch, features)``: the last time step, built-in layers only."""
    seq_len, features = x.shape[1], x.shape[2]
    if seq_len > 1:
        x = layers.Cropping1D((seq_len - 1, 0), name=name + "_crop")(x)
    return layers.Reshape((features,), name=name)(x)


def forecast_head(x, steps_ahead, n_outputs):
    """Dense(steps_ahead * n_outputs) on a ``(batch, features)`` tensor, reshaped to
    ``(batch, steps_ahead, n_outputs)``."""
    x = layers.Dense(steps_ahead * n_outputs, name="head")(x)
    return layers.Reshape((steps_ahead, n_outputs), name="forecast")(x)

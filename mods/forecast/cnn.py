"""Convolutional forecaster ``Conv1D`` (see :mod:`mods.forecast.tcn` for the TCN)."""

import keras
from keras import layers

from mods.forecast.layers import check_shapes, forecast_head, model_input, post_block

KERNEL_SIZE = 3


def build_conv1d(input_shape, steps_ahead, n_outputs, params):
    """``Conv1D``: ``stacked_blocks`` x Conv1D(``blocks`` filters, kernel 3, causal, relu)
    -> Flatten -> Dense head.

    Causal padding keeps the time length, so the Flatten sees every (step, filter) pair and
    the head can weigh recent steps differently from old ones.  Each convolution is followed
    by the optional BatchNormalization / Dropout.
    """
    check_shapes(input_shape, steps_ahead, n_outputs)
    inputs = model_input(input_shape)
    x = inputs
    for i in range(params.stacked_blocks):
        name = "conv_%d" % (i + 1)
        x = layers.Conv1D(params.blocks, KERNEL_SIZE, padding="causal", activation="relu",
                          name=name)(x)
        x = post_block(x, params, name)
    x = layers.Flatten(name="flatten")(x)
    outputs = forecast_head(x, steps_ahead, n_outputs)
    return keras.Model(inputs, outputs, name=params.model_type)

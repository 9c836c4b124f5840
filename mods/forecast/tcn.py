"""Temporal convolutional networks (Bai et al., 2018): ``TCN`` and ``stackedTCN``.

Built from Keras' own Conv1D / BatchNormalization / Activation / Dropout / Add layers only,
so the models need no custom object to load.

Residual block (dilation ``d``, ``blocks`` filters)::

    x -> Conv1D(k=3, d, causal) -> [BatchNorm] -> ReLU -> [Dropout]
      -> Conv1D(k=3, d, causal) -> [BatchNorm] -> ReLU -> [Dropout] --+
    x -> (Conv1D 1x1 when the channel counts differ) -------------------Add -> ReLU

Dilation cycle ("stack"): residual blocks with dilations ``1, 2, 4, ..., 2**(L-1)`` where
``L = tcn_levels(sequence_len)`` is the smallest number of levels whose receptive field covers
the whole window (``1 + 2*(k-1)*(2**L - 1) >= sequence_len``; 2 levels for a 12-step window).

Meaning of ``stacked_blocks``:

* ``TCN``: one stack; ``stacked_blocks`` is the number of residual blocks *per dilation
  level* (``stacked_blocks=2`` gives dilations 1, 1, 2, 2 for a 12-step window).  The
  dilation levels themselves follow from ``sequence_len``, so the receptive field always
  covers the window whatever ``stacked_blocks`` is.
* ``stackedTCN``: ``max(2, stacked_blocks)`` stacks connected in sequence, each with its own
  full dilation cycle ``1, 2, ..., 2**(L-1)`` (one residual block per level).

The output of the last block is read at the last time step, then a Dense head forecasts.
"""

import keras
from keras import layers

from mods.forecast.layers import check_shapes, forecast_head, last_step, model_input

KERNEL_SIZE = 3


def receptive_field(levels, kernel_size=KERNEL_SIZE, blocks_per_level=1, stacks=1):
    """Receptive field (time steps) of ``stacks`` dilation cycles of ``levels`` levels."""
    return 1 + 2 * (kernel_size - 1) * blocks_per_level * stacks * (2 ** levels - 1)


def tcn_levels(sequence_len, kernel_size=KERNEL_SIZE):
    """Smallest number of dilation levels (>= 1) whose receptive field covers ``sequence_len``."""
    levels = 1
    while receptive_field(levels, kernel_size) < sequence_len:
        levels += 1
    return levels


def _conv_unit(x, filters, dilation, params, name):
    x = layers.Conv1D(filters, KERNEL_SIZE, padding="causal", dilation_rate=dilation,
                      name=name)(x)
    if params.batch_normalization:
        x = layers.BatchNormalization(name=name + "_bn")(x)
    x = layers.Activation("relu", name=name + "_relu")(x)
    if params.dropout_rate > 0:
        x = layers.Dropout(params.dropout_rate, name=name + "_dropout")(x)
    return x


def residual_block(x, filters, dilation, params, name):
    """One TCN residual block (two dilated causal convolutions + skip connection)."""
    skip = x
    if x.shape[-1] != filters:
        skip = layers.Conv1D(filters, 1, name=name + "_skip")(x)
    x = _conv_unit(x, filters, dilation, params, name + "_conv1")
    x = _conv_unit(x, filters, dilation, params, name + "_conv2")
    x = layers.Add(name=name + "_add")([skip, x])
    return layers.Activation("relu", name=name + "_out")(x)


def tcn_stack(x, params, levels, blocks_per_level=1, name="tcn"):
    """One dilation cycle ``1, 2, ..., 2**(levels-1)``, ``blocks_per_level`` blocks each."""
    for level in range(levels):
        for rep in range(blocks_per_level):
            x = residual_block(x, params.blocks, 2 ** level, params,
                               "%s_d%d_%d" % (name, 2 ** level, rep + 1))
    return x


def build_tcn(input_shape, steps_ahead, n_outputs, params):
    """``TCN``: one dilation cycle covering the window, ``stacked_blocks`` residual blocks per
    dilation level, last time step -> Dense head (see the module docstring)."""
    sequence_len, _ = check_shapes(input_shape, steps_ahead, n_outputs)
    inputs = model_input(input_shape)
    x = tcn_stack(inputs, params, tcn_levels(sequence_len), params.stacked_blocks, "tcn")
    outputs = forecast_head(last_step(x), steps_ahead, n_outputs)
    return keras.Model(inputs, outputs, name=params.model_type)


def build_stacked_tcn(input_shape, steps_ahead, n_outputs, params):
    """``stackedTCN``: ``max(2, stacked_blocks)`` TCN stacks in sequence, each with its own
    dilation cycle covering the window, last time step -> Dense head."""
    sequence_len, _ = check_shapes(input_shape, steps_ahead, n_outputs)
    inputs = model_input(input_shape)
    x = inputs
    levels = tcn_levels(sequence_len)
    for s in range(max(2, params.stacked_blocks)):
        x = tcn_stack(x, params, levels, 1, "stack%d" % (s + 1))
    outputs = forecast_head(last_step(x), steps_ahead, n_outputs)
    return keras.Model(inputs, outputs, name=params.model_type)

"""Dense (multi-layer perceptron) forecasters: ``MLP`` and ``autoencoderMLP``."""

import keras
from keras import layers

from mods.forecast.layers import check_shapes, forecast_head, model_input, post_block


def build_mlp(input_shape, steps_ahead, n_outputs, params):
    """``MLP``: Flatten -> ``stacked_blocks`` x Dense(``blocks``, relu) -> Dense head.

    Each Dense block is followed by the optional BatchNormalization / Dropout.
    """
    check_shapes(input_shape, steps_ahead, n_outputs)
    inputs = model_input(input_shape)
    x = layers.Flatten(name="flatten")(inputs)
    for i in range(params.stacked_blocks):
        x = layers.Dense(params.blocks, activation="relu", name="dense_%d" % (i + 1))(x)
        x = post_block(x, params, "dense_%d" % (i + 1))
    outputs = forecast_head(x, steps_ahead, n_outputs)
    return keras.Model(inputs, outputs, name=params.model_type)


def autoencoder_widths(blocks, stacked_blocks):
    """Encoder widths and bottleneck width of ``autoencoderMLP``.

    The encoder has ``stacked_blocks`` Dense layers of ``blocks, blocks//2, blocks//4...``;
    the bottleneck halves once more (never below 1).  The decoder mirrors the encoder.

    >>> autoencoder_widths(32, 2)
    ([32, 16], 8)
    """
    encoder = [max(1, blocks // 2 ** i) for i in range(stacked_blocks)]
    return encoder, max(1, blocks // 2 ** stacked_blocks)


def build_autoencoder_mlp(input_shape, steps_ahead, n_outputs, params):
    """``autoencoderMLP``: Flatten -> dense encoder narrowing to a layer named ``bottleneck``
    -> dense decoder widening back -> Dense head.

    With ``blocks=32, stacked_blocks=2`` the hidden widths are 32, 16, [8], 16, 32.  Every
    hidden Dense (relu) is followed by the optional BatchNormalization / Dropout.
    """
    check_shapes(input_shape, steps_ahead, n_outputs)
    encoder, bottleneck = autoencoder_widths(params.blocks, params.stacked_blocks)
    inputs = model_input(input_shape)
    x = layers.Flatten(name="flatten")(inputs)
    for i, width in enumerate(encoder):
        name = "encoder_%d" % (i + 1)
        x = post_block(layers.Dense(width, activation="relu", name=name)(x), params, name)
    x = layers.Dense(bottleneck, activation="relu", name="bottleneck")(x)
    x = post_block(x, params, "bottleneck")
    for i, width in enumerate(reversed(encoder)):
        name = "decoder_%d" % (i + 1)
        x = post_block(layers.Dense(width, activation="relu", name=name)(x), params, name)
    outputs = forecast_head(x, steps_ahead, n_outputs)
    return keras.Model(inputs, outputs, name=params.model_type)

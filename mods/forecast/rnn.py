"""Recurrent forecasters: ``LSTM``, ``GRU``, ``bidirectLSTM``, ``stackedLSTM``, ``seq2seqLSTM``.

``blocks`` is the number of units of every recurrent layer (per direction for
``bidirectLSTM``), ``stacked_blocks`` the number of recurrent layers; every layer is followed
by the optional BatchNormalization / Dropout.
"""

import keras
from keras import layers

from mods.forecast.layers import check_shapes, forecast_head, model_input, post_block


def recurrent_stack(x, make_layer, n_layers, params, prefix):
    """Stack ``n_layers`` recurrent layers; all but the last return sequences.

    ``make_layer(return_sequences, name)`` creates one layer.  Returns the last layer's output
    ``(batch, features)``.
    """
    for i in range(n_layers):
        name = "%s_%d" % (prefix, i + 1)
        x = make_layer(i < n_layers - 1, name)(x)
        x = post_block(x, params, name)
    return x


def _lstm(units):
    return lambda return_sequences, name: layers.LSTM(
        units, return_sequences=return_sequences, name=name)


def _gru(units):
    return lambda return_sequences, name: layers.GRU(
        units, return_sequences=return_sequences, name=name)


def _bilstm(units):
    return lambda return_sequences, name: layers.Bidirectional(
        layers.LSTM(units, return_sequences=return_sequences), name=name)


def _build_recurrent(input_shape, steps_ahead, n_outputs, params, make_layer, n_layers, prefix):
    check_shapes(input_shape, steps_ahead, n_outputs)
    inputs = model_input(input_shape)
    x = recurrent_stack(inputs, make_layer, n_layers, params, prefix)
    outputs = forecast_head(x, steps_ahead, n_outputs)
    return keras.Model(inputs, outputs, name=params.model_type)


def build_lstm(input_shape, steps_ahead, n_outputs, params):
    """``LSTM``: ``stacked_blocks`` LSTM(``blocks``) layers -> Dense head."""
    return _build_recurrent(input_shape, steps_ahead, n_outputs, params,
                            _lstm(params.blocks), params.stacked_blocks, "lstm")


def build_gru(input_shape, steps_ahead, n_outputs, params):
    """``GRU``: ``stacked_blocks`` GRU(``blocks``) layers -> Dense head."""
    return _build_recurrent(input_shape, steps_ahead, n_outputs, params,
                            _gru(params.blocks), params.stacked_blocks, "gru")


def build_bidirect_lstm(input_shape, steps_ahead, n_outputs, params):
    """``bidirectLSTM``: ``stacked_blocks`` Bidirectional(LSTM(``blocks``)) layers (outputs of
    both directions concatenated) -> Dense head."""
    return _build_recurrent(input_shape, steps_ahead, n_outputs, params,
                            _bilstm(params.blocks), params.stacked_blocks, "bilstm")


def build_stacked_lstm(input_shape, steps_ahead, n_outputs, params):
    """``stackedLSTM``: ``max(2, stacked_blocks)`` LSTM(``blocks``) layers -> Dense head."""
    return _build_recurrent(input_shape, steps_ahead, n_outputs, params,
                            _lstm(params.blocks), max(2, params.stacked_blocks), "lstm")


def build_seq2seq_lstm(input_shape, steps_ahead, n_outputs, params):
    """``seq2seqLSTM``: encoder-decoder LSTM, one decoder step per horizon step.

    Encoder: ``stacked_blocks`` LSTM(``blocks``) layers; the last returns its final states
    ``(h, c)``.  Decoder: RepeatVector(steps_ahead) of ``h`` -> LSTM(``blocks``,
    return_sequences=True, initial_state=[h, c]) -> TimeDistributed(Dense(n_outputs)), so the
    output is already ``(batch, steps_ahead, n_outputs)``.
    """
    check_shapes(input_shape, steps_ahead, n_outputs)
    inputs = model_input(input_shape)
    x = inputs
    n_layers = params.stacked_blocks
    for i in range(n_layers - 1):
        name = "encoder_%d" % (i + 1)
        x = layers.LSTM(params.blocks, return_sequences=True, name=name)(x)
        x = post_block(x, params, name)
    name = "encoder_%d" % n_layers
    encoded, state_h, state_c = layers.LSTM(params.blocks, return_state=True, name=name)(x)
    encoded = post_block(encoded, params, name)
    x = layers.RepeatVector(steps_ahead, name="repeat")(encoded)
    x = layers.LSTM(params.blocks, return_sequences=True, name="decoder")(
        x, initial_state=[state_h, state_c])
    x = post_block(x, params, "decoder")
    outputs = layers.TimeDistributed(layers.Dense(n_outputs), name="forecast")(x)
    return keras.Model(inputs, outputs, name=params.model_type)

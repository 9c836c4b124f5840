"""``attentionLSTM``: LSTM layers followed by additive (Bahdanau) attention over time steps.

:class:`TemporalAttention` is a custom layer registered as ``mods>TemporalAttention``; import
this module before ``keras.models.load_model`` of a model that uses it.
"""

import keras
from keras import layers, ops

from mods.forecast.layers import check_shapes, forecast_head, model_input, post_block


@keras.saving.register_keras_serializable(package="mods")
class TemporalAttention(layers.Layer):
    """Additive (Bahdanau) attention over the time steps of a sequence, queried by its last step.

    For a sequence ``h_1..h_T`` (``(batch, T, F)``) with query ``q = h_T``::

        score_t = v . tanh(W_k h_t + W_q q + b)
        a       = softmax(score)              # over t
        context = sum_t a_t h_t

    and the output is ``concat([context, q])`` of shape ``(batch, 2 F)``.

    Parameters
    ----------
    units : int, optional
        Size of the attention's hidden space (``W_k``, ``W_q``); ``None`` means ``F``.
    """

    def __init__(self, units=None, **kwargs):
        super().__init__(**kwargs)
        self.units = None if units is None else int(units)

    def build(self, input_shape):
        features = int(input_shape[-1])
        units = self.units or features
        self.w_keys = self.add_weight(name="w_keys", shape=(features, units),
                                      initializer="glorot_uniform")
        self.w_query = self.add_weight(name="w_query", shape=(features, units),
                                       initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(units,), initializer="zeros")
        self.v = self.add_weight(name="v", shape=(units, 1), initializer="glorot_uniform")
        super().build(input_shape)

    def attention_weights(self, inputs):
        """The attention weights ``(batch, T)`` (they sum to 1 over time)."""
        query = inputs[:, -1, :]
        keys = ops.matmul(inputs, self.w_keys)                          # (B, T, U)
        q = ops.expand_dims(ops.matmul(query, self.w_query), 1)         # (B, 1, U)
        scores = ops.squeeze(ops.matmul(ops.tanh(keys + q + self.bias), self.v), -1)
        return ops.softmax(scores, axis=-1)

    def call(self, inputs):
        weights = self.attention_weights(inputs)
        context = ops.sum(ops.expand_dims(weights, -1) * inputs, axis=1)
        return ops.concatenate([context, inputs[:, -1, :]], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


def build_attention_lstm(input_shape, steps_ahead, n_outputs, params):
    """``attentionLSTM``: ``stacked_blocks`` LSTM(``blocks``, return_sequences=True) layers
    -> :class:`TemporalAttention` (context vector + last state, ``2 * blocks`` features)
    -> Dense head.  Each LSTM is followed by the optional BatchNormalization / Dropout.
    """
    check_shapes(input_shape, steps_ahead, n_outputs)
    inputs = model_input(input_shape)
    x = inputs
    for i in range(params.stacked_blocks):
        name = "lstm_%d" % (i + 1)
        x = layers.LSTM(params.blocks, return_sequences=True, name=name)(x)
        x = post_block(x, params, name)
    x = TemporalAttention(name="attention")(x)
    outputs = forecast_head(x, steps_ahead, n_outputs)
    return keras.Model(inputs, outputs, name=params.model_type)

"""The one place model-type names live.

``MODEL_TYPES`` maps each name to ``(module:function, description)``; modules are imported
lazily (as darts does) so that reading the registry does not import TensorFlow.  Every builder
has the signature ``build(input_shape, steps_ahead, n_outputs, params) -> keras.Model``.
"""

import importlib

from mods.errors import ConfigError, fail

MODEL_TYPES = {
    "MLP": ("mods.forecast.mlp:build_mlp",
            "Dense layers on the flattened window"),
    "Conv1D": ("mods.forecast.cnn:build_conv1d",
               "1-D convolutions over time, then dense output"),
    "autoencoderMLP": ("mods.forecast.mlp:build_autoencoder_mlp",
                       "Dense encoder to a bottleneck, dense decoder, forecast head"),
    "LSTM": ("mods.forecast.rnn:build_lstm", "Long short-term memory"),
    "GRU": ("mods.forecast.rnn:build_gru", "Gated recurrent units"),
    "bidirectLSTM": ("mods.forecast.rnn:build_bidirect_lstm",
                     "LSTM reading the window both ways"),
    "stackedLSTM": ("mods.forecast.rnn:build_stacked_lstm",
                    "At least two LSTM layers stacked"),
    "seq2seqLSTM": ("mods.forecast.rnn:build_seq2seq_lstm",
                    "Encoder-decoder LSTM: one decoder step per horizon step"),
    "attentionLSTM": ("mods.forecast.attention:build_attention_lstm",
                      "LSTM with additive attention over its time steps"),
    "TCN": ("mods.forecast.tcn:build_tcn",
            "Temporal convolutional network: dilated causal residual blocks"),
    "stackedTCN": ("mods.forecast.tcn:build_stacked_tcn",
                   "Several TCN stacks, each with its own dilation cycle"),
}


def get_builder(model_type):
    """Return the builder function of ``model_type``.

    Raises
    ------
    ConfigError
        If the name is unknown; the message lists the valid names.
    """
    try:
        target = MODEL_TYPES[model_type][0]
    except (KeyError, TypeError):
        raise fail(ConfigError, "unknown model_type %r; valid types: %s"
                   % (model_type, ", ".join(MODEL_TYPES))) from None
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def build_model(model_type, input_shape, steps_ahead, n_outputs, params):
    """Build the (uncompiled) Keras model of ``model_type``.

    Parameters
    ----------
    model_type : str
        A key of :data:`MODEL_TYPES`.
    input_shape : tuple of int
        ``(sequence_len, n_features)``.
    steps_ahead : int
        Forecast horizon k.
    n_outputs : int
        Number of features forecast per step.
    params : mods.forecast.params.Params
        ``blocks``, ``stacked_blocks``, ``dropout_rate``, ``batch_normalization`` are honoured.

    Returns
    -------
    keras.Model
        Input ``(batch, sequence_len, n_features)``, output ``(batch, steps_ahead, n_outputs)``.
    """
    return get_builder(model_type)(tuple(input_shape), int(steps_ahead), int(n_outputs), params)

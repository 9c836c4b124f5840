"""Every model builder of the registry: shapes, architecture, hyper-parameters, training and
``.keras`` save/load round trip.  Models are tiny (blocks 8) so the file runs in well under a
minute on 2 CPU cores."""


import numpy as np
import pytest

import keras
from keras import layers

from mods.errors import ConfigError
from mods.forecast.attention import TemporalAttention
from mods.forecast.params import Params
from mods.forecast.registry import MODEL_TYPES, build_model
from mods.forecast.tcn import receptive_field, tcn_levels

SEQ, N_FEATURES, N_OUTPUTS = 12, 3, 2
NAMES = list(MODEL_TYPES)

# The layer type that carries ``blocks`` (units / filters) in each architecture.
MAIN = {
    "MLP": layers.Dense, "autoencoderMLP": layers.Dense,
    "Conv1D": layers.Conv1D, "TCN": layers.Conv1D, "stackedTCN": layers.Conv1D,
    "LSTM": layers.LSTM, "bidirectLSTM": layers.LSTM, "stackedLSTM": layers.LSTM,
    "seq2seqLSTM": layers.LSTM, "attentionLSTM": layers.LSTM, "GRU": layers.GRU,
}
# Types whose depth is max(2, stacked_blocks): 1 and 2 build the same model.
MIN_TWO = ("stackedLSTM", "stackedTCN")


def build(name, steps_ahead=1, **kwargs):
    kwargs.setdefault("blocks", 8)
    params = Params(model_type=name, sequence_len=SEQ, steps_ahead=steps_ahead, **kwargs)
    return build_model(name, (SEQ, N_FEATURES), steps_ahead, N_OUTPUTS, params)


def all_layers(model):
    """Every layer of ``model``, wrapped layers (Bidirectional, TimeDistributed) included."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, layers.Bidirectional):
            found += [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, layers.TimeDistributed):
            found.append(layer.layer)
    return found


def of_type(model, cls):
    return [layer for layer in all_layers(model) if isinstance(layer, cls)]


def main_layers(model, name):
    found = of_type(model, MAIN[name])
    if MAIN[name] is layers.Dense:  # the forecast head is not a block
        found = [layer for layer in found if layer.name != "head"]
    if name in ("TCN", "stackedTCN"):  # 1x1 skip convolutions are not blocks
        found = [layer for layer in found if layer.kernel_size != (1,)]
    return found


def width(layer):
    return getattr(layer, "units", None) or layer.filters


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.mark.parametrize("steps_ahead", [1, 4])
@pytest.mark.parametrize("name", NAMES)
def test_output_shape(name, steps_ahead):
    model = build(name, steps_ahead)
    assert model.name == name
    assert tuple(model.input_shape) == (None, SEQ, N_FEATURES)
    assert tuple(model.output_shape) == (None, steps_ahead, N_OUTPUTS)
    out = model(np.zeros((2, SEQ, N_FEATURES), "float32"), training=False)
    assert tuple(out.shape) == (2, steps_ahead, N_OUTPUTS)


@pytest.mark.parametrize("name", NAMES)
def test_architecture_matches_name(name):
    model = build(name, steps_ahead=4)
    recurrent = of_type(model, (layers.LSTM, layers.GRU))
    convs = of_type(model, layers.Conv1D)
    if name in ("MLP", "autoencoderMLP"):
        assert of_type(model, layers.Flatten) and not recurrent and not convs
        assert len(main_layers(model, name)) >= (1 if name == "MLP" else 3)
    if name == "autoencoderMLP":
        dense = main_layers(model, name)
        bottleneck = model.get_layer("bottleneck")
        assert bottleneck.units < dense[0].units == dense[-1].units
        assert min(d.units for d in dense) == bottleneck.units
    if name == "Conv1D":
        assert convs and not recurrent
        assert all(c.kernel_size == (3,) and c.padding in ("causal", "same") for c in convs)
    if name in ("LSTM", "stackedLSTM", "seq2seqLSTM", "attentionLSTM", "bidirectLSTM"):
        assert recurrent and all(isinstance(r, layers.LSTM) for r in recurrent)
    if name == "GRU":
        assert recurrent and all(isinstance(r, layers.GRU) for r in recurrent)
    bidirectional = of_type(model, layers.Bidirectional)
    assert bool(bidirectional) == (name == "bidirectLSTM")
    if name == "bidirectLSTM":
        assert all(isinstance(b.forward_layer, layers.LSTM) for b in bidirectional)
    if name == "stackedLSTM":
        assert len(recurrent) >= 2
    assert bool(of_type(model, layers.RepeatVector)) == (name == "seq2seqLSTM")
    if name == "seq2seqLSTM":
        assert of_type(model, layers.RepeatVector)[0].n == 4
        assert of_type(model, layers.TimeDistributed)
        decoder = model.get_layer("decoder")
        assert isinstance(decoder, layers.LSTM) and decoder.return_sequences
        assert len(recurrent) >= 2
    assert bool(of_type(model, TemporalAttention)) == (name == "attentionLSTM")
    if name == "attentionLSTM":
        assert all(r.return_sequences for r in recurrent)
    if name in ("TCN", "stackedTCN"):
        dilated = [c for c in convs if c.dilation_rate[0] > 1]
        assert dilated and all(c.padding == "causal" for c in dilated)
        assert of_type(model, layers.Add) and not recurrent
        assert {c.kernel_size for c in main_layers(model, name)} == {(3,)}
    if name == "stackedTCN":  # each stack restarts its own dilation cycle at 1
        assert sum(c.dilation_rate[0] == 1 for c in main_layers(model, name)) >= 2 * 2


@pytest.mark.parametrize("name", NAMES)
def test_stacked_blocks_adds_layers(name):
    low = 2 if name in MIN_TWO else 1
    shallow, deep = build(name, stacked_blocks=low), build(name, stacked_blocks=low + 1)
    assert len(main_layers(deep, name)) > len(main_layers(shallow, name))
    assert len(deep.layers) > len(shallow.layers)
    if name in MIN_TWO:  # at least two layers/stacks even when asked for one
        one = build(name, stacked_blocks=1)
        assert len(main_layers(one, name)) == len(main_layers(shallow, name))
        assert len(main_layers(one, name)) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_dropout_and_batch_normalization(name):
    plain = build(name)
    assert not of_type(plain, layers.Dropout)
    assert not of_type(plain, layers.BatchNormalization)
    dropout = build(name, dropout_rate=0.25)
    assert of_type(dropout, layers.Dropout)
    assert all(d.rate == 0.25 for d in of_type(dropout, layers.Dropout))
    assert not of_type(dropout, layers.BatchNormalization)
    normalized = build(name, batch_normalization=True)
    assert of_type(normalized, layers.BatchNormalization)
    assert not of_type(normalized, layers.Dropout)


@pytest.mark.parametrize("name", NAMES)
def test_blocks_sets_units_or_filters(name):
    for blocks in (8, 12):
        model = build(name, blocks=blocks)
        assert width(main_layers(model, name)[0]) == blocks
    assert build(name, blocks=12).count_params() > build(name, blocks=8).count_params()


@pytest.mark.parametrize("name", NAMES)
def test_fit_and_save_load_round_trip(name, tmp_path):
    model = build(name, steps_ahead=2, dropout_rate=0.1, batch_normalization=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, SEQ, N_FEATURES)).astype("float32")
    y = rng.normal(size=(64, 2, N_OUTPUTS)).astype("float32")
    before = [w.copy() for w in model.get_weights()]
    # Eager: two batches train faster than tracing a graph (graph mode: test below).
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0), loss="mse",
                  run_eagerly=True)
    history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    expected = keras.ops.convert_to_numpy(model(x, training=False))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.name == name
    got = keras.ops.convert_to_numpy(loaded(x, training=False))
    np.testing.assert_array_equal(got, expected)


def test_attention_lstm_trains_and_predicts_in_graph_mode():
    model = build("attentionLSTM", steps_ahead=2)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, SEQ, N_FEATURES)).astype("float32")
    y = rng.normal(size=(64, 2, N_OUTPUTS)).astype("float32")
    model.compile(optimizer="adam", loss="mse", jit_compile=False)
    history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    predicted = model.predict(x, batch_size=64, verbose=0)
    np.testing.assert_allclose(predicted, keras.ops.convert_to_numpy(model(x)), atol=1e-5)


@pytest.mark.parametrize("name", ["TCN", "stackedTCN"])
def test_tcn_receptive_field_covers_window(name):
    model = build(name)
    x = np.random.default_rng(1).normal(size=(4, SEQ, N_FEATURES)).astype("float32")
    moved = x.copy()
    moved[:, 0, :] += 10.0  # the oldest step must still reach the forecast
    a = keras.ops.convert_to_numpy(model(x, training=False))
    b = keras.ops.convert_to_numpy(model(moved, training=False))
    assert not np.allclose(a, b)


def test_tcn_levels():
    assert tcn_levels(12) == 2
    for seq in (2, 5, 6, 12, 13, 14, 100, 2000):
        levels = tcn_levels(seq)
        assert receptive_field(levels) >= seq
        assert levels == 1 or receptive_field(levels - 1) < seq


def test_attention_layer_weights_and_config():
    layer = TemporalAttention(units=5, name="att")
    seq = np.random.default_rng(2).normal(size=(3, 7, 4)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(seq))
    assert out.shape == (3, 8)
    np.testing.assert_allclose(out[:, 4:], seq[:, -1, :])  # the query is the last step
    weights = keras.ops.convert_to_numpy(layer.attention_weights(seq))
    assert weights.shape == (3, 7)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    clone = TemporalAttention.from_config(layer.get_config())
    assert clone.units == 5 and clone.name == "att"
    assert keras.saving.get_registered_name(TemporalAttention) == "mods>TemporalAttention"


def test_bad_shapes_raise_config_error():
    params = Params(model_type="LSTM")
    with pytest.raises(ConfigError):
        build_model("LSTM", (12,), 1, 1, params)
    with pytest.raises(ConfigError):
        build_model("LSTM", (12, 3), 0, 1, params)

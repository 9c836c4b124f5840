"""The hyper-parameters of a MODS forecaster, in one dataclass.

Saved as ``config.json`` inside every model bundle (``to_dict``/``from_dict``); the command
line options and HTTP arguments are derived from the same fields and their metadata.
"""

from dataclasses import dataclass, field

from mods.errors import ConfigError, fail
from mods.options import Options, meta as _meta

SCALERS = ("minmax", "standard", "none")



@dataclass
class Params(Options):
    """Hyper-parameters of a forecaster.

    Every field carries its description and valid range in ``metadata`` so the CLI and the
    HTTP API document and check the same things.
    """

    model_type: str = field(default="MLP", metadata=_meta(
        "Keras architecture (see the model types table)"))
    sequence_len: int = field(default=12, metadata=_meta(
        "Number of past rows the model sees for one forecast", 2, 2000))
    steps_ahead: int = field(default=1, metadata=_meta(
        "Forecast horizon k: the model forecasts t+1..t+k", 1, 288))
    model_delta: bool = field(default=True, metadata=_meta(
        "Model first-order differences instead of raw values"))
    scaler: str = field(default="minmax", metadata=_meta(
        "Scaling fitted on training rows only", choices=SCALERS))
    blocks: int = field(default=32, metadata=_meta(
        "Units (recurrent/dense) or filters (convolutional) per block", 1, 1024))
    stacked_blocks: int = field(default=1, metadata=_meta(
        "Number of stacked blocks (layers) of the architecture", 1, 8))
    dropout_rate: float = field(default=0.0, metadata=_meta(
        "Dropout rate after each block", 0.0, 0.9))
    batch_normalization: bool = field(default=False, metadata=_meta(
        "Batch normalization after each block"))
    num_epochs: int = field(default=50, metadata=_meta(
        "Maximum number of training epochs", 1, 10000))
    epochs_patience: int = field(default=5, metadata=_meta(
        "Early stopping: epochs without validation improvement before stopping", 0, 1000))
    batch_size: int = field(default=64, metadata=_meta(
        "Training batch size", 1, 65536))
    learning_rate: float = field(default=0.001, metadata=_meta(
        "Adam learning rate", 1e-6, 1.0))
    seed: int = field(default=42, metadata=_meta(
        "Random seed: same data + same seed = same model on CPU", 0, 2**31 - 1))
    validation_fraction: float = field(default=0.1, metadata=_meta(
        "Fraction of the training part (its end) used for early stopping", 0.01, 0.5))
    test_fraction: float = field(default=0.2, metadata=_meta(
        "Fraction of the data (its end) held out for the reported metrics", 0.0, 0.8))

    KIND = "hyper-parameter"

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Check types and ranges; raise :class:`ConfigError` naming the bad field."""
        from mods.forecast.registry import MODEL_TYPES

        if self.model_type not in MODEL_TYPES:
            raise fail(ConfigError, "unknown model_type %r; valid types: %s"
                       % (self.model_type, ", ".join(MODEL_TYPES)))
        return self.check_fields()

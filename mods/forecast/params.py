"""The hyper-parameters of a MODS forecaster, in one dataclass.

Saved as ``config.json`` inside every model bundle (``to_dict``/``from_dict``); the command
line options and HTTP arguments are derived from the same fields and their metadata.
"""

from dataclasses import dataclass, field, fields, asdict

from mods.errors import ConfigError, fail

SCALERS = ("minmax", "standard", "none")


def _meta(help_, low=None, high=None, choices=None):
    return {"help": help_, "min": low, "max": high, "choices": choices}


@dataclass
class Params:
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

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Check types and ranges; raise :class:`ConfigError` naming the bad field."""
        from mods.forecast.registry import MODEL_TYPES

        if self.model_type not in MODEL_TYPES:
            raise fail(ConfigError, "unknown model_type %r; valid types: %s"
                       % (self.model_type, ", ".join(MODEL_TYPES)))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in (int, "int"):
                if isinstance(value, bool) or not isinstance(value, int):
                    if isinstance(value, float) and value.is_integer():
                        value = int(value)
                        setattr(self, f.name, value)
                    else:
                        raise fail(ConfigError, "%s must be an integer, got %r" % (f.name, value))
            elif f.type in (float, "float"):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise fail(ConfigError, "%s must be a number, got %r" % (f.name, value))
                value = float(value)
                if value != value:
                    raise fail(ConfigError, "%s must be a number, got NaN" % f.name)
                setattr(self, f.name, value)
            elif f.type in (bool, "bool") and not isinstance(value, bool):
                raise fail(ConfigError, "%s must be true or false, got %r" % (f.name, value))
            low, high = f.metadata.get("min"), f.metadata.get("max")
            if low is not None and value < low or high is not None and value > high:
                raise fail(ConfigError, "%s=%r is out of range [%s, %s]"
                           % (f.name, value, low, high))
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise fail(ConfigError, "%s=%r is not one of %s"
                           % (f.name, value, ", ".join(choices)))
        return self

    def to_dict(self):
        """Plain JSON-able dict of every hyper-parameter."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data, strict=True):
        """Build from a dict; unknown keys raise :class:`ConfigError` when ``strict``."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown and strict:
            raise fail(ConfigError, "unknown hyper-parameter(s): %s" % ", ".join(sorted(unknown)))
        return cls(**{k: v for k, v in data.items() if k in names and v is not None})

    @classmethod
    def describe(cls):
        """``[(name, type, default, metadata), ...]`` for the CLI and the HTTP schema."""
        return [(f.name, f.type, f.default, dict(f.metadata)) for f in fields(cls)]

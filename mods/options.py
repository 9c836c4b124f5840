"""Option dataclasses shared by the hyper-parameters and the detector configuration.

Each field carries ``metadata`` made by :func:`meta` (description, range, choices); the
:class:`Options` mixin checks them and converts to and from plain dicts, so the CLI, the HTTP
schema and ``config.json`` all agree.
"""

from dataclasses import asdict, fields

import numpy as np

from mods.errors import ConfigError, fail


def meta(help_, low=None, high=None, choices=None):
    """Field metadata: description, inclusive range and allowed values."""
    return {"help": help_, "min": low, "max": high, "choices": choices}


def _coerce(name, typ, value):
    """``value`` converted to the field's type, or :class:`ConfigError`."""
    if typ in (int, "int"):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise fail(ConfigError, "%s must be an integer, got %r" % (name, value))
        return int(value)
    if typ in (float, "float"):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float,
                                                                         np.number)):
            raise fail(ConfigError, "%s must be a number, got %r" % (name, value))
        value = float(value)
        if value != value:
            raise fail(ConfigError, "%s must be a number, got NaN" % name)
        return value
    if typ in (bool, "bool"):
        if not isinstance(value, (bool, np.bool_)):
            raise fail(ConfigError, "%s must be true or false, got %r" % (name, value))
        return bool(value)
    if typ in (str, "str") and not isinstance(value, str):
        raise fail(ConfigError, "%s must be a string, got %r" % (name, value))
    return value


class Options:
    """Mixin for option dataclasses: type/range checks, ``to_dict``/``from_dict``."""

    #: what the options are called in error messages
    KIND = "option"

    def check_fields(self):
        """Coerce every field to its type and check its range and choices."""
        for f in fields(self):
            value = _coerce(f.name, f.type, getattr(self, f.name))
            setattr(self, f.name, value)
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
        """Plain JSON-able dict of every option."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data, strict=True):
        """Build from a dict; unknown keys raise :class:`ConfigError` when ``strict``."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise fail(ConfigError, "%ss must be a mapping, got %r" % (cls.KIND, data))
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown and strict:
            raise fail(ConfigError, "unknown %s(s): %s" % (cls.KIND, ", ".join(sorted(unknown))))
        return cls(**{k: v for k, v in data.items() if k in names and v is not None})

    @classmethod
    def describe(cls):
        """``[(name, type, default, metadata), ...]`` for the CLI and the HTTP schema."""
        return [(f.name, f.type, f.default, dict(f.metadata)) for f in fields(cls)]

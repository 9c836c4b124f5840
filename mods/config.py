"""Paths and defaults taken from the environment (read when called, never at import).

``MODS_MODELS_DIR``  folder of model bundles (default: ``models/`` of the project, or
                     ``./models`` when the package is installed elsewhere)
``MODS_DATA_DIR``    folder of data files that ``train`` may name (default: ``data/``)
``MODS_DATAPOOL_DIR`` feature datapool that a selection query reads (default: ``<data>/datapool``)
``MODS_DEFAULT_MODEL`` name of the bundle used when a request names none (default ``default``)

Limits (``0`` means no limit; ``mods-serve`` options of the same name override them):

``MODS_MAX_UPLOAD_SIZE``    largest HTTP request body in bytes (``--client-max-size``, 100 MB)
``MODS_MAX_ROWS``           most data rows in a file, before and after filling missing time
                            steps (``--max-rows``, 2,000,000)
``MODS_MAX_COLUMNS``        most columns in a file's header (``--max-columns``, 1,000)
``MODS_MAX_EPOCHS``         largest ``num_epochs`` a training may ask for (``--max-epochs``, 1,000)
``MODS_MAX_TRAIN_SECONDS``  wall-clock limit of one training (``--max-train-seconds``, 21,600)

``MODS_HORIZON_MEMO``  input windows per loaded model whose 72-step horizon forecasts are kept
                       for the next predictions (default 100,000, about 45 MB; 0: none)
"""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_NAME = "default"


def _dir(env, name):
    value = os.environ.get(env)
    if value:
        return Path(value).expanduser()
    project = PROJECT_DIR / name
    if project.is_dir():
        return project
    return Path.cwd() / name


def models_dir():
    """Folder holding the model bundles (``MODS_MODELS_DIR``)."""
    return _dir("MODS_MODELS_DIR", "models")


def data_dir():
    """Folder holding data files (``MODS_DATA_DIR``)."""
    return _dir("MODS_DATA_DIR", "data")


def datapool_dir():
    """Feature datapool read by selection queries (``MODS_DATAPOOL_DIR``)."""
    value = os.environ.get("MODS_DATAPOOL_DIR")
    return Path(value).expanduser() if value else data_dir() / "datapool"


def default_model_name():
    """Name of the bundle used when none is given (``MODS_DEFAULT_MODEL``)."""
    return os.environ.get("MODS_DEFAULT_MODEL", DEFAULT_MODEL_NAME)


#: Defaults of the limits (environment variable -> value); ``0`` disables a limit.
LIMIT_DEFAULTS = {
    "MODS_MAX_UPLOAD_SIZE": 100 * 1024 * 1024,
    "MODS_MAX_ROWS": 2_000_000,
    "MODS_MAX_COLUMNS": 1_000,
    "MODS_MAX_EPOCHS": 1_000,
    "MODS_MAX_TRAIN_SECONDS": 6 * 3600,
}


def _limit(env):
    """Value of limit ``env`` (a non-negative number; ``0``: no limit).

    Raises
    ------
    mods.errors.ConfigError
        When the variable is set to something that is not a non-negative number.
    """
    from mods.errors import ConfigError

    value = os.environ.get(env, "").strip()
    if not value:
        return LIMIT_DEFAULTS[env]
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):
        raise ConfigError("%s=%r: expected a non-negative number (0: no limit)" % (env, value))
    return int(number) if env != "MODS_MAX_TRAIN_SECONDS" else number


def max_upload_size():
    """Largest request body in bytes (``MODS_MAX_UPLOAD_SIZE``, default 100 MB; 0: none)."""
    return _limit("MODS_MAX_UPLOAD_SIZE")


def max_rows():
    """Most data rows in a table (``MODS_MAX_ROWS``, default 2,000,000; 0: no limit)."""
    return _limit("MODS_MAX_ROWS")


def max_columns():
    """Most columns in a table's header (``MODS_MAX_COLUMNS``, default 1,000; 0: no limit)."""
    return _limit("MODS_MAX_COLUMNS")


def max_epochs():
    """Largest ``num_epochs`` of a training (``MODS_MAX_EPOCHS``, default 1,000; 0: none)."""
    return _limit("MODS_MAX_EPOCHS")


def max_train_seconds():
    """Wall-clock limit of a training in seconds (``MODS_MAX_TRAIN_SECONDS``, default 6 h;
    0: no limit)."""
    return _limit("MODS_MAX_TRAIN_SECONDS")


def horizon_memo_entries():
    """Windows per model in the horizon-forecast memo (``MODS_HORIZON_MEMO``, default
    100,000; 0: no memo). See :class:`mods.anomaly.horizons.HorizonMemo`."""
    from mods.errors import ConfigError

    value = os.environ.get("MODS_HORIZON_MEMO", "").strip()
    if not value:
        return 100_000
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ConfigError("MODS_HORIZON_MEMO=%r: expected a non-negative integer" % value)
    return number

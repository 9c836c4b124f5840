"""Paths and defaults taken from the environment (read when called, never at import).

``MODS_MODELS_DIR``  folder of model bundles (default: ``models/`` of the project, or
                     ``./models`` when the package is installed elsewhere)
``MODS_DATA_DIR``    folder of data files that ``train`` may name (default: ``data/``)
``MODS_DATAPOOL_DIR`` feature datapool that a selection query reads (default: ``<data>/datapool``)
``MODS_DEFAULT_MODEL`` name of the bundle used when a request names none (default ``default``)
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

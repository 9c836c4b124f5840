"""Importing MODS has no side effects: no folders, no TensorFlow, no server."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_creates_nothing(tmp_path):
    code = ("import sys, mods, mods.api, mods.cli, mods.serve, mods.workflow, mods.schemas, "
            "mods.forecast.registry, mods.forecast.bundle, mods.anomaly.detector\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(ROOT), MODS_MODELS_DIR=str(tmp_path / "models"),
               MODS_DATA_DIR=str(tmp_path / "data"))
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "False"]  # heavy imports only when needed
    assert list(tmp_path.iterdir()) == []  # no folder created


def test_registry_is_the_api_enum():
    from mods import schemas
    from mods.forecast.registry import MODEL_TYPES

    field = schemas.train_args()["model_type"]
    assert list(field.validate.choices) == list(MODEL_TYPES)

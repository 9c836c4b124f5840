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


def test_werkzeug_is_never_imported(tmp_path):
    """Werkzeug is installed only because deepaas 2.6 declares it (pinned < 3, where later
    advisories are fixed only in 3.x) and nothing imports it: neither the launcher nor a
    prediction loads it, so its code is not reachable in the service."""
    code = ("import sys, shutil\n"
            "import mods.serve, mods.api, deepaas.api, deepaas.cmd.run\n"
            "from deepaas.model.v2.wrapper import UploadedFile\n"
            "shutil.copy(%r, 'u.tsv')\n"
            "out = mods.api.predict(data=UploadedFile('data', 'u.tsv', 'text/plain', 'u.tsv'))\n"
            "assert out['status'] == 'ok'\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'werkzeug'))\n"
            % str(ROOT / "data" / "sample-w01h-s10m.tsv"))
    env = dict(os.environ, PYTHONPATH=str(ROOT), MODS_MODELS_DIR=str(ROOT / "models"),
               MODS_DATA_DIR=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="3")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == "[]"

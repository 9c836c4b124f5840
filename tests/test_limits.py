"""Limits of the service over HTTP: upload size (413), rows and columns (400), epochs (400)
and training time (a training past the limit ends with status "error", never "running").

One ``mods-serve`` with small limits set through the environment (``MODS_MAX_*``), plus a
check that the launcher options (``--max-rows``...) override the variables.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from mods.dataset.generate import generate
from mods.dataset.io import write_table
from tests.conftest import running_server

pytestmark = pytest.mark.slow

LIMITS = {"MODS_MAX_UPLOAD_SIZE": "200000", "MODS_MAX_ROWS": "400", "MODS_MAX_COLUMNS": "8",
          "MODS_MAX_EPOCHS": "3", "MODS_MAX_TRAIN_SECONDS": "2"}
TSV = "text/tab-separated-values"
TIMEOUT = 60


@contextlib.contextmanager
def _env(values):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, val in saved.items():
            if val is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = val


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """``mods-serve`` started with the small :data:`LIMITS` in its environment."""
    with _env(LIMITS), running_server(tmp_path_factory.mktemp("limited")) as srv:
        yield srv


def tsv(n_rows, seed=3):
    buf = io.StringIO()
    write_table(generate(n_rows=n_rows, seed=seed), buf)
    return buf.getvalue().encode()


def predict(srv, data, name="obs.tsv"):
    return requests.post(srv.url + "/models/mods/predict", files={"data": (name, data, TSV)},
                         timeout=TIMEOUT)


def assert_error(resp, status, *fragments):
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    doc = resp.json()
    assert doc["status"] == "error"
    assert "\n" not in doc["message"]
    for fragment in fragments:
        assert fragment in doc["message"], doc["message"]
    return doc


def test_within_limits_is_answered(limited):
    resp = predict(limited, tsv(300))
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json()["rows"] == 300


def test_upload_above_max_size_is_413(limited):
    big = tsv(300) + b"\n" * 250_000  # blank lines: a valid table, but 250 kB > 200 kB
    assert len(big) > int(LIMITS["MODS_MAX_UPLOAD_SIZE"])
    assert_error(predict(limited, big), 413, "upload too large", "200000")


def test_too_many_rows_is_400(limited):
    assert_error(predict(limited, tsv(450)), 400, "450 data rows", "limit of 400",
                 "MODS_MAX_ROWS")


def test_too_many_columns_is_400(limited):
    header = "\t".join("c%d" % j for j in range(12))
    rows = "\n".join("\t".join(str(i + j) for j in range(12)) for i in range(50))
    resp = predict(limited, (header + "\n" + rows + "\n").encode(), name="wide.tsv")
    assert_error(resp, 400, "12 columns", "limit of 8", "MODS_MAX_COLUMNS")


def test_epochs_above_limit_are_400_and_documented(limited):
    resp = requests.put(limited.url + "/models/mods/train",
                        params={"model_name": "too-long", "num_epochs": "4"},
                        files={"data": ("t.tsv", tsv(300), TSV)}, timeout=TIMEOUT)
    assert_error(resp, 400, "num_epochs")
    spec = requests.get(limited.url + "/swagger.json", timeout=TIMEOUT).json()
    params = spec["paths"]["/v2/models/mods/train/"]["post"]["parameters"]
    epochs = next(p for p in params if p["name"] == "num_epochs")
    assert epochs["maximum"] == 3 and epochs["default"] <= 3


def test_training_past_time_limit_ends_in_error(limited):
    resp = requests.put(limited.url + "/models/mods/train",
                        params={"model_name": "slow", "model_type": "LSTM", "blocks": "256",
                                "sequence_len": "48", "num_epochs": "3", "batch_size": "8"},
                        files={"data": ("t.tsv", tsv(400, seed=5), TSV)}, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text[:300]
    uuid = resp.json()["uuid"]
    deadline = time.monotonic() + 120
    while True:
        doc = requests.get(limited.url + "/v2/models/mods/train/" + uuid,
                           timeout=TIMEOUT).json()
        if doc["status"] != "running":
            break
        assert time.monotonic() < deadline, "training still running: %s" % doc
        time.sleep(0.5)
    assert doc["status"] == "error", doc
    assert "time limit of 2 s" in doc["message"], doc["message"]
    assert doc["progress"]["status"] == "error", doc.get("progress")
    assert not (limited.models_dir / "slow.zip").exists()


def test_launcher_options_override_environment(tmp_path):
    """``--max-rows``... reach the environment the workers inherit; ``MODS_MAX_UPLOAD_SIZE``
    becomes ``--client-max-size`` (the server itself is replaced by a stub)."""
    probe = (
        "import json, os, aiohttp.web as web\n"
        "def fake_run_app(app, **kw):\n"
        "    app.close()\n"
        "    from oslo_config import cfg\n"
        "    print(json.dumps({'env': {k: v for k, v in os.environ.items()\n"
        "                              if k.startswith('MODS_MAX')},\n"
        "                      'client_max_size': cfg.CONF.client_max_size}))\n"
        "web.run_app = fake_run_app\n"
        "import mods.serve\n"
        "mods.serve._handle_signals = lambda: None\n"
        "mods.serve.main(['--max-rows', '1234567', '--max-epochs', '7',\n"
        "                 '--max-train-seconds', '90.5'])\n")
    env = dict(os.environ, MODS_MAX_UPLOAD_SIZE="5000", MODS_MAX_ROWS="10",
               MODS_MAX_COLUMNS="", MODS_MAX_EPOCHS="", MODS_MAX_TRAIN_SECONDS="")
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["client_max_size"] == 5000
    env_after = doc["env"]
    assert float(env_after["MODS_MAX_ROWS"]) == 1234567
    assert float(env_after["MODS_MAX_EPOCHS"]) == 7
    assert float(env_after["MODS_MAX_TRAIN_SECONDS"]) == 90.5

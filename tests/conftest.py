"""Shared fixtures.

``server``: the real ``mods-serve`` launcher in a subprocess, on a free local port, with its
own models folder (a copy of ``models/default.zip``), data folder (a small generated TSV) and
``TMPDIR``.  Started once per session, only by the tests that ask for it.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT = 120
SERVER_DATA_FILE = "small.tsv"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path, n_lines=60):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError as exc:
        return "(no server log: %s)" % exc
    # DEEPaaS logs many marshmallow deprecation warnings: keep the informative lines
    lines = [line for line in lines if line.strip() and line.strip() != "\x1b[00m"]
    return "\n".join(lines[-n_lines:])


def _stop(proc, grace=20):
    """SIGTERM the launcher, then SIGKILL its whole process group (pool workers included).

    Only the launcher gets SIGTERM: signalling the whole group would kill its pool workers
    first, and the launcher then hangs in multiprocessing's exit handler.
    """
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers: workers, resource tracker
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass


@contextlib.contextmanager
def running_server(base):
    """Start ``mods-serve`` with its folders under ``base``; stop it on exit."""
    import requests

    from mods.dataset.generate import generate
    from mods.dataset.io import write_table

    models_dir, data_dir, tmpdir = base / "models", base / "data", base / "tmp"
    for folder in (models_dir, data_dir, tmpdir):
        folder.mkdir()
    default = PROJECT_DIR / "models" / "default.zip"
    if not default.is_file():
        pytest.fail("no shipped default model at %s" % default)
    shutil.copyfile(default, models_dir / "default.zip")
    write_table(generate(n_rows=600, seed=11), data_dir / SERVER_DATA_FILE)

    port = _free_port()
    url = "http://127.0.0.1:%d" % port
    env = dict(os.environ, MODS_MODELS_DIR=str(models_dir), MODS_DATA_DIR=str(data_dir),
               TMPDIR=str(tmpdir), TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    env.pop("MODS_DEFAULT_MODEL", None)
    cmd = [sys.executable, "-m", "mods.serve", "--listen-ip", "127.0.0.1",
           "--listen-port", str(port), "--workers", "1", "--train-workers", "1"]
    log_path = base / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=str(base), env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail("mods-serve exited with status %s before answering; log tail:\n%s"
                            % (proc.returncode, _log_tail(log_path)))
            try:
                if requests.get(url + "/v2/models/", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail("mods-serve did not answer GET /v2/models/ within %d s; log "
                            "tail:\n%s" % (SERVER_START_TIMEOUT, _log_tail(log_path)))
            time.sleep(0.5)
        yield types.SimpleNamespace(url=url, models_dir=models_dir, data_dir=data_dir,
                                    tmpdir=tmpdir, log_path=log_path, proc=proc,
                                    data_file=SERVER_DATA_FILE,
                                    log_tail=lambda n=60: _log_tail(log_path, n))
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The running service: ``url``, ``models_dir``, ``data_dir``, ``tmpdir``, ``log_path``,
    ``proc`` (the launcher's ``Popen``) and ``data_file`` (name of the TSV in ``data_dir``)."""
    with running_server(tmp_path_factory.mktemp("server")) as srv:
        yield srv

"""State across restarts of the real ``mods-serve``: ``kill -9`` while training and saving.

1. A server with a finished training, a running one and a queued one is killed with
   ``kill -9`` (its whole process group: launcher and workers, as a crash or an OOM kill of
   the container would); the next start reports the running and the queued trainings as
   interrupted (``"status": "error"``, message "interrupted by a restart..."), through
   ``GET /v2/models/mods/train/{uuid}`` and the listing, and the finished one keeps its
   record and result.
2. That server is killed with ``kill -9`` at a random moment while a training saves its
   bundle; the next start lists only complete bundles, has removed the unfinished save,
   and still predicts.
"""

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import types
import zipfile

import pytest
import requests

from mods.dataset.generate import generate
from mods.dataset.io import write_table
from mods import runs
from mods.forecast import bundle
from tests.conftest import PROJECT_DIR, SERVER_START_TIMEOUT, _free_port, _log_tail

pytestmark = pytest.mark.slow

HTTP_TIMEOUT = 60


@contextlib.contextmanager
def serve(base):
    """``mods-serve`` on the folders of ``base`` (created once, kept across restarts); on
    exit the whole process group is killed with SIGKILL if still there."""
    models_dir, data_dir, tmpdir = base / "models", base / "data", base / "tmp"
    if not models_dir.is_dir():
        for folder in (models_dir, data_dir, tmpdir):
            folder.mkdir()
        shutil.copyfile(PROJECT_DIR / "models" / "default.zip", models_dir / "default.zip")
        write_table(generate(n_rows=400, seed=13), data_dir / "small.tsv")
    port = _free_port()
    url = "http://127.0.0.1:%d" % port
    env = dict(os.environ, MODS_MODELS_DIR=str(models_dir), MODS_DATA_DIR=str(data_dir),
               TMPDIR=str(tmpdir), TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    env.pop("MODS_DEFAULT_MODEL", None)
    log_path = base / ("server-%d.log" % port)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "mods.serve", "--listen-ip",
                                 "127.0.0.1", "--listen-port", str(port), "--workers", "1",
                                 "--train-workers", "1"], cwd=str(base), env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            assert proc.poll() is None, _log_tail(log_path)
            try:
                if requests.get(url + "/v2/models/", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, _log_tail(log_path)
            time.sleep(0.3)
        yield types.SimpleNamespace(url=url, proc=proc, models_dir=models_dir,
                                    log_tail=lambda: _log_tail(log_path))
    finally:
        kill_group(proc)


def kill_group(proc):
    """``kill -9`` the launcher and every worker (its process group) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(30)


def train(srv, **params):
    resp = requests.put(srv.url + "/models/mods/train",
                        params=dict({"data_file": "small.tsv"}, **params), timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["status"] == "running" and doc["uuid"] == doc["args"]["run_id"], doc
    return doc["uuid"]


def status(srv, uuid):
    resp = requests.get(srv.url + "/v2/models/mods/train/" + uuid, timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, (resp.status_code, resp.text)
    return resp.json()


def wait(srv, uuid, until, timeout=180):
    deadline = time.monotonic() + timeout
    while True:
        doc = status(srv, uuid)
        if until(doc):
            return doc
        assert time.monotonic() < deadline, (doc, srv.log_tail())
        time.sleep(0.3)


LONG = {"model_type": "LSTM", "num_epochs": 1000, "epochs_patience": 1000, "blocks": 8}


def test_restart_reports_interrupted_trainings_and_keeps_bundles_complete(tmp_path):
    rng = random.Random(3)
    # --- server 1: one finished, one running, one queued training; then kill -9
    with serve(tmp_path) as srv:
        done = train(srv, model_name="first", num_epochs=1, blocks=4)
        final = wait(srv, done, lambda d: d["status"] != "running")
        assert final["status"] == "done", (final, srv.log_tail())
        running = train(srv, model_name="long", **LONG)
        queued = train(srv, model_name="queued", num_epochs=1, blocks=4)
        wait(srv, running, lambda d: d.get("progress", {}).get("epoch", 0) >= 1)
        assert status(srv, queued)["status"] == "running"  # waiting for the training slot
        kill_group(srv.proc)
    records = {r["run_id"]: r for r in runs.list_records(tmp_path / "models")}
    assert records[running]["status"] == "running"  # what a crash leaves on disk
    assert records[queued]["status"] == "running" and records[queued]["queued"]

    # --- server 2: the crash is reported, the finished training kept
    with serve(tmp_path) as srv:
        for uuid in (running, queued):
            doc = status(srv, uuid)
            assert doc["status"] == "error", doc
            assert "interrupted by a restart" in doc["message"], doc
            assert doc["progress"]["status"] == "error", doc
        doc = status(srv, done)
        assert doc["status"] == "done" and doc["result"]["output"]["model_name"] == "first"
        listing = requests.get(srv.url + "/v2/models/mods/train/", timeout=HTTP_TIMEOUT).json()
        by_uuid = {t["uuid"]: t for t in listing}
        assert by_uuid[running]["status"] == "error"
        assert by_uuid[queued]["status"] == "error"
        assert by_uuid[done]["status"] == "done"
        assert requests.get(srv.url + "/v2/models/mods/train/nosuchrun",
                            timeout=HTTP_TIMEOUT).status_code == 404
        assert "long" not in bundle.list_bundles(srv.models_dir)

        # kill -9 at a random moment of a training's save (the save lasts tens of
        # milliseconds: on a busy machine the polling may miss it, so up to 3 trainings)
        delay = rng.uniform(0.0, 0.1)
        seen_tmp = False
        victims = []
        for attempt in range(3):
            name = "victim" if attempt == 0 else "victim%d" % attempt
            victim = train(srv, model_name=name, num_epochs=1, blocks=4)
            victims.append(name)
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if any(e.startswith("." + name + ".") for e in os.listdir(srv.models_dir)):
                    seen_tmp = True
                    time.sleep(delay)
                    break
                if (srv.models_dir / (name + ".zip")).exists():
                    break
                time.sleep(0.002)
            if seen_tmp:
                break
            wait(srv, victim, lambda d: d["status"] != "running")  # the slot is free again
        kill_group(srv.proc)
        assert seen_tmp, "the save was not caught in progress (%d trainings)" % len(victims)
    leftovers = [e for e in os.listdir(tmp_path / "models") if e.endswith(".tmp")]

    # --- server 3: only complete bundles, the unfinished save removed, still predicting
    with serve(tmp_path) as srv:
        assert [e for e in os.listdir(srv.models_dir) if e.endswith(".tmp")] == [], leftovers
        meta = requests.get(srv.url + "/v2/models/mods/", timeout=HTTP_TIMEOUT).json()
        names = sorted(m["name"] for m in meta["models"])
        assert names == bundle.list_bundles(srv.models_dir)
        assert {"default", "first"} <= set(names) <= {"default", "first", *victims}
        for name in names:
            with zipfile.ZipFile(srv.models_dir / (name + ".zip")) as zf:
                assert zf.testzip() is None
        doc = status(srv, victim)
        if victims[-1] in names:  # killed after the rename: the bundle is complete
            assert doc["status"] in ("done", "error"), doc
        else:
            assert doc["status"] == "error" and "interrupted" in doc["message"], doc
        resp = requests.post(srv.url + "/models/mods/predict", params={"model_name": "first"},
                             files={"data": ("x.tsv", (srv.models_dir.parent / "data" /
                                                       "small.tsv").read_bytes())},
                             timeout=HTTP_TIMEOUT)
        assert resp.status_code == 200, resp.text[:300]
        print("restart test: leftovers after the kill during save: %s; bundles after "
              "restart: %s; victim: %s" % (leftovers, names, doc["status"]))


def _children(pid):
    """Process ids whose parent is ``pid`` (from /proc) and their command lines."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                with open("/proc/%s/cmdline" % entry, "rb") as fh:
                    out[int(entry)] = fh.read().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
    return out


def test_a_killed_prediction_worker_is_replaced_and_no_request_hangs(tmp_path):
    import threading

    def predict(srv, name="small.tsv"):
        return requests.post(srv.url + "/models/mods/predict",
                             files={"data": ("x.tsv", (tmp_path / name).read_bytes())},
                             timeout=HTTP_TIMEOUT)

    def worker(srv):
        found = [p for p, cmd in _children(srv.proc.pid).items()
                 if "spawn_main" in cmd and "resource_tracker" not in cmd]
        assert len(found) == 1, _children(srv.proc.pid)  # --workers 1, no training yet
        return found[0]

    write_table(generate(n_rows=400, seed=13), tmp_path / "small.tsv")
    write_table(generate(n_rows=200000, seed=14), tmp_path / "large.tsv")  # ~8 s to predict
    (tmp_path / "srv").mkdir()
    with serve(tmp_path / "srv") as srv:
        assert predict(srv).status_code == 200
        first = worker(srv)
        os.kill(first, signal.SIGKILL)  # while idle
        time.sleep(1.0)
        resp = predict(srv)  # the pool sees the dead worker and starts a new one
        assert resp.status_code == 200, resp.text[:300]
        second = worker(srv)
        assert second != first
        # killed in the middle of a prediction: that request fails with a 503 JSON message,
        # the next ones are answered
        answers = []
        thread = threading.Thread(target=lambda: answers.append(predict(srv, "large.tsv")))
        thread.start()
        time.sleep(1.0)
        os.kill(second, signal.SIGKILL)
        thread.join(HTTP_TIMEOUT + 5)
        assert answers and answers[0].status_code == 503, answers[0].text[:300]
        assert "ended before finishing" in answers[0].json()["message"]
        for _ in range(2):
            resp = predict(srv)
            assert resp.status_code == 200, resp.text[:300]
        assert worker(srv) not in (first, second)

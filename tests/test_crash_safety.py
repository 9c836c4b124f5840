"""Crash safety of model bundles: ``kill -9`` during saves never leaves a broken bundle.

* 100 ``kill -9`` at random moments of :func:`mods.forecast.bundle.save` (the save function
  itself, in forked copies of a process that loaded the default model once: starting
  TensorFlow 100 times would not fit in CI time on a 2-core machine);
* real ``mods-train`` processes killed with ``kill -9`` while their save is in progress
  (``MODS_CRASH_TRAIN_KILLS``, default 2);
* two saves / two real trainings of the same ``model_name`` at once: the bundle is always
  one complete bundle or the other, never a mix.

After each kill: every bundle :func:`~mods.forecast.bundle.list_bundles` lists is a complete,
readable zip with every member; hidden temporary files are never listed and
:func:`~mods.forecast.bundle.clean_temporary` (run at service start) removes them.  The
service-level kills (``kill -9`` of ``mods-serve`` mid-save, then a restart) are in
tests/test_restart.py.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from mods.dataset.generate import generate
from mods.dataset.io import write_table
from mods.forecast import bundle

pytestmark = pytest.mark.slow

PROJECT_DIR = Path(__file__).resolve().parent.parent
SAVE_KILLS = int(os.environ.get("MODS_CRASH_SAVE_KILLS", "100"))
TRAIN_KILLS = int(os.environ.get("MODS_CRASH_TRAIN_KILLS", "2"))

# Runs in a subprocess: loads the default model once, then for each iteration forks a child
# that saves bundles in a loop and kills it with SIGKILL after a random delay; checks the
# folder after every kill.  Prints one JSON line.
SAVE_LOOP = r"""
import json, os, random, signal, sys, time, zipfile
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from mods.forecast import bundle

folder, iterations, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
fc = bundle.load(sys.argv[4])
fc.info["marker"] = -1
t0 = time.perf_counter()
bundle.save(fc, "crash", folder, metrics={"marker": -1})
save_s = time.perf_counter() - t0


def check(expect_tmp_ok=True):
    names = bundle.list_bundles(folder)
    assert set(names) <= {"crash", "other"}, names
    for name in names:
        path = os.path.join(folder, name + ".zip")
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None, (name, "bad CRC")
            assert set(bundle.MEMBERS) <= set(zf.namelist()), zf.namelist()
            cfg = json.loads(zf.read("config.json"))
            metrics = json.loads(zf.read("metrics.json"))
            assert cfg["marker"] == metrics["marker"], (cfg["marker"], metrics["marker"])
    return names


stats = {"iterations": 0, "tmp_left": 0, "cleaned": 0, "completed_saves": 0,
         "save_s": round(save_s, 3), "delays": []}
for i in range(iterations):
    delay = rng.uniform(0.0, 2.5 * save_s)
    before = os.stat(os.path.join(folder, "crash.zip")).st_mtime_ns
    pid = os.fork()
    if pid == 0:  # child: save again and again until killed
        try:
            n = 0
            while True:
                n += 1
                fc.info["marker"] = i * 1000 + n
                bundle.save(fc, "crash", folder, metrics={"marker": i * 1000 + n})
        finally:
            os._exit(1)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    names = check()
    assert "crash" in names
    if os.stat(os.path.join(folder, "crash.zip")).st_mtime_ns != before:
        stats["completed_saves"] += 1
    leftovers = [e for e in os.listdir(folder) if e.endswith(".tmp")]
    stats["tmp_left"] += bool(leftovers)
    removed = bundle.clean_temporary(folder)
    assert sorted(removed) == sorted(leftovers), (removed, leftovers)
    stats["cleaned"] += len(removed)
    assert os.listdir(folder) == ["crash.zip"], os.listdir(folder)
    stats["iterations"] += 1
    stats["delays"].append(round(delay, 3))

# two processes saving the same name at once, a reader checking all along
pids = []
for k in (1, 2):
    pid = os.fork()
    if pid == 0:
        try:
            for n in range(15):
                fc.info["marker"] = k * 100000 + n
                bundle.save(fc, "crash", folder, metrics={"marker": k * 100000 + n})
        finally:
            os._exit(0)
    pids.append(pid)
reads = 0
seen = set()
alive = set(pids)
while alive:
    check()
    with zipfile.ZipFile(os.path.join(folder, "crash.zip")) as zf:
        seen.add(json.loads(zf.read("metrics.json"))["marker"] // 100000)
    reads += 1
    for p in list(alive):
        if os.waitpid(p, os.WNOHANG) != (0, 0):
            alive.discard(p)
check()
assert os.listdir(folder) == ["crash.zip"], os.listdir(folder)
stats["concurrent_reads"] = reads
stats["concurrent_writers_seen"] = sorted(seen)
final = bundle.load("crash", folder)  # the last complete bundle loads as a model
stats["final_marker"] = final.info["marker"]
print("RESULT " + json.dumps(stats), flush=True)
"""


def _env(tmp_path, **extra):
    """The children's environment: their temporary folder next to ``tmp_path``.

    A process killed during ``bundle.save`` leaves its working folder (``mods-save-*``, the
    Keras file being written) in its temporary folder: nothing can remove it at that
    moment.  Hundreds of kills would otherwise leave hundreds of them in the machine's /tmp.
    """
    tmp = Path(tmp_path).with_name(Path(tmp_path).name + "-tmpdir")  # pytest removes it too
    tmp.mkdir(exist_ok=True)
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", TMPDIR=str(tmp),
                **extra)


def _check_folder(folder):
    """Every listed bundle is complete and readable; return the listed names."""
    names = bundle.list_bundles(folder)
    for name in names:
        with zipfile.ZipFile(Path(folder) / (name + ".zip")) as zf:
            assert zf.testzip() is None, name
            assert set(bundle.MEMBERS) <= set(zf.namelist()), (name, zf.namelist())
            json.loads(zf.read("config.json"))
            json.loads(zf.read("metrics.json"))
    return names


def test_kill9_during_bundle_save_loop(tmp_path):
    """100 SIGKILLs at random moments of ``bundle.save``: never a broken listed bundle."""
    out = subprocess.run([sys.executable, "-c", SAVE_LOOP, str(tmp_path), str(SAVE_KILLS),
                          "7", str(PROJECT_DIR / "models" / "default.zip")],
                         cwd=str(PROJECT_DIR), env=_env(tmp_path), capture_output=True,
                         text=True, timeout=400)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    assert out.returncode == 0 and lines, (out.returncode, out.stdout[-2000:],
                                           out.stderr[-4000:])
    stats = json.loads(lines[-1][len("RESULT "):])
    print("save-level kill loop:", {k: v for k, v in stats.items() if k != "delays"})
    assert stats["iterations"] == SAVE_KILLS
    # the kills really landed in the middle of saves, and some saves completed between them
    assert stats["tmp_left"] >= SAVE_KILLS // 5, stats
    assert stats["completed_saves"] >= 1, stats
    assert stats["concurrent_writers_seen"], stats
    assert stats["concurrent_reads"] >= 5, stats


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("crashdata") / "tiny.tsv"
    write_table(generate(n_rows=300, seed=5), path)
    return path


def _mods_train():
    """The ``mods-train`` entry point as ``python -m`` arguments."""
    return [sys.executable, "-c", "import sys; from mods.cli import train_main; "
            "sys.exit(train_main())"]


def test_kill9_mods_train_during_save(tmp_path, tiny_data):
    """Real ``mods-train`` processes killed with SIGKILL while their save runs."""
    rng = random.Random(11)
    models = tmp_path / "models"
    models.mkdir()
    kills = []
    for i in range(TRAIN_KILLS):
        cmd = _mods_train() + ["--data", str(tiny_data), "--model-name", "victim",
                               "--models-dir", str(models), "--model-type", "MLP",
                               "--num-epochs", "1", "--blocks", "4", "--quiet"]
        proc = subprocess.Popen(cmd, cwd=str(PROJECT_DIR), env=_env(tmp_path),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        delay = rng.uniform(0.0, 0.12)
        deadline = time.monotonic() + 120
        seen_tmp = False
        while proc.poll() is None and time.monotonic() < deadline:
            if any(e.startswith(".victim.") for e in os.listdir(models)):
                seen_tmp = True
                time.sleep(delay)
                break
            time.sleep(0.002)
        proc.kill()  # SIGKILL
        proc.wait(30)
        proc.stderr.close()
        kills.append({"delay": round(delay, 3), "during_save": seen_tmp,
                      "returncode": proc.returncode})
        names = _check_folder(models)
        assert names in ([], ["victim"]), names
        bundle.clean_temporary(models)
        assert [e for e in os.listdir(models) if e != ".trainings"] == \
            (["victim.zip"] if names else []), os.listdir(models)
    print("mods-train kills:", kills)
    assert sum(k["during_save"] for k in kills) >= 1, kills
    assert all(k["returncode"] == -signal.SIGKILL for k in kills if k["during_save"]), kills


def test_two_trainings_same_name_at_once(tmp_path, tiny_data):
    """Two real ``mods-train`` of one ``model_name`` at once: the bundle is always one of the
    two complete bundles (the last to finish wins), never a mix of both."""
    models = tmp_path / "models"
    models.mkdir()
    procs = {}
    for blocks in (3, 7):
        cmd = _mods_train() + ["--data", str(tiny_data), "--model-name", "twin",
                               "--models-dir", str(models), "--model-type", "MLP",
                               "--num-epochs", "1", "--blocks", str(blocks), "--quiet"]
        procs[blocks] = subprocess.Popen(cmd, cwd=str(PROJECT_DIR), env=_env(tmp_path),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checks = 0
    deadline = time.monotonic() + 240
    while any(p.poll() is None for p in procs.values()) and time.monotonic() < deadline:
        if _check_folder(models):
            checks += 1
        time.sleep(0.01)
    errors = {b: p.communicate(timeout=30)[1].decode(errors="replace")[-2000:]
              for b, p in procs.items()}
    assert all(p.returncode == 0 for p in procs.values()), errors
    assert _check_folder(models) == ["twin"]
    assert [e for e in os.listdir(models) if e.endswith(".tmp")] == []
    fc = bundle.load("twin", models)
    blocks = fc.params.blocks
    assert blocks in (3, 7)
    # the Keras model is the one of the same training as config.json: its first dense layer
    # has ``blocks`` units
    units = [w.shape[-1] for w in fc.model.get_weights() if len(w.shape) == 2]
    assert units[0] == blocks, (blocks, [w.shape for w in fc.model.get_weights()])
    assert checks >= 1


def test_clean_temporary_keeps_saves_in_progress(tmp_path):
    """Only the temporary files of dead processes (or old ones without a pid) are removed:
    a service starting while a ``mods-train`` saves does not break that save."""
    live = subprocess.Popen(["sleep", "60"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        names = {"live": ".m.%d.abc123_x.tmp" % live.pid, "dead": ".m.%d.abc123_x.tmp" % dead.pid,
                 "fresh": ".m.nopid.tmp", "old": ".old.nopid.tmp"}
        for name in names.values():
            (tmp_path / name).write_bytes(b"PK")
        os.utime(tmp_path / names["old"], (time.time() - 7200, time.time() - 7200))
        (tmp_path / "good.zip").write_bytes(b"x")
        removed = bundle.clean_temporary(tmp_path)
        assert sorted(removed) == sorted([names["dead"], names["old"]])
        assert sorted(os.listdir(tmp_path)) == sorted([names["live"], names["fresh"],
                                                       "good.zip"])
        assert bundle.list_bundles(tmp_path) == ["good"]
    finally:
        live.kill()
        live.wait()

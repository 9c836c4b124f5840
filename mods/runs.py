"""Small on-disk records of trainings (``<models>/.trainings/<run_id>.json``).

Written atomically by the process that trains; read by the service to show progress while
a training runs and to report trainings interrupted by a restart.
"""

import json
import os
import re
import time
import uuid
from pathlib import Path

from mods import config
from mods.files import atomic_write, pid_alive, remove_abandoned

_RUN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def runs_dir(models_dir=None):
    """Folder of the training records."""
    return Path(models_dir or config.models_dir()) / ".trainings"


def new_run_id():
    return uuid.uuid4().hex


def record_path(run_id, models_dir=None):
    if not run_id or not _RUN_RE.match(str(run_id)):
        return None
    return runs_dir(models_dir) / ("%s.json" % run_id)


def write(run_id, record, models_dir=None):
    """Atomically replace the record of ``run_id``."""
    path = record_path(run_id, models_dir)
    if path is None:
        return
    record = dict(record, run_id=run_id, updated=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime()))
    atomic_write(path, json.dumps(record))


def read(run_id, models_dir=None):
    """The record of ``run_id`` or ``None``."""
    path = record_path(run_id, models_dir)
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class Recorder:
    """Keeps a training's record up to date: call it with each epoch's progress."""

    def __init__(self, run_id, models_dir=None, **fields):
        self.run_id = run_id
        self.models_dir = models_dir
        self.record = {"status": "running", "pid": os.getpid(), "history": [],
                       "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields}
        write(run_id, self.record, models_dir)

    def __call__(self, epoch):
        self.record["history"].append(epoch)
        self.record["epoch"] = epoch["epoch"]
        self.record["num_epochs"] = epoch["num_epochs"]
        write(self.run_id, self.record, self.models_dir)

    def finish(self, status, **fields):
        self.record.update(status=status, **fields)
        write(self.run_id, self.record, self.models_dir)


def list_records(models_dir=None):
    """Every readable training record, oldest first (by ``started``, then ``date``)."""
    folder = runs_dir(models_dir)
    if not folder.is_dir():
        return []
    out = []
    for path in folder.glob("*.json"):
        record = read(path.stem, models_dir)
        if isinstance(record, dict):
            out.append(dict(record, run_id=path.stem))
    return sorted(out, key=lambda r: (str(r.get("started") or r.get("date") or ""),
                                      r["run_id"]))


INTERRUPTED = "interrupted by a restart of the service (the training process is gone)"


def mark_interrupted(models_dir=None):
    """At service start: end the records still "running" whose process is gone.

    A record stays "running" when the service (and its training processes) stopped without
    finishing it (restart, ``kill -9``, power loss).  Such records become ``"status":
    "error"`` with ``"interrupted": true`` and the message :data:`INTERRUPTED`.  Records
    whose training process still exists (an orphaned worker still fitting) are left alone:
    that process ends them itself.  Leftover temporary record files are removed.

    Returns
    -------
    list of str
        The run ids marked interrupted.
    """
    folder = runs_dir(models_dir)
    if not folder.is_dir():
        return []
    remove_abandoned(folder, max_age=0)
    marked = []
    for record in list_records(models_dir):
        if record.get("status") != "running" or pid_alive(record.get("pid")):
            continue
        run_id = record.pop("run_id")
        record.update(status="error", interrupted=True, message=INTERRUPTED)
        write(run_id, record, models_dir)
        marked.append(run_id)
    return marked

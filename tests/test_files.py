"""mods.files: replace files in one rename, clean what a killed writer left."""

import os
import subprocess
import sys

import pytest

from mods import files


def test_atomic_write_replaces_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "sub" / "out.tsv"
    files.atomic_write(target, "a\tb\n")
    files.atomic_write(target, b"c\td\n")
    assert target.read_bytes() == b"c\td\n"
    assert os.listdir(target.parent) == ["out.tsv"]


def test_an_error_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.zip"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with files.replacing(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.zip"]


def test_remove_abandoned_keeps_writes_in_progress(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    alive = os.getppid()
    names = [".m.zip.%s.ab12.tmp" % dead, ".m.zip.%d.cd34.tmp" % alive, ".old-style.tmp"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    assert files.remove_abandoned(tmp_path, max_age=3600) == [names[0]]
    assert files.remove_abandoned(tmp_path, max_age=0) == [names[2]]
    assert sorted(os.listdir(tmp_path)) == [names[1]]

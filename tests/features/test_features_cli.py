"""End-to-end tests of ``mods-features``: sample logs, datapool, errors (exit status 2)."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mods.dataset.datapool import select
from mods.features import columns
from mods.features.cli import Progress, main

ROOT = Path(__file__).resolve().parents[2]


def test_generate_then_build(tmp_path, capsys):
    logs, pool = tmp_path / "logs", tmp_path / "pool"
    assert main(["--generate-logs", str(logs), "--days", "2", "--seed", "7", "--scale",
                 "0.02", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote 288 files to {logs}") and "2 incidents" in out
    assert main(["--logs", str(logs), "--out", str(pool), "--windows", "w01h-s10m,w10m-s10m",
                 "--local-nets", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"wrote 24 files to {pool} (pandas: ")
    assert "records/s" in captured.out and "logs: 100%" in captured.err  # progress
    day = pool / "tsv/dns/2019/06/02/w10m-s10m.tsv"
    lines = day.read_text().splitlines()
    assert lines[0].split("\t") == columns("dns") and len(lines) == 145
    frame = select(pool, "ssh|in~ssh_in;conn|in_count_uid", window="w01h-s10m")
    assert len(frame) == 288 and frame["ssh_in"].sum() > 0


@pytest.mark.parametrize("argv, message", [
    (["--logs", "{logs}"], "--out DATAPOOL is required"),
    (["--logs", "{logs}", "--out", "{out}", "--windows", "hourly"], "bad window name"),
    (["--logs", "{logs}", "--out", "{out}", "--local-nets", "10.0.0.0/40"],
     "bad local network"),
    (["--logs", "{bad}", "--out", "{out}"], "not a Zeek log"),
    (["--logs", "{missing}", "--out", "{out}"], "no such file or folder"),
    (["--generate-logs", "{out}", "--days", "0"], "bad number of days"),
    (["--logs", "{logs}", "--generate-logs", "{out}"], "not allowed with argument"),
    ([], "one of the arguments --logs --generate-logs is required"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "logs").mkdir()
    (tmp_path / "bad.log").write_text("hello\n")
    paths = {"logs": tmp_path / "logs", "out": tmp_path / "out", "bad": tmp_path / "bad.log",
             "missing": tmp_path / "missing"}
    argv = [a.format(**paths) for a in argv]
    try:
        status = main(argv + ["--quiet"])
    except SystemExit as exc:  # argparse's errors
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1, err


def test_console_command_in_a_subprocess(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    gen = subprocess.run([sys.executable, "-m", "mods.features.cli", "--generate-logs",
                          str(tmp_path / "logs"), "--scale", "0.01", "--format", "json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert gen.returncode == 0, gen.stderr
    run = subprocess.run([sys.executable, "-m", "mods.features.cli", "--logs",
                          str(tmp_path / "logs"), "--out", str(tmp_path / "pool")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "pool/tsv/sip/2019/06/01/w01h-s10m.tsv").is_file()
    bad = subprocess.run([sys.executable, "-m", "mods.features.cli", "--logs",
                          str(tmp_path / "nowhere"), "--out", str(tmp_path / "pool")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("mods-features: error: ")


def test_progress_bar_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = Progress("logs", stream=stream, width=10)
    for i in range(1, 4):
        bar(i, 3, f"file{i}")
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\rlogs [") and "100% 3/3" in text and text.endswith("\n")

"""``mods-stream`` as a real subprocess: a followed file that grows and is rotated, a TCP
socket, a webhook on a real local HTTP server, SIGTERM; results equal the batch predict."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mods.dataset.io import read_table
from mods.stream.cli import main
from tests.stream.conftest import series_tsv
from tests.stream.test_stream_io import Hook, hook_server  # noqa: F401 (fixture)

STREAM = [str(Path(sys.executable).parent / "mods-stream")]


def wait_lines(path, n, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= n:
            return [json.loads(x) for x in lines]
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError("%d of %d lines; stderr: %s" % (
        len(lines), n, proc.stderr.read() if proc.poll() is not None else "(running)"))


def test_follow_rotation_webhook_sigterm_equals_batch(tmp_path, hook_server, default_model):
    text = series_tsv(600).splitlines()
    header, body = text[0], text[1:]
    log, out = tmp_path / "rows.tsv", tmp_path / "out.jsonl"
    log.write_text("\n".join([header] + body[:300]) + "\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(STREAM + ["--input", str(log), "--follow", "--output", str(out),
                                      "--webhook", hook_server], stderr=subprocess.PIPE,
                            text=True, env=env)
    # a TCP-fed instance starts at the same time (startup is the slow part)
    tcp = subprocess.Popen(STREAM + ["--input", "tcp://127.0.0.1:0"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_lines(out, 300, proc)
        with open(log, "a") as fh:  # the file grows, with a malformed line
            fh.write("\n".join(body[300:450]) + "\nnot\ta\trow\n")
        wait_lines(out, 450, proc)
        os.rename(log, tmp_path / "rows.tsv.1")  # rotation: the new file has its header
        log.write_text("\n".join([header] + body[450:]) + "\n")
        res = wait_lines(out, 600, proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        err = proc.stderr.read()
        assert "stopped by signal" in err and '"malformed": 1' in err
        # TCP: one client sends a header and rows
        line = tcp.stderr.readline()
        assert "listening on tcp://127.0.0.1:" in line
        port = int(line.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(("\n".join(text[:40]) + "\n").encode())
        tcp_res = [json.loads(tcp.stdout.readline()) for _ in range(39)]
        tcp.send_signal(signal.SIGTERM)
        assert tcp.wait(30) == 0
    finally:
        for p in (proc, tcp):
            if p.poll() is None:
                p.kill()
    ds = read_table("\n".join(text).encode(), name="all.tsv")
    pred = default_model.predict(ds)
    assert [r["row"] for r in res] == list(range(600))
    np.testing.assert_allclose([r["score"] for r in res], pred.detection.scores, atol=2e-6)
    assert [r["level"] for r in res] == pred.detection.levels
    fc = np.array([[np.nan if v is None else v for v in r["forecast"].values()] for r in res])
    np.testing.assert_allclose(fc, pred.step1, rtol=1e-5)
    events = [r["event"] for r in res if "event" in r]
    assert {e["start"] for e in events} == {e["start"] for e in pred.detection.events}
    posted = [p["event"] for p in Hook.received]
    assert posted == events and all(p["model_name"] == "default" for p in Hook.received)
    np.testing.assert_allclose([r["score"] for r in tcp_res], pred.detection.scores[:39],
                               atol=2e-6)


def test_bad_input_exits_2(tmp_path, capsys):
    data = tmp_path / "d.tsv"
    data.write_text(series_tsv(30))
    cases = [(["--model-name", "nope", "--input", str(data)], "unknown model_name"),
             (["--input", "udp://x:1"], "unsupported input"),
             (["--input", "tcp://x"], "bad input URL"),
             (["--input", str(tmp_path / "missing.tsv")], "no such file"),
             (["--input", str(data), "--webhook", "nope"], "bad webhook URL"),
             (["--input", "-", "--follow"], "--follow applies")]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    with pytest.raises(SystemExit) as exc:
        main(["--from-start", "--from-end"])
    assert exc.value.code == 2

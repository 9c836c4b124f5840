"""``mods-stream --zeek``: online windows from raw Zeek logs equal the batch datapool, and
their scores equal a batch predict on the datapool's selection (real files, real
subprocesses, logs from the seeded generator)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mods.dataset import datapool
from mods.dataset.io import read_table
from mods.errors import ConfigError
from mods.features import build_datapool
from mods.features.zeekgen import generate_logs
from mods.stream import zeek_online as zo

STREAM = [str(Path(sys.executable).parent / "mods-stream")]
PROTOCOLS = ["conn", "dns", "ssh"]
TYPES = ("conn", "dns", "ssh", "http")  # http: a log the default query does not use


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """One day of generated logs (TSV, gzip every other hour) and their batch datapool."""
    root = tmp_path_factory.mktemp("zeek")
    generate_logs(root / "logs", days=1, scale=0.05, seed=1, log_types=TYPES)
    build_datapool(root / "logs", root / "dp", "w01h-s10m")
    return root


def online_rows(path, protocols=PROTOCOLS, lateness=zo.DEFAULT_LATENESS_S):
    src = zo.open_zeek_source(path, protocols)
    wins = zo.OnlineWindows(protocols, "w01h-s10m", lateness_s=lateness)
    reader = zo.LineReader(protocols)
    rows, rounds = [], 0
    while True:
        lines = src.read(0)
        if lines is None:
            break
        rounds += 1
        for origin, line in lines:
            reader.add(origin, line, src.names.get(origin))
        wins.add(reader.take())
        rows += wins.close()
        assert not rows or rounds > 1, "windows must close before the end of the input"
    rows += wins.close(final=True)
    return rows, wins, reader, rounds


def datapool_lines(dp, protocol, day="2019/06/01"):
    text = (Path(dp) / "tsv" / protocol / day / "w01h-s10m.tsv").read_text()
    return text.splitlines()[1:]


@pytest.mark.parametrize("fmt", ["tsv", "json"])
def test_online_windows_equal_datapool(logs, tmp_path, fmt):
    if fmt == "json":
        generate_logs(tmp_path / "logs", days=1, scale=0.05, seed=1, fmt="json",
                      log_types=TYPES)
        build_datapool(tmp_path / "logs", tmp_path / "dp", "w01h-s10m")
        root = tmp_path
    else:
        root = logs
    rows, wins, reader, rounds = online_rows(root / "logs")
    assert rounds >= 24  # one round per rotated hour: windows closed as they would live
    assert wins.late == wins.dropped == reader.malformed == 0
    for protocol in PROTOCOLS:
        got = ["\t".join(cells[protocol]) for _, cells in rows]
        assert got == datapool_lines(root / "dp", protocol), protocol


def test_stream_scores_equal_batch_predict(logs, tmp_path, default_model):
    out = tmp_path / "out.jsonl"
    proc = subprocess.run(STREAM + ["--model-name", "default", "--zeek", "--input",
                                    str(logs / "logs"), "--local-nets",
                                    "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16",
                                    "--output", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stderr.strip().splitlines()[-1].split(": ", 1)[1])
    assert summary["rows"] == 144 and summary["zeek_malformed"] == 0
    res = [json.loads(line) for line in out.read_text().splitlines()]
    sel = datapool.select(logs / "dp", zo.DEFAULT_QUERY)
    ds = read_table(datapool.to_tsv_bytes(sel), name="sel.tsv",
                    expected_columns=default_model.columns)
    pred = default_model.predict(ds)
    assert [r["time"] for r in res] == [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in ds.time]
    actual = np.array([list(r["actual"].values()) for r in res], dtype=float)
    np.testing.assert_array_equal(actual, ds.values)
    fcst = np.array([[np.nan if v is None else v for v in r["forecast"].values()]
                     for r in res])
    np.testing.assert_array_equal(np.isnan(fcst), np.isnan(pred.step1))
    np.testing.assert_allclose(fcst, pred.step1, rtol=1e-5, atol=1e-6)  # 6 digits
    np.testing.assert_allclose([r["score"] for r in res], pred.detection.scores, atol=2e-6)
    assert [r["level"] for r in res] == pred.detection.levels


def _hour_files(logs_dir, hour):
    stamp = "2019-06-01-%02d-00-00" % hour
    return {p: next((logs_dir / "2019-06-01").glob("%s.%s.log*" % (p, stamp)))
            for p in PROTOCOLS}


def test_follow_folder_rotation_malformed_sigterm(logs, tmp_path):
    """Zeek's current logs written hour by hour and rotated; a malformed line; SIGTERM."""
    from mods.features.zeek import read_text

    hours = 4
    subset = tmp_path / "subset"  # the same records, for the batch datapool
    live = tmp_path / "live"
    live.mkdir()
    for h in range(hours):
        for p, path in _hour_files(logs / "logs", h).items():
            (subset / p).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, subset / p / path.name)
    build_datapool(subset, tmp_path / "dp", "w01h-s10m")
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(STREAM + ["--zeek", "--input", str(live), "--follow",
                                      "--lateness", "3600", "--output", str(out)],
                            stderr=subprocess.PIPE, text=True)
    try:
        started = proc.stderr.readline()  # the model is loaded, the logs are awaited
        assert "does not exist yet: waiting for it" in started, started
        for h in range(hours):
            for p, path in _hour_files(logs / "logs", h).items():
                current = live / ("%s.log" % p)
                if current.exists():  # rotation: Zeek renames the log, starts a new one
                    current.rename(live / ("%s.%02d.log" % (p, h - 1)))
                text = read_text(path)
                half = len(text) // 2
                cut = text.index("\n", half) + 1
                with open(current, "w") as fh:  # written in two parts
                    fh.write(text[:cut])
                    fh.flush()
                    if p == "conn" and h == 1:
                        fh.write("this\tis\tnot a conn record\n")
                    time.sleep(0.05)
                    fh.write(text[cut:])
            time.sleep(0.4)
        # watermark ~03:59: windows ending by 02:59 (lateness 1 h) closed: 00:00 to 01:50
        expected = 12
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if out.exists() and len(out.read_text().splitlines()) >= expected:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    summary = json.loads(err.strip().splitlines()[-1].split("; ", 1)[1])
    assert summary["zeek_malformed"] == 1 and summary["zeek_late"] == 0
    res = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(res) == expected  # open windows are not emitted on SIGTERM when following
    sel = datapool.select(tmp_path / "dp", zo.DEFAULT_QUERY).iloc[:expected]
    assert [r["time"] for r in res] == [t.strftime("%Y-%m-%dT%H:%M:%SZ")
                                        for t in sel["window_start"]]
    got = np.array([list(r["actual"].values()) for r in res], dtype=float)
    np.testing.assert_array_equal(got, sel[["conn_in", "conn_out", "dns_in_distinct",
                                            "ssh_in"]].to_numpy(dtype=float))


def test_query_maps_columns_and_units():
    feats = zo.ZeekFeatures("ssh|in~ssh_in;conn|in_sum_orig_bytes~conn_kb#window_start",
                            columns=["conn_kb", "ssh_in"])
    assert feats.protocols == ["ssh", "conn"]
    assert feats.header() == "window_start\twindow_end\tconn_kb\tssh_in"
    with pytest.raises(ConfigError, match="missing conn_out"):
        zo.ZeekFeatures("conn|in_count_uid~conn_in", columns=["conn_in", "conn_out"])
    with pytest.raises(ConfigError, match="only window_start/window_end joins"):
        zo.ZeekFeatures("conn|in_count_uid~conn_in#other")


@pytest.mark.parametrize("args, message", [
    (["--input", "-"], "give --input DIR_OR_FILE"),
    (["--input", "{logs}", "--query", "conn|nope~x"], "conn has no column 'nope'"),
    (["--input", "{logs}", "--local-nets", "10.0.0.0/99"], "bad local network"),
    (["--input", "{logs}", "--windows", "w01h-s05m"], "the model's step is 600 s"),
    (["--input", "{logs}", "--query", "conn|in_count_uid~conn_in"], "missing conn_out"),
    (["--input", "/nonexistent/zeek"], "no such file or folder"),
])
def test_bad_zeek_arguments_exit_2(logs, args, message):
    args = [a.replace("{logs}", str(logs / "logs")) for a in args]
    proc = subprocess.run(STREAM + ["--zeek"] + args, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr

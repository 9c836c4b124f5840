#!/usr/bin/env python
"""Load benchmark of ``mods-serve``: predictions with 1 and 20 clients, idle and while training.

What it measures (issue 7 "Hardening", section 3): the real launcher (``python -m
mods.serve``) is started on a free local port with a temporary models folder holding a copy
of ``models/default.zip``; ``N`` client threads (one keep-alive connection each, a lean
``http.client`` client by default, ``--client requests`` for ``requests``) POST the
sample file (``../shared/data/mods-sample-w01h-s10m.tsv``, or a generated 4464-row file
when absent) to ``POST /models/mods/predict`` back to back for ``--duration`` seconds.
Scenarios: 1 and 20 clients, once idle and once while a long LSTM training runs (started
with ``PUT /models/mods/train``, cancelled at the end; the script checks it was still
running when each scenario ended).

Baseline, measured in the same run with the same clients: ``GET /v2/models/mods/`` (the
metadata: answered by the launcher, no worker), for ``--baseline-duration`` seconds per
scenario.  Ratios ``predict / baseline`` of the medians make runs on a noisy, shared machine
comparable.

Figures per scenario: p50/p90/p99 latency (ms), requests/s, failures (status other than 200
or a body that is not the expected answer, connection errors, timeouts), and where the CPU
went (from /proc): cores used by the prediction processes, the launcher, the training, the
client threads and the machine's steal time, and CPU ms per request of each server role,
which varies far less from run to run than the latencies.  The load average
(``os.getloadavg``) at the start and end is recorded too.

    .venv/bin/python bench/bench_load.py                   # 60 s per scenario, ~6 min
    .venv/bin/python bench/bench_load.py --duration 10 --baseline-duration 3   # quick
    .venv/bin/python bench/bench_load.py --payload sliding     # a new row in each request
    .venv/bin/python bench/bench_load.py --server-env MODS_HORIZON_MEMO=0      # memo off

Prints a table and writes ``bench/results/load.json`` (``--out`` to change).
"""

import argparse
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "mods-sample-w01h-s10m.tsv"
sys.path.insert(0, str(ROOT))

TARGETS = {"single_idle_p50_ms": 100.0, "clients20_training_p99_ms": 500.0, "failures": 0}


def free_port():
    """A free local TCP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values, q):
    """The ``q``-th percentile (0-100) of ``values`` by linear interpolation."""
    if not values:
        return None
    vals = sorted(values)
    pos = (len(vals) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


class Server:
    """``python -m mods.serve`` in a subprocess with its own models/data folders and TMPDIR.

    Parameters
    ----------
    base : Path
        Empty folder for ``models/``, ``data/``, ``tmp/`` and ``server.log``.
    sample : Path
        The file to predict on; also copied to ``data/train.tsv`` for the training.
    workers, train_workers : int
        ``--workers`` and ``--train-workers`` of the launcher.
    env : dict, optional
        Extra environment variables.
    """

    def __init__(self, base, sample, workers, train_workers, env=None):
        self.base = Path(base)
        self.models = self.base / "models"
        self.data = self.base / "data"
        self.tmp = self.base / "tmp"
        for folder in (self.models, self.data, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "models" / "default.zip", self.models / "default.zip")
        shutil.copyfile(sample, self.data / "train.tsv")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = self.base / "server.log"
        cmd = [sys.executable, "-m", "mods.serve", "--listen-ip", "127.0.0.1",
               "--listen-port", str(self.port), "--workers", str(workers),
               "--train-workers", str(train_workers)]
        full_env = dict(os.environ, MODS_MODELS_DIR=str(self.models),
                        MODS_DATA_DIR=str(self.data), TMPDIR=str(self.tmp),
                        TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", **(env or {}))
        full_env.pop("MODS_DEFAULT_MODEL", None)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=str(ROOT), env=full_env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def wait_ready(self, timeout=180):
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mods-serve exited (%s); see %s"
                                   % (self.proc.returncode, self.log_path))
            try:
                if requests.get(self.url + "/v2/models/", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError("mods-serve did not answer within %d s" % timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass


OK_JSON = re.compile(rb'^\{"status":\s*"ok"')


def sliding_payloads(payload, rows=4000):
    """``next()`` gives the header and ``rows`` rows of ``payload`` starting one row later
    than the previous call's (cycling): the recent observations re-sent with a new row."""
    lines = payload.decode().splitlines()
    header, body = lines[0], lines[1:]
    rows = min(rows, len(body) - 1)
    offsets = itertools.cycle(range(len(body) - rows + 1))
    lock = threading.Lock()

    def next_payload():
        with lock:
            i = next(offsets)
        return ("\n".join([header] + body[i:i + rows]) + "\n").encode()
    return next_payload


class RawSession:
    """A keep-alive HTTP/1.1 connection (``http.client``) with ``requests``' calls used here.

    The load generator runs on the server's own 2 cores: ``requests`` spends about 4.4 ms of
    CPU per prediction (multipart encoding, chunked reading of the 710 kB answer), this
    about 1 ms, leaving the rest to the service being measured.  Sends the same
    ``multipart/form-data`` request (one ``data`` file field) and reads the whole answer.
    """

    BOUNDARY = "mods-bench-load-7d1f0b"

    def __init__(self, url):
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None, timeout=60):
        """``(status, body bytes)``; reconnects once when a kept-alive connection was closed."""
        import http.client

        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
            except Exception:  # timeouts and the like: the next request gets a new connection
                self.close()
                raise

    def post_file(self, path, field, filename, data, content_type):
        head = ('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                "Content-Type: %s\r\n\r\n" % (self.BOUNDARY, field, filename,
                                                 content_type)).encode()
        body = b"".join((head, data, ("\r\n--%s--\r\n" % self.BOUNDARY).encode()))
        return self.request("POST", path, body, {
            "Content-Type": "multipart/form-data; boundary=" + self.BOUNDARY,
            "Content-Length": str(len(body))})


class RequestsSession:
    """The same calls as :class:`RawSession`, made with a ``requests.Session``."""

    def __init__(self, url):
        import requests

        self.url = url.rstrip("/")
        self.session = requests.Session()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.session.close()

    def request(self, method, path, timeout=60):
        resp = self.session.request(method, self.url + path, timeout=timeout)
        return resp.status_code, resp.content

    def post_file(self, path, field, filename, data, content_type):
        resp = self.session.post(self.url + path, files={field: (filename, data, content_type)},
                                 timeout=60)
        return resp.status_code, resp.content


CLIENTS = {"http": RawSession, "requests": RequestsSession}


def new_session(client, url):
    """A per-thread client session of kind ``client`` (a key of :data:`CLIENTS`) on ``url``."""
    return CLIENTS[client](url)


def make_request(kind, payload):
    """A function ``f(session) -> (ok, detail)`` doing one request of ``kind`` with a
    :func:`new_session` (``payload``: bytes, or a function giving the bytes of each request)."""
    if kind == "predict":
        def run(session):
            data = payload() if callable(payload) else payload
            status, body = session.post_file("/models/mods/predict", "data", "sample.tsv",
                                             data, "text/tab-separated-values")
            ok = status == 200 and OK_JSON.match(body) is not None
            return ok, None if ok else "%d %s" % (status, body[:200])
    else:
        def run(session):
            status, body = session.request("GET", "/v2/models/mods/")
            ok = status == 200 and b'"default_model"' in body
            return ok, None if ok else "%d %s" % (status, body[:200])
    return run


def load(request, clients, duration, client="http", url=None, warmup=0.0, snapshot=None):
    """``clients`` threads doing ``request`` back to back for ``warmup + duration`` seconds
    (each with its own :func:`new_session` of kind ``client`` on ``url``).

    The first ``warmup`` seconds are not in the latency figures: when the clients start
    together, their first requests all queue at once (the slowest of the whole run, seen
    here: 20 first requests at 470-730 ms, then a steady 350-460 ms), which says more about
    the bench's start than about the service.  They are reported apart (``warmup_*``) and
    their failures still count.

    Parameters
    ----------
    snapshot : callable, optional
        Called (no argument) when the measured window starts and when it ends; both results
        are returned as ``snapshots``.

    Returns
    -------
    dict
        ``requests``, ``failures``, ``rps``, ``p50_ms``, ``p90_ms``, ``p99_ms``, ``max_ms``,
        ``errors`` (up to 5 failure details), ``warmup_s``, ``warmup_requests``,
        ``warmup_max_ms``, ``p99_with_warmup_ms``, and ``snapshots`` with ``snapshot``.
    """
    import requests

    records, failures, errors = [], [0], []
    lock = threading.Lock()
    start = time.monotonic()
    measure_from = start + warmup
    stop_at = measure_from + duration

    def worker():
        with new_session(client, url) as session:
            while time.monotonic() < stop_at:
                began = time.monotonic()
                t0 = time.perf_counter()
                try:
                    ok, detail = request(session)
                except (requests.RequestException, OSError) as exc:
                    ok, detail = False, "%s: %s" % (type(exc).__name__, exc)
                elapsed = (time.perf_counter() - t0) * 1000.0
                with lock:
                    records.append((began >= measure_from, elapsed))
                    if not ok:
                        failures[0] += 1
                        if len(errors) < 5:
                            errors.append(detail)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for th in threads:
        th.start()
    snapshots = []
    if warmup > 0:
        time.sleep(max(0.0, measure_from - time.monotonic()))
    measured_start = time.monotonic()
    if snapshot is not None:
        snapshots.append(snapshot())
    for th in threads:
        th.join()
    end = time.monotonic()
    if snapshot is not None:
        snapshots.append(snapshot())
    wall = end - measured_start
    latencies = [ms for measured, ms in records if measured]
    early = [ms for measured, ms in records if not measured]
    every = [ms for _, ms in records]
    return {"clients": clients, "duration_s": round(wall, 2), "requests": len(latencies),
            "failures": failures[0], "rps": round(len(latencies) / wall, 2),
            "p50_ms": _r(percentile(latencies, 50)), "p90_ms": _r(percentile(latencies, 90)),
            "p99_ms": _r(percentile(latencies, 99)),
            "max_ms": _r(max(latencies) if latencies else None), "errors": errors,
            "warmup_s": warmup, "warmup_requests": len(early),
            "warmup_max_ms": _r(max(early) if early else None),
            "p99_with_warmup_ms": _r(percentile(every, 99)), "snapshots": snapshots}


def _r(x):
    return None if x is None else round(x, 1)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_table():
    """``{pid: (ppid, nice, cpu_seconds, cmdline)}`` of every process (Linux /proc)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/cmdline" % entry, "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        # fields[0] is the state (stat field 3): utime, stime are fields 14, 15; nice 19
        table[int(entry)] = (int(fields[1]), int(fields[16]),
                             (int(fields[11]) + int(fields[12])) / _TICK, cmd)
    return table


def cpu_snapshot(root):
    """CPU seconds used so far by the launcher ``root`` and its descendants, by role, plus
    this process (the clients) and the machine's steal time (``None`` off Linux)."""
    if not os.path.isdir("/proc"):
        return None
    table = _proc_table()
    roles = {"launcher": 0.0, "prediction": 0.0, "training": 0.0, "other": 0.0}
    tree = {root}
    for _ in range(4):  # children, grandchildren...
        tree |= {pid for pid, row in table.items() if row[0] in tree}
    for pid in tree:
        if pid not in table:
            continue
        _ppid, nice, cpu, cmd = table[pid]
        if pid == root:
            roles["launcher"] += cpu
        elif "spawn_main" not in cmd:
            roles["other"] += cpu
        elif nice > 0:  # trainings run reniced (MODS_TRAIN_NICE)
            roles["training"] += cpu
        else:
            roles["prediction"] += cpu
    roles["clients"] = time.process_time()
    try:
        with open("/proc/stat") as fh:
            cpu_line = fh.readline().split()
        roles["steal"] = int(cpu_line[8]) / _TICK if len(cpu_line) > 8 else 0.0
    except (OSError, ValueError):
        roles["steal"] = 0.0
    return roles


def cpu_usage(before, after, wall, requests):
    """Cores used per role during a scenario, and CPU ms per request of the server's roles.

    CPU time is far less noisy than latency on a shared machine: it says where the cycles of
    one prediction go, whatever the neighbours do.
    """
    if before is None or after is None or wall <= 0:
        return None
    out = {"cores": {k: round((after[k] - before[k]) / wall, 3) for k in after}}
    if requests:
        out["ms_per_request"] = {k: round(1000.0 * (after[k] - before[k]) / requests, 1)
                                 for k in ("launcher", "prediction", "clients")}
    return out


class Training:
    """A long training (LSTM, many epochs, no early stopping) to load the machine."""

    def __init__(self, url):
        self.url = url
        self.uuid = None

    def start(self, timeout=240):
        import requests

        resp = requests.put(self.url + "/models/mods/train",
                            params={"model_name": "bench-long", "data_file": "train.tsv",
                                    "model_type": "LSTM", "num_epochs": 1000,
                                    "epochs_patience": 1000, "blocks": 32},
                            timeout=60)
        resp.raise_for_status()
        self.uuid = resp.json()["uuid"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # wait for the first epoch (TF loaded, fitting)
            doc = self.status()
            if doc["status"] != "running":
                raise RuntimeError("the bench training ended: %s" % doc)
            if doc.get("progress", {}).get("epoch", 0) >= 1:
                return doc
            time.sleep(1)
        raise RuntimeError("the bench training did not finish an epoch in %d s" % timeout)

    def status(self):
        import requests

        return requests.get(self.url + "/v2/models/mods/train/" + self.uuid, timeout=60).json()

    def running(self):
        return self.status()["status"] == "running"

    def cancel(self):
        import requests

        if self.uuid:
            requests.delete(self.url + "/v2/models/mods/train/" + self.uuid, timeout=60)


def sample_bytes():
    """The sample file's bytes and where they came from."""
    if SAMPLE.is_file():
        return SAMPLE.read_bytes(), str(SAMPLE)
    import io

    from mods.dataset.generate import generate
    from mods.dataset.io import write_table

    buf = io.StringIO()
    write_table(generate(n_rows=4464, seed=0), buf)
    return buf.getvalue().encode(), "generated (mods.dataset.generate, 4464 rows, seed 0)"


def run_bench(args):
    payload, source = sample_bytes()
    result = {"sample": source, "sample_bytes": len(payload), "workers": args.workers,
              "train_workers": args.train_workers, "duration_s": args.duration,
              "baseline_duration_s": args.baseline_duration, "cpus": os.cpu_count(),
              "loadavg_start": [round(x, 2) for x in os.getloadavg()],
              "uptime_start": _uptime(), "targets": TARGETS, "scenarios": []}
    base = Path(tempfile.mkdtemp(prefix="mods-bench-load-"))
    with open(base / "sample.tsv", "wb") as fh:
        fh.write(payload)
    env = dict(kv.split("=", 1) for kv in args.server_env)
    result["server_env"] = env
    result["payload"] = args.payload
    result["client"] = args.client
    result["warmup_s"] = args.warmup
    server = Server(base, base / "sample.tsv", args.workers, args.train_workers, env=env)
    training = None
    try:
        server.wait_ready()
        predict = make_request("predict", payload if args.payload == "same"
                               else sliding_payloads(payload))
        meta = make_request("metadata", payload)
        with new_session(args.client, server.url) as session:  # warm workers and caches
            for _ in range(3 * args.workers):
                ok, detail = predict(session)
                if not ok:
                    raise RuntimeError("warm-up predict failed: %s" % detail)
        for mode in args.modes:
            if mode == "training":
                training = Training(server.url)
                training.start()
            for clients in args.clients:
                for kind, request, duration in (("baseline", meta, args.baseline_duration),
                                                ("predict", predict, args.duration)):
                    row = {"mode": mode, "kind": kind,
                           "loadavg": [round(x, 2) for x in os.getloadavg()]}
                    row.update(load(request, clients, duration, args.client, server.url,
                                    warmup=args.warmup,
                                    snapshot=lambda: cpu_snapshot(server.proc.pid)))
                    before, after = row.pop("snapshots")
                    row["cpu"] = cpu_usage(before, after, row["duration_s"], row["requests"])
                    if training is not None:
                        row["training_running"] = training.running()
                    result["scenarios"].append(row)
                    _print_row(row)
            if training is not None:
                training.cancel()
                training = None
    finally:
        if training is not None:
            training.cancel()
        server.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["uptime_end"] = _uptime()
    _ratios(result)
    return result


def _uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:  # pragma: no cover
        return None


def _ratios(result):
    """``predict / baseline`` medians and percentiles per (mode, clients), and the verdicts."""
    rows = {(r["mode"], r["kind"], r["clients"]): r for r in result["scenarios"]}
    for (mode, kind, clients), row in rows.items():
        base = rows.get((mode, "baseline", clients))
        if kind == "predict" and base and base["p50_ms"]:
            row["ratio_vs_baseline"] = {
                k: round(row[k] / base[k], 2) for k in ("p50_ms", "p90_ms", "p99_ms")
                if row[k] and base[k]}
    single = rows.get(("idle", "predict", 1))
    busy = rows.get(("training", "predict", 20))
    result["verdict"] = {
        "failures": sum(r["failures"] for r in result["scenarios"]),
        "single_idle_p50_ms": single and single["p50_ms"],
        "single_idle_p50_ok": bool(single and single["p50_ms"] <= TARGETS["single_idle_p50_ms"]),
        "clients20_training_p99_ms": busy and busy["p99_ms"],
        "clients20_training_p99_ok": bool(
            busy and busy["p99_ms"] <= TARGETS["clients20_training_p99_ms"]),
    }


def _print_row(row):
    print("%-9s %-9s %3d clients  %6d req  %7.2f req/s  p50 %8.1f  p90 %8.1f  p99 %8.1f ms  "
          "failures %d%s" % (row["mode"], row["kind"], row["clients"], row["requests"],
                             row["rps"], row["p50_ms"] or 0, row["p90_ms"] or 0,
                             row["p99_ms"] or 0, row["failures"],
                             "" if row.get("training_running", True)
                             else "  (training ended!)"), flush=True)
    if row.get("warmup_requests"):
        print("          warm-up (first %gs, not above): %d req, max %.1f ms; p99 with them "
              "%.1f ms" % (row["warmup_s"], row["warmup_requests"], row["warmup_max_ms"] or 0,
                           row["p99_with_warmup_ms"] or 0), flush=True)
    cpu = row.get("cpu")
    if cpu and row["kind"] == "predict":
        per = cpu.get("ms_per_request", {})
        cores = cpu["cores"]
        print("          cpu ms/request: prediction %.1f, launcher %.1f, clients %.1f | cores: "
              "prediction %.2f, launcher %.2f, training %.2f, clients %.2f, steal %.2f"
              % (per.get("prediction", 0), per.get("launcher", 0), per.get("clients", 0),
                 cores["prediction"], cores["launcher"], cores["training"], cores["clients"],
                 cores["steal"]), flush=True)


def print_table(result):
    print()
    print("mode      clients  predict p50/p90/p99 ms        req/s  fail  | baseline p50/p99 ms"
          "   | ratio p50/p99 | p99 with warm-up")
    for row in result["scenarios"]:
        if row["kind"] != "predict":
            continue
        base = next((r for r in result["scenarios"] if r["kind"] == "baseline"
                     and r["mode"] == row["mode"] and r["clients"] == row["clients"]), None)
        ratio = row.get("ratio_vs_baseline", {})
        print("%-9s %7d  %7.1f %7.1f %7.1f  %9.2f %5d  | %7.1f %7.1f     | %6.1f %6.1f  | %7.1f"
              % (row["mode"], row["clients"], row["p50_ms"], row["p90_ms"], row["p99_ms"],
                 row["rps"], row["failures"], base["p50_ms"] if base else 0,
                 base["p99_ms"] if base else 0, ratio.get("p50_ms", 0), ratio.get("p99_ms", 0),
                 row.get("p99_with_warmup_ms") or 0))
    print("verdict:", json.dumps(result["verdict"]))
    print("load average: start %s, end %s" % (result["loadavg_start"], result["loadavg_end"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds per predict scenario (default 60)")
    parser.add_argument("--baseline-duration", type=float, default=10.0,
                        help="seconds per baseline (metadata) scenario (default 10)")
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 20], help="comma-separated client counts (default 1,20)")
    parser.add_argument("--modes", type=lambda s: s.split(","), default=["idle", "training"],
                        help="idle,training (default both)")
    parser.add_argument("--workers", type=int, default=2,
                        help="mods-serve --workers (prediction processes, default 2)")
    parser.add_argument("--train-workers", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--payload", choices=["same", "sliding"], default="same",
                        help="same: the whole sample in every request; sliding: 4,000 rows "
                        "of it, one row later than the previous request (recent "
                        "observations re-sent with a new row)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds at the start of each scenario left out of the latency "
                        "figures (reported apart; default 3)")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="http",
                        help="load generator: http (http.client, keep-alive, lean: the "
                        "default) or requests (requests.Session, ~4 ms more CPU per "
                        "request on the server's cores)")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                        help="environment of the service, e.g. MODS_HORIZON_MEMO=0 (repeat)")
    args = parser.parse_args(argv)
    result = run_bench(args)
    print_table(result)
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fuzz the running ``mods-serve`` against its own Swagger 2.0 contract with schemathesis.

Runs in the fuzzing virtual environment (``.venv-fuzz``, see ``requirements-fuzz.txt``):
schemathesis is not installed next to DEEPaaS's pinned runtime, it talks to the service over
HTTP only.  Without ``--url`` the script starts ``mods-serve`` itself (``--server-python``,
default ``.venv/bin/python``) on a free port, with its own models/data/tmp folders and small
training caps (``MODS_MAX_EPOCHS=2``, ``MODS_MAX_TRAIN_SECONDS=60``), so that the trainings
the fuzzer starts stay short.

For every operation of ``/swagger.json`` it generates ``--examples`` valid (positive) and as
many invalid (negative) requests with a fixed ``--seed`` and checks each answer:

* no 5xx (``server_error``);
* the request is answered within ``--request-timeout`` seconds (``hung``);
* every 4xx answer is JSON with a ``message`` (``bad_rejection``), except aiohttp's own
  plain-text 400 for requests that are not valid HTTP (control characters in a header),
  which no application code sees: those are counted as ``parser_rejections``.

At the end it waits for every training the fuzzer started to leave ``running``.  Prints a JSON
summary (requests, failures by kind, duration) and exits 1 when anything failed.

Examples
--------
``.venv-fuzz/bin/python bench/fuzz_api.py --examples 80 --seed 1``
"""

import argparse
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(python, env_overrides):
    """Start ``mods-serve`` with throw-away folders; yield its base URL."""
    import requests

    base = Path(tempfile.mkdtemp(prefix="mods-fuzz-"))
    for name in ("models", "data", "tmp"):
        (base / name).mkdir()
    shutil.copyfile(PROJECT_DIR / "models" / "default.zip", base / "models" / "default.zip")
    shutil.copyfile(PROJECT_DIR / "data" / "sample-w01h-s10m.tsv",
                    base / "data" / "sample-w01h-s10m.tsv")
    port = _free_port()
    env = dict(os.environ, MODS_MODELS_DIR=str(base / "models"),
               MODS_DATA_DIR=str(base / "data"), TMPDIR=str(base / "tmp"),
               TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1",
               MODS_MAX_EPOCHS="2", MODS_MAX_TRAIN_SECONDS="60")
    env.update(env_overrides)
    log = open(base / "server.log", "wb")
    proc = subprocess.Popen([python, "-m", "mods.serve", "--listen-ip", "127.0.0.1",
                             "--listen-port", str(port), "--workers", "1",
                             "--train-workers", "1"], cwd=str(PROJECT_DIR), env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise SystemExit("mods-serve exited (%s); log: %s" % (proc.returncode,
                                                                      base / "server.log"))
            try:
                if requests.get(url + "/v2/models/", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("mods-serve did not start; log: %s" % (base / "server.log"))
            time.sleep(0.5)
        yield url, base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _invalid_http(headers):
    """Whether the request's headers are not valid HTTP (RFC 9110 token names, no control
    characters in values): aiohttp's parser answers those with a plain-text 400 before any
    application code runs."""
    for name, value in (headers or {}).items():
        if not _TOKEN.match(str(name)):
            return True
        if any((ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F for ch in str(value)):
            return True
    return False


def _judge(headers, response):
    """Failure kind of one answer (``"parser_rejection"`` is not a failure), or ``None``."""
    status = response.status_code
    if status >= 500:
        return "server_error"
    if status == 400 and _invalid_http(headers) and not response.headers.get(
            "Content-Type", "").startswith("application/json"):
        return "parser_rejection"
    if 400 <= status < 500:
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if not (isinstance(doc, dict) and doc.get("message")):
            return "bad_rejection"
    return None


# Bodies that do not parse as what their Content-Type says (schemathesis only builds ones that
# do): each must get a JSON 4xx, never a 500 or no answer.
MALFORMED_BODIES = (
    ("multipart/form-data", b"--xx\r\ngarbage"),  # no boundary parameter
    ("multipart/form-data; boundary=xx", b"\x00\xff garbage"),  # boundary never comes
    ("multipart/form-data; boundary=xx", b"--xx\r\nContent-Disposition: form-data; "
     b"name=\"data\"; filename=\"a.tsv\"\r\n\r\nconn_in\n1\n"),  # cut before its end
    ("multipart/form-data; boundary=xx", b"--xx\r\n\r\nno headers\r\n--xx--\r\n"),
    ("application/x-www-form-urlencoded", b"\xff\xfe=%zz&&=&model_name=%00"),
    ("application/json", b"{not json"),
    ("text/tab-separated-values", b"conn_in\tconn_out\n1\t2\n"),
)


def malformed_bodies(session, url, method, request_timeout):
    """Send :data:`MALFORMED_BODIES` to one operation; yield ``(failure kind or None,
    detail)`` per request (``model_name``/``data_file`` in the query, so that a training
    route that missed the body's problem would start a training)."""
    import requests

    for content_type, body in MALFORMED_BODIES:
        headers = {"Content-Type": content_type}
        try:
            response = session.request(method, url, data=body, headers=headers,
                                       params={"model_name": "fuzz-raw",
                                               "data_file": "small.tsv"},
                                       timeout=request_timeout)
        except requests.Timeout:
            yield "hung", "%s %s (%s): no answer" % (method, url, content_type)
            continue
        except requests.ConnectionError as exc:
            yield "connection", str(exc)[:200]
            continue
        kind = _judge(headers, response)
        yield kind, "%s %s (%s): %s %s" % (method, url, content_type, response.status_code,
                                            response.text[:300])


def fuzz(url, examples, seed, request_timeout, derandomize=True):
    """Run schemathesis on every operation; return the summary dict."""
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis.errors import Unsatisfiable
    from schemathesis import DataGenerationMethod
    from schemathesis.exceptions import SkipTest

    schema = schemathesis.from_uri(url + "/swagger.json", base_url=url)
    session = requests.Session()
    counts = collections.Counter()
    per_op = collections.Counter()
    statuses = collections.Counter()
    failures = []
    train_uuids = []
    skipped = []

    for result in schema.get_all_operations():
        operation = result.ok()
        methods = [DataGenerationMethod.positive]
        if any(p.location != "path" for p in operation.iter_parameters()):
            # any text is a valid {uuid} path segment: schemathesis spends minutes failing to
            # build a negative case for operations that have only path parameters
            methods.append(DataGenerationMethod.negative)
        for method in methods:
            strategy = operation.as_strategy(data_generation_method=method)

            @hseed(seed)
            @settings(max_examples=examples, deadline=None, database=None,
                      derandomize=derandomize, phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
            @given(case=strategy)
            def run(case):
                counts["requests"] += 1
                per_op["%s %s" % (case.method.upper(), case.operation.path)] += 1
                try:
                    response = case.call(session=session, timeout=request_timeout)
                except requests.Timeout:
                    kind, detail = "hung", "no answer within %ss" % request_timeout
                except requests.ConnectionError as exc:
                    kind, detail = "connection", str(exc)[:200]
                else:
                    statuses[response.status_code] += 1
                    kind = _judge(case.headers, response)
                    detail = "%s %s" % (response.status_code, response.text[:300])
                    if (response.status_code == 200 and case.method.upper() in ("POST", "PUT")
                            and "/train" in case.operation.path):
                        with contextlib.suppress(ValueError, AttributeError):
                            train_uuids.append(response.json()["uuid"])
                if kind == "parser_rejection":
                    counts[kind] += 1
                elif kind:
                    counts[kind] += 1
                    if len(failures) < 50:
                        failures.append({"kind": kind, "detail": detail,
                                         "curl": case.as_curl_command()[:1000]})

            try:
                run()
            except (SkipTest, Unsatisfiable) as exc:
                # no negative case for an operation without parameters, or none that
                # schemathesis can build for this one
                skipped.append("%s %s %s: %s" % (operation.method.upper(), operation.path,
                                                 method.name, type(exc).__name__))
            print("fuzz: %s %s %s done (%d requests so far)"
                  % (operation.method.upper(), operation.path, method.name,
                     counts["requests"]), file=sys.stderr, flush=True)

    for method, path in sorted({(op.ok().method.upper(), op.ok().path)
                                for op in schema.get_all_operations()
                                if op.ok().method.upper() in ("POST", "PUT")}):
        for kind, detail in malformed_bodies(session, url + path, method, request_timeout):
            counts["requests"] += 1
            per_op["%s %s" % (method, path)] += 1
            if kind:
                counts[kind] += 1
                if len(failures) < 50:
                    failures.append({"kind": kind, "detail": detail})
        print("fuzz: %s %s malformed bodies done (%d requests so far)"
              % (method, path, counts["requests"]), file=sys.stderr, flush=True)

    stuck = _wait_trainings(session, url, train_uuids)
    counts["stuck_trainings"] = len(stuck)
    return {"requests": counts["requests"],
            "server_errors": counts["server_error"], "hung": counts["hung"],
            "bad_rejections": counts["bad_rejection"],
            "connection_errors": counts["connection"], "stuck_trainings": stuck,
            "parser_rejections": counts["parser_rejection"],
            "trainings_started": len(train_uuids), "statuses": dict(sorted(statuses.items())),
            "per_operation": dict(per_op), "skipped": skipped, "failures": failures}


def _wait_trainings(session, url, uuids, timeout=300):
    """uuids of the fuzzer's trainings still ``running`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pending = list(uuids)
    while pending and time.monotonic() < deadline:
        still = []
        for uuid_ in pending:
            try:
                doc = session.get(url + "/v2/models/mods/train/" + uuid_, timeout=30).json()
            except Exception:  # noqa: BLE001 - counted as still running
                still.append(uuid_)
                continue
            if isinstance(doc, dict) and doc.get("status") == "running":
                still.append(uuid_)
        pending = still
        if pending:
            time.sleep(1)
    return pending


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="fuzz this running service instead of starting one")
    parser.add_argument("--server-python", default=str(PROJECT_DIR / ".venv" / "bin" /
                                                       "python"))
    parser.add_argument("--examples", type=int, default=80,
                        help="examples per operation and generation method")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--random", action="store_true",
                        help="do not derandomize (the seed still applies)")
    parser.add_argument("--output", help="also write the JSON summary to this file")
    args = parser.parse_args(argv)

    t0 = time.monotonic()
    if args.url:
        summary = fuzz(args.url.rstrip("/"), args.examples, args.seed, args.request_timeout,
                       not args.random)
    else:
        with serve(args.server_python, {}) as (url, _base):
            summary = fuzz(url, args.examples, args.seed, args.request_timeout,
                           not args.random)
    summary["duration_s"] = round(time.monotonic() - t0, 1)
    summary["seed"], summary["examples"] = args.seed, args.examples
    text = json.dumps(summary, indent=1)
    print(text)
    if args.output:
        Path(args.output).write_text(text)
    bad = (summary["server_errors"] + summary["hung"] + summary["bad_rejections"]
           + summary["connection_errors"] + len(summary["stuck_trainings"]))
    print("fuzz: %d requests, %d server errors, %d hung, %d bad rejections, %d stuck "
          "trainings, %.0f s" % (summary["requests"], summary["server_errors"], summary["hung"],
                                 summary["bad_rejections"], len(summary["stuck_trainings"]),
                                 summary["duration_s"]), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

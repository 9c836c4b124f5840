"""Sources (followed file with rotation, TCP, pipe) and the webhook, with real files,
sockets and a real local HTTP server."""

import http.server
import json
import os
import socket
import threading
import time

import pytest

from mods.errors import ConfigError, DataError
from mods.stream import sources
from mods.stream.webhook import Webhook


def read_until(source, n, timeout=10):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        lines = source.read(0.05)
        if lines is None:
            break
        got += lines
    return got


def test_file_follow_survives_rotation_and_truncation(tmp_path):
    path = tmp_path / "rows.tsv"
    path.write_text("h\n1\n2")  # last line not complete yet
    src = sources.FileSource(path, follow=True)
    first = read_until(src, 2)
    assert [line for _, line in first] == ["h", "1"]
    with open(path, "a") as fh:
        fh.write("\n3\n")
    assert [line for _, line in read_until(src, 2)] == ["2", "3"]
    os.rename(path, tmp_path / "rows.tsv.1")  # rotation: the old file gets one more line
    with open(tmp_path / "rows.tsv.1", "a") as fh:
        fh.write("4\n")
    path.write_text("h\n5\n")
    got = read_until(src, 3)
    assert [line for _, line in got] == ["4", "h", "5"]
    assert got[0][0] != got[1][0]  # a new origin: its header is read again
    path.write_text("h\n")  # truncation
    assert [line for _, line in read_until(src, 1)] == ["h"]
    assert src.read(0.05) == []  # following: no end
    src.close()


def test_file_from_end_reads_header_then_new_rows(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("h\n1\n2\n")
    src = sources.FileSource(path, follow=True, from_end=True)
    with open(path, "a") as fh:
        fh.write("3\n")
    assert [line for _, line in read_until(src, 2)] == ["h", "3"]
    src.close()
    plain = sources.FileSource(path)
    assert [line for _, line in read_until(plain, 10)] == ["h", "1", "2", "3"]
    assert plain.read(0.01) is None
    with pytest.raises(DataError):
        sources.FileSource(tmp_path / "missing.tsv")


def test_tcp_source_reads_several_clients():
    src = sources.TcpListenSource("127.0.0.1", 0)
    a = socket.create_connection(src.address)
    b = socket.create_connection(src.address)
    a.sendall(b"h\n1\n2")
    b.sendall(b"h\n9\n")
    a.close()
    got = read_until(src, 7)
    by_origin = {}
    for origin, line in got:
        by_origin.setdefault(origin, []).append(line)
    assert sorted(by_origin.values()) == [["h", "1", "2", None], ["h", "9"]]
    b.close()
    src.close()


def test_pipe_source(tmp_path):
    r, w = os.pipe()
    src = sources.FdSource(r)
    os.write(w, b"a\nb")
    assert [line for _, line in src.read(1)] == ["a"]
    os.close(w)
    assert [line for _, line in read_until(src, 1)] == ["b"]
    assert src.read(0.01) is None
    os.close(r)


@pytest.mark.parametrize("spec", ["udp://h:1", "tcp://host", "tcp://:80", "tcp://h:x"])
def test_bad_input_urls(spec):
    with pytest.raises(ConfigError):
        sources.parse_input(spec)


class Hook(http.server.BaseHTTPRequestHandler):
    """Records POSTed JSON; answers 503 to the first ``fail_first`` requests."""

    received, fail_first = [], 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        if cls.fail_first > 0:
            cls.fail_first -= 1
            self.send_response(503)
        else:
            cls.received.append(body)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def hook_server():
    Hook.received, Hook.fail_first = [], 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/alerts" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_webhook_retries_with_backoff(hook_server):
    Hook.fail_first = 2
    hook = Webhook(hook_server, retries=3, backoff=0.05)
    hook.post({"n": 1})
    hook.post({"n": 2})
    hook.close(grace=5)
    assert Hook.received == [{"n": 1}, {"n": 2}]
    assert (hook.sent, hook.failed) == (2, 0)


def test_unreachable_webhook_never_blocks():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    hook = Webhook("http://127.0.0.1:%d/x" % port, retries=2, backoff=0.02, timeout=0.5)
    t0 = time.monotonic()
    for i in range(50):
        hook.post({"n": i})
    # posting only queues: 50 blocking posts would take 50 x 2 x 0.5 s at least
    assert time.monotonic() - t0 < 5.0
    hook.close(grace=0.5)
    assert hook.sent == 0 and hook.failed >= 1
    with pytest.raises(ConfigError):
        Webhook("ftp://x/y")

"""mods-serve stops at once on SIGTERM, even when its whole process group is signalled."""

import os
import signal
import subprocess
import time

import pytest
import requests

from tests.conftest import running_server

pytestmark = pytest.mark.slow


def _children(pid):
    out = subprocess.run(["pgrep", "-s", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split() if int(p) != pid]


@pytest.mark.parametrize("whole_group", [True, False])
def test_sigterm_stops_server_and_workers(tmp_path, whole_group):
    with running_server(tmp_path) as srv:
        ok = requests.post(srv.url + "/models/mods/predict",
                           files={"data": ("x.tsv", b"a\tb\n1\t2\n")}, timeout=60)
        assert ok.status_code == 400
        good = requests.post(srv.url + "/models/mods/predict", timeout=60, files={
            "data": ("x.tsv", (srv.data_dir / srv.data_file).read_bytes())})
        assert good.status_code == 200  # a prediction worker (and its queues) in use
        pid = srv.proc.pid
        if whole_group:
            os.killpg(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
        srv.proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _children(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _children(pid) == []
        # the pools' semaphores were released: no warning from the resource tracker
        assert "leaked semaphore" not in srv.log_tail(200), srv.log_tail(200)

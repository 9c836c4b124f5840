"""No uploaded temporary file is left behind after 1,000 requests, good and bad.

Against the session ``server`` (the real ``mods-serve``, its own ``TMPDIR``): 1,000
requests from 4 client threads, in a seeded random order: predictions of small good files
(JSON and TSV answers, both routes), bad uploads (empty, binary, ragged, too few rows,
unknown columns or model, bad ``accept``), requests the client abandons before the answer,
good and failing trainings.  Afterwards, once the trainings are over, the server's TMPDIR
holds no upload (DEEPaaS's ``tmp*`` files for predictions, ``mods-upload-*`` for
trainings) and no MODS temporary folder.
"""

import collections
import io
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mods.dataset.generate import generate
from mods.dataset.io import write_table

pytestmark = pytest.mark.slow

N_REQUESTS = 1000
TSV = "text/tab-separated-values"


def _tsv(n_rows, seed):
    buf = io.StringIO()
    write_table(generate(n_rows=n_rows, seed=seed), buf)
    return buf.getvalue().encode()


GOOD = _tsv(60, seed=3)
TRAIN = _tsv(200, seed=4)
RAGGED = (b"window_start\tconn_in\tconn_out\n2019-06-01T00:00:00Z\t1\n"
          b"2019-06-01T00:10:00Z\t1\t2\t3\n")
# (weight, name, method, path, params, file bytes or None, headers, expected status or None)
PREDICT = "/models/mods/predict"
CASES = [
    (14, "good-json", "POST", PREDICT, {}, GOOD, {}, 200),
    (4, "good-tsv", "POST", PREDICT, {}, GOOD, {"accept": TSV}, 200),
    (4, "good-v2", "POST", "/v2/models/mods/predict/", {}, GOOD, {}, 200),
    (5, "empty", "POST", PREDICT, {}, b"", {}, 400),
    (5, "binary", "POST", PREDICT, {}, bytes(range(256)) * 8, {}, 400),
    (5, "ragged", "POST", PREDICT, {}, RAGGED, {}, 400),
    (5, "few-rows", "POST", PREDICT, {}, GOOD[:400], {}, 400),
    (4, "bad-columns", "POST", PREDICT, {"columns": "nope"}, GOOD, {}, 400),
    (4, "bad-model", "POST", PREDICT, {"model_name": "nosuch"}, GOOD, {}, 400),
    (3, "bad-name", "POST", PREDICT, {"model_name": "../x"}, GOOD, {}, 400),
    (3, "bad-accept", "POST", PREDICT, {}, GOOD, {"accept": "text/html"}, 406),
    (2, "no-file", "POST", PREDICT, {}, None, {}, 400),
    (4, "abandoned", "POST", PREDICT, {}, GOOD, {}, None),  # client gives up at once
]
TRAINS = [
    ("train-good", {"model_name": "tmpcheck", "num_epochs": 1, "blocks": 2}, TRAIN, 200),
    ("train-bad-data", {"model_name": "tmpbad", "num_epochs": 1}, b"\0\1\2" * 50, 200),
    ("train-bad-arg", {"model_name": "tmpbad", "model_type": "nosuch"}, TRAIN, 400),
]


def _leftovers(folder):
    return sorted(e for e in os.listdir(folder)
                  if os.path.isfile(os.path.join(folder, e)) or e.startswith("mods-"))


def _do(url, case):
    name, method, path, params, data, headers, expected = case
    files = {"data": ("obs.tsv", data, TSV)} if data is not None else None
    timeout = (10, 0.02) if name == "abandoned" else 120
    try:
        resp = requests.request(method, url + path, params=params, files=files,
                                headers=headers, timeout=timeout)
    except requests.Timeout:
        return name, "abandoned", None
    return name, resp.status_code, resp


def test_no_upload_left_after_1000_requests(server):
    rng = random.Random(1000)
    weights = [c[0] for c in CASES]
    plan = [c[1:] for c in rng.choices(CASES, weights=weights, k=N_REQUESTS - 2 * len(TRAINS))]
    for name, params, data, expected in TRAINS * 2:
        plan.insert(rng.randrange(len(plan)),
                    (name, "PUT", "/models/mods/train", params, data, {}, expected))
    assert len(plan) == N_REQUESTS
    t0 = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda case: _do(server.url, case), plan))
    elapsed = time.monotonic() - t0
    counts = collections.Counter((name, code) for name, code, _ in results)
    by_name = {case[0]: case[-1] for case in plan}
    for (name, code), n in sorted(counts.items(), key=str):
        expected = by_name[name]
        if expected is not None:
            resp = next(r for nm, c, r in results if nm == name and c == code)
            assert code == expected, (name, code, n, resp.text[:300])
    train_ids = [resp.json()["uuid"] for name, code, resp in results
                 if name.startswith("train") and code == 200]
    assert len(train_ids) == 4
    # wait for the trainings (good and failing) to end, and for abandoned predictions
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        states = [requests.get(server.url + "/v2/models/mods/train/" + uuid,
                               timeout=60).json()["status"] for uuid in train_ids]
        if "running" not in states and not _leftovers(server.tmpdir):
            break
        time.sleep(0.5)
    assert "running" not in states, states
    assert sorted(states) == ["done", "done", "error", "error"], states
    assert _leftovers(server.tmpdir) == [], (sorted(os.listdir(server.tmpdir)),
                                             server.log_tail())
    print("1000 requests in %.1f s: %s" % (elapsed, dict(sorted(counts.items(), key=str))))

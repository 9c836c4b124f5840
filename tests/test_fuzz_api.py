"""What the schemathesis run (``make fuzz``, bench/fuzz_api.py) found, kept as regressions.

Each test replays, over HTTP against the real ``mods-serve`` (the session ``server``), a kind
of request the fuzzer generated that used to be answered outside the contract "every
rejection is a 4xx with a JSON message".
"""

import pytest
import requests

pytestmark = pytest.mark.slow

TIMEOUT = 60


def assert_json_error(resp, status, *fragments):
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = resp.json()
    assert doc["status"] == "error" and doc["code"] == status
    for fragment in fragments:
        assert fragment in doc["message"], doc["message"]
    return doc


@pytest.mark.parametrize("path", ["/v2/models/mods/train/", "/models/mods/predict"])
def test_multipart_part_without_headers_is_400_not_500(server, path):
    """A multipart body whose part has no headers: aiohttp raised ``InvalidHeader`` from the
    argument parser, which became a 500."""
    boundary = "790522fc4fc2d171e63b2f1acd576b29"
    body = ("--%s\r\n[]--%s--\r\n" % (boundary, boundary)).encode()
    resp = requests.post(server.url + path, params={"model_name": "m"}, data=body,
                         headers={"Content-Type": "multipart/form-data; boundary=" + boundary},
                         timeout=TIMEOUT)
    assert_json_error(resp, 400, "malformed request")


def test_unknown_training_is_json_404(server):
    """DEEPaaS answers ``GET /v2/models/mods/train/{unknown}`` with a plain-text 404."""
    resp = requests.get(server.url + "/v2/models/mods/train/0", timeout=TIMEOUT)
    assert_json_error(resp, 404, "not found", "/v2/models/mods/train/0")


def test_unknown_route_is_json_404(server):
    resp = requests.get(server.url + "/v2/models/nope/", timeout=TIMEOUT)
    assert_json_error(resp, 404, "not found")


def test_wrong_method_is_json_405_with_allow(server):
    resp = requests.patch(server.url + "/models/mods/predict", timeout=TIMEOUT)
    assert_json_error(resp, 405, "method not allowed")
    assert "POST" in resp.headers["Allow"]

#!/usr/bin/env bash
# Test the MODS image (built by `make docker`).  Usage: docker/docker-test.sh [IMAGE]
#  1. plain run (`docker run -p 5000:5000 IMAGE`): POST the sample .tsv to /models/mods/predict,
#     check the forecasts of the default model; a bad upload gets HTTP 400;
#  2. hardened run: `--read-only --tmpfs /tmp` with fresh, empty named volumes on the models and
#     data folders, default user: checks `id -u` is not 0, the shipped default model was seeded
#     into the empty volume and predicts, a 1-epoch training over HTTP (PUT /models/mods/train,
#     small upload, poll GET /v2/models/mods/train/{uuid}) ends "done" and its bundle is in the
#     models volume, and nothing was written outside /tmp and the volumes.
set -euo pipefail
IMAGE=${1:-mods}
PORT=${DOCKER_TEST_PORT:-5000}
URL="http://127.0.0.1:$PORT"
cd "$(dirname "$0")/.."
name=mods-test-$$
vol_models=mods-test-models-$$
vol_data=mods-test-data-$$
tmpdir=$(mktemp -d)
out=$tmpdir/out
cleanup() {
  docker stop -t 5 "$name" >/dev/null 2>&1 || true
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker volume rm -f "$vol_models" "$vol_data" >/dev/null 2>&1 || true
  rm -rf "$tmpdir"
}
trap cleanup EXIT
fail() { echo "docker-test: FAILED: $*" >&2; docker logs "$name" 2>&1 | tail -40 >&2 || true; exit 1; }

start() {  # start [docker run options...]: run the image as $name, wait for the service
  docker run -d --name "$name" -p "$PORT:5000" "$@" "$IMAGE" >/dev/null
  echo "docker-test: started $name ($*), waiting for the service"
  for _ in $(seq 1 120); do
    if curl -sf "$URL/v2/models/" >/dev/null 2>&1; then return 0; fi
    [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || fail "container exited"
    sleep 1
  done
  fail "service did not answer on $URL within 120 s"
}

stop() { docker stop -t 5 "$name" >/dev/null; docker rm -f "$name" >/dev/null 2>&1 || true; }

predict_check() {  # POST the sample, check the default model's forecasts
  local code
  code=$(curl -s -o "$out" -w '%{http_code}' -X POST "$URL/models/mods/predict" \
    -F "data=@data/sample-w01h-s10m.tsv")
  python3 - "$out" "$code" <<'PY' || fail "predict"
import json, math, sys
path, code = sys.argv[1], sys.argv[2]
doc = json.load(open(path))
assert code == "200", (code, doc)
assert doc["model_name"] == "default", doc.get("model_name")
nxt = doc["next"]["values"]
assert set(nxt) == set(doc["columns"]) and doc["columns"], doc["columns"]
assert all(v is not None and math.isfinite(v) for vals in nxt.values() for v in vals), nxt
assert len(doc["forecasts"]) > 4000, len(doc["forecasts"])
ratio = doc["evaluation"]["mae_ratio_vs_naive"]
print("docker-test: OK %d forecasts, next %s, MAE ratio vs naive %.3f, %d alert events"
      % (len(doc["forecasts"]), {k: round(v[0]) for k, v in nxt.items()}, ratio,
         len(doc["anomaly"]["events"])))
PY
}

# 1. plain run, as in the README
start --rm
predict_check
code=$(curl -s -o "$out" -w '%{http_code}' -X POST "$URL/models/mods/predict" -F "data=@README.md")
[ "$code" = "400" ] || fail "bad file gave HTTP $code, expected 400: $(cat "$out")"
echo "docker-test: bad upload answered 400: $(cat "$out")"
docker stop -t 5 "$name" >/dev/null

# 2. hardened run: read-only root, tmpfs /tmp, fresh volumes, the image's (non-root) user
docker volume create "$vol_models" >/dev/null
docker volume create "$vol_data" >/dev/null
start --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
  -v "$vol_models:/srv/mods/models" -v "$vol_data:/srv/mods/data"
uid=$(docker exec "$name" id -u)
[ "$uid" != 0 ] || fail "the container runs as root"
echo "docker-test: container user: $(docker exec "$name" id)"
docker exec "$name" sh -c 'touch /opt/mods/x 2>/dev/null' && fail "root filesystem is writable"
predict_check

head -n 721 data/sample-w01h-s10m.tsv >"$tmpdir/small.tsv"   # 720 rows: 5 days of 10 min
code=$(curl -s -o "$out" -w '%{http_code}' -X PUT \
  "$URL/models/mods/train?model_name=ro-test&num_epochs=1" -F "data=@$tmpdir/small.tsv")
[ "$code" = 200 ] || fail "train answered HTTP $code: $(cat "$out")"
uuid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["uuid"])' "$out")
echo "docker-test: training $uuid submitted"
status=running
for _ in $(seq 1 240); do
  curl -sf -o "$out" "$URL/v2/models/mods/train/$uuid" || fail "GET train/$uuid"
  status=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$out")
  [ "$status" = running ] || [ "$status" = pending ] || break
  sleep 1
done
[ "$status" = done ] || fail "training ended '$status': $(cat "$out")"
echo "docker-test: training done: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["result"]["output"]; print({k: r[k] for k in ("model_name", "bundle", "epochs_run")})' "$out")"

# What the volume holds, seen from another (read-only) container.
listing=$(docker run --rm --read-only --entrypoint /bin/ls -v "$vol_models:/v:ro" "$IMAGE" -A /v)
echo "docker-test: models volume: $(echo "$listing" | tr '\n' ' ')"
echo "$listing" | grep -qx default.zip || fail "default.zip not seeded into the empty models volume"
echo "$listing" | grep -qx ro-test.zip || fail "ro-test.zip not in the models volume"
changes=$(docker diff "$name")
[ -z "$changes" ] || fail "writes outside /tmp and the volumes: $changes"
if docker logs "$name" 2>&1 | grep -iE "read-only file system|not writable|cannot write"; then
  fail "the service tried to write outside /tmp and the volumes (see above)"
fi
stop
echo "docker-test: OK read-only container (uid $uid): predict, 1-epoch training, bundle in the volume"

#!/usr/bin/env bash
# Run the MODS image on port 5000, POST the sample .tsv to /models/mods/predict, check the
# forecasts, stop the container.  Usage: docker/docker-test.sh [IMAGE]
set -euo pipefail
IMAGE=${1:-mods}
PORT=${DOCKER_TEST_PORT:-5000}
cd "$(dirname "$0")/.."
name=mods-test-$$
cid=$(docker run -d --rm --name "$name" -p "$PORT:5000" "$IMAGE")
trap 'docker stop -t 5 "$name" >/dev/null 2>&1 || true' EXIT
echo "docker-test: started $cid, waiting for the service"
for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$PORT/v2/models/" >/dev/null 2>&1; then break; fi
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/v2/models/" >/dev/null || { docker logs "$name" | tail -40; exit 1; }
out=$(mktemp)
code=$(curl -s -o "$out" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/models/mods/predict" \
  -F "data=@data/sample-w01h-s10m.tsv")
python3 - "$out" "$code" <<'PY'
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
code=$(curl -s -o "$out" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/models/mods/predict" \
  -F "data=@README.md")
[ "$code" = "400" ] || { echo "docker-test: bad file gave HTTP $code, expected 400"; cat "$out"; exit 1; }
echo "docker-test: bad upload answered 400: $(cat "$out")"

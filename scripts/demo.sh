#!/usr/bin/env bash
# make demo: start genesys-sim on a free loopback port, run the consumer (`invoke`) on every
# sample event in events/, print one outcome line per event, stop the simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-target/debug}
workdir=$(mktemp -d)
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$workdir"
}
trap cleanup EXIT

"$bin/genesys-sim" --listen 127.0.0.1:0 --data events/sim/interactions.json \
  --url-file "$workdir/url" >"$workdir/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 100); do
  [ -s "$workdir/url" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$workdir/sim.log" >&2; exit 1; }
  sleep 0.05
done
[ -s "$workdir/url" ] || { echo "genesys-sim did not start" >&2; cat "$workdir/sim.log" >&2; exit 1; }
url=$(cat "$workdir/url")
echo "# genesys-sim at $url; running the consumer on events/*.json" >&2

GENESYS_CLOUD_BASE_URL="$url" \
GENESYS_CLOUD_CLIENT_ID=demo-client \
GENESYS_CLOUD_CLIENT_SECRET=demo-secret \
DISPOSITION_CODE_ID=3c2f9a7e-5d1b-4e8f-9a6c-2b7d4e1f0a99 \
  "$bin/genesys-eventbridge" invoke --trace-tree $(printf -- '--events %s ' events/[0-9]*.json)

echo "# writes (dispositions and wrap-ups) the simulator received, per interaction or conversation/participant:" >&2
curl -fsS "$url/sim/patches" >&2 2>/dev/null && echo >&2 || true

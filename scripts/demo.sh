#!/usr/bin/env bash
# make demo, in four acts, each against its own genesys-sim on a free loopback port:
# 1. the consumer (`invoke`) on every sample event in events/, one outcome line per event;
# 2. the bridge following a queue: a call is queued and ends, the bridge publishes its events to
#    the simulator's EventBridge stand-in, and the consumer wraps the call up from them;
# 3. a wrap-up policy (examples/wrapup-policy.json): `doctor` checks it, then three calls with
#    their whole event sequences: Sales and Billing get their own codes, VIP is skipped, and the
#    simulator counts the Genesys requests they cost;
# 4. reconcile: a call ended while the rule was off (no event reached the consumer); reconcile
#    finds it with the analytics API and publishes its user.end, the consumer wraps it up.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-target/debug}
workdir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$workdir"
}
trap cleanup EXIT

# start_sim NAME [ARGS...]: starts genesys-sim with the demo data; its URL in $url.
start_sim() {
  local name=$1; shift
  "$bin/genesys-sim" --listen 127.0.0.1:0 --data events/sim/interactions.json \
    --url-file "$workdir/$name.url" "$@" >"$workdir/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    [ -s "$workdir/$name.url" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$workdir/$name.log" >&2; exit 1; }
    sleep 0.05
  done
  [ -s "$workdir/$name.url" ] || { echo "genesys-sim did not start" >&2; exit 1; }
  url=$(cat "$workdir/$name.url")
}

# wait_for WHAT COMMAND...: runs COMMAND until it succeeds (10 s at most).
wait_for() {
  local what=$1; shift
  for _ in $(seq 1 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "timed out waiting for $what" >&2; exit 1
}

export GENESYS_CLOUD_CLIENT_ID=demo-client GENESYS_CLOUD_CLIENT_SECRET=demo-secret
export DISPOSITION_CODE_ID=3c2f9a7e-5d1b-4e8f-9a6c-2b7d4e1f0a99

start_sim act1
echo "# act 1: genesys-sim at $url; running the consumer on events/*.json" >&2
GENESYS_CLOUD_BASE_URL="$url" \
  "$bin/genesys-eventbridge" invoke --trace-tree $(printf -- '--events %s ' events/[0-9]*.json)
echo "# writes (dispositions and wrap-ups) the simulator received, per interaction or conversation/participant:" >&2
curl -fsS "$url/sim/patches" >&2 2>/dev/null && echo >&2 || true

queue=c0ffee00-1111-4222-8333-444455556666
call=9b1f0c2e-4d3a-4b5c-8e7f-00000000c001
start_sim act2 --heartbeat-ms 1000
echo >&2
echo "# act 2: genesys-sim at $url; the bridge follows queue $queue and publishes to the simulator's EventBridge stand-in" >&2
GENESYS_CLOUD_BASE_URL="$url" AWS_ENDPOINT_URL_EVENTBRIDGE="$url" AWS_REGION=eu-west-1 \
AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
  "$bin/genesys-eventbridge" bridge --bus demo --follow-queue "$queue" --spool "$workdir/spool" \
  --heartbeat-seconds 1 >"$workdir/bridge.out" 2>"$workdir/bridge.err" &
bridge=$!
pids+=($bridge)
wait_for "the bridge's channel" sh -c "curl -fsS $url/sim/notifications/channels | grep -q '\"connected\":true'"
echo "bridge: subscribed to v2.routing.queues.$queue.conversations.calls" >&2
publish() { curl -fsS -X POST "$url/sim/notifications/publish" -H 'content-type: application/json' -d "$1" >/dev/null; }
publish "{\"topicName\":\"v2.routing.queues.$queue.conversations.calls\",\"eventBody\":{\"id\":\"$call\",\"participants\":[]}}"
echo "genesys: call $call queued on $queue" >&2
wait_for "the call's topics" sh -c "curl -fsS $url/sim/notifications/channels | grep -q '\"topics\":4'"
echo "bridge: subscribed to the call's user.end, customer.end and acw" >&2
body='"conversationId":"'$call'","sessionId":"s-c001-p001","mediaType":"VOICE","provider":"Edge","direction":"INBOUND","queueId":"'$queue'","disconnectType":"CLIENT"'
publish "{\"topicName\":\"v2.detail.events.conversation.$call.user.end\",\"eventBody\":{\"eventTime\":1795428125000,\"participantId\":\"7a2e9c41-agnt-4c5d-9e8f-00000000p001\",\"userId\":\"5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716\",$body}}"
publish "{\"topicName\":\"v2.detail.events.conversation.$call.customer.end\",\"eventBody\":{\"eventTime\":1795428126000,\"participantId\":\"7a2e9c41-cust-4c5d-9e8f-00000000p001\",$body}}"
echo "genesys: the call ended (user.end, customer.end)" >&2
wait_for "two published events" sh -c "[ \$(grep -c '\"outcome\":\"published\"' $workdir/bridge.out) -ge 2 ]"
kill -TERM "$bridge"; wait "$bridge" || true
sed 's/^/bridge: /' "$workdir/bridge.out" >&2
echo "consumer: on the events the bus received" >&2
curl -fsS "$url/sim/eventbridge/events" >"$workdir/bus-events.json"
GENESYS_CLOUD_BASE_URL="$url" "$bin/genesys-eventbridge" invoke --events "$workdir/bus-events.json"
echo "# writes the simulator received:" >&2
curl -fsS "$url/sim/patches" >&2 2>/dev/null && echo >&2 || true

start_sim act3
echo >&2
echo "# act 3: genesys-sim at $url; WRAPUP_POLICY_FILE=examples/wrapup-policy.json (Sales and Billing: their own codes; VIP: skip)" >&2
export WRAPUP_POLICY_FILE=examples/wrapup-policy.json
GENESYS_CLOUD_BASE_URL="$url" "$bin/genesys-eventbridge" doctor >&2
curl -fsS -X DELETE "$url/sim/requests"
echo "# three calls, each user.end, customer.end and acw without a code:" >&2
GENESYS_CLOUD_BASE_URL="$url" "$bin/genesys-eventbridge" invoke --events events/policy/calls.json
echo "# every Genesys request the nine events cost (the queue facts are read once per queue and instance):" >&2
curl -fsS "$url/sim/requests/stats" >&2 && echo >&2
echo "# the wrap-ups the simulator applied:" >&2
token=$(curl -fsS -u demo-client:demo-secret -d grant_type=client_credentials "$url/oauth/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
for call in 9b1f0c2e-4d3a-4b5c-8e7f-00000000c101 9b1f0c2e-4d3a-4b5c-8e7f-00000000c102 9b1f0c2e-4d3a-4b5c-8e7f-00000000c103; do
  curl -fsS "$url/api/v2/conversations/$call" -H "authorization: Bearer $token" \
    | sed -n 's/.*"queueId":"\([^"]*\)".*"wrapup":{"code":"\([^"]*\)".*/  call on queue \1: wrap-up \2/p; t; s/.*"queueId":"\([^"]*\)".*/  call on queue \1: no wrap-up/p' >&2
  echo >&2
done

start_sim act4
unset WRAPUP_POLICY_FILE
echo >&2
echo "# act 4: genesys-sim at $url; the rule was off while a call ended: reconcile finds it and publishes its user.end" >&2
lost=9b1f0c2e-4d3a-4b5c-8e7f-00000000c401
ago() { date -u -d "-$1 minutes" +%Y-%m-%dT%H:%M:%S.000Z; }
curl -fsS -X PUT "$url/sim/conversations/$lost" -H 'content-type: application/json' -d '{"participants":[
  {"id":"7a2e9c41-cust-4c5d-9e8f-00000000p401","purpose":"customer","startTime":"'"$(ago 40)"'","connectedTime":"'"$(ago 40)"'","endTime":"'"$(ago 30)"'",
   "calls":[{"id":"c401-cust-call","state":"disconnected"}]},
  {"id":"7a2e9c41-agnt-4c5d-9e8f-00000000p401","purpose":"agent","queueId":"'"$queue"'","userId":"5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716",
   "startTime":"'"$(ago 40)"'","connectedTime":"'"$(ago 40)"'","endTime":"'"$(ago 30)"'","wrapupRequired":true,
   "calls":[{"id":"c401-agent-call","state":"disconnected","afterCallWork":{"state":"complete"}}]}]}'
echo "genesys: call $lost ended 30 minutes ago on $queue; no event of it reached the consumer" >&2
GENESYS_CLOUD_BASE_URL="$url" AWS_ENDPOINT_URL_EVENTBRIDGE="$url" AWS_REGION=eu-west-1 \
AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
  "$bin/genesys-eventbridge" reconcile --since 2h --queue "$queue" --bus demo
echo "consumer: on the event reconcile published" >&2
curl -fsS "$url/sim/eventbridge/events" >"$workdir/reconciled.json"
GENESYS_CLOUD_BASE_URL="$url" "$bin/genesys-eventbridge" invoke --events "$workdir/reconciled.json"
echo "# reconcile again: the call is wrapped up, nothing to publish" >&2
GENESYS_CLOUD_BASE_URL="$url" AWS_ENDPOINT_URL_EVENTBRIDGE="$url" AWS_REGION=eu-west-1 \
AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
  "$bin/genesys-eventbridge" reconcile --since 2h --queue "$queue" --bus demo

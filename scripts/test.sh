#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this).
#
# 1. builds once (every test, every binary, one feature set) and checks
#    formatting and clippy, while scripts/setup.sh installs the tools the
#    later stages need in the background;
# 2. runs the DynamoDB store and sync tests against AWS's DynamoDB Local;
# 3. runs every test of the workspace against the embedded engines;
# 4. fuzzes the parsers briefly (scripts/fuzz.sh), runs schemathesis
#    against the API's served OpenAPI document on the local stack
#    (scripts/schemathesis.sh), and clicks through the staff pages in
#    headless Chromium (scripts/web-test.sh);
# 5. checks the SAM template (sam validate --lint, cfn-lint, sam validate)
#    and the SAM-generated events, and builds the release bootstraps with
#    `sam build` (x86_64);
# 6. runs those bootstraps under the real Lambda runtime loop (cargo
#    lambda watch), then under `sam local` in Docker (scripts/sam-local.sh).
#
# Prints each stage's wall time at the end, also when a stage fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
export CARGO_TERM_COLOR=never

times=()
stage_name=""
stage_start=$SECONDS
stage() {
  if [ -n "$stage_name" ]; then
    local took=$((SECONDS - stage_start))
    times+=("$(printf '%-60s %3dm %02ds' "$stage_name" $((took / 60)) $((took % 60)))")
  fi
  stage_name=$1
  stage_start=$SECONDS
  if [ -n "$1" ]; then echo "== $1"; fi
}
pids=()
finish() {
  local status=$?
  stage ""
  for pid in "${pids[@]}"; do stop "$pid"; done
  echo "== stage times (exit $status)"
  printf '  %s\n' "${times[@]}"
  printf '  %-60s %3dm %02ds\n' "total" $((SECONDS / 60)) $((SECONDS % 60))
}
trap finish EXIT

setup_log=$(mktemp)
scripts/setup.sh >"$setup_log" 2>&1 &
setup=$!
pids+=($setup)

stage "build and lint (fmt, clippy, one build of every test and binary)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The binaries with the tests' feature set, so the scripts that run them
# (the local stack, csv-gen) compile nothing more.
cargo build --workspace --bins --tests --quiet
cargo nextest run --workspace --no-run --cargo-quiet

stage "tools (scripts/setup.sh, in the background since the start)"
wait $setup || { cat "$setup_log"; exit 1; }
tail -1 "$setup_log"

stage "DynamoDB Local (the reference engine)"
ddb_port=$(free_port)
ddb_log=$(mktemp)
# The script execs java: the id started is DynamoDB Local's own.
DYNAMODB_LOCAL_PORT=$ddb_port scripts/dynamodb-local.sh >"$ddb_log" 2>&1 &
ddb=$!
pids+=($ddb)
wait_up "DynamoDB Local" "$ddb" 120 tcp_open "$ddb_port" || { cat "$ddb_log"; exit 1; }
# --workspace with a filter, not -p: the same feature set as the build
# above, so nothing is compiled twice.
DYNAMODB_ENDPOINT=http://127.0.0.1:$ddb_port cargo nextest run --workspace \
  -E 'binary(=store) | binary(=daily_sync)' \
  --no-fail-fast --cargo-quiet --status-level fail --final-status-level fail
stop "$ddb"

stage "all tests, embedded engines"
cargo nextest run --workspace --no-fail-fast --cargo-quiet --status-level fail --final-status-level fail

stage "fuzzing, 4 targets x 30 s, two at a time"
scripts/fuzz.sh 30

stage "schemathesis against the served OpenAPI document (120 s)"
scripts/schemathesis.sh 120

stage "the staff pages in headless Chromium (target/web-screenshots)"
scripts/web-test.sh

stage "template checks and sam build"
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
# arm64, is what `sam build` builds where it has one). Cargo.toml's release
# profile, as deployed: the sizes and cold starts the next stage prints
# are the deployed binaries'.
sam build --parameter-overrides Architecture=x86_64 >.aws-sam-build.log 2>&1 ||
  { tail -50 .aws-sam-build.log; exit 1; }
tail -1 .aws-sam-build.log

stage "the release bootstraps under the real Lambda runtime loop"
cargo nextest run --workspace -E 'binary(=lambda_loop)' --run-ignored only \
  --no-fail-fast --cargo-quiet --success-output immediate --status-level fail --final-status-level fail

stage "the release bootstraps under sam local, in Docker"
scripts/sam-local.sh
stage ""

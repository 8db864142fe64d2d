#!/usr/bin/env bash
# Regenerates the Lambda event files the tests read, with the SAM CLI's own
# `sam local generate-event`, so they are the shapes AWS sends:
#
#   scripts/sam-events.sh            write tests/events/*.json
#   scripts/sam-events.sh --check    fail if a committed file differs
#
# The SAM CLI comes from PyPI into .tools/ (scripts/tools.sh).
# tests/events/scheduler-event.json is not SAM's: it is what template.yaml's
# EventBridge Scheduler target sends.
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true
sam="$(scripts/tools.sh)/sam"
out=tests/events
check=false
if [ "${1:-}" = --check ]; then check=true; out=$(mktemp -d); fi

"$sam" local generate-event apigateway http-api-proxy --method GET --path v1/import-logs \
  --body '' --dns-suffix ap-northeast-1.amazonaws.com >"$out/http-api-proxy.json"
"$sam" local generate-event s3 put --bucket webhr-uploads-local \
  --key 'uploads/376550000A/名單 2015.csv' --region ap-northeast-1 >"$out/s3-put.json"
"$sam" local generate-event cloudwatch scheduled-event >"$out/scheduled-event.json"

if $check; then
  for f in http-api-proxy s3-put scheduled-event; do
    diff -u "tests/events/$f.json" "$out/$f.json" || { echo "tests/events/$f.json is not what SAM generates"; exit 1; }
  done
  echo "tests/events: as the SAM CLI generates them"
fi

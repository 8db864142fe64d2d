#!/usr/bin/env bash
# The staff pages clicked through in headless Chromium against the local
# stack (tests/web/flows.mjs): sign-in, the import log, downloads, an
# upload followed to its end, a person's records, keyboard and a narrow
# screen. Screenshots of every step go to target/web-screenshots/.
#
# Chromium and the Noto CJK fonts are Debian's (apt-get, when missing); playwright-core comes from
# npm into tests/web/node_modules (never `npx playwright install`).
set -euo pipefail
cd "$(dirname "$0")/.."
# Chromium, and CJK fonts so the screenshots show the Chinese pages.
if ! command -v chromium >/dev/null || ! fc-list :lang=zh-tw | grep -q .; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi
(cd tests/web && npm ci --no-audit --no-fund --silent)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
data=$(mktemp -d)
export LOCAL_DATA_DIR=$data LOCAL_DYNAMODB_PORT=$(free_port) LOCAL_PORTAL_PORT=$(free_port) \
  LOCAL_S3_PORT=$(free_port) LOCAL_API_PORT=$(free_port)
cargo build --quiet -p local-stack -p portal-sim
target/debug/local-stack --serve --per-day 5 >"$data/stack.log" 2>&1 &
stack=$!
trap 'kill $stack 2>/dev/null || true; rm -rf "$data"' EXIT
base=http://127.0.0.1:$LOCAL_API_PORT
for _ in $(seq 1 600); do
  if curl -sf -o /dev/null "$base/v1/openapi.json"; then break; fi
  if ! kill -0 $stack 2>/dev/null; then cat "$data/stack.log"; echo "the local stack did not start"; exit 1; fi
  sleep 1
done
target/debug/csv-gen 200 "$data/名單.csv" >/dev/null
# One row the import must refuse (its ID's check digit replaced), so the
# page has a rejection report to offer.
sed -n 2p "$data/名單.csv" | sed 's/^\(.........\)./\1X/' >>"$data/名單.csv"
out=$PWD/target/web-screenshots
rm -rf "$out" && mkdir -p "$out"
BASE=$base STAFF_TOKEN=$(target/debug/local-stack token --agency 376550000A) CSV="$data/名單.csv" \
  OUT=$out CHROMIUM=$(command -v chromium) node tests/web/flows.mjs

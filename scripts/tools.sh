#!/usr/bin/env bash
# Installs a pinned set of Python tools from PyPI into a venv of its own
# under .tools/, once per pinned set, and prints the venv's bin folder (to
# put first on PATH):
#
#   scripts/tools.sh               the SAM CLI and cfn-lint (template checks,
#                                  `sam build`, `sam local`, generated events),
#                                  cargo-lambda and zig (building the functions
#                                  for Lambda; `cargo lambda watch`)
#   scripts/tools.sh schemathesis  schemathesis (scripts/schemathesis.sh)
#   scripts/tools.sh peer          boto3 (the CSV benchmark's peer importer,
#                                  tests/benches/peer_import.py)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-sam}" in
  sam) venv=.tools/py want="aws-sam-cli==1.170.0 cfn-lint==1.58.0 cargo-lambda==1.9.2 ziglang==0.17.1" ;;
  schemathesis) venv=.tools/st want="schemathesis==4.32.5" ;;
  peer) venv=.tools/peer want="boto3==1.43.108" ;;
  *) echo "scripts/tools.sh: no tool set '$1' (sam, schemathesis, peer)" >&2; exit 2 ;;
esac
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want >&2
  echo "$want" >"$venv/.installed"
fi
echo "$PWD/$venv/bin"

#!/usr/bin/env bash
# Installs the tools the checks need into .tools/py (a Python venv) from
# PyPI, once per pinned set: the SAM CLI and cfn-lint (template checks,
# `sam build`, generated events), cargo-lambda and zig (building the
# functions for Lambda, and `cargo lambda watch`, the Lambda runtime API).
# Prints the venv's bin folder, to put first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/py
want="aws-sam-cli==1.170.0 cfn-lint==1.58.0 cargo-lambda==1.9.2 ziglang==0.17.1"
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want >&2
  echo "$want" >"$venv/.installed"
fi
echo "$PWD/$venv/bin"

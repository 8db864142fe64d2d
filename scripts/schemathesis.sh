#!/usr/bin/env bash
# Schemathesis (PyPI, pinned, into .tools/st by scripts/tools.sh) against the OpenAPI document
# the API serves, on the local stack: every operation, generated valid and
# invalid requests with a staff token, for a bounded time.
#   scripts/schemathesis.sh [SECONDS] (default 300)
#
# Checks: no 5xx; status codes, content types, headers and bodies as the
# document says; invalid requests refused; no answer without a token.
# Left out: positive_data_acceptance. The document cannot say everything
# the server checks (a national ID's check digit, a real calendar date, a
# ROC year), so a "schema-valid" ID or date can still be refused, rightly.
# One worker: this machine's Python 3.11.7 has a CPython bug (gh-106905)
# that makes parallel workers fail with "AST constructor recursion depth
# mismatch" inside Hypothesis.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
st="$(scripts/tools.sh schemathesis)/st"

# shellcheck source=scripts/serve-local-stack.sh
. scripts/serve-local-stack.sh
status=0
"$st" run "$api/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,ignored_auth,missing_required_header,unsupported_method \
  --max-time "$seconds" --workers 1 --seed 2026 --no-color >"$data/st.log" 2>&1 || status=$?
sed -n '/SUMMARY/,$p' "$data/st.log"
if [ $status -ne 0 ]; then
  sed -n '/FAILURES\|ERRORS/,/SUMMARY/p' "$data/st.log" | head -200
  echo "-- the local stack's last lines"
  tail -30 "$data/stack.log"
fi
generated=$(grep -o '[0-9]* generated' "$data/st.log" | tail -1 || true)
echo "SCHEMATHESIS | ${seconds}s | ${generated:-? generated} | exit $status"
exit $status

#!/usr/bin/env bash
# A long run of the fault, kill and fuzz tests (not in CI):
#   scripts/soak.sh [MINUTES]     MINUTES of fuzzing per target (default and least 10)
#
# The reliability tests run SOAK_SCALE times longer than in CI (15: ~240
# nights of DynamoDB faults under the sync, 480 nights of portal faults,
# 60 imports with 120 SIGKILLs), then each fuzz target runs MINUTES. It
# checks the run reached what it is for — at least 100 kills of an
# import, at least 1,000 injected DynamoDB faults, 10 minutes of fuzzing
# per target, nothing lost or counted twice — and prints the FAULTS and
# FUZZ lines the reliability table in docs/design.md is made of.
#
#   scripts/soak.sh --year        a year of operation (tests/year.rs) at full size
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--year" ]; then
  export YEAR_NIGHTS=${YEAR_NIGHTS:-366} YEAR_AGENCIES=${YEAR_AGENCIES:-50} \
    YEAR_PER_DAY=${YEAR_PER_DAY:-60} YEAR_UPLOADS=${YEAR_UPLOADS:-0.6} YEAR_WCU=${YEAR_WCU:-600}
  mkdir -p target
  # --workspace with a filter, not -p: the test build's feature set.
  status=0
  cargo nextest run --workspace -E 'binary(=year)' --cargo-quiet --no-capture \
    >target/year.log 2>&1 || status=$?
  grep -E '^year:|summary:|panicked|mismatches:' target/year.log || true
  [ "$status" -eq 0 ] || { tail -40 target/year.log; exit "$status"; }
  exit 0
fi
minutes=${1:-10}
if [ "$minutes" -lt 10 ]; then
  echo "soak: at least 10 minutes of fuzzing per target" >&2
  exit 2
fi
export SOAK_SCALE=${SOAK_SCALE:-15} HTTPS_PROXY=http://127.0.0.1:9
log=target/soak.log
mkdir -p target
started=$(date +%s)

echo "== fault and kill tests, ${SOAK_SCALE}× (output: $log)"
# --workspace with a filter, not -p: the feature set of the test build,
# so nothing is compiled again.
cargo nextest run --workspace -E 'binary(=reliability)' --no-fail-fast --cargo-quiet \
  --success-output immediate --failure-output immediate --test-threads 1 >"$log" 2>&1 ||
  { grep -E 'FAULTS|FAIL|panicked' "$log" | tail -40; exit 1; }
grep -o 'FAULTS |.*' "$log"

echo "== fuzzing, $minutes minutes per target"
scripts/fuzz.sh $((minutes * 60)) | tee -a "$log"

# What the run had to reach, read off its own lines.
kills=$(grep -o '[0-9]* SIGKILLs' "$log" | grep -o '^[0-9]*')
faults=$(grep 'FAULTS | DynamoDB' "$log" | grep -o '[0-9]* faulty calls' | grep -o '^[0-9]*' | awk '{ s += $1 } END { print s + 0 }')
lost=$(grep -o 'lost [0-9]*' "$log" | grep -o '[0-9]*$' | awk '{ s += $1 } END { print s + 0 }')
twice=$(grep -o 'duplicated [0-9]*' "$log" | grep -o '[0-9]*$' | awk '{ s += $1 } END { print s + 0 }')
echo "SOAK | $((($(date +%s) - started) / 60)) min | $kills kills | $faults DynamoDB faults | fuzzing ${minutes} min × 4 | lost $lost | duplicated $twice"
[ "$kills" -ge 100 ] || { echo "soak: only $kills kills"; exit 1; }
[ "$faults" -ge 1000 ] || { echo "soak: only $faults DynamoDB faults"; exit 1; }
[ "$lost" -eq 0 ] && [ "$twice" -eq 0 ] || { echo "soak: records lost or duplicated"; exit 1; }

#!/usr/bin/env bash
# Fuzzes the parsers that read what staff and the portal send, each for a
# bounded time: scripts/fuzz.sh [SECONDS-PER-TARGET] (default 300), as many
# targets at once as there are cores; scripts/fuzz.sh --install only installs.
#
# Targets (fuzz/fuzz_targets): csv_decode, csv_rows, roc_date, national_id.
# cargo-fuzz comes from crates.io into .tools/cargo; libFuzzer with
# sanitizer coverage on the stable toolchain (no sanitizer: safe Rust).
# A working corpus grows in fuzz/corpus/<target> (seeded from the committed
# fuzz/seeds/<target>); a crash leaves its input in fuzz/artifacts/ and
# fails the script. Prints one FUZZ line per target.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
version=0.13.2
fuzz=$PWD/.tools/cargo/bin/cargo-fuzz
if [ "$("$fuzz" --version 2>/dev/null)" != "cargo-fuzz $version" ]; then
  cargo install --quiet --locked cargo-fuzz --version "$version" --root .tools/cargo
fi
[ "$seconds" = --install ] && exit 0
cd fuzz
"$fuzz" build -s none >build.log 2>&1 || { tail -30 build.log; exit 1; }
fuzz_one() {
  local target=$1 log
  mkdir -p "corpus/$target"
  log=$(mktemp)
  if ! "$fuzz" run -s none "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    echo "FUZZ | $target | FAILED (input kept in fuzz/artifacts/$target)"
    return 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
  echo "FUZZ | $target | ${seconds}s | $runs inputs | coverage $cov edges | no panic"
  rm -f "$log"
}
# As many targets at once as the machine has cores.
cores=$(nproc)
running=()
status=0
for target in csv_decode csv_rows roc_date national_id; do
  fuzz_one "$target" &
  running+=($!)
  if [ ${#running[@]} -ge "$cores" ]; then
    wait "${running[0]}" || status=1
    running=("${running[@]:1}")
  fi
done
for pid in "${running[@]}"; do wait "$pid" || status=1; done
exit $status

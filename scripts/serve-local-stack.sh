# Sourced by the scripts that test the served API (schemathesis.sh,
# web-test.sh): builds the local stack and starts `local-stack --serve` in
# the background on free ports with a data folder of its own, waits until
# the API answers, and stops it and removes the folder on exit. Sets
# $data (the folder), $api (the API's base URL) and $token (a staff token
# of agency 376550000A).

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
data=$(mktemp -d)
export LOCAL_DATA_DIR=$data LOCAL_DYNAMODB_PORT=$(free_port) LOCAL_PORTAL_PORT=$(free_port) \
  LOCAL_S3_PORT=$(free_port) LOCAL_API_PORT=$(free_port)
# The workspace's binaries (local-stack, csv-gen) with the feature set of
# the test build, which scripts/test.sh has made already: `-p local-stack`
# or `--bins` alone would recompile the SDK with a feature set of its own
# (minutes on two cores).
cargo build --quiet --workspace --bins --tests
target/debug/local-stack --serve --per-day 5 >"$data/stack.log" 2>&1 &
stack=$!
trap 'stop $stack; rm -rf "$data"' EXIT
api=http://127.0.0.1:$LOCAL_API_PORT
wait_up "the local stack" $stack 600 curl -sf -o /dev/null "$api/v1/openapi.json" ||
  { cat "$data/stack.log"; exit 1; }
token=$(target/debug/local-stack token --agency 376550000A)

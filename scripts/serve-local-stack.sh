# Sourced by the scripts that test the served API (schemathesis.sh,
# web-test.sh): builds the local stack and starts `local-stack --serve` in
# the background on free ports with a data folder of its own, waits until
# the API answers, and stops it and removes the folder on exit. Sets
# $data (the folder), $api (the API's base URL) and $token (a staff token
# of agency 376550000A).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
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
trap 'kill $stack 2>/dev/null || true; rm -rf "$data"' EXIT
api=http://127.0.0.1:$LOCAL_API_PORT
for _ in $(seq 1 600); do
  if curl -sf -o /dev/null "$api/v1/openapi.json"; then break; fi
  if ! kill -0 $stack 2>/dev/null; then cat "$data/stack.log"; echo "the local stack did not start"; exit 1; fi
  sleep 1
done
token=$(target/debug/local-stack token --agency 376550000A)

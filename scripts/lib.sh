# Sourced by the scripts: one way to find a free port, to wait until
# something answers, and to stop what a script started (by the id it
# started, never by name).

# A port on 127.0.0.1 nobody listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Whether something accepts connections on 127.0.0.1:PORT.
tcp_open() {
  (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null
}

# wait_up WHAT PID SECONDS CHECK...: runs CHECK every 0.2 s until it
# succeeds. Fails, naming WHAT, when process PID ends first (give "" for
# none) or after SECONDS.
wait_up() {
  local what=$1 pid=$2 seconds=$3
  shift 3
  local tries=$((seconds * 5))
  for _ in $(seq 1 "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "$what stopped before it answered" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "$what did not answer in $seconds s" >&2
  return 1
}

# stop PID [SECONDS]: asks process PID to end and waits for it (10 s by
# default); a process already gone is fine.
stop() {
  local pid=$1 seconds=${2:-10}
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 $((seconds * 5))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -9 "$pid" 2>/dev/null || true
}

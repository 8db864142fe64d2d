#!/usr/bin/env bash
# The release bootstraps under `sam local` (tests/sam_local.rs): invoke,
# start-lambda and start-api, in Docker containers with AWS's Runtime
# Interface Emulator from the SAM CLI's wheel.
#
# 1. installs Debian's docker.io and busybox-static when missing;
# 2. starts dockerd on a private socket for this run only (vfs storage, no
#    iptables: its bridge docker0 is a network of this machine alone) and
#    stops it and removes its data on exit, also on failure;
# 3. builds a stand-in for the Lambda base image from this machine's files
#    (no image can be pulled here): static busybox, the glibc the
#    bootstraps link, CA certificates;
# 4. builds the bootstraps with `sam build` unless .aws-sam/build has them
#    newer than every source;
# 5. runs the test, which serves the engines on 127.0.0.1 and to the
#    containers only on the bridge's address.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
tools=$(scripts/tools.sh)
export PATH="$tools:$PATH" SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true

scripts/debian.sh docker.io busybox-static

dir=$(mktemp -d /tmp/webhr-docker.XXXXXX)
export DOCKER_HOST=unix://$dir/docker.sock
stop_docker() {
  local pid
  pid=$(cat "$dir/pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    # Containers first (sam local leaves none when it ends well).
    docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1 || true
    stop "$pid"
  fi
  rm -rf "$dir"
}
trap stop_docker EXIT
dockerd --storage-driver=vfs --iptables=false --ip-masq=false \
  --data-root "$dir/root" --exec-root "$dir/exec" --host "$DOCKER_HOST" \
  --pidfile "$dir/pid" >"$dir/dockerd.log" 2>&1 &
wait_up dockerd "" 20 docker version || { tail -20 "$dir/dockerd.log"; exit 1; }
docker version --format 'dockerd {{.Server.Version}}'
bridge=$(ip -4 -o addr show docker0 | awk '{print $4}' | cut -d/ -f1)
[ -n "$bridge" ] || { echo "dockerd made no bridge"; exit 1; }

# The stand-in base image: SAM builds its emulator image on top of it
# (it needs /bin/sh, mv and chmod), and the bootstraps need glibc.
image=webhr-lambda-base:local
base=$dir/base
mkdir -p "$base"/{bin,lib64,lib/x86_64-linux-gnu,etc/ssl/certs,tmp,usr/bin}
chmod 1777 "$base/tmp"
cp /bin/busybox "$base/bin/"
for tool in sh mv chmod cp rm ls cat mkdir env; do ln -s busybox "$base/bin/$tool"; done
cp -L /lib64/ld-linux-x86-64.so.2 "$base/lib64/"
for lib in libc.so.6 libm.so.6 libgcc_s.so.1 libpthread.so.0 libdl.so.2 librt.so.1; do
  cp -L "/lib/x86_64-linux-gnu/$lib" "$base/lib/x86_64-linux-gnu/"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$base/etc/ssl/certs/"
tar -C "$base" -c . | docker import -c 'ENV PATH=/bin:/usr/bin' - "$image" >/dev/null
echo "stand-in base image $image: $(docker image inspect -f '{{.Size}}' "$image") bytes; bridge $bridge"

# Built again when any source is newer than the bootstraps: never a test
# of old binaries.
built=.aws-sam/build/ApiFunction/bootstrap
if ! [ -x "$built" ] ||
  [ -n "$(find functions Cargo.toml Cargo.lock template.yaml -newer "$built" -type f -print -quit)" ]; then
  sam build --parameter-overrides Architecture=x86_64 >.aws-sam-build.log 2>&1 ||
    { tail -50 .aws-sam-build.log; exit 1; }
fi

SAM_LOCAL_BIND=$bridge SAM_LOCAL_IMAGE=$image \
  cargo nextest run --workspace -E 'binary(=sam_local)' --run-ignored only \
  --no-fail-fast --cargo-quiet --success-output immediate --status-level fail --final-status-level fail

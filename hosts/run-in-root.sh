#!/bin/bash
# Usage: hosts/run-in-root.sh ROOT TIMEOUT_S CMD [ARGS...]
#
# Runs CMD inside ROOT (built by build-root.sh) in private mount + PID namespaces: mounts never
# leak to the host and every process started inside (Xvfb, plug-ins, workers, GIMP/Krita helpers)
# dies when CMD exits or times out. The environment is clean (env -i): pass variables as
# `env NAME=VALUE ... CMD`. Exit status: CMD's, 124 on timeout.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 ROOT TIMEOUT_S CMD [ARGS...]" >&2; exit 2; }
R=$(realpath "$1"); T=$2; shift 2
[ -x "$R/bin/sh" ] || { echo "run-in-root.sh: $R is not a built root (run hosts/build-root.sh)" >&2; exit 2; }
mkdir -p "$R/tmp/xdg-root"; chmod 700 "$R/tmp/xdg-root"
exec unshare --mount --pid --fork --propagation private -- /bin/bash -c '
  R=$1; T=$2; shift 2
  mount -t proc proc "$R/proc"; mount --rbind /dev "$R/dev"; mount -t sysfs sys "$R/sys"
  mount -t tmpfs -o size=1g tmpfs "$R/dev/shm" 2>/dev/null || true
  exec timeout -k 10 "$T" chroot "$R" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin \
       LANG=C.UTF-8 XDG_RUNTIME_DIR=/tmp/xdg-root "$@"' run-in-root "$R" "$T" "$@"

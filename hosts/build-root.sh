#!/bin/bash
# Build (once) an isolated Debian trixie root with GIMP 3.0 + Krita 5.2 + Python plug-in support.
#
# Usage: hosts/build-root.sh [ROOT]      (default ${BGONE_HOSTS_ROOT:-/var/tmp/bgone-hosts-root})
#
# Needs root, about 2 GB of disk and a Debian mirror (BGONE_DEBIAN_MIRROR, default deb.debian.org);
# installs `debootstrap` with apt-get when it is missing. The host's apt sources are not touched.
# Idempotent: ROOT/.bgone-root-stamp holds the hash of this recipe; a root with the same stamp is
# kept as it is, anything else (no stamp, older recipe, half-built) is rebuilt from scratch.
# The build goes to ROOT.partial and is renamed at the end, so an interrupted build never looks
# finished. Concurrent callers serialise on ROOT.lock.
set -euo pipefail
R=${1:-${BGONE_HOSTS_ROOT:-/var/tmp/bgone-hosts-root}}
R=$(realpath -m "$R")
MIRROR=${BGONE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
PACKAGES="gimp krita python3 python3-pyqt5 python3-venv python3-gi xvfb xauth ca-certificates"
STAMP_NAME=.bgone-root-stamp
# the recipe = this script (suite, packages, steps)
HASH=$( { cat "$0"; echo "$SUITE $PACKAGES"; } | sha256sum | cut -c1-16)

[ "$(id -u)" = 0 ] || { echo "build-root.sh: must run as root (debootstrap, chroot, namespaces)" >&2; exit 2; }
mkdir -p "$(dirname "$R")"
exec 9>"$R.lock"
flock 9

if [ -f "$R/$STAMP_NAME" ] && [ "$(cat "$R/$STAMP_NAME")" = "$HASH" ]; then
    echo "root up to date: $R (recipe $HASH)"
    exit 0
fi

start=$SECONDS
if ! command -v debootstrap >/dev/null; then
    apt-get install -y -q debootstrap || { apt-get update -q && apt-get install -y -q debootstrap; }
fi
P="$R.partial"
rm -rf --one-file-system "$P"
debootstrap --variant=minbase "$SUITE" "$P" "$MIRROR"
printf '#!/bin/sh\nexit 101\n' > "$P/usr/sbin/policy-rc.d"; chmod +x "$P/usr/sbin/policy-rc.d"  # no daemons
cp /etc/resolv.conf "$P/etc/resolv.conf"
# apt inside the root, in a private mount+pid namespace: nothing leaks if it fails
unshare --mount --pid --fork --propagation private -- /bin/bash -euc '
  P=$1; shift
  mount -t proc proc "$P/proc"; mount --rbind /dev "$P/dev"; mount -t sysfs sys "$P/sys"
  chroot "$P" apt-get update -q
  chroot "$P" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
  chroot "$P" apt-get clean' bash "$P" $PACKAGES
mkdir -p "$P/root/.config" "$P/job" "$P/tmp/xdg-root"
chmod 700 "$P/tmp/xdg-root"
echo "$HASH" > "$P/$STAMP_NAME"
if [ -e "$R" ]; then rm -rf --one-file-system "$R"; fi
mv "$P" "$R"
echo "root ready: $R ($(du -shx "$R" | cut -f1), recipe $HASH, $((SECONDS - start)) s)"

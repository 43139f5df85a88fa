#!/bin/bash
# Install this checkout's GIMP 3 plug-in into a root built by hosts/build-root.sh, the way the
# installer does: the plug-in folder, the core/bgone_client package copied whole into it, and
# bgone_config.json naming the core's Python (default /opt/bgone-venv/bin/python, see
# hosts/install-core.sh).
#
# Usage: hosts/install-gimp-plugin.sh ROOT [CORE_PYTHON]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 ROOT [CORE_PYTHON]" >&2; exit 2; }
R=$(realpath "$1"); PY=${2:-/opt/bgone-venv/bin/python}
REPO=$(dirname "$(dirname "$(realpath "$0")")")
NAME=bgone-remove-background
DEST="$R/root/.config/GIMP/3.0/plug-ins/$NAME"
rm -rf "$DEST"
install -D -m 755 "$REPO/gimp_plugin/$NAME/$NAME.py" "$DEST/$NAME.py"   # exec bit required
mkdir -p "$DEST/bgone_client"
install -m 644 "$REPO"/core/bgone_client/*.py "$DEST/bgone_client/"
printf '{"python": "%s", "version": "host-harness", "flatpak_spawn": false}\n' "$PY" > "$DEST/bgone_config.json"
echo "GIMP plug-in installed: ${DEST#"$R"}"

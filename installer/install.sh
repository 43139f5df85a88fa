#!/bin/sh
# bgone installer for Linux: finds a Python 3.10-3.13 and runs install.py with it.
# Usage: ./install.sh [--yes] [--dry-run] [--uninstall] [--model-file FILE] ...  (--help for all)
HERE=$(cd "$(dirname "$0")" && pwd)

ok() {  # is "$1" a runnable Python 3.10-3.13?
    "$1" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)' \
        >/dev/null 2>&1
}

PY=""
# An explicit --python PY is tried first.
prev=""
for a in "$@"; do
    case "$prev" in --python) [ -z "$PY" ] && ok "$a" && PY=$a ;; esac
    case "$a" in --python=*) v=${a#--python=}; [ -z "$PY" ] && ok "$v" && PY=$v ;; esac
    prev=$a
done
if [ -z "$PY" ]; then
    for name in python3.13 python3.12 python3.11 python3.10 python3 python; do
        if command -v "$name" >/dev/null 2>&1 && ok "$(command -v "$name")"; then
            PY=$(command -v "$name")
            break
        fi
    done
fi
if [ -z "$PY" ]; then
    cat >&2 <<'MSG'
bgone needs Python 3.10, 3.11, 3.12 or 3.13, and none was found.

Install it with your package manager, then run this installer again:
  Debian/Ubuntu:  sudo apt install python3 python3-venv
  Fedora:         sudo dnf install python3.12
  Arch:           sudo pacman -S python
  openSUSE:       sudo zypper install python312
If you have one in an unusual place:  ./install.sh --python /path/to/python3.12
MSG
    exit 2
fi
exec "$PY" "$HERE/install.py" "$@"

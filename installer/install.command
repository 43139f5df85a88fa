#!/bin/sh
# bgone installer for macOS: double-click this file (Finder opens it in Terminal).
# If macOS refuses to open it: right-click > Open, then Open again.
HERE=$(cd "$(dirname "$0")" && pwd)

ok() {
    "$1" -c 'import sys, struct; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) and struct.calcsize("P") == 8 else 1)' \
        >/dev/null 2>&1
}

finish() {
    status=$1
    if [ -z "$BGONE_NO_PAUSE" ]; then
        printf '\nPress Return to close this window.'
        read -r _ </dev/tty 2>/dev/null || true
    fi
    exit "$status"
}

PY=""
prev=""
for a in "$@"; do
    case "$prev" in --python) [ -z "$PY" ] && ok "$a" && PY=$a ;; esac
    prev=$a
done
if [ -z "$PY" ]; then
    for cand in python3.13 python3.12 python3.11 python3.10 \
        /Library/Frameworks/Python.framework/Versions/3.13/bin/python3.13 \
        /Library/Frameworks/Python.framework/Versions/3.12/bin/python3.12 \
        /Library/Frameworks/Python.framework/Versions/3.11/bin/python3.11 \
        /Library/Frameworks/Python.framework/Versions/3.10/bin/python3.10 \
        /opt/homebrew/bin/python3.13 /opt/homebrew/bin/python3.12 /opt/homebrew/bin/python3.11 \
        /opt/homebrew/bin/python3.10 /usr/local/bin/python3.12 /usr/local/bin/python3.11 \
        python3; do
        p=$(command -v "$cand" 2>/dev/null) || continue
        if ok "$p"; then PY=$p; break; fi
    done
fi
if [ -z "$PY" ]; then
    cat >&2 <<'MSG'
bgone needs Python 3.10, 3.11, 3.12 or 3.13, and none was found.
(The python3 that comes with macOS is too old.)

Install Python 3.12 from https://www.python.org/downloads/macos/
(or, with Homebrew: brew install python@3.12), then double-click this installer again.
MSG
    finish 2
fi
"$PY" "$HERE/install.py" "$@"
finish $?

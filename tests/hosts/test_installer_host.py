"""The installer, run inside the Debian trixie root (real GIMP 3.0 + Krita 5.2) the way a new user
would: a fresh HOME with no profiles yet, `sh installer/install.sh --yes`, a real venv with the
core pip-installed from this checkout (network to PyPI), the real u2netp imported by checksum
(--model-file, as on an offline machine), the self-test through the installed bgone_client.py.
Then real GIMP must find the plug-in where the installer put it, and --uninstall must take every
bgone file away again and leave the rest.

Runs only with BGONE_HOST_TESTS=1 (as root); with it set, anything missing FAILS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.hosts]

REPO = Path(__file__).resolve().parents[2]
SRC = "/opt/bgone-installer-src"  # inside the root
MODEL = "/opt/bgone-installer-model/u2netp.onnx"
HOME = "/home/bgone-newuser"
JOB = "/job/bgone_installer"
PROC = "plug-in-bgone-remove-background"
GIMP_PLUGIN = f"{HOME}/.config/GIMP/3.0/plug-ins/bgone-remove-background"
KRITA_PYKRITA = f"{HOME}/.local/share/krita/pykrita"

CHECK_GIMP = f"""
import json
from gi.repository import Gimp
proc = Gimp.get_pdb().lookup_procedure({PROC!r})
info = {{"found": proc is not None}}
with open({JOB + "/gimp.json"!r}, "w") as f:
    json.dump(info, f)
"""


def _pip_env(root) -> dict[str, str]:
    """The host's pip network settings, as hosts/install-core.sh passes them into the root."""
    env = {}
    ca = os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if ca and Path(ca).is_file():
        dest = root.host("/etc/ssl/bgone-host-ca.pem")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ca, dest)
        env["PIP_CERT"] = "/etc/ssl/bgone-host-ca.pem"
    for v in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_DEFAULT_TIMEOUT", "HTTP_PROXY", "HTTPS_PROXY",
              "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        val = os.environ.get(v, "")
        if val and not val.startswith("file:") and " file:" not in val:
            env[v] = val
    return env


def _copy_source(root) -> None:
    dest = root.host(SRC)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    excludes = ["./.venv", "./.cache", "./.git", "__pycache__", "./.pytest_cache", "./.ruff_cache",
                "./bench/out", "*.onnx", "*.part", "./dist", "./build"]
    tar = ["tar", "-C", str(REPO), *[f"--exclude={e}" for e in excludes], "-cf", "-", "."]
    with subprocess.Popen(tar, stdout=subprocess.PIPE) as p:
        subprocess.run(["tar", "-C", str(dest), "-xf", "-"], stdin=p.stdout, check=True)
    assert p.returncode == 0, "tar of the checkout failed"


def _tree(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*")} if path.exists() else set()


def test_installer_as_a_new_user(hostroot, u2netp_path):
    root = hostroot
    for exe in ("usr/bin/gimp-3.0", "usr/bin/krita", "usr/bin/python3"):
        assert root.host(exe).exists(), f"{exe} is missing from the root {root}"
    _copy_source(root)
    model = root.host(MODEL)
    model.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(u2netp_path, model)
    home = root.host(HOME)
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    job = root.host(JOB)
    if job.exists():
        shutil.rmtree(job)
    job.mkdir(parents=True)
    env = {"HOME": HOME, **_pip_env(root)}

    # 1. install, as a new user would (the launcher finds the root's python3)
    proc = root.run(["sh", f"{SRC}/installer/install.sh", "--yes", "--model-file", MODEL], env=env,
                    timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"installer failed ({proc.returncode}):\n{out[-6000:]}"
    assert "not started yet" in out, out[-4000:]  # GIMP and Krita installed, never run: folders created
    assert "passed (u2netp" in out, out[-4000:]

    venv_python = f"{HOME}/.local/share/bgone/venv/bin/python"
    assert os.path.lexists(root.host(venv_python))  # a symlink to the root's python3
    gimp_py = root.host(f"{GIMP_PLUGIN}/bgone-remove-background.py")
    assert gimp_py.stat().st_mode & 0o111, "the GIMP plug-in is not executable"
    assert root.host(f"{GIMP_PLUGIN}/bgone_client.py").read_bytes() == (REPO / "core/bgone/client.py").read_bytes()
    cfg = json.loads(root.host(f"{GIMP_PLUGIN}/bgone_config.json").read_text())
    assert cfg["python"] == venv_python and cfg["flatpak_spawn"] is False
    assert root.host(f"{KRITA_PYKRITA}/bgone_krita.desktop").is_file()
    assert root.host(f"{KRITA_PYKRITA}/bgone_krita/bgone_client.py").is_file()
    assert "enable_bgone_krita=true" in root.host(f"{HOME}/.config/kritarc").read_text()
    assert json.loads(root.host(f"{HOME}/.config/bgone/config.json").read_text())["python"] == venv_python

    # 2. real GIMP finds the plug-in in the profile the installer created
    (job / "check.py").write_text(CHECK_GIMP)
    proc = root.run(["gimp-console-3.0", "-i", "--batch-interpreter=python-fu-eval",
                     "-b", f"exec(open('{JOB}/check.py').read())", "--quit"],
                    env={"HOME": HOME}, timeout=300, network=False)
    report = job / "gimp.json"
    assert report.is_file(), f"no report from GIMP (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    info = json.loads(report.read_text())
    assert info["found"], f"GIMP did not register {PROC}:\n{proc.stderr[-3000:]}"

    # 3. uninstall: every bgone file goes, what GIMP wrote into its new profile stays
    # (plug-ins/ itself was made by the installer: it goes too, being empty then)
    gimp_own = {p for p in _tree(root.host(f"{HOME}/.config/GIMP/3.0")) if "bgone" not in p and p != "plug-ins"}
    proc = root.run(["python3", f"{SRC}/installer/install.py", "--uninstall", "--yes"], env={"HOME": HOME},
                    timeout=300, network=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    left = _tree(home)
    assert not [p for p in left if "bgone" in p], sorted(p for p in left if "bgone" in p)
    assert not root.host(f"{HOME}/.local/share/bgone").exists()
    assert not os.path.lexists(root.host(venv_python))
    kritarc = root.host(f"{HOME}/.config/kritarc")
    assert not kritarc.exists() or "bgone" not in kritarc.read_text()
    assert gimp_own <= _tree(root.host(f"{HOME}/.config/GIMP/3.0"))

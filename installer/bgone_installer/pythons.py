"""Finding a Python that bgone's engine can run on."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys

from . import MAX_PY, MIN_PY, PY_RANGE, InstallError
from .commands import clean_env
from .layout import Layout

PROBE = (
    "import sys, json, struct\n"
    "ok = True\n"
    "try:\n"
    "    import venv, ensurepip\n"
    "except Exception:\n"
    "    ok = False\n"
    "print(json.dumps({'version': list(sys.version_info[:3]), 'executable': sys.executable,"
    " 'bits': struct.calcsize('P') * 8, 'venv': ok}))\n"
)


def _py_text(v) -> str:
    return ".".join(str(x) for x in v)


def probe_python(argv: list[str]) -> dict | None:
    """Version, real path and venv support of an interpreter, or None if it does not run."""
    try:
        r = subprocess.run([*argv, "-c", PROBE], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL, env=clean_env())
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    try:
        info = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    info["argv"] = argv
    return info


def python_candidates(layout: Layout) -> list[list[str]]:
    cands: list[list[str]] = [[sys.executable]]
    versions = [f"3.{m}" for m in range(MAX_PY[1], MIN_PY[1] - 1, -1)]
    if layout.system == "windows":
        py = shutil.which("py")
        if py:
            cands += [[py, f"-{v}"] for v in versions]
    # newer ones too, only so that the message can say "too new" when that is all there is
    newer = [f"python3.{m}" for m in range(MAX_PY[1] + 2, MAX_PY[1], -1)]
    for name in [f"python{v}" for v in versions] + ["python3", "python"] + newer:
        found = shutil.which(name)
        if found:
            cands.append([found])
    if layout.system == "macos":
        for v in versions:
            for p in (f"/Library/Frameworks/Python.framework/Versions/{v}/bin/python{v}",
                      f"/opt/homebrew/bin/python{v}", f"/usr/local/bin/python{v}"):
                if os.path.isfile(p):
                    cands.append([p])
    out, seen = [], set()
    for c in cands:
        key = tuple(c)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _why_unsuitable(info: dict, need_venv: bool) -> str | None:
    v = tuple(info["version"][:2])
    if v < MIN_PY:
        return f"Python {_py_text(info['version'])} is too old"
    if v > MAX_PY:
        return (f"Python {_py_text(info['version'])} is too new (bgone's engine, onnxruntime, "
                f"supports {PY_RANGE})")
    if info.get("bits") != 64:
        return f"Python {_py_text(info['version'])} is 32-bit; bgone needs a 64-bit Python"
    if need_venv and not info.get("venv"):
        return (f"Python {_py_text(info['version'])} cannot create virtual environments "
                f"(Debian/Ubuntu: sudo apt install python3-venv)")
    return None


def no_python_hint(system: str) -> str:
    if system == "windows":
        return ("Install Python 3.12 from https://www.python.org/downloads/windows/ (tick \"Add "
                "python.exe to PATH\"), or from the Microsoft Store, then run the installer again.")
    if system == "macos":
        return ("Install Python 3.12 from https://www.python.org/downloads/macos/ (or `brew "
                "install python@3.12`), then run the installer again.")
    return ("Install Python 3.12 with your package manager, then run the installer again:\n"
            "  Debian/Ubuntu:  sudo apt install python3 python3-venv\n"
            "  Fedora:         sudo dnf install python3.12\n"
            "  Arch:           sudo pacman -S python\n"
            "  openSUSE:       sudo zypper install python312")


def find_python(layout: Layout, explicit: str | None, need_venv: bool) -> dict:
    """The interpreter to build bgone's venv from (or to use as is with --no-venv)."""
    cands = [[explicit]] if explicit else python_candidates(layout)
    rejected = []
    for argv in cands:
        info = probe_python(argv)
        if info is None:
            rejected.append(f"{shlex.join(argv)}: does not run")
            continue
        why = _why_unsuitable(info, need_venv)
        if why is None:
            return info
        rejected.append(f"{info['executable'] or shlex.join(argv)}: {why}")
    found = ("\n  Looked at:\n" + "\n".join("    " + r for r in rejected)) if rejected else ""
    if explicit:
        msg = f"The Python given with --python cannot be used.{found}"
    else:
        msg = f"No suitable Python was found: bgone needs Python {PY_RANGE} (64-bit).{found}"
    raise InstallError(msg, no_python_hint(layout.system), code=2)

#!/usr/bin/env python3
"""Write installer/requirements-lock.txt: the versions of bgone's libraries that the tests ran
with, each pinned with the sha256 of every file PyPI has for it, so that the installer can make
pip check them (hash-checking mode). For developers, after a change of dependencies:

    python3 installer/lock.py .venv/bin/python      # the Python the tests ran with

It asks that Python which versions it has, and PyPI for each version's files (one request per
package). The file's first line names the Python versions every pinned version has files for;
for any other Python the installer installs the newest versions that fit, and says so.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "requirements-lock.txt"
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
# In the tests' Python: bgone's runtime dependencies, all the way down, with their versions.
CLOSURE = (
    "import importlib.metadata as md, json\n"
    "from packaging.requirements import Requirement\n"
    "seen, todo = {}, [str(Requirement(r).name) for r in md.requires('bgone') or []\n"
    "                  if 'extra' not in str(Requirement(r).marker or '')]\n"
    "while todo:\n"
    "    name = todo.pop()\n"
    "    key = name.lower().replace('_', '-')\n"
    "    if key in seen:\n"
    "        continue\n"
    "    seen[key] = md.version(name)\n"
    "    for r in md.requires(name) or []:\n"
    "        req = Requirement(r)\n"
    "        if req.marker is None or req.marker.evaluate({'extra': ''}):\n"
    "            todo.append(req.name)\n"
    "print(json.dumps(seen))\n"
)


def _covers(files: list[dict], minor: int) -> bool:
    """Whether a wheel among ``files`` installs on CPython 3.``minor``."""
    for f in files:
        if f["packagetype"] != "bdist_wheel":
            continue
        tags = f["filename"][:-4].split("-")[-3:]  # python tag, abi tag, platform tag
        py, abi = tags[0].split("."), tags[1]
        if f"cp3{minor}" in py:
            return True
        if abi == "abi3" and any(t.startswith("cp3") and int(t[3:]) <= minor for t in py):
            return True
        if ("py3" in py or "py2.py3" in tags[0]) and _requires_ok(f.get("requires_python"), minor):
            return True
    return False


def _requires_ok(spec: str | None, minor: int) -> bool:
    m = re.search(r">=\s*3\.(\d+)", spec or "")
    return not m or int(m.group(1)) <= minor


def main(argv: list[str]) -> int:
    python = argv[0] if argv else str(HERE.parent / ".venv" / "bin" / "python")
    versions = json.loads(subprocess.run([python, "-c", CLOSURE], capture_output=True, text=True,
                                         check=True).stdout)
    lines, covered = [], set(PYTHONS)
    for name, version in sorted(versions.items()):
        url = f"https://pypi.org/pypi/{name}/json"
        with urllib.request.urlopen(url, timeout=120) as r:  # noqa: S310 (a fixed https URL)
            files = json.load(r)["releases"].get(version) or []
        if not files:
            raise SystemExit(f"PyPI has no files for {name}=={version}: was it installed from elsewhere?")
        ok = {v for v in PYTHONS if _covers(files, int(v.split(".")[1]))}
        covered &= ok
        print(f"{name}=={version}: {len(files)} files, Python {' '.join(sorted(ok)) or 'none'}")
        hashes = sorted(f["digests"]["sha256"] for f in files)
        lines.append(f"{name}=={version} \\\n" + " \\\n".join(f"    --hash=sha256:{h}" for h in hashes))
    head = (f"# python: {' '.join(sorted(covered))}\n"
            "# The versions bgone's tests ran with, and the sha256 of every file PyPI has for them.\n"
            "# Written by installer/lock.py; the installer uses it for the Pythons named above.\n")
    OUT.write_text(head + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(lines)} packages, for Python {' '.join(sorted(covered)) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

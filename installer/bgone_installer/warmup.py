"""Preparing edge refinement: compiling pymatting's numba code once, at install time.

pymatting compiles every one of its numba functions the first time it is imported (about 80 s of
CPU); numba caches the result next to the sources, in bgone's venv. Left to the first use, that
wait would land in GIMP or Krita with no word of explanation; here it is announced, timed live,
and spread over the CPU cores: each module is compiled in a process of its own, with pymatting's
package ``__init__`` (which imports everything) stubbed out, and the cache they fill is the one a
plain ``import pymatting`` reads afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess

from .commands import clean_env, run_cmd
from .console import Elapsed
from .steps import Ctx

# In bgone's Python: pymatting's modules that hold numba code, with their sizes ([] without it).
LIST_MODULES = (
    "import importlib.util, json, os\n"
    "spec = importlib.util.find_spec('pymatting')\n"
    "out = []\n"
    "if spec and spec.origin:\n"
    "    root = os.path.dirname(spec.origin)\n"
    "    for d, _, files in os.walk(root):\n"
    "        for f in sorted(files):\n"
    "            p = os.path.join(d, f)\n"
    "            if f.endswith('.py') and f != '__init__.py':\n"
    "                text = open(p, encoding='utf-8').read()\n"
    "                if '@njit' in text:\n"
    "                    name = 'pymatting.' + os.path.relpath(p, root)[:-3].replace(os.sep, '.')\n"
    "                    out.append([name, len(text)])\n"
    "print(json.dumps(sorted(out)))\n"
)
# In bgone's Python: import the modules named on the command line, and only them.
COMPILE_MODULES = (
    "import importlib, importlib.util, os, sys, types\n"
    "root = os.path.dirname(importlib.util.find_spec('pymatting').origin)\n"
    "for name in sys.argv[1:]:\n"
    "    parts = name.split('.')\n"
    "    for i in range(1, len(parts)):\n"
    "        pkg = '.'.join(parts[:i])\n"
    "        if pkg not in sys.modules:\n"
    "            m = types.ModuleType(pkg)\n"
    "            m.__path__ = [os.path.join(root, *parts[1:i])]\n"
    "            sys.modules[pkg] = m\n"
    "    importlib.import_module(name)\n"
)
TEXT = "    Compiling it, once (1-3 minutes, depending on the computer)..."


def groups(modules: list[tuple[str, int]], n: int) -> list[list[str]]:
    """``modules`` (name, size) in ``n`` groups of about equal size, largest first."""
    bins: list[tuple[int, list[str]]] = [(0, []) for _ in range(max(1, n))]
    for name, size in sorted(modules, key=lambda m: -m[1]):
        i = min(range(len(bins)), key=lambda k: bins[k][0])
        bins[i] = (bins[i][0] + size, bins[i][1] + [name])
    return [names for _, names in bins if names]


def step_prepare(ctx: Ctx) -> None:
    if ctx.dry:
        ctx.txn.would("compile the edge refinement's numba code (once, 1-3 minutes)")
        return
    out = run_cmd(ctx.log, [ctx.core_python, "-c", LIST_MODULES], timeout=300)
    modules = [tuple(m) for m in json.loads(out.strip().splitlines()[-1])]
    if not modules:
        ctx.log.say("    Nothing to prepare (pymatting is not installed).")
        return
    parts = groups(modules, os.cpu_count() or 1)
    failed = []
    with Elapsed(ctx.log, TEXT):
        procs = []
        for names in parts:
            ctx.log.detail(f"$ {ctx.core_python} -c COMPILE_MODULES {' '.join(names)}")
            procs.append((names, subprocess.Popen(
                [ctx.core_python, "-c", COMPILE_MODULES, *names], stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=clean_env(), text=True,
                encoding="utf-8", errors="replace")))
        for names, proc in procs:
            text, _ = proc.communicate()
            if text.strip():
                ctx.log.detail(text.rstrip())
            if proc.returncode != 0:
                failed.append(", ".join(names))
    if failed:
        ctx.notes.append("Edge refinement could not be prepared in advance (" + "; ".join(failed)
                         + "); its first use will take a few minutes longer. See the log.")

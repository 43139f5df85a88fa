"""Preparing edge refinement: compiling, once at install time, the numba code of the three
pymatting functions bgone calls.

The core loads them without pymatting's package ``__init__`` (bgone/pymatting_kernels.py, the one
list of what is compiled), so only their 7 numba functions are compiled: about 20 CPU-s (11-16 s
on two idle cores), where all of pymatting's took 80-95 CPU-s (50-70 s). numba caches the result next to the sources, in bgone's venv. Left
to the first use, that wait would land in GIMP or Krita with no word of explanation; here it is
announced, timed live, and spread over the CPU cores: each function is compiled by the core's own
loader in a process of its own, so the cache it fills is exactly the one the engine reads.
"""

from __future__ import annotations

import json
import subprocess

from . import InstallError
from .commands import clean_env, run_cmd
from .console import Elapsed
from .steps import Ctx

# In bgone's Python: the pymatting functions bgone compiles ([] when pymatting is missing).
LIST_KERNELS = (
    "import importlib.util, json\n"
    "from bgone.pymatting_kernels import KERNELS\n"
    "print(json.dumps(list(KERNELS) if importlib.util.find_spec('pymatting') else []))\n"
)
# In bgone's Python: load (and so compile, or read from the cache) the functions named.
COMPILE_KERNELS = (
    "import sys\n"
    "from bgone.pymatting_kernels import kernel\n"
    "for name in sys.argv[1:]:\n"
    "    kernel(name)\n"
)
NOT_PREPARED = ("Edge refinement could not be prepared in advance ({}); its first use will take "
                "up to a minute longer. See the log.")
TEXT = "    Compiling it, once (10-60 s, depending on the computer)..."


def step_prepare(ctx: Ctx) -> None:
    if ctx.dry:
        ctx.txn.would("compile the edge refinement's numba code (once, 10-60 s)")
        return
    try:
        out = run_cmd(ctx.log, [ctx.core_python, "-c", LIST_KERNELS], timeout=300)
        names = json.loads(out.strip().splitlines()[-1])
    except (InstallError, ValueError, IndexError) as e:
        ctx.log.detail(str(e))
        ctx.notes.append(NOT_PREPARED.format("the engine did not say what to compile"))
        return
    if not names:
        ctx.log.say("    Nothing to prepare (pymatting is not installed).")
        return
    failed = []
    with Elapsed(ctx.log, TEXT):
        procs = []
        for name in names:  # three processes: the OS spreads them over the cores there are
            ctx.log.detail(f"$ {ctx.core_python} -c COMPILE_KERNELS {name}")
            procs.append((name, subprocess.Popen(
                [ctx.core_python, "-c", COMPILE_KERNELS, name], stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=clean_env(), text=True,
                encoding="utf-8", errors="replace")))
        for name, proc in procs:
            text, _ = proc.communicate()
            if text.strip():
                ctx.log.detail(text.rstrip())
            if proc.returncode != 0:
                failed.append(name)
    if failed:
        ctx.notes.append(NOT_PREPARED.format(", ".join(failed)))

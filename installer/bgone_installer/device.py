"""Which device bgone will run the models on, for the summary: asked of the installed engine
(``bgone info --json``), so the words, and the rule for when a present GPU goes unused, are the
core's own (bgone/cli_models.py device_info, what ``bgone info`` prints); the installer adds only
where to read how to use the GPU."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .commands import clean_env
from .layout import Layout
from .steps import Ctx

INFO = ["-m", "bgone", "info", "--json"]
GPU_HELP = 'See "Using a GPU" in {}.'


def probe(ctx: Ctx) -> dict | None:
    """The engine's ``bgone info --json`` (None, logged, when it cannot say). It imports
    onnxruntime, so what that leaves behind is tracked, as in the self-test: where this
    machine's onnxruntime puts it (``--platform`` only simulates a layout)."""
    cache = Layout(None, ctx.layout.env).runtime_cache()
    if cache is not None:
        return ctx.txn.track_new_files(cache, lambda: _ask(ctx))
    return _ask(ctx)


def _ask(ctx: Ctx) -> dict | None:
    argv = [str(ctx.core_python), *INFO]
    ctx.log.detail("$ " + " ".join(argv))
    try:
        r = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, env=clean_env(),
                           text=True, encoding="utf-8", errors="replace", timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        ctx.log.detail(f"bgone info: {e}")
        return None
    if r.stderr.strip():
        ctx.log.detail(r.stderr.rstrip())
    try:
        info = json.loads(r.stdout) if r.returncode == 0 else None
    except ValueError:
        info = None
    if not isinstance(info, dict) or not isinstance(info.get("device"), dict):
        ctx.log.detail(f"bgone info exited with {r.returncode}: {r.stdout[-2000:]}")
        return None
    ctx.log.detail(f"device: {info['device']}")
    return info


def summary_rows(info: dict | None, readme: Path | None) -> tuple[str, list[str]]:
    """Pure: the summary's Device row and its notes. A note only when it matters: a GPU that is
    present but idle (with the engine's reason and what to install), or no answer at all."""
    if info is None:
        return "not known (the engine did not say; see the log)", []
    d = info["device"]
    if not d.get("device"):  # onnxruntime could not tell: its message and what to do
        return "not known", [" ".join(t for t in (d.get("headline"), d.get("note")) if t)]
    if d.get("gpu") and d["device"] == "cpu" and d.get("note"):
        return (f"CPU (the {d['gpu']} is not used: see below)",
                [f"{d['note']} " + GPU_HELP.format(readme or "bgone's README")])
    return d["device"].upper(), []

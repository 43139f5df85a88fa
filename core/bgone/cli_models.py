"""`bgone models list` and `bgone info`: what a user reads when choosing a model and checking
which device runs it. The command-line parsing stays in cli.py."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

GOOD_FOR_WIDTH = 16


def device_info(device: str = "auto") -> dict[str, Any]:
    """inference.describe_device plus the words every front end shows: ``headline`` (the device
    and runtime) and ``note`` (why a present GPU is idle; what went wrong). ``device`` is None
    when onnxruntime cannot tell."""
    from .errors import BgoneError
    from .inference import describe_device

    try:
        d = describe_device(device)
    except BgoneError as e:
        return {"device": None, "gpu": None, "headline": e.message, "note": e.hint}
    except ImportError as e:  # a broken onnxruntime install: say so, never a traceback
        return {"device": None, "gpu": None, "headline": f"onnxruntime cannot be imported ({e}).",
                "note": "Run the installer again (repair) to reinstall bgone's engine."}
    # only the runtimes that run models on hardware (AzureExecutionProvider, a remote-call
    # provider every onnxruntime wheel lists, means nothing to a photographer); --json has all
    hardware = [p.removesuffix("ExecutionProvider") for p in d["available"]
                if p not in ("CPUExecutionProvider", "AzureExecutionProvider")]
    also = f"; GPU runtimes: {', '.join(hardware)}" if hardware else ""
    return d | {"headline": f"{d['device'].upper()} (onnxruntime {d['onnxruntime']}{also})"}


def device_lines(device: str = "auto") -> list[str]:
    """Which device runs the models and, when a GPU is present but unused, why."""
    d = device_info(device)
    return [f"Device: {d['headline']}", *([d["note"]] if d["note"] else [])]


def print_models(rows: list[dict[str, Any]], as_json: bool) -> None:
    from . import paths

    if as_json:
        print(json.dumps(rows, indent=1))
        return
    for line in device_lines():
        print(line)
    print()
    name_w = max(len(r["name"]) for r in rows) + 2
    print(f"  {'model':{name_w}}{'size':>8}  {'installed':10}{'good for':{GOOD_FOR_WIDTH}}licence")
    for r in rows:
        mark = "* " if r["default"] else "  "
        inst = "yes" if r["installed"] else ("no" if r["downloadable"] else "import")
        print(f"{mark}{r['name']:{name_w}}{r['size_label']:>8}  {inst:10}"
              f"{r['good_for']:{GOOD_FOR_WIDTH}}{r['licence_label']}")
        print(f"  {'':{name_w}}{r['description']}")
    print("\n* = default.  \"import\" = no download address: export the file yourself, then "
          "`bgone models import NAME FILE`.\nModels live in", paths.model_dir())


def cmd_info(args: argparse.Namespace) -> int:
    """Version, Python, device (and why a present GPU is idle), model folder, installed models;
    with --json, the same for programs (the installer's summary)."""
    from . import __version__, paths, registry, store

    installed = [m.name for m in registry.all_models() if store.is_installed(m)]
    if args.json:
        print(json.dumps({"version": __version__, "python": sys.executable,
                          "device": device_info(args.device), "model_dir": str(paths.model_dir()),
                          "models": installed}, indent=1))
        return 0
    print(f"bgone {__version__} on Python {sys.version.split()[0]} ({sys.executable})")
    for line in device_lines(args.device):
        print(line)
    print(f"Models in {paths.model_dir()}: {', '.join(installed) or 'none installed'}")
    return 0

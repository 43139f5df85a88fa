"""The last step: a generated image sent through the installed client and the real worker,
exactly as the plug-ins do it."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from . import InstallError
from .steps import Ctx


def make_test_image(width: int, height: int) -> bytes:
    """A dark red disc on a light, slightly textured background, as straight RGBA rows."""
    cx, cy, r2 = width / 2, height / 2, (min(width, height) * 0.3) ** 2
    px = bytearray(width * height * 4)
    i = 0
    for y in range(height):
        for x in range(width):
            if (x - cx) ** 2 + (y - cy) ** 2 <= r2:
                px[i:i + 4] = bytes((170, 30 + (x % 7), 40, 255))
            else:
                g = 225 + (x * 3 + y * 5) % 23
                px[i:i + 4] = bytes((g, g, g - 8, 255))
            i += 4
    return bytes(px)


def load_client(folder: Path):
    """The ``bgone_client`` package in ``folder`` (a plug-in's own copy), imported as the
    plug-in imports it; the installer's own import of the package is put back afterwards."""
    saved = {k: v for k, v in sys.modules.items() if k == "bgone_client" or k.startswith("bgone_client.")}
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module("bgone_client")
        if Path(module.__file__).resolve().parent != (folder / "bgone_client").resolve():
            raise InstallError(f"The plug-in's bgone_client was not loaded from {folder}.")
        return module
    except ImportError as e:
        raise InstallError(f"The plug-in's bgone_client in {folder} does not load: {e}",
                           "Run the installer again.") from None
    finally:
        sys.path.remove(str(folder))
        for k in [k for k in sys.modules if k == "bgone_client" or k.startswith("bgone_client.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def step_selftest(ctx: Ctx) -> None:
    if ctx.dry:
        ctx.txn.would("send a test image through bgone's engine, as the plug-ins do")
        return
    gimp = [t for t in ctx.installed if t.app == "gimp"]
    target = gimp[0] if gimp else (ctx.installed[0] if ctx.installed else None)
    folder = target.client_dir.parent if target else ctx.client_src.parent
    client = load_client(folder)
    ctx.log.say(f"    Using {folder / 'bgone_client'}")
    w, h = 96, 72
    cache = ctx.layout.runtime_cache()
    if cache is not None:  # what onnxruntime leaves behind the first time is ours to remove
        return ctx.txn.track_new_files(cache, lambda: _selftest_twice(ctx, client, w, h))
    return _selftest_twice(ctx, client, w, h)


def _selftest_twice(ctx: Ctx, client, w: int, h: int) -> None:
    """One retry with a fresh worker, so that a one-off start-up hiccup does not undo a whole
    install; it is reported, never hidden."""
    try:
        return _selftest(ctx, client, w, h)
    except InstallError as first:
        ctx.log.say("    The first attempt failed; trying once more with a fresh engine.")
        ctx.log.detail(first.message)
        _selftest(ctx, client, w, h)
        ctx.notes.append("The self-test failed once before it passed: " + first.message.splitlines()[0])


def _selftest(ctx: Ctx, client, w: int, h: int) -> None:
    try:
        with client.Worker(ctx.core_python, timeout=600.0) as worker:
            hello = worker.start()
            ctx.log.detail(f"worker hello: {hello}")
            model = ctx.model["name"] if ctx.model else None
            if model is None:
                installed = [m for m in worker.models() if m.get("installed")]
                if not installed:
                    ctx.log.say("    The engine starts; no model is installed, so no image was sent.")
                    ctx.selftest = "engine starts (no model installed)"
                    return
                model = next((m["name"] for m in installed if m.get("default")), installed[0]["name"])
            t0 = time.monotonic()
            alpha = worker.remove(make_test_image(w, h), w, h, model=model,
                                  progress=lambda s, f, m: ctx.log.detail(f"{s} {f:.2f} {m}"))
    except client.ClientError as e:
        details = getattr(e, "details", "")
        raise InstallError(f"The self-test failed: {e.message}" + (f"\n{details}" if details else ""),
                           e.hint or "See the log for details.") from None
    if len(alpha) != w * h:
        raise InstallError(f"The self-test got {len(alpha)} bytes back instead of {w * h}.")
    inside = alpha[(h // 2) * w + w // 2]
    corner = (alpha[0] + alpha[w - 1] + alpha[(h - 1) * w] + alpha[h * w - 1]) / 4
    took = time.monotonic() - t0
    ctx.log.detail(f"self-test alpha: centre {inside}, corners {corner:.0f}")
    if inside > corner:
        ctx.selftest = f"passed ({model}, {took:.1f} s)"
        ctx.log.say(f"    A {w}x{h} test image went through {model} in {took:.1f} s: the subject was found.")
    else:
        ctx.selftest = f"engine works, but the test image's mask looks odd ({model})"
        ctx.log.say("    The engine works, but the test image's mask looks odd (see the log).")
        ctx.notes.append(ctx.selftest)

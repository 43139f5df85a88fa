"""Stand-ins for the core's Python: executable scripts that run the real `bgone.worker` with
a stand-in pipeline (alpha = the red channel; "slow" waits for cancel, "stubborn" ignores it,
"missing" is not installed),
so the real client, protocol and worker run in a fraction of a second. Shared by the client's
and the plug-ins' tests."""

from __future__ import annotations

import stat
import sys
import textwrap
from pathlib import Path

from bgone_client.framing import PROTOCOL_VERSION

CORE = Path(__file__).resolve().parent.parent / "core"

HELPERS = textwrap.dedent(
    f"""
    import json, os, sys, time
    sys.path.insert(0, {str(CORE)!r})  # this checkout's core, whatever the venv points at
    out = sys.stdout.buffer
    inp = sys.stdin.buffer

    def send(msg, payload=None):
        if payload is not None:
            msg = dict(msg, payload=len(payload))
        out.write(json.dumps(msg).encode() + b"\\n" + (payload or b""))
        out.flush()

    def recv():
        line = inp.readline()
        if not line:
            sys.exit(0)
        msg = json.loads(line)
        payload = inp.read(msg["payload"]) if "payload" in msg else None
        return msg, payload

    def hello(protocol={PROTOCOL_VERSION}):
        send({{"type": "hello", "protocol": protocol, "version": "0.0.fake", "pid": os.getpid()}})

    def log_start(name):
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), "a") as f:
            f.write("%d\\n" % os.getpid())
    """
)

FAKE_PIPELINE = textwrap.dedent(
    """
    import functools, sys, time
    from bgone import pipeline, worker
    from bgone.errors import Cancelled, ModelNotInstalled

    def fake_predict(rgb, model=None, refine="fast", device="auto", progress=None, cancel=None):
        report = progress or (lambda s, f: None)
        if model == "missing":
            raise ModelNotInstalled("The model 'missing' is not installed and could not be downloaded.",
                                    "Check the internet connection.")
        report("inference", 0.0)
        if model == "slow":
            t0 = time.monotonic()
            while time.monotonic() - t0 < 60:
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                time.sleep(0.01)
        if model == "stubborn":  # ignores cancel, like a long uninterruptible inference
            time.sleep(60)
        report("inference", 1.0)
        return rgb[:, :, 0].copy()

    pipeline.predict_alpha = fake_predict
    pipeline.cutout = functools.partial(pipeline.cutout, decontaminate=False)
    sys.exit(worker.main())
    """
)


def make_python(path: Path, body: str) -> Path:
    """An executable script that stands in for the core's Python."""
    path.write_text(f"#!{sys.executable}\n" + HELPERS + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path

# The core's Python, unpatched: the real worker of this checkout (the client drops PYTHONPATH).
REAL_WORKER = "from bgone import worker\nsys.exit(worker.main())\n"

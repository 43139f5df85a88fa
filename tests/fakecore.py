"""Stand-ins for the core's Python: executable scripts that run the real `bgone.worker` with
a stand-in pipeline (alpha = the red channel; "slow" waits for cancel, "stubborn" ignores it),
so the real client, protocol and worker run in a fraction of a second. Shared by the client's
and the plug-ins' tests."""

from __future__ import annotations

import stat
import sys
import textwrap
from pathlib import Path

HELPERS = textwrap.dedent(
    """
    import json, os, sys, time
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

    def hello(protocol=1):
        send({"type": "hello", "protocol": protocol, "version": "0.0.fake", "pid": os.getpid()})

    def log_start(name):
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), "a") as f:
            f.write("%d\\n" % os.getpid())
    """
)

FAKE_PIPELINE = textwrap.dedent(
    """
    import sys, time
    from bgone import composite, pipeline, worker
    from bgone.errors import Cancelled

    def fake_predict(rgb, model=None, refine="fast", device="auto", progress=None, cancel=None):
        report = progress or (lambda s, f: None)
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
    pipeline.cutout = lambda rgb, alpha, decontaminate=True: composite.rgba(rgb, alpha)
    sys.exit(worker.main())
    """
)


def make_python(path: Path, body: str) -> Path:
    """An executable script that stands in for the core's Python."""
    path.write_text(f"#!{sys.executable}\n" + HELPERS + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path

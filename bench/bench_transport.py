#!/usr/bin/env python3
"""Transport benchmark: how long a 12-megapixel RGBA layer takes to reach the worker and its
alpha to come back, with a trivial pipeline, over both transports of bgone_client.Worker.

    .venv/bin/python bench/bench_transport.py [--width 4000 --height 3000 --repeat 10]
                                              [--output alpha|rgba]

The worker is the real ``bgone.worker`` (stdin/stdout pipes, and the persistent daemon on a Unix
socket in a private XDG_RUNTIME_DIR) whose ``pipeline.predict_alpha`` is replaced by
``rgb[:, :, 0].copy()``. The stand-in Python also records CLOCK_MONOTONIC time stamps (shared by
all processes on Linux) at fixed points of the request, so each round trip splits into:

    upload   client's remove() call -> worker's read_message() returned the request
    convert  request read -> pipeline called (checks, numpy views/copies of the pixels)
    predict  the stand-in pipeline itself (a 12 MP strided copy; not transport)
    post     pipeline returned -> result write started
    send     the worker's write of the result message (header + alpha)
    download result write finished -> client's remove() returned the bytes
    total    the whole remove() call; overhead = total - predict

Numbers are medians (and minima) over --repeat round trips after one warm-up request.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import stat
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "core"))

from bgone_client import Worker  # noqa: E402

STAND_IN = textwrap.dedent(
    """
    import functools, json, os, sys, time
    from bgone import pipeline, protocol, worker

    _times_path = os.environ["BGONE_BENCH_TIMES"]
    _stamps = {}

    def _flush():
        with open(_times_path, "a") as f:
            f.write(json.dumps(_stamps) + "\\n")
        _stamps.clear()

    _read_message = protocol.read_message

    def read_message(*args, **kwargs):
        item = _read_message(*args, **kwargs)
        if item is not None and item[0].get("type") == "remove":
            _stamps["read_end"] = time.monotonic()
        return item

    protocol.read_message = read_message

    def fake_predict(rgb, model=None, refine="fast", device="auto", progress=None, cancel=None):
        _stamps["predict_start"] = time.monotonic()
        out = rgb[:, :, 0].copy()
        _stamps["predict_end"] = time.monotonic()
        return out

    pipeline.predict_alpha = fake_predict
    pipeline.cutout = functools.partial(pipeline.cutout, decontaminate=False)

    _send = worker.Server.send

    def send(self, msg, payload=None):
        if msg.get("type") != "result":
            return _send(self, msg, payload)
        _stamps["send_start"] = time.monotonic()
        _send(self, msg, payload)
        _stamps["send_end"] = time.monotonic()
        _stamps["id"] = msg.get("id")
        _flush()

    worker.Server.send = send
    if os.environ.get("BGONE_BENCH_NO_KEEP") and hasattr(worker, "KEEP_BUFFER_BYTES"):
        worker.KEEP_BUFFER_BYTES = 0  # every request reads into fresh memory (a first request)
    sys.exit(worker.main())
    """
)

PHASES = ("upload", "convert", "predict", "post", "send", "download", "total", "overhead")


def make_stand_in(folder: Path) -> Path:
    path = folder / "python"
    core = f"import sys; sys.path.insert(0, {str(ROOT / 'core')!r})\n"  # this tree's bgone
    path.write_text(f"#!{sys.executable}\n" + core + STAND_IN)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def run(python: Path, times: Path, persistent: bool, args: argparse.Namespace) -> dict:
    import numpy as np

    w, h = args.width, args.height
    rgba = np.random.default_rng(0).integers(0, 256, (h, w, 4), dtype=np.uint8).tobytes()
    want = rgba[0::4] if args.output == "alpha" else None
    rows = []
    with Worker(str(python), persistent=persistent) as worker:
        worker.remove(rgba[: 16 * 16 * 4], 16, 16)  # start-up, imports, warm-up
        worker.remove(rgba, w, h, output=args.output)
        times.write_text("")
        for _ in range(args.repeat):
            t0 = time.monotonic()
            out = worker.remove(rgba, w, h, output=args.output)
            t1 = time.monotonic()
            if want is not None and out != want:
                raise SystemExit("wrong alpha came back")
            rows.append((t0, t1, worker._next_id))  # the id the client gave this request
            time.sleep(0.05)
        pid = worker.pid
    if persistent and pid:  # close() only closed the connection: stop the daemon
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.05)
    deadline = time.monotonic() + 5  # the worker may write its last line after we got the result
    while True:
        stamps = {}
        for line in times.read_text().splitlines():
            s = json.loads(line)
            stamps[s["id"]] = s
        if all(rid in stamps for _, _, rid in rows) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    phases: dict[str, list[float]] = {p: [] for p in PHASES}
    for t0, t1, rid in rows:
        s = stamps[rid]
        phases["upload"].append(s["read_end"] - t0)
        phases["convert"].append(s["predict_start"] - s["read_end"])
        phases["predict"].append(s["predict_end"] - s["predict_start"])
        phases["post"].append(s["send_start"] - s["predict_end"])
        phases["send"].append(s["send_end"] - s["send_start"])
        phases["download"].append(t1 - s["send_end"])
        phases["total"].append(t1 - t0)
        phases["overhead"].append(t1 - t0 - (s["predict_end"] - s["predict_start"]))
    return phases


def _spin() -> None:
    x = 0
    while True:
        x = (x + 1) % 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=4000)
    ap.add_argument("--height", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--output", choices=("alpha", "rgba"), default="alpha")
    ap.add_argument("--only", choices=("pipe", "socket"), default=None)
    ap.add_argument("--no-keep", action="store_true",
                    help="the worker keeps no payload buffer: every request is like a first one")  # fmt: skip
    ap.add_argument("--busy", action="store_true",
                    help="a Python thread keeps the client's GIL busy, like a host's UI loop")  # fmt: skip
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bgtr", dir="/tmp"))  # AF_UNIX paths must stay short
    os.environ["XDG_RUNTIME_DIR"] = str(tmp / "rt")
    (tmp / "rt").mkdir(mode=0o700)
    os.environ.setdefault("BGONE_MODEL_DIR", str(tmp / "models"))
    os.environ["BGONE_LOG_LEVEL"] = "WARNING"
    times = tmp / "times.jsonl"
    os.environ["BGONE_BENCH_TIMES"] = str(times)
    python = make_stand_in(tmp)
    mb_in = args.width * args.height * 4 / 1e6
    mb_out = args.width * args.height * (4 if args.output == "rgba" else 1) / 1e6
    print(f"{args.width}x{args.height}: {mb_in:.0f} MB RGBA up, {mb_out:.0f} MB {args.output} "
          f"down; {args.repeat} round trips; Python {sys.version.split()[0]}")  # fmt: skip
    if args.no_keep:
        os.environ["BGONE_BENCH_NO_KEEP"] = "1"
    if args.busy:
        print("with a busy Python thread in the client process")
        threading.Thread(target=_spin, daemon=True).start()
    try:
        results = {}
        for name, persistent in (("pipe", False), ("socket", True)):
            if args.only and args.only != name:
                continue
            results[name] = run(python, times, persistent, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"{'ms (median / min)':<18}" + "".join(f"{name:>18}" for name in results))
    for phase in PHASES:
        cells = "".join(
            f"{statistics.median(r[phase]) * 1e3:>10.1f} /{min(r[phase]) * 1e3:>6.1f}"
            for r in results.values()
        )
        print(f"{phase:<18}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

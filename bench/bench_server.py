"""`bgone serve` throughput and memory on 12 MP photos, against `rembg s` in the same run.

Each server runs as the user runs it (the real command in its own process, u2netp), gets one
warm-up request (not timed), then all photos POSTed by as many client threads as it has
workers plus one (so a worker never waits on an upload). Printed per server and worker count:
wall time, requests per minute, the server process's peak resident memory (VmHWM) and CPU
seconds, and the machine's load average before and after (this box has 2 shared cores).

    PYTHONPATH=core .venv/bin/python bench/bench_server.py [--photos 4] [--refine fast] \
        [--rembg-python .benchvenv/bin/python]

Photos: images from ../shared/eval/comp1k upscaled to 4000x3000 JPEGs in a temp folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval" / "comp1k" / "images"
REMBG_SERVER_MODULES = ("fastapi", "uvicorn", "aiohttp", "asyncer", "multipart", "click")


def make_photos(folder: Path, n: int) -> list[Path]:
    sources = sorted(EVAL.glob("*.png")) or sorted(Path("/work/shared/eval/comp1k/images").glob("*.png"))
    if not sources:
        raise SystemExit(f"no evaluation images in {EVAL}")
    out = []
    for i in range(n):
        src = sources[i % len(sources)]
        img = Image.open(src).convert("RGB").resize((4000, 3000), Image.LANCZOS)
        p = folder / f"{i:02d}_{src.stem}.jpg"
        img.save(p, quality=92)
        out.append(p)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stats(pid: int) -> tuple[float, float]:
    """(peak resident MB, CPU seconds) of one process."""
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return peak, cpu


def wait_up(url: str, proc: subprocess.Popen, seconds: float = 300) -> None:
    for _ in range(int(seconds / 0.25)):
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise SystemExit(f"server at {url} did not come up")


def run_load(url: str, photos: list[Path], clients: int, form: dict[str, str]) -> tuple[float, list[int]]:
    todo = list(photos)
    lock = threading.Lock()
    statuses: list[int] = []

    def client() -> None:
        while True:
            with lock:
                if not todo:
                    return
                p = todo.pop(0)
            with open(p, "rb") as f:
                r = requests.post(url, files={"file": (p.name, f)}, data=form, timeout=1800)
            with lock:
                statuses.append(r.status_code)

    t = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t, statuses


def bench(name: str, cmd: list[str], env: dict[str, str], ready: str, url: str, photos: list[Path],
          workers: int, form: dict[str, str]) -> dict:
    load0 = os.getloadavg()[0]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_up(ready, proc)
        run_load(url, photos[:1], 1, form)  # warm-up (rembg makes its session on first use)
        wall, statuses = run_load(url, photos, workers + 1, form)
        peak, cpu = proc_stats(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    row = {"name": name, "workers": workers, "n": len(photos), "wall": wall, "rpm": 60 * len(photos) / wall,
           "peak": peak, "cpu": cpu, "ok": statuses.count(200), "load": (load0, os.getloadavg()[0])}
    print(f"{name:34} workers {workers}  {row['ok']}/{len(photos)} ok  wall {wall:7.1f} s  "
          f"{row['rpm']:6.2f} req/min  peak {peak:6.0f} MB  server CPU {cpu:6.1f} s  "
          f"load {row['load'][0]:.1f} -> {row['load'][1]:.1f}", flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=4)
    ap.add_argument("--refine", default="fast", help="bgone's level (rembg does no refinement by default)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--rembg-python", default=os.environ.get("BGONE_BENCH_REMBG_PYTHON", str(ROOT / ".benchvenv/bin/python")))
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.modelfiles import fetch_u2netp

    model = fetch_u2netp()
    work = Path(tempfile.mkdtemp(prefix="bgone-bench-server-"))
    try:
        photos = make_photos(work, a.photos)
        models = work / "models"
        models.mkdir()
        shutil.copy(model, models / "u2netp.onnx")
        print(f"{len(photos)} photos 4000x3000 JPEG, u2netp; {os.cpu_count()} cores; "
              f"load average {os.getloadavg()[0]:.1f} at the start", flush=True)
        env = {**os.environ, "BGONE_MODEL_DIR": str(models), "U2NET_HOME": str(models),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "core"), os.environ.get("PYTHONPATH", "")])}
        rembg_ok = Path(a.rembg_python).exists() and subprocess.run(
            [a.rembg_python, "-c", "import " + ", ".join(REMBG_SERVER_MODULES)],
            capture_output=True).returncode == 0
        rows = []
        for w in (int(x) for x in a.workers.split(",")):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            rows.append(bench(f"bgone serve (refine {a.refine})",
                              [sys.executable, "-m", "bgone", "serve", "--port", str(port), "--workers", str(w),
                               "--queue", str(len(photos) + 2), "--model", "u2netp", "--timeout", "3600"],
                              env, base + "/health", base + "/api/remove", photos, w, {"refine": a.refine}))
            if rembg_ok:
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                rows.append(bench("rembg s", [a.rembg_python, "-c", "from rembg.cli import main; main()", "s", "--host", "127.0.0.1",
                                              "--port", str(port), "--no-ui", "-t", str(w)],
                                  env, base + "/api", base + "/api/remove", photos, w, {"model": "u2netp"}))
                ours, theirs = rows[-2], rows[-1]
                print(f"  ratio bgone/rembg: {ours['rpm'] / theirs['rpm']:.2f}x requests per minute, "
                      f"{ours['peak'] / theirs['peak']:.2f}x peak memory", flush=True)
        if not rembg_ok:
            why = (f"{a.rembg_python} does not exist" if not Path(a.rembg_python).exists() else
                   f"{a.rembg_python} lacks rembg's server dependencies ({', '.join(REMBG_SERVER_MODULES)}); "
                   "install rembg[cli] there to compare")
            print(f"rembg s NOT measured: {why}.")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

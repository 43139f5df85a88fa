"""`bgone batch --engine ray` on a local Ray instance against the plain CLI on the same folder of
12 MP photos in the same run: wall time, images per minute, and whether the masks are the same
bytes. Both run as the user runs them (the real commands, u2netp, masks, default refinement).

    PYTHONPATH=core .venv/bin/python bench/bench_ray.py [--photos 6] [--workers 2]

Photos: images from ../shared/eval/comp1k upscaled to 4000x3000 JPEGs in a temp folder (as
bench_server.py makes them). One machine only: a real cluster was not measured.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from bench_server import make_photos  # noqa: E402


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--refine", default="fast")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.modelfiles import fetch_u2netp

    model = fetch_u2netp()
    work = Path(tempfile.mkdtemp(prefix="bgone-bench-ray-"))
    try:
        src = work / "photos"
        src.mkdir()
        make_photos(src, a.photos)
        models = work / "models"
        models.mkdir()
        shutil.copy(model, models / "u2netp.onnx")
        env = {**os.environ, "BGONE_MODEL_DIR": str(models),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "core"), os.environ.get("PYTHONPATH", "")])}
        print(f"{a.photos} photos 4000x3000, u2netp, masks, refine {a.refine}; {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        bg = [sys.executable, "-m", "bgone"]
        cli_s = timed([*bg, "remove", str(src), "--out-dir", str(work / "cli"), "--mask", "--model", "u2netp",
                       "--refine", a.refine], env)
        print(f"bgone remove (CLI)            {cli_s:7.1f} s  {60 * a.photos / cli_s:5.2f} img/min", flush=True)
        ray_s = timed([*bg, "batch", "--engine", "ray", str(src), str(work / "ray"), "--mask", "--model", "u2netp",
                       "--refine", a.refine, "--workers", str(a.workers)], env)
        print(f"bgone batch --engine ray (w={a.workers}) {ray_s:7.1f} s  {60 * a.photos / ray_s:5.2f} img/min "
              f"(Ray start-up included)  ratio CLI/ray {cli_s / ray_s:.2f}x", flush=True)
        same = [p.name for p in sorted((work / "cli").iterdir())
                if (work / "ray" / p.name).read_bytes() == p.read_bytes()]
        print(f"identical masks: {len(same)} of {a.photos}; load average {os.getloadavg()[0]:.1f} at the end")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Folder and single-photo benchmark: the `bgone` command exactly as a user runs it, against
rembg 2.0.86's `rembg p` / `rembg i` on the same photos, the same model file (u2netp) and in the
same run, commands interleaved so a busy machine slows both alike.

    .venv/bin/python bench/bench_folder.py [--repeat 3] [--images 6] [--rembg-python PATH]

Six 4000x3000 JPEGs are made from the shared evaluation images (upscaled) in a temp folder,
never in the repository. Each command is a fresh process; its wall time, peak RSS (wait4's
rusage of that child alone) and the bytes it wrote are recorded; medians are printed with
ratios bgone / rembg (below 1 is better for bgone). Prints the machine's load average, since
the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = Path(os.environ.get("BGONE_SHARED", ROOT.parent / "shared"))


def make_photos(folder: Path, count: int) -> list[Path]:
    """count 4000x3000 JPEGs (quality 92) from the evaluation images, upscaled like a 12 MP
    camera photo; portrait sources are turned to landscape so every file is 12 MP."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((SHARED / "eval/comp1k/images").glob("*.png"))
    if not sources:
        raise SystemExit(f"no evaluation images under {SHARED / 'eval/comp1k/images'}")
    out = []
    for i in range(count):
        src = sources[i % len(sources)]
        img = Image.open(src).convert("RGB")
        if img.height > img.width:
            img = img.transpose(Image.Transpose.ROTATE_90)
        dest = folder / f"{i:02d}_{src.stem}.jpg"
        img.resize((4000, 3000), Image.BICUBIC).save(dest, quality=92)
        out.append(dest)
    return out


def measure(cmd: list[str], env: dict[str, str], out: Path) -> dict[str, float]:
    """Run one command; wall seconds, peak RSS of that child (MB) and bytes written under out."""
    if out.is_dir():
        shutil.rmtree(out)
    elif out.exists():
        out.unlink()
    # the previous command's output reaches the disk first: bgone fsyncs what it writes, and its
    # fsync must not wait for another command's writeback (rembg writes without fsync)
    os.sync()
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: progress bars cannot fill it up
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            log.seek(0)
            err = log.read().decode(errors="replace")
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    files = [p for p in out.rglob("*") if p.is_file()] if out.is_dir() else [out]
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024,
            "bytes": sum(p.stat().st_size for p in files), "files": len(files)}


# What `rembg p` and `rembg i` do (rembg/commands/{p,i}_command.py, 2.0.86), for a rembg install
# without its CLI extras (click, watchdog, ...): one session, then remove(bytes) -> PNG bytes per
# file. It skips the CLI's own imports, so it can only flatter rembg.
REMBG_AS_CLI = """
import pathlib, sys
from rembg import new_session, remove
cmd, _, model, src, dst = sys.argv[1:6]  # i/p -m MODEL IN OUT
if cmd == "i":
    pathlib.Path(dst).write_bytes(remove(pathlib.Path(src).read_bytes(), session=new_session(model)))
else:
    session = new_session(model)
    out = pathlib.Path(dst)
    for f in sorted(pathlib.Path(src).glob("**/*")):
        if f.is_file():
            o = (out / f.name).with_suffix(".png")
            o.parent.mkdir(parents=True, exist_ok=True)
            o.write_bytes(remove(f.read_bytes(), session=session))
"""


def rembg_command(python: Path) -> tuple[list[str], str]:
    """The rembg CLI if its extras are installed, else the same calls run by REMBG_AS_CLI."""
    cli = python.parent / "rembg"
    if cli.exists() and subprocess.run([str(python), "-c", "import click, watchdog, filetype"],
                                       capture_output=True).returncode == 0:
        return [str(cli)], "the rembg CLI"
    return [str(python), "-c", REMBG_AS_CLI], "rembg's API calls as `rembg p`/`i` make them (CLI extras missing)"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rembg-python", default=os.environ.get("BGONE_BENCH_REMBG_PYTHON", str(ROOT / ".benchvenv/bin/python")))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--core", default=str(ROOT / "core"),
                    help="bgone source folder to run (e.g. another checkout's core/, to compare)")
    ap.add_argument("--skip", default="", help="comma-separated row names to leave out (e.g. 'bgone fast')")
    a = ap.parse_args()
    rembg_py = Path(a.rembg_python)
    if not rembg_py.exists():
        raise SystemExit(f"rembg not found at {a.rembg_python}; pass --rembg-python (make benchvenv builds it)")
    rembg, rembg_how = rembg_command(rembg_py)

    sys.path.insert(0, str(ROOT))
    from tests.modelfiles import fetch_u2netp

    model = fetch_u2netp()
    work = Path(tempfile.mkdtemp(prefix="bgone-bench-folder-"))
    try:
        photos = make_photos(work / "in", a.images)
        # the same model file for both: rembg reads U2NET_HOME/u2netp.onnx, bgone its model folder
        u2home, mdir = work / "u2net", work / "models"
        u2home.mkdir()
        shutil.copy(model, u2home / "u2netp.onnx")
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS",)}
        env_r = {**env, "U2NET_HOME": str(u2home)}
        env_b = {**env, "BGONE_MODEL_DIR": str(mdir), "PYTHONPATH": str(Path(a.core).resolve())}
        bgone = [sys.executable, "-m", "bgone"]
        subprocess.run([*bgone, "models", "import", "u2netp", str(model)], env=env_b, check=True,
                       stdout=subprocess.DEVNULL)
        folder, one = work / "in", photos[0]
        o = work / "out"
        rows = {
            "bgone none": ([*bgone, "remove", str(folder), "--out-dir", str(o), "--model", "u2netp", "--refine", "none"], env_b, o),
            "bgone fast": ([*bgone, "remove", str(folder), "--out-dir", str(o), "--model", "u2netp"], env_b, o),
            "rembg p": ([*rembg, "p", "-m", "u2netp", str(folder), str(o)], env_r, o),
            "bgone i none": ([*bgone, "remove", str(one), "-o", str(o / "x.png"), "--model", "u2netp", "--refine", "none"], env_b, o / "x.png"),
            "bgone i fast": ([*bgone, "remove", str(one), "-o", str(o / "x.png"), "--model", "u2netp"], env_b, o / "x.png"),
            "rembg i": ([*rembg, "i", "-m", "u2netp", str(one), str(o / "x.png")], env_r, o / "x.png"),
        }
        skip = {s.strip() for s in a.skip.split(",") if s.strip()}
        rows = {k: v for k, v in rows.items() if k not in skip}
        results: dict[str, list[dict[str, float]]] = {k: [] for k in rows}
        loads = [load()]
        # warm-up: page cache, numba's on-disk cache, rembg's first-run checks; not counted
        o.mkdir()
        for name in ("rembg i", "bgone i fast"):
            if name in rows:
                measure(*rows[name])
        for r in range(a.repeat):
            for name, (cmd, env_x, out) in rows.items():
                o.mkdir(exist_ok=True)
                results[name].append(measure(cmd, env_x, out))
                print(f"  run {r + 1} {name:14} {results[name][-1]['wall']:6.2f} s  load {load()}", file=sys.stderr, flush=True)
            loads.append(load())
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in results.items() if v}
    print(f"\nbgone folder benchmark: {a.images} photos 4000x3000 JPEG, u2netp, {os.cpu_count()} CPUs, "
          f"median of {a.repeat} interleaved runs")
    print(f"rembg ran as {rembg_how}")
    print(f"load average (1/5/15 min) before and after each round: {' | '.join(loads)}\n")
    print(f"{'command':16}{'wall s':>8}{'img/min':>9}{'CPU s':>8}{'peak MB':>9}{'out MB':>9}")
    for name, m in med.items():
        n = 1 if " i" in name else a.images
        print(f"{name:16}{m['wall']:8.2f}{60 * n / m['wall']:9.1f}{m['cpu']:8.2f}{m['peak_mb']:9.0f}{m['bytes'] / 1e6:9.2f}")
    print("\nratios bgone / rembg (target: wall <= 0.50 for none, <= 1.00 for the default; "
          "peak < 1; bytes <= 1). CPU s (user+sys) is the work done: on a busy machine, where\n"
          "a second core is not free, wall time follows it rather than the overlap")
    for ours, theirs in (("bgone none", "rembg p"), ("bgone fast", "rembg p"),
                         ("bgone i none", "rembg i"), ("bgone i fast", "rembg i")):
        if ours in med and theirs in med:
            m, t = med[ours], med[theirs]
            print(f"{ours + ' / ' + theirs:26} wall {m['wall'] / t['wall']:5.2f}   CPU {m['cpu'] / t['cpu']:5.2f}"
                  f"   peak {m['peak_mb'] / t['peak_mb']:5.2f}   bytes {m['bytes'] / t['bytes']:5.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Core benchmark: per-stage time, whole-job time and peak memory of bgone at 4000x3000,
against rembg 2.0.86 on the same model and image in the same run; plus parity with rembg's
own expected u2netp outputs.

    .venv/bin/python bench/bench_core.py [--rembg-python /path/to/venv-with-rembg/bin/python]

Each measurement runs in a fresh child process so peak RSS (ru_maxrss) belongs to that job
alone. Numbers are medians over --repeat warm runs, after one warm-up (session creation).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_bgone(image: str, model_path: str, repeat: int, refine: str) -> dict:
    sys.path.insert(0, str(ROOT / "core"))
    import numpy as np  # noqa: F401
    from PIL import Image

    from bgone import composite, imageio, inference, pipeline, preprocess, registry, writer

    spec = registry.get_model("u2netp")
    path = Path(model_path)
    times: dict[str, list[float]] = {k: [] for k in ("decode", "preprocess", "forward", "resize_back", "refine", "cutout", "encode", "whole", "predict_alpha", "remove_api", "remove_nodecon")}
    out = Path(tempfile.mkdtemp()) / "out.png"
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        rgb, _ = imageio.load_rgba(image)
        t1 = time.perf_counter()
        sess = inference.get_session(path)
        x = preprocess.to_tensor(preprocess.resize_rgb(rgb, spec.input_size), spec)
        t2 = time.perf_counter()
        low = preprocess.postprocess(inference.forward(sess, x), spec)
        t3 = time.perf_counter()
        from bgone.upsample import upsample_alpha_u8

        a8 = upsample_alpha_u8(low, rgb)  # what predict_alpha does at every level
        t4 = t5 = time.perf_counter()
        if refine != "none":
            a8 = pipeline.to_uint8(pipeline._refine(rgb, a8 * np.float32(1 / 255), refine, None, None))
            t5 = time.perf_counter()
        composite.snap_alpha(a8)
        # what the CLI does by default at every level: decontaminated edges, nothing under alpha 0,
        # then the writer's own settings (PNG level, fsync, rename)
        cut = composite.clear_transparent(pipeline.cutout(rgb, a8, decontaminate=True))
        t6 = time.perf_counter()
        writer.save(cut, out)
        t7 = time.perf_counter()
        if i:  # the first pass creates the session and JITs: reported apart as cold
            for k, v in zip(("decode", "preprocess", "forward", "resize_back", "refine", "cutout", "encode", "whole"),
                            (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t7 - t0), strict=True):
                times[k].append(v)
        else:
            cold = t7 - t0
    # the API path a host plug-in uses: array in, uint8 alpha out (no decode/encode)
    os.environ.setdefault("BGONE_MODEL_DIR", str(path.parent))
    for _ in range(repeat):
        t = time.perf_counter()
        pipeline.predict_alpha(rgb, model="u2netp", refine=refine)
        times["predict_alpha"].append(time.perf_counter() - t)
    pil = Image.open(image)
    pil.load()
    for _ in range(repeat):  # same call shape as rembg's remove(): PIL image in, RGBA image out
        t = time.perf_counter()
        pipeline.remove(pil, model="u2netp", refine=refine)
        times["remove_api"].append(time.perf_counter() - t)
        t = time.perf_counter()  # like for like with rembg, which does no decontamination
        pipeline.remove(pil, model="u2netp", refine=refine, decontaminate=False)
        times["remove_nodecon"].append(time.perf_counter() - t)
    res = {k: statistics.median(v) for k, v in times.items() if v}
    res["cold_first_run"] = cold
    res["peak_mb"] = _peak_mb()
    return res


def child_rembg(image: str, repeat: int, alpha_matting: bool) -> dict:
    from PIL import Image
    from rembg import new_session, remove

    sess = new_session("u2netp")
    out = Path(tempfile.mkdtemp()) / "out.png"
    ts = []
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        # as `rembg i`/`p` do: bytes in, remove() encodes the PNG itself (Pillow's default level)
        out.write_bytes(remove(Path(image).read_bytes(), session=sess, alpha_matting=alpha_matting))
        if i:
            ts.append(time.perf_counter() - t0)
    pil = Image.open(image)
    pil.load()
    only = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        remove(pil, session=sess, alpha_matting=alpha_matting)
        only.append(time.perf_counter() - t0)
    return {"whole": statistics.median(ts), "remove_only": statistics.median(only), "peak_mb": _peak_mb()}


def child_job(image: str, model_path: str, refine: str) -> dict:
    """One photo through the `bgone remove` command as a user runs it, in a fresh process, so
    its peak RSS is that job's alone (imports and session creation included)."""
    sys.path.insert(0, str(ROOT / "core"))
    os.environ["BGONE_MODEL_DIR"] = tempfile.mkdtemp()
    from bgone import cli, store

    store.import_file("u2netp", Path(model_path))
    t0 = time.perf_counter()
    rc = cli.main(["remove", image, "-o", str(Path(tempfile.mkdtemp()) / "out.png"), "--model", "u2netp",
                   "--refine", refine])
    if rc:
        raise SystemExit(rc)
    return {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb()}


def child_forward(model_path: str, repeat: int) -> dict:
    import numpy as np
    import onnxruntime as ort

    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, 3, 320, 320)).astype(np.float32)
    name = sess.get_inputs()[0].name
    sess.run(None, {name: x})
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        sess.run(None, {name: x})
        ts.append(time.perf_counter() - t)
    return {"forward": statistics.median(ts)}


def run_child(python: str, *args: str, env: dict | None = None) -> dict:
    r = subprocess.run([python, __file__, "--child", *args], capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(f"child {args[0]} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def parity(model_path: Path) -> list[dict]:
    sys.path.insert(0, str(ROOT / "core"))
    import numpy as np
    from PIL import Image

    from bgone import imageio, inference, pipeline, registry
    from bgone.upsample import upsample_alpha

    spec = registry.get_model("u2netp")
    rows = []
    for fx in sorted((SHARED / "eval/rembg_parity/fixtures").glob("*")):
        exp = SHARED / "eval/rembg_parity/expected" / (fx.stem + ".u2netp.png")
        want = np.asarray(Image.open(exp).convert("RGBA"))[:, :, 3].astype(np.float32) / 255
        rgb, _ = imageio.load_rgba(fx)
        low = inference.predict_lowres(rgb, spec, path=model_path)
        h, w = want.shape
        for label, alpha in (("plain resize", pipeline.resize_plain(low, (w, h))), ("bgone none", upsample_alpha(low, rgb))):
            a = np.round(np.clip(alpha, 0, 1) * 255) / 255
            p, g = a >= 0.5, want >= 0.5
            rows.append({"image": fx.name, "path": label, "iou": float((p & g).sum() / max((p | g).sum(), 1)),
                         "mae": float(np.abs(a - want).mean())})
    return rows


def make_image(path: Path) -> None:
    from PIL import Image

    src = SHARED / "eval/comp1k/images/dog_golden.png"
    if src.exists():
        Image.open(src).convert("RGB").resize((4000, 3000), Image.BICUBIC).save(path, quality=92)
    else:  # a drawn subject when the shared eval set is not there
        import numpy as np

        yy, xx = np.mgrid[:3000, :4000]
        img = np.empty((3000, 4000, 3), np.uint8)
        img[:] = (40, 120, 200)
        img[(yy - 1500) ** 2 + (xx - 2000) ** 2 < 900**2] = (230, 60, 40)
        Image.fromarray(img).save(path, quality=92)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs="+")
    ap.add_argument("--rembg-python", default=os.environ.get("BGONE_BENCH_REMBG_PYTHON", str(ROOT / ".benchvenv/bin/python")))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--refine", default="none")
    ap.add_argument("--image", help="benchmark this file instead of the 4000x3000 dog (eval set)")
    a = ap.parse_args()
    if a.child:
        kind, *rest = a.child
        if kind == "bgone":
            print(json.dumps(child_bgone(rest[0], rest[1], int(rest[2]), rest[3])))
        elif kind == "rembg":
            print(json.dumps(child_rembg(rest[0], int(rest[1]), rest[2] == "1")))
        elif kind == "forward":
            print(json.dumps(child_forward(rest[0], int(rest[1]))))
        elif kind == "job":
            print(json.dumps(child_job(rest[0], rest[1], rest[2])))
        return

    sys.path.insert(0, str(ROOT))
    from tests.modelfiles import fetch_u2netp

    model = fetch_u2netp()
    work = Path(tempfile.mkdtemp(prefix="bgone-bench-"))
    img = work / "photo_4000x3000.jpg"
    if a.image:
        img = Path(a.image).resolve()
    else:
        make_image(img)
    u2home = work / "u2net"
    u2home.mkdir()
    shutil.copy(model, u2home / "u2netp.onnx")
    env = {**os.environ, "U2NET_HOME": str(u2home), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "")}
    env = {k: v for k, v in env.items() if v}

    fwd = run_child(sys.executable, "forward", str(model), str(a.repeat * 3))
    job = run_child(sys.executable, "job", str(img), str(model), a.refine)
    ours = run_child(sys.executable, "bgone", str(img), str(model), str(a.repeat), a.refine)
    theirs = None
    if Path(a.rembg_python).exists():
        theirs = run_child(a.rembg_python, "rembg", str(img), str(a.repeat), "0", env=env)
    print(f"bgone core benchmark: u2netp, {img.name}, refine={a.refine}, {os.cpu_count()} CPUs, median of {a.repeat} warm runs\n")
    print(f"{'stage':28}{'seconds':>9}")
    for k in ("decode", "preprocess", "forward", "resize_back", "refine", "cutout", "encode", "whole", "predict_alpha", "remove_api", "remove_nodecon", "cold_first_run"):
        print(f"{k:28}{ours[k]:9.3f}")
    print(f"{'bare forward pass (ORT)':28}{fwd['forward']:9.3f}")
    print(f"{'peak RSS, MB':28}{ours['peak_mb']:9.0f}  (all stages, previous runs' arrays alive)")
    print(f"{'one `bgone remove`, fresh':28}{job['seconds']:9.3f} s, peak RSS {job['peak_mb']:.0f} MB  (bench_folder.py times the whole command)")
    print(f"\npredict_alpha / bare forward = {ours['predict_alpha'] / fwd['forward']:.2f}x  (target <= 1.5x)")
    if theirs:
        print(f"rembg remove() only           {theirs['remove_only']:.3f} s")
        print(f"rembg remove()+decode+encode  {theirs['whole']:.3f} s, peak {theirs['peak_mb']:.0f} MB")
        print(f"speed-up remove() vs rembg    {theirs['remove_only'] / ours['remove_api']:.2f}x   (bgone decontaminates edges; rembg does not)")
        print(f"  same job, no decontamination {theirs['remove_only'] / ours['remove_nodecon']:.2f}x   (target >= 3x)")
        print(f"speed-up whole job vs rembg   {theirs['whole'] / ours['whole']:.2f}x   (decode+encode included)")
        print(f"memory ratio rembg / bgone    {theirs['peak_mb'] / ours['peak_mb']:.2f}x")
    else:
        print(f"(rembg not found at {a.rembg_python}; pass --rembg-python)")
    if (SHARED / "eval/rembg_parity").exists():
        print("\nparity with rembg's expected u2netp outputs")
        print(f"{'image':20}{'path':16}{'IoU':>8}{'MAE':>8}")
        for r in parity(model):
            print(f"{r['image']:20}{r['path']:16}{r['iou']:8.4f}{r['mae']:8.4f}")


if __name__ == "__main__":
    main()

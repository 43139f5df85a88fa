"""Edge refinement benchmark (issue 3): raw bilinear vs guided `none` vs `fast`/`best` vs rembg matting.

    .venv/bin/python bench/bench_refine.py            # eval table + 4000x3000 timings/memory + PNGs
    .venv/bin/python bench/bench_refine.py --no-big   # eval table only
    .venv/bin/python bench/bench_refine.py --rembg-big  # also rembg matting at 4000x3000 (~70 s, ~7 GB)
    .venv/bin/python bench/bench_refine.py --no-big --images plain/portrait_hair_1,comp1k/dog_golden
    BGONE_MODEL_DIR=/tmp/bench-models .venv/bin/python bench/bench_refine.py --no-big --model isnet-fp16
    .venv/bin/python bench/bench_refine.py --model isnet-fp16 --model-file .cache/isnet-fp16.onnx

--model NAME (default u2netp) picks the registry recipe (input size, normalisation); the file is
--model-file PATH, else tests' fetch_u2netp() for u2netp, else the installed one (an imported
model such as isnet-fp16 needs the BGONE_MODEL_DIR it was imported into:
`BGONE_MODEL_DIR=/tmp/bench-models bgone models import isnet-fp16 .cache/isnet-fp16.onnx --like
isnet-general-use`; with --model-file, a name unknown to the registry falls back to
isnet-general-use's recipe if it starts with "isnet", else fails).

The model's low-res mask and rembg's matte depend only on the image and the model, so they are
cached per model name: bench/out/cache for u2netp (as before), bench/out/cache/NAME otherwise
(delete it, or pass --no-cache, after changing the model file or rembg). Side-by-side PNGs are
bench/out/KEY_LEVEL.png for u2netp (as before) and bench/out/KEY_NAME_LEVEL.png otherwise.

rembg's matting (alpha_matting_cutout: trimap 240/10, erosion 10, estimate_alpha_cf +
estimate_foreground_ml) runs in .benchvenv (`make benchvenv`) in a child process on the *same* raw mask, so
only the refinement differs. Eval data is read in place from /work/shared/eval (not copied).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT)]
EVAL = Path("/work/shared/eval")
OUT = ROOT / "bench" / "out"
# rembg 2.0.86 lives in its own venv (`make benchvenv`), so its pins never touch ours.
REMBG_PY = os.environ.get("BGONE_BENCH_REMBG_PYTHON", str(ROOT / ".benchvenv/bin/python"))

REMBG_CHILD = r"""
import sys, time, resource, numpy as np
from PIL import Image
from rembg.bg import alpha_matting_cutout
img = Image.open(sys.argv[1]).convert("RGB"); mask = Image.open(sys.argv[2]).convert("L")
t = time.perf_counter()
cut = alpha_matting_cutout(img, mask, 240, 10, 10)
dt = time.perf_counter() - t
Image.fromarray(np.asarray(cut)[:, :, 3]).save(sys.argv[3])
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

LEVEL_CHILD = r"""
import json, sys, time, resource, numpy as np
sys.path[:0] = [sys.argv[4] + "/core"]
from pathlib import Path
from PIL import Image
from bgone import inference, registry
from bgone.upsample import upsample_alpha
from bgone.refine import refine_alpha
import pymatting  # import cost reported separately
rgb = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
t0 = time.perf_counter()
spec = registry.ModelSpec.from_dict(json.loads(sys.argv[5]))
low = inference.predict_lowres(rgb, spec, "cpu", Path(sys.argv[2]))
t1 = time.perf_counter()
c1 = time.process_time()
a = upsample_alpha(low, rgb)
t2 = time.perf_counter()
if sys.argv[3] != "none":
    a = refine_alpha(rgb, a, sys.argv[3])
t3 = time.perf_counter()
c3 = time.process_time()
print(t1 - t0, t2 - t1, t3 - t2, c3 - c1, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def resolve_model(name: str, file: Path | None):
    """(model file, ModelSpec) for --model/--model-file; u2netp without a file is the tests' copy."""
    from dataclasses import replace

    from bgone import registry, store
    from bgone.errors import UnknownModel

    try:
        spec = registry.get_model(name)
    except UnknownModel:
        if file is None or not name.startswith("isnet"):
            raise
        spec = replace(registry.get_model("isnet-general-use"), name=name)
    if file is not None:
        return file.resolve(), spec
    if name == "u2netp":
        from tests.modelfiles import fetch_u2netp

        return fetch_u2netp(), spec
    return store.ensure_model(spec), spec


def load_metrics():
    sys.path.insert(0, str(EVAL))
    from metrics import metrics  # noqa: E402  (scipy: bench-only dependency, via pymatting)

    return metrics


def rembg_matting(rgb: np.ndarray, mask_u8: np.ndarray) -> tuple[np.ndarray, float, int]:
    with tempfile.TemporaryDirectory() as d:
        Image.fromarray(rgb).save(f"{d}/i.png")
        Image.fromarray(mask_u8).save(f"{d}/m.png")
        r = subprocess.run(
            [REMBG_PY, "-c", REMBG_CHILD, f"{d}/i.png", f"{d}/m.png", f"{d}/o.png"],
            capture_output=True,
            text=True,
            check=True,
        )
        dt, rss = r.stdout.split()[-2:]
        return np.asarray(Image.open(f"{d}/o.png"), dtype=np.float32) / 255.0, float(dt), int(rss)


def side_by_side(path: Path, rgb, raw, refined):
    h, w = raw.shape
    red = np.array([255, 0, 0], np.float32)
    cut = refined[..., None] * rgb + (1 - refined[..., None]) * red
    tiles = [
        rgb,
        np.repeat((raw * 255)[..., None], 3, 2),
        np.repeat((refined * 255)[..., None], 3, 2),
        cut,
    ]
    row = np.concatenate([np.clip(t, 0, 255).astype(np.uint8) for t in tiles], axis=1)
    im = Image.fromarray(row)
    im.thumbnail((2400, 2400))
    im.save(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-big", action="store_true")
    ap.add_argument("--no-rembg", action="store_true")
    ap.add_argument("--rembg-big", action="store_true")
    ap.add_argument("--only", default="", help="substring of the image name")
    ap.add_argument("--images", default="", help="comma list: plain/NAME or comp1k/NAME")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument(
        "--levels",
        default="fast,best",
        help="comma list of refine levels; pxN adds best's recipe at N working pixels "
        "(px3000000: native resolution for every eval image)",
    )
    ap.add_argument("--big-only", action="store_true", help="only the 4000x3000 timings")
    ap.add_argument("--model", default="u2netp", help="registry model name (recipe + cache key)")
    ap.add_argument("--model-file", type=Path, default=None, help="ONNX file to run for --model")
    args = ap.parse_args()
    from bgone import inference
    from bgone.pipeline import resize_plain
    from bgone.refine import refine_alpha
    from bgone.upsample import upsample_alpha

    model, spec = resolve_model(args.model, args.model_file)
    print(
        f"model {spec.name} ({spec.family}, input {spec.input_size[0]}x{spec.input_size[1]}) file {model}"
    )
    metrics = load_metrics()
    OUT.mkdir(parents=True, exist_ok=True)
    levels = [lv for lv in args.levels.split(",") if lv]
    add_pixel_levels(levels)
    methods = ["raw", "none", *levels] + ([] if args.no_rembg else ["rembg"])
    wanted = {x.strip() for x in args.images.split(",") if x.strip()}
    cache = OUT / "cache" if args.model == "u2netp" else OUT / "cache" / args.model
    tag = "" if args.model == "u2netp" else f"_{args.model}"
    cache.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[dict]] = {m: [] for m in methods}
    manifest = [] if args.big_only else json.loads((EVAL / "manifest.json").read_text())
    print(
        f"{'image':28s} {'method':6s} {'SAD':>8s} {'MSE':>8s} {'Grad':>7s} {'IoU':>6s} {'time s':>7s}"
    )
    for e in manifest:
        label = f"{e['source'].replace('comp1k_plainbg', 'plain')}/{e['name']}"
        key = label.replace("/", "_")
        if args.only and args.only not in e["name"]:
            continue
        if wanted and label not in wanted:
            continue
        rgb = np.asarray(Image.open(EVAL / e["image"]).convert("RGB"))
        gt = np.asarray(Image.open(EVAL / e["gt"]).convert("L"), dtype=np.float32) / 255.0
        h, w = gt.shape
        lowf = cache / f"low_{key}.npy"
        if lowf.exists() and not args.no_cache:
            low = np.load(lowf)
        else:
            low = inference.predict_lowres(rgb, spec, "cpu", model)
            np.save(lowf, low)
        out = {}
        t = time.perf_counter()
        out["raw"] = resize_plain(low, (w, h))
        times = {"raw": time.perf_counter() - t}
        t = time.perf_counter()
        out["none"] = upsample_alpha(low, rgb)
        times["none"] = time.perf_counter() - t
        for lv in levels:
            t = time.perf_counter()
            out[lv] = refine_alpha(rgb, out["none"], lv)
            times[lv] = times["none"] + time.perf_counter() - t
        if "rembg" in methods:
            rf, tf = cache / f"rembg_{key}.png", cache / f"rembg_{key}.txt"
            if rf.exists() and tf.exists() and not args.no_cache:
                out["rembg"] = np.asarray(Image.open(rf), dtype=np.float32) / 255.0
                times["rembg"] = float(tf.read_text())
            else:
                raw_u8 = (np.clip(out["raw"], 0, 1) * 255 + 0.5).astype(np.uint8)
                out["rembg"], times["rembg"], _ = rembg_matting(rgb, raw_u8)
                Image.fromarray((out["rembg"] * 255 + 0.5).astype(np.uint8)).save(rf)
                tf.write_text(str(times["rembg"]))
        for m in methods:
            r = metrics(out[m], gt) | {"time": times[m], "label": label}
            if m == "raw" and e["name"] in SEE_THROUGH:
                r["empty_grad"] = metrics(np.zeros_like(gt), gt)["grad_k"]
            rows[m].append(r)
            print(
                f"{label:28s} {m:6s} {r['sad_k']:8.2f} {r['mse']:8.4f} {r['grad_k']:7.3f} {r['iou']:6.3f} {r['time']:7.2f}",
                flush=True,
            )
        if e["name"] in ("portrait_hair_1", "glass_water", "dog_golden"):
            for lv in levels:
                side_by_side(OUT / f"{key}{tag}_{lv}.png", rgb, out["raw"], out[lv])
            if "rembg" in out:
                side_by_side(OUT / f"{key}{tag}_rembg.png", rgb, out["raw"], out["rembg"])
    if rows["raw"]:
        print_means(rows, methods)

    if args.no_big:
        return
    big_timings(args, model, spec)


# Subjects the segmentation nets see as solid although the truth is see-through (GT alpha
# 0.1-0.3 inside glass, a mesh of holes in the strainer): no edge refinement can open them, and
# they hold most of the gradient error, so the means are also shown without them.
SEE_THROUGH = ("strainer", "glass_water", "bulb_indoor")


def add_pixel_levels(levels: list[str]) -> None:
    """Register pxN levels: `best`'s recipe (tiles pinned to a coarse whole-image pass) at N
    working pixels, to show what resolution alone buys."""
    from dataclasses import replace

    from bgone import refine

    for lv in levels:
        if lv.startswith("px") and lv[2:].isdigit() and lv not in refine.LEVELS:
            refine.LEVELS[lv] = replace(refine.LEVELS["best"], work_pixels=int(lv[2:]))


def print_means(rows, methods) -> None:
    print("\nMEANS over", len(rows["raw"]), "images; load average", os.getloadavg())
    print(f"{'method':6s} {'SAD':>8s} {'MSE':>8s} {'Grad':>7s} {'IoU':>6s} {'time s':>7s}")
    for m in methods:
        mean = {
            k: float(np.mean([r[k] for r in rows[m]]))
            for k in ("sad_k", "mse", "grad_k", "iou", "time")
        }
        print(
            f"{m:6s} {mean['sad_k']:8.2f} {mean['mse']:8.4f} {mean['grad_k']:7.3f} {mean['iou']:6.3f} {mean['time']:7.2f}"
        )
    print_grad_change(rows, methods)


def grad_change(rows: dict[str, list[dict]], method: str, keep=lambda label: True) -> dict:
    """Gradient error of `method` against the raw model output, three ways: change of the mean
    (what the issue's target reads), mean and median of the per-image changes."""
    pairs = [
        (r["grad_k"], b["grad_k"])
        for r, b in zip(rows["raw"], rows[method], strict=True)
        if keep(r["label"])
    ]
    if not pairs:
        return {"of_mean": 0.0, "mean": 0.0, "median": 0.0}
    raw, new = np.array(pairs).T
    rel = new / np.maximum(raw, 1e-9) - 1
    return {
        "of_mean": float(new.mean() / raw.mean() - 1),
        "mean": float(rel.mean()),
        "median": float(np.median(rel)),
    }


def print_grad_change(rows, methods) -> None:
    see = lambda label: label.split("/")[-1] in SEE_THROUGH  # noqa: E731
    rest = lambda label: not see(label)  # noqa: E731
    print("\nGrad change against raw (%): change of the mean | mean / median of per-image changes")
    print(f"{'method':6s} {'all':>24s} {'hair, fur, thin':>24s} {'see-through':>24s}")
    for m in methods:
        if m == "raw":
            continue
        cells = []
        for keep in (lambda label: True, rest, see):
            c = grad_change(rows, m, keep)
            cells.append(
                f"{100 * c['of_mean']:6.1f} |{100 * c['mean']:6.1f} /{100 * c['median']:6.1f}"
            )
        print(f"{m:6s} {cells[0]:>24s} {cells[1]:>24s} {cells[2]:>24s}")
    n = len(rows["raw"])
    raw_sum = sum(r["grad_k"] for r in rows["raw"])
    if not any(see(r["label"]) for r in rows["raw"]) or all(see(r["label"]) for r in rows["raw"]):
        return  # the floor needs both kinds of image
    for m in methods:
        if m in ("raw", "none"):
            continue
        st = sum(r["grad_k"] for r in rows[m] if see(r["label"]))
        print(
            f"floor for {m}: with every other image perfect (grad 0), the mean would be "
            f"{st / n:.3f}, {100 * (st / raw_sum - 1):.1f} % against raw"
        )
    for r in rows["raw"]:
        if see(r["label"]):
            print(
                f"  {r['label']:24s} raw grad {r['grad_k']:.3f}, an empty mask "
                f"{r['empty_grad']:.3f}: the net's mask keeps "
                f"{100 * r['grad_k'] / r['empty_grad']:.0f} % of an empty mask's error"
            )


def big_timings(args, model, spec) -> None:
    from bgone import inference
    from bgone.pipeline import resize_plain

    print(
        f"\n{spec.name}: 4000x3000 (portrait_hair_1 upscaled), each level in a fresh process; peak RSS of that process"
    )
    src = EVAL / "comp1k/images/portrait_hair_1.png"
    with tempfile.TemporaryDirectory() as d:
        big = Image.open(src).convert("RGB").resize((4000, 3000), Image.BICUBIC)
        big.save(f"{d}/big.png", compress_level=1)
        for lv in ("none", "fast", "best"):
            r = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    LEVEL_CHILD,
                    f"{d}/big.png",
                    str(model),
                    lv,
                    str(ROOT),
                    json.dumps(spec.to_dict()),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            tm, tu, tr, cpu, rss = r.stdout.split()[-5:]
            print(
                f"{lv:6s} model {float(tm):5.2f} s  upsample {float(tu):5.2f} s  refine {float(tr):5.2f} s  beyond-model {float(tu) + float(tr):5.2f} s (cpu {float(cpu):5.2f} s)  peak RSS {int(rss) / 1024:6.0f} MiB  load {os.getloadavg()[0]:.2f}"
            )
        if args.rembg_big:
            low = inference.predict_lowres(np.asarray(big), spec, "cpu", model)
            raw_u8 = (np.clip(resize_plain(low, (4000, 3000)), 0, 1) * 255 + 0.5).astype(np.uint8)
            _, dt, rss = rembg_matting(np.asarray(big), raw_u8)
            print(f"rembg  matting {dt:5.2f} s  peak RSS {rss / 1024:6.0f} MiB")
        else:
            print(
                "rembg  matting: not run (--rembg-big); /work/shared/eval/README.md: ~72 s, 6.7 GB"
            )
    print(
        f"side-by-side PNGs in {OUT}; run peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()

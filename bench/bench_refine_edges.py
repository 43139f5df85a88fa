"""Refine Edges benchmark (issue 13): `refine_mask` on /work/shared/eval from two starting masks.

    .venv/bin/python bench/bench_refine_edges.py            # eval tables + 12 MP timings + crops
    .venv/bin/python bench/bench_refine_edges.py --no-big   # eval tables and crops only
    .venv/bin/python bench/bench_refine_edges.py --big-only

Starting points:
  (a) the truth thresholded at 0.5: hard edges exactly where a careful user would paint them;
  (b) bgone's own `--refine none` mask with u2netp (predict_alpha's path: predict_lowres, then
      upsample_alpha_u8; the model's low-res output is cached in bench/out/cache like
      bench_refine.py's).
For each, a table per image (gradient error, SAD, IoU before -> after, time) and the means, with
the issue's targets marked met / NOT met. 12 MP: a full-image refine and a refine of a region of
10 % of the image, each in a fresh process (peak RSS of that process). Crops (input, starting
mask, refined mask, cutout on red) for a hair and a fur image go to bench/out/edges_*.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT), str(ROOT / "bench")]
from bench_refine import EVAL, OUT, load_metrics, resolve_model  # noqa: E402

HAIR_FUR_THIN = ("portrait_hair_1", "dog_golden", "teddy_bear", "dandelion")
CROPS = {"comp1k/portrait_hair_1": "hair", "comp1k/dog_golden": "fur"}

BIG_CHILD = r"""
import sys, time, resource, numpy as np
sys.path[:0] = [sys.argv[1] + "/core"]
from PIL import Image
import pymatting  # import cost (numba) is not the refine's: reported apart
from bgone.refine_edges import refine_mask
rgb = np.asarray(Image.open(sys.argv[2]).convert("RGB"))
mask = np.asarray(Image.open(sys.argv[3]).convert("L"))
if sys.argv[4] == "adjust":
    from bgone.adjust import adjust_mask
    t = time.perf_counter()
    out = adjust_mask(mask, grow=3, feather=4, min_island=500, min_hole=500)
    dt = time.perf_counter() - t
    print(dt, int((out != mask).sum()), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    sys.exit()
region = None
if sys.argv[4] != "-":
    x, y, w, h = map(int, sys.argv[4].split(","))
    region = np.zeros(mask.shape, bool); region[y:y + h, x:x + w] = True
t = time.perf_counter()
out = refine_mask(rgb, mask, region=region)
dt = time.perf_counter() - t
changed = int((out != mask).sum())
print(dt, changed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def start_b(rgb: np.ndarray, key: str, spec, model: Path) -> np.ndarray:
    """bgone's `--refine none` mask: the model's low-res mask (cached), then the 8-bit upsample."""
    from bgone import inference, preprocess
    from bgone.upsample import upsample_alpha_u8

    cache = OUT / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    lowf = cache / f"low_{key}.npy"
    if lowf.exists():
        low = np.load(lowf)
    else:
        low = inference.predict_lowres(rgb, spec, "cpu", model)
        np.save(lowf, low)
    return upsample_alpha_u8(low, rgb, preprocess.as_image(rgb))


def crop_box(start: np.ndarray, gt: np.ndarray, side: int = 600) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): the side x side window where the starting mask is furthest from the
    truth (where a refine has the most to do)."""
    from bgone.grid import box_mean

    h, w = start.shape
    side = min(side, h, w)
    change = box_mean(np.abs(start / np.float32(255) - gt)[::8, ::8], max(1, side // 16))
    y, x = np.unravel_index(int(np.argmax(change)), change.shape)
    y0 = int(np.clip(y * 8 - side // 2, 0, h - side))
    x0 = int(np.clip(x * 8 - side // 2, 0, w - side))
    return y0, y0 + side, x0, x0 + side


def write_crops(
    path: Path, rgb: np.ndarray, start: np.ndarray, refined: np.ndarray, gt: np.ndarray
) -> None:
    """input | starting mask | refined mask | decontaminated cutout on red."""
    from bgone.pipeline import cutout

    y0, y1, x0, x1 = crop_box(start, gt)
    rgb_c, s_c, r_c = rgb[y0:y1, x0:x1], start[y0:y1, x0:x1], refined[y0:y1, x0:x1]
    cut = cutout(rgb_c, r_c).astype(np.float32)
    a = cut[..., 3:4] / 255.0
    on_red = a * cut[..., :3] + (1 - a) * np.array([255, 0, 0], np.float32)
    grey = lambda m: np.repeat(m[..., None], 3, axis=2)  # noqa: E731
    row = np.concatenate(
        [rgb_c, grey(s_c), grey(r_c), np.clip(on_red + 0.5, 0, 255).astype(np.uint8)], 1
    )
    Image.fromarray(row).save(path)


def eval_tables(args) -> None:
    from bgone.refine_edges import refine_mask

    model, spec = resolve_model("u2netp", None)
    metrics = load_metrics()
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((EVAL / "manifest.json").read_text())
    rows: dict[str, list[dict]] = {"a": [], "b": []}
    for e in manifest:
        label = f"{e['source'].replace('comp1k_plainbg', 'plain')}/{e['name']}"
        if args.only and args.only not in label:
            continue
        key = label.replace("/", "_")
        rgb = np.asarray(Image.open(EVAL / e["image"]).convert("RGB"))
        gt = np.asarray(Image.open(EVAL / e["gt"]).convert("L"), dtype=np.float32) / 255.0
        starts = {
            "a": np.where(gt >= 0.5, 255, 0).astype(np.uint8),
            "b": start_b(rgb, key, spec, model),
        }
        for s, m0 in starts.items():
            t = time.perf_counter()
            out = refine_mask(rgb, m0)
            dt = time.perf_counter() - t
            r0 = metrics(m0 / np.float32(255), gt)
            r1 = metrics(out / np.float32(255), gt)
            rows[s].append(
                {"label": label, "name": e["name"], "before": r0, "after": r1, "time": dt}
            )
            if label in CROPS:
                write_crops(OUT / f"edges_{CROPS[label]}_{key}_start-{s}.png", rgb, m0, out, gt)
    for s, title in (("a", "truth thresholded at 0.5"), ("b", "bgone --refine none (u2netp)")):
        print_table(rows[s], f"({s}) start: {title}")
    print_targets(rows)


def print_table(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    print(f"{'image':26s} {'grad':>15s} {'chg':>6s} {'SAD':>15s} {'IoU':>13s} {'time s':>7s}")
    for r in rows:
        b, a = r["before"], r["after"]
        print(
            f"{r['label']:26s} {b['grad_k']:6.3f} -> {a['grad_k']:5.3f} "
            f"{100 * (a['grad_k'] / b['grad_k'] - 1):+5.0f}% {b['sad_k']:6.1f} -> {a['sad_k']:5.1f} "
            f"{b['iou']:5.3f} -> {a['iou']:5.3f} {r['time']:7.2f}"
        )
    for name, keep in (("MEAN all", lambda r: True), ("MEAN hair/fur/thin", hft)):
        sel = [r for r in rows if keep(r)]
        if not sel:
            continue

        def m(k: str, w: str, sel: list[dict] = sel) -> float:
            return float(np.mean([r[w][k] for r in sel]))

        print(
            f"{name:26s} {m('grad_k', 'before'):6.3f} -> {m('grad_k', 'after'):5.3f} "
            f"{100 * (m('grad_k', 'after') / m('grad_k', 'before') - 1):+5.1f}% "
            f"{m('sad_k', 'before'):6.1f} -> {m('sad_k', 'after'):5.1f} "
            f"{m('iou', 'before'):5.3f} -> {m('iou', 'after'):5.3f} "
            f"{np.mean([r['time'] for r in sel]):7.2f}  (n={len(sel)})"
        )


def hft(r: dict) -> bool:
    return r["name"] in HAIR_FUR_THIN


def print_targets(rows: dict[str, list[dict]]) -> None:
    def mean(s, k, w, keep=lambda r: True):
        return float(np.mean([r[w][k] for r in rows[s] if keep(r)]))

    def change(s, keep=lambda r: True):
        return mean(s, "grad_k", "after", keep) / mean(s, "grad_k", "before", keep) - 1

    def harmed(s):
        return sum(r["after"]["grad_k"] > 1.05 * r["before"]["grad_k"] for r in rows[s])

    if not rows["a"] or not rows["b"]:
        return
    checks = [
        ("(a) hair/fur/thin mean grad >= 55 % lower", 100 * change("a", hft), change("a", hft) <= -0.55),
        ("(b) hair/fur/thin mean grad lower", 100 * change("b", hft), change("b", hft) < 0),
        ("(a) all mean grad >= 15 % lower", 100 * change("a"), change("a") <= -0.15),
        ("(b) all mean grad lower", 100 * change("b"), change("b") < 0),
        ("(a) mean SAD lower", mean("a", "sad_k", "after") - mean("a", "sad_k", "before"),
         mean("a", "sad_k", "after") < mean("a", "sad_k", "before")),
        ("(b) mean SAD lower", mean("b", "sad_k", "after") - mean("b", "sad_k", "before"),
         mean("b", "sad_k", "after") < mean("b", "sad_k", "before")),
        ("(a) mean IoU >= 0.97", mean("a", "iou", "after"), mean("a", "iou", "after") >= 0.97),
        ("(b) mean IoU at most 0.01 lower", mean("b", "iou", "after") - mean("b", "iou", "before"),
         mean("b", "iou", "after") >= mean("b", "iou", "before") - 0.01),
        ("(a) images with grad up > 5 % (<= 2)", harmed("a"), harmed("a") <= 2),
        ("(b) images with grad up > 5 % (<= 2)", harmed("b"), harmed("b") <= 2),
    ]  # fmt: skip
    print(f"\nTargets (n = {len(rows['a'])} images; load average {os.getloadavg()[0]:.2f})")
    for text, value, ok in checks:
        print(f"  {text:44s} {value:+9.3f}  {'met' if ok else 'NOT met'}")


def big_timings() -> None:
    """12 MP: full-image refine and a 10 % region, each in a fresh process."""
    src, gt = EVAL / "comp1k/images/portrait_hair_1.png", EVAL / "comp1k/gt/portrait_hair_1.png"
    W, H = 4000, 3000
    print(f"\n{W}x{H} (portrait_hair_1 upscaled, start: truth thresholded), fresh process each")
    with tempfile.TemporaryDirectory() as d:
        Image.open(src).convert("RGB").resize((W, H), Image.BICUBIC).save(
            f"{d}/big.png", compress_level=1
        )
        g = Image.open(gt).convert("L").resize((W, H), Image.BICUBIC)
        Image.fromarray(np.where(np.asarray(g) >= 128, 255, 0).astype(np.uint8)).save(
            f"{d}/mask.png"
        )
        rw, rh = round(W * 0.316), round(H * 0.316)  # 10 % of the area, over the top of the hair
        region = f"{(W - rw) // 2},{round(H * 0.05)},{rw},{rh}"
        runs = (
            ("full image", "-"),
            (f"region {rw}x{rh} (10 %)", region),
            ("adjust: grow 3, feather 4, <500px", "adjust"),
        )
        for name, reg in runs:
            r = subprocess.run(
                [sys.executable, "-c", BIG_CHILD, str(ROOT), f"{d}/big.png", f"{d}/mask.png", reg],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            dt, changed, rss = r.stdout.split()[-3:]
            print(
                f"  {name:34s} {float(dt):6.2f} s  pixels changed {int(changed):9d}  "
                f"peak RSS {int(rss) / 1024:6.0f} MiB  load {os.getloadavg()[0]:.2f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-big", action="store_true", help="skip the 12 MP timings")
    ap.add_argument("--big-only", action="store_true", help="only the 12 MP timings")
    ap.add_argument("--only", default="", help="substring of plain/NAME or comp1k/NAME")
    args = ap.parse_args()
    if not args.big_only:
        eval_tables(args)
        print(f"\ncrops: {OUT}/edges_*.png")
    if not args.no_big:
        big_timings()


if __name__ == "__main__":
    main()

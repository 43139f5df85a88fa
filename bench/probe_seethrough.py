"""How far can matting go on see-through subjects if cost is no object? (issue 3's ceiling)

The nets call the strainer's mesh, the glass of water and the bulb solid. This probe hands
closed-form matting the most generous problem it can get from the net's mask: the working grid
at up to --pixels (default: native resolution), one untiled solve over the whole image, and
an unknown region that swallows the whole subject except a core eroded by --erode of the long
side (sure background stays where the net put it). It prints the gradient error next to the raw
mask, `best`, and an empty mask, so the distance left to the truth is plain.

    .venv/bin/python bench/probe_seethrough.py                   # 6 images, ~25 s each
    .venv/bin/python bench/probe_seethrough.py --images plain/strainer --pixels 500000

Uses the low-res masks bench_refine.py caches in bench/out/cache (run it first).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "bench")]
from bench_refine import EVAL, OUT, SEE_THROUGH, load_metrics  # noqa: E402

DEFAULT = ",".join(f"{s}/{n}" for n in SEE_THROUGH for s in ("plain", "comp1k"))


def wide_trimap(tri: np.ndarray, erode: float) -> np.ndarray:
    """Keep sure background; sure foreground only deep inside the subject; the rest unknown."""
    from bgone.trimap import erode as erode_mask

    r = max(1, round(erode * max(tri.shape)))
    fg = erode_mask(tri == 1, r)
    return np.where(tri == 0, 0.0, np.where(fg, 1.0, 0.5)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", default=DEFAULT, help="comma list: plain/NAME or comp1k/NAME")
    ap.add_argument("--pixels", type=int, default=12_000_000, help="working-grid bound")
    ap.add_argument("--erode", type=float, default=0.1, help="sure-fg erosion, fraction of side")
    args = ap.parse_args()
    from bgone import refine
    from bgone.pipeline import resize_plain
    from bgone.upsample import upsample_alpha

    metrics = load_metrics()
    print(f"{'image':24s} {'raw':>6s} {'best':>6s} {'probe':>6s} {'empty':>6s}  probe IoU  solve s")
    for label in args.images.split(","):
        src, name = label.split("/")
        folder = "comp1k_plainbg" if src == "plain" else "comp1k"
        rgb = np.asarray(Image.open(EVAL / folder / "images" / f"{name}.png").convert("RGB"))
        gt = np.asarray(Image.open(EVAL / folder / "gt" / f"{name}.png").convert("L"), np.float32)
        gt /= 255.0
        cached = OUT / "cache" / f"low_{src}_{name}.npy"
        if not cached.exists():
            sys.exit(f"{cached} missing: run bench/bench_refine.py --no-big first")
        low = np.load(cached)
        h, w = gt.shape
        raw = resize_plain(low, (w, h))
        none = upsample_alpha(low, rgb)
        best = refine.refine_alpha(rgb, none, "best")
        img_s, tri, a_s = refine._working(rgb, none, args.pixels)
        tri = wide_trimap(tri, args.erode)
        t = time.perf_counter()
        m = refine.matte_tiled(img_s, tri, a_s, 1 << 20, 0, 1e-5, 400, 3e-3, 1e-3)
        dt = time.perf_counter() - t
        m = refine.blend_matte(rgb, none.copy(), img_s, m, tri == 0.5)  # as refine_alpha does
        g = {k: metrics(v, gt) for k, v in (("raw", raw), ("best", best), ("probe", m))}
        empty = metrics(np.zeros_like(gt), gt)["grad_k"]
        print(
            f"{label:24s} {g['raw']['grad_k']:6.3f} {g['best']['grad_k']:6.3f} "
            f"{g['probe']['grad_k']:6.3f} {empty:6.3f}  {g['probe']['iou']:.3f} "
            f"(best {g['best']['iou']:.3f})  {dt:6.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

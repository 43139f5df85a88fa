#!/usr/bin/env python3
"""Quality of the product's own path (pipeline.predict_alpha, 8-bit, as every front end gets it)
on the evaluation set, per refinement level, against the ground-truth mattes.

    BGONE_SHARED=/work/shared .venv/bin/python bench/bench_levels_eval.py [--levels none,fast] [--compare-snap]

--compare-snap also runs each level with composite.snap_alpha switched off (alpha 1-2 and
253-254 kept), the measurement behind INVISIBLE = 2. Prints SAD (sum |a - gt| / 1000) and
MSE x 1e3 per image and their means. Eval images are read in place, never copied.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
EVAL = Path(os.environ.get("BGONE_SHARED", ROOT.parent / "shared")) / "eval"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", default="none,fast")
    ap.add_argument("--model", default="u2netp")
    ap.add_argument("--compare-snap", action="store_true")
    a = ap.parse_args()
    from bgone import composite, pipeline

    snap = composite.snap_alpha
    variants = {"snap": snap, "no snap": lambda x: x} if a.compare_snap else {"": snap}
    items = json.loads((EVAL / "manifest.json").read_text())
    levels = a.levels.split(",")
    scores: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for e in items:
        gt = np.asarray(Image.open(EVAL / e["gt"]).convert("L"), np.float32) / 255
        rgb = np.asarray(Image.open(EVAL / e["image"]).convert("RGB"))
        for level in levels:
            for name, fn in variants.items():
                composite.snap_alpha = fn
                alpha = pipeline.predict_alpha(rgb, a.model, level).astype(np.float32) / 255
                s = (float(np.abs(alpha - gt).sum() / 1000), float(((alpha - gt) ** 2).mean() * 1000))
                scores.setdefault((level, name), []).append(s)
                print(f"{e['image']:44s} {level:5s} {name:8s} SAD {s[0]:8.2f}  MSE*1e3 {s[1]:8.3f}", flush=True)
    composite.snap_alpha = snap
    print(f"\nmeans over {len(items)} images, model {a.model}:")
    for (level, name), v in scores.items():
        m = np.mean(v, axis=0)
        print(f"  {level:5s} {name:8s} SAD {m[0]:8.2f}  MSE*1e3 {m[1]:8.3f}")


if __name__ == "__main__":
    main()

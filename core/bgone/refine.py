"""Alpha matting on the region the net is unsure about.

rembg's recipe (full-image closed-form matting with a wide trimap) is what wins on hair and fur,
but at 12 MP it costs ~70 s and ~7 GB because it builds a Laplacian for every pixel. Here the
same solve runs (a) at a bounded working resolution, (b) only on crops that hold unknown pixels
(most of a photo is sure fg/bg), (c) with pymatting's own closed-form solver (ichol-
preconditioned CG, converged to a real tolerance: an early stop leaves the net's blur in place).
The low-res matte comes back to full resolution through the guided filter with the full-res
image as guide (edge-aware), and is blended in only inside the unknown region.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .errors import BgoneError, Cancelled
from .grid import TileSampler, box_mean, each_part, resize_f32, work_size
from .pymatting_kernels import kernel
from .trimap import band_radius, make_trimap
from .upsample import guided_coefficients


@dataclass(frozen=True)
class Level:
    work_pixels: int  # matting resolution bound: the main cost/quality knob
    tile: int = 384  # crop core side at working resolution (ichol cost grows with crop width)
    margin: int = 24  # context around each crop so tiles agree where they meet
    rtol: float = 1e-5  # CG tolerance (ichol-preconditioned: a handful of iterations)
    maxiter: int = 400
    drop: float = 1e-4  # ichol discard threshold: larger = sparser factor, cheaper, more CG steps
    coarse: int = 0  # >0: first a global pass at this many pixels, pinning the tiles' borders
    shift: float = 0.0  # first ichol diagonal shift (each failed try costs a factorisation)


UP_EPS = 1e-3  # guided upsample of the matte: smaller follows the image, too small adds noise
BLEND_R = 2  # blend weight softening (working pixels) so no seam shows at the unknown boundary

# Measured on the 14-image eval set (bench/bench_refine.py): the means barely move between 80k
# and 1 MP working pixels (SAD 347.9-348.7), while the 12 MP cost grows superlinearly (ichol), so
# `fast` works small. At high resolution, tiles cut through wide unknown regions and drift where
# their crop holds no constraint (teddy fur: IoU 0.99 -> 0.96); `best` therefore pins each tile's
# border to a coarse global pass first. drop/shift: sparser ichol, no failed factorisations.
LEVELS_BASE = {"tile": 160, "margin": 24, "drop": 3e-3, "shift": 1e-3}
LEVELS: dict[str, Level] = {
    "fast": Level(work_pixels=150_000, **LEVELS_BASE),
    "best": Level(work_pixels=500_000, coarse=150_000, tile=256, margin=32, drop=3e-3, shift=1e-3),
}


def _check(cancel: Any) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def _pcg(
    A: Any, b: np.ndarray, M: Callable, x: np.ndarray, rtol: float, maxiter: int
) -> np.ndarray:
    """Preconditioned CG without BLAS dot products: OpenBLAS's threaded ddot busy-waits on a loaded
    machine (measured 0.9 s of 2 s on a 2-core box under test load); elementwise sums do not."""
    r = b - A @ x
    bnorm = np.sqrt(np.add.reduce(b * b)) or 1.0
    z = M(r)
    p = z.copy()
    rz = np.add.reduce(r * z)
    for _ in range(maxiter):
        if np.sqrt(np.add.reduce(r * r)) <= rtol * bnorm:
            break
        Ap = A @ p
        pAp = np.add.reduce(p * Ap)
        if pAp <= 0:
            break
        step = rz / pAp
        x += step * p
        r -= step * Ap
        z = M(r)
        rz_new = np.add.reduce(r * z)
        p *= rz_new / rz
        p += z
        rz = rz_new
    return x


def _matte(
    crop: np.ndarray,
    tri: np.ndarray,
    init: np.ndarray | None = None,
    rtol: float = 1e-5,
    maxiter: int = 400,
    drop: float = 1e-4,
    shift: float = 0.0,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """Closed-form matting (Levin et al.) on one crop, pymatting's estimate_alpha_cf recipe:
    Laplacian (windows that are all-known skipped), split into unknown/known blocks, solve
    L_U x = -R a_K by ichol-preconditioned CG to `rtol`, warm-started from `init`.

    pymatting print()s warnings (ichol retries with a shift); stdout is the worker's protocol
    channel, so it is muted. `fixed` (bool, crop-sized) pins unknown pixels to `init` too
    (Dirichlet boundary of a tile, taken from a coarser global solve).
    """
    cf_laplacian, ichol = kernel("cf_laplacian"), kernel("ichol")  # numba: loaded on first use

    tri64 = tri.astype(np.float64)
    if fixed is not None and init is not None:
        tri64 = np.where(fixed & (tri == 0.5), init, tri64)
        unknown = ((tri == 0.5) & ~fixed).ravel()
    else:
        unknown = (tri == 0.5).ravel()
    known = ~unknown
    with contextlib.redirect_stdout(io.StringIO()):
        L = cf_laplacian(crop.astype(np.float64) * (1.0 / 255.0), is_known=known.reshape(tri.shape))
        Lu = L[unknown]
        A = Lu[:, unknown].tocsr()
        b = -(Lu[:, known] @ tri64.ravel()[known])
        shifts = [s for s in (0.0, 1e-4, 1e-3, 1e-2, 0.1, 0.5, 1.0, 10.0, 100.0) if s >= shift]
        M = ichol(A, discard_threshold=drop, shifts=shifts)
        x0 = (init.ravel()[unknown] if init is not None else np.full(A.shape[0], 0.5)).astype(
            np.float64
        )
        x = _pcg(A, b, M, x0, rtol, maxiter)
    a = tri64.ravel().copy()
    a[unknown] = x
    return np.clip(a, 0.0, 1.0).reshape(tri.shape).astype(np.float32)


def matte_tiled(
    image: np.ndarray,
    trimap: np.ndarray,
    init: np.ndarray,
    tile: int,
    margin: int,
    rtol: float = 1e-5,
    maxiter: int = 400,
    drop: float = 1e-4,
    shift: float = 0.0,
    progress: Callable[[float], None] | None = None,
    cancel: Any = None,
    ring: bool = False,
) -> np.ndarray:
    """Matte every tile that holds unknown pixels; a crop = tile + margin of context.

    Sure pixels get the trimap's value. A crop with no sure foreground or no sure background has
    no matting solution worth having (the Laplacian's null space gives a constant), so its
    unknown pixels keep `init`. With `ring`, `init` is a coarse global solution and each crop's
    outer ring (where it is cut out of the image) is pinned to it: a tile then cannot drift where
    its own context holds no constraint (seen on fur/hair at high resolution: SAD +50 %).
    """
    h, w = trimap.shape
    out = np.where(trimap == 0.5, init, trimap).astype(np.float32)
    unknown = trimap == 0.5
    jobs = []
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(h, y0 + tile), min(w, x0 + tile)
            if unknown[y0:y1, x0:x1].any():
                jobs.append((y0, y1, x0, x1))
    for i, (y0, y1, x0, x1) in enumerate(jobs):
        _check(cancel)
        for m in (margin, 2 * margin, 4 * margin):  # widen the context until both sides are seen
            cy0, cy1 = max(0, y0 - m), min(h, y1 + m)
            cx0, cx1 = max(0, x0 - m), min(w, x1 + m)
            tri = trimap[cy0:cy1, cx0:cx1]
            if (tri == 1).any() and (tri == 0).any():
                break
        if (tri == 1).any() and (tri == 0).any() and min(tri.shape) >= 3:
            fixed = None
            if ring:
                fixed = np.zeros(tri.shape, bool)
                fixed[0, :] |= cy0 > 0
                fixed[-1, :] |= cy1 < h
                fixed[:, 0] |= cx0 > 0
                fixed[:, -1] |= cx1 < w
            a = _matte(
                image[cy0:cy1, cx0:cx1],
                tri,
                init[cy0:cy1, cx0:cx1],
                rtol,
                maxiter,
                drop,
                shift,
                fixed,
            )
            core = a[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
            u = unknown[y0:y1, x0:x1]
            out[y0:y1, x0:x1][u] = core[u]
        if progress is not None:
            progress((i + 1) / len(jobs))
    return out


def _blend_up(
    image: np.ndarray, alpha: np.ndarray, coef: np.ndarray, tile: int = 256
) -> np.ndarray:
    """alpha + w * (a.I + b - alpha) at full res, in place on `alpha`, from the working-grid
    (h2,w2,5) stack [a_r, a_g, a_b, b, w]; tiles whose weight is zero are skipped (most of a
    photo), so the cost follows the unknown region, not the megapixels; the tiles go to all
    cores (tiles, not grid.runs: a many-pass step, 0.18 s on tiles against 0.19 s on runs and
    0.26 s on one core at 12 MP, `fast`). Pillow's resize(box=...) samples a tile exactly as a
    whole-image resize would: no seams."""
    H, W = alpha.shape
    sampler = TileSampler(coef, H, W)
    inv = np.float32(1 / 255)

    def one(y0: int, y1: int, x0: int, x1: int) -> None:
        t = sampler.channels(y0, y1, x0, x1)
        g = image[y0:y1, x0:x1]
        up = t[3].copy()
        for c in range(3):
            up += t[c] * g[..., c] * inv
        np.clip(up, 0.0, 1.0, out=up)
        a = alpha[y0:y1, x0:x1]
        a += t[4] * (up - a)

    each_part(one, sampler.active_tiles(coef[..., 4] > 0, tile))
    return alpha


# (alpha on the working grid, full-res (H, W)) -> trimap 0 / 0.5 / 1; a known pixel
# may also carry a soft value (0 < v < 1, never 0.5), which the solve then keeps as a constraint.
Trimapper = Callable[[np.ndarray, tuple[int, int]], np.ndarray]
# (working image, trimap) -> how far to trust the matte per working pixel, 0..1
Trust = Callable[[np.ndarray, np.ndarray], np.ndarray]


def net_trimap(alpha_s: np.ndarray, full: tuple[int, int]) -> np.ndarray:
    """The model mask's trimap: its own uncertainty plus a margin set by the full-res size
    (expressed in working pixels)."""
    radius = max(1, round(band_radius(full) * alpha_s.shape[0] / full[0]))
    return make_trimap(alpha_s, radius)


def _working(
    image: np.ndarray, alpha: np.ndarray, pixels: int, trimap: Trimapper = net_trimap
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image, trimap, alpha) on the working grid of at most `pixels` pixels."""
    H, W = alpha.shape
    h2, w2 = work_size(H, W, pixels)
    if (h2, w2) == (H, W):
        img_s, a_s = image, alpha
    else:
        img_s = np.asarray(Image.fromarray(image).resize((w2, h2), Image.BILINEAR))
        a_s = resize_f32(alpha, (w2, h2))
    return img_s, trimap(a_s, (H, W)), a_s


def refine_alpha(
    image: np.ndarray,
    alpha: np.ndarray,
    level: str = "fast",
    progress: Callable[[str, float], None] | None = None,
    cancel: Any = None,
    trimap: Trimapper = net_trimap,
    trust: Trust | None = None,
) -> np.ndarray:
    """Full-res alpha (H,W) float32 0..1 with the uncertain region re-estimated by matting.

    ``trimap`` builds the unknown region on the working grid (default: the model mask's own
    uncertainty); ``trust`` scales the blend of the matte where matting is not to be believed.
    """
    if level not in LEVELS:
        raise BgoneError(
            f"Unknown refinement level {level!r}.",
            f"Use one of: {', '.join(LEVELS)}.",
            kind="bad_argument",
        )
    cfg = LEVELS[level]
    report = progress or (lambda stage, fraction: None)
    alpha = np.clip(np.asarray(alpha, dtype=np.float32), 0.0, 1.0)
    image = np.ascontiguousarray(np.asarray(image)[..., :3], dtype=np.uint8)
    H, W = alpha.shape
    report("refine", 0.0)
    _check(cancel)
    if min(H, W) < 8:
        report("refine", 1.0)
        return alpha.copy()
    img_s, tri, a_s = _working(image, alpha, cfg.work_pixels, trimap)
    unknown = tri == 0.5
    if not unknown.any() or not (tri == 1).any() or not (tri == 0).any():
        report("refine", 1.0)
        return alpha.copy()
    h2, w2 = tri.shape
    ring = False
    split = 0.0
    if 0 < cfg.coarse < cfg.work_pixels:
        c = Level(cfg.coarse, **{**LEVELS_BASE, "rtol": cfg.rtol, "maxiter": cfg.maxiter})
        ci, ct, ca = _working(image, alpha, c.work_pixels, trimap)
        if (ct == 0.5).any() and (ct == 1).any() and (ct == 0).any():
            split = 0.25
            cm = matte_tiled(
                ci, ct, ca, c.tile, c.margin, c.rtol, c.maxiter, c.drop, c.shift,
                progress=lambda f: report("refine", split * f), cancel=cancel,
            )  # fmt: skip
            a_s = np.where(unknown, resize_f32(cm, (w2, h2)), a_s)
            ring = True
    matted = matte_tiled(
        img_s,
        tri,
        a_s,
        cfg.tile,
        cfg.margin,
        cfg.rtol,
        cfg.maxiter,
        cfg.drop,
        cfg.shift,
        progress=lambda f: report("refine", split + (0.95 - split) * f),
        cancel=cancel,
        ring=ring,
    )
    _check(cancel)
    weight = None if trust is None else trust(img_s, tri)
    out = blend_matte(image, alpha, img_s, matted, unknown, weight)
    report("refine", 1.0)
    return out


def blend_matte(
    image: np.ndarray,
    alpha: np.ndarray,
    img_s: np.ndarray,
    matted: np.ndarray,
    unknown: np.ndarray,
    trust: np.ndarray | None = None,
) -> np.ndarray:
    """The working-grid matte blended into the full-res alpha (in place) inside `unknown`,
    scaled by ``trust`` (0..1 on the working grid) where given."""
    # soft blend weight: 1 inside the unknown region, fading over a few pixels so no seam shows
    weight = box_mean(unknown.astype(np.float32), BLEND_R)
    if trust is not None:
        weight *= trust
    if matted.shape != alpha.shape:
        # edge-aware return to full res: guided-filter coefficients of the matte on the working
        # grid, applied with the full-res image as guide (the detail follows its edges)
        g_s = img_s.astype(np.float32) * np.float32(1 / 255)
        a, b = guided_coefficients(g_s, matted, 1, UP_EPS)
        coef = np.concatenate([a, b[..., None], weight[..., None]], axis=2)
        out = _blend_up(image, alpha, coef)
    else:
        out = alpha + weight * (matted - alpha)
    np.clip(out, 0.0, 1.0, out=out)
    return out.astype(np.float32, copy=False)


__all__ = ["refine_alpha", "blend_matte", "net_trimap", "LEVELS", "Level", "matte_tiled"]

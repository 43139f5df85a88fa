"""Colour decontamination: re-estimate foreground colour where alpha is fractional.

An edge pixel is a mix F*a + B*(1-a); keeping the observed colour puts a halo of the old
background on any new one. Only pixels with 0 < alpha < 1 are mixes, so only they change.

Two estimators, both solved at a bounded working resolution (WORK_PIXELS) and applied at full
resolution only in tiles that hold soft pixels:

- "blur" (default): blur fusion, Forte & Pitie 2021, "Approximate Fast Foreground Colour
  Estimation" (ICIP). Local means of the foreground and background colours,
  F^ = box(F*a)/box(a) and B^ = box(B*(1-a))/box(1-a), are corrected per pixel so the
  compositing equation holds: F = F^ + a*(I - a*F^ - (1-a)*B^). The paper runs two passes, a
  wide one (F = B = I) and a narrow one on its F and B^; here a cascade of halving boxes, each
  fed the previous F and B (B = B^ + (1-a)*(I - a*F^ - (1-a)*B^)), which measured on par with
  "ml" on Composition-1k where the two-pass version had ~70% more error. Box filters by cumulative sums, numpy only: no
  numba compile, no pymatting import. The means F^, B^ are smooth, so they are what gets
  upsampled; the last step uses the full-resolution I and alpha.
- "ml": pymatting's multi-level solver (estimate_foreground_ml, numba) on crops around the soft
  band; its correction F - I is solved small and upsampled.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from PIL import Image

from .composite import INVISIBLE
from .grid import TileSampler, box_mean, each_part, resize_f32, work_size
from .pymatting_kernels import kernel

METHODS = ("blur", "ml")
# Pixels re-estimated: alpha 3..252 of 255. Beyond, the fix cannot show (composite.INVISIBLE): at
# alpha >= 253 it moves a colour by at most 2 levels, at alpha <= 2 the pixel adds under 1% of
# itself to a composite. A model's upsampled mask has faint values over much of the frame (30% of
# a 12 MP photo with u2netp, against 6% inside 3..252), so this bound is most of the cost.
SOFT_LO, SOFT_HI = INVISIBLE + 1, 255 - INVISIBLE - 1
DEFAULT_METHOD = "blur"
WORK_PIXELS = 1_000_000  # ml: estimates are smooth, solved small and upsampled
# blur: mean error 2.40 at 1 MP, 2.61 at 0.4 MP, 2.75 at 0.25 MP (ml at 1 MP: 2.87), in
# 0.42 / 0.21 / 0.15 s per image (bench/bench_foreground.py, protocol B): the cheapest that
# still beats ml.
BLUR_WORK_PIXELS = 250_000
APPLY_TILE = 256
TILE = 384  # ml: solve tile
MARGIN = 32  # ml: context around a solve tile
# Blur fusion radii (half the box side) at a 1 MP working image, scaled with its linear size.
# The paper runs two passes (boxes 90 and 6 px wide); a halving cascade that also refines B
# measured markedly better on Composition-1k (bench/bench_foreground.py), on par with "ml".
BLUR_RADII = (90, 45, 22, 11, 5, 2)
BLUR_REF_PIXELS = 1_000_000
EPS = 1e-5


# ---------------------------------------------------------------------------------------------
# public entry


def estimate_foreground(
    image: np.ndarray, alpha: np.ndarray, method: str = DEFAULT_METHOD, out: np.ndarray | None = None
) -> np.ndarray:
    """(H,W,3) uint8 foreground colours; pixels with alpha 0 or 1 keep their colour exactly.

    alpha: (H,W) float in 0..1 or uint8 in 0..255. method: "blur" (numpy blur fusion, default)
    or "ml" (pymatting multi-level, needs numba). out: where to write, already holding the
    image's colours, e.g. the colour channels of the RGBA cutout being made (a view: no 36 MB
    copy of a 12 MP photo and no second copy into the cutout); a copy of the image if None.
    """
    if method not in METHODS:
        raise ValueError(f"unknown foreground method {method!r}; choose from {METHODS}")
    image = np.ascontiguousarray(np.asarray(image)[..., :3], dtype=np.uint8)
    alpha = np.asarray(alpha)
    if out is None:
        out = image.copy()
    H, W = alpha.shape
    h2, w2 = work_size(H, W, BLUR_WORK_PIXELS if method == "blur" else WORK_PIXELS)
    if alpha.dtype == np.uint8:  # 8-bit alpha: no full-size float copy
        soft = (alpha >= SOFT_LO) & (alpha <= SOFT_HI)
    else:
        alpha = np.clip(alpha.astype(np.float32, copy=False), 0.0, 1.0)
        soft = (alpha >= SOFT_LO / 255) & (alpha <= SOFT_HI / 255)
    if not soft.any() or min(H, W) < 2:
        return out
    if method == "blur":
        return _blur(image, alpha, soft, h2, w2, out)
    return _ml(image, alpha, soft, h2, w2, out)


def _small_alpha(alpha: np.ndarray, w2: int, h2: int) -> np.ndarray:
    """float32 0..1 alpha at the working size (alpha is uint8 0..255 or float 0..1)."""
    if alpha.dtype == np.uint8:
        if (alpha.shape[1], alpha.shape[0]) == (w2, h2):
            return alpha.astype(np.float32) / np.float32(255.0)
        a = Image.fromarray(alpha, "L").resize((w2, h2), Image.BILINEAR)
        return np.asarray(a, np.float32) / np.float32(255.0)
    return resize_f32(alpha, (w2, h2))


def _small(image: np.ndarray, w2: int, h2: int) -> np.ndarray:
    H, W = image.shape[:2]
    if (H, W) == (h2, w2):
        return image
    img = Image.frombuffer("RGB", (W, H), image, "raw", "RGB", 0, 1)
    return np.asarray(img.resize((w2, h2), Image.BILINEAR, reducing_gap=2.0))


def _tiles(soft: np.ndarray, tile: int):
    """(y0, y1, x0, x1) of each tile that holds a soft pixel. Tiles, not runs of them
    (grid.runs): a dozen passes over each pixel stay in cache on a 256-px tile, and measured
    slower on whole rows of tiles."""
    H, W = soft.shape
    for y0 in range(0, H, tile):
        y1 = min(H, y0 + tile)
        cols = soft[y0:y1].any(axis=0)
        if not cols.any():
            continue
        for x0 in range(0, W, tile):
            x1 = min(W, x0 + tile)
            if cols[x0:x1].any():
                yield y0, y1, x0, x1


# ---------------------------------------------------------------------------------------------
# blur fusion


def blur_radii(h: int, w: int) -> tuple[int, ...]:
    """Box radii of the cascade, coarse to fine, for a working image of h x w pixels."""
    s = (h * w / BLUR_REF_PIXELS) ** 0.5
    return tuple(max(1, round(r * s)) for r in BLUR_RADII)


def _fuse(a: np.ndarray, am: np.ndarray, f: np.ndarray, b: np.ndarray, r: int):
    """Local means (F^, B^) of one channel: box(f*a)/box(a) and box(b*(1-a))/box(1-a), with
    am = box(a); f is b (the image itself) on the first pass."""
    fh = box_mean(f * a, r)
    if b is f:  # box(I*(1-a)) = box(I) - box(I*a): one blur fewer
        bh = box_mean(b, r) - fh
    else:
        bh = box_mean(b * (1.0 - a), r)
    fh /= am + np.float32(EPS)
    bh /= np.float32(1.0 + EPS) - am
    return fh, bh


def _blur_means(image: np.ndarray, a: np.ndarray, radii: tuple[int, ...]) -> np.ndarray:
    """(h,w,6) float32 [F^, B^] of the last cascade pass; image (h,w,3) uint8, a (h,w) 0..1.

    Blur fusion is separable by channel (F and B of a channel depend only on that channel of I),
    so the cascade runs per channel, the channels on all cores: a handful of single-channel
    working-size arrays each.
    Each pass feeds the previous pass's F *and* B (both from the compositing equation) to the
    next, finer box."""
    ams = {r: box_mean(a, r) for r in set(radii)}
    one_a = 1.0 - a
    out = np.empty(a.shape + (6,), np.float32)

    def channel(c: int) -> None:
        im = image[..., c].astype(np.float32)
        fh, bh = _fuse(a, ams[radii[0]], im, im, radii[0])
        for r in radii[1:]:
            res = im - a * fh - one_a * bh  # compositing residual
            f = fh + a * res
            b = bh + one_a * res
            del res
            np.clip(f, 0.0, 255.0, out=f)
            np.clip(b, 0.0, 255.0, out=b)
            fh, bh = _fuse(a, ams[r], f, b, r)
            del f, b
        out[..., c] = fh
        out[..., 3 + c] = bh

    each_part(channel, [(c,) for c in range(3)])
    return out


def _blur_means_cropped(image: np.ndarray, a: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """[F^, B^] at the working size, computed on the bounding box of the soft pixels grown by the
    sum of the radii (box windows are clipped at the image border, so the crop is exact);
    0 outside it (unused)."""
    h, w = a.shape
    radii = blur_radii(h, w)
    m = sum(radii)
    ys, xs = np.flatnonzero(soft.any(1)), np.flatnonzero(soft.any(0))
    y0, y1 = max(0, ys[0] - m), min(h, ys[-1] + 1 + m)
    x0, x1 = max(0, xs[0] - m), min(w, xs[-1] + 1 + m)
    if (y0, y1, x0, x1) == (0, h, 0, w):
        return _blur_means(image, a, radii)
    out = np.zeros((h, w, 6), np.float32)
    out[y0:y1, x0:x1] = _blur_means(image[y0:y1, x0:x1], a[y0:y1, x0:x1], radii)
    return out


def _blur(image: np.ndarray, alpha: np.ndarray, soft: np.ndarray, h2: int, w2: int,
          out: np.ndarray) -> np.ndarray:
    H, W = soft.shape
    a_s = _small_alpha(alpha, w2, h2)
    if (h2, w2) == (H, W):
        soft_s = soft
    else:
        soft_s = (a_s > 0.0) & (a_s < 1.0)
        # a soft full-res pixel may land where the bilinear small alpha is exactly 0 or 1:
        # grow the small soft mask by one pixel so every soft tile is covered
        soft_s = box_mean(soft_s.astype(np.float32), 1) > 0
        if not soft_s.any():  # soft pixels too few to show at the working size: solve it all
            soft_s = np.ones_like(soft_s)
    means = _blur_means_cropped(_small(image, w2, h2), a_s, soft_s)
    up = TileSampler(means, H, W)
    del means
    scale = np.float32(1 / 255) if alpha.dtype == np.uint8 else np.float32(1)

    def one(y0: int, y1: int, x0: int, x1: int) -> None:
        # the whole tile at once, written back where soft: about half of a tile's pixels are
        # soft on a typical edge band, and dense passes beat gathering them one by one
        ch = up.channels(y0, y1, x0, x1)
        a = np.multiply(alpha[y0:y1, x0:x1], scale, dtype=np.float32)
        # F = F^ + a*(I - a*F^ - (1-a)*B^) = a*I + (1-a^2)*F^ - a*(1-a)*B^
        k_f = 1.0 - a * a
        k_b = a - a * a
        pix = image[y0:y1, x0:x1]
        res = np.empty(pix.shape, np.float32)
        f = np.empty(a.shape, np.float32)
        tmp = np.empty(a.shape, np.float32)
        for c in range(3):
            np.multiply(pix[..., c], a, out=f)
            f += np.multiply(ch[c], k_f, out=tmp)
            f -= np.multiply(ch[3 + c], k_b, out=tmp)
            res[..., c] = f
        res += 0.5
        np.clip(res, 0.0, 255.0, out=res)
        np.copyto(out[y0:y1, x0:x1], res.astype(np.uint8), where=soft[y0:y1, x0:x1, None])

    each_part(one, _tiles(soft, APPLY_TILE))
    return out


# ---------------------------------------------------------------------------------------------
# pymatting multi-level (numba)


def _solve(crop: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    estimate_foreground_ml = kernel("estimate_foreground_ml")  # numba: loaded on first use
    with contextlib.redirect_stdout(io.StringIO()):
        f = estimate_foreground_ml(crop.astype(np.float64) / 255.0, alpha.astype(np.float64))
    return np.asarray(f, dtype=np.float32) * np.float32(255.0)


def _correction(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(h,w,3) float32 F - I on the soft band, 0 elsewhere, solved tile by tile."""
    h, w = alpha.shape
    soft = (alpha > 0.0) & (alpha < 1.0)
    delta = np.zeros((h, w, 3), np.float32)
    for y0 in range(0, h, TILE):
        for x0 in range(0, w, TILE):
            y1, x1 = min(h, y0 + TILE), min(w, x0 + TILE)
            s = soft[y0:y1, x0:x1]
            if not s.any():
                continue
            cy0, cy1, cx0, cx1 = (
                max(0, y0 - MARGIN),
                min(h, y1 + MARGIN),
                max(0, x0 - MARGIN),
                min(w, x1 + MARGIN),
            )
            f = _solve(image[cy0:cy1, cx0:cx1], alpha[cy0:cy1, cx0:cx1])
            core = f[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] - image[y0:y1, x0:x1]
            delta[y0:y1, x0:x1][s] = core[s]
    return delta


def _ml(image: np.ndarray, alpha: np.ndarray, soft: np.ndarray, h2: int, w2: int,
        out: np.ndarray) -> np.ndarray:
    H, W = soft.shape
    if (h2, w2) == (H, W):
        a = alpha.astype(np.float32) / np.float32(255.0) if alpha.dtype == np.uint8 else alpha
        delta = _correction(image, a)
        fixed = image.astype(np.float32)
        fixed[soft] += delta[soft]
        np.clip(fixed, 0, 255, out=fixed)
        out[...] = (fixed + 0.5).astype(np.uint8)
        return out
    d_s = _correction(_small(image, w2, h2), _small_alpha(alpha, w2, h2))
    return _apply_small_correction(image, soft, d_s, out)


def _apply_small_correction(image: np.ndarray, soft: np.ndarray, d_s: np.ndarray,
                            out: np.ndarray) -> np.ndarray:
    """Upsample the small (h2,w2,3) correction only in tiles that hold soft pixels: on a 12 MP
    photo the edge band is a few percent of the area, so full-size float copies would dominate."""
    H, W = soft.shape
    up = TileSampler(d_s, H, W)
    for y0, y1, x0, x1 in _tiles(soft, APPLY_TILE):
        s = soft[y0:y1, x0:x1]
        d = np.stack(up.channels(y0, y1, x0, x1), axis=2)
        tile = out[y0:y1, x0:x1]
        fixed = np.clip(image[y0:y1, x0:x1][s].astype(np.float32) + d[s] + 0.5, 0, 255)
        tile[s] = fixed.astype(np.uint8)
    return out


__all__ = ["DEFAULT_METHOD", "METHODS", "estimate_foreground"]

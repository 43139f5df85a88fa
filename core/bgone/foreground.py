"""Colour decontamination: re-estimate foreground colour where alpha is fractional.

An edge pixel is a mix F*a + B*(1-a); keeping the observed colour puts a halo of the old
background on any new one. Only pixels with 0 < alpha < 1 are mixes, so the multi-level solver
(pymatting estimate_foreground_ml) runs on crops around that band, at a bounded resolution; the
*correction* F - I it finds is smooth, so on huge images it is solved small and upsampled.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from PIL import Image

from .upsample import resize_f32, work_size

WORK_PIXELS = 1_000_000  # the correction F - I is smooth: solved small, upsampled
APPLY_TILE = 256
TILE = 384
MARGIN = 32


def _solve(crop: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    from pymatting import estimate_foreground_ml  # lazy: numba

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


def estimate_foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(H,W,3) uint8 foreground colours; pixels with alpha 0 or 1 keep their colour exactly."""
    image = np.ascontiguousarray(np.asarray(image)[..., :3], dtype=np.uint8)
    alpha = np.asarray(alpha)
    H, W = alpha.shape
    h2, w2 = work_size(H, W, WORK_PIXELS)
    if alpha.dtype == np.uint8 and (h2, w2) != (H, W):  # 8-bit alpha: no full-size float copy
        soft = (alpha > 0) & (alpha < 255)
        if not soft.any() or min(H, W) < 2:
            return image.copy()
        a_s = np.asarray(Image.fromarray(alpha, "L").resize((w2, h2), Image.BILINEAR), np.float32)
        return _apply_small_correction(image, soft, _correction(_small(image, w2, h2), a_s / 255))
    alpha = np.clip(alpha.astype(np.float32, copy=False), 0.0, 1.0)
    soft = (alpha > 0.0) & (alpha < 1.0)
    if not soft.any() or min(H, W) < 2:
        return image.copy()
    if (h2, w2) == (H, W):
        delta = _correction(image, alpha)
        out = image.astype(np.float32)
        out[soft] += delta[soft]
        np.clip(out, 0, 255, out=out)
        return (out + 0.5).astype(np.uint8)
    a_s = resize_f32(alpha, (w2, h2))
    return _apply_small_correction(image, soft, _correction(_small(image, w2, h2), a_s))


def _small(image: np.ndarray, w2: int, h2: int) -> np.ndarray:
    H, W = image.shape[:2]
    img = Image.frombuffer("RGB", (W, H), image, "raw", "RGB", 0, 1)
    return np.asarray(img.resize((w2, h2), Image.BILINEAR, reducing_gap=2.0))


def _apply_small_correction(image: np.ndarray, soft: np.ndarray, d_s: np.ndarray) -> np.ndarray:
    """Upsample the small (h2,w2,3) correction only in tiles that hold soft pixels: on a 12 MP
    photo the edge band is a few percent of the area, so full-size float copies would dominate."""
    H, W = soft.shape
    h2, w2 = d_s.shape[:2]
    chans = [Image.fromarray(np.ascontiguousarray(d_s[..., c]), "F") for c in range(3)]
    sy, sx = h2 / H, w2 / W
    out = image.copy()
    for y0 in range(0, H, APPLY_TILE):
        y1 = min(H, y0 + APPLY_TILE)
        band = soft[y0:y1]
        if not band.any():
            continue
        for x0 in range(0, W, APPLY_TILE):
            x1 = min(W, x0 + APPLY_TILE)
            s = band[:, x0:x1]
            if not s.any():
                continue
            box = (x0 * sx, y0 * sy, x1 * sx, y1 * sy)
            size = (x1 - x0, y1 - y0)
            d = np.stack(
                [np.asarray(ch.resize(size, Image.BILINEAR, box=box), np.float32) for ch in chans],
                axis=2,
            )
            tile = out[y0:y1, x0:x1]
            fixed = np.clip(tile[s].astype(np.float32) + d[s] + 0.5, 0, 255).astype(np.uint8)
            tile[s] = fixed
    return out


__all__ = ["estimate_foreground"]

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

WORK_PIXELS = 2_000_000
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
    alpha = np.clip(np.asarray(alpha, dtype=np.float32), 0.0, 1.0)
    H, W = alpha.shape
    soft = (alpha > 0.0) & (alpha < 1.0)
    if not soft.any() or min(H, W) < 2:
        return image.copy()
    h2, w2 = work_size(H, W, WORK_PIXELS)
    if (h2, w2) == (H, W):
        delta = _correction(image, alpha)
    else:
        img_s = np.asarray(Image.fromarray(image).resize((w2, h2), Image.BILINEAR))
        a_s = resize_f32(alpha, (w2, h2))
        d_s = _correction(img_s, a_s)
        delta = np.stack([resize_f32(d_s[..., c], (W, H)) for c in range(3)], axis=2)
    out = image.astype(np.float32)
    out[soft] += delta[soft]
    np.clip(out, 0, 255, out=out)
    return (out + 0.5).astype(np.uint8)


__all__ = ["estimate_foreground"]

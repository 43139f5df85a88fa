"""Trimap from a soft mask: 1 = sure foreground, 0 = sure background, 0.5 = unknown.

The unknown band must cover where the segmentation could be wrong, which depends on (a) how
coarse the net's grid is relative to this image (one 320-px cell is max(H,W)/320 pixels here)
and (b) how unsure the mask itself is (a wide soft ramp = an uncertain edge). Fixed pixel counts
(rembg's erosion 10) are too wide on small images and too narrow on large ones.
"""

from __future__ import annotations

import numpy as np

from .upsample import box_mean

NET_SIZE = 320  # the segmentation net's input side; its cells set the positional uncertainty
LO, HI = 0.05, 0.95  # alpha outside (LO, HI) counts as decided by the net


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Square dilation by r via a box filter (no scipy/OpenCV)."""
    if r <= 0 or not mask.any():
        return mask.copy()
    m = box_mean(mask.astype(np.float32), r)
    return m > 0.5 / (2 * r + 1) ** 2


def ramp_width(alpha: np.ndarray) -> float:
    """Mean width (pixels) of the soft transition: soft area / boundary length."""
    soft = np.count_nonzero((alpha > LO) & (alpha < HI))
    hard = alpha >= 0.5
    edges = np.count_nonzero(hard[1:, :] != hard[:-1, :]) + np.count_nonzero(
        hard[:, 1:] != hard[:, :-1]
    )
    if edges == 0:
        return 0.0
    return soft / edges


def band_radius(shape: tuple[int, int], alpha: np.ndarray, cells: float = 1.5) -> int:
    """Unknown-band half-width in pixels: `cells` net cells of this image plus half the mask's
    own ramp width, capped so the band never swallows a small image."""
    h, w = shape
    cell = max(h, w) / NET_SIZE
    r = cells * cell + 0.5 * min(ramp_width(alpha), 8 * cell)
    return int(np.clip(round(r), 1, max(1, min(h, w) // 8)))


def make_trimap(alpha: np.ndarray, radius: int | None = None) -> np.ndarray:
    """float32 trimap (0 / 0.5 / 1) for a soft alpha (H,W) in 0..1."""
    alpha = np.asarray(alpha, dtype=np.float32)
    if radius is None:
        radius = band_radius(alpha.shape, alpha)
    soft = (alpha > LO) & (alpha < HI)
    fg = alpha >= 0.5
    # the boundary of the hard mask is uncertain even where the net was confident
    edge = np.zeros_like(fg)
    edge[1:, :] |= fg[1:, :] != fg[:-1, :]
    edge[:, 1:] |= fg[:, 1:] != fg[:, :-1]
    unknown = dilate(soft | edge, radius)
    tri = np.where(fg, np.float32(1.0), np.float32(0.0)).astype(np.float32)
    tri[unknown] = 0.5
    return tri


__all__ = ["make_trimap", "band_radius", "ramp_width", "dilate"]

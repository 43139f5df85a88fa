"""Trimap from a soft mask: 1 = sure foreground, 0 = sure background, 0.5 = unknown.

The unknown region is WIDE on purpose: everything the net is unsure about (alpha between LO and
HI, after smoothing the guided-filter output back to roughly the net's own blur), plus a margin
that scales with the image size. Hair, fur and thin structures live exactly in that soft zone;
a narrow band around the 0.5 contour (the first version) leaves them to the net's blur, which is
why rembg's full-image matting beat it by 5x on hair. The margin keeps the sure regions honest:
what the net calls 0.97 right next to the edge may still be background between strands.
"""

from __future__ import annotations

import numpy as np

from .grid import box_mean

NET_SIZE = 320  # the segmentation net's input side; its cells set the positional uncertainty
LO, HI = 0.04, 0.96  # rembg's 10/240 on a 0..255 mask: outside (LO, HI) the net has decided
MARGIN = 0.005  # erosion of the sure regions, as a fraction of max(H, W) (rembg: 10 px at ~2 MP)
SMOOTH = 0.5  # box radius in net cells: undoes the guided filter's sharpening of the uncertainty


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Square dilation by r via a box filter (no scipy/OpenCV)."""
    if r <= 0 or not mask.any():
        return mask.copy()
    m = box_mean(mask.astype(np.float32), r)
    return m > 0.5 / (2 * r + 1) ** 2


def erode(mask: np.ndarray, r: int) -> np.ndarray:
    """Square erosion by r (the image border counts as inside, like a clipped window)."""
    if r <= 0 or mask.all() or not mask.any():
        return mask.copy()
    m = box_mean(mask.astype(np.float32), r)
    return m > 1.0 - 0.5 / (2 * r + 1) ** 2


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


def band_radius(shape: tuple[int, int], alpha: np.ndarray | None = None) -> int:
    """Erosion margin (pixels) of the sure regions: proportional to the image size, at least 1,
    never more than a sixteenth of the short side. `alpha` is accepted for compatibility."""
    h, w = shape
    r = MARGIN * max(h, w)
    return int(np.clip(round(r), 1, max(1, min(h, w) // 16)))


def make_trimap(
    alpha: np.ndarray, radius: int | None = None, smooth: int | None = None
) -> np.ndarray:
    """float32 trimap (0 / 0.5 / 1) for a soft alpha (H,W) in 0..1.

    sure fg = smoothed alpha > HI, eroded by `radius`; sure bg = smoothed alpha < LO, eroded by
    `radius`; everything else is unknown (so every soft pixel is unknown). ``smooth``: box
    radius of the smoothing (default: half a net cell; 0 for a mask that no net made).
    """
    alpha = np.asarray(alpha, dtype=np.float32)
    h, w = alpha.shape
    if radius is None:
        radius = band_radius(alpha.shape)
    s = max(1, round(SMOOTH * max(h, w) / NET_SIZE)) if smooth is None else smooth
    a = box_mean(alpha, s) if s > 0 and min(h, w) > 2 * s else alpha
    # a pixel the net found soft stays unknown even if smoothing pushed it past a threshold
    soft = (alpha > LO) & (alpha < HI)
    fg = erode((a > HI) & ~soft, radius)
    bg = erode((a < LO) & ~soft, radius)
    tri = np.full(alpha.shape, 0.5, np.float32)
    tri[fg] = 1.0
    tri[bg] = 0.0
    return tri


__all__ = ["make_trimap", "band_radius", "ramp_width", "dilate", "erode"]

"""Refine Edges: re-estimate any mask's alpha along its edges, with the photo as a guide.

The mask may come from bgone, from another tool or from a brush: hard painted edges (0/255)
get an unknown band of `band` pixels, soft edges keep their own soft ramp as unknown. The band
is matted by the same tiled closed-form solve as `--refine best` (refine.refine_alpha, with this
module's trimap), at the same bounded working resolution, so the same memory bounds hold.

Do no harm: closed-form matting needs the subject's and the background's colours to differ near
the edge, and sure pixels of both within reach. Where the colours meet (white on white) or the
mask is all edges with no sure side near (a mesh, a glass: see-through subjects) the solve
invents structure, so the matte is blended in only as far as both hold (`colour_trust`).
Outside a given region every pixel is returned bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import BgoneError
from .grid import box_mean, resize_f32
from .imageio import ImageLike, load_rgba
from .refine import refine_alpha
from .trimap import HI, LO, make_trimap

BAND = 0.01  # default band width around a hard edge, as a fraction of the image's long side
MIN_BAND = 4  # px: narrower cannot hold a transition and both of its sides
# Colour distance (0..1 RGB, Euclidean / sqrt(3)) between the local sure-foreground and
# sure-background means below which the matte is not trusted at all, and above which fully.
SEPARATE_LO, SEPARATE_HI = 0.06, 0.16
# Share of sure-fg and of sure-bg pixels within SUPPORT_R bands below which the matte has too
# little to go on (a mesh or a glass whose mask is all edges), and above which it is trusted.
# Measured on the eval set from a thresholded truth: a window of one band kills the gain on fur
# (whose thresholded fringe is all edges too); four bands still sees sure pixels past fur, not
# inside a mesh or a glass.
SUPPORT_LO, SUPPORT_HI = 0.02, 0.08
SUPPORT_R = 4  # the support window's radius, in bands
CONTEXT = 32  # px of image kept around a region beyond the support window: the solve's context
DEFAULT_LEVEL = "best"


def default_band(shape: tuple[int, int]) -> int:
    """Band width (full-res px) for a hard edge: 1 % of the long side, at least MIN_BAND."""
    return max(MIN_BAND, round(BAND * max(shape)))


def check_band(band: int | None) -> None:
    """A band must be a whole number of pixels, at least 1 (None: the automatic default)."""
    if band is not None and (not isinstance(band, int | np.integer) or band < 1):
        raise BgoneError(
            f"The band must be a whole number of pixels, at least 1; got {band!r}.",
            "Leave it out for the automatic width (1 % of the image's long side).",
            kind="bad_argument",
        )


def edge_trimap(band: int, region_s: Callable[[tuple[int, int]], np.ndarray] | None = None):
    """A refine.Trimapper for a mask that no net made: no smoothing, sure regions eroded by half
    the band (in working px). With a region, every pixel outside it is known at its own value."""

    def build(alpha_s: np.ndarray, full: tuple[int, int]) -> np.ndarray:
        half = max(1, round(band * alpha_s.shape[0] / full[0] / 2))
        tri = make_trimap(alpha_s, half, smooth=0)
        if region_s is not None:
            outside = ~region_s(alpha_s.shape)
            known = np.where(alpha_s == 0.5, np.float32(0.5 + 1 / 512), alpha_s)
            known = np.where(alpha_s <= LO, 0.0, np.where(alpha_s >= HI, 1.0, known))
            tri[outside] = known[outside]
        return tri

    return build


def colour_trust(img_s: np.ndarray, tri: np.ndarray, radius: int) -> np.ndarray:
    """0..1 per working pixel: how far to believe a matte there.

    Two conditions: the nearby sure-fg and sure-bg colours are apart (local means over a box of
    `radius`, widened x4, x16 where one side has no known pixel), and both sides are present
    within SUPPORT_R bands (a mask that is all edges, a mesh or a glass, leaves none)."""
    g = img_s.astype(np.float32) * np.float32(1 / 255)
    fg = (tri == 1).astype(np.float32)
    bg = (tri == 0).astype(np.float32)
    dist = np.full(tri.shape, np.nan, np.float32)
    for r in (radius, 4 * radius, 16 * radius):
        nf, nb = box_mean(fg, r), box_mean(bg, r)
        d2 = np.zeros(tri.shape, np.float32)
        for c in range(3):
            f = box_mean(g[..., c] * fg, r) / np.maximum(nf, 1e-6)
            b = box_mean(g[..., c] * bg, r) / np.maximum(nb, 1e-6)
            d2 += (f - b) ** 2
        ok = np.isnan(dist) & (nf > 0) & (nb > 0)
        dist[ok] = np.sqrt(d2[ok] / 3)
    dist = np.nan_to_num(dist, nan=0.0)
    t = np.clip((dist - SEPARATE_LO) / (SEPARATE_HI - SEPARATE_LO), 0.0, 1.0)
    rs = SUPPORT_R * radius
    support = np.minimum(box_mean(fg, rs), box_mean(bg, rs))
    t *= np.clip((support - SUPPORT_LO) / (SUPPORT_HI - SUPPORT_LO), 0.0, 1.0)
    return t


def _as_mask(mask: Any, shape: tuple[int, int] | None, what: str) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] in (1, 2, 4):  # L+A / RGBA: the last channel is the mask
        m = m[..., -1]
    elif m.ndim == 3:
        m = m[..., 0]
    if m.ndim != 2:
        raise BgoneError(
            f"The {what} must be a 2-D array, got shape {m.shape}.", kind="bad_argument"
        )
    if shape is not None and m.shape != shape:
        raise BgoneError(
            f"The {what} is {m.shape[1]}x{m.shape[0]} but the image is {shape[1]}x{shape[0]}.",
            f"Give a {what} of the image's size.",
            kind="bad_argument",
        )
    if m.dtype == np.bool_:
        return m.astype(np.uint8) * 255
    if m.dtype != np.uint8:
        m = np.clip(np.nan_to_num(m.astype(np.float32)) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return m


def refine_mask(
    image: ImageLike,
    mask: Any,
    region: Any = None,
    band: int | None = None,
    level: str = DEFAULT_LEVEL,
    progress: Callable[[str, float], None] | None = None,
    cancel: Any = None,
) -> np.ndarray:
    """The mask (uint8 HxW) with its edges re-estimated by matting against the image.

    image: a path, PIL image or (H,W,3|4) array. mask: (H,W) uint8 0..255 (or float 0..1, bool,
    or an L image). region: optional (H,W) bool / uint8 (>= 128 inside): only its pixels may
    change. band: width in px of the unknown band around hard edges (default 1 % of the long
    side). level: the working resolution of the solve, as `--refine` ("fast" or "best").
    """
    rgb, _ = load_rgba(image)
    shape = rgb.shape[:2]
    m8 = _as_mask(mask, shape, "mask")
    inside = None
    if region is not None:
        r8 = _as_mask(region, shape, "region")
        inside = r8 >= 128
        if not inside.any():
            return m8.copy()
    check_band(band)
    if band is None:
        band = default_band(shape)
    if inside is None:
        return _refine(rgb, m8, None, band, level, progress, cancel)
    # only the region's neighbourhood is worked on: cost and memory follow the region's size
    ys, xs = np.flatnonzero(inside.any(1)), np.flatnonzero(inside.any(0))
    c = SUPPORT_R * band + CONTEXT
    y0, y1 = max(0, ys[0] - c), min(shape[0], ys[-1] + 1 + c)
    x0, x1 = max(0, xs[0] - c), min(shape[1], xs[-1] + 1 + c)
    crop = (slice(y0, y1), slice(x0, x1))
    out8 = m8.copy()
    out8[crop] = _refine(rgb[crop], m8[crop], inside[crop], band, level, progress, cancel)
    return out8


def _refine(
    rgb: np.ndarray,
    m8: np.ndarray,
    inside: np.ndarray | None,
    band: int,
    level: str,
    progress: Callable[[str, float], None] | None,
    cancel: Any,
) -> np.ndarray:
    """refine_mask on arrays already checked; pixels outside `inside` are returned as given."""

    def region_s(small: tuple[int, int]) -> np.ndarray:
        return resize_f32(inside.astype(np.float32), (small[1], small[0])) > 0

    trimap = edge_trimap(band, region_s if inside is not None else None)

    def trust(img_s: np.ndarray, tri: np.ndarray) -> np.ndarray:
        radius = max(2, round(band * tri.shape[0] / m8.shape[0]))
        return colour_trust(img_s, tri, radius)

    alpha = m8.astype(np.float32) * np.float32(1 / 255)
    out = refine_alpha(rgb, alpha, level, progress, cancel, trimap=trimap, trust=trust)
    out *= 255.0
    out += 0.5
    np.clip(out, 0, 255, out=out)
    out8 = out.astype(np.uint8)
    if inside is not None:
        out8[~inside] = m8[~inside]
    return out8


__all__ = ["refine_mask", "check_band", "default_band", "edge_trimap", "colour_trust", "BAND"]

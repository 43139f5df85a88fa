"""Low-res soft mask -> full-res alpha, edge-aware (fast guided filter, He & Sun 2015).

A segmentation net sees the image at ~320 px, so a plain bilinear resize of its mask gives a
blurry ramp several full-res pixels wide that ignores where the real edge is. The guided filter
models alpha locally as a linear function of the image colour (alpha ~ a.I + b), which snaps the
ramp onto the image's own edges. Solving for (a, b) at ~1 MP and upsampling the smooth
coefficients (not the alpha) keeps the cost nearly independent of the full resolution.

Everything is float32: a 12 MP float64 copy would be 96 MB per array and twice the bandwidth.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .grid import TileSampler, box_mean, each_part, resize_f32, runs, work_size

# Working resolution for the coefficient solve: large enough that the guide still shows hair-scale
# structure, small enough that 17 box filters stay ~100 ms on one core.
WORK_PIXELS = 1_000_000
RADIUS_FACTOR = 2.0  # window radius in low-res pixels of the net output (measured best 2..4)
EPS = 1e-4  # regulariser on the guide's local covariance (guide in 0..1); smaller = follows edges harder


def guided_coefficients(
    guide: np.ndarray, p: np.ndarray, r: int, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Colour guided filter coefficients (a: (h,w,3), b: (h,w)) box-averaged, guide float32 0..1.

    The 3x3 covariance is inverted in closed form per pixel (cofactors), vectorised.
    """
    m = lambda x: box_mean(x, r)  # noqa: E731
    ir, ig, ib = guide[..., 0], guide[..., 1], guide[..., 2]
    mr, mg, mb, mp = m(ir), m(ig), m(ib), m(p)
    # covariance of guide with p
    cr = m(ir * p) - mr * mp
    cg = m(ig * p) - mg * mp
    cb = m(ib * p) - mb * mp
    # guide covariance (+eps on diagonal)
    vrr = m(ir * ir) - mr * mr + eps
    vrg = m(ir * ig) - mr * mg
    vrb = m(ir * ib) - mr * mb
    vgg = m(ig * ig) - mg * mg + eps
    vgb = m(ig * ib) - mg * mb
    vbb = m(ib * ib) - mb * mb + eps
    # inverse via cofactors
    i_rr = vgg * vbb - vgb * vgb
    i_rg = vgb * vrb - vrg * vbb
    i_rb = vrg * vgb - vgg * vrb
    i_gg = vrr * vbb - vrb * vrb
    i_gb = vrb * vrg - vrr * vgb
    i_bb = vrr * vgg - vrg * vrg
    det = vrr * i_rr + vrg * i_rg + vrb * i_rb
    det = np.maximum(det, np.float32(1e-12))
    ar = (i_rr * cr + i_rg * cg + i_rb * cb) / det
    ag = (i_rg * cr + i_gg * cg + i_gb * cb) / det
    ab = (i_rb * cr + i_gb * cg + i_bb * cb) / det
    b = mp - ar * mr - ag * mg - ab * mb
    a = np.stack([m(ar), m(ag), m(ab)], axis=-1)
    return a.astype(np.float32, copy=False), m(b).astype(np.float32, copy=False)


def apply_coefficients(
    guide: np.ndarray,
    ab: np.ndarray,
    tile: int = 256,
    active_thr: float = 1e-3,
    u8: bool = False,
    active: np.ndarray | None = None,
    base: np.ndarray | None = None,
) -> np.ndarray:
    """q = a.I + b at full resolution from the small (h2,w2,4) coefficient grid.

    Where the mask is flat, a == 0 and q == b, so one Pillow resize of b covers most of the
    image; the colour term is only evaluated in tiles whose coefficients are non-trivial (the
    edge band), side-by-side tiles as one run (grid.runs). Pillow's resize(box=...) samples a
    tile exactly as the whole-image resize would, so tiles join without seams.
    """
    H, W = guide.shape[:2]
    if u8:  # straight to the 8-bit output: an 'L' resize and no full-size float passes
        flat = ab[..., 3] if base is None else base  # value where the colour term is skipped
        b8 = np.clip(flat * 255.0 + 0.5, 0, 255).astype(np.uint8)
        q = np.asarray(Image.fromarray(b8, "L").resize((W, H), Image.BILINEAR)).copy()
        if active is None:
            active = np.abs(ab[..., :3]).sum(axis=2) > active_thr
    else:
        q = resize_f32(ab[..., 3], (W, H))
        active = np.abs(ab[..., :3]).max(axis=2) > active_thr
    if not active.any():
        return q
    # scaled once on the small grid so a tile is q = b + sum_c a_c * I_c with I in 0..255: the
    # 1/255 of the guide (and the 255 of an 8-bit output) cost no full-size pass
    scale = np.array([1.0, 1.0, 1.0, 255.0] if u8 else [1 / 255, 1 / 255, 1 / 255, 1.0], np.float32)
    sampler = TileSampler(ab * scale, H, W)

    def one(y0: int, y1: int, x0: int, x1: int) -> None:
        t = sampler.channels(y0, y1, x0, x1)
        g = guide[y0:y1, x0:x1]
        out = np.array(t[3])  # writable
        prod = np.empty_like(out)
        for c in range(3):
            out += np.multiply(t[c], g[..., c], out=prod)
        if u8:
            out += 0.5
            np.clip(out, 0, 255, out=out)
        q[y0:y1, x0:x1] = out

    each_part(one, runs(sampler.active_tiles(active, tile)))
    return q


def fast_guided_filter(
    guide: np.ndarray,
    p_small: np.ndarray,
    r: int,
    eps: float = EPS,
    work: tuple[int, int] | None = None,
    image: Image.Image | None = None,
) -> np.ndarray:
    """Guided-filter p (given on the `work` grid) with the full-res uint8 guide; full-res float32 out.
    ``image``: the guide as a Pillow image, if the caller has one (saves a 12 MP copy)."""
    H, W = guide.shape[:2]
    h2, w2 = work or p_small.shape
    if (h2, w2) == (H, W):
        g_small = guide.astype(np.float32) * np.float32(1 / 255)
    else:
        img = image if image is not None else Image.fromarray(guide)
        g_small = np.asarray(img.resize((w2, h2), Image.BILINEAR), dtype=np.float32)
        g_small = g_small * np.float32(1 / 255)
    a, b = guided_coefficients(g_small, p_small.astype(np.float32, copy=False), r, eps)
    ab = np.concatenate([a, b[..., None]], axis=2)
    q = apply_coefficients(guide, ab)
    np.clip(q, 0.0, 1.0, out=q)
    return q


def upsample_alpha(
    lowres: np.ndarray, guide: np.ndarray, image: Image.Image | None = None
) -> np.ndarray:
    """The product's upsample (upsample_alpha_u8) as float32 0..1, the input of refinement.

    Every output is 8-bit in the end, and refining from the 8-bit upsample measured the same
    as from the 1 MP float filter (eval set, `fast`: SAD 347.07 vs 347.04) at a third of its
    cost at 12 MP."""
    return np.multiply(upsample_alpha_u8(lowres, guide, image), np.float32(1 / 255), dtype=np.float32)


def upsample_alpha_precise(
    lowres: np.ndarray, guide: np.ndarray, image: Image.Image | None = None
) -> np.ndarray:
    """Low-res soft mask (h,w) 0..1 -> (H,W) float32 0..1 aligned to the guide image's edges:
    the filter at full float precision on a 1 MP grid, the reference the 8-bit path is checked
    against.

    The filter radius follows the upsampling factor: the net's blur is ~1-2 low-res pixels,
    so the window must span that many pixels of the working grid to be able to re-place the edge.
    """
    lowres = np.asarray(lowres, dtype=np.float32)
    guide = np.asarray(guide)
    if guide.ndim == 2:
        guide = np.repeat(guide[..., None], 3, axis=2)
    guide = np.ascontiguousarray(guide[..., :3], dtype=np.uint8)
    H, W = guide.shape[:2]
    if lowres.ndim == 3:
        lowres = lowres[..., 0]
    h2, w2 = work_size(H, W, WORK_PIXELS)
    p_small = resize_f32(np.clip(lowres, 0.0, 1.0), (w2, h2))
    if min(H, W) < 4 or min(h2, w2) < 4:
        return np.clip(resize_f32(lowres, (W, H)), 0.0, 1.0)
    factor = max(h2 / max(1, lowres.shape[0]), w2 / max(1, lowres.shape[1]))
    r = int(np.clip(round(RADIUS_FACTOR * factor), 2, max(2, min(h2, w2) // 4)))
    return fast_guided_filter(guide, p_small, r, EPS, (h2, w2), image)


# The 8-bit path (what `--refine none` returns): the coefficients need no finer grid than a few
# times the net's own output (measured on the eval set: 0.25 MP is as good as 1 MP), and a colour
# term below 0.01 (2.5/255) cannot change an 8-bit value visibly, so such tiles keep b alone.
U8_WORK_PIXELS = 250_000
U8_ACTIVE = 2.0 / 255  # largest change of the colour term allowed to be skipped
U8_TILE = 128


def upsample_alpha_u8(
    lowres: np.ndarray, guide: np.ndarray, image: Image.Image | None = None
) -> np.ndarray:
    """upsample_alpha_precise straight to uint8 (H,W): what every refinement level starts from.

    Same filter, but sized for speed at 12 MP: full-resolution work is one 8-bit resize plus
    the colour term in edge tiles, so the model's forward pass stays the dominant cost.
    """
    lowres = np.asarray(lowres, dtype=np.float32)
    if lowres.ndim == 3:
        lowres = lowres[..., 0]
    guide = np.asarray(guide)
    if guide.ndim == 2:
        guide = np.repeat(guide[..., None], 3, axis=2)
    guide = np.ascontiguousarray(guide[..., :3], dtype=np.uint8)
    H, W = guide.shape[:2]
    h2, w2 = work_size(H, W, U8_WORK_PIXELS)
    if min(H, W) < 4 or min(h2, w2) < 4:
        return _to_u8(resize_f32(np.clip(lowres, 0.0, 1.0), (W, H)))
    p_small = resize_f32(np.clip(lowres, 0.0, 1.0), (w2, h2))
    factor = max(h2 / max(1, lowres.shape[0]), w2 / max(1, lowres.shape[1]))
    r = int(np.clip(round(RADIUS_FACTOR * factor), 2, max(2, min(h2, w2) // 4)))
    img = image if image is not None else Image.frombuffer("RGB", (W, H), guide, "raw", "RGB", 0, 1)
    g_small = np.asarray(img.resize((w2, h2), Image.BILINEAR, reducing_gap=2.0), dtype=np.float32)
    g_small *= np.float32(1 / 255)
    a, b = guided_coefficients(g_small, p_small, r, EPS)
    ab = np.concatenate([a, b[..., None]], axis=2)
    # The colour term a.(I - mean I) can only move the output where both a and the guide's local
    # contrast are large: on a plain backdrop a is big (tiny variance) but the contrast is noise.
    # Where it is skipped the output is the filter at the local mean colour: b + a.mean(I).
    spread = np.zeros(b.shape, np.float32)
    base = b.copy()
    for c in range(3):
        g = g_small[..., c]
        mean = box_mean(g, r)
        sd = np.sqrt(np.maximum(box_mean(g * g, r) - mean * mean, 0.0))
        spread += np.abs(a[..., c]) * sd
        base += a[..., c] * mean
    active = 3.0 * spread > U8_ACTIVE  # ~3 sigma of the local colour variation
    return apply_coefficients(guide, ab, tile=U8_TILE, u8=True, active=active, base=base)


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


__all__ = ["upsample_alpha", "upsample_alpha_u8", "upsample_alpha_precise", "fast_guided_filter", "guided_coefficients"]

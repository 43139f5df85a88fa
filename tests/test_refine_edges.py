"""refine_mask: a hard mask of a soft edge gets closer to the truth, pixels outside a region are
bit-identical, soft masks are respected, matting is not trusted where it cannot separate."""

import numpy as np
import pytest
from PIL import Image

from bgone import refine_mask
from bgone.errors import BgoneError
from bgone.refine_edges import colour_trust, default_band


def hairy_scene(h=240, w=320, seed=0, bg_colour=None):
    """A disc with a soft edge and thin partial-alpha strands on a textured background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(yy - h / 2, xx - w / 2)
    gt = np.clip((h / 3 - d) / 3 + 0.5, 0, 1).astype(np.float32)
    for k in range(16):
        ang = 2 * np.pi * k / 16
        for t in np.linspace(h / 3, h / 3 + h / 12, 80):
            y, x = int(h / 2 + t * np.sin(ang)), int(w / 2 + t * np.cos(ang))
            gt[y, x] = max(gt[y, x], 0.6)
    tex = rng.integers(20, 110, (h // 12, w // 12, 3), dtype=np.uint8)
    bg = np.asarray(Image.fromarray(tex).resize((w, h), Image.BILINEAR), dtype=np.float32)
    fg = np.array([240, 220, 90], np.float32)
    if bg_colour is not None:
        bg = np.full((h, w, 3), bg_colour, np.float32)
        fg = np.array(bg_colour, np.float32)
    rgb = gt[..., None] * fg + (1 - gt[..., None]) * bg
    return rgb.astype(np.uint8), gt


def grad_error(a, gt):
    """Sum of squared differences of the gradient magnitudes (the eval's gradient error, sigma 0)."""

    def mag(x):
        gy, gx = np.gradient(x)
        return np.hypot(gx, gy)

    return float(((mag(a) - mag(gt)) ** 2).sum())


def test_hard_mask_of_a_soft_edge_gets_closer_to_the_truth():
    rgb, gt = hairy_scene()
    hard = np.where(gt >= 0.5, 255, 0).astype(np.uint8)
    out = refine_mask(rgb, hard)
    assert out.dtype == np.uint8 and out.shape == gt.shape
    a, h = out / 255.0, hard / 255.0
    assert np.abs(a - gt).sum() < 0.7 * np.abs(h - gt).sum()
    assert grad_error(a, gt) < 0.7 * grad_error(h, gt)
    soft = (out > 5) & (out < 250)
    assert soft.sum() > 200  # the painted edge became a ramp


def test_pixels_outside_the_region_are_bit_identical():
    rgb, gt = hairy_scene()
    hard = np.where(gt >= 0.5, 255, 0).astype(np.uint8)
    region = np.zeros(gt.shape, bool)
    region[20:140, 150:300] = True
    region[200:230, 10:60] = True  # a second, separate part
    out = refine_mask(rgb, hard, region=region)
    assert np.array_equal(out[~region], hard[~region])
    full = refine_mask(rgb, hard)
    changed = out != hard
    assert changed.any() and changed[region].sum() > 0.5 * (full != hard)[region].sum()
    # a uint8 selection (>= 128 inside) does the same
    sel = np.where(region, 200, 30).astype(np.uint8)
    assert np.array_equal(refine_mask(rgb, hard, region=sel), out)


def test_an_empty_region_changes_nothing():
    rgb, gt = hairy_scene(120, 160)
    hard = np.where(gt >= 0.5, 255, 0).astype(np.uint8)
    assert np.array_equal(refine_mask(rgb, hard, region=np.zeros(gt.shape, bool)), hard)


def test_a_soft_mask_keeps_its_soft_edge():
    rgb, gt = hairy_scene()
    soft = (gt * 255 + 0.5).astype(np.uint8)
    out = refine_mask(rgb, soft)
    assert np.abs(out / 255.0 - gt).mean() <= np.abs(soft / 255.0 - gt).mean() + 0.002


def test_white_on_white_is_left_alone():
    """Subject and background of one colour: nothing to separate, so the mask is kept."""
    rgb, gt = hairy_scene(bg_colour=(245, 245, 245))
    hard = np.where(gt >= 0.5, 255, 0).astype(np.uint8)
    out = refine_mask(rgb, hard)
    assert np.abs(out.astype(int) - hard).max() <= 2


def test_colour_trust_is_zero_without_contrast_or_without_a_sure_side():
    tri = np.full((60, 80), 0.5, np.float32)
    tri[:, :20], tri[:, 60:] = 1.0, 0.0
    grey = np.full((60, 80, 3), 128, np.uint8)
    assert colour_trust(grey, tri, 4).max() == 0.0
    split = grey.copy()
    split[:, :40] = 250
    split[:, 40:] = 10
    t = colour_trust(split, tri, 10)
    assert t[:, 30:50].min() > 0.99  # both sides within four bands, far apart in colour
    assert colour_trust(split, tri, 2).max() == 0.0  # no sure side within four bands of 2 px
    all_unknown = np.full((60, 80), 0.5, np.float32)
    assert colour_trust(split, all_unknown, 10).max() == 0.0


@pytest.mark.parametrize("value", [0, 255])
def test_flat_masks_are_returned_unchanged(value):
    rgb, _ = hairy_scene(60, 80)
    m = np.full((60, 80), value, np.uint8)
    assert np.array_equal(refine_mask(rgb, m), m)


def test_float_and_bool_masks_are_accepted():
    rgb, gt = hairy_scene(120, 160)
    a = refine_mask(rgb, gt >= 0.5)
    b = refine_mask(rgb, (gt >= 0.5).astype(np.float32))
    assert np.array_equal(a, b)


def test_bad_arguments():
    rgb, gt = hairy_scene(60, 80)
    m = np.zeros((60, 81), np.uint8)
    with pytest.raises(BgoneError, match="81x60 but the image is 80x60"):
        refine_mask(rgb, m)
    with pytest.raises(BgoneError, match="region"):
        refine_mask(rgb, np.zeros((60, 80), np.uint8), region=np.ones((10, 10), bool))
    with pytest.raises(BgoneError, match="band"):
        refine_mask(rgb, np.zeros((60, 80), np.uint8), band=0)


def test_default_band_scales_with_the_image():
    assert default_band((100, 100)) == 4
    assert default_band((3000, 4000)) == 40


def test_progress_and_cancel():
    import threading

    from bgone.errors import Cancelled

    rgb, gt = hairy_scene(120, 160)
    hard = np.where(gt >= 0.5, 255, 0).astype(np.uint8)
    seen = []
    refine_mask(rgb, hard, progress=lambda stage, f: seen.append((stage, f)))
    assert seen[0] == ("refine", 0.0) and seen[-1] == ("refine", 1.0)
    assert all(a[1] <= b[1] for a, b in zip(seen, seen[1:], strict=False))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        refine_mask(rgb, hard, cancel=cancel)

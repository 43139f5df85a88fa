"""upsample_alpha: edge-aware, float32, beats a plain bilinear resize on a synthetic edge."""

import numpy as np
import pytest
from PIL import Image

from bgone.grid import box_mean
from bgone.pipeline import resize_plain
from bgone.upsample import upsample_alpha


def scene(h=480, w=640, seed=0):
    """Red soft-edged disc on a mildly textured background; returns (rgb, true alpha)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(yy - h / 2, xx - w / 2)
    gt = np.clip((min(h, w) / 3 - d) / 1.5 + 0.5, 0, 1).astype(np.float32)
    tex = rng.integers(60, 140, (h // 16, w // 16, 3), dtype=np.uint8)
    bg = np.asarray(Image.fromarray(tex).resize((w, h), Image.BILINEAR), dtype=np.float32)
    rgb = gt[..., None] * np.array([230, 40, 40], np.float32) + (1 - gt[..., None]) * bg
    return rgb.astype(np.uint8), gt


def net_like(gt, size=80):
    """What a segmentation net gives: a small, slightly blurred mask."""
    low = np.asarray(Image.fromarray(gt, "F").resize((size, size), Image.BOX), dtype=np.float32)
    return box_mean(low, 1)


def test_guided_beats_bilinear_on_edges():
    rgb, gt = scene()
    low = net_like(gt)
    h, w = gt.shape
    guided = upsample_alpha(low, rgb)
    plain = resize_plain(low, (w, h))
    band = (gt > 0.01) & (gt < 0.99)
    band = box_mean(band.astype(np.float32), 6) > 0
    err_g = np.abs(guided - gt)[band].mean()
    err_p = np.abs(plain - gt)[band].mean()
    assert err_g < err_p
    assert guided.dtype == np.float32 and guided.shape == (h, w)
    assert guided.min() >= 0 and guided.max() <= 1


@pytest.mark.parametrize("shape", [(1, 50), (50, 1), (2, 2), (3, 700)])
def test_degenerate_shapes(shape):
    rgb = np.full(shape + (3,), 128, np.uint8)
    out = upsample_alpha(np.full((10, 10), 0.7, np.float32), rgb)
    assert out.shape == shape and out.dtype == np.float32
    assert np.allclose(out, 0.7, atol=0.5 / 255 + 1e-6)  # 8-bit steps


def test_flat_mask_stays_flat():
    rgb, _ = scene(120, 160)
    for v in (0.0, 1.0):
        out = upsample_alpha(np.full((20, 20), v, np.float32), rgb)
        assert np.allclose(out, v, atol=1e-4)


def test_u8_path_matches_the_float_filter_and_beats_bilinear(monkeypatch):
    """The 8-bit fast path (refine none) is the same filter on a coarser grid with flat tiles
    skipped: it must stay within a few levels of the float path and keep its edge advantage."""
    from bgone import upsample

    rgb, gt = scene(600, 800)
    low = net_like(gt)
    ref = np.clip(upsample.upsample_alpha_precise(low, rgb) * 255 + 0.5, 0, 255)
    fast = upsample.upsample_alpha_u8(low, rgb)
    assert fast.dtype == np.uint8 and fast.shape == gt.shape
    assert np.abs(fast - ref).mean() < 1.0
    band = box_mean(((gt > 0.01) & (gt < 0.99)).astype(np.float32), 6) > 0
    err_fast = np.abs(fast / 255.0 - gt)[band].mean()
    err_plain = np.abs(resize_plain(low, gt.shape[::-1]) - gt)[band].mean()
    assert err_fast < err_plain
    monkeypatch.setattr(upsample, "U8_WORK_PIXELS", 10**9)  # full-resolution coefficients
    monkeypatch.setattr(upsample, "U8_ACTIVE", 0.0)  # every tile evaluated
    full = upsample.upsample_alpha_u8(low, rgb)
    assert np.abs(full.astype(np.float32) - ref).max() <= 1.0  # same maths, 8-bit out

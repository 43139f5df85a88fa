"""refine_alpha: closer to the truth than its input, tiled == untiled, degenerate inputs, cancel."""

import threading

import numpy as np
import pytest
from PIL import Image

from bgone import refine
from bgone.errors import Cancelled
from bgone.refine import refine_alpha
from bgone.upsample import box_mean, upsample_alpha


def hairy_scene(h=240, w=320, seed=0):
    """A disc with thin 'hairs' (1-px lines at partial alpha) on a textured background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(yy - h / 2, xx - w / 2)
    gt = np.clip((h / 3 - d) / 1.5 + 0.5, 0, 1).astype(np.float32)
    for k in range(12):  # radial thin lines sticking out of the disc
        ang = 2 * np.pi * k / 12
        for t in np.linspace(h / 3, h / 3 + 25, 80):
            y, x = int(h / 2 + t * np.sin(ang)), int(w / 2 + t * np.cos(ang))
            gt[y, x] = max(gt[y, x], 0.7)
    tex = rng.integers(20, 110, (h // 12, w // 12, 3), dtype=np.uint8)
    bg = np.asarray(Image.fromarray(tex).resize((w, h), Image.BILINEAR), dtype=np.float32)
    rgb = gt[..., None] * np.array([240, 220, 90], np.float32) + (1 - gt[..., None]) * bg
    return rgb.astype(np.uint8), gt


def net_alpha(rgb, gt, size=64):
    low = np.asarray(Image.fromarray(gt, "F").resize((size, size), Image.BOX), dtype=np.float32)
    return upsample_alpha(box_mean(low, 1), rgb)


def band(gt):
    return box_mean(((gt > 0.01) & (gt < 0.99)).astype(np.float32), 4) > 0


@pytest.mark.parametrize("level", ["fast", "best"])
def test_refined_closer_than_raw(level):
    rgb, gt = hairy_scene()
    raw = net_alpha(rgb, gt)
    out = refine_alpha(rgb, raw, level)
    assert out.shape == gt.shape and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    b = band(gt)
    assert np.abs(out - gt)[b].sum() < 0.9 * np.abs(raw - gt)[b].sum()


def test_tiled_equals_untiled(monkeypatch):
    rgb, gt = hairy_scene(160, 200)
    raw = net_alpha(rgb, gt)
    whole = refine_alpha(rgb, raw, "fast")  # 32k px: one crop
    monkeypatch.setitem(refine.LEVELS, "fast", refine.Level(work_pixels=10**6, tile=48, margin=16))
    tiled = refine_alpha(rgb, raw, "fast")
    assert np.abs(tiled - whole).mean() < 2e-3
    assert np.abs(tiled - whole).max() < 0.15


def test_large_image_is_worked_small_and_blended_in_band_only():
    rgb, gt = hairy_scene(480, 640)
    raw = net_alpha(rgb, gt)
    monkeypatch_level = refine.Level(work_pixels=60_000, tile=128, margin=16)
    old = refine.LEVELS["fast"]
    refine.LEVELS["fast"] = monkeypatch_level
    try:
        out = refine_alpha(rgb, raw, "fast")
    finally:
        refine.LEVELS["fast"] = old
    far = ~(box_mean(((raw > 0.001) & (raw < 0.999)).astype(np.float32), 60) > 0)
    assert np.array_equal(out[far], raw[far])  # untouched away from the edge


@pytest.mark.parametrize(
    "alpha",
    [
        np.ones((60, 80), np.float32),
        np.zeros((60, 80), np.float32),
        np.pad(np.ones((1, 1), np.float32), ((30, 29), (40, 39))),
        np.full((1, 90), 0.5, np.float32),
        np.linspace(0, 1, 90, dtype=np.float32)[None, :].repeat(5, 0),
    ],
    ids=["all-fg", "all-bg", "one-pixel", "1xN", "5xN-ramp"],
)
def test_degenerate(alpha):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, alpha.shape + (3,), dtype=np.uint8)
    out = refine_alpha(rgb, alpha, "fast")
    assert out.shape == alpha.shape and out.dtype == np.float32
    assert np.all(np.isfinite(out)) and 0 <= out.min() and out.max() <= 1
    if alpha.min() == alpha.max():
        assert np.array_equal(out, alpha)


def test_progress_and_cancel():
    rgb, gt = hairy_scene()
    raw = net_alpha(rgb, gt)
    seen = []
    refine_alpha(rgb, raw, "fast", progress=lambda s, f: seen.append((s, f)))
    assert seen and all(s == "refine" for s, _ in seen)
    assert seen[-1][1] == 1.0 and [f for _, f in seen] == sorted(f for _, f in seen)
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        refine_alpha(rgb, raw, "fast", cancel=ev)


def test_unknown_level():
    from bgone.errors import BgoneError

    with pytest.raises(BgoneError):
        refine_alpha(np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.float32), "ultra")

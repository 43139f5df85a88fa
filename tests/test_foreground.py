"""estimate_foreground: removes the old background colour from edge pixels, leaves the rest."""

import numpy as np

from bgone import foreground
from bgone.foreground import estimate_foreground


def scene(h=120, w=160):
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(yy - h / 2, xx - w / 2)
    alpha = np.clip((h / 3 - d) / 6 + 0.5, 0, 1).astype(np.float32)  # wide soft edge
    fg = np.array([30, 60, 230], np.float32)  # blue subject
    bg = np.array([20, 230, 30], np.float32)  # green screen
    rgb = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    return (rgb + 0.5).astype(np.uint8), alpha, fg, bg


def test_green_spill_removed_at_edge():
    rgb, alpha, fg, bg = scene()
    out = estimate_foreground(rgb, alpha)
    edge = (alpha > 0.1) & (alpha < 0.6)
    before = np.abs(rgb[edge].astype(np.float32) - fg).mean()
    after = np.abs(out[edge].astype(np.float32) - fg).mean()
    assert after < 0.3 * before
    assert out[edge][:, 1].mean() < rgb[edge][:, 1].mean() - 40  # less green


def test_opaque_and_transparent_pixels_unchanged():
    rgb, alpha, _, _ = scene()
    out = estimate_foreground(rgb, alpha)
    hard = (alpha == 0) | (alpha == 1)
    assert np.array_equal(out[hard], rgb[hard])
    assert out.dtype == np.uint8 and out.shape == rgb.shape


def test_bounded_resolution_path(monkeypatch):
    monkeypatch.setattr(foreground, "WORK_PIXELS", 4000)
    rgb, alpha, fg, _ = scene()
    out = estimate_foreground(rgb, alpha)
    edge = (alpha > 0.1) & (alpha < 0.6)
    assert (
        np.abs(out[edge].astype(np.float32) - fg).mean()
        < 0.5 * np.abs(rgb[edge].astype(np.float32) - fg).mean()
    )


def test_degenerate():
    for a in (
        np.zeros((5, 7), np.float32),
        np.ones((5, 7), np.float32),
        np.full((1, 30), 0.5, np.float32),
    ):
        rgb = np.full(a.shape + (3,), 77, np.uint8)
        out = estimate_foreground(rgb, a)
        assert out.shape == rgb.shape and out.dtype == np.uint8


def test_uint8_alpha_takes_the_same_route(monkeypatch):
    """Pipelines hand over 8-bit alpha; it must give what the float alpha gives (no halo),
    and touch only the soft pixels."""
    monkeypatch.setattr(foreground, "WORK_PIXELS", 4000)
    rgb, alpha, fg, _ = scene()
    a8 = (alpha * 255 + 0.5).astype(np.uint8)
    out8 = estimate_foreground(rgb, a8)
    outf = estimate_foreground(rgb, a8.astype(np.float32) / 255)
    soft = (a8 > 0) & (a8 < 255)
    assert np.abs(out8.astype(int) - outf.astype(int))[soft].mean() <= 3
    hard = (a8 == 0) | (a8 == 255)
    assert np.array_equal(out8[hard], rgb[hard])
    edge = (alpha > 0.1) & (alpha < 0.6)
    assert np.abs(out8[edge].astype(np.float32) - fg).mean() < 0.5 * np.abs(
        rgb[edge].astype(np.float32) - fg).mean()

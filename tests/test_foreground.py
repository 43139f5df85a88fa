"""estimate_foreground: removes the old background colour from edge pixels, leaves the rest."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bgone import foreground
from bgone.foreground import estimate_foreground

METHODS = pytest.mark.parametrize("method", ["blur", "ml"])


def scene(h=120, w=160):
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(yy - h / 2, xx - w / 2)
    alpha = np.clip((h / 3 - d) / 6 + 0.5, 0, 1).astype(np.float32)  # wide soft edge
    fg = np.array([30, 60, 230], np.float32)  # blue subject
    bg = np.array([20, 230, 30], np.float32)  # green screen
    rgb = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    return (rgb + 0.5).astype(np.uint8), alpha, fg, bg


def test_default_is_blur():
    assert foreground.DEFAULT_METHOD == "blur"


@METHODS
def test_green_spill_removed_at_edge(method):
    rgb, alpha, fg, bg = scene()
    out = estimate_foreground(rgb, alpha, method=method)
    edge = (alpha > 0.1) & (alpha < 0.6)
    before = np.abs(rgb[edge].astype(np.float32) - fg).mean()
    after = np.abs(out[edge].astype(np.float32) - fg).mean()
    assert after < 0.3 * before
    assert out[edge][:, 1].mean() < rgb[edge][:, 1].mean() - 40  # less green


@METHODS
def test_opaque_and_transparent_pixels_unchanged(method):
    rgb, alpha, _, _ = scene()
    out = estimate_foreground(rgb, alpha, method=method)
    hard = (alpha == 0) | (alpha == 1)
    assert np.array_equal(out[hard], rgb[hard])
    assert out.dtype == np.uint8 and out.shape == rgb.shape


@METHODS
def test_bounded_resolution_path(monkeypatch, method):
    monkeypatch.setattr(foreground, "WORK_PIXELS", 4000)
    monkeypatch.setattr(foreground, "BLUR_WORK_PIXELS", 4000)
    rgb, alpha, fg, _ = scene()
    out = estimate_foreground(rgb, alpha, method=method)
    edge = (alpha > 0.1) & (alpha < 0.6)
    assert (
        np.abs(out[edge].astype(np.float32) - fg).mean()
        < 0.5 * np.abs(rgb[edge].astype(np.float32) - fg).mean()
    )
    hard = (alpha == 0) | (alpha == 1)
    assert np.array_equal(out[hard], rgb[hard])


@METHODS
def test_degenerate(method):
    for a in (
        np.zeros((5, 7), np.float32),
        np.ones((5, 7), np.float32),
        np.full((1, 30), 0.5, np.float32),
        np.full((30, 1), 128, np.uint8),
        np.full((2, 2), 0.5, np.float32),
        np.full((9, 11), 0.5, np.float32),  # all soft: no known foreground or background
    ):
        rgb = np.full(a.shape + (3,), 77, np.uint8)
        out = estimate_foreground(rgb, a, method=method)
        assert out.shape == rgb.shape and out.dtype == np.uint8
        if a.dtype != np.uint8 and a.size > 4:
            assert np.abs(out.astype(int) - 77).max() <= 1  # flat image: F = I


def test_single_soft_pixel_and_rgba_input():
    rgb, alpha, _, _ = scene()
    a = (alpha >= 0.5).astype(np.float32)
    a[0, 0] = 0.5
    rgba = np.dstack([rgb, np.full(alpha.shape, 255, np.uint8)])
    out = estimate_foreground(rgba, a)
    assert out.shape == rgb.shape
    assert np.array_equal(out[1:], rgb[1:])


def test_lone_soft_pixel_on_reduced_grid(monkeypatch):
    monkeypatch.setattr(foreground, "WORK_PIXELS", 300)
    monkeypatch.setattr(foreground, "BLUR_WORK_PIXELS", 300)
    rgb, alpha, _, _ = scene()
    a = (alpha >= 0.5).astype(np.uint8) * 255
    a[60, 80] = 254  # one soft pixel inside the opaque disc, 8x reduced grid
    out = estimate_foreground(rgb, a)
    assert np.array_equal(out[a != 254], rgb[a != 254])


def test_unknown_method():
    rgb, alpha, _, _ = scene()
    with pytest.raises(ValueError):
        estimate_foreground(rgb, alpha, method="nope")


@METHODS
@pytest.mark.parametrize("work", [4000, 1_000_000])
def test_uint8_alpha_takes_the_same_route(monkeypatch, method, work):
    """Pipelines hand over 8-bit alpha; it must give what the float alpha gives (no halo),
    and touch only the soft pixels, reduced (4000) or at full resolution (1 MP)."""
    monkeypatch.setattr(foreground, "WORK_PIXELS", work)
    monkeypatch.setattr(foreground, "BLUR_WORK_PIXELS", work)
    rgb, alpha, fg, _ = scene()
    a8 = (alpha * 255 + 0.5).astype(np.uint8)
    out8 = estimate_foreground(rgb, a8, method=method)
    outf = estimate_foreground(rgb, a8.astype(np.float32) / 255, method=method)
    soft = (a8 > 0) & (a8 < 255)
    assert np.abs(out8.astype(int) - outf.astype(int))[soft].mean() <= 3
    hard = (a8 == 0) | (a8 == 255)
    assert np.array_equal(out8[hard], rgb[hard])
    edge = (alpha > 0.1) & (alpha < 0.6)
    assert (
        np.abs(out8[edge].astype(np.float32) - fg).mean()
        < 0.5 * np.abs(rgb[edge].astype(np.float32) - fg).mean()
    )


@METHODS
def test_out_is_written_in_place_like_a_fresh_copy(monkeypatch, method):
    """out= (the colour channels of the cutout being made) gets exactly what the default copy
    gets, without touching the input or anything but the soft pixels."""
    monkeypatch.setattr(foreground, "WORK_PIXELS", 4000)
    monkeypatch.setattr(foreground, "BLUR_WORK_PIXELS", 4000)
    rgb, alpha, _, _ = scene(300, 700)  # several tiles of APPLY_TILE
    a8 = (alpha * 255 + 0.5).astype(np.uint8)
    before = rgb.copy()
    fresh = estimate_foreground(rgb, a8, method=method)
    rgba = np.zeros((*a8.shape, 4), np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = 77
    got = estimate_foreground(rgb, a8, method=method, out=rgba[..., :3])
    assert np.shares_memory(got, rgba)
    assert np.array_equal(rgba[..., :3], fresh) and (rgba[..., 3] == 77).all()
    assert np.array_equal(rgb, before)
    assert not np.array_equal(fresh, rgb)  # the scene has soft pixels that did change


def test_blur_matches_cropped_and_whole_solve():
    """The soft-band crop (margin = sum of radii) gives the whole-image answer."""
    rgb, alpha, _, _ = scene(200, 260)
    alpha[:, :60] = 0.0  # subject away from the left border: the crop is a real crop
    a = np.zeros_like(alpha)
    a[20:180, 80:240] = alpha[:160, :160]
    soft = (a > 0) & (a < 1)
    whole = foreground._blur_means(rgb, a, foreground.blur_radii(*a.shape))
    crop = foreground._blur_means_cropped(rgb, a, soft)
    np.testing.assert_allclose(crop[soft], whole[soft], atol=0.05)


def test_blur_path_does_not_import_pymatting():
    core = Path(foreground.__file__).resolve().parents[1]
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import numpy as np;"
        "from bgone.foreground import estimate_foreground;"
        "a = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64);"
        "out = estimate_foreground(np.full((64, 64, 3), 90, np.uint8), a);"
        "from bgone import pipeline;"
        "assert out.shape == (64, 64, 3);"
        "print(sorted(m for m in ('pymatting', 'numba') if m in sys.modules))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(core)], capture_output=True, text=True, check=True
    )
    assert r.stdout.strip() == "[]"

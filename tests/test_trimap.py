"""make_trimap: band from image size and mask uncertainty, not fixed pixel counts."""

import numpy as np

from bgone.trimap import band_radius, make_trimap


def disc(h, w, soft):
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(yy - h / 2, xx - w / 2)
    return np.clip((min(h, w) / 3 - d) / soft + 0.5, 0, 1).astype(np.float32)


def test_values_and_sides():
    a = disc(200, 300, 4)
    t = make_trimap(a)
    assert set(np.unique(t)) == {0.0, 0.5, 1.0}
    assert t[100, 150] == 1.0 and t[0, 0] == 0.0
    assert np.all(t[(a > 0.05) & (a < 0.95)] == 0.5)  # every soft pixel is unknown


def test_band_scales_with_image_size():
    small, big = disc(200, 300, 2), disc(800, 1200, 8)
    assert band_radius(big.shape, big) > 2 * band_radius(small.shape, small)


def test_band_scales_with_uncertainty():
    sharp, blurry = disc(400, 600, 1), disc(400, 600, 30)
    assert band_radius(blurry.shape, blurry) > band_radius(sharp.shape, sharp)
    assert (make_trimap(blurry) == 0.5).sum() > (make_trimap(sharp) == 0.5).sum()


def test_degenerate():
    for a in (
        np.zeros((10, 10), np.float32),
        np.ones((10, 10), np.float32),
        np.zeros((1, 40), np.float32),
    ):
        t = make_trimap(a)
        assert t.shape == a.shape and not (t == 0.5).any()
    dot = np.zeros((50, 50), np.float32)
    dot[25, 25] = 1
    t = make_trimap(dot)
    assert t[25, 25] == 0.5 and t[0, 0] == 0.0

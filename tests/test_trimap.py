"""make_trimap: unknown = everything the net is unsure about, plus a margin that scales with size."""

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
    ts, tb = make_trimap(sharp), make_trimap(blurry)
    assert (tb == 0.5).sum() > 3 * (ts == 0.5).sum()
    # the whole uncertain ramp is unknown, not a band capped around the 0.5 contour
    assert np.all(tb[(blurry > 0.04) & (blurry < 0.96)] == 0.5)


def test_sure_regions_are_eroded_by_the_margin():
    a = disc(400, 600, 2)
    r = band_radius(a.shape)
    assert r == 3  # 0.5 % of 600
    t = make_trimap(a, r)
    soft = (a > 0.04) & (a < 0.96)
    # every sure pixel is more than r pixels (Chebyshev) from any soft pixel
    ys, xs = np.nonzero(soft)
    sure = np.argwhere(t != 0.5)
    near = np.zeros_like(soft)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            near |= np.roll(np.roll(soft, dy, 0), dx, 1)
    assert not near[sure[:, 0], sure[:, 1]].any()
    wider = make_trimap(a, 3 * r)
    assert (wider == 0.5).sum() > (t == 0.5).sum()


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

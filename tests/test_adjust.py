"""adjust_mask: exact grow/shrink, islands and holes by area, contrast, feather, bad settings."""

import numpy as np
import pytest

from bgone import adjust_mask
from bgone.adjust import contrast_mask, feather_mask, grow_mask, remove_small
from bgone.errors import BgoneError


def brute_distance(src: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest True pixel of src (small arrays only)."""
    ys, xs = np.nonzero(src)
    yy, xx = np.mgrid[: src.shape[0], : src.shape[1]]
    d = np.hypot(yy[..., None] - ys, xx[..., None] - xs)
    return d.min(axis=2)


def blobs():
    m = np.zeros((40, 50), np.uint8)
    m[10:25, 12:30] = 255
    m[30, 40] = 255
    m[5:8, 40:46] = 200
    return m


@pytest.mark.parametrize("n", [1, 2, 5])
def test_grow_by_n_is_exact(n):
    m = blobs()
    out = grow_mask(m, n)
    want = brute_distance(m >= 128) <= n
    assert np.array_equal(out >= 128, want)
    assert np.array_equal(out[~want], m[~want])  # values away from the edge are kept


@pytest.mark.parametrize("n", [1, 3])
def test_shrink_by_n_is_exact(n):
    m = blobs()
    out = grow_mask(m, -n)
    want = (m >= 128) & ~(brute_distance(m < 128) <= n)
    assert np.array_equal(out >= 128, want)
    assert np.array_equal(out[want], m[want])


@pytest.mark.parametrize("n", [-4, 3, 9])
def test_tiles_agree_with_one_distance_transform(n):
    rng = np.random.default_rng(3)
    m = np.where(rng.random((70, 90)) < 0.03, 255, 0).astype(np.uint8)
    m[20:50, 30:70] = 255
    assert np.array_equal(grow_mask(m, n, tile=16), grow_mask(m, n, tile=1000))


def test_a_single_pixel_grows_into_a_disc():
    m = np.zeros((21, 21), np.uint8)
    m[10, 10] = 255
    assert (grow_mask(m, 3) == 255).sum() == 29  # lattice points with x^2 + y^2 <= 9


def test_islands_and_holes_below_an_area_go():
    m = np.zeros((60, 60), np.uint8)
    m[5:7, 5:7] = 255  # island of 4 px
    m[40:45, 40:45] = 255  # island of 25 px
    m[10:40, 20:50] = 255
    m[20:22, 30:32] = 0  # hole of 4 px
    m[25:31, 35:41] = 0  # hole of 36 px
    out = remove_small(m, min_island=10, min_hole=10)
    assert out[5:7, 5:7].max() == 0 and out[40:45, 40:45].min() == 255
    assert out[20:22, 30:32].min() == 255 and out[25:31, 35:41].max() == 0
    diag = np.zeros((10, 10), np.uint8)
    diag[2, 2] = diag[3, 3] = diag[4, 4] = 255  # 8-connected: one island of 3 px
    assert remove_small(diag, min_island=3).sum() == 3 * 255
    assert remove_small(diag, min_island=4).sum() == 0


def test_contrast_toward_a_hard_edge():
    ramp = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    assert np.array_equal(contrast_mask(ramp, 0), ramp)
    hard = contrast_mask(ramp, 100, threshold=100)
    assert np.array_equal(hard, np.where(ramp >= 100, 255, 0))
    half = contrast_mask(ramp, 50).astype(int)
    assert half[0, 128] in (128, 129) and half[0, 100] < 100 and half[0, 160] > 160
    assert np.all(np.diff(half[0]) >= 0)


@pytest.mark.parametrize("n", [6, 18])
def test_feather_softens_the_edge_over_about_n_px(n):
    m = np.zeros((40, 120), np.uint8)
    m[:, 60:] = 255
    out = feather_mask(m, n)
    row = out[20].astype(int)
    width = np.count_nonzero((row > 0) & (row < 255))
    assert n - 2 <= width <= n + 2
    assert np.all(np.diff(row) >= 0) and row[0] == 0 and row[-1] == 255


def test_adjust_mask_runs_the_steps_in_order_and_leaves_the_input():
    m = blobs()
    before = m.copy()
    out = adjust_mask(m, grow=2, feather=6, contrast=0, min_island=2)
    assert np.array_equal(m, before)
    assert out[30, 40] == 0  # the 1-px island went before growing
    assert 0 < out[10 - 2, 20] < 255  # the grown edge is feathered
    assert np.array_equal(adjust_mask(m), m)


def test_a_region_limits_the_change():
    m = blobs()
    region = np.zeros(m.shape, bool)
    region[:, :20] = True
    out = adjust_mask(m, grow=3, feather=4, region=region)
    assert np.array_equal(out[:, 20:], m[:, 20:]) and (out[:, :20] != m[:, :20]).any()


@pytest.mark.parametrize(
    "kw, text",
    [
        ({"feather": -1}, "feather"),
        ({"contrast": 101}, "contrast"),
        ({"threshold": 0}, "threshold"),
        ({"min_island": -5}, "island"),
    ],
)
def test_bad_settings_are_named(kw, text):
    with pytest.raises(BgoneError, match=text):
        adjust_mask(blobs(), **kw)
    with pytest.raises(BgoneError, match="8-bit"):
        adjust_mask(blobs().astype(np.float32))

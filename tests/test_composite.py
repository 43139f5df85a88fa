import numpy as np

from bgone import composite


def test_over_color_blends_and_rounds():
    rgb = np.array([[[200, 100, 0], [200, 100, 0], [200, 100, 0]]], np.uint8)
    alpha = np.array([[255, 0, 128]], np.uint8)
    out = composite.over_color(rgb, alpha, (0, 0, 255))
    assert out[0, 0].tolist() == [200, 100, 0]
    assert out[0, 1].tolist() == [0, 0, 255]
    exact = (np.array([200, 100, 0]) * 128 + np.array([0, 0, 255]) * 127) / 255
    assert np.abs(out[0, 2] - exact).max() <= 0.5


def test_rgba_and_multiply():
    rgb = np.full((2, 2, 3), 9, np.uint8)
    a = np.array([[0, 255], [128, 255]], np.uint8)
    out = composite.rgba(rgb, a)
    assert out.shape == (2, 2, 4) and out[1, 0, 3] == 128 and out[0, 0, 0] == 9
    m = composite.multiply_alpha(a, np.array([[255, 0], [255, 128]], np.uint8))
    assert m.tolist() == [[0, 0], [128, 128]]


def test_rgba_in_bands_matches_a_plain_stack():
    """rgba copies in row bands on all cores: every band, the last short one included."""
    rng = np.random.default_rng(4)
    h = composite.BAND * 2 + 7
    rgb = rng.integers(0, 256, (h, 33, 3), dtype=np.uint8)
    a = rng.integers(0, 256, (h, 33), dtype=np.uint8)
    assert np.array_equal(composite.rgba(rgb, a), np.dstack([rgb, a]))


def test_clear_transparent_zeroes_only_invisible_colour():
    rgba = np.full((2, 3, 4), 200, np.uint8)
    rgba[0, 0, 3] = 0
    rgba[1, 2, 3] = 1
    out = composite.clear_transparent(rgba)
    assert out is rgba and rgba[0, 0].tolist() == [0, 0, 0, 0]
    assert rgba[1, 2].tolist() == [200, 200, 200, 1] and rgba[0, 1].tolist() == [200] * 4


def test_snap_alpha_sets_what_cannot_show_to_0_or_255_and_keeps_the_rest():
    a = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = composite.snap_alpha(a)
    assert out is a  # in place: no 12 MP copy
    flat = out.ravel()
    assert list(flat[:4]) == [0, 0, 0, 3] and list(flat[-4:]) == [252, 255, 255, 255]
    assert np.array_equal(flat[3:253], np.arange(3, 253))

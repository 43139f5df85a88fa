import numpy as np

from bgone import preprocess, registry


def test_to_tensor_normalises_by_255_then_mean_std():
    spec = registry.get_model("u2netp")
    small = np.zeros((2, 3, 3), np.uint8)
    small[..., 0] = 255
    t = preprocess.to_tensor(small, spec)
    assert t.shape == (1, 3, 2, 3) and t.dtype == np.float32
    np.testing.assert_allclose(t[0, 0, 0, 0], (1 - 0.485) / 0.229, rtol=1e-5)
    np.testing.assert_allclose(t[0, 1, 0, 0], (0 - 0.456) / 0.224, rtol=1e-5)


def test_postprocess_minmax_and_stable_sigmoid():
    u = registry.get_model("u2netp")
    out = preprocess.postprocess(np.array([[[[2.0, 4.0], [6.0, 4.0]]]], np.float32), u)
    np.testing.assert_allclose(out, [[0, 0.5], [1, 0.5]])
    b = registry.get_model("birefnet-general")
    with np.errstate(all="raise"):  # the reference overflows in exp() here
        out = preprocess.postprocess(np.array([[[[-1000.0, 0.0, 1000.0]]]], np.float32), b)
    np.testing.assert_allclose(out, [[0, 0.5, 1]], atol=1e-6)
    flat = preprocess.postprocess(np.ones((1, 1, 4, 4), np.float32), u)
    assert flat.shape == (4, 4) and not np.isnan(flat).any()


def test_resize_rgb_reaches_model_size():
    rgb = np.random.default_rng(0).integers(0, 255, (300, 500, 3), dtype=np.uint8)
    assert preprocess.resize_rgb(rgb, (320, 320)).shape == (320, 320, 3)

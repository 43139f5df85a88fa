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


def test_modnet_normalisation_is_x_minus_127_5_over_127_5():
    small = np.array([[[0, 255, 128]]], np.uint8)
    t = preprocess.to_tensor(small, registry.get_model("modnet"))
    np.testing.assert_allclose(t.ravel(), [-1.0, 1.0, (128 - 127.5) / 127.5], atol=1e-6)


def test_postprocess_keeps_a_matte_and_reads_float16():
    modnet = registry.get_model("modnet")
    out = preprocess.postprocess(np.array([[[[0.2, 0.6]]]], np.float16), modnet)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.2, 0.6]], atol=1e-3)  # no min-max stretch


def test_network_size_per_family():
    modnet, dyn = registry.get_model("modnet"), registry.get_model("birefnet-dynamic")
    size = preprocess.network_size
    assert size(modnet, 640, 480) == (672, 512)  # short side 512, long side follows, floored to 32
    assert size(modnet, 4000, 3000) == (672, 512)
    assert size(modnet, 33, 65) == (512, 992)
    assert size(modnet, 1, 700) == (32, 1536)  # never 0, the long side capped
    assert size(dyn, 640, 480) == (640, 480)  # its own size
    assert size(dyn, 4000, 3000) == (2304, 1728)  # long side within 2304
    assert size(dyn, 100, 50) == (512, 256)  # short side up to 256
    assert size(registry.get_model("u2netp"), 4000, 3000) == (320, 320)
    for w, h in ((1, 1), (1, 5000), (5000, 1), (33, 65), (4000, 3000)):
        for spec in (modnet, dyn):
            sw, sh = size(spec, w, h)
            assert sw % 32 == 0 and sh % 32 == 0 and 32 <= sw <= 2304 and 32 <= sh <= 2304

import numpy as np
import pytest

from bgone import inference, registry
from bgone.errors import BgoneError, ModelCorrupt
from tests.modelfiles import make_tiny_model


def _disc(h=240, w=320, r=70):
    yy, xx = np.mgrid[:h, :w]
    inside = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < r**2
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (30, 90, 200)
    img[inside] = (235, 70, 40)
    return img, inside


def test_choose_providers():
    cpu = ["CPUExecutionProvider"]
    assert inference.choose_providers("auto", cpu) == cpu
    assert inference.choose_providers("auto", ["CUDAExecutionProvider", *cpu]) == [
        "CUDAExecutionProvider",
        *cpu,
    ]
    assert inference.choose_providers("cpu", ["CUDAExecutionProvider", *cpu]) == cpu
    with pytest.raises(BgoneError, match="not available"):
        inference.choose_providers("cuda", cpu)
    with pytest.raises(BgoneError, match="Unknown device"):
        inference.choose_providers("tpu", cpu)


@pytest.mark.parametrize("fp16", [False, True])
def test_tiny_model_plumbing(tmp_path, fp16):
    path = make_tiny_model(tmp_path / "t.onnx", size=320, fp16=fp16)
    img, inside = _disc()
    low = inference.predict_lowres(img, registry.get_model("u2netp"), path=path)
    assert low.shape == (320, 320) and low.dtype == np.float32
    assert low.min() == 0.0 and low.max() == 1.0  # min-max normalised
    assert low[160, 160] > 0.9 and low[5, 5] < 0.1  # red disc in the middle, blue corners


def test_corrupt_model_file_is_model_corrupt(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(ModelCorrupt) as e:
        inference.get_session(bad)
    assert "bad.onnx" in e.value.message and "verify" in e.value.hint


def test_sessions_are_cached(tmp_path, tiny_model):
    assert inference.get_session(tiny_model) is inference.get_session(tiny_model)


def test_real_u2netp_finds_a_drawn_subject(u2netp_path):
    img, inside = _disc()
    low = inference.predict_lowres(img, registry.get_model("u2netp"), path=u2netp_path)
    from PIL import Image

    full = np.asarray(Image.fromarray(low, "F").resize((320, 240), Image.BILINEAR))
    pred = full > 0.5
    iou = (pred & inside).sum() / (pred | inside).sum()
    assert iou > 0.9, iou


def _slow_model(path, n=40, size=768):
    """A chain of big MatMuls: a forward pass long enough to cancel in the middle of."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.full((size, size), 1.0 / size, np.float32), "w")
    nodes, prev = [], "x"
    for i in range(n):
        nodes.append(helper.make_node("MatMul", [prev, "w"], [f"m{i}"]))
        prev = f"m{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"]))
    graph = helper.make_graph(
        nodes,
        "slow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, size, size])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_cancel_aborts_a_running_forward_pass(tmp_path):
    """onnxruntime's RunOptions.terminate stops the pass; the session stays usable afterwards."""
    import threading
    import time

    from bgone.errors import Cancelled

    sess = inference.get_session(_slow_model(tmp_path / "slow.onnx"), "cpu")
    x = np.ones((1, 3, 768, 768), np.float32)
    t0 = time.perf_counter()
    inference.forward(sess, x)
    full = time.perf_counter() - t0
    ev = threading.Event()
    threading.Timer(full / 10, ev.set).start()
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        inference.forward(sess, x, ev)
    aborted = time.perf_counter() - t0
    assert aborted < full / 2, (aborted, full)
    assert np.allclose(inference.forward(sess, x, threading.Event()), 1.0, atol=1e-3)


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/status"), reason="Linux /proc")
def test_release_gives_the_activations_back_and_keeps_the_answer(
    tmp_path, u2netp_path, monkeypatch
):
    """A big photo's forward pass hands its arena back; small ones keep it warm."""
    sess = inference.get_session(u2netp_path)
    x = np.random.default_rng(0).random((1, 3, 320, 320), dtype=np.float32)
    kept = inference.forward(sess, x)
    after_kept = _rss_mb()
    released = inference.forward(sess, x, release=True)
    after_released = _rss_mb()
    np.testing.assert_array_equal(kept, released)
    assert after_released < after_kept - 100, (after_kept, after_released)  # u2netp: ~270 MB
    calls = []
    monkeypatch.setattr(inference, "forward", lambda s, t, c=None, r=False: calls.append(r) or kept)
    spec = registry.get_model("u2netp")
    small = np.zeros((100, 100, 3), np.uint8)
    big = np.zeros((2000, 2001, 3), np.uint8)
    for img in (small, big):
        inference.predict_lowres(img, spec, path=u2netp_path)
    assert calls == [False, True]

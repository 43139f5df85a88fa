import numpy as np
import pytest

from bgone import inference, preprocess, registry
from bgone.errors import BgoneError, ModelCorrupt
from tests.modelfiles import make_family_model, make_tiny_model


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


def _figure(w=480, h=640):
    """A drawn person: a skin-coloured head over a red torso on a plain blue backdrop."""
    from PIL import Image, ImageDraw

    body = [(w * 0.2, h), (w * 0.3, h * 0.55), (w * 0.7, h * 0.55), (w * 0.8, h)]
    head = [w * 0.35, h * 0.2, w * 0.65, h * 0.55]
    img, mask = Image.new("RGB", (w, h), (70, 110, 160)), Image.new("L", (w, h), 0)
    for im, body_fill, head_fill in ((img, (200, 40, 40), (225, 180, 150)), (mask, 255, 255)):
        d = ImageDraw.Draw(im)
        d.polygon(body, fill=body_fill)
        d.ellipse(head, fill=head_fill)
    return np.asarray(img), np.asarray(mask) > 0


def test_real_modnet_finds_a_drawn_person(modnet_path):
    from PIL import Image

    img, inside = _figure()
    low = inference.predict_lowres(img, registry.get_model("modnet"), "cpu", modnet_path)
    assert low.shape == (672, 512)  # short side 512, long side in proportion, multiples of 32
    full = np.asarray(Image.fromarray(low, "F").resize((480, 640), Image.BILINEAR)) > 0.5
    iou = (full & inside).sum() / (full | inside).sum()
    assert iou > 0.95, iou
    assert 0.0 <= low.min() and low.max() <= 1.0  # its own matte, not stretched


@pytest.mark.parametrize("shape", [(1, 700), (700, 1), (33, 65), (3000, 4000)])
def test_real_modnet_runs_at_sizes_that_are_not_multiples_of_32(modnet_path, shape):
    """MODNet's graph fails at Concat_303 unless both sides are multiples of 32."""
    spec = registry.get_model("modnet")
    img = np.full((*shape, 3), 128, np.uint8)
    low = inference.predict_lowres(img, spec, "cpu", modnet_path)
    assert low.shape[0] % 32 == 0 and low.shape[1] % 32 == 0 and low.dtype == np.float32
    assert low.shape == preprocess.network_size(spec, shape[1], shape[0])[::-1]


def test_modnet_recipe_on_a_generated_model(tmp_path):
    """(x - 127.5) / 127.5 in, the 0..1 output kept as it is (no min-max stretch)."""
    path = make_family_model(tmp_path / "m.onnx", "modnet")
    img = np.zeros((100, 150, 3), np.uint8)
    img[:, 75:, 0] = 255
    img[:, :75, 0] = 64
    low = inference.predict_lowres(img, registry.get_model("modnet"), "cpu", path)
    assert low.shape == (512, 768)
    np.testing.assert_allclose(low[5, 5], 64 / 255, atol=2e-3)  # not stretched to 0
    np.testing.assert_allclose(low[5, -5], 1.0, atol=1e-6)


def test_birefnet_dynamic_recipe_on_a_generated_model(tmp_path):
    """The photo's own size within 256..2304 px in multiples of 32; logits through a sigmoid."""
    path = make_family_model(tmp_path / "d.onnx", "birefnet-dynamic")
    spec = registry.get_model("birefnet-dynamic")
    img, inside = _disc(h=300, w=400, r=80)
    low = inference.predict_lowres(img, spec, "cpu", path)
    assert low.shape == (288, 384)
    assert low[144, 192] > 0.9 and low[5, 5] < 0.1
    big = inference.predict_lowres(np.zeros((3000, 4000, 3), np.uint8), spec, "cpu", path)
    assert big.shape == (1728, 2304)


def test_ben2_recipe_on_a_generated_model_with_float16_output(tmp_path):
    path = make_family_model(tmp_path / "b.onnx", "ben2")
    img, inside = _disc()
    low = inference.predict_lowres(img, registry.get_model("ben2-base"), "cpu", path)
    assert low.shape == (1024, 1024) and low.dtype == np.float32
    # /255 with no mean/std: the backdrop's red 30 stays 30/255 (resize ringing spans 0..255)
    assert low.max() == 1.0 and low[512, 512] > 0.9
    np.testing.assert_allclose(low[5, 5], 30 / 255, atol=0.01)


@pytest.mark.parametrize("name", ["birefnet-hr", "birefnet-hr-matting"])
def test_birefnet_hr_recipe_runs_at_2048(tmp_path, name):
    path = make_tiny_model(tmp_path / "hr.onnx", size=2048)
    low = inference.predict_lowres(_disc()[0], registry.get_model(name), "cpu", path)
    assert low.shape == (2048, 2048) and low[1024, 1024] > 0.9


def test_inference_never_fetches_a_model():
    """The caller resolves the file (issue 11): no path is an error, not a download."""
    import inspect

    with pytest.raises(TypeError, match="ensure_model"):
        inference.predict_lowres(_disc()[0], registry.get_model("u2netp"))
    src = inspect.getsource(inference)
    assert "from .store" not in src and "import store" not in src and "from . import" not in src.replace(
        "from . import preprocess", "")


def test_device_report_says_why_a_present_gpu_is_idle():
    cpu = ["CPUExecutionProvider"]
    r = inference.device_report("auto", cpu, "NVIDIA GPU")
    assert r["device"] == "cpu" and "onnxruntime-gpu" in r["note"] and "NVIDIA" in r["note"]
    r = inference.device_report("auto", ["CUDAExecutionProvider", *cpu], "NVIDIA GPU")
    assert r["device"] == "cuda" and r["note"] == ""
    assert "CoreML" in inference.device_report("auto", cpu, "Apple GPU")["note"]
    assert "asked for" in inference.device_report("cpu", ["CUDAExecutionProvider", *cpu], "NVIDIA GPU")["note"]
    assert "No supported GPU" in inference.device_report("auto", cpu, None)["note"]

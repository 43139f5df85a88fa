import threading
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from bgone import pipeline, registry
from bgone.errors import BgoneError, Cancelled


def drawn(h=480, w=640):
    """A red disc (the subject) on a blue wall with a little texture."""
    yy, xx = np.mgrid[:h, :w]
    inside = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (0.3 * h) ** 2
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (35, 95, 190)
    img[inside] = (230, 70, 40)
    img = (
        (img.astype(np.int16) + np.random.default_rng(1).integers(-8, 8, img.shape))
        .clip(0, 255)
        .astype(np.uint8)
    )
    return img, inside


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_predict_alpha_finds_the_subject(seeded_model_dir):
    img, inside = drawn()
    events = []
    alpha = pipeline.predict_alpha(
        img, model="u2netp", refine="none", progress=lambda s, f: events.append((s, f))
    )
    assert alpha.dtype == np.uint8 and alpha.shape == inside.shape
    assert iou(alpha > 127, inside) > 0.95
    assert ("inference", 1.0) in events


@pytest.mark.parametrize("level", ["none", "fast"])
def test_predict_alpha_has_no_values_that_cannot_show(seeded_model_dir, level):
    """The net's faint floor (alpha 1-2) and near-opaque 253-254 come out exactly 0 and 255."""
    img, inside = drawn()
    alpha = pipeline.predict_alpha(img, model="u2netp", refine=level)
    counts = np.bincount(alpha.ravel(), minlength=256)
    assert counts[[1, 2, 253, 254]].sum() == 0
    assert counts[0] > 0 and counts[255] > 0 and counts[3:253].sum() > 0  # soft edge kept


def test_default_model_falls_back_to_an_installed_one(seeded_model_dir):
    assert pipeline.resolve_model(None).name == "u2netp"


def test_default_model_when_nothing_is_installed(model_dir):
    assert pipeline.resolve_model(None).name == registry.default_model_name()


def test_bad_refine_level():
    with pytest.raises(BgoneError, match="refinement"):
        pipeline.predict_alpha(np.zeros((4, 4, 3), np.uint8), refine="ultra")


def test_cancel_before_inference(seeded_model_dir):
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        pipeline.predict_alpha(drawn()[0], model="u2netp", refine="none", cancel=ev)


def test_remove_outputs(seeded_model_dir):
    img, inside = drawn()
    cut = pipeline.remove(img, model="u2netp", refine="none")
    assert cut.mode == "RGBA" and cut.size == (640, 480)
    a = np.asarray(cut)[:, :, 3]
    assert a[240, 320] == 255 and a[5, 5] == 0
    m = pipeline.remove(img, model="u2netp", refine="none", mask=True)
    assert m.mode == "L" and np.array_equal(np.asarray(m), a)
    flat = np.asarray(pipeline.remove(img, model="u2netp", refine="none", bg_color="#00ff00"))
    assert flat.shape == (480, 640, 3) and tuple(flat[2, 2]) == (0, 255, 0)
    assert tuple(flat[240, 320]) == tuple(img[240, 320])


def test_input_transparency_is_kept(seeded_model_dir):
    img, _ = drawn()
    rgba = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    rgba[200:280, 300:340, 3] = 0  # a hole the user already cut
    cut = np.asarray(pipeline.remove(Image.fromarray(rgba, "RGBA"), model="u2netp", refine="none"))
    assert cut[240, 320, 3] == 0 and cut[240, 250, 3] == 255


def test_large_image_memory_is_bounded(seeded_model_dir):
    """12 MP: no float64 or multi-copy full-resolution buffers (numpy allocations are traced)."""
    img = np.zeros((3000, 4000, 3), np.uint8)
    img[1000:2000, 1500:2500] = (230, 70, 40)
    pipeline.predict_alpha(img[:64, :64], model="u2netp", refine="none")  # warm the session
    tracemalloc.start()
    alpha = pipeline.predict_alpha(img, model="u2netp", refine="none")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert alpha.shape == (3000, 4000)
    assert peak < 250e6, f"peak numpy allocations {peak / 1e6:.0f} MB"


def test_cutout_stores_nothing_under_fully_transparent_pixels(seeded_model_dir):
    img, _ = drawn()
    cut = np.asarray(pipeline.remove(img, model="u2netp", refine="none"))
    clear = cut[:, :, 3] == 0
    assert clear.mean() > 0.3 and not cut[clear][:, :3].any()
    assert np.array_equal(cut[240, 320, :3], img[240, 320])  # the subject keeps its colours


def test_a_model_that_does_not_fit_its_recipe_is_a_clear_error(model_dir, tiny_model):
    import hashlib
    import shutil

    shutil.copyfile(tiny_model, model_dir / "odd.onnx")  # 32x32 input, registered with u2netp's 320
    sha = hashlib.sha256(tiny_model.read_bytes()).hexdigest()
    registry.register_custom("odd", "u2netp", "odd.onnx", f"sha256:{sha}", tiny_model.stat().st_size)
    with pytest.raises(BgoneError) as e:
        pipeline.predict_alpha(drawn()[0], model="odd", refine="none")
    assert e.value.kind == "model_failed" and "odd" in e.value.message and "--like u2netp" in e.value.hint


def test_remove_keeps_the_colour_profile_for_saving(seeded_model_dir, tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "p.jpg"
    Image.fromarray(drawn(120, 160)[0]).save(src, icc_profile=icc)
    cut = pipeline.remove(src, model="u2netp", refine="none")
    cut.save(tmp_path / "o.png")
    assert Image.open(tmp_path / "o.png").info.get("icc_profile") == icc
    assert "icc_profile" not in pipeline.remove(src, model="u2netp", refine="none", mask=True).info

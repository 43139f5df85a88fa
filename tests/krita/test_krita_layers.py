"""bgone_krita.layers: what is read from the document (byte order, depths through a converted
copy, offsets, the selection's bounding box), through remove_background with the fake worker."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from fakeworker import FakeWorker
from kritatest import expected_rgba8, holder_for, krita_fake, photo

# ------------------------------------------------------------------ reading layers


def test_8bit_layer_is_sent_as_rgba_not_bgra(kr, app):
    _, pkg = kr

    doc = app.createDocument(40, 30, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    img = photo(30, 40)
    layer.fill(img)
    worker = FakeWorker()
    mask = pkg.remove_background(
        doc, layer, model="u2netp", refine="none", holder=holder_for(worker)
    )
    call = worker.calls[0]
    assert (
        call["width"],
        call["height"],
        call["stride"],
        call["model"],
        call["refine"],
        call["output"],
    ) == (40, 30, 160, "u2netp", "none", "alpha")
    sent = np.frombuffer(call["rgba"], np.uint8).reshape(30, 40, 4)
    assert np.array_equal(sent, expected_rgba8(img))
    got = np.frombuffer(mask.pixelData(0, 0, 40, 30), np.uint8).reshape(30, 40)
    assert got[15, 20] == 255 and got[0, 0] == 0
    assert mask.type() == "transparencymask" and mask.parentNode() is layer


def test_progress_reaches_a_script_on_its_own_thread(kr, app):
    _, pkg = kr

    doc = app.createDocument(8, 8, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(8, 8))
    seen: list = []
    pkg.remove_background(
        doc,
        layer,
        holder=holder_for(FakeWorker()),
        progress=lambda *e: seen.append((threading.get_ident(), e)),
    )
    me = threading.get_ident()
    assert seen == [(me, ("inference", 0.5, "")), (me, ("inference", 1.0, ""))]


@pytest.mark.parametrize(
    "cs",
    [
        ("RGBA", "U16"),
        ("RGBA", "F16"),
        ("RGBA", "F32"),
        ("GRAYA", "U8"),
        ("GRAYA", "U16"),
        ("CMYKA", "U8"),
    ],
)
def test_other_depths_go_through_a_converted_copy(kr, app, cs):
    _, pkg = kr

    doc = app.createDocument(24, 16, "t", cs[0], cs[1], "", 72.0)
    layer = doc.add_layer(cs=cs)
    img = photo(16, 24, seed=1)
    layer.fill(img)
    before = doc.snapshot()
    raw_before = layer.raw(0, 0, 24, 16)
    worker = FakeWorker()
    pkg.remove_background(doc, layer, holder=holder_for(worker))
    sent = np.frombuffer(worker.calls[0]["rgba"], np.uint8).reshape(16, 24, 4).astype(int)
    want = expected_rgba8(krita_fake.decode(raw_before, 24, 16, *cs)).astype(int)
    assert np.abs(sent - want).max() <= 1, "colours were not converted to 8-bit sRGB RGBA"
    assert layer.cs[:2] == cs and layer.raw(0, 0, 24, 16) == raw_before, "the user's layer changed"
    assert app.documents() == [doc], "the temporary conversion document was left open"
    assert doc.snapshot()[0] == before[0]
    assert doc.undo_log == [("add", "transparencymask", "bgone mask")]


def test_layer_offset_and_bounds_are_respected(kr, app):
    _, pkg = kr

    doc = app.createDocument(100, 80, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    img = photo(30, 40, seed=2)
    layer.fill(img, x=30, y=20)
    worker = FakeWorker()
    mask = pkg.remove_background(doc, layer, holder=holder_for(worker))
    assert (worker.calls[0]["width"], worker.calls[0]["height"]) == (40, 30)
    assert np.array_equal(
        np.frombuffer(worker.calls[0]["rgba"], np.uint8).reshape(30, 40, 4), expected_rgba8(img)
    )
    b = mask.bounds()
    assert (b.x(), b.y(), b.width(), b.height()) == (
        40,
        27,
        20,
        15,
    )  # the red block, in image coords


def test_selection_limits_work_to_its_bounding_box(kr, app):
    _, pkg = kr

    doc = app.createDocument(60, 40, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    img = np.zeros((40, 60, 4))
    img[..., 0] = 0.9  # all "subject"
    img[..., 3] = 1.0
    layer.fill(img)
    sel = krita_fake.Selection()
    sel.setPixelData(b"\xff" * (20 * 10), 5, 8, 20, 10)
    doc.setSelection(sel)
    doc.undo_log.clear()
    worker = FakeWorker()
    mask = pkg.remove_background(doc, layer, holder=holder_for(worker))
    assert (worker.calls[0]["width"], worker.calls[0]["height"]) == (20, 10)
    m = np.frombuffer(mask.pixelData(0, 0, 60, 40), np.uint8).reshape(40, 60)
    assert m[8:18, 5:25].min() == 255
    assert m.sum() == 255 * 200, "outside the selection's box must count as background"


def test_soft_selection_caps_the_alpha(kr, app):
    _, pkg = kr

    doc = app.createDocument(10, 10, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    img = np.zeros((10, 10, 4))
    img[..., 0] = 1.0
    img[..., 3] = 1.0
    layer.fill(img)
    sel = krita_fake.Selection()
    sel.setPixelData(bytes([255, 100] * 50), 0, 0, 10, 10)
    doc.setSelection(sel)
    out = pkg.remove_background(
        doc, layer, output="selection", holder=holder_for(FakeWorker())
    )
    assert set(out.pixelData(0, 0, 10, 10)) == {255, 100}


def test_group_layer_reads_its_projection(kr, app):
    _, pkg = kr

    doc = app.createDocument(20, 20, "t", "RGBA", "U8", "", 72.0)
    group = doc.add_layer("Group", kind="grouplayer")
    group.fill(photo(20, 20))
    worker = FakeWorker()
    mask = pkg.remove_background(doc, group, holder=holder_for(worker))
    assert worker.calls[0]["rgba"] == expected_rgba8(photo(20, 20)).tobytes()
    assert mask.parentNode() is group


def test_selected_mask_means_its_parent_layer(kr, app):
    _, pkg = kr

    doc = app.createDocument(20, 20, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(20, 20))
    old = doc.createTransparencyMask("old")
    layer.addChildNode(old, None)
    mask = pkg.remove_background(doc, old, holder=holder_for(FakeWorker()))
    assert mask.parentNode() is layer

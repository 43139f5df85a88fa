"""bgone_krita.outputs: each output mode as one undo step."""

from __future__ import annotations

import numpy as np
import pytest

from fakeworker import FakeWorker
from kritatest import holder_for, krita_fake, photo

# ------------------------------------------------------------------ outputs, one undo step each


def test_output_selection_without_a_view_sets_it_directly(kr, app):
    """kritarunner / a document in no view: no undo history to protect, no Krita action."""
    _, pkg = kr
    doc = app.createDocument(40, 30, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(30, 40), x=5, y=0)
    pkg.remove_background(doc, layer, output="selection", holder=holder_for(FakeWorker()))
    sel = doc.selection()
    assert (sel.x(), sel.y(), sel.width(), sel.height()) == (15, 7, 20, 15)
    assert doc.selection_sets == 1 and app.triggered == [] and doc.undo_log == []
    assert [n.kind for n in layer.childNodes()] == []


@pytest.mark.parametrize("prior", [False, True])
def test_output_selection_in_a_window_is_one_undo_step(kr, app, prior):
    """Document.setSelection is not undoable in Krita 5.2: an undoable Deselect / Select All
    goes first, so one Edit > Undo brings back exactly the selection the user had."""
    _, pkg = kr
    doc = app.createDocument(40, 30, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    img = photo(30, 40)
    img[..., 0] = 0.9  # all subject
    layer.fill(img)
    if prior:
        sel = krita_fake.Selection()
        sel.setPixelData(b"\xff" * 60, 2, 3, 10, 6)
        doc.setSelection(sel)
    app.show(doc)
    before = doc.snapshot()
    pkg.remove_background(doc, layer, output="selection", holder=holder_for(FakeWorker()))
    assert app.triggered == ["deselect" if prior else "select_all"]
    assert len(doc.undo_log) == 1
    got = doc.selection()
    assert (got.x(), got.y(), got.width(), got.height()) == ((2, 3, 10, 6) if prior else (0, 0, 40, 30))
    doc.undo()
    assert doc.snapshot() == before


@pytest.mark.parametrize("cs", [("RGBA", "U8"), ("RGBA", "U16"), ("CMYKA", "U8")])
def test_output_layer_adds_the_cutout_above_in_the_image_colour_space(kr, app, cs):
    _, pkg = kr

    doc = app.createDocument(40, 30, "t", cs[0], cs[1], "", 72.0)
    layer = doc.add_layer("Photo", cs=cs)
    img = photo(30, 40, seed=3)
    layer.fill(img, x=2, y=3)
    worker = FakeWorker()
    new = pkg.remove_background(doc, layer, output="layer", holder=holder_for(worker))
    assert worker.calls[0]["output"] == "rgba"
    assert doc.root.children == [layer, new] and new.name() == "Photo (background removed)"
    assert new.cs[:2] == cs
    got = krita_fake.decode(new.raw(2, 3, 40, 30), 40, 30, *cs)
    subject = (slice(10, 20), slice(12, 28))
    assert np.allclose(got[subject + (3,)], 1.0) and got[0, 0, 3] == 0.0
    assert np.abs(got[subject + (slice(0, 3),)] - img[subject + (slice(0, 3),)]).max() < 0.02
    assert doc.undo_log == [("add", "paintlayer", "Photo (background removed)")]
    assert app.documents() == [doc]


@pytest.mark.parametrize("output", ["mask", "layer"])
def test_one_undo_takes_the_result_away(kr, app, output):
    _, pkg = kr
    doc = app.createDocument(30, 20, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer("Photo")
    layer.fill(photo(20, 30))
    app.show(doc)
    before = doc.snapshot()
    pkg.remove_background(doc, layer, output=output, holder=holder_for(FakeWorker()))
    assert len(doc.undo_log) == 1 and app.triggered == []
    doc.undo()
    assert doc.snapshot() == before

"""Refine Edges in Krita (bgone_krita.refine, api.refine_edges, the controller and the docker
section) against the fake Krita and the shared fake worker, whose refined alpha is the red
subject inside the region and the given alpha outside it."""

from __future__ import annotations

import numpy as np
import pytest

from bgone_client import ClientError, choices
from fakeworker import FakeWorker
from kritatest import holder_for, make_controller, photo_doc


def subject_alpha(layer, rect) -> bytes:
    """The fake worker's refined alpha for the whole layer: its red subject."""
    x, y, w, h = rect
    rgba = np.frombuffer(layer.raw(x, y, w, h), np.uint8).reshape(h, w, 4)  # BGRA
    return np.where((rgba[..., 2] > 128) & (rgba[..., 0] < 128), 255, 0).astype(np.uint8).tobytes()


def masked_doc(app, value=0):
    """(document, layer, mask): photo() in a layer with a transparency mask of ``value``."""
    doc, layer = photo_doc(app, 20, 16)
    mask = doc.createTransparencyMask("Painted mask")
    mask.setPixelData(bytes([value]) * (20 * 16), 0, 0, 20, 16)
    layer.children.append(mask)
    mask.parent = layer
    doc.active = mask
    return doc, layer, mask


def test_a_transparency_mask_is_replaced_by_its_refined_version(kr, app):
    _, pkg = kr
    doc, layer, mask = masked_doc(app)
    worker = FakeWorker()
    new = pkg.refine_edges(doc, mask, band=9, grow=-1, feather=2, holder=holder_for(worker))
    (call,) = worker.calls
    assert (call["kind"], call["width"], call["height"], call["output"]) == ("refine", 20, 16, "alpha")
    assert (call["band"], call["grow"], call["feather"], call["region"]) == (9, -1, 2, None)
    assert call["mask"] == bytes(20 * 16)
    assert layer.childNodes() == [new] and new.name() == "Painted mask" and new.type() == "transparencymask"
    assert new.raw(0, 0, 20, 16) == subject_alpha(layer, (0, 0, 20, 16))
    assert any(new.raw(0, 0, 20, 16))
    assert [e[0] for e in doc.undo_log] == ["add", "remove"]
    doc.undo()
    doc.undo()
    assert layer.childNodes() == [mask] and mask.raw(0, 0, 20, 16) == bytes(20 * 16)


def test_the_selection_is_the_region_and_nothing_outside_it_changes(kr, app):
    fake, pkg = kr
    doc, layer, mask = masked_doc(app, value=255)
    sel = fake.Selection()
    sel.setPixelData(b"\xff" * (8 * 6), 10, 8, 8, 6)
    doc.setSelection(sel)
    worker = FakeWorker()
    new = pkg.refine_edges(doc, mask, holder=holder_for(worker))
    region = np.frombuffer(worker.calls[0]["region"], np.uint8).reshape(16, 20)
    assert region[8:14, 10:18].min() == 255 and region.sum() == 255 * 8 * 6
    got = np.frombuffer(new.raw(0, 0, 20, 16), np.uint8).reshape(16, 20)
    want = np.frombuffer(subject_alpha(layer, (0, 0, 20, 16)), np.uint8).reshape(16, 20)
    inside = region >= 128
    assert (got[~inside] == 255).all() and np.array_equal(got[inside], want[inside])
    assert worker.calls[0]["band"] is None  # automatic


def test_a_layers_own_alpha_goes_into_a_new_layer_above(kr, app):
    _, pkg = kr
    doc, layer = photo_doc(app, 20, 16)
    worker = FakeWorker()
    new = pkg.refine_edges(doc, layer, holder=holder_for(worker))
    call = worker.calls[0]
    assert call["mask"] == b"\xff" * 320 and call["rgba"][3::4] == b"\xff" * 320
    assert doc.topLevelNodes() == [layer, new] and new.name() == "Layer (edges refined)"
    out = new.raw(0, 0, 20, 16)
    assert out[3::4] == subject_alpha(layer, (0, 0, 20, 16))
    assert out[0::4] == layer.raw(0, 0, 20, 16)[0::4]  # the layer's own colours
    assert [e[0] for e in doc.undo_log] == ["add"]  # one undoable step


def test_layer_output_asks_for_the_cutout(kr, app):
    _, pkg = kr
    doc, layer, mask = masked_doc(app)
    worker = FakeWorker()
    new = pkg.refine_edges(doc, mask, output="layer", holder=holder_for(worker))
    assert worker.calls[0]["output"] == "rgba"
    assert new.type() == "paintlayer" and layer.childNodes() == [mask]  # the mask stays
    assert [e[0] for e in doc.undo_log] == ["add"]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"band": -3}, "Edge band"), ({"grow": 1.5}, "Grow"), ({"output": "selection"}, "mask, layer"),
])  # fmt: skip
def test_bad_settings_are_refused_before_any_work(kr, app, kwargs, words):
    _, pkg = kr
    doc, layer, mask = masked_doc(app)
    before = doc.snapshot()
    worker = FakeWorker()
    with pytest.raises(pkg.RemoveBackgroundError, match=words) as info:
        pkg.refine_edges(doc, mask, holder=holder_for(worker), **kwargs)
    assert info.value.kind == "bad_argument" and worker.calls == [] and doc.snapshot() == before


def test_an_engine_error_leaves_the_document_untouched(kr, app):
    _, pkg = kr
    doc, layer, mask = masked_doc(app)
    before = doc.snapshot()
    err = ClientError("cancelled", "Cancelled.")
    with pytest.raises(pkg.RemoveBackgroundError, match="Cancelled"):
        pkg.refine_edges(doc, mask, holder=holder_for(FakeWorker(fail=err)))
    assert doc.snapshot() == before


def test_a_selection_away_from_the_layer_is_refused(kr, app):
    fake, pkg = kr
    doc, layer, mask = masked_doc(app)
    sel = fake.Selection()
    sel.setPixelData(b"\xff" * 4, 40, 40, 2, 2)
    doc.setSelection(sel)
    with pytest.raises(pkg.RemoveBackgroundError, match="does not overlap"):
        pkg.refine_edges(doc, mask, holder=holder_for(FakeWorker()))


def test_settings_are_saved_and_read_back(kr, app):
    from bgone_krita import refine

    assert refine.read_options(app) == refine.RefineOptions(None, 0, 0, "mask")
    refine.save_options(app, refine.RefineOptions(12, -3, 4, "layer"))
    assert refine.read_options(app) == refine.RefineOptions(12, -3, 4, "layer")
    app.writeSetting("bgone", "refine_edges_grow", "9999")
    assert refine.read_options(app).grow == 0


def test_the_controller_runs_a_refine_and_says_what_it_did(kr, app):
    doc, layer, mask = masked_doc(app)
    worker = FakeWorker()
    ctl, loop, states = make_controller(kr, worker)
    assert ctl.start_refine(doc, mask)
    loop.run_until(lambda: not ctl.busy)
    state, fraction, text = states[-1]
    assert state == "done" and "Refined the edges of the mask 'Painted mask'" in text and "Ctrl+Z" in text
    assert " s on the CPU. Edit > Undo" in text  # matting runs on the CPU, whatever GPU there is
    from bgone_krita.progress import REFINE_STAGES, Tracker

    end_of_refine = Tracker(REFINE_STAGES)("refine", 1.0)  # one bar over the request's stages
    assert ("running", end_of_refine, choices.stage_text("refine")) in states
    assert layer.childNodes()[0].raw(0, 0, 20, 16) == subject_alpha(layer, (0, 0, 20, 16))


def test_the_controller_reports_a_problem_without_starting(kr, app):
    worker = FakeWorker()
    ctl, loop, states = make_controller(kr, worker)
    assert not ctl.start_refine(None, None)
    assert states[-1][0] == "error" and "No image" in states[-1][2] and worker.calls == []

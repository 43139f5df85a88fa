"""bgone_krita.api (remove_background): errors leave the document alone, arguments and the
saved choices."""

from __future__ import annotations

import pytest

from bgone_client import ClientError
from fakeworker import FakeWorker
from kritatest import holder_for, krita_fake, photo, photo_doc

# ------------------------------------------------------------------ errors leave the image alone


def test_worker_error_is_clear_and_leaves_the_document_untouched(kr, app):
    _, pkg = kr

    doc, layer = photo_doc(app, 20, 20, "U16")
    before = doc.snapshot()
    err = ClientError(
        "model_missing", "The model 'u2net' is not installed.", "Run: bgone models get u2net"
    )
    with pytest.raises(pkg.RemoveBackgroundError) as info:
        pkg.remove_background(
            doc, layer, model="u2net", holder=holder_for(FakeWorker(fail=err))
        )
    assert info.value.kind == "model_missing"
    assert str(info.value) == "The model 'u2net' is not installed.\nRun: bgone models get u2net"
    assert doc.snapshot() == before and app.documents() == [doc]


def test_conversion_failure_is_reported_before_touching_anything(kr, app):
    _, pkg = kr

    doc, layer = photo_doc(app, 20, 20, "F32")
    before = doc.snapshot()
    app.fail_create = True
    worker = FakeWorker()
    with pytest.raises(pkg.RemoveBackgroundError, match="Convert Layer Color Space"):
        pkg.remove_background(doc, layer, holder=holder_for(worker))
    assert worker.calls == [] and doc.snapshot() == before


@pytest.mark.parametrize(
    "setup, match",
    [
        ("empty", "is empty"),
        ("outside", "does not overlap"),
        ("nodoc", "No image"),
        ("nolayer", "No layer"),
    ],
)
def test_unusable_input_gets_a_plain_message(kr, app, setup, match):
    _, pkg = kr

    doc = app.createDocument(20, 20, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    if setup != "empty":
        layer.fill(photo(10, 10))
    if setup == "outside":
        sel = krita_fake.Selection()
        sel.setPixelData(b"\xff" * 4, 15, 15, 2, 2)
        doc.setSelection(sel)
    before = doc.snapshot()
    args = {"nodoc": (None, layer), "nolayer": (doc, None)}.get(setup, (doc, layer))
    with pytest.raises(pkg.RemoveBackgroundError, match=match) as info:
        pkg.remove_background(*args, holder=holder_for(FakeWorker()))
    assert info.value.hint
    assert doc.snapshot() == before


def test_bad_arguments_are_rejected_before_any_work(kr, app):
    _, pkg = kr

    doc = app.createDocument(8, 8, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(8, 8))
    worker = FakeWorker()
    with pytest.raises(pkg.RemoveBackgroundError, match="Unknown output"):
        pkg.remove_background(doc, layer, output="png", holder=holder_for(worker))
    with pytest.raises(pkg.RemoveBackgroundError, match="refinement"):
        pkg.remove_background(doc, layer, refine="max", holder=holder_for(worker))
    assert worker.calls == []


# ------------------------------------------------------------------ settings and the warm worker


def test_none_means_the_saved_choice(kr, app):
    _, pkg = kr
    from bgone_krita import settings

    settings.save_options(app, settings.Options("isnet-general-use", "best", "layer"))
    doc = app.createDocument(8, 8, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(8, 8))
    worker = FakeWorker()
    out = pkg.remove_background(doc, layer, output=None, holder=holder_for(worker))
    assert (worker.calls[0]["model"], worker.calls[0]["refine"], worker.calls[0]["output"]) == (
        "isnet-general-use",
        "best",
        "rgba",
    )
    assert out.type() == "paintlayer"
    app.settings.clear()
    assert settings.read_options(app) == settings.Options(None, "fast", "mask")
    app.settings[("bgone", "refine")] = "bogus"
    assert settings.read_options(app).refine == "fast"

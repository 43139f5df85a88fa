"""bgone_krita.controller: removals off the GUI thread, applied on it."""

from __future__ import annotations

import threading

from bgone_client import ClientError, choices
from fakeworker import FakeWorker
from kritatest import make_controller, photo

# ------------------------------------------------------------------ the asynchronous controller




def test_controller_runs_off_the_gui_thread_and_applies_on_it(kr, app):
    gate = threading.Event()
    worker = FakeWorker(gate=gate)
    ctl, loop, states = make_controller(kr, worker)
    doc = app.createDocument(20, 20, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer("Photo")
    layer.fill(photo(20, 20))
    app.active_doc = doc
    assert ctl.start_active()
    assert ctl.busy and doc.undo_log == []  # start() returned while the worker is still busy
    assert not ctl.start(doc, layer)  # one job at a time
    gate.set()
    loop.run_until(lambda: not ctl.busy)
    kinds = [s for s, _, _ in states]
    assert kinds[0] == "running" and "error" in kinds and kinds[-1] == "done"
    assert any(t == "Finding the subject" for _, _, t in states)
    assert (
        "transparency mask" in states[-1][2]
        and "Ctrl+Z" in states[-1][2]
        and "Undo" in states[-1][2]
    )
    assert doc.undo_log == [("add", "transparencymask", "bgone mask")]


def _masked_doc(app):
    doc = app.createDocument(20, 20, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer("Background")
    layer.fill(photo(20, 20))
    app.active_doc = doc
    return doc, layer


def test_second_removal_asks_and_a_no_leaves_the_document_alone(kr, app):
    ctl, loop, states = make_controller(kr, FakeWorker())
    asked = []
    ctl.confirm = lambda question, detail: asked.append((question, detail)) or False
    doc, layer = _masked_doc(app)
    assert ctl.start(doc, layer)
    loop.run_until(lambda: not ctl.busy)
    assert asked == [], "a layer without a mask needs no question"
    before = doc.snapshot()
    assert not ctl.start(doc, layer)  # the second run: asked, and told no
    assert len(asked) == 1 and "'Background'" in asked[0][1] and "replaces" in asked[0][1]
    assert asked[0][0] == choices.replace_mask_question(["Background"])[0]
    assert states[-1][0] == "cancelled" and not ctl.busy
    assert doc.snapshot() == before


def test_second_removal_replaces_the_mask_when_told_to(kr, app):
    ctl, loop, _ = make_controller(kr, FakeWorker())
    ctl.confirm = lambda question, detail: True
    doc, layer = _masked_doc(app)
    for _ in range(2):
        assert ctl.start(doc, layer)
        loop.run_until(lambda: not ctl.busy)
    masks = [n for n in layer.childNodes() if n.type() == "transparencymask"]
    assert [m.name() for m in masks] == [choices.MASK_NAME], "masks were stacked, not replaced"
    assert masks[0].name() != layer.name()
    assert doc.undo_log[-2:] == [("remove", "transparencymask", "bgone mask"),
                                 ("add", "transparencymask", "bgone mask")]  # fmt: skip


def test_controller_cancel_leaves_the_document_alone(kr, app):
    worker = FakeWorker(gate=threading.Event())
    ctl, loop, states = make_controller(kr, worker)
    doc = app.createDocument(20, 20, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(20, 20))
    before = doc.snapshot()
    assert ctl.start(doc, layer)
    ctl.cancel()
    loop.run_until(lambda: not ctl.busy)
    assert states[-1][0] == "cancelled" and "not changed" in states[-1][2]
    assert doc.snapshot() == before


def test_controller_skips_a_document_closed_while_working(kr, app):
    gate = threading.Event()
    ctl, loop, states = make_controller(kr, FakeWorker(gate=gate))
    doc = app.createDocument(20, 20, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(20, 20))
    assert ctl.start(doc, layer)
    doc.close()
    gate.set()
    loop.run_until(lambda: not ctl.busy)
    assert states[-1][0] == "error" and "closed" in states[-1][2]
    assert doc.undo_log == []


def test_controller_reports_errors_in_plain_words(kr, app):
    err = ClientError("core_missing", "bgone is not installed.", "Run the bgone installer.")
    ctl, loop, states = make_controller(kr, FakeWorker(fail_start=err))
    assert not ctl.start_active()  # no document open
    assert states[-1][0] == "error" and "No image is open" in states[-1][2]
    doc = app.createDocument(20, 20, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(20, 20))
    assert ctl.start(doc, layer)
    loop.run_until(lambda: not ctl.busy)
    assert states[-1] == ("error", 0.0, "bgone is not installed.\nRun the bgone installer.")
    got: list = []
    ctl.list_models(lambda models, error: got.append((models, error)))
    loop.run_until(lambda: bool(got))
    assert got[0][0] is None and "installer" in got[0][1]


def test_the_done_line_says_which_device_ran_it_and_why_not_the_gpu(kr, app):
    idle = {"gpu": "NVIDIA GPU", "reason": "no_runtime", "note": "Install onnxruntime-gpu into /x/python."}
    for gpu_unused, words in ((None, " s on the CPU. Edit > Undo"),
                              (idle, " s on the CPU (an NVIDIA GPU is present, but its runtime is not installed")):  # fmt: skip
        ctl, loop, states = make_controller(kr, FakeWorker(gpu_unused=gpu_unused))
        doc, layer = _masked_doc(app)
        assert ctl.start(doc, layer)
        loop.run_until(lambda: not ctl.busy)  # noqa: B023
        assert states[-1][0] == "done" and words in states[-1][2], states[-1]
        assert ctl.gpu_note == (idle["note"] if gpu_unused else "")  # the docker's tooltip


def test_after_undo_the_done_line_goes_back_to_idle(kr, app):
    from bgone_krita.settings import Options

    ctl, loop, states = make_controller(kr, FakeWorker())
    doc, layer = _masked_doc(app)
    for output in ("mask", "layer"):
        assert ctl.start(doc, layer, Options(None, "fast", output))
        loop.run_until(lambda: not ctl.busy)
        assert states[-1][0] == "done"
        for _ in range(3):  # nothing undone: the line stays, its watch goes on
            batch, loop.pending = loop.pending, []
            for fn in batch:
                fn()
        assert states[-1][0] == "done" and len(loop.pending) == 1
        doc.undo()  # Edit > Undo
        loop.run_until(lambda: states[-1][0] == "idle")
        assert states[-1] == ("idle", 0.0, "Undone. Select a layer and press Remove background.")
        loop.run_until(lambda: not loop.pending)  # the watch ended with it


def test_a_new_run_or_a_closed_image_ends_the_undo_watch(kr, app):
    ctl, loop, states = make_controller(kr, FakeWorker())
    doc, layer = _masked_doc(app)
    assert ctl.start(doc, layer)
    loop.run_until(lambda: not ctl.busy)
    watch, loop.pending = loop.pending, []
    ctl._emit("error", 0.0, "something newer")  # any newer line
    doc.undo()
    for fn in watch:
        fn()
    assert states[-1][0] == "error" and not loop.pending
    assert ctl.start(doc, layer)
    loop.run_until(lambda: not ctl.busy)
    doc.close()
    loop.run_until(lambda: not loop.pending)
    assert states[-1][0] == "done"

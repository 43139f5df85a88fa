"""The Krita plug-in's logic against a fake `krita` module (tests/fakes/krita_fake.py).

Checks what would silently corrupt a user's image in real Krita: BGRA byte order, every colour
depth going through a converted copy (never the user's layer), layer offsets, the selection's
bounding box, each output mode as one undo step, and an untouched document on every error.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "krita_plugin"
sys.path.insert(0, str(ROOT / "tests" / "fakes"))

import krita_fake  # noqa: E402

from bgone_client import ClientError  # noqa: E402
from fakecore import FAKE_PIPELINE, REAL_WORKER, make_python  # noqa: E402
from fakeworker import FakeWorker  # noqa: E402


@pytest.fixture
def kr(monkeypatch):
    """The fake krita module installed, and a fresh bgone_krita imported against it."""
    monkeypatch.setitem(sys.modules, "krita", None)
    fake = krita_fake.install()
    monkeypatch.syspath_prepend(str(PLUGIN))
    for name in [m for m in sys.modules if m == "bgone_krita" or m.startswith("bgone_krita.")]:
        monkeypatch.delitem(sys.modules, name)
    pkg = importlib.import_module("bgone_krita")
    return fake, pkg


@pytest.fixture
def app(kr):
    return kr[0].Krita.instance()


def holder_for(worker: FakeWorker):
    from bgone_krita import connection

    return connection.WorkerHolder(factory=lambda: worker)


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Straight sRGB floats with a red 'subject' block in the middle, opaque."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 4))
    img[..., :3] = rng.uniform(0.0, 0.4, (h, w, 3))
    img[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4, 0] = 0.9
    img[..., 3] = 1.0
    return img


def expected_rgba8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ pure pixel logic


def test_swap_red_blue_turns_krita_bgra_into_rgba(kr):
    from bgone_krita import pixels

    bgra = bytes([10, 20, 30, 40, 1, 2, 3, 4])
    assert pixels.swap_red_blue(bgra) == bytes([30, 20, 10, 40, 3, 2, 1, 4])
    assert pixels.swap_red_blue(pixels.swap_red_blue(bgra)) == bgra
    with pytest.raises(ValueError):
        pixels.swap_red_blue(b"\x00" * 5)


def test_rect_intersect_and_embed(kr):
    from bgone_krita.pixels import Rect, embed, intersect

    outer, inner = Rect(10, 20, 6, 5), Rect(12, 21, 3, 2)
    assert intersect(outer, Rect(0, 0, 11, 21)) == Rect(10, 20, 1, 1)
    assert intersect(outer, Rect(0, 0, 10, 100)) is None
    data = bytes(range(1, 7))
    full = embed(data, inner, outer)
    grid = np.frombuffer(full, np.uint8).reshape(5, 6)
    assert grid[1:3, 2:5].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert grid.sum() == sum(data)
    with pytest.raises(ValueError):
        embed(data, Rect(15, 20, 3, 2), outer)


def test_limit_alpha_caps_only_the_alpha_channel(kr):
    from bgone_krita.pixels import limit_alpha

    rgba = bytes([1, 2, 3, 200, 4, 5, 6, 50])
    assert limit_alpha(rgba, bytes([100, 255])) == bytes([1, 2, 3, 100, 4, 5, 6, 50])


def test_plugin_sources_parse_as_python_38(kr):
    """Krita 5.1 AppImages bundle Python 3.8: no newer syntax in the plug-in."""
    for path in (PLUGIN / "bgone_krita").glob("*.py"):
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))


def test_import_without_qt_registers_nothing(kr):
    _, pkg = kr
    assert pkg.CONTROLLER is None
    assert callable(pkg.remove_background)


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
    assert doc.undo_log == [("add", "transparencymask", "Background removed")]


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


# ------------------------------------------------------------------ errors leave the image alone


def test_worker_error_is_clear_and_leaves_the_document_untouched(kr, app):
    _, pkg = kr

    doc = app.createDocument(20, 20, "t", "RGBA", "U16", "", 72.0)
    layer = doc.add_layer(cs=("RGBA", "U16"))
    layer.fill(photo(20, 20))
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

    doc = app.createDocument(20, 20, "t", "RGBA", "F32", "", 72.0)
    layer = doc.add_layer(cs=("RGBA", "F32"))
    layer.fill(photo(20, 20))
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


def test_one_worker_per_session_and_errors_keep_their_words(kr, app):
    from bgone_krita import connection
    from bgone_krita.errors import RemoveBackgroundError

    made: list[FakeWorker] = []

    def factory() -> FakeWorker:
        made.append(FakeWorker())
        return made[-1]

    holder = connection.WorkerHolder(factory=factory)
    assert holder.models()[0]["name"] == "u2netp"
    holder.models()
    assert len(made) == 1, "the worker must stay warm between requests"

    def crash(w):
        raise ClientError("worker_crashed", "bgone's engine stopped unexpectedly.", "Try again.")

    with pytest.raises(RemoveBackgroundError) as info:
        holder.call(crash)
    assert info.value.kind == "worker_crashed" and str(info.value).endswith("Try again.")
    with pytest.raises(RemoveBackgroundError) as info:
        holder.call(lambda w: 1 / 0)
    assert info.value.kind == "internal" and "ZeroDivisionError" in info.value.message
    holder.models()
    assert len(made) == 1  # the client restarts a dead process itself; the Worker object stays
    holder.close()
    assert made[0].closed
    holder.models()
    assert len(made) == 2


# ------------------------------------------------------------------ the asynchronous controller


class ManualLoop:
    """Stands in for QTimer.singleShot: callbacks run when the test turns the loop."""

    def __init__(self) -> None:
        self.pending: list = []

    def schedule(self, ms: int, fn) -> None:
        self.pending.append(fn)

    def run_until(self, done, timeout: float = 5.0) -> None:
        import time

        end = time.monotonic() + timeout
        while not done() and time.monotonic() < end:
            batch, self.pending = self.pending, []
            for fn in batch:
                fn()
            time.sleep(0.005)
        assert done(), "controller did not finish"


def make_controller(kr, worker):
    fake, _ = kr
    from bgone_krita.controller import Controller

    loop = ManualLoop()
    ctl = Controller(fake.Krita.instance, holder_for(worker), loop.schedule)
    states: list = []
    ctl.listeners.append(lambda s, f, t: states.append((s, f, t)))
    return ctl, loop, states


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
    assert doc.undo_log == [("add", "transparencymask", "Background removed")]


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


# ------------------------------------------------------------------ with the real client + worker



@pytest.fixture
def real_client(kr, tmp_path, monkeypatch, model_dir):
    """The real bgone_client (from the checkout) talking to a real worker process."""
    from bgone_krita import connection

    script = make_python(tmp_path / "core-python", FAKE_PIPELINE)
    monkeypatch.setenv("BGONE_PYTHON", str(script))
    holder = connection.WorkerHolder()
    yield holder
    holder.close()


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in core Python is a shebang script")
def test_real_client_round_trip_stays_warm_and_survives_a_crash(kr, app, real_client):
    _, pkg = kr
    doc = app.createDocument(40, 30, "t", "RGBA", "U16", "", 72.0)
    layer = doc.add_layer(cs=("RGBA", "U16"))
    layer.fill(photo(30, 40), x=3, y=2)
    seen: list = []
    mask = pkg.remove_background(doc, layer, holder=real_client, progress=lambda *e: seen.append(e))
    m = np.frombuffer(mask.pixelData(3, 2, 40, 30), np.uint8).reshape(30, 40)
    assert m[15, 20] > 200 and m[0, 0] < 110  # red 0.9 vs at most 0.4
    assert seen and seen[0][0] == "inference"
    pid = real_client.worker().pid
    pkg.remove_background(doc, layer, output="layer", holder=real_client)
    assert real_client.worker().pid == pid, "the second click must reuse the warm worker"
    os.kill(pid, 9)  # the engine dies between clicks: at worst one "Try again" error...
    before = doc.snapshot()
    try:
        pkg.remove_background(doc, layer, output="selection", holder=real_client)
    except pkg.RemoveBackgroundError as e:  # the death was noticed only after sending
        assert e.kind == "worker_crashed" and "Try again" in str(e)
        assert doc.snapshot() == before
        pkg.remove_background(doc, layer, output="selection", holder=real_client)  # ...then it works
    assert real_client.worker().pid not in (None, pid)
    assert [e[0] for e in doc.undo_log] == ["add", "add"]


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in core Python is a shebang script")
def test_real_client_cancel_from_the_docker_leaves_the_image_alone(kr, app, real_client):
    fake, _ = kr
    from bgone_krita.controller import Controller
    from bgone_krita.settings import Options

    loop = ManualLoop()
    ctl = Controller(fake.Krita.instance, real_client, loop.schedule)
    states: list = []
    ctl.listeners.append(lambda s, f, t: states.append((s, f, t)))
    doc = app.createDocument(20, 20, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(20, 20))
    before = doc.snapshot()
    assert ctl.start(doc, layer, Options("slow", "none", "mask"))
    loop.run_until(lambda: any(t == "Finding the subject" for _, _, t in states), timeout=30)
    pid = real_client.worker().pid
    ctl.cancel()
    loop.run_until(lambda: not ctl.busy, timeout=10)
    assert states[-1][0] == "cancelled" and doc.snapshot() == before
    assert real_client.worker().pid == pid, "a cancelled request keeps the worker warm"


def test_missing_engine_is_explained(kr, app, tmp_path, monkeypatch):
    """No core installed: the user reads what is wrong and what to do; nothing changes."""
    _, pkg = kr
    from bgone_krita import connection

    monkeypatch.setenv("BGONE_PYTHON", str(tmp_path / "no-python"))
    doc = app.createDocument(8, 8, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(8, 8))
    before = doc.snapshot()
    holder = connection.WorkerHolder()
    with pytest.raises(pkg.RemoveBackgroundError) as info:
        pkg.remove_background(doc, layer, holder=holder)
    assert info.value.kind == "core_missing" and "BGONE_PYTHON" in str(info.value)
    assert doc.snapshot() == before


@pytest.mark.slow
def test_real_worker_with_u2netp(kr, app, seeded_model_dir, monkeypatch, tmp_path):
    """The real stdlib client and `python -m bgone.worker` (this venv), the real u2netp."""
    _, pkg = kr
    from bgone_krita import connection

    monkeypatch.setenv("BGONE_PYTHON", str(make_python(tmp_path / "core-python", REAL_WORKER)))
    h, w = 160, 200
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 4))
    img[..., :3] = (0.85, 0.85, 0.8)  # light studio background
    disc = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (h / 3) ** 2
    img[disc, :3] = (0.8, 0.1, 0.1)  # a red ball
    img[..., 3] = 1.0
    doc = app.createDocument(w, h, "t", "RGBA", "U16", "", 72.0)
    layer = doc.add_layer(cs=("RGBA", "U16"))
    layer.fill(img, x=7, y=5)
    holder = connection.WorkerHolder()
    try:
        mask = pkg.remove_background(doc, layer, model="u2netp", refine="none", holder=holder)
        m = np.frombuffer(mask.pixelData(7, 5, w, h), np.uint8).reshape(h, w)
        assert m[h // 2, w // 2] > 200 and max(m[0, 0], m[0, -1], m[-1, 0], m[-1, -1]) < 50
        layer2 = pkg.remove_background(
            doc, layer, model="u2netp", refine="none", output="layer", holder=holder
        )
        assert layer2.cs[:2] == ("RGBA", "U16")
    finally:
        holder.close()


# ------------------------------------------------------------------ packaging


def test_plugin_is_pure_python_with_no_third_party_imports(kr):
    """Krita's bundled Python has no numpy; only the stdlib, krita, PyQt5 and our own modules."""
    allowed = set(sys.stdlib_module_names) | {"krita", "PyQt5", "bgone_client"}
    for path in (PLUGIN / "bgone_krita").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_desktop_file_names_the_package(kr):
    lines = (PLUGIN / "bgone_krita.desktop").read_text().splitlines()
    assert lines[0] == "[Desktop Entry]"
    entries = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    assert entries["ServiceTypes"] == "Krita/PythonPlugin"
    assert entries["X-KDE-Library"] == "bgone_krita" and (PLUGIN / "bgone_krita" / "__init__.py").is_file()
    assert (PLUGIN / "bgone_krita" / entries["X-Krita-Manual"]).is_file()


def test_texts_for_the_user(kr):
    from bgone_krita.texts import done_text, licence_warning, model_label, stage_text

    assert model_label({"name": "u2netp", "size_label": "4.6 MB", "installed": True}) == "u2netp: 4.6 MB, installed"
    nc = {"name": "rmbg", "size_label": "176 MB", "installed": False, "commercial_use": False, "license": "CC BY-NC 4.0"}
    assert model_label(nc) == "rmbg: 176 MB, downloads on first use, non-commercial"
    assert "CC BY-NC 4.0" in licence_warning(nc) and "commercial" in licence_warning(nc)
    assert licence_warning({"name": "u2netp", "commercial_use": True}) == "" and licence_warning(None) == ""
    assert stage_text("inference", "") == "Finding the subject" and stage_text("x", "Own words") == "Own words"
    assert "Ctrl+Z" in done_text("selection", "Photo", 1.0)


def test_only_srgb_8bit_rgba_skips_the_conversion(kr):
    from bgone_krita.colour import is_srgb8

    assert is_srgb8(("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc"))
    assert is_srgb8(("RGBA", "U8", "sRGB IEC61966-2.1"))  # embedded in most PNG/JPEG files
    assert not is_srgb8(("RGBA", "U8", "sRGB-elle-V2-g10.icc"))  # linear light
    assert not is_srgb8(("RGBA", "U8", "Adobe RGB (1998)"))
    assert not is_srgb8(("RGBA", "U16", "sRGB-elle-V2-srgbtrc.icc"))
    assert not is_srgb8(("GRAYA", "U8", "Gray-D50-elle-V2-srgbtrc.icc"))


def test_wide_gamut_8bit_layer_is_converted_too(kr, app):
    _, pkg = kr
    doc = app.createDocument(12, 10, "t", "RGBA", "U8", "Adobe RGB (1998)", 72.0)
    layer = doc.add_layer(cs=("RGBA", "U8", "Adobe RGB (1998)"))
    layer.fill(photo(10, 12))
    pkg.remove_background(doc, layer, holder=holder_for(FakeWorker()))
    assert len(app.reads) > 1, "expected a read through the temporary conversion document"
    assert app.documents() == [doc]

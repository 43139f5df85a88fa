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


class FakeClientError(Exception):
    """Shaped like bgone_client.ClientError: kind, message, hint."""

    def __init__(self, kind: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.kind, self.message, self.hint = kind, message, hint


class FakeWorker:
    """Keeps what it was sent; the 'subject' is wherever red >= 128."""

    def __init__(
        self,
        fail: Exception | None = None,
        gate: threading.Event | None = None,
        fail_start: Exception | None = None,
    ) -> None:
        self.calls: list[dict] = []
        self.fail = fail
        self.fail_start = fail_start
        self.gate = gate
        self.started = 0
        self.closed = False

    def start(self) -> dict:
        self.started += 1
        if self.fail_start:
            raise self.fail_start
        return {"protocol": 1}

    def models(self) -> list[dict]:
        return [
            {"name": "u2netp", "installed": True, "commercial_use": True, "size_label": "4.6 MB"}
        ]

    def remove(
        self,
        rgba,
        width,
        height,
        stride=None,
        *,
        model=None,
        refine=None,
        output="alpha",
        progress=None,
        cancelled=None,
    ) -> bytes:
        self.calls.append(
            dict(
                rgba=bytes(rgba),
                width=width,
                height=height,
                stride=stride,
                model=model,
                refine=refine,
                output=output,
            )
        )
        if progress:
            progress("inference", 0.5, "")
        if self.gate is not None:
            while not self.gate.wait(0.01):
                if cancelled and cancelled():
                    raise FakeClientError("cancelled", "Cancelled.")
        if self.fail:
            raise self.fail
        px = np.frombuffer(rgba, np.uint8).reshape(height, width, 4)
        alpha = np.where(px[..., 0] >= 128, 255, 0).astype(np.uint8)
        if output == "alpha":
            return alpha.tobytes()
        out = px.copy()
        out[..., 3] = alpha
        return out.tobytes()

    def close(self) -> None:
        self.closed = True


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


def holder_for(engine, worker: FakeWorker):
    return engine.WorkerHolder(factory=lambda: worker)


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


def test_rect_intersect_embed_and_crop_round_trip(kr):
    from bgone_krita.pixels import Rect, crop_rows, embed, intersect

    outer, inner = Rect(10, 20, 6, 5), Rect(12, 21, 3, 2)
    assert intersect(outer, Rect(0, 0, 11, 21)) == Rect(10, 20, 1, 1)
    assert intersect(outer, Rect(0, 0, 10, 100)) is None
    data = bytes(range(1, 7))
    full = embed(data, inner, outer)
    grid = np.frombuffer(full, np.uint8).reshape(5, 6)
    assert grid[1:3, 2:5].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert grid.sum() == sum(data)
    assert crop_rows(full, outer, inner, 1) == data
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
    from bgone_krita import engine

    doc = app.createDocument(40, 30, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    img = photo(30, 40)
    layer.fill(img)
    worker = FakeWorker()
    mask = pkg.remove_background(
        doc, layer, model="u2netp", refine="none", holder=holder_for(engine, worker)
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
    from bgone_krita import engine

    doc = app.createDocument(8, 8, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(8, 8))
    seen: list = []
    pkg.remove_background(
        doc,
        layer,
        holder=holder_for(engine, FakeWorker()),
        progress=lambda *e: seen.append((threading.get_ident(), e)),
    )
    assert seen == [(threading.get_ident(), ("inference", 0.5, ""))]


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
    from bgone_krita import engine

    doc = app.createDocument(24, 16, "t", cs[0], cs[1], "", 72.0)
    layer = doc.add_layer(cs=cs)
    img = photo(16, 24, seed=1)
    layer.fill(img)
    before = doc.snapshot()
    raw_before = layer.raw(0, 0, 24, 16)
    worker = FakeWorker()
    pkg.remove_background(doc, layer, holder=holder_for(engine, worker))
    sent = np.frombuffer(worker.calls[0]["rgba"], np.uint8).reshape(16, 24, 4).astype(int)
    want = expected_rgba8(krita_fake.decode(raw_before, 24, 16, *cs)).astype(int)
    assert np.abs(sent - want).max() <= 1, "colours were not converted to 8-bit sRGB RGBA"
    assert layer.cs[:2] == cs and layer.raw(0, 0, 24, 16) == raw_before, "the user's layer changed"
    assert app.documents() == [doc], "the temporary conversion document was left open"
    assert doc.snapshot()[0] == before[0]
    assert doc.undo_log == [("add", "transparencymask", "Background removed")]


def test_layer_offset_and_bounds_are_respected(kr, app):
    _, pkg = kr
    from bgone_krita import engine

    doc = app.createDocument(100, 80, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    img = photo(30, 40, seed=2)
    layer.fill(img, x=30, y=20)
    worker = FakeWorker()
    mask = pkg.remove_background(doc, layer, holder=holder_for(engine, worker))
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
    from bgone_krita import engine

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
    mask = pkg.remove_background(doc, layer, holder=holder_for(engine, worker))
    assert (worker.calls[0]["width"], worker.calls[0]["height"]) == (20, 10)
    m = np.frombuffer(mask.pixelData(0, 0, 60, 40), np.uint8).reshape(40, 60)
    assert m[8:18, 5:25].min() == 255
    assert m.sum() == 255 * 200, "outside the selection's box must count as background"


def test_soft_selection_caps_the_alpha(kr, app):
    _, pkg = kr
    from bgone_krita import engine

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
        doc, layer, output="selection", holder=holder_for(engine, FakeWorker())
    )
    assert set(out.pixelData(0, 0, 10, 10)) == {255, 100}


def test_group_layer_reads_its_projection(kr, app):
    _, pkg = kr
    from bgone_krita import engine

    doc = app.createDocument(20, 20, "t", "RGBA", "U8", "", 72.0)
    group = doc.add_layer("Group", kind="grouplayer")
    group.fill(photo(20, 20))
    worker = FakeWorker()
    mask = pkg.remove_background(doc, group, holder=holder_for(engine, worker))
    assert worker.calls[0]["rgba"] == expected_rgba8(photo(20, 20)).tobytes()
    assert mask.parentNode() is group


def test_selected_mask_means_its_parent_layer(kr, app):
    _, pkg = kr
    from bgone_krita import engine

    doc = app.createDocument(20, 20, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(20, 20))
    old = doc.createTransparencyMask("old")
    layer.addChildNode(old, None)
    mask = pkg.remove_background(doc, old, holder=holder_for(engine, FakeWorker()))
    assert mask.parentNode() is layer


# ------------------------------------------------------------------ outputs, one undo step each


def test_output_selection_replaces_the_global_selection(kr, app):
    _, pkg = kr
    from bgone_krita import engine

    doc = app.createDocument(40, 30, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(30, 40), x=5, y=0)
    pkg.remove_background(doc, layer, output="selection", holder=holder_for(engine, FakeWorker()))
    sel = doc.selection()
    assert (sel.x(), sel.y(), sel.width(), sel.height()) == (15, 7, 20, 15)
    assert doc.undo_log == [("selection",)]
    assert [n.kind for n in layer.childNodes()] == []


@pytest.mark.parametrize("cs", [("RGBA", "U8"), ("RGBA", "U16"), ("CMYKA", "U8")])
def test_output_layer_adds_the_cutout_above_in_the_image_colour_space(kr, app, cs):
    _, pkg = kr
    from bgone_krita import engine

    doc = app.createDocument(40, 30, "t", cs[0], cs[1], "", 72.0)
    layer = doc.add_layer("Photo", cs=cs)
    img = photo(30, 40, seed=3)
    layer.fill(img, x=2, y=3)
    worker = FakeWorker()
    new = pkg.remove_background(doc, layer, output="layer", holder=holder_for(engine, worker))
    assert worker.calls[0]["output"] == "rgba"
    assert doc.root.children == [layer, new] and new.name() == "Photo (background removed)"
    assert new.cs[:2] == cs
    got = krita_fake.decode(new.raw(2, 3, 40, 30), 40, 30, *cs)
    subject = (slice(10, 20), slice(12, 28))
    assert np.allclose(got[subject + (3,)], 1.0) and got[0, 0, 3] == 0.0
    assert np.abs(got[subject + (slice(0, 3),)] - img[subject + (slice(0, 3),)]).max() < 0.02
    assert doc.undo_log == [("add", "paintlayer", "Photo (background removed)")]
    assert app.documents() == [doc]


# ------------------------------------------------------------------ errors leave the image alone


def test_worker_error_is_clear_and_leaves_the_document_untouched(kr, app):
    _, pkg = kr
    from bgone_krita import engine

    doc = app.createDocument(20, 20, "t", "RGBA", "U16", "", 72.0)
    layer = doc.add_layer(cs=("RGBA", "U16"))
    layer.fill(photo(20, 20))
    before = doc.snapshot()
    err = FakeClientError(
        "model_missing", "The model 'u2net' is not installed.", "Run: bgone models get u2net"
    )
    with pytest.raises(pkg.RemoveBackgroundError) as info:
        pkg.remove_background(
            doc, layer, model="u2net", holder=holder_for(engine, FakeWorker(fail=err))
        )
    assert info.value.kind == "model_missing"
    assert str(info.value) == "The model 'u2net' is not installed.\nRun: bgone models get u2net"
    assert doc.snapshot() == before and app.documents() == [doc]


def test_conversion_failure_is_reported_before_touching_anything(kr, app):
    _, pkg = kr
    from bgone_krita import engine

    doc = app.createDocument(20, 20, "t", "RGBA", "F32", "", 72.0)
    layer = doc.add_layer(cs=("RGBA", "F32"))
    layer.fill(photo(20, 20))
    before = doc.snapshot()
    app.fail_create = True
    worker = FakeWorker()
    with pytest.raises(pkg.RemoveBackgroundError, match="Convert Layer Color Space"):
        pkg.remove_background(doc, layer, holder=holder_for(engine, worker))
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
    from bgone_krita import engine

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
        pkg.remove_background(*args, holder=holder_for(engine, FakeWorker()))
    assert info.value.hint
    assert doc.snapshot() == before


def test_bad_arguments_are_rejected_before_any_work(kr, app):
    _, pkg = kr
    from bgone_krita import engine

    doc = app.createDocument(8, 8, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(8, 8))
    worker = FakeWorker()
    with pytest.raises(pkg.RemoveBackgroundError, match="Unknown output"):
        pkg.remove_background(doc, layer, output="png", holder=holder_for(engine, worker))
    with pytest.raises(pkg.RemoveBackgroundError, match="refinement"):
        pkg.remove_background(doc, layer, refine="max", holder=holder_for(engine, worker))
    assert worker.calls == []


# ------------------------------------------------------------------ settings and the warm worker


def test_none_means_the_saved_choice(kr, app):
    _, pkg = kr
    from bgone_krita import engine

    engine.save_options(app, engine.Options("isnet-general-use", "best", "layer"))
    doc = app.createDocument(8, 8, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(8, 8))
    worker = FakeWorker()
    out = pkg.remove_background(doc, layer, output=None, holder=holder_for(engine, worker))
    assert (worker.calls[0]["model"], worker.calls[0]["refine"], worker.calls[0]["output"]) == (
        "isnet-general-use",
        "best",
        "rgba",
    )
    assert out.type() == "paintlayer"
    app.settings.clear()
    assert engine.read_options(app) == engine.Options(None, "fast", "mask")


def test_worker_stays_warm_and_restarts_after_a_crash(kr, app):
    from bgone_krita import engine

    made: list[FakeWorker] = []

    def factory() -> FakeWorker:
        made.append(FakeWorker())
        return made[-1]

    holder = engine.WorkerHolder(factory=factory)
    assert holder.call(lambda w: w.models())[0]["name"] == "u2netp"
    holder.call(lambda w: w.models())
    assert len(made) == 1 and made[0].started == 1

    def crash(w):
        raise FakeClientError(
            "worker_crashed", "The bgone worker stopped unexpectedly.", "Try again."
        )

    with pytest.raises(engine.RemoveBackgroundError):
        holder.call(crash)
    assert made[0].closed
    holder.call(lambda w: w.models())
    assert len(made) == 2
    with pytest.raises(engine.RemoveBackgroundError):  # a user-level error keeps the process
        holder.call(lambda w: (_ for _ in ()).throw(FakeClientError("model_missing", "x")))
    assert not made[1].closed


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
    from bgone_krita import engine
    from bgone_krita.controller import Controller

    loop = ManualLoop()
    ctl = Controller(fake.Krita.instance, holder_for(engine, worker), loop.schedule)
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
    err = FakeClientError("core_missing", "bgone is not installed.", "Run the bgone installer.")
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


def _real_client_available() -> bool:
    return (ROOT / "core" / "bgone" / "client.py").is_file() and (
        ROOT / "core" / "bgone" / "worker.py"
    ).is_file()


@pytest.mark.slow
@pytest.mark.skipif(
    not _real_client_available(), reason="core/bgone/client.py and worker.py not written yet"
)
def test_real_worker_with_u2netp(kr, app, seeded_model_dir, monkeypatch):
    """The real stdlib client and `python -m bgone.worker` (this venv), the real u2netp."""
    _, pkg = kr
    from bgone_krita import engine

    monkeypatch.setenv("BGONE_PYTHON", sys.executable)
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "core"))
    monkeypatch.delitem(sys.modules, "bgone_client", raising=False)
    client = engine.load_client()
    assert os.path.samefile(client.__file__, ROOT / "core" / "bgone" / "client.py")
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
    holder = engine.WorkerHolder()
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


def test_client_copy_next_to_the_plugin_wins_and_its_absence_is_explained(
    kr, tmp_path, monkeypatch
):
    from bgone_krita import engine

    monkeypatch.delitem(sys.modules, "bgone_client", raising=False)
    (tmp_path / "bgone_client.py").write_text("WHERE = 'installed copy'\n")
    monkeypatch.setattr(engine, "PLUGIN_DIR", str(tmp_path))
    assert engine.load_client().WHERE == "installed copy"
    monkeypatch.delitem(sys.modules, "bgone_client")
    monkeypatch.setattr(engine, "PLUGIN_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(
        engine, "_repo_client_path", lambda: str(tmp_path / "nowhere" / "client.py")
    )
    with pytest.raises(engine.RemoveBackgroundError, match="bgone_client.py is missing") as info:
        engine.load_client()
    assert info.value.kind == "core_missing" and "installer" in info.value.hint

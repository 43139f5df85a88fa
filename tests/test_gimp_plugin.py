"""The GIMP 3 plug-in (gimp_plugin/bgone-remove-background) against a fake GIMP.

tests/fakes/gimp_fake.py stands in for gi.repository (Gimp, Gegl, GLib, ...); the worker is a
fake Worker object, or the real bgone client talking to a fake worker script. The real GIMP runs
in tests/hosts/test_gimp_host.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import stat
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN_FILE = REPO / "gimp_plugin" / "bgone-remove-background" / "bgone-remove-background.py"
sys.path.insert(0, str(Path(__file__).resolve().parent / "fakes"))
import gimp_fake  # noqa: E402

import bgone_client  # noqa: E402
from bgone_client import choices  # noqa: E402
from fakecore import FAKE_PIPELINE, make_python  # noqa: E402
from fakeworker import MISSING_MODEL, FakeWorkers, subject  # noqa: E402


@pytest.fixture
def fake():
    f = gimp_fake.install()
    f.progress.events.clear()
    yield f
    gimp_fake.uninstall(f)


@pytest.fixture
def plugin(fake, monkeypatch):
    spec = importlib.util.spec_from_file_location("bgone_gimp_plugin_under_test", PLUGIN_FILE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def worker(plugin, monkeypatch):
    workers = FakeWorkers()
    monkeypatch.setattr(bgone_client, "Worker", workers)
    return workers


def scene(fake, base=None, size=(40, 30)):
    Gimp = fake.Gimp
    base = Gimp.ImageBaseType.RGB if base is None else base
    return Gimp.Image.new(size[0], size[1], base)


def red_square(x0, y0, x1, y1):
    """A red square on a blue background (in layer coordinates)."""
    return lambda x, y: (220, 30, 20, 255) if x0 <= x < x1 and y0 <= y < y1 else (20, 40, 200, 255)


def add_layer(fake, img, w, h, offsets=(0, 0), kind=None, fn=None, name="photo"):
    Gimp = fake.Gimp
    kind = Gimp.ImageType.RGB_IMAGE if kind is None else kind
    lay = Gimp.Layer(img, name, w, h, kind)
    lay.fill_rgba(fn or red_square(w // 4, h // 4, 3 * w // 4, 3 * h // 4))
    return img.add_layer(lay, offsets)


def run(plugin, fake, img, drawables, mode=None, **args):
    Gimp = fake.Gimp
    proc = plugin.BgoneRemoveBackground().do_create_procedure(plugin.PROC_NAME)
    cfg = proc.create_config()
    for k, v in args.items():
        cfg.set_property(k, v)
    mode = Gimp.RunMode.NONINTERACTIVE if mode is None else mode
    return proc.run_func(proc, mode, img, drawables, cfg, None)


def status(fake, res):
    return res.index(0)


def expected_alpha(layer, rect=None):
    x0, y0, w, h = rect or (0, 0, layer.width, layer.height)
    return bytes(
        subject(*layer._rgba_at(x, y)[:3]) if x0 <= x < x0 + w and y0 <= y < y0 + h else 0
        for y in range(layer.height)
        for x in range(layer.width)
    )


# ------------------------------------------------------------------------------------------------
# registration


def test_procedure_registration(plugin, fake):
    Gimp = fake.Gimp
    pi = plugin.BgoneRemoveBackground()
    assert pi.do_query_procedures()[0] == "plug-in-bgone-remove-background"  # then Refine Edges
    proc = pi.do_create_procedure(plugin.PROC_NAME)
    assert proc.menu_label == "Remove Background…"
    assert "<Image>/Layer/Transparency" in proc.menu_paths
    assert proc.image_types == "*"
    assert proc.sensitivity & Gimp.ProcedureSensitivityMask.DRAWABLES
    args = proc.arguments
    assert args["model"] == {"kind": "string", "default": ""}
    assert proc.texts["output"][0] == "Out_put"  # not "_O": that is the dialog's OK
    # the shared names Krita's docker shows too, with GIMP's mnemonics
    assert [proc.texts[k][0].replace("_", "") for k in ("model", "refine", "output")] == [
        choices.MODEL_LABEL, choices.REFINE_LABEL, choices.OUTPUT_LABEL]
    assert args["refine"]["default"] == "fast" and args["refine"]["choices"] == [
        "none",
        "fast",
        "best",
    ]
    assert args["output"]["default"] == "mask" and args["output"]["choices"] == [
        "mask",
        "selection",
        "layer",
    ]


def test_plugin_file_is_an_executable_gimp_plugin():
    text = PLUGIN_FILE.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env python3\n")
    assert PLUGIN_FILE.parent.name == PLUGIN_FILE.stem
    assert PLUGIN_FILE.stat().st_mode & stat.S_IXUSR
    assert "numpy" not in text.replace("never import numpy", "")


# ------------------------------------------------------------------------------------------------
# pure helpers


def test_process_region(plugin):
    pr = plugin.process_region
    assert pr((0, 0), (40, 30), None) == (0, 0, 40, 30)
    assert pr((-10, -5), (60, 50), None) == (0, 0, 60, 50)  # larger than the canvas: all of it
    assert pr((5, 3), (20, 10), (0, 0, 40, 30)) == (0, 0, 20, 10)
    assert pr((5, 3), (20, 10), (10, 6, 15, 8)) == (5, 3, 5, 2)
    assert pr((5, 3), (20, 10), (30, 20, 40, 30)) is None  # selection elsewhere
    assert pr((-10, -5), (60, 50), (0, 0, 2, 2)) == (10, 5, 2, 2)


def test_crop_and_canvas_clip(plugin):
    data = bytes(range(4 * 3 * 2))  # 4x3, 2 bytes per pixel
    assert plugin.crop(data, 4, 2, (0, 0, 4, 3)) == data
    assert plugin.crop(data, 4, 2, (1, 1, 2, 2)) == bytes([10, 11, 12, 13, 18, 19, 20, 21])
    assert plugin.crop(data, 4, 2, (0, 2, 4, 1)) == data[16:]
    assert plugin.canvas_clip((0, 0), (0, 0, 10, 10), (20, 20)) == ((0, 0, 10, 10), (0, 0, 10, 10))
    assert plugin.canvas_clip((-5, 15), (0, 0, 10, 10), (20, 20)) == ((0, 15, 5, 5), (5, 0, 5, 5))
    assert plugin.canvas_clip((30, 0), (0, 0, 10, 10), (20, 20)) is None
    canvas = bytearray(4 * 3)
    plugin.paste_max(canvas, 4, (1, 1, 2, 2), bytes([5, 6, 7, 8]))
    plugin.paste_max(canvas, 4, (2, 1, 2, 1), bytes([1, 9]))
    assert bytes(canvas) == bytes([0, 0, 0, 0, 0, 5, 6, 9, 0, 7, 8, 0])


def test_choices_and_progress(plugin):
    assert plugin.normalize_choice("", ("none", "fast", "best"), "fast") == "fast"
    assert plugin.normalize_choice("BEST", ("none", "fast", "best"), "fast") == "best"
    with pytest.raises(ValueError, match="none, fast, best"):
        plugin.normalize_choice("ultra", ("none", "fast", "best"), "fast")
    assert plugin.overall_fraction(1, 2, 0.5) == 0.75


# ------------------------------------------------------------------------------------------------
# runs


def test_mask_on_offset_layer_larger_than_canvas(plugin, fake, worker):
    Gimp = fake.Gimp
    img = scene(fake)
    lay = add_layer(fake, img, 50, 36, offsets=(-6, -4))
    before_pixels = bytes(lay.pixels)
    res = run(plugin, fake, img, [lay])
    assert status(fake, res) == Gimp.PDBStatusType.SUCCESS, res.values
    (w,) = worker.instances
    assert [(c["width"], c["height"], c["output"], c["refine"], c["model"]) for c in w.calls] == [
        (50, 36, "alpha", "fast", None)
    ]
    assert w.closed
    assert lay.mask is not None and bytes(lay.mask.values) == expected_alpha(lay)
    assert lay.alpha and lay.pixels != before_pixels  # alpha channel added, colours kept
    assert img.undo_groups == 1 and img.undo_depth == 0 and img.ungrouped == []
    kinds = [e[0] for e in fake.progress.events]
    assert kinds[0] == "init" and "update" in kinds and kinds[-1] == "end"


def test_the_last_line_and_the_return_values_say_which_device_ran_it(plugin, fake, worker):
    Gimp = fake.Gimp
    img = scene(fake)
    lay = add_layer(fake, img, 12, 10)
    res = run(plugin, fake, img, [lay])
    assert res.values[0] == Gimp.PDBStatusType.SUCCESS
    device, line = res.values[1:]
    assert device == "cpu" and line.startswith("Removed the background in ") and line.endswith(" s on the CPU.")
    texts = [e[1] for e in fake.progress.events if e[0] == "set_text"]
    assert texts[-1] == line and fake.progress.events[-1][0] == "end"  # shown last, then the bar ends
    assert not any(e[0] == "message" for e in fake.progress.events)  # nothing to explain: no pop-up
    proc = plugin.BgoneRemoveBackground().do_create_procedure(plugin.PROC_NAME)
    assert list(proc.return_values) == ["device", "status"]


@pytest.mark.parametrize("mode", ["NONINTERACTIVE", "INTERACTIVE"])
def test_an_idle_gpu_is_named_in_the_line_and_explained_interactively(plugin, fake, worker, monkeypatch, mode,
                                                                      tmp_path):
    Gimp = fake.Gimp
    monkeypatch.setattr(plugin, "PLUGIN_DIR", str(tmp_path))
    worker.gpu_unused = {"gpu": "NVIDIA GPU", "reason": "no_runtime", "note": "Install onnxruntime-gpu into /v/python."}
    monkeypatch.setattr(plugin, "_dialog", lambda *a: True)
    img = scene(fake)
    lay = add_layer(fake, img, 12, 10)
    res = run(plugin, fake, img, [lay], mode=getattr(Gimp.RunMode, mode))
    line = res.values[2]
    assert line.endswith(" s on the CPU (an NVIDIA GPU is present, but its runtime is not installed: "
                         "see README 'Using a GPU').")  # fmt: skip
    messages = [e[1] for e in fake.progress.events if e[0] == "message"]
    if mode == "INTERACTIVE":
        assert messages == [line + "\n\nInstall onnxruntime-gpu into /v/python."]
    else:  # a script gets it in the return values, without a pop-up
        assert messages == []
        return

    def popups_after_another_run():
        fake.progress.events.clear()
        run(plugin, fake, img, [lay], mode=Gimp.RunMode.INTERACTIVE)
        return [e[1] for e in fake.progress.events if e[0] == "message"]

    assert popups_after_another_run() == []  # explained once, not on every run
    worker.gpu_unused = {**worker.gpu_unused, "note": "Install onnxruntime-directml."}
    assert len(popups_after_another_run()) == 1  # a new reason is explained again


def test_selection_bounding_box_only(plugin, fake, worker):
    img = scene(fake)
    lay = add_layer(fake, img, 30, 20, offsets=(5, 3), fn=red_square(0, 0, 30, 20))  # all red
    img.select_rectangle(10, 6, 8, 5)  # canvas coordinates
    res = run(plugin, fake, img, [lay], model="u2netp", refine="none")
    assert status(fake, res) == fake.Gimp.PDBStatusType.SUCCESS
    assert worker.instances[0].persistent  # GIMP: one process per call, keep the model warm
    (call,) = worker.instances[0].calls
    assert (call["width"], call["height"], call["model"], call["refine"]) == (
        8,
        5,
        "u2netp",
        "none",
    )
    reads = [e for e in img.log if e[0] == "buffer.get"]
    assert reads == [("buffer.get", "photo", (5, 3, 8, 5), "R'G'B'A u8")]
    assert bytes(lay.mask.values) == expected_alpha(lay, (5, 3, 8, 5))
    assert lay.mask.values.count(255) == 40


def test_selection_not_touching_layer_is_an_error(plugin, fake, worker):
    img = scene(fake)
    lay = add_layer(fake, img, 10, 10)
    img.select_rectangle(30, 20, 5, 5)
    before = img.snapshot()
    res = run(plugin, fake, img, [lay])
    assert status(fake, res) == fake.Gimp.PDBStatusType.EXECUTION_ERROR
    assert "does not touch" in res.index(1)
    assert img.snapshot() == before


@pytest.mark.parametrize(
    "base,kind,layer_kind",
    [
        ("GRAY", "GRAY_IMAGE", "GRAYA_IMAGE"),
        ("INDEXED", "INDEXED_IMAGE", "INDEXEDA_IMAGE"),
        ("RGB", "RGBA_IMAGE", "RGBA_IMAGE"),
    ],
)
def test_gray_and_indexed_layers(plugin, fake, worker, base, kind, layer_kind):
    Gimp = fake.Gimp
    img = scene(fake, getattr(Gimp.ImageBaseType, base), size=(16, 12))
    lay = add_layer(
        fake,
        img,
        16,
        12,
        kind=getattr(Gimp.ImageType, kind),
        fn=lambda x, y: (255, 0, 0, 255) if x < 8 else (0, 0, 255, 255),
    )
    res = run(plugin, fake, img, [lay], output="mask")
    assert status(fake, res) == Gimp.PDBStatusType.SUCCESS, res.values
    call = worker.instances[0].calls[0]
    assert len(call["rgba"]) == 16 * 12 * 4  # always 8-bit RGBA for the worker
    assert bytes(lay.mask.values) == expected_alpha(lay)
    # and the new-layer output gets the image's own layer type
    res = run(plugin, fake, img, [lay], output="layer")
    assert status(fake, res) == Gimp.PDBStatusType.SUCCESS
    new = [e for e in img.log if e[0] == "layer.new"]
    assert new[-1][3] == layer_kind


def test_existing_mask_replaced_in_one_undo_group(plugin, fake, worker):
    Gimp = fake.Gimp
    img = scene(fake)
    lay = add_layer(fake, img, 40, 30)
    lay.add_alpha()
    lay.mask = gimp_fake.LayerMask(lay, 255)  # an old all-white mask
    img.log.clear()
    res = run(plugin, fake, img, [lay])
    assert status(fake, res) == Gimp.PDBStatusType.SUCCESS
    assert bytes(lay.mask.values) == expected_alpha(lay)
    ops = [e[0] for e in img.log if e[0] not in ("buffer.get",)]
    assert ops[0] == "undo_group_start" and ops[-1] == "undo_group_end"
    assert ("remove_mask", "photo", "DISCARD") in img.log
    assert img.undo_groups == 1 and img.ungrouped == []


def test_interactive_cancel_changes_nothing(plugin, fake, worker, monkeypatch):
    img = scene(fake)
    lay = add_layer(fake, img, 10, 10)
    seen = {}

    def dialog(procedure, config, models, image, layers):
        seen["models"] = models
        return False

    monkeypatch.setattr(plugin, "_dialog", dialog)
    before = img.snapshot()
    res = run(plugin, fake, img, [lay], mode=fake.Gimp.RunMode.INTERACTIVE)
    assert status(fake, res) == fake.Gimp.PDBStatusType.CANCEL
    assert seen["models"][0]["name"] == "u2netp"
    assert img.snapshot() == before and img.undo_groups == 0


def test_interactive_choices_are_used(plugin, fake, worker, monkeypatch):
    img = scene(fake)
    lay = add_layer(fake, img, 10, 10)

    def dialog(procedure, config, models, image, layers):
        config.set_property("model", "u2netp")
        config.set_property("output", "selection")
        config.set_property("refine", "best")
        return True

    monkeypatch.setattr(plugin, "_dialog", dialog)
    res = run(plugin, fake, img, [lay], mode=fake.Gimp.RunMode.INTERACTIVE)
    assert status(fake, res) == fake.Gimp.PDBStatusType.SUCCESS
    call = worker.instances[0].calls[0]
    assert (call["model"], call["refine"]) == ("u2netp", "best")
    assert lay.mask is None and any(img.selection)


@pytest.mark.parametrize("fail_on", [1, 2])
def test_error_leaves_image_untouched(plugin, fake, worker, fail_on):
    Gimp = fake.Gimp
    img = scene(fake)
    a = add_layer(fake, img, 40, 30, name="a")
    b = add_layer(fake, img, 20, 10, offsets=(3, 4), name="b")
    b.add_alpha()
    b.mask = gimp_fake.LayerMask(b, 200)
    img.select_rectangle(0, 0, 40, 30)
    worker.fail, worker.fail_on_call = MISSING_MODEL, fail_on
    before = img.snapshot()
    res = run(plugin, fake, img, [a, b])
    assert status(fake, res) == Gimp.PDBStatusType.EXECUTION_ERROR
    message = res.index(1)
    assert "not installed" in message and "bgone models import" in message  # what to do next
    assert img.snapshot() == before
    assert img.undo_groups == 0 and img.ungrouped == []
    assert worker.instances[0].closed


def test_missing_core_message(plugin, fake, monkeypatch, tmp_path):
    """The real client, with no core anywhere: a clear message, nothing changed."""
    monkeypatch.setattr(plugin, "PLUGIN_DIR", str(tmp_path))
    monkeypatch.delenv("BGONE_PYTHON", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    img = scene(fake)
    lay = add_layer(fake, img, 8, 8)
    before = img.snapshot()
    res = run(plugin, fake, img, [lay])
    assert status(fake, res) == fake.Gimp.PDBStatusType.EXECUTION_ERROR
    assert "not installed" in res.index(1) and "installer" in res.index(1)
    assert img.snapshot() == before


def test_new_layer_output(plugin, fake, worker):
    Gimp = fake.Gimp
    img = scene(fake)
    bottom = add_layer(fake, img, 40, 30, name="bottom")
    lay = add_layer(fake, img, 24, 16, offsets=(-4, 20), name="photo")  # hangs off the bottom-left
    img.select_rectangle(0, 22, 10, 8)
    res = run(plugin, fake, img, [lay], output="layer")
    assert status(fake, res) == Gimp.PDBStatusType.SUCCESS, res.values
    assert worker.instances[0].calls[0]["output"] == "rgba"
    new = img.layers[img.layers.index(lay) - 1]
    assert new.name == "photo (background removed)"
    assert new.offsets == (0, 22) and (new.width, new.height) == (10, 8)
    for y in range(8):
        for x in range(10):
            src = lay._rgba_at(x + 4, y + 2)
            assert new._rgba_at(x, y) == src[:3] + (subject(*src[:3]),)
    assert lay.mask is None and bottom.mask is None  # nothing else touched
    assert img.undo_groups == 1 and img.ungrouped == []


def test_selection_output_union_clipped_to_canvas(plugin, fake, worker):
    Gimp = fake.Gimp
    img = scene(fake, size=(20, 10))
    a = add_layer(fake, img, 6, 6, offsets=(-3, 0), fn=lambda x, y: (250, 0, 0, 255), name="a")
    b = add_layer(fake, img, 4, 4, offsets=(15, 5), fn=lambda x, y: (250, 0, 0, 255), name="b")
    res = run(plugin, fake, img, [a, b], output="selection")
    assert status(fake, res) == Gimp.PDBStatusType.SUCCESS, res.values
    sel = img.selection
    on = {(i % 20, i // 20) for i, v in enumerate(sel) if v}
    want = {(x, y) for x in range(0, 3) for y in range(0, 6)} | {
        (x, y) for x in range(15, 19) for y in range(5, 9)
    }
    assert on == want
    assert ("merge_shadow", "Selection Mask", True) in img.log  # undoable
    assert img.channels == [] and a.mask is None and b.mask is None
    assert img.undo_groups == 1 and img.ungrouped == []


def test_layer_mask_and_channel_drawables(plugin, fake, worker):
    Gimp = fake.Gimp
    img = scene(fake)
    lay = add_layer(fake, img, 10, 10)
    lay.add_alpha()
    lay.mask = gimp_fake.LayerMask(lay, 255)
    res = run(plugin, fake, img, [lay.mask, lay])  # the mask selected: means its layer, once
    assert status(fake, res) == Gimp.PDBStatusType.SUCCESS
    assert len(worker.instances[0].calls) == 1
    chan = Gimp.Channel(img, "saved selection", 40, 30)
    res = run(plugin, fake, img, [chan])
    assert status(fake, res) == Gimp.PDBStatusType.EXECUTION_ERROR and "channel" in res.index(1)
    res = run(plugin, fake, img, [])
    assert status(fake, res) == Gimp.PDBStatusType.EXECUTION_ERROR and "No layer" in res.index(1)


# ------------------------------------------------------------------------------------------------
# the real client and a fake worker process (the protocol end to end)

@pytest.fixture
def fake_core(tmp_path, monkeypatch):
    """A plug-in folder whose bgone_config.json names a stand-in core; its persistent worker
    listens in a private runtime folder and is stopped afterwards."""
    import shutil
    import tempfile

    python = make_python(tmp_path / "python", FAKE_PIPELINE)
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "bgone_config.json").write_text(json.dumps({"python": str(python)}))
    monkeypatch.delenv("BGONE_PYTHON", raising=False)
    runtime = tempfile.mkdtemp(prefix="bgrt", dir="/tmp")  # AF_UNIX paths must stay short
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    yield plugin_dir
    with bgone_client.Worker(str(python), persistent=True) as w:
        w.start()
        pid = w.pid
    os.kill(pid, signal.SIGKILL)
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.mark.skipif(os.name == "nt", reason="shell-script stand-in for the core's Python")
def test_real_client_with_fake_worker_process(plugin, fake, fake_core, monkeypatch):
    monkeypatch.setattr(plugin, "PLUGIN_DIR", str(fake_core))
    Gimp = fake.Gimp
    img = scene(fake)
    lay = add_layer(fake, img, 30, 20, offsets=(2, 2))
    res = run(plugin, fake, img, [lay])
    assert status(fake, res) == Gimp.PDBStatusType.SUCCESS, res.values
    red = bytes(lay._rgba_at(x, y)[0] for y in range(20) for x in range(30))
    assert bytes(lay.mask.values) == red  # the stand-in core's alpha: the red channel

    other = add_layer(fake, img, 10, 10, name="other")
    before = img.snapshot()
    res = run(plugin, fake, img, [other], model="missing")
    assert status(fake, res) == Gimp.PDBStatusType.EXECUTION_ERROR
    assert "not installed" in res.index(1) and "internet" in res.index(1)
    assert img.snapshot() == before


class _FakeGtk:
    """Just enough of Gtk for the replace-mask question: records what the box showed and
    answers with the response of the button whose label is ``click``."""

    class MessageType:
        QUESTION = "question"

    class ButtonsType:
        NONE = "none"

    class ResponseType:
        CANCEL, ACCEPT = -6, -3

    def __init__(self, click):
        gtk = self

        class MessageDialog:
            def __init__(self, **kw):
                self.kw, self.buttons, self.detail, self.destroyed = kw, [], None, False
                gtk.shown = self

            def add_button(self, label, response):
                self.buttons.append((label, response))

            def set_default_response(self, response):
                self.default = response

            def format_secondary_text(self, text):
                self.detail = text

            def run(self):
                return dict(self.buttons).get(click, -4)  # -4: the window was closed

            def destroy(self):
                self.destroyed = True

        self.MessageDialog = MessageDialog


@pytest.mark.parametrize("click, go", [("_Replace", True), ("_Cancel", False), ("close", False)])
def test_replace_mask_prompt_has_a_title_and_a_replace_button(plugin, click, go):
    from bgone_client import choices

    gtk = _FakeGtk(click)
    assert plugin._confirm_replace(gtk, ["photo"]) is go
    box = gtk.shown
    assert box.kw["title"] == choices.REPLACE_MASK_TITLE and box.kw["text"] == "Replace the existing mask?"
    assert [label for label, _ in box.buttons] == ["_Cancel", "_Replace"]
    assert box.default == gtk.ResponseType.ACCEPT and "'photo' already has a mask" in box.detail
    assert box.destroyed


# what GimpProcedureDialog puts next to them: "_Help", "_Reset", "_Cancel", "_OK"
DIALOG_MNEMONICS = {"h", "r", "c", "o"}


@pytest.mark.parametrize("which", ["plug-in-bgone-remove-background", "plug-in-bgone-refine-edges"])
def test_dialog_labels_have_distinct_mnemonics_and_user_words(plugin, which):
    from bgone_client import choices

    proc = plugin.BgoneRemoveBackground().do_create_procedure(which)
    keys = [label[label.index("_") + 1].lower() for label, _ in proc.texts.values()]
    assert len(set(keys)) == len(keys) and not set(keys) & DIALOG_MNEMONICS, keys
    for label, tooltip in proc.texts.values():
        assert tooltip[:1].isupper() and tooltip.endswith("."), f"{label}: {tooltip!r}"
        assert "`" not in tooltip and "none, fast" not in tooltip and "empty =" not in tooltip
    if which == plugin.PROC_NAME:
        assert proc.texts["refine"][1] == choices.REFINE_HELP and proc.texts["model"][1] == choices.MODEL_HELP

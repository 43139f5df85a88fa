"""The Krita plug-in's Qt side (qt.py, docker.py, extension.py, the registration in
__init__.py) under real Qt, both bindings: PyQt5 as Krita 5.2/5.3 runs it and PyQt6 as Krita 6
does, with the fake `krita` module of tests/fakes/krita_fake.py on top (offscreen, no display).
The engine is the shared fake worker (tests/fakeworker.py)."""

from __future__ import annotations

import importlib
import sys
import time
import types

import numpy as np
import pytest

from bgone_client import choices
from fakeworker import MODELS, FakeWorker
from kritatest import PLUGIN, krita_fake

BINDINGS = [("PyQt5", "5.2.9"), ("PyQt6", "6.0.0")]
_APPS: dict = {}  # one QApplication per binding, alive for the whole session


@pytest.fixture(params=BINDINGS, ids=[b[0] for b in BINDINGS])
def gui(request, monkeypatch):
    """bgone_krita freshly imported (so registered) in a fake GUI Krita of the given version."""
    binding, version = request.param
    widgets = pytest.importorskip(binding + ".QtWidgets")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    if binding not in _APPS:
        _APPS[binding] = widgets.QApplication.instance() or widgets.QApplication([])
    monkeypatch.setitem(sys.modules, "krita", None)
    fake = krita_fake.install(qt=binding, version=version)
    monkeypatch.syspath_prepend(str(PLUGIN))
    for name in [m for m in sys.modules if m == "bgone_krita" or m.startswith("bgone_krita.")]:
        monkeypatch.delitem(sys.modules, name)
    pkg = importlib.import_module("bgone_krita")
    app = fake.Krita.instance()
    (extension,) = app.extensions
    from bgone_krita.connection import WorkerHolder

    worker = FakeWorker()
    extension.controller.holder = WorkerHolder(factory=lambda: worker)  # never a real engine
    return types.SimpleNamespace(binding=binding, app=app, pkg=pkg, extension=extension,
                                 worker=worker, qapp=_APPS[binding])  # fmt: skip


def pump(g, until, timeout=10.0):
    """Runs Qt's event loop (timers included) until ``until()`` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out"
        g.qapp.processEvents()
        time.sleep(0.01)


def photo_doc(g):
    doc = g.app.createDocument(24, 16, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer("photo")
    img = np.zeros((16, 24, 4))
    img[..., 2] = 0.8  # blue background
    img[4:12, 6:18, 0], img[4:12, 6:18, 2] = 0.9, 0.1  # a red subject
    img[..., 3] = 1.0
    layer.fill(img)
    g.app.show(doc)
    return doc, layer


def test_qt_is_the_binding_of_the_running_krita(gui):
    from bgone_krita import qt

    assert qt.QT_MAJOR == int(gui.binding[-1])
    assert qt.QComboBox.__module__.startswith(gui.binding + ".")
    assert (qt.qt_major("6.0.0"), qt.qt_major("5.3.1"), qt.qt_major("5.2.9"), qt.qt_major("?")) == (6, 5, 5, 5)


def test_one_controller_is_handed_to_the_action_and_every_docker(gui):
    (factory,) = gui.app.docker_factories
    from bgone_krita.docker import DOCKER_ID

    assert factory.id == DOCKER_ID
    first, second = factory.createDockWidget(), factory.createDockWidget()  # one per window
    assert first.controller is gui.extension.controller is second.controller
    assert not hasattr(gui.pkg, "CONTROLLER")


def test_docker_shows_the_shared_choices_and_the_model_list(gui):
    gui.app.writeSetting("bgone", "model", "gone-model")  # saved, but no longer known
    docker = gui.app.docker_factories[0].createDockWidget()
    box_items = lambda box: [(box.itemText(i), box.itemData(i)) for i in range(box.count())]  # noqa: E731
    assert box_items(docker.refine_box) == [(label, key) for key, label, _ in choices.REFINE_CHOICES]
    assert box_items(docker.output_box) == [(label, key) for key, label, _ in choices.OUTPUT_CHOICES]
    docker.show()  # asks the engine for its models, off the GUI thread
    pump(gui, lambda: docker.model_box.count() > 1)
    assert box_items(docker.model_box) == [(choices.default_model_label(MODELS), "")] + [
        (choices.model_label(m), m["name"]) for m in MODELS
    ]
    assert docker.model_box.currentData() == ""  # the best installed model, not a download
    nc = dict(MODELS[0], name="rmbg", commercial_use=False, license="CC BY-NC 4.0")
    docker.on_models([nc], None)
    docker.model_box.setCurrentIndex(docker.model_box.findData("rmbg"))
    assert "Non-commercial" in docker.licence.text() and "CC BY-NC 4.0" in docker.licence.text()


def test_docker_button_runs_a_removal_and_reports_progress(gui):
    doc, layer = photo_doc(gui)
    docker = gui.app.docker_factories[0].createDockWidget()
    docker.output_box.setCurrentIndex(docker.output_box.findData("mask"))
    assert not docker.progress.isTextVisible()  # idle: no "0%"
    values = []
    docker.progress.valueChanged.connect(lambda v: values.append(v) if docker.progress.isTextVisible() else None)
    docker.run_button.click()
    assert not docker.run_button.isEnabled() and docker.cancel_button.isEnabled()
    pump(gui, lambda: docker.run_button.isEnabled())
    assert "Ctrl+Z" in docker.status.text(), docker.status.text()
    assert docker.progress.value() == 0 and not docker.progress.isTextVisible()  # no "100%" left over
    assert max(values) > 0 and values == sorted(values), f"the bar sat still or went back: {values}"
    assert [n.type() for n in layer.childNodes()] == ["transparencymask"]
    assert gui.worker.calls[-1]["output"] == "alpha"
    assert any("Ctrl+Z" in m for m in gui.app.messages)  # the action's floating message too


def test_tools_menu_action_works_with_the_docker_closed(gui):
    doc, layer = photo_doc(gui)
    gui.extension.trigger()
    pump(gui, lambda: gui.app.messages and "Ctrl+Z" in gui.app.messages[-1])
    assert "Ctrl+Z" in gui.app.messages[-1]
    assert any(m.startswith(choices.STAGE_TEXTS["inference"]) for m in gui.app.messages[:-1]), \
        "the stages must show while it works, not only the end"
    assert [n.type() for n in layer.childNodes()] == ["transparencymask"]


@pytest.mark.parametrize("answer", [True, False])
def test_replace_question_is_a_titled_box_with_a_replace_button(gui, monkeypatch, answer):
    """controller.confirm is the Qt box: its title, words and buttons are the shared ones."""
    from bgone_krita import ask

    assert gui.extension.controller.confirm is ask.confirm_replace
    seen = {}

    def exec_(box):
        seen["title"], seen["text"] = box.windowTitle(), box.text()
        seen["buttons"] = sorted(b.text().replace("&", "") for b in box.buttons())
        wanted = choices.REPLACE_MASK_BUTTON if answer else "Cancel"
        next(b for b in box.buttons() if b.text().replace("&", "") == wanted).click()
        return 0

    monkeypatch.setattr(ask.qt.QMessageBox, "exec", exec_)
    assert ask.confirm_replace(*choices.replace_mask_question(["Background"])) is answer
    assert seen == {"title": choices.REPLACE_MASK_TITLE, "text": "Replace the existing mask?",
                    "buttons": ["Cancel", "Replace"]}  # fmt: skip


def test_licence_warning_stays_whole_at_the_dockers_smallest_width(gui):
    """The docker at its own minimum width: the warning wraps inside it (every line shown),
    and no combo box makes the docker wider than a narrow dock."""
    docker = gui.app.docker_factories[0].createDockWidget()
    nc = dict(MODELS[0], name="rmbg", commercial_use=False, license="CC BY-NC 4.0",
              size_label="973 MB")  # fmt: skip
    docker.on_models([nc], None)
    docker.model_box.setCurrentIndex(docker.model_box.findData("rmbg"))
    warning = choices.licence_warning(nc)
    assert docker.licence.text() == warning and docker.licence.wordWrap()
    width = docker.minimumSizeHint().width()
    assert width < 360, f"the docker cannot be narrower than {width} px"
    docker.resize(width, 900)
    docker.show()
    gui.qapp.processEvents()
    label = docker.licence
    viewport = docker.widget().viewport()
    assert label.isVisible() and label.mapTo(viewport, label.rect().topRight()).x() < viewport.width()
    assert label.height() >= label.heightForWidth(label.width()), "the warning's last lines are cut off"
    metrics = label.fontMetrics()
    assert label.heightForWidth(label.width()) > metrics.height(), "a narrow warning must wrap"
    assert "non-commercial" in docker.model_box.itemData(1, gui.pkg.docker.qt.Qt.ItemDataRole.ToolTipRole) \
        or "Non-commercial" in docker.model_box.itemData(1, gui.pkg.docker.qt.Qt.ItemDataRole.ToolTipRole)
    docker.model_box.setCurrentIndex(0)
    assert not label.isVisible()  # no warning: no empty orange line either


KRITA_DOCKED = (262, 250)  # the docker's size where Krita 5.2.9 docks it first (walkthrough, 1280x1000)


def _inside_viewport(docker, widget):
    """Where ``widget`` lies in the docker's visible (unscrolled) area: (top, bottom, height)."""
    viewport = docker.widget().viewport()
    top = widget.mapTo(viewport, widget.rect().topLeft()).y()
    return top, top + widget.height(), viewport.height()


@pytest.mark.parametrize("outcome", ["done", "error"])
def test_status_line_shows_whole_at_the_docked_size(gui, outcome):
    """At Krita's default docked size the line that says what a run did, or why it failed, is
    on screen whole (wrapped, not scrolled away under the settings)."""
    from bgone_client import ClientError

    doc, layer = photo_doc(gui)
    docker = gui.app.docker_factories[0].createDockWidget()
    docker.on_models([dict(m) for m in MODELS], None)
    docker.resize(*KRITA_DOCKED)
    docker.show()
    if outcome == "error":
        gui.worker.fail = ClientError(
            "download_failed",
            "Could not download the u2net model: github.com could not be found; "
            "files.pythonhosted.org could not be found.", choices.HOST_HINTS["download_failed"])
    states = []
    docker.controller.listeners.append(lambda st, f, text: states.append((st, text)))
    docker.run_button.click()
    pump(gui, lambda: states and states[-1][0] in ("done", "error"))
    for _ in range(5):  # the new text's layout requests travel up to the scroll area, one a pass
        gui.qapp.processEvents()
    state, text = states[-1]
    assert state == outcome and docker.status.text() == text
    if outcome == "error":
        assert "github.com could not be found" in text and choices.HOST_HINTS["download_failed"] in text
    label = docker.status
    top, bottom, visible = _inside_viewport(docker, label)
    assert label.isVisible() and 0 <= top and bottom <= visible, \
        f"the status line lies at {top}..{bottom} px, the docker shows 0..{visible}"
    assert label.height() >= label.heightForWidth(label.width()), "the status line's last lines are cut off"
    assert not label.visibleRegion().isEmpty()
    for widget in (docker.run_button, docker.progress, docker.cancel_button):
        assert _inside_viewport(docker, widget)[1] <= visible


def test_both_hosts_name_the_settings_alike(gui):
    """The docker's row labels are the shared ones GIMP shows too (not "Edges" here and
    "Edge refinement" there)."""
    docker = gui.app.docker_factories[0].createDockWidget()
    form = docker.model_box.parentWidget().layout().itemAt(3).layout()
    labels = {form.labelForField(box).text(): box for box in (docker.model_box, docker.refine_box, docker.output_box)}
    assert labels == {choices.MODEL_LABEL: docker.model_box, choices.REFINE_LABEL: docker.refine_box,
                      choices.OUTPUT_LABEL: docker.output_box}  # fmt: skip
    assert choices.REFINE_LABEL == "Edge refinement"


def test_model_list_names_the_default_model_and_shows_every_entry_whole(gui):
    docker = gui.app.docker_factories[0].createDockWidget()
    long_name = dict(MODELS[1], name="birefnet-hr-matting", size_label="1099 MB", default=False)
    docker.on_models([dict(m) for m in MODELS] + [long_name], None)
    assert docker.model_box.itemText(0) == "Default (u2netp)"  # MODELS: only u2netp is installed
    tip = docker.model_box.itemData(0, gui.pkg.docker.qt.Qt.ItemDataRole.ToolTipRole)
    assert "now u2netp" in tip and "small" in tip  # u2netp's own notes follow
    assert docker.model_box.currentIndex() == 0 and "now u2netp" in docker.model_box.toolTip()
    labels = [docker.model_box.itemText(i) for i in range(docker.model_box.count())]
    assert labels[1:] == ["u2netp (4.6 MB, installed)", "isnet-general-use (179 MB)", "birefnet-hr-matting (1099 MB)"]
    tip = docker.model_box.itemData(2, gui.pkg.docker.qt.Qt.ItemDataRole.ToolTipRole)
    assert "179 MB will be downloaded once" in tip  # what a short entry leaves out
    view = docker.model_box.view()
    widest = max(view.fontMetrics().horizontalAdvance(text) for text in labels)
    assert view.minimumWidth() > widest, "the open list must show whole entries"
    assert docker.model_box.minimumSizeHint().width() < widest  # the closed box may still be narrow

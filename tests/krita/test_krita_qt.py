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
    assert box_items(docker.model_box) == [(choices.DEFAULT_MODEL_LABEL, "")] + [
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

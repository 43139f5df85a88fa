"""A self-check inside the full Krita GUI, run only when BGONE_KRITA_SELFTEST names a file.

The host tests start `krita --nosplash` with it set: after the main window exists this writes
JSON (dockers, the action, and, with BGONE_KRITA_SELFTEST_IMAGE, a removal through the docker's
controller followed by Edit > Undo) and exits Krita hard, since quitting normally may prompt.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any

from krita import Krita
from PyQt5.QtCore import QTimer

_state: dict[str, Any] = {"armed": False, "done": False}
OUTPUTS_TO_CHECK = ("mask", "layer", "selection")


def arm() -> None:
    if _state["armed"]:
        return
    _state["armed"] = True
    notifier = Krita.instance().notifier()
    notifier.setActive(True)
    notifier.windowCreated.connect(lambda: QTimer.singleShot(1000, run))
    QTimer.singleShot(60000, run)  # fallback if windowCreated never comes


def _write(report: dict[str, Any]) -> None:
    with open(os.environ["BGONE_KRITA_SELFTEST"], "w") as f:
        json.dump(report, f, indent=1)


def _finish(report: dict[str, Any], code: int) -> None:
    report["exit"] = code
    try:
        docker = _our_docker(Krita.instance())
        if docker is not None:
            box = docker.model_box
            report["docker_models"] = [box.itemText(i) for i in range(box.count())]
            report["docker_status"] = docker.status.text()
    except Exception:
        report["docker_error"] = traceback.format_exc()
    _write(report)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run() -> None:
    if _state["done"]:
        return
    _state["done"] = True
    report: dict[str, Any] = {}
    try:
        from . import CONTROLLER, engine
        from .extension import ACTION_ID

        app = Krita.instance()
        report["dockers"] = [[d.objectName(), d.windowTitle()] for d in app.dockers()]
        report["action"] = app.action(ACTION_ID) is not None
        report["action_text"] = app.action(ACTION_ID).text() if report["action"] else None
        report["tools_menu"] = _tools_menu_actions(app)
        image = os.environ.get("BGONE_KRITA_SELFTEST_IMAGE")
        if not image:
            _finish(report, 0)
            return
        doc = app.openDocument(image)
        app.activeWindow().addView(doc)
        layer = [n for n in doc.topLevelNodes() if n.type() == "paintlayer"][0]
        doc.setActiveNode(layer)
        report["runs"] = []
        steps = list(OUTPUTS_TO_CHECK)
        docker = _our_docker(app)
        report["docker_widget"] = docker is not None
        if docker is not None:
            docker.show()  # also makes it ask the worker for the model list

        def next_step() -> None:
            if not steps:
                _finish(report, 0 if all(r["state"] == "done" for r in report["runs"]) else 4)
                return
            output = steps.pop(0)
            step = {"output": output, "states": []}
            report["runs"].append(step)
            t0 = time.perf_counter()

            def on_state(state: str, fraction: float, text: str) -> None:
                step["states"].append([state, round(fraction, 3), text])
                if state in ("done", "error", "cancelled"):
                    step["state"] = state
                    step["seconds"] = time.perf_counter() - t0
                    CONTROLLER.listeners.remove(on_state)
                    if state != "done":
                        QTimer.singleShot(0, lambda: _finish(report, 4))
                        return
                    QTimer.singleShot(200, lambda: _undo_and_continue(report, step, doc, layer, next_step))

            CONTROLLER.listeners.append(on_state)
            if docker is not None:  # the user's path: choose the output, press the button
                docker.output_box.setCurrentIndex(docker.output_box.findData(output))
                docker.run_button.click()
                started = CONTROLLER.busy or bool(step["states"])
            else:
                started = CONTROLLER.start(doc, layer, engine.read_options(app)._replace(output=output))
            if not started:
                step["state"] = "not started"
                _finish(report, 3)

        QTimer.singleShot(1500, next_step)  # let the new view make the layer active first
    except Exception:
        report["traceback"] = traceback.format_exc()
        _finish(report, 2)


def _scene(doc: Any, layer: Any) -> dict[str, Any]:
    """What a user sees change: the layer list, the layer's masks, the selection."""
    return {
        "layers": [n.name() for n in doc.topLevelNodes()],
        "masks": [n.type() for n in layer.childNodes()],
        "selection": doc.selection() is not None,
    }


def _undo_and_continue(report: dict[str, Any], step: dict[str, Any], doc: Any, layer: Any, next_step: Any) -> None:
    """Edit > Undo once: the whole result must go (the plug-in promises one undo step)."""
    try:
        step["after_run"] = _scene(doc, layer)
        undo = Krita.instance().action("edit_undo")
        undo.trigger()
        doc.waitForDone()
        step["after_undo"] = _scene(doc, layer)
        QTimer.singleShot(200, next_step)
    except Exception:
        report["traceback"] = traceback.format_exc()
        _finish(report, 2)


def _our_docker(app: Any) -> Any:
    from .docker import DOCKER_ID, BgoneDocker

    for dock in app.dockers():
        if dock.objectName() == DOCKER_ID and isinstance(dock, BgoneDocker):
            return dock
    return None


def _tools_menu_actions(app: Any) -> list:
    """Object names of the actions in the main window's Tools menu (and its submenus)."""
    window = app.activeWindow()
    if window is None:
        return []
    names: list = []
    for top in window.qwindow().menuBar().actions():
        menu = top.menu()
        if menu is None or menu.objectName() != "tools":
            continue
        stack = [menu]
        while stack:
            current = stack.pop()
            for action in current.actions():
                names.append(action.objectName())
                if action.menu() is not None:
                    stack.append(action.menu())
    return names

"""bgone for Krita: remove the background of a layer with a local model.

Scripting (Scripter, kritarunner)::

    import bgone_krita
    doc = Krita.instance().activeDocument()
    bgone_krita.remove_background(doc, doc.activeNode())            # saved model/refinement
    bgone_krita.remove_background(doc, node, model="u2netp", refine="none", output="layer")

Importing this package without Krita (tests, tools) registers nothing; the logic stays usable.
"""

from __future__ import annotations

from typing import Any

from .engine import (
    HOLDER,
    OUTPUTS,
    REFINE_LEVELS,
    Options,
    RemoveBackgroundError,
    remove_background,
)

__all__ = ["remove_background", "RemoveBackgroundError", "Options", "OUTPUTS", "REFINE_LEVELS", "CONTROLLER"]

CONTROLLER: Any | None = None  # the controller shared by the docker and the action, set in Krita


def _register() -> None:
    """Adds the action and the docker when imported by Krita's plug-in loader."""
    global CONTROLLER
    try:
        from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita
        from PyQt5.QtCore import QTimer
    except ImportError:  # plain Python: no Krita, no Qt
        return
    app = Krita.instance()
    if app is None or CONTROLLER is not None:
        return
    from .controller import Controller
    from .docker import DOCKER_ID, BgoneDocker
    from .extension import BgoneExtension

    CONTROLLER = Controller(Krita.instance, HOLDER, lambda ms, fn: QTimer.singleShot(ms, fn))
    app.addExtension(BgoneExtension(app))
    app.addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, BgoneDocker))


_register()

"""bgone for Krita: remove the background of a layer with a local model.

Scripting (Scripter, kritarunner)::

    import bgone_krita
    doc = Krita.instance().activeDocument()
    bgone_krita.remove_background(doc, doc.activeNode())             # the saved model/refinement
    bgone_krita.remove_background(doc, node, model="u2netp", refine="none", output="layer")

Imported outside Krita (tests, tools) it registers nothing; the logic stays usable.
"""

from __future__ import annotations

from typing import Any, Optional

from .api import remove_background
from .errors import RemoveBackgroundError
from .settings import OUTPUTS, REFINE_LEVELS, Options

__all__ = ["remove_background", "RemoveBackgroundError", "Options", "OUTPUTS", "REFINE_LEVELS", "CONTROLLER"]

CONTROLLER: Optional[Any] = None  # the Controller shared by the docker and the action, in Krita


def _register() -> None:
    """Adds the Tools-menu action and the docker when Krita's plug-in loader imports us."""
    global CONTROLLER
    try:
        from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita
        from PyQt5.QtCore import QTimer
    except ImportError:  # plain Python: no Krita, no Qt
        return
    app = Krita.instance()
    if app is None or CONTROLLER is not None:
        return
    from .connection import HOLDER
    from .controller import Controller
    from .docker import DOCKER_ID, BgoneDocker
    from .extension import BgoneExtension

    CONTROLLER = Controller(Krita.instance, HOLDER, lambda ms, fn: QTimer.singleShot(ms, fn))
    app.addExtension(BgoneExtension(app))
    app.addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, BgoneDocker))


_register()

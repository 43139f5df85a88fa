"""bgone for Krita: remove the background of a layer with a local model.

Scripting (Scripter, kritarunner)::

    import bgone_krita
    doc = Krita.instance().activeDocument()
    bgone_krita.remove_background(doc, doc.activeNode())             # the saved model/refinement
    bgone_krita.remove_background(doc, node, model="u2netp", refine="none", output="layer")
    bgone_krita.refine_edges(doc, doc.activeNode(), band=None, output="mask")   # Refine Edges

Imported outside Krita (tests, tools) it registers nothing; the logic stays usable.
"""

from __future__ import annotations

from .api import refine_edges, remove_background
from .errors import RemoveBackgroundError
from .settings import OUTPUTS, REFINE_LEVELS, Options

__all__ = ["refine_edges", "remove_background", "RemoveBackgroundError", "Options", "OUTPUTS", "REFINE_LEVELS"]


def _register() -> None:
    """Adds the Tools-menu action and the docker when Krita's plug-in loader imports us; both
    are handed the one Controller of the session."""
    try:
        from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita
    except ImportError:  # plain Python: no Krita
        return
    app = Krita.instance()
    if app is None:
        return
    import functools

    from .ask import confirm_replace
    from .connection import HOLDER
    from .controller import Controller
    from .docker import DOCKER_ID, BgoneDocker
    from .extension import BgoneExtension
    from .qt import QTimer

    controller = Controller(Krita.instance, HOLDER, lambda ms, fn: QTimer.singleShot(ms, fn))
    controller.confirm = confirm_replace
    app.addExtension(BgoneExtension(app, controller))
    docker = functools.partial(BgoneDocker, controller)  # Krita calls it for each window
    app.addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, docker))


_register()

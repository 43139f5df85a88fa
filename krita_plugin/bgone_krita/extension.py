"""The Tools-menu action (shortcut configurable in Settings > Configure Krita > Keyboard
Shortcuts, like every Krita action) and user feedback when the docker is hidden."""

from __future__ import annotations

from typing import Any

from bgone_client import choices
from krita import Extension, Krita

from .qt import QIcon

ACTION_ID = "bgone_remove_background"
ACTION_TEXT = "Remove Background"
REFINE_ACTION_ID = "bgone_refine_edges"
REFINE_ACTION_TEXT = choices.REFINE_EDGES_LABEL


class BgoneExtension(Extension):
    def __init__(self, parent: Any, controller: Any) -> None:
        super().__init__(parent)
        self.controller = controller
        self._shown = None  # the stage text last shown while a job runs

    def setup(self) -> None:
        self.controller.listeners.append(self.on_state)

    def createActions(self, window: Any) -> None:  # noqa: N802 (Krita's name)
        # "tools" puts it straight into the Tools menu; the id is what the shortcut editor lists
        action = window.createAction(ACTION_ID, ACTION_TEXT, "tools")
        action.setToolTip("Remove the background of the active layer (bgone)")
        action.triggered.connect(self.trigger)
        refine = window.createAction(REFINE_ACTION_ID, REFINE_ACTION_TEXT, "tools")
        refine.setToolTip("Refine the edges of the selected transparency mask or layer (bgone)")
        refine.triggered.connect(self.trigger_refine)

    def trigger(self) -> None:
        self.controller.start_active()

    def trigger_refine(self) -> None:
        self.controller.start_refine_active()

    def on_state(self, state: str, fraction: float, text: str) -> None:
        """Floating messages on the canvas, so the action is usable with the docker closed:
        each new stage while working (Krita has no progress bar for Python plug-ins), then
        how it ended."""
        if state == "running":
            line = f"{text} ({fraction:.0%})" if fraction > 0.0 else text
            if text == self._shown:
                return
            self._shown = text
            self._show(line, 10000, 1)
            return
        self._shown = None
        if state == "idle":  # an Undo took the result away: Krita says so itself
            return
        self._show(text, 6000 if state == "error" else 3000, 1)

    @staticmethod
    def _show(text: str, ms: int, priority: int) -> None:
        window = Krita.instance().activeWindow()
        view = window.activeView() if window is not None else None
        if view is not None:
            view.showFloatingMessage(text, QIcon(), ms, priority)

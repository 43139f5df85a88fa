"""The Tools-menu action (shortcut configurable in Settings > Configure Krita > Keyboard
Shortcuts, like every Krita action) and user feedback when the docker is hidden."""

from __future__ import annotations

from typing import Any

from krita import Extension, Krita

from .qt import QIcon

ACTION_ID = "bgone_remove_background"
ACTION_TEXT = "Remove Background"


class BgoneExtension(Extension):
    def __init__(self, parent: Any, controller: Any) -> None:
        super().__init__(parent)
        self.controller = controller

    def setup(self) -> None:
        self.controller.listeners.append(self.on_state)

    def createActions(self, window: Any) -> None:  # noqa: N802 (Krita's name)
        # "tools" puts it straight into the Tools menu; the id is what the shortcut editor lists
        action = window.createAction(ACTION_ID, ACTION_TEXT, "tools")
        action.setToolTip("Remove the background of the active layer (bgone)")
        action.triggered.connect(self.trigger)

    def trigger(self) -> None:
        self.controller.start_active()

    def on_state(self, state: str, fraction: float, text: str) -> None:
        """A floating message on the canvas, so the action is usable with the docker closed."""
        if state not in ("done", "error", "cancelled"):
            return
        window = Krita.instance().activeWindow()
        view = window.activeView() if window is not None else None
        if view is not None:
            view.showFloatingMessage(text, QIcon(), 6000 if state == "error" else 3000, 1)

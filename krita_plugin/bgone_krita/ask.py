"""The one question the plug-in asks (Qt): may a new mask replace the layer's older ones."""

from __future__ import annotations

from typing import Any

from bgone_client import choices
from krita import Krita

from . import qt


def confirm_replace(question: str, detail: str) -> bool:
    """A modal box over Krita's window with "Replace" and "Cancel"; True for Replace."""
    window = Krita.instance().activeWindow()
    parent: Any = window.qwindow() if window is not None and hasattr(window, "qwindow") else None
    box = qt.QMessageBox(parent)
    box.setIcon(qt.QMessageBox.Icon.Question)
    box.setWindowTitle(choices.REPLACE_MASK_TITLE)
    box.setText(question)
    box.setInformativeText(detail)
    replace = box.addButton(choices.REPLACE_MASK_BUTTON, qt.QMessageBox.ButtonRole.AcceptRole)
    box.addButton(qt.QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(replace)
    box.exec()
    return box.clickedButton() is replace

"""Qt for the docker and the action, imported in this one place: PyQt5 in Krita 5 (5.2, 5.3),
PyQt6 in Krita 6. The running Krita's version decides, so a stray second PyQt on the path
can never be picked by mistake. Enum members are spelled scoped (``Qt.TextInteractionFlag.X``),
which both bindings accept."""

from __future__ import annotations

from krita import Krita


def qt_major(krita_version: str) -> int:
    """5 for Krita 5.x (and anything older or unreadable), 6 from Krita 6 on."""
    try:
        return 6 if int(krita_version.split(".")[0]) >= 6 else 5
    except ValueError:
        return 5


QT_MAJOR = qt_major(Krita.instance().version())

if QT_MAJOR >= 6:
    from PyQt6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer
    from PyQt6.QtGui import QIcon
    from PyQt6.QtWidgets import (
        QComboBox,
        QFormLayout,
        QHBoxLayout,
        QLabel,
        QProgressBar,
        QPushButton,
        QVBoxLayout,
        QWidget,
    )
else:
    from PyQt5.QtCore import QCoreApplication, QEventLoop, Qt, QTimer
    from PyQt5.QtGui import QIcon
    from PyQt5.QtWidgets import (
        QComboBox,
        QFormLayout,
        QHBoxLayout,
        QLabel,
        QProgressBar,
        QPushButton,
        QVBoxLayout,
        QWidget,
    )

__all__ = [
    "QT_MAJOR", "QComboBox", "QCoreApplication", "QEventLoop", "QFormLayout", "QHBoxLayout",
    "QIcon", "QLabel", "QProgressBar", "QPushButton", "QTimer", "QVBoxLayout", "QWidget", "Qt",
    "qt_major",
]  # fmt: skip

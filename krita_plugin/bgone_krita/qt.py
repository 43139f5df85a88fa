"""Qt for the docker and the action, imported in this one place: PyQt5 in Krita 5 (5.2, 5.3),
PyQt6 in Krita 6. The running Krita's version decides, so a stray second PyQt on the path
can never be picked by mistake. Enum members are spelled scoped (``Qt.TextInteractionFlag.X``),
which both bindings accept."""

from __future__ import annotations

import importlib

from krita import Krita


def qt_major(krita_version: str) -> int:
    """5 for Krita 5.x (and anything older or unreadable), 6 from Krita 6 on."""
    try:
        return 6 if int(krita_version.split(".")[0]) >= 6 else 5
    except ValueError:
        return 5


QT_MAJOR = qt_major(Krita.instance().version())
_core, _gui, _widgets = (importlib.import_module(f"PyQt{QT_MAJOR}.{part}")
                         for part in ("QtCore", "QtGui", "QtWidgets"))  # fmt: skip

Qt, QTimer, QEventLoop, QCoreApplication = _core.Qt, _core.QTimer, _core.QEventLoop, _core.QCoreApplication
QIcon = _gui.QIcon
QWidget, QLabel, QComboBox, QPushButton = _widgets.QWidget, _widgets.QLabel, _widgets.QComboBox, _widgets.QPushButton
QProgressBar, QFormLayout = _widgets.QProgressBar, _widgets.QFormLayout
QHBoxLayout, QVBoxLayout = _widgets.QHBoxLayout, _widgets.QVBoxLayout
QGroupBox, QSpinBox, QMessageBox = _widgets.QGroupBox, _widgets.QSpinBox, _widgets.QMessageBox
QSizePolicy, QScrollArea, QFrame = _widgets.QSizePolicy, _widgets.QScrollArea, _widgets.QFrame

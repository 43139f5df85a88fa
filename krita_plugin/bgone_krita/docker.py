"""The "Remove Background" docker: a button, progress with cancel and a plain status line at the
top (visible at the docker's small default size), the choices, and a "Refine Edges" section
(its settings and button).

Only widgets live here; the work is in controller.py and below, tested without Qt.
"""

from __future__ import annotations

from typing import Any, Optional

from bgone_client import choices
from krita import DockWidget, Krita

from . import qt, refine, settings
from .settings import Options

DOCKER_ID = "bgone_docker"
DOCKER_TITLE = "Remove Background"


def _choice_box(parent: Any, items: tuple) -> Any:
    """A combo box of (id, label, help text) choices: the id as data, the help as tooltip."""
    box = qt.QComboBox(parent)
    for key, label, help_text in items:
        box.addItem(label, key)
        box.setItemData(box.count() - 1, help_text, qt.Qt.ItemDataRole.ToolTipRole)
    return box


def _narrow(box: Any) -> Any:
    """A combo box that may be narrower than its longest entry (the docker's smallest width
    is the user's to choose); the whole entry shows in the open list and as its tooltip."""
    box.setSizeAdjustPolicy(qt.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(10)
    box.view().setTextElideMode(qt.Qt.TextElideMode.ElideNone)
    return box


def _wrapped(label: Any) -> Any:
    """A label that wraps at the docker's width (never widening it) and is as tall as its
    text: a long message shows whole, never cut off at the side."""
    label.setWordWrap(True)
    label.setSizePolicy(qt.QSizePolicy.Policy.Ignored, qt.QSizePolicy.Policy.Minimum)
    return label


def _fit_popup(box: Any) -> None:
    """The open list at least as wide as its longest entry, however narrow the closed box
    (measured from the texts: a hidden view's own size hint counts only the rows it shows)."""
    view = box.view()
    metrics = view.fontMetrics()
    widest = max((metrics.horizontalAdvance(box.itemText(i)) for i in range(box.count())), default=0)
    view.setMinimumWidth(widest + 4 * metrics.averageCharWidth() + view.verticalScrollBar().sizeHint().width())


class BgoneDocker(DockWidget):
    def __init__(self, controller: Any) -> None:
        super().__init__()
        self.controller = controller
        self.models: list[dict] = []
        self.setWindowTitle(DOCKER_TITLE)
        root = qt.QWidget(self)
        layout = qt.QVBoxLayout(root)
        # the button, its progress and the status line come first: Krita docks this at about
        # 260x250 px, and what a run did (or why it failed) must show there without scrolling
        self.run_button = qt.QPushButton("Remove background", root)
        layout.addWidget(self.run_button)
        row = qt.QHBoxLayout()
        self.progress = qt.QProgressBar(root)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)  # idle: no "0%"
        self.cancel_button = qt.QPushButton("Cancel", root)
        self.cancel_button.setEnabled(False)
        row.addWidget(self.progress)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self.status = _wrapped(qt.QLabel("Select a layer and press Remove background.", root))
        self.status.setTextInteractionFlags(qt.Qt.TextInteractionFlag.TextSelectableByMouse)  # users can copy the error
        layout.addWidget(self.status)
        form = qt.QFormLayout()
        form.setRowWrapPolicy(qt.QFormLayout.RowWrapPolicy.WrapLongRows)
        self.model_box = _narrow(qt.QComboBox(root))
        self.model_box.addItem(choices.DEFAULT_MODEL_LABEL, "")
        self.model_box.setToolTip(choices.MODEL_HELP)
        # under the choices at the docker's full width, wrapped: never cut off in a narrow dock
        self.licence = _wrapped(qt.QLabel("", root))
        self.licence.setStyleSheet("color: #d08000;")
        self.refine_box = _narrow(_choice_box(root, choices.REFINE_CHOICES))
        self.output_box = _narrow(_choice_box(root, choices.OUTPUT_CHOICES))
        form.addRow(choices.MODEL_LABEL, self.model_box)
        form.addRow(choices.REFINE_LABEL, self.refine_box)
        form.addRow(choices.OUTPUT_LABEL, self.output_box)
        layout.addLayout(form)
        layout.addWidget(self.licence)
        self.licence.hide()
        layout.addWidget(self._refine_section(root))
        layout.addStretch(1)
        scroll = qt.QScrollArea(self)  # a short dock scrolls rather than cutting text off
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(qt.QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(qt.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(root)
        scroll.setMinimumWidth(root.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        self.setWidget(scroll)
        self._load_saved()
        self.run_button.clicked.connect(self.on_run)
        self.cancel_button.clicked.connect(self.controller.cancel)
        self.model_box.currentIndexChanged.connect(self.on_choice)
        self.refine_box.currentIndexChanged.connect(self.on_choice)
        self.output_box.currentIndexChanged.connect(self.on_choice)
        self.controller.listeners.append(self.on_state)
        self._models_requested = False

    def _refine_section(self, root: Any) -> Any:
        """Refine Edges: its settings (bgone_client.choices) and button, sharing the progress
        bar, Cancel and status line at the top."""
        box = qt.QGroupBox(choices.REFINE_EDGES_LABEL, root)
        form = qt.QFormLayout(box)
        saved = refine.read_options(Krita.instance())
        self.refine_spins = {}
        for ident, label, help_text, low, high, _default in choices.REFINE_SETTINGS:
            spin = qt.QSpinBox(box)
            spin.setRange(low, high)
            spin.setValue(int(getattr(saved, ident) or 0))
            spin.setToolTip(help_text)
            if ident == "band":
                spin.setSpecialValueText("Automatic")  # shown for 0
            spin.valueChanged.connect(self.on_refine_choice)
            form.addRow(label, spin)
            self.refine_spins[ident] = spin
        self.refine_output_box = _choice_box(box, choices.REFINE_OUTPUT_CHOICES)
        self._select(self.refine_output_box, saved.output)
        self.refine_output_box.currentIndexChanged.connect(self.on_refine_choice)
        form.addRow(choices.OUTPUT_LABEL, self.refine_output_box)
        self.refine_button = qt.QPushButton("Refine edges", box)
        self.refine_button.setToolTip("Refine the selected transparency mask (or the layer's own alpha) "
                                      "along its edges; a selection limits it to the selected part.")  # fmt: skip
        self.refine_button.clicked.connect(self.on_refine)
        form.addRow(self.refine_button)
        return box

    def refine_options(self) -> refine.RefineOptions:
        value = {k: spin.value() for k, spin in self.refine_spins.items()}
        return refine.RefineOptions(choices.band_or_auto(value["band"]), value["grow"], value["feather"],
                                    self.refine_output_box.currentData())  # fmt: skip

    def on_refine_choice(self, _value: int = 0) -> None:
        refine.save_options(Krita.instance(), self.refine_options())

    def on_refine(self) -> None:
        self.on_refine_choice()
        self.controller.start_refine_active(self.refine_options())

    # -- Krita's DockWidget interface
    def canvasChanged(self, canvas: Any) -> None:  # noqa: N802 (Krita's name)
        pass

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self._models_requested:  # spawn the worker only when someone looks at the docker
            self._models_requested = True
            self.controller.list_models(self.on_models)

    # -- choices
    def _load_saved(self) -> None:
        saved = settings.read_options(Krita.instance())
        self._select(self.refine_box, saved.refine)
        self._select(self.output_box, saved.output)
        self._saved_model = saved.model or ""

    @staticmethod
    def _select(box: qt.QComboBox, key: str) -> None:
        index = box.findData(key)
        if index >= 0:
            box.setCurrentIndex(index)

    def options(self) -> Options:
        model = self.model_box.currentData() or None
        return Options(model, self.refine_box.currentData(), self.output_box.currentData())

    def on_choice(self, _index: int = 0) -> None:
        settings.save_options(Krita.instance(), self.options())
        info = next((m for m in self.models if m.get("name") == self.model_box.currentData()), None)
        warning = choices.licence_warning(info)
        self.licence.setText(warning)
        self.licence.setVisible(bool(warning))
        notes = choices.model_notes(info) if info else choices.default_model_notes(self.models)
        self.model_box.setToolTip(self.model_box.currentText() + "\n" + notes)

    def on_models(self, models: Optional[list], error: Optional[str]) -> None:
        if error:
            self.status.setText(error)
            self._models_requested = False  # ask again next time the docker is shown
            return
        self.models = models or []
        self.model_box.blockSignals(True)
        self.model_box.clear()
        self.model_box.addItem(choices.default_model_label(self.models), "")
        self.model_box.setItemData(0, choices.default_model_notes(self.models), qt.Qt.ItemDataRole.ToolTipRole)
        for info in self.models:
            self.model_box.addItem(choices.model_label(info), info.get("name"))
            self.model_box.setItemData(self.model_box.count() - 1, choices.model_notes(info),
                                       qt.Qt.ItemDataRole.ToolTipRole)  # fmt: skip
        _fit_popup(self.model_box)
        self._select(self.model_box, choices.pick_model(self.models, self._saved_model))
        self.model_box.blockSignals(False)
        self.on_choice()

    # -- running
    def on_run(self) -> None:
        settings.save_options(Krita.instance(), self.options())
        self.controller.start_active(self.options())

    def on_state(self, state: str, fraction: float, text: str) -> None:
        running = state == "running"
        self.run_button.setEnabled(not running)
        self.refine_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        # the bar shows a running job only: idle, or once the line below says how it ended, it
        # is empty (no "0%", no "100%" left standing after an Undo)
        self.progress.setTextVisible(running)
        self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000) if running else 0)
        self.status.setText(text)
        self.status.setToolTip(self.controller.gpu_note)  # the full "why not the GPU", when it applies

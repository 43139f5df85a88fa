"""Runs removals asynchronously for the docker and the Tools-menu action (no Qt imports).

The worker is pumped on a Python thread; results come back to the GUI thread through a queue
that a timer drains (`schedule` is QTimer.singleShot inside Krita, a plain loop in tests), so
Krita never blocks and every Krita call happens on the GUI thread.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from . import engine
from .engine import Options, RemoveBackgroundError

if TYPE_CHECKING:  # aliases only for annotations: Krita 5.1 ships Python 3.8
    from collections.abc import Callable

    Listener = Callable[[str, float, str], None]  # (state, fraction, text); state: running/done/error/cancelled
    Schedule = Callable[[int, Callable[[], None]], None]  # (milliseconds, callback)


STAGE_WORDS = {
    "start": "Starting the bgone worker",
    "load": "Loading the model",
    "download": "Downloading the model",
    "inference": "Finding the subject",
    "refine": "Refining the edges",
    "foreground": "Cleaning edge colours",
}
POLL_MS = 50


def stage_text(stage: str, message: str) -> str:
    return message or STAGE_WORDS.get(stage, stage.capitalize() if stage else "Working")


def done_text(output: str, node_name: str, seconds: float) -> str:
    if output == "selection":
        # Krita's scripting API replaces the global selection outside the undo history
        return (f"Selected the subject of {node_name!r} in {seconds:.1f} s. "
                "Select > Deselect (Ctrl+Shift+A) drops it; Select > Reselect brings back the old one.")
    what = {
        "mask": f"Added a transparency mask to {node_name!r}",
        "layer": f"Added the cutout of {node_name!r} as a new layer above it (hide the original to see it)",
    }[output]
    return f"{what} in {seconds:.1f} s. Edit > Undo (Ctrl+Z) takes it away."


class Job:
    """One removal: compute() on a thread, events back through a queue."""

    def __init__(self, holder: engine.WorkerHolder, source: engine.Source, options: Options) -> None:
        self.source = source
        self.options = options
        self.events: queue.Queue[tuple] = queue.Queue()
        self._holder = holder
        self._cancel = threading.Event()
        self.started = time.perf_counter()
        self.thread = threading.Thread(target=self._run, name="bgone-job", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _run(self) -> None:
        def progress(stage: str, fraction: float, message: str = "") -> None:
            self.events.put(("progress", fraction, stage_text(stage, message)))

        try:
            result = engine.compute(self._holder, self.source, self.options, progress, self._cancel.is_set)
        except BaseException as exc:
            self.events.put(("error", engine._as_error(exc)))
        else:
            self.events.put(("result", result))


class Controller:
    """Shared by the docker and the action: one job at a time, one warm worker."""

    def __init__(self, app: Callable[[], Any], holder: engine.WorkerHolder, schedule: Schedule) -> None:
        self._app = app
        self.holder = holder
        self._schedule = schedule
        self.listeners: list[Listener] = []
        self.job: Job | None = None
        self.last_result: Any = None

    @property
    def busy(self) -> bool:
        return self.job is not None

    def _emit(self, state: str, fraction: float, text: str) -> None:
        for listener in list(self.listeners):
            listener(state, fraction, text)

    def start(self, document: Any, node: Any, options: Options | None = None) -> bool:
        """Starts a removal on the GUI thread; returns False (and reports why) if it could not."""
        if self.busy:
            self._emit("error", 0.0, "A removal is already running.\nWait for it or press Cancel.")
            return False
        app = self._app()
        try:
            opts = options or engine.read_options(app)
            source = engine.prepare(app, document, node)
        except BaseException as exc:
            self._emit("error", 0.0, str(engine._as_error(exc)))
            return False
        self.job = Job(self.holder, source, opts)
        self.job.document = document
        self._emit("running", 0.0, "Starting…")
        self.job.start()
        self._schedule(POLL_MS, self.poll)
        return True

    def start_active(self, options: Options | None = None) -> bool:
        app = self._app()
        doc = app.activeDocument()
        node = doc.activeNode() if doc is not None else None
        return self.start(doc, node, options)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self._emit("running", 0.0, "Cancelling…")

    def poll(self) -> None:
        """Drains the job's events on the GUI thread; reschedules itself until the job ends."""
        job = self.job
        if job is None:
            return
        while True:
            try:
                event = job.events.get_nowait()
            except queue.Empty:
                self._schedule(POLL_MS, self.poll)
                return
            if event[0] == "progress":
                self._emit("running", event[1], event[2])
                continue
            self.job = None
            if event[0] == "error":
                self._finish_error(event[1])
            else:
                self._finish(job, event[1])
            return

    def _finish_error(self, err: RemoveBackgroundError) -> None:
        if err.kind == "cancelled":
            self._emit("cancelled", 0.0, "Cancelled. The image was not changed.")
        else:
            self._emit("error", 0.0, str(err))

    def _finish(self, job: Job, result: bytes) -> None:
        app = self._app()
        if not any(doc == job.document for doc in app.documents()):
            self._emit("error", 0.0, "The image was closed before the result was ready.\nNothing was changed.")
            return
        try:
            self.last_result = engine.apply(app, job.document, job.source, result, job.options.output)
        except BaseException as exc:
            self._emit("error", 0.0, str(engine._as_error(exc)))
            return
        seconds = time.perf_counter() - job.started
        self._emit("done", 1.0, done_text(job.options.output, job.source.layer.name(), seconds))

    def list_models(self, callback: Callable[[list | None, str | None], None]) -> None:
        """Asks the worker for its model list off the GUI thread; callback runs on the GUI thread."""
        box: queue.Queue[tuple] = queue.Queue()

        def work() -> None:
            try:
                box.put((self.holder.call(lambda w: w.models()), None))
            except BaseException as exc:
                box.put((None, str(engine._as_error(exc))))

        def check() -> None:
            try:
                models, error = box.get_nowait()
            except queue.Empty:
                self._schedule(100, check)
                return
            callback(models, error)

        threading.Thread(target=work, name="bgone-models", daemon=True).start()
        self._schedule(100, check)

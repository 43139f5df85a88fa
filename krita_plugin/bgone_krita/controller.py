"""Runs removals asynchronously for the docker and the Tools-menu action (no Qt imports).

Reading and writing the document happen on the GUI thread; only the engine request runs on a
Python thread. Its events come back through a queue that a timer drains (``schedule`` is
QTimer.singleShot in Krita, a manual loop in tests), so Krita never blocks.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Optional

from bgone_client.choices import stage_text

from . import connection, layers, outputs, settings
from .errors import RemoveBackgroundError, as_error
from .texts import done_text

if TYPE_CHECKING:  # annotations only: Krita 5.1 bundles Python 3.8
    from collections.abc import Callable

    Listener = Callable[[str, float, str], None]  # (state, fraction, text); running/done/error/cancelled
    Schedule = Callable[[int, Callable[[], None]], None]  # (milliseconds, callback)

POLL_MS = 50


class Job:
    """One removal: the engine request on a thread, its events back through a queue."""

    def __init__(self, holder: connection.WorkerHolder, document: Any, source: layers.Source,
                 options: settings.Options) -> None:
        self.document = document
        self.source = source
        self.options = options
        self.events: queue.Queue = queue.Queue()
        self.started = time.perf_counter()
        self._holder = holder
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bgone-job", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def _run(self) -> None:
        def progress(stage: str, fraction: float, message: str = "") -> None:
            self.events.put(("progress", fraction, stage_text(stage, message)))

        rect = self.source.rect
        try:
            result = connection.run_removal(
                self._holder, self.source.rgba, rect.w, rect.h, self.options, progress, self._cancel.is_set
            )
        except BaseException as exc:
            self.events.put(("error", as_error(exc)))
        else:
            self.events.put(("result", result))


class Controller:
    """Shared by the docker and the action: one job at a time, one warm worker."""

    def __init__(self, app: Callable[[], Any], holder: connection.WorkerHolder, schedule: Schedule) -> None:
        self._app = app
        self.holder = holder
        self._schedule = schedule
        self.listeners: list = []
        self.job: Optional[Job] = None
        self.last_result: Any = None

    @property
    def busy(self) -> bool:
        return self.job is not None

    def _emit(self, state: str, fraction: float, text: str) -> None:
        for listener in list(self.listeners):
            listener(state, fraction, text)

    def start(self, document: Any, node: Any, options: Optional[settings.Options] = None) -> bool:
        """Starts a removal (GUI thread); False, with the reason reported, if it could not."""
        if self.busy:
            self._emit("error", 0.0, "A removal is already running.\nWait for it, or press Cancel.")
            return False
        app = self._app()
        try:
            opts = options or settings.read_options(app)
            source = layers.prepare(app, document, node)
        except Exception as exc:
            self._emit("error", 0.0, str(as_error(exc)))
            return False
        self.job = Job(self.holder, document, source, opts)
        self._emit("running", 0.0, "Starting…")
        self.job.start()
        self._schedule(POLL_MS, self.poll)
        return True

    def start_active(self, options: Optional[settings.Options] = None) -> bool:
        doc = self._app().activeDocument()
        return self.start(doc, doc.activeNode() if doc is not None else None, options)

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
                self._failed(event[1])
            else:
                self._finish(job, event[1])
            return

    def _failed(self, err: RemoveBackgroundError) -> None:
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
            self.last_result = outputs.apply(app, job.document, job.source, result, job.options.output)
        except Exception as exc:
            self._emit("error", 0.0, str(as_error(exc)))
            return
        seconds = time.perf_counter() - job.started
        self._emit("done", 1.0, done_text(job.options.output, job.source.layer.name(), seconds))

    def list_models(self, callback: Callable[[Optional[list], Optional[str]], None]) -> None:
        """Asks the engine for its models off the GUI thread (this also warms the worker up);
        callback(models, error_text) runs on the GUI thread."""
        box: queue.Queue = queue.Queue()

        def work() -> None:
            try:
                box.put((self.holder.models(), None))
            except BaseException as exc:
                box.put((None, str(as_error(exc))))

        def check() -> None:
            try:
                models, error = box.get_nowait()
            except queue.Empty:
                self._schedule(100, check)
                return
            callback(models, error)

        threading.Thread(target=work, name="bgone-models", daemon=True).start()
        self._schedule(100, check)

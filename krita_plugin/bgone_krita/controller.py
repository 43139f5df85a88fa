"""Runs removals and Refine Edges asynchronously for the docker and the Tools-menu actions
(no Qt imports).

Reading and writing the document happen on the GUI thread; only the engine request runs on a
Python thread. Its events come back through a queue that a timer drains (``schedule`` is
QTimer.singleShot in Krita, a manual loop in tests), so Krita never blocks.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Optional

from bgone_client.choices import gpu_note, replace_mask_question, stage_text, took_text

from . import connection, layers, outputs, refine, settings
from .errors import RemoveBackgroundError, as_error
from .progress import REFINE_STAGES, REMOVE_STAGES, Tracker
from .texts import UNDONE_TEXT, done_text

if TYPE_CHECKING:  # annotations only: Krita 5.1 bundles Python 3.8
    from collections.abc import Callable

    Listener = Callable[[str, float, str], None]  # (state, fraction, text); running/done/error/cancelled/idle
    Schedule = Callable[[int, Callable[[], None]], None]  # (milliseconds, callback)
    Confirm = Callable[[str, str], bool]  # (question, detail) -> go ahead?

POLL_MS = 50
UNDO_CHECK_MS = 400  # how often a done line checks that what it reports is still there


class Job:
    """One removal: the engine request on a thread, its events back through a queue."""

    def __init__(self, holder: connection.WorkerHolder, document: Any, source: Any, options: Any,
                 request: Optional[Callable[..., bytes]] = None,
                 apply: Optional[Callable[[Any, bytes], Any]] = None,
                 describe: Optional[Callable[[str], str]] = None,
                 stages: tuple = REMOVE_STAGES) -> None:  # fmt: skip
        """request(progress, cancelled) -> result bytes, apply(app, result) -> what was made
        and describe(took) -> the done line (took: choices.took_text, "in 2.1 s on the CPU");
        by default those of a background removal.
        stages: the engine stages the request runs, for one bar over all of them."""
        self.document = document
        self.source = source
        self.options = options
        rect = source.rect
        self.request = request or (lambda progress, cancelled: connection.run_removal(
            holder, source.rgba, rect.w, rect.h, options, progress, cancelled))  # fmt: skip
        self.apply = apply or (lambda app, result: outputs.apply(app, document, source, result, options.output))
        self.describe = describe or (lambda took: done_text(options.output, source.layer.name(), took))
        self.events: queue.Queue = queue.Queue()
        self.tracker = Tracker(stages)
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
            self.events.put(("progress", self.tracker(stage, fraction), stage_text(stage, message)))

        try:
            result = self.request(progress, self._cancel.is_set)
        except BaseException as exc:
            self.events.put(("error", as_error(exc)))
        else:
            self.events.put(("result", result, self._holder.ran_on()))


class Controller:
    """Shared by the docker and the action: one job at a time, one warm worker."""

    def __init__(self, app: Callable[[], Any], holder: connection.WorkerHolder, schedule: Schedule) -> None:
        self._app = app
        self.holder = holder
        self._schedule = schedule
        self.listeners: list = []
        self.job: Optional[Job] = None
        self.last_result: Any = None
        self.confirm: Optional[Confirm] = None  # asks before a mask replaces older ones; None: replace
        self.gpu_note = ""  # with a done line: why a present GPU sat idle (the engine's words), else ""
        self._shown: object = None  # the done line whose node is watched for an Undo

    def _replace_ok(self, source: layers.Source, output: str) -> bool:
        """True unless the layer has masks that a new one would replace and the user says no."""
        if output != "mask" or self.confirm is None or not outputs.transparency_masks(source.layer):
            return True
        if self.confirm(*replace_mask_question([source.layer.name()])):
            return True
        self._emit("cancelled", 0.0, "Cancelled. The image was not changed.")
        return False

    @property
    def busy(self) -> bool:
        return self.job is not None

    def _emit(self, state: str, fraction: float, text: str) -> None:
        self._shown = None  # a new line: any older one's Undo watch ends
        if state != "done":
            self.gpu_note = ""
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
        if not self._replace_ok(source, opts.output):
            return False
        self.job = Job(self.holder, document, source, opts)
        self._emit("running", 0.0, "Starting…")
        self.job.start()
        self._schedule(POLL_MS, self.poll)
        return True

    def start_active(self, options: Optional[settings.Options] = None) -> bool:
        doc = self._app().activeDocument()
        return self.start(doc, doc.activeNode() if doc is not None else None, options)

    def start_refine(self, document: Any, node: Any, options: Optional[refine.RefineOptions] = None) -> bool:
        """Starts Refine Edges on node (GUI thread); False, with the reason reported, if it could not."""
        if self.busy:
            self._emit("error", 0.0, "bgone is already working.\nWait for it, or press Cancel.")
            return False
        app = self._app()
        try:
            opts = refine.check_options(options or refine.read_options(app))
            source = refine.prepare(app, document, node)
        except Exception as exc:
            self._emit("error", 0.0, str(as_error(exc)))
            return False
        self.job = Job(self.holder, document, source, opts,
                       request=lambda progress, cancelled: refine.request(self.holder, source, opts, progress, cancelled),
                       apply=lambda app, result: refine.apply(app, document, source, result, opts.output),
                       describe=lambda took: refine.done_text(source, opts.output, took),
                       stages=REFINE_STAGES)  # fmt: skip
        self._emit("running", 0.0, "Starting…")
        self.job.start()
        self._schedule(POLL_MS, self.poll)
        return True

    def start_refine_active(self, options: Optional[refine.RefineOptions] = None) -> bool:
        doc = self._app().activeDocument()
        return self.start_refine(doc, doc.activeNode() if doc is not None else None, options)

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
                self._finish(job, event[1], event[2])
            return

    def _failed(self, err: RemoveBackgroundError) -> None:
        if err.kind == "cancelled":
            self._emit("cancelled", 0.0, "Cancelled. The image was not changed.")
        else:
            self._emit("error", 0.0, str(err))

    def _finish(self, job: Job, result: bytes, ran: tuple) -> None:
        app = self._app()
        if not any(doc == job.document for doc in app.documents()):
            self._emit("error", 0.0, "The image was closed before the result was ready.\nNothing was changed.")
            return
        try:
            self.last_result = job.apply(app, result)
        except Exception as exc:
            self._emit("error", 0.0, str(as_error(exc)))
            return
        device, idle_gpu = ran
        self.gpu_note = gpu_note(idle_gpu)
        self._emit("done", 1.0, job.describe(took_text(time.perf_counter() - job.started, device, idle_gpu)))
        if hasattr(self.last_result, "parentNode"):  # a mask or layer (a selection is no node)
            self._watch_undo(job.document, self.last_result)

    def _watch_undo(self, document: Any, node: Any) -> None:
        """Krita has no undo signal for scripts: while the done line is shown, look now and then
        whether the node it reports is still in the image; once an Undo took it out, the line
        and the bar go back to idle instead of claiming what is no longer there."""
        token = self._shown = object()

        def check() -> None:
            if self._shown is not token:  # a newer line is shown
                return
            if not any(doc == document for doc in self._app().documents()):
                return  # the image was closed: nothing to watch
            if node.parentNode() is not None:  # still there (an undone node has no parent)
                self._schedule(UNDO_CHECK_MS, check)
                return
            self._emit("idle", 0.0, UNDONE_TEXT)

        self._schedule(UNDO_CHECK_MS, check)

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

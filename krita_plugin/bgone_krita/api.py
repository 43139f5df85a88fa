"""The scripting entry point: remove_background(document, node, ...), blocking until done."""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any, Optional

from . import connection, layers, outputs, settings
from .errors import RemoveBackgroundError, as_error

if TYPE_CHECKING:
    from collections.abc import Callable

    ProgressFn = Callable[[str, float, str], None]


def _krita_app() -> Any:
    from krita import Krita

    return Krita.instance()


def _pump_events() -> None:
    """Keeps Krita repainting while a script waits; a no-op without a Qt application."""
    try:
        from .qt import QCoreApplication, QEventLoop
    except ImportError:  # no Krita, no Qt
        return
    if QCoreApplication.instance() is not None:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents, 50)


def run_blocking(fn: Callable[[], Any], on_tick: Optional[Callable[[], None]] = None, poll: float = 0.05) -> Any:
    """fn() on a thread; the caller waits, pumping paint events (the window does not go white)
    and calling on_tick after each wait (to hand progress over on the caller's thread)."""
    box: list = []

    def target() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # re-raised on the caller's thread below
            box.append((False, exc))

    thread = threading.Thread(target=target, name="bgone-remove", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(poll)
        _pump_events()
        if on_tick is not None:
            on_tick()
    if on_tick is not None:
        on_tick()
    ok, value = box[0]
    if not ok:
        raise value
    return value


def remove_background(
    document: Any,
    node: Any,
    model: Optional[str] = None,
    refine: Optional[str] = None,
    output: Optional[str] = "mask",
    *,
    progress: Optional[ProgressFn] = None,
    app: Any = None,
    holder: Optional[connection.WorkerHolder] = None,
) -> Any:
    """Removes the background of node's layer and blocks until done (Scripter, kritarunner).

    model / refine None = the user's saved choice (output None too). output: "mask" (a
    transparency mask on the layer), "selection", or "layer" (a new paint layer with the cutout
    above it). progress(stage, fraction, message) is called on the calling thread. Returns the
    new mask node, Selection or layer node. Raises bgone_krita.RemoveBackgroundError (message,
    then what to do); on any error the document is left unchanged.
    """
    try:
        app = app if app is not None else _krita_app()
        holder = holder if holder is not None else connection.HOLDER
        options = settings.resolve_options(app, model, refine, output)
        source = layers.prepare(app, document, node)
        events: queue.Queue = queue.Queue()

        def relay() -> None:  # the caller's callback runs on the caller's thread
            while progress is not None and not events.empty():
                progress(*events.get_nowait())

        def compute() -> bytes:
            rect = source.rect
            on_progress = (lambda *event: events.put(event)) if progress is not None else None
            return connection.run_removal(holder, source.rgba, rect.w, rect.h, options, on_progress)

        result = run_blocking(compute, on_tick=relay)
        return outputs.apply(app, document, source, result, options.output)
    except RemoveBackgroundError:
        raise
    except Exception as exc:
        raise as_error(exc) from exc

"""The link to bgone's engine: the stdlib-only ``bgone_client`` package (copied next to this
plug-in by the installer) and one warm worker per session.

The worker process stays alive between clicks (no Python start-up, no model load the second
time). The client itself serialises requests, restarts a worker that died and turns every
failure into a ClientError; this module only owns the shared instance and the plug-in's view
of a request. No Krita calls here: any thread may use it.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Optional

import bgone_client

from .errors import as_error

if TYPE_CHECKING:  # annotations only: Krita 5.1 bundles Python 3.8
    from collections.abc import Callable

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))


class WorkerHolder:
    """The session's one client Worker, made on first use and shared by the docker, the
    Tools-menu action and scripts."""

    def __init__(self, factory: Optional[Callable[[], Any]] = None) -> None:
        self._factory = factory
        self._worker: Any = None
        self._lock = threading.Lock()

    def worker(self) -> Any:
        with self._lock:
            if self._worker is None:
                if self._factory is not None:
                    self._worker = self._factory()
                else:
                    self._worker = bgone_client.Worker(plugin_dir=PLUGIN_DIR)
            return self._worker

    def call(self, fn: Callable[[Any], Any]) -> Any:
        """fn(worker); every failure comes out as a RemoveBackgroundError."""
        try:
            return fn(self.worker())
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise as_error(exc) from exc

    def models(self) -> list:
        return self.call(lambda w: w.models())

    def ran_on(self) -> tuple:
        """(device, gpu_unused) of the worker's last result (bgone_client.Worker.last_device,
        .last_gpu_unused); (None, None) before any, or from an engine that does not say."""
        worker = self._worker
        return getattr(worker, "last_device", None), getattr(worker, "last_gpu_unused", None)

    def cancel(self) -> None:
        worker = self._worker
        if worker is not None:
            try:
                worker.cancel()
            except Exception:  # cancelling a dying worker must not raise into the GUI
                pass

    def close(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            try:
                worker.close()
            except Exception:
                pass


HOLDER = WorkerHolder()


def run_removal(
    holder: WorkerHolder,
    rgba: bytes,
    width: int,
    height: int,
    options: Any,
    progress: Optional[Callable[[str, float, str], None]] = None,
    cancelled: Optional[Callable[[], bool]] = None,
) -> bytes:
    """One request: straight RGBA8 in; alpha (output mask/selection) or an RGBA cutout (layer)."""
    result = holder.call(
        lambda w: w.remove(
            rgba, width, height, width * 4,
            model=options.model, refine=options.refine,
            output=bgone_client.layerops.REQUEST_OUTPUT[options.output],
            progress=progress, cancelled=cancelled,
        )
    )  # fmt: skip
    return bytes(result)

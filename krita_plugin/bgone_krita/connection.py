"""The link to bgone's engine: the stdlib-only client module and one warm worker per session.

The worker process stays alive between clicks (no Python start-up, no model load the second
time). The client itself serialises requests, restarts a worker that died and turns every
failure into a ClientError; this module only owns the shared instance and the plug-in's view
of a request. No Krita calls here: any thread may use it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from typing import TYPE_CHECKING, Any, Optional

from .errors import RemoveBackgroundError, as_error

if TYPE_CHECKING:  # annotations only: Krita 5.1 bundles Python 3.8
    from collections.abc import Callable

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
CLIENT_MODULE = "bgone_client"


def _repo_client_path() -> str:
    """<repo>/core/bgone/client.py when running from a source checkout."""
    return os.path.join(os.path.dirname(os.path.dirname(PLUGIN_DIR)), "core", "bgone", "client.py")


def load_client() -> Any:
    """The installed copy (bgone_client.py next to the plug-in) first, else the checkout's."""
    if CLIENT_MODULE in sys.modules:
        return sys.modules[CLIENT_MODULE]
    for path in (os.path.join(PLUGIN_DIR, CLIENT_MODULE + ".py"), _repo_client_path()):
        if not os.path.isfile(path):
            continue
        spec = importlib.util.spec_from_file_location(CLIENT_MODULE, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[CLIENT_MODULE] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[CLIENT_MODULE]
            raise
        return module
    raise RemoveBackgroundError(
        "The bgone plug-in is incomplete: bgone_client.py is missing.",
        "Run the bgone installer again; it copies the client next to the plug-in.",
        kind="core_missing",
    )


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
                    self._worker = load_client().Worker(plugin_dir=PLUGIN_DIR)
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
    output = "rgba" if options.output == "layer" else "alpha"
    result = holder.call(
        lambda w: w.remove(
            rgba, width, height, width * 4,
            model=options.model, refine=options.refine, output=output,
            progress=progress, cancelled=cancelled,
        )
    )
    want = width * height * (4 if output == "rgba" else 1)
    if len(result) != want:
        raise RemoveBackgroundError(
            f"bgone's engine sent {len(result)} bytes back instead of {want}.",
            "Run the bgone installer again so the plug-in and the engine match.",
            kind="protocol",
        )
    return bytes(result)

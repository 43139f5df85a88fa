"""Read a layer, run the bgone worker, write the result back: the plug-in's logic without Qt.

Split in three so Krita never freezes and the document is never half-changed:
  prepare()  GUI thread: read (and colour-convert) pixels; raises before anything is touched
  compute()  any thread: the warm worker does the work (no Krita calls here)
  apply()    GUI thread: one node added (or the selection replaced) = one undo step
Only duck-typed Krita objects are used, so tests drive it with a fake `krita` module.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from . import pixels
from .pixels import Rect

if TYPE_CHECKING:  # aliases only for annotations: Krita 5.1 ships Python 3.8
    from collections.abc import Callable

    ProgressFn = Callable[[str, float, str], None]

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
SETTINGS_GROUP = "bgone"
OUTPUTS = ("mask", "selection", "layer")
REFINE_LEVELS = ("none", "fast", "best")
DEFAULT_REFINE = "fast"
DEFAULT_OUTPUT = "mask"
# Krita's default profile for 8-bit RGBA; colour-converted copies are made in this space.
SRGB_PROFILE = "sRGB-elle-V2-srgbtrc.icc"
RGBA8 = ("RGBA", "U8")
# kinds after which the worker process is not trusted any more and is restarted next time
_RESTART_KINDS = ("worker_crashed", "protocol", "timeout", "core_missing")



class RemoveBackgroundError(Exception):
    """What a user (or a Scripter batch) reads: what went wrong, then what to do."""

    def __init__(self, message: str, hint: str = "", kind: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


# ---------------------------------------------------------------- client and warm worker


def _repo_client_path() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(PLUGIN_DIR)), "core", "bgone", "client.py")


def load_client() -> Any:
    """The installed copy (bgone_client.py next to us) first, else the source checkout's."""
    if "bgone_client" in sys.modules:
        return sys.modules["bgone_client"]
    for path in (os.path.join(PLUGIN_DIR, "bgone_client.py"), _repo_client_path()):
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location("bgone_client", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules["bgone_client"] = module
            try:
                spec.loader.exec_module(module)
            except Exception:
                del sys.modules["bgone_client"]
                raise
            return module
    raise RemoveBackgroundError(
        "The bgone plug-in is incomplete: bgone_client.py is missing.",
        "Reinstall bgone with its installer, which copies the client next to the plug-in.",
        kind="core_missing",
    )


def _as_error(exc: BaseException) -> RemoveBackgroundError:
    if isinstance(exc, RemoveBackgroundError):
        return exc
    kind = getattr(exc, "kind", None)
    if kind is not None:  # the client's ClientError: keep its words
        message = getattr(exc, "message", "") or str(exc)
        return RemoveBackgroundError(message, getattr(exc, "hint", ""), kind=kind)
    return RemoveBackgroundError(
        f"Unexpected error: {type(exc).__name__}: {exc}",
        "Please report this with the steps that led to it.",
        kind="internal",
    )


class WorkerHolder:
    """One warm worker per Krita session, shared by the docker, the action and scripts.

    Keeping the process alive is what makes the second click fast (no Python start-up, no model
    load). The lock serialises requests: the worker handles one image at a time.
    """

    def __init__(self, factory: Callable[[], Any] | None = None) -> None:
        self._factory = factory
        self._worker: Any = None
        self._lock = threading.Lock()

    def _make(self) -> Any:
        if self._factory is not None:
            return self._factory()
        return load_client().Worker(plugin_dir=PLUGIN_DIR)

    def call(self, fn: Callable[[Any], Any]) -> Any:
        with self._lock:
            try:
                if self._worker is None:
                    worker = self._make()
                    worker.start()
                    self._worker = worker
                return fn(self._worker)
            except BaseException as exc:
                err = _as_error(exc)
                if err.kind in _RESTART_KINDS or err.kind == "internal":
                    self._drop()
                raise err from exc

    def cancel(self) -> None:
        worker = self._worker
        if worker is not None and hasattr(worker, "cancel"):
            try:
                worker.cancel()
            except Exception:  # cancelling a dying worker must not raise into the GUI
                pass

    def _drop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            try:
                worker.close()
            except Exception:
                pass

    def close(self) -> None:
        with self._lock:
            self._drop()


HOLDER = WorkerHolder()


# ---------------------------------------------------------------- settings


class Options(NamedTuple):
    model: str | None  # None = the core's default (an installed model if possible)
    refine: str
    output: str


def _app() -> Any:
    from krita import Krita

    return Krita.instance()


def read_options(app: Any) -> Options:
    """The user's saved choices (Krita's own settings file, so they follow the user profile)."""
    model = app.readSetting(SETTINGS_GROUP, "model", "") or None
    refine = app.readSetting(SETTINGS_GROUP, "refine", DEFAULT_REFINE) or DEFAULT_REFINE
    output = app.readSetting(SETTINGS_GROUP, "output", DEFAULT_OUTPUT) or DEFAULT_OUTPUT
    if refine not in REFINE_LEVELS:
        refine = DEFAULT_REFINE
    if output not in OUTPUTS:
        output = DEFAULT_OUTPUT
    return Options(model, refine, output)


def save_options(app: Any, options: Options) -> None:
    app.writeSetting(SETTINGS_GROUP, "model", options.model or "")
    app.writeSetting(SETTINGS_GROUP, "refine", options.refine)
    app.writeSetting(SETTINGS_GROUP, "output", options.output)


def resolve_options(app: Any, model: str | None, refine: str | None, output: str | None) -> Options:
    saved = read_options(app)
    opts = Options(
        model if model is not None else saved.model,
        refine if refine is not None else saved.refine,
        output if output is not None else saved.output,
    )
    if opts.refine not in REFINE_LEVELS:
        raise RemoveBackgroundError(
            f"Unknown refinement level {opts.refine!r}.",
            "Use one of: {}.".format(", ".join(REFINE_LEVELS)),
            kind="bad_argument",
        )
    if opts.output not in OUTPUTS:
        raise RemoveBackgroundError(
            f"Unknown output {opts.output!r}.",
            "Use one of: {}.".format(", ".join(OUTPUTS)),
            kind="bad_argument",
        )
    return opts


# ---------------------------------------------------------------- prepare (GUI thread)


class Source(NamedTuple):
    """Everything compute() and apply() need, read before the document is touched."""

    layer: Any
    layer_rect: Rect  # the layer's own extent (node.bounds())
    rect: Rect  # the processed area: layer extent, cut to the selection's bounding box
    rgba: bytes  # straight RGBA8 of rect, in sRGB
    selection: bytes | None  # selection alpha over rect when it is not fully selected
    read_s: float  # time spent reading and converting (the plug-in's overhead)


def target_layer(node: Any) -> Any:
    """A selected mask means its layer; a mask itself has no colour to segment."""
    if node is None:
        raise RemoveBackgroundError(
            "No layer is selected.", "Select the layer whose background you want removed.", kind="no_layer"
        )
    if node.type().endswith("mask"):
        parent = node.parentNode()
        if parent is not None and parent.type():
            return parent
    if not node.type():
        raise RemoveBackgroundError(
            "The active node is not a layer.", "Select a paint layer in the Layers docker.", kind="no_layer"
        )
    return node


def process_rect(document: Any, layer: Any) -> Rect:
    layer_rect = pixels.rect_from_qrect(layer.bounds())
    if layer_rect.empty:
        raise RemoveBackgroundError(
            f"The layer {layer.name()!r} is empty.",
            "Select a layer with a picture on it.",
            kind="bad_image",
        )
    selection = document.selection()
    if selection is None:
        return layer_rect
    sel_rect = Rect(selection.x(), selection.y(), selection.width(), selection.height())
    if sel_rect.empty:
        return layer_rect
    rect = pixels.intersect(layer_rect, sel_rect)
    if rect is None:
        raise RemoveBackgroundError(
            f"The selection does not overlap the layer {layer.name()!r}.",
            "Select part of the layer, or deselect (Ctrl+Shift+A) to process all of it.",
            kind="bad_image",
        )
    return rect


def _read_raw(layer: Any, rect: Rect) -> bytes:
    # pixelData is the layer's own paint device; groups, vector and file layers have none,
    # so their rendered projection is read instead (same colour space as the layer).
    if layer.type() == "paintlayer":
        return bytes(layer.pixelData(rect.x, rect.y, rect.w, rect.h))
    return bytes(layer.projectionPixelData(rect.x, rect.y, rect.w, rect.h))


def convert_pixels(app: Any, raw: bytes, w: int, h: int, src: tuple, dst: tuple) -> bytes:
    """Colour-converts raw pixels through a private temporary document, closed afterwards.

    Krita's converter handles every depth/model/profile (U16, F16/F32 linear, gray, CMYK); doing
    it in a throw-away image means the user's layer and undo history are never involved.
    """
    tmp = app.createDocument(w, h, "bgone-convert", src[0], src[1], src[2], 72.0)
    if tmp is None or (tmp.colorModel(), tmp.colorDepth()) != (src[0], src[1]):
        if tmp is not None:
            tmp.close()
        raise RemoveBackgroundError(
            f"Krita could not make a temporary {src[0]}/{src[1]} image to convert the layer's colours.",
            "Convert the layer to RGB/Alpha 8-bit (Layer > Convert > Convert Layer Color Space) and try again.",
            kind="colour_conversion",
        )
    try:
        node = tmp.createNode("pixels", "paintlayer")
        tmp.rootNode().addChildNode(node, None)
        node.setPixelData(raw, 0, 0, w, h)
        ok = tmp.setColorSpace(dst[0], dst[1], dst[2])
        tmp.waitForDone()
        out = bytes(node.pixelData(0, 0, w, h))
        if ok is False or (node.colorModel(), node.colorDepth()) != (dst[0], dst[1]):
            raise RemoveBackgroundError(
                f"Krita could not convert the layer from {src[0]}/{src[1]} to {dst[0]}/{dst[1]}.",
                "Convert the layer to RGB/Alpha 8-bit (Layer > Convert > Convert Layer Color Space) and try again.",
                kind="colour_conversion",
            )
        return out
    finally:
        tmp.close()


def read_rgba(app: Any, layer: Any, rect: Rect) -> bytes:
    """Straight RGBA8 of the rect, whatever the layer's colour space; the layer is not changed."""
    raw = _read_raw(layer, rect)
    space = (layer.colorModel(), layer.colorDepth())
    if space != RGBA8:
        src = (space[0], space[1], layer.colorProfile())
        raw = convert_pixels(app, raw, rect.w, rect.h, src, (RGBA8[0], RGBA8[1], SRGB_PROFILE))
    try:
        raw = pixels.check_length(raw, rect, 4, f"reading layer {layer.name()!r}")
    except ValueError as exc:
        raise RemoveBackgroundError(
            f"Krita returned no pixels for the layer {layer.name()!r}.", str(exc), kind="bad_image"
        ) from exc
    return pixels.swap_red_blue(raw)


def read_selection(document: Any, rect: Rect) -> bytes | None:
    """The selection's alpha over rect, or None when it is fully selected (nothing to limit)."""
    selection = document.selection()
    if selection is None:
        return None
    sel = bytes(selection.pixelData(rect.x, rect.y, rect.w, rect.h))
    if len(sel) != rect.area or pixels.is_uniform(sel, 255):
        return None
    return sel


def prepare(app: Any, document: Any, node: Any) -> Source:
    if document is None:
        raise RemoveBackgroundError("No image is open.", "Open an image first.", kind="no_document")
    t0 = time.perf_counter()
    layer = target_layer(node)
    rect = process_rect(document, layer)
    rgba = read_rgba(app, layer, rect)
    selection = read_selection(document, rect)
    layer_rect = pixels.rect_from_qrect(layer.bounds())
    return Source(layer, layer_rect, rect, rgba, selection, time.perf_counter() - t0)


# ---------------------------------------------------------------- compute (worker thread)


def compute(
    holder: WorkerHolder,
    source: Source,
    options: Options,
    progress: ProgressFn | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> bytes:
    """The only step that waits on the worker; it makes no Krita calls, so any thread may run it."""
    rect = source.rect
    output = "rgba" if options.output == "layer" else "alpha"

    def run(worker: Any) -> bytes:
        return worker.remove(
            source.rgba, rect.w, rect.h, rect.w * 4,
            model=options.model, refine=options.refine, output=output,
            progress=progress, cancelled=cancelled,
        )

    result = bytes(holder.call(run))
    bpp = 4 if output == "rgba" else 1
    try:
        return pixels.check_length(result, rect, bpp, "worker result")
    except ValueError as exc:
        raise RemoveBackgroundError(
            "The bgone worker sent back an image of the wrong size.", str(exc), kind="protocol"
        ) from exc


# ---------------------------------------------------------------- apply (GUI thread)


def _layer_pixels(app: Any, document: Any, rgba: bytes, rect: Rect) -> bytes:
    """The cutout in the document's colour space (a new paint layer takes the image's)."""
    space = (document.colorModel(), document.colorDepth())
    bgra = pixels.swap_red_blue(rgba)
    if space == RGBA8:
        return bgra
    dst = (space[0], space[1], document.colorProfile())
    return convert_pixels(app, bgra, rect.w, rect.h, (RGBA8[0], RGBA8[1], SRGB_PROFILE), dst)


def apply(app: Any, document: Any, source: Source, result: bytes, output: str) -> Any:
    """Puts the result in with a single undoable command; everything that can fail runs first.

    Krita's Python API has no undo macros. Node.addChildNode is one undo command, and pixels
    written into the node right after it is added travel with it, so a mask or a layer is one
    Ctrl+Z (checked in real Krita 5.2 by tests/hosts). Document.setSelection bypasses the undo
    history in Krita 5.2 (a selection mask added as a node would be undoable but is not made
    the active selection), so the selection output is undone with Select > Reselect/Deselect.
    """
    rect, layer = source.rect, source.layer
    if output == "layer":
        rgba = pixels.limit_alpha(result, source.selection) if source.selection else result
        data = _layer_pixels(app, document, rgba, rect)
        new = document.createNode(f"{layer.name()} (background removed)", "paintlayer")
        parent = layer.parentNode()
        parent.addChildNode(new, layer)
        new.setPixelData(data, rect.x, rect.y, rect.w, rect.h)
        _settle(document)
        return new
    alpha = pixels.min_bytes(result, source.selection) if source.selection else result
    if output == "selection":
        from krita import Selection

        selection = Selection()
        selection.setPixelData(alpha, rect.x, rect.y, rect.w, rect.h)
        document.setSelection(selection)
        _settle(document)
        return selection
    # mask: cover the whole layer so what lies outside the processed area counts as background
    full = pixels.embed(alpha, rect, source.layer_rect)
    mask = document.createTransparencyMask("Background removed")
    layer.addChildNode(mask, None)
    mask.setPixelData(full, source.layer_rect.x, source.layer_rect.y, source.layer_rect.w, source.layer_rect.h)
    _settle(document)
    return mask


def _settle(document: Any) -> None:
    document.refreshProjection()
    document.waitForDone()


# ---------------------------------------------------------------- the entry points


def _pump_events() -> None:
    """Keeps Krita repainting while a script blocks; no-op outside a Qt application."""
    try:
        from PyQt5.QtCore import QCoreApplication, QEventLoop
    except ImportError:
        return
    if QCoreApplication.instance() is not None:
        QCoreApplication.processEvents(QEventLoop.ExcludeUserInputEvents, 50)


def run_blocking(fn: Callable[[], Any], poll: float = 0.05, on_tick: Callable[[], None] | None = None) -> Any:
    """Runs fn on a thread and waits, pumping paint events so the window does not go white.

    on_tick runs on the caller's thread after each wait, e.g. to hand progress to a script.
    """
    box: list[Any] = []

    def target() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # handed to the caller's thread below
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
    model: str | None = None,
    refine: str | None = None,
    output: str | None = "mask",
    *,
    progress: ProgressFn | None = None,
    app: Any = None,
    holder: WorkerHolder | None = None,
) -> Any:
    """Removes the background of node's layer; blocks until done (for Scripter batches).

    model/refine None = the user's saved choice; output None = the saved output too.
    progress(stage, fraction, message) is called on the calling thread. Returns the new
    transparency mask, Selection or paint layer. Raises RemoveBackgroundError with a message
    and a hint; on any error the document is unchanged.
    """
    app = app if app is not None else _app()
    holder = holder if holder is not None else HOLDER
    options = resolve_options(app, model, refine, output)
    source = prepare(app, document, node)
    events: queue.Queue = queue.Queue()

    def relay() -> None:  # the caller's progress runs on the caller's thread, never the worker's
        while progress is not None and not events.empty():
            progress(*events.get_nowait())

    on_progress = (lambda *event: events.put(event)) if progress is not None else None
    result = run_blocking(lambda: compute(holder, source, options, progress=on_progress), on_tick=relay)
    return apply(app, document, source, result, options.output)

"""Reading what the user asked for (GUI thread): the layer, the area, its pixels as RGBA8.

Everything here only reads; a failure raises before the document is touched.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple, Optional

from bgone_client import layerops

from . import colour, pixels
from .errors import RemoveBackgroundError
from .pixels import Rect


class Source(NamedTuple):
    """What the engine and the output step need, read up front."""

    layer: Any
    layer_rect: Rect  # the layer's own extent (node.bounds(), image coordinates)
    rect: Rect  # the processed area: the layer extent cut to the selection's bounding box
    rgba: bytes  # straight 8-bit RGBA of rect, sRGB
    selection: Optional[bytes]  # the selection's coverage of rect, None when fully selected
    read_s: float  # seconds spent reading and converting


def target_layer(node: Any) -> Any:
    """The layer to work on: a selected mask means the layer it belongs to."""
    if node is None:
        raise RemoveBackgroundError(
            "No layer is selected.",
            "Select the layer whose background you want removed in the Layers docker.",
            kind="no_layer",
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
    """The layer's extent, cut to the bounding box of the active selection if there is one."""
    layer_rect = pixels.rect_from_qrect(layer.bounds())
    if layer_rect.empty:
        raise RemoveBackgroundError(
            f"The layer {layer.name()!r} is empty.", "Select a layer with a picture on it.", kind="bad_image"
        )
    selection = document.selection()
    sel_rect = None
    if selection is not None:
        sel_rect = (selection.x(), selection.y(), selection.width(), selection.height())
    rect = layerops.process_region(layer_rect, sel_rect)
    if rect is None:
        raise RemoveBackgroundError(
            f"The selection does not overlap the layer {layer.name()!r}.",
            "Select part of the layer, or deselect (Select > Deselect) to process all of it.",
            kind="bad_image",
        )
    return Rect(*rect)


def read_rgba(app: Any, layer: Any, rect: Rect) -> bytes:
    """Straight sRGB RGBA8 of rect, whatever the layer's colour space; the layer is not changed.

    A paint layer's own pixels are read; groups, vector, file and fill layers have no paint
    device of their own, so their rendered projection is read instead.
    """
    read = layer.pixelData if layer.type() == "paintlayer" else layer.projectionPixelData
    raw = bytes(read(rect.x, rect.y, rect.w, rect.h))
    space = (layer.colorModel(), layer.colorDepth(), layer.colorProfile())
    if not colour.is_srgb8(space):
        raw = colour.convert(app, raw, rect.w, rect.h, space, colour.SRGB8)
    if len(raw) != rect.area * 4:
        raise RemoveBackgroundError(
            f"Krita returned no pixels for the layer {layer.name()!r}.",
            f"Got {len(raw)} bytes for {rect.w}x{rect.h} pixels; try converting the layer to a paint layer.",
            kind="bad_image",
        )
    return pixels.swap_red_blue(raw)  # Krita's 8-bit RGBA is stored BGRA


def read_selection(document: Any, rect: Rect) -> Optional[bytes]:
    """The selection's coverage of rect, or None when rect is fully selected (nothing to cap)."""
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

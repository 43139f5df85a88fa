"""Refine Edges in Krita (issue 13): read a layer and the alpha to refine, ask the engine,
write the refined alpha back. No Qt here; reading and writing happen on the GUI thread.

What is refined: a selected transparency mask, or, when a layer is selected, the layer's own
alpha. The whole layer travels (the matting needs the photo around the edge); an active
selection is the region: nothing outside it changes.

Written back (checked in real Krita 5.2, tests/hosts/test_krita_refine_host.py):
- a transparency mask: a new mask holding the refined alpha takes its place (same name, same
  position), the old one is removed. Krita records that as two commands (add, remove: its
  scripting API cannot group them, and Node.setPixelData on the old mask is not undoable), so
  two Edit > Undo bring the old mask back;
- a layer's own alpha, or output "layer": a new paint layer right above the source (its colours
  with the refined alpha, or the cut-out with cleaned edge colours), one undoable command.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple, Optional

from bgone_client import choices

from . import colour, layers, pixels
from .errors import RemoveBackgroundError
from .pixels import Rect

GROUP = "bgone"
LAYER_SUFFIX = " (edges refined)"


class RefineOptions(NamedTuple):
    band: Optional[int]  # None = automatic
    grow: int
    feather: int
    output: str  # choices.REFINE_OUTPUTS


def read_options(app: Any) -> RefineOptions:
    """The saved Refine Edges settings; anything unreadable falls back to the defaults."""
    values = {}
    for ident, _label, _help, low, high, default in choices.REFINE_SETTINGS:
        try:
            value = int(app.readSetting(GROUP, "refine_edges_" + ident, str(default)))
        except (TypeError, ValueError):
            value = default
        values[ident] = value if low <= value <= high else default
    output = app.readSetting(GROUP, "refine_edges_output", choices.DEFAULT_REFINE_OUTPUT)
    if output not in choices.REFINE_OUTPUTS:
        output = choices.DEFAULT_REFINE_OUTPUT
    return RefineOptions(choices.band_or_auto(values["band"]), values["grow"], values["feather"], output)


def save_options(app: Any, options: RefineOptions) -> None:
    app.writeSetting(GROUP, "refine_edges_band", str(options.band or 0))
    app.writeSetting(GROUP, "refine_edges_grow", str(options.grow))
    app.writeSetting(GROUP, "refine_edges_feather", str(options.feather))
    app.writeSetting(GROUP, "refine_edges_output", options.output)


def check_options(options: RefineOptions) -> RefineOptions:
    """A script's settings, refused with a plain message when out of range."""
    for ident, label, _help, low, high, _default in choices.REFINE_SETTINGS:
        value = getattr(options, ident)
        if value is None and ident == "band":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise RemoveBackgroundError(f"{label} must be a whole number from {low} to {high}, not {value!r}.",
                                        "band None (or 0) means automatic.", kind="bad_argument")  # fmt: skip
    if options.output not in choices.REFINE_OUTPUTS:
        raise RemoveBackgroundError(f"Unknown output {options.output!r}.",
                                    "Use one of: " + ", ".join(choices.REFINE_OUTPUTS) + ".", kind="bad_argument")  # fmt: skip
    return options._replace(band=options.band or None)


class Source(NamedTuple):
    """What the engine and the write-back need, read up front."""

    layer: Any
    mask: Any  # the transparency mask refined, or None: the layer's own alpha
    rect: Rect  # the layer's extent (image coordinates)
    rgba: bytes  # straight sRGB RGBA8 of rect (alpha 255 when the layer's own alpha is refined)
    colours: bytes  # the layer's own RGBA8 of rect, for the write-back of its own alpha
    alpha: bytes  # the alpha to refine, one byte per pixel of rect
    region: Optional[bytes]  # the selection over rect, None when there is none
    read_s: float


def prepare(app: Any, document: Any, node: Any) -> Source:
    """Reads everything; raises RemoveBackgroundError before anything is changed."""
    if document is None:
        raise RemoveBackgroundError("No image is open.", "Open an image first.", kind="no_document")
    t0 = time.perf_counter()
    mask = node if node is not None and node.type() == "transparencymask" else None
    layer = layers.target_layer(node)
    rect = pixels.rect_from_qrect(layer.bounds())
    if rect.empty:
        raise RemoveBackgroundError(f"The layer {layer.name()!r} is empty.", "Select a layer with a picture on it.",
                                    kind="bad_image")  # fmt: skip
    selection = document.selection()
    region = None
    if selection is not None:
        box = (selection.x(), selection.y(), selection.width(), selection.height())
        if box[2] > 0 and box[3] > 0 and layers.layerops.intersect(tuple(rect), box) is None:
            raise RemoveBackgroundError(
                f"The selection does not overlap the layer {layer.name()!r}.",
                "Select part of the layer's edge, or deselect (Select > Deselect) to refine all of it.",
                kind="bad_image",
            )
        region = bytes(selection.pixelData(rect.x, rect.y, rect.w, rect.h))
    colours = layers.read_rgba(app, layer, rect)
    if mask is not None:
        alpha = bytes(mask.pixelData(rect.x, rect.y, rect.w, rect.h))
        rgba = colours
    else:  # the layer's own alpha is what is refined: the engine sees the colours opaque
        alpha = colours[3::4]
        opaque = bytearray(colours)
        opaque[3::4] = b"\xff" * rect.area
        rgba = bytes(opaque)
    if len(alpha) != rect.area:
        raise RemoveBackgroundError(f"Krita returned no pixels for the mask {mask.name()!r}.",
                                    "Select a transparency mask or a paint layer.", kind="bad_image")  # fmt: skip
    return Source(layer, mask, rect, rgba, colours, alpha, region, time.perf_counter() - t0)


def request(holder: Any, source: Source, options: RefineOptions, progress: Any = None, cancelled: Any = None) -> bytes:
    """The engine's answer: the refined alpha (output mask) or the cut-out RGBA (output layer)."""
    rect = source.rect
    result = holder.call(lambda w: w.refine(
        source.rgba, source.alpha, rect.w, rect.h, rect.w * 4, region=source.region, band=options.band,
        grow=options.grow, feather=options.feather, output="rgba" if options.output == "layer" else "alpha",
        progress=progress, cancelled=cancelled))  # fmt: skip
    return bytes(result)


def apply(app: Any, document: Any, source: Source, result: bytes, output: str) -> Any:
    """Writes the result back; returns the new node."""
    layer, rect = source.layer, source.rect
    if layer.parentNode() is None or (source.mask is not None and source.mask.parentNode() is None):
        raise RemoveBackgroundError(f"The layer {layer.name()!r} or its mask was removed while bgone was working.",
                                    "Nothing was changed. Select it again and retry.", kind="layer_gone")  # fmt: skip
    if output == "mask" and source.mask is not None:
        new = document.createTransparencyMask(source.mask.name())
        new.setPixelData(result, rect.x, rect.y, rect.w, rect.h)
        layer.addChildNode(new, source.mask)
        source.mask.remove()
    else:
        if output == "mask":  # the layer's own colours with the refined alpha
            rgba = bytearray(source.colours)
            rgba[3::4] = result
            result = bytes(rgba)
        bgra = pixels.swap_red_blue(result)
        space = (document.colorModel(), document.colorDepth(), document.colorProfile())
        data = bgra if colour.is_srgb8(space) else colour.convert(app, bgra, rect.w, rect.h, colour.SRGB8, space)
        new = document.createNode(layer.name() + LAYER_SUFFIX, "paintlayer")
        new.setPixelData(data, rect.x, rect.y, rect.w, rect.h)
        layer.parentNode().addChildNode(new, layer)
    document.refreshProjection()
    document.waitForDone()
    return new


def done_text(source: Source, output: str, took: str) -> str:
    what = f"the mask {source.mask.name()!r}" if source.mask is not None and output == "mask" else \
        f"{source.layer.name()!r} into a new layer above it"  # fmt: skip
    return f"Refined the edges of {what} {took}. Edit > Undo (Ctrl+Z) takes it back."

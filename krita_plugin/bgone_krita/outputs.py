"""Putting the result into the document (GUI thread), as ONE undoable step.

Everything that can fail (colour conversion, byte juggling) runs before the document is
touched. Checked in real Krita 5.2 (tests/hosts/test_krita_host.py):
- Node.addChildNode is one undo command, and pixels written into the new node before it is
  added travel with it: a mask or a new layer goes away with one Edit > Undo.
- Node.remove is one undo command too: a mask that replaces older ones (the controller asks
  first) takes one more Edit > Undo to bring them back. One step is not to be had: writing the
  new pixels into the EXISTING mask (Node.setPixelData) is not recorded at all (the next Undo
  takes back the command before it, and the old pixels are lost), and the Python API has no
  way to group commands. Krita names addChildNode's step "Add Layer", for a mask too.
- Document.setSelection is NOT recorded in the undo history. So in a window, the selection
  output first triggers Krita's own undoable "Deselect" (when something is selected) or
  "Select All" (when nothing is): one Edit > Undo then restores exactly the selection the
  user had before. Without a view of the document (kritarunner, a background document in
  Scripter) there is no undo to protect and the selection is set directly.
"""

from __future__ import annotations

from typing import Any

from bgone_client.choices import MASK_NAME

from . import colour, pixels
from .errors import RemoveBackgroundError
from .layers import Source

LAYER_SUFFIX = " (background removed)"


def apply(app: Any, document: Any, source: Source, result: bytes, output: str) -> Any:
    """Adds the transparency mask / new layer, or replaces the selection; returns what was made."""
    layer = source.layer
    if layer.parentNode() is None:
        raise RemoveBackgroundError(
            f"The layer {layer.name()!r} was removed while bgone was working.",
            "Nothing was changed. Select a layer and try again.",
            kind="layer_gone",
        )
    if output == "layer":
        return _add_layer(app, document, source, result)
    alpha = pixels.min_bytes(result, source.selection) if source.selection else result
    if output == "selection":
        return _set_selection(app, document, source, alpha)
    return _add_mask(document, source, alpha)


def _add_mask(document: Any, source: Source, alpha: bytes) -> Any:
    # the mask covers the whole layer: outside the processed area counts as background
    outer = source.layer_rect
    full = pixels.embed(alpha, source.rect, outer)
    mask = document.createTransparencyMask(MASK_NAME)
    mask.setPixelData(full, outer.x, outer.y, outer.w, outer.h)
    for old in transparency_masks(source.layer):  # stacked masks multiply and thin the edges
        old.remove()
    source.layer.addChildNode(mask, None)  # the undoable step
    _settle(document)
    return mask


def transparency_masks(layer: Any) -> list:
    """The layer's own transparency masks: the ones a new bgone mask replaces."""
    return [n for n in layer.childNodes() if n.type() == "transparencymask"]


def _add_layer(app: Any, document: Any, source: Source, cutout: bytes) -> Any:
    rect, layer = source.rect, source.layer
    rgba = pixels.limit_alpha(cutout, source.selection) if source.selection else cutout
    bgra = pixels.swap_red_blue(rgba)
    space = (document.colorModel(), document.colorDepth(), document.colorProfile())
    if colour.is_srgb8(space):  # a new paint layer takes the image's colour space
        data = bgra
    else:
        data = colour.convert(app, bgra, rect.w, rect.h, colour.SRGB8, space)
    new = document.createNode(layer.name() + LAYER_SUFFIX, "paintlayer")
    new.setPixelData(data, rect.x, rect.y, rect.w, rect.h)
    layer.parentNode().addChildNode(new, layer)  # the undoable step, right above the source
    _settle(document)
    return new


def _set_selection(app: Any, document: Any, source: Source, alpha: bytes) -> Any:
    from krita import Selection

    rect = source.rect
    selection = Selection()
    selection.setPixelData(alpha, rect.x, rect.y, rect.w, rect.h)
    guard = _undo_guard(app, document)
    if guard is not None:
        guard.trigger()  # the undoable step; its undo brings back the user's selection
        document.waitForDone()
    document.setSelection(selection)
    _settle(document)
    return selection


def _undo_guard(app: Any, document: Any) -> Any:
    """Krita's undoable selection action that, undone, restores the current selection; None
    when the document is not the one in the active view (actions act on that one)."""
    window = app.activeWindow()
    view = window.activeView() if window is not None else None
    if view is None or not view.document() == document:
        return None
    return app.action("deselect" if document.selection() is not None else "select_all")


def _settle(document: Any) -> None:
    document.refreshProjection()
    document.waitForDone()

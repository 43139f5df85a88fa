"""What both plug-ins do around a request: which part of a layer to send, and what to ask the
engine for. Rectangles are (x, y, width, height) tuples in one coordinate system."""

from __future__ import annotations

from typing import Tuple

Rect = Tuple[int, int, int, int]

# The engine's output for each host output: a mask or a selection needs the alpha only; a new
# layer needs the cut-out (colours re-estimated at the edges).
REQUEST_OUTPUT = {"mask": "alpha", "selection": "alpha", "layer": "rgba"}


def intersect(a: Rect, b: Rect) -> Rect | None:
    """The overlap of two rectangles, or None when they do not overlap."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    if x2 <= x1 or y2 <= y1:
        return None
    return (x1, y1, x2 - x1, y2 - y1)


def process_region(layer: Rect, selection: Rect | None) -> Rect | None:
    """The part of a layer to process: all of it without a selection (or with an empty one),
    else the selection's bounding box within it. None: nothing of the layer to process."""
    if selection is None or selection[2] <= 0 or selection[3] <= 0:
        return tuple(layer) if layer[2] > 0 and layer[3] > 0 else None  # type: ignore[return-value]
    return intersect(layer, selection)

"""Colour conversion of raw pixel bytes through a private, temporary Krita document.

Krita's own converter handles every model, depth and profile (16-bit integer, 16/32-bit float
in linear light, grayscale, CMYK). Converting a throw-away copy means the user's layer, its
colour space and the undo history are never involved. GUI thread only (Krita calls).
"""

from __future__ import annotations

from typing import Any, Tuple

from .errors import RemoveBackgroundError

Space = Tuple[str, str, str]  # (colour model, depth, profile), as Krita names them
RGBA8 = ("RGBA", "U8")
SRGB8: Space = ("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc")  # Krita's default 8-bit RGBA profile
_FIX = "Convert the layer to RGB/Alpha 8-bit (Layer > Convert > Convert Layer Color Space) and try again."


def is_srgb8(space: Space) -> bool:
    """True when the bytes are already what the engine wants: 8-bit RGBA with an sRGB curve
    (Krita's default, or an sRGB profile embedded in a PNG/JPEG). Anything else (16-bit, float,
    gray, CMYK, a wide-gamut or linear 8-bit profile) goes through convert() first."""
    model, depth, profile = space
    name = (profile or "").lower()
    return (model, depth) == RGBA8 and (not name or ("srgb" in name and "g10" not in name and "linear" not in name))


def convert(app: Any, raw: bytes, width: int, height: int, src: Space, dst: Space) -> bytes:
    """raw (width x height pixels in src) as dst bytes; the temporary document is always closed."""
    tmp = app.createDocument(width, height, "bgone-convert", src[0], src[1], src[2], 72.0)
    if tmp is None:
        raise RemoveBackgroundError(
            f"Krita could not make a temporary {src[0]}/{src[1]} image to convert the colours.",
            _FIX, kind="colour_conversion",
        )
    try:
        if (tmp.colorModel(), tmp.colorDepth()) != (src[0], src[1]):
            raise RemoveBackgroundError(
                f"Krita made a {tmp.colorModel()}/{tmp.colorDepth()} image instead of {src[0]}/{src[1]}.",
                _FIX, kind="colour_conversion",
            )
        node = tmp.createNode("pixels", "paintlayer")
        tmp.rootNode().addChildNode(node, None)
        node.setPixelData(raw, 0, 0, width, height)
        ok = tmp.setColorSpace(dst[0], dst[1], dst[2])
        tmp.waitForDone()
        if ok is False or (node.colorModel(), node.colorDepth()) != (dst[0], dst[1]):
            raise RemoveBackgroundError(
                f"Krita could not convert the pixels from {src[0]}/{src[1]} to {dst[0]}/{dst[1]}.",
                _FIX, kind="colour_conversion",
            )
        return bytes(node.pixelData(0, 0, width, height))
    finally:
        tmp.close()

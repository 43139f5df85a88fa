"""Pure pixel and rectangle logic for the Krita plug-in (no Krita, no Qt, no numpy).

Krita's bundled Python (AppImage, Windows, macOS) has no numpy, so every conversion here uses
bytes slicing, which runs in C: a 12-megapixel BGRA swap takes a few tens of milliseconds.
Kept free of host imports so plain pytest can check byte order and geometry.
"""

from __future__ import annotations

from typing import NamedTuple

from bgone_client import layerops


class Rect(NamedTuple):
    """A pixel rectangle in image coordinates (Krita's QRect, without Qt)."""

    x: int
    y: int
    w: int
    h: int

    @property
    def empty(self) -> bool:
        return self.w <= 0 or self.h <= 0

    @property
    def area(self) -> int:
        return max(self.w, 0) * max(self.h, 0)


def rect_from_qrect(qrect) -> Rect:
    """Krita returns QRect (or our fake): read it through its accessor methods."""
    return Rect(int(qrect.x()), int(qrect.y()), int(qrect.width()), int(qrect.height()))


def swap_red_blue(buf: bytes) -> bytes:
    """BGRA <-> RGBA for 8-bit pixels (the same swap both ways).

    Krita's 8-bit RGBA pixelData is BGRA (the channel order of its U8/U16 RGB colour spaces);
    the bgone worker wants straight RGBA.
    """
    if len(buf) % 4:
        raise ValueError(f"pixel buffer length {len(buf)} is not a multiple of 4")
    src = bytes(buf)
    out = bytearray(src)
    out[0::4] = src[2::4]
    out[2::4] = src[0::4]
    return bytes(out)


def is_uniform(buf: bytes, value: int) -> bool:
    """True when every byte equals value (bytes.count runs in C)."""
    return len(buf) > 0 and buf.count(bytes((value,))) == len(buf)


def min_bytes(a: bytes, b: bytes) -> bytes:
    """Per-byte minimum: limits a predicted alpha to a (soft) selection."""
    if len(a) != len(b):
        raise ValueError(f"cannot combine {len(a)} and {len(b)} bytes")
    return bytes(map(min, a, b))


def limit_alpha(rgba: bytes, limit: bytes) -> bytes:
    """Caps the alpha channel of RGBA pixels by a one-byte-per-pixel limit."""
    out = bytearray(rgba)
    out[3::4] = min_bytes(bytes(out[3::4]), limit)
    return bytes(out)


def embed(buf: bytes, inner: Rect, outer: Rect, bpp: int = 1, fill: int = 0) -> bytes:
    """Places the inner rectangle's pixels inside a fresh outer buffer filled with fill.

    Used so a mask covers the whole layer: outside the processed area is background.
    """
    if layerops.intersect(outer, inner) != tuple(inner):
        raise ValueError(f"{inner!r} is not inside {outer!r}")
    if len(buf) != inner.area * bpp:
        raise ValueError(f"expected {inner.area * bpp} bytes for {inner!r}, got {len(buf)}")
    if inner == outer:
        return bytes(buf)
    out = bytearray(bytes((fill,)) * (outer.area * bpp))
    stride = outer.w * bpp
    left = (inner.x - outer.x) * bpp
    width = inner.w * bpp
    for i in range(inner.h):
        start = (inner.y - outer.y + i) * stride + left
        out[start:start + width] = buf[i * width:(i + 1) * width]
    return bytes(out)

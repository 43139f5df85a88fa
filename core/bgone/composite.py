"""Alpha + colours -> the pictures users save. Integer maths: a 12 MP float32 RGB copy alone
would be 144 MB, and 8-bit output needs no more precision than uint16 gives."""

from __future__ import annotations

import numpy as np


def rgba(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Stack colours and alpha into one straight (non-premultiplied) RGBA array."""
    out = np.empty((*alpha.shape, 4), np.uint8)
    out[:, :, :3] = rgb
    out[:, :, 3] = alpha
    return out


def clear_transparent(rgba: np.ndarray) -> np.ndarray:
    """Zero the colour of fully transparent pixels, in place: it is invisible, and a run of
    zeros costs a PNG almost nothing (rembg's files store zeros there too)."""
    px = rgba.view(np.uint32)[..., 0]  # one 4-byte word per pixel: zeroed at once
    np.copyto(px, 0, where=rgba[:, :, 3] == 0)
    return rgba


def over_color(rgb: np.ndarray, alpha: np.ndarray, color: tuple[int, ...]) -> np.ndarray:
    """Composite the cutout over a flat colour: rgb*a + color*(1-a), rounded."""
    a = alpha.astype(np.uint16)[:, :, None]
    bg = np.asarray(color[:3], np.uint16)
    out = rgb.astype(np.uint16) * a
    out += bg * (255 - a)
    out += 127
    out //= 255
    return out.astype(np.uint8)


def multiply_alpha(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Combine two 8-bit alphas (e.g. the prediction and the input's own transparency)."""
    return ((a.astype(np.uint16) * b + 127) // 255).astype(np.uint8)

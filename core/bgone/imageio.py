"""Turn whatever the user hands us into 8-bit RGB(A) arrays, with messages a person understands.

Everything downstream works on uint8 arrays, so every odd Pillow mode (16-bit, float, CMYK,
palette, EXIF-rotated) is normalised here, once.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

ImageLike = Image.Image | np.ndarray | str | os.PathLike

# Above this the whole-image buffers alone exceed a few GB; refuse with a clear message instead
# of letting the OS kill the process. (Pillow's own bomb limit is lower; we raise it to this.)
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def open_image(path: str | os.PathLike) -> Image.Image:
    """Open and fully decode a file, turning every failure into an ImageError."""
    p = Path(path)
    if not p.exists():
        raise ImageError(f"{p}: no such file.", "Check the path and try again.")
    if p.is_dir():
        raise ImageError(f"{p} is a folder, not an image.", "Pass image files, or use --out-dir with a folder.")
    if p.stat().st_size == 0:
        raise ImageError(f"{p} is empty (0 bytes).", "The file is damaged or was not fully copied.")
    try:
        img = Image.open(p)
        img.load()
    except Image.DecompressionBombError as e:
        raise ImageError(
            f"{p} is too large to process ({e}).",
            f"Scale it below {MAX_PIXELS // 1_000_000} megapixels first.",
        ) from e
    except UnidentifiedImageError as e:
        raise ImageError(f"{p} is not an image bgone can read.", "Use PNG, JPEG, WebP, TIFF or BMP.") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{p} could not be decoded ({e}).", "The file may be truncated or damaged.") from e
    return img


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """High-bit-depth and float samples to 8-bit, keeping the full range visible."""
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind == "f":
        scale = 255.0 if float(np.nanmax(a, initial=0.0)) <= 1.0 else 1.0
        return np.clip(np.nan_to_num(a) * scale + 0.5, 0, 255).astype(np.uint8)
    a = a.astype(np.int64, copy=False)
    if int(a.max(initial=0)) > 255:  # 16-bit data (I;16 or 16-bit PNGs opened as mode I)
        return np.clip((a + 128) // 257, 0, 255).astype(np.uint8)
    return np.clip(a, 0, 255).astype(np.uint8)


def pil_to_rgba(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (rgb uint8 HxWx3, alpha uint8 HxW or None) with EXIF orientation applied."""
    if img.getexif().get(0x0112, 1) != 1:  # exif_transpose copies even when nothing turns
        img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        g = _to_uint8(np.asarray(img))
        return np.repeat(g[:, :, None], 3, axis=2), None
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("LA", "PA", "RGBa", "La"):
        img = img.convert("RGBA")
    elif mode not in ("RGB", "RGBA"):
        img = img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    a = np.asarray(img)
    if img.mode == "RGBA":
        alpha = a[:, :, 3]
        return np.ascontiguousarray(a[:, :, :3]), (None if alpha.min() == 255 else alpha.copy())
    return a, None


def array_to_rgba(a: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if a.ndim == 2:
        a = _to_uint8(a)
        return np.repeat(a[:, :, None], 3, axis=2), None
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ImageError(f"Unsupported array shape {a.shape}.", "Pass an HxW, HxWx3 or HxWx4 array.")
    a = _to_uint8(a)
    if a.shape[2] == 1:
        return np.repeat(a, 3, axis=2), None
    if a.shape[2] == 4:
        return np.ascontiguousarray(a[:, :, :3]), a[:, :, 3]
    return a, None


def load_rgba(src: ImageLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Any supported input -> (rgb HxWx3 uint8, its own alpha HxW uint8 or None)."""
    if isinstance(src, np.ndarray):
        rgb, alpha = array_to_rgba(src)
    elif isinstance(src, Image.Image):
        rgb, alpha = pil_to_rgba(src)
    else:
        rgb, alpha = pil_to_rgba(open_image(src))
    h, w = rgb.shape[:2]
    if h == 0 or w == 0:
        raise ImageError("The image has no pixels (0 width or height).", "")
    if h * w > MAX_PIXELS:
        raise ImageError(
            f"The image is {w}x{h} ({h * w / 1e6:.0f} megapixels), more than bgone handles.",
            f"Scale it below {MAX_PIXELS // 1_000_000} megapixels first.",
        )
    return rgb, alpha

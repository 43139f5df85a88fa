"""Turn whatever the user hands us into 8-bit RGB(A) arrays, with messages a person understands.

Everything downstream works on uint8 arrays, so every odd Pillow mode (16-bit, float, CMYK,
palette, EXIF-rotated) is normalised here, once.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

ImageLike = Image.Image | np.ndarray | str | os.PathLike

# How large an image may be is decided from its header, before a byte is decoded: a 1 MB PNG can
# declare 22000x22000 16-bit pixels (9 GB once decoded and converted). The budget is a share of
# this machine's memory divided by what one pixel costs from decoding to the saved cutout; the
# user can set their own limit in megapixels with LIMIT_ENV.
LIMIT_ENV = "BGONE_MAX_MEGAPIXELS"
MAX_PIXELS = 250_000_000  # the default ceiling even on big machines (the host protocol's bound)
MEMORY_SHARE = 0.5  # of physical memory: the OS, the host (GIMP, Krita) and the model need the rest
# Bytes per pixel after loading (8-bit RGB, masks, refinement, the RGBA cutout, encoding),
# measured with /usr/bin/time -v on `bgone remove` of 16 and 48 MP JPEGs (u2netp, --refine fast
# and best): 18.5 bytes per added pixel, of which 8 are the decoded image and its array copy.
PIPELINE_BYTES_PER_PIXEL = 12
Image.MAX_IMAGE_PIXELS = None  # Pillow's check warns, then decodes up to 2x its limit: ours refuses

_MODE_LABELS = {
    "1": "1-bit", "L": "8-bit grey", "P": "palette", "LA": "grey with alpha", "PA": "palette with alpha",
    "RGB": "8-bit RGB", "RGBA": "8-bit RGBA", "CMYK": "CMYK", "YCbCr": "YCbCr", "I": "32-bit grey",
    "F": "floating-point grey", "I;16": "16-bit grey", "I;16B": "16-bit grey", "I;16L": "16-bit grey",
}


def _stored_bytes(mode: str) -> int:
    """Bytes Pillow keeps per decoded pixel (RGB is stored padded to 4)."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def bytes_per_pixel(mode: str, rotated: bool = False) -> int:
    """Peak memory per pixel of one image in ``mode``, from decoding to the saved cutout: the
    decoded image, the array made from it (and the turned copy when EXIF rotates it), and the
    pipeline's working copies."""
    return _stored_bytes(mode) * (3 if rotated else 2) + PIPELINE_BYTES_PER_PIXEL


def physical_memory() -> int | None:
    """This machine's memory in bytes (or a container's limit, when lower); None if unknown."""
    total = None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        if os.name == "nt":  # pragma: no cover - Windows only
            total = _windows_memory()
    try:  # cgroup v2 (containers, systemd slices)
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text.isdigit():
            total = min(total or int(text), int(text))
    except OSError:
        pass
    return total


def _windows_memory() -> int | None:  # pragma: no cover - Windows only
    import ctypes

    class Status(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    st = Status()
    st.dwLength = ctypes.sizeof(st)
    ok = ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(st))
    return int(st.ullTotalPhys) if ok else None


def _user_limit() -> int | None:
    """The pixel limit set in LIMIT_ENV (megapixels), or None."""
    text = os.environ.get(LIMIT_ENV, "").strip()
    if not text:
        return None
    try:
        mp = float(text)
        if not mp > 0 or math.isinf(mp):
            raise ValueError(text)
    except ValueError:
        raise ImageError(f"{LIMIT_ENV}={text!r} is not a number of megapixels.",
                         f"Set it to a positive number, e.g. {LIMIT_ENV}=400, or unset it.",
                         kind="bad_argument") from None
    return int(mp * 1e6)


def pixel_limit(mode: str = "RGB", rotated: bool = False) -> int:
    """The most pixels an image in ``mode`` may have on this machine."""
    user = _user_limit()
    if user is not None:
        return user
    memory = physical_memory() or 8 * 10**9
    return min(MAX_PIXELS, int(memory * MEMORY_SHARE) // bytes_per_pixel(mode, rotated))


def check_size(width: int, height: int, mode: str, name: str, rotated: bool = False) -> None:
    """Refuse an image too large for this machine, from its size and mode alone (no decoding)."""
    if width <= 0 or height <= 0:
        raise ImageError(f"{name} has no pixels (0 width or height).", "")
    pixels = width * height
    limit = pixel_limit(mode, rotated)
    if pixels <= limit:
        return
    mp, limit_mp = pixels / 1e6, limit / 1e6
    what = f"{name} is {width}x{height} pixels ({mp:.0f} megapixels, {_MODE_LABELS.get(mode, mode)})"
    allow = f"or allow it with {LIMIT_ENV}={math.ceil(mp)}"
    if _user_limit() is not None:
        raise ImageError(f"{what}, more than the {limit_mp:g} megapixels set in {LIMIT_ENV}.",
                         f"Scale it down first, {allow}.")
    need = pixels * bytes_per_pixel(mode, rotated)
    memory = physical_memory()
    machine = f"this machine ({memory / 2**30:.0f} GB)" if memory else "this machine"
    raise ImageError(
        f"{what}: removing its background needs about {need / 2**30:.1f} GB of memory, and "
        f"{machine} takes images of up to {limit_mp:.0f} megapixels of that kind.",
        f"Scale it below {math.floor(limit_mp)} megapixels first, {allow} (it may then run out "
        "of memory).",
    )


def _is_rotated(img: Image.Image) -> bool:
    """Whether EXIF turns the image a quarter (a transposed copy is made), read from the header:
    a PNG's getexif() would decode the whole image to look for EXIF after the pixels."""
    if img.format == "PNG" and "exif" not in img.info:
        return False
    try:
        return img.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:  # a damaged EXIF block: the transpose will fail or do nothing later
        return False


def open_image(path: str | os.PathLike) -> Image.Image:
    """Open and fully decode a file, turning every failure into an ImageError; an image too
    large for this machine is refused from its header, before decoding."""
    p = Path(path)
    if not p.exists():
        raise ImageError(f"{p}: no such file.", "Check the path and try again.")
    if p.is_dir():
        raise ImageError(f"{p} is a folder, not an image.", "Pass image files, or use --out-dir with a folder.")
    if p.stat().st_size == 0:
        raise ImageError(f"{p} is empty (0 bytes).", "The file is damaged or was not fully copied.")
    try:
        img = Image.open(p)  # reads the header only
        check_size(img.width, img.height, img.mode, str(p), _is_rotated(img))
        img.load()
    except UnidentifiedImageError as e:
        raise ImageError(f"{p} is not an image bgone can read.", "Use PNG, JPEG, WebP, TIFF or BMP.") from e
    except MemoryError as e:
        raise ImageError(f"{p} is too large to decode in the memory left on this machine.",
                         "Close other programs, or scale the image down first.") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{p} could not be decoded ({e}).", "The file may be truncated or damaged.") from e
    return img


_BLOCK = 1 << 20  # samples converted at a time: temporaries stay a few MB on any image size


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """High-bit-depth and float samples to 8-bit, keeping the full range visible; block by block,
    so a 484 MP 16-bit image costs its 1-byte result, not 8-byte temporaries."""
    if a.dtype == np.uint8:
        return a
    src = np.ascontiguousarray(a).reshape(-1)
    out = np.empty(src.shape, np.uint8)
    if a.dtype.kind == "f":
        scale = 255.0 if float(np.nanmax(src, initial=0.0)) <= 1.0 else 1.0
        for i in range(0, src.size, _BLOCK):
            x = np.nan_to_num(src[i:i + _BLOCK].astype(np.float32)) * scale + 0.5
            out[i:i + _BLOCK] = np.clip(x, 0, 255)
        return out.reshape(a.shape)
    sixteen = int(src.max(initial=0)) > 255  # 16-bit data (I;16 or 16-bit PNGs opened as mode I)
    for i in range(0, src.size, _BLOCK):
        x = src[i:i + _BLOCK].astype(np.int64)
        out[i:i + _BLOCK] = np.clip((x + 128) // 257 if sixteen else x, 0, 255)
    return out.reshape(a.shape)


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
    if a.ndim in (2, 3):
        check_size(a.shape[1], a.shape[0], "RGB", "The array")
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
        return array_to_rgba(src)
    if isinstance(src, Image.Image):  # possibly opened lazily by the caller: check before decoding
        check_size(src.width, src.height, src.mode, "The image", _is_rotated(src))
        return pil_to_rgba(src)
    return pil_to_rgba(open_image(src))

"""Results to files. A file appears whole or not at all (a temp file beside it, fsync, rename),
with the permissions a user expects (the umask for a new file, the old mode when replacing
one), the input's colour profile where the format carries one, and encoder settings measured
for a batch of photos (bench/bench_folder.py). Failures are BgoneErrors that name the folder.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import BgoneError


@dataclass(frozen=True)
class Format:
    pillow: str  # Pillow's format name
    alpha: bool  # keeps transparency
    icc: bool  # carries an ICC colour profile


FORMATS: dict[str, Format] = {
    ".png": Format("PNG", True, True),
    ".webp": Format("WEBP", True, True),
    ".tif": Format("TIFF", True, True),
    ".tiff": Format("TIFF", True, True),
    ".jpg": Format("JPEG", False, True),
    ".jpeg": Format("JPEG", False, True),
    ".jfif": Format("JPEG", False, True),
    ".gif": Format("GIF", True, False),
    ".tga": Format("TGA", True, False),
    ".bmp": Format("BMP", False, False),
    ".ppm": Format("PPM", False, False),
}

# zlib settings for PNG, measured on 12 MP cutouts (Pillow 13 with zlib-ng, /tmp bench of three
# of bench/bench_folder.py's photos): level 1 encodes in 0.83 CPU-s against level 6's 3.15 s, for
# files 20% larger (8.60 vs 7.16 MB); with the run-length strategy (Z_RLE) level 1 writes 8.09 MB
# in 0.87 s. Cut-out photos are long runs of zeros and smooth filtered rows, which is what Z_RLE
# is for.
PNG_LEVEL = 1
PNG_STRATEGY = zlib.Z_RLE

# bgone's own temp files: `.bgone-<pid>-<random>-<name>.part`. Never taken as inputs; those a
# killed run left behind are removed by the next run that writes into the same folder.
TEMP_PREFIX = ".bgone-"
TEMP_SUFFIX = ".part"
STALE_AFTER_S = 24 * 3600  # where a pid cannot be checked, a temp file this old is abandoned


def format_of(path: Path) -> Format | None:
    return FORMATS.get(path.suffix.lower())


def is_temp(path: Path) -> bool:
    return path.name.startswith(TEMP_PREFIX) and path.name.endswith(TEMP_SUFFIX)


def _temp_name(dest: Path) -> Path:
    return dest.with_name(f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{dest.name}{TEMP_SUFFIX}")


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill would terminate it there; fall back to the file's age
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def clean_stale_temps(folder: Path) -> int:
    """Remove temp files that runs no longer alive left in ``folder``; returns how many."""
    removed = 0
    try:
        entries = list(folder.iterdir())
    except OSError:
        return 0
    now = time.time()
    for p in entries:
        if not is_temp(p):
            continue
        pid_text = p.name[len(TEMP_PREFIX):].split("-", 1)[0]
        try:
            old = now - p.lstat().st_mtime > STALE_AFTER_S
            if old or (pid_text.isdigit() and not _pid_alive(int(pid_text))):
                p.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def _write_error(e: OSError, dest: Path, need: int = 0) -> BgoneError:
    """An OSError while writing ``dest`` as a message that names the folder and what to do."""
    folder = dest.parent
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        try:
            free = f"{shutil.disk_usage(folder).free / 1e6:.0f} MB free"
        except OSError:
            free = "no space left"
        needed = f"; this file needs up to {need / 1e6:.0f} MB" if need else ""
        return BgoneError(
            f"The disk holding {folder} is full ({free}{needed}): {dest.name} was not written.",
            "Free some space, or choose another output folder.",
            kind="disk_full",
        )
    if isinstance(e, PermissionError) or e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return BgoneError(
            f"Cannot write into {folder} ({e.strerror or e}).",
            "Choose a folder you can write to, or fix its permissions.",
            kind="not_writable",
        )
    return BgoneError(f"Could not write {dest} ({e.strerror or e}).", "", kind="write_failed")


def _open_temp(dest: Path) -> tuple[int, Path]:
    """Create the temp file exclusively with mode 0666 & ~umask (mkstemp's 0600 would leave
    every cutout private to its owner)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    while True:
        tmp = _temp_name(dest)
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def _fsync(fd: int) -> None:
    """The bytes reach the disk before the rename makes them the file (a crash then leaves the
    old file or the new one, never an empty one). Some network and FUSE file systems cannot
    sync; there the rename is all there is."""
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, getattr(errno, "EOPNOTSUPP", errno.ENOTSUP)):
            raise


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles for this)."""
    if sys.platform == "win32":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        _fsync(fd)
    except OSError:
        pass  # the file itself is whole and in place; only the rename's durability is unsure
    finally:
        os.close(fd)


def check_writable(folder: Path) -> None:
    """Before any work: the folder exists (made if missing) and a file can be created in it.
    A real probe, since permission bits do not tell about ACLs, read-only mounts or quotas."""
    probe = folder / "probe"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = _open_temp(probe)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        if isinstance(e, FileExistsError) or e.errno == errno.ENOTDIR:
            raise BgoneError(f"{folder} is not a folder.", "Choose an output folder.", kind="not_writable") from None
        raise _write_error(e, probe) from None


def as_pil(pixels: np.ndarray) -> Image.Image:
    """HxW -> L, HxWx3 -> RGB, HxWx4 -> RGBA, sharing the array's memory (no 48 MB copy)."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    mode = {2: "L", 3: "RGB", 4: "RGBA"}[pixels.ndim if pixels.ndim == 2 else pixels.shape[2]]
    h, w = pixels.shape[:2]
    return Image.frombuffer(mode, (w, h), pixels, "raw", mode, 0, 1)


def icc_fits(icc: object, mode: str) -> bool:
    """An ICC profile describes colour data of one kind (bytes 16..20): attach an RGB profile to
    RGB(A) output only (a mask is not colour; a CMYK photo's profile no longer applies)."""
    return isinstance(icc, bytes) and len(icc) >= 20 and mode in ("RGB", "RGBA") and icc[16:20] == b"RGB "


def save_options(fmt: Format, mode: str, icc: bytes | None) -> dict[str, object]:
    opts: dict[str, object] = {}
    if fmt.pillow == "PNG":
        opts["compress_level"] = PNG_LEVEL
        opts["compress_type"] = PNG_STRATEGY
    if fmt.icc and icc_fits(icc, mode):
        opts["icc_profile"] = icc
    return opts


def encode(img: Image.Image, fp: object, fmt: Format, icc: bytes | None = None) -> None:
    """The one encoder of results, for files and for `bgone serve`'s responses alike, so the same
    options give the same bytes on both paths."""
    img.save(fp, format=fmt.pillow, **save_options(fmt, img.mode, icc))


def save(image: np.ndarray | Image.Image, dest: Path, icc: bytes | None = None) -> None:
    """Write ``image`` to ``dest`` atomically: a temp file in the same folder, fsynced, renamed
    over the destination. Replacing a file keeps that file's permission bits."""
    dest = Path(dest)
    fmt = format_of(dest)
    if fmt is None:
        raise BgoneError(f"Cannot tell the format of {dest} from its extension.", "Use .png or .webp.",
                         kind="bad_argument")
    img = as_pil(image) if isinstance(image, np.ndarray) else image
    tmp: Path | None = None
    try:
        try:
            keep_mode = stat.S_IMODE(os.stat(dest).st_mode)
        except FileNotFoundError:
            keep_mode = None
        fd, tmp = _open_temp(dest)
        with os.fdopen(fd, "wb") as f:
            if keep_mode is not None:
                os.chmod(tmp, keep_mode)
            encode(img, f, fmt, icc)
            f.flush()
            _fsync(f.fileno())
        os.replace(tmp, dest)
        tmp = None
        _fsync_dir(dest.parent)
    except OSError as e:
        raise _write_error(e, dest, need=img.width * img.height * len(img.getbands())) from e
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass

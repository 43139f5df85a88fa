"""Many files through the pipeline, both cores busy: while the model works on one photo, the next
is decoded, the last one finished (colour decontamination, compositing) and the one before
encoded and written (PNG encoding is the largest single stage of a 12 MP cutout). At most one
photo waits in each stage, so memory stays at about four photos' worth whatever the folder's
size. Pillow, numpy and onnxruntime release the GIL in their heavy loops, so plain threads
overlap.

Each file's failure is reported and the batch carries on; failures that would repeat for every
file (the model cannot be had, a cancel) end it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from . import imageio, writer
from .errors import BgoneError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Kinds that every later file would meet too: stop instead of failing file after file.
FATAL_KINDS = frozenset({
    "unknown_model", "model_missing", "model_corrupt", "checksum_mismatch", "download_failed",
    "cancelled", "bad_argument",
})


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path


@dataclass
class Photo:
    """A decoded input: load_rgba's pair plus what the output must keep or mention."""

    rgb: np.ndarray
    own_alpha: np.ndarray | None
    icc: bytes | None
    frames: int


def decode(src: Path) -> Photo:
    """The first frame as arrays, with its ICC profile and how many frames the file holds."""
    img = imageio.open_image(src)
    icc = img.info.get("icc_profile") or None
    # an MPO (many phone JPEGs) adds previews or depth maps, not frames a user would mean
    frames = 1 if img.format == "MPO" else int(getattr(img, "n_frames", 1) or 1)
    rgb, own_alpha = imageio.load_rgba(img)
    return Photo(rgb, own_alpha, icc if isinstance(icc, bytes) else None, frames)


def failure_message(src: Path, e: BaseException) -> str:
    """One paragraph for any per-file failure; a bug of ours says so (the traceback goes to -v)."""
    if isinstance(e, BgoneError):
        said = e.message if str(src) in e.message else f"{src}: {e.message}"
        return said + (f" {e.hint}" if e.hint else "")
    if isinstance(e, MemoryError):
        return (f"{src}: not enough memory to process this image. Close other programs, use "
                "--refine none, or scale the image down.")
    if isinstance(e, OSError):
        return f"{src}: {e.strerror or e}."
    return (f"{src}: unexpected {type(e).__name__}: {str(e)[:200]}. This is a bug in bgone; "
            "please report it with the output of the same command run with -v.")


def _save_when_ready(made: Future[np.ndarray], dst: Path, icc: bytes | None) -> None:
    writer.save(made.result(), dst, icc)


def run(
    jobs: list[Job],
    work: Callable[[Photo], T],
    on_done: Callable[[int, Job, BaseException | None], None],
    on_note: Callable[[str], None] = lambda text: None,
    warm: Callable[[], None] | None = None,
    finish: Callable[[Photo, T], np.ndarray] | None = None,
) -> int:
    """Decode, ``work`` (the model, on this thread), ``finish`` (e.g. colour decontamination and
    compositing; none: work's result is saved as it is) and save each job, four stages
    overlapped on their own threads; calls ``on_done(index, job, error or None)`` in order and
    returns how many failed. ``warm`` runs on this thread while the first photo decodes (loading
    the model: a single photo's command then pays for only the longer of the two). A fatal
    BgoneError (FATAL_KINDS) or KeyboardInterrupt ends the batch and is raised; writes already
    under way are finished first, so no file is left half written."""
    failed = 0
    behind: deque[tuple[int, Job, Future[None]]] = deque()  # finishing or saving, oldest first

    def done(i: int, job: Job, err: BaseException | None) -> None:
        nonlocal failed
        failed += err is not None
        if err is not None and not isinstance(err, BgoneError):
            log.info("%s failed", job.src, exc_info=err)
        on_done(i, job, err)

    def settle(keep: int) -> None:
        while len(behind) > keep:
            i, job, fut = behind.popleft()
            done(i, job, fut.exception())

    with ThreadPoolExecutor(1, thread_name_prefix="bgone-decode") as reader, \
            ThreadPoolExecutor(1, thread_name_prefix="bgone-finish") as finisher, \
            ThreadPoolExecutor(1, thread_name_prefix="bgone-write") as saver:
        nxt = reader.submit(decode, jobs[0].src) if jobs else None
        try:
            if warm is not None:
                warm()
            for i, job in enumerate(jobs):
                assert nxt is not None
                this = nxt
                nxt = reader.submit(decode, jobs[i + 1].src) if i + 1 < len(jobs) else None
                try:
                    photo = this.result()
                    del this  # the future would keep the decoded photo alive
                    if photo.frames > 1:
                        on_note(f"{job.src} has {photo.frames} frames; only the first is used.")
                    icc = photo.icc
                    got = work(photo)
                except BgoneError as e:
                    if e.kind in FATAL_KINDS:
                        raise
                    settle(0)
                    done(i, job, e)
                    continue
                except Exception as e:  # one file's failure, whatever it is, spares the others
                    settle(0)
                    done(i, job, e)
                    continue
                # at most one photo finishing and one being written: memory stays bounded
                settle(1)
                made: Future[np.ndarray] = (
                    finisher.submit(finish, photo, got) if finish is not None else _resolved(got)
                )
                del photo, got  # the buffers go with the finish, not with this loop
                behind.append((i, job, saver.submit(_save_when_ready, made, job.dst, icc)))
                del made
            settle(0)
        except BaseException:
            if nxt is not None:
                nxt.cancel()
            for _, _, fut in behind:
                fut.exception()  # let the writes under way finish (or clean up after themselves)
            raise
    return failed


def _resolved(value: np.ndarray) -> Future[np.ndarray]:
    fut: Future[np.ndarray] = Future()
    fut.set_result(value)
    return fut

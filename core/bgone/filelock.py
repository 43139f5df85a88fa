"""A cross-process lock file, so two processes fetching or importing the same model take turns
instead of writing the same .part file."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .errors import Cancelled

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class FileLock:
    """Exclusive lock held for the life of a `with` block; waits, checking `cancel` while it does.

    The OS releases the lock if the holder dies, so a crashed download never blocks the next one.
    """

    def __init__(self, path: Path, cancel: Any = None, poll: float = 0.1) -> None:
        self.path, self.cancel, self.poll = Path(path), cancel, poll
        self.fd: int | None = None

    def __enter__(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        while not _try_lock(fd):
            if self.cancel is not None and self.cancel.is_set():
                os.close(fd)
                raise Cancelled()
            time.sleep(self.poll)
        self.fd = fd
        return self

    def try_acquire(self) -> bool:
        """Take the lock if it is free, without waiting (for 'only one daemon' checks)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if _try_lock(fd):
            self.fd = fd
            return True
        os.close(fd)
        return False

    def release(self) -> None:
        self.__exit__()

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            _unlock(self.fd)
            os.close(self.fd)
            self.fd = None

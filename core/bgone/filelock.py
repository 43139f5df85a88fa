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
    With ``remove`` the file is deleted on release (no stray ``.lock`` files in the model
    folder); a waiter that then holds a lock on the deleted file notices and locks the new one.
    """

    def __init__(self, path: Path, cancel: Any = None, poll: float = 0.1,
                 remove: bool = False) -> None:
        self.path, self.cancel, self.poll, self.remove = Path(path), cancel, poll, remove
        self.fd: int | None = None

    def __enter__(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            while not _try_lock(fd):
                if self.cancel is not None and self.cancel.is_set():
                    os.close(fd)
                    raise Cancelled()
                time.sleep(self.poll)
            if not self.remove or self._still_linked(fd):
                self.fd = fd
                return self
            _unlock(fd)  # the holder before us removed this file: lock the current one
            os.close(fd)

    def _still_linked(self, fd: int) -> bool:
        try:
            st, now = os.fstat(fd), os.stat(self.path)
        except FileNotFoundError:
            return False
        return (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)

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
            if self.remove and os.name != "nt":  # while still held, so no one locks it meanwhile
                self.path.unlink(missing_ok=True)
            _unlock(self.fd)
            os.close(self.fd)
            self.fd = None
            if self.remove and os.name == "nt":  # pragma: no cover - fails while another waits
                try:
                    self.path.unlink()
                except OSError:
                    pass

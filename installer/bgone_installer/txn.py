"""Transactions: every change has an undo (rollback) and a manifest record (uninstall)."""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import FLATPAK_TALK, winpath
from .console import Log
from .ini import ini_set


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def _atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write beside ``path`` and rename over it; keeps the old file's permissions. A symlink
    (a kritarc kept in a dotfiles repository) is written through and stays a link."""
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rmtree(path: Path) -> None:
    def onerror(func, p, _exc):  # read-only files (Windows, pip caches)
        os.chmod(p, 0o700)
        func(p)

    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=onerror)


def _record_key(rec: dict) -> tuple:
    return (rec["type"], rec.get("path", ""), rec.get("section", ""), rec.get("key", ""),
            rec.get("app", ""))


class Manifest:
    """What the installer put where, across runs: the first run's record of a path wins (it
    knows what was there before bgone)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.original = _read_bytes(path)
        self.data: dict = {"records": []}
        if self.original:
            try:
                self.data = json.loads(self.original.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self.data = {"records": []}
        self.data.setdefault("records", [])

    @property
    def exists(self) -> bool:
        return self.original is not None

    @property
    def records(self) -> list[dict]:
        return self.data["records"]

    def add(self, rec: dict) -> None:
        keys = {_record_key(r) for r in self.records}
        if _record_key(rec) not in keys:
            self.records.append(rec)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.data, indent=1, sort_keys=True) + "\n"
        _atomic_write(self.path, text.encode("utf-8"))

    def restore(self) -> None:
        """Put the manifest back as it was before this run."""
        if self.original is None:
            self.path.unlink(missing_ok=True)
        else:
            _atomic_write(self.path, self.original)


class Txn:
    """Changes with undo. Under ``dry`` each action only says what it would do."""

    def __init__(self, log: Log, manifest: Manifest, dry: bool = False) -> None:
        self.log = log
        self.manifest = manifest
        self.dry = dry
        self._undo: list[tuple[str, object]] = []
        self._backups: list[Path] = []
        self._dirs_seen: set[Path] = set()
        self.manifest_dirty = False

    def _push(self, what: str, fn) -> None:
        self._undo.append((what, fn))

    def record(self, rec: dict) -> None:
        if self.dry:
            return
        self._manifest_dir()
        self.manifest.add(rec)
        self.manifest.save()
        self.manifest_dirty = True

    def _manifest_dir(self) -> None:
        """The data folder holding the manifest is ours too (recorded without recursion)."""
        folder = self.manifest.path.parent
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for d in reversed(missing):
            d.mkdir()
            self._push(f"remove folder {d}", lambda d=d: _rmdir_if_empty(d))
            self.manifest.add({"type": "dir", "path": str(d)})

    def own(self, rec: dict) -> None:
        """Record something that exists already as ours, without undoing it on rollback."""
        self.record(rec)

    def would(self, text: str) -> None:
        self.log.say(f"    would {text}")

    # -- actions -------------------------------------------------------------------------------

    def mkdirs(self, path: Path) -> None:
        """Create ``path`` and missing parents; only the folders created here are undone."""
        missing = []
        p = path
        while not p.exists():
            missing.append(p)
            if p.parent == p:
                break
            p = p.parent
        if not missing:
            return
        if self.dry:
            if path not in self._dirs_seen:
                self.would(f"create folder {path}")
                self._dirs_seen.add(path)
            return
        for d in reversed(missing):
            if d.exists():  # recording the first folder may have created the data folder
                continue
            d.mkdir()
            self.log.detail(f"created folder {d}")
            self._push(f"remove folder {d}", lambda d=d: _rmdir_if_empty(d))
            self.record({"type": "dir", "path": str(d)})

    def write_file(self, path: Path, data: bytes, mode: int | None = None, what: str = "") -> None:
        previous = _read_bytes(path)
        if self.dry:
            self.would(f"{'replace' if previous is not None else 'write'} {what or 'file'} {path}")
            return
        self.mkdirs(path.parent)
        if previous != data:
            _atomic_write(path, data, mode)
            self._push(f"restore {path}", lambda: _restore_file(path, previous))
        elif mode is not None:
            os.chmod(path, mode)
        self.log.detail(f"wrote {path} ({len(data)} bytes)")
        self.record({"type": "file", "path": str(path), "previous": _b64(previous)})

    def copy_tree(self, src: Path | None, dst: Path, modes: dict[str, int] | None = None,
                  extra: dict[str, bytes] | None = None, trees: dict[str, Path] | None = None) -> None:
        """Replace ``dst`` by a copy of ``src`` (None: an empty folder) plus ``extra`` files and
        ``trees`` copied in whole; the old one is kept aside until the whole install succeeded."""
        if self.dry:
            if src is not None:
                self.would(f"{'replace' if dst.exists() else 'copy'} {src} -> {dst}")
            for name, tree in (trees or {}).items():
                self.would(f"copy {tree} -> {dst / name}")
            for name in extra or {}:
                self.would(f"write {dst / name}")
            return
        self.mkdirs(dst.parent)
        backup = None
        if dst.exists() or dst.is_symlink():
            backup = dst.with_name(f".{dst.name}.bgone-backup-{os.getpid()}")
            _rmtree(backup)
            os.replace(dst, backup)
            self._backups.append(backup)
        self._push(f"restore {dst}", lambda: _restore_tree(dst, backup))
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
        if src is None:
            dst.mkdir()
        else:
            shutil.copytree(src, dst, ignore=ignore)
        for name, tree in (trees or {}).items():
            _rmtree(dst / name)
            shutil.copytree(tree, dst / name, ignore=ignore)
        for name, data in (extra or {}).items():
            (dst / name).write_bytes(data)
        for p in [dst, *dst.rglob("*")]:
            rel = p.relative_to(dst).as_posix()
            if modes and rel in modes:
                os.chmod(p, modes[rel])
            else:
                os.chmod(p, 0o755 if p.is_dir() else 0o644)
        self.log.detail(f"copied {src} -> {dst}")
        self.record({"type": "tree", "path": str(dst)})

    def ini_set(self, path: Path, section: str, key: str, value: str, default_nl: str) -> dict:
        raw = _read_bytes(path)
        text = raw.decode("utf-8", "surrogateescape") if raw is not None else ""
        new, info = ini_set(text, section, key, value, default_nl)
        if self.dry:
            if new != text:
                self.would(f"set {key}={value} in [{section}] of {path}")
            return info
        self.mkdirs(path.parent)
        if new != text:
            _atomic_write(path, new.encode("utf-8", "surrogateescape"))
            self._push(f"restore {path}", lambda: _restore_file(path, raw))
        self.log.detail(f"{path}: [{section}] {key}={value} (was {info['previous']!r})")
        self.record({"type": "ini", "path": str(path), "section": section, "key": key,
                     "file_created": raw is None, **info})
        return info

    def track_new_files(self, folder: Path, fn, keep=None):
        """Run ``fn()`` and return its result; the files and folders it creates under
        ``folder`` become ours. A file for which ``keep(path)`` is true stays on rollback (a
        partial download that the next run resumes)."""
        missing = []
        p = folder
        while not p.exists():
            missing.append(p)
            p = p.parent
        before = set(folder.rglob("*")) if folder.exists() else set()
        try:
            return fn()
        finally:
            after = set(folder.rglob("*")) if folder.exists() else set()
            new = sorted(after - before)
            for d in reversed(missing):
                if d.exists():
                    self._push(f"remove folder {d}", lambda d=d: _rmdir_if_empty(d))
                    self.record({"type": "dir", "path": str(d)})
            for f in new:
                if f.is_dir():
                    self._push(f"remove folder {f}", lambda f=f: _rmdir_if_empty(f))
                    self.record({"type": "dir", "path": str(f)})
            for f in new:
                if not f.is_dir():
                    if not (keep and keep(f)):
                        self._push(f"remove {f}", lambda f=f: f.unlink(missing_ok=True))
                    self.record({"type": "file", "path": str(f), "previous": None})

    def created_tree(self, path: Path) -> None:
        """``path`` was created by a command (a venv): ours, removed on rollback/uninstall."""
        if self.dry:
            return
        self._push(f"remove {path}", lambda: _rmtree(path))
        self.record({"type": "tree", "path": str(path)})

    def set_aside(self, path: Path) -> None:
        """Move ``path`` out of the way (restored on rollback, deleted on commit)."""
        if self.dry:
            self.would(f"replace {path}")
            return
        backup = path.with_name(f".{path.name}.bgone-backup-{os.getpid()}")
        _rmtree(backup)
        os.replace(path, backup)
        self._backups.append(backup)
        self._push(f"restore {path}", lambda: _restore_tree(path, backup))

    def add_to_user_path(self, folder: Path) -> bool:
        """Put ``folder`` on the user's PATH (Windows); False where that cannot be done here."""
        if self.dry:
            self.would(f"add {folder} to your PATH")
            return True
        if not winpath.available():
            return False
        old = winpath.read_user_path()
        new = winpath.path_with(old, str(folder))
        if new != old:
            winpath.write_user_path(new)
            self._push(f"take {folder} off your PATH", lambda: winpath.write_user_path(
                winpath.path_without(winpath.read_user_path(), str(folder))))
            self.record({"type": "user_path", "path": str(folder)})
        return True

    def flatpak_grant(self, app: str) -> None:
        if self.dry:
            self.would("run " + shlex.join(flatpak_override_cmd(app)))
            return
        subprocess.run(flatpak_override_cmd(app), check=True, capture_output=True, timeout=60)
        self._push(f"revoke Flatpak permission of {app}",
                   lambda: subprocess.run(flatpak_override_cmd(app, revoke=True), timeout=60))
        self.record({"type": "flatpak_override", "app": app})

    # -- end -----------------------------------------------------------------------------------

    def rollback(self) -> list[str]:
        """Undo everything done in this run, newest first; returns what could not be undone."""
        problems = []
        if self.manifest_dirty:
            try:
                self.manifest.restore()
            except OSError as e:
                problems.append(f"restore {self.manifest.path}: {e}")
        for what, fn in reversed(self._undo):
            try:
                fn()
                self.log.detail(f"rollback: {what}")
            except Exception as e:  # keep undoing the rest
                problems.append(f"{what}: {e}")
                self.log.detail(f"rollback FAILED: {what}: {e}")
        self._undo.clear()
        return problems

    def commit(self) -> None:
        for b in self._backups:
            try:
                _rmtree(b)
            except OSError as e:
                self.log.detail(f"could not remove backup {b}: {e}")
        self._backups.clear()
        self._undo.clear()


def _rmdir_if_empty(path: Path) -> bool:
    try:
        path.rmdir()
        return True
    except OSError:
        return False


def _restore_file(path: Path, previous: bytes | None) -> None:
    if previous is None:
        path.unlink(missing_ok=True)
    else:
        _atomic_write(path, previous)


def _restore_tree(dst: Path, backup: Path | None) -> None:
    _rmtree(dst)
    if backup is not None and (backup.exists() or backup.is_symlink()):
        os.replace(backup, dst)


def flatpak_override_cmd(app: str, revoke: bool = False) -> list[str]:
    flag = "--no-talk-name" if revoke else "--talk-name"
    return ["flatpak", "override", "--user", f"{flag}={FLATPAK_TALK}", app]

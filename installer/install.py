#!/usr/bin/env python3
"""bgone installer: one command that sets up bgone for GIMP 3 and Krita 5.

STANDARD LIBRARY ONLY (Python 3.10+). Run it through the launchers next to it (install.sh,
install.command, install.bat), or directly:

    python3 installer/install.py                 # install or upgrade/repair; asks before changing
    python3 installer/install.py --yes           # unattended
    python3 installer/install.py --dry-run       # show what it would do, change nothing
    python3 installer/install.py --uninstall     # remove everything it installed, nothing else

What it does, step by step (each step announced):
  1. find a Python 3.10-3.13 (or the one given with --python)
  2. find every GIMP 3 profile and Krita resource folder (Flatpak, Snap, AppImage included)
  3. create a private virtual environment in the user data folder
  4. install the bgone core into it (from the folder this installer sits in, a wheel next to
     it, or PyPI with --from-pypi)
  5. copy the plug-ins (with bgone_client.py and bgone_config.json) and enable the Krita one
  6. write the user config.json the plug-ins fall back to
  7. Flatpak hosts: check that they may start programs outside their sandbox
  8. download (or import, --model-file) the model
  9. send a generated image through the real worker, as the plug-ins do

Design: every change goes through a transaction (``Txn``) whose actions know how to undo
themselves. The same actions print instead of acting under --dry-run, are undone in reverse
when a step fails (rollback; the log file stays and its path is printed), and are recorded in a
manifest in the data folder, which --uninstall replays backwards.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

APP = "bgone"
MIN_PY = (3, 10)
MAX_PY = (3, 13)
HERE = Path(__file__).resolve().parent
GIMP_PLUGIN = "bgone-remove-background"
KRITA_PLUGIN = "bgone_krita"
GIMP_FLATPAK = "org.gimp.GIMP"
KRITA_FLATPAK = "org.kde.krita"
FLATPAK_TALK = "org.freedesktop.Flatpak"
MANIFEST = "install-manifest.json"
KRITARC_SECTION = "python"
KRITARC_KEY = "enable_bgone_krita"
# Test hook: raise right after the step with this key (rollback tests, the host harness).
FAIL_AFTER_ENV = "BGONE_INSTALLER_FAIL_AFTER"

PY_RANGE = f"{MIN_PY[0]}.{MIN_PY[1]}-{MAX_PY[0]}.{MAX_PY[1]}"
PROBE = (
    "import sys, json, struct\n"
    "ok = True\n"
    "try:\n"
    "    import venv, ensurepip\n"
    "except Exception:\n"
    "    ok = False\n"
    "print(json.dumps({'version': list(sys.version_info[:3]), 'executable': sys.executable,"
    " 'bits': struct.calcsize('P') * 8, 'venv': ok}))\n"
)
CORE_PROBE = (
    "import json, bgone, bgone.worker, bgone.client\n"
    "print(json.dumps({'version': bgone.__version__, 'client': bgone.client.__file__}))\n"
)
MODEL_INFO = (
    "import json, sys\n"
    "from bgone import paths, registry, store\n"
    "name = sys.argv[1] or registry.default_model_name()\n"
    "s = registry.get_model(name)\n"
    "print(json.dumps({'name': s.name, 'urls': s.urls, 'file': s.file, 'dir': str(paths.model_dir()),"
    " 'size_mb': s.approx_size_mb or (s.size or 0) / 1e6, 'license': s.license,"
    " 'commercial_use': s.commercial_use,"
    " 'installed': store.model_path(s).exists() if sys.argv[2:] == ['dry'] else store.is_installed(s)}))\n"
)


class InstallError(Exception):
    """A failure a user can act on: ``message`` says what went wrong, ``hint`` what to do."""

    def __init__(self, message: str, hint: str = "", code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


# ---------------------------------------------------------------------------------------------
# Output and log


class Log:
    """Console output for people, and a detailed log file for support."""

    def __init__(self, path: Path | None, quiet: bool = False) -> None:
        self.path = path
        self.quiet = quiet
        self._f = open(path, "w", encoding="utf-8") if path else None  # noqa: SIM115

    def _write(self, text: str) -> None:
        if self._f:
            stamp = time.strftime("%H:%M:%S")
            for line in text.splitlines() or [""]:
                self._f.write(f"{stamp} {line}\n")
            self._f.flush()

    def say(self, text: str = "") -> None:
        if not self.quiet:
            print(text, flush=True)
        self._write(text)

    def detail(self, text: str) -> None:
        self._write("  | " + text)

    def close(self) -> None:
        if self._f:
            self._f.close()
            self._f = None


# ---------------------------------------------------------------------------------------------
# Where things live on each system


class Target:
    """One place a plug-in goes: a GIMP 3 profile or a Krita resource folder."""

    def __init__(self, app: str, kind: str, root: Path, *, create: bool = False,
                 kritarc: Path | None = None, flatpak: str | None = None) -> None:
        self.app = app  # "gimp" | "krita"
        self.kind = kind  # native | flatpak | snap | custom
        self.root = root
        self.create = create  # the folder does not exist yet: the host is installed, never run
        self.kritarc = kritarc
        self.flatpak = flatpak

    @property
    def label(self) -> str:
        name = "GIMP 3" if self.app == "gimp" else "Krita"
        return name if self.kind in ("native", "custom") else f"{name} ({self.kind.capitalize()})"

    @property
    def plugin_dir(self) -> Path:
        """The folder bgone_client.py and bgone_config.json go in."""
        if self.app == "gimp":
            return self.root / "plug-ins" / GIMP_PLUGIN
        return self.root / "pykrita" / KRITA_PLUGIN


class Layout:
    """Per-user paths for one system ("linux", "macos", "windows"). The system can be forced
    (``--platform``) so that every layout can be tested on one machine."""

    def __init__(self, system: str | None = None, env: dict | None = None) -> None:
        self.system = system or {"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")
        self.env = dict(os.environ if env is None else env)
        self.home = Path(os.path.expanduser("~"))

    def _env_dir(self, name: str, default: Path) -> Path:
        value = self.env.get(name)
        return Path(value) if value else default

    @property
    def appdata(self) -> Path:
        return self._env_dir("APPDATA", self.home / "AppData" / "Roaming")

    @property
    def localappdata(self) -> Path:
        return self._env_dir("LOCALAPPDATA", self.home / "AppData" / "Local")

    @property
    def xdg_config(self) -> Path:
        return self._env_dir("XDG_CONFIG_HOME", self.home / ".config")

    @property
    def xdg_cache(self) -> Path:
        return self._env_dir("XDG_CACHE_HOME", self.home / ".cache")

    def runtime_cache(self) -> Path | None:
        """Where onnxruntime drops its telemetry device id when the engine first runs."""
        if self.system == "linux":
            return self.xdg_cache / "Microsoft"
        if self.system == "macos":
            return self.app_support / "Microsoft"
        return None

    @property
    def xdg_data(self) -> Path:
        return self._env_dir("XDG_DATA_HOME", self.home / ".local" / "share")

    @property
    def app_support(self) -> Path:
        return self.home / "Library" / "Application Support"

    def data_dir(self) -> Path:
        if self.system == "windows":
            return self.localappdata / APP
        if self.system == "macos":
            return self.app_support / APP
        return self.xdg_data / APP

    def config_file(self) -> Path:
        """Must match bgone.client.user_config_dir()."""
        if self.system == "windows":
            return self.appdata / APP / "config.json"
        if self.system == "macos":
            return self.app_support / APP / "config.json"
        return self.xdg_config / APP / "config.json"

    def venv_python(self, venv: Path) -> Path:
        if self.system == "windows":
            return venv / "Scripts" / "python.exe"
        return venv / "bin" / "python"

    # -- hosts ---------------------------------------------------------------------------------

    def _flatpak_installed(self, app: str) -> bool:
        roots = [self.xdg_data / "flatpak", Path("/var/lib/flatpak")]
        return any((r / "app" / app).is_dir() for r in roots)

    def _which(self, name: str) -> str | None:
        return shutil.which(name, path=self.env.get("PATH", os.defpath))

    def gimp3_binary(self) -> str | None:
        for name in ("gimp-3.0", "gimp-3", "gimp3"):
            found = self._which(name)
            if found:
                return found
        found = self._which("gimp")
        if found:
            try:
                out = subprocess.run([found, "--version"], capture_output=True, text=True,
                                     timeout=30, stdin=subprocess.DEVNULL).stdout
            except (OSError, subprocess.SubprocessError):
                return None
            if re.search(r"version 3\.", out):
                return found
        return None

    def krita_binary(self) -> str | None:
        found = self._which("krita")
        if found:
            return found
        for folder in (self.home / "Applications", self.home / "Downloads", self.home / "bin"):
            if folder.is_dir():
                for f in sorted(folder.iterdir()):
                    if f.name.lower().startswith("krita") and f.name.lower().endswith(".appimage"):
                        return str(f)
        return None

    @staticmethod
    def _gimp_versions(base: Path) -> list[Path]:
        """GIMP/3.0, GIMP/3.2, ... (every 3.x profile)."""
        if not base.is_dir():
            return []
        return sorted(p for p in base.iterdir() if p.is_dir() and re.fullmatch(r"3\.\d+", p.name))

    def gimp_targets(self) -> list[Target]:
        found: list[Target] = []
        if self.system == "windows":
            bases = [("native", self.appdata / "GIMP", None)]
        elif self.system == "macos":
            bases = [("native", self.app_support / "GIMP", None)]
        else:
            bases = [
                ("native", self.xdg_config / "GIMP", None),
                ("flatpak", self.home / ".var/app" / GIMP_FLATPAK / "config/GIMP", GIMP_FLATPAK),
                ("snap", self.home / "snap/gimp/current/.config/GIMP", None),
            ]
        for kind, base, flatpak in bases:
            for profile in self._gimp_versions(base):
                found.append(Target("gimp", kind, profile, flatpak=flatpak))
        if self.system == "linux":
            kinds = {t.kind for t in found}
            if "native" not in kinds and self.gimp3_binary():
                found.append(Target("gimp", "native", self.xdg_config / "GIMP/3.0", create=True))
            if "flatpak" not in kinds and self._flatpak_installed(GIMP_FLATPAK):
                found.append(Target("gimp", "flatpak", bases[1][1] / "3.0", create=True,
                                    flatpak=GIMP_FLATPAK))
        return found

    def kritarc(self, kind: str = "native") -> Path:
        if kind == "flatpak":
            return self.home / ".var/app" / KRITA_FLATPAK / "config/kritarc"
        if self.system == "windows":
            return self.localappdata / "kritarc"
        if self.system == "macos":
            return self.home / "Library" / "Preferences" / "kritarc"
        return self.xdg_config / "kritarc"

    def krita_targets(self) -> list[Target]:
        found: list[Target] = []
        if self.system == "windows":
            cands = [("native", self.appdata / "krita", None)]
        elif self.system == "macos":
            cands = [("native", self.app_support / "krita", None)]
        else:
            cands = [
                ("native", self.xdg_data / "krita", None),
                ("flatpak", self.home / ".var/app" / KRITA_FLATPAK / "data/krita", KRITA_FLATPAK),
            ]
        for kind, root, flatpak in cands:
            if root.is_dir():
                found.append(Target("krita", kind, root, kritarc=self.kritarc(kind), flatpak=flatpak))
        if self.system == "linux":
            kinds = {t.kind for t in found}
            if "native" not in kinds and self.krita_binary():
                found.append(Target("krita", "native", cands[0][1], create=True,
                                    kritarc=self.kritarc("native")))
            if "flatpak" not in kinds and self._flatpak_installed(KRITA_FLATPAK):
                found.append(Target("krita", "flatpak", cands[1][1], create=True,
                                    kritarc=self.kritarc("flatpak"), flatpak=KRITA_FLATPAK))
        return found

    def custom_target(self, app: str, folder: str, kritarc: str | None = None) -> Target:
        root = Path(folder).expanduser().absolute()
        text = root.as_posix()
        flatpak = None
        if f"/.var/app/{GIMP_FLATPAK}/" in text + "/" and app == "gimp":
            flatpak = GIMP_FLATPAK
        if f"/.var/app/{KRITA_FLATPAK}/" in text + "/" and app == "krita":
            flatpak = KRITA_FLATPAK
        kind = "flatpak" if flatpak else "custom"
        rc = None
        if app == "krita":
            rc = Path(kritarc).expanduser().absolute() if kritarc else self.kritarc(
                "flatpak" if flatpak else "native")
        return Target(app, kind, root, create=not root.exists(), kritarc=rc, flatpak=flatpak)


# ---------------------------------------------------------------------------------------------
# kritarc (a Qt INI file): edit the text, never rewrite what we do not own


def _newline(text: str, default: str) -> str:
    m = re.search(r"\r\n|\n", text)
    return m.group(0) if m else default


def _section_span(lines: list[str], section: str) -> tuple[int, int] | None:
    """(index of the header line, index after the section's last line) or None."""
    start = None
    for i, line in enumerate(lines):
        s = line.strip()
        if start is None:
            if s == f"[{section}]":
                start = i
        elif s.startswith("[") and s.endswith("]"):
            return start, i
    return (start, len(lines)) if start is not None else None


def _is_key(line: str, key: str) -> bool:
    s = line.strip()
    return s.startswith(key) and s[len(key):].lstrip().startswith("=")


def ini_set(text: str, section: str, key: str, value: str, default_nl: str = "\n") -> tuple[str, dict]:
    """``text`` with ``key=value`` in ``[section]``; the info says how to take it out again."""
    nl = _newline(text, default_nl)
    lines = text.splitlines(keepends=True)
    info: dict = {"previous": None, "section_added": False, "sep": "", "eol_added": False}
    span = _section_span(lines, section)
    entry = f"{key}={value}"
    if span is None:
        if not text:
            sep = ""
        elif not text.endswith(("\n", "\r")):
            sep = nl + nl
        elif text.endswith(nl + nl) or text.strip() == "":
            sep = ""
        else:
            sep = nl
        info.update(section_added=True, sep=sep)
        return text + sep + f"[{section}]" + nl + entry + nl, info
    start, end = span
    for i in range(start + 1, end):
        if _is_key(lines[i], key):
            info["previous"] = lines[i].rstrip("\r\n")
            ending = lines[i][len(lines[i].rstrip("\r\n")):]
            lines[i] = entry + ending
            return "".join(lines), info
    last = start
    for i in range(start + 1, end):
        if lines[i].strip():
            last = i
    if not lines[last].endswith(("\n", "\r")):
        lines[last] += nl
        info["eol_added"] = True
    lines.insert(last + 1, entry + nl)
    return "".join(lines), info


def ini_unset(text: str, section: str, key: str, info: dict) -> str:
    """Undo :func:`ini_set`: restore the previous line, or remove ours (and the section, when
    we added it and nothing else has been put in it since)."""
    lines = text.splitlines(keepends=True)
    span = _section_span(lines, section)
    if span is None:
        return text
    start, end = span
    idx = [i for i in range(start + 1, end) if _is_key(lines[i], key)]
    if not idx:
        return text
    previous = info.get("previous")
    if previous is not None:
        i = idx[0]
        lines[i] = previous + lines[i][len(lines[i].rstrip("\r\n")):]
        return "".join(lines)
    for i in reversed(idx):
        del lines[i]
    end -= len(idx)
    if info.get("section_added") and not any(lines[i].strip() for i in range(start + 1, end)):
        del lines[start:end]
        before = "".join(lines[:start])
        after = "".join(lines[start:])
        sep = info.get("sep", "")
        if sep and before.endswith(sep):
            before = before[: len(before) - len(sep)]
        return before + after
    out = "".join(lines)
    if info.get("eol_added"):
        for nl in ("\r\n", "\n"):
            if out.endswith(nl):
                return out[: -len(nl)]
    return out


# ---------------------------------------------------------------------------------------------
# Transactions: every change has an undo (rollback) and a manifest record (uninstall)


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
    """Write beside ``path`` and rename over it; keeps the old file's permissions."""
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

    def copy_tree(self, src: Path, dst: Path, modes: dict[str, int] | None = None,
                  extra: dict[str, bytes] | None = None) -> None:
        """Replace ``dst`` by a copy of ``src`` (plus ``extra`` files); the old one is kept
        aside until the whole install succeeded."""
        if self.dry:
            self.would(f"{'replace' if dst.exists() else 'copy'} {src} -> {dst}")
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
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
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

    def track_new_files(self, folder: Path, fn):
        """Run ``fn()`` and return its result; the files and folders it creates under
        ``folder`` become ours."""
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


# ---------------------------------------------------------------------------------------------
# Running commands


_STATE = {"dry_run": False}


def clean_env() -> dict:
    """Our environment minus what would make another Python load the wrong files."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "__PYVENV_LAUNCHER__",
                        "VIRTUAL_ENV")}
    env["PYTHONIOENCODING"] = "utf-8"
    if _STATE["dry_run"]:
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # even the probes must not write __pycache__
    return env


def run_cmd(log: Log, argv: list[str], *, show=None, tty_passthrough: bool = False,
            timeout: float | None = None) -> str:
    """Run a command, logging its output. ``show(line)`` decides which lines the user sees;
    with ``tty_passthrough`` stderr goes straight to the terminal (live progress bars)."""
    log.detail("$ " + shlex.join(str(a) for a in argv))
    passthrough = tty_passthrough and sys.stderr.isatty()
    try:
        proc = subprocess.Popen(
            [str(a) for a in argv], stdout=subprocess.PIPE,
            stderr=None if passthrough else subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=clean_env(), text=True, encoding="utf-8", errors="replace",
        )
    except OSError as e:
        raise InstallError(f"Could not run {argv[0]}: {e.strerror or e}.") from None
    lines = []
    deadline = time.monotonic() + timeout if timeout else None
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip("\r\n")
        lines.append(line)
        log.detail(line)
        if show and show(line):
            log.say("    " + line.split("\r")[-1][:110])
        if deadline and time.monotonic() > deadline:
            proc.kill()
            break
    rc = proc.wait()
    out = "\n".join(lines)
    if rc != 0:
        tail = "\n".join("      " + t for t in lines[-15:])
        raise InstallError(f"This command failed (exit status {rc}):\n    {shlex.join(map(str, argv))}"
                           + (f"\n  Its last output:\n{tail}" if tail else ""))
    return out


# ---------------------------------------------------------------------------------------------
# Finding a Python


def _py_text(v) -> str:
    return ".".join(str(x) for x in v)


def probe_python(argv: list[str]) -> dict | None:
    """Version, real path and venv support of an interpreter, or None if it does not run."""
    try:
        r = subprocess.run([*argv, "-c", PROBE], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL, env=clean_env())
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    try:
        info = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    info["argv"] = argv
    return info


def python_candidates(layout: Layout) -> list[list[str]]:
    cands: list[list[str]] = [[sys.executable]]
    versions = [f"3.{m}" for m in range(MAX_PY[1], MIN_PY[1] - 1, -1)]
    if layout.system == "windows":
        py = shutil.which("py")
        if py:
            cands += [[py, f"-{v}"] for v in versions]
    # newer ones too, only so that the message can say "too new" when that is all there is
    newer = [f"python3.{m}" for m in range(MAX_PY[1] + 2, MAX_PY[1], -1)]
    for name in [f"python{v}" for v in versions] + ["python3", "python"] + newer:
        found = shutil.which(name)
        if found:
            cands.append([found])
    if layout.system == "macos":
        for v in versions:
            for p in (f"/Library/Frameworks/Python.framework/Versions/{v}/bin/python{v}",
                      f"/opt/homebrew/bin/python{v}", f"/usr/local/bin/python{v}"):
                if os.path.isfile(p):
                    cands.append([p])
    out, seen = [], set()
    for c in cands:
        key = tuple(c)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _why_unsuitable(info: dict, need_venv: bool) -> str | None:
    v = tuple(info["version"][:2])
    if v < MIN_PY:
        return f"Python {_py_text(info['version'])} is too old"
    if v > MAX_PY:
        return (f"Python {_py_text(info['version'])} is too new (bgone's engine, onnxruntime, "
                f"supports {PY_RANGE})")
    if info.get("bits") != 64:
        return f"Python {_py_text(info['version'])} is 32-bit; bgone needs a 64-bit Python"
    if need_venv and not info.get("venv"):
        return (f"Python {_py_text(info['version'])} cannot create virtual environments "
                f"(Debian/Ubuntu: sudo apt install python3-venv)")
    return None


def no_python_hint(system: str) -> str:
    if system == "windows":
        return ("Install Python 3.12 from https://www.python.org/downloads/windows/ (tick \"Add "
                "python.exe to PATH\"), or from the Microsoft Store, then run the installer again.")
    if system == "macos":
        return ("Install Python 3.12 from https://www.python.org/downloads/macos/ (or `brew "
                "install python@3.12`), then run the installer again.")
    return ("Install Python 3.12 with your package manager, then run the installer again:\n"
            "  Debian/Ubuntu:  sudo apt install python3 python3-venv\n"
            "  Fedora:         sudo dnf install python3.12\n"
            "  Arch:           sudo pacman -S python\n"
            "  openSUSE:       sudo zypper install python312")


def find_python(layout: Layout, explicit: str | None, need_venv: bool) -> dict:
    """The interpreter to build bgone's venv from (or to use as is with --no-venv)."""
    cands = [[explicit]] if explicit else python_candidates(layout)
    rejected = []
    for argv in cands:
        info = probe_python(argv)
        if info is None:
            rejected.append(f"{shlex.join(argv)}: does not run")
            continue
        why = _why_unsuitable(info, need_venv)
        if why is None:
            return info
        rejected.append(f"{info['executable'] or shlex.join(argv)}: {why}")
    found = ("\n  Looked at:\n" + "\n".join("    " + r for r in rejected)) if rejected else ""
    if explicit:
        msg = f"The Python given with --python cannot be used.{found}"
    else:
        msg = f"No suitable Python was found: bgone needs Python {PY_RANGE} (64-bit).{found}"
    raise InstallError(msg, no_python_hint(layout.system), code=2)


# ---------------------------------------------------------------------------------------------
# The install


def source_root() -> Path:
    """The folder holding the plug-ins and the core: the repository (installer/..) or a release
    folder with everything next to install.py."""
    for root in (HERE.parent, HERE):
        if (root / "gimp_plugin" / GIMP_PLUGIN).is_dir() or (root / "krita_plugin").is_dir():
            return root
    return HERE.parent


def core_source(args: argparse.Namespace) -> str:
    if args.source:
        return str(Path(args.source).expanduser().absolute())
    if args.from_pypi:
        return APP
    wheels = sorted(list(HERE.glob("bgone-*.whl")) + list((HERE.parent / "dist").glob("bgone-*.whl")),
                    key=lambda p: [int(x) if x.isdigit() else x
                                   for x in re.split(r"[.-]", p.name)[1:4]])
    if wheels:
        return str(wheels[-1])
    root = HERE.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and re.search(r'(?m)^name\s*=\s*"bgone"', pyproject.read_text("utf-8")):
        return str(root)
    raise InstallError(
        f"bgone's files were not found next to the installer ({HERE}).",
        "Download the complete bgone package and unpack it, or use --from-pypi.",
    )


class Ctx:
    def __init__(self, args: argparse.Namespace, layout: Layout, log: Log) -> None:
        self.args = args
        self.layout = layout
        self.log = log
        self.src = source_root()
        self.data_dir = Path(args.data_dir).absolute() if args.data_dir else layout.data_dir()
        self.manifest = Manifest(self.data_dir / MANIFEST)
        self.txn = Txn(log, self.manifest, dry=args.dry_run)
        self.base: dict | None = None  # the Python found
        self.venv: Path | None = None
        self.core_python: str | None = None
        self.version = "?"
        self.client_src: Path | None = None
        self.targets: list[Target] = []
        self.installed: list[Target] = []
        self.model: dict | None = None
        self.notes: list[str] = []  # warnings for the summary
        self.selftest = "skipped"

    @property
    def dry(self) -> bool:
        return self.args.dry_run


def step_python(ctx: Ctx) -> None:
    a = ctx.args
    ctx.base = find_python(ctx.layout, a.python, need_venv=not a.no_venv)
    where = "given with --python" if a.python else "found"
    ctx.log.say(f"    Python {_py_text(ctx.base['version'])} ({where}): {ctx.base['executable']}")


def step_hosts(ctx: Ctx) -> None:
    a, lay = ctx.args, ctx.layout
    targets = []
    if not a.no_gimp:
        targets += lay.gimp_targets()
    if not a.no_krita:
        targets += lay.krita_targets()
    targets += [lay.custom_target("gimp", d) for d in a.gimp_profile]
    targets += [lay.custom_target("krita", d, a.kritarc) for d in a.krita_dir]
    seen, ctx.targets = set(), []
    for t in targets:
        key = (t.app, os.path.normcase(str(t.root.absolute())))
        if key not in seen:
            seen.add(key)
            ctx.targets.append(t)
    for t in ctx.targets:
        extra = " (installed but not started yet: the folder will be created)" if t.create else ""
        ctx.log.say(f"    {t.label}: {t.root}{extra}")
        if t.kind == "snap":
            ctx.notes.append("GIMP from Snap: its sandbox may stop it from starting bgone's engine. "
                             "If Remove Background says the engine is missing, use GIMP from "
                             "Flatpak or your distribution instead.")
    if not ctx.targets:
        ctx.log.say("    No GIMP 3 or Krita 5 found.")
        ctx.notes.append("No GIMP 3 or Krita was found, so no plug-in was installed. Install one, "
                         "start it once, then run this installer again (or point at a profile "
                         "with --gimp-profile DIR / --krita-dir DIR).")
    if any(t.app == "krita" for t in ctx.targets) and _krita_running():
        ctx.log.say("    Krita is running: close it before it saves its settings over ours.")
        ctx.notes.append("Krita was running during the install. If the plug-in is not enabled "
                         "after restarting Krita, run this installer again with Krita closed.")


def _krita_running() -> bool:
    proc = Path("/proc")
    if sys.platform.startswith("linux") and proc.is_dir():
        for p in proc.iterdir():
            if p.name.isdigit():
                try:
                    if (p / "comm").read_text().strip() == "krita":
                        return True
                except OSError:
                    pass
    return False


def step_venv(ctx: Ctx) -> None:
    a, lay = ctx.args, ctx.layout
    if a.no_venv:
        ctx.core_python = ctx.base["executable"] if ctx.base else a.python
        ctx.log.say(f"    --no-venv: using {ctx.core_python} as it is")
        return
    venv = Path(a.venv).expanduser().absolute() if a.venv else ctx.data_dir / "venv"
    ctx.venv = venv
    py = lay.venv_python(venv)
    ctx.core_python = str(py)
    if venv.exists():
        info = probe_python([str(py)]) if py.exists() else None
        same = info and info["version"][:2] == ctx.base["version"][:2]
        if same:
            ctx.log.say(f"    Reusing {venv} (Python {_py_text(info['version'])})")
            if not a.venv:  # the default venv is ours even when an earlier run made it
                ctx.txn.own({"type": "tree", "path": str(venv)})
            return
        why = "it is broken" if info is None else f"it uses Python {_py_text(info['version'])}"
        ctx.log.say(f"    Rebuilding {venv}: {why}")
        ctx.txn.set_aside(venv)
    if ctx.dry:
        ctx.txn.would(f"create a virtual environment {venv} with {ctx.base['executable']}")
        return
    ctx.txn.mkdirs(venv.parent)
    ctx.txn.created_tree(venv)
    ctx.log.say(f"    Creating {venv}")
    run_cmd(ctx.log, [*ctx.base["argv"], "-m", "venv", str(venv)], timeout=600)
    if probe_python([str(py)]) is None:
        raise InstallError(f"The new virtual environment {venv} does not work.",
                           "See the log for details.")


def _pip_show(line: str) -> bool:
    return line.startswith(("Collecting ", "Downloading ", "Installing collected", "Successfully "))


def step_core(ctx: Ctx) -> None:
    a = ctx.args
    if a.no_venv:
        ctx.log.say(f"    --no-venv: checking that {ctx.core_python} has bgone")
    else:
        src = core_source(a)
        if ctx.dry:
            ctx.txn.would(f"run {ctx.core_python} -m pip install --upgrade {src}")
        else:
            ctx.log.say(f"    Installing bgone and its libraries from {src}")
            ctx.log.say("    (about 300 MB; this can take a few minutes)")
            pip = [ctx.core_python, "-m", "pip", "install", "--upgrade", "--no-cache-dir",
                   "--disable-pip-version-check", src]
            run_cmd(ctx.log, pip, show=_pip_show)
    if ctx.dry and not Path(ctx.core_python).exists():
        ctx.client_src = ctx.src / "core" / "bgone" / "client.py"
        return
    try:
        out = run_cmd(ctx.log, [ctx.core_python, "-c", CORE_PROBE], timeout=300)
    except InstallError as e:
        if a.no_venv:
            raise InstallError(f"{ctx.core_python} does not have bgone installed.",
                               "Install it there (pip install -e .) or drop --no-venv.") from None
        if ctx.dry:
            ctx.client_src = ctx.src / "core" / "bgone" / "client.py"
            return
        ctx.log.say("    The engine does not load; repairing (reinstalling everything)")
        ctx.log.detail(e.message)
        run_cmd(ctx.log, [ctx.core_python, "-m", "pip", "install", "--force-reinstall",
                          "--no-cache-dir", "--disable-pip-version-check", core_source(a)],
                show=_pip_show)
        out = run_cmd(ctx.log, [ctx.core_python, "-c", CORE_PROBE], timeout=300)
    info = json.loads(out.strip().splitlines()[-1])
    ctx.version = info["version"]
    ctx.client_src = Path(info["client"])
    ctx.log.say(f"    bgone {ctx.version} is ready in {ctx.core_python}")


def _config_bytes(ctx: Ctx, flatpak: bool) -> bytes:
    doc = {"python": ctx.core_python, "version": ctx.version, "flatpak_spawn": flatpak}
    return (json.dumps(doc, indent=1) + "\n").encode("utf-8")


def _client_bytes(ctx: Ctx) -> bytes:
    src = ctx.client_src or ctx.src / "core" / "bgone" / "client.py"
    if ctx.dry and not src.is_file():
        return b""
    return src.read_bytes()


def step_plugins(ctx: Ctx) -> None:
    nl = "\r\n" if ctx.layout.system == "windows" else "\n"
    for t in ctx.targets:
        flatpak = t.flatpak is not None
        extra = {"bgone_client.py": _client_bytes(ctx),
                 "bgone_config.json": _config_bytes(ctx, flatpak)}
        ctx.log.say(f"    {t.label}: {t.plugin_dir}")
        if t.app == "gimp":
            src = ctx.src / "gimp_plugin" / GIMP_PLUGIN
            _need(src)
            ctx.txn.mkdirs(t.root / "plug-ins")
            ctx.txn.copy_tree(src, t.plugin_dir, modes={f"{GIMP_PLUGIN}.py": 0o755}, extra=extra)
        else:
            desktop = ctx.src / "krita_plugin" / f"{KRITA_PLUGIN}.desktop"
            src = ctx.src / "krita_plugin" / KRITA_PLUGIN
            _need(src)
            _need(desktop)
            ctx.txn.mkdirs(t.root / "pykrita")
            ctx.txn.write_file(t.root / "pykrita" / desktop.name, desktop.read_bytes(), 0o644,
                               what="plug-in description")
            ctx.txn.copy_tree(src, t.plugin_dir, extra=extra)
            assert t.kritarc is not None
            ctx.txn.ini_set(t.kritarc, KRITARC_SECTION, KRITARC_KEY, "true", nl)
            ctx.log.say(f"      enabled in {t.kritarc}")
        ctx.installed.append(t)


def _need(path: Path) -> None:
    if not path.exists():
        raise InstallError(f"The plug-in files are missing: {path}",
                           "Download the complete bgone package and unpack it again.")


def step_config(ctx: Ctx) -> None:
    path = ctx.layout.config_file()
    ctx.txn.write_file(path, _config_bytes(ctx, False), what="settings")
    ctx.log.say(f"    {path}")


def _flatpak_granted(app: str) -> bool | None:
    """Whether ``app`` may talk to org.freedesktop.Flatpak; None when it cannot be told."""
    if not shutil.which("flatpak"):
        return None
    try:
        r = subprocess.run(["flatpak", "info", "--show-permissions", app], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    return f"{FLATPAK_TALK}=talk" in r.stdout.replace(" ", "")


def step_flatpak(ctx: Ctx) -> None:
    apps = sorted({t.flatpak for t in ctx.installed if t.flatpak})
    for app in apps:
        cmd = shlex.join(flatpak_override_cmd(app))
        granted = _flatpak_granted(app)
        if granted:
            ctx.log.say(f"    {app} may already start programs outside its sandbox: good")
            continue
        ctx.log.say(f"    {app} runs in a sandbox; to start bgone's engine it needs this permission:")
        ctx.log.say(f"        {cmd}")
        if granted is None:
            ctx.notes.append(f"Could not check {app}'s Flatpak permissions. If the plug-in says "
                             f"the engine cannot start, run:  {cmd}")
            continue
        if ctx.args.flatpak_grant or (not ctx.args.yes and _ask(ctx, "    Grant it now?", default=False)):
            ctx.txn.flatpak_grant(app)
            ctx.log.say("    Granted.")
        else:
            ctx.notes.append(f"{app} still needs permission to start bgone's engine. Run:  {cmd}")


def step_model(ctx: Ctx) -> None:
    a = ctx.args
    if ctx.dry and not Path(ctx.core_python).exists():
        what = f"import {a.model_file}" if a.model_file else f"download {a.model or 'the default model'}"
        ctx.txn.would(what + " into bgone's model folder")
        return
    info_argv = [ctx.core_python, "-c", MODEL_INFO, a.model or "", "dry" if ctx.dry else ""]
    out = run_cmd(ctx.log, info_argv, timeout=300)
    info = json.loads(out.strip().splitlines()[-1])
    folder = Path(info["dir"])
    if a.model_file:
        argv = [ctx.core_python, "-m", APP, "models", "import"]
        argv += [a.model, a.model_file] if a.model else [a.model_file]
        if ctx.dry:
            ctx.txn.would(f"import {a.model_file} into {folder}")
            return
        ctx.log.say(f"    Importing {a.model_file} (checked against its known checksum)")
        out = ctx.txn.track_new_files(folder, lambda: run_cmd(ctx.log, argv))
        found = re.search(r"Imported (\S+) ->", out)
        info["name"] = found.group(1) if found else (a.model or info["name"])
    else:
        size = f"about {info['size_mb']:.0f} MB" if info["size_mb"] else "size unknown"
        if info["installed"]:
            ctx.log.say(f"    {info['name']} is already downloaded: {folder}")
            ctx.model = info
            return
        if ctx.dry:
            ctx.txn.would(f"download {info['name']} ({size}) into {folder}")
            return
        ctx.log.say(f"    Downloading {info['name']} ({size}, {info['license']}) into {folder}")
        if not info["commercial_use"]:
            ctx.log.say("    Note: this model's licence does not allow commercial use.")
        argv = [ctx.core_python, "-m", APP, "models", "download", info["name"]]
        try:
            ctx.txn.track_new_files(folder, lambda: run_cmd(
                ctx.log, argv, tty_passthrough=True, show=lambda line: "%" in line))
        except InstallError as e:
            urls = "\n".join("    " + u for u in info["urls"]) or "    (no address known)"
            raise InstallError(
                f"The model {info['name']} could not be downloaded.\n  {e.message}",
                f"No internet here? Download the file on another computer from:\n{urls}\n"
                f"  then run the installer again with --model-file PATH/TO/{info['file']}",
            ) from None
    ctx.model = info
    ctx.log.say(f"    Model {info['name']} is installed.")


def make_test_image(width: int, height: int) -> bytes:
    """A dark red disc on a light, slightly textured background, as straight RGBA rows."""
    cx, cy, r2 = width / 2, height / 2, (min(width, height) * 0.3) ** 2
    px = bytearray(width * height * 4)
    i = 0
    for y in range(height):
        for x in range(width):
            if (x - cx) ** 2 + (y - cy) ** 2 <= r2:
                px[i:i + 4] = bytes((170, 30 + (x % 7), 40, 255))
            else:
                g = 225 + (x * 3 + y * 5) % 23
                px[i:i + 4] = bytes((g, g, g - 8, 255))
            i += 4
    return bytes(px)


def load_client(path: Path):
    spec = importlib.util.spec_from_file_location("bgone_client_selftest", str(path))
    if spec is None or spec.loader is None:
        raise InstallError(f"Cannot load {path}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


def step_selftest(ctx: Ctx) -> None:
    if ctx.dry:
        ctx.txn.would("send a test image through bgone's engine, as the plug-ins do")
        return
    gimp = [t for t in ctx.installed if t.app == "gimp"]
    client_path = (ctx.installed[0].plugin_dir if ctx.installed else None)
    if gimp:
        client_path = gimp[0].plugin_dir
    path = client_path / "bgone_client.py" if client_path else ctx.client_src
    client = load_client(path)
    ctx.log.say(f"    Using {path}")
    w, h = 96, 72
    cache = ctx.layout.runtime_cache()
    if cache is not None:  # what onnxruntime leaves behind the first time is ours to remove
        return ctx.txn.track_new_files(cache, lambda: _selftest_twice(ctx, client, w, h))
    return _selftest_twice(ctx, client, w, h)


def _selftest_twice(ctx: Ctx, client, w: int, h: int) -> None:
    """One retry with a fresh worker, so that a one-off start-up hiccup does not undo a whole
    install; it is reported, never hidden."""
    try:
        return _selftest(ctx, client, w, h)
    except InstallError as first:
        ctx.log.say("    The first attempt failed; trying once more with a fresh engine.")
        ctx.log.detail(first.message)
        _selftest(ctx, client, w, h)
        ctx.notes.append("The self-test failed once before it passed: " + first.message.splitlines()[0])


def _selftest(ctx: Ctx, client, w: int, h: int) -> None:
    try:
        with client.Worker(ctx.core_python, timeout=600.0) as worker:
            hello = worker.start()
            ctx.log.detail(f"worker hello: {hello}")
            model = ctx.model["name"] if ctx.model else None
            if model is None:
                installed = [m for m in worker.models() if m.get("installed")]
                if not installed:
                    ctx.log.say("    The engine starts; no model is installed, so no image was sent.")
                    ctx.selftest = "engine starts (no model installed)"
                    return
                model = next((m["name"] for m in installed if m.get("default")), installed[0]["name"])
            t0 = time.monotonic()
            alpha = worker.remove(make_test_image(w, h), w, h, model=model,
                                  progress=lambda s, f, m: ctx.log.detail(f"{s} {f:.2f} {m}"))
    except client.ClientError as e:
        details = getattr(e, "details", "")
        raise InstallError(f"The self-test failed: {e.message}" + (f"\n{details}" if details else ""),
                           e.hint or "See the log for details.") from None
    if len(alpha) != w * h:
        raise InstallError(f"The self-test got {len(alpha)} bytes back instead of {w * h}.")
    inside = alpha[(h // 2) * w + w // 2]
    corner = (alpha[0] + alpha[w - 1] + alpha[(h - 1) * w] + alpha[h * w - 1]) / 4
    took = time.monotonic() - t0
    ctx.log.detail(f"self-test alpha: centre {inside}, corners {corner:.0f}")
    if inside > corner:
        ctx.selftest = f"passed ({model}, {took:.1f} s)"
        ctx.log.say(f"    A {w}x{h} test image went through {model} in {took:.1f} s: the subject was found.")
    else:
        ctx.selftest = f"engine works, but the test image's mask looks odd ({model})"
        ctx.log.say("    The engine works, but the test image's mask looks odd (see the log).")
        ctx.notes.append(ctx.selftest)


def _ask(ctx: Ctx, question: str, default: bool = True) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        return default
    try:
        answer = input(f"{question} [Y/n] ").strip().lower()
    except EOFError:
        return True
    ctx.log.detail(f"{question} -> {answer!r}")
    return answer in ("", "y", "yes")


class Step:
    def __init__(self, key: str, title: str, fn, when: bool = True) -> None:
        self.key, self.title, self.fn, self.when = key, title, fn, when


def plan(args: argparse.Namespace) -> list[Step]:
    steps = [
        Step("python", "Finding Python", step_python),
        Step("hosts", "Finding GIMP and Krita", step_hosts),
        Step("venv", "Creating bgone's private Python", step_venv),
        Step("core", "Installing bgone's engine", step_core),
        Step("plugins", "Installing the plug-ins", step_plugins),
        Step("config", "Writing settings", step_config),
        Step("flatpak", "Checking Flatpak permissions", step_flatpak),
        Step("model", "Getting the model", step_model, when=not args.skip_model),
        Step("selftest", "Testing", step_selftest, when=not args.skip_selftest),
    ]
    return [s for s in steps if s.when]


def install(ctx: Ctx) -> int:
    log, steps = ctx.log, plan(ctx.args)
    head = "bgone installer" + (" (dry run: nothing will be changed)" if ctx.dry else "")
    log.say(head)
    if ctx.manifest.exists:
        old = ctx.manifest.data.get("version", "?")
        log.say(f"bgone {old} is installed already: upgrading and repairing it.")
    fail_after = os.environ.get(FAIL_AFTER_ENV)
    n = len(steps)
    for i, step in enumerate(steps, 1):
        log.say(f"\n[{i}/{n}] {step.title}")
        step.fn(ctx)
        if step.key == "hosts" and not ctx.dry and not ctx.args.yes:
            if not _ask(ctx, "\nInstall bgone now?"):
                log.say("Nothing was changed.")
                return 1
        if fail_after == step.key:
            raise InstallError(f"Injected failure after step {step.key!r} ({FAIL_AFTER_ENV}).")
    if not ctx.dry:
        ctx.manifest.data.update(
            version=ctx.version, core_python=ctx.core_python, installed_at=_now(),
            plugins=[str(t.plugin_dir) for t in ctx.installed],
        )
        ctx.manifest.save()
    return 0


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def summary(ctx: Ctx, log_path: Path | None) -> None:
    say = ctx.log.say
    say("\n" + ("Dry run finished: nothing was changed." if ctx.dry else "bgone is installed."))
    rows = [("Engine", f"bgone {ctx.version}: {ctx.core_python}")]
    if ctx.model:
        rows.append(("Model", f"{ctx.model['name']} in {ctx.model['dir']}"))
    for t in ctx.installed:
        rows.append((t.label, str(t.plugin_dir)))
        if t.kritarc:
            rows.append(("", f"enabled in {t.kritarc}"))
    rows.append(("Settings", str(ctx.layout.config_file())))
    rows.append(("Self-test", ctx.selftest))
    if log_path:
        rows.append(("Log", str(log_path)))
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        say(f"  {k:<{width}}  {v}")
    for note in ctx.notes:
        say(f"\n  ! {note}")
    if not ctx.dry and ctx.installed:
        say("\nNext: restart GIMP or Krita.")
        if any(t.app == "gimp" for t in ctx.installed):
            say("  GIMP:  Layer > Transparency > Remove Background...")
        if any(t.app == "krita" for t in ctx.installed):
            say("  Krita: Tools > Remove Background, or Settings > Dockers > Remove Background")
    if not ctx.dry:
        say(f"To remove bgone again: {_self_cmd()} --uninstall")


def _self_cmd() -> str:
    return shlex.join([Path(sys.executable).name, str(Path(__file__).resolve())])


# ---------------------------------------------------------------------------------------------
# Uninstall: replay the manifest backwards


PLUGIN_SETTINGS_SECTION = "bgone"  # where the Krita plug-in keeps its last choices


def ini_drop_section(text: str, section: str) -> str:
    """``text`` without ``[section]`` and its lines (the plug-in's own saved choices)."""
    lines = text.splitlines(keepends=True)
    span = _section_span(lines, section)
    if span is None:
        return text
    start, end = span
    while start > 0 and not lines[start - 1].strip() and (end == len(lines)):
        start -= 1  # a blank line that only separated our trailing section
    return "".join(lines[:start] + lines[end:])


def _undo_record(rec: dict, log: Log, dry: bool) -> str | None:
    """Undo one manifest record; returns a line for the user (None if nothing was there)."""
    t, path = rec["type"], Path(rec.get("path", ""))
    if t == "tree":
        if not path.exists():
            return None
        if not dry:
            _rmtree(path)
        return f"remove {path}"
    if t == "file":
        previous = _unb64(rec.get("previous"))
        if previous is None:
            if not path.exists():
                return None
            if not dry:
                path.unlink()
            return f"remove {path}"
        if not dry:
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, previous)
        return f"restore {path}"
    if t == "ini":
        raw = _read_bytes(path)
        if raw is None:
            return None
        text = raw.decode("utf-8", "surrogateescape")
        new = ini_unset(text, rec["section"], rec["key"], rec)
        if rec["key"] == KRITARC_KEY:  # the plug-in's saved choices go with it
            new = ini_drop_section(new, PLUGIN_SETTINGS_SECTION)
        if new == text:
            return None
        if not dry:
            if rec.get("file_created") and not new.strip():
                path.unlink()
            else:
                _atomic_write(path, new.encode("utf-8", "surrogateescape"))
        return f"remove {rec['key']} from {path}"
    if t == "flatpak_override":
        cmd = flatpak_override_cmd(rec["app"], revoke=True)
        if not dry:
            try:
                subprocess.run(cmd, capture_output=True, timeout=60, check=True)
            except (OSError, subprocess.SubprocessError) as e:
                return f"could not revoke {rec['app']}'s permission ({e}); run: {shlex.join(cmd)}"
        return f"revoke {rec['app']}'s permission to start programs outside its sandbox"
    if t == "dir":
        if dry:
            return f"remove folder {path} (if empty)" if path.is_dir() else None
        return f"remove folder {path}" if path.is_dir() and _rmdir_if_empty(path) else None
    log.detail(f"unknown manifest record {rec}")
    return None


def _tense(line: str, dry: bool) -> str:
    """"remove X" -> "would remove X" (dry run) or "removed X"."""
    if dry:
        return "would " + line
    verb, _, rest = line.partition(" ")
    done = {"remove": "removed", "restore": "restored", "revoke": "revoked"}.get(verb)
    return f"{done} {rest}" if done else line


def uninstall(ctx: Ctx) -> int:
    log, dry = ctx.log, ctx.dry
    m = ctx.manifest
    log.say("bgone uninstaller" + (" (dry run: nothing will be changed)" if dry else ""))
    if not m.exists:
        log.say(f"bgone is not installed for this user (no {m.path}). Nothing to do.")
        return 0
    records = list(m.records)
    log.say(f"Removing bgone {m.data.get('version', '?')} (installed {m.data.get('installed_at', '?')})")
    if not dry and not ctx.args.yes and not _ask(ctx, "Remove it?"):
        log.say("Nothing was changed.")
        return 1
    problems = []
    dirs = [r for r in records if r["type"] == "dir"]
    others = [r for r in records if r["type"] != "dir" and r.get("path") != str(m.path)]
    for rec in reversed(others):
        try:
            line = _undo_record(rec, log, dry)
        except OSError as e:
            line = None
            problems.append(f"{rec.get('path')}: {e}")
        if line:
            log.say("  " + _tense(line, dry))
    if not dry:
        m.path.unlink(missing_ok=True)
    for rec in sorted(dirs, key=lambda r: len(Path(r["path"]).parts), reverse=True):
        line = _undo_record(rec, log, dry)
        if line:
            log.detail(_tense(line, dry))
    if problems:
        log.say("\nSome things could not be removed:")
        for p in problems:
            log.say("  " + p)
        return 1
    log.say("\n" + ("Dry run finished: nothing was changed." if dry else "bgone has been removed."))
    return 0


# ---------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="install.py",
        description="Install bgone (local background removal) for GIMP 3 and Krita 5.",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask anything (unattended)")
    p.add_argument("--dry-run", action="store_true", help="show what would be done, change nothing")
    p.add_argument("--uninstall", action="store_true",
                   help="remove everything the installer put anywhere, and nothing else")
    p.add_argument("--python", metavar="PY", help=f"the Python {PY_RANGE} to build bgone's environment from")
    p.add_argument("--from-pypi", action="store_true", help="install the engine from PyPI")
    p.add_argument("--source", metavar="DIR_OR_WHEEL", help="install the engine from this folder or wheel")
    p.add_argument("--model", metavar="NAME", help="the model to install (default: the default model)")
    p.add_argument("--model-file", metavar="FILE",
                   help="install a model file downloaded elsewhere (offline machines)")
    p.add_argument("--gimp-profile", metavar="DIR", action="append", default=[],
                   help="also install into this GIMP 3 profile folder (repeatable)")
    p.add_argument("--krita-dir", metavar="DIR", action="append", default=[],
                   help="also install into this Krita resource folder (repeatable)")
    p.add_argument("--kritarc", metavar="FILE", help="the kritarc that goes with --krita-dir")
    p.add_argument("--no-gimp", action="store_true", help="do not look for GIMP")
    p.add_argument("--no-krita", action="store_true", help="do not look for Krita")
    p.add_argument("--flatpak-grant", action="store_true",
                   help="let Flatpak GIMP/Krita start bgone's engine without asking")
    dev = p.add_argument_group("developers and tests")
    dev.add_argument("--venv", metavar="DIR", help="the virtual environment to use (default: in the data folder)")
    dev.add_argument("--no-venv", action="store_true",
                     help="use --python as it is (it must already have bgone installed)")
    dev.add_argument("--data-dir", metavar="DIR", help=argparse.SUPPRESS)
    dev.add_argument("--platform", choices=("linux", "macos", "windows"), help=argparse.SUPPRESS)
    dev.add_argument("--skip-model", action="store_true", help="do not download a model")
    dev.add_argument("--skip-selftest", action="store_true", help="do not run the self-test")
    dev.add_argument("--allow-root", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.no_venv and not args.python:
        p.error("--no-venv needs --python (a Python that has bgone installed)")
    if args.no_venv and args.venv:
        p.error("--no-venv and --venv exclude each other")
    if args.model_file and not Path(args.model_file).is_file():
        p.error(f"--model-file {args.model_file}: no such file")
    if args.model_file:
        args.model_file = str(Path(args.model_file).expanduser().absolute())
    return args


def main(argv: list[str] | None = None) -> int:
    if sys.version_info < MIN_PY:
        print(f"This installer needs Python {PY_RANGE}; this is {sys.version.split()[0]}.",
              file=sys.stderr)
        return 2
    args = parse_args(argv)
    if (hasattr(os, "geteuid") and os.geteuid() == 0 and os.environ.get("SUDO_USER")
            and not args.allow_root):
        print("Please run the installer as yourself, without sudo: it installs bgone for your "
              "user only.", file=sys.stderr)
        return 2
    _STATE["dry_run"] = args.dry_run
    layout = Layout(args.platform)
    log_path = None
    if not args.dry_run:
        fd, name = tempfile.mkstemp(prefix="bgone-install-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    log = Log(log_path)
    log.detail(f"{_self_cmd()} {shlex.join(argv if argv is not None else sys.argv[1:])}")
    log.detail(f"python {sys.version} on {sys.platform}; layout {layout.system}; home {layout.home}")
    ctx = Ctx(args, layout, log)
    code = 1
    try:
        if args.uninstall:
            code = uninstall(ctx)
            log.close()
            if code == 0 and log_path:
                log_path.unlink(missing_ok=True)
            elif log_path:
                print(f"Log: {log_path}")
            return code
        code = install(ctx)
        if code == 0 and not args.dry_run:
            kept = _keep_log(ctx, log_path)
            ctx.txn.commit()
            summary(ctx, kept)
            log.close()
            if kept and log_path and kept != log_path:
                shutil.copyfile(log_path, kept)
                log_path.unlink(missing_ok=True)
        elif code == 0:
            summary(ctx, None)
        else:
            ctx.txn.rollback()
            log.close()
            if log_path:
                log_path.unlink(missing_ok=True)
        return code
    except (InstallError, Exception, KeyboardInterrupt) as e:
        if isinstance(e, InstallError):
            msg, hint, code = e.message, e.hint, e.code
        elif isinstance(e, KeyboardInterrupt):
            msg, hint, code = "Interrupted.", "", 130
        else:
            msg, hint, code = f"Unexpected error: {e!r}", "Please report it with the log file.", 1
        log.detail(traceback.format_exc())
        log.say(f"\nERROR: {msg}")
        if hint:
            log.say(hint)
        if not args.uninstall and not args.dry_run:
            problems = ctx.txn.rollback()
            if problems:
                log.say("The changes made so far could NOT all be undone:")
                for p in problems:
                    log.say("  " + p)
            else:
                log.say("Everything this run changed has been undone.")
        log.close()
        if log_path:
            print(f"The details are in the log file: {log_path}", file=sys.stderr)
        return code


def _keep_log(ctx: Ctx, log_path: Path | None) -> Path | None:
    """Where the log of a successful install stays (tracked, so --uninstall removes it)."""
    if log_path is None:
        return None
    logs = ctx.data_dir / "logs"
    ctx.txn.mkdirs(logs)
    ctx.txn.record({"type": "tree", "path": str(logs)})
    ctx.manifest.save()
    stem = f"install-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = logs / f"{stem}.log", 1
    while path.exists():
        n += 1
        path = logs / f"{stem}-{n}.log"
    return path


if __name__ == "__main__":
    sys.exit(main())

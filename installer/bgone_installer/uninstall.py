"""Uninstall: replay the manifest backwards, with the copy of the installer that the install
keeps in bgone's data folder, so that it works after the download is deleted."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from . import APP, GIMP_PROCEDURES, KRITARC_KEY, PLUGIN_SETTINGS_SECTION, winpath
from .console import Log, ask
from .ini import ini_drop_section, ini_unset
from .layout import Layout
from .steps import Ctx
from .txn import _atomic_write, _read_bytes, _rmdir_if_empty, _rmtree, _unb64, flatpak_override_cmd

COPY = "installer"  # in bgone's data folder: the installer kept for --uninstall
HERE = Path(__file__).resolve().parent.parent  # the folder install.py is in
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
LAUNCHERS = ("install.py", "install.sh", "install.command", "install.bat", "install.ps1")


def keep_copy(ctx: Ctx) -> None:
    """Copy the installer (standard library only, about 200 kB: its package, launchers and the
    plug-ins' client package it imports) into bgone's data folder, as one tree the manifest
    records; the summary prints the command that runs it with --uninstall."""
    dst = ctx.data_dir / COPY
    if ctx.dry:
        ctx.txn.would(f"keep a copy of the installer in {dst} (for --uninstall)")
        return
    if HERE == dst.resolve():  # this run is that copy (a repair with --from-pypi): keep it
        ctx.txn.own({"type": "tree", "path": str(dst)})
        return
    client = ctx.client_src or ctx.src / "core" / "bgone_client"
    extra = {name: (HERE / name).read_bytes() for name in LAUNCHERS if (HERE / name).is_file()}
    ctx.txn.copy_tree(None, dst, modes={name: 0o755 for name in LAUNCHERS[:3]}, extra=extra,
                      trees={"bgone_installer": HERE / "bgone_installer", "core/bgone_client": client})


def uninstall_command(layout: Layout, data_dir: Path, python: str) -> str:
    """The command that removes bgone with the kept copy, in the system's own terms: the
    launcher the README names on Linux and macOS, the Python the install used on Windows (a
    batch file that deletes itself cannot finish)."""
    copy = data_dir / COPY
    if layout.system == "windows":
        script = copy / "install.py"
        return f'"{python}" "{script}" --uninstall'
    launcher = "install.command" if layout.system == "macos" else "install.sh"
    return shlex.join(["sh", str(copy / launcher), "--uninstall"])


def _undo_record(rec: dict, log: Log, dry: bool) -> str | None:
    """Undo one manifest record; returns a line for the user (None if nothing was there)."""
    t, path = rec["type"], Path(rec.get("path", ""))
    if t == "tree":
        if not path.exists():
            return None
        if not dry:
            _rmtree(path)
        return f"remove {path}"
    if t == "model_cache":
        if not path.is_dir():
            return None
        if APP not in path.parts:  # BGONE_MODEL_DIR pointed elsewhere: only bgone's own files
            files = [f for f in path.iterdir() if f.is_file() and (
                f.name == "custom-models.json" or f.name.endswith((".onnx", ".part", ".lock", ".verified")))]
            if not dry:
                for f in files:
                    f.unlink()
            return f"remove bgone's models from {path}" if files else None
        if not dry:
            _rmtree(path)
            if path.parent.name == APP:
                _rmdir_if_empty(path.parent)
        return f"remove {path}"
    if t == "file":
        previous = _unb64(rec.get("previous"))
        if previous is None:
            # a database bgone's runs created (onnxruntime's): SQLite's files beside it too
            files = [path, *(path.with_name(path.name + s) for s in SQLITE_SIDECARS
                             if path.suffix == ".db")]
            files = [f for f in files if f.exists()]
            if not dry:
                for f in files:
                    f.unlink()
            return f"remove {', '.join(map(str, files))}" if files else None
        if not dry:
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, previous)
        return f"restore {path}"
    if t == "gimp_settings":  # GIMP's memory of our dialogs (GimpProcedureConfigRun-plug-in-bgone-...)
        files = sorted(f for f in path.glob(f"*{GIMP_PROCEDURES}*") if f.is_file()) if path.is_dir() else []
        if not dry:
            for f in files:
                f.unlink()
        return f"remove GIMP's last values for bgone from {path}" if files else None
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
    if t == "user_path":
        if not winpath.available():
            return f"take {path} off your PATH by hand (Windows settings)"
        old = winpath.read_user_path()
        new = winpath.path_without(old, str(path))
        if new == old:
            return None
        if not dry:
            winpath.write_user_path(new)
        return f"remove {path} from your PATH"
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


def disk_use(path: Path) -> int:
    """Bytes in ``path`` (a file or a whole folder; links not followed)."""
    try:
        if path.is_symlink() or path.is_file():
            return path.lstat().st_size
        return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    except OSError:
        return 0


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _within(path: str, folder: str) -> bool:
    return Path(path) == Path(folder) or Path(folder) in Path(path).parents


def uninstall(ctx: Ctx) -> int:
    log, dry = ctx.log, ctx.dry
    m = ctx.manifest
    log.say("bgone uninstaller" + (" (dry run: nothing will be changed)" if dry else ""))
    if not m.exists:
        log.say(f"bgone is not installed for this user (no {m.path}). Nothing to do.")
        return 0
    records = list(m.records)
    log.say(f"Removing bgone {m.data.get('version', '?')} (installed {m.data.get('installed_at', '?')})")
    caches = [r["path"] for r in records if r["type"] == "model_cache" and Path(r["path"]).is_dir()]
    for folder in caches:
        size = _size(disk_use(Path(folder)))
        if ctx.args.keep_models:
            log.say(f"  The models in {folder} ({size}) are kept (--keep-models).")
        else:
            log.say(f"  This includes the models in {folder} ({size}); --keep-models keeps them.")
    if not dry and not ctx.args.yes and not ask(ctx.log, "Remove it?"):
        log.say("Nothing was changed.")
        return 1
    if ctx.args.keep_models:
        records = [r for r in records if r["type"] != "model_cache"
                   and not (r["type"] == "file" and any(_within(r["path"], c) for c in caches))]
    problems = []
    freed = 0
    dirs = [r for r in records if r["type"] == "dir"]
    others = [r for r in records if r["type"] != "dir" and r.get("path") != str(m.path)]
    # the kept installer, which may be what runs now, goes last (undone backwards: first here)
    others.sort(key=lambda r: r.get("path") != str(m.path.parent / COPY))
    for rec in reversed(others):
        before = disk_use(Path(rec["path"])) if rec.get("path") else 0
        try:
            line = _undo_record(rec, log, dry)
        except OSError as e:
            line = None
            problems.append(f"{rec.get('path')}: {e}")
        if line:
            log.say("  " + _tense(line, dry))
            after = disk_use(Path(rec["path"])) if rec.get("path") and not dry else 0
            freed += max(0, before - after)
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
    if dry:
        log.say(f"\nDry run finished: nothing was changed (it would free {_size(freed)}).")
    else:
        log.say(f"\nbgone has been removed; {_size(freed)} freed.")
    return 0

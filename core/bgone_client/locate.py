"""Finding the Python that has bgone's core installed, and the environment to start it in."""

from __future__ import annotations

import json
import os
import sys

from .errors import REINSTALL_HINT, ClientError

# Environment variables a host application sets for its *own* embedded Python; inherited by the
# core's Python they break it (PYTHONHOME/PYTHONPATH of an AppImage or of GIMP on Windows make a
# venv import the host's stdlib; __PYVENV_LAUNCHER__ on macOS points sys.executable elsewhere).
# Anything else (HOME, PATH, proxies, SYSTEMROOT, TEMP, BGONE_*, CUDA settings...) is kept:
# GI_*/GIO_*/GDK_*/QT_* only matter to GTK/Qt, which the core never loads.
_DROP_EXACT = ("__PYVENV_LAUNCHER__", "LD_PRELOAD")
_DROP_PREFIXES = ("PYTHON",)
_KEEP = ("PYTHONUTF8",)
# Path lists that may point into a bundled host (AppImage): entries under $APPDIR are removed.
_PATH_LISTS = ("PATH", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "DYLD_FALLBACK_LIBRARY_PATH")




def user_config_dir() -> str:
    """The per-user folder the installer writes config.json into."""
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or os.path.join(
            os.path.expanduser("~"), "AppData", "Roaming"
        )
        return os.path.join(base, "bgone")
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~"), "Library", "Application Support", "bgone")
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "bgone")


def _config_candidates(plugin_dir: str | None) -> list[str]:
    paths = []
    if plugin_dir:
        paths.append(os.path.join(plugin_dir, "bgone_config.json"))
    paths.append(os.path.join(user_config_dir(), "config.json"))
    if sys.platform not in ("win32", "darwin"):
        # Inside a Flatpak sandbox XDG_CONFIG_HOME is remapped; the real one may still be visible.
        plain = os.path.join(os.path.expanduser("~"), ".config", "bgone", "config.json")
        if plain not in paths:
            paths.append(plain)
    return paths


def usable(python: str) -> bool:
    if not os.path.isfile(python):
        return False
    return sys.platform == "win32" or os.access(python, os.X_OK)


def locate(plugin_dir: str | None) -> tuple[str, list[str], str]:
    """(python, command prefix, where it was found). BGONE_PYTHON > bgone_config.json next to the
    plug-in > the user config.json; the first config naming a usable Python wins."""
    env = os.environ.get("BGONE_PYTHON")
    if env:
        if not usable(env):
            raise ClientError(
                "core_missing",
                f"BGONE_PYTHON is set to {env}, but no runnable Python is there.",
                "Fix or unset the BGONE_PYTHON environment variable.",
            )
        return env, [], "BGONE_PYTHON"
    problems = []
    for path in _config_candidates(plugin_dir):
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            python = doc["python"]
            if not isinstance(python, str) or not python:
                raise ValueError("'python' is not a path")
        except (OSError, ValueError, KeyError, TypeError) as e:
            problems.append(f"{path} is unreadable ({e})")
            continue
        if doc.get("flatpak_spawn") is True:
            # The path lives outside the sandbox: it cannot be checked from in here.
            return python, ["flatpak-spawn", "--host", "--watch-bus"], path
        if usable(python):
            return python, [], path
        problems.append(f"{path} names {python}, which does not exist or cannot run")
    if problems:
        raise ClientError(
            "core_missing",
            "bgone's engine was not found where its settings say: " + "; ".join(problems) + ".",
            REINSTALL_HINT,
        )
    raise ClientError(
        "core_missing",
        "bgone's engine is not installed, or this plug-in cannot find it.",
        REINSTALL_HINT + " (Developers: set BGONE_PYTHON to a Python that has bgone installed.)",
    )


def find_core_python(plugin_dir: str | None = None) -> str:
    """Path of the Python that has the bgone core installed, or ClientError(kind="core_missing")."""
    return locate(plugin_dir)[0]


def clean_env(base: dict | None = None) -> dict:
    """The host's environment minus what would make the core's Python load the host's files."""
    env = dict(os.environ if base is None else base)
    appdir = env.get("APPDIR") if env.get("APPIMAGE") or env.get("APPDIR") else None
    for key in list(env):
        upper = key.upper()
        if upper in _KEEP:
            continue
        if upper in _DROP_EXACT or upper.startswith(_DROP_PREFIXES):
            del env[key]
    if appdir:
        root = os.path.normcase(os.path.abspath(appdir))
        for key in _PATH_LISTS:
            if key in env:
                parts = [
                    p
                    for p in env[key].split(os.pathsep)
                    if p and not os.path.normcase(os.path.abspath(p)).startswith(root)
                ]
                if parts:
                    env[key] = os.pathsep.join(parts)
                else:
                    del env[key]
    env["PYTHONIOENCODING"] = "utf-8:backslashreplace"  # stderr lines we can always decode
    return env

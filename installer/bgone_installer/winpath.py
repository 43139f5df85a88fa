"""The user's PATH on Windows (HKCU\\Environment), where the folder of the ``bgone`` command is
added; the text edits are pure, the registry access is in two small functions."""

from __future__ import annotations

import sys

KEY = "Environment"
NAME = "Path"


def _norm(entry: str) -> str:
    return entry.strip().rstrip("\\/").lower()


def path_with(value: str, folder: str) -> str:
    """``value`` (a ``;``-separated PATH) with ``folder`` at its end, once."""
    entries = [e for e in value.split(";") if e.strip()]
    if any(_norm(e) == _norm(folder) for e in entries):
        return value
    return ";".join([*entries, folder])


def path_without(value: str, folder: str) -> str:
    """``value`` without ``folder``; everything else as it was."""
    entries = value.split(";")
    kept = [e for e in entries if _norm(e) != _norm(folder) or not e.strip()]
    return ";".join(kept).strip(";") if len(kept) != len(entries) else value


def available() -> bool:
    return sys.platform == "win32"


def read_user_path() -> str:
    import winreg

    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, KEY) as key:
        try:
            return str(winreg.QueryValueEx(key, NAME)[0])
        except FileNotFoundError:
            return ""


def write_user_path(value: str) -> None:
    """Store the user's PATH and tell running programs (Explorer) that it changed, so that new
    terminals see it."""
    import ctypes
    import winreg

    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, KEY, 0, winreg.KEY_SET_VALUE) as key:
        winreg.SetValueEx(key, NAME, 0, winreg.REG_EXPAND_SZ, value)
    HWND_BROADCAST, WM_SETTINGCHANGE, SMTO_ABORTIFHUNG = 0xFFFF, 0x1A, 0x2
    ctypes.windll.user32.SendMessageTimeoutW(HWND_BROADCAST, WM_SETTINGCHANGE, 0, KEY,
                                             SMTO_ABORTIFHUNG, 5000, None)

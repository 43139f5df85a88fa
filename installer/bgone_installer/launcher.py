"""The ``bgone`` command: a small launcher in the user's bin folder that runs bgone's engine, so
that ``bgone remove photo.jpg`` works in any terminal."""

from __future__ import annotations

import os
from pathlib import Path

from . import APP
from .steps import Ctx

MARK = "written by the bgone installer"  # how a later run knows the file is its own


def script(system: str, python: str) -> tuple[str, bytes]:
    """(file name, content) of the launcher for ``system``."""
    if system == "windows":
        text = f'@echo off\r\nrem bgone: {MARK}; --uninstall removes it\r\n"{python}" -m {APP} %*\r\n'
        return f"{APP}.cmd", text.encode("utf-8")
    quoted = "'" + python.replace("'", "'\\''") + "'"
    text = f'#!/bin/sh\n# bgone: {MARK}; --uninstall removes it\nexec {quoted} -m {APP} "$@"\n'
    return APP, text.encode("utf-8")


def on_path(folder: Path, path_value: str) -> bool:
    want = os.path.normcase(os.path.abspath(folder))
    return any(os.path.normcase(os.path.abspath(os.path.expanduser(p))) == want
               for p in path_value.split(os.pathsep) if p)


def step_command(ctx: Ctx) -> None:
    lay = ctx.layout
    folder = lay.bin_dir()
    name, data = script(lay.system, ctx.core_python or "")
    path = folder / name
    if path.exists() and MARK.encode() not in path.read_bytes():
        ctx.log.say(f"    {path} exists and is not bgone's: left as it is.")
        ctx.notes.append(f"{path} was there before and was left alone; bgone's own command is "
                         f"{ctx.core_python} -m {APP}")
        return
    ctx.txn.write_file(path, data, 0o755, what="command")
    ctx.command = path
    ctx.log.say(f"    {path}")
    if on_path(folder, lay.env.get("PATH", "")):
        ctx.command_note = "on your PATH"
        ctx.log.say(f"    {folder} is on your PATH: type  {APP} --help  in a new terminal.")
    elif lay.system == "windows":
        if ctx.txn.add_to_user_path(folder):
            ctx.command_note = "added to your PATH"
            ctx.log.say(f"    Added {folder} to your PATH: open a new terminal and type  {APP} --help")
        else:
            ctx.command_note = "not on your PATH"
            ctx.notes.append(f"Add {folder} to your PATH to use the {APP} command.")
    else:
        ctx.command_note = "not on your PATH yet"
        ctx.log.say(f"    {folder} is not on your PATH in this terminal.")
        ctx.notes.append(
            f"To type {APP} in a terminal, {folder} must be on your PATH. Many Linux systems add "
            f"it when you next log in; otherwise add this line to ~/.profile (macOS: ~/.zprofile):"
            f'  export PATH="$HOME/.local/bin:$PATH"   Until then: {path}')

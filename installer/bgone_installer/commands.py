"""Running other programs (pip, the venv's Python, flatpak) with their output logged."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time

from bgone_client import locate

from . import InstallError
from .console import Elapsed, Log, console_width, trim

_STATE = {"dry_run": False}
LIVE_END = len(" done in 999 s")  # room a live line keeps for its seconds counter


class Wait(str):
    """A line ``show`` returns for a slow, silent stretch of the command (pip unpacking its
    wheels): it is shown with live seconds after it until the command's next line, so that the
    quiet does not look like a hang."""


def clean_env() -> dict:
    """The environment the plug-ins start bgone's Python in (the client's one rule), for every
    Python the installer runs."""
    env = locate.clean_env()
    env.pop("VIRTUAL_ENV", None)  # the installer's own venv, if it runs in one
    if _STATE["dry_run"]:
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # even the probes must not write __pycache__
    return env


def run_cmd(log: Log, argv: list[str], *, show=None, tty_passthrough: bool = False,
            timeout: float | None = None) -> str:
    """Run a command, logging its output. ``show(line)`` decides which lines the user sees (and
    may return a shorter text for one, or a ``Wait``);
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
    live: Elapsed | None = None
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if live:  # the command spoke again: the slow stretch is over
                live.__exit__(None, None, None)
                live = None
            line = line.rstrip("\r\n")
            lines.append(line)
            log.detail(line)
            shown = show(line) if show else None
            if isinstance(shown, Wait):
                text = trim("    " + shown, console_width() - LIVE_END)
                live = Elapsed(log, text if text.endswith("...") else text + "...")
                live.__enter__()
            elif shown:  # True: the line as it is; a string: the line as ``show`` put it
                text = shown if isinstance(shown, str) else line
                log.say(trim("    " + text.split("\r")[-1], console_width()))
            if deadline and time.monotonic() > deadline:
                proc.kill()
                break
    finally:
        if live:
            live.__exit__(None, None, None)
    rc = proc.wait()
    out = "\n".join(lines)
    if rc != 0:
        tail = "\n".join("      " + t for t in lines[-15:])
        raise InstallError(f"This command failed (exit status {rc}):\n    {shlex.join(map(str, argv))}"
                           + (f"\n  Its last output:\n{tail}" if tail else ""))
    return out

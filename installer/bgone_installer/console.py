"""What the user sees (the console) and what support sees (the log file)."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from pathlib import Path

WIDTH = 100  # the longest console line, when the terminal's width is not known


def trim(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters at a word boundary, with "..." when it was cut."""
    text = text.rstrip()
    if len(text) <= width:
        return text
    cut = text[: width - 3]
    space = cut.rfind(" ")
    if space > width // 2:
        cut = cut[:space]
    else:  # one long word (a file name): cut where its parts meet
        part = max(cut.rfind(c) for c in "-_/.")
        if part > width // 2:
            cut = cut[:part]
    return cut.rstrip(" ,;:") + "..."


def console_width() -> int:
    return max(40, min(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns - 1))


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


class Elapsed:
    """A live "... 37 s" after ``text`` while something slow runs, so that a long quiet wait
    does not look like a hang. On a terminal the line is redrawn every second; elsewhere (a log
    being piped) one line is printed at the start and one at the end."""

    def __init__(self, log: Log, text: str, interval: float = 1.0) -> None:
        self.log = log
        self.text = text
        self.interval = interval
        self.tty = not log.quiet and sys.stdout.isatty()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0 = 0.0

    def _draw(self) -> None:
        while not self._stop.wait(self.interval):
            sys.stdout.write(f"\r{self.text} {time.monotonic() - self.t0:.0f} s ")
            sys.stdout.flush()

    def __enter__(self) -> Elapsed:
        self.t0 = time.monotonic()
        self.log.detail(self.text)
        if self.tty:
            sys.stdout.write(f"{self.text} 0 s ")
            sys.stdout.flush()
            self._thread = threading.Thread(target=self._draw, daemon=True)
            self._thread.start()
        elif not self.log.quiet:
            print(self.text, flush=True)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        took = time.monotonic() - self.t0
        end = "done" if exc_type is None else "stopped"
        if self.tty:
            sys.stdout.write(f"\r{self.text} {end} in {took:.0f} s\n")
            sys.stdout.flush()
        elif not self.log.quiet:
            print(f"{self.text.rstrip('.: ')}: {end} in {took:.0f} s", flush=True)
        self.log.detail(f"{self.text} {end} in {took:.1f} s")


def ask(log: Log, question: str, default: bool = True) -> bool:
    """A yes/no question; ``default`` without a terminal to ask on."""
    if not sys.stdin or not sys.stdin.isatty():
        return default
    hint = "[Y/n]" if default else "[y/N]"
    try:
        answer = input(f"{question} {hint} ").strip().lower()
    except EOFError:
        return default
    log.detail(f"{question} -> {answer!r}")
    if not answer:
        return default
    return answer in ("y", "yes")

"""A dependency-free progress bar for the terminal (stderr), quiet when not a terminal except
for a few milestone lines, so logs of scripted runs stay readable."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Bar:
    def __init__(self, label: str, total: float | None = 1.0, unit: str = "", stream: TextIO | None = None) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0
        self._last_decile = -1
        self.done = 0.0

    def _fmt(self, v: float) -> str:
        if self.unit == "B":
            return f"{v / 1e6:.1f} MB"
        return f"{v:g}{self.unit}"

    def update(self, done: float, total: float | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        frac = done / self.total if self.total else None
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw < 0.1 and (frac is None or frac < 1):
                return
            self._last_draw = now
            if frac is None:
                line = f"{self.label}: {self._fmt(done)}"
            else:
                n = int(frac * 30)
                line = f"{self.label} [{'#' * n}{'.' * (30 - n)}] {frac * 100:5.1f}%"
                if self.unit:
                    line += f" {self._fmt(done)}/{self._fmt(self.total)}"
            self.stream.write("\r" + line + "\x1b[K")
            self.stream.flush()
        elif frac is not None and int(frac * 10) > self._last_decile:
            self._last_decile = int(frac * 10)
            self.stream.write(f"{self.label}: {frac * 100:.0f}%\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

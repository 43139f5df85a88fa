"""The one exception the client raises: ``kind`` for code, message and hint for people."""

from __future__ import annotations

REINSTALL_HINT = "Run the bgone installer again; it records where bgone's engine is installed."
VERSION_MISMATCH_HINT = (
    "The plug-in and bgone's engine come from different bgone releases. Please run the bgone "
    "installer again: it updates both together."
)


class ClientError(Exception):
    """A failure talking to the bgone worker: ``kind`` for code, ``message`` and ``hint`` for
    people. ``details`` holds extra diagnostics (e.g. the worker's last stderr lines)."""

    def __init__(self, kind: str, message: str, hint: str = "", details: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message

    def __repr__(self) -> str:
        return f"ClientError({self.kind!r}, {self.message!r}, {self.hint!r})"

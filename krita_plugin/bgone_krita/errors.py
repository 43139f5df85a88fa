"""The one exception a user or a script sees, and the translation of everything else into it."""

from __future__ import annotations


class RemoveBackgroundError(Exception):
    """What went wrong (message) and what to do about it (hint); ``kind`` is for code.

    str() is what the status line and a Scripter traceback show: the message, then the hint.
    """

    def __init__(self, message: str, hint: str = "", kind: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


def as_error(exc: BaseException) -> RemoveBackgroundError:
    """Keeps our errors and the client's ClientError words (kind/message/hint); anything else is
    a bug in the plug-in, reported as such instead of a bare traceback."""
    if isinstance(exc, RemoveBackgroundError):
        return exc
    kind = getattr(exc, "kind", None)
    if isinstance(kind, str):
        message = getattr(exc, "message", "") or str(exc)
        return RemoveBackgroundError(message, getattr(exc, "hint", "") or "", kind=kind)
    return RemoveBackgroundError(
        f"Unexpected error in the bgone plug-in: {type(exc).__name__}: {exc}",
        "Nothing was changed. Please report this with the steps that led to it.",
        kind="internal",
    )

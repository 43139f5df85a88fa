"""One error type with a machine-readable kind, a plain message and what to do next.

The worker sends these three fields to the host plug-ins, so every failure a user can meet
must be a BgoneError (never a bare traceback).
"""

from __future__ import annotations


class BgoneError(Exception):
    """A failure a user can understand: ``kind`` for code, ``message`` and ``hint`` for people."""

    kind = "error"

    def __init__(self, message: str, hint: str = "", *, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if kind is not None:
            self.kind = kind

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "hint": self.hint}


class UnknownModel(BgoneError):
    kind = "unknown_model"


class ModelNotInstalled(BgoneError):
    kind = "model_missing"


class ModelCorrupt(BgoneError):
    """The file exists but is not the model we expect (checksum, truncation, not ONNX)."""

    kind = "model_corrupt"


class DownloadError(BgoneError):
    kind = "download_failed"


class ChecksumMismatch(ModelCorrupt):
    kind = "checksum_mismatch"


class ImageError(BgoneError):
    """Unreadable, empty, unsupported or too large input."""

    kind = "bad_image"


class Cancelled(BgoneError):
    kind = "cancelled"

    def __init__(self, message: str = "Cancelled.", hint: str = "") -> None:
        super().__init__(message, hint)

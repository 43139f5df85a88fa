"""The worker protocol (docs/protocol.md): message builders and request checks.

Each message is one UTF-8 JSON object on one line ending in ``\\n``; if the object has
``"payload": N``, exactly N raw bytes follow that newline. bgone writes compact, ASCII-only JSON
with keys in insertion order and ``payload`` last; readers must accept any valid JSON object.

The framing itself (limits, encode/read/write, ProtocolError) is implemented once, in client.py:
that file must stay a single stdlib module the host plug-ins copy, so the worker imports it from
there rather than keeping a second copy in step.
"""

from __future__ import annotations

from typing import Any

from .client import (  # noqa: F401  (re-exported: the worker's framing)
    MAX_HEADER_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_PIXELS,
    MAX_SIDE,
    OUTPUTS,
    PROTOCOL_VERSION,
    ProtocolError,
    encode_header,
    encode_message,
    read_message,
    write_message,
)
from .errors import BgoneError, ImageError

# Request types (host -> worker) and reply types (worker -> host).
REQUESTS = ("models", "remove", "cancel", "shutdown")
REPLIES = ("hello", "models", "progress", "result", "error")


# --------------------------------------------------------------------------------------------
# Messages


def hello(version: str, pid: int) -> dict[str, Any]:
    return {"type": "hello", "protocol": PROTOCOL_VERSION, "version": version, "pid": pid}


def error(rid: Any, kind: str, message: str, hint: str = "") -> dict[str, Any]:
    return {"type": "error", "id": rid, "kind": kind, "message": message, "hint": hint}


def progress(rid: Any, stage: str, fraction: float, message: str) -> dict[str, Any]:
    return {
        "type": "progress",
        "id": rid,
        "stage": stage,
        "fraction": round(min(1.0, max(0.0, float(fraction))), 4),
        "message": message,
    }


def result(rid: Any, width: int, height: int, output: str) -> dict[str, Any]:
    return {"type": "result", "id": rid, "width": width, "height": height, "output": output}


def valid_id(rid: Any) -> bool:
    """Request ids are chosen by the host: an integer or a string (echoed back verbatim)."""
    return (isinstance(rid, int) and not isinstance(rid, bool)) or isinstance(rid, str)


class RemoveRequest:
    """A checked ``remove`` request."""

    __slots__ = ("id", "width", "height", "stride", "model", "refine", "output")

    def __init__(self, rid: Any, width: int, height: int, stride: int, model: str | None,
                 refine: str | None, output: str) -> None:  # fmt: skip
        self.id = rid
        self.width = width
        self.height = height
        self.stride = stride
        self.model = model
        self.refine = refine
        self.output = output


def _bad_argument(message: str, hint: str) -> BgoneError:
    return BgoneError(message, hint, kind="bad_argument")


def check_remove(msg: dict[str, Any], payload: bytes | None) -> RemoveRequest:
    """The fields of a remove request, or ImageError (kind bad_image) for impossible sizes and
    BgoneError(kind="bad_argument") for wrong option values."""
    dims = {}
    for name in ("width", "height", "stride"):
        v = msg.get(name)
        if name == "stride" and v is None:
            v = msg.get("width", 0) * 4 if isinstance(msg.get("width"), int) else v
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ImageError(
                f"The image {name} must be a positive whole number, not {v!r}.",
                "This is a bug in the plug-in; please report it.",
            )
        dims[name] = v
    w, h, stride = dims["width"], dims["height"], dims["stride"]
    if w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
        raise ImageError(
            f"The image is {w}x{h} ({w * h / 1e6:.0f} megapixels), more than bgone handles.",
            f"Scale it below {MAX_PIXELS // 1_000_000} megapixels and {MAX_SIDE} pixels a side first.",
        )
    if stride < w * 4:
        raise ImageError(
            f"Row stride {stride} is shorter than a row of {w} RGBA pixels ({w * 4} bytes).",
            "This is a bug in the plug-in; please report it.",
        )
    got = -1 if payload is None else len(payload)
    if got != stride * h:
        raise ImageError(
            f"Got {max(got, 0)} bytes of pixels for a {w}x{h} image with {stride}-byte rows "
            f"(expected {stride * h}).",
            "The layer must be 8-bit RGBA; this is a bug in the plug-in, please report it.",
        )
    model = msg.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise _bad_argument(
            f"Model name {model!r} is not a name.", "Leave it out to use the default model."
        )
    refine = msg.get("refine")
    if refine is not None and not isinstance(refine, str):
        raise _bad_argument(
            f"Refinement level {refine!r} is not a name.", "Use none, fast or best."
        )
    output = msg.get("output", "alpha")
    if output not in OUTPUTS:
        raise _bad_argument(f"Unknown output {output!r}.", "Use 'alpha' or 'rgba'.")
    return RemoveRequest(msg.get("id"), w, h, stride, model, refine, output)

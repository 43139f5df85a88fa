"""The worker protocol's framing and request checks (docs/protocol.md).

Each message is one UTF-8 JSON object on one line ending in ``\\n``; if the object has
``"payload": N``, exactly N raw bytes follow that newline. bgone writes compact, ASCII-only JSON
with keys in insertion order and ``payload`` last; readers must accept any valid JSON object.

Standard library only (plus bgone.errors): client.py mirrors this framing in a single stdlib
file for the host plug-ins, and tests/test_protocol.py checks that the two agree byte for byte.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Callable

from .errors import BgoneError, ImageError

PROTOCOL_VERSION = 1

MAX_HEADER_BYTES = 1 << 20  # one header line; real ones are < 1 KB (a models list < 64 KB)
MAX_PAYLOAD_BYTES = 1 << 32  # framing bound; images are bounded tighter by MAX_PIXELS
MAX_PIXELS = 250_000_000  # same cap as bgone.imageio.MAX_PIXELS
MAX_SIDE = 1 << 19  # 524288, GIMP's largest canvas side
OUTPUTS = ("alpha", "rgba")

# Request types (host -> worker) and reply types (worker -> host).
REQUESTS = ("models", "remove", "cancel", "shutdown")
REPLIES = ("hello", "models", "progress", "result", "error")


class ProtocolError(Exception):
    """The byte stream is not (or no longer) the protocol; it cannot be resynchronised."""

    kind = "protocol"


def encode_header(msg: dict[str, Any], payload_len: int | None = None) -> bytes:
    """The header line: compact ASCII JSON + ``\\n``; ``payload`` set last when given."""
    if payload_len is not None:
        msg = dict(msg)
        msg.pop("payload", None)
        msg["payload"] = payload_len
    text = json.dumps(msg, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.encode("ascii") + b"\n"


def encode_message(msg: dict[str, Any], payload: bytes | memoryview | None = None) -> bytes:
    """Header and payload as one bytes object (tests, small messages)."""
    if payload is None:
        return encode_header(msg)
    return encode_header(msg, len(memoryview(payload).cast("B"))) + bytes(payload)


def write_message(stream: BinaryIO, msg: dict[str, Any], payload: Any = None) -> None:
    """Write one message and flush. ``payload`` (bytes-like) is written without copying."""
    if payload is None:
        stream.write(encode_header(msg))
    else:
        view = memoryview(payload).cast("B")
        stream.write(encode_header(msg, view.nbytes))
        stream.write(view)
    stream.flush()


# Payloads up to this size (all real ones: MAX_PIXELS RGBA is 1e9 bytes) are read in one call,
# straight into their bytes object; joining chunks would copy every layer once more. A larger,
# bogus length is read in pieces, so it fails when the stream ends.
_READ_CHUNK = 1 << 30


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    chunks = []
    left = n
    while left > 0:
        chunk = stream.read(min(left, _READ_CHUNK))
        if not chunk:
            raise ProtocolError(
                f"the stream ended {left} bytes before the end of a {n}-byte payload"
            )
        chunks.append(chunk)
        left -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read_into(stream: BinaryIO, view: memoryview) -> None:
    n, got = view.nbytes, 0
    while got < n:
        k = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not k:
            raise ProtocolError(
                f"the stream ended {n - got} bytes before the end of a {n}-byte payload"
            )
        got += k


def _preview(line: bytes, limit: int = 120) -> str:
    text = line.rstrip(b"\r\n").decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def read_message(
    stream: BinaryIO, buffer: Callable[[int], Any] | None = None
) -> tuple[dict[str, Any], Any] | None:
    """The next (header, payload) from a binary stream; None at a clean end of stream (EOF
    before the first byte of a message). payload is None when the header has no ``payload``.
    ProtocolError for anything else: a line too long, not JSON, not an object with a string
    ``type``, a bad payload length, or a stream that ends inside a message.

    The payload is a new bytes object; or, when ``buffer(n)`` gives a writable bytes-like
    object of exactly n bytes (rather than None), a byte memoryview of it, read into it."""
    line = stream.readline(MAX_HEADER_BYTES + 1)
    if not line:
        return None
    if not line.endswith(b"\n"):
        if len(line) > MAX_HEADER_BYTES:
            raise ProtocolError(f"a header line is longer than {MAX_HEADER_BYTES} bytes")
        raise ProtocolError(f"the stream ended in the middle of a line: {_preview(line)}")
    try:
        msg = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError(f"not a protocol message: {_preview(line)}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError(f"not a protocol message (no type): {_preview(line)}")
    n = msg.get("payload")
    if n is None:
        return msg, None
    if isinstance(n, bool) or not isinstance(n, int) or n < 0 or n > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"bad payload length {n!r}")
    target = buffer(n) if buffer is not None else None
    if target is None:
        return msg, _read_exact(stream, n)
    view = memoryview(target).cast("B")
    if view.nbytes != n or view.readonly:
        raise ValueError(f"buffer({n}) gave {view.nbytes} bytes (read-only: {view.readonly})")
    _read_into(stream, view)
    return msg, view


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

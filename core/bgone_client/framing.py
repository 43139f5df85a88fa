"""The framing of the worker protocol (docs/protocol.md), the one implementation both ends use:
the host plug-ins through this package, the worker through bgone/protocol.py.

Each message is one ASCII JSON object on one line ending in ``\n``; if the object has
``"payload": N``, exactly N raw bytes follow that newline.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: this package must import on Python 3.8
    from collections.abc import Callable

# 2: the result message carries the engine's compute time ("seconds").
PROTOCOL_VERSION = 2

MAX_HEADER_BYTES = 1 << 20  # one header line; real ones are < 1 KB (a models list < 64 KB)
MAX_PAYLOAD_BYTES = 1 << 32  # framing bound; images are bounded tighter by MAX_PIXELS
MAX_PIXELS = 250_000_000  # same cap as bgone.imageio.MAX_PIXELS
MAX_SIDE = 1 << 19  # 524288, GIMP's largest canvas side
OUTPUTS = ("alpha", "rgba")



class ProtocolError(Exception):
    """The byte stream is not (or no longer) the protocol; it cannot be resynchronised."""

    kind = "protocol"


def encode_header(msg: dict, payload_len: int | None = None) -> bytes:
    """The header line: compact ASCII JSON + ``\\n``; ``payload`` set last when given."""
    if payload_len is not None:
        msg = dict(msg)
        msg.pop("payload", None)
        msg["payload"] = payload_len
    text = json.dumps(msg, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.encode("ascii") + b"\n"


def encode_message(msg: dict, payload: bytes | memoryview | None = None) -> bytes:
    """Header and payload as one bytes object (tests, small messages)."""
    if payload is None:
        return encode_header(msg)
    return encode_header(msg, len(memoryview(payload).cast("B"))) + bytes(payload)


def write_message(stream: Any, msg: dict, payload: Any = None) -> None:
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


def _read_exact(stream: Any, n: int) -> bytes:
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


def _read_into(stream: Any, view: memoryview) -> None:
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
    stream: Any, buffer: Callable[[int], Any] | None = None
) -> tuple[dict, Any] | None:
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


def image_problem(width: Any, height: Any, stride: Any, nbytes: int) -> tuple[str, str] | None:
    """(message, hint) when straight RGBA rows of this size cannot be a request, else None.
    The one set of size rules: the client checks before sending, the worker on arrival."""
    for name, v in (("width", width), ("height", height), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            return (
                f"The image {name} must be a positive whole number, not {v!r}.",
                "This is a bug in the plug-in; please report it.",
            )
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        return (
            f"The image is {width}x{height} ({width * height / 1e6:.0f} megapixels), more than bgone handles.",
            f"Scale it below {MAX_PIXELS // 1_000_000} megapixels and {MAX_SIDE} pixels a side first.",
        )
    if stride < width * 4:
        return (
            f"Row stride {stride} is shorter than a row of {width} RGBA pixels ({width * 4} bytes).",
            "This is a bug in the plug-in; please report it.",
        )
    if nbytes != stride * height:
        return (
            f"Got {max(nbytes, 0)} bytes of pixels for a {width}x{height} image with {stride}-byte rows "
            f"(expected {stride * height}).",
            "The layer must be 8-bit RGBA; this is a bug in the plug-in, please report it.",
        )
    return None


def result_bytes(width: int, height: int, output: str) -> int:
    """The length of a result's payload: one byte per pixel for alpha, four for rgba."""
    return width * height * (4 if output == "rgba" else 1)

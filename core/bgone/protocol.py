"""The worker protocol (docs/protocol.md): message builders and request checks.

Each message is one UTF-8 JSON object on one line ending in ``\\n``; if the object has
``"payload": N``, exactly N raw bytes follow that newline. bgone writes compact, ASCII-only JSON
with keys in insertion order and ``payload`` last; readers must accept any valid JSON object.

The framing itself (limits, encode/read/write, ProtocolError) and the image size rules are
implemented once, in the stdlib package ``bgone_client`` that the host plug-ins copy; the worker
imports them from there rather than keeping a second copy in step.
"""

from __future__ import annotations

from typing import Any

from bgone_client.framing import (  # noqa: F401  (re-exported: the worker's framing)
    MAX_HEADER_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_PIXELS,
    MAX_SIDE,
    OUTPUTS,
    PROTOCOL_VERSION,
    ProtocolError,
    encode_header,
    encode_message,
    image_problem,
    planes_problem,
    read_message,
    write_message,
)

from .errors import BgoneError, ImageError

# Request types (host -> worker) and reply types (worker -> host).
REQUESTS = ("models", "remove", "refine", "cancel", "shutdown")
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


def result(rid: Any, width: int, height: int, output: str, seconds: float,
           device: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """``seconds``: the engine's own compute time, so a host can tell it from its overhead;
    ``device``: the members that say which device ran it (worker.device_fields)."""
    return {"type": "result", "id": rid, "width": width, "height": height, "output": output,
            "seconds": round(seconds, 4), **(device or {})}  # fmt: skip


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
    w, h, stride = msg.get("width"), msg.get("height"), msg.get("stride")
    if stride is None and isinstance(w, int):
        stride = w * 4
    problem = image_problem(w, h, stride, -1 if payload is None else len(payload))
    if problem is not None:
        raise ImageError(*problem)
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


# A refine request's adjust settings: (name, default, allowed JSON types). Range checks are
# adjust.check_adjust's, so the CLI and the worker refuse the same values.
ADJUST_FIELDS = (
    ("grow", 0, (int,)),
    ("feather", 0, (int, float)),
    ("contrast", 0, (int, float)),
    ("threshold", 128, (int,)),
    ("min_island", 0, (int,)),
    ("min_hole", 0, (int,)),
)


class RefineRequest:
    """A checked ``refine`` request: sizes, where each payload part starts, and the settings."""

    __slots__ = ("id", "width", "height", "stride", "region", "band", "adjust", "output")

    def __init__(self, rid: Any, width: int, height: int, stride: int, region: bool,
                 band: int | None, adjust: dict[str, Any], output: str) -> None:  # fmt: skip
        self.id = rid
        self.width = width
        self.height = height
        self.stride = stride
        self.region = region
        self.band = band
        self.adjust = adjust
        self.output = output

    @property
    def mask_offset(self) -> int:
        return self.stride * self.height

    @property
    def region_offset(self) -> int:
        return self.mask_offset + self.width * self.height


def check_refine(msg: dict[str, Any], payload: bytes | None) -> RefineRequest:
    """The fields of a refine request (docs/protocol.md), or ImageError (kind bad_image) for
    impossible sizes and BgoneError(kind="bad_argument") for wrong option types."""
    w, h, stride = msg.get("width"), msg.get("height"), msg.get("stride")
    if stride is None and isinstance(w, int):
        stride = w * 4
    region = msg.get("region", False)
    if not isinstance(region, bool):
        raise _bad_argument(f"'region' must be true or false, not {region!r}.",
                            "This is a bug in the plug-in; please report it.")  # fmt: skip
    problem = planes_problem(w, h, stride, 2 if region else 1, -1 if payload is None else len(payload))
    if problem is not None:
        raise ImageError(*problem)
    band = msg.get("band")
    if band is not None and (isinstance(band, bool) or not isinstance(band, int)):
        raise _bad_argument(f"The band {band!r} is not a whole number of pixels.",
                            "Leave it out for the automatic width.")  # fmt: skip
    adjust = {}
    for name, default, types in ADJUST_FIELDS:
        value = msg.get(name, default)
        if value is None:
            value = default
        if isinstance(value, bool) or not isinstance(value, types):
            raise _bad_argument(f"The setting {name} = {value!r} is not a number of the right kind.",
                                "This is a bug in the plug-in; please report it.")  # fmt: skip
        adjust[name] = value
    output = msg.get("output", "alpha")
    if output not in OUTPUTS:
        raise _bad_argument(f"Unknown output {output!r}.", "Use 'alpha' or 'rgba'.")
    return RefineRequest(msg.get("id"), w, h, stride, region, band, adjust, output)

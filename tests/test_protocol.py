"""Framing of the worker protocol, byte for byte (one implementation: bgone_client.framing),
and the worker's request checks."""

from __future__ import annotations

import ast
import io
import json
import sys
from pathlib import Path

import pytest

from bgone import imageio, protocol
from bgone.errors import BgoneError, ImageError
from bgone_client import framing

CLIENT_DIR = Path(framing.__file__).parent


def stream(*parts: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(b"".join(parts)))


# -- encoding: exact bytes ---------------------------------------------------------------------


def test_hello_is_one_compact_line():
    assert protocol.encode_message(protocol.hello("0.1.0", 4242)) == (
        b'{"type":"hello","protocol":2,"version":"0.1.0","pid":4242}\n'
    )


def test_payload_length_is_appended_last_and_bytes_follow_the_newline():
    payload = b"\x00\x01\n\xff"  # a newline inside the payload must not matter
    got = protocol.encode_message(protocol.result(7, 2, 2, "alpha", 1.23456), payload)
    assert got == (
        b'{"type":"result","id":7,"width":2,"height":2,"output":"alpha","seconds":1.2346,"payload":4}\n'
        b"\x00\x01\n\xff"
    )


def test_a_result_says_which_device_ran_it_before_the_payload():
    device = {"device": "cpu", "gpu": "NVIDIA GPU", "gpu_reason": "no_runtime", "gpu_note": "x"}
    got = protocol.encode_message(protocol.result(7, 1, 1, "alpha", 0.5, device), b"\x80")
    assert got == (
        b'{"type":"result","id":7,"width":1,"height":1,"output":"alpha","seconds":0.5,'
        b'"device":"cpu","gpu":"NVIDIA GPU","gpu_reason":"no_runtime","gpu_note":"x","payload":1}\n\x80'
    )


def test_payload_key_is_always_the_real_length():
    msg = {"type": "remove", "id": "a", "payload": 999}
    assert protocol.encode_message(msg, b"abc") == b'{"type":"remove","id":"a","payload":3}\nabc'
    assert msg["payload"] == 999  # the caller's dict is not modified


def test_headers_are_ascii_even_for_non_ascii_text():
    line = protocol.encode_message(
        protocol.error(1, "bad_image", "Bild über 9000 Pixel", "Größer\nnicht")
    )
    assert line == (
        b'{"type":"error","id":1,"kind":"bad_image","message":"Bild \\u00fcber 9000 Pixel",'
        b'"hint":"Gr\\u00f6\\u00dfer\\nnicht"}\n'
    )
    assert line.count(b"\n") == 1 and max(line) < 128


def test_progress_fraction_is_clamped_and_rounded():
    msg = protocol.progress(3, "download", 0.123456789, "Downloading")
    assert protocol.encode_message(msg) == (
        b'{"type":"progress","id":3,"stage":"download","fraction":0.1235,"message":"Downloading"}\n'
    )
    assert protocol.progress(3, "x", 1.7, "")["fraction"] == 1.0
    assert protocol.progress(3, "x", -2, "")["fraction"] == 0.0


def test_nan_cannot_be_sent():
    with pytest.raises(ValueError):
        protocol.encode_message({"type": "progress", "fraction": float("nan")})


def test_write_message_writes_header_then_payload_without_copy():
    out = io.BytesIO()
    payload = memoryview(bytearray(b"RGBARGBA"))
    protocol.write_message(out, {"type": "result", "id": 1}, payload)
    assert out.getvalue() == b'{"type":"result","id":1,"payload":8}\nRGBARGBA'


# -- decoding ----------------------------------------------------------------------------------


def test_round_trip_of_a_conversation():
    msgs = [
        (protocol.hello("9.9", 1), None),
        ({"type": "models", "id": 1, "models": [{"name": "u2netp", "installed": True}]}, None),
        (protocol.progress(2, "inference", 0.5, "Finding the subject"), None),
        (protocol.result(2, 3, 1, "alpha", 0.5), bytes([0, 128, 255])),
        ({"type": "result", "id": 3, "payload": 0}, b""),
        (protocol.error(4, "cancelled", "Cancelled."), None),
    ]
    s = stream(*(protocol.encode_message(m, p) for m, p in msgs))
    for msg, payload in msgs:
        got, got_payload = protocol.read_message(s)
        want = dict(msg, payload=len(payload)) if payload is not None else msg
        assert got == want
        assert got_payload == payload
    assert protocol.read_message(s) is None
    assert protocol.read_message(s) is None  # EOF stays EOF


def test_reader_accepts_any_key_order_and_spacing():
    s = stream(b' { "payload" : 2 , "type" : "x", "id": "\\u00e9" } \n', b"ab", b'{"type":"y"}\r\n')
    assert protocol.read_message(s) == ({"payload": 2, "type": "x", "id": "é"}, b"ab")
    assert protocol.read_message(s) == ({"type": "y"}, None)


def test_payload_that_looks_like_a_message_is_not_parsed():
    inner = protocol.encode_message({"type": "shutdown"})
    s = stream(protocol.encode_message({"type": "result", "id": 1}, inner), b'{"type":"after"}\n')
    assert protocol.read_message(s) == ({"type": "result", "id": 1, "payload": len(inner)}, inner)
    assert protocol.read_message(s)[0] == {"type": "after"}


def test_large_payload_round_trips():
    payload = bytes(range(256)) * 40_000  # 10 MB, more than any internal buffer
    s = stream(protocol.encode_message({"type": "remove", "id": 1}, payload))
    msg, got = protocol.read_message(s)
    assert msg["payload"] == len(payload) and got == payload


def test_payload_can_be_read_into_a_given_buffer():
    payload = bytes(range(256)) * 40_000
    data = protocol.encode_message({"type": "remove", "id": 1}, payload) + b'{"type":"x"}\n'
    buffers = []

    def buffer(n):
        buffers.append(bytearray(n + 5))
        return memoryview(buffers[-1])[:n]

    s = stream(data)
    msg, got = protocol.read_message(s, buffer)
    assert isinstance(got, memoryview) and got.obj is buffers[0] and got == payload
    assert protocol.read_message(s, buffer) == ({"type": "x"}, None)  # no payload: not called
    assert len(buffers) == 1
    msg, got = protocol.read_message(stream(data), lambda n: None)  # None: a bytes object
    assert type(got) is bytes and got == payload
    with pytest.raises(protocol.ProtocolError, match="3 bytes before the end of a 10-byte"):
        protocol.read_message(stream(b'{"type":"r","payload":10}\n1234567'), bytearray)


@pytest.mark.parametrize(
    "data, words",
    [
        (
            b'{"type":"result","id":1,"payload":10}\n12345',
            "5 bytes before the end of a 10-byte payload",
        ),
        (b'{"type":"result","id":1,"payload":1}\n', "1 bytes before the end"),
        (b'{"type":"models","id":1', "middle of a line"),
        (b"Hello from sitecustomize\n", "not a protocol message"),
        (b"[1, 2, 3]\n", "no type"),
        (b'{"kind":"x"}\n', "no type"),
        (b'{"type":5}\n', "no type"),
        (b'"type"\n', "no type"),
        (b"\xff\xfe{}\n", "not a protocol message"),
        (b"\n", "not a protocol message"),
        (b'{"type":"r","payload":-1}\n', "bad payload length -1"),
        (b'{"type":"r","payload":"3"}\n123', "bad payload length '3'"),
        (b'{"type":"r","payload":true}\n1', "bad payload length True"),
        (b'{"type":"r","payload":1.5}\n12', "bad payload length 1.5"),
        (b'{"type":"r","payload":99999999999999}\n', "bad payload length"),
    ],
)
def test_garbage_and_truncation_are_protocol_errors(data, words):
    with pytest.raises(protocol.ProtocolError, match=words.replace("(", r"\(")):
        protocol.read_message(stream(data))


def test_header_line_length_is_bounded():
    data = b'{"type":"x","pad":"' + b"a" * protocol.MAX_HEADER_BYTES + b'"}\n'
    with pytest.raises(protocol.ProtocolError, match="longer than"):
        protocol.read_message(stream(data))


# -- one framing for both ends -----------------------------------------------------------------


def test_the_worker_uses_the_clients_framing():
    for name in ("PROTOCOL_VERSION", "MAX_HEADER_BYTES", "MAX_PAYLOAD_BYTES", "MAX_PIXELS",
                 "MAX_SIDE", "OUTPUTS", "ProtocolError", "read_message", "encode_header"):  # fmt: skip
        assert getattr(protocol, name) is getattr(framing, name), name
    assert protocol.MAX_PIXELS == imageio.MAX_PIXELS


def test_client_package_is_stdlib_only_and_python38_syntax():
    files = sorted(CLIENT_DIR.glob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "framing.py", "worker.py", "choices.py"}
    for path in files:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, feature_version=(3, 8))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.ImportFrom):  # relative: the package works under any name
                assert node.level == 1, path
        not_stdlib = {m for m in imported if m not in sys.stdlib_module_names and m != "__future__"}
        assert not not_stdlib, (path.name, not_stdlib)
        # Subscripted builtins are only safe inside annotations (postponed by __future__).
        assert "from __future__ import annotations" in source, path.name


# -- remove request checks ---------------------------------------------------------------------


def remove_msg(**kw):
    msg = {"type": "remove", "id": 1, "width": 4, "height": 3, "stride": 16, "model": None,
           "refine": None, "output": "alpha"}  # fmt: skip
    msg.update(kw)
    return msg


def test_check_remove_accepts_padded_rows():
    req = protocol.check_remove(
        remove_msg(stride=20, model="u2netp", refine="best", output="rgba"), bytes(60)
    )
    assert (req.width, req.height, req.stride, req.model, req.refine, req.output) == (
        4,
        3,
        20,
        "u2netp",
        "best",
        "rgba",
    )


@pytest.mark.parametrize(
    "kw, nbytes, words",
    [
        ({"stride": 12}, 36, "stride 12 is shorter than a row of 4 RGBA pixels"),
        ({}, 47, "Got 47 bytes of pixels for a 4x3 image with 16-byte rows .expected 48"),
        ({}, None, "Got 0 bytes"),
        ({"width": 0}, 0, "width must be a positive whole number"),
        ({"height": True}, 16, "height must be a positive whole number"),
        ({"width": "4"}, 48, "width must be a positive whole number"),
        ({"width": 20000, "height": 20000, "stride": 80000}, 0, "20000x20000 .400 megapixels."),
        (
            {"width": protocol.MAX_SIDE + 1, "height": 1, "stride": (protocol.MAX_SIDE + 1) * 4},
            0,
            "more than bgone handles",
        ),
    ],
)
def test_check_remove_rejects_impossible_images(kw, nbytes, words):
    with pytest.raises(ImageError, match=words) as info:
        protocol.check_remove(remove_msg(**kw), None if nbytes is None else bytes(nbytes))
    assert info.value.kind == "bad_image" and info.value.hint


@pytest.mark.parametrize("kw", [{"output": "png"}, {"model": 3}, {"model": ""}, {"refine": 2}])
def test_check_remove_rejects_bad_options(kw):
    with pytest.raises(BgoneError) as info:
        protocol.check_remove(remove_msg(**kw), bytes(48))
    assert info.value.kind == "bad_argument"


def test_every_error_message_is_valid_json_line():
    msg = protocol.error(None, "protocol", 'quote " backslash \\ tab \t', "")
    line = protocol.encode_message(msg)
    assert json.loads(line) == msg and line.endswith(b"\n") and line.count(b"\n") == 1

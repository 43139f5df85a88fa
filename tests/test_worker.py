"""The real `python -m bgone.worker` subprocess, spoken to over its pipes.

The pipeline is replaced, where a test needs it, by a small script that patches
bgone.pipeline.predict_alpha and then runs bgone.worker.main() (no backdoor in product code).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import bgone
from bgone import pipeline, protocol, worker

FAKE_PIPELINE = textwrap.dedent(
    """
    import functools, os, sys, time
    import numpy as np
    from bgone import pipeline, refine_edges, registry, worker
    from bgone.errors import Cancelled

    REFINE_VALUE = {"none": 10, "fast": 20, "best": 30}

    def fake_predict(rgb, model=None, refine=pipeline.DEFAULT_REFINE, device="auto", progress=None, cancel=None):
        report = progress or (lambda s, f: None)
        if model == "slow":  # runs until cancelled (60 s at most)
            report("inference", 0.0)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 60:
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                time.sleep(0.01)
            raise RuntimeError("never cancelled")
        if model == "boom":
            raise ZeroDivisionError("boom in the pipeline")
        if model == "noisy":
            print("a stray print to stdout")
            os.write(1, b"a C library writing to fd 1\\n")
        if model == "refine-echo":
            return np.full(rgb.shape[:2], REFINE_VALUE[refine], np.uint8)
        if model is not None and model not in ("red", "noisy"):
            registry.get_model(model)  # the real UnknownModel for unknown names
        for i in range(5):
            report("download", i / 4)
        report("inference", 0.0)
        report("inference", 1.0)
        return rgb[:, :, 0].copy()  # alpha = the red channel

    real_refine = refine_edges.refine_mask

    def fake_refine(rgb, mask, region=None, band=None, progress=None, cancel=None, **kw):
        if band == 999:  # runs until cancelled (60 s at most)
            progress("refine", 0.0)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 60:
                if cancel.is_set():
                    raise Cancelled()
                time.sleep(0.01)
            raise RuntimeError("never cancelled")
        return real_refine(rgb, mask, region=region, band=band, progress=progress, cancel=cancel, **kw)

    refine_edges.refine_mask = fake_refine
    pipeline.predict_alpha = fake_predict
    pipeline.cutout = functools.partial(pipeline.cutout, decontaminate=False)
    sys.exit(worker.main())
    """
)


class Conn:
    """One worker process and its two pipes."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        self.stderr = b""
        self._err_thread = threading.Thread(target=self._drain, daemon=True)
        self._err_thread.start()

    def _drain(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            self.stderr += chunk

    def send(self, msg, payload=None) -> None:
        protocol.write_message(self.proc.stdin, msg, payload)

    def recv(self):
        return protocol.read_message(self.proc.stdout)

    def recv_until(self, rid, types=("result", "error", "models")):
        """(final message, payload, progress messages) of request rid."""
        events = []
        while True:
            msg, payload = self.recv()
            assert msg["id"] == rid, msg
            if msg["type"] == "progress":
                events.append(msg)
                continue
            assert msg["type"] in types, msg
            return msg, payload, events

    def close(self) -> int:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            code = self.proc.wait(20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._err_thread.join(5)
        return code


@pytest.fixture
def env(model_dir):
    e = dict(os.environ)
    e["BGONE_MODEL_DIR"] = str(model_dir)
    return e


@pytest.fixture
def fake_script(tmp_path) -> Path:
    path = tmp_path / "fake_worker.py"
    path.write_text(FAKE_PIPELINE)
    return path


@pytest.fixture
def real(env):
    conns = []

    def start():
        c = Conn([sys.executable, "-u", "-m", "bgone.worker"], env)
        conns.append(c)
        return c

    yield start
    for c in conns:
        c.close()


@pytest.fixture
def fake(env, fake_script):
    conns = []

    def start():
        c = Conn([sys.executable, "-u", str(fake_script)], env)
        conns.append(c)
        hello, _ = c.recv()
        assert hello["type"] == "hello"
        return c

    yield start
    for c in conns:
        c.close()


def image(w: int, h: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8)


def remove_msg(rid, w, h, stride=None, **kw):
    msg = {"type": "remove", "id": rid, "width": w, "height": h, "stride": stride or w * 4,
           "model": "red", "refine": None, "output": "alpha"}  # fmt: skip
    msg.update(kw)
    return msg


# -- handshake and lifecycle -------------------------------------------------------------------


def test_hello_is_the_first_line_byte_for_byte(real):
    c = real()
    line = c.proc.stdout.readline()
    want = b'{"type":"hello","protocol":2,"version":"%s","pid":%d}\n' % (
        bgone.__version__.encode(),
        c.proc.pid,
    )
    assert line == want
    c.send({"type": "shutdown"})
    assert c.proc.wait(20) == 0
    assert c.proc.stdout.read() == b""  # nothing after the hello


def test_eof_on_stdin_ends_the_worker(real):
    c = real()
    assert c.recv()[0]["type"] == "hello"
    assert c.close() == 0


def test_garbage_on_stdin_is_answered_then_the_worker_exits(real):
    c = real()
    c.recv()
    c.proc.stdin.write(b"this is not json\n")
    c.proc.stdin.flush()
    msg, _ = c.recv()
    assert msg["type"] == "error" and msg["id"] is None and msg["kind"] == "protocol"
    assert "this is not json" in msg["message"]
    assert c.proc.wait(20) == 2


def test_unknown_request_and_missing_id_are_answered_and_the_worker_goes_on(real):
    c = real()
    c.recv()
    c.send({"type": "frobnicate", "id": 1})
    msg, _ = c.recv()
    assert (msg["type"], msg["id"], msg["kind"]) == ("error", 1, "bad_request")
    assert "frobnicate" in msg["message"]
    c.send({"type": "models"})
    msg, _ = c.recv()
    assert (msg["type"], msg["kind"]) == ("error", "bad_request")
    c.send({"type": "models", "id": "m"})
    assert c.recv()[0]["type"] == "models"


# -- models ------------------------------------------------------------------------------------


def test_models_lists_the_registry_with_install_state(real, model_dir):
    from bgone import registry

    c = real()
    c.recv()
    c.send({"type": "models", "id": 3})
    msg, payload, _ = c.recv_until(3)
    assert payload is None
    names = [m["name"] for m in msg["models"]]
    assert names == [m.name for m in registry.all_models()]
    for m in msg["models"]:
        assert {
            "name",
            "description",
            "size_label",
            "installed",
            "license",
            "commercial_use",
            "default",
        } <= set(m)
        assert m["installed"] is False  # the model dir is empty
    assert [m["name"] for m in msg["models"] if m["default"]] == [registry.default_model_name()]


def test_models_sees_an_installed_model(real, seeded_model_dir):
    c = real()
    c.recv()
    c.send({"type": "models", "id": 1})
    msg, _, _ = c.recv_until(1)
    installed = {m["name"] for m in msg["models"] if m["installed"]}
    assert installed == {"u2netp"}


# -- remove with a stand-in pipeline -----------------------------------------------------------


def test_remove_returns_the_pipelines_alpha_with_progress(fake):
    c = fake()
    img = image(37, 23)
    c.send(remove_msg(5, 37, 23), img.tobytes())
    msg, payload, events = c.recv_until(5)
    assert 0 <= msg.pop("seconds") < 10  # the engine's own compute time
    device = {k: msg.pop(k) for k in ("device", "gpu", "gpu_reason", "gpu_note") if k in msg}
    assert device == worker.model_device()  # no model session ran: the machine's own device
    assert msg == {
        "type": "result",
        "id": 5,
        "width": 37,
        "height": 23,
        "output": "alpha",
        "payload": 37 * 23,
    }
    assert payload == img[:, :, 0].tobytes()
    stages = [(e["stage"], e["fraction"]) for e in events]
    assert (
        ("download", 0.0) in stages and ("download", 1.0) in stages and ("inference", 1.0) in stages
    )
    assert all(e["message"] for e in events)


def test_remove_honours_row_padding(fake):
    c = fake()
    img = image(5, 4, seed=2)
    stride = 5 * 4 + 12
    rows = np.full((4, stride), 0xAB, np.uint8)  # padding filled with junk
    rows[:, :20] = img.reshape(4, 20)
    c.send(remove_msg("pad", 5, 4, stride=stride), rows.tobytes())
    msg, payload, _ = c.recv_until("pad")
    assert msg["type"] == "result"
    assert payload == img[:, :, 0].tobytes()


def test_requests_of_changing_sizes_reuse_the_payload_buffer_safely(fake):
    c = fake()
    sizes = [(820, 700, 0), (5, 3, 4), (640, 480, 8), (820, 700, 0)]  # > 2 MB: huge-page buffers
    for rid, (w, h, pad) in enumerate(sizes):
        img = image(w, h, seed=rid)
        rows = np.full((h, w * 4 + pad), 0xCD, np.uint8)
        rows[:, : w * 4] = img.reshape(h, w * 4)
        c.send(remove_msg(rid, w, h, stride=w * 4 + pad), rows.tobytes())
        msg, payload, _ = c.recv_until(rid)
        assert msg["type"] == "result", msg
        assert payload == img[:, :, 0].tobytes()
    assert c.close() == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="F_SETPIPE_SZ is Linux's")
def test_the_worker_widens_its_pipes(fake):
    import fcntl

    with open("/proc/sys/fs/pipe-max-size") as f:
        if int(f.read()) < worker.PIPE_BYTES:
            pytest.skip("pipes are limited below 1 MB here")
    c = fake()  # its hello has arrived: it claimed its pipes
    get = getattr(fcntl, "F_GETPIPE_SZ", 1032)
    assert fcntl.fcntl(c.proc.stdin.fileno(), get) == worker.PIPE_BYTES
    assert fcntl.fcntl(c.proc.stdout.fileno(), get) == worker.PIPE_BYTES
    assert c.close() == 0


def test_rgb_of_copies_padded_rows_in_bands(monkeypatch):
    monkeypatch.setattr(worker, "COPY_THREADS", 3)
    monkeypatch.setattr(worker.os, "cpu_count", lambda: 8)
    for w, h, pad in ((1500, 1500, 12), (7, 5, 0), (1, 1, 4)):  # 2.25 MP: two bands
        rows = np.random.default_rng(w).integers(0, 256, (h, w * 4 + pad), dtype=np.uint8)
        rgb = worker.rgb_of(memoryview(rows.tobytes()), w, h, w * 4 + pad)
        want = rows[:, : w * 4].reshape(h, w, 4)[:, :, :3]
        assert rgb.flags.c_contiguous and rgb.dtype == np.uint8
        assert np.array_equal(rgb, want)


def test_payload_buffers_are_kept_for_the_next_request_up_to_a_size(monkeypatch):
    monkeypatch.setattr(worker, "_spare", [])
    monkeypatch.setattr(worker, "KEEP_BUFFER_BYTES", 3 << 20)
    first = worker.payload_buffer(3 << 20)
    assert first.nbytes == 3 << 20 and not first.readonly
    worker.recycle(first)
    again = worker.payload_buffer(1000)  # a smaller request reads into the kept buffer
    assert again.nbytes == 1000 and again.obj is first.obj
    assert worker.payload_buffer(10).obj is not first.obj  # taken: a new one meanwhile
    worker.recycle(again)
    big = worker.payload_buffer((3 << 20) + 1)
    assert big.obj is not first.obj
    worker.recycle(big)  # too big to keep
    assert worker.payload_buffer(5).obj is first.obj
    worker.recycle(b"not a buffer of ours")
    worker.recycle(None)


def test_rgba_output_multiplies_the_inputs_own_alpha(fake):
    c = fake()
    img = image(16, 9, seed=3)
    c.send(remove_msg(1, 16, 9, output="rgba"), img.tobytes())
    msg, payload, _ = c.recv_until(1)
    assert msg["output"] == "rgba" and msg["payload"] == 16 * 9 * 4
    out = np.frombuffer(payload, np.uint8).reshape(9, 16, 4)
    assert np.array_equal(out[:, :, :3], img[:, :, :3])
    red, own = img[:, :, 0].astype(np.uint32), img[:, :, 3].astype(np.uint32)
    assert np.array_equal(out[:, :, 3], ((red * own + 127) // 255).astype(np.uint8))


def test_refine_none_means_the_pipeline_default(fake):
    values = {"none": 10, "fast": 20, "best": 30}
    c = fake()
    for rid, refine in enumerate([None, "none", "best"]):
        c.send(remove_msg(rid, 3, 2, model="refine-echo", refine=refine), bytes(24))
        msg, payload, _ = c.recv_until(rid)
        assert msg["type"] == "result"
        assert set(payload) == {values[refine or pipeline.DEFAULT_REFINE]}


def test_stray_prints_go_to_stderr_not_the_protocol(fake):
    c = fake()
    c.send(remove_msg(1, 2, 2, model="noisy"), bytes(16))
    msg, payload, _ = c.recv_until(1)
    assert msg["type"] == "result" and payload == bytes(4)
    assert c.close() == 0
    assert b"a stray print to stdout" in c.stderr
    assert b"a C library writing to fd 1" in c.stderr


def test_bad_image_is_answered_and_the_worker_goes_on(fake):
    c = fake()
    c.send(remove_msg(1, 4, 4), bytes(63))
    msg, _, _ = c.recv_until(1)
    assert (msg["type"], msg["kind"]) == ("error", "bad_image")
    assert "63 bytes" in msg["message"] and "expected 64" in msg["message"]
    c.send(remove_msg(2, 4, 4, stride=8), bytes(32))
    msg, _, _ = c.recv_until(2)
    assert msg["kind"] == "bad_image" and "stride" in msg["message"]
    c.send(remove_msg(3, 2, 1, output="jpeg"), bytes(8))
    assert c.recv_until(3)[0]["kind"] == "bad_argument"
    c.send(remove_msg(4, 2, 1), bytes(8))
    assert c.recv_until(4)[0]["type"] == "result"


def test_bgone_errors_keep_kind_message_and_hint(fake):
    c = fake()
    c.send(remove_msg(1, 2, 1, model="no-such-model"), bytes(8))
    msg, _, _ = c.recv_until(1)
    assert msg["kind"] == "unknown_model"
    assert "no-such-model" in msg["message"] and "u2netp" in msg["hint"]


def test_unexpected_exceptions_are_internal_with_traceback_on_stderr(fake):
    c = fake()
    c.send(remove_msg(1, 2, 1, model="boom"), bytes(8))
    msg, _, _ = c.recv_until(1)
    assert msg["kind"] == "internal" and "ZeroDivisionError: boom in the pipeline" in msg["message"]
    c.send(remove_msg(2, 2, 1), bytes(8))  # still serving
    assert c.recv_until(2)[0]["type"] == "result"
    c.close()
    assert b"Traceback (most recent call last)" in c.stderr and b"boom in the pipeline" in c.stderr


# -- cancel ------------------------------------------------------------------------------------


def test_cancel_reaches_a_busy_worker(fake):
    c = fake()
    c.send(remove_msg(1, 8, 8, model="slow"), bytes(256))
    msg, _ = c.recv()
    assert (msg["type"], msg["stage"]) == ("progress", "inference")  # it is computing now
    t0 = time.monotonic()
    c.send({"type": "cancel", "id": 1})
    msg, _, _ = c.recv_until(1)
    assert (msg["type"], msg["kind"]) == ("error", "cancelled")
    assert time.monotonic() - t0 < 5
    c.send(remove_msg(2, 2, 1), bytes(8))  # the same process serves the next request
    assert c.recv_until(2)[0]["type"] == "result"


def test_cancel_of_a_queued_request_and_of_an_answered_one(fake):
    c = fake()
    c.send(remove_msg(1, 8, 8, model="slow"), bytes(256))
    c.send(remove_msg(2, 2, 1), bytes(8))
    assert c.recv()[0]["type"] == "progress"
    c.send({"type": "cancel", "id": 2})  # queued behind the slow one
    c.send({"type": "cancel", "id": 99})  # unknown: ignored
    time.sleep(0.2)
    c.send({"type": "cancel", "id": 1})
    assert c.recv_until(1)[0]["kind"] == "cancelled"
    msg, payload, events = c.recv_until(2)
    assert msg["kind"] == "cancelled" and events == [] and payload is None
    c.send({"type": "cancel", "id": 2})  # already answered: no reply
    c.send({"type": "models", "id": 3})
    msg, _ = c.recv()  # the next message answers the models request: the cancel got no reply
    assert (msg["type"], msg["id"]) == ("models", 3)


def test_eof_while_busy_cancels_and_exits(fake):
    c = fake()
    c.send(remove_msg(1, 8, 8, model="slow"), bytes(256))
    assert c.recv()[0]["type"] == "progress"
    t0 = time.monotonic()
    c.proc.stdin.close()
    assert c.proc.wait(10) == 0
    assert time.monotonic() - t0 < 5


# -- the real thing ----------------------------------------------------------------------------


def drawn(h=240, w=320):
    """A red disc (the subject) on a blue wall with a little texture, as RGBA."""
    yy, xx = np.mgrid[:h, :w]
    inside = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (0.3 * h) ** 2
    img = np.empty((h, w, 4), np.uint8)
    img[:] = (35, 95, 190, 255)
    img[inside] = (230, 70, 40, 255)
    noise = np.random.default_rng(1).integers(-8, 8, (h, w, 3))
    img[:, :, :3] = (img[:, :, :3].astype(np.int16) + noise).clip(0, 255)
    return img, inside


@pytest.mark.slow
def test_end_to_end_with_the_real_u2netp(real, seeded_model_dir):
    img, inside = drawn()
    h, w = inside.shape
    c = real()
    assert c.recv()[0]["type"] == "hello"
    for rid in (1, 2):  # twice: the second run uses the warm session
        c.send(remove_msg(rid, w, h, model="u2netp", refine="none"), img.tobytes())
        msg, payload, events = c.recv_until(rid)
        assert msg["type"] == "result", msg
        alpha = np.frombuffer(payload, np.uint8).reshape(h, w)
        mask = alpha > 127
        iou = (mask & inside).sum() / (mask | inside).sum()
        assert iou > 0.9
        assert ("inference", 1.0) in [(e["stage"], e["fraction"]) for e in events]
        assert not any(e["stage"] == "download" for e in events)  # seeded: nothing to fetch
        # the session's own provider: the CPU here, and no GPU sat idle (this machine has none)
        assert msg["device"] == "cpu" and "gpu" not in msg, msg
    assert c.close() == 0


# -- which device ran it -----------------------------------------------------------------------

CPU_ONLY = ["CPUExecutionProvider"]
WITH_CUDA = ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_device_fields_name_an_idle_gpu_and_why():
    from bgone.inference import device_report

    assert worker.device_fields("cpu", device_report("auto", CPU_ONLY, None)) == {"device": "cpu"}
    idle = worker.device_fields("cpu", device_report("auto", CPU_ONLY, "NVIDIA GPU"))
    assert idle["device"] == "cpu" and idle["gpu"] == "NVIDIA GPU" and idle["gpu_reason"] == "no_runtime"
    assert "onnxruntime-gpu" in idle["gpu_note"]
    # CUDA installed, but its session fell back to the CPU (libraries missing)
    failed = worker.device_fields("cpu", device_report("auto", WITH_CUDA, "NVIDIA GPU"))
    assert failed["gpu_reason"] == "not_started" and "CUDAExecutionProvider" in failed["gpu_note"]
    assert worker.device_fields("cuda", device_report("auto", WITH_CUDA, "NVIDIA GPU")) == {"device": "cuda"}


def test_session_device_is_the_sessions_first_provider():
    from bgone.inference import session_device

    class Session:
        def __init__(self, providers):
            self.get_providers = lambda: providers

    assert session_device(Session(WITH_CUDA)) == "cuda"
    assert session_device(Session(CPU_ONLY)) == "cpu"
    assert session_device(Session(["TensorrtExecutionProvider", *WITH_CUDA])) == "tensorrt"


# -- refine (Refine Edges) ---------------------------------------------------------------------


def edge_photo(w: int = 96, h: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(RGBA photo, hard mask): an orange subject on the left fading into blue over 12 px,
    with a slightly noisy texture; the mask is a hard edge 3 px off the true middle."""
    x = np.arange(w, dtype=np.float32)
    a = np.clip((w / 2 + 6 - x) / 12, 0, 1)[None, :, None]
    fg, bg = np.array([230, 120, 30], np.float32), np.array([30, 60, 200], np.float32)
    rng = np.random.default_rng(4)
    rgb = a * fg + (1 - a) * bg + rng.normal(0, 4, (h, w, 3))
    rgba = np.dstack([np.clip(rgb, 0, 255).astype(np.uint8), np.full((h, w), 255, np.uint8)])
    mask = np.where(x < w / 2 + 3, 255, 0).astype(np.uint8)[None, :].repeat(h, 0)
    return rgba, mask


def refine_msg(rid, w, h, **kw):
    msg = {"type": "refine", "id": rid, "width": w, "height": h, "stride": w * 4,
           "region": False, "band": None, "grow": 0, "feather": 0, "output": "alpha"}  # fmt: skip
    msg.update(kw)
    return msg


def test_refine_answers_the_cores_refine_and_adjust_with_progress(fake):
    from bgone.adjust import adjust_mask
    from bgone.refine_edges import refine_mask

    rgba, mask = edge_photo()
    h, w = mask.shape
    c = fake()
    c.send(refine_msg(1, w, h, band=6, grow=-1, feather=2), [rgba.tobytes(), mask.tobytes()])
    msg, payload, events = c.recv_until(1)
    assert msg["type"] == "result" and msg["output"] == "alpha" and msg["payload"] == w * h, msg
    assert 0 <= msg["seconds"] < 60 and msg["device"] == "cpu" and "gpu" not in msg  # no model: no GPU note
    want = adjust_mask(refine_mask(rgba[:, :, :3], mask, band=6), grow=-1, feather=2)
    got = np.frombuffer(payload, np.uint8).reshape(h, w)
    assert np.array_equal(got, want)
    assert not np.array_equal(got, mask)  # it did change the edge
    stages = [(e["stage"], e["fraction"]) for e in events]
    assert ("refine", 0.0) in stages and ("refine", 1.0) in stages
    assert {e["message"] for e in events} == {"Refining hair and fur edges"}


def test_refine_with_a_region_leaves_every_pixel_outside_it(fake):
    rgba, mask = edge_photo()
    h, w = mask.shape
    region = np.zeros((h, w), np.uint8)
    region[10:40, 30:70] = 255
    region[45:50, 30:70] = 100  # below 128: outside
    c = fake()
    c.send(refine_msg(2, w, h, region=True, band=6, grow=2, feather=3),
           [rgba.tobytes(), mask.tobytes(), region.tobytes()])  # fmt: skip
    msg, payload, _ = c.recv_until(2)
    assert msg["type"] == "result", msg
    got = np.frombuffer(payload, np.uint8).reshape(h, w)
    outside = region < 128
    assert np.array_equal(got[outside], mask[outside])
    assert not np.array_equal(got[~outside], mask[~outside])


def test_refine_rgba_output_is_the_cutout_with_the_layers_own_alpha(fake):
    rgba, mask = edge_photo(40, 24)
    rgba[:, :8, 3] = 0  # a transparent strip of the layer stays transparent
    h, w = mask.shape
    c = fake()
    c.send(refine_msg(3, w, h, output="rgba"), [rgba.tobytes(), mask.tobytes()])
    msg, payload, events = c.recv_until(3)
    assert msg["output"] == "rgba" and msg["payload"] == w * h * 4, msg
    out = np.frombuffer(payload, np.uint8).reshape(h, w, 4)
    assert not out[:, :8, 3].any() and out[:, 8:16, 3].min() == 255
    assert ("foreground", 1.0) in [(e["stage"], e["fraction"]) for e in events]


@pytest.mark.parametrize(
    ("change", "kind", "words"),
    [
        ({"band": 0}, "bad_argument", "band"),
        ({"band": 2.5}, "bad_argument", "band"),
        ({"feather": -1}, "bad_argument", "feather"),
        ({"grow": "2"}, "bad_argument", "grow"),
        ({"contrast": 101}, "bad_argument", "contrast"),
        ({"region": 1}, "bad_argument", "region"),
        ({"output": "mask"}, "bad_argument", "output"),
        ({"region": True}, "bad_image", "expected 48"),  # no region plane sent
        ({"width": 3, "stride": 12}, "bad_image", "expected 30"),
    ],
)
def test_bad_refine_requests_are_refused_and_the_worker_goes_on(fake, change, kind, words):
    c = fake()
    c.send(refine_msg(1, 4, 2, **change), bytes(4 * 2 * 4) + bytes(8))
    msg, _, events = c.recv_until(1)
    assert (msg["type"], msg["kind"]) == ("error", kind), msg
    assert words in msg["message"] and not events  # refused before any work
    c.send(refine_msg(2, 4, 2), bytes(32) + bytes(8))
    assert c.recv_until(2)[0]["type"] == "result"


def test_cancel_reaches_a_refine(fake):
    c = fake()
    c.send(refine_msg(1, 8, 8, band=999), bytes(256) + bytes(64))
    msg, _ = c.recv()
    assert (msg["type"], msg["stage"]) == ("progress", "refine")
    c.send({"type": "cancel", "id": 1})
    msg, _, _ = c.recv_until(1)
    assert (msg["type"], msg["kind"]) == ("error", "cancelled")

"""The ``Worker``: one warm ``python -m bgone.worker``, reusable across many requests.

    with Worker(plugin_dir=os.path.dirname(__file__)) as w:
        alpha = w.remove(rgba_bytes, width, height, progress=on_progress, cancelled=is_cancelled)

Every failure is a ClientError whose ``kind`` is for code and whose str() is for people.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any

from .choices import host_hint
from .errors import REINSTALL_HINT, VERSION_MISMATCH_HINT, ClientError
from .framing import OUTPUTS, PROTOCOL_VERSION, image_problem, planes_problem, result_bytes
from .locate import clean_env, locate, usable
from .transport import (
    SHOWN_STDERR_LINES,
    STARTUP_TIMEOUT,
    STDERR_LINES,
    PipeProcess,
    SocketProcess,
    persistent_address,
)

if TYPE_CHECKING:  # annotations only: this package must import on Python 3.8
    from collections.abc import Callable

CANCEL_GRACE = 3.0  # seconds the worker gets to confirm a cancel before it is killed
POLL_INTERVAL = 0.1  # seconds between polls of the caller's cancelled()


class Worker:
    """One warm ``python -m bgone.worker`` process, reusable across many requests.

    Requests are serialised (one at a time). A worker that died is restarted on the next call;
    ``cancel()`` may be called from any thread.
    """

    def __init__(
        self,
        python: str | None = None,
        *,
        plugin_dir: str | None = None,
        timeout: float = 900.0,
        persistent: bool = False,
    ) -> None:
        """``persistent``: share one worker that outlives this process (for hosts that start a
        new plug-in process per call, like GIMP), so the model stays warm between calls. Falls
        back to a private worker where a local socket cannot be used (Windows, Flatpak)."""
        self.persistent = persistent
        self.python = python
        self.plugin_dir = plugin_dir
        self.timeout = timeout
        self.hello: dict | None = None
        self.last_seconds: float | None = None  # the engine's compute time of the last result
        # which device ran the last result ("cpu", "cuda", ...; None from an engine that does
        # not say) and, when a GPU is present but was not used, facts for choices.device_text:
        # {"gpu": "NVIDIA GPU", "reason": "no_runtime" | "not_started", "note": full text}
        self.last_device: str | None = None
        self.last_gpu_unused: dict | None = None
        self._proc: PipeProcess | None = None
        self._lock = threading.RLock()
        self._next_id = 0
        self._cancel = threading.Event()
        self._busy = False

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _spawn(self, argv: list, python: str, cwd: str | None) -> PipeProcess:
        address = persistent_address(python) if self.persistent and argv[0] == python else None
        if address is not None:
            try:
                return SocketProcess(argv, clean_env(), cwd, address)
            except OSError:
                pass  # no socket here (odd filesystems, sandboxes): a private worker still works
        return PipeProcess(argv, clean_env(), cwd)

    def _command(self) -> tuple[list[str], str, str | None]:
        if self.python:
            python, prefix = self.python, []
            if not usable(python):
                raise ClientError(
                    "core_missing",
                    f"bgone's engine was expected at {python}, but no runnable Python is there.",
                    REINSTALL_HINT,
                )
        else:
            python, prefix, _ = locate(self.plugin_dir)
        cwd = os.path.dirname(os.path.abspath(python)) or None  # no stray modules to shadow ours
        argv = list(prefix)
        if prefix:
            argv += ["--directory=" + cwd] if cwd else []
            # flatpak-spawn runs it in the host session's environment; pass ours explicitly.
            passed = {
                k: v
                for k, v in clean_env().items()
                if k.startswith("BGONE_") or k == "PYTHONIOENCODING"
            }
            argv += [f"--env={k}={v}" for k, v in sorted(passed.items())]
            cwd = None
        argv += [python, "-u", "-m", "bgone.worker"]
        return argv, python, cwd

    def start(self) -> dict:
        """Spawn the worker (if not running) and check its hello; returns the hello message."""
        with self._lock:
            if self._proc is not None and self._proc.alive() and self.hello is not None:
                return self.hello
            self._discard()
            argv, python, cwd = self._command()
            try:
                proc = self._spawn(argv, python, cwd)
            except OSError as e:
                raise ClientError(
                    "core_missing",
                    f"bgone's engine at {python} could not be started ({e.strerror or e}).",
                    REINSTALL_HINT,
                ) from None
            self._proc = proc
            try:
                kind, msg, _ = self._next(proc, time.monotonic() + STARTUP_TIMEOUT, startup=True)
                if isinstance(proc, SocketProcess) and msg.get("kind") == "busy":
                    # the shared engine serves another host process: start a private one
                    proc.stop()
                    self._proc = proc = PipeProcess(argv, clean_env(), cwd)
                    kind, msg, _ = self._next(proc, time.monotonic() + STARTUP_TIMEOUT, startup=True)
                if kind != "msg" or msg.get("type") != "hello":
                    raise ClientError(
                        "protocol",
                        f"bgone's engine did not introduce itself; it sent {msg.get('type')!r}.",
                        VERSION_MISMATCH_HINT,
                    )
                if msg.get("protocol") != PROTOCOL_VERSION:
                    raise ClientError(
                        "version_mismatch",
                        f"This plug-in speaks bgone protocol {PROTOCOL_VERSION}, but bgone's engine "
                        f"(bgone {msg.get('version', '?')}) speaks protocol {msg.get('protocol')!r}.",
                        VERSION_MISMATCH_HINT,
                    )
            except BaseException:
                self._discard()
                raise
            self.hello = msg
            return msg

    def close(self) -> None:
        """Stop the worker politely (shutdown), killing it if it does not exit within 2 s. A
        request in progress on another thread is cancelled first."""
        self.cancel()
        with self._lock:
            proc, self._proc, self.hello = self._proc, None, None
            if proc is not None:
                proc.stop(graceful=2.0)

    def _discard(self) -> None:
        """Drop a worker whose state is unknown (timeout, garbage, ignored cancel): kill it,
        a shared persistent one included, so the next call gets a fresh one."""
        proc, hello, self._proc, self.hello = self._proc, self.hello, None, None
        if isinstance(proc, SocketProcess):  # kill only a pid the kernel vouched for, never hello's
            proc.stop(pid=proc.peer_pid if hello and proc.alive() else None)
        elif proc is not None:
            proc.stop()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        if isinstance(proc, SocketProcess):
            return proc.peer_pid
        return proc.popen.pid

    def stderr_tail(self, n: int = SHOWN_STDERR_LINES) -> list[str]:
        """The worker's last stderr lines (its log), for diagnostics."""
        proc = self._proc
        return proc.stderr_tail(n) if proc is not None else []

    # -- requests ------------------------------------------------------------------------------

    def models(self) -> list[dict]:
        """Known models: name, description, size_label, installed, license, commercial_use, default."""
        msg, _ = self._call({"type": "models"}, None, None, None, expect="models")
        models = msg.get("models")
        if not isinstance(models, list):
            raise ClientError(
                "protocol", "bgone's engine sent a model list without models.", REINSTALL_HINT
            )
        return models

    def remove(
        self,
        rgba: bytes,
        width: int,
        height: int,
        stride: int | None = None,
        *,
        model: str | None = None,
        refine: str | None = None,
        output: str = "alpha",
        progress: Callable[[str, float, str], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> bytes:
        """Alpha (width*height bytes) or an RGBA cutout (width*height*4 bytes) for straight 8-bit
        RGBA rows of ``stride`` bytes (default width*4)."""
        if output not in OUTPUTS:
            raise ClientError(
                "bad_argument", f"Unknown output {output!r}.", "Use 'alpha' or 'rgba'."
            )
        if stride is None:
            stride = width * 4 if isinstance(width, int) else 0
        view = _bytes_view(rgba)
        problem = image_problem(width, height, stride, view.nbytes)
        if problem is not None:  # the worker's own rules, checked before 250 MB travel
            raise ClientError("bad_image", *problem)
        header = {
            "type": "remove",
            "width": width,
            "height": height,
            "stride": stride,
            "model": model,
            "refine": refine,
            "output": output,
        }
        return self._result(header, view, progress, cancelled)

    def refine(
        self,
        rgba: bytes,
        mask: bytes,
        width: int,
        height: int,
        stride: int | None = None,
        *,
        region: bytes | None = None,
        band: int | None = None,
        grow: int = 0,
        feather: float = 0,
        output: str = "alpha",
        progress: Callable[[str, float, str], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        **adjust: Any,
    ) -> bytes:
        """Refine Edges: ``mask`` (width*height bytes) re-estimated along its edges against the
        straight 8-bit RGBA rows, then grown (px, negative shrinks) and feathered (px); with
        ``region`` (width*height bytes, >= 128 inside) no pixel outside it changes. ``band``:
        px of the unknown band around hard edges (None: automatic). ``adjust``: the engine's
        other settings (contrast, threshold, min_island, min_hole). Returns what remove()
        returns for ``output``."""
        if output not in OUTPUTS:
            raise ClientError(
                "bad_argument", f"Unknown output {output!r}.", "Use 'alpha' or 'rgba'."
            )
        if stride is None:
            stride = width * 4 if isinstance(width, int) else 0
        parts = [_bytes_view(rgba), _bytes_view(mask)]
        if region is not None:
            parts.append(_bytes_view(region))
        problem = image_problem(width, height, stride, parts[0].nbytes) or planes_problem(
            width, height, stride, len(parts) - 1, sum(p.nbytes for p in parts)
        )
        if problem is not None:
            raise ClientError("bad_image", *problem)
        header = dict(
            {"type": "refine", "width": width, "height": height, "stride": stride,
             "region": region is not None, "band": band, "grow": grow, "feather": feather},
            **adjust, output=output,
        )  # fmt: skip
        return self._result(header, parts, progress, cancelled)

    def _result(self, header: dict, payload: Any, progress: Any, cancelled: Any) -> bytes:
        """Send an image request; its result's payload, whose length is checked here."""
        width, height, output = header["width"], header["height"], header["output"]
        self.last_seconds = self.last_device = self.last_gpu_unused = None
        msg, payload = self._call(header, payload, progress, cancelled, expect="result")
        want = result_bytes(width, height, output)
        if payload is None or len(payload) != want:
            got = "no" if payload is None else len(payload)
            raise ClientError(
                "protocol",
                f"bgone's engine sent {got} bytes for a {width}x{height} {output} result, expected {want}.",
                VERSION_MISMATCH_HINT,
            )
        seconds = msg.get("seconds")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            self.last_seconds = float(seconds)
        self.last_device, self.last_gpu_unused = device_of(msg)
        return payload

    def cancel(self) -> None:
        """Cancel the request in progress (from any thread); remove() then raises kind "cancelled".
        The worker gets 3 s to stop; after that it is killed and restarted on the next call."""
        if self._busy:
            self._cancel.set()

    def _call(
        self,
        header: dict,
        payload: Any,
        progress: Callable[[str, float, str], None] | None,
        cancelled: Callable[[], bool] | None,
        expect: str,
    ) -> tuple[dict, bytes | None]:
        with self._lock:
            self._cancel.clear()
            self._busy = True
            try:
                if cancelled is not None and cancelled():
                    raise ClientError("cancelled", "Cancelled.")
                fresh = self._proc is None or not self._proc.alive()
                if fresh:
                    self.start()  # the one transparent restart of a dead worker
                heard = []

                def tracked(stage: str, fraction: float, message: str) -> None:
                    heard.append(stage)
                    if progress is not None:
                        progress(stage, fraction, message)

                try:
                    return self._send_and_await(header, payload, tracked, cancelled, expect)
                except ClientError as e:
                    # A worker that died between two calls can still look alive for a moment;
                    # if it never started on this request, start a new one and send it again.
                    if fresh or heard or e.kind != "worker_crashed":
                        raise
                    self._discard()
                    self.start()
                    return self._send_and_await(header, payload, progress, cancelled, expect)
            finally:
                self._busy = False
                self._cancel.clear()

    def _send_and_await(
        self, header: dict, payload: Any, progress: Any, cancelled: Any, expect: str
    ) -> tuple[dict, bytes | None]:
        proc = self._proc
        assert proc is not None
        self._next_id += 1
        rid = self._next_id
        proc.send(dict(header, id=rid), payload)
        return self._await(proc, rid, expect, progress, cancelled)

    def _await(
        self,
        proc: PipeProcess,
        rid: int,
        expect: str,
        progress: Callable[[str, float, str], None] | None,
        cancelled: Callable[[], bool] | None,
    ) -> tuple[dict, bytes | None]:
        deadline = time.monotonic() + self.timeout
        cancel_at: float | None = None
        while True:
            if cancel_at is None:
                try:
                    want_cancel = self._cancel.is_set() or (cancelled is not None and cancelled())
                except BaseException:
                    self._discard()  # the caller's callback failed: the request state is unknown
                    raise
                if want_cancel:
                    proc.send({"type": "cancel", "id": rid})
                    cancel_at = time.monotonic()
                    deadline = cancel_at + CANCEL_GRACE
            try:
                kind, msg, payload = self._next(proc, deadline, poll=True)
            except ClientError as e:
                if cancel_at is not None and e.kind in ("timeout", "worker_crashed"):
                    self._discard()  # it did not stop in time: kill; the next call restarts it
                    raise ClientError("cancelled", "Cancelled.") from None
                raise
            if kind == "poll":
                continue
            if msg.get("type") == "error" and msg.get("id") is None:
                self._discard()  # the worker could not read what we sent; it exits
                raise ClientError(
                    "protocol",
                    str(msg.get("message") or "bgone's engine could not read the request."),
                    str(msg.get("hint") or REINSTALL_HINT),
                )
            if msg.get("id") != rid:
                continue  # a late message of an earlier request
            mtype = msg.get("type")
            if cancel_at is not None and mtype in ("result", expect, "error"):
                raise ClientError("cancelled", "Cancelled.")
            if mtype == "progress":
                deadline = time.monotonic() + self.timeout  # the timeout is for silence
                if progress is not None:
                    try:
                        progress(
                            str(msg.get("stage", "")),
                            _fraction(msg.get("fraction")),
                            str(msg.get("message") or ""),
                        )
                    except BaseException:
                        self._discard()
                        raise
                continue
            if mtype == "error":
                kind = str(msg.get("kind") or "error")
                raise ClientError(
                    kind,
                    str(msg.get("message") or "bgone's engine reported an error."),
                    host_hint(kind, str(msg.get("hint") or "")),
                )
            if mtype == expect:
                return msg, payload
            self._discard()
            raise ClientError(
                "protocol",
                f"bgone's engine answered {mtype!r} to a {expect!r} request.",
                REINSTALL_HINT,
            )

    def _next(
        self, proc: PipeProcess, deadline: float, startup: bool = False, poll: bool = False
    ) -> tuple[str, Any, Any]:
        """The next ("msg", header, payload) from the worker; ("poll", None, None) every
        POLL_INTERVAL when ``poll``; ClientError for timeouts, crashes and garbage."""
        while True:
            wait = deadline - time.monotonic()
            if wait <= 0:
                self._discard()
                if startup:
                    raise ClientError(
                        "timeout",
                        f"bgone's engine did not start within {STARTUP_TIMEOUT:.0f} seconds.",
                        "Try again; if this keeps happening, "
                        + REINSTALL_HINT[0].lower()
                        + REINSTALL_HINT[1:],
                    )
                raise ClientError(
                    "timeout",
                    f"bgone's engine did not answer for {self.timeout:.0f} seconds and was stopped.",
                    "Try again. Very large images with 'best' edge refinement can take long; "
                    "try 'fast' refinement or a smaller image.",
                )
            try:
                kind, msg, payload = proc.inbox.get(
                    timeout=min(wait, POLL_INTERVAL) if poll else min(wait, 1.0)
                )
            except queue.Empty:
                if poll:
                    return "poll", None, None
                continue
            if kind == "msg":
                return kind, msg, payload
            if kind == "garbage":
                tail = proc.stderr_tail()
                self._discard()
                raise ClientError(
                    "protocol",
                    f"bgone's engine sent something that is not a bgone message: {msg}.",
                    "Something in the engine's Python prints to its output (a sitecustomize or a "
                    "wrapper script?), or the plug-in and engine versions differ. "
                    + REINSTALL_HINT,
                    details="\n".join(tail),
                )
            raise self._crashed(proc, startup)

    def _crashed(self, proc: PipeProcess, startup: bool) -> ClientError:
        code = None
        if proc.popen is not None:  # a persistent worker is not our child: no exit code
            try:
                code = proc.popen.wait(5.0)
            except subprocess.TimeoutExpired:
                pass
        tail = proc.stderr_tail(STDERR_LINES)
        self._discard()
        shown = tail[-SHOWN_STDERR_LINES:]
        text = "\n".join(tail)
        python = proc.argv[-4] if len(proc.argv) >= 4 else "?"
        if startup and ("No module named bgone" in text or "No module named 'bgone'" in text):
            return ClientError(
                "core_missing",
                f"The Python at {python} does not have bgone installed.",
                REINSTALL_HINT,
                details=text,
            )
        if startup and "ModuleNotFoundError" in text:
            return ClientError(
                "core_missing",
                f"bgone's engine at {python} is incomplete: "
                + (shown[-1] if shown else "a module is missing")
                + ".",
                REINSTALL_HINT,
                details=text,
            )
        how = "exit code {}".format(code) if code is not None else "no exit code"
        message = f"bgone's engine stopped unexpectedly ({how})."
        if code is not None and code in (-9, 137):
            message += " The system killed it, usually because the computer ran out of memory."
        if shown:
            message += "\nIts last messages were:\n  " + "\n  ".join(shown)
        return ClientError(
            "worker_crashed",
            message,
            "Try again (the engine restarts by itself). If it keeps happening, try a smaller image "
            "or a lighter edge refinement, and report the messages above.",
            details=text,
        )


def device_of(result: dict) -> tuple:
    """(device, gpu_unused) from a result message's optional members (docs/protocol.md);
    anything missing or malformed is None, as from an engine that predates them."""
    device = result.get("device")
    if not isinstance(device, str) or not device:
        return None, None
    gpu = result.get("gpu")
    if not isinstance(gpu, str) or not gpu:
        return device, None
    reason, note = result.get("gpu_reason"), result.get("gpu_note")
    return device, {"gpu": gpu, "reason": reason if isinstance(reason, str) else "",
                    "note": note if isinstance(note, str) else ""}  # fmt: skip


def _bytes_view(data: Any) -> memoryview:
    """A flat byte view of any bytes-like object (bytes, bytearray, array, memoryview)."""
    view = memoryview(data)
    return view if view.ndim == 1 and view.itemsize == 1 else view.cast("B")


def _fraction(value: Any) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if f != f else min(1.0, max(0.0, f))

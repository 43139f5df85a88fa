"""``python -m bgone.worker``: serve the host plug-ins over stdin/stdout (docs/protocol.md).

One process serves many requests so the model stays loaded. A reader thread reads stdin all the
time, so a ``cancel`` reaches the running request (through the threading.Event handed to the
pipeline as ``cancel``) while the main thread is busy computing.

The protocol owns the real stdout file descriptor: at start it is duplicated for the protocol and
fd 1 (and ``sys.stdout``) are pointed at stderr, so a stray print() or a C library writing to
stdout can never corrupt a frame. Logs go to stderr, which the client keeps for crash reports.
"""

from __future__ import annotations

import logging
import mmap
import os
import queue
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, BinaryIO

from bgone_client.choices import progress_text

from . import protocol
from .errors import BgoneError, Cancelled
from .version import __version__

log = logging.getLogger("bgone.worker")

PROGRESS_INTERVAL = 0.1  # seconds between progress messages of one stage

# Request payloads (layers) are read into memory the kernel can copy to fast. Reading 48 MB from
# a pipe or socket into a new bytes object takes 3-4 times as long as the copy itself: the
# kernel faults each 4 KB page in while it copies. So a payload goes into a buffer kept from the
# previous request (pages already there), else into fresh memory advised to use huge pages
# (Linux; 512 times fewer faults). Buffers above KEEP_BUFFER_BYTES are not kept, so an idle
# worker holds at most that much. Module-wide: the daemon's connections share it.
KEEP_BUFFER_BYTES = 1 << 27  # 134 MB: RGBA layers up to 33 megapixels
_spare_lock = threading.Lock()
_spare: list[Any] = []


def _fresh_buffer(n: int) -> Any:
    if n < 1 << 21 or not hasattr(mmap, "MAP_PRIVATE") or not hasattr(mmap, "MADV_HUGEPAGE"):
        return bytearray(n)
    try:
        buf = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except OSError:  # no address space for a bogus length: let the stream prove it wrong
        return None
    try:
        buf.madvise(mmap.MADV_HUGEPAGE)
    except OSError:  # huge pages disabled: still a buffer
        pass
    return buf


def payload_buffer(n: int) -> memoryview | None:
    """n writable bytes for protocol.read_message: the kept buffer if it is large enough."""
    buf = None
    if n <= KEEP_BUFFER_BYTES:
        with _spare_lock:
            buf = _spare.pop() if _spare else None
    if buf is None or len(buf) < n:
        buf = _fresh_buffer(n)
    return None if buf is None else memoryview(buf)[:n]


def recycle(payload: Any) -> None:
    """Keep a payload's buffer for the next request, once nothing reads it any more."""
    base = payload.obj if isinstance(payload, memoryview) else None
    if isinstance(base, (bytearray, mmap.mmap)) and len(base) <= KEEP_BUFFER_BYTES:
        with _spare_lock:
            _spare[:] = [base]


def claim_stdio() -> tuple[BinaryIO, BinaryIO]:
    """(protocol input, protocol output): private duplicates of fds 0 and 1. Afterwards fd 0
    reads /dev/null and fd 1 writes to stderr, at the OS level and in sys.stdin/sys.stdout."""
    if sys.stdout is not None:
        sys.stdout.flush()
    in_fd, out_fd = os.dup(0), os.dup(1)
    for fd in (in_fd, out_fd):
        _widen_pipe(fd)
    if sys.platform == "win32":
        import msvcrt

        msvcrt.setmode(in_fd, os.O_BINARY)
        msvcrt.setmode(out_fd, os.O_BINARY)
    try:
        os.dup2(2, 1)
    except OSError:  # no usable stderr (pythonw): stray output goes nowhere
        sink = os.open(os.devnull, os.O_WRONLY)
        os.dup2(sink, 1)
        os.close(sink)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    return os.fdopen(in_fd, "rb", buffering=1 << 20), os.fdopen(out_fd, "wb", buffering=1 << 16)


PIPE_BYTES = 1 << 20  # Linux's default limit for unprivileged processes
SOCKET_BUFFER_BYTES = 1 << 20  # same as bgone.client's
COPY_THREADS = 4  # at most, for copying a layer's RGB out of its RGBA


def _widen_pipe(fd: int) -> None:
    """Grow a pipe's kernel buffer from 64 KB to 1 MB (Linux): a layer then crosses in 1 MB
    steps instead of 64 KB ones, with 16 times fewer wake-ups of each side."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError):  # not Linux, not a pipe, or a lower limit: keep 64 KB
        pass


class Server:
    """Reads requests on one thread, computes them one at a time on the caller's thread."""

    def __init__(self, inp: BinaryIO, out: BinaryIO) -> None:
        self.inp = inp
        self.out = out
        self.requests: queue.Queue = queue.Queue()
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._current_id: Any = None
        self._current_cancel: threading.Event | None = None
        self._pending: set = set()  # ids read but not yet answered
        self._cancelled: set = set()  # pending ids cancelled before they started
        self._stopping = threading.Event()
        self.host_gone = False
        self.shutdown_requested = False
        self.reader = threading.Thread(
            target=self.read_loop, name="bgone-worker-reader", daemon=True
        )

    # -- output --------------------------------------------------------------------------------

    def send(self, msg: dict[str, Any], payload: Any = None) -> None:
        if self.host_gone:
            return
        try:
            with self._write_lock:
                protocol.write_message(self.out, msg, payload)
        except (OSError, ValueError):  # the host closed the pipe: stop working for nobody
            self.host_gone = True
            self._stop()

    # -- input (reader thread) -----------------------------------------------------------------

    def _stop(self) -> None:
        self._stopping.set()
        with self._state_lock:
            if self._current_cancel is not None:
                self._current_cancel.set()

    def read_loop(self) -> None:
        try:
            while not self._stopping.is_set():
                item = protocol.read_message(self.inp, payload_buffer)
                if item is None:  # the host is gone: stop work nobody will receive
                    log.info("stdin closed; exiting")
                    self._stop()
                    self.requests.put(("eof", None, None))
                    return
                msg, payload = item
                mtype = msg["type"]
                if mtype == "cancel":
                    self._on_cancel(msg.get("id"))
                    continue
                if mtype == "shutdown":  # in order: what was sent before it is answered first
                    self.requests.put(("shutdown", msg, None))
                    return
                with self._state_lock:
                    if protocol.valid_id(msg.get("id")):
                        self._pending.add(msg["id"])
                self.requests.put(("msg", msg, payload))
        except protocol.ProtocolError as e:
            self._stop()
            self.requests.put(("garbage", str(e), None))
        except Exception as e:  # a broken stdin is the same as a closed one
            log.warning("reading stdin failed: %s", e)
            self._stop()
            self.requests.put(("eof", None, None))
        else:  # stopped (the host went away while we wrote): the main loop must hear of it
            self.requests.put(("eof", None, None))

    def _on_cancel(self, rid: Any) -> None:
        with self._state_lock:
            if rid is not None and rid == self._current_id and self._current_cancel is not None:
                log.info("cancel request %r", rid)
                self._current_cancel.set()
            elif rid in self._pending:
                self._cancelled.add(rid)
            # anything else was already answered: nothing to do

    # -- main loop -----------------------------------------------------------------------------

    def serve(self) -> int:
        self.send(protocol.hello(__version__, os.getpid()))
        self.reader.start()
        # numpy, Pillow and onnxruntime take ~0.2 s to import; do it while the host is still
        # reading its layer's pixels, not after the first request arrives.
        # Requests wait for it (join below): two threads importing numpy at once can fail.
        self.warm = threading.Thread(target=_warm_imports, name="warm-imports", daemon=True)
        self.warm.start()
        while True:
            kind, msg, payload = self.requests.get()
            if kind in ("eof", "shutdown"):
                self.shutdown_requested = kind == "shutdown"
                return 0
            if kind == "garbage":
                log.error("protocol error on stdin: %s", msg)
                self.send(protocol.error(None, "protocol", f"The worker received something that is not a bgone message: {msg}.",
                                         "The plug-in and the engine may come from different bgone versions."))  # fmt: skip
                return 2
            self.handle(msg, payload)
            if self.host_gone:
                return 0

    def handle(self, msg: dict[str, Any], payload: Any) -> None:
        warm = getattr(self, "warm", None)
        if warm is not None:
            warm.join()
        rid = msg.get("id")
        mtype = msg["type"]
        cancel = threading.Event()
        with self._state_lock:
            early = rid in self._cancelled or self._stopping.is_set()
            self._cancelled.discard(rid)
            self._current_id, self._current_cancel = rid, cancel
        try:
            if not protocol.valid_id(rid):
                raise BgoneError(f"The {mtype!r} request has no valid id ({rid!r}).",
                                 "Requests need an integer or string id.", kind="bad_request")  # fmt: skip
            if early:
                raise Cancelled()
            if mtype == "models":
                from .catalog import model_rows

                self.send({"type": "models", "id": rid, "models": model_rows()})
            elif mtype == "remove":
                self.remove(rid, msg, payload, cancel)
            elif mtype == "refine":
                self.refine(rid, msg, payload, cancel)
            else:
                raise BgoneError(f"Unknown request type {mtype!r}.",
                                 f"Known requests: {', '.join(protocol.REQUESTS)}.", kind="bad_request")  # fmt: skip
        except BgoneError as e:
            if e.kind != "cancelled":
                log.info("request %r failed: %s: %s", rid, e.kind, e.message)
            self.send({"type": "error", "id": rid, **e.to_dict()})
        except MemoryError:
            log.error("request %r ran out of memory", rid)
            self.send(protocol.error(rid, "out_of_memory", "There was not enough memory to process this image.",
                                     "Close other programs, use 'fast' or no edge refinement, or scale the image down."))  # fmt: skip
        except ImportError as e:
            log.error(
                "request %r: bgone's installation is incomplete:\n%s", rid, traceback.format_exc()
            )
            self.send(protocol.error(rid, "core_missing", f"bgone's engine is incomplete ({e}).",
                                     "Run the bgone installer again to repair it."))  # fmt: skip
        except Exception as e:
            log.error("request %r failed unexpectedly:\n%s", rid, traceback.format_exc())
            self.send(protocol.error(rid, "internal", f"Unexpected error in bgone: {type(e).__name__}: {e}",
                                     "Please report this bug, with the engine's log if you can."))  # fmt: skip
        finally:
            with self._state_lock:
                self._current_id, self._current_cancel = None, None
                self._pending.discard(rid)
            recycle(payload)

    def remove(self, rid: Any, msg: dict[str, Any], payload: Any, cancel: threading.Event) -> None:
        req = protocol.check_remove(msg, payload)
        import numpy as np

        from . import pipeline

        assert payload is not None
        h, w = req.height, req.width
        rows = np.frombuffer(payload, np.uint8).reshape(h, req.stride)
        rgba = rows[:, : w * 4].reshape(h, w, 4)
        rgb = rgb_of(payload, w, h, req.stride)
        refine = req.refine if req.refine is not None else pipeline.DEFAULT_REFINE
        report = self._progress_sender(rid)
        t0 = time.perf_counter()
        alpha = pipeline.predict_alpha(
            rgb, model=req.model, refine=refine, progress=report, cancel=cancel
        )
        device = model_device()
        self._answer("remove", req, rgb, alpha, rgba[:, :, 3], report, t0, cancel, device)

    def refine(self, rid: Any, msg: dict[str, Any], payload: Any, cancel: threading.Event) -> None:
        """Refine Edges on a host's mask: matting along its edges, then the adjustments, only
        inside the region when one came; the cutout too for output "rgba"."""
        req = protocol.check_refine(msg, payload)
        import numpy as np

        from . import adjust, refine_edges

        refine_edges.check_band(req.band)  # every setting is refused before any work
        adjust.check_adjust(**{k: v for k, v in req.adjust.items() if k != "grow"})
        assert payload is not None
        h, w = req.height, req.width
        rgb = rgb_of(payload, w, h, req.stride)
        mask = np.frombuffer(payload, np.uint8, w * h, req.mask_offset).reshape(h, w)
        region = None
        if req.region:
            plane = np.frombuffer(payload, np.uint8, w * h, req.region_offset).reshape(h, w)
            region = plane >= 128
        report = self._progress_sender(rid)
        t0 = time.perf_counter()
        alpha = refine_edges.refine_mask(
            rgb, mask, region=region, band=req.band, progress=report, cancel=cancel
        )
        if cancel.is_set():
            raise Cancelled()
        alpha = adjust.adjust_mask(alpha, region=region, **req.adjust)
        rows = np.frombuffer(payload, np.uint8, h * req.stride).reshape(h, req.stride)
        own_alpha = rows[:, : w * 4].reshape(h, w, 4)[:, :, 3]
        # matting and the adjustments run on the CPU whatever GPU there is: no GPU note
        self._answer("refine", req, rgb, alpha, own_alpha, report, t0, cancel, {"device": "cpu"})

    def _answer(self, what: str, req: Any, rgb: Any, alpha: Any, own_alpha: Any, report: Any,
                t0: float, cancel: threading.Event, device: dict[str, Any]) -> None:
        """The end every request shares: the mask as it is, or the cutout (keeping the layer's
        own transparency) for output "rgba"; the compute time and the device go with the result."""
        import numpy as np

        from . import pipeline

        if cancel.is_set():
            raise Cancelled()
        if req.output == "rgba":
            report("foreground", 0.0)
            out = pipeline.cutout(rgb, alpha, own_alpha=own_alpha)
            report("foreground", 1.0)
        else:
            out = np.ascontiguousarray(alpha)
        if cancel.is_set():
            raise Cancelled()
        seconds = time.perf_counter() - t0
        w, h = req.width, req.height
        log.info("%s %r: %dx%d %s in %.2f s on %s", what, req.id, w, h, req.output, seconds,
                 device.get("device", "?"))
        self.send(protocol.result(req.id, w, h, req.output, seconds, device), memoryview(out).cast("B"))

    def _progress_sender(self, rid: Any) -> Any:
        last = {"stage": None, "t": 0.0}

        def report(stage: str, fraction: float) -> None:
            now = time.monotonic()
            done = fraction <= 0.0 or fraction >= 1.0
            if stage == last["stage"] and not done and now - last["t"] < PROGRESS_INTERVAL:
                return
            last["stage"], last["t"] = stage, now
            self.send(protocol.progress(rid, stage, fraction, progress_text(stage, fraction)))

        return report


def device_fields(used: str, report: dict[str, Any]) -> dict[str, Any]:
    """Pure: the result members that say which device ran the model and, when a GPU is present
    but the CPU ran it, which GPU, why (``gpu_reason``: its runtime is not installed, or it is
    but could not start) and the engine's full explanation. ``report``: inference.device_report
    for "auto" on this machine."""
    from .inference import DEVICES, GPU_RUNTIMES

    fields: dict[str, Any] = {"device": used}
    gpu = report.get("gpu")
    if used != "cpu" or gpu not in GPU_RUNTIMES:
        return fields
    planned = report.get("device")
    if planned == "cpu":
        reason, note = "no_runtime", report.get("note") or ""
    else:  # the runtime is there, but its session fell back (CUDA/cuDNN libraries missing?)
        reason = "not_started"
        note = (f"An {gpu} is present and this onnxruntime has {DEVICES.get(planned, planned)}, but it "
                "could not start (are its libraries, e.g. CUDA and cuDNN, installed?), so the CPU ran "
                "the model. The engine's log says more.")  # fmt: skip
    return dict(fields, gpu=gpu, gpu_reason=reason, gpu_note=note)


_device_report: dict[str, Any] = {}


def model_device() -> dict[str, Any]:
    """device_fields for the model that just ran (the machine's report is made once)."""
    from . import inference

    if not _device_report:
        import onnxruntime as ort

        _device_report.update(inference.device_report(
            "auto", ort.get_available_providers(), inference.gpu_hardware()))  # fmt: skip
    return device_fields(inference.last_device() or _device_report["device"], _device_report)


def rgb_of(payload: Any, width: int, height: int, stride: int) -> Any:
    """A contiguous HxWx3 copy of the RGB of RGBA rows. Pixels are copied as 3-byte items,
    which numpy does twice as fast as np.ascontiguousarray(rgba[:, :, :3]), and large images
    in a few bands on threads at once (numpy releases the GIL while it copies)."""
    import numpy as np

    rgb = np.empty((height, width, 3), np.uint8)
    dst = rgb.view("V3").reshape(height, width)
    src = np.ndarray((height, width), "V3", buffer=payload, strides=(stride, 4))
    parts = max(1, min(COPY_THREADS, os.cpu_count() or 1, width * height // (1 << 20)))
    bands = [(i * height // parts, (i + 1) * height // parts) for i in range(parts)]

    def copy(band: tuple[int, int]) -> None:
        dst[band[0] : band[1]] = src[band[0] : band[1]]

    helpers = [threading.Thread(target=copy, args=(b,), daemon=True) for b in bands[1:]]
    for t in helpers:
        t.start()
    copy(bands[0])
    for t in helpers:
        t.join()
    return rgb


def _warm_imports() -> None:
    try:
        import onnxruntime  # noqa: F401

        from . import composite, inference, pipeline, upsample  # noqa: F401
    except Exception:  # a broken install is reported properly by the request that needs it
        log.debug("warm-up import failed", exc_info=True)


def listen(address: str, idle_timeout: float) -> int:
    """Persistent mode: serve one connection at a time on a private Unix socket, keeping the
    model warm between them, until ``idle_timeout`` seconds pass without a client.

    GIMP starts a new plug-in process for every call; without this its worker (and the model
    session) would start cold on every click. A second daemon for the same address exits at once.
    A connection is served on a thread of its own, so the daemon keeps accepting: a client that
    arrives while another is connected is told "busy" at once (it then starts a private
    worker), and one that vanishes or stalls only ever loses its own connection.
    """
    import socket

    from bgone_client.transport import private_folder

    from .filelock import FileLock

    try:
        private_folder(os.path.dirname(address))  # only this user may connect
    except OSError as e:
        log.error("not listening: %s", e)
        return 1
    lock = FileLock(Path(address + ".lock"))
    if not lock.try_acquire():
        log.info("another worker already serves %s", address)
        return 0
    try:
        if os.path.exists(address):
            os.unlink(address)  # left by a daemon that was killed
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(address)
        srv.listen(8)
        srv.settimeout(ACCEPT_POLL)
        log.info("listening on %s (idle timeout %.0f s)", address, idle_timeout)
        state = {"thread": None, "ended": time.monotonic(), "shutdown": False}
        while True:
            busy = state["thread"] is not None and state["thread"].is_alive()
            if not busy and (state["shutdown"] or time.monotonic() - state["ended"] > idle_timeout):
                log.info("shutdown requested" if state["shutdown"] else "idle; exiting")
                return 0
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            if state["thread"] is not None:
                state["thread"].join(BUSY_WAIT)  # a client that just closed is leaving
                if state["thread"].is_alive():
                    _refuse_busy(conn)
                    continue
            state["thread"] = threading.Thread(target=_serve_connection, args=(conn, idle_timeout, state),
                                               name="bgone-connection", daemon=True)  # fmt: skip
            state["thread"].start()
    finally:
        try:
            os.unlink(address)
        except OSError:
            pass
        lock.release()


ACCEPT_POLL = 0.5  # seconds between the daemon's checks for idleness and shutdown
BUSY_WAIT = 2.0  # seconds a new client waits for the previous one to leave before "busy"


def _serve_connection(conn: Any, timeout: float, state: dict[str, Any]) -> None:
    """One client, start to end. Silence longer than ``timeout`` ends the connection; a client
    gone mid-reply (BrokenPipeError when the rest of the answer is flushed) only drops it."""
    import socket

    try:
        conn.settimeout(timeout)
        try:  # results cross in 1 MB steps (the client does the same for requests)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER_BYTES)
        except OSError:
            pass
        with conn, conn.makefile("rb", buffering=1 << 20) as rf, conn.makefile("wb", buffering=1 << 16) as wf:
            server = Server(rf, wf)
            server.serve()
            state["shutdown"] = server.shutdown_requested
            if server.reader.is_alive():  # a shutdown left the reader waiting: end the link
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                server.reader.join(2.0)
    except (OSError, ValueError) as e:
        log.info("client connection dropped: %s", e)
    finally:
        state["ended"] = time.monotonic()


def _refuse_busy(conn: Any) -> None:
    """Tell a second client at once that the engine is serving another one."""
    try:
        conn.settimeout(2.0)
        conn.sendall(protocol.encode_message(protocol.error(
            None, "busy", "bgone's engine is busy with another request.",
            "bgone starts a second engine for this one.")))  # fmt: skip
    except OSError:
        pass
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--listen" in args[:-1]:
        level = os.environ.get("BGONE_LOG_LEVEL", "INFO").upper()
        logging.basicConfig(
            stream=sys.stderr,
            level=getattr(logging, level, logging.INFO),
            format="bgone-worker %(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        i = args.index("--listen")
        idle = 900.0
        if "--idle-timeout" in args[:-1]:
            idle = float(args[args.index("--idle-timeout") + 1])
        return listen(args[i + 1], idle)
    inp, out = claim_stdio()
    level = os.environ.get("BGONE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level, logging.INFO),
        format="bgone-worker %(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log.info(
        "bgone %s worker started (pid %d, Python %s)",
        __version__,
        os.getpid(),
        sys.version.split()[0],
    )
    server = Server(inp, out)
    try:
        code = server.serve()
    except KeyboardInterrupt:
        code = 130
    log.info("worker exiting (%d)", code)
    warm = getattr(server, "warm", None)
    if warm is not None:  # exiting in the middle of importing onnxruntime aborts the process
        warm.join(60.0)
    if server.reader.is_alive():
        # The reader is blocked inside a read holding its buffer's lock; a normal interpreter
        # shutdown would try to close that buffer and abort. Nothing is left to clean up.
        for stream in (out, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())

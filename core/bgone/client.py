"""Host-side client for the bgone worker. STANDARD LIBRARY ONLY, Python 3.8+.

This one file is copied verbatim into every plug-in as ``bgone_client.py``: host applications
(GIMP 3, Krita 5) embed their own Python, which must never import numpy or onnxruntime, so the
plug-ins start ``<core python> -u -m bgone.worker`` and talk to it over stdin/stdout with the
framed protocol described in docs/protocol.md. The framing lives here, in this single stdlib
file, and bgone/protocol.py imports it, so the two ends cannot drift apart.

    with Worker(plugin_dir=os.path.dirname(__file__)) as w:
        alpha = w.remove(rgba_bytes, width, height, progress=on_progress, cancelled=is_cancelled)

Every failure is a ClientError whose ``kind`` is for code and whose str() is for people.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: this file must import on Python 3.8
    from collections.abc import Callable

PROTOCOL_VERSION = 1

# Limits of the protocol (bgone/protocol.py imports them).
MAX_HEADER_BYTES = 1 << 20  # one header line; real ones are < 1 KB (a models list < 64 KB)
MAX_PAYLOAD_BYTES = 1 << 32  # framing bound; images are bounded tighter by MAX_PIXELS
MAX_PIXELS = 250_000_000  # same cap as bgone.imageio.MAX_PIXELS
MAX_SIDE = 1 << 19  # 524288, GIMP's largest canvas side
OUTPUTS = ("alpha", "rgba")

STARTUP_TIMEOUT = 60.0  # seconds for the worker's hello (cold Python start, antivirus scans)
CANCEL_GRACE = 3.0  # seconds the worker gets to confirm a cancel before it is killed
POLL_INTERVAL = 0.1  # seconds between polls of the caller's cancelled()
SOCKET_BUFFER_BYTES = 1 << 20  # send buffer of the persistent worker's socket (both ends)
STDERR_LINES = 200  # ring buffer of the worker's last stderr lines
SHOWN_STDERR_LINES = 12  # how many of them a worker_crashed message shows

# Environment variables a host application sets for its *own* embedded Python; inherited by the
# core's Python they break it (PYTHONHOME/PYTHONPATH of an AppImage or of GIMP on Windows make a
# venv import the host's stdlib; __PYVENV_LAUNCHER__ on macOS points sys.executable elsewhere).
# Anything else (HOME, PATH, proxies, SYSTEMROOT, TEMP, BGONE_*, CUDA settings...) is kept:
# GI_*/GIO_*/GDK_*/QT_* only matter to GTK/Qt, which the core never loads.
_DROP_EXACT = ("__PYVENV_LAUNCHER__", "LD_PRELOAD")
_DROP_PREFIXES = ("PYTHON",)
_KEEP = ("PYTHONUTF8",)
# Path lists that may point into a bundled host (AppImage): entries under $APPDIR are removed.
_PATH_LISTS = ("PATH", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "DYLD_FALLBACK_LIBRARY_PATH")

_REINSTALL_HINT = "Run the bgone installer again; it records where bgone's engine is installed."


class ClientError(Exception):
    """A failure talking to the bgone worker: ``kind`` for code, ``message`` and ``hint`` for
    people. ``details`` holds extra diagnostics (e.g. the worker's last stderr lines)."""

    def __init__(self, kind: str, message: str, hint: str = "", details: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message

    def __repr__(self) -> str:
        return f"ClientError({self.kind!r}, {self.message!r}, {self.hint!r})"


# --------------------------------------------------------------------------------------------
# Framing: the one implementation, shared with the worker (bgone/protocol.py imports it)


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


# --------------------------------------------------------------------------------------------
# Finding the core's Python


def user_config_dir() -> str:
    """The per-user folder the installer writes config.json into."""
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or os.path.join(
            os.path.expanduser("~"), "AppData", "Roaming"
        )
        return os.path.join(base, "bgone")
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~"), "Library", "Application Support", "bgone")
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "bgone")


def _config_candidates(plugin_dir: str | None) -> list[str]:
    paths = []
    if plugin_dir:
        paths.append(os.path.join(plugin_dir, "bgone_config.json"))
    paths.append(os.path.join(user_config_dir(), "config.json"))
    if sys.platform not in ("win32", "darwin"):
        # Inside a Flatpak sandbox XDG_CONFIG_HOME is remapped; the real one may still be visible.
        plain = os.path.join(os.path.expanduser("~"), ".config", "bgone", "config.json")
        if plain not in paths:
            paths.append(plain)
    return paths


def _usable(python: str) -> bool:
    if not os.path.isfile(python):
        return False
    return sys.platform == "win32" or os.access(python, os.X_OK)


def _locate(plugin_dir: str | None) -> tuple[str, list[str], str]:
    """(python, command prefix, where it was found). BGONE_PYTHON > bgone_config.json next to the
    plug-in > the user config.json; the first config naming a usable Python wins."""
    env = os.environ.get("BGONE_PYTHON")
    if env:
        if not _usable(env):
            raise ClientError(
                "core_missing",
                f"BGONE_PYTHON is set to {env}, but no runnable Python is there.",
                "Fix or unset the BGONE_PYTHON environment variable.",
            )
        return env, [], "BGONE_PYTHON"
    problems = []
    for path in _config_candidates(plugin_dir):
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            python = doc["python"]
            if not isinstance(python, str) or not python:
                raise ValueError("'python' is not a path")
        except (OSError, ValueError, KeyError, TypeError) as e:
            problems.append(f"{path} is unreadable ({e})")
            continue
        if doc.get("flatpak_spawn") is True:
            # The path lives outside the sandbox: it cannot be checked from in here.
            return python, ["flatpak-spawn", "--host", "--watch-bus"], path
        if _usable(python):
            return python, [], path
        problems.append(f"{path} names {python}, which does not exist or cannot run")
    if problems:
        raise ClientError(
            "core_missing",
            "bgone's engine was not found where its settings say: " + "; ".join(problems) + ".",
            _REINSTALL_HINT,
        )
    raise ClientError(
        "core_missing",
        "bgone's engine is not installed, or this plug-in cannot find it.",
        _REINSTALL_HINT + " (Developers: set BGONE_PYTHON to a Python that has bgone installed.)",
    )


def find_core_python(plugin_dir: str | None = None) -> str:
    """Path of the Python that has the bgone core installed, or ClientError(kind="core_missing")."""
    return _locate(plugin_dir)[0]


def clean_env(base: dict | None = None) -> dict:
    """The host's environment minus what would make the core's Python load the host's files."""
    env = dict(os.environ if base is None else base)
    appdir = env.get("APPDIR") if env.get("APPIMAGE") or env.get("APPDIR") else None
    for key in list(env):
        upper = key.upper()
        if upper in _KEEP:
            continue
        if upper in _DROP_EXACT or upper.startswith(_DROP_PREFIXES):
            del env[key]
    if appdir:
        root = os.path.normcase(os.path.abspath(appdir))
        for key in _PATH_LISTS:
            if key in env:
                parts = [
                    p
                    for p in env[key].split(os.pathsep)
                    if p and not os.path.normcase(os.path.abspath(p)).startswith(root)
                ]
                if parts:
                    env[key] = os.pathsep.join(parts)
                else:
                    del env[key]
    env["PYTHONIOENCODING"] = "utf-8:backslashreplace"  # stderr lines we can always decode
    return env


# --------------------------------------------------------------------------------------------
# The worker process


class _Process:
    """One running worker: the Popen plus its reader, writer and stderr threads."""

    def __init__(self, argv: list[str], env: dict, cwd: str | None) -> None:
        kwargs: dict = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000)
        self.argv = list(argv)
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            **kwargs,
        )
        self._rfile, self._wfile = self.popen.stdout, self.popen.stdin
        self.inbox: queue.Queue = queue.Queue()
        self.outbox: queue.Queue = queue.Queue()
        self.stderr: collections.deque = collections.deque(maxlen=STDERR_LINES)
        self.ended = threading.Event()  # stdout reached EOF or broke
        self._threads = [
            threading.Thread(target=self._read_stdout, name="bgone-client-reader", daemon=True),
            threading.Thread(target=self._read_stderr, name="bgone-client-stderr", daemon=True),
            threading.Thread(target=self._write_stdin, name="bgone-client-writer", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _read_stdout(self) -> None:
        stream = self._rfile
        try:
            while True:
                item = read_message(stream)
                if item is None:
                    self.inbox.put(("eof", None, None))
                    return
                self.inbox.put(("msg", item[0], item[1]))
        except ProtocolError as e:
            self.inbox.put(("garbage", str(e), None))
        except (OSError, ValueError) as e:  # closed under us by kill()
            self.inbox.put(("eof", str(e), None))
        finally:
            self.ended.set()

    def _read_stderr(self) -> None:
        stream = self.popen.stderr
        try:
            for raw in iter(lambda: stream.readline(4096), b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.stderr.append(line[:1000])
        except (OSError, ValueError):
            pass

    def _write_stdin(self) -> None:
        stream = self._wfile
        while True:
            chunks = self.outbox.get()
            if chunks is None:
                break
            try:
                for chunk in chunks:
                    stream.write(chunk)
                stream.flush()
            except (OSError, ValueError):  # the worker is gone; the reader reports it
                break
        try:
            stream.close()
        except (OSError, ValueError):
            pass

    def send(self, msg: dict, payload: Any = None) -> None:
        if payload is None:
            self.outbox.put([encode_header(msg)])
        else:
            self.outbox.put([encode_header(msg, len(payload)), payload])

    def alive(self) -> bool:
        return self.popen.poll() is None and not self.ended.is_set()

    def stderr_tail(self, n: int = SHOWN_STDERR_LINES) -> list[str]:
        time.sleep(0.05)  # let the stderr thread catch the last words of a dying process
        lines = [line for line in list(self.stderr) if line.strip()]
        return lines[-n:]

    def stop(self, graceful: float = 0.0) -> None:
        """Ask it to exit (shutdown + closed stdin) for up to ``graceful`` seconds, then kill."""
        if graceful > 0 and self.popen.poll() is None:
            self.send({"type": "shutdown"})
            self.outbox.put(None)
            try:
                self.popen.wait(graceful)
            except subprocess.TimeoutExpired:
                pass
        if self.popen.poll() is None:
            try:
                self.popen.terminate()
                self.popen.wait(1.0)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.popen.poll() is None:
            try:
                self.popen.kill()
                self.popen.wait(5.0)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.outbox.put(None)
        for stream in (self.popen.stdout, self.popen.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(1.0)


def persistent_address(python: str) -> str | None:
    """Where the persistent worker for this engine listens; None where unsupported (Windows,
    Flatpak sandboxes: the socket would not be shared with the host)."""
    import hashlib
    import socket
    import tempfile

    if os.name != "posix" or not hasattr(socket, "AF_UNIX"):
        return None
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    tag = hashlib.sha256(os.path.abspath(python).encode("utf-8")).hexdigest()[:12]
    path = os.path.join(
        base, "bgone-%d" % os.getuid(), "worker-p%d-%s.sock" % (PROTOCOL_VERSION, tag)
    )
    return path if len(path.encode("utf-8")) < 100 else None  # AF_UNIX path length limit


class _SocketProcess(_Process):
    """The same message pipes as _Process, over a connection to a persistent worker (started
    detached if none is listening). Closing the connection leaves the worker warm for the next
    host process; it exits by itself after its idle timeout."""

    IDLE_TIMEOUT = 900

    def __init__(self, argv: list, env: dict, cwd: str | None, address: str) -> None:
        import socket

        self.argv = list(argv)
        self.address = address
        self.log_path = address[: -len(".sock")] + ".log"
        self.daemon = None
        sock = self._connect()
        if sock is None:
            os.makedirs(os.path.dirname(address), mode=0o700, exist_ok=True)
            big = os.path.exists(self.log_path) and os.path.getsize(self.log_path) > 1 << 20
            with open(self.log_path, "wb" if big else "ab") as log:
                self.daemon = subprocess.Popen(
                    argv + ["--listen", address, "--idle-timeout", str(self.IDLE_TIMEOUT)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    env=env,
                    cwd=cwd,
                    start_new_session=True,
                )
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while sock is None:
                if self.daemon.poll() is not None and not os.path.exists(address):
                    raise OSError(
                        "the engine exited at start-up (code %s)" % self.daemon.returncode
                    )
                if time.monotonic() > deadline:
                    raise OSError("the engine did not start listening in time")
                time.sleep(0.05)
                sock = self._connect()
        try:  # a layer then crosses in 1 MB steps rather than ~200 KB ones (Linux default)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER_BYTES)
        except OSError:
            pass
        self.sock = sock
        self.popen = None
        self.inbox = queue.Queue()
        self.outbox = queue.Queue()
        self.stderr = collections.deque(maxlen=STDERR_LINES)
        self.ended = threading.Event()
        self._rfile = sock.makefile("rb", buffering=1 << 20)
        self._wfile = sock.makefile("wb", buffering=1 << 16)
        self._socket_module = socket
        self._threads = [
            threading.Thread(target=self._read_stdout, name="bgone-client-reader", daemon=True),
            threading.Thread(target=self._write_stdin, name="bgone-client-writer", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _connect(self) -> Any:
        import socket

        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.address)
            return s
        except OSError:
            s.close()
            return None

    def alive(self) -> bool:
        return not self.ended.is_set()

    def _wait_until_gone(self, limit: float = 3.0) -> None:
        """After killing the worker, wait until its socket refuses connections. A killed
        multi-threaded process keeps its files (and its listening socket's backlog) open for a
        moment after it looks dead, and the next call would connect to that dying socket."""
        if self.daemon is not None:
            try:
                self.daemon.wait(limit)  # our own child: reap it
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            s = self._connect()
            if s is None:
                return
            s.close()
            time.sleep(0.05)

    def stderr_tail(self, n: int = SHOWN_STDERR_LINES) -> list:
        time.sleep(0.05)
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - 20000))
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return []
        return [line for line in lines if line.strip()][-n:]

    def stop(self, graceful: float = 0.0, pid: int | None = None) -> None:
        """Close the connection; with ``pid`` (a worker stuck on a request) kill it too."""
        self.outbox.put(None)
        if pid is not None:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
            self._wait_until_gone()
        try:
            self.sock.shutdown(self._socket_module.SHUT_RDWR)
        except OSError:
            pass
        for f in (self._rfile, self._wfile, self.sock):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(1.0)


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
        self._proc: _Process | None = None
        self._lock = threading.RLock()
        self._next_id = 0
        self._cancel = threading.Event()
        self._busy = False

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _spawn(self, argv: list, python: str, cwd: str | None) -> _Process:
        address = persistent_address(python) if self.persistent and argv[0] == python else None
        if address is not None:
            try:
                return _SocketProcess(argv, clean_env(), cwd, address)
            except OSError:
                pass  # no socket here (odd filesystems, sandboxes): a private worker still works
        return _Process(argv, clean_env(), cwd)

    def _command(self) -> tuple[list[str], str, str | None]:
        if self.python:
            python, prefix = self.python, []
            if not _usable(python):
                raise ClientError(
                    "core_missing",
                    f"bgone's engine was expected at {python}, but no runnable Python is there.",
                    _REINSTALL_HINT,
                )
        else:
            python, prefix, _ = _locate(self.plugin_dir)
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
                    _REINSTALL_HINT,
                ) from None
            self._proc = proc
            try:
                kind, msg, _ = self._next(proc, time.monotonic() + STARTUP_TIMEOUT, startup=True)
                if kind != "msg" or msg.get("type") != "hello":
                    raise ClientError(
                        "protocol",
                        f"bgone's engine did not introduce itself; it sent {msg.get('type')!r}.",
                        "The plug-in and the engine may come from different bgone versions. "
                        + _REINSTALL_HINT,
                    )
                if msg.get("protocol") != PROTOCOL_VERSION:
                    raise ClientError(
                        "protocol",
                        f"This plug-in speaks bgone protocol {PROTOCOL_VERSION}, but the engine "
                        f"(bgone {msg.get('version', '?')}) speaks protocol {msg.get('protocol')!r}.",
                        "The plug-in and the engine are from different bgone versions. "
                        + _REINSTALL_HINT,
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
        if isinstance(proc, _SocketProcess):
            pid = hello.get("pid") if hello and proc.alive() else None
            proc.stop(pid=pid if isinstance(pid, int) else None)
        elif proc is not None:
            proc.stop()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        if proc.popen is None:
            pid = (self.hello or {}).get("pid")
            return pid if isinstance(pid, int) else None
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
                "protocol", "bgone's engine sent a model list without models.", _REINSTALL_HINT
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
        view = memoryview(rgba)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        _check_image(width, height, stride, view.nbytes)
        header = {
            "type": "remove",
            "width": width,
            "height": height,
            "stride": stride,
            "model": model,
            "refine": refine,
            "output": output,
        }
        msg, payload = self._call(header, view, progress, cancelled, expect="result")
        want = width * height * (4 if output == "rgba" else 1)
        if payload is None or len(payload) != want:
            got = "no" if payload is None else len(payload)
            raise ClientError(
                "protocol",
                f"bgone's engine sent {got} bytes for a {width}x{height} {output} result, expected {want}.",
                _REINSTALL_HINT,
            )
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
        proc: _Process,
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
                    str(msg.get("hint") or _REINSTALL_HINT),
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
                raise ClientError(
                    str(msg.get("kind") or "error"),
                    str(msg.get("message") or "bgone's engine reported an error."),
                    str(msg.get("hint") or ""),
                )
            if mtype == expect:
                return msg, payload
            self._discard()
            raise ClientError(
                "protocol",
                f"bgone's engine answered {mtype!r} to a {expect!r} request.",
                _REINSTALL_HINT,
            )

    def _next(
        self, proc: _Process, deadline: float, startup: bool = False, poll: bool = False
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
                        + _REINSTALL_HINT[0].lower()
                        + _REINSTALL_HINT[1:],
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
                    + _REINSTALL_HINT,
                    details="\n".join(tail),
                )
            raise self._crashed(proc, startup)

    def _crashed(self, proc: _Process, startup: bool) -> ClientError:
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
                _REINSTALL_HINT,
                details=text,
            )
        if startup and "ModuleNotFoundError" in text:
            return ClientError(
                "core_missing",
                f"bgone's engine at {python} is incomplete: "
                + (shown[-1] if shown else "a module is missing")
                + ".",
                _REINSTALL_HINT,
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


def _fraction(value: Any) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if f != f else min(1.0, max(0.0, f))


def _check_image(width: Any, height: Any, stride: Any, nbytes: int) -> None:
    """The same size rules as the worker, checked before 250 MB travel down a pipe."""
    for name, v in (("width", width), ("height", height), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ClientError(
                "bad_image",
                f"The image {name} must be a positive whole number, not {v!r}.",
                "This is a bug in the plug-in; please report it.",
            )
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ClientError(
            "bad_image",
            f"The image is {width}x{height} ({width * height / 1e6:.0f} megapixels), more than bgone handles.",
            f"Scale it below {MAX_PIXELS // 1_000_000} megapixels and {MAX_SIDE} pixels a side first.",
        )
    if stride < width * 4:
        raise ClientError(
            "bad_image",
            f"Row stride {stride} is shorter than a row of {width} RGBA pixels ({width * 4} bytes).",
            "This is a bug in the plug-in; please report it.",
        )
    if nbytes != stride * height:
        raise ClientError(
            "bad_image",
            f"Got {nbytes} bytes of pixels for a {width}x{height} image with {stride}-byte rows "
            f"(expected {stride * height}).",
            "The layer must be 8-bit RGBA; this is a bug in the plug-in, please report it.",
        )


__all__ = [
    "PROTOCOL_VERSION",
    "ClientError",
    "Worker",
    "find_core_python",
    "clean_env",
    "user_config_dir",
]

"""How the client reaches a worker: a private child process over its stdin/stdout
(``PipeProcess``), or a connection to the persistent worker on a private Unix socket
(``SocketProcess``). Both turn the byte stream into messages on reader/writer threads."""

from __future__ import annotations

import collections
import os
import queue
import stat
import subprocess
import sys
import threading
import time
from typing import Any

from .framing import PROTOCOL_VERSION, ProtocolError, encode_header, read_message

STARTUP_TIMEOUT = 60.0  # seconds for the worker's hello (cold Python start, antivirus scans)
SOCKET_BUFFER_BYTES = 1 << 20  # send buffer of the persistent worker's socket (both ends)
STDERR_LINES = 200  # ring buffer of the worker's last stderr lines
SHOWN_STDERR_LINES = 12  # how many of them a worker_crashed message shows



class PipeProcess:
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
        for end, wait in ((self.popen.terminate, 1.0), (self.popen.kill, 5.0)):
            if self.popen.poll() is None:
                try:
                    end()
                    self.popen.wait(wait)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        self.outbox.put(None)
        self._release((self.popen.stdout, self.popen.stderr))

    def _release(self, closables: tuple) -> None:
        """Close the streams (any may be closed already) and let the threads finish."""
        for f in closables:
            try:
                f.close()
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


def private_folder(folder: str) -> None:
    """Make the worker folder, or accept an existing one only when it is a real folder of this
    user with mode 0700; OSError otherwise. In the shared temp folder another local user could
    have made it first, to listen in our place or to plant links."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise OSError(f"{folder} is not a private folder of this user")


def peer_identity(sock: Any) -> tuple[int | None, int | None]:
    """(uid, pid) of the process listening at the other end of a Unix socket, as the kernel
    tells it (SO_PEERCRED on Linux, LOCAL_PEERCRED/LOCAL_PEERPID on macOS); None where unknown."""
    import socket
    import struct

    try:
        if hasattr(socket, "SO_PEERCRED"):
            pid, uid, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            return uid, pid
        if sys.platform == "darwin":  # SOL_LOCAL = 0, LOCAL_PEERCRED = 1 (struct xucred), LOCAL_PEERPID = 2
            uid = struct.unpack_from("2I", sock.getsockopt(0, 1, 76))[1]
            pid = struct.unpack("i", sock.getsockopt(0, 2, 4))[0]
            return uid, pid
    except OSError:
        pass
    return None, None


def _open_log(path: str) -> Any:
    """The daemon's log for appending (emptied past 1 MB), never through a link nor a file of
    someone else."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
        os.close(fd)
        raise OSError(f"{path} is not a log file of this user")
    if st.st_size > 1 << 20:
        os.ftruncate(fd, 0)
    return os.fdopen(fd, "ab")


class SocketProcess(PipeProcess):
    """The same message pipes as PipeProcess, over a connection to a persistent worker (started
    detached if none is listening). Closing the connection leaves the worker warm for the next
    host process; it exits by itself after its idle timeout."""

    IDLE_TIMEOUT = 900

    def __init__(self, argv: list, env: dict, cwd: str | None, address: str) -> None:
        import socket

        self.argv = list(argv)
        self.address = address
        self.log_path = address[: -len(".sock")] + ".log"
        self.daemon = None
        self.peer_pid: int | None = None  # the worker's pid as the kernel reports it
        private_folder(os.path.dirname(address))
        sock = self._connect()
        if sock is None:
            with _open_log(self.log_path) as log:
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
        except OSError:
            s.close()
            return None
        uid, self.peer_pid = peer_identity(s)
        if uid is not None and uid != os.getuid():
            s.close()
            raise OSError(f"{self.address} is served by another user (uid {uid})")
        return s

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
            try:
                s = self._connect()
            except OSError:  # someone else's by now: not ours to wait for
                return
            if s is None:
                return
            s.close()
            time.sleep(0.05)

    def stderr_tail(self, n: int = SHOWN_STDERR_LINES) -> list:
        time.sleep(0.05)
        try:
            fd = os.open(self.log_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as f:
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
        self._release((self._rfile, self._wfile, self.sock))

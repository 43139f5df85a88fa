"""Resumable, verified, locked HTTP downloads.

Model files are 5 MB to 1 GB and users are on flaky connections, so a transfer is written to
``<file>.part``, resumed with ``Range`` after a cut, retried with backoff, aborted when it stalls,
checked against its checksum and only then renamed into place. A file that fails verification is
never renamed, so nothing downstream ever sees it. Every loop is bounded: the body by the file's
size (or a cap), the time by a rate floor, the tries by kind of failure. Proxies: requests honours
HTTP(S)_PROXY and NO_PROXY from the environment.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .checksum import parse_checksum, verify_file
from .errors import Cancelled, ChecksumMismatch, DownloadError
from .filelock import FileLock
from .version import __version__

if TYPE_CHECKING:  # requests and urllib3 load on the first download, not with every command
    import requests

log = logging.getLogger(__name__)

ByteProgress = Callable[[int, "int | None"], None]  # (bytes done, total or None)
CHUNK = 1 << 16
FATAL_STATUS = {400, 401, 403, 404, 410, 451}  # retrying the same URL will not help
# A transfer under MIN_RATE bytes/s over RATE_WINDOW s is dropped (a 5 MB model would take over
# an hour); after SLOW_ATTEMPTS such windows the URL is given up.
MIN_RATE = 1024.0
RATE_WINDOW = 30.0
SLOW_ATTEMPTS = 2


class _Retry(Exception):
    """A transient failure: try the same URL again after a pause (resuming the .part)."""

    def __init__(self, reason: str, kind: str = "cut") -> None:
        super().__init__(reason)
        # "dns": the name does not resolve; "connect": no answer (refused, blocked); "slow": the
        # rate stayed under the floor; "cut": a transfer broke off (retried up to ``retries``).
        self.kind = kind


class _NextUrl(Exception):
    """This URL cannot serve the file: go to the next mirror."""


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def lock_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".lock")


def size_cap(approx_size_mb: float | None) -> int | None:
    """The most bytes a model of unknown exact size may take: generous (approximate sizes are
    rounded), but an endless body stops at a few times the model, not at a full disk."""
    return int(approx_size_mb * 1.5e6) + (1 << 20) if approx_size_mb else None


def _mb(n: float) -> str:
    if n < 100_000:
        return f"{int(n)} bytes"
    if n >= 1e10:
        return f"{n / 1e9:.0f} GB"
    return f"{n / 1e6:.1f} MB" if n < 1e8 else f"{n / 1e6:.0f} MB"


def _check_cancel(cancel: Any) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("Download cancelled.")


def _no_space(folder: Path, what: str, need: int | None, have: int) -> DownloadError:
    free = shutil.disk_usage(folder).free
    needs = f"it needs {_mb(need)}, {_mb(free)} are free" if need else f"{_mb(free)} are free"
    kept = (f" The {_mb(have)} downloaded so far are kept; the next try resumes from there."
            if have else "")
    return DownloadError(
        f"Not enough free space in {folder} to download {what}: {needs}.",
        "Free some space there, or set BGONE_MODEL_DIR to a folder on a larger disk." + kept,
        kind="disk_full",
    )


def _check_space(folder: Path, what: str, need: int, have: int) -> None:
    """Refuse before the transfer when the disk cannot hold the rest of the file."""
    if need > shutil.disk_usage(folder).free:
        raise _no_space(folder, what, need, have)


def _is_disk_full(e: OSError) -> bool:
    return e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


@dataclass(frozen=True)
class _Opts:
    size: int | None
    cap: int | None
    stall_timeout: float
    min_rate: float
    rate_window: float
    what: str


def _fetch(url: str, part: Path, opts: _Opts, progress: ByteProgress | None, cancel: Any,
           session: requests.Session) -> None:
    """One attempt: append to ``part`` from where it ends. Raises _Retry / _NextUrl."""
    import requests

    size, host = opts.size, _host(url)
    limit = size if size is not None else opts.cap
    have = part.stat().st_size if part.exists() else 0
    if limit is not None and have > limit:
        part.unlink()
        have = 0
    headers = {"User-Agent": f"bgone/{__version__}", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = session.get(url, headers=headers, stream=True, timeout=(15, opts.stall_timeout))
    except requests.exceptions.InvalidURL as e:
        raise _NextUrl(f"{url} is not a valid address") from e
    except requests.exceptions.TooManyRedirects as e:
        raise _NextUrl(f"{host} redirects in a loop") from e
    except requests.exceptions.RequestException as e:
        raise _Retry(*_reason(e, host)) from e
    with resp:
        if resp.status_code == 416 and have:  # the .part already holds everything
            return
        if resp.status_code in FATAL_STATUS:
            raise _NextUrl(f"{host} answered HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise _Retry(f"{host} answered HTTP {resp.status_code}")
        if resp.status_code == 206:
            start = _content_range_start(resp.headers.get("Content-Range", ""))
            if start != have:
                raise _Retry(f"{host} resumed at byte {start}, expected {have}")
            mode = "ab"
        else:  # 200: the server ignored Range (or we asked for none): start over
            have, mode = 0, "wb"
        length = resp.headers.get("Content-Length", "")
        offered = have + int(length) if length.isdigit() else None
        if offered is not None and size is not None and offered != size:
            raise _NextUrl(f"{host} offers {offered} bytes, but the file has {size}")
        if offered is not None and limit is not None and offered > limit:
            raise _NextUrl(f"{host} offers {_mb(offered)}, more than the {_mb(limit)} the "
                           "file can be")
        total = size if size is not None else offered
        if total is not None:
            _check_space(part.parent, opts.what, total - have, have)
        # One byte past the cap tells an overlong body from one that ends exactly there.
        stop = size if size is not None else (limit + 1 if limit is not None else None)
        _copy_body(resp, part, mode, have, stop, total, opts, progress, cancel)
        done = part.stat().st_size
        if size is None and limit is not None and done > limit:
            part.unlink()  # junk, not a part to resume from
            raise _NextUrl(f"{host} sent more than {_mb(limit)}, more than the file can be")
        if total is not None and done < total:
            raise _Retry(f"the connection to {host} closed after {done} of {total} bytes")


def _copy_body(resp: requests.Response, part: Path, mode: str, have: int, stop: int | None,
               total: int | None, opts: _Opts, progress: ByteProgress | None,
               cancel: Any) -> None:
    """Body -> part, up to ``stop`` bytes in all, aborting when the rate stays under the floor.

    ``read1`` returns whatever has arrived, so a server that drips one byte at a time is seen
    (``read`` would wait for a whole chunk and hide the crawl behind the stall timeout)."""
    import requests
    import urllib3

    host = _host(resp.url)
    read = getattr(resp.raw, "read1", None) or resp.raw.read
    done = have
    if progress:
        progress(done, total)
    t0, done0 = time.monotonic(), done
    try:
        with open(part, mode) as f:
            while stop is None or done < stop:
                _check_cancel(cancel)
                want = CHUNK if stop is None else min(CHUNK, stop - done)
                try:
                    chunk = read(want, decode_content=True)
                except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                        OSError) as e:  # stall, reset, short body
                    raise _Retry(*_reason(e, host)) from e
                if not chunk:
                    break
                f.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
                now = time.monotonic()
                if now - t0 >= opts.rate_window:
                    rate = (done - done0) / (now - t0)
                    if rate < opts.min_rate:
                        raise _Retry(f"the transfer from {host} crawled at {rate:.0f} bytes/s for "
                                     f"{now - t0:.0f} s (the minimum is {opts.min_rate:.0f} bytes/s)",
                                     "slow")
                    t0, done0 = now, done
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        if _is_disk_full(e):
            need = total - have if total is not None else None
            kept = part.stat().st_size if part.exists() else 0  # open() itself may fail
            raise _no_space(part.parent, opts.what, need, kept) from e
        raise DownloadError(
            f"Cannot write {opts.what} to {part.parent} ({e.strerror or e}).",
            "Check that the folder is writable, or set BGONE_MODEL_DIR to one that is.",
        ) from e


def _content_range_start(value: str) -> int | None:
    # "bytes 100-199/200"
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _causes(e: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (requests -> urllib3 -> socket), bounded."""
    seen: list[BaseException] = []
    todo: list[Any] = [e]
    while todo and len(seen) < 20:
        x = todo.pop()
        if not isinstance(x, BaseException) or any(x is s for s in seen):
            continue
        seen.append(x)
        todo += [x.__cause__, x.__context__, getattr(x, "reason", None), *x.args]
    return seen


def _reason(e: BaseException, host: str) -> tuple[str, str]:
    """(one clause naming the host, retry kind): no library internals, nothing cut mid-word."""
    import http.client

    import requests
    import urllib3

    causes = _causes(e)

    def has(*types: type) -> bool:
        return any(isinstance(c, types) for c in causes)

    if has(urllib3.exceptions.NameResolutionError, socket.gaierror):
        return f"{host} could not be found", "dns"
    if isinstance(e, requests.exceptions.ProxyError) or has(urllib3.exceptions.ProxyError):
        return f"the proxy did not let the connection to {host} through", "connect"
    if isinstance(e, requests.exceptions.SSLError) or has(ssl.SSLError):
        return (f"no secure connection to {host} could be made (a proxy or firewall that "
                "rewrites HTTPS?)", "connect")
    if has(ConnectionRefusedError):
        return f"{host} refused the connection", "connect"
    if isinstance(e, requests.exceptions.ConnectTimeout) or has(
            urllib3.exceptions.ConnectTimeoutError):
        return f"{host} did not answer", "connect"
    if has(urllib3.exceptions.ReadTimeoutError, TimeoutError, socket.timeout):
        return f"the transfer from {host} stalled (no data for too long)", "cut"
    if has(urllib3.exceptions.NewConnectionError):
        errs = [c for c in causes if isinstance(c, OSError) and c.strerror]
        why = f" ({errs[0].strerror.lower()})" if errs else ""
        return f"no connection to {host} could be made{why}", "connect"
    if has(urllib3.exceptions.IncompleteRead, urllib3.exceptions.ProtocolError,
           ConnectionError, http.client.IncompleteRead):
        return f"the connection to {host} broke off", "cut"
    return f"the transfer from {host} failed ({type(e).__name__})", "cut"


def download(
    urls: list[str],
    dest: Path,
    checksum: str | None,
    size: int | None = None,
    *,
    max_size: int | None = None,
    what: str | None = None,
    progress: ByteProgress | None = None,
    cancel: Any = None,
    stall_timeout: float = 30.0,
    min_rate: float = MIN_RATE,
    rate_window: float = RATE_WINDOW,
    retries: int = 5,
    backoff: float = 1.0,
    session: requests.Session | None = None,
    connect_attempts: int = 2,
) -> Path:
    """Fetch ``dest`` from the first URL that serves a file matching ``checksum``.

    The body stops at ``size`` (or ``max_size`` when no exact size is known), and a transfer
    slower than ``min_rate`` bytes/s over ``rate_window`` seconds is dropped, so a hostile or
    broken server can neither fill the disk nor hang the download. A name that does not
    resolve is tried once and a host that does not answer ``connect_attempts`` times: it will
    not come back within a retry's pause. ``what`` names the file in messages ("the u2netp
    model").
    """
    import requests

    dest = Path(dest)
    what = what or dest.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if checksum:
        parse_checksum(checksum)  # a malformed registry entry fails before any transfer
    part = part_path(dest)
    opts = _Opts(size, max_size, stall_timeout, min_rate, rate_window, what)
    failures: list[str] = []
    kinds: set[str] = set()  # why addresses were given up, for the hint
    own_session = session is None
    session = session or requests.Session()
    try:
        with FileLock(lock_path(dest), cancel, remove=True):
            # Another process may have finished while we waited for the lock.
            if dest.exists() and (checksum is None or verify_file(dest, checksum)):
                return dest
            if size is not None:
                have = part.stat().st_size if part.exists() else 0
                _check_space(dest.parent, what, max(size - have, 0), have)
            for url in urls:
                counts: dict[str, int] = {}
                for attempt in range(retries + 1):
                    _check_cancel(cancel)
                    try:
                        _fetch(url, part, opts, progress, cancel, session)
                    except _NextUrl as e:
                        failures.append(str(e))
                        break
                    except _Retry as e:
                        log.info("download of %s: %s (attempt %d)", url, e, attempt + 1)
                        counts[e.kind] = counts.get(e.kind, 0) + 1
                        gave_up = (e.kind == "dns"
                                   or (e.kind == "connect" and counts["connect"] >= connect_attempts)
                                   or (e.kind == "slow" and counts["slow"] >= SLOW_ATTEMPTS))
                        if attempt == retries or gave_up:
                            failures.append(str(e))
                            kinds.add(e.kind)
                            break
                        _sleep(min(backoff * 2**attempt, 30.0), cancel)
                        continue
                    if checksum and not verify_file(part, checksum):
                        part.unlink()  # never use, never resume from, a file that fails its check
                        failures.append(f"the file from {_host(url)} is not the expected one "
                                        "(checksum mismatch)")
                        break
                    os.replace(part, dest)
                    return dest
    except Cancelled as e:
        kept = part.stat().st_size if part.exists() else 0
        if kept:  # say it only when it is true
            raise Cancelled(f"{e.message.rstrip('.')}; the {_mb(kept)} downloaded so far are "
                            "kept, and the next try resumes from there.") from None
        raise
    finally:
        if own_session:
            session.close()
    if failures and all("checksum" in f for f in failures):
        raise ChecksumMismatch(
            f"Downloaded {what}, but it is not the expected file (checksum mismatch).",
            "The server or a proxy altered the file. Try again later, or fetch it elsewhere and "
            "import it with `bgone models import FILE`.",
        )
    kept = part.stat().st_size if part.exists() else 0
    error = DownloadError(
        f"Could not download {what}: " + "; ".join(failures or ["no address to download from"])
        + ".",
        ("Is this machine online? If it is, a firewall or DNS filter blocks that name"
         if "dns" in kinds else "Check the internet connection")
        + " (behind a proxy, set HTTPS_PROXY). Or fetch "
        f"{urls[0] if urls else 'the file'} on another machine and run "
        "`bgone models import FILE`."
        + (f" The {_mb(kept)} downloaded so far are kept; the next try resumes from there."
           if kept else ""),
    )
    error.reasons = failures  # one clause per address, for callers that combine sources
    raise error


def _sleep(seconds: float, cancel: Any) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        _check_cancel(cancel)
        time.sleep(min(0.1, end - time.monotonic()) if end > time.monotonic() else 0)

"""Resumable, verified, locked HTTP downloads.

Model files are 5 MB to 1 GB and users are on flaky connections, so a transfer is written to
``<file>.part``, resumed with ``Range`` after a cut, retried with backoff, aborted when it stalls,
checked against its checksum and only then renamed into place. A file that fails verification is
never renamed, so nothing downstream ever sees it. Proxies: requests honours HTTP(S)_PROXY and
NO_PROXY from the environment.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from .checksum import parse_checksum, verify_file
from .errors import Cancelled, ChecksumMismatch, DownloadError
from .filelock import FileLock
from .version import __version__

log = logging.getLogger(__name__)

ByteProgress = Callable[[int, "int | None"], None]  # (bytes done, total or None)
CHUNK = 1 << 16
FATAL_STATUS = {400, 401, 403, 404, 410, 451}  # retrying the same URL will not help


class _Retry(Exception):
    """A transient failure: try the same URL again after a pause (resuming the .part)."""

    def __init__(self, reason: str, connect: bool = False) -> None:
        super().__init__(reason)
        self.connect = connect  # no answer at all (DNS, refused, blocked), not a cut transfer


class _NextUrl(Exception):
    """This URL cannot serve the file: go to the next mirror."""


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def lock_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".lock")


def _check_cancel(cancel: Any) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("Download cancelled; it will resume where it stopped next time.")


def _fetch(url: str, part: Path, size: int | None, progress: ByteProgress | None, cancel: Any,
           stall_timeout: float, session: requests.Session) -> None:
    """One attempt: append to ``part`` from where it ends. Raises _Retry / _NextUrl."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
    headers = {"User-Agent": f"bgone/{__version__}", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = session.get(url, headers=headers, stream=True, timeout=(15, stall_timeout))
    except requests.exceptions.InvalidURL as e:
        raise _NextUrl(f"invalid URL ({e})") from e
    except requests.exceptions.RequestException as e:
        raise _Retry(_reason(e), connect=True) from e
    with resp:
        if resp.status_code == 416 and have:  # the .part already holds everything
            return
        if resp.status_code in FATAL_STATUS:
            raise _NextUrl(f"the server answered HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise _Retry(f"the server answered HTTP {resp.status_code}")
        if resp.status_code == 206:
            start = _content_range_start(resp.headers.get("Content-Range", ""))
            if start != have:
                raise _Retry(f"the server resumed at byte {start}, expected {have}")
            mode = "ab"
        else:  # 200: the server ignored Range (or we asked for none): start over
            have, mode = 0, "wb"
        total = size
        if total is None:
            length = resp.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else None
        done = have
        if progress:
            progress(done, total)
        try:
            with open(part, mode) as f:
                for chunk in resp.iter_content(CHUNK):
                    _check_cancel(cancel)
                    f.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
                f.flush()
                os.fsync(f.fileno())
        except requests.exceptions.RequestException as e:  # stall, reset, short body
            raise _Retry(_reason(e)) from e
        if total is not None and done < total:
            raise _Retry(f"the connection closed after {done} of {total} bytes")


def _content_range_start(value: str) -> int | None:
    # "bytes 100-199/200"
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _reason(e: BaseException) -> str:
    text = str(e)
    if isinstance(e, requests.exceptions.ConnectionError) and "timed out" in text.lower():
        return "the transfer stalled (no data for too long)"
    if isinstance(e, requests.exceptions.Timeout):
        return "the server did not answer in time"
    if isinstance(e, requests.exceptions.ProxyError):
        return f"the proxy refused the connection ({text[:200]})"
    if isinstance(e, requests.exceptions.SSLError):
        return f"a secure connection could not be made ({text[:200]})"
    if isinstance(e, requests.exceptions.ConnectionError):
        return f"no connection ({text[:200]})"
    return text[:300]


def download(
    urls: list[str],
    dest: Path,
    checksum: str | None,
    size: int | None = None,
    *,
    progress: ByteProgress | None = None,
    cancel: Any = None,
    stall_timeout: float = 30.0,
    retries: int = 5,
    backoff: float = 1.0,
    session: requests.Session | None = None,
    connect_attempts: int | None = None,
) -> Path:
    """Fetch ``dest`` from the first URL that serves a file matching ``checksum``.

    ``connect_attempts`` caps the tries on a URL that never answers (blocked host, no DNS) when
    the caller has another source to fall back on; cut or stalled transfers keep ``retries``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if checksum:
        parse_checksum(checksum)  # a malformed registry entry fails before any transfer
    part = part_path(dest)
    failures: list[str] = []
    own_session = session is None
    session = session or requests.Session()
    try:
        with FileLock(lock_path(dest), cancel):
            # Another process may have finished while we waited for the lock.
            if dest.exists() and (checksum is None or verify_file(dest, checksum)):
                return dest
            for url in urls:
                for attempt in range(retries + 1):
                    _check_cancel(cancel)
                    try:
                        _fetch(url, part, size, progress, cancel, stall_timeout, session)
                    except _NextUrl as e:
                        failures.append(f"{url}: {e}")
                        break
                    except _Retry as e:
                        log.info("download of %s: %s (attempt %d)", url, e, attempt + 1)
                        gave_up = e.connect and connect_attempts is not None and (
                            attempt + 1 >= connect_attempts)
                        if attempt == retries or gave_up:
                            failures.append(f"{url}: {e}")
                            break
                        _sleep(min(backoff * 2**attempt, 30.0), cancel)
                        continue
                    if checksum and not verify_file(part, checksum):
                        part.unlink()  # never use, never resume from, a file that fails its check
                        failures.append(f"{url}: the file's checksum does not match")
                        break
                    os.replace(part, dest)
                    return dest
    finally:
        if own_session:
            session.close()
    if failures and all("checksum" in f for f in failures):
        raise ChecksumMismatch(
            f"Downloaded {dest.name}, but it is not the expected file (checksum mismatch).",
            "The server or a proxy altered the file. Try again later, or fetch it elsewhere and "
            "import it with `bgone models import`.",
        )
    raise DownloadError(
        f"Could not download {dest.name}: " + "; ".join(failures or ["no URL to download from"]),
        "Check your internet connection (and HTTPS_PROXY if you are behind a proxy). On a machine "
        f"without internet, fetch {urls[0] if urls else 'the file'} elsewhere and run "
        f"`bgone models import FILE`. A partial download is kept and resumes next time.",
    )


def _sleep(seconds: float, cancel: Any) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        _check_cancel(cancel)
        time.sleep(min(0.1, end - time.monotonic()) if end > time.monotonic() else 0)

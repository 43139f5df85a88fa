"""Downloads against a real HTTP server on 127.0.0.1, including broken ones."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bgone import download as dl
from bgone.errors import Cancelled, ChecksumMismatch, DownloadError
from tests.httpserver import Route, Server

BODY = os.urandom(700_000)
SHA = "sha256:" + hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def server():
    with Server() as s:
        yield s


def test_success_reports_progress_and_leaves_no_part(server, tmp_path):
    url = server.add("/m.onnx", Route(BODY))
    seen: list[tuple[int, int | None]] = []
    out = dl.download([url], tmp_path / "m.onnx", SHA, len(BODY), progress=lambda d, t: seen.append((d, t)))
    assert out.read_bytes() == BODY
    assert seen[-1] == (len(BODY), len(BODY))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert not dl.part_path(out).exists()


def test_md5_checksum_and_unknown_size(server, tmp_path):
    url = server.add("/m", Route(BODY))
    md5 = "md5:" + hashlib.md5(BODY).hexdigest()
    totals = []
    dl.download([url], tmp_path / "m", md5, None, progress=lambda d, t: totals.append(t))
    assert totals[-1] == len(BODY)  # from Content-Length


def test_resumes_after_a_cut_with_range(server, tmp_path):
    route = Route(BODY, cut_after=300_000, cut_times=1)
    url = server.add("/m", route)
    out = dl.download([url], tmp_path / "m", SHA, len(BODY), backoff=0.01)
    assert out.read_bytes() == BODY
    assert route.requests[0]["range"] is None
    resumed_at = int(route.requests[1]["range"].split("=")[1].rstrip("-"))
    assert 0 < resumed_at <= 300_000  # resumed, not restarted


def test_existing_part_is_resumed_and_a_complete_part_is_not_refetched(server, tmp_path):
    route = Route(BODY)
    url = server.add("/m", route)
    dest = tmp_path / "m"
    dl.part_path(dest).write_bytes(BODY[:123_456])
    dl.download([url], dest, SHA, len(BODY))
    assert route.requests[-1]["range"] == "bytes=123456-"
    dest.unlink()
    dl.part_path(dest).write_bytes(BODY)  # a previous run got everything but was killed
    dl.download([url], dest, SHA, len(BODY))
    assert dest.read_bytes() == BODY


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    route = Route(BODY, honour_range=False)
    url = server.add("/m", route)
    dest = tmp_path / "m"
    dl.part_path(dest).write_bytes(b"x" * 5000)  # garbage that must not be kept
    dl.download([url], dest, SHA, len(BODY))
    assert dest.read_bytes() == BODY


def test_stall_is_aborted_and_resumed(server, tmp_path):
    route = Route(BODY, stall_after=200_000, stall_times=1, stall_seconds=3)
    url = server.add("/m", route)
    t0 = time.monotonic()
    out = dl.download([url], tmp_path / "m", SHA, len(BODY), stall_timeout=0.5, backoff=0.01)
    assert out.read_bytes() == BODY
    assert time.monotonic() - t0 < 3  # did not wait for the stalled server
    resumed_at = int(route.requests[1]["range"].split("=")[1].rstrip("-"))
    assert 0 < resumed_at <= 200_000


def test_404_names_the_url_and_the_import_command(server, tmp_path):
    url = server.base + "/missing.onnx"
    with pytest.raises(DownloadError) as e:
        dl.download([url], tmp_path / "m", SHA, len(BODY), backoff=0.01)
    text = str(e.value)
    assert "HTTP 404" in text and url in text and "bgone models import" in text
    assert not (tmp_path / "m").exists()


def test_mirror_is_used_when_the_first_url_fails(server, tmp_path):
    url = server.add("/good", Route(BODY))
    out = dl.download([server.base + "/gone", url], tmp_path / "m", SHA, len(BODY))
    assert out.read_bytes() == BODY


def test_wrong_checksum_is_never_used(server, tmp_path):
    url = server.add("/m", Route(b"not the model" * 1000))
    dest = tmp_path / "m"
    with pytest.raises(ChecksumMismatch):
        dl.download([url], dest, SHA, None)
    assert not dest.exists() and not dl.part_path(dest).exists()


def test_truncated_body_retries_then_fails_clearly(server, tmp_path):
    route = Route(BODY, cut_after=100_000, cut_times=99)
    url = server.add("/m", route)
    dest = tmp_path / "m"
    with pytest.raises(DownloadError) as e:
        dl.download([url], dest, SHA, len(BODY), retries=2, backoff=0.01)
    assert len(route.requests) == 3
    assert not dest.exists()
    kept = dl.part_path(dest).stat().st_size
    assert kept > 0 and "downloaded so far are kept; the next try resumes" in str(e.value)


def test_truncated_body_heals_on_retry(server, tmp_path):
    route = Route(BODY, cut_after=100_000, cut_times=3)
    url = server.add("/m", route)
    assert dl.download([url], tmp_path / "m", SHA, len(BODY), backoff=0.01).read_bytes() == BODY


def test_no_server_is_a_clear_error(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(DownloadError) as e:
        dl.download([f"http://127.0.0.1:{port}/m"], tmp_path / "m", SHA, retries=1, backoff=0.01)
    assert "127.0.0.1 refused the connection" in str(e.value)


def test_cancel_keeps_the_part_for_later(server, tmp_path):
    url = server.add("/m", Route(BODY, throttle=0.05))
    dest = tmp_path / "m"
    ev = threading.Event()

    def progress(done: int, total: int | None) -> None:
        if done > 100_000:
            ev.set()

    with pytest.raises(Cancelled) as e:
        dl.download([url], dest, SHA, len(BODY), progress=progress, cancel=ev)
    assert not dest.exists()
    assert dl.part_path(dest).stat().st_size > 100_000
    assert "downloaded so far are kept" in e.value.message
    with pytest.raises(Cancelled) as e:  # cancelled before a byte came: no word about a part
        dl.download([url], tmp_path / "other", SHA, len(BODY), cancel=ev)
    assert e.value.message == "Download cancelled." and _files(tmp_path) == ["m.part"]


def test_concurrent_processes_do_not_corrupt_each_other(server, tmp_path):
    route = Route(BODY, throttle=0.02)
    url = server.add("/m", route)
    dest = tmp_path / "m"
    code = (
        "import sys; from pathlib import Path; from bgone import download as dl;"
        f"dl.download([{url!r}], Path({str(dest)!r}), {SHA!r}, {len(BODY)}); print('ok')"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root / "core")}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env) for _ in range(3)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs) and all(o.strip() == b"ok" for o in outs)
    assert dest.read_bytes() == BODY
    full = [r for r in route.requests if r["range"] is None]
    assert len(full) == 1  # the others waited for the lock and found the finished file


# -- bounded: size, rate, redirects, disk, and failures that come back fast -------------------


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_endless_body_without_a_size_stops_at_the_cap(server, tmp_path):
    url = server.add("/m", Route(b"x" * 65536, endless=True))
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as e:
        dl.download([url], tmp_path / "m", SHA, None, max_size=300_000, backoff=0.01)
    assert time.monotonic() - t0 < 5
    assert "sent more than" in e.value.message and "127.0.0.1" in e.value.message
    assert _files(tmp_path) == []  # the junk is not kept as a part to resume, no lock left


def test_endless_body_with_a_known_size_stops_at_that_size(server, tmp_path):
    url = server.add("/m", Route(BODY, endless=True))  # the file, then the same bytes forever
    out = dl.download([url], tmp_path / "m", SHA, len(BODY))
    assert out.read_bytes() == BODY and _files(tmp_path) == ["m"]


def test_size_cap_follows_the_approximate_size():
    assert dl.size_cap(None) is None
    cap = dl.size_cap(4.6)
    assert 4_600_000 < cap < 10_000_000  # room for a rounded size, nowhere near 500 MB


@pytest.mark.parametrize("size, cap", [(len(BODY), None), (None, 1_000_000)])
def test_lying_content_length_is_refused_before_the_body(server, tmp_path, size, cap):
    route = Route(BODY, content_length=10**10, honour_range=False)
    url = server.add("/m", route)
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as e:
        dl.download([url], tmp_path / "m", SHA, size, max_size=cap, backoff=0.01)
    assert time.monotonic() - t0 < 5 and len(route.requests) == 1
    assert "offers 10 GB" in e.value.message or "offers 10000000000 bytes" in e.value.message
    assert _files(tmp_path) == []


def test_a_crawling_server_is_dropped_below_the_rate_floor(server, tmp_path):
    route = Route(BODY, drip=0.02)  # ~50 bytes/s: the download would sit at 0 % for hours
    url = server.add("/m", route)
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as e:
        dl.download([url], tmp_path / "m", SHA, len(BODY), min_rate=1000, rate_window=0.3,
                    backoff=0.01)
    assert time.monotonic() - t0 < 5
    assert len(route.requests) == dl.SLOW_ATTEMPTS  # then the URL is given up, not retried forever
    assert "crawled at" in e.value.message and "bytes/s" in e.value.message
    assert "kept; the next try resumes" in e.value.hint  # the bytes that did come are real


def test_redirect_loop_fails_fast(server, tmp_path):
    url = server.add("/loop", Route(b"", redirect="/loop"))
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as e:
        dl.download([url], tmp_path / "m", SHA, None, backoff=1.0)
    assert time.monotonic() - t0 < 5
    assert "redirects in a loop" in e.value.message
    assert _files(tmp_path) == []


def test_unresolvable_name_fails_fast_in_plain_words(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as e:
        dl.download(["http://bgone-test.invalid/u2netp.onnx"], tmp_path / "u2netp.onnx", SHA,
                    what="the u2netp model", backoff=1.0)
    assert time.monotonic() - t0 < 5
    msg = e.value.message
    assert msg.startswith("Could not download the u2netp model: bgone-test.invalid could not be")
    assert msg.endswith(".") and msg.count(". ") == 0  # one sentence, not cut off
    for internal in ("HTTPConnection", "Caused by", "Max retries", "urllib3", "Errno"):
        assert internal not in str(e.value)
    assert "bgone models import" in e.value.hint and "HTTPS_PROXY" in e.value.hint
    assert "kept" not in e.value.hint  # nothing was downloaded, so nothing is said to be kept
    assert _files(tmp_path) == []  # no stray .lock, no empty .part


def test_refused_connection_fails_fast_and_leaves_nothing(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as e:
        dl.download([f"http://127.0.0.1:{port}/m"], tmp_path / "m", SHA, backoff=1.0)
    assert time.monotonic() - t0 < 5  # two tries one second apart, not 32 s of backoff
    assert e.value.message == "Could not download m: 127.0.0.1 refused the connection."
    assert _files(tmp_path) == []


def test_no_room_for_the_file_is_said_before_the_transfer(server, tmp_path):
    import shutil

    route = Route(BODY)
    url = server.add("/m", route)
    huge = shutil.disk_usage(tmp_path).free + 10**12
    with pytest.raises(DownloadError) as e:
        dl.download([url], tmp_path / "m", SHA, huge, what="the big model")
    assert e.value.kind == "disk_full" and route.requests == []
    assert str(tmp_path) in e.value.message and "the big model" in e.value.message
    assert "it needs" in e.value.message and "BGONE_MODEL_DIR" in e.value.hint


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_disk_full_during_the_transfer_is_a_message(server, tmp_path):
    url = server.add("/m", Route(BODY))
    dest = tmp_path / "m"
    os.symlink("/dev/full", dl.part_path(dest))  # every write fails with ENOSPC, as on a full disk
    with pytest.raises(DownloadError) as e:
        dl.download([url], dest, SHA, len(BODY))
    assert e.value.kind == "disk_full" and str(tmp_path) in e.value.message
    assert not dest.exists()


def test_removed_lock_files_still_exclude(tmp_path):
    """Lock files are deleted on release; a waiter left holding the deleted file must notice
    and lock the new one, or two holders would write the same .part."""
    from bgone.filelock import FileLock

    path = tmp_path / "m.lock"
    inside, overlaps = [0], []

    def worker() -> None:
        for _ in range(15):
            with FileLock(path, poll=0.001, remove=True):
                inside[0] += 1
                if inside[0] != 1:
                    overlaps.append(inside[0])
                time.sleep(0.0005)
                inside[0] -= 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert overlaps == [] and not path.exists()

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
    assert "resumes next time" in str(e.value)


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
    assert "no connection" in str(e.value)


def test_cancel_keeps_the_part_for_later(server, tmp_path):
    url = server.add("/m", Route(BODY, throttle=0.05))
    dest = tmp_path / "m"
    ev = threading.Event()

    def progress(done: int, total: int | None) -> None:
        if done > 100_000:
            ev.set()

    with pytest.raises(Cancelled):
        dl.download([url], dest, SHA, len(BODY), progress=progress, cancel=ev)
    assert not dest.exists()
    assert dl.part_path(dest).stat().st_size > 100_000


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

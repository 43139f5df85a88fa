import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from bgone import cli
from tests.test_pipeline import drawn


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "in" / "photo.jpg"
    p.parent.mkdir()
    Image.fromarray(drawn()[0]).save(p, quality=95)
    return p


def run(*args):
    return cli.main([str(a) for a in args])


def test_remove_writes_a_cutout(seeded_model_dir, photo, tmp_path):
    out = tmp_path / "out.png"
    assert run("remove", photo, "-o", out, "--refine", "none") == 0
    a = np.asarray(Image.open(out))
    assert a.shape == (480, 640, 4) and a[240, 320, 3] == 255 and a[3, 3, 3] == 0


def test_mask_and_out_dir(seeded_model_dir, photo, tmp_path):
    Image.fromarray(drawn(240, 320)[0]).save(photo.parent / "second.png")
    assert (
        run("remove", photo.parent, "--out-dir", tmp_path / "o", "--mask", "--refine", "none") == 0
    )
    outs = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert outs == ["photo_mask.png", "second_mask.png"]
    assert Image.open(tmp_path / "o" / "second_mask.png").mode == "L"


def test_bg_color_to_jpeg(seeded_model_dir, photo, tmp_path):
    out = tmp_path / "flat.jpg"
    assert run("remove", photo, "-o", out, "--bg-color", "255,255,255", "--refine", "none") == 0
    px = np.asarray(Image.open(out))
    assert px[3, 3].min() > 245


@pytest.mark.parametrize(
    "content, words",
    [(None, "no such file"), (b"", "empty"), (b"not an image at all", "not an image")],
)
def test_bad_inputs_fail_clearly_and_write_nothing(
    seeded_model_dir, tmp_path, capsys, content, words
):
    src = tmp_path / "bad.png"
    if content is not None:
        src.write_bytes(content)
    out = tmp_path / "out.png"
    assert run("remove", src, "-o", out, "--refine", "none") != 0
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "models")
    assert not out.exists() and left == (["bad.png"] if content is not None else [])


def test_unknown_model(seeded_model_dir, photo, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert run("remove", photo, "-o", out, "--model", "u2nett") != 0
    err = capsys.readouterr().err
    assert "Unknown model 'u2nett'" in err and "u2netp" in err and not out.exists()


def test_refuses_to_overwrite_and_jpeg_without_background(
    seeded_model_dir, photo, tmp_path, capsys
):
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    assert run("remove", photo, "-o", out) == 2
    assert out.read_bytes() == b"keep me"
    assert run("remove", photo, "-o", tmp_path / "x.jpg") == 2
    assert "no transparency" in capsys.readouterr().err


def test_models_list_json(seeded_model_dir, capsys):
    assert run("models", "list", "--json") == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["u2netp"]["installed"] and not rows["u2net"]["installed"]
    assert rows["bria-rmbg"]["commercial_use"] is False
    assert sum(r["default"] for r in rows.values()) == 1


def test_models_list_text_warns_about_noncommercial(model_dir, capsys):
    assert run("models", "list") == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "bria-rmbg" in line)
    assert "NON-COMMERCIAL" in line


def test_models_path(model_dir, capsys):
    assert run("models", "path") == 0
    assert capsys.readouterr().out.strip() == str(model_dir)


def test_import_recognises_file_by_checksum_and_rejects_corruption(
    model_dir, u2netp_path, tmp_path, capsys
):
    assert run("models", "import", u2netp_path) == 0
    assert (model_dir / "u2netp.onnx").is_file()
    assert run("models", "verify") == 0
    bad = tmp_path / "u2netp.onnx"
    data = bytearray(u2netp_path.read_bytes())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    (model_dir / "u2netp.onnx").unlink()
    capsys.readouterr()
    assert run("models", "import", "u2netp", bad) != 0
    assert "checksum" in capsys.readouterr().err.lower()
    assert not (model_dir / "u2netp.onnx").exists()


def test_import_like_registers_a_custom_model(model_dir, u2netp_path, capsys):
    assert run("models", "import", "my-net", u2netp_path, "--like", "u2netp") == 0
    capsys.readouterr()
    assert run("models", "list", "--json") == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert (
        rows["my-net"]["installed"]
        and rows["my-net"]["custom"]
        and rows["my-net"]["input_size"] == [320, 320]
    )


def test_python_dash_m_entry_point(seeded_model_dir, photo, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "bgone",
            "remove",
            str(photo),
            "-o",
            str(tmp_path / "o.png"),
            "--model",
            "u2netp",
            "--refine",
            "none",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o.png").is_file()

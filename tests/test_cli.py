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


def test_remove_writes_a_cutout_and_says_so(seeded_model_dir, photo, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert run("remove", photo, "-o", out, "--refine", "none") == 0
    a = np.asarray(Image.open(out))
    assert a.shape == (480, 640, 4) and a[240, 320, 3] == 255 and a[3, 3, 3] == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.splitlines()[-1].startswith(f"Wrote {out} in ")


def test_mask_and_out_dir(seeded_model_dir, photo, tmp_path, capsys):
    Image.fromarray(drawn(240, 320)[0]).save(photo.parent / "second.png")
    assert (
        run("remove", photo.parent, "--out-dir", tmp_path / "o", "--mask", "--refine", "none") == 0
    )
    outs = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert outs == ["photo_mask.png", "second_mask.png"]
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"Wrote 2 images to {tmp_path / 'o'} in ") and last.endswith(" per minute).")
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


# --- output files (issue 12 items 7-9) and folders (issue 16) ------------------------------


def _png(path, h=120, w=160):
    Image.fromarray(drawn(h, w)[0]).save(path, format="PNG")
    return path


def test_remove_help_says_how_outputs_are_named_and_that_folders_are_not_recursive(capsys):
    with pytest.raises(SystemExit):
        run("remove", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "<name>_mask.png" in text and "--recursive" in text and "not its subfolders" in text


def test_unwritable_output_folder_fails_before_any_inference(
    seeded_model_dir, photo, tmp_path, capsys, monkeypatch
):
    from collections import OrderedDict

    from bgone import inference

    monkeypatch.setattr(inference, "_sessions", OrderedDict())  # no model session yet
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    assert run("remove", photo, "--out-dir", blocker / "sub", "--refine", "none") == 1
    err = capsys.readouterr().err
    assert str(blocker) in err and "Traceback" not in err
    assert not inference._sessions  # refused before the model was even loaded


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_output_folder_fails_before_any_inference(seeded_model_dir, photo, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert run("remove", photo, "--out-dir", ro, "--refine", "none") == 1
    finally:
        ro.chmod(0o700)
    assert "Cannot write into" in capsys.readouterr().err


def test_a_failed_write_spares_the_rest_of_the_batch(seeded_model_dir, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _png(src / "a.png")
    _png(src / "b.png")
    out = tmp_path / "out"
    (out / "a.png").mkdir(parents=True)  # a folder where a.png must go: the rename fails
    assert run("remove", src, "--out-dir", out, "--overwrite", "--refine", "none") == 1
    err = capsys.readouterr().err
    assert "a.png" in err and "1 of 2 images failed" in err and "Traceback" not in err
    assert Image.open(out / "b.png").mode == "RGBA"
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]  # no temp file left


def test_memory_error_is_a_message_and_the_batch_carries_on(seeded_model_dir, tmp_path, capsys, monkeypatch):
    from bgone import pipeline

    real = pipeline.compose

    def fails_on_the_wide_one(rgb, *args, **kwargs):  # fault injection: the wide photo runs out of
        if rgb.shape[1] > 200:  # memory in the finishing stage, on the batch's finishing thread
            raise MemoryError
        return real(rgb, *args, **kwargs)

    monkeypatch.setattr(pipeline, "compose", fails_on_the_wide_one)
    src = tmp_path / "in"
    src.mkdir()
    _png(src / "a.png", 120, 300)
    _png(src / "b.png")
    assert run("remove", src, "--out-dir", tmp_path / "out", "--refine", "none") == 1
    err = capsys.readouterr().err
    assert "a.png: not enough memory" in err and "1 of 2 images failed" in err
    assert (tmp_path / "out" / "b.png").is_file() and not (tmp_path / "out" / "a.png").exists()


def _unshare_works() -> bool:
    import shutil

    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs Linux mount namespaces (unshare -rm)")
def test_full_disk_is_a_message_and_leaves_no_temp_files(seeded_model_dir, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _png(src / "a.png", 240, 320)  # each cutout larger than the 12 kB disk
    _png(src / "b.png", 240, 320)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # a 12 kB disk of our own, in a private mount namespace: room for the probe, not a cutout
    script = (f'mount -t tmpfs -o size=12k tmpfs "{out}" || exit 99; "{sys.executable}" -m bgone remove '
              f'"{src}" --out-dir "{out}" --refine none; rc=$?; ls -A "{out}" > "{tmp_path}/left"; exit $rc')
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=env)
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("is full") == 2 and "2 of 2 images failed" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert (tmp_path / "left").read_text() == ""  # no temp file, no partial cutout


def test_badly_shaped_custom_model_is_a_message(model_dir, tiny_model, photo, tmp_path, capsys):
    """A custom export whose input does not fit its recipe (32x32 where u2netp's is 320x320),
    registered as an older bgone would have let it in."""
    import hashlib
    import shutil

    from bgone import registry

    shutil.copyfile(tiny_model, model_dir / "odd.onnx")
    sha = hashlib.sha256(tiny_model.read_bytes()).hexdigest()
    registry.register_custom("odd", "u2netp", "odd.onnx", f"sha256:{sha}", tiny_model.stat().st_size)
    assert run("remove", photo, "-o", tmp_path / "o.png", "--model", "odd", "--refine", "none") == 1
    err = capsys.readouterr().err
    assert "The model odd failed" in err and "--like" in err and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


def test_outputs_honour_the_umask_and_overwrite_keeps_the_mode(seeded_model_dir, photo, tmp_path):
    import stat

    old = os.umask(0o022)
    try:
        out = tmp_path / "new.png"
        assert run("remove", photo, "-o", out, "--refine", "none") == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        kept = tmp_path / "kept.png"
        kept.write_bytes(b"old")
        kept.chmod(0o640)
        assert run("remove", photo, "-o", kept, "--refine", "none", "--overwrite") == 0
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and Image.open(kept).mode == "RGBA"
    finally:
        os.umask(old)


def test_the_file_is_synced_before_it_is_renamed(seeded_model_dir, photo, tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", os.fstat(fd).st_size)), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append(("replace", b)), real_replace(a, b))[1])
    out = tmp_path / "o.png"
    assert run("remove", photo, "-o", out, "--refine", "none") == 0
    synced = [i for i, c in enumerate(calls) if c[0] == "fsync" and c[1] == out.stat().st_size]
    renamed = [i for i, c in enumerate(calls) if c == ("replace", out)]
    assert synced and renamed and synced[0] < renamed[0]


def test_own_temp_and_hidden_files_are_not_inputs_and_stale_temps_are_removed(seeded_model_dir, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _png(src / "photo.png")
    _png(src / ".photo.k3j4x9.png")  # what a killed older bgone left beside its output
    _png(src / ".bgone-1-0a1b2c3d-x.png.part")
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = out / f".bgone-{dead.pid}-0a1b2c3d-photo.png.part"  # a killed run's leftover
    alive = out / ".bgone-1-0a1b2c3d-other.png.part"  # pid 1 is running: its write may be under way
    stale.write_bytes(b"half")
    alive.write_bytes(b"half")
    assert run("remove", src, "--out-dir", out, "--refine", "none") == 0
    assert sorted(p.name for p in out.iterdir()) == [alive.name, "photo.png"]


def test_refuses_to_write_over_the_input(seeded_model_dir, tmp_path, capsys):
    src = _png(tmp_path / "photo.png")
    before = src.read_bytes()
    assert run("remove", src, "-o", src, "--overwrite") == 2
    assert run("remove", tmp_path, "--out-dir", tmp_path, "--overwrite") == 2
    assert "is the input itself" in capsys.readouterr().err
    assert src.read_bytes() == before


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("name, extra", [("o.png", ()), ("o.webp", ()), ("o.tif", ()),
                                         ("o.jpg", ("--bg-color", "white"))])
def test_the_inputs_colour_profile_is_kept(seeded_model_dir, tmp_path, name, extra):
    icc = _srgb_profile()
    src = tmp_path / "p3.jpg"
    Image.fromarray(drawn(120, 160)[0]).save(src, icc_profile=icc, quality=95)
    out = tmp_path / name
    assert run("remove", src, "-o", out, "--refine", "none", *extra) == 0
    assert Image.open(out).info.get("icc_profile") == icc


def test_a_mask_carries_no_colour_profile(seeded_model_dir, tmp_path):
    src = tmp_path / "p3.jpg"
    Image.fromarray(drawn(120, 160)[0]).save(src, icc_profile=_srgb_profile())
    assert run("remove", src, "-o", tmp_path / "m.png", "--mask", "--refine", "none") == 0
    assert Image.open(tmp_path / "m.png").info.get("icc_profile") is None


@pytest.mark.parametrize("ext", [".gif", ".tif"])
def test_multi_frame_inputs_say_only_the_first_frame_is_used(seeded_model_dir, tmp_path, capsys, ext):
    first, second = Image.fromarray(drawn(120, 160)[0]), Image.new("RGB", (160, 120), "green")
    src = tmp_path / f"anim{ext}"
    first.save(src, save_all=True, append_images=[second])
    assert Image.open(src).n_frames == 2
    assert run("remove", src, "-o", tmp_path / "o.png", "--refine", "none") == 0
    assert "has 2 frames; only the first is used" in capsys.readouterr().err
    a = np.asarray(Image.open(tmp_path / "o.png"))
    assert a[60, 80, 3] == 255 and a[2, 2, 3] == 0  # the drawn subject of frame 1, not flat green


def test_folders_are_searched_recursively_only_when_asked(seeded_model_dir, tmp_path, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    _png(src / "sub" / "deep.png")
    assert run("remove", src, "--out-dir", tmp_path / "out", "--refine", "none") == 2
    assert "only with --recursive" in capsys.readouterr().err
    _png(src / "top.png")
    assert run("remove", src, "--out-dir", tmp_path / "out", "--refine", "none") == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["top.png"]
    out2 = src / "cut"  # inside the input folder: a re-run must not take its outputs as inputs
    for _ in range(2):
        assert run("remove", src, "--out-dir", out2, "-r", "--refine", "none", "--overwrite") == 0
    got = sorted(str(p.relative_to(out2)) for p in out2.rglob("*.png"))
    assert got == ["sub/deep.png", "top.png"]


def test_a_folder_batch_matches_one_by_one_results(seeded_model_dir, tmp_path):
    """Decoding ahead and writing behind must never mix photos up."""
    from bgone import pipeline

    src = tmp_path / "in"
    src.mkdir()
    for i, (h, w) in enumerate([(120, 160), (150, 100), (90, 200)]):
        img = drawn(h, w)[0]
        Image.fromarray(np.roll(img, 10 * i, axis=1)).save(src / f"{i}.png")
    assert run("remove", src, "--out-dir", tmp_path / "out", "--refine", "none") == 0
    for f in sorted(src.iterdir()):
        want = np.asarray(pipeline.remove(f, model="u2netp", refine="none"))
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / f.name)), want)

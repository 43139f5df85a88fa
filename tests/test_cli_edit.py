"""`bgone refine` and `bgone adjust`: outputs, region, checks before work, clear errors."""

import numpy as np
import pytest
from PIL import Image

from bgone.cli import main


def scene(h=120, w=160):
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(yy - h / 2, xx - w / 2)
    gt = np.clip((h / 3 - d) / 3 + 0.5, 0, 1)
    bg = np.array([40, 60, 150], np.float32)
    fg = np.array([240, 220, 90], np.float32)
    rgb = (gt[..., None] * fg + (1 - gt[..., None]) * bg).astype(np.uint8)
    return rgb, np.where(gt >= 0.5, 255, 0).astype(np.uint8)


@pytest.fixture
def files(tmp_path):
    rgb, mask = scene()
    Image.fromarray(rgb).save(tmp_path / "img.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return tmp_path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_refine_writes_an_8bit_mask(files, capsys):
    out = files / "out.png"
    code, _ = run(capsys, "refine", files / "img.png", files / "mask.png", "-o", out)
    assert code == 0
    img = Image.open(out)
    mask = np.asarray(Image.open(files / "mask.png"))
    assert img.mode == "L" and img.size == (160, 120)
    assert (np.asarray(img) != mask).any()


def test_refine_region_rectangle_keeps_the_rest(files, capsys):
    out = files / "out.png"
    code, _ = run(
        capsys,
        "refine",
        files / "img.png",
        files / "mask.png",
        "-o",
        out,
        "--region",
        "0,0,80,60",
        "--band",
        "6",
    )
    assert code == 0
    res, mask = np.asarray(Image.open(out)), np.asarray(Image.open(files / "mask.png"))
    inside = np.zeros(mask.shape, bool)
    inside[:60, :80] = True
    assert np.array_equal(res[~inside], mask[~inside]) and (res[inside] != mask[inside]).any()


def test_refine_region_from_a_selection_image(files, capsys):
    sel = np.zeros((120, 160), np.uint8)
    sel[60:, :] = 255
    Image.fromarray(sel).save(files / "sel.png")
    out = files / "out.png"
    code, _ = run(
        capsys,
        "refine",
        files / "img.png",
        files / "mask.png",
        "-o",
        out,
        "--region",
        files / "sel.png",
    )
    assert code == 0
    res, mask = np.asarray(Image.open(out)), np.asarray(Image.open(files / "mask.png"))
    assert np.array_equal(res[:60], mask[:60])


def test_refine_cutout_is_rgba_and_takes_a_cutout_as_its_mask(files, capsys):
    rgb, mask = scene()
    Image.fromarray(np.dstack([rgb, mask])).save(
        files / "cut.png"
    )  # a cutout: its alpha is the mask
    out = files / "out.png"
    code, _ = run(capsys, "refine", files / "img.png", files / "cut.png", "-o", out, "--cutout")
    assert code == 0
    img = Image.open(out)
    assert img.mode == "RGBA" and np.asarray(img)[..., 3].max() == 255


@pytest.mark.parametrize(
    "extra, text",
    [
        (["--region", "1,2,3"], "neither X,Y,W,H nor an existing file"),
        (["--region", "100,100,80,80"], "not inside the 160x120 image"),
        (["--region", "a,b,c,d"], "Cannot read the region"),
        (["--band", "0"], "band"),
    ],
)
def test_refine_bad_arguments(files, capsys, extra, text):
    out = files / "out.png"
    code, err = run(capsys, "refine", files / "img.png", files / "mask.png", "-o", out, *extra)
    assert code != 0 and text in err and not out.exists()


def test_refine_size_mismatch_and_missing_files(files, capsys):
    Image.fromarray(np.zeros((100, 160), np.uint8)).save(files / "small.png")
    out = files / "out.png"
    code, err = run(capsys, "refine", files / "img.png", files / "small.png", "-o", out)
    assert code == 2 and "160x100 pixels but" in err and not out.exists()
    code, err = run(
        capsys,
        "refine",
        files / "img.png",
        files / "small.png",
        "-o",
        out,
        "--region",
        files / "small.png",
    )
    assert code == 2 and not out.exists()
    code, err = run(capsys, "refine", files / "nope.png", files / "mask.png", "-o", out)
    assert code != 0 and "nope.png: no such file" in err and not out.exists()
    code, err = run(capsys, "refine", files / "img.png", files / "nope.png", "-o", out)
    assert code != 0 and "no such file" in err and not out.exists()
    (files / "empty.png").write_bytes(b"")
    code, err = run(capsys, "refine", files / "img.png", files / "empty.png", "-o", out)
    assert code != 0 and "empty" in err and not out.exists()


def test_outputs_are_checked_before_work(files, capsys):
    (files / "exists.png").write_bytes(b"keep")
    code, err = run(
        capsys, "refine", files / "img.png", files / "mask.png", "-o", files / "exists.png"
    )
    assert code == 2 and "--overwrite" in err and (files / "exists.png").read_bytes() == b"keep"
    code, err = run(
        capsys, "refine", files / "img.png", files / "mask.png", "-o", files / "o.jpg", "--cutout"
    )
    assert code == 2 and "no transparency" in err and not (files / "o.jpg").exists()
    code, err = run(capsys, "adjust", files / "mask.png", "-o", files / "o.xyz", "--grow", "2")
    assert code == 2 and "extension" in err


def test_adjust_grows_and_feathers(files, capsys):
    out = files / "adj.png"
    code, _ = run(
        capsys, "adjust", files / "mask.png", "-o", out, "--grow", "3", "--min-island", "10"
    )
    assert code == 0
    mask = np.asarray(Image.open(files / "mask.png"))
    res = np.asarray(Image.open(out))
    assert (res >= 128).sum() > (mask >= 128).sum() and set(np.unique(res)) <= {0, 255}
    code, _ = run(
        capsys,
        "adjust",
        files / "mask.png",
        "-o",
        out,
        "--grow",
        "-3",
        "--feather",
        "8",
        "--overwrite",
    )
    assert code == 0
    res = np.asarray(Image.open(out))
    assert (res >= 128).sum() < (mask >= 128).sum() and ((res > 0) & (res < 255)).any()


def test_adjust_bad_settings_write_nothing(files, capsys):
    out = files / "adj.png"
    code, err = run(capsys, "adjust", files / "mask.png", "-o", out, "--contrast", "150")
    assert code != 0 and "contrast must be between 0 and 100" in err and not out.exists()
    code, err = run(capsys, "adjust", files / "nope.png", "-o", out)
    assert code != 0 and "no such file" in err and not out.exists()

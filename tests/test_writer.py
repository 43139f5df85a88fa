import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageCms

from bgone import writer
from bgone.errors import BgoneError


def test_save_writes_each_shape_in_its_mode_and_leaves_only_the_file(tmp_path):
    for shape, mode in (((4, 5), "L"), ((4, 5, 3), "RGB"), ((4, 5, 4), "RGBA")):
        px = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
        dest = tmp_path / f"{mode}.png"
        writer.save(px, dest)
        img = Image.open(dest)
        assert img.mode == mode and np.array_equal(np.asarray(img), px)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["L.png", "RGB.png", "RGBA.png"]


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path):
    old = os.umask(0o027)
    try:
        writer.save(np.zeros((2, 2), np.uint8), tmp_path / "new.png")
        assert stat.S_IMODE((tmp_path / "new.png").stat().st_mode) == 0o640
        (tmp_path / "old.png").write_bytes(b"x")
        (tmp_path / "old.png").chmod(0o604)
        writer.save(np.zeros((2, 2), np.uint8), tmp_path / "old.png")
        assert stat.S_IMODE((tmp_path / "old.png").stat().st_mode) == 0o604
    finally:
        os.umask(old)


def test_icc_profile_only_where_the_format_and_the_data_take_it(tmp_path):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb = np.zeros((2, 2, 3), np.uint8)
    writer.save(rgb, tmp_path / "a.png", icc=srgb)
    writer.save(rgb, tmp_path / "a.bmp", icc=srgb)  # BMP cannot carry one: written without
    writer.save(np.zeros((2, 2), np.uint8), tmp_path / "m.png", icc=srgb)  # a mask is not colour
    cmyk = srgb[:16] + b"CMYK" + srgb[20:]
    writer.save(rgb, tmp_path / "c.png", icc=cmyk)  # a CMYK profile no longer fits RGB pixels
    assert Image.open(tmp_path / "a.png").info.get("icc_profile") == srgb
    for name in ("a.bmp", "m.png", "c.png"):
        assert Image.open(tmp_path / name).info.get("icc_profile") is None


def test_check_writable_makes_the_folder_and_names_a_bad_one(tmp_path):
    writer.check_writable(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir() and not list((tmp_path / "a" / "b").iterdir())
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(BgoneError, match="not a folder") as e:
        writer.check_writable(tmp_path / "f" / "sub")
    assert str(tmp_path / "f") in e.value.message


def test_stale_temps_of_dead_runs_go_and_others_stay(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = [f".bgone-{dead.pid}-00aa11bb-x.png.part", f".bgone-{os.getpid()}-00aa11bb-y.png.part",
             ".x.png.part", "x.png"]
    for n in names:
        (tmp_path / n).write_bytes(b"")
    old = tmp_path / ".bgone-1-00aa11bb-z.png.part"  # a live pid, but abandoned for days
    old.write_bytes(b"")
    os.utime(old, (0, 0))
    assert writer.clean_stale_temps(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])
    assert writer.is_temp(tmp_path / names[1]) and not writer.is_temp(tmp_path / ".x.png.part")

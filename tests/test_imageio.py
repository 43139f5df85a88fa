import numpy as np
import pytest
from PIL import Image

from bgone.errors import ImageError
from bgone.imageio import load_rgba


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "CMYK", "I;16", "I", "F", "1"])
def test_every_mode_becomes_rgb_uint8(mode):
    base = Image.linear_gradient("L").resize((40, 30))
    if mode in ("I;16", "I"):
        img = Image.fromarray(np.asarray(base).astype(np.uint16) * 257)
        if mode == "I":
            img = img.convert("I")
    elif mode == "F":
        img = Image.fromarray(np.asarray(base).astype(np.float32) / 255.0, "F")
    else:
        img = base.convert(mode)
    rgb, alpha = load_rgba(img)
    assert rgb.dtype == np.uint8 and rgb.shape == (30, 40, 3)
    # the gradient survives the conversion: top dark, bottom bright (16-bit not clipped to white)
    if mode not in ("1", "CMYK"):
        assert rgb[0, 0].mean() < 40 and rgb[-1, 0].mean() > 200


def test_alpha_is_returned_only_when_used():
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 3] = 255
    assert load_rgba(Image.fromarray(rgba, "RGBA"))[1] is None
    rgba[0, 0, 3] = 7
    _, a = load_rgba(Image.fromarray(rgba, "RGBA"))
    assert a[0, 0] == 7 and a[1, 1] == 255


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    path = _save(img, tmp_path / "o.jpg", exif=exif)
    rgb, _ = load_rgba(path)
    assert rgb.shape[:2] == (40, 20)


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (8, 8), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.putpixel((0, 0), 0)
    path = _save(img, tmp_path / "p.png", transparency=0)
    rgb, alpha = load_rgba(path)
    assert alpha is not None and alpha[0, 0] == 0 and alpha[1, 1] == 255
    assert tuple(rgb[1, 1]) == (255, 0, 0)


@pytest.mark.parametrize("content, words", [(None, "no such file"), (b"", "empty"), (b"hello, not an image", "not an image"),
                                            (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "")])
def test_bad_files_are_clear_image_errors(tmp_path, content, words):
    p = tmp_path / "x.png"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ImageError) as e:
        load_rgba(p)
    assert str(p) in e.value.message and words in e.value.message


def test_truncated_jpeg_is_an_image_error(tmp_path):
    full = tmp_path / "full.jpg"
    Image.effect_noise((64, 64), 50).convert("RGB").save(full)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[:300])
    with pytest.raises(ImageError):
        load_rgba(cut)


def test_arrays():
    assert load_rgba(np.zeros((3, 4), np.uint8))[0].shape == (3, 4, 3)
    rgb, a = load_rgba(np.full((3, 4, 4), 9, np.uint8))
    assert rgb.shape == (3, 4, 3) and a.shape == (3, 4)
    with pytest.raises(ImageError):
        load_rgba(np.zeros((3, 4, 2), np.uint8))
    with pytest.raises(ImageError):
        load_rgba(np.zeros((0, 4, 3), np.uint8))

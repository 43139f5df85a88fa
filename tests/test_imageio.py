import os

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


# -- decompression bombs: refused from the header, with this machine's limit --------------------


def _png16(path, width, height, rows=True):
    """A 16-bit grey PNG of zeros written chunk by chunk (never held decoded); with
    ``rows=False`` the pixel data is cut off after the header, so only a refusal made from the
    header can produce a size message (decoding would fail as a damaged file instead)."""
    import struct
    import zlib

    def chunk(f, kind, data):
        f.write(struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        chunk(f, b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0))
        z = zlib.compressobj(1)
        if rows:
            row = b"\0" * (1 + 2 * width)
            chunk(f, b"IDAT", b"".join(z.compress(row) for _ in range(height)) + z.flush())
        else:
            chunk(f, b"IDAT", z.compress(b"\0" * 100) + z.flush())
            f.write(b"\0" * 20)  # no IEND: the file is cut off here
        if rows:
            chunk(f, b"IEND", b"")
    return path


def _jpeg_declaring(path, width, height):
    """A real small JPEG whose frame header is patched to claim ``width`` x ``height``."""
    import io

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 120, 150)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def machine_4gb(monkeypatch):
    from bgone import imageio

    monkeypatch.delenv(imageio.LIMIT_ENV, raising=False)
    monkeypatch.setattr(imageio, "physical_memory", lambda: 4 * 2**30)


def test_16bit_png_bomb_is_refused_from_its_header(tmp_path, machine_4gb):
    p = _png16(tmp_path / "bomb.png", 22000, 22000, rows=False)
    with pytest.raises(ImageError) as e:
        load_rgba(p)
    msg, hint = e.value.message, e.value.hint
    assert "22000x22000 pixels (484 megapixels, 16-bit grey)" in msg
    assert "needs about 7.2 GB" in msg  # 16 bytes a pixel: 2 decoded, 2 as array, 12 pipeline
    assert "this machine (4 GB) takes images of up to 134 megapixels" in msg
    assert "Scale it below 134 megapixels" in hint and "BGONE_MAX_MEGAPIXELS=484" in hint


def test_300_megapixel_jpeg_is_refused_from_its_header(tmp_path, machine_4gb):
    p = _jpeg_declaring(tmp_path / "big.jpg", 20000, 15000)
    with pytest.raises(ImageError) as e:
        load_rgba(p)
    assert "20000x15000 pixels (300 megapixels, 8-bit RGB)" in e.value.message
    assert "up to 107 megapixels" in e.value.message  # 20 bytes a pixel for 8-bit RGB


def test_the_limit_counts_the_modes_bytes_per_pixel(machine_4gb):
    from bgone import imageio

    assert imageio.pixel_limit("L") > imageio.pixel_limit("I;16") > imageio.pixel_limit("RGB")
    assert imageio.pixel_limit("RGB", rotated=True) < imageio.pixel_limit("RGB")


def test_a_lazily_opened_bomb_is_refused_before_decoding(tmp_path, machine_4gb):
    p = _png16(tmp_path / "bomb.png", 22000, 22000, rows=False)
    with Image.open(p) as img, pytest.raises(ImageError, match="484 megapixels"):
        load_rgba(img)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM (Linux)")
def test_refusing_a_real_bomb_never_decodes_it(tmp_path):
    """A real 64 MP 16-bit PNG (zeros, 0.6 MB) under a 10 MP limit: the process that refuses
    it stays far below the 128 MB that decoding alone would take (its own peak, VmHWM: the
    ru_maxrss of a child carries over the parent's peak from before the exec)."""
    import subprocess
    import sys
    from pathlib import Path

    p = _png16(tmp_path / "bomb.png", 8000, 8000)
    assert p.stat().st_size < 2_000_000
    code = (
        "import re\n"
        "from bgone.errors import ImageError\n"
        "from bgone.imageio import load_rgba\n"
        "try:\n"
        f"    load_rgba({str(p)!r})\n"
        "except ImageError as e:\n"
        "    print(e.message)\n"
        "status = open('/proc/self/status').read()\n"
        "print(re.search(r'VmHWM:\\s*(\\d+)', status).group(1))\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root / "core"), "BGONE_MAX_MEGAPIXELS": "10"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60, check=True).stdout.splitlines()
    assert "more than the 10 megapixels set in BGONE_MAX_MEGAPIXELS" in out[0]
    peak_kb = int(out[1])
    assert peak_kb < 150_000, f"refusing took {peak_kb} KB: the image was decoded"


def test_the_user_limit_allows_and_refuses(tmp_path, monkeypatch):
    from bgone import imageio

    p = tmp_path / "two.png"
    Image.new("RGB", (2000, 1000), "white").save(p)
    monkeypatch.setenv(imageio.LIMIT_ENV, "1.5")
    with pytest.raises(ImageError) as e:
        load_rgba(p)
    assert "more than the 1.5 megapixels set in BGONE_MAX_MEGAPIXELS" in e.value.message
    assert "BGONE_MAX_MEGAPIXELS=2" in e.value.hint
    monkeypatch.setenv(imageio.LIMIT_ENV, "2")
    assert load_rgba(p)[0].shape == (1000, 2000, 3)
    monkeypatch.setenv(imageio.LIMIT_ENV, "lots")
    with pytest.raises(ImageError) as e:
        load_rgba(p)
    assert e.value.kind == "bad_argument" and "not a number of megapixels" in e.value.message


def test_an_array_too_large_for_the_machine_is_refused(monkeypatch):
    from bgone import imageio

    monkeypatch.delenv(imageio.LIMIT_ENV, raising=False)
    monkeypatch.setattr(imageio, "physical_memory", lambda: 2_000_000)
    with pytest.raises(ImageError, match="The array is 300x200 pixels"):
        load_rgba(np.zeros((200, 300, 3), np.uint8))


def test_16bit_conversion_is_block_by_block_and_exact():
    from bgone.imageio import _to_uint8

    a = np.arange(0, 65536, dtype=np.uint16).reshape(256, 256)
    big = np.tile(a, (20, 1))  # more samples than one block
    got = _to_uint8(big)
    assert got.dtype == np.uint8 and got.shape == big.shape
    assert np.array_equal(got, ((big.astype(np.int64) + 128) // 257).astype(np.uint8))
    f = np.linspace(-0.5, 1.0, 3_000_000, dtype=np.float32)
    f[7] = np.nan
    want = np.clip(np.nan_to_num(f) * 255 + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(_to_uint8(f), want)

"""bgone_krita.pixels: byte order and rectangles, without Krita."""

from __future__ import annotations

import numpy as np
import pytest

# ------------------------------------------------------------------ pure pixel logic


def test_swap_red_blue_turns_krita_bgra_into_rgba(kr):
    from bgone_krita import pixels

    bgra = bytes([10, 20, 30, 40, 1, 2, 3, 4])
    assert pixels.swap_red_blue(bgra) == bytes([30, 20, 10, 40, 3, 2, 1, 4])
    assert pixels.swap_red_blue(pixels.swap_red_blue(bgra)) == bgra
    with pytest.raises(ValueError):
        pixels.swap_red_blue(b"\x00" * 5)


def test_embed(kr):
    from bgone_krita.pixels import Rect, embed

    outer, inner = Rect(10, 20, 6, 5), Rect(12, 21, 3, 2)
    data = bytes(range(1, 7))
    full = embed(data, inner, outer)
    grid = np.frombuffer(full, np.uint8).reshape(5, 6)
    assert grid[1:3, 2:5].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert grid.sum() == sum(data)
    with pytest.raises(ValueError):
        embed(data, Rect(15, 20, 3, 2), outer)


def test_limit_alpha_caps_only_the_alpha_channel(kr):
    from bgone_krita.pixels import limit_alpha

    rgba = bytes([1, 2, 3, 200, 4, 5, 6, 50])
    assert limit_alpha(rgba, bytes([100, 255])) == bytes([1, 2, 3, 100, 4, 5, 6, 50])

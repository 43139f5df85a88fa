"""``bgone_client.Worker.refine``: Refine Edges through the real client, protocol and worker
(tests/fakecore.py's core Python: the real refine_mask and adjust_mask)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from bgone.adjust import adjust_mask
from bgone.refine_edges import refine_mask
from bgone_client import ClientError, Worker
from fakecore import FAKE_PIPELINE, make_python
from test_worker import edge_photo


@pytest.fixture
def patched_python(tmp_path, model_dir):
    return make_python(tmp_path / "patched-python", FAKE_PIPELINE)


def test_refine_with_padded_rows_and_a_region(patched_python):
    rgba, mask = edge_photo()
    h, w = mask.shape
    stride = w * 4 + 8
    rows = np.full((h, stride), 0xEE, np.uint8)  # padding the engine must skip
    rows[:, : w * 4] = rgba.reshape(h, w * 4)
    region = np.zeros((h, w), np.uint8)
    region[8:50, 20:80] = 255
    events = []
    with Worker(str(patched_python)) as wk:
        whole = wk.refine(rows.tobytes(), mask.tobytes(), w, h, stride, band=6,
                          progress=lambda *e: events.append(e))  # fmt: skip
        assert wk.last_seconds is not None and 0 <= wk.last_seconds < 60
        part = wk.refine(memoryview(rows), bytearray(mask.tobytes()), w, h, stride,
                         region=region.tobytes(), band=6, grow=1, feather=2)  # fmt: skip
        cut = wk.refine(rows.tobytes(), mask.tobytes(), w, h, stride, output="rgba")
    assert whole == refine_mask(rgba[:, :, :3], mask, band=6).tobytes()
    got = np.frombuffer(part, np.uint8).reshape(h, w)
    inside = region >= 128
    want = adjust_mask(refine_mask(rgba[:, :, :3], mask, region=inside, band=6), grow=1,
                       feather=2, region=inside)  # fmt: skip
    assert np.array_equal(got, want) and np.array_equal(got[~inside], mask[~inside])
    assert not np.array_equal(got[inside], mask[inside])
    assert len(cut) == w * h * 4
    assert ("refine", 1.0, "Refining hair and fur edges") in events


def test_refine_sizes_are_checked_before_the_worker_starts(tmp_path):
    w = Worker(str(tmp_path / "no-python-here"))
    cases = [
        (dict(rgba=bytes(16), mask=bytes(3)), "bad_image", "expected 20"),
        (dict(rgba=bytes(16), mask=bytes(4), region=bytes(5)), "bad_image", "expected 24"),
        (dict(rgba=bytes(15), mask=bytes(4)), "bad_image", "expected 16"),
        (dict(rgba=bytes(16), mask=bytes(4), output="png"), "bad_argument", "png"),
    ]
    for kwargs, kind, words in cases:
        rgba, mask = kwargs.pop("rgba"), kwargs.pop("mask")
        with pytest.raises(ClientError) as info:
            w.refine(rgba, mask, 2, 2, **kwargs)
        assert info.value.kind == kind and words in info.value.message
    assert w.pid is None


def test_the_engines_refusals_arrive_with_their_words(patched_python):
    with Worker(str(patched_python)) as w:
        with pytest.raises(ClientError) as info:
            w.refine(bytes(16), bytes(4), 2, 2, band=0)
        assert info.value.kind == "bad_argument" and "band" in info.value.message
        with pytest.raises(ClientError) as info:
            w.refine(bytes(16), bytes(4), 2, 2, feather=-2)
        assert info.value.kind == "bad_argument" and "feather" in info.value.message
        assert w.refine(bytes(16), bytes(4), 2, 2) == bytes(4)  # still serving


def test_a_refine_is_cancelled_and_the_worker_stays_warm(patched_python):
    started = threading.Event()
    with Worker(str(patched_python)) as w:
        pid = w.start()["pid"]
        with pytest.raises(ClientError) as info:
            w.refine(bytes(64), bytes(16), 4, 4, band=999,
                     progress=lambda s, f, m: started.set(), cancelled=started.is_set)  # fmt: skip
        assert info.value.kind == "cancelled"
        assert w.pid == pid and w.refine(bytes(64), bytes(16), 4, 4) == bytes(16)

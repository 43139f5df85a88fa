import threading
import time

import numpy as np
import pytest
from PIL import Image

from bgone import batch, writer
from bgone.errors import BgoneError


def _photos(folder, n):
    folder.mkdir()
    paths = []
    for i in range(n):
        p = folder / f"{i}.png"
        Image.fromarray(np.full((8 + i, 10, 3), 20 * i, np.uint8)).save(p)
        paths.append(p)
    return paths


def test_decodes_one_ahead_writes_one_behind_and_keeps_order(tmp_path, monkeypatch):
    """Memory stays bounded: never more than one photo decoded ahead nor one write queued."""
    srcs = _photos(tmp_path / "in", 5)
    jobs = [batch.Job(s, tmp_path / "out" / s.name) for s in srcs]
    (tmp_path / "out").mkdir()
    decoded, writing, seen = [], [], []
    lock = threading.Lock()
    real_decode, real_save = batch.decode, writer.save

    def decode(src):
        with lock:
            decoded.append(src)
        return real_decode(src)

    def save(img, dest, icc=None):
        with lock:
            writing.append(dest)
            assert len(writing) - len(seen) <= 2  # the one being written and none queued behind it
        time.sleep(0.05)
        real_save(img, dest, icc)

    def work(photo):
        with lock:
            seen.append(len(decoded))
        return photo.rgb[:, :, 0].copy()

    monkeypatch.setattr(batch, "decode", decode)
    monkeypatch.setattr(writer, "save", save)
    done = []
    assert batch.run(jobs, work, lambda i, job, err: done.append((i, err))) == 0
    assert [i for i, _ in done] == list(range(5)) and all(err is None for _, err in done)
    assert all(n <= i + 2 for i, n in enumerate(seen))  # the current photo and at most the next
    for s in srcs:
        want = np.asarray(Image.open(s))[:, :, 0]
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / s.name)), want)


def test_a_bad_file_is_reported_and_the_rest_go_on(tmp_path):
    srcs = _photos(tmp_path / "in", 3)
    srcs[1].write_bytes(b"not an image")
    (tmp_path / "out").mkdir()
    jobs = [batch.Job(s, tmp_path / "out" / s.name) for s in srcs]
    done = []
    assert batch.run(jobs, lambda p: p.rgb, lambda i, job, err: done.append((i, err))) == 1
    assert [i for i, _ in done] == [0, 1, 2]
    assert isinstance(done[1][1], BgoneError) and "1.png" in batch.failure_message(srcs[1], done[1][1])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "2.png"]


def test_a_fatal_error_ends_the_batch_after_the_write_under_way(tmp_path):
    srcs = _photos(tmp_path / "in", 3)
    (tmp_path / "out").mkdir()
    jobs = [batch.Job(s, tmp_path / "out" / s.name) for s in srcs]

    def work(photo):
        if photo.rgb.shape[0] == 9:  # the second photo: the model went missing
            raise BgoneError("The model is gone.", kind="model_missing")
        return photo.rgb

    with pytest.raises(BgoneError, match="gone"):
        batch.run(jobs, work, lambda i, job, err: None)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png"]  # whole, no temp file

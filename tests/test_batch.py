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


def test_finish_runs_beside_the_model_with_one_photo_per_stage(tmp_path, monkeypatch):
    """The finishing stage (decontamination, compositing) runs on its own thread while the model
    works on the next photo; at most one photo finishing and one being written, order kept."""
    srcs = _photos(tmp_path / "in", 6)
    jobs = [batch.Job(s, tmp_path / "out" / s.name) for s in srcs]
    (tmp_path / "out").mkdir()
    lock = threading.Lock()
    spans: dict[tuple[str, int], tuple[float, float]] = {}
    main = threading.get_ident()
    real_save = writer.save

    def timed(stage, i, seconds):
        t0 = time.monotonic()
        time.sleep(seconds)
        with lock:
            spans[(stage, i)] = (t0, time.monotonic())

    def work(photo):
        timed("work", photo.rgb.shape[0] - 8, 0.05)
        return photo.rgb[:, :, 0].copy()

    def finish(photo, alpha):
        assert threading.get_ident() != main
        timed("finish", photo.rgb.shape[0] - 8, 0.08)
        return 255 - alpha

    def save(img, dest, icc=None):
        real_save(img, dest, icc)
        timed("save", int(dest.stem), 0.0)

    monkeypatch.setattr(writer, "save", save)
    done = []
    assert batch.run(jobs, work, lambda i, job, err: done.append((i, err)), finish=finish) == 0
    assert done == [(i, None) for i in range(6)]
    start = {k: v[0] for k, v in spans.items()}
    end = {k: v[1] for k, v in spans.items()}
    for i in range(6):
        assert end[("work", i)] <= start[("finish", i)] and end[("finish", i)] <= end[("save", i)]
    # the model's work on photo i+1 overlaps the finishing of photo i
    assert any(start[("work", i + 1)] < end[("finish", i)] for i in range(5))
    for i in range(2, 6):  # bounded: photo i is finished only after photo i-2 was written
        assert end[("save", i - 2)] <= start[("finish", i)]
    for s in srcs:
        want = 255 - np.asarray(Image.open(s))[:, :, 0]
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / s.name)), want)


def test_a_failing_finish_is_that_file_s_failure_only(tmp_path):
    srcs = _photos(tmp_path / "in", 3)
    (tmp_path / "out").mkdir()
    jobs = [batch.Job(s, tmp_path / "out" / s.name) for s in srcs]

    def finish(photo, alpha):
        if photo.rgb.shape[0] == 9:
            raise MemoryError
        return alpha

    done = []
    assert batch.run(jobs, lambda p: p.rgb[:, :, 0].copy(), lambda i, job, err: done.append((i, err)),
                     finish=finish) == 1
    assert [i for i, _ in done] == [0, 1, 2] and isinstance(done[1][1], MemoryError)
    assert "not enough memory" in batch.failure_message(srcs[1], done[1][1])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "2.png"]

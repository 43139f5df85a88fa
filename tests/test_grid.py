"""grid: the box filter and the tile sampler that upsample, refine, trimap and foreground share."""

import numpy as np
import pytest

from bgone.grid import TileSampler, box_mean, resize_f32, runs, work_size


def test_box_mean_matches_brute_force():
    rng = np.random.default_rng(1)
    for h, w, r in [(20, 30, 3), (5, 7, 10), (1, 9, 2), (9, 1, 4)]:
        x = rng.random((h, w)).astype(np.float32)
        ref = np.array(
            [
                [x[max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1].mean() for j in range(w)]
                for i in range(h)
            ]
        )
        assert np.allclose(box_mean(x, r), ref, atol=1e-5)


def test_tile_sampler_tiles_join_like_one_resize():
    rng = np.random.default_rng(2)
    small = rng.random((13, 17, 2)).astype(np.float32)
    H, W = 90, 71
    s = TileSampler(small, H, W)
    whole = np.stack([resize_f32(small[..., c], (W, H)) for c in range(2)], axis=2)
    out = np.zeros((H, W, 2), np.float32)
    for y0 in range(0, H, 32):
        for x0 in range(0, W, 32):
            y1, x1 = min(H, y0 + 32), min(W, x0 + 32)
            out[y0:y1, x0:x1] = np.stack(s.channels(y0, y1, x0, x1), axis=2)
    assert np.allclose(out, whole, atol=1e-4)


def test_runs_join_side_by_side_tiles_of_one_band_only():
    tiles = [(0, 8, 0, 8), (0, 8, 8, 16), (0, 8, 24, 32), (8, 16, 24, 32), (8, 16, 32, 40), (16, 20, 0, 8)]
    assert list(runs(tiles)) == [(0, 8, 0, 16), (0, 8, 24, 32), (8, 16, 24, 40), (16, 20, 0, 8)]
    assert list(runs([])) == []
    # a run is sampled like its tiles: the sampler takes any rectangle
    rng = np.random.default_rng(3)
    s = TileSampler(rng.random((5, 6, 1)).astype(np.float32), 16, 40)
    joined = s.channels(8, 16, 24, 40)[0]
    apart = np.concatenate([s.channels(8, 16, 24, 32)[0], s.channels(8, 16, 32, 40)[0]], axis=1)
    assert np.allclose(joined, apart, atol=1e-4)


def test_active_tiles_cover_only_marked_cells():
    s = TileSampler(np.zeros((10, 10, 1), np.float32), 100, 100)
    active = np.zeros((10, 10), bool)
    active[0, 0] = True
    tiles = list(s.active_tiles(active, 25))
    assert (0, 25, 0, 25) in tiles and all(y0 < 50 and x0 < 50 for y0, _, x0, _ in tiles)


def test_work_size_never_upscales_and_keeps_aspect():
    assert work_size(100, 200, 1_000_000) == (100, 200)
    h, w = work_size(3000, 4000, 1_200_000)
    assert abs(h * w - 1_200_000) < 5_000 and abs(w / h - 4 / 3) < 0.01


def test_each_part_runs_every_part_once_on_several_threads_and_raises(monkeypatch):
    import threading

    from bgone import grid

    monkeypatch.setattr(grid.os, "cpu_count", lambda: 2)
    seen, threads = [], set()
    lock = threading.Lock()

    def part(i):
        with lock:
            seen.append(i)
            threads.add(threading.current_thread().name)
        grid.each_part(lambda j: None, [(0,), (1,)])  # nested: runs inline, no deadlock
        threading.Event().wait(0.01)

    grid.each_part(part, [(i,) for i in range(8)])
    assert sorted(seen) == list(range(8)) and len(threads) == 2
    assert all(t.startswith("bgone-tiles") for t in threads)

    def fails(i):
        if i == 3:
            raise MemoryError

    with pytest.raises(MemoryError):
        grid.each_part(fails, [(i,) for i in range(6)])

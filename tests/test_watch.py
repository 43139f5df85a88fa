"""Watch folders: the readiness rules on real files with a given clock, and the real
`bgone remove --watch` command in a subprocess with the real u2netp."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from bgone.watch import Watcher, run
from tests.test_pipeline import drawn


def is_png(p: Path) -> bool:
    return p.suffix == ".png" and not p.name.startswith(".")


def test_a_file_is_ready_once_it_holds_still_and_again_only_when_it_changes(tmp_path):
    w = Watcher(tmp_path, is_png, settle=2.0)
    a = tmp_path / "a.png"
    a.write_bytes(b"1")
    (tmp_path / ".hidden.png").write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"x")
    assert w.poll(0.0) == [] and w.poll(1.0) == []
    assert w.poll(2.5) == [a]
    w.mark(a)
    assert w.poll(3.0) == [] and w.poll(10.0) == []  # handled once
    a.write_bytes(b"22")  # changed
    assert w.poll(11.0) == []
    assert w.poll(13.5) == [a]


def test_a_file_still_being_written_is_waited_for(tmp_path):
    w = Watcher(tmp_path, is_png, settle=2.0)
    a = tmp_path / "a.png"
    with open(a, "wb") as f:
        for t in range(10):  # grows at every poll, 1.5 s apart: never still for 2 s
            f.write(b"x" * 100)
            f.flush()
            assert w.poll(t * 1.5) == []
    assert w.poll(15.0) == [] and w.poll(17.0) == [a]


def test_files_that_vanish_are_forgotten(tmp_path):
    w = Watcher(tmp_path, is_png, settle=1.0)
    a = tmp_path / "a.png"
    a.write_bytes(b"1")
    w.poll(0.0)
    a.unlink()
    assert w.poll(5.0) == [] and not w.seen
    a.write_bytes(b"1")  # put back: new again
    w.poll(6.0)
    assert w.poll(7.5) == [a]


def test_run_skips_what_was_done_before_it_started(tmp_path):
    done, new = tmp_path / "done.png", tmp_path / "new.png"
    done.write_bytes(b"1")
    new.write_bytes(b"2")
    handled: list[Path] = []
    t = iter(range(100))
    run(Watcher(tmp_path, is_png, settle=1.0), handled.append, lambda p: p == done,
        max_polls=5, clock=lambda: float(next(t)), sleep=lambda s: None)
    assert handled == [new]


@pytest.mark.slow
def test_remove_watch_end_to_end(seeded_model_dir, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    photo = drawn(240, 320)[0]
    Image.fromarray(photo).save(src / "a.jpg", quality=95)
    Image.fromarray(photo).save(src / "b.jpg", quality=95)
    Image.fromarray(photo).save(out / "b.png")  # b was done by an earlier run
    os.utime(out / "b.png", ns=(time.time_ns() + 10**9,) * 2)
    b_stamp = (out / "b.png").stat().st_mtime_ns
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "core"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "bgone", "remove", "--watch", str(src), "--out-dir", str(out),
                             "--refine", "none"], stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()

    def wait_for(text: str, count: int = 1, seconds: float = 90) -> None:
        for _ in range(int(seconds / 0.1)):
            if sum(text in line for line in lines) >= count:
                return
            assert proc.poll() is None, "".join(lines)
            time.sleep(0.1)
        raise AssertionError(f"never saw {text!r}: {''.join(lines)}")

    try:
        wait_for("a.jpg ->")
        jpeg = (src / "a.jpg").read_bytes()
        with open(src / "c.jpg", "wb") as f:  # a slow copy: half, a pause, the rest
            f.write(jpeg[: len(jpeg) // 2])
            f.flush()
            time.sleep(1.2)
            f.write(jpeg[len(jpeg) // 2:])
        (src / "gone.jpg").write_bytes(jpeg)
        (src / "gone.jpg").unlink()  # vanishes before it settles
        (src / "notes.png").write_bytes(b"not an image")
        wait_for("c.jpg ->")
        wait_for("skipped notes.png")
        assert Image.open(out / "c.png").size == (320, 240)
        Image.fromarray(photo[::-1].copy()).save(src / "a.jpg", quality=95)  # changed: done again
        wait_for("a.jpg ->", 2)
        time.sleep(3)  # a few more polls: nothing is handled twice
        text = "".join(lines)
        assert text.count("c.jpg ->") == 1 and text.count("a.jpg ->") == 2
        assert "b.jpg" not in text and "gone.jpg" not in text and "skipped c.jpg" not in text
        assert (out / "b.png").stat().st_mtime_ns == b_stamp
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        reader.join(10)
        assert "Stopped watching" in "".join(lines)
        assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png"]  # no temp files
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_watch_usage_errors(tmp_path, capsys):
    from bgone import cli

    (tmp_path / "a.png").write_bytes(b"x")
    assert cli.main(["remove", "--watch", str(tmp_path), "-o", str(tmp_path / "o.png")]) == 2
    assert "--watch needs --out-dir" in capsys.readouterr().err
    assert cli.main(["remove", "--watch", str(tmp_path), "--out-dir", str(tmp_path)]) == 2
    assert "must not be the watched folder" in capsys.readouterr().err
    assert cli.main(["remove", "--watch", str(tmp_path / "a.png"), "--out-dir", str(tmp_path / "o")]) == 2
    assert "one folder" in capsys.readouterr().err

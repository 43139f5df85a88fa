"""installer/bgone_installer/console.py: lines cut at words, a live indicator that says when it
is done, and questions that fall back to their default without a terminal."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "installer"))
from bgone_installer import console  # noqa: E402


@pytest.mark.parametrize("text, width, expected", [
    ("short line", 40, "short line"),
    ("Downloading onnxruntime-1.20.1-cp311-cp311-manylinux_2_27_x86_64.whl (13.3 MB)", 60,
     "Downloading onnxruntime-1.20.1-cp311-cp311-manylinux_2..."),
    ("Collecting numpy>=1.24 (from bgone==0.1.0) and other words here", 40,
     "Collecting numpy>=1.24 (from..."),
    ("Successfully installed bgone-0.1.0 numpy-2.1 pillow-11 requests-2.32", 50,
     "Successfully installed bgone-0.1.0 numpy-2.1..."),
])
def test_trim_cuts_at_a_word(text, width, expected):
    out = console.trim(text, width)
    assert out == expected
    assert len(out) <= width


def test_trim_without_spaces_cuts_hard():
    assert console.trim("x" * 50, 20) == "x" * 17 + "..."


def test_elapsed_without_a_terminal_prints_start_and_end(tmp_path, capsys):
    log = console.Log(tmp_path / "log.txt")
    with console.Elapsed(log, "    Compiling it..."):
        time.sleep(0.05)
    log.close()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "    Compiling it..."
    assert out[1].startswith("    Compiling it: done in ") and out[1].endswith(" s")
    assert "Compiling it... done in" in (tmp_path / "log.txt").read_text()


def test_elapsed_on_a_terminal_counts_seconds(monkeypatch, capsys):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    log = console.Log(None)
    with pytest.raises(RuntimeError), console.Elapsed(log, "Waiting", interval=0.02):
        time.sleep(0.1)
        raise RuntimeError("stopped on purpose")
    out = capsys.readouterr().out
    assert out.startswith("Waiting 0 s ")
    assert "\rWaiting 0 s " in out  # redrawn in place while it runs
    assert out.endswith("\rWaiting stopped in 0 s\n")


def test_ask_without_a_terminal_takes_the_default(monkeypatch):
    monkeypatch.setattr(sys, "stdin", None)
    log = console.Log(None, quiet=True)
    assert console.ask(log, "Go?") is True
    assert console.ask(log, "Grant it?", default=False) is False

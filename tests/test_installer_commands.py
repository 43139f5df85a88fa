"""installer/bgone_installer/commands.py: a command's output on the console, with a live
seconds counter over a silent stretch (pip unpacking its wheels) instead of a frozen screen."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "installer"))
from bgone_installer import commands, console  # noqa: E402

# a stand-in for pip: says what it installs, goes quiet for a while, then says it is done
PIP = ("import sys, time\n"
       "print('Installing collected packages: ' + ', '.join(f'package{i}' for i in range(30)), flush=True)\n"
       "time.sleep(float(sys.argv[1]))\n"
       "print('Successfully installed everything', flush=True)\n")


def _show(line: str):
    if line.startswith("Installing collected packages:"):
        return commands.Wait("Installing 30 packages: " + line.split(":", 1)[1].strip())
    return line.startswith("Successfully")


@pytest.mark.parametrize("tty", [True, False])
def test_a_silent_stretch_counts_seconds_until_the_next_line(monkeypatch, capsys, tty):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    monkeypatch.setattr(commands, "Elapsed", _FastElapsed)
    commands.run_cmd(console.Log(None), [sys.executable, "-c", PIP, "0.3"], show=_show)
    out = capsys.readouterr().out
    width = console.console_width()
    lines = [t for line in out.split("\n") for t in line.split("\r") if t]
    assert all(len(t) <= width for t in lines), lines
    start = lines[0].rsplit("...", 1)[0]
    assert start.startswith("    Installing 30 packages: package0, package1,")
    assert not start.endswith((",", " "))  # cut at a word, before "..."
    if tty:  # redrawn with its seconds while pip is quiet, then closed before pip's next line
        assert any(t.startswith(start + "... ") and t.endswith(" s ") for t in lines[1:-2])
        assert lines[-2].startswith(start + "... done in ")
    else:  # a pipe: one line at the start, one at the end
        assert lines[-2].startswith(start + ": done in ")
    assert lines[-1] == "    Successfully installed everything"


def test_the_counter_stops_when_the_command_fails(monkeypatch, capsys):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    code = PIP.replace("print('Successfully", "sys.exit(3)\nprint('")
    with pytest.raises(commands.InstallError):
        commands.run_cmd(console.Log(None), [sys.executable, "-c", code, "0"], show=_show)
    assert "done in 0 s" in capsys.readouterr().out


class _FastElapsed(console.Elapsed):
    def __init__(self, log, text):
        super().__init__(log, text, interval=0.05)

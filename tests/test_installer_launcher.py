"""installer/bgone_installer/launcher.py and winpath.py: the ``bgone`` command in the user's bin
folder, and the Windows PATH edits that put its folder on PATH and take it off again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "installer"))
from bgone_installer import launcher, winpath  # noqa: E402


def test_unix_script_runs_the_engine_with_every_argument(tmp_path):
    fake = tmp_path / "it's python"  # a quote in the path must survive
    fake.write_text('#!/bin/sh\nprintf "%s|" "$@"\n')
    fake.chmod(0o755)
    name, data = launcher.script("linux", str(fake))
    assert name == "bgone" and launcher.MARK.encode() in data
    cmd = tmp_path / name
    cmd.write_bytes(data)
    cmd.chmod(0o755)
    out = subprocess.run([str(cmd), "remove", "a b.jpg", "--mask"], capture_output=True, text=True,
                         check=True).stdout
    assert out == "-m|bgone|remove|a b.jpg|--mask|"


def test_windows_script_is_a_cmd_file():
    name, data = launcher.script("windows", r"C:\Users\Zoë\AppData\Local\bgone\venv\Scripts\python.exe")
    assert name == "bgone.cmd"
    assert data.endswith(b'"C:\\Users\\Zo\xc3\xab\\AppData\\Local\\bgone\\venv\\Scripts\\python.exe" -m bgone %*\r\n')
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")


def test_on_path(tmp_path):
    folder = tmp_path / "bin"
    assert launcher.on_path(folder, f"/usr/bin:{folder}/:/bin")
    assert not launcher.on_path(folder, "/usr/bin:/bin")
    assert not launcher.on_path(folder, "")


def test_windows_path_edits_round_trip():
    value = r"C:\Windows;%USERPROFILE%\bin"
    folder = r"C:\Users\z\AppData\Local\bgone\bin"
    added = winpath.path_with(value, folder)
    assert added == value + ";" + folder
    assert winpath.path_with(added, folder.upper() + "\\") == added  # once, whatever the case
    assert winpath.path_without(added, folder) == value
    assert winpath.path_without(value, folder) == value  # not there: untouched
    assert winpath.path_with("", folder) == folder
    assert winpath.path_without(f"{folder};C:\\x", folder) == "C:\\x"

"""installer/bgone_installer/steps.py: what of pip's output reaches the console."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "installer"))
from bgone_installer import commands, steps  # noqa: E402


def test_pip_lines_shown_without_their_origin():
    show = steps._pip_show
    assert show("Collecting idna==3.20 (from -r /x/requirements-lock.txt (line 181))") == "Collecting idna==3.20"
    assert show("Collecting urllib3<3,>=1.26 (from requests>=2.28->bgone==0.1.0)") == "Collecting urllib3<3,>=1.26"
    assert show("Successfully installed bgone-0.1.0") == "Successfully installed bgone-0.1.0"
    assert show("  Downloading numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl (16.9 MB)") is False
    assert show("Requirement already satisfied: numpy") is False


def test_pip_unpacking_is_a_live_wait_with_the_package_count():
    shown = steps._pip_show("Installing collected packages: flatbuffers, urllib3, protobuf")
    assert isinstance(shown, commands.Wait)
    assert shown == "Installing 3 packages: flatbuffers, urllib3, protobuf"
    assert steps._pip_show("Installing collected packages: bgone") == "Installing 1 package: bgone"

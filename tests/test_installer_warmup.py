"""installer/bgone_installer/warmup.py: the numba code of the pymatting functions bgone calls,
compiled at install time by the core's own loader, one process per function, into the very
cache the engine reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from bgone.pymatting_kernels import KERNELS, source

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "installer"))
from bgone_installer import warmup  # noqa: E402
from bgone_installer.console import Log  # noqa: E402

from test_installer import DEV_PY  # noqa: E402  (this checkout's core, as the installer runs it)


def _ctx(tmp_path: Path, core_python: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(dry=False, log=Log(tmp_path / "install.log"),
                                 core_python=core_python, notes=[])


def _stems(cache: Path) -> set[str]:
    """The source files numba's index files in ``cache`` belong to."""
    return {p.name.split(".")[0] for p in cache.rglob("*.nbi")}


def test_list_kernels_is_the_cores_list():
    out = subprocess.run([DEV_PY, "-c", warmup.LIST_KERNELS], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert json.loads(out) == list(KERNELS) == ["cf_laplacian", "ichol", "estimate_foreground_ml"]


def test_compile_kernels_fills_the_numba_cache_and_the_next_load_reads_it(tmp_path):
    """One kernel (the smallest) compiled by the core's loader; the next load, as the engine's
    refinement does it, finds it in numba's cache (an index per function, read, not rewritten)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    r = subprocess.run([DEV_PY, "-c", warmup.COMPILE_KERNELS, "cf_laplacian"], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert _stems(tmp_path) == {"cf_laplacian"}
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.nb*")}
    probe = ("import sys\nfrom bgone.refine import kernel\nkernel('cf_laplacian')\n"
             "assert 'pymatting' not in sys.modules\n")
    r = subprocess.run([DEV_PY, "-c", probe], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.nb*")} == stamps


@pytest.mark.slow
def test_step_prepare_compiles_exactly_what_bgone_calls(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "numba"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    ctx = _ctx(tmp_path, DEV_PY)
    warmup.step_prepare(ctx)
    assert ctx.notes == []
    assert _stems(cache) == {source(n).stem for n in KERNELS}
    out = capsys.readouterr().out
    assert warmup.TEXT in out and "done in" in out


def test_a_failed_preparation_is_a_note_and_not_a_failed_install(tmp_path, capsys):
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'no such module' >&2\nexit 1\n")
    broken.chmod(0o755)
    ctx = _ctx(tmp_path, str(broken))
    warmup.step_prepare(ctx)
    assert len(ctx.notes) == 1 and "could not be prepared" in ctx.notes[0]
    assert "no such module" in (tmp_path / "install.log").read_text()

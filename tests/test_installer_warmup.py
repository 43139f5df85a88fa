"""installer/bgone_installer/warmup.py: pymatting's numba code compiled at install time, spread
over the cores, into the very cache a later ``import pymatting`` reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "installer"))
from bgone_installer import warmup  # noqa: E402


def test_groups_balance_by_size_and_keep_every_module():
    mods = [("a", 100), ("b", 60), ("c", 50), ("d", 10)]
    out = warmup.groups(mods, 2)
    assert sorted(sum(out, [])) == ["a", "b", "c", "d"]
    assert out == [["a", "d"], ["b", "c"]]
    assert warmup.groups(mods, 1) == [["a", "b", "c", "d"]]
    assert warmup.groups(mods[:1], 8) == [["a"]]  # no empty groups


def test_list_modules_names_pymatting_numba_modules():
    out = subprocess.run([sys.executable, "-c", warmup.LIST_MODULES], capture_output=True,
                         text=True, check=True).stdout
    names = [m[0] for m in json.loads(out)]
    # the ones bgone's refinement and foreground estimation import
    for needed in ("pymatting.laplacian.cf_laplacian", "pymatting.preconditioner.ichol",
                   "pymatting.foreground.estimate_foreground_ml"):
        assert needed in names


def test_compile_modules_fills_the_numba_cache_and_the_next_import_reads_it(tmp_path):
    """One small module compiled through the stub, without pymatting's package ``__init__``;
    the next import finds it in numba's cache (an index per function, read back, not
    rewritten)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    mod = "pymatting.util.distance"
    r = subprocess.run([sys.executable, "-c", warmup.COMPILE_MODULES, mod], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    index = sorted(p.name for p in tmp_path.rglob("*.nbi"))
    assert index and all(n.startswith("distance.") for n in index)
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.nb*")}
    probe = warmup.COMPILE_MODULES + "assert 'pymatting.alpha' not in sys.modules\n"
    r = subprocess.run([sys.executable, "-c", probe, mod], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.nb*")} == stamps  # read, not rewritten

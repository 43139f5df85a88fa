"""core/bgone/pymatting_kernels.py: pymatting's three functions loaded without its package
``__init__`` (which would compile all of pymatting's numba code), and the ordinary import when
a module is not where it is expected."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

CORE = str(Path(__file__).resolve().parents[1] / "core")


def _run(code: str, *paths: str, env: dict | None = None) -> str:
    env = {**(env or os.environ), "PYTHONPATH": os.pathsep.join([*paths, CORE])}
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _fake_pymatting(root: Path, with_kernel_file: bool = True) -> None:
    """A pymatting whose package ``__init__`` leaves a mark, with or without the module that
    defines cf_laplacian."""
    pkg = root / "pymatting"
    (pkg / "laplacian").mkdir(parents=True)
    (pkg / "__init__.py").write_text("import builtins\nbuiltins.INIT_RAN = True\n"
                                     "from pymatting.laplacian import *\n")
    init = "from pymatting.laplacian.cf_laplacian import cf_laplacian\n" if with_kernel_file else \
        "def cf_laplacian(*a):\n    return 'from the package'\n"
    (pkg / "laplacian" / "__init__.py").write_text(init)
    if with_kernel_file:
        (pkg / "laplacian" / "cf_laplacian.py").write_text(
            "def cf_laplacian(*a):\n    return 'from the file'\n")


def test_kernel_runs_the_module_file_and_not_the_package_init(tmp_path):
    _fake_pymatting(tmp_path)
    out = _run("""
        import builtins, sys
        from bgone.pymatting_kernels import kernel, source
        print(source('cf_laplacian').name, kernel('cf_laplacian')(), getattr(builtins, 'INIT_RAN', False),
              'pymatting' in sys.modules)
        f = kernel('cf_laplacian')
        import pymatting  # the full package later: it reuses the module already loaded
        print(pymatting.cf_laplacian is f, builtins.INIT_RAN)
    """, str(tmp_path))
    assert out.split("\n")[:2] == ["cf_laplacian.py from the file False False", "True True"]


def test_a_module_moved_by_a_pymatting_release_is_imported_the_ordinary_way(tmp_path):
    _fake_pymatting(tmp_path, with_kernel_file=False)
    out = _run("""
        import builtins
        from bgone.pymatting_kernels import kernel, source
        print(source('cf_laplacian'), kernel('cf_laplacian')(), builtins.INIT_RAN)
    """, str(tmp_path))
    assert out.strip() == "None from the package True"


def test_real_kernel_compiles_only_its_own_module(tmp_path):
    """With a fresh numba cache, one kernel (the smallest): the only index files written are its
    module's, and no other pymatting module is loaded."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = _run("""
        import sys
        from bgone.pymatting_kernels import kernel
        kernel('cf_laplacian')
        print(sorted(m for m in sys.modules if m.startswith('pymatting')))
    """, env=env)
    assert out.strip() == "['pymatting.laplacian.cf_laplacian']"
    assert {p.name.split(".")[0] for p in tmp_path.rglob("*.nbi")} == {"cf_laplacian"}


def test_real_kernels_are_the_full_packages_own_functions():
    """pymatting imported in full after the kernels (its cache in the venv is warm) has the very
    same function objects: one module, loaded once."""
    out = _run("""
        from bgone.pymatting_kernels import KERNELS, kernel
        fns = {n: kernel(n) for n in KERNELS}
        import pymatting
        print(all(getattr(pymatting, n) is f for n, f in fns.items()))
    """)
    assert out.strip() == "True"

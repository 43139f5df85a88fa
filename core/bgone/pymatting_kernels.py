"""The three pymatting functions bgone calls, loaded without pymatting's package ``__init__``.

``from pymatting import ichol``, and even ``import pymatting.preconditioner.ichol``, first runs
pymatting/__init__.py, which imports every submodule. Their numba functions carry signatures, so
each is compiled at import, or read back from numba's cache: 29 functions, 80-95 CPU-s on a
fresh install, where bgone needs the 7 in three modules (about 20 CPU-s). Those three modules
import only numpy, scipy and numba, so they are run here straight from their files, under their
own names. numba's cache is keyed by source file, so it is the same cache a plain
``import pymatting`` uses, and the installer's warm-up fills it by calling ``kernel`` (the only
list of what gets compiled is ``KERNELS``). Should a pymatting release move one of the modules,
the function is taken from the whole package (``from pymatting import ...``): correct, only slower.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

# What bgone calls -> pymatting's module that defines it.
KERNELS = {
    "cf_laplacian": "pymatting.laplacian.cf_laplacian",
    "ichol": "pymatting.preconditioner.ichol",
    "estimate_foreground_ml": "pymatting.foreground.estimate_foreground_ml",
}
_loaded: dict[str, ModuleType] = {}
_lock = threading.Lock()


def source(name: str) -> Path | None:
    """The file that defines kernel ``name`` in the installed pymatting (None: not there).
    Finding the package does not run its ``__init__``."""
    spec = importlib.util.find_spec("pymatting")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root.joinpath(*KERNELS[name].split(".")[1:]).with_suffix(".py")
    return path if path.is_file() else None


def _load(name: str) -> ModuleType:
    modname = KERNELS[name]
    if modname in sys.modules:  # pymatting imported in full already (by the caller's code)
        return sys.modules[modname]
    path = source(name)
    spec = importlib.util.spec_from_file_location(modname, path) if path else None
    if spec is None or spec.loader is None:
        return importlib.import_module("pymatting")  # the whole package, as before: slow, but right
    module = importlib.util.module_from_spec(spec)
    # Under its real name: a later ``import pymatting`` reuses it instead of running it twice.
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[modname]
        raise
    return module


def kernel(name: str) -> Callable[..., Any]:
    """pymatting's function ``name`` (a key of KERNELS); its module is loaded, and its numba
    code compiled or read from the cache, on the first call in a process."""
    module = _loaded.get(name)
    if module is None:
        with _lock:
            module = _loaded.get(name) or _load(name)
            _loaded[name] = module
    return getattr(module, name)

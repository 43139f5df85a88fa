"""installer/requirements-lock.txt (written by installer/lock.py) and how the installer reads it:
the libraries at the versions the tests run with, each with the sha256 of its files."""

from __future__ import annotations

import importlib.metadata as md
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "installer"))
import lock  # noqa: E402
from bgone_installer import steps  # noqa: E402


def pins() -> dict[str, tuple[str, list[str]]]:
    text = steps.LOCK.read_text("utf-8")
    out = {}
    for block in re.split(r"\n(?=[A-Za-z])", text.split("\n", 3)[3]):
        name, version = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block).groups()
        out[name] = (version, re.findall(r"--hash=sha256:([0-9a-f]+)", block))
    return out


def test_lock_pins_the_versions_these_tests_run_with():
    """Fails when the test venv's libraries change and installer/lock.py was not run again."""
    locked = pins()
    for name in ("numpy", "onnxruntime", "pillow", "pymatting", "requests", "platformdirs",
                 "numba", "scipy"):
        assert name in locked, name
    for name, (version, hashes) in locked.items():
        assert md.version(name) == version, (name, "run: python3 installer/lock.py .venv/bin/python")
        assert hashes and all(len(h) == 64 for h in hashes), name


def test_lock_names_the_pythons_it_is_complete_for():
    pythons = steps.lock_pythons(steps.LOCK)
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in pythons  # the one the tests ran on
    assert pythons <= {"3.10", "3.11", "3.12", "3.13"}


def test_lock_pythons_of_a_file_without_the_line(tmp_path):
    f = tmp_path / "lock.txt"
    f.write_text("numpy==2.0\n")
    assert steps.lock_pythons(f) == set()
    assert steps.lock_pythons(tmp_path / "missing.txt") == set()


def wheel(name: str, requires: str | None = None) -> dict:
    return {"packagetype": "bdist_wheel", "filename": name, "requires_python": requires}


def test_covers_reads_wheel_tags():
    cp = [wheel("numpy-2.4.6-cp311-cp311-win_amd64.whl"), {"packagetype": "sdist", "filename": "numpy-2.4.6.tar.gz"}]
    assert lock._covers(cp, 11) and not lock._covers(cp, 10)
    abi3 = [wheel("onnx-1.0-cp311-abi3-manylinux_2_28_x86_64.whl")]
    assert lock._covers(abi3, 13) and not lock._covers(abi3, 10)
    pure = [wheel("platformdirs-4.14.9-py3-none-any.whl", ">=3.11")]
    assert lock._covers(pure, 12) and not lock._covers(pure, 10)
    assert lock._covers([wheel("six-1.0-py2.py3-none-any.whl")], 10)

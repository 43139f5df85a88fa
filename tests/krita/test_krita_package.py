"""The Krita plug-in as a package: Python 3.8 syntax, stdlib-only imports (Qt only in qt.py),
nothing registered outside Krita, the .desktop file, the result line (texts.py)."""

from __future__ import annotations

import ast
import sys

from kritatest import PLUGIN


def test_plugin_sources_parse_as_python_38(kr):
    """Krita 5.1 AppImages bundle Python 3.8: no newer syntax in the plug-in."""
    for path in (PLUGIN / "bgone_krita").glob("*.py"):
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))


def test_import_without_krita_registers_nothing(kr):
    _, pkg = kr
    assert not hasattr(pkg, "CONTROLLER")  # the controller is handed over, never a global
    assert callable(pkg.remove_background)


# ------------------------------------------------------------------ packaging


def test_plugin_is_pure_python_with_no_third_party_imports(kr):
    """Krita's bundled Python has no numpy: only the stdlib, krita, bgone_client and our own
    modules; Qt (PyQt5 or PyQt6) only in qt.py."""
    allowed = set(sys.stdlib_module_names) | {"krita", "bgone_client"}
    for path in (PLUGIN / "bgone_krita").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in ("PyQt5", "PyQt6"):
                    assert path.name == "qt.py", f"{path.name} imports {name}: Qt comes from qt.py"
                else:
                    assert top in allowed, f"{path.name} imports {name}"


def test_desktop_file_names_the_package(kr):
    lines = (PLUGIN / "bgone_krita.desktop").read_text().splitlines()
    assert lines[0] == "[Desktop Entry]"
    entries = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    assert entries["ServiceTypes"] == "Krita/PythonPlugin"
    assert entries["X-KDE-Library"] == "bgone_krita" and (PLUGIN / "bgone_krita" / "__init__.py").is_file()
    assert (PLUGIN / "bgone_krita" / entries["X-Krita-Manual"]).is_file()


def test_done_text(kr):
    from bgone_krita.texts import done_text

    assert "Ctrl+Z" in done_text("selection", "Photo", "in 1.0 s")
    assert done_text("mask", "Photo", "in 2.2 s on the CPU").startswith(
        "Added a transparency mask to 'Photo' in 2.2 s on the CPU. Edit > Undo")

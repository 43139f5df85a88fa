"""installer/bgone_installer/txn.py: every change has an undo, a dry-run line and a manifest
record."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "installer"))
from bgone_installer import MANIFEST  # noqa: E402
from bgone_installer import txn as txn_mod  # noqa: E402
from bgone_installer.console import Log  # noqa: E402


def test_txn_mkdirs_through_the_data_folder(tmp_path):
    """Recording the first new folder creates the data folder (the manifest's home) as well;
    making a folder inside it must not trip over that, and rollback removes them all."""
    data = tmp_path / ".local/share/bgone"
    log = Log(None, quiet=True)
    txn = txn_mod.Txn(log, txn_mod.Manifest(data / MANIFEST))
    txn.mkdirs(data / "venv")
    assert (data / "venv").is_dir() and (data / MANIFEST).is_file()
    assert txn.rollback() == []
    assert not (tmp_path / ".local").exists()

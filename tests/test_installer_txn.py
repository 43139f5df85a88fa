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


def test_a_symlinked_file_is_written_through_and_stays_a_link(tmp_path):
    """kritarc kept in a dotfiles folder and linked into ~/.config: the key goes into the real
    file, the link stays, and rollback restores the real file's content."""
    real = tmp_path / "dotfiles" / "kritarc"
    real.parent.mkdir()
    real.write_text("[General]\nfoo=1\n")
    real.chmod(0o600)
    link = tmp_path / "config" / "kritarc"
    link.parent.mkdir()
    link.symlink_to(real)
    txn = txn_mod.Txn(Log(None, quiet=True), txn_mod.Manifest(tmp_path / "data" / MANIFEST))
    txn.ini_set(link, "python", "enable_bgone_krita", "true", "\n")
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text() == "[General]\nfoo=1\n\n[python]\nenable_bgone_krita=true\n"
    assert oct(real.stat().st_mode & 0o777) == oct(0o600)
    assert sorted(p.name for p in real.parent.iterdir()) == ["kritarc"]  # no temp file left
    assert txn.rollback() == []
    assert link.is_symlink() and real.read_text() == "[General]\nfoo=1\n"

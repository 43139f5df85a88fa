"""Checksums as "algo:hex" strings, so a registry entry says which algorithm its digest uses
(the reference publishes md5 for most files; we record sha256 wherever we know it)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

ALGOS = ("sha256", "md5")
CHUNK = 1 << 20


def parse_checksum(text: str) -> tuple[str, str]:
    """'sha256:AB..' -> ('sha256', 'ab..'); a bare 64-hex digest is taken as sha256."""
    algo, sep, value = text.strip().partition(":")
    if not sep:
        algo, value = ("sha256" if len(algo) == 64 else "md5"), algo
    algo, value = algo.lower(), value.lower()
    want_len = {"sha256": 64, "md5": 32}.get(algo)
    if want_len is None or len(value) != want_len or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"not a checksum: {text!r}")
    return algo, value


def file_digests(path: Path | str, algos: Iterable[str] = ALGOS) -> dict[str, str]:
    """All requested digests in one pass over the file (model files reach 1 GB)."""
    hashers = {a: hashlib.new(a) for a in algos}
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            for h in hashers.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}


def file_checksum(path: Path | str, algo: str = "sha256") -> str:
    return file_digests(path, (algo,))[algo]


def verify_file(path: Path | str, checksum: str) -> bool:
    algo, want = parse_checksum(checksum)
    return file_checksum(path, algo) == want

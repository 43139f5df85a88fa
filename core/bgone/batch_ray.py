"""`bgone batch --engine ray SRC DEST`: a catalogue on Ray Data, on a laptop (a local Ray
instance) or an existing cluster (``address``).

An actor pool, each actor holding a warm session, maps over the image paths; each actor runs
the CLI's own pipeline and writer on one file at a time and returns a record (done or failed,
with the CLI's message), so one bad file never stops the job. SRC and DEST are local folders
(on a cluster: a path every node sees) or URIs of a filesystem that pyarrow (Ray Data's
filesystem layer) opens, such as s3:// or gs://; remote inputs are copied to a temp folder under
their own name first, so messages read as the CLI's. A rerun skips every input whose output is
already in DEST (outputs appear whole: renamed into place, or one object written at once).
Every run appends its records to DEST/bgone-batch.jsonl.

Ray is the optional extra `bgone[ray]`, imported only here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BgoneError

EXTRA_HINT = "Install it with: pip install 'bgone[ray]'"
MANIFEST = "bgone-batch.jsonl"


def require() -> None:
    try:
        import pyarrow  # noqa: F401
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError as e:
        raise BgoneError(f"`bgone batch --engine ray` needs Ray Data ({e.name} is not installed).",
                         EXTRA_HINT, kind="missing_extra") from None


def _fs(uri: str) -> tuple[Any, str]:
    """(pyarrow filesystem, path in it) for a local folder or a URI."""
    from pyarrow import fs

    if "://" not in uri:
        return fs.LocalFileSystem(), str(Path(uri).resolve())
    return fs.FileSystem.from_uri(uri)


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def output_name(src_name: str, mask: bool) -> str:
    """The file name `bgone remove --out-dir` gives this input (the CLI's own rule)."""
    from .cli import _plan_outputs

    ns = argparse.Namespace(output=None, out_dir="", mask=mask, bg_color=None, overwrite=True)
    return _plan_outputs(ns, [(Path(src_name), Path("."))])[0].name


def list_images(uri: str) -> list[str]:
    from pyarrow import fs as pafs

    from .cli import IMAGE_EXTS

    fs, base = _fs(uri)
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=False, allow_not_found=True))
    return sorted(i.base_name for i in infos if i.type == pafs.FileType.File
                  and not i.base_name.startswith(".") and os.path.splitext(i.base_name)[1].lower() in IMAGE_EXTS)


class Remover:
    """One Ray actor: a warm session and the CLI's per-file work."""

    def __init__(self, src: str, dest: str, opts: dict[str, Any], device: str) -> None:
        from . import inference, pipeline, store

        self.src, self.dest, self.opts, self.device = src, dest, opts, device
        spec = pipeline.resolve_model(opts["model"])
        inference.get_session(store.ensure_model(spec), device)  # warm before the first file

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"name": [], "status": [], "message": [], "seconds": []}
        for name in batch["name"]:
            t = time.perf_counter()
            status, message = "done", ""
            try:
                self.one(str(name))
            except BgoneError as e:
                status, message = "failed", e.message
            except Exception as e:  # recorded, never fatal to the job
                status, message = "failed", f"{type(e).__name__}: {e}"
            out["name"].append(str(name))
            out["status"].append(status)
            out["message"].append(message)
            out["seconds"].append(time.perf_counter() - t)
        return out

    def one(self, name: str) -> None:
        from . import pipeline, writer

        src_fs, src_base = _fs(self.src)
        dst_fs, dst_base = _fs(self.dest)
        local = type(src_fs).__name__ == "LocalFileSystem"
        tmp = tempfile.mkdtemp(prefix="bgone-ray-")
        try:
            path = _join(src_base, name)
            if not local:  # a copy under its own name, so messages name the file as the CLI would
                with src_fs.open_input_stream(path) as f, open(os.path.join(tmp, name), "wb") as g:
                    shutil.copyfileobj(f, g, 1 << 20)
                path = os.path.join(tmp, name)
            img = pipeline.remove(path, device=self.device, **self.opts)
            target = output_name(name, self.opts["mask"])
            if type(dst_fs).__name__ == "LocalFileSystem":
                writer.save(img, Path(dst_base) / target, img.info.get("icc_profile"))
            else:
                local_out = Path(tmp) / ("out-" + target)
                writer.save(img, local_out, img.info.get("icc_profile"))
                with open(local_out, "rb") as f, dst_fs.open_output_stream(_join(dst_base, target)) as g:
                    shutil.copyfileobj(f, g, 1 << 20)
        except Exception as e:
            if isinstance(e, BgoneError):
                e.message = e.message.replace(tmp + os.sep, "")
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Summary:
    done: int
    failed: int
    skipped: int
    seconds: float
    failures: list[tuple[str, str]]


def run(src: str, dest: str, *, address: str | None = None, workers: int = 2, model: str | None = None,
        refine: str = "fast", mask: bool = False, bg_color: tuple[int, ...] | None = None,
        decontaminate: bool = True, device: str = "auto", cpus_per_worker: float = 1.0) -> Summary:
    """The whole job; the same from Python as from the command line."""
    require()
    import ray

    from . import pipeline

    pipeline.check_refine(refine)
    spec = pipeline.resolve_model(model)  # unknown names fail here, before Ray starts
    names = list_images(src)
    if not names:
        raise BgoneError(f"{src} contains no images.", "Check the folder or URI.", kind="usage")
    dst_fs, dst_base = _fs(dest)
    dst_fs.create_dir(dst_base, recursive=True)
    from pyarrow import fs as pafs

    have = {i.base_name for i in dst_fs.get_file_info(pafs.FileSelector(dst_base, allow_not_found=True))}
    todo = [n for n in names if output_name(n, mask) not in have]
    t = time.perf_counter()
    rows: list[dict[str, Any]] = []
    if todo:
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        try:
            opts = {"model": spec.name, "refine": refine, "mask": mask, "bg_color": bg_color,
                    "decontaminate": decontaminate}
            ds = ray.data.from_items([{"name": n} for n in todo], override_num_blocks=len(todo))
            ds = ds.map_batches(Remover, fn_constructor_kwargs={"src": src, "dest": dest, "opts": opts,
                                                                "device": device},
                                compute=ray.data.ActorPoolStrategy(size=min(workers, len(todo))),
                                batch_size=1, num_cpus=cpus_per_worker)
            rows = ds.take_all()
        finally:
            if started_here:
                ray.shutdown()
    seconds = time.perf_counter() - t
    with dst_fs.open_append_stream(_join(dst_base, MANIFEST)) as f:
        for r in rows:
            f.write((json.dumps({k: r[k] for k in ("name", "status", "message", "seconds")}) + "\n").encode())
    failures = [(r["name"], r["message"]) for r in rows if r["status"] != "done"]
    return Summary(len(rows) - len(failures), len(failures), len(names) - len(todo), seconds, failures)

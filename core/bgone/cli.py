"""The `bgone` command. Arguments are checked before any work starts, every failure is a
one-paragraph message on stderr with a non-zero exit, and no output file is ever left half
written."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from .errors import BgoneError
from .progress import Bar
from .version import __version__

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".jfif", ".ppm", ".tga"}
MASK_SUFFIX = "_mask"  # --out-dir --mask writes <name>_mask.png, so masks and cutouts can share a folder


class UsageError(BgoneError):
    kind = "usage"


def _parser() -> argparse.ArgumentParser:
    from .pipeline import DEFAULT_REFINE, REFINE_LEVELS

    p = argparse.ArgumentParser(prog="bgone", description="Remove image backgrounds locally.")
    p.add_argument("--version", action="version", version=f"bgone {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("remove", help="cut out the subject of images")
    r.add_argument("inputs", nargs="+", metavar="IN",
                   help="image files or folders; a folder's own images only, not its subfolders' (see --recursive)")
    out = r.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output", metavar="OUT", help="output file (one input only); its extension picks the format")
    out.add_argument("--out-dir", metavar="DIR",
                     help=f"folder for outputs: <name>.png, or <name>{MASK_SUFFIX}.png with --mask")
    r.add_argument("-r", "--recursive", action="store_true",
                   help="also take images in subfolders; --out-dir then repeats the subfolders")
    r.add_argument("--model", help="model name (see `bgone models list`); default: the best installed")
    r.add_argument("--mask", action="store_true",
                   help=f"write the 8-bit mask instead of a cutout (<name>{MASK_SUFFIX}.png in --out-dir)")
    r.add_argument("--refine", choices=REFINE_LEVELS, default=DEFAULT_REFINE, help=f"edge refinement (default {DEFAULT_REFINE})")
    r.add_argument("--bg-color", metavar="COLOR", help="put the subject on this colour (#rrggbb, name or r,g,b)")
    r.add_argument("--no-decontaminate", action="store_true", help="keep the original edge colours")
    r.add_argument("--device", default="auto", help="auto, cpu, cuda, dml or coreml")
    r.add_argument("--overwrite", action="store_true", help="replace existing output files")
    r.add_argument("--watch", action="store_true",
                   help="keep watching the folder IN and cut out new and changed images as they land (needs --out-dir)")

    sv = sub.add_parser("serve", help="HTTP API compatible with rembg's /api/remove (needs bgone[server])")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=7000)
    sv.add_argument("--workers", type=int, default=1, help="images processed at once (default 1)")
    sv.add_argument("--queue", type=int, default=8, help="requests that may wait; more get 503 (default 8)")
    sv.add_argument("--model", help="default model for requests that name none")
    sv.add_argument("--device", default="auto", help="auto, cpu, cuda, dml or coreml")
    sv.add_argument("--max-upload-mb", type=float, default=50.0, help="largest request body (default 50)")
    sv.add_argument("--timeout", type=float, default=120.0, help="seconds one request may take (default 120)")
    sv.add_argument("--allow-url", action="append", default=[], metavar="HOST",
                    help="fetch GET ?url= images from HOST (repeatable; *.example.com for subdomains); off by default")

    b = sub.add_parser("batch", help="a catalogue on a distributed engine (needs bgone[ray])")
    b.add_argument("src", metavar="SRC", help="folder or URI (s3://, gs://, ...) of images")
    b.add_argument("dest", metavar="DEST", help="folder or URI for the outputs; a rerun skips what is there")
    b.add_argument("--engine", choices=["ray"], required=True)
    b.add_argument("--address", help="Ray cluster address (default: start a local Ray instance)")
    b.add_argument("--workers", type=int, default=2, help="actors, each with a warm session (default 2)")
    for flag in ("--model", "--refine", "--bg-color", "--device"):  # the same options as `remove`
        b._add_action(next(a for a in r._actions if flag in a.option_strings))
    b.add_argument("--mask", action="store_true", help="write the 8-bit mask instead of a cutout")
    b.add_argument("--no-decontaminate", action="store_true", help="keep the original edge colours")

    m = sub.add_parser("models", help="list, download, verify and import models")
    ms = m.add_subparsers(dest="mcmd", required=True)
    ml = ms.add_parser("list", help="known models, sizes, licences, installed or not")
    ml.add_argument("--json", action="store_true")
    md = ms.add_parser("download", help="download a model into the cache")
    md.add_argument("name", nargs="?", help="model name (default: the default model)")
    mv = ms.add_parser("verify", help="re-check installed models' checksums")
    mv.add_argument("name", nargs="?")
    ms.add_parser("path", help="print the model folder")
    mi = ms.add_parser("import", help="install a model file fetched elsewhere (offline machines)")
    mi.add_argument("args", nargs="+", metavar="[NAME] FILE", help="model name and file; the name may be left out for a known file (recognised by checksum)")
    mi.add_argument("--like", metavar="KNOWN_MODEL", help="register a custom ONNX export with this model's recipe")
    mr = ms.add_parser("remove", help="delete a model file from the cache")
    mr.add_argument("name")

    from .cli_edit import add_parsers

    add_parsers(sub)
    info = sub.add_parser("info", help="version, device in use (and why a GPU is not), models")
    info.add_argument("--device", default="auto", help="the --device choice to report on")
    info.add_argument("--json", action="store_true", help="the same, as JSON (for programs)")
    return p


def _skipped(p: Path) -> bool:
    """Hidden files (bgone's own temp files, macOS's ._ files) are never inputs."""
    from . import writer

    return p.name.startswith(".") or writer.is_temp(p)


def _scan(folder: Path, recursive: bool, skip_dirs: set[Path]) -> list[Path]:
    """A folder's images, sorted; with recursive, its subfolders' too (each real folder once, so
    a link back up cannot loop)."""
    skip_dirs.add(folder.resolve())
    found: list[Path] = []
    for f in sorted(folder.iterdir()):
        if _skipped(f):
            continue
        if f.is_dir():
            if recursive and f.resolve() not in skip_dirs:
                found += _scan(f, recursive, skip_dirs)
        elif f.is_file() and f.suffix.lower() in IMAGE_EXTS:
            found.append(f)
    return found


def _collect_inputs(items: list[str], recursive: bool = False, out_dir: str | None = None) -> list[tuple[Path, Path]]:
    """(file, subfolder it was found in relative to the folder given, or '.') for each input, once."""
    exclude = {Path(out_dir).resolve()} if out_dir else set()  # a re-run must not take its outputs as inputs
    files: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = _scan(p, recursive, set(exclude))
            if not found:
                more = "" if recursive else " (subfolders are searched only with --recursive)"
                raise UsageError(f"{p} contains no images{more}.", f"Supported: {', '.join(sorted(IMAGE_EXTS))}.")
            pairs = [(f, f.parent.relative_to(p)) for f in found]
        elif p.exists():
            pairs = [(p, Path("."))]
        else:
            raise UsageError(f"{p}: no such file or folder.", "Check the path and try again.")
        for f, rel in pairs:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                files.append((f, rel))
    return files


def _parse_color(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    from PIL import ImageColor

    try:
        if "," in text:
            parts = tuple(int(v) for v in text.split(","))
            if len(parts) not in (3, 4) or not all(0 <= v <= 255 for v in parts):
                raise ValueError
            return parts
        return ImageColor.getrgb(text)
    except ValueError:
        raise UsageError(f"Cannot read the colour {text!r}.", "Use #rrggbb, a name like white, or r,g,b.") from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _plan_outputs(args: argparse.Namespace, inputs: list[tuple[Path, Path]]) -> list[Path]:
    from . import writer

    if args.output:
        if len(inputs) != 1:
            raise UsageError(f"-o takes one input, got {len(inputs)}.", "Use --out-dir DIR for many images.")
        outs = [Path(args.output)]
    else:
        d = Path(args.out_dir)
        suffix = MASK_SUFFIX + ".png" if args.mask else ".png"
        outs = [d / rel / (p.stem + suffix) for p, rel in inputs]
        if len(set(outs)) != len(outs):
            raise UsageError("Two inputs have the same name and would overwrite each other.", "Process them separately.")
    for (src, _), o in zip(inputs, outs, strict=True):
        fmt = writer.format_of(o)
        if fmt is None:
            raise UsageError(f"Cannot tell the format of {o} from its extension.", "Use .png or .webp.")
        if not fmt.alpha and not (args.mask or args.bg_color):
            raise UsageError(f"{o.name}: {o.suffix.lower()} has no transparency.", "Use .png or .webp, or give --bg-color.")
        if _same_file(src, o):
            raise UsageError(f"{o} is the input itself; bgone never writes over the photo it reads.",
                             "Choose another output file or folder.")
        if o.exists() and not args.overwrite:
            raise UsageError(f"{o} already exists.", "Pass --overwrite to replace it.")
    return outs


def cmd_remove(args: argparse.Namespace) -> int:
    from . import batch, pipeline, writer

    if args.watch:
        from .watch import remove_watch

        return remove_watch(args)
    inputs = _collect_inputs(args.inputs, args.recursive, args.out_dir)
    outputs = _plan_outputs(args, inputs)
    color = _parse_color(args.bg_color)
    pipeline.check_refine(args.refine)
    spec = pipeline.resolve_model(args.model)  # unknown model fails here, before any work
    for folder in sorted({o.parent for o in outputs}):  # an unwritable folder fails before any work too
        writer.check_writable(folder)
        writer.clean_stale_temps(folder)
    if args.model is None:
        print(f"Using model {spec.name}.", file=sys.stderr)
    bar = Bar("Downloading " + spec.name, unit="B")

    def on_progress(stage: str, fraction: float) -> None:
        if stage == "download":
            bar.update(fraction)

    def work(photo: batch.Photo) -> Any:
        return pipeline.predict_alpha(photo.rgb, spec.name, args.refine, args.device, on_progress)

    def finish(photo: batch.Photo, alpha: Any) -> Any:
        return pipeline.compose(photo.rgb, alpha, photo.own_alpha, args.mask, color,
                                not args.no_decontaminate)

    many = len(inputs) > 1
    files_bar = Bar("Images", total=len(inputs)) if many else None

    def say(text: str) -> None:
        print(("\n" if files_bar and files_bar.tty else "") + "bgone: " + text, file=sys.stderr)

    def on_done(i: int, job: batch.Job, err: BaseException | None) -> None:
        if err is not None:
            say(batch.failure_message(job.src, err))
        if files_bar:
            files_bar.update(i + 1)

    jobs = [batch.Job(src, dst) for (src, _), dst in zip(inputs, outputs, strict=True)]
    t0 = time.perf_counter()
    failures = batch.run(jobs, work, on_done, say,
                         warm=lambda: pipeline.load_model(spec.name, args.device, on_progress), finish=finish)
    if files_bar:
        files_bar.close()
    print(_summary(outputs, failures, time.perf_counter() - t0), file=sys.stderr)
    return 1 if failures else 0


def _summary(outputs: list[Path], failures: int, seconds: float) -> str:
    """The last line of `bgone remove`: what was written, where, and how fast."""
    n = len(outputs)
    if n == 1:
        return f"Wrote {outputs[0]} in {seconds:.1f} s." if not failures else "Nothing was written."
    folders = sorted({str(o.parent) for o in outputs})
    where = folders[0] if len(folders) == 1 else f"{len(folders)} folders"
    rate = f"{(n - failures) * 60 / seconds:.0f} per minute" if seconds > 0 else ""
    if failures == n:
        return f"bgone: {n} of {n} images failed; nothing was written."
    if failures:
        return (f"bgone: {failures} of {n} images failed; the other {n - failures} were written to "
                f"{where} in {seconds:.1f} s.")
    return f"Wrote {n} images to {where} in {seconds:.1f} s ({rate})."


def cmd_models(args: argparse.Namespace) -> int:
    from . import paths, registry, store

    if args.mcmd == "path":
        print(paths.model_dir())
        return 0
    if args.mcmd == "list":
        from .catalog import model_rows
        from .cli_models import print_models

        print_models(model_rows(), args.json)
        return 0
    if args.mcmd == "download":
        spec = registry.get_model(args.name or registry.default_model_name())
        if not spec.commercial_use:
            print(f"Note: {spec.name} is licensed {spec.license}: not for commercial use.", file=sys.stderr)
        bar = Bar(f"Downloading {spec.name}")
        path = store.ensure_model(spec, progress=lambda stage, f: bar.update(f))
        bar.close()
        print(path)
        return 0
    if args.mcmd == "verify":
        specs = [registry.get_model(args.name)] if args.name else [
            m for m in registry.all_models() if store.model_path(m).exists()
        ]
        if not specs:
            print("No models installed.", file=sys.stderr)
            return 0
        bad = 0
        for spec in specs:
            ok = store.verify_model(spec)
            bad += not ok
            print(f"{spec.name:24} {'ok' if ok else 'FAILED (missing or checksum mismatch: download or import it again)'}")
        return 1 if bad else 0
    if args.mcmd == "import":
        if len(args.args) > 2:
            raise UsageError("models import takes [NAME] FILE.", "Example: bgone models import u2netp ~/Downloads/u2netp.onnx")
        name, file = (args.args if len(args.args) == 2 else (None, args.args[0]))
        if name is None:
            if args.like:
                raise UsageError("--like needs a NAME for the new model.", "bgone models import NAME FILE --like isnet-general-use")
            found = store.identify_file(Path(file))
            if found is None:
                raise UsageError(f"{file} is not a model bgone knows (checksum not in models.json).",
                                 "Give a NAME, and --like KNOWN_MODEL for a custom export.")
            name = found.name
        spec = store.import_file(name, Path(file), like=args.like)
        print(f"Imported {spec.name} -> {store.model_path(spec)}")
        return 0
    if args.mcmd == "remove":
        spec = registry.get_model(args.name)
        removed = store.remove_model(spec)
        print(f"Removed {spec.name}." if removed else f"{spec.name} was not installed.")
        return 0
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    from . import server

    if args.workers < 1 or args.queue < 0 or args.max_upload_mb <= 0 or args.timeout <= 0:
        raise UsageError("--workers must be 1 or more, --queue 0 or more, --max-upload-mb and --timeout above 0.", "")
    limits = server.Limits(args.workers, args.queue, int(args.max_upload_mb * 1e6), args.timeout)
    return server.serve(args.host, args.port, limits, args.model, tuple(args.allow_url), args.device)


def cmd_batch(args: argparse.Namespace) -> int:
    from . import batch_ray

    if args.workers < 1:
        raise UsageError("--workers must be 1 or more.", "")
    res = batch_ray.run(args.src, args.dest, address=args.address, workers=args.workers, model=args.model,
                        refine=args.refine, mask=args.mask, bg_color=_parse_color(args.bg_color),
                        decontaminate=not args.no_decontaminate, device=args.device)
    for name, message in res.failures:
        print(f"failed {name}: {message}", file=sys.stderr)
    print(f"{res.done} done, {res.failed} failed, {res.skipped} already done, in {res.seconds:.1f} s "
          f"(records in {args.dest.rstrip('/')}/{batch_ray.MANIFEST}).", file=sys.stderr)
    return 1 if res.failed else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="bgone: %(message)s")
    try:
        if args.cmd == "serve":
            return cmd_serve(args)
        if args.cmd == "batch":
            return cmd_batch(args)
        if args.cmd in ("refine", "adjust"):
            from . import cli_edit

            return cli_edit.run(args)
        if args.cmd == "info":
            from .cli_models import cmd_info

            return cmd_info(args)
        return cmd_remove(args) if args.cmd == "remove" else cmd_models(args)
    except BgoneError as e:
        print(f"bgone: {e.message}", file=sys.stderr)
        if e.hint:
            print(e.hint, file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1
    except KeyboardInterrupt:
        print("bgone: interrupted.", file=sys.stderr)
        return 130
    except MemoryError:
        print("bgone: not enough memory. Close other programs, or work on smaller images.", file=sys.stderr)
        return 1
    except OSError as e:  # e.g. a folder that cannot be listed
        print(f"bgone: {e.strerror or e}" + (f": {e.filename}" if e.filename else "") + ".", file=sys.stderr)
        return 1

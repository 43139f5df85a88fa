"""`bgone remove --watch DIR --out-dir OUT`: cut out images as they land in a folder.

Plain polling (stdlib, works on every file system, network shares included): each poll lists
the folder; a file is taken once its size and modification time have stayed the same for
``settle`` seconds (a copy still being written keeps changing), and taken again only when it
changes after that. A file that vanishes is forgotten; one that vanishes mid-work is reported
and skipped. Ctrl+C stops between files or mid-file, never leaving a partial output.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BgoneError

INTERVAL_S = 1.0  # between polls of the folder
SETTLE_S = 2.0  # unchanged this long = fully written

Signature = tuple[int, int]  # (size, mtime_ns)


@dataclass
class Watcher:
    """Which files in ``folder`` are ready to be (re)processed; no I/O beyond listing."""

    folder: Path
    is_input: Callable[[Path], bool]
    settle: float = SETTLE_S
    seen: dict[Path, tuple[Signature, float]] = field(default_factory=dict)  # sig, since when
    handled: dict[Path, Signature] = field(default_factory=dict)

    def _listing(self) -> dict[Path, Signature]:
        found: dict[Path, Signature] = {}
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            raise BgoneError(f"The watched folder {self.folder} is gone.", "", kind="usage") from None
        for e in entries:
            p = Path(e.path)
            if not self.is_input(p):
                continue
            try:
                st = e.stat()
            except FileNotFoundError:  # vanished between listing and looking
                continue
            if e.is_file():
                found[p] = (st.st_size, st.st_mtime_ns)
        return found

    def poll(self, now: float) -> list[Path]:
        """Files whose signature is new to us and has held still for ``settle`` seconds."""
        listing = self._listing()
        for gone in set(self.seen) - set(listing):
            del self.seen[gone]
            self.handled.pop(gone, None)  # a file put back later counts as new
        ready = []
        for p, sig in sorted(listing.items()):
            old = self.seen.get(p)
            if old is None or old[0] != sig:
                self.seen[p] = (sig, now)
            elif now - old[1] >= self.settle and self.handled.get(p) != sig:
                ready.append(p)
        return ready

    def mark(self, path: Path) -> None:
        """``path`` was handled as it is now (success or a reported failure: not retried
        until it changes)."""
        if path in self.seen:
            self.handled[path] = self.seen[path][0]


def run(watcher: Watcher, handle: Callable[[Path], None], is_done: Callable[[Path], bool],
        interval: float = INTERVAL_S, max_polls: int | None = None,
        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
    """Poll and handle until interrupted (or ``max_polls``, for tests). Files already done
    before the first poll (``is_done``) are not handled again."""
    startup: set[Path] | None = None  # the files present when watching began
    polls = 0
    while max_polls is None or polls < max_polls:
        polls += 1
        ready = watcher.poll(clock())
        if startup is None:
            startup = set(watcher.seen)
        for p in ready:
            if p in startup:
                startup.discard(p)
                if is_done(p):
                    watcher.mark(p)
                    continue
            handle(p)
            watcher.mark(p)
        sleep(interval)


def remove_watch(args: argparse.Namespace) -> int:
    """The `bgone remove --watch DIR --out-dir OUT` command: the CLI's own options, planning,
    pipeline and writer for each file that lands."""
    from . import cli, pipeline, writer

    if len(args.inputs) != 1 or not Path(args.inputs[0]).is_dir():
        raise cli.UsageError("--watch takes one folder.", "bgone remove --watch DIR --out-dir OUT")
    if not args.out_dir:
        raise cli.UsageError("--watch needs --out-dir.", "bgone remove --watch DIR --out-dir OUT")
    folder, out_dir = Path(args.inputs[0]), Path(args.out_dir)
    if folder.resolve() == out_dir.resolve():
        raise cli.UsageError("The output folder must not be the watched folder.", "Choose another --out-dir.")
    color = cli._parse_color(args.bg_color)
    spec = pipeline.resolve_model(args.model)
    replace = argparse.Namespace(**{**vars(args), "overwrite": True})  # a changed input replaces its output

    def output(src: Path) -> Path:
        return cli._plan_outputs(replace, [(src, Path("."))])[0]

    def is_done(src: Path) -> bool:
        try:
            return output(src).stat().st_mtime_ns >= src.stat().st_mtime_ns
        except OSError:
            return False

    counts = {"done": 0, "failed": 0}

    def handle(src: Path) -> None:
        try:
            img = pipeline.remove(src, model=spec.name, refine=args.refine, mask=args.mask, bg_color=color,
                                  device=args.device, decontaminate=not args.no_decontaminate)
            dest = output(src)
            writer.save(img, dest, img.info.get("icc_profile"))
            counts["done"] += 1
            print(f"{src.name} -> {dest}", file=sys.stderr)
        except BgoneError as e:
            if e.kind not in ("bad_image", "usage"):
                raise
            counts["failed"] += 1
            print(f"skipped {src.name}: {e.message}", file=sys.stderr)

    def is_input(p: Path) -> bool:
        return not p.name.startswith(".") and p.suffix.lower() in cli.IMAGE_EXTS

    print(f"Watching {folder} with model {spec.name}; outputs go to {out_dir}. Ctrl+C stops.", file=sys.stderr)
    try:
        run(Watcher(folder, is_input), handle, is_done)
    except KeyboardInterrupt:
        print(f"\nStopped watching {folder}: {counts['done']} done, {counts['failed']} skipped.",
              file=sys.stderr)
    return 0


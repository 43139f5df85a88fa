"""The command line: the plan of steps, the install and its summary, and ``main``."""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import shutil
import sys
import tempfile
import textwrap
import time
import traceback
from pathlib import Path

from . import FAIL_AFTER_ENV, PY_RANGE, InstallError, device
from .commands import _STATE
from .console import Log, ask, console_width
from .launcher import step_command
from .layout import Layout
from .model import step_model
from .selftest import step_selftest
from .steps import (
    Ctx,
    step_config,
    step_core,
    step_flatpak,
    step_hosts,
    step_plugins,
    step_python,
    step_venv,
)
from .uninstall import keep_copy, uninstall, uninstall_command
from .warmup import step_prepare

SCRIPT = Path(__file__).resolve().parent.parent / "install.py"


class Step:
    def __init__(self, key: str, title: str, fn, when: bool = True) -> None:
        self.key, self.title, self.fn, self.when = key, title, fn, when


def plan(args: argparse.Namespace) -> list[Step]:
    steps = [
        Step("python", "Finding Python", step_python),
        Step("hosts", "Finding GIMP and Krita", step_hosts),
        Step("venv", "Creating bgone's private Python", step_venv),
        Step("core", "Installing bgone's engine", step_core),
        Step("prepare", "Preparing edge refinement", step_prepare, when=not args.skip_prepare),
        Step("plugins", "Installing the plug-ins", step_plugins),
        Step("config", "Writing settings", step_config),
        Step("command", "Adding the bgone command", step_command),
        Step("flatpak", "Checking Flatpak permissions", step_flatpak),
        Step("model", "Getting the model", step_model, when=not args.skip_model),
        Step("selftest", "Testing", step_selftest, when=not args.skip_selftest),
    ]
    return [s for s in steps if s.when]


def install(ctx: Ctx) -> int:
    log, steps = ctx.log, plan(ctx.args)
    head = "bgone installer" + (" (dry run: nothing will be changed)" if ctx.dry else "")
    log.say(head)
    if ctx.manifest.exists:
        old = ctx.manifest.data.get("version", "?")
        log.say(f"bgone {old} is installed already: upgrading and repairing it.")
    fail_after = os.environ.get(FAIL_AFTER_ENV)
    n = len(steps)
    for i, step in enumerate(steps, 1):
        log.say(f"\n[{i}/{n}] {step.title}")
        step.fn(ctx)
        if step.key == "hosts" and not ctx.dry and not ctx.args.yes:
            if not ask(ctx.log, "\nInstall bgone now?"):
                log.say("Nothing was changed.")
                return 1
        if fail_after == step.key:
            raise InstallError(f"Injected failure after step {step.key!r} ({FAIL_AFTER_ENV}).")
    keep_copy(ctx)
    if not ctx.dry:
        ctx.device = device.probe(ctx)
        ctx.manifest.data.update(
            version=ctx.version, core_python=ctx.core_python, installed_at=_now(),
            plugins=[str(t.plugin_dir) for t in ctx.installed],
        )
        ctx.manifest.save()
    return 0


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def summary(ctx: Ctx, log_path: Path | None) -> None:
    say = ctx.log.say
    say("\n" + ("Dry run finished: nothing was changed." if ctx.dry else "bgone is installed."))
    rows = [("Engine", f"bgone {ctx.version}: {ctx.core_python}")]
    notes = list(ctx.notes)
    if not ctx.dry:
        readme = ctx.src / "README.md"
        text, more = device.summary_rows(ctx.device, readme if readme.is_file() else None)
        rows.append(("Device", text))
        notes += more
    if ctx.model:
        rows.append(("Model", f"{ctx.model['name']} in {ctx.model['dir']}"))
    for t in ctx.installed:
        rows.append((t.label, str(t.plugin_dir)))
        if t.kritarc:
            rows.append(("", f"enabled in {t.kritarc}"))
    rows.append(("Settings", str(ctx.layout.config_file())))
    if ctx.command:
        rows.append(("Command", f"{ctx.command} ({ctx.command_note})"))
    rows.append(("Self-test", ctx.selftest))
    if log_path:
        rows.append(("Log", str(log_path)))
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        say(f"  {k:<{width}}  {v}")
    for note in notes:
        say("\n" + textwrap.fill(note, console_width(), initial_indent="  ! ", subsequent_indent="    ",
                                 break_long_words=False, break_on_hyphens=False))
    if not ctx.dry and ctx.installed:
        say("\nNext: restart GIMP or Krita.")
        if any(t.app == "gimp" for t in ctx.installed):
            say("  GIMP:  Layer > Transparency > Remove Background...")
        if any(t.app == "krita" for t in ctx.installed):
            say("  Krita: Tools > Remove Background, or Settings > Dockers > Remove Background")
    if not ctx.dry and ctx.command:
        say(f"In a terminal: {ctx.command.stem} remove photo.jpg  ({ctx.command.stem} --help for more)")
    if not ctx.dry:
        python = ctx.base["executable"] if ctx.base else sys.executable
        say(f"To remove bgone again: {uninstall_command(ctx.layout, ctx.data_dir, python)}")


def _self_cmd() -> str:
    return shlex.join([Path(sys.executable).name, str(SCRIPT)])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="install.py",
        description="Install bgone (local background removal) for GIMP 3 and Krita 5.",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask anything (unattended)")
    p.add_argument("--dry-run", action="store_true", help="show what would be done, change nothing")
    p.add_argument("--uninstall", action="store_true",
                   help="remove everything the installer put anywhere, and nothing else")
    p.add_argument("--keep-models", action="store_true",
                   help="with --uninstall: keep the downloaded models (they are removed by default)")
    p.add_argument("--python", metavar="PY", help=f"the Python {PY_RANGE} to build bgone's environment from")
    p.add_argument("--from-pypi", action="store_true", help="install the engine from PyPI")
    p.add_argument("--source", metavar="DIR_OR_WHEEL", help="install the engine from this folder or wheel")
    p.add_argument("--model", metavar="NAME", help="the model to install (default: the default model)")
    p.add_argument("--model-file", metavar="FILE",
                   help="install a model file downloaded elsewhere (offline machines)")
    p.add_argument("--gimp-profile", metavar="DIR", action="append", default=[],
                   help="also install into this GIMP 3 profile folder (repeatable)")
    p.add_argument("--krita-dir", metavar="DIR", action="append", default=[],
                   help="also install into this Krita resource folder (repeatable)")
    p.add_argument("--kritarc", metavar="FILE", help="the kritarc that goes with --krita-dir")
    p.add_argument("--no-gimp", action="store_true", help="do not look for GIMP")
    p.add_argument("--no-krita", action="store_true", help="do not look for Krita")
    p.add_argument("--flatpak-grant", action="store_true",
                   help="let Flatpak GIMP/Krita start bgone's engine without asking")
    dev = p.add_argument_group("developers and tests")
    dev.add_argument("--venv", metavar="DIR", help="the virtual environment to use (default: in the data folder)")
    dev.add_argument("--no-venv", action="store_true",
                     help="use --python as it is (it must already have bgone installed)")
    dev.add_argument("--data-dir", metavar="DIR", help=argparse.SUPPRESS)
    dev.add_argument("--platform", choices=("linux", "macos", "windows"), help=argparse.SUPPRESS)
    dev.add_argument("--skip-model", action="store_true", help="do not download a model")
    dev.add_argument("--skip-prepare", action="store_true",
                     help="do not compile the edge refinement now (its first use then takes longer)")
    dev.add_argument("--skip-selftest", action="store_true", help="do not run the self-test")
    dev.add_argument("--allow-root", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.no_venv and not args.python:
        p.error("--no-venv needs --python (a Python that has bgone installed)")
    if args.no_venv and args.venv:
        p.error("--no-venv and --venv exclude each other")
    if args.model_file and not Path(args.model_file).is_file():
        p.error(f"--model-file {args.model_file}: no such file")
    if args.model_file:
        args.model_file = str(Path(args.model_file).expanduser().absolute())
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if (hasattr(os, "geteuid") and os.geteuid() == 0 and os.environ.get("SUDO_USER")
            and not args.allow_root):
        print("Please run the installer as yourself, without sudo: it installs bgone for your "
              "user only.", file=sys.stderr)
        return 2
    _STATE["dry_run"] = args.dry_run
    layout = Layout(args.platform)
    log_path = None
    if not args.dry_run:
        fd, name = tempfile.mkstemp(prefix="bgone-install-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    log = Log(log_path)
    log.detail(f"{_self_cmd()} {shlex.join(argv if argv is not None else sys.argv[1:])}")
    log.detail(f"python {sys.version} on {sys.platform}; layout {layout.system}; home {layout.home}")
    ctx = Ctx(args, layout, log)
    code = 1
    try:
        if args.uninstall:
            code = uninstall(ctx)
            log.close()
            if code == 0 and log_path:
                log_path.unlink(missing_ok=True)
            elif log_path:
                print(f"Log: {log_path}")
            return code
        code = install(ctx)
        if code == 0 and not args.dry_run:
            kept = _keep_log(ctx, log_path)
            ctx.txn.commit()
            summary(ctx, kept)
            log.close()
            if kept and log_path and kept != log_path:
                shutil.copyfile(log_path, kept)
                log_path.unlink(missing_ok=True)
        elif code == 0:
            summary(ctx, None)
        else:
            ctx.txn.rollback()
            log.close()
            if log_path:
                log_path.unlink(missing_ok=True)
        return code
    except (InstallError, Exception, KeyboardInterrupt) as e:
        if isinstance(e, InstallError):
            msg, hint, code = e.message, e.hint, e.code
        elif isinstance(e, KeyboardInterrupt):
            msg, hint, code = "Interrupted.", "", 130
        else:
            msg, hint, code = f"Unexpected error: {e!r}", "Please report it with the log file.", 1
        log.detail(traceback.format_exc())
        log.say(f"\nERROR: {msg}")
        if hint:
            log.say(hint)
        if not args.uninstall and not args.dry_run:
            problems = ctx.txn.rollback()
            if problems:
                log.say("The changes made so far could NOT all be undone:")
                for p in problems:
                    log.say("  " + p)
            else:
                log.say("Everything this run changed has been undone.")
        log.close()
        if log_path:
            print(f"The details are in the log file: {log_path}", file=sys.stderr)
        return code


def _keep_log(ctx: Ctx, log_path: Path | None) -> Path | None:
    """Where the log of a successful install stays (tracked, so --uninstall removes it)."""
    if log_path is None:
        return None
    logs = ctx.data_dir / "logs"
    ctx.txn.mkdirs(logs)
    ctx.txn.record({"type": "tree", "path": str(logs)})
    ctx.manifest.save()
    stem = f"install-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = logs / f"{stem}.log", 1
    while path.exists():
        n += 1
        path = logs / f"{stem}-{n}.log"
    return path


if __name__ == "__main__":
    sys.exit(main())

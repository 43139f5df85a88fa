"""The install's steps, in order: each one announces itself and changes things only through
the transaction (``ctx.txn``), so that it can be rolled back, dry-run and uninstalled."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from . import (
    APP,
    FLATPAK_TALK,
    GIMP_PLUGIN,
    KRITA_PLUGIN,
    KRITARC_KEY,
    KRITARC_SECTION,
    MANIFEST,
    InstallError,
)
from .commands import Wait, run_cmd
from .console import Log, ask
from .layout import Layout, Target
from .pythons import _py_text, find_python, probe_python
from .txn import Manifest, Txn, flatpak_override_cmd

HERE = Path(__file__).resolve().parent.parent  # the folder install.py is in
LOCK = HERE / "requirements-lock.txt"  # written by lock.py
ENGINE_SIZE = "about 550 MB"  # the venv, measured: 548 MB (Python 3.13, Linux)
# In bgone's Python: its version, and the client package the plug-ins get (from the installed
# core, so that it always speaks the engine's protocol).
CORE_PROBE = (
    "import json, os, bgone, bgone.worker, bgone_client\n"
    "from bgone import paths\n"
    "print(json.dumps({'version': bgone.__version__, 'models': str(paths.model_dir()),"
    " 'client': os.path.dirname(os.path.abspath(bgone_client.__file__))}))\n"
)


def source_root() -> Path:
    """The folder holding the plug-ins and the core: the repository (installer/..) or a release
    folder with everything next to install.py."""
    for root in (HERE.parent, HERE):
        if (root / "gimp_plugin" / GIMP_PLUGIN).is_dir() or (root / "krita_plugin").is_dir():
            return root
    return HERE.parent


def core_source(args: argparse.Namespace) -> str:
    if args.source:
        return str(Path(args.source).expanduser().absolute())
    if args.from_pypi:
        return APP
    wheels = sorted(list(HERE.glob("bgone-*.whl")) + list((HERE.parent / "dist").glob("bgone-*.whl")),
                    key=lambda p: [int(x) if x.isdigit() else x
                                   for x in re.split(r"[.-]", p.name)[1:4]])
    if wheels:
        return str(wheels[-1])
    root = HERE.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and re.search(r'(?m)^name\s*=\s*"bgone"', pyproject.read_text("utf-8")):
        return str(root)
    raise InstallError(
        f"bgone's files were not found next to the installer ({HERE}).",
        "Download the complete bgone package and unpack it, or use --from-pypi.",
    )


class Ctx:
    def __init__(self, args: argparse.Namespace, layout: Layout, log: Log) -> None:
        self.args = args
        self.layout = layout
        self.log = log
        self.src = source_root()
        self.data_dir = Path(args.data_dir).absolute() if args.data_dir else layout.data_dir()
        self.manifest = Manifest(self.data_dir / MANIFEST)
        self.txn = Txn(log, self.manifest, dry=args.dry_run)
        self.base: dict | None = None  # the Python found
        self.venv: Path | None = None
        self.core_python: str | None = None
        self.version = "?"
        self.client_src: Path | None = None
        self.targets: list[Target] = []
        self.installed: list[Target] = []
        self.model: dict | None = None
        self.notes: list[str] = []  # warnings for the summary
        self.selftest = "skipped"
        self.device: dict | None = None  # the engine's `bgone info --json`, for the summary
        self.command: Path | None = None  # the bgone command, once written
        self.command_note = ""

    @property
    def dry(self) -> bool:
        return self.args.dry_run


def step_python(ctx: Ctx) -> None:
    a = ctx.args
    ctx.base = find_python(ctx.layout, a.python, need_venv=not a.no_venv)
    where = "given with --python" if a.python else "found"
    ctx.log.say(f"    Python {_py_text(ctx.base['version'])} ({where}): {ctx.base['executable']}")


def step_hosts(ctx: Ctx) -> None:
    a, lay = ctx.args, ctx.layout
    targets = []
    if not a.no_gimp:
        targets += lay.gimp_targets()
    if not a.no_krita:
        targets += lay.krita_targets()
    targets += [lay.custom_target("gimp", d) for d in a.gimp_profile]
    targets += [lay.custom_target("krita", d, a.kritarc) for d in a.krita_dir]
    seen, ctx.targets = set(), []
    for t in targets:
        key = (t.app, os.path.normcase(str(t.root.absolute())))
        if key not in seen:
            seen.add(key)
            ctx.targets.append(t)
    for t in ctx.targets:
        extra = " (installed but not started yet: the folder will be created)" if t.create else ""
        ctx.log.say(f"    {t.label}: {t.root}{extra}")
        if t.kind == "snap":
            ctx.notes.append("GIMP from Snap: its sandbox may stop it from starting bgone's engine. "
                             "If Remove Background says the engine is missing, use GIMP from "
                             "Flatpak or your distribution instead.")
    if not ctx.targets:
        ctx.log.say("    No GIMP 3 or Krita 5 found.")
        ctx.notes.append("No GIMP 3 or Krita was found, so no plug-in was installed. Install one, "
                         "start it once, then run this installer again (or point at a profile "
                         "with --gimp-profile DIR / --krita-dir DIR).")
    if any(t.app == "krita" for t in ctx.targets) and _krita_running():
        ctx.log.say("    Krita is running: close it before it saves its settings over ours.")
        ctx.notes.append("Krita was running during the install. If the plug-in is not enabled "
                         "after restarting Krita, run this installer again with Krita closed.")


def _krita_running() -> bool:
    proc = Path("/proc")
    if sys.platform.startswith("linux") and proc.is_dir():
        for p in proc.iterdir():
            if p.name.isdigit():
                try:
                    if (p / "comm").read_text().strip() == "krita":
                        return True
                except OSError:
                    pass
    return False


def step_venv(ctx: Ctx) -> None:
    a, lay = ctx.args, ctx.layout
    if a.no_venv:
        ctx.core_python = ctx.base["executable"] if ctx.base else a.python
        ctx.log.say(f"    --no-venv: using {ctx.core_python} as it is")
        return
    venv = Path(a.venv).expanduser().absolute() if a.venv else ctx.data_dir / "venv"
    ctx.venv = venv
    py = lay.venv_python(venv)
    ctx.core_python = str(py)
    if venv.exists():
        info = probe_python([str(py)]) if py.exists() else None
        same = info and info["version"][:2] == ctx.base["version"][:2]
        if same:
            ctx.log.say(f"    Reusing {venv} (Python {_py_text(info['version'])})")
            if not a.venv:  # the default venv is ours even when an earlier run made it
                ctx.txn.own({"type": "tree", "path": str(venv)})
            return
        why = "it is broken" if info is None else f"it uses Python {_py_text(info['version'])}"
        ctx.log.say(f"    Rebuilding {venv}: {why}")
        ctx.txn.set_aside(venv)
    if ctx.dry:
        ctx.txn.would(f"create a virtual environment {venv} with {ctx.base['executable']}")
        return
    ctx.txn.mkdirs(venv.parent)
    ctx.txn.created_tree(venv)
    ctx.log.say(f"    Creating {venv}")
    run_cmd(ctx.log, [*ctx.base["argv"], "-m", "venv", str(venv)], timeout=600)
    if probe_python([str(py)]) is None:
        raise InstallError(f"The new virtual environment {venv} does not work.",
                           "See the log for details.")


def _pip_show(line: str) -> str | bool:
    """pip's progress lines worth a user's eye, without "(from -r requirements-lock.txt (line 18))".
    "Installing collected packages" is followed by a long silence (the big wheels being
    unpacked, 25-45 s): it becomes a ``Wait``, with live seconds until pip speaks again."""
    if line.startswith("Installing collected packages:"):
        names = [n.strip() for n in line.split(":", 1)[1].split(",") if n.strip()]
        many = f"{len(names)} packages" if len(names) != 1 else "1 package"
        return Wait(f"Installing {many}: {', '.join(names)}")
    if not line.startswith(("Collecting ", "Downloading ", "Successfully ")):
        return False
    return re.sub(r" \(from .*$", "", line)


def lock_pythons(lock: Path) -> set[str]:
    """The Python versions the lock file has a complete set of files for (its first line)."""
    try:
        first = lock.read_text("utf-8").splitlines()[0]
    except (OSError, IndexError):
        return set()
    return set(first.split(":", 1)[1].split()) if first.startswith("# python:") else set()


def _pip(ctx: Ctx, *args: str) -> list[str]:
    return [ctx.core_python, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
            *args]


def _pip_install(ctx: Ctx, src: str) -> None:
    """The libraries at the versions the tests ran with, each file checked against its sha256
    (pip's hash-checking mode), then bgone itself; where that set has no files for this Python
    or system, the newest versions that fit, and the summary says so."""
    version = _py_text(ctx.base["version"][:2]) if ctx.base else ""
    if version in lock_pythons(LOCK):
        ctx.log.say("    The libraries' versions are the tested ones, each file checked by its sha256.")
        try:
            run_cmd(ctx.log, _pip(ctx, "--require-hashes", "-r", str(LOCK)), show=_pip_show)
            run_cmd(ctx.log, _pip(ctx, "--upgrade", "--no-deps", src), show=_pip_show)
            run_cmd(ctx.log, [ctx.core_python, "-m", "pip", "check", "--disable-pip-version-check"])
            return
        except InstallError as e:
            ctx.log.detail(e.message)
            ctx.log.say("    The tested versions do not install here; taking the newest that fit instead.")
            ctx.notes.append("bgone's libraries are not the versions it was tested with (those do not "
                             "install on this system; see the log).")
    else:
        ctx.log.detail(f"{LOCK.name} has no tested set for Python {version}")
        ctx.notes.append(f"No tested set of libraries exists for Python {version}: bgone got the newest "
                         f"versions that fit. Python {' or '.join(sorted(lock_pythons(LOCK)))} gets "
                         f"the tested ones.")
    run_cmd(ctx.log, _pip(ctx, "--upgrade", src), show=_pip_show)


def step_core(ctx: Ctx) -> None:
    a = ctx.args
    if a.no_venv:
        ctx.log.say(f"    --no-venv: checking that {ctx.core_python} has bgone")
    else:
        src = core_source(a)
        if ctx.dry:
            version = _py_text(ctx.base["version"][:2]) if ctx.base else ""
            if version in lock_pythons(LOCK):
                ctx.txn.would(f"run {ctx.core_python} -m pip install --require-hashes -r {LOCK}")
                ctx.txn.would(f"then pip install --upgrade --no-deps {src}")
            else:
                ctx.txn.would(f"run {ctx.core_python} -m pip install --upgrade {src}")
        else:
            ctx.log.say(f"    Installing bgone and its libraries from {src}")
            ctx.log.say(f"    ({ENGINE_SIZE}; this can take a few minutes)")
            _pip_install(ctx, src)
    if ctx.dry and not Path(ctx.core_python).exists():
        ctx.client_src = ctx.src / "core" / "bgone_client"
        return
    try:
        out = run_cmd(ctx.log, [ctx.core_python, "-c", CORE_PROBE], timeout=300)
    except InstallError as e:
        if a.no_venv:
            raise InstallError(f"{ctx.core_python} does not have bgone installed.",
                               "Install it there (pip install -e .) or drop --no-venv.") from None
        if ctx.dry:
            ctx.client_src = ctx.src / "core" / "bgone_client"
            return
        ctx.log.say("    The engine does not load; repairing (reinstalling everything)")
        ctx.log.detail(e.message)
        run_cmd(ctx.log, [ctx.core_python, "-m", "pip", "install", "--force-reinstall",
                          "--no-cache-dir", "--disable-pip-version-check", core_source(a)],
                show=_pip_show)
        out = run_cmd(ctx.log, [ctx.core_python, "-c", CORE_PROBE], timeout=300)
    info = json.loads(out.strip().splitlines()[-1])
    ctx.version = info["version"]
    ctx.client_src = Path(info["client"])
    # the engine's model cache (what it downloads, later too) goes with it on --uninstall
    ctx.txn.own({"type": "model_cache", "path": info["models"]})
    ctx.log.say(f"    bgone {ctx.version} is ready in {ctx.core_python}")


def _config_bytes(ctx: Ctx, flatpak: bool) -> bytes:
    doc = {"python": ctx.core_python, "version": ctx.version, "flatpak_spawn": flatpak}
    return (json.dumps(doc, indent=1) + "\n").encode("utf-8")




def step_plugins(ctx: Ctx) -> None:
    nl = "\r\n" if ctx.layout.system == "windows" else "\n"
    client = ctx.client_src or ctx.src / "core" / "bgone_client"
    if not ctx.dry:
        _need(client)
    for t in ctx.targets:
        config = {"bgone_config.json": _config_bytes(ctx, t.flatpak is not None)}
        ctx.log.say(f"    {t.label}: {t.plugin_dir}")
        if t.app == "gimp":
            src = ctx.src / "gimp_plugin" / GIMP_PLUGIN
            _need(src)
            ctx.txn.mkdirs(t.root / "plug-ins")
            ctx.txn.copy_tree(src, t.plugin_dir, modes={f"{GIMP_PLUGIN}.py": 0o755}, extra=config,
                              trees={t.client_dir.name: client})
            # GIMP keeps our dialogs' last values there: they go with the plug-in
            ctx.txn.own({"type": "gimp_settings", "path": str(t.root / "plug-in-settings")})
        else:
            desktop = ctx.src / "krita_plugin" / f"{KRITA_PLUGIN}.desktop"
            src = ctx.src / "krita_plugin" / KRITA_PLUGIN
            _need(src)
            _need(desktop)
            ctx.txn.mkdirs(t.root / "pykrita")
            ctx.txn.write_file(t.root / "pykrita" / desktop.name, desktop.read_bytes(), 0o644,
                               what="plug-in description")
            ctx.txn.copy_tree(src, t.plugin_dir, extra=config)
            ctx.txn.copy_tree(client, t.client_dir)  # Krita imports it from pykrita/
            assert t.kritarc is not None
            ctx.txn.ini_set(t.kritarc, KRITARC_SECTION, KRITARC_KEY, "true", nl)
            ctx.log.say(f"      enabled in {t.kritarc}")
        ctx.installed.append(t)


def _need(path: Path) -> None:
    if not path.exists():
        raise InstallError(f"The plug-in files are missing: {path}",
                           "Download the complete bgone package and unpack it again.")


def step_config(ctx: Ctx) -> None:
    path = ctx.layout.config_file()
    ctx.txn.write_file(path, _config_bytes(ctx, False), what="settings")
    ctx.log.say(f"    {path}")


def _flatpak_granted(app: str) -> bool | None:
    """Whether ``app`` may talk to org.freedesktop.Flatpak; None when it cannot be told."""
    if not shutil.which("flatpak"):
        return None
    try:
        r = subprocess.run(["flatpak", "info", "--show-permissions", app], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    return f"{FLATPAK_TALK}=talk" in r.stdout.replace(" ", "")


def step_flatpak(ctx: Ctx) -> None:
    apps = sorted({t.flatpak for t in ctx.installed if t.flatpak})
    if not apps:
        ctx.log.say("    No GIMP or Krita from Flatpak: nothing to do.")
    for app in apps:
        cmd = shlex.join(flatpak_override_cmd(app))
        granted = _flatpak_granted(app)
        if granted:
            ctx.log.say(f"    {app} may already start programs outside its sandbox: good")
            continue
        ctx.log.say(f"    {app} runs in a sandbox; to start bgone's engine it needs this permission:")
        ctx.log.say(f"        {cmd}")
        if granted is None:
            ctx.notes.append(f"Could not check {app}'s Flatpak permissions. If the plug-in says "
                             f"the engine cannot start, run:  {cmd}")
            continue
        if ctx.args.flatpak_grant or (not ctx.args.yes and ask(ctx.log, "    Grant it now?", default=False)):
            ctx.txn.flatpak_grant(app)
            ctx.log.say("    Granted.")
        else:
            ctx.notes.append(f"{app} still needs permission to start bgone's engine. Run:  {cmd}")



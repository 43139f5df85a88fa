"""Getting the model: downloaded by the engine's own downloader, or imported from a file."""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

from . import APP, InstallError
from .commands import run_cmd
from .console import trim
from .steps import Ctx

MODEL_INFO = (
    "import json, sys\n"
    "from bgone import paths, registry, store\n"
    "name = sys.argv[1] or registry.default_model_name()\n"
    "s = registry.get_model(name)\n"
    "print(json.dumps({'name': s.name, 'urls': s.urls, 'file': s.file, 'dir': str(paths.model_dir()),"
    " 'size_mb': s.approx_size_mb or (s.size or 0) / 1e6, 'license': s.license,"
    " 'commercial_use': s.commercial_use,"
    " 'installed': store.model_path(s).exists() if sys.argv[2:] == ['dry'] else store.is_installed(s)}))\n"
)


def step_model(ctx: Ctx) -> None:
    a = ctx.args
    if ctx.dry and not Path(ctx.core_python).exists():
        what = f"import {a.model_file}" if a.model_file else f"download {a.model or 'the default model'}"
        ctx.txn.would(what + " into bgone's model folder")
        return
    info_argv = [ctx.core_python, "-c", MODEL_INFO, a.model or "", "dry" if ctx.dry else ""]
    out = run_cmd(ctx.log, info_argv, timeout=300)
    info = json.loads(out.strip().splitlines()[-1])
    folder = Path(info["dir"])
    if a.model_file:
        argv = [ctx.core_python, "-m", APP, "models", "import"]
        argv += [a.model, a.model_file] if a.model else [a.model_file]
        if ctx.dry:
            ctx.txn.would(f"import {a.model_file} into {folder}")
            return
        ctx.log.say(f"    Importing {a.model_file} (checked against its known checksum)")
        out = ctx.txn.track_new_files(folder, lambda: run_cmd(ctx.log, argv))
        found = re.search(r"Imported (\S+) ->", out)
        info["name"] = found.group(1) if found else (a.model or info["name"])
    else:
        size = f"about {info['size_mb']:.0f} MB" if info["size_mb"] else "size unknown"
        if info["installed"]:
            ctx.log.say(f"    {info['name']} is already downloaded: {folder}")
            ctx.model = info
            return
        if ctx.dry:
            ctx.txn.would(f"download {info['name']} ({size}) into {folder}")
            return
        ctx.log.say(f"    Downloading {info['name']} ({size}, {info['license']}) into {folder}")
        if not info["commercial_use"]:
            ctx.log.say("    Note: this model's licence does not allow commercial use.")
        argv = [ctx.core_python, "-m", APP, "models", "download", info["name"]]
        try:
            ctx.txn.track_new_files(folder, lambda: run_cmd(
                ctx.log, argv, tty_passthrough=True, show=lambda line: "%" in line), keep=_partial)
        except InstallError as e:
            raise download_failed(info, folder, e.message) from None
    ctx.model = info
    ctx.log.say(f"    Model {info['name']} is installed.")


def _partial(path: Path) -> bool:
    return path.name.endswith(".part") and path.stat().st_size > 0


def _reason(output: str) -> str:
    """The engine's own words for why, short: "the proxy refused the connection" out of
    "bgone: Could not download X: URL: the proxy refused the connection (urllib3 details...)"."""
    for line in output.splitlines():
        m = re.search(r"Could not download \S+: \S+: ([^(/]+)", line)
        if m:
            return trim(m.group(1).strip().rstrip("."), 80)
    return ""


def download_failed(info: dict, folder: Path, output: str) -> InstallError:
    """One sentence naming the model and the hosts, then what to do; only true words about a
    partial file (one that is kept is named, with its size)."""
    hosts = list(dict.fromkeys(urllib.parse.urlsplit(u).hostname or u for u in info["urls"]))
    where = " or ".join(hosts) or "the internet"
    reason = _reason(output)
    msg = f"Could not download the model {info['name']} from {where}" + (f": {reason}." if reason else ".")
    urls = "\n".join("    " + u for u in info["urls"][:1])
    hint = ("Behind a proxy? Set HTTPS_PROXY (for example http://proxy:8080) and run the installer "
            "again.\nNo internet on this computer? Download the file on another one from:\n"
            f"{urls}\nthen run the installer again with --model-file PATH/TO/{info['file']}")
    parts = sorted(folder.glob("*.part")) if folder.is_dir() else []
    kept = [p for p in parts if p.stat().st_size > 0]
    if kept:
        mb = sum(p.stat().st_size for p in kept) / 1e6
        hint += f"\nThe {mb:.1f} MB downloaded so far are kept in {folder}; the next run continues from there."
    return InstallError(msg, hint)

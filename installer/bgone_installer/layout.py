"""Where things live on each system: the user's data and config folders, and every GIMP 3
profile and Krita resource folder (native, Flatpak, Snap, AppImage, or given by hand)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from bgone_client import locate

from . import APP, GIMP_FLATPAK, GIMP_PLUGIN, KRITA_FLATPAK, KRITA_PLUGIN

_SYS_PLATFORM = {"windows": "win32", "macos": "darwin", "linux": "linux"}


def _system(platform: str) -> str:
    return {"win32": "windows", "darwin": "macos"}.get(platform, "linux")


class Target:
    """One place a plug-in goes: a GIMP 3 profile or a Krita resource folder."""

    def __init__(self, app: str, kind: str, root: Path, *, create: bool = False,
                 kritarc: Path | None = None, flatpak: str | None = None) -> None:
        self.app = app  # "gimp" | "krita"
        self.kind = kind  # native | flatpak | snap | custom
        self.root = root
        self.create = create  # the folder does not exist yet: the host is installed, never run
        self.kritarc = kritarc
        self.flatpak = flatpak

    @property
    def label(self) -> str:
        name = "GIMP 3" if self.app == "gimp" else "Krita"
        return name if self.kind in ("native", "custom") else f"{name} ({self.kind.capitalize()})"

    @property
    def plugin_dir(self) -> Path:
        """The plug-in's folder; bgone_config.json goes in it."""
        if self.app == "gimp":
            return self.root / "plug-ins" / GIMP_PLUGIN
        return self.root / "pykrita" / KRITA_PLUGIN

    @property
    def client_dir(self) -> Path:
        """Where the plug-in imports the ``bgone_client`` package from: inside GIMP's plug-in
        folder (GIMP puts that folder on sys.path); beside the plug-in in Krita's pykrita."""
        if self.app == "gimp":
            return self.plugin_dir / "bgone_client"
        return self.root / "pykrita" / "bgone_client"


class Layout:
    """Per-user paths for one system ("linux", "macos", "windows"). The system can be forced
    (``--platform``) so that every layout can be tested on one machine."""

    def __init__(self, system: str | None = None, env: dict | None = None) -> None:
        self.system = system or _system(sys.platform)
        self.env = dict(os.environ if env is None else env)
        self.home = Path(os.path.expanduser("~"))

    def _env_dir(self, name: str, default: Path) -> Path:
        value = self.env.get(name)
        return Path(value) if value else default

    @property
    def appdata(self) -> Path:
        return self._env_dir("APPDATA", self.home / "AppData" / "Roaming")

    @property
    def localappdata(self) -> Path:
        return self._env_dir("LOCALAPPDATA", self.home / "AppData" / "Local")

    @property
    def xdg_config(self) -> Path:
        return self._env_dir("XDG_CONFIG_HOME", self.home / ".config")

    @property
    def xdg_cache(self) -> Path:
        return self._env_dir("XDG_CACHE_HOME", self.home / ".cache")

    def runtime_cache(self) -> Path | None:
        """Where onnxruntime drops its telemetry device id when the engine first runs."""
        if self.system == "linux":
            return self.xdg_cache / "Microsoft"
        if self.system == "macos":
            return self.app_support / "Microsoft"
        return None

    @property
    def xdg_data(self) -> Path:
        return self._env_dir("XDG_DATA_HOME", self.home / ".local" / "share")

    @property
    def app_support(self) -> Path:
        return self.home / "Library" / "Application Support"

    def data_dir(self) -> Path:
        if self.system == "windows":
            return self.localappdata / APP
        if self.system == "macos":
            return self.app_support / APP
        return self.xdg_data / APP

    def config_file(self) -> Path:
        """The user config.json, where the plug-ins' client looks for it (its one definition;
        under a forced ``--platform`` it is asked as that system would ask it)."""
        real = sys.platform
        sys.platform = _SYS_PLATFORM[self.system] if _system(real) != self.system else real
        try:
            return Path(locate.user_config_dir()) / "config.json"
        finally:
            sys.platform = real

    def bin_dir(self) -> Path:
        """Where the ``bgone`` command goes: ~/.local/bin (Linux, macOS), or a folder of ours
        that the installer puts on the user's PATH (Windows)."""
        if self.system == "windows":
            return self.data_dir() / "bin"
        return self.home / ".local" / "bin"

    def venv_python(self, venv: Path) -> Path:
        if self.system == "windows":
            return venv / "Scripts" / "python.exe"
        return venv / "bin" / "python"

    # -- hosts ---------------------------------------------------------------------------------

    def _flatpak_installed(self, app: str) -> bool:
        roots = [self.xdg_data / "flatpak", Path("/var/lib/flatpak")]
        return any((r / "app" / app).is_dir() for r in roots)

    def _which(self, name: str) -> str | None:
        return shutil.which(name, path=self.env.get("PATH", os.defpath))

    def gimp3_binary(self) -> str | None:
        for name in ("gimp-3.0", "gimp-3", "gimp3"):
            found = self._which(name)
            if found:
                return found
        found = self._which("gimp")
        if found:
            try:
                out = subprocess.run([found, "--version"], capture_output=True, text=True,
                                     timeout=30, stdin=subprocess.DEVNULL).stdout
            except (OSError, subprocess.SubprocessError):
                return None
            if re.search(r"version 3\.", out):
                return found
        return None

    def krita_binary(self) -> str | None:
        found = self._which("krita")
        if found:
            return found
        for folder in (self.home / "Applications", self.home / "Downloads", self.home / "bin"):
            if folder.is_dir():
                for f in sorted(folder.iterdir()):
                    if f.name.lower().startswith("krita") and f.name.lower().endswith(".appimage"):
                        return str(f)
        return None

    @staticmethod
    def _gimp_versions(base: Path) -> list[Path]:
        """GIMP/3.0, GIMP/3.2, ... (every 3.x profile)."""
        if not base.is_dir():
            return []
        return sorted(p for p in base.iterdir() if p.is_dir() and re.fullmatch(r"3\.\d+", p.name))

    def gimp_targets(self) -> list[Target]:
        found: list[Target] = []
        if self.system == "windows":
            bases = [("native", self.appdata / "GIMP", None)]
        elif self.system == "macos":
            bases = [("native", self.app_support / "GIMP", None)]
        else:
            bases = [
                ("native", self.xdg_config / "GIMP", None),
                ("flatpak", self.home / ".var/app" / GIMP_FLATPAK / "config/GIMP", GIMP_FLATPAK),
                ("snap", self.home / "snap/gimp/current/.config/GIMP", None),
            ]
        for kind, base, flatpak in bases:
            for profile in self._gimp_versions(base):
                found.append(Target("gimp", kind, profile, flatpak=flatpak))
        if self.system == "linux":
            kinds = {t.kind for t in found}
            if "native" not in kinds and self.gimp3_binary():
                found.append(Target("gimp", "native", self.xdg_config / "GIMP/3.0", create=True))
            if "flatpak" not in kinds and self._flatpak_installed(GIMP_FLATPAK):
                found.append(Target("gimp", "flatpak", bases[1][1] / "3.0", create=True,
                                    flatpak=GIMP_FLATPAK))
        return found

    def kritarc(self, kind: str = "native") -> Path:
        if kind == "flatpak":
            return self.home / ".var/app" / KRITA_FLATPAK / "config/kritarc"
        if self.system == "windows":
            return self.localappdata / "kritarc"
        if self.system == "macos":
            return self.home / "Library" / "Preferences" / "kritarc"
        return self.xdg_config / "kritarc"

    def krita_targets(self) -> list[Target]:
        found: list[Target] = []
        if self.system == "windows":
            cands = [("native", self.appdata / "krita", None)]
        elif self.system == "macos":
            cands = [("native", self.app_support / "krita", None)]
        else:
            cands = [
                ("native", self.xdg_data / "krita", None),
                ("flatpak", self.home / ".var/app" / KRITA_FLATPAK / "data/krita", KRITA_FLATPAK),
            ]
        for kind, root, flatpak in cands:
            if root.is_dir():
                found.append(Target("krita", kind, root, kritarc=self.kritarc(kind), flatpak=flatpak))
        if self.system == "linux":
            kinds = {t.kind for t in found}
            if "native" not in kinds and self.krita_binary():
                found.append(Target("krita", "native", cands[0][1], create=True,
                                    kritarc=self.kritarc("native")))
            if "flatpak" not in kinds and self._flatpak_installed(KRITA_FLATPAK):
                found.append(Target("krita", "flatpak", cands[1][1], create=True,
                                    kritarc=self.kritarc("flatpak"), flatpak=KRITA_FLATPAK))
        return found

    def custom_target(self, app: str, folder: str, kritarc: str | None = None) -> Target:
        root = Path(folder).expanduser().absolute()
        text = root.as_posix()
        flatpak = None
        if f"/.var/app/{GIMP_FLATPAK}/" in text + "/" and app == "gimp":
            flatpak = GIMP_FLATPAK
        if f"/.var/app/{KRITA_FLATPAK}/" in text + "/" and app == "krita":
            flatpak = KRITA_FLATPAK
        kind = "flatpak" if flatpak else "custom"
        rc = None
        if app == "krita":
            rc = Path(kritarc).expanduser().absolute() if kritarc else self.kritarc(
                "flatpak" if flatpak else "native")
        return Target(app, kind, root, create=not root.exists(), kritarc=rc, flatpak=flatpak)

"""installer/install.py (bgone_installer.cli) in a temporary HOME with fake GIMP 3 / Krita profiles for every layout.

Most tests reuse the development Python (``--python .venv/bin/python --no-venv``) so they take
seconds; ``test_real_venv_install`` really creates a venv and pip-installs the core (slow)."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
import site
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "installer"


def _dev_python() -> str:
    """A Python with this checkout's core first on its path and the test venv's libraries after
    it, in the form the installer expects of ``--no-venv --python``: the installer starts every
    Python with PYTHONPATH removed, so the checkout has to be on the path by a ``.pth`` file."""
    folder = Path(tempfile.mkdtemp(prefix="bgone-devpy-"))
    atexit.register(shutil.rmtree, folder, True)
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    (folder / "pyvenv.cfg").write_text(f"home = {base.parent}\ninclude-system-site-packages = false\n")
    (folder / "bin").mkdir()
    for name in ("python", "python3"):
        (folder / "bin" / name).symlink_to(base)
    v = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site_dir = folder / "lib" / v / "site-packages"
    site_dir.mkdir(parents=True)
    (site_dir / "00-bgone-checkout.pth").write_text(
        f"{ROOT / 'core'}\nimport site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    return str(folder / "bin" / "python")


DEV_PY = _dev_python()  # has this checkout's bgone and bgone_client, and the test venv's libraries
GIMP = "bgone-remove-background"


class Home(type(Path())):  # a Path that also carries the fixture's helper folders
    fakebin: Path
    tmp: Path


sys.path.insert(0, str(INSTALLER))  # install.py's own package, as running install.py finds it
import bgone_installer as inst  # noqa: E402
from bgone_installer import cli, pythons, selftest  # noqa: E402

FAST = ["--yes", "--python", DEV_PY, "--no-venv", "--skip-model", "--skip-selftest", "--skip-prepare"]


# ---------------------------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty HOME; XDG_*, APPDATA and LOCALAPPDATA unset or inside it; a private TMPDIR; a
    PATH with no GIMP, Krita or flatpak on it."""
    h = Home(tmp_path / "home")
    h.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    monkeypatch.setenv("HOME", str(h))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "BGONE_MODEL_DIR",
                "BGONE_PYTHON", inst.FAIL_AFTER_ENV, "SUDO_USER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("APPDATA", str(h / "AppData" / "Roaming"))
    monkeypatch.setenv("LOCALAPPDATA", str(h / "AppData" / "Local"))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("PATH", f"{fakebin}{os.pathsep}/usr/bin{os.pathsep}/bin")
    h.fakebin = fakebin
    h.tmp = tmp
    return h


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its type, permissions and content hash."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        rel = p.relative_to(root).as_posix()
        if p.is_dir() and not p.is_symlink():
            out[rel] = ("dir", stat.S_IMODE(st.st_mode))
        else:
            out[rel] = ("file", stat.S_IMODE(st.st_mode), hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def run(*args: str) -> int:
    return cli.main(list(args))


def make_profiles(h: Path) -> dict[str, Path]:
    """Fake profiles for every Linux layout, with some content of their own."""
    d = {
        "gimp": h / ".config/GIMP/3.0",
        "gimp_flatpak": h / ".var/app/org.gimp.GIMP/config/GIMP/3.0",
        "gimp_snap": h / "snap/gimp/current/.config/GIMP/3.0",
        "krita": h / ".local/share/krita",
        "krita_flatpak": h / ".var/app/org.kde.krita/data/krita",
    }
    for p in d.values():
        p.mkdir(parents=True)
        (p / "user-settings.rc").write_text("# the user's own\n")
    (d["gimp"] / "plug-ins" / "someone-else").mkdir(parents=True)
    (d["gimp"] / "plug-ins" / "someone-else" / "someone-else.py").write_text("#!/usr/bin/env python3\n")
    (h / ".config/kritarc").write_text("[General]\nfoo=1\n\n[python]\nenable_other=true\n")
    return d


def fake_exe(h: Path, name: str, body: str = "exit 0") -> Path:
    p = h.fakebin / name
    p.write_text(f"#!/bin/sh\n{body}\n")
    p.chmod(0o755)
    return p


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """The .py files under ``folder`` (no caches), by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.py")
            if "__pycache__" not in p.parts}


def words(text: str) -> str:
    """``text`` with every run of whitespace as one space (the summary's notes are wrapped)."""
    return " ".join(text.split())


def read_json(p: Path) -> dict:
    return json.loads(p.read_text())


def is_exec(p: Path) -> bool:
    return bool(p.stat().st_mode & stat.S_IXUSR)


# ---------------------------------------------------------------------------------------------
# what lands where


def test_linux_every_layout(home, capsys):
    d = make_profiles(home)
    assert run(*FAST) == 0
    out = capsys.readouterr().out
    client = tree_bytes(ROOT / "core/bgone_client")
    assert "worker.py" in client and "__init__.py" in client
    for key in ("gimp", "gimp_flatpak", "gimp_snap"):
        plug = d[key] / "plug-ins" / GIMP
        assert is_exec(plug / f"{GIMP}.py")
        assert (plug / f"{GIMP}.py").read_bytes() == (ROOT / "gimp_plugin" / GIMP / f"{GIMP}.py").read_bytes()
        assert tree_bytes(plug / "bgone_client") == client  # the package, whole
        assert not is_exec(plug / "bgone_client" / "worker.py")
        cfg = read_json(plug / "bgone_config.json")
        assert cfg == {"python": DEV_PY, "version": cfg["version"], "flatpak_spawn": key == "gimp_flatpak"}
        assert not list(plug.rglob("__pycache__"))
    for key in ("krita", "krita_flatpak"):
        pk = d[key] / "pykrita"
        assert (pk / "bgone_krita.desktop").read_bytes() == (ROOT / "krita_plugin/bgone_krita.desktop").read_bytes()
        assert (pk / "bgone_krita" / "__init__.py").is_file()
        assert tree_bytes(pk / "bgone_client") == client  # beside the plug-in, importable
        assert not (pk / "bgone_krita" / "bgone_client").exists()
        assert read_json(pk / "bgone_krita" / "bgone_config.json")["flatpak_spawn"] is (key == "krita_flatpak")
    # kritarc: native one edited in place, Flatpak one created
    assert (home / ".config/kritarc").read_text() == (
        "[General]\nfoo=1\n\n[python]\nenable_other=true\nenable_bgone_krita=true\n")
    assert (home / ".var/app/org.kde.krita/config/kritarc").read_text() == "[python]\nenable_bgone_krita=true\n"
    # user config and manifest
    cfg = read_json(home / ".config/bgone/config.json")
    assert cfg["python"] == DEV_PY and cfg["flatpak_spawn"] is False and cfg["version"]
    manifest = read_json(home / ".local/share/bgone" / inst.MANIFEST)
    assert manifest["core_python"] == DEV_PY
    # the user's own files untouched
    assert (d["gimp"] / "plug-ins/someone-else/someone-else.py").is_file()
    # the Flatpak permission command is printed exactly; Snap gets a warning
    assert "flatpak override --user --talk-name=org.freedesktop.Flatpak org.gimp.GIMP" in out
    assert "flatpak override --user --talk-name=org.freedesktop.Flatpak org.kde.krita" in out
    assert "Snap" in out
    assert "bgone is installed." in out


def test_windows_layout(home, capsys):
    gimp = home / "AppData/Roaming/GIMP/3.0"
    krita = home / "AppData/Roaming/krita"
    gimp.mkdir(parents=True)
    krita.mkdir(parents=True)
    rc = home / "AppData/Local/kritarc"
    rc.parent.mkdir(parents=True)
    rc.write_bytes(b"[General]\r\nfoo=1\r\n")
    assert run(*FAST, "--platform", "windows") == 0
    assert (gimp / "plug-ins" / GIMP / f"{GIMP}.py").is_file()
    assert (krita / "pykrita/bgone_krita.desktop").is_file()
    assert (krita / "pykrita/bgone_client/__init__.py").is_file()
    assert rc.read_bytes() == b"[General]\r\nfoo=1\r\n\r\n[python]\r\nenable_bgone_krita=true\r\n"
    assert read_json(home / "AppData/Roaming/bgone/config.json")["python"] == DEV_PY
    assert (home / "AppData/Local/bgone" / inst.MANIFEST).is_file()
    assert not (home / ".config").exists()
    cmd = home / "AppData/Local/bgone/bin/bgone.cmd"
    assert f'"{DEV_PY}" -m bgone %*' in cmd.read_text()
    if sys.platform != "win32":  # no registry here: the summary says what to do instead
        assert f"Add {cmd.parent} to your PATH" in words(capsys.readouterr().out)
    assert run("--uninstall", "--yes", "--platform", "windows") == 0
    assert rc.read_bytes() == b"[General]\r\nfoo=1\r\n"
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == [
        "AppData", "AppData/Local", "AppData/Local/kritarc", "AppData/Roaming",
        "AppData/Roaming/GIMP", "AppData/Roaming/GIMP/3.0", "AppData/Roaming/krita"]


def test_macos_layout(home):
    sup = home / "Library/Application Support"
    (sup / "GIMP/3.2").mkdir(parents=True)  # any GIMP 3.x profile
    (sup / "krita").mkdir(parents=True)
    before = snapshot(home)
    assert run(*FAST, "--platform", "macos") == 0
    assert is_exec(sup / "GIMP/3.2/plug-ins" / GIMP / f"{GIMP}.py")
    assert (sup / "krita/pykrita/bgone_krita/bgone_config.json").is_file()
    assert (home / "Library/Preferences/kritarc").read_text() == "[python]\nenable_bgone_krita=true\n"
    assert (sup / "bgone/config.json").is_file()
    assert (sup / "bgone" / inst.MANIFEST).is_file()
    assert run("--uninstall", "--yes", "--platform", "macos") == 0
    assert snapshot(home) == before


def test_creates_default_profiles_when_hosts_installed(home, capsys):
    fake_exe(home, "gimp-3.0")
    fake_exe(home, "krita")
    (home / ".local/share/flatpak/app/org.gimp.GIMP").mkdir(parents=True)  # a Flatpak GIMP, never run
    before = snapshot(home)
    assert run(*FAST) == 0
    assert "not started yet" in capsys.readouterr().out
    assert is_exec(home / ".config/GIMP/3.0/plug-ins" / GIMP / f"{GIMP}.py")
    assert (home / ".var/app/org.gimp.GIMP/config/GIMP/3.0/plug-ins" / GIMP / "bgone_config.json").is_file()
    assert (home / ".local/share/krita/pykrita/bgone_krita/__init__.py").is_file()
    assert (home / ".config/kritarc").read_text() == "[python]\nenable_bgone_krita=true\n"
    assert run("--uninstall", "--yes") == 0
    assert snapshot(home) == before  # the folders it created are gone again


def test_gimp2_binary_is_not_gimp3(home):
    fake_exe(home, "gimp", 'echo "GNU Image Manipulation Program version 2.10.38"')
    assert run(*FAST) == 0
    assert not (home / ".config/GIMP").exists()


def test_explicit_folders(home, tmp_path):
    gp = tmp_path / "portable/gimp-profile"
    kd = tmp_path / "portable/krita-res"
    rc = tmp_path / "portable/kritarc"
    assert run(*FAST, "--gimp-profile", str(gp), "--krita-dir", str(kd), "--kritarc", str(rc)) == 0
    assert is_exec(gp / "plug-ins" / GIMP / f"{GIMP}.py")
    assert (kd / "pykrita/bgone_client/__init__.py").is_file()
    assert rc.read_text() == "[python]\nenable_bgone_krita=true\n"
    assert run("--uninstall", "--yes") == 0
    assert not (tmp_path / "portable").exists() or not any((tmp_path / "portable").rglob("*"))


def test_no_hosts_found(home, capsys):
    assert run(*FAST) == 0
    out = capsys.readouterr().out
    assert "No GIMP 3 or Krita was found" in out
    assert (home / ".config/bgone/config.json").is_file()


# ---------------------------------------------------------------------------------------------
# the device, as the engine reports it


def test_summary_names_the_device(home, capsys):
    assert run(*FAST) == 0
    out = capsys.readouterr().out
    assert "\n  Device     CPU\n" in out  # no GPU on PATH or in /proc here
    assert "Using a GPU" not in out


def test_summary_says_why_a_present_gpu_is_not_used(home, capsys):
    """A fake nvidia-smi is what the engine looks for: the summary then carries the engine's
    reason and the package to install, and points at the README's section."""
    from bgone.inference import describe_device

    if "CUDAExecutionProvider" in describe_device()["available"]:
        pytest.skip("this onnxruntime has CUDA: the GPU would be used")
    fake_exe(home, "nvidia-smi")
    assert run(*FAST) == 0
    out = words(capsys.readouterr().out)
    assert "Device CPU (the NVIDIA GPU is not used: see below)" in out
    assert "! An NVIDIA GPU is present but this onnxruntime has no CUDA support" in out
    assert "install onnxruntime-gpu" in out and f'"Using a GPU" in {ROOT / "README.md"}.' in out


# ---------------------------------------------------------------------------------------------
# the bgone command


def test_bgone_command_in_the_users_bin_folder(home, capsys, monkeypatch):
    assert run(*FAST) == 0
    out = capsys.readouterr().out
    cmd = home / ".local/bin/bgone"
    assert is_exec(cmd)
    r = subprocess.run([str(cmd), "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("bgone "), r.stdout + r.stderr
    assert f"Command    {cmd} (not on your PATH yet)" in out
    assert 'export PATH="$HOME/.local/bin:$PATH"' in words(out)
    assert "In a terminal: bgone remove photo.jpg" in out
    assert run("--uninstall", "--yes") == 0
    assert not (home / ".local").exists()  # the bin folder it made is gone again
    # already on PATH: said so, no advice
    monkeypatch.setenv("PATH", f"{home / '.local/bin'}{os.pathsep}{os.environ['PATH']}")
    assert run(*FAST) == 0
    out = capsys.readouterr().out
    assert "(on your PATH)" in out and "export PATH" not in out


def test_bgone_command_never_replaces_someone_elses(home, capsys):
    mine = home / ".local/bin/bgone"
    mine.parent.mkdir(parents=True)
    mine.write_text("#!/bin/sh\necho the user's own bgone\n")
    before = snapshot(home)
    assert run(*FAST) == 0
    assert "is not bgone's: left as it is" in capsys.readouterr().out
    assert mine.read_text() == "#!/bin/sh\necho the user's own bgone\n"
    assert run("--uninstall", "--yes") == 0
    assert snapshot(home) == before


# ---------------------------------------------------------------------------------------------
# idempotence, uninstall, rollback, dry run


def test_rerun_is_idempotent_and_repairs(home, capsys):
    d = make_profiles(home)
    before = snapshot(home)
    assert run(*FAST) == 0
    first = snapshot(home)
    manifest1 = read_json(home / ".local/share/bgone" / inst.MANIFEST)
    # damage the install: a deleted client, a plug-in without its exec bit, the key switched off
    plug = d["gimp"] / "plug-ins" / GIMP
    (plug / "bgone_client" / "worker.py").unlink()
    (plug / f"{GIMP}.py").chmod(0o644)
    rc = home / ".config/kritarc"
    rc.write_text(rc.read_text().replace("enable_bgone_krita=true", "enable_bgone_krita=false"))
    assert run(*FAST) == 0
    assert "upgrading and repairing" in capsys.readouterr().out
    second = snapshot(home)
    logs = [k for k in second if "/logs/" in k]
    assert len(logs) == 2

    def no_logs(s):  # and no onnxruntime.db: onnxruntime rewrites it whenever the engine starts
        return {k: v for k, v in s.items() if "/logs/" not in k and not k.endswith(inst.MANIFEST)
                and not k.endswith("onnxruntime.db")}

    assert no_logs(second) == no_logs(first)
    assert rc.read_text().count("enable_bgone_krita") == 1
    manifest2 = read_json(home / ".local/share/bgone" / inst.MANIFEST)
    assert manifest2["records"] == manifest1["records"]
    assert run("--uninstall", "--yes") == 0
    assert snapshot(home) == before


def test_uninstall_also_drops_the_plugins_saved_choices(home):
    """Once Krita ran, the docker saved [bgone] model/refine/output in kritarc; a clean
    uninstall takes that group too, and keeps everything else in the file."""
    make_profiles(home)
    rc = home / ".config/kritarc"
    rc.write_text("[General]\nfoo=1\n")
    assert run(*FAST) == 0
    rc.write_text(rc.read_text() + "\n[bgone]\nmodel=u2netp\nrefine=fast\noutput=mask\n\n[Zoom]\nlevel=2\n")
    assert run("--uninstall", "--yes") == 0
    assert "bgone" not in rc.read_text()
    assert "[General]\nfoo=1" in rc.read_text() and "[Zoom]\nlevel=2" in rc.read_text()


def test_uninstall_leaves_no_trace_with_model_and_selftest(home, u2netp_path, capsys):
    """The full path with the real worker: model imported by checksum, image sent through the
    installed bgone_client package; uninstall then restores the tree exactly."""
    make_profiles(home)
    before = snapshot(home)
    assert run("--yes", "--python", DEV_PY, "--no-venv", "--model-file", str(u2netp_path)) == 0
    out = capsys.readouterr().out
    assert "Self-test   passed (u2netp" in out or "Self-test" in out and "passed (u2netp" in out
    # the numba compile is announced, and says when it is over
    assert "Preparing edge refinement\n    Compiling it, once" in out and "depending on the computer): done in" in out
    models = home / ".cache/bgone/models"
    assert (models / "u2netp.onnx").is_file()
    # what the engine adds later: another download, an imported model's record, a lock
    (models / "later.onnx").write_bytes(b"x" * 3_000_000)
    (models / "custom-models.json").write_text("{}")
    (models / "later.onnx.lock").touch()
    assert run("--uninstall", "--yes") == 0
    out = capsys.readouterr().out
    assert f"This includes the models in {models} (8 MB); --keep-models keeps them." in out
    assert f"removed {models}" in out
    assert "bgone has been removed; 8 MB freed." in out  # u2netp 4.6 MB + 3 MB
    assert snapshot(home) == before
    assert run("--uninstall", "--yes") == 0  # twice is fine
    assert "not installed" in capsys.readouterr().out


def test_the_printed_uninstall_command_works_without_the_download(home, capsys):
    """The install keeps the installer in bgone's data folder and prints the README's kind of
    command for it; that command, run as a user would (its launcher finds a Python), removes
    everything, the kept installer included."""
    make_profiles(home)
    before = snapshot(home)
    assert run(*FAST) == 0
    out = capsys.readouterr().out
    kept = home / ".local/share/bgone/installer"
    assert f"To remove bgone again: sh {kept}/install.sh --uninstall" in out
    assert (kept / "bgone_installer" / "uninstall.py").is_file()
    assert (kept / "core" / "bgone_client" / "__init__.py").is_file()
    assert is_exec(kept / "install.sh") and not list(kept.rglob("__pycache__"))
    r = subprocess.run(["sh", str(kept / "install.sh"), "--uninstall", "--yes"], cwd=home,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "bgone has been removed" in r.stdout
    assert snapshot(home) == before


def test_windows_uninstall_command_runs_the_kept_copy_with_python(home, capsys):
    """A batch file that deletes itself cannot finish: on Windows the command names the Python."""
    assert run(*FAST, "--platform", "windows") == 0
    script = home / "AppData/Local/bgone/installer/install.py"
    assert f'To remove bgone again: "{DEV_PY}" "{script}" --uninstall' in capsys.readouterr().out
    assert run("--uninstall", "--yes", "--platform", "windows") == 0
    assert not script.exists()


def test_uninstall_takes_what_bgone_runs_leave_beside_the_install(home, capsys, monkeypatch):
    """After the install, bgone's runs leave files that were not there when it was recorded:
    SQLite's -wal/-shm beside the onnxruntime.db the install created, and GIMP's memory of our
    dialogs' last values. Uninstall takes them; another plug-in's settings and a runtime folder
    that was there before the install stay."""
    monkeypatch.delenv("CI", raising=False)  # onnxruntime writes nothing where CI is set
    make_profiles(home)
    before = snapshot(home)
    assert run(*FAST) == 0
    capsys.readouterr()
    runtime = home / ".cache/Microsoft/DeveloperTools/.onnxruntime"
    assert (runtime / "onnxruntime.db").is_file()  # the install's device probe made it
    for name in ("onnxruntime.db-wal", "onnxruntime.db-shm"):
        (runtime / name).write_bytes(b"x")
    settings = home / ".config/GIMP/3.0/plug-in-settings"
    settings.mkdir()
    (settings / "GimpProcedureConfigRun-plug-in-someone-else.last").write_text("theirs")
    for proc in re.findall(r'PROC_NAME = "([^"]+)"', (ROOT / "gimp_plugin" / GIMP / f"{GIMP}.py").read_text()):
        assert proc.startswith(inst.GIMP_PROCEDURES)
        (settings / f"GimpProcedureConfigRun-{proc}.last").write_text("ours")
    assert len(list(settings.iterdir())) == 3  # ours: Remove Background and Refine Edges
    assert run("--uninstall", "--yes") == 0
    assert "removed GIMP's last values for bgone from" in capsys.readouterr().out
    after = snapshot(home)
    assert [p.name for p in settings.iterdir()] == ["GimpProcedureConfigRun-plug-in-someone-else.last"]
    assert {k: v for k, v in after.items() if "plug-in-settings" not in k} == before
    assert (settings / "GimpProcedureConfigRun-plug-in-someone-else.last").read_text() == "theirs"


def test_uninstall_keeps_a_runtime_folder_that_was_there(home, monkeypatch):
    """Only what the install's runs created in onnxruntime's folder goes, not the folder."""
    monkeypatch.delenv("CI", raising=False)  # onnxruntime writes nothing where CI is set
    runtime = home / ".cache/Microsoft/DeveloperTools/.onnxruntime"
    runtime.mkdir(parents=True)
    (runtime / "deviceid").write_text("1b4e28ba-2fa1-41d2-883f-0016d3cca427")  # someone else's
    assert run(*FAST) == 0
    assert (runtime / "onnxruntime.db").is_file()  # new: the install's device probe made it
    (runtime / "onnxruntime.db-wal").write_bytes(b"x")
    assert run("--uninstall", "--yes") == 0
    assert (runtime / "deviceid").read_text() == "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
    assert sorted(p.name for p in runtime.iterdir()) == ["deviceid"]
    assert not (runtime / "onnxruntime.db-wal").exists()


def test_uninstall_keep_models(home, u2netp_path, capsys):
    """The model cache goes with the engine unless --keep-models; even a model that was there
    before the install (it is the engine's cache)."""
    models = home / ".cache/bgone/models"
    models.mkdir(parents=True)
    shutil.copyfile(u2netp_path, models / "u2netp.onnx")
    args = ["--yes", "--python", DEV_PY, "--no-venv", "--skip-selftest", "--skip-prepare",
            "--model-file", str(u2netp_path)]
    assert run(*args) == 0
    (models / "later.onnx").write_bytes(b"x" * 1000)
    assert run("--uninstall", "--yes", "--keep-models") == 0
    assert "are kept (--keep-models)" in capsys.readouterr().out
    assert {"later.onnx", "u2netp.onnx"} <= {p.name for p in models.iterdir()}
    assert not (home / ".local/share/bgone").exists()
    assert run(*args) == 0
    assert run("--dry-run", "--uninstall") == 0
    assert "would remove" in capsys.readouterr().out and (models / "u2netp.onnx").is_file()
    assert run("--uninstall", "--yes") == 0
    assert not (home / ".cache/bgone").exists()


def test_failure_midway_rolls_back(home, monkeypatch, capsys):
    make_profiles(home)
    before = snapshot(home)
    monkeypatch.setenv(inst.FAIL_AFTER_ENV, "config")
    assert run(*FAST) == 1
    err = capsys.readouterr()
    assert "Injected failure" in err.out
    assert "has been undone" in err.out
    log = Path(err.err.strip().split("log file: ")[-1])
    assert log.is_file() and home.tmp in log.parents
    assert "Injected failure" in log.read_text()
    assert snapshot(home) == before


def test_failed_rerun_restores_the_previous_install(home, monkeypatch):
    d = make_profiles(home)
    assert run(*FAST) == 0
    plug = d["gimp"] / "plug-ins" / GIMP
    (plug / "old-version-file.txt").write_text("from the previous version\n")
    rc = home / ".config/kritarc"
    rc.write_text(rc.read_text().replace("enable_bgone_krita=true", "enable_bgone_krita=false"))
    installed = snapshot(home)
    monkeypatch.setenv(inst.FAIL_AFTER_ENV, "config")
    assert run(*FAST) == 1
    assert snapshot(home) == installed


def test_exception_in_a_step_rolls_back(home, monkeypatch, capsys):
    make_profiles(home)
    before = snapshot(home)

    def boom(ctx):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli, "step_flatpak", boom)
    assert run(*FAST) == 1
    out = capsys.readouterr()
    assert "disk on fire" in out.out and "log file:" in out.err
    assert snapshot(home) == before


def test_bad_model_file_fails_cleanly(home, tmp_path, capsys):
    make_profiles(home)
    before = snapshot(home)
    junk = tmp_path / "not-a-model.onnx"
    junk.write_bytes(b"hello" * 100)
    assert run("--yes", "--python", DEV_PY, "--no-venv", "--skip-selftest", "--model-file", str(junk)) == 1
    assert "not a model bgone knows" in capsys.readouterr().out
    assert snapshot(home) == before


def test_failed_download_says_one_sentence_and_leaves_no_locks(home, monkeypatch, capsys):
    """No way out (every connection refused): the message names the model and its hosts, the
    hint says what to do, and the rollback leaves no lock file and no empty folder behind."""
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(var, f"http://127.0.0.1:{port}")
    monkeypatch.setenv("NO_PROXY", "")
    before = snapshot(home)
    assert run("--yes", "--python", DEV_PY, "--no-venv", "--skip-prepare", "--skip-selftest",
               "--model", "u2netp") == 1
    out = capsys.readouterr().out
    assert "ERROR: Could not download the model u2netp from github.com" in out
    assert "--model-file PATH/TO/u2netp.onnx" in out and "HTTPS_PROXY" in out
    assert "This command failed" not in out and "HTTPSConnectionPool" not in out.split("ERROR:")[1]
    assert snapshot(home) == before  # no .lock, no folder


def test_dry_run_changes_nothing(home, u2netp_path, capsys):
    make_profiles(home)
    before = snapshot(home)
    assert run("--dry-run", "--yes", "--python", DEV_PY, "--no-venv", "--model-file", str(u2netp_path)) == 0
    out = capsys.readouterr().out
    assert "would" in out and "nothing was changed" in out
    assert snapshot(home) == before
    assert not any(home.tmp.iterdir())  # not even a log
    # and after an install: dry runs of a re-run and of the uninstall change nothing either
    assert run(*FAST) == 0
    installed = snapshot(home)
    assert run("--dry-run", *FAST) == 0
    assert run("--dry-run", "--uninstall") == 0
    assert "would removed" not in capsys.readouterr().out
    assert snapshot(home) == installed


def test_default_venv_location_dry_run(home, capsys):
    """Without --no-venv the plan names the private venv in the user data folder."""
    assert run("--dry-run", "--yes", "--python", DEV_PY, "--skip-model") == 0
    out = capsys.readouterr().out
    assert f"create a virtual environment {home / '.local/share/bgone/venv'}" in out
    assert "pip install --upgrade" in out
    assert not (home / ".local").exists()


# ---------------------------------------------------------------------------------------------
# Flatpak permission


def test_flatpak_permission_granted_and_revoked(home, capsys):
    (home / ".var/app/org.gimp.GIMP/config/GIMP/3.0").mkdir(parents=True)
    calls = home.tmp / "flatpak-calls"
    fake_exe(home, "flatpak", f'echo "$@" >> "{calls}"\n'
             'if [ "$1" = info ]; then echo "[Session Bus Policy]"; fi\nexit 0')
    assert run(*FAST, "--flatpak-grant") == 0
    assert "override --user --talk-name=org.freedesktop.Flatpak org.gimp.GIMP" in calls.read_text()
    assert run("--uninstall", "--yes") == 0
    assert "override --user --no-talk-name=org.freedesktop.Flatpak org.gimp.GIMP" in calls.read_text()


def test_no_flatpak_host_says_so_under_its_step(home, capsys):
    (home / ".config/GIMP/3.0").mkdir(parents=True)
    assert run(*FAST) == 0
    out = capsys.readouterr().out
    assert "Checking Flatpak permissions\n    No GIMP or Krita from Flatpak: nothing to do.\n" in out


def test_flatpak_permission_already_there(home, capsys):
    (home / ".var/app/org.gimp.GIMP/config/GIMP/3.0").mkdir(parents=True)
    fake_exe(home, "flatpak", 'echo "[Session Bus Policy]"; echo "org.freedesktop.Flatpak=talk"')
    assert run(*FAST) == 0
    out = capsys.readouterr().out
    assert "already start programs outside its sandbox" in out
    assert "still needs permission" not in out


# ---------------------------------------------------------------------------------------------
# finding Python


def fake_python(h: Path, name: str, version: str) -> Path:
    """A shell script that answers the installer's probe and the launchers' version check
    like a Python of ``version`` would, and fails at anything else."""
    major, minor, micro = (int(x) for x in version.split("."))
    fits = 0 if (3, 10) <= (major, minor) <= (3, 13) else 1
    body = (f'case "$*" in\n'
            f'  *ensurepip*) echo \'{{"version": [{major}, {minor}, {micro}], '
            f'"executable": "{h.fakebin}/{name}", "bits": 64, "venv": true}}\' ;;\n'
            f'  *version_info*) exit {fits} ;;\n'
            f'  *) exit 1 ;;\nesac')
    return fake_exe(h, name, body)


def test_unsuitable_python_given(home, capsys):
    old = fake_python(home, "python3.9", "3.9.18")
    new = fake_python(home, "python3.14", "3.14.0")
    assert run("--yes", "--python", str(old), "--skip-model") == 2
    out = capsys.readouterr().out
    assert "too old" in out and "apt install" in out
    assert run("--yes", "--python", str(new), "--skip-model") == 2
    assert "too new" in capsys.readouterr().out
    assert not any(home.rglob("*bgone*"))


def test_no_suitable_python_anywhere(home, monkeypatch):
    for name, v in (("python3", "3.9.6"), ("python3.14", "3.14.1"), ("python", "3.8.0")):
        fake_python(home, name, v)
    monkeypatch.setenv("PATH", str(home.fakebin))
    monkeypatch.setattr(pythons.sys, "executable", str(home.fakebin / "python3"))
    layout = pythons.Layout("linux")
    with pytest.raises(inst.InstallError) as e:
        pythons.find_python(layout, None, need_venv=True)
    assert e.value.code == 2
    assert "No suitable Python" in e.value.message and "3.10-3.13" in e.value.message
    assert "python3.14" in e.value.message and "too new" in e.value.message
    assert "sudo apt install python3 python3-venv" in e.value.hint
    assert "python.org" in pythons.no_python_hint("windows")
    assert "python.org" in pythons.no_python_hint("macos")


def test_python_without_venv_module_is_explained(home):
    body = ('echo \'{"version": [3, 12, 1], "executable": "/usr/bin/python3.12", "bits": 64, '
            '"venv": false}\'')
    py = fake_exe(home, "python3.12", body)
    with pytest.raises(inst.InstallError) as e:
        pythons.find_python(pythons.Layout("linux"), str(py), need_venv=True)
    assert "python3-venv" in e.value.message


def _shell_tools(tmp_path: Path) -> Path:
    tools = tmp_path / "tools"
    tools.mkdir()
    for t in ("dirname", "cat"):
        os.symlink(shutil.which(t), tools / t)
    return tools


def test_launcher_without_python(home, tmp_path):
    fake_python(home, "python3", "3.9.6")
    fake_python(home, "python3.14", "3.14.0")
    env = {"HOME": str(home), "PATH": f"{home.fakebin}:{_shell_tools(tmp_path)}"}
    r = subprocess.run(["/bin/sh", str(INSTALLER / "install.sh"), "--yes"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "bgone needs Python 3.10, 3.11, 3.12 or 3.13" in r.stderr
    assert "sudo apt install python3 python3-venv" in r.stderr
    r = subprocess.run(["/bin/sh", str(INSTALLER / "install.command"), "--yes"],
                       env={**env, "BGONE_NO_PAUSE": "1"}, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "python.org" in r.stderr


def test_launcher_runs_the_installer(home, tmp_path):
    env = {**os.environ, "PATH": f"{Path(DEV_PY).parent}:{_shell_tools(tmp_path)}"}
    r = subprocess.run(["/bin/sh", str(INSTALLER / "install.sh"), "--dry-run", *FAST], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Python 3.{sys.version_info[1]}" in r.stdout
    assert "Dry run finished" in r.stdout


def test_launchers_are_executable_and_windows_files_use_crlf():
    for name in ("install.sh", "install.command", "install.py"):
        assert is_exec(INSTALLER / name), name
    assert b"\r\n" in (INSTALLER / "install.bat").read_bytes()
    assert b"install.ps1" in (INSTALLER / "install.bat").read_bytes()


def test_self_test_image_is_rgba():
    px = selftest.make_test_image(10, 6)
    assert len(px) == 10 * 6 * 4
    assert all(px[i] == 255 for i in range(3, len(px), 4))


# ---------------------------------------------------------------------------------------------
# the real thing: a new venv with the core pip-installed from this checkout


@pytest.mark.slow
def test_real_venv_install(home, u2netp_path, capsys):
    make_profiles(home)
    before = snapshot(home)
    code = run("--yes", "--python", DEV_PY, "--model-file", str(u2netp_path))
    out = capsys.readouterr().out
    assert code == 0, out
    venv_py = home / ".local/share/bgone/venv/bin/python"
    assert venv_py.exists()
    cfg = read_json(home / ".config/bgone/config.json")
    assert cfg["python"] == str(venv_py)
    assert read_json(home / ".config/GIMP/3.0/plug-ins" / GIMP / "bgone_config.json")["python"] == str(venv_py)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as a user's terminal has it
    r = subprocess.run([str(venv_py), "-c", "import bgone, sys; print(bgone.__file__)"],
                       capture_output=True, text=True, check=True, env=env)
    assert str(home) in r.stdout  # a real install, not the checkout
    assert "passed (u2netp" in out
    # the libraries at the tested versions, each file checked by its sha256
    assert "The libraries' versions are the tested ones" in out
    assert "do not install here" not in out and "not the versions it was tested with" not in words(out)
    # re-run: reuses the venv, upgrades in place
    assert run("--yes", "--python", DEV_PY, "--skip-model", "--skip-selftest") == 0
    assert "Reusing" in capsys.readouterr().out
    assert run("--uninstall", "--yes") == 0
    assert snapshot(home) == before


def test_readmes_give_the_printed_uninstall_command_and_the_engine_size():
    """The READMEs say what the installer prints: the uninstall command (Linux) and the size."""
    from bgone_installer import layout, steps, uninstall

    linux = layout.Layout("linux")
    command = uninstall.uninstall_command(linux, Path("~/.local/share/bgone"), "python3")
    assert command == "sh '~/.local/share/bgone/installer/install.sh' --uninstall"
    command = command.replace("'", "")
    for readme in (ROOT / "README.md", INSTALLER / "README.md"):
        assert command in words(readme.read_text())
    assert f"takes {steps.ENGINE_SIZE}" in words((ROOT / "README.md").read_text())

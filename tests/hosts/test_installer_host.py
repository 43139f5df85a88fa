"""The installer, run inside the Debian trixie root (real GIMP 3.0 + Krita 5.2) the way a new user
would, then the product used the way that user would use it: the test that proves bgone works.

1. a fresh HOME with no profiles yet, `sh installer/install.sh --yes`: a real venv with the core
   pip-installed from this checkout (network to PyPI), the real u2netp imported by checksum
   (--model-file, as on an offline machine), the self-test through the installed bgone_client.
2. real GIMP 3 (gimp-console-3.0 batch, no network) finds the plug-in where the installer put it
   and removes the background of a real photo through it (`plug-in-bgone-remove-background`,
   model u2netp, output mask), then exports a PNG whose alpha is the mask.
3. real Krita 5.2: the full `krita` under xvfb-run loads bgone_krita because the installer
   enabled it in that user's kritarc (nothing else enables it), registers its docker and
   Tools-menu action, and removes a background through the plug-in Krita loaded; `kritarunner`
   imports the package from that user's pykrita folder and runs the scripting entry point
   `bgone_krita.remove_background(...)` plus an export.
4. every alpha is checked against the installed venv's own `bgone remove --mask` on the same
   photo (and the ground truth where there is one).
5. the uninstall command the installer printed, run after the unpacked download is deleted,
   takes every bgone file and the kritarc key away again (and the plug-in's saved choices in
   kritarc's [bgone] group, onnxruntime's cache files from bgone's runs, GIMP's last values of
   our procedures) and leaves the rest (GIMP's and Krita's own files).

Nothing of the harness is used for the product: no BGONE_PYTHON, no BGONE_MODEL_DIR, no
harness-installed plug-in or core. The hosts find the engine through the bgone_config.json the
installer wrote next to each plug-in, and the model in the user's own cache. Only HOME (and what
drives the hosts headlessly: the batch spec, QT_QPA_PLATFORM, a probe on PYTHONPATH) is set.

Runs only with BGONE_HOST_TESTS=1 (as root); with it set, anything missing FAILS.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hosts import probes
from tests.hosts.helpers import (
    core_mask,
    iou,
    log,
    plane,
    run_full_krita,
    run_gimp_batch,
    run_kritarunner,
)
from tests.hosts.test_gimp_host import BATCH as GIMP_BATCH

pytestmark = [pytest.mark.hosts]

REPO = Path(__file__).resolve().parents[2]
SRC = "/opt/bgone-installer-src"  # inside the root
MODEL = "/opt/bgone-installer-model/u2netp.onnx"
HOME = "/home/bgone-newuser"
JOB = "/job/bgone_installer"
PROC = "plug-in-bgone-remove-background"
GIMP_PLUGIN = f"{HOME}/.config/GIMP/3.0/plug-ins/bgone-remove-background"
KRITA_PYKRITA = f"{HOME}/.local/share/krita/pykrita"
VENV_PYTHON = f"{HOME}/.local/share/bgone/venv/bin/python"
USER_MODEL = f"{HOME}/.cache/bgone/models/u2netp.onnx"  # the core's default cache for that HOME
# The edge refinement for every run here. "fast" (the default refinement of the other host tests)
# costs a few seconds on this 3-megapixel photo and proves the option travels from each plug-in
# to the core; the model is the small u2netp (the one the installer imported).
REFINE = "fast"
KRITARUNNER_MODULE = "bgone_installed_kritarun"


def _copy_source(root) -> None:
    dest = root.host(SRC)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    excludes = ["./.venv", "./.cache", "./.git", "__pycache__", "./.pytest_cache", "./.ruff_cache",
                "./bench/out", "*.onnx", "*.part", "./dist", "./build"]
    tar = ["tar", "-C", str(REPO), *[f"--exclude={e}" for e in excludes], "-cf", "-", "."]
    with subprocess.Popen(tar, stdout=subprocess.PIPE) as p:
        subprocess.run(["tar", "-C", str(dest), "-xf", "-"], stdin=p.stdout, check=True)
    assert p.returncode == 0, "tar of the checkout failed"


def _tree(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*")} if path.exists() else set()


# --------------------------------------------------------------------------------------------
# Krita: the scripting entry point under kritarunner, and a probe inside the full Krita

# kritarunner is an application of its own ("kritarunner"): it reads neither kritarc nor Krita's
# resource folders, so it does not load pykrita plug-ins and its sys.path lacks the user's
# pykrita folder. The script puts exactly that folder (where the installer put the package)
# first on sys.path, as a user's script would, and records what it imported. kritarunner exits 0
# even when its script raises: the script writes report.json and leaves with os._exit(code).
KRITARUNNER_SCRIPT = r'''
import os, sys


def run(args, report):
    photo, out_dir, pykrita, refine = args
    report["preloaded"] = "bgone_krita" in sys.modules
    sys.path.insert(0, pykrita)
    from krita import InfoObject, Krita
    import bgone_krita
    from bgone_krita import connection
    import bgone_client

    report["package"] = bgone_krita.__file__
    report["client"] = bgone_client.__file__
    report["core"] = list(bgone_client.locate.locate(connection.PLUGIN_DIR))
    app = Krita.instance()
    app.setBatchmode(True)
    doc = app.openDocument(photo)
    doc.setBatchmode(True)
    layer = [n for n in doc.topLevelNodes() if n.type() == "paintlayer"][0]
    w, h = doc.width(), doc.height()
    report["size"] = [w, h]
    before = bytes(layer.pixelData(0, 0, w, h))
    mask = bgone_krita.remove_background(doc, layer, model="u2netp", refine=refine, output="mask")
    report["mask_type"] = mask.type()
    report["layer_unchanged"] = bytes(layer.pixelData(0, 0, w, h)) == before
    with open(os.path.join(out_dir, "mask.alpha"), "wb") as f:
        f.write(bytes(mask.pixelData(0, 0, w, h)))
    info = InfoObject()
    info.setProperty("alpha", True)
    report["exported"] = doc.exportImage(os.path.join(out_dir, "export.png"), info)
    doc.waitForDone()
    doc.close()


OUT_ARG = 1  # report.json goes into args[OUT_ARG]
''' + probes.KRITARUNNER_MAIN_SNIPPET

# The full Krita has no command-line script option, and a probe plug-in would need an enable_
# line of its own in the very kritarc under test. So the probe is a sitecustomize.py on
# PYTHONPATH (outside the user's profile): Krita's embedded Python imports it at start-up, before
# Krita's plug-in loader runs; it only sets a timer. Once the main window exists it records what
# Krita loaded by itself, then uses the plug-in Krita loaded: the worker's model list and one
# remove_background on the photo. Then it leaves with os._exit (a normal quit may prompt).
# clean_env() drops PYTHON* from the worker's environment, so the worker never sees this file.
KRITA_GUI_PROBE = r'''
import os, sys, traceback

REPORT = os.environ.get("HOSTPROBE_REPORT")
report = {}


''' + probes.KRITA_FINISH_SNIPPET + probes.KRITA_MAIN_WINDOW_SNIPPET + r'''

def _check():
    code = 1
    try:
        from krita import Krita
        app = Krita.instance()
        module = sys.modules.get("bgone_krita")
        report["loaded_by_krita"] = module is not None
        report["enabled_setting"] = app.readSetting("python", "enable_bgone_krita", "")
        report["dockers"] = [d.objectName() for d in app.dockers()]
        action = app.action("bgone_remove_background")
        report["action_text"] = action.text() if action is not None else None
        if module is None:
            finish(3)
        report["package"] = module.__file__
        from bgone_krita.docker import BgoneDocker
        ours = [d for d in app.dockers() if isinstance(d, BgoneDocker)]  # one per window
        report["controller"] = bool(ours) and getattr(ours[0], "controller", None) is not None
        from bgone_krita import connection
        report["models"] = connection.HOLDER.models()
        doc = app.openDocument(os.environ["HOSTPROBE_PHOTO"])
        app.activeWindow().addView(doc)
        layer = [n for n in doc.topLevelNodes() if n.type() == "paintlayer"][0]
        w, h = doc.width(), doc.height()
        new = module.remove_background(doc, layer, model="u2netp", refine=os.environ["HOSTPROBE_REFINE"],
                                       output="layer")
        report["layer"] = [new.name(), new.type(), [n.name() for n in doc.topLevelNodes()]]
        with open(os.path.join(os.path.dirname(REPORT), "layer.bgra"), "wb") as f:
            f.write(bytes(new.pixelData(0, 0, w, h)))
        report["size"] = [w, h]
        connection.HOLDER.close()
        code = 0
    except BaseException:
        report["traceback"] = traceback.format_exc()
    finish(code)


if REPORT:
    try:
        when_main_window(_check, 1500, poll_ms=200)  # let the loader and the window settle
    except BaseException:
        report["traceback"] = traceback.format_exc()
        finish(6)
'''


def _krita_gui(root, job: Path) -> dict:
    out = job / "krita_gui"
    out.mkdir()
    (out / "sitecustomize.py").write_text(KRITA_GUI_PROBE)
    env = {"HOME": HOME, "PYTHONPATH": f"{JOB}/krita_gui", "HOSTPROBE_REPORT": f"{JOB}/krita_gui/report.json",
           "HOSTPROBE_PHOTO": f"{JOB}/photo.png", "HOSTPROBE_REFINE": REFINE}
    return run_full_krita(root, f"{JOB}/krita_gui/report.json", env, timeout=400)


def _kritarunner(root, job: Path) -> dict:
    out = job / "kritarunner"
    out.mkdir()
    (out / f"{KRITARUNNER_MODULE}.py").write_text(KRITARUNNER_SCRIPT)
    args = [f"{JOB}/photo.png", f"{JOB}/kritarunner", KRITA_PYKRITA, REFINE]
    return run_kritarunner(root, KRITARUNNER_MODULE, args, f"{JOB}/kritarunner/report.json",
                           env={"HOME": HOME, "PYTHONPATH": f"{JOB}/kritarunner"}, timeout=400)


def _gimp(root, job: Path) -> dict:
    """test_gimp_host's batch script, cases registration + mask: three calls of the plug-in
    (model u2netp; a second run replacing the mask; a third, applied and exported to PNG)."""
    (job / "gimp_batch.py").write_text(GIMP_BATCH)
    spec = {"photo": f"{JOB}/photo.png", "proc": PROC, "refine": REFINE, "cases": ["registration", "mask"]}
    return run_gimp_batch(root, JOB, "gimp", spec, env={"HOME": HOME}, timeout=400, network=False,
                          script="gimp_batch.py")


def _core_mask(root) -> np.ndarray:
    """The installed venv's own `bgone remove --mask`: same photo, model and refinement."""
    return core_mask(root, VENV_PYTHON, f"{JOB}/photo.png", f"{JOB}/core_mask.png", REFINE, env={"HOME": HOME},
                     timeout=400, network=False)


def _check_alpha(name: str, alpha: np.ndarray, core: np.ndarray, truth: np.ndarray | None,
                 scores: dict) -> None:
    assert alpha.shape == core.shape, (name, alpha.shape, core.shape)
    scores[name] = {"vs_core": round(iou(alpha, core), 4), "mean_abs_vs_core": round(float(np.abs(
        alpha.astype(int) - core).mean()), 3)}
    assert scores[name]["vs_core"] > 0.98, (name, scores[name])
    assert scores[name]["mean_abs_vs_core"] < 2.0, (name, scores[name])
    if truth is not None:
        scores[name]["vs_truth"] = round(iou(alpha, truth), 4)
        assert scores[name]["vs_truth"] > 0.75, (name, scores[name])


def _numba_cache(root) -> dict[str, dict[str, int]]:
    """numba's index files in the installed venv, by pymatting module: name -> mtime."""
    out: dict[str, dict[str, int]] = {}
    for p in root.host(f"{HOME}/.local/share/bgone/venv").rglob("*.nbi"):
        out.setdefault(p.name.split(".")[0], {})[p.name] = p.stat().st_mtime_ns
    return out


def _check_kritarc_after_uninstall(text: str) -> None:
    """No enable_bgone_krita (the installer's one Krita setting) and no [bgone] group (the
    choices the docker saved through Krita.writeSetting once Krita ran): nothing of bgone's."""
    stray = [line for line in text.splitlines() if "bgone" in line.lower()]
    assert not stray, f"bgone lines left in kritarc after --uninstall: {stray}"


# --------------------------------------------------------------------------------------------


def test_installer_as_a_new_user(hostroot, u2netp_path, photo, photo_truth, capsys):
    root = hostroot
    for exe in ("usr/bin/gimp-3.0", "usr/bin/gimp-console-3.0", "usr/bin/krita", "usr/bin/kritarunner",
                "usr/bin/python3", "usr/bin/xvfb-run"):
        assert root.host(exe).exists(), f"{exe} is missing from the root {root}"
    times = {}
    t0 = time.monotonic()
    _copy_source(root)
    model = root.host(MODEL)
    model.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(u2netp_path, model)
    home = root.fresh(HOME)
    job = root.fresh(JOB)
    img = Image.open(photo)
    assert img.size[0] * img.size[1] > 100_000, f"{photo} is too small to be a photo"
    img.convert("RGB").save(job / "photo.png")  # 8-bit RGB: the same pixels in GIMP, Krita and the core
    truth = np.asarray(Image.open(photo_truth).convert("L")) if photo_truth is not None else None
    env = {"HOME": HOME, **probes.pip_env(root.path)}

    # 1. install, as a new user would (the launcher finds the root's python3)
    proc = root.run(["sh", f"{SRC}/installer/install.sh", "--yes", "--model-file", MODEL], env=env,
                    timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"installer failed ({proc.returncode}):\n{out[-6000:]}"
    assert "not started yet" in out, out[-4000:]  # GIMP and Krita installed, never run: folders created
    assert "passed (u2netp" in out, out[-4000:]
    # the summary names the device, in the engine's own answer: this root has no GPU
    assert re.search(r"\n  Device +CPU\n", out), out[-4000:]
    assert "Using a GPU" not in out, out[-4000:]
    prepared = re.search(r"Compiling it, once .*: done in (\d+) s", out)  # the numba warm-up
    assert prepared, out[-6000:]
    times["prepare"] = int(prepared.group(1))
    times["install"] = time.monotonic() - t0
    numba_cache = _numba_cache(root)
    assert set(numba_cache) == {"cf_laplacian", "ichol", "estimate_foreground_ml"}, numba_cache

    assert os.path.lexists(root.host(VENV_PYTHON))  # a symlink to the root's python3
    gimp_py = root.host(f"{GIMP_PLUGIN}/bgone-remove-background.py")
    assert gimp_py.stat().st_mode & 0o111, "the GIMP plug-in is not executable"
    client = REPO / "core/bgone_client"
    for f in client.glob("*.py"):  # the package, whole, inside GIMP's plug-in folder
        assert root.host(f"{GIMP_PLUGIN}/bgone_client/{f.name}").read_bytes() == f.read_bytes(), f.name
    cfg = json.loads(root.host(f"{GIMP_PLUGIN}/bgone_config.json").read_text())
    assert cfg["python"] == VENV_PYTHON and cfg["flatpak_spawn"] is False
    assert root.host(f"{KRITA_PYKRITA}/bgone_krita.desktop").is_file()
    for f in client.glob("*.py"):  # and beside the Krita plug-in, in pykrita
        assert root.host(f"{KRITA_PYKRITA}/bgone_client/{f.name}").read_bytes() == f.read_bytes(), f.name
    # the bgone command in the user's bin folder runs the installed engine
    proc = root.run([f"{HOME}/.local/bin/bgone", "--version"], env={"HOME": HOME}, timeout=120,
                    network=False)
    assert proc.returncode == 0 and proc.stdout.startswith("bgone "), log(proc)
    kcfg = json.loads(root.host(f"{KRITA_PYKRITA}/bgone_krita/bgone_config.json").read_text())
    assert kcfg["python"] == VENV_PYTHON and kcfg["flatpak_spawn"] is False
    assert "enable_bgone_krita=true" in root.host(f"{HOME}/.config/kritarc").read_text()
    assert json.loads(root.host(f"{HOME}/.config/bgone/config.json").read_text())["python"] == VENV_PYTHON
    assert root.host(USER_MODEL).read_bytes() == Path(u2netp_path).read_bytes()
    # nothing but the installer could have provided the engine, the plug-ins or the model here
    assert {p.name for p in root.host(f"{HOME}/.config/GIMP/3.0/plug-ins").iterdir()} == {"bgone-remove-background"}

    # 2. the core the installer put in the venv, on the photo (the reference for both hosts)
    t = time.monotonic()
    core = _core_mask(root)
    times["core"] = time.monotonic() - t
    scores: dict = {}
    if truth is not None:
        assert truth.shape == core.shape
        scores["core"] = {"vs_truth": round(iou(core, truth), 4)}

    # 3. real GIMP: the plug-in registered from the profile the installer created, and run
    t = time.monotonic()
    g = _gimp(root, job)
    times["gimp"] = time.monotonic() - t
    for name in ("registration", "mask"):
        c = g["cases"][name]
        assert "traceback" not in c, f"{name}:\n{c['traceback']}\n{g['log']}"
        assert c.get("ok", True), f"{name}: {c.get('message')}\n{g['log']}"
    reg = g["cases"]["registration"]
    assert reg["found"] and reg["label"] == "Remove Background…", reg
    assert "<Image>/Layer/Transparency" in reg["menus"], reg
    pluginrc = root.host(f"{HOME}/.config/GIMP/3.0/pluginrc").read_text(errors="replace")
    assert "bgone-remove-background/bgone-remove-background.py" in pluginrc and PROC in pluginrc
    c = g["cases"]["mask"]
    w, h = c["size"]
    gimp_mask = plane(job / "gimp" / "mask.alpha", (h, w))
    _check_alpha("gimp", gimp_mask, core, truth, scores)
    png = np.asarray(Image.open(job / "gimp" / "mask.png").convert("RGBA"))  # exported, mask applied
    assert png.shape == (h, w, 4)
    assert iou(png[..., 3], gimp_mask) > 0.99, iou(png[..., 3], gimp_mask)
    assert c["second_ok"], c["second_message"]  # a second run replaced the mask (refine none)
    assert iou(plane(job / "gimp" / "mask2.alpha", (h, w)), gimp_mask) > 0.9

    # 4. real Krita, the full application: it loads bgone_krita only because of the installer's
    # enable_bgone_krita=true in this user's kritarc, from the pykrita folder it put it in
    t = time.monotonic()
    k = _krita_gui(root, job)
    times["krita"] = time.monotonic() - t
    assert k["enabled_setting"] == "true", k
    assert k["loaded_by_krita"], f"Krita did not load bgone_krita\n{k['log']}"
    assert k["package"] == f"{KRITA_PYKRITA}/bgone_krita/__init__.py", k["package"]
    assert k["controller"] and "bgone_docker" in k["dockers"], k
    assert k["action_text"] == "Remove Background", k
    u2netp = [m for m in k["models"] if m["name"] == "u2netp"]
    assert u2netp and u2netp[0]["installed"] is True, u2netp  # the user's cache, via the installed config
    name, kind, names = k["layer"]
    assert kind == "paintlayer" and name.endswith("(background removed)") and names[-1] == name, k["layer"]
    assert k["size"] == [w, h], (k["size"], (w, h))
    cut = plane(job / "krita_gui" / "layer.bgra", (h, w, 4))
    _check_alpha("krita", cut[..., 3], core, truth, scores)
    assert k["exit"] == 0

    # 5. kritarunner: the scripting entry point, imported from the user's pykrita folder
    t = time.monotonic()
    r = _kritarunner(root, job)
    times["kritarunner"] = time.monotonic() - t
    assert r["exit"] == 0, r
    assert r["preloaded"] is False  # kritarunner loads no plug-ins: the import below is the test's
    assert r["package"] == f"{KRITA_PYKRITA}/bgone_krita/__init__.py", r["package"]
    assert r["client"] == f"{KRITA_PYKRITA}/bgone_client/__init__.py", r["client"]
    python, prefix, where = r["core"]
    assert python == VENV_PYTHON and prefix == [], r["core"]
    assert where == f"{KRITA_PYKRITA}/bgone_krita/bgone_config.json", r["core"]
    assert r["mask_type"] == "transparencymask" and r["layer_unchanged"] is True, r
    assert r["size"] == [w, h], (r["size"], (w, h))
    krita_mask = plane(job / "kritarunner" / "mask.alpha", (h, w))
    _check_alpha("kritarunner", krita_mask, core, truth, scores)
    assert r["exported"] is True
    exported = np.asarray(Image.open(job / "kritarunner" / "export.png").convert("RGBA"))[..., 3]
    assert np.abs(exported.astype(int) - krita_mask).max() <= 1

    # the warm-up compiled only what bgone calls, and every run since read it back, none compiled
    assert _numba_cache(root) == numba_cache

    # 6. uninstall: every bgone file goes, what GIMP and Krita wrote into their new profiles stays
    # (plug-ins/ and pykrita/ were made by the installer: they go too, being empty then)
    gimp_own = {p for p in _tree(root.host(f"{HOME}/.config/GIMP/3.0")) if "bgone" not in p and p != "plug-ins"}
    krita_own = {p for p in _tree(root.host(f"{HOME}/.local/share/krita")) if not p.startswith("pykrita")}
    # what bgone's runs left beside the install: onnxruntime's cache (the install's own probes
    # made the folder in this fresh HOME), GIMP's memory of our procedures' last values (if the
    # batch runs wrote any)
    assert root.host(f"{HOME}/.cache/Microsoft").is_dir()
    gimp_last = sorted(p for p in _tree(root.host(f"{HOME}/.config/GIMP/3.0/plug-in-settings"))
                       if "bgone" in p)
    # the command the installer printed, run after the user deleted the unpacked download
    printed = re.search(r"\nTo remove bgone again: (.+)\n", out)
    assert printed, out[-3000:]
    command = shlex.split(printed.group(1))
    assert command == ["sh", f"{HOME}/.local/share/bgone/installer/install.sh", "--uninstall"], command
    shutil.rmtree(root.host(SRC))
    t = time.monotonic()
    proc = root.run([*command, "--yes"], env={"HOME": HOME}, timeout=300, network=False)
    times["uninstall"] = time.monotonic() - t
    assert proc.returncode == 0, log(proc)
    assert "bgone has been removed" in proc.stdout, log(proc)
    left = _tree(home)
    assert not [p for p in left if "bgone" in p], sorted(p for p in left if "bgone" in p)
    assert not [p for p in left if "onnxruntime" in p.lower()], sorted(left)
    assert not root.host(f"{HOME}/.cache/Microsoft").exists()  # the folders it made, emptied, go too
    assert not root.host(f"{HOME}/.local/share/bgone").exists()
    assert not os.path.lexists(root.host(VENV_PYTHON))
    assert not root.host(f"{HOME}/.cache/bgone").exists()  # the model cache goes too
    assert not os.path.lexists(root.host(f"{HOME}/.local/bin/bgone"))
    kritarc = root.host(f"{HOME}/.config/kritarc")
    if kritarc.exists():  # Krita rewrote the file the installer created: it stays, minus our key
        _check_kritarc_after_uninstall(kritarc.read_text())
    assert gimp_own <= _tree(root.host(f"{HOME}/.config/GIMP/3.0"))
    assert krita_own <= _tree(root.host(f"{HOME}/.local/share/krita"))
    times["total"] = time.monotonic() - t0
    with capsys.disabled():
        print(f"\ninstalled bgone, refine={REFINE}: IoU {json.dumps(scores)}; "
              f"seconds {json.dumps({k: round(v, 1) for k, v in times.items()})}; "
              f"GIMP's last-values files taken by --uninstall: {gimp_last or 'none written'}")

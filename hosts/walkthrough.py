#!/usr/bin/env python3
"""A new user follows README.md on a clean Debian trixie machine with GIMP 3.0 and Krita 5.2.

Usage (as root, from the checkout; about 8-10 minutes):

    python3 hosts/walkthrough.py [--photo FILE] [--model-file FILE] [--ref REF] [--out DIR] [--keep]

What it does, each step timed, with what the screen showed kept in DIR (default
bench/out/walkthrough/): transcript.md (the installer's console whole, tails elsewhere),
logs/NN-step.log (every step whole, as the terminal rendered it), screens/*.png, summary.md.

 0. a fresh machine: an overlay on a private copy of the real-host root (ROOT-walkthrough, made
    once from ROOT = $BGONE_HOSTS_ROOT or /var/tmp/bgone-hosts-root, which is only read) with
    the harness's leftovers (/opt/bgone-*, /home/*, /job) removed, and a new user `newuser`
    (empty home from /etc/skel).
    Into ~/Downloads: `git archive HEAD` of this checkout (bgone.tar.gz), the model file (as
    copied from another computer: no model hub is reachable here) and photo.jpg into ~.
 1. tar xzf ~/Downloads/bgone.tar.gz                  (README: "Download bgone and unpack it")
 2. sh installer/install.sh --model-file ~/Downloads/u2netp.onnx   in a terminal (a pty), the
    one question answered "y"; the network is up (PyPI).
 3. a new terminal (login shell): is `bgone` on PATH, `bgone --help`, `bgone info`,
    `bgone remove photo.jpg -o cutout.png`                     (no network from here on)
 4. GIMP 3 under Xvfb: the photo opened, Remove Background run interactively (the procedure the
    menu item calls, INTERACTIVE): screenshots of the dialog, the progress bar, the result; then
    a second image with a model that is not installed: the error
 5. Krita 5.2 under Xvfb: the docker idle, its progress, the result, and the same error
 6. sh installer/install.sh --uninstall, and what is left in the home

Screenshots are taken by a small helper inside each host's Python (a sitecustomize on
PYTHONPATH that grabs the whole X screen); it presses OK in GIMP's dialog and the docker's
button in Krita, as a user would. Nothing of the product is replaced or configured by it.
Limits: Xvfb has no window manager (no title bars, windows at their own sizes); GIMP's procedure
is called through the PDB from a batch script, so GIMP words its error box as for a PDB call
("Calling error for procedure '…':" above the plug-in's message), which a menu click may not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

from probes import KRITA_FINISH_SNIPPET, KRITA_MAIN_WINDOW_SNIPPET, pip_env
from probes import XVFB as XVFB_ARGV

REPO = Path(__file__).resolve().parents[1]
HOSTS = REPO / "hosts"
SOURCE_ROOT = Path(os.environ.get("BGONE_HOSTS_ROOT", "/var/tmp/bgone-hosts-root"))
BASE = SOURCE_ROOT.with_name(SOURCE_ROOT.name + "-walkthrough")  # the private copy, only read
RUN = SOURCE_ROOT.with_name(SOURCE_ROOT.name + "-walkthrough-run")
USER = "newuser"
HOME = f"/home/{USER}"
WALK = "/tmp/walk"  # in-root: the screenshot helpers and their output
XVFB = shlex.join(XVFB_ARGV)
DEFAULT_PHOTO = Path(os.environ.get("BGONE_SHARED", REPO.parent / "shared")) / "eval/comp1k/images/dog_golden.png"
COLS, ROWS = 100, 40
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")


# --------------------------------------------------------------------------------------------
# the machine


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def fresh_root() -> Path:
    """An overlay over BASE: a clean machine per run, BASE itself never written."""
    if not (BASE / "bin/sh").exists():
        if not (SOURCE_ROOT / "bin/sh").exists():
            sh([str(HOSTS / "build-root.sh"), str(SOURCE_ROOT)])
        print(f"copying {SOURCE_ROOT} to {BASE} (once, about a minute)", flush=True)
        sh(["flock", f"{SOURCE_ROOT}.lock", "cp", "-a", str(SOURCE_ROOT), str(BASE)])
    merged = RUN / "merged"
    subprocess.run(["umount", "-l", str(merged)], stderr=subprocess.DEVNULL)
    shutil.rmtree(RUN, ignore_errors=True)
    for d in ("upper", "work", "merged"):
        (RUN / d).mkdir(parents=True)
    sh(["mount", "-t", "overlay", "overlay", "-o",
        f"lowerdir={BASE},upperdir={RUN}/upper,workdir={RUN}/work", str(merged)])
    for leftover in ("opt/bgone-src", "opt/bgone-venv", "opt/bgone-models", "opt/bgone-installer-src",
                     "opt/bgone-installer-model", "job", "home", "root/.config", "root/.local", "root/.cache"):
        p = merged / leftover
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
    (merged / "home").mkdir(exist_ok=True)
    return merged


def in_root(root: Path, cmd: str, timeout: int = 300, user: bool = True, network: bool = False,
            env: dict[str, str] | None = None) -> list[str]:
    """The argv that runs shell command ``cmd`` inside ``root``: as the new user in a login
    shell (what a terminal gives), or as root."""
    full = [str(HOSTS / "run-in-root.sh"), str(root), str(timeout)]
    if user:
        variables = {"HOME": HOME, "USER": USER, "LOGNAME": USER, "SHELL": "/bin/bash",
                     "TERM": "xterm-256color", "XDG_RUNTIME_DIR": f"/tmp/xdg-{USER}", **(env or {})}
        full += ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "env",
                 *[f"{k}={v}" for k, v in variables.items()], "bash", "-lc", f"cd ~ && {cmd}"]
    else:
        full += ["env", *[f"{k}={v}" for k, v in (env or {}).items()], "bash", "-c", cmd]
    return full if network else ["unshare", "--net", "--", *full]


def run_pty(argv: list[str], timeout: int, answers: list[tuple[str, str]] = ()) -> tuple[int, str, tuple]:
    """Runs ``argv`` on a pseudo-terminal (COLS x ROWS), answering each prompt of ``answers``
    (regex, reply) in turn. Returns the exit status, what the terminal got (decoded) and the
    longest time nothing new appeared on it, with the line shown meanwhile (looks hung?)."""
    import fcntl
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    # A process group of its own in this (terminal-less) session: the pty is a terminal to the
    # installer (isatty, its size) but never a controlling one, so timeout(1)'s own process
    # group inside run-in-root.sh is not stopped as a background job when it reads the answer.
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, process_group=0)
    os.close(slave)
    buf = b""
    silence = (0.0, 0)  # the longest wait for output, and where in ``buf`` it ended
    last = time.monotonic()
    pending = list(answers)
    answered_at = 0
    deadline = time.monotonic() + timeout + 30
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not data:
                break
            now = time.monotonic()
            if now - last > silence[0] and buf:
                silence = (now - last, len(buf))
            last = now
            buf += data
            if pending and re.search(pending[0][0].encode(), buf[answered_at:]):
                time.sleep(0.5)  # a person reads the question first
                os.write(master, pending.pop(0)[1].encode())
                answered_at = len(buf)
        elif proc.poll() is not None:
            break
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    os.close(master)
    before = screen_text(buf[:silence[1]].decode("utf-8", "replace")).splitlines()
    return proc.wait(), buf.decode("utf-8", "replace"), (silence[0], before[-1].strip() if before else "")


def screen_text(raw: str) -> str:
    """What the terminal shows of ``raw``: each carriage return overwrites its line."""
    out = []
    for line in ANSI.sub("", raw).replace("\r\n", "\n").split("\n"):
        shown = ""
        for p in line.split("\r"):  # a shorter rewrite leaves the old line's tail on a real terminal
            shown = p + shown[len(p):]
        out.append(shown.rstrip())
    return "\n".join(out).strip("\n")


# --------------------------------------------------------------------------------------------
# the screenshot helpers (in the hosts' Python)

GIMP_HOOK = r'''
"""Loaded by every Python plug-in GIMP starts (PYTHONPATH); acts only in bgone's."""
import os, sys, time, traceback

SHOTS = os.environ.get("WALK_SHOTS")


def _shoot(name):
    from gi.repository import Gdk
    root = Gdk.get_default_root_window()
    pix = Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height())
    if pix is not None:
        pix.savev(os.path.join(SHOTS, name), "png", [], [])


def _note(text):
    with open(os.path.join(SHOTS, "gimp-hook.log"), "a") as f:
        f.write(text + "\n")


def _install():
    import gi
    for ns, v in (("Gimp", "3.0"), ("GimpUi", "3.0"), ("Gtk", "3.0"), ("Gdk", "3.0")):
        gi.require_version(ns, v)
    from gi.repository import Gimp, GimpUi, GLib, Gtk
    run_dialog = GimpUi.ProcedureDialog.run
    call = {"n": 0}

    def run(dialog):
        counter = os.path.join(SHOTS, "gimp-calls")  # one plug-in process per call
        n = call["n"] = len(open(counter).read()) + 1 if os.path.exists(counter) else 1
        with open(counter, "a") as f:
            f.write("x")
        model = os.environ.get("WALK_GIMP_MODEL_%d" % n)

        def press_ok():
            try:
                if model is not None:
                    dialog.props.config.set_property("model", model)
                while Gtk.events_pending():
                    Gtk.main_iteration()
                time.sleep(0.5)
                while Gtk.events_pending():
                    Gtk.main_iteration()
                _shoot("gimp-%d-dialog.png" % n)
                win = dialog.get_window()
                pix = Gdk_pix(win)
                if pix is not None:
                    pix.savev(os.path.join(SHOTS, "gimp-%d-dialog-only.png" % n), "png", [], [])
                _note("call %d: dialog model=%r" % (n, dialog.props.config.get_property("model")))
            except Exception:
                _note(traceback.format_exc())
            dialog.response(Gtk.ResponseType.OK)
            return False

        GLib.timeout_add(3000, press_ok)
        return run_dialog(dialog)

    def Gdk_pix(win):
        from gi.repository import Gdk
        return Gdk.pixbuf_get_from_window(win, 0, 0, win.get_width(), win.get_height())

    GimpUi.ProcedureDialog.run = run
    update = Gimp.progress_update
    shot = {"n": 0}

    def progress_update(fraction):
        result = update(fraction)
        if shot["n"] == 0 and 0.15 <= fraction < 0.95:
            shot["n"] = 1
            try:
                time.sleep(1.5)  # GIMP repaints its status bar in its own process
                _shoot("gimp-%d-progress.png" % call["n"])
                _note("call %d: progress shot at %.2f" % (call["n"], fraction))
            except Exception:
                _note(traceback.format_exc())
        return result

    Gimp.progress_update = progress_update


if SHOTS and os.path.basename(sys.argv[0]) == "bgone-remove-background.py":
    try:
        _install()
    except Exception:
        _note(traceback.format_exc())
'''

# Run by GIMP's python-fu-eval batch interpreter inside the GUI GIMP.
GIMP_BATCH = r'''
import json, os, time, traceback
import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, Gimp, Gio

SHOTS = os.environ["WALK_SHOTS"]
report = {"calls": []}


def shoot(name, wait=3.0):
    Gimp.displays_flush()
    time.sleep(wait)
    root = Gdk.get_default_root_window()
    Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height()).savev(
        os.path.join(SHOTS, name), "png", [], [])


def remove_background(img):
    proc = Gimp.get_pdb().lookup_procedure("plug-in-bgone-remove-background")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)  # as the menu item does
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", img.get_selected_drawables())
    t = time.monotonic()
    res = proc.run(cfg)
    status = res.index(0)
    message = res.index(1) if status != Gimp.PDBStatusType.SUCCESS and res.length() > 1 else None
    report["calls"].append({"status": status.value_nick, "seconds": round(time.monotonic() - t, 1),
                            "message": message, "layers": [l.get_name() for l in img.get_layers()],
                            "mask": img.get_layers()[0].get_mask() is not None})
    return status, message


try:
    photo = os.environ["WALK_PHOTO"]
    img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(photo))
    Gimp.Display.new(img)
    shoot("gimp-0-photo.png", 5)
    remove_background(img)
    shoot("gimp-1-result.png")
    img2 = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(photo))
    Gimp.Display.new(img2)
    remove_background(img2)  # the hook picks a model that is not installed; GIMP shows the error
    shoot("gimp-2-error.png")
except Exception:
    report["traceback"] = traceback.format_exc()
with open(os.path.join(SHOTS, "gimp-report.json"), "w") as f:
    json.dump(report, f, indent=1)
'''

KRITA_HOOK = r'''
"""Loaded by Krita's Python (PYTHONPATH): once the main window is up, opens the photo, shows
the Remove Background docker and clicks it as a user would, with screenshots."""
import json, os, sys, time, traceback

SHOTS = os.environ.get("WALK_SHOTS")
PHOTO = os.environ.get("WALK_PHOTO")
REPORT = os.path.join(SHOTS, "krita-report.json") if SHOTS else None
report = {"states": []}
''' + KRITA_FINISH_SNIPPET + KRITA_MAIN_WINDOW_SNIPPET + r'''

def shoot(name, widget=None):
    from PyQt5.QtWidgets import QApplication
    QApplication.processEvents()
    QApplication.primaryScreen().grabWindow(0).save(os.path.join(SHOTS, name + ".png"))
    if widget is not None:
        widget.grab().save(os.path.join(SHOTS, name + "-docker.png"))


@guard
def start():
    from krita import Krita
    from PyQt5.QtCore import QTimer
    app = Krita.instance()
    win = app.activeWindow()
    win.qwindow().setGeometry(0, 0, 1280, 1000)
    from bgone_krita.docker import BgoneDocker
    docker = next((d for d in app.dockers() if isinstance(d, BgoneDocker)), None)
    report["docker"] = docker is not None
    if docker is None:
        shoot("krita-0-no-docker")
        finish(3)
    docker.show()
    docker.raise_()
    doc = app.openDocument(PHOTO)
    win.addView(doc)
    layer = [n for n in doc.topLevelNodes() if n.type() == "paintlayer"][0]
    doc.setActiveNode(layer)
    controller = docker.controller
    deadline = time.monotonic() + 120
    phase = {"name": "remove", "t": 0.0, "shot": False}

    def on_state(st, fraction, text):
        report["states"].append([phase["name"], st, round(fraction, 3), text])
        if st == "running" and 0.15 <= fraction < 0.95 and not phase["shot"]:
            phase["shot"] = True
            shoot("krita-2-progress" if phase["name"] == "remove" else "krita-4-error-progress", docker)
        if st in ("done", "error", "cancelled"):
            report[phase["name"]] = {"state": st, "text": text, "status": docker.status.text(),
                                     "status_on_screen": not docker.status.visibleRegion().isEmpty(),
                                     "docker_size": [docker.width(), docker.height()],
                                     "seconds": round(time.monotonic() - phase["t"], 1)}
            if phase["name"] == "remove":
                QTimer.singleShot(1500, guard(lambda: (shoot("krita-3-result", docker), error_run())))
            else:
                QTimer.singleShot(1500, guard(lambda: (shoot("krita-4-error", docker), finish(0))))

    def error_run():
        report["layers_after"] = [n.name() for n in doc.topLevelNodes()]
        report["masks_after"] = [[n.name(), n.type()] for n in layer.childNodes()]
        missing = [m["name"] for m in docker.models if not m.get("installed")]
        report["error_model"] = missing[0] if missing else None
        phase.update(name="error", t=time.monotonic(), shot=False)
        if missing:
            docker.model_box.setCurrentIndex(docker.model_box.findData(missing[0]))
        docker.output_box.setCurrentIndex(docker.output_box.findData("layer"))  # no replace question
        docker.run_button.click()

    @guard
    def wait_models():
        if docker.model_box.count() > 1 or time.monotonic() > deadline:
            report["models"] = [docker.model_box.itemText(i) for i in range(docker.model_box.count())]
            report["idle_status"] = docker.status.text()
            shoot("krita-1-docker-idle", docker)
            controller.listeners.append(on_state)
            phase["t"] = time.monotonic()
            docker.run_button.click()
        else:
            QTimer.singleShot(300, wait_models)

    QTimer.singleShot(2000, wait_models)


def install():
    if when_main_window(start, 3000):  # False in bgone's worker (another Python, same PYTHONPATH)
        from PyQt5.QtCore import QTimer
        QTimer.singleShot(420000, lambda: (report.__setitem__("traceback", "timed out"), shoot("krita-timeout"),
                                           finish(6)))


if SHOTS:
    try:
        install()
    except Exception:
        report["traceback"] = traceback.format_exc()
'''

TO_JPEG = r'''
import sys
import gi
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import GdkPixbuf
pix = GdkPixbuf.Pixbuf.new_from_file(sys.argv[1])
if pix.get_has_alpha():
    pix = pix.composite_color_simple(pix.get_width(), pix.get_height(), GdkPixbuf.InterpType.NEAREST, 255, 8,
                                     0xFFFFFF, 0xFFFFFF)
pix.savev(sys.argv[2], "jpeg", ["quality"], ["92"])
print(pix.get_width(), pix.get_height())
'''

PNG_INFO = r'''
import sys
import gi
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import GdkPixbuf
pix = GdkPixbuf.Pixbuf.new_from_file(sys.argv[1])
data = pix.get_pixels()
n, stride = pix.get_n_channels(), pix.get_rowstride()
if n == 4:
    alpha = [data[y * stride + x * 4 + 3] for y in range(0, pix.get_height(), 4) for x in range(0, pix.get_width(), 4)]
    print("%dx%d RGBA, transparent %.0f%%, opaque %.0f%% (sampled)" % (pix.get_width(), pix.get_height(),
          100 * sum(a < 16 for a in alpha) / len(alpha), 100 * sum(a > 239 for a in alpha) / len(alpha)))
else:
    print("%dx%d, %d channels (no alpha)" % (pix.get_width(), pix.get_height(), n))
'''


# --------------------------------------------------------------------------------------------
# the walk


class Walk:
    def __init__(self, root: Path, out: Path, pip_env: dict[str, str]) -> None:
        self.root, self.out, self.pip_env = root, out, pip_env
        self.steps: list[dict] = []
        (out / "logs").mkdir(parents=True, exist_ok=True)

    def host(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def step(self, name: str, cmd: str, timeout: int = 300, network: bool = False, answers=(),
             env: dict[str, str] | None = None, shown: str | None = None, full: bool = False,
             gui: bool = False, key: str | None = None) -> dict:
        """One thing the user does in a terminal: timed, its screen kept."""
        print(f"\n=== {len(self.steps) + 1}. {name}\n$ {shown or cmd}", flush=True)
        t = time.monotonic()
        rc, raw, (quiet, quiet_line) = run_pty(in_root(self.root, cmd, timeout, network=network, env=env), timeout,
                                               list(answers))
        seconds = time.monotonic() - t
        text = screen_text(raw)
        n = len(self.steps) + 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
        log = self.out / "logs" / f"{n:02d}-{slug}.log"
        log.write_text(f"$ {shown or cmd}\n{text}\n[exit {rc}, {seconds:.1f} s]\n")
        (self.out / "logs" / f"{n:02d}-{slug}.raw").write_text(raw)
        tail = "\n".join(text.splitlines()[-25:])
        print(tail, f"\n[exit {rc}, {seconds:.1f} s]", flush=True)
        rec = {"n": n, "name": name, "cmd": shown or cmd, "rc": rc, "seconds": seconds, "text": text,
               "full": full, "log": log.relative_to(self.out).as_posix(), "notes": [], "gui": gui, "key": key}
        self.steps.append(rec)
        if quiet >= 10 and not gui:
            self.note(f"the screen did not change for {quiet:.0f} s while it showed: {quiet_line!r}")
        return rec

    def as_root(self, cmd: str, timeout: int = 120) -> str:
        proc = subprocess.run(in_root(self.root, cmd, timeout, user=False), capture_output=True, text=True,
                              timeout=timeout + 60)
        if proc.returncode != 0:
            raise RuntimeError(f"in-root setup failed: {cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return proc.stdout

    def note(self, text: str) -> None:
        self.steps[-1]["notes"].append(text)
        print(f"  -> {text}", flush=True)

    def shots(self, prefix: str) -> list[Path]:
        src = self.host(f"{WALK}/shots")
        dest = self.out / "screens"
        dest.mkdir(exist_ok=True)
        got = []
        for p in sorted(src.glob(f"{prefix}*")):
            shutil.copy(p, dest / p.name)
            got.append(dest / p.name)
        return got


def prepare(w: Walk, photo: Path, model: Path, ref: str) -> tuple[int, str]:
    """The clean machine and the new user, with the downloads a user would have."""
    t = time.monotonic()
    w.as_root(f"/usr/sbin/useradd -m -s /bin/bash {USER} && install -d -o {USER} -g {USER} -m 700 /tmp/xdg-{USER}"
              f" && install -d -o {USER} -g {USER} {HOME}/Downloads && install -d -m 755 {WALK}"
              f" && install -d -o {USER} -g {USER} {WALK}/shots")
    archive = w.host(f"{HOME}/Downloads/bgone.tar.gz")
    with archive.open("wb") as f:
        sh(["git", "-C", str(REPO), "archive", "--format=tar.gz", "--prefix=bgone/", ref], stdout=f)
    head = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %s", ref], capture_output=True,
                          text=True).stdout.strip()
    shutil.copyfile(model, w.host(f"{HOME}/Downloads/{model.name}"))
    shutil.copyfile(photo, w.host(f"{WALK}/photo{photo.suffix}"))
    for name, text in (("gimp/sitecustomize.py", GIMP_HOOK), ("gimp_batch.py", GIMP_BATCH),
                       ("krita/sitecustomize.py", KRITA_HOOK), ("to_jpeg.py", TO_JPEG), ("pnginfo.py", PNG_INFO)):
        p = w.host(f"{WALK}/{name}")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    if photo.suffix.lower() in (".jpg", ".jpeg"):
        w.as_root(f"cp {WALK}/photo{photo.suffix} {HOME}/photo.jpg")
    else:
        w.as_root(f"python3 {WALK}/to_jpeg.py {WALK}/photo{photo.suffix} {HOME}/photo.jpg")
    w.as_root(f"chown -R {USER}:{USER} {HOME} && chmod -R a+rX {WALK}")
    return round(time.monotonic() - t), head


def gimp(w: Walk) -> None:
    env = {"PYTHONPATH": f"{WALK}/gimp", "WALK_SHOTS": f"{WALK}/shots", "WALK_PHOTO": f"{HOME}/photo.jpg",
           "WALK_GIMP_MODEL_2": "isnet-general-use"}
    cmd = (f"{XVFB} gimp-3.0 --no-splash --batch-interpreter=python-fu-eval "
           f"-b \"exec(open('{WALK}/gimp_batch.py').read())\" --quit")
    r = w.step("GIMP 3: Layer > Transparency > Remove Background… (under Xvfb)", cmd, timeout=420,
               env=env, gui=True, shown="gimp-3.0 photo.jpg, then Layer > Transparency > Remove Background… > OK; "
                              "then on a second copy with the model isnet-general-use (not installed)")
    rep = w.host(f"{WALK}/shots/gimp-report.json")
    if rep.is_file():
        data = json.loads(rep.read_text())
        for i, c in enumerate(data.get("calls", []), 1):
            w.note(f"call {i}: {c['status']} in {c['seconds']} s; layers {c['layers']}, mask {c['mask']}"
                   + (f"; message: {c['message']!r}" if c.get("message") else ""))
        if data.get("traceback"):
            w.note("driver traceback: " + data["traceback"].strip().splitlines()[-1])
    else:
        w.note("GIMP wrote no report")
    hook_log = w.host(f"{WALK}/shots/gimp-hook.log")
    if hook_log.is_file():
        for line in hook_log.read_text().strip().splitlines()[-6:]:
            w.note("hook: " + line)
    r["shots"] = [p.name for p in w.shots("gimp-") if p.suffix == ".png"]


def krita(w: Walk) -> None:
    env = {"PYTHONPATH": f"{WALK}/krita", "WALK_SHOTS": f"{WALK}/shots", "WALK_PHOTO": f"{HOME}/photo.jpg"}
    r = w.step("Krita 5.2: the Remove Background docker (under Xvfb)", f"{XVFB} krita --nosplash", timeout=480,
               env=env, gui=True, shown="krita photo.jpg, Settings > Dockers > Remove Background, press Remove "
                              "background; then a model that is not installed, output New layer")
    rep = w.host(f"{WALK}/shots/krita-report.json")
    if rep.is_file():
        data = json.loads(rep.read_text())
        w.note(f"docker models: {data.get('models')}; idle status: {data.get('idle_status')!r}")
        for key in ("remove", "error"):
            if key in data:
                d = data[key]
                w.note(f"{key}: {d['state']} in {d['seconds']} s; status line: {d['status']!r} "
                       f"({'visible' if d.get('status_on_screen') else 'NOT visible'} in the docker, "
                       f"{d.get('docker_size')} px)")
        w.note(f"after the run: layers {data.get('layers_after')}, masks {data.get('masks_after')}; "
               f"error run with model {data.get('error_model')}")
        stages = [s for s in data.get("states", []) if s[1] == "running"]
        w.note(f"progress seen: {[(s[0], s[2], s[3]) for s in stages][:12]}")
        if data.get("traceback"):
            w.note("driver traceback: " + data["traceback"].strip().splitlines()[-1])
    else:
        w.note("Krita wrote no report")
    r["shots"] = [p.name for p in w.shots("krita-") if p.suffix == ".png"]


def left_over(w: Walk) -> None:
    own = " ".join(f"-path '{HOME}/{p}' -o" for p in (
        ".config/GIMP", ".local/share/krita", ".cache/gimp", ".cache/babl", ".cache/gegl-0.4",
        ".cache/mesa_shader_cache*", ".cache/fontconfig", ".local/share/krita*"))
    w.step("What is left in the home", f"find ~ -mindepth 1 \\( {own} -path ~/bgone -o -path ~/Downloads \\) "
           "-prune -o -print | sort; echo '--- (GIMP, Krita, Mesa, fontconfig folders not listed)'; "
           "echo '--- anything named bgone or onnxruntime:'; find ~ -path ~/bgone -prune -o \\( -iname '*bgone*' "
           "-o -iname '*onnxruntime*' \\) -print; echo '--- kritarc lines with bgone:'; grep -in bgone ~/.config/kritarc; "
           "echo '--- sizes:'; du -sh ~/.cache ~/.local ~/.config 2>/dev/null; command -v bgone || "
           "echo 'bgone: no longer a command'", shown="find ~ …; grep -i bgone ~/.config/kritarc; du -sh …")


def write_report(w: Walk, out: Path, setup_s: int, head: str, total: float) -> None:
    lines = [f"# bgone: README walkthrough as a new user ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
             "", f"Code: `{head}`. Clean Debian trixie root with GIMP 3.0.4 and Krita 5.2.9, user `{USER}` "
             f"(empty home), {COLS}x{ROWS} terminal. Machine preparation {setup_s} s (not a user step). "
             f"Total {total / 60:.1f} min.", "",
             "| # | step | time | exit | what the screen showed (key lines; GUI steps: what the driver saw) |", "|---|---|---|---|---|"]
    for s in w.steps:
        shown = [ln.strip() for ln in s["text"].splitlines() if ln.strip()]
        if s["key"]:
            shown = [ln for ln in shown if re.search(s["key"], ln)]
        pick = s["notes"][:4] if s["gui"] else shown[-5 if s["key"] else -3:] + s["notes"][-1:]
        gist = " / ".join(x.replace("\n", " ")[:140] for x in pick).replace("|", "\\|")
        lines.append(f"| {s['n']} | {s['name']} | {s['seconds']:.1f} s | {s['rc']} | {gist} |")
    summary = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(summary)
    body = [summary, ""]
    for s in w.steps:
        body += [f"## {s['n']}. {s['name']} ({s['seconds']:.1f} s, exit {s['rc']})", "", "```", f"$ {s['cmd']}"]
        text = s["text"].splitlines()
        if not s["full"] and len(text) > 40:
            body.append(f"[... {len(text) - 40} earlier lines in {s['log']}]")
            text = text[-40:]
        body += [*text, "```", ""]
        body += [f"- {n}" for n in s["notes"]]
        if s.get("shots"):
            body.append("- screenshots: " + ", ".join(f"screens/{p}" for p in s["shots"]))
        body.append("")
    (out / "transcript.md").write_text("\n".join(body))
    print("\n" + summary)
    print(f"transcript: {out / 'transcript.md'}\nscreens:    {out / 'screens'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 usage="python3 hosts/walkthrough.py [--photo FILE] [--model-file FILE] "
                                       "[--ref REF] [--out DIR] [--keep]  (as root)")
    ap.add_argument("--photo", type=Path, default=DEFAULT_PHOTO,
                    help="the user's photo (PNG or JPEG; default: the golden dog of ../shared/eval)")
    ap.add_argument("--model-file", type=Path, default=None,
                    help="the model 'downloaded elsewhere' (default: .cache/u2netp.onnx)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "walkthrough")
    ap.add_argument("--ref", default="HEAD", help="the commit the user downloads (git archive; default HEAD: "
                                                 "uncommitted changes are not part of it)")
    ap.add_argument("--keep", action="store_true", help=f"leave the overlay mounted at {RUN}/merged")
    args = ap.parse_args()
    if os.geteuid() != 0:
        ap.error("run as root (chroot, namespaces, overlay)")
    model = args.model_file or next((p for p in (REPO / ".cache/u2netp.onnx", Path("/work/main/.cache/u2netp.onnx"))
                                     if p.is_file()), None)
    if model is None or not model.is_file():
        ap.error("no model file: run the tests once (tests/conftest.py fetches .cache/u2netp.onnx) or pass --model-file")
    if not args.photo.is_file():
        ap.error(f"no photo at {args.photo}")
    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    t0 = time.monotonic()
    root = fresh_root()
    try:
        w = Walk(root, out, pip_env(root))
        setup_s, head = prepare(w, args.photo, model, args.ref)
        print(f"machine ready in {setup_s} s: {root}, user {USER}, code {head}", flush=True)
        w.step("Unpack the download", "tar xzf Downloads/bgone.tar.gz && ls bgone bgone/installer",
               shown="tar xzf Downloads/bgone.tar.gz && ls bgone bgone/installer")
        mf = f"~/Downloads/{model.name}"
        w.step("Run the installer (README: sh installer/install.sh; offline model: --model-file)",
               f"cd bgone && sh installer/install.sh --model-file {mf}", timeout=1500, network=True,
               answers=[(r"\[Y/n\]", "y\r")], env=w.pip_env, full=True,
               key=r"done in|Self-test|not on your PATH yet|bgone is installed|failed|rror")
        w.step("A new terminal: is bgone a command?", "command -v bgone || echo 'bgone: command not found'",
               shown="command -v bgone")
        w.step("bgone --help", "bgone --help", key=r"^usage|^bgone|remove ")
        w.step("bgone info", "bgone info")
        w.step("bgone remove photo.jpg -o cutout.png", "bgone remove photo.jpg -o cutout.png", timeout=600)
        if w.host(f"{HOME}/cutout.png").is_file():
            w.note("cutout.png: " + w.as_root(f"python3 {WALK}/pnginfo.py {HOME}/cutout.png").strip())
        else:
            w.note("no cutout.png was written")
        gimp(w)
        krita(w)
        w.step("Uninstall (sh installer/install.sh --uninstall)", "cd bgone && sh installer/install.sh --uninstall",
               answers=[(r"\[Y/n\]", "y\r")], full=True, key=r"Remove it|freed|rror|failed")
        left_over(w)
        write_report(w, out, setup_s, head, time.monotonic() - t0)
    finally:
        if not args.keep:
            subprocess.run(["umount", "-l", str(root)])
            shutil.rmtree(RUN, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the real-host tests (tests/hosts/) and hosts/walkthrough.py share: the pieces of the
probe scripts they put inside GIMP's and Krita's own Python, and the host's pip settings.

Stdlib only: walkthrough.py imports this as `probes` (run as a script, hosts/ is on its path)
with the root's python3, the tests as `hosts.probes`. The *_SNIPPET texts are source code
joined into probe scripts that run inside the root's GIMP/Krita Python: each imports what it
uses and keeps to plain Python 3 syntax.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# A virtual X screen for the GUI hosts (argv; shlex.join for a shell line).
XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24"]

# Krita, any probe that writes a JSON report: finish(code) writes the module's `report` to the
# path REPORT and leaves at once (a normal quit may prompt, and kritarunner returns 0 even when
# its script raises); guard(fn) turns an exception in a timer callback into report["traceback"]
# and exit 2 (Qt would only print it). Needs module globals REPORT and report.
KRITA_FINISH_SNIPPET = r'''
import json, os, sys, traceback


def finish(code):
    report["exit"] = code
    with open(REPORT, "w") as f:
        json.dump(report, f, indent=1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def guard(fn):
    def wrapped(*a):
        try:
            fn(*a)
        except Exception:
            report["traceback"] = traceback.format_exc()
            finish(2)
    return wrapped
'''

# Krita, a probe loaded as sitecustomize.py from PYTHONPATH (before Krita's plug-in loader and
# any window): when_main_window(then, settle_ms) calls `then` settle_ms after the first main
# window exists, or finish(5) after limit_s. False where there is no Qt application: another
# Python that inherited PYTHONPATH (bgone's worker) or no PyQt5. Needs KRITA_FINISH_SNIPPET.
KRITA_MAIN_WINDOW_SNIPPET = r'''
import time


def when_main_window(then, settle_ms, poll_ms=300, limit_s=240):
    try:
        from PyQt5.QtCore import QCoreApplication, QTimer
    except ImportError:
        return False
    if QCoreApplication.instance() is None:
        return False
    deadline = time.monotonic() + limit_s

    def poll():
        try:
            from krita import Krita
            ready = bool(Krita.instance().windows())
        except Exception:
            ready = False
        if ready:
            QTimer.singleShot(settle_ms, then)
        elif time.monotonic() > deadline:
            report["traceback"] = "no Krita main window within %d s" % limit_s
            finish(5)
        else:
            QTimer.singleShot(poll_ms, poll)

    QTimer.singleShot(poll_ms, poll)
    return True
'''

# Krita, a probe installed as a pykrita plug-in of its own (enabled in kritarc): an Extension
# that calls the module's start() once, 1.5 s after the main window is created (or after 90 s,
# in case that signal never comes). Acts only when REPORT is set.
KRITA_PROBE_EXTENSION_SNIPPET = r'''
from krita import Extension, Krita
from PyQt5.QtCore import QTimer

_started = []


def _start_once():
    if not _started:
        _started.append(True)
        start()


class Probe(Extension):
    def setup(self):
        if not REPORT:
            return
        notifier = Krita.instance().notifier()
        notifier.setActive(True)
        notifier.windowCreated.connect(lambda: QTimer.singleShot(1500, _start_once))
        QTimer.singleShot(90000, _start_once)  # in case windowCreated never comes

    def createActions(self, window):
        pass


Krita.instance().addExtension(Probe(Krita.instance()))
'''

# Krita: every node of a document, depth first (the same order for the same tree), and a
# digest of a node's pixels: what "nothing changed" and "back where it was" compare.
KRITA_NODES_SNIPPET = r'''
import hashlib


def all_nodes(doc):
    out = []
    stack = list(doc.topLevelNodes())
    while stack:
        n = stack.pop()
        stack.extend(n.childNodes())
        out.append(n)
    return out


def pixel_digest(node):
    b = node.bounds()
    return hashlib.sha256(bytes(node.pixelData(b.x(), b.y(), b.width(), b.height()))).hexdigest()
'''

# Krita, a kritarunner module (`kritarunner -s MODULE -f main ARGS`: the args come as ONE
# list): main() calls the module's run(args, report), closes the plug-in's worker, writes
# report.json (with "traceback" if run raised, and "exit") into the folder args[OUT_ARG], and
# leaves with os._exit (kritarunner returns 0 even when its script raises). Needs run, OUT_ARG.
KRITARUNNER_MAIN_SNIPPET = r'''
import json, os, sys, traceback


def main(args=()):
    args = [str(a) for a in args]
    report = {"args": args}
    code = 1
    try:
        run(args, report)
        code = 0
    except BaseException:
        report["traceback"] = traceback.format_exc()
    try:
        from bgone_krita import connection
        connection.HOLDER.close()
    except Exception:
        pass
    report["exit"] = code
    with open(os.path.join(args[OUT_ARG], "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
'''


def pip_env(root: str | os.PathLike) -> dict[str, str]:
    """The host's pip network settings for a command inside the root (as hosts/install-core.sh
    passes them): its CA bundle copied into the root, its index and proxy variables. A user's
    own machine would not need them; this sandbox's proxy does."""
    env = {}
    ca = os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if ca and Path(ca).is_file():
        dest = Path(root) / "etc/ssl/bgone-host-ca.pem"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ca, dest)
        env["PIP_CERT"] = "/etc/ssl/bgone-host-ca.pem"
    for v in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_DEFAULT_TIMEOUT", "HTTP_PROXY", "HTTPS_PROXY",
              "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        val = os.environ.get(v, "")
        if val and not val.startswith("file:") and " file:" not in val:
            env[v] = val
    return env


# GIMP, a batch script for `gimp-console-3.0 -i --batch-interpreter=python-fu-eval` (argv:
# gimp_batch_argv): GIMP_BATCH_HEAD_SNIPPET + the script's case_NAME() functions +
# GIMP_BATCH_RUN_SNIPPET. The spec (JSON, path in $BGONE_SPEC) names the output folder "out",
# the procedure "proc" and the "cases" to run; each case's dict lands in report.json under
# cases/NAME ({"ok": False, "traceback": ...} if it raised). plane() reads a drawable as raw
# bytes; call() runs the procedure non-interactively and returns its status, message, wall
# time and, on success, its return values (device, last progress line).
GIMP_BATCH_HEAD_SNIPPET = r'''
import hashlib, json, os, sys, time, traceback
import gi
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio

SPEC = json.load(open(os.environ["BGONE_SPEC"]))
OUT = SPEC["out"]
report = {"cases": {}}


def plane(drawable, fmt="Y u8"):
    w, h = drawable.get_width(), drawable.get_height()
    return bytes(drawable.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, fmt, Gegl.AbyssPolicy.NONE))


def save(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def call(img, drawables, **args):
    proc = Gimp.get_pdb().lookup_procedure(SPEC["proc"])
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", drawables)
    for k, v in args.items():
        cfg.set_property(k, v)
    t = time.perf_counter()
    res = proc.run(cfg)
    wall = time.perf_counter() - t
    status = res.index(0)
    message = res.index(1) if res.length() > 1 else None
    r = {"status": status.value_nick if hasattr(status, "value_nick") else str(status),
         "ok": status == Gimp.PDBStatusType.SUCCESS, "message": message, "wall_s": wall}
    if r["ok"]:  # the return values: the device that ran the model, and the last progress line
        r["device"], r["line"] = message, res.index(2) if res.length() > 2 else None
    return r


def case_registration():
    proc = Gimp.get_pdb().lookup_procedure(SPEC["proc"])
    return {"found": proc is not None, "label": proc.get_menu_label(), "menus": list(proc.get_menu_paths()),
            "args": [a.get_name() for a in proc.get_arguments()]}
'''

GIMP_BATCH_RUN_SNIPPET = r'''
for name in SPEC["cases"]:
    try:
        report["cases"][name] = globals()["case_" + name]()
    except Exception:
        report["cases"][name] = {"ok": False, "traceback": traceback.format_exc()}
with open(os.path.join(OUT, "report.json"), "w") as f:
    json.dump(report, f, indent=1)
'''


def gimp_batch_argv(script: str) -> list[str]:
    """gimp-console-3.0 running the in-root batch script ``script`` once, then quitting."""
    return ["gimp-console-3.0", "-i", "--batch-interpreter=python-fu-eval",
            "-b", f"exec(open('{script}').read())", "--quit"]

"""The GIMP plug-in's own dialog widgets under real GTK 3 (the Debian trixie root, xvfb-run):
the Model row is bound to the "model" setting both ways (what Reset → Factory Defaults needs),
and the replace-mask question has its title and a Replace button. The widgets are built by the
plug-in's code itself, outside a GIMP run (GimpProcedureDialog needs one); screenshots of both
go to bench/out/screens/ when that folder exists.

Run: BGONE_HOST_TESTS=1 BGONE_HOSTS_ROOT=... .venv/bin/python -m pytest -m hosts tests/hosts/test_gimp_dialog_host.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hosts import probes
from tests.hosts.helpers import install_gimp_plugin

pytestmark = [pytest.mark.hosts]

REPO = Path(__file__).resolve().parents[2]
JOB = "/job/bgone_gimp_dialog"
PLUGIN_IN_ROOT = "/root/.config/GIMP/3.0/plug-ins/bgone-remove-background"
SCREENS = REPO / "bench" / "out" / "screens"

PROBE = r'''
import importlib.util, json, os, sys
import gi
gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, GObject, Gtk

PLUGIN = sys.argv[1]
OUT = sys.argv[2]
sys.path.insert(0, PLUGIN)
spec = importlib.util.spec_from_file_location("bgone_gimp_plugin", PLUGIN + "/bgone-remove-background.py")
plug = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plug)


class Config(GObject.Object):  # the "model" property of GIMP's procedure config
    model = GObject.Property(type=str, default="")


def settle():
    while Gtk.events_pending():
        Gtk.main_iteration()


def shoot(window, name):
    settle()
    gdk = window.get_window()
    pix = Gdk.pixbuf_get_from_window(gdk, 0, 0, gdk.get_width(), gdk.get_height())
    if pix is not None:
        pix.savev(os.path.join(OUT, name), "png", [], [])


models = [
    {"name": "u2netp", "size_label": "4.6 MB", "installed": True, "commercial_use": True, "license": "Apache-2.0",
     "description": "Small and fast."},
    {"name": "birefnet-general", "size_label": "973 MB", "installed": False, "commercial_use": False,
     "license": "CC BY-NC 4.0", "description": "Sharp hair."},
]
report = {}
cfg = Config()
cfg.props.model = "isnet-general-use"  # saved once, not among the models now
row = plug._model_row(Gtk, cfg, models)
line, notes = row.get_children()
label, combo = line.get_children()
report["line_horizontal"] = line.get_orientation() == Gtk.Orientation.HORIZONTAL
report["label"] = label.get_label()
report["start"] = [cfg.props.model, combo.get_active_id(), combo.get_active_text()]
report["start_notes"] = notes.get_text()
combo.set_active_id("birefnet-general")
report["picked"] = cfg.props.model
report["notes"] = notes.get_text()
win = Gtk.Window(title="Remove Background (model row)")
win.set_default_size(460, -1)
win.add(row)
win.show_all()
shoot(win, "gimp-model-row.png")
cfg.props.model = ""  # what Reset -> Factory Defaults does to the config
report["reset"] = [combo.get_active_id(), combo.get_active_text()]


def answer():
    for w in Gtk.Window.list_toplevels():
        if isinstance(w, Gtk.MessageDialog) and w.get_visible():
            report["ask_title"] = w.get_title()
            report["ask_text"] = w.props.text
            report["ask_buttons"] = [b.get_label() for b in w.get_action_area().get_children()]
            shoot(w, "gimp-replace-mask.png")
            w.response(Gtk.ResponseType.ACCEPT)
            return False
    return True


GLib.timeout_add(300, answer)
report["replace"] = plug._confirm_replace(Gtk, ["Background"])
print("REPORT " + json.dumps(report))
'''


def test_model_row_follows_reset_and_replace_prompt_has_a_replace_button(hostroot, core_python):
    install_gimp_plugin(hostroot, core_python)
    job = hostroot.fresh(JOB)
    (job / "probe.py").write_text(PROBE)
    run = hostroot.run([*probes.XVFB, "python3", f"{JOB}/probe.py", PLUGIN_IN_ROOT, JOB], timeout=120)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("REPORT ")]
    assert lines, f"no report (rc {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    r = json.loads(lines[-1][len("REPORT "):])
    assert r["line_horizontal"] and r["label"] == "_Model"  # label beside the list, like the rows below
    assert r["start"][:2] == ["", ""], "an unknown saved model must fall back to the default entry"
    assert r["start"][2] == "Default (u2netp)", "the default entry names the model it takes (the one installed)"
    assert r["start_notes"].startswith("bgone takes the best model installed: now u2netp.\nSmall and fast.")
    assert r["picked"] == "birefnet-general", "choosing in the list must change the setting"
    assert "CC BY-NC 4.0" in r["notes"] and "downloaded once" in r["notes"]
    assert r["reset"][0] == "" and r["reset"][1].startswith("Default"), "Reset must move the list too"
    assert r["ask_title"] == "Replace the mask?" and r["ask_text"] == "Replace the existing mask?"
    assert r["ask_buttons"] == ["_Cancel", "_Replace"] and r["replace"] is True
    for name in ("gimp-model-row.png", "gimp-replace-mask.png"):
        shot = job / name
        assert shot.is_file() and shot.stat().st_size > 1000, f"no screenshot {name}"
        if SCREENS.is_dir():
            shutil.copy(shot, SCREENS / name)

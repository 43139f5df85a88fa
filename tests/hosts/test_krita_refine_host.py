"""Refine Edges in real Krita 5.2 (the hosts/ root), through `bgone_krita.refine_edges` run by
kritarunner (QT_QPA_PLATFORM=offscreen), with the real client, worker and core.

The photo gets a transparency mask that is a hard threshold of its ground truth (the
hand-painting stand-in of issue 13); the refined mask's gradient error against the truth must
be lower (computed as /work/shared/eval/metrics.py does); with a selection no pixel of the mask
outside it changes; a bad setting is refused with the document left as it was.

Run: BGONE_HOST_TESTS=1 BGONE_HOSTS_ROOT=... .venv/bin/python -m pytest -m hosts tests/hosts/test_krita_refine_host.py
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hosts import probes
from tests.hosts.helpers import gradient_error, plane, run_full_krita, run_kritarunner
from tests.hosts.test_krita_host import HOME, PYKRITA, install_plugin, install_probe

pytestmark = [pytest.mark.hosts]

JOB = "/job/bgone_krita_refine"
SCRIPT = "bgone_krita_refinerun"
SELECTION = (300, 150, 600, 450)  # x, y, w, h in image pixels

KRITA_SCRIPT = r'''"""Runs inside real Krita (kritarunner -s ... -f main ARGS). Writes report.json."""
import os, sys, time


def _save(data, path):
    with open(path, "wb") as f:
        f.write(bytes(data))


def _masked(app, photo, start):
    doc = app.openDocument(photo)
    doc.setBatchmode(True)
    layer = [n for n in doc.topLevelNodes() if n.type() == "paintlayer"][0]
    w, h = doc.width(), doc.height()
    mask = doc.createTransparencyMask("Painted mask")
    mask.setPixelData(open(start, "rb").read(), 0, 0, w, h)
    layer.addChildNode(mask, None)
    doc.waitForDone()
    return doc, layer, mask


''' + probes.KRITA_NODES_SNIPPET + r'''

def _scene(doc):
    return [[n.name(), n.type(), pixel_digest(n)] for n in all_nodes(doc)]


def run(args, report):
    photo, start, out_dir, pykrita = args[0], args[1], args[2], args[3]
    sel_x, sel_y, sel_w, sel_h = (int(v) for v in args[4].split(","))
    from krita import Krita, Selection

    sys.path.insert(0, pykrita)
    import bgone_krita

    app = Krita.instance()
    app.setBatchmode(True)

    doc, layer, mask = _masked(app, photo, start)
    w, h = doc.width(), doc.height()
    report["size"] = [w, h]
    _save(mask.pixelData(0, 0, w, h), os.path.join(out_dir, "start.alpha"))
    t0 = time.perf_counter()
    new = bgone_krita.refine_edges(doc, mask, band=None, output="mask")
    report["whole_s"] = time.perf_counter() - t0
    report["whole_children"] = [[n.name(), n.type()] for n in layer.childNodes()]
    _save(new.pixelData(0, 0, w, h), os.path.join(out_dir, "whole.alpha"))
    # a bad setting: a clear error, nothing changed
    snap = _scene(doc)
    try:
        bgone_krita.refine_edges(doc, new, band=-4)
        report["error_kind"] = None
    except bgone_krita.RemoveBackgroundError as e:
        report["error_kind"], report["error_text"] = e.kind, str(e)
    report["error_untouched"] = _scene(doc) == snap
    # output = layer: a new layer with the cut-out right above the source
    cut = bgone_krita.refine_edges(doc, new, output="layer")
    report["layer_names"] = [n.name() for n in doc.topLevelNodes()]
    _save(cut.pixelData(0, 0, w, h), os.path.join(out_dir, "layer.bgra"))
    doc.close()

    doc, layer, mask = _masked(app, photo, start)
    sel = Selection()
    sel.select(sel_x, sel_y, sel_w, sel_h, 255)
    doc.setSelection(sel)
    new = bgone_krita.refine_edges(doc, mask, output="mask")
    _save(new.pixelData(0, 0, w, h), os.path.join(out_dir, "selection.alpha"))
    doc.close()


OUT_ARG = 2  # report.json goes into args[OUT_ARG]
''' + probes.KRITARUNNER_MAIN_SNIPPET


@pytest.fixture(scope="module")
def report(hostroot, core_python, photo, truth) -> dict:
    install_plugin(hostroot, core_python)
    job = hostroot.fresh(JOB)
    (job / "out").mkdir()
    (job / f"{SCRIPT}.py").write_text(KRITA_SCRIPT)
    Image.open(photo).convert("RGB").save(job / "photo.png")
    np.where(truth >= 128, 255, 0).astype(np.uint8).tofile(job / "start.alpha")
    args = [f"{JOB}/photo.png", f"{JOB}/start.alpha", f"{JOB}/out", PYKRITA, ",".join(str(v) for v in SELECTION)]
    data = run_kritarunner(hostroot, SCRIPT, args, f"{JOB}/out/report.json", env={"HOME": HOME, "PYTHONPATH": JOB})
    data["out"] = job / "out"
    return data


def test_refine_edges_lowers_the_gradient_error_in_real_krita(report, truth, capsys):
    w, h = report["size"]
    start = plane(report["out"] / "start.alpha", (h, w))
    assert np.array_equal(start, np.where(truth >= 128, 255, 0))  # the mask Krita held
    refined = plane(report["out"] / "whole.alpha", (h, w))
    before, after = gradient_error(start, truth), gradient_error(refined, truth)
    with capsys.disabled():
        print(f"\nKrita Refine Edges: gradient error {before:.3f} -> {after:.3f} in {report['whole_s']:.1f} s")
    assert after < before * 0.9, (before, after)
    assert report["whole_children"] == [["Painted mask", "transparencymask"]]  # replaced, not added


def test_with_a_selection_nothing_outside_it_changes_in_real_krita(report, truth):
    w, h = report["size"]
    start = plane(report["out"] / "start.alpha", (h, w))
    got = plane(report["out"] / "selection.alpha", (h, w))
    x, y, sw, sh = SELECTION
    inside = np.zeros((h, w), bool)
    inside[y:y + sh, x:x + sw] = True
    assert np.array_equal(got[~inside], start[~inside]), "a pixel outside the selection changed"
    assert (got[inside] != start[inside]).any()


def test_layer_output_and_a_refused_setting_in_real_krita(report, truth):
    w, h = report["size"]
    assert report["error_kind"] == "bad_argument" and "Edge band" in report["error_text"]
    assert report["error_untouched"] is True
    assert report["layer_names"][-1].endswith("(edges refined)"), report["layer_names"]
    cut = plane(report["out"] / "layer.bgra", (h, w, 4))
    refined = plane(report["out"] / "whole.alpha", (h, w))
    assert np.abs(cut[..., 3].astype(int) - refined).mean() < 1.0


# The GUI probe: a pykrita plug-in of its own, installed only into the test root next to
# bgone_krita. After the main window exists it opens the photo, gives it the thresholded mask,
# selects the mask, clicks the docker's "Refine edges" button once per output and counts the
# Edit > Undo steps that bring the document back to where it was; then exits Krita hard.
PROBE = "bgone_refine_probe"
PROBE_SOURCE = r'''
import os
from krita import Krita
from PyQt5.QtCore import QTimer

REPORT = os.environ.get("BGONE_REFINE_PROBE_REPORT")
IMAGE = os.environ.get("BGONE_PROBE_IMAGE")
START = os.environ.get("BGONE_PROBE_START")
report = {"runs": []}


''' + probes.KRITA_FINISH_SNIPPET + probes.KRITA_NODES_SNIPPET + r'''

def scene(doc):
    return sorted([n.name(), n.type(), pixel_digest(n)] for n in all_nodes(doc))


@guard
def start():
    app = Krita.instance()
    from bgone_krita.docker import DOCKER_ID, BgoneDocker
    docker = next((d for d in app.dockers() if d.objectName() == DOCKER_ID and isinstance(d, BgoneDocker)), None)
    report["docker_widget"] = docker is not None
    action = app.action("bgone_refine_edges")
    report["action_text"] = action.text() if action is not None else None
    if docker is None:
        finish(3)
    docker.show()
    doc = app.openDocument(IMAGE)
    app.activeWindow().addView(doc)
    layer = [n for n in doc.topLevelNodes() if n.type() == "paintlayer"][0]
    mask = doc.createTransparencyMask("Painted mask")
    mask.setPixelData(open(START, "rb").read(), 0, 0, doc.width(), doc.height())
    layer.addChildNode(mask, None)
    doc.waitForDone()
    steps = ["mask", "layer"]

    @guard
    def next_step():
        if not steps:
            finish(0 if all(r.get("state") == "done" for r in report["runs"]) else 4)
            return
        output = steps.pop(0)
        target = [n for n in layer.childNodes() if n.type() == "transparencymask"][0]
        doc.setActiveNode(target)
        step = {"output": output, "states": [], "before": scene(doc)}
        report["runs"].append(step)
        controller = docker.controller

        def on_state(st, fraction, text):
            step["states"].append([st, round(fraction, 3), text])
            if st in ("done", "error", "cancelled"):
                step["state"] = st
                controller.listeners.remove(on_state)
                if st != "done":
                    QTimer.singleShot(0, lambda: finish(4))
                    return
                QTimer.singleShot(1000, lambda: undo_until(step, 0))

        controller.listeners.append(on_state)
        docker.refine_output_box.setCurrentIndex(docker.refine_output_box.findData(output))
        docker.refine_button.click()

    @guard
    def undo_until(step, done):
        doc.waitForDone()
        if done == 0:
            step["after_run"] = scene(doc)
        if scene(doc) == step["before"] or done >= 3:
            step["undos"] = done if scene(doc) == step["before"] else None
            QTimer.singleShot(300, next_step)
            return
        undo = Krita.instance().action("edit_undo")
        step.setdefault("undo_texts", []).append(undo.text())
        undo.trigger()
        QTimer.singleShot(500, lambda: undo_until(step, done + 1))

    QTimer.singleShot(1000, next_step)


''' + probes.KRITA_PROBE_EXTENSION_SNIPPET


def test_docker_section_in_full_krita_and_undo(hostroot, report):
    """Full krita under xvfb: the docker's Refine Edges button on the selected transparency
    mask, then Edit > Undo until the document is back where it was."""
    install_probe(hostroot, PROBE, PROBE_SOURCE, "bgone refine probe")
    env = {"HOME": HOME, "BGONE_REFINE_PROBE_REPORT": f"{JOB}/probe.json", "BGONE_PROBE_IMAGE": f"{JOB}/photo.png",
           "BGONE_PROBE_START": f"{JOB}/start.alpha"}
    probe = run_full_krita(hostroot, f"{JOB}/probe.json", env)
    assert probe["docker_widget"] is True and probe["action_text"] == "Refine Edges"
    runs = {r["output"]: r for r in probe["runs"]}
    for output in ("mask", "layer"):
        run = runs[output]
        assert run.get("state") == "done" and "Refined the edges" in run["states"][-1][2], run
        assert " s on the CPU. Edit > Undo" in run["states"][-1][2], run["states"][-1]  # the engine said so
        assert run["after_run"] != run["before"]
    assert runs["layer"]["undos"] == 1, runs["layer"]  # a new layer: one Edit > Undo
    # replacing a mask is Krita's "add" and "remove" commands: two Edit > Undo restore it
    assert runs["mask"]["undos"] == 2, runs["mask"]
    assert probe["exit"] == 0

"""The docker's Refine Edges section under real Qt (PyQt5 and PyQt6), as in test_krita_qt.py."""

from __future__ import annotations

import test_krita_qt as base

from bgone_client import choices

gui = base.gui  # the same fixture: a fake GUI Krita with bgone_krita registered


def test_refine_section_offers_the_shared_settings_and_runs(gui):
    doc, layer = base.photo_doc(gui)
    mask = doc.createTransparencyMask("Painted")
    mask.setPixelData(bytes(24 * 16), 0, 0, 24, 16)
    mask.parent = layer
    layer.children.append(mask)
    doc.active = mask
    docker = gui.app.docker_factories[0].createDockWidget()
    assert list(docker.refine_spins) == [s[0] for s in choices.REFINE_SETTINGS]
    band = docker.refine_spins["band"]
    assert band.value() == 0 and band.specialValueText() == "Automatic"
    assert [docker.refine_output_box.itemData(i) for i in range(docker.refine_output_box.count())] == list(
        choices.REFINE_OUTPUTS
    )
    docker.refine_spins["grow"].setValue(-2)  # saved as it changes
    assert gui.app.readSetting("bgone", "refine_edges_grow", "") == "-2"
    docker.refine_button.click()
    assert not docker.refine_button.isEnabled() and not docker.run_button.isEnabled()
    base.pump(gui, lambda: docker.refine_button.isEnabled())
    assert "Refined the edges" in docker.status.text(), docker.status.text()
    call = gui.worker.calls[-1]
    assert (call["kind"], call["band"], call["grow"], call["output"]) == ("refine", None, -2, "alpha")
    assert [n.name() for n in layer.childNodes()] == ["Painted"] and layer.childNodes()[0] is not mask


def test_tools_menu_refine_action_works_with_the_docker_closed(gui):
    doc, layer = base.photo_doc(gui)
    gui.extension.trigger_refine()  # the layer's own alpha
    base.pump(gui, lambda: gui.app.messages and "Refined the edges" in gui.app.messages[-1])
    assert any(m.startswith(choices.stage_text("refine")) for m in gui.app.messages[:-1])  # while it works
    assert "Refined the edges" in gui.app.messages[-1]
    assert [n.name() for n in doc.topLevelNodes()] == ["photo", "photo (edges refined)"]

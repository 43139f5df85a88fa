"""GIMP 3 "Refine Edges…" (plug-in-bgone-refine-edges) against the fake GIMP.

The plug-in file registers both procedures; these tests drive the second one with the shared
fake worker (tests/fakeworker.py: the refined alpha is the red subject inside the region, the
given mask outside it). The real GIMP runs in tests/hosts/test_gimp_refine_host.py.
"""

from __future__ import annotations

import pytest

import test_gimp_plugin as base
from bgone_client import ClientError, choices
from fakeworker import subject
from test_gimp_plugin import add_layer, scene, status

fake, plugin, worker = base.fake, base.plugin, base.worker  # the same fixtures


def run_refine(plugin, fake, img, drawables, **args):
    proc = plugin.BgoneRemoveBackground().do_create_procedure(plugin.REFINE_PROC_NAME)
    cfg = proc.create_config()
    for k, v in args.items():
        cfg.set_property(k, v)
    return proc.run_func(proc, fake.Gimp.RunMode.NONINTERACTIVE, img, drawables, cfg, None)


def masked_layer(fake, img, w=24, h=16, offsets=(0, 0), fill=0):
    """A photo layer (red square on blue) whose mask is ``fill`` everywhere: the refined mask
    (the fake's red subject) differs from it wherever the square is."""
    lay = add_layer(fake, img, w, h, offsets=offsets)
    lay.add_alpha()
    lay.mask = lay.create_mask(fake.Gimp.AddMaskType.BLACK if fill == 0 else fake.Gimp.AddMaskType.WHITE)
    return lay


def red(lay, x, y):
    return subject(*lay._rgba_at(x, y)[:3])


def test_both_procedures_are_registered_in_the_same_menus(plugin, fake):
    pi = plugin.BgoneRemoveBackground()
    assert pi.do_query_procedures() == ["plug-in-bgone-remove-background", "plug-in-bgone-refine-edges"]
    remove = pi.do_create_procedure(plugin.PROC_NAME)
    proc = pi.do_create_procedure(plugin.REFINE_PROC_NAME)
    assert proc.menu_label == "Refine Edges…" and proc.menu_paths == remove.menu_paths
    assert proc.run_func is plugin.run_refine and remove.run_func is plugin.run
    args = proc.arguments
    assert list(args) == ["band", "grow", "feather", "output"]
    assert args["band"] == {"kind": "int", "default": 0, "range": (0, 1000)}
    assert args["grow"]["range"][0] < 0 < args["grow"]["range"][1]
    assert args["output"] == {"kind": "choice", "default": "mask", "choices": ["mask", "layer"]}


def test_refines_the_whole_mask_in_one_undo_step(plugin, fake, worker):
    img = scene(fake)
    lay = masked_layer(fake, img)
    res = run_refine(plugin, fake, img, [lay.mask], band=7, grow=-2, feather=3)  # the mask selected
    assert status(fake, res) == fake.Gimp.PDBStatusType.SUCCESS, res.values
    (w,) = worker.instances
    (call,) = w.calls
    assert w.persistent and w.closed
    assert (call["kind"], call["width"], call["height"], call["output"]) == ("refine", 24, 16, "alpha")
    assert (call["band"], call["grow"], call["feather"], call["region"]) == (7, -2, 3, None)
    assert call["mask"] == bytes(24 * 16) and len(call["rgba"]) == 24 * 16 * 4
    want = bytes(red(lay, x, y) for y in range(16) for x in range(24))
    assert bytes(lay.mask.values) == want and any(want)
    assert img.undo_groups == 1 and img.undo_depth == 0 and img.ungrouped == []
    assert ("merge_shadow", "photo mask", True) in img.log
    assert res.values[1] == "cpu" and res.values[2].startswith("Refined the edges in ")  # matting: the CPU
    assert fake.progress.events[0] == ("init", choices.REFINE_PROGRESS_TEXT)


def test_band_0_means_automatic(plugin, fake, worker):
    img = scene(fake)
    lay = masked_layer(fake, img)
    assert status(fake, run_refine(plugin, fake, img, [lay])) == fake.Gimp.PDBStatusType.SUCCESS
    call = worker.instances[0].calls[0]
    assert (call["band"], call["grow"], call["feather"]) == (None, 0, 0)


def test_a_selection_is_the_region_and_nothing_outside_it_changes(plugin, fake, worker):
    img = scene(fake, size=(30, 20))
    lay = masked_layer(fake, img, w=24, h=16, offsets=(-4, 6), fill=255)
    img.select_rectangle(0, 8, 10, 20)  # canvas; the layer hangs off the left and bottom edges
    res = run_refine(plugin, fake, img, [lay])
    assert status(fake, res) == fake.Gimp.PDBStatusType.SUCCESS, res.values
    (call,) = worker.instances[0].calls
    inside = [(x, y) for y in range(16) for x in range(24) if 0 <= x - 4 < 10 and 8 <= y + 6 < 20]
    want_region = bytes(255 if (x, y) in inside else 0 for y in range(16) for x in range(24))
    assert call["region"] == want_region  # the selection over the layer, 0 off the canvas
    for y in range(16):
        for x in range(24):
            v = lay.mask.values[y * 24 + x]
            assert v == (red(lay, x, y) if (x, y) in inside else 255), (x, y)
    assert any(lay.mask.values[y * 24 + x] == 0 for x, y in inside)  # something did change


def test_a_selection_away_from_the_layer_is_refused(plugin, fake, worker):
    img = scene(fake, size=(40, 30))
    lay = masked_layer(fake, img, w=10, h=10)
    img.select_rectangle(20, 20, 5, 5)
    before = img.snapshot()
    res = run_refine(plugin, fake, img, [lay])
    assert status(fake, res) == fake.Gimp.PDBStatusType.EXECUTION_ERROR
    assert "selection does not touch" in res.index(1) and img.snapshot() == before


def test_a_layer_without_a_mask_says_what_to_do(plugin, fake, worker):
    img = scene(fake)
    masked = masked_layer(fake, img)
    bare = add_layer(fake, img, 10, 8, name="bare")
    before = img.snapshot()
    res = run_refine(plugin, fake, img, [masked, bare])
    assert status(fake, res) == fake.Gimp.PDBStatusType.EXECUTION_ERROR
    message = res.index(1)
    assert "'bare'" in message and choices.NO_MASK_TEXT in message and "Traceback" not in message
    assert img.snapshot() == before
    assert all(not w.calls for w in worker.instances)  # refused before any work


def test_an_engine_error_on_the_second_layer_leaves_the_image_untouched(plugin, fake, worker):
    img = scene(fake)
    one = masked_layer(fake, img)
    two = masked_layer(fake, img)
    worker.fail = ClientError("bad_argument", "Cannot adjust the mask: feather must be 0 or more.")
    worker.fail_on_call = 2
    before = img.snapshot()
    res = run_refine(plugin, fake, img, [one, two])
    assert status(fake, res) == fake.Gimp.PDBStatusType.EXECUTION_ERROR
    assert "feather must be 0 or more" in res.index(1)
    assert img.snapshot() == before and img.undo_groups == 0


def test_layer_output_adds_the_refined_cutout_above(plugin, fake, worker):
    img = scene(fake)
    lay = masked_layer(fake, img, offsets=(3, 2))
    mask_before = bytes(lay.mask.values)
    res = run_refine(plugin, fake, img, [lay], output="layer")
    assert status(fake, res) == fake.Gimp.PDBStatusType.SUCCESS, res.values
    assert worker.instances[0].calls[0]["output"] == "rgba"
    new = img.layers[0]
    assert new is not lay and new.name == "photo (edges refined)" and new.offsets == (3, 2)
    alphas = bytes(new._rgba_at(x, y)[3] for y in range(16) for x in range(24))
    assert alphas == bytes(red(lay, x, y) for y in range(16) for x in range(24))
    assert bytes(lay.mask.values) == mask_before  # the source keeps its mask
    assert img.undo_groups == 1 and img.ungrouped == []


@pytest.mark.parametrize(("args", "words"), [({"output": "selection"}, "mask, layer"),
                                             ({"grow": "two"}, "Grow")])
def test_bad_arguments_are_messages(plugin, fake, worker, args, words):
    img = scene(fake)
    lay = masked_layer(fake, img)
    before = img.snapshot()
    res = run_refine(plugin, fake, img, [lay], **args)
    assert status(fake, res) == fake.Gimp.PDBStatusType.EXECUTION_ERROR
    assert words in res.index(1) and img.snapshot() == before

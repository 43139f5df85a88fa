"""bgone_client.choices and bgone_client.layerops: the one definition of what both plug-ins
offer and say, and of which part of a layer they send."""

from __future__ import annotations

import pytest

from bgone import catalog, pipeline, registry, store
from bgone_client import choices, layerops

NC = {"name": "rmbg", "size_label": "176 MB", "installed": False, "license": "CC BY-NC 4.0",
      "commercial_use": False, "description": "Best edges"}  # fmt: skip
OK = {"name": "u2netp", "size_label": "4.6 MB", "installed": True, "license": "Apache-2.0",
      "commercial_use": True, "default": True}  # fmt: skip


def test_the_core_checks_the_levels_the_plugins_offer():
    assert pipeline.REFINE_LEVELS is choices.REFINE_LEVELS == ("none", "fast", "best")
    assert pipeline.DEFAULT_REFINE == choices.DEFAULT_REFINE in choices.REFINE_LEVELS
    assert choices.DEFAULT_OUTPUT in choices.OUTPUTS == ("mask", "selection", "layer")
    for _, label, help_text in choices.REFINE_CHOICES + choices.OUTPUT_CHOICES:
        assert label and help_text.endswith(".")


def test_model_rows():
    assert choices.model_label(OK) == "u2netp (4.6 MB, installed)"
    assert choices.model_label(NC) == "rmbg (176 MB, non-commercial)"  # short: a narrow list shows it whole
    assert choices.model_label(dict(NC, commercial_use=True)) == "rmbg (176 MB)"
    assert choices.model_label({"name": "mine"}) == "mine"
    assert "CC BY-NC 4.0" in choices.licence_warning(NC) and "commercial" in choices.licence_warning(NC)
    assert choices.licence_warning(OK) == "" and choices.licence_warning(None) == ""
    notes = choices.model_notes(NC)
    assert "Best edges" in notes and "176 MB will be downloaded" in notes and "Non-commercial" in notes
    assert "Licence: Apache-2.0" in choices.model_notes(OK)
    assert choices.model_notes(None) == "bgone takes the best model installed."


@pytest.mark.parametrize("installed", [set(), {"u2netp"}, {"modnet", "u2net"}, {"u2netp", "isnet-general-use"}])
def test_the_default_entry_names_the_model_the_engine_takes(monkeypatch, installed):
    """choices.best_installed on the worker's model list picks what the engine's own rule
    (pipeline.resolve_model with no name) runs, whatever is installed."""
    monkeypatch.setattr(store, "is_installed", lambda spec: spec.name in installed)
    rows = catalog.model_rows()
    engine = pipeline.resolve_model(None).name
    assert choices.best_installed(rows)["name"] == engine
    label = choices.default_model_label(rows)
    assert label == f"Default ({engine})"
    notes = choices.default_model_notes(rows)
    assert f"now {engine}." in notes and registry.get_model(engine).description in notes
    assert ("will be downloaded once" in notes) is not installed  # nothing installed: the default downloads


def test_the_default_entry_before_the_model_list_is_known():
    assert choices.best_installed([]) is None
    assert choices.default_model_label([]) == choices.DEFAULT_MODEL_LABEL
    assert choices.default_model_label([NC, OK]) == "Default (u2netp)"


def test_model_descriptions_are_written_for_users():
    """What the hosts show under a model (its description) says what it is good for, not how
    this project tested it."""
    for row in catalog.model_rows():
        text = row["description"]
        for dev in ("Not run here", "README", "fp16", "px input", "export of it"):
            assert dev not in text, f"{row['name']}: {text!r}"
        if row["commercial_use"] is False:
            assert "Non-commercial" in text


def test_a_menu_never_preselects_a_model_it_would_have_to_download():
    models = [NC, OK]
    assert choices.pick_model(models, "rmbg") == "rmbg"  # the user's own choice stays
    assert choices.pick_model(models, "") == ""  # else the default entry: best installed
    assert choices.pick_model(models, "gone") == "" and choices.pick_model([], None) == ""


def test_stage_text():
    assert choices.stage_text("inference") == "Finding the subject"
    assert choices.stage_text("inference", "Own words") == "Own words"
    assert choices.stage_text("new_stage") == "New stage"


def test_process_region_and_request_output():
    pr = layerops.process_region
    assert pr((0, 0, 40, 30), None) == (0, 0, 40, 30)
    assert pr((5, 3, 20, 10), (0, 0, 0, 0)) == (5, 3, 20, 10)  # an empty selection: all of it
    assert pr((5, 3, 20, 10), (10, 6, 5, 2)) == (10, 6, 5, 2)
    assert pr((5, 3, 20, 10), (30, 20, 10, 10)) is None
    assert pr((0, 0, 0, 5), None) is None
    assert layerops.REQUEST_OUTPUT == {"mask": "alpha", "selection": "alpha", "layer": "rgba"}
    assert set(layerops.REQUEST_OUTPUT) == set(choices.OUTPUTS)


def test_a_missing_model_is_explained_in_the_hosts_words():
    for kind in ("model_missing", "download_failed"):
        hint = choices.host_hint(kind, "Run `bgone models import u2net FILE`.")
        assert "bgone models" not in hint and "installed model" in hint
    assert choices.host_hint("bad_image", "Scale it down.") == "Scale it down."


def test_a_download_shows_how_far_it_is():
    assert choices.progress_text("download", 0.42) == "Downloading the model (needed once): 42%"
    assert choices.progress_text("download", 1.0) == "Downloading the model (needed once)"
    assert choices.progress_text("inference", 0.5) == "Finding the subject"


def test_refine_edges_texts_and_settings():
    assert choices.no_mask_message(["photo"]) == (
        "'photo' has no mask to refine. Run Remove Background first or add a layer mask."
    )
    assert "'a', 'b' have no mask" in choices.no_mask_message(["a", "b"])
    assert [s[0] for s in choices.REFINE_SETTINGS] == ["band", "grow", "feather"]
    for _ident, _label, help_text, low, high, default in choices.REFINE_SETTINGS:
        assert low <= default <= high and help_text
    assert (choices.band_or_auto(0), choices.band_or_auto(None), choices.band_or_auto(12)) == (None, None, 12)
    assert set(choices.REFINE_OUTPUTS) <= set(layerops.REQUEST_OUTPUT)


def test_which_device_ran_it_in_a_few_words():
    assert choices.took_text(2.14, "cpu") == "in 2.1 s on the CPU"
    assert choices.took_text(0.5, "cuda") == "in 0.5 s on the GPU (CUDA)"
    assert choices.device_text("tensorrt") == "on TENSORRT"  # a device the words do not know yet
    assert choices.device_text(None) == "" and choices.took_text(3, None) == "in 3.0 s"
    failed = {"gpu": "NVIDIA GPU", "reason": "not_started", "note": "CUDA could not start."}
    assert choices.device_text("cpu", failed) == (
        "on the CPU (an NVIDIA GPU is present, but its runtime could not start: see README 'Using a GPU')"
    )
    assert choices.gpu_note(failed) == "CUDA could not start." and choices.gpu_note(None) == ""

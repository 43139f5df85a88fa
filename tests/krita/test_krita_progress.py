"""bgone_krita.progress: one bar over the engine's stages, never going back."""

from __future__ import annotations

import pytest


@pytest.fixture
def progress(kr):
    from bgone_krita import progress

    return progress


def test_stages_fill_the_bar_in_order_and_never_go_back(progress):
    Tracker, REMOVE_STAGES = progress.Tracker, progress.REMOVE_STAGES  # noqa: N806
    track = Tracker(REMOVE_STAGES)
    seen = [track(stage, f) for stage, f in [
        ("inference", 0.0), ("inference", 1.0), ("upsample", 0.0), ("upsample", 1.0),
        ("refine", 0.0), ("refine", 0.5), ("refine", 1.0), ("foreground", 0.0), ("foreground", 1.0)]]  # fmt: skip
    assert seen == sorted(seen), seen
    assert 0.0 < seen[1] < seen[3] < seen[5] < seen[6] < 1.0 and seen[-1] == 1.0
    assert track("inference", 0.0) == 1.0, "a late message must not move the bar back"
    assert track("something new", 0.3) == 1.0  # an unknown stage keeps the bar where it is


def test_a_download_moves_the_bar_before_the_model_runs(progress):
    Tracker, REMOVE_STAGES = progress.Tracker, progress.REMOVE_STAGES  # noqa: N806
    track = Tracker(REMOVE_STAGES)
    steps = [track("download", f) for f in (0.0, 0.25, 0.5, 1.0)]
    assert steps == sorted(steps) and steps[-1] - steps[0] > 0.25
    assert track("inference", 1.0) > steps[-1]


def test_refine_edges_spends_most_of_its_bar_refining(progress):
    Tracker, REFINE_STAGES = progress.Tracker, progress.REFINE_STAGES  # noqa: N806
    track = Tracker(REFINE_STAGES)
    assert track("refine", 0.0) < 0.25 and track("refine", 0.5) > 0.4 and track("refine", 1.0) < 1.0
    assert track("foreground", 1.0) == 1.0


def test_a_stage_that_never_comes_leaves_no_gap(progress):
    """No download (the model is installed): the model's stage starts the bar at 0, and a
    job without refinement still fills it."""
    track = progress.Tracker(progress.REMOVE_STAGES)
    assert track("inference", 0.0) == 0.0 and 0.0 < track("inference", 1.0) < 0.6
    assert track("upsample", 1.0) <= track("foreground", 0.5) < track("foreground", 1.0) == 1.0

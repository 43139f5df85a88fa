"""What the user reads: model labels, licence warnings, progress and result lines (pure)."""

from __future__ import annotations

from typing import Optional

STAGE_WORDS = {
    "start": "Starting bgone's engine",
    "load": "Loading the model",
    "download": "Downloading the model (needed once)",
    "inference": "Finding the subject",
    "upsample": "Sharpening the mask",
    "refine": "Refining the edges",
    "foreground": "Cleaning edge colours",
}


def stage_text(stage: str, message: str) -> str:
    return message or STAGE_WORDS.get(stage, stage.capitalize() if stage else "Working")


def done_text(output: str, layer_name: str, seconds: float) -> str:
    what = {
        "mask": f"Added a transparency mask to {layer_name!r}",
        "layer": f"Added the cutout of {layer_name!r} as a new layer above it (hide the original to see it)",
        "selection": f"Selected the subject of {layer_name!r}",
    }[output]
    return f"{what} in {seconds:.1f} s. Edit > Undo (Ctrl+Z) takes it back."


def model_label(info: dict) -> str:
    """'u2netp: 4.6 MB, installed' / 'birefnet-general: 973 MB, downloads on first use'."""
    size = info.get("size_label") or ""
    state = "installed" if info.get("installed") else "downloads on first use"
    extra = "" if info.get("commercial_use", True) else "non-commercial"
    return "{}: {}".format(info.get("name", "?"), ", ".join(p for p in (size, state, extra) if p))


def licence_warning(info: Optional[dict]) -> str:
    if not info or info.get("commercial_use", True):
        return ""
    return "Non-commercial licence (%s): do not use its results in commercial work." % (
        info.get("license") or "see the model's page"
    )

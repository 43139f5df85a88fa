"""What both plug-ins offer and say: the choices, their labels and help texts, the progress
stage texts and the model row shown to a user. One definition, so the hosts cannot disagree;
the core takes its refinement levels from here too."""

from __future__ import annotations

# (id, label, help text). The ids are what the engine and the plug-ins' settings store.
REFINE_CHOICES = (
    ("none", "None (fastest)", "The model's mask, sharpened along the picture's edges."),
    ("fast", "Fast (good edges)", "Refines hair, fur and other soft edges at reduced resolution."),
    ("best", "Best (hair and fur, slower)", "Refines soft edges at full resolution. Takes longer."),
)
OUTPUT_CHOICES = (
    ("mask", "Mask", "Hide the background with a mask on the layer."),
    ("selection", "Selection", "Select the subject, replacing the selection."),
    ("layer", "New layer", "Add a new layer holding the cut-out subject, with cleaned edge colours."),
)
REFINE_LEVELS, DEFAULT_REFINE = tuple(c[0] for c in REFINE_CHOICES), "fast"
OUTPUTS, DEFAULT_OUTPUT = tuple(c[0] for c in OUTPUT_CHOICES), "mask"

# The settings' names, the same in both hosts (GIMP adds its mnemonic underscore to these).
MODEL_LABEL, REFINE_LABEL, OUTPUT_LABEL = "Model", "Edge refinement", "Output"

# The model entry that names no model: the engine then takes the best installed one
# (best_installed); the label names that model once the model list is known.
DEFAULT_MODEL_LABEL = "Default (best installed model)"

# The arguments' help, shown as tooltips next to the choices above.
MODEL_HELP = "The model that finds the subject. The default takes the best model already installed."
REFINE_HELP = "How much care goes into soft edges such as hair and fur. More care takes longer."
OUTPUT_HELP = "What bgone makes: a mask on the layer, a selection, or a new cut-out layer."
REFINE_OUTPUT_HELP = "What bgone makes: the refined mask in its place, or a new cut-out layer."

# A second Remove Background on a layer that already has a mask: both hosts ask first, and the
# mask bgone adds is named so that it reads as a mask in the Layers list.
MASK_NAME = "bgone mask"
REPLACE_MASK_TITLE = "Replace the mask?"
REPLACE_MASK_BUTTON = "Replace"


def replace_mask_question(names: list) -> tuple:
    """(question, detail) a host asks before a new mask replaces the existing ones."""
    quoted = ", ".join("'{}'".format(n) for n in names)
    return (
        "Replace the existing mask?",
        "{} already {} a mask. bgone's new mask replaces it, so the two do not add up and thin "
        "the edges. Edit > Undo brings the old one back.".format(quoted, "has" if len(names) == 1 else "have"),
    )

# Refine Edges (issue 13): what it can write, and its settings as
# (id, label, help, minimum, maximum, default), whole pixels. Band 0 means automatic.
REFINE_EDGES_LABEL = "Refine Edges"
REFINE_OUTPUT_CHOICES = (
    ("mask", "Mask", "Replace the mask with the refined one."),
    ("layer", "New layer", "Add a new layer holding the cut-out with the refined edges and "
     "cleaned edge colours."),
)
REFINE_OUTPUTS, DEFAULT_REFINE_OUTPUT = tuple(c[0] for c in REFINE_OUTPUT_CHOICES), "mask"
REFINE_SETTINGS = (
    ("band", "Edge band (px)", "Width of the band re-estimated around hard edges; "
     "0 = automatic (1 % of the image's long side).", 0, 1000, 0),
    ("grow", "Grow (px)", "Grow the refined mask by this many pixels; negative shrinks it.",
     -200, 200, 0),
    ("feather", "Feather (px)", "Soften the refined mask's edge over this many pixels.", 0, 200, 0),
)
NO_MASK_TEXT = "Run Remove Background first or add a layer mask"
REFINE_PROGRESS_TEXT = "Refining edges…"


def no_mask_message(names: list) -> str:
    """What a user reads when a layer has no mask to refine."""
    quoted = ", ".join("'{}'".format(n) for n in names)
    return "{} {} no mask to refine. {}.".format(
        quoted, "has" if len(names) == 1 else "have", NO_MASK_TEXT
    )


def band_or_auto(band: object) -> int | None:
    """A band setting as the engine takes it: None (automatic) for 0, empty or missing."""
    return int(band) if band else None  # type: ignore[call-overload]

# Which device ran a request (the result's "device", Worker.last_device) and, when a GPU is
# present but the CPU ran it, why in a few words (Worker.last_gpu_unused["reason"]); the
# engine's full explanation (its "note") is for a tooltip or details.
DEVICE_NAMES = {"cpu": "the CPU", "cuda": "the GPU (CUDA)", "dml": "the GPU (DirectML)",
                "coreml": "the GPU (Core ML)"}  # fmt: skip
GPU_UNUSED_TEXTS = {
    "no_runtime": "{gpu} is present, but its runtime is not installed: see README 'Using a GPU'",
    "not_started": "{gpu} is present, but its runtime could not start: see README 'Using a GPU'",
}


def device_text(device: str | None, gpu_unused: dict | None = None) -> str:
    """'on the CPU', with the short reason in brackets when a GPU sat idle; '' when the
    engine did not say (an older one)."""
    if not device:
        return ""
    text = "on " + DEVICE_NAMES.get(device, device.upper())
    if gpu_unused and gpu_unused.get("gpu"):
        reason = GPU_UNUSED_TEXTS.get(gpu_unused.get("reason") or "", GPU_UNUSED_TEXTS["not_started"])
        text += " (" + reason.format(gpu="an " + gpu_unused["gpu"]) + ")"  # an NVIDIA/Apple GPU
    return text


def took_text(seconds: float, device: str | None = None, gpu_unused: dict | None = None) -> str:
    """'in 2.1 s on the CPU': how long a request took and where, for the hosts' done lines."""
    return " ".join(p for p in ("in {:.1f} s".format(seconds), device_text(device, gpu_unused)) if p)


def gpu_note(gpu_unused: dict | None) -> str:
    """The engine's full reason a present GPU was not used (what to install, and where), for a
    tooltip; "" when none."""
    return (gpu_unused or {}).get("note") or ""


STAGE_TEXTS = {
    "start": "Starting bgone's engine",
    "load": "Loading the model",
    "download": "Downloading the model (needed once)",
    "inference": "Finding the subject",
    "upsample": "Sharpening the mask",
    "refine": "Refining hair and fur edges",
    "foreground": "Cleaning edge colours",
}


# What a plug-in's user can do about a missing model, in the host's words (the engine's own
# hints name `bgone models ...` commands, which a GIMP or Krita user does not have at hand).
HOST_HINTS = {
    "model_missing": "Choose an installed model, or connect to the internet so bgone can "
    "download this one (once).",
    "download_failed": "Choose an installed model, or try again once the internet connection "
    "works (bgone downloads each model once).",
}


def host_hint(kind: str, hint: str) -> str:
    """The hint a plug-in shows for an engine error of this kind."""
    return HOST_HINTS.get(kind, hint)


def progress_text(stage: str, fraction: float) -> str:
    """The progress line for a stage; a download also says how far it is."""
    text = stage_text(stage)
    return f"{text}: {fraction:.0%}" if stage == "download" and 0.0 < fraction < 1.0 else text


def stage_text(stage: str, message: str = "") -> str:
    """The line a progress bar shows: the engine's own words, else the stage's."""
    return message or STAGE_TEXTS.get(stage, stage.replace("_", " ").capitalize() or "Working")


def model_label(info: dict) -> str:
    """One short line per model, so that a narrow list shows it whole: 'u2netp (4.6 MB,
    installed)', 'u2net (176 MB)', 'x (1024 MB, non-commercial)'. Whether a model downloads
    on first use, and what it is for, are in its notes (model_notes)."""
    state = "installed" if info.get("installed") else ""
    licence = "" if info.get("commercial_use", True) is not False else "non-commercial"
    parts = [p for p in (info.get("size_label") or "", state, licence) if p]
    return "{} ({})".format(info.get("name", "?"), ", ".join(parts)) if parts else info.get("name", "?")


def best_installed(models: list) -> dict | None:
    """The model the engine takes when none is named, from the engine's model list (rows in
    the engine's order): the default model when installed, else the first installed one, else
    the default (which then downloads). bgone.pipeline.resolve_model is the same rule; the
    client tests hold the two together. None when the list is empty."""
    default = next((m for m in models if m.get("default")), None)
    if default is not None and default.get("installed"):
        return default
    return next((m for m in models if m.get("installed")), default)


def default_model_label(models: list) -> str:
    """The default entry, naming the model it stands for and short enough for a narrow docker:
    'Default (u2netp)'; its notes (default_model_notes) say why that one."""
    best = best_installed(models)
    return DEFAULT_MODEL_LABEL if best is None else "Default ({})".format(best.get("name", "?"))


def licence_warning(info: dict | None) -> str:
    """The warning under a model whose licence forbids commercial use; "" for the others."""
    if not info or info.get("commercial_use", True) is not False:
        return ""
    return "Non-commercial licence ({}): do not use its results in commercial work.".format(
        info.get("license") or "see the model's page"
    )


def default_model_notes(models: list) -> str:
    """The default entry's notes: which model it takes now and why, then that model's notes."""
    best = best_installed(models)
    if best is None:
        return "bgone takes the best model installed."
    if best.get("installed"):
        lead = "bgone takes the best model installed: now {}.".format(best.get("name", "?"))
    else:
        lead = "No model is installed yet: bgone takes its default, now {}.".format(best.get("name", "?"))
    return lead + "\n" + model_notes(best)


def model_notes(info: dict | None) -> str:
    """The text under the model list (and a list entry's tooltip): description, what a first
    use downloads, the licence."""
    if not info:
        return "bgone takes the best model installed."
    lines = [info["description"]] if info.get("description") else []
    if not info.get("installed"):
        lines.append(
            "Not installed yet: {} will be downloaded once, the first time it is used.".format(
                info.get("size_label") or "the model"
            )
        )
    warning = licence_warning(info)
    if warning:
        lines.append(warning)
    elif info.get("license"):
        lines.append("Licence: {}".format(info["license"]))
    return "\n".join(lines)


def pick_model(models: list, wanted: str | None) -> str:
    """The model a menu preselects: ``wanted`` when it is a known model, else "" (the default
    entry: the engine then takes its best installed model, never one it must download)."""
    names = [m.get("name") for m in models]
    return wanted if wanted and wanted in names else ""

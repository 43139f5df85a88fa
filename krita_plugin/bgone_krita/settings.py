"""The user's choices (model, edge refinement, output), kept in Krita's own settings file."""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

from bgone_client.choices import DEFAULT_OUTPUT, DEFAULT_REFINE, OUTPUTS, REFINE_LEVELS

from .errors import RemoveBackgroundError

GROUP = "bgone"


class Options(NamedTuple):
    model: Optional[str]  # None = the engine's default (an installed model when there is one)
    refine: str
    output: str


def read_options(app: Any) -> Options:
    """The saved choices; anything unreadable falls back to the defaults."""
    model = app.readSetting(GROUP, "model", "") or None
    refine = app.readSetting(GROUP, "refine", DEFAULT_REFINE)
    output = app.readSetting(GROUP, "output", DEFAULT_OUTPUT)
    return Options(
        model,
        refine if refine in REFINE_LEVELS else DEFAULT_REFINE,
        output if output in OUTPUTS else DEFAULT_OUTPUT,
    )


def save_options(app: Any, options: Options) -> None:
    app.writeSetting(GROUP, "model", options.model or "")
    app.writeSetting(GROUP, "refine", options.refine)
    app.writeSetting(GROUP, "output", options.output)


def resolve_options(app: Any, model: Optional[str], refine: Optional[str], output: Optional[str]) -> Options:
    """A script's arguments over the saved choices (None = saved); bad values are refused."""
    saved = read_options(app)
    opts = Options(
        saved.model if model is None else (model or None),
        saved.refine if refine is None else refine,
        saved.output if output is None else output,
    )
    if opts.refine not in REFINE_LEVELS:
        raise RemoveBackgroundError(
            f"Unknown edge refinement level {opts.refine!r}.",
            "Use one of: " + ", ".join(REFINE_LEVELS) + ".",
            kind="bad_argument",
        )
    if opts.output not in OUTPUTS:
        raise RemoveBackgroundError(
            f"Unknown output {opts.output!r}.",
            "Use one of: " + ", ".join(OUTPUTS) + ".",
            kind="bad_argument",
        )
    return opts

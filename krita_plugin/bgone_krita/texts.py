"""What the Krita user reads beyond the shared choices and stage texts (bgone_client.choices):
the line that says what was done, and the one that says it was undone."""

from __future__ import annotations

UNDONE_TEXT = "Undone. Select a layer and press Remove background."


def done_text(output: str, layer_name: str, took: str) -> str:
    """``took``: how long and where, choices.took_text ("in 2.1 s on the CPU")."""
    what = {
        "mask": f"Added a transparency mask to {layer_name!r}",
        "layer": f"Added the cutout of {layer_name!r} as a new layer above it (hide the original to see it)",
        "selection": f"Selected the subject of {layer_name!r}",
    }[output]
    return f"{what} {took}. Edit > Undo (Ctrl+Z) takes it back."

"""What the Krita user reads beyond the shared choices and stage texts (bgone_client.choices):
the line that says what was done."""

from __future__ import annotations


def done_text(output: str, layer_name: str, seconds: float) -> str:
    what = {
        "mask": f"Added a transparency mask to {layer_name!r}",
        "layer": f"Added the cutout of {layer_name!r} as a new layer above it (hide the original to see it)",
        "selection": f"Selected the subject of {layer_name!r}",
    }[output]
    return f"{what} in {seconds:.1f} s. Edit > Undo (Ctrl+Z) takes it back."

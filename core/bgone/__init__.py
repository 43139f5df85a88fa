"""bgone: local background removal with hair-and-fur edges.

Imports are lazy so that ``import bgone`` never fails or pays for onnxruntime/numba up front.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .adjust import adjust_mask  # noqa: F401
    from .pipeline import predict_alpha, remove  # noqa: F401
    from .refine_edges import refine_mask  # noqa: F401

__all__ = ["remove", "predict_alpha", "refine_mask", "adjust_mask", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("remove", "predict_alpha", "cutout"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "refine_mask":
        from .refine_edges import refine_mask

        return refine_mask
    if name == "adjust_mask":
        from .adjust import adjust_mask

        return adjust_mask
    raise AttributeError(name)

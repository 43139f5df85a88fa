"""bgone: local background removal with hair-and-fur edges.

Imports are lazy so that ``import bgone`` never fails or pays for onnxruntime/numba up front.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .pipeline import predict_alpha, remove  # noqa: F401

__all__ = ["remove", "predict_alpha", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("remove", "predict_alpha", "cutout"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)

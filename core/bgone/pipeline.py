"""The public entry points: image in, alpha / cutout out.

predict_alpha is the one path every front end (CLI, API, worker) goes through, so progress,
cancellation and model resolution live here and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from bgone_client.choices import DEFAULT_REFINE, REFINE_LEVELS

from . import composite, inference, preprocess, registry, store
from .errors import BgoneError, Cancelled
from .imageio import ImageLike, load_rgba

log = logging.getLogger(__name__)


Progress = Callable[[str, float], None]


def _check(cancel: Any) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def resolve_model(name: str | None) -> registry.ModelSpec:
    """An explicit name wins; otherwise the registry default if installed, else any installed
    model (an offline install that imported only u2netp must still work), else the default."""
    if name:
        return registry.get_model(name)
    default = registry.get_model(registry.default_model_name())
    if store.is_installed(default):
        return default
    for spec in registry.all_models():
        if store.is_installed(spec):
            log.info("default model %s is not installed; using %s", default.name, spec.name)
            return spec
    return default


def model_rows() -> list[dict[str, Any]]:
    """Every known model as a user sees it (CLI list, the plug-ins' model menus)."""
    default = registry.default_model_name()
    return [
        {
            "name": m.name, "description": m.description, "size_label": m.size_label, "size": m.size,
            "installed": store.is_installed(m), "license": m.license, "commercial_use": m.commercial_use,
            "default": m.name == default, "custom": m.custom, "input_size": list(m.input_size),
        }
        for m in registry.all_models()
    ]  # fmt: skip


def check_refine(level: str) -> str:
    if level not in REFINE_LEVELS:
        raise BgoneError(
            f"Unknown refinement level {level!r}.",
            f"Use one of: {', '.join(REFINE_LEVELS)}.",
            kind="bad_argument",
        )
    return level


def resize_plain(low: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float mask (the reference's behaviour; the baseline to beat)."""
    return np.asarray(Image.fromarray(low, "F").resize(size, Image.BILINEAR), dtype=np.float32)


def _upsample(low: np.ndarray, rgb: np.ndarray, image: Image.Image | None = None) -> np.ndarray:
    from .upsample import upsample_alpha

    return upsample_alpha(low, rgb, image)


def _refine(
    rgb: np.ndarray, alpha: np.ndarray, level: str, progress: Progress | None, cancel: Any
) -> np.ndarray:
    from .refine import refine_alpha

    return refine_alpha(rgb, alpha, level, progress=progress, cancel=cancel)


def to_uint8(alpha: np.ndarray) -> np.ndarray:
    out = np.multiply(alpha, 255.0, dtype=np.float32)
    out += 0.5
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def predict_alpha(
    image: ImageLike,
    model: str | None = None,
    refine: str = DEFAULT_REFINE,
    device: str = "auto",
    progress: Progress | None = None,
    cancel: Any = None,
) -> np.ndarray:
    """The subject's alpha at the image's full resolution, uint8 HxW."""
    check_refine(refine)
    report = progress or (lambda stage, fraction: None)
    rgb, _ = load_rgba(image)
    spec = resolve_model(model)
    path = store.ensure_model(spec, progress=progress, cancel=cancel)
    _check(cancel)
    report("inference", 0.0)
    image = preprocess.as_image(rgb)  # one Pillow copy for both the model's and the filter's resize
    low = inference.predict_lowres(rgb, spec, device, path, cancel, image)
    report("inference", 1.0)
    _check(cancel)
    report("upsample", 0.0)
    if refine == "none":
        from .upsample import upsample_alpha_u8

        alpha8 = upsample_alpha_u8(low, rgb, image)
        report("upsample", 1.0)
        return alpha8
    alpha = _upsample(low, rgb, image)
    report("upsample", 1.0)
    _check(cancel)
    alpha = _refine(rgb, alpha, refine, progress, cancel)
    return to_uint8(alpha)


def cutout(
    rgb: np.ndarray, alpha: np.ndarray, decontaminate: bool = True, own_alpha: np.ndarray | None = None
) -> np.ndarray:
    """RGBA cutout; with decontaminate, edge colours are re-estimated so no halo of the old
    background shows on a new one. ``own_alpha``: the input's own transparency, kept (a
    transparent pixel never becomes opaque)."""
    if own_alpha is not None:
        alpha = composite.multiply_alpha(alpha, own_alpha)
    if decontaminate:
        from .foreground import estimate_foreground

        rgb = estimate_foreground(rgb, alpha)
    return composite.rgba(rgb, alpha)


def remove(
    image: ImageLike,
    model: str | None = None,
    refine: str = DEFAULT_REFINE,
    mask: bool = False,
    bg_color: tuple[int, ...] | str | None = None,
    device: str = "auto",
    decontaminate: bool = True,
    progress: Progress | None = None,
    cancel: Any = None,
) -> Image.Image:
    """Background removal as a PIL image: RGBA cutout, the L mask (mask=True), or the subject
    on a flat colour (bg_color)."""
    rgb, own_alpha = load_rgba(image)
    alpha = predict_alpha(rgb, model, refine, device, progress, cancel)
    if mask:
        return Image.fromarray(alpha, "L")
    out = cutout(rgb, alpha, decontaminate, own_alpha)
    if bg_color is None:  # frombuffer shares the array's memory: no second 48 MB copy at 12 MP
        h, w = alpha.shape
        return Image.frombuffer("RGBA", (w, h), out, "raw", "RGBA", 0, 1)
    from PIL import ImageColor

    color = ImageColor.getrgb(bg_color) if isinstance(bg_color, str) else tuple(bg_color)
    return Image.fromarray(composite.over_color(out[:, :, :3], out[:, :, 3], color), "RGB")


__all__ = ["predict_alpha", "cutout", "remove", "resolve_model", "REFINE_LEVELS", "DEFAULT_REFINE"]

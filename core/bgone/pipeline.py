"""The public entry points: image in, alpha / cutout out.

predict_alpha is the one path every front end (CLI, API, worker) goes through, so progress,
cancellation and model resolution live here and nowhere else.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from PIL import Image

from bgone_client.choices import DEFAULT_REFINE, REFINE_LEVELS

from . import composite, inference, preprocess, registry, store
from .errors import BgoneError, Cancelled
from .imageio import ImageLike, load_rgba, open_image

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


def load_model(model: str | None = None, device: str = "auto", progress: Progress | None = None,
               cancel: Any = None) -> None:
    """Fetch and open the model ahead of the first image (a batch does it while that image
    decodes); predict_alpha then finds the session warm."""
    spec = resolve_model(model)
    inference.get_session(store.ensure_model(spec, progress=progress, cancel=cancel), device)


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


@contextlib.contextmanager
def _out_of_memory_message(shape: tuple[int, ...]) -> Iterator[None]:
    """A MemoryError anywhere in a job becomes a message every front end can show."""
    try:
        yield
    except MemoryError as e:
        h, w = shape[:2]
        raise BgoneError(
            f"Not enough memory for this {w}x{h} image ({h * w / 1e6:.0f} megapixels).",
            "Close other programs, use --refine none, or scale the image down.",
            kind="out_of_memory",
        ) from e


def _model_failed(spec: registry.ModelSpec, what: str) -> BgoneError:
    if spec.custom:
        like = spec.extra.get("like", "") if isinstance(spec.extra, dict) else ""
        w, h = spec.input_size
        hint = (f"{spec.name} was imported with --like {like}: that recipe feeds a 1x3x{h}x{w} image "
                "and expects a 1x1xHxW mask back. Import the file again with a --like that fits it, "
                f"or remove it with `bgone models remove {spec.name}`.")
    else:
        hint = "Run `bgone models verify`, and download or import the model again."
    return BgoneError(f"The model {spec.name} failed on this image ({what}).", hint, kind="model_failed")


def _lowres(rgb: np.ndarray, spec: registry.ModelSpec, device: str, path: Any, cancel: Any,
            image: Image.Image) -> np.ndarray:
    """The model's mask; a graph that does not fit its recipe (a custom export with other input
    or output shapes) is a message, not a traceback from onnxruntime."""
    try:
        low = inference.predict_lowres(rgb, spec, device, path, cancel, image)
    except (BgoneError, MemoryError):
        raise
    except Exception as e:
        if not type(e).__module__.startswith("onnxruntime"):
            raise  # a bug of ours: keep the traceback
        raise _model_failed(spec, str(e).strip().splitlines()[0][:200]) from e
    if low.ndim != 2 or min(low.shape) < 2:
        raise _model_failed(spec, f"it returned an output of shape {low.shape}, not a mask")
    return low


def predict_alpha(
    image: ImageLike,
    model: str | None = None,
    refine: str = DEFAULT_REFINE,
    device: str = "auto",
    progress: Progress | None = None,
    cancel: Any = None,
) -> np.ndarray:
    """The subject's alpha at the image's full resolution, uint8 HxW (values that cannot show
    snapped to 0 or 255: composite.snap_alpha)."""
    check_refine(refine)
    rgb, _ = load_rgba(image)
    with _out_of_memory_message(rgb.shape):
        return _predict_alpha(rgb, model, refine, device, progress, cancel)


def _predict_alpha(
    rgb: np.ndarray, model: str | None, refine: str, device: str, progress: Progress | None, cancel: Any
) -> np.ndarray:
    report = progress or (lambda stage, fraction: None)
    spec = resolve_model(model)
    refine = spec.refine_level(refine)  # a matting model's matte is not matted again
    path = store.ensure_model(spec, progress=progress, cancel=cancel)
    _check(cancel)
    report("inference", 0.0)
    image = preprocess.as_image(rgb)  # one Pillow copy for both the model's and the filter's resize
    low = _lowres(rgb, spec, device, path, cancel, image)
    report("inference", 1.0)
    _check(cancel)
    report("upsample", 0.0)
    from .upsample import upsample_alpha_u8

    alpha8 = upsample_alpha_u8(low, rgb, image)  # every level starts from it (upsample_alpha)
    report("upsample", 1.0)
    if refine == "none":
        return composite.snap_alpha(alpha8)
    _check(cancel)
    alpha = np.multiply(alpha8, np.float32(1 / 255), dtype=np.float32)
    del alpha8
    alpha = _refine(rgb, alpha, refine, progress, cancel)
    return composite.snap_alpha(to_uint8(alpha))


def cutout(
    rgb: np.ndarray, alpha: np.ndarray, decontaminate: bool = True, own_alpha: np.ndarray | None = None
) -> np.ndarray:
    """RGBA cutout; with decontaminate, edge colours are re-estimated so no halo of the old
    background shows on a new one. ``own_alpha``: the input's own transparency, kept (a
    transparent pixel never becomes opaque)."""
    if own_alpha is not None:
        alpha = composite.multiply_alpha(alpha, own_alpha)
    out = composite.rgba(rgb, alpha)
    if decontaminate:  # fixed in place in the cutout's colour channels: no 12 MP copy between
        from .foreground import estimate_foreground

        estimate_foreground(rgb, alpha, out=out[:, :, :3])
    return out


def remove_array(
    rgb: np.ndarray,
    own_alpha: np.ndarray | None = None,
    model: str | None = None,
    refine: str = DEFAULT_REFINE,
    mask: bool = False,
    bg_color: tuple[int, ...] | str | None = None,
    device: str = "auto",
    decontaminate: bool = True,
    progress: Progress | None = None,
    cancel: Any = None,
) -> np.ndarray:
    """remove() on a loaded image (load_rgba's pair): the L mask HxW, the subject on a colour
    HxWx3, or the RGBA cutout HxWx4 with nothing stored under fully transparent pixels."""
    alpha = predict_alpha(rgb, model, refine, device, progress, cancel)
    return compose(rgb, alpha, own_alpha, mask, bg_color, decontaminate)


def compose(
    rgb: np.ndarray,
    alpha: np.ndarray,
    own_alpha: np.ndarray | None = None,
    mask: bool = False,
    bg_color: tuple[int, ...] | str | None = None,
    decontaminate: bool = True,
) -> np.ndarray:
    """The second half of remove_array: predict_alpha's mask -> the picture to save. Kept apart
    so a batch can run it on another core while the model works on the next photo."""
    with _out_of_memory_message(rgb.shape):
        if mask:
            return alpha
        out = cutout(rgb, alpha, decontaminate, own_alpha)
        if bg_color is None:
            return composite.clear_transparent(out)
        from PIL import ImageColor

        color = ImageColor.getrgb(bg_color) if isinstance(bg_color, str) else tuple(bg_color)
        return composite.over_color(out[:, :, :3], out[:, :, 3], color)


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
    on a flat colour (bg_color). A colour result keeps the input's ICC profile in ``info``, so
    saving it keeps the photo's colours."""
    from .writer import as_pil, icc_fits

    if isinstance(image, (str, os.PathLike)):
        image = open_image(image)
    icc = image.info.get("icc_profile") if isinstance(image, Image.Image) else None
    rgb, own_alpha = load_rgba(image)
    out = as_pil(remove_array(rgb, own_alpha, model, refine, mask, bg_color, device, decontaminate,
                              progress, cancel))
    if icc_fits(icc, out.mode):
        out.info["icc_profile"] = icc
    return out


__all__ = ["predict_alpha", "compose", "cutout", "remove", "remove_array", "resolve_model", "REFINE_LEVELS", "DEFAULT_REFINE"]

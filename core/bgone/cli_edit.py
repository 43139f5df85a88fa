"""`bgone refine` and `bgone adjust`: the mask-editing commands (Refine Edges and Adjust).

Same conventions as `remove`: every argument and input is checked before any work starts, a
failure is a one-paragraph message, and an output is written whole (temporary file + rename) or
not at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from .cli import IMAGE_EXTS, NO_ALPHA_EXTS, UsageError, _save_atomic
from .progress import Bar


def add_parsers(sub: Any) -> None:
    """Register the `refine` and `adjust` subcommands on the main parser's subparsers."""
    r = sub.add_parser("refine", help="re-estimate a mask's edges against its photo (Refine Edges)")
    r.add_argument("image", metavar="IMAGE", help="the photo")
    r.add_argument(
        "mask",
        metavar="MASK",
        help="its mask, same size: a grey image, or an image with transparency (its alpha is used)",
    )
    r.add_argument("-o", "--output", metavar="OUT", required=True, help="the refined 8-bit mask")
    r.add_argument(
        "--region",
        metavar="REGION",
        help="only change pixels here: a selection image of the same size (white = inside) or "
        "X,Y,W,H in pixels; every pixel outside stays exactly as it was",
    )
    r.add_argument(
        "--band",
        metavar="PX",
        type=int,
        help="width of the unknown band around hard edges (default: 1%% of the long side)",
    )
    r.add_argument(
        "--cutout",
        action="store_true",
        help="write the colour-decontaminated RGBA cutout instead of the mask",
    )
    r.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    a = sub.add_parser("adjust", help="grow/shrink, feather, harden a mask, drop specks and holes")
    a.add_argument("mask", metavar="MASK", help="the mask (a grey image or its alpha)")
    a.add_argument("-o", "--output", metavar="OUT", required=True, help="the adjusted 8-bit mask")
    a.add_argument("--grow", metavar="N", type=int, default=0, help="px; negative shrinks")
    a.add_argument("--feather", metavar="N", type=float, default=0, help="edge width in px")
    a.add_argument(
        "--contrast", metavar="0-100", type=float, default=0, help="toward a hard edge (100: hard)"
    )
    a.add_argument(
        "--threshold", metavar="1-255", type=int, default=128, help="level of the hard edge"
    )
    a.add_argument(
        "--min-island", metavar="PX", type=int, default=0, help="remove specks below this area"
    )
    a.add_argument(
        "--min-hole", metavar="PX", type=int, default=0, help="fill holes below this area"
    )
    a.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def _check_output(path: str, overwrite: bool, alpha: bool) -> Path:
    out = Path(path)
    ext = out.suffix.lower()
    if ext not in IMAGE_EXTS:
        raise UsageError(
            f"Cannot tell the format of {out} from its extension.", "Use .png or .webp."
        )
    if alpha and ext in NO_ALPHA_EXTS:
        raise UsageError(
            f"{out.name}: {ext} has no transparency.", "Use .png or .webp for --cutout."
        )
    if out.exists() and not overwrite:
        raise UsageError(f"{out} already exists.", "Pass --overwrite to replace it.")
    if out.is_dir():
        raise UsageError(f"{out} is a folder.", "Give a file name for -o.")
    return out


def load_mask(path: str) -> np.ndarray:
    """uint8 HxW mask from a file: its own transparency if it has any, else its grey level."""
    from .imageio import load_rgba

    rgb, alpha = load_rgba(path)
    if alpha is not None:
        return alpha
    grey = rgb.astype(np.uint16) @ np.array([77, 150, 29], np.uint16)  # ITU-R 601, sum 256
    return ((grey + 128) >> 8).astype(np.uint8)


def _same_size(what: str, m: np.ndarray, shape: tuple[int, int], image: str) -> None:
    if m.shape != shape:
        raise UsageError(
            f"The {what} is {m.shape[1]}x{m.shape[0]} pixels but {image} is {shape[1]}x{shape[0]}.",
            f"Give a {what} of the image's size.",
        )


def parse_region(text: str, shape: tuple[int, int], image: str) -> np.ndarray:
    """bool HxW region from X,Y,W,H or a selection image of the image's size."""
    h, w = shape
    parts = text.split(",")
    if len(parts) == 4 and not Path(text).exists():
        try:
            x, y, rw, rh = (int(p) for p in parts)
        except ValueError:
            raise UsageError(
                f"Cannot read the region {text!r}.", "Use X,Y,W,H in pixels or a selection image."
            ) from None
        if rw <= 0 or rh <= 0 or x < 0 or y < 0 or x + rw > w or y + rh > h:
            raise UsageError(
                f"The region {text} is not inside the {w}x{h} image.",
                "X,Y is its top-left corner; W,H must be positive and fit in the image.",
            )
        region = np.zeros(shape, bool)
        region[y : y + rh, x : x + rw] = True
        return region
    if not Path(text).exists():
        raise UsageError(
            f"The region {text!r} is neither X,Y,W,H nor an existing file.",
            "Use X,Y,W,H in pixels or a selection image of the image's size.",
        )
    m = load_mask(text)
    _same_size("region", m, shape, image)
    return m >= 128


def cmd_refine(args: argparse.Namespace) -> int:
    from . import composite
    from .imageio import load_rgba
    from .pipeline import cutout
    from .refine_edges import check_band, refine_mask

    out = _check_output(args.output, args.overwrite, alpha=args.cutout)
    check_band(args.band)
    rgb, own_alpha = load_rgba(args.image)
    mask = load_mask(args.mask)
    _same_size("mask", mask, rgb.shape[:2], args.image)
    region = None if args.region is None else parse_region(args.region, rgb.shape[:2], args.image)
    bar = Bar("Refining edges")
    refined = refine_mask(
        rgb, mask, region=region, band=args.band, progress=lambda stage, f: bar.update(f)
    )
    bar.close()
    from PIL import Image

    if args.cutout:
        alpha = refined if own_alpha is None else composite.multiply_alpha(refined, own_alpha)
        h, w = alpha.shape
        img = Image.frombuffer("RGBA", (w, h), cutout(rgb, alpha), "raw", "RGBA", 0, 1)
    else:
        img = Image.fromarray(refined, "L")
    _save_atomic(img, out)
    return 0


def cmd_adjust(args: argparse.Namespace) -> int:
    from PIL import Image

    from .adjust import adjust_mask, check_adjust

    out = _check_output(args.output, args.overwrite, alpha=False)
    check_adjust(args.feather, args.contrast, args.threshold, args.min_island, args.min_hole)
    mask = load_mask(args.mask)
    result = adjust_mask(
        mask,
        grow=args.grow,
        feather=args.feather,
        contrast=args.contrast,
        threshold=args.threshold,
        min_island=args.min_island,
        min_hole=args.min_hole,
    )
    _save_atomic(Image.fromarray(result, "L"), out)
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch for the commands this module registers."""
    if args.cmd == "refine":
        return cmd_refine(args)
    return cmd_adjust(args)


__all__ = ["add_parsers", "run", "load_mask", "parse_region"]

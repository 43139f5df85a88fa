"""A fake ``gi.repository`` (Gimp, Gegl, GimpUi, GLib, GObject) for the GIMP plug-in's tests.

Just enough of GIMP 3's Python API for bgone-remove-background.py's code paths, with an
observable image model: layers hold 8-bit pixels (RGB(A), gray(A) or indexed(A) with a palette),
offsets, masks; the image holds a selection (one byte per canvas pixel), channels and an undo-
group log. ``Image.snapshot()`` captures everything, to check that a failed run left the image
exactly as it was.

    fake = install()                     # puts fake `gi` modules into sys.modules
    Gimp = fake.Gimp
    img = Gimp.Image.new(100, 80, Gimp.ImageBaseType.RGB)
"""

from __future__ import annotations

import copy
import enum
import itertools
import sys
import types

RGBA_FMT = "R'G'B'A u8"
MASK_FMT = "Y u8"
_ids = itertools.count(1)


# ------------------------------------------------------------------------------------------------
# GLib / GObject / Gegl


class GError(Exception):
    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.message = message


class ParamFlags(enum.IntFlag):
    READABLE = 1
    WRITABLE = 2
    READWRITE = 3


class Rectangle:
    def __init__(self, x: int, y: int, width: int, height: int) -> None:
        self.x, self.y, self.width, self.height = x, y, width, height

    @classmethod
    def new(cls, x: int, y: int, width: int, height: int) -> Rectangle:
        return cls(x, y, width, height)


class AbyssPolicy(enum.IntEnum):
    NONE = 0
    CLAMP = 1


class Color:
    def __init__(self, name: str = "black") -> None:
        self.name = name

    @classmethod
    def new(cls, name: str) -> Color:
        return cls(name)


def gegl_init(_argv=None) -> None:
    return None


# ------------------------------------------------------------------------------------------------
# Gimp enums


class PDBProcType(enum.IntEnum):
    INTERNAL = 0
    PLUGIN = 1
    PERSISTENT = 2
    TEMPORARY = 3


class PDBStatusType(enum.IntEnum):
    EXECUTION_ERROR = 0
    CALLING_ERROR = 1
    PASS_THROUGH = 2
    SUCCESS = 3
    CANCEL = 4


class RunMode(enum.IntEnum):
    INTERACTIVE = 0
    NONINTERACTIVE = 1
    WITH_LAST_VALS = 2


class ProcedureSensitivityMask(enum.IntFlag):
    DRAWABLE = 1
    DRAWABLES = 4
    NO_DRAWABLES = 8


class ImageBaseType(enum.IntEnum):
    RGB = 0
    GRAY = 1
    INDEXED = 2


class ImageType(enum.IntEnum):
    RGB_IMAGE = 0
    RGBA_IMAGE = 1
    GRAY_IMAGE = 2
    GRAYA_IMAGE = 3
    INDEXED_IMAGE = 4
    INDEXEDA_IMAGE = 5


class LayerMode(enum.IntEnum):
    NORMAL = 28


class AddMaskType(enum.IntEnum):
    WHITE = 0
    BLACK = 1
    ALPHA = 2


class MaskApplyMode(enum.IntEnum):
    APPLY = 0
    DISCARD = 1


class ChannelOps(enum.IntEnum):
    ADD = 0
    SUBTRACT = 1
    REPLACE = 2
    INTERSECT = 3


class GimpCallError(Exception):
    """What a PDB call that GIMP would refuse raises here."""


# ------------------------------------------------------------------------------------------------
# Pixels: every drawable stores 8-bit channels; get/set speak R'G'B'A u8 and Y u8


_TYPE_INFO = {  # type -> (base, has_alpha)
    ImageType.RGB_IMAGE: (ImageBaseType.RGB, False),
    ImageType.RGBA_IMAGE: (ImageBaseType.RGB, True),
    ImageType.GRAY_IMAGE: (ImageBaseType.GRAY, False),
    ImageType.GRAYA_IMAGE: (ImageBaseType.GRAY, True),
    ImageType.INDEXED_IMAGE: (ImageBaseType.INDEXED, False),
    ImageType.INDEXEDA_IMAGE: (ImageBaseType.INDEXED, True),
}


def _bpp(base: ImageBaseType, alpha: bool) -> int:
    return (3 if base == ImageBaseType.RGB else 1) + (1 if alpha else 0)


class Buffer:
    """A GeglBuffer view of a drawable (layer-local coordinates)."""

    def __init__(self, drawable: Drawable) -> None:
        self.drawable = drawable

    def get(self, rect: Rectangle, scale: float, fmt: str, abyss: AbyssPolicy) -> bytes:
        d = self.drawable
        d.image._log("buffer.get", d.get_name(), (rect.x, rect.y, rect.width, rect.height), fmt)
        if scale != 1.0:
            raise GimpCallError("fake supports scale 1.0 only")
        out = bytearray()
        for y in range(rect.y, rect.y + rect.height):
            for x in range(rect.x, rect.x + rect.width):
                inside = 0 <= x < d.width and 0 <= y < d.height
                px = d._rgba_at(x, y) if inside else (0, 0, 0, 0)
                if fmt == RGBA_FMT:
                    out += bytes(px)
                elif fmt == MASK_FMT:
                    out.append(px[0])
                else:
                    raise GimpCallError(f"fake does not convert to {fmt!r}")
        return bytes(out)

    def set(self, rect: Rectangle, fmt: str, data: bytes) -> None:
        d = self.drawable
        d.image._log("buffer.set", d.get_name(), (rect.x, rect.y, rect.width, rect.height), fmt)
        n = 4 if fmt == RGBA_FMT else 1 if fmt == MASK_FMT else None
        if n is None:
            raise GimpCallError(f"fake does not convert from {fmt!r}")
        if len(data) != rect.width * rect.height * n:
            raise GimpCallError(f"buffer.set got {len(data)} bytes for {rect.width}x{rect.height} {fmt}")
        i = 0
        for y in range(rect.y, rect.y + rect.height):
            for x in range(rect.x, rect.x + rect.width):
                if 0 <= x < d.width and 0 <= y < d.height:
                    d._store(x, y, tuple(data[i:i + n]))
                i += n

    def flush(self) -> None:
        return None


class Item:
    def __init__(self, image: Image, name: str, width: int, height: int) -> None:
        self.image = image
        self.name = name
        self.width, self.height = width, height
        self.id = next(_ids)

    def get_id(self) -> int:
        return self.id

    def get_name(self) -> str:
        return self.name

    def set_name(self, name: str) -> None:
        self.name = name

    def get_width(self) -> int:
        return self.width

    def get_height(self) -> int:
        return self.height

    def get_image(self) -> Image:
        return self.image

    def is_layer_mask(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.width}x{self.height}>"


class Drawable(Item):
    def get_buffer(self) -> Buffer:
        return Buffer(self)

    def update(self, x: int, y: int, w: int, h: int) -> bool:
        self.image._log("update", self.name, (x, y, w, h))
        return True

    def delete(self) -> None:
        return None


class Layer(Drawable):
    def __init__(self, image: Image, name: str, width: int, height: int, type_: ImageType,
                 opacity: float = 100.0, mode: LayerMode = LayerMode.NORMAL) -> None:
        super().__init__(image, name, width, height)
        base, alpha = _TYPE_INFO[ImageType(type_)]
        if base != image.base_type:
            raise GimpCallError(f"a {type_.name} layer does not fit a {image.base_type.name} image")
        self.alpha = alpha
        self.offsets = (0, 0)
        self.opacity = opacity
        self.mode = mode
        self.mask: LayerMask | None = None
        self.parent = None
        self.pixels = bytearray(width * height * _bpp(base, alpha))

    @classmethod
    def new(cls, image, name, width, height, type_, opacity, mode) -> Layer:
        image._log("layer.new", name, (width, height), ImageType(type_).name)
        return cls(image, name, width, height, type_, opacity, mode)

    @staticmethod
    def from_mask(mask: LayerMask) -> Layer:
        return mask.layer

    # pixels
    @property
    def bpp(self) -> int:
        return _bpp(self.image.base_type, self.alpha)

    def _rgba_at(self, x: int, y: int) -> tuple[int, int, int, int]:
        i = (y * self.width + x) * self.bpp
        p = self.pixels[i:i + self.bpp]
        base = self.image.base_type
        a = p[-1] if self.alpha else 255
        if base == ImageBaseType.RGB:
            return (p[0], p[1], p[2], a)
        if base == ImageBaseType.GRAY:
            return (p[0], p[0], p[0], a)
        r, g, b = self.image.palette[p[0]]
        return (r, g, b, a)

    def _store(self, x: int, y: int, value: tuple[int, ...]) -> None:
        if len(value) == 1:
            value = (value[0], value[0], value[0], 255)
        r, g, b, a = value
        base = self.image.base_type
        if base == ImageBaseType.RGB:
            px = [r, g, b]
        elif base == ImageBaseType.GRAY:
            px = [round(0.2126 * r + 0.7152 * g + 0.0722 * b)]
        else:
            pal = self.image.palette
            px = [min(range(len(pal)), key=lambda k: sum((c - v) ** 2 for c, v in zip(pal[k], (r, g, b), strict=True)))]
        if self.alpha:
            px.append(a)
        i = (y * self.width + x) * self.bpp
        self.pixels[i:i + self.bpp] = bytes(px)

    def fill_rgba(self, fn) -> Layer:
        """Test helper: set every pixel to fn(x, y) -> (r, g, b, a)."""
        for y in range(self.height):
            for x in range(self.width):
                self._store(x, y, tuple(fn(x, y)))
        return self

    # layer API
    def get_offsets(self):
        return (True, self.offsets[0], self.offsets[1])

    def set_offsets(self, x: int, y: int) -> None:
        self.image._log("set_offsets", self.name, (x, y))
        self.offsets = (x, y)

    def has_alpha(self) -> bool:
        return self.alpha

    def add_alpha(self) -> None:
        if self.alpha:
            return
        self.image._log("add_alpha", self.name)
        old, bpp = self.pixels, self.bpp
        self.alpha = True
        new = bytearray()
        for i in range(0, len(old), bpp):
            new += old[i:i + bpp] + b"\xff"
        self.pixels = new

    def get_mask(self) -> LayerMask | None:
        return self.mask

    def create_mask(self, kind: AddMaskType) -> LayerMask:
        self.image._log("create_mask", self.name, AddMaskType(kind).name)
        fill = {AddMaskType.WHITE: 255, AddMaskType.BLACK: 0}.get(AddMaskType(kind))
        if fill is None:
            raise GimpCallError("fake supports WHITE and BLACK masks")
        return LayerMask(self, fill)

    def add_mask(self, mask: LayerMask) -> bool:
        self.image._log("add_mask", self.name)
        if self.mask is not None:
            raise GimpCallError(f"layer {self.name!r} already has a mask")
        if self.image.undo_depth <= 0:
            self.image.ungrouped.append("add_mask")
        self.mask = mask
        return True

    def remove_mask(self, mode: MaskApplyMode) -> bool:
        self.image._log("remove_mask", self.name, MaskApplyMode(mode).name)
        if self.mask is None:
            raise GimpCallError(f"layer {self.name!r} has no mask")
        if mode == MaskApplyMode.APPLY:
            self.add_alpha()
            for y in range(self.height):
                for x in range(self.width):
                    r, g, b, a = self._rgba_at(x, y)
                    m = self.mask.values[y * self.width + x]
                    self._store(x, y, (r, g, b, (a * m + 127) // 255))
        self.mask = None
        return True

    def get_parent(self):
        return self.parent


class LayerMask(Drawable):
    def __init__(self, layer: Layer, fill: int) -> None:
        super().__init__(layer.image, layer.name + " mask", layer.width, layer.height)
        self.layer = layer
        self.values = bytearray([fill]) * (layer.width * layer.height)

    def is_layer_mask(self) -> bool:
        return True

    shadow: bytearray | None = None

    def get_shadow_buffer(self) -> Buffer:
        if self.shadow is None:
            self.shadow = bytearray(b"\x7f") * (self.width * self.height)  # stale contents
        return Buffer(_Shadow(self))

    def merge_shadow(self, push_undo: bool) -> bool:
        """As GIMP merges a filter's result: through the image's selection when there is one
        (a partly selected pixel is blended), everywhere otherwise."""
        self.image._log("merge_shadow", self.name, push_undo)
        if self.shadow is None:
            raise GimpCallError("no shadow buffer")
        if self.image.undo_depth <= 0 or not push_undo:
            self.image.ungrouped.append("merge_shadow")
        img, (ox, oy) = self.image, self.layer.offsets
        selected = any(img.selection)
        for y in range(self.height):
            for x in range(self.width):
                cx, cy = x + ox, y + oy
                on = 0 <= cx < img.width and 0 <= cy < img.height
                s = (img.selection[cy * img.width + cx] if on else 0) if selected else 255
                i = y * self.width + x
                self.values[i] = (self.shadow[i] * s + self.values[i] * (255 - s) + 127) // 255
        self.shadow = None
        return True

    def _rgba_at(self, x, y):
        v = self.values[y * self.width + x]
        return (v, v, v, 255)

    def _store(self, x, y, value):
        self.values[y * self.width + x] = value[0]


class Channel(Drawable):
    def __init__(self, image: Image, name: str, width: int, height: int, opacity: float = 100.0,
                 color: Color | None = None) -> None:
        super().__init__(image, name, width, height)
        self.values = bytearray(width * height)

    @classmethod
    def new(cls, image, name, width, height, opacity, color) -> Channel:
        image._log("channel.new", name, (width, height))
        return cls(image, name, width, height, opacity, color)

    def _rgba_at(self, x, y):
        v = self.values[y * self.width + x]
        return (v, v, v, 255)

    def _store(self, x, y, value):
        self.values[y * self.width + x] = value[0]


class SelectionMask(Drawable):
    """image.get_selection(): a canvas-sized channel whose pixels are image.selection; writes go
    through get_shadow_buffer() + merge_shadow(), as in GIMP."""

    def __init__(self, image: Image) -> None:
        super().__init__(image, "Selection Mask", image.width, image.height)
        self.shadow: bytearray | None = None

    def _rgba_at(self, x, y):
        v = self.image.selection[y * self.width + x]
        return (v, v, v, 255)

    def _store(self, x, y, value):
        raise GimpCallError("write the selection through its shadow buffer")

    def get_shadow_buffer(self) -> Buffer:
        if self.shadow is None:
            self.shadow = bytearray(b"\x7f") * (self.width * self.height)  # stale contents
        return Buffer(_Shadow(self))

    def merge_shadow(self, push_undo: bool) -> bool:
        self.image._log("merge_shadow", self.name, push_undo)
        if self.shadow is None:
            raise GimpCallError("no shadow buffer")
        if self.image.undo_depth <= 0 or not push_undo:
            self.image.ungrouped.append("merge_shadow")
        self.image.selection = bytearray(self.shadow)
        self.shadow = None
        return True


class _Shadow:
    def __init__(self, owner: SelectionMask | LayerMask) -> None:
        self.owner, self.image, self.width, self.height = owner, owner.image, owner.width, owner.height

    def get_name(self) -> str:
        return self.owner.name + " (shadow)"

    def _rgba_at(self, x, y):
        v = self.owner.shadow[y * self.width + x]
        return (v, v, v, 255)

    def _store(self, x, y, value):
        self.owner.shadow[y * self.width + x] = value[0]


class Image:
    def __init__(self, width: int, height: int, base_type: ImageBaseType) -> None:
        self.width, self.height = width, height
        self.base_type = ImageBaseType(base_type)
        self.layers: list[Layer] = []
        self.channels: list[Channel] = []
        self.selection = bytearray(width * height)
        self.palette = [(0, 0, 0), (255, 255, 255), (255, 0, 0), (0, 0, 255), (0, 160, 0), (128, 128, 128)]
        self.undo_depth = 0
        self.undo_groups = 0
        self.ungrouped: list[str] = []  # changes made outside an undo group
        self.log: list[tuple] = []

    @classmethod
    def new(cls, width: int, height: int, base_type: ImageBaseType) -> Image:
        return cls(width, height, base_type)

    def _log(self, *entry) -> None:
        self.log.append(entry)

    def get_width(self) -> int:
        return self.width

    def get_height(self) -> int:
        return self.height

    def get_base_type(self) -> ImageBaseType:
        return self.base_type

    def get_selection(self) -> SelectionMask:
        return SelectionMask(self)

    def get_layers(self) -> list[Layer]:
        return list(self.layers)

    def add_layer(self, layer: Layer, offsets=(0, 0)) -> Layer:
        """Test helper: put a layer on top without logging a change."""
        layer.offsets = tuple(offsets)
        self.layers.insert(0, layer)
        return layer

    def insert_layer(self, layer: Layer, parent, position: int) -> bool:
        self._log("insert_layer", layer.name, position)
        if self.undo_depth <= 0:
            self.ungrouped.append("insert_layer")
        self.layers.insert(position, layer)
        return True

    def get_item_position(self, item: Item) -> int:
        return self.layers.index(item)

    def insert_channel(self, channel: Channel, parent, position: int) -> bool:
        self._log("insert_channel", channel.name)
        self.channels.insert(position, channel)
        return True

    def remove_channel(self, channel: Channel) -> None:
        self._log("remove_channel", channel.name)
        self.channels.remove(channel)

    def select_item(self, op: ChannelOps, item: Channel) -> bool:
        self._log("select_item", ChannelOps(op).name, item.name)
        if item not in self.channels:
            raise GimpCallError("select_item: the channel is not attached to the image")
        if self.undo_depth <= 0:
            self.ungrouped.append("select_item")
        if op == ChannelOps.REPLACE:
            self.selection = bytearray(item.values)
        elif op == ChannelOps.ADD:
            self.selection = bytearray(max(a, b) for a, b in zip(self.selection, item.values, strict=True))
        else:
            raise GimpCallError("fake supports REPLACE and ADD")
        return True

    def select_rectangle(self, x: int, y: int, w: int, h: int) -> None:
        """Test helper: a rectangular selection."""
        self.selection = bytearray(self.width * self.height)
        for yy in range(max(0, y), min(self.height, y + h)):
            for xx in range(max(0, x), min(self.width, x + w)):
                self.selection[yy * self.width + xx] = 255

    def undo_group_start(self) -> bool:
        self._log("undo_group_start")
        self.undo_depth += 1
        self.undo_groups += 1
        return True

    def undo_group_end(self) -> bool:
        self._log("undo_group_end")
        self.undo_depth -= 1
        return True

    def snapshot(self) -> dict:
        """Everything a user could see or undo."""
        return copy.deepcopy({
            "layers": [
                (lay.id, lay.name, lay.offsets, lay.width, lay.height, lay.alpha, bytes(lay.pixels),
                 None if lay.mask is None else bytes(lay.mask.values))
                for lay in self.layers
            ],
            "channels": [c.id for c in self.channels],
            "selection": bytes(self.selection),
        })


class Selection:
    @staticmethod
    def bounds(image: Image):
        xs, ys = [], []
        for i, v in enumerate(image.selection):
            if v:
                ys.append(i // image.width)
                xs.append(i % image.width)
        if not xs:
            return (True, False, 0, 0, image.width, image.height)
        return (True, True, min(xs), min(ys), max(xs) + 1, max(ys) + 1)

    @staticmethod
    def is_empty(image: Image) -> bool:
        return not any(image.selection)

    @staticmethod
    def none(image: Image) -> bool:
        image._log("selection_none")
        image.selection = bytearray(image.width * image.height)
        return True


class Choice:
    def __init__(self) -> None:
        self.items: list[tuple[str, int, str, str]] = []

    @classmethod
    def new(cls) -> Choice:
        return cls()

    def add(self, nick: str, ident: int, label: str, help_text: str) -> None:
        self.items.append((nick, ident, label, help_text))

    def nicks(self) -> list[str]:
        return [i[0] for i in self.items]


class ValueArray:
    def __init__(self, values: list) -> None:
        self.values = values

    def index(self, i: int):
        return self.values[i]

    def remove(self, i: int) -> None:
        del self.values[i]

    def insert(self, i: int, value) -> None:
        self.values.insert(i, value)

    def length(self) -> int:
        return len(self.values)


class Procedure:
    def __init__(self, plugin, name: str, proc_type, run_func, data) -> None:
        self.plugin, self.name, self.proc_type, self.run_func = plugin, name, proc_type, run_func
        self.arguments: dict[str, dict] = {}
        self.texts: dict[str, tuple] = {}  # argument -> (label with its mnemonic, tooltip)
        self.menu_paths: list[str] = []
        self.menu_label = None
        self.image_types = None
        self.sensitivity = None
        self.documentation = None
        self.return_values: dict[str, dict] = {}

    @classmethod
    def new(cls, plugin, name, proc_type, run_func, data) -> Procedure:
        return cls(plugin, name, proc_type, run_func, data)

    def set_image_types(self, types_: str) -> None:
        self.image_types = types_

    def set_sensitivity_mask(self, mask) -> None:
        self.sensitivity = mask

    def set_menu_label(self, label: str) -> None:
        self.menu_label = label

    def add_menu_path(self, path: str) -> None:
        self.menu_paths.append(path)

    def set_documentation(self, blurb: str, help_text: str, help_id: str) -> None:
        self.documentation = (blurb, help_text, help_id)

    def set_attribution(self, *args) -> None:
        return None

    def add_string_argument(self, name, label, blurb, default, flags) -> None:
        self.arguments[name] = {"kind": "string", "default": default}
        self.texts[name] = (label, blurb)

    def add_int_argument(self, name, label, blurb, minimum, maximum, default, flags) -> None:
        if not minimum <= default <= maximum:
            raise GimpCallError(f"int default {default} outside {minimum}..{maximum}")
        self.arguments[name] = {"kind": "int", "default": default, "range": (minimum, maximum)}
        self.texts[name] = (label, blurb)

    def add_choice_argument(self, name, label, blurb, choice, default, flags) -> None:
        if default not in choice.nicks():
            raise GimpCallError(f"choice default {default!r} not among {choice.nicks()}")
        self.arguments[name] = {"kind": "choice", "default": default, "choices": choice.nicks()}
        self.texts[name] = (label, blurb)

    def add_string_return_value(self, name, label, blurb, default, flags) -> None:
        self.return_values[name] = {"kind": "string", "default": default, "blurb": blurb}

    def create_config(self) -> Config:
        return Config({k: v["default"] for k, v in self.arguments.items()})

    def new_return_values(self, status: PDBStatusType, error: GError | None) -> ValueArray:
        values = [status]
        if status != PDBStatusType.SUCCESS and error is not None and error.message:
            values.append(error.message)
        elif status == PDBStatusType.SUCCESS:  # GIMP fills in each return value's default
            values += [v["default"] for v in self.return_values.values()]
        return ValueArray(values)


class Config:
    def __init__(self, values: dict) -> None:
        self.values = dict(values)

    def get_property(self, name: str):
        return self.values[name]

    def set_property(self, name: str, value) -> None:
        self.values[name] = value


class PlugIn:
    __gtype__ = "GimpPlugIn"


class _Progress:
    def __init__(self) -> None:
        self.events: list[tuple] = []


PROGRESS = _Progress()


def _progress(kind):
    def f(*args):
        PROGRESS.events.append((kind, *args))
        return True
    return f


def install() -> types.SimpleNamespace:
    """Put fake ``gi`` and ``gi.repository.{Gimp,Gegl,GimpUi,GLib,GObject}`` into sys.modules."""
    gi = types.ModuleType("gi")
    gi.require_version = lambda name, version: None
    repo = types.ModuleType("gi.repository")
    gi.repository = repo

    Gimp = types.ModuleType("gi.repository.Gimp")
    for obj in (PDBProcType, PDBStatusType, RunMode, ProcedureSensitivityMask, ImageBaseType, ImageType,
                LayerMode, AddMaskType, MaskApplyMode, ChannelOps, Image, Layer, LayerMask, Channel,
                Drawable, Item, Selection, Choice, PlugIn, ValueArray):
        setattr(Gimp, obj.__name__, obj)
    Gimp.ImageProcedure = Procedure
    Gimp.main = lambda gtype, argv: 0
    Gimp.displays_flush = lambda: None
    Gimp.message = lambda text: PROGRESS.events.append(("message", text))
    for kind in ("init", "update", "set_text", "end", "pulse"):
        setattr(Gimp, "progress_" + kind, _progress(kind))
    Gimp.PROGRESS = PROGRESS

    Gegl = types.ModuleType("gi.repository.Gegl")
    Gegl.Rectangle, Gegl.AbyssPolicy, Gegl.Color, Gegl.init = Rectangle, AbyssPolicy, Color, gegl_init

    GLib = types.ModuleType("gi.repository.GLib")
    GLib.Error = GError
    GObject = types.ModuleType("gi.repository.GObject")
    GObject.ParamFlags = ParamFlags
    GObject.TYPE_STRING = "gchararray"
    GObject.Value = lambda gtype, value: value  # pygobject hands a GValue back as its value
    GimpUi = types.ModuleType("gi.repository.GimpUi")
    GimpUi.init = lambda name: None

    mods = {"gi": gi, "gi.repository": repo, "gi.repository.Gimp": Gimp, "gi.repository.Gegl": Gegl,
            "gi.repository.GLib": GLib, "gi.repository.GObject": GObject, "gi.repository.GimpUi": GimpUi}
    for name, mod in mods.items():
        sys.modules[name] = mod
        if name.startswith("gi.repository."):
            setattr(repo, name.rsplit(".", 1)[1], mod)
    return types.SimpleNamespace(gi=gi, Gimp=Gimp, Gegl=Gegl, GLib=GLib, GObject=GObject, GimpUi=GimpUi,
                                 modules=mods, progress=PROGRESS)


def uninstall(fake: types.SimpleNamespace) -> None:
    for name in fake.modules:
        sys.modules.pop(name, None)

"""A fake `krita` module: the part of Krita 5's Python API (libkis) the bgone plug-in uses.

It models what matters for correctness: raw pixel bytes in each colour space (8/16-bit integer
RGBA is BGRA, float RGBA is RGBA in linear light, GRAYA, CMYKA), layer offsets and exact
bounds, masks and selections at one byte per pixel, temporary documents, colour conversion, and
an undo log (one entry per undoable command) so tests can check "one step" and "untouched".
Pixels are kept as straight sRGB floats (H, W, 4) in image coordinates.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import numpy as np

CHANNELS = {"RGBA": 4, "GRAYA": 2, "CMYKA": 5}
DTYPES = {"U8": np.dtype(np.uint8), "U16": np.dtype("<u2"), "F16": np.dtype("<f2"), "F32": np.dtype("<f4")}
DEFAULT_PROFILES = {
    ("RGBA", "U8"): "sRGB-elle-V2-srgbtrc.icc",
    ("RGBA", "U16"): "sRGB-elle-V2-srgbtrc.icc",
    ("RGBA", "F16"): "sRGB-elle-V2-g10.icc",
    ("RGBA", "F32"): "sRGB-elle-V2-g10.icc",
}


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


def encode(canon: np.ndarray, model: str, depth: str) -> bytes:
    """Straight sRGB RGBA floats -> Krita's raw bytes for (model, depth)."""
    r, g, b, a = (canon[..., i] for i in range(4))
    if model == "RGBA":
        if depth in ("F16", "F32"):
            chans = [srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b), a]
        else:
            chans = [b, g, r, a]
    elif model == "GRAYA":
        chans = [0.2126 * r + 0.7152 * g + 0.0722 * b, a]
    elif model == "CMYKA":
        chans = [1 - r, 1 - g, 1 - b, np.zeros_like(r), a]
    else:
        raise ValueError(model)
    arr = np.stack(chans, axis=-1)
    dt = DTYPES[depth]
    if dt.kind == "u":
        scale = np.iinfo(dt).max
        arr = np.clip(np.rint(arr * scale), 0, scale)
    return arr.astype(dt).tobytes()


def decode(raw: bytes, w: int, h: int, model: str, depth: str) -> np.ndarray:
    dt = DTYPES[depth]
    n = CHANNELS[model]
    arr = np.frombuffer(bytes(raw), dtype=dt).reshape(h, w, n).astype(np.float64)
    if dt.kind == "u":
        arr = arr / np.iinfo(dt).max
    if model == "RGBA":
        if depth in ("F16", "F32"):
            rgb = linear_to_srgb(arr[..., :3])
        else:
            rgb = arr[..., [2, 1, 0]]
        a = arr[..., 3]
    elif model == "GRAYA":
        rgb = np.repeat(arr[..., :1], 3, axis=-1)
        a = arr[..., 1]
    else:
        rgb = (1 - arr[..., :3]) * (1 - arr[..., 3:4])
        a = arr[..., 4]
    return np.concatenate([rgb, a[..., None]], axis=-1)


class QRect:
    def __init__(self, x: int = 0, y: int = 0, w: int = 0, h: int = 0) -> None:
        self._r = (x, y, w, h)

    def x(self) -> int:
        return self._r[0]

    def y(self) -> int:
        return self._r[1]

    def width(self) -> int:
        return self._r[2]

    def height(self) -> int:
        return self._r[3]

    def isEmpty(self) -> bool:  # noqa: N802
        return self._r[2] <= 0 or self._r[3] <= 0


class Plane:
    """Pixels over an unbounded plane, stored in a growable box (default: transparent/zero)."""

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self.x = self.y = 0
        self.data = np.zeros((0, 0, channels))

    def _grow(self, x: int, y: int, w: int, h: int) -> None:
        H, W = self.data.shape[:2]
        if H and W:
            x0, y0 = min(self.x, x), min(self.y, y)
            x1, y1 = max(self.x + W, x + w), max(self.y + H, y + h)
        else:
            x0, y0, x1, y1 = x, y, x + w, y + h
        new = np.zeros((y1 - y0, x1 - x0, self.channels))
        if H and W:
            new[self.y - y0:self.y - y0 + H, self.x - x0:self.x - x0 + W] = self.data
        self.x, self.y, self.data = x0, y0, new

    def read(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        out = np.zeros((h, w, self.channels))
        H, W = self.data.shape[:2]
        ix0, iy0 = max(x, self.x), max(y, self.y)
        ix1, iy1 = min(x + w, self.x + W), min(y + h, self.y + H)
        if ix1 > ix0 and iy1 > iy0:
            out[iy0 - y:iy1 - y, ix0 - x:ix1 - x] = self.data[iy0 - self.y:iy1 - self.y, ix0 - self.x:ix1 - self.x]
        return out

    def write(self, arr: np.ndarray, x: int, y: int) -> None:
        h, w = arr.shape[:2]
        self._grow(x, y, w, h)
        self.data[y - self.y:y - self.y + h, x - self.x:x - self.x + w] = arr

    def bounds(self, alpha_index: int) -> QRect:
        a = self.data[..., alpha_index] if self.data.size else np.zeros((0, 0))
        ys, xs = np.nonzero(a > 0)
        if not len(xs):
            return QRect()
        return QRect(self.x + int(xs.min()), self.y + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


class Node:
    def __init__(self, doc: Document, name: str, kind: str) -> None:
        self.doc = doc
        self._name = name
        self.kind = kind
        self.cs = (doc.cs[0], doc.cs[1], doc.cs[2])
        self.parent: Node | None = None
        self.children: list[Node] = []
        self.plane = Plane(1 if self.is_mask else 4)

    @property
    def is_mask(self) -> bool:
        return self.kind.endswith("mask")

    # identity and tree
    def name(self) -> str:
        return self._name

    def type(self) -> str:
        return self.kind

    def parentNode(self) -> Node | None:  # noqa: N802
        return self.parent

    def childNodes(self) -> list[Node]:  # noqa: N802
        return list(self.children)

    def addChildNode(self, child: Node, above: Node | None) -> bool:  # noqa: N802
        """One undoable command in Krita 5.2 (pixels already in the node travel with it)."""
        index = len(self.children) if above is None else self.children.index(above) + 1
        child.parent = self
        self.children.insert(index, child)

        def undo() -> None:
            self.children.remove(child)
            child.parent = None

        self.doc.push_undo(("add", child.kind, child.name()), undo)
        return True

    # colour
    def colorModel(self) -> str:  # noqa: N802
        return "GRAYA" if self.is_mask else self.cs[0]

    def colorDepth(self) -> str:  # noqa: N802
        return "U8" if self.is_mask else self.cs[1]

    def colorProfile(self) -> str:  # noqa: N802
        return self.cs[2]

    # pixels
    def bounds(self) -> QRect:
        return self.plane.bounds(0 if self.is_mask else 3)

    def pixelData(self, x: int, y: int, w: int, h: int) -> bytes:  # noqa: N802
        self.doc.app.reads.append((self, x, y, w, h))
        if self.kind not in ("paintlayer",) and not self.is_mask:
            return b""  # groups and vector layers have no paint device
        return self.raw(x, y, w, h)

    def projectionPixelData(self, x: int, y: int, w: int, h: int) -> bytes:  # noqa: N802
        return self.raw(x, y, w, h)

    def raw(self, x: int, y: int, w: int, h: int) -> bytes:
        arr = self.plane.read(x, y, w, h)
        if self.is_mask:
            return np.clip(np.rint(arr[..., 0] * 255), 0, 255).astype(np.uint8).tobytes()
        return encode(arr, self.cs[0], self.cs[1])

    def setPixelData(self, data: bytes, x: int, y: int, w: int, h: int) -> None:  # noqa: N802
        if self.is_mask:
            arr = np.frombuffer(bytes(data), np.uint8).reshape(h, w, 1) / 255.0
        else:
            arr = decode(data, w, h, self.cs[0], self.cs[1])
        self.plane.write(arr, x, y)

    def fill(self, rgba: np.ndarray, x: int = 0, y: int = 0) -> None:
        """Test helper: puts straight sRGB floats (H, W, 4) at (x, y)."""
        self.plane.write(np.asarray(rgba, dtype=np.float64), x, y)


class Selection:
    def __init__(self, parent: Any = None) -> None:
        self.plane = Plane(1)

    def _box(self) -> QRect:
        return self.plane.bounds(0)

    def x(self) -> int:
        return self._box().x()

    def y(self) -> int:
        return self._box().y()

    def width(self) -> int:
        return self._box().width()

    def height(self) -> int:
        return self._box().height()

    def pixelData(self, x: int, y: int, w: int, h: int) -> bytes:  # noqa: N802
        return np.clip(np.rint(self.plane.read(x, y, w, h)[..., 0] * 255), 0, 255).astype(np.uint8).tobytes()

    def setPixelData(self, data: bytes, x: int, y: int, w: int, h: int) -> None:  # noqa: N802
        self.plane.write(np.frombuffer(bytes(data), np.uint8).reshape(h, w, 1) / 255.0, x, y)


class Document:
    def __init__(self, app: Krita, w: int, h: int, name: str, model: str, depth: str, profile: str) -> None:
        self.app = app
        self.w, self.h = w, h
        self._name = name
        self.cs = (model, depth, profile or DEFAULT_PROFILES.get((model, depth), "default"))
        self.root = Node(self, "root", "grouplayer")
        self._selection: Selection | None = None
        self.undo_log: list[tuple] = []  # one entry per undoable command, readable in asserts
        self._undo_fns: list = []
        self.selection_sets = 0
        self.closed = False
        self.active: Node | None = None

    def width(self) -> int:
        return self.w

    def height(self) -> int:
        return self.h

    def name(self) -> str:
        return self._name

    def colorModel(self) -> str:  # noqa: N802
        return self.cs[0]

    def colorDepth(self) -> str:  # noqa: N802
        return self.cs[1]

    def colorProfile(self) -> str:  # noqa: N802
        return self.cs[2]

    def rootNode(self) -> Node:  # noqa: N802
        return self.root

    def topLevelNodes(self) -> list[Node]:  # noqa: N802
        return self.root.childNodes()

    def activeNode(self) -> Node | None:  # noqa: N802
        return self.active

    def createNode(self, name: str, kind: str) -> Node:  # noqa: N802
        return Node(self, name, kind)

    def createTransparencyMask(self, name: str) -> Node:  # noqa: N802
        return Node(self, name, "transparencymask")

    def selection(self) -> Selection | None:
        return self._selection

    def setSelection(self, selection: Selection | None) -> None:  # noqa: N802
        """NOT undoable in Krita 5.2 (checked in real Krita): no undo entry."""
        self._selection = selection
        self.selection_sets += 1

    def setColorSpace(self, model: str, depth: str, profile: str) -> bool:  # noqa: N802
        if model not in CHANNELS or depth not in DTYPES:
            return False
        self.cs = (model, depth, profile or DEFAULT_PROFILES.get((model, depth), "default"))
        stack = [self.root]
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            if not node.is_mask:  # canonical floats stay; the encoding changes (lossless here)
                node.cs = self.cs
        return True

    def waitForDone(self) -> None:  # noqa: N802
        pass

    def refreshProjection(self) -> None:  # noqa: N802
        pass

    def close(self) -> bool:
        self.closed = True
        if self in self.app.docs:
            self.app.docs.remove(self)
        return True

    # undo history
    def push_undo(self, entry: tuple, undo) -> None:
        self.undo_log.append(entry)
        self._undo_fns.append(undo)

    def undo(self) -> None:
        """Edit > Undo: reverts the last undoable command."""
        self.undo_log.pop()
        self._undo_fns.pop()()

    # test helpers
    def add_layer(self, name: str = "Layer", kind: str = "paintlayer", cs: tuple | None = None) -> Node:
        node = Node(self, name, kind)
        if cs:
            node.cs = (cs[0], cs[1], cs[2] if len(cs) > 2 else DEFAULT_PROFILES.get(tuple(cs[:2]), "default"))
        node.parent = self.root
        self.root.children.append(node)  # set-up, not a user action: no undo entry
        self.active = node
        return node

    def snapshot(self) -> tuple:
        """Everything a user could see change: tree, colour spaces, raw pixels, selection."""
        out = []
        stack = [self.root]
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            b = node.bounds()
            raw = node.raw(b.x(), b.y(), b.width(), b.height()) if not b.isEmpty() else b""
            out.append((node.name(), node.kind, node.cs, (b.x(), b.y(), b.width(), b.height()), raw))
        sel = None
        if self._selection is not None:
            p = self._selection.plane
            sel = (p.x, p.y, p.data.tobytes())
        return (self.cs, tuple(out), sel, len(self.undo_log))


class Action:
    """Krita's undoable selection actions; they act on the active view's document."""

    def __init__(self, app: Krita, name: str) -> None:
        self.app = app
        self.name = name

    def trigger(self) -> None:
        self.app.triggered.append(self.name)
        view = self.app.window.activeView() if self.app.window else None
        if view is None:
            return
        doc = view.document()
        old = doc._selection
        if self.name == "deselect":
            if old is None:
                return  # nothing selected: Krita records nothing
            new = None
        elif self.name == "select_all":
            new = Selection()
            new.setPixelData(b"\xff" * (doc.w * doc.h), 0, 0, doc.w, doc.h)
        else:
            raise AssertionError(f"unexpected action {self.name}")
        doc._selection = new

        def undo() -> None:
            doc._selection = old

        doc.push_undo((self.name,), undo)


class View:
    def __init__(self, doc: Document) -> None:
        self._doc = doc

    def document(self) -> Document:
        return self._doc

    def showFloatingMessage(self, text: str, icon: Any, ms: int, priority: int) -> None:  # noqa: N802
        self._doc.app.messages.append(text)


class Window:
    def __init__(self) -> None:
        self.view: View | None = None

    def activeView(self) -> View | None:  # noqa: N802
        return self.view


VERSION = "5.2.9"  # what Krita.instance().version() says; tests set "6.0.0" for Krita 6


class Krita:
    _instance: Krita | None = None

    def __init__(self) -> None:
        self.settings: dict[tuple[str, str], str] = {}
        self.docs: list[Document] = []
        self.reads: list[tuple] = []
        self.fail_create = False
        self.active_doc: Document | None = None
        self.window: Window | None = None  # None = no GUI (kritarunner)
        self.triggered: list[str] = []
        self.extensions: list = []  # what the plug-in registered (install(qt=...) only)
        self.docker_factories: list = []
        self.messages: list[str] = []  # floating messages shown on the canvas

    def show(self, doc: Document) -> None:
        """Test helper: a main window whose active view shows doc (the GUI case)."""
        self.window = Window()
        self.window.view = View(doc)
        self.active_doc = doc

    def activeWindow(self) -> Window | None:  # noqa: N802
        return self.window

    def version(self) -> str:
        return VERSION

    def addExtension(self, extension: Any) -> None:  # noqa: N802
        self.extensions.append(extension)
        extension.setup()

    def addDockWidgetFactory(self, factory: Any) -> None:  # noqa: N802
        self.docker_factories.append(factory)

    def action(self, name: str) -> Action | None:
        return Action(self, name) if self.window is not None else None

    @classmethod
    def instance(cls) -> Krita:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def readSetting(self, group: str, name: str, default: str) -> str:  # noqa: N802
        return self.settings.get((group, name), default)

    def writeSetting(self, group: str, name: str, value: str) -> None:  # noqa: N802
        self.settings[(group, name)] = str(value)

    def createDocument(self, w: int, h: int, name: str, model: str, depth: str, profile: str, res: float) -> Document | None:  # noqa: N802
        if self.fail_create:
            return None
        doc = Document(self, w, h, name, model, depth, profile)
        self.docs.append(doc)
        return doc

    def documents(self) -> list[Document]:
        return list(self.docs)

    def activeDocument(self) -> Document | None:  # noqa: N802
        return self.active_doc


class Extension:
    def __init__(self, parent: Any = None) -> None:
        self.parent = parent


class DockWidget:
    pass


class DockWidgetFactoryBase:
    DockRight = 2

    def __init__(self, _id: str, position: int) -> None:
        self.id, self.position = _id, position


class DockWidgetFactory(DockWidgetFactoryBase):
    """As Krita's own: createDockWidget() calls what it was given."""

    def __init__(self, _id: str, position: int, klass: Any) -> None:
        super().__init__(_id, position)
        self.klass = klass

    def createDockWidget(self) -> Any:  # noqa: N802
        return self.klass()


def install(qt: str | None = None, version: str = "5.2.9") -> types.ModuleType:
    """A fresh fake `krita` module in sys.modules (callers restore it, e.g. with monkeypatch).

    With ``qt`` ("PyQt5" or "PyQt6") it is the GUI Krita ``version`` would run: DockWidget is a
    real QDockWidget and Extension a QObject of that binding, and the plug-in's registration
    classes are there; without, it is kritarunner's view of Krita (no Qt at all)."""
    global VERSION
    VERSION = version
    module = types.ModuleType("krita")
    Krita._instance = None
    for obj in (Krita, Document, Node, Selection, Extension, DockWidget, QRect, Action, View, Window):
        setattr(module, obj.__name__, obj)
    if qt is not None:
        import importlib

        widgets = importlib.import_module(qt + ".QtWidgets")
        core = importlib.import_module(qt + ".QtCore")

        class QtDockWidget(widgets.QDockWidget):
            def canvasChanged(self, canvas: Any) -> None:  # noqa: N802
                pass

        class QtExtension(core.QObject):
            def __init__(self, parent: Any = None) -> None:
                super().__init__()
                self.parent_app = parent

        module.DockWidget, module.Extension = QtDockWidget, QtExtension
        module.DockWidgetFactory, module.DockWidgetFactoryBase = DockWidgetFactory, DockWidgetFactoryBase
    sys.modules["krita"] = module
    return module

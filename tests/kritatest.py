"""Helpers for the Krita plug-in's fake-host tests (tests/krita/): a holder around the shared
fake worker, test photos and a manual event loop for the controller."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "krita_plugin"
sys.path.insert(0, str(ROOT / "tests" / "fakes"))

import krita_fake  # noqa: E402,F401  (the tests' fake `krita`, from here)

from fakeworker import FakeWorker  # noqa: E402


def holder_for(worker: FakeWorker):
    from bgone_krita import connection

    return connection.WorkerHolder(factory=lambda: worker)


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Straight sRGB floats with a red 'subject' block in the middle, opaque."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 4))
    img[..., :3] = rng.uniform(0.0, 0.4, (h, w, 3))
    img[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4, 0] = 0.9
    img[..., 3] = 1.0
    return img


def photo_doc(app, w: int, h: int, depth: str = "U8"):
    """(document, layer): an RGBA image of the given depth holding photo() in one paint layer."""
    doc = app.createDocument(w, h, "t", "RGBA", depth, "", 72.0)
    layer = doc.add_layer(cs=("RGBA", depth))
    layer.fill(photo(h, w))
    return doc, layer


def expected_rgba8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


class ManualLoop:
    """Stands in for QTimer.singleShot: callbacks run when the test turns the loop."""

    def __init__(self) -> None:
        self.pending: list = []

    def schedule(self, ms: int, fn) -> None:
        self.pending.append(fn)

    def run_until(self, done, timeout: float = 5.0) -> None:
        import time

        end = time.monotonic() + timeout
        while not done() and time.monotonic() < end:
            batch, self.pending = self.pending, []
            for fn in batch:
                fn()
            time.sleep(0.005)
        assert done(), "controller did not finish"


def make_controller(kr, worker):
    fake, _ = kr
    from bgone_krita.controller import Controller

    loop = ManualLoop()
    ctl = Controller(fake.Krita.instance, holder_for(worker), loop.schedule)
    states: list = []
    ctl.listeners.append(lambda s, f, t: states.append((s, f, t)))
    return ctl, loop, states

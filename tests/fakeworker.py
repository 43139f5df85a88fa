"""One fake worker for the GIMP and Krita plug-in tests: the real ``bgone_client.Worker``'s
interface (start, models, remove, refine, cancel, close, pid, last_seconds, last_device,
last_gpu_unused), answering in-process and
raising the real ``bgone_client.ClientError``. The fake model's subject is whatever is red
(red > 128, blue < 128). The real client against a stand-in core is in tests/fakecore.py."""

from __future__ import annotations

import threading

from bgone_client import ClientError

MISSING_MODEL = ClientError(
    "model_missing",
    "The model 'u2netp' is not installed.",
    "Connect to the internet or run `bgone models import`.",
)

MODELS = [
    {"name": "u2netp", "size_label": "4.6 MB", "installed": True, "license": "Apache-2.0",
     "commercial_use": True, "default": False, "description": "small"},
    {"name": "isnet-general-use", "size_label": "179 MB", "installed": False,
     "license": "Apache-2.0", "commercial_use": True, "default": True, "description": "default"},
]  # fmt: skip


def subject(r: int, g: int, b: int) -> int:
    return 255 if r > 128 and b < 128 else 0


class FakeWorker:
    """``fail``: raised by remove() (on call number ``fail_on_call`` when set, else always);
    ``fail_start``: raised by anything that would start the engine; ``gate``: remove() waits
    for it, honouring cancel meanwhile. ``gpu_unused``: what every result reports about an idle
    GPU (the device is then the CPU, as the real engine says)."""

    def __init__(self, python=None, *, plugin_dir=None, timeout=900.0, persistent=False,
                 fail: Exception | None = None, fail_on_call: int | None = None,
                 gate: threading.Event | None = None, fail_start: Exception | None = None,
                 gpu_unused: dict | None = None) -> None:  # fmt: skip
        self.plugin_dir = plugin_dir
        self.persistent = persistent
        self.fail, self.fail_on_call, self.gate, self.fail_start = fail, fail_on_call, gate, fail_start
        self.calls: list[dict] = []
        self.started = 0
        self.closed = False
        self.pid: int | None = None
        self.last_seconds: float | None = None
        self.last_device: str | None = None
        self.last_gpu_unused: dict | None = None
        self.gpu_unused = gpu_unused
        self._cancel = threading.Event()

    def start(self) -> dict:
        self.started += 1
        if self.fail_start:
            raise self.fail_start
        self.pid = 4242
        return {"type": "hello", "protocol": 2, "version": "fake", "pid": self.pid}

    def models(self) -> list[dict]:
        self.start()
        return [dict(m) for m in MODELS]

    def remove(self, rgba, width, height, stride=None, *, model=None, refine=None,
               output="alpha", progress=None, cancelled=None) -> bytes:  # fmt: skip
        self.start()  # the real client starts the engine inside the first request
        self._cancel.clear()
        data = bytes(rgba)
        self.calls.append(dict(rgba=data, width=width, height=height, stride=stride, model=model,
                               refine=refine, output=output))  # fmt: skip
        assert len(data) == (stride or width * 4) * height
        if self.fail is not None and self.fail_on_call in (None, len(self.calls)):
            raise self.fail
        if progress:
            progress("inference", 0.5, "")
        if self.gate is not None:
            while not self.gate.wait(0.01):
                if self._cancel.is_set() or (cancelled and cancelled()):
                    raise ClientError("cancelled", "Cancelled.")
        if progress:
            progress("inference", 1.0, "")
        row = stride or width * 4
        px = [data[y * row + x * 4 : y * row + x * 4 + 4] for y in range(height) for x in range(width)]
        alpha = bytes(subject(*p[:3]) for p in px)
        self.last_seconds, self.last_device, self.last_gpu_unused = 0.25, "cpu", self.gpu_unused
        if output == "alpha":
            return alpha
        return b"".join(p[:3] + bytes([a]) for p, a in zip(px, alpha, strict=True))

    def refine(self, rgba, mask, width, height, stride=None, *, region=None, band=None, grow=0,
               feather=0, output="alpha", progress=None, cancelled=None, **adjust) -> bytes:  # fmt: skip
        """Refine Edges stand-in: the subject (red) where the region is (everywhere without
        one), the given mask elsewhere; the call is recorded like remove()'s."""
        self.start()
        data, old = bytes(rgba), bytes(mask)
        inside = bytes(region) if region is not None else None
        self.calls.append(dict(kind="refine", rgba=data, mask=old, region=inside, width=width,
                               height=height, stride=stride, band=band, grow=grow,
                               feather=feather, output=output, adjust=adjust))  # fmt: skip
        assert len(data) == (stride or width * 4) * height and len(old) == width * height
        assert inside is None or len(inside) == width * height
        if self.fail is not None and self.fail_on_call in (None, len(self.calls)):
            raise self.fail
        if progress:
            progress("refine", 0.0, "")
        if cancelled and cancelled():
            raise ClientError("cancelled", "Cancelled.")
        if progress:
            progress("refine", 1.0, "")
        row = stride or width * 4
        px = [data[y * row + x * 4 : y * row + x * 4 + 4] for y in range(height) for x in range(width)]
        alpha = bytes(
            subject(*p[:3]) if inside is None or inside[i] >= 128 else old[i]
            for i, p in enumerate(px)
        )
        self.last_seconds, self.last_device, self.last_gpu_unused = 0.5, "cpu", None
        if output == "alpha":
            return alpha
        return b"".join(p[:3] + bytes([a * p[3] // 255]) for p, a in zip(px, alpha, strict=True))

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self.closed = True


class FakeWorkers:
    """Stands in for the ``bgone_client.Worker`` class where a plug-in makes its own workers
    (GIMP): keeps every instance, and hands each the failure set here."""

    def __init__(self) -> None:
        self.instances: list[FakeWorker] = []
        self.fail: Exception | None = None
        self.fail_on_call: int | None = None
        self.gpu_unused: dict | None = None

    def __call__(self, *args, **kwargs) -> FakeWorker:
        w = FakeWorker(*args, fail=self.fail, fail_on_call=self.fail_on_call, gpu_unused=self.gpu_unused,
                       **kwargs)  # fmt: skip
        self.instances.append(w)
        return w

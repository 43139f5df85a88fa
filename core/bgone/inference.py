"""ONNX Runtime sessions: created once per model and device, kept warm, chosen provider logged.

onnxruntime is imported lazily so `bgone models list` and the CLI's error paths stay fast and
never fail because of a broken runtime install.
"""

from __future__ import annotations

import logging
import platform
import shutil
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from . import preprocess
from .errors import BgoneError, Cancelled, ModelCorrupt
from .registry import ModelSpec

log = logging.getLogger(__name__)

DEVICES = {
    "cuda": "CUDAExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_AUTO_ORDER = ("cuda", "dml", "coreml")
_MAX_SESSIONS = 2  # big models are ~1 GB each; keep the last two warm, drop older ones
_sessions: OrderedDict[tuple[str, str], Any] = OrderedDict()
_lock = threading.Lock()


def choose_providers(device: str, available: list[str]) -> list[str]:
    """Pure: the provider list for a --device choice, always with the CPU as the fallback."""
    if device == "auto":
        first = [DEVICES[d] for d in _AUTO_ORDER if DEVICES[d] in available]
        return [*first[:1], "CPUExecutionProvider"]
    if device not in DEVICES:
        raise BgoneError(
            f"Unknown device {device!r}.",
            f"Use one of: auto, {', '.join(DEVICES)}.",
            kind="bad_argument",
        )
    if DEVICES[device] not in available:
        raise BgoneError(
            f"The {device} device is not available in this onnxruntime build "
            f"(available: {', '.join(available)}).",
            "Use --device auto or cpu, or install the matching onnxruntime package "
            "(onnxruntime-gpu for CUDA, onnxruntime-directml for DirectML).",
            kind="bad_argument",
        )
    return [DEVICES[device]] if device == "cpu" else [DEVICES[device], "CPUExecutionProvider"]


# A GPU found without any GPU library -> the device that would use it and the package it needs.
GPU_RUNTIMES = {
    "NVIDIA GPU": ("cuda", "CUDA", "onnxruntime-gpu (with the CUDA 12 and cuDNN 9 libraries)"),
    "Apple GPU": ("coreml", "CoreML", "onnxruntime 1.16 or newer (its macOS wheel has CoreML)"),
}


def gpu_hardware() -> str | None:
    """A GPU this machine has, found without any GPU runtime (so it works exactly when that
    runtime is missing). Windows GPUs cannot be told apart cheaply: DirectML is then only
    reported when its onnxruntime build is installed."""
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return "Apple GPU"
    if Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi"):
        return "NVIDIA GPU"
    return None


def device_report(device: str, available: list[str], gpu: str | None) -> dict[str, Any]:
    """Pure: which device a --device choice runs on, and why a present GPU is not used."""
    providers = choose_providers(device, available)
    used = next(d for d, p in DEVICES.items() if p == providers[0])
    note = ""
    if used == "cpu" and gpu in GPU_RUNTIMES:
        _, runtime, package = GPU_RUNTIMES[gpu]
        if device == "cpu":
            note = f"An {gpu} is present; --device cpu was asked for."
        else:
            note = (f"An {gpu} is present but this onnxruntime has no {runtime} support, so the CPU "
                    f"runs the models. To use the GPU, install {package} into bgone's Python "
                    f"({sys.executable}) in place of onnxruntime.")
    elif used == "cpu":
        note = "No supported GPU runtime is installed; the CPU runs the models."
    return {"device": used, "providers": providers, "available": available, "gpu": gpu,
            "note": note}


def describe_device(device: str = "auto") -> dict[str, Any]:
    """device_report for this machine (imports onnxruntime: for `bgone info`, not hot paths)."""
    import onnxruntime as ort

    report = device_report(device, ort.get_available_providers(), gpu_hardware())
    return report | {"onnxruntime": ort.__version__}


def get_session(path: Path, device: str = "auto") -> Any:
    """A cached InferenceSession; a file that is not a loadable model becomes ModelCorrupt."""
    key = (str(path), device)
    with _lock:
        if key in _sessions:
            _sessions.move_to_end(key)
            return _sessions[key]
    import onnxruntime as ort

    providers = choose_providers(device, ort.get_available_providers())
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # The memory pattern pre-plans one block for all activations and keeps it: at 320² u2netp
    # that is ~190 MB more resident for no measurable speed (0.179 vs 0.181 s per forward).
    opts.enable_mem_pattern = False
    # Idle intra-op threads spin by default, burning ~0.15-0.2 CPU-s per forward that a batch
    # needs for decoding and encoding the neighbouring photos on the other cores.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    # onnxruntime raises its own exception types (InvalidProtobuf, Fail, ...)
    except Exception as e:
        raise ModelCorrupt(
            f"{path.name} could not be loaded as an ONNX model ({str(e).splitlines()[0][:200]}).",
            "Run `bgone models verify` and download or import the model again.",
        ) from e
    log.info("loaded %s with %s", path.name, sess.get_providers())
    if providers[0] not in sess.get_providers():  # e.g. CUDA listed but its libraries missing
        log.warning("%s could not start (missing GPU libraries?); %s runs on the CPU",
                    providers[0], path.name)
    with _lock:
        _sessions[key] = sess
        while len(_sessions) > _MAX_SESSIONS:
            _sessions.popitem(last=False)
    return sess


def session_device(sess: Any) -> str:
    """The device a session really runs on: its first provider (a GPU provider whose libraries
    failed to load is missing from the list, leaving the CPU first)."""
    first = (sess.get_providers() or ["CPUExecutionProvider"])[0]
    return next((d for d, p in DEVICES.items() if p == first), first.replace("ExecutionProvider", "").lower())


def last_device() -> str | None:
    """The device of the session handed out last (get_session moves it to the end): the one
    that ran the model of the last request; None before any model ran."""
    with _lock:
        return session_device(next(reversed(_sessions.values()))) if _sessions else None


# From this many image pixels on, the full-resolution steps after the model need more memory
# than a warm arena saves time: release it (see forward).
RELEASE_PIXELS = 4_000_000


def forward(
    sess: Any, tensor: np.ndarray, cancel: Any = None, release: bool = False
) -> np.ndarray:
    """One forward pass; a set ``cancel`` aborts it mid-run (a large model on CPU takes seconds,
    and a host's Cancel button must not have to kill the worker and lose the warm session).

    ``release`` hands the activations' memory back to the system after the run (u2netp: ~270 MB)
    instead of keeping it for the next call: worth its ~45 ms on a big photo, whose full-size
    steps that follow would otherwise stack on top of it.
    """
    inp = sess.get_inputs()[0]
    if inp.type == "tensor(float16)":  # fp16 exports (e.g. the imgly ISNet) want half inputs
        tensor = tensor.astype(np.float16)
    if cancel is None and not release:
        return sess.run(None, {inp.name: tensor})[0]
    import onnxruntime as ort

    opts = ort.RunOptions()
    if release:
        opts.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    if cancel is None:
        return sess.run(None, {inp.name: tensor}, opts)[0]
    done = threading.Event()

    def watch() -> None:
        while True:
            if cancel.is_set():
                opts.terminate = True
                return
            if done.wait(0.02):
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        return sess.run(None, {inp.name: tensor}, opts)[0]
    except Exception:
        if cancel.is_set():
            raise Cancelled() from None
        raise
    finally:
        done.set()
        watcher.join()


def predict_lowres(
    rgb: np.ndarray,
    spec: ModelSpec,
    device: str = "auto",
    path: Path | None = None,
    cancel: Any = None,
    image: Any = None,
) -> np.ndarray:
    """uint8 HxWx3 -> the model's own-resolution mask, float32 in 0..1 (its size follows the
    family's input rule, so it need not be square). ``path``: the verified model file, which
    the caller resolves (store.ensure_model); inference never fetches anything. ``image``: the
    same pixels as a Pillow image (preprocess.as_image), when the caller already made one."""
    if path is None:
        raise TypeError("predict_lowres needs the model file: resolve it with store.ensure_model")
    sess = get_session(path, device)
    size = preprocess.network_size(spec, rgb.shape[1], rgb.shape[0])
    small = preprocess.resize_rgb(rgb if image is None else image, size)
    release = rgb.shape[0] * rgb.shape[1] >= RELEASE_PIXELS
    return preprocess.postprocess(
        forward(sess, preprocess.to_tensor(small, spec), cancel, release), spec
    )

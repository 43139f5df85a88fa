"""Shared fixtures for the real-host tests (GIMP 3, Krita 5.2 in a Debian trixie root).

These tests run only with BGONE_HOST_TESTS=1 (and as root: debootstrap, chroot, namespaces).
With it set, anything missing is a FAILURE, never a skip.

    hostroot        the root, built (once; idempotent) by hosts/build-root.sh. `.path` on the
                    host; `.run(cmd, env=, timeout=, network=)` runs a command inside it;
                    `.host(path)` maps an in-root path to the host; `.fresh(path)` empties an in-root folder.
    core_python     "/opt/bgone-venv/bin/python" (in-root): this checkout's core, installed by
                    hosts/install-core.sh; /root/.config/bgone/config.json points at it
    root_model_dir  "/opt/bgone-models" (in-root): a model cache holding the real u2netp
    photo           a host path to a real photo (from $BGONE_EVAL_DIR, default
                    /work/shared/eval, if present; otherwise a generated photo-like image)
    photo_truth     a host path to its ground-truth alpha (PNG, same size) or None
    truth           that alpha as a u8 array (fails where the photo has none)

Environment: BGONE_HOSTS_ROOT (root path, default /var/tmp/bgone-hosts-root), BGONE_U2NETP (the
model file to seed; default .cache/u2netp.onnx, fetched from PyPI by tests/conftest.py),
BGONE_HOST_PHOTO (a photo to use instead), BGONE_EVAL_DIR.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
HOSTS = REPO / "hosts"
DEFAULT_ROOT = "/var/tmp/bgone-hosts-root"
CORE_PYTHON = "/opt/bgone-venv/bin/python"
ROOT_MODEL_DIR = "/opt/bgone-models"
EVAL_PHOTO = ("comp1k/images/dog_golden.png", "comp1k/gt/dog_golden.png")


def host_tests_enabled() -> bool:
    return os.environ.get("BGONE_HOST_TESTS", "") not in ("", "0")


def pytest_collection_modifyitems(config, items):
    if host_tests_enabled():
        return
    skip = pytest.mark.skip(reason="real-host tests need BGONE_HOST_TESTS=1")
    here = Path(__file__).resolve().parent
    for item in items:
        if "hosts" in item.keywords and here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)


def _tail(text: str, n: int = 4000) -> str:
    return text if len(text) <= n else "..." + text[-n:]


class HostRoot:
    """A built Debian trixie root with GIMP 3 and Krita 5.2."""

    def __init__(self, path: Path, build_seconds: float) -> None:
        self.path = Path(path)
        self.build_seconds = build_seconds

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def host(self, inside: str | os.PathLike) -> Path:
        """The host path of an in-root path."""
        return self.path / str(inside).lstrip("/")

    def fresh(self, inside: str) -> Path:
        """An in-root folder made empty (what a previous run left there removed); its host path."""
        path = self.host(inside)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def run(self, cmd: list[str], env: dict[str, str] | None = None, timeout: int = 300,
            network: bool = True) -> subprocess.CompletedProcess:
        """Run ``cmd`` inside the root (clean environment plus ``env``), in private namespaces;
        ``network=False`` adds a network namespace with no interfaces up."""
        full = [str(HOSTS / "run-in-root.sh"), str(self.path), str(timeout), "env",
                *[f"{k}={v}" for k, v in (env or {}).items()], *cmd]
        if not network:
            full = ["unshare", "--net", "--", *full]
        return subprocess.run(full, capture_output=True, text=True, timeout=timeout + 60)


def _require(condition: bool, message: str) -> None:
    if not condition:
        pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def hostroot() -> HostRoot:
    _require(host_tests_enabled(), "real-host fixtures used without BGONE_HOST_TESTS=1")
    _require(sys.platform.startswith("linux"), "the host harness needs Linux")
    _require(os.geteuid() == 0, "the host harness needs root (debootstrap, chroot, unshare)")
    for tool in ("unshare", "chroot", "flock"):
        _require(shutil.which(tool) is not None, f"{tool} is missing on this machine")
    root = Path(os.environ.get("BGONE_HOSTS_ROOT", DEFAULT_ROOT))
    t0 = time.monotonic()
    proc = subprocess.run([str(HOSTS / "build-root.sh"), str(root)], capture_output=True, text=True, timeout=3600)
    _require(proc.returncode == 0, f"hosts/build-root.sh failed ({proc.returncode}):\n{_tail(proc.stdout)}\n{_tail(proc.stderr)}")
    r = HostRoot(root, time.monotonic() - t0)
    for exe in ("usr/bin/gimp-console-3.0", "usr/bin/krita", "usr/bin/python3", "usr/bin/xvfb-run"):
        _require(r.host(exe).exists(), f"{exe} is missing from the root {root}")
    return r


@pytest.fixture(scope="session")
def core_python(hostroot: HostRoot) -> str:
    from tests.modelfiles import fetch_u2netp

    cmd = [str(HOSTS / "install-core.sh"), str(hostroot.path), str(fetch_u2netp())]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    _require(proc.returncode == 0, f"hosts/install-core.sh failed ({proc.returncode}):\n{_tail(proc.stdout)}\n{_tail(proc.stderr)}")
    _require(hostroot.host(CORE_PYTHON).exists(), f"{CORE_PYTHON} missing in the root after install-core.sh")
    return CORE_PYTHON


@pytest.fixture(scope="session")
def root_model_dir(hostroot: HostRoot, core_python: str) -> str:
    _require(hostroot.host(ROOT_MODEL_DIR + "/u2netp.onnx").is_file(), "u2netp was not imported into the root's model cache")
    return ROOT_MODEL_DIR


def make_photo(dest: Path, truth: Path, size=(960, 720)) -> None:
    """A photo-like test image: a shaded, textured subject on a blurred, noisy background."""
    from PIL import ImageDraw, ImageFilter

    w, h = size
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bg = np.stack([120 + 60 * xx / w, 150 + 40 * yy / h, 170 - 50 * xx / w], -1)
    bg += rng.normal(0, 12, (h, w, 3))
    bg = np.asarray(Image.fromarray(bg.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(3)), np.float32)
    mask = Image.new("L", size, 0)
    d = ImageDraw.Draw(mask)
    cx, cy = w // 2, h // 2
    d.ellipse([cx - w // 7, cy - h // 2.6, cx + w // 7, cy - h // 8], fill=255)  # head
    d.rounded_rectangle([cx - w // 4.5, cy - h // 7, cx + w // 4.5, h - 1], radius=w // 12, fill=255)  # body
    m = np.asarray(mask.filter(ImageFilter.GaussianBlur(1.5)), np.float32) / 255.0
    shade = 0.6 + 0.4 * np.clip(1 - ((xx - cx) ** 2 + (yy - cy) ** 2) / (w * h / 3), 0, 1)
    fg = np.stack([200 * shade, 70 * shade, 40 * shade], -1) + rng.normal(0, 6, (h, w, 3))
    img = fg * m[..., None] + bg * (1 - m[..., None])
    Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(dest)
    Image.fromarray((m * 255).round().astype(np.uint8)).save(truth)


@pytest.fixture(scope="session")
def _photo_pair(tmp_path_factory) -> tuple[Path, Path | None]:
    own = os.environ.get("BGONE_HOST_PHOTO")
    if own:
        _require(Path(own).is_file(), f"BGONE_HOST_PHOTO={own} does not exist")
        return Path(own), None
    eval_dir = Path(os.environ.get("BGONE_EVAL_DIR", "/work/shared/eval"))
    img, gt = (eval_dir / p for p in EVAL_PHOTO)
    if img.is_file() and gt.is_file():
        return img, gt
    d = tmp_path_factory.mktemp("photo")
    make_photo(d / "photo.png", d / "truth.png")
    return d / "photo.png", d / "truth.png"


@pytest.fixture(scope="session")
def photo(_photo_pair) -> Path:
    return _photo_pair[0]


@pytest.fixture(scope="session")
def photo_truth(_photo_pair) -> Path | None:
    return _photo_pair[1]


@pytest.fixture(scope="session")
def truth(photo_truth) -> np.ndarray:
    """The photo's ground-truth alpha (u8); for tests that cannot do without one."""
    assert photo_truth is not None, "this host test needs a photo with its ground truth"
    return np.asarray(Image.open(photo_truth).convert("L"))

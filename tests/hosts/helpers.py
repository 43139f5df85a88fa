"""Host-side helpers of the real-host tests: running GIMP, Krita and the core inside the root
(conftest.HostRoot) and reading back what the probes wrote, and the measures the checks use.
The probe scripts' shared in-root pieces are in hosts/probes.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from hosts.probes import XVFB, gimp_batch_argv

REPO = Path(__file__).resolve().parents[2]


def log(proc: subprocess.CompletedProcess, n: int = 3000) -> str:
    """A command's exit status and the tails of its output, for an assertion message."""
    return f"(rc {proc.returncode})\nstdout:\n{proc.stdout[-n:]}\nstderr:\n{proc.stderr[-n:]}"


def read_report(path: Path, proc: subprocess.CompletedProcess, who: str) -> dict:
    """The JSON report a probe wrote at ``path`` (asserted there, and without a top-level
    traceback), with the command's log under "log"."""
    assert path.is_file(), f"no report from {who} {log(proc, 5000)}"
    data = json.loads(path.read_text())
    data["log"] = log(proc)
    assert "traceback" not in data, f"{data['traceback']}\n{data['log']}"
    return data


def install_gimp_plugin(hostroot, core_python: str) -> None:
    """hosts/install-gimp-plugin.sh: the GIMP plug-in into root's profile, as the installer lays it out."""
    proc = subprocess.run([str(REPO / "hosts" / "install-gimp-plugin.sh"), str(hostroot.path), core_python],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def run_gimp_batch(root, job: str, name: str, spec: dict, env: dict | None = None, timeout: int = 540,
                   network: bool = True, script: str = "batch.py") -> dict:
    """The batch script ``job``/``script`` (in-root) in gimp-console-3.0 with ``spec`` (its "out"
    is ``job``/``name``, made fresh); its report (the format of hosts.probes' GIMP batch snippets)."""
    out = root.fresh(f"{job}/{name}")
    (out / "spec.json").write_text(json.dumps({"out": f"{job}/{name}", **spec}))
    proc = root.run(gimp_batch_argv(f"{job}/{script}"), env={"BGONE_SPEC": f"{job}/{name}/spec.json", **(env or {})},
                    timeout=timeout, network=network)
    return read_report(out / "report.json", proc, "GIMP")


def gimp_case(report: dict, name: str) -> dict:
    """One case of a GIMP batch report, asserted to have run and succeeded."""
    c = report["cases"][name]
    assert "traceback" not in c, c["traceback"]
    assert c.get("ok", True), f"{name}: {c.get('message')}\n{report['log']}"
    return c


def run_kritarunner(root, module: str, args: list[str], report: str, env: dict, timeout: int = 900) -> dict:
    """``kritarunner -s module -f main args`` offscreen, without network (the module on env's
    PYTHONPATH); the report.json it wrote at ``report`` (in-root)."""
    cmd = ["kritarunner", "-s", module, "-f", "main", *args]
    proc = root.run(cmd, env={**env, "QT_QPA_PLATFORM": "offscreen"}, timeout=timeout, network=False)
    return read_report(root.host(report), proc, "kritarunner")


def run_full_krita(root, report: str, env: dict, timeout: int = 600) -> dict:
    """The full `krita` under xvfb-run, without network, until a probe in it writes ``report``
    (in-root) and ends it; that report."""
    root.host(report).unlink(missing_ok=True)
    proc = root.run([*XVFB, "krita", "--nosplash"], env=env, timeout=timeout, network=False)
    return read_report(root.host(report), proc, "the probe inside the full Krita")


def core_mask(root, python: str, photo: str, out: str, refine: str, env: dict, timeout: int = 600,
              network: bool = True) -> np.ndarray:
    """The core's own `bgone remove --mask` (u2netp) on ``photo`` in the root: the reference a
    plug-in's result is held against."""
    cmd = [python, "-m", "bgone", "remove", photo, "-o", out, "--mask", "--model", "u2netp", "--refine", refine,
           "--overwrite"]
    proc = root.run(cmd, env=env, timeout=timeout, network=network)
    assert proc.returncode == 0, f"the core failed {log(proc)}"
    return np.asarray(Image.open(root.host(out)).convert("L"))


def plane(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A raw 8-bit plane a probe saved (h, w) or (h, w, channels), its size checked."""
    data = np.fromfile(path, np.uint8)
    assert data.size == int(np.prod(shape)), (path, data.size, shape)
    return data.reshape(shape)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two alphas thresholded at half."""
    fa, fb = a > 127, b > 127
    union = np.logical_or(fa, fb).sum()
    return float(np.logical_and(fa, fb).sum() / union) if union else 1.0


def gradient_error(alpha: np.ndarray, truth: np.ndarray) -> float:
    """The gradient error of /work/shared/eval/metrics.py (Rhemann et al.: Gaussian first-
    derivative magnitudes at sigma 1.4, squared difference summed, / 1000) on 0..1 alphas."""
    from scipy.ndimage import gaussian_gradient_magnitude

    a, t = alpha.astype(np.float64) / 255, truth.astype(np.float64) / 255
    return float(((gaussian_gradient_magnitude(a, 1.4) - gaussian_gradient_magnitude(t, 1.4)) ** 2).sum() / 1000)


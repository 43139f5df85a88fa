"""The host-side client against the real worker (with a stand-in pipeline) and against fake
workers: small Python scripts in tmp_path that the client starts as if they were the core's
Python (they get `-u -m bgone.worker` as arguments and ignore them)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import bgone_client as client
from bgone_client import ClientError, Worker, choices, transport
from bgone_client.worker import device_of
from fakecore import FAKE_PIPELINE, REAL_WORKER, make_python

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fake workers are shebang scripts")



@pytest.fixture
def patched_python(tmp_path, model_dir) -> Path:
    return make_python(tmp_path / "patched-python", FAKE_PIPELINE)


def starts(tmp_path: Path, name: str = "starts.log") -> list[int]:
    p = tmp_path / name
    return [int(x) for x in p.read_text().split()] if p.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return True


def image(w: int, h: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8).tobytes()


def red(rgba: bytes) -> bytes:
    return rgba[0::4]


# -- against the real worker -------------------------------------------------------------------


def test_remove_and_models_through_the_real_worker(patched_python):
    events = []
    with Worker(str(patched_python)) as w:
        hello = w.start()
        assert hello["protocol"] == client.PROTOCOL_VERSION and hello["pid"] == w.pid
        data = image(31, 17)
        alpha = w.remove(data, 31, 17, progress=lambda *e: events.append(e))
        assert alpha == red(data)
        rgba = w.remove(data, 31, 17, output="rgba")
        px = np.frombuffer(data, np.uint8).reshape(17, 31, 4).astype(np.uint32)
        want_a = ((px[:, :, 0] * px[:, :, 3] + 127) // 255).astype(np.uint8)
        out = np.frombuffer(rgba, np.uint8).reshape(17, 31, 4)
        assert np.array_equal(out[:, :, 3], want_a) and np.array_equal(out[:, :, :3], px[:, :, :3])
        names = [m["name"] for m in w.models()]
        assert "u2netp" in names
        assert w.pid == hello["pid"]  # one process served everything
        pid = w.pid
    assert ("inference", 1.0, "Finding the subject") in events
    assert all(isinstance(m, str) and m for _, _, m in events)
    assert not alive(pid)  # close() ended it


def test_the_device_that_ran_it_and_an_idle_gpu_reach_the_client(patched_python, tmp_path, monkeypatch):
    with Worker(str(patched_python)) as w:
        w.remove(image(3, 2), 3, 2)
        assert (w.last_device, w.last_gpu_unused) == ("cpu", None)  # this machine has no GPU
        assert choices.took_text(w.last_seconds, w.last_device, w.last_gpu_unused).endswith(" s on the CPU")
    # an NVIDIA driver's tool on PATH, and this venv's CPU-only onnxruntime: the GPU sits idle
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "nvidia-smi").write_text("#!/bin/sh\nexit 0\n")
    (tools / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    with Worker(str(patched_python)) as w:
        w.remove(image(3, 2), 3, 2)
        assert w.last_device == "cpu"
        idle = w.last_gpu_unused
        assert idle["gpu"] == "NVIDIA GPU" and idle["reason"] == "no_runtime", idle
        assert "onnxruntime-gpu" in idle["note"] and "onnxruntime-gpu" in choices.gpu_note(idle)
        line = choices.took_text(1.0, w.last_device, idle)
        assert line == ("in 1.0 s on the CPU (an NVIDIA GPU is present, but its runtime is not "
                        "installed: see README 'Using a GPU')")  # fmt: skip


def test_an_engine_that_does_not_say_its_device_still_works(tmp_path):
    """A protocol-2 engine from before the device members: the result is used, the device unknown."""
    body = 'hello()\nmsg, _ = recv()\nsend({"type": "result", "id": msg["id"], "width": 2, "height": 1, "output": "alpha", "seconds": 0.5}, b"ab")\nrecv()\n'
    with Worker(str(make_python(tmp_path / "older", body))) as w:
        assert w.remove(image(2, 1), 2, 1) == b"ab"
        assert (w.last_seconds, w.last_device, w.last_gpu_unused) == (0.5, None, None)
    assert choices.took_text(0.5, None) == "in 0.5 s"
    assert device_of({"device": "cpu", "gpu": "NVIDIA GPU", "gpu_reason": 3}) == (
        "cpu", {"gpu": "NVIDIA GPU", "reason": "", "note": ""})
    assert device_of({"device": 1, "gpu": "NVIDIA GPU"}) == (None, None)


def test_padded_rows_and_memoryview_input(patched_python):
    w_, h_, stride = 6, 3, 6 * 4 + 4
    rows = bytearray(b"\xee" * stride * h_)
    px = image(w_, h_, seed=5)
    for y in range(h_):
        rows[y * stride : y * stride + w_ * 4] = px[y * w_ * 4 : (y + 1) * w_ * 4]
    with Worker(str(patched_python)) as w:
        assert w.remove(memoryview(rows), w_, h_, stride) == red(px)


def test_a_missing_model_reads_in_the_hosts_words(patched_python):
    with Worker(str(patched_python)) as w, pytest.raises(ClientError) as info:
        w.remove(image(2, 2), 2, 2, model="missing")
    assert info.value.kind == "model_missing" and "not installed" in info.value.message
    assert info.value.hint == choices.HOST_HINTS["model_missing"]


def test_worker_errors_keep_their_kind_and_words(tmp_path, model_dir):
    # The real, unpatched worker: an unknown model name is the core's own UnknownModel.
    with Worker(str(make_python(tmp_path / "core-python", REAL_WORKER))) as w:
        with pytest.raises(ClientError) as info:
            w.remove(image(2, 2), 2, 2, model="no-such-model", refine="none")
        assert info.value.kind == "unknown_model"
        assert "no-such-model" in info.value.message and "u2netp" in info.value.hint
        assert str(info.value) == info.value.message + "\n" + info.value.hint
        assert w.models()  # the worker is still fine


def test_bad_sizes_are_caught_before_the_worker_starts(tmp_path):
    w = Worker(str(tmp_path / "no-python-here"))
    with pytest.raises(ClientError) as info:
        w.remove(bytes(15), 2, 2)
    assert info.value.kind == "bad_image" and "expected 16" in info.value.message
    with pytest.raises(ClientError) as info:
        w.remove(bytes(16), 2, 2, stride=4)
    assert info.value.kind == "bad_image" and "stride" in info.value.message.lower()
    with pytest.raises(ClientError) as info:
        w.remove(b"", 30000, 30000)
    assert info.value.kind == "bad_image" and "megapixels" in info.value.message
    with pytest.raises(ClientError) as info:
        w.remove(bytes(16), 2, 2, output="png")
    assert info.value.kind == "bad_argument"
    assert w.pid is None


# -- fake workers ------------------------------------------------------------------------------


def test_a_worker_dying_mid_request_is_reported_then_restarted(tmp_path):
    python = make_python(
        tmp_path / "dies-once",
        """
        log_start("starts.log")
        hello()
        msg, payload = recv()
        if len(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "starts.log")).read().split()) == 1:
            send({"type": "progress", "id": msg["id"], "stage": "inference", "fraction": 0.0, "message": "x"})
            sys.stderr.write("Fatal: the engine fell over (simulated)\\n")
            sys.stderr.flush()
            os._exit(3)
        send({"type": "result", "id": msg["id"], "width": 2, "height": 2, "output": "alpha"}, payload[0::4])
        while True:
            recv()
        """,
    )
    w = Worker(str(python))
    data = image(2, 2)
    with pytest.raises(ClientError) as info:
        w.remove(data, 2, 2)
    err = info.value
    assert err.kind == "worker_crashed"
    assert "exit code 3" in err.message and "the engine fell over (simulated)" in err.message
    assert err.hint
    first = starts(tmp_path)
    assert len(first) == 1 and not alive(first[0])
    assert w.remove(data, 2, 2) == red(data)  # restarted transparently on the next call
    assert len(starts(tmp_path)) == 2
    w.close()


def test_a_worker_killed_between_calls_is_replaced_without_an_error(patched_python):
    """The host keeps a warm worker; if it died while idle (OOM killer, logout, a crash), the
    next click must just work, even in the moment before the death is noticed."""
    import signal

    with Worker(str(patched_python)) as w:
        data = image(8, 4)
        assert w.remove(data, 8, 4) == red(data)
        first = w.pid
        os.kill(first, signal.SIGKILL)
        assert w.remove(data, 8, 4) == red(data)  # immediately, no sleep: no error either way
        assert w.pid != first


def test_garbage_on_stdout_is_a_protocol_error(tmp_path):
    python = make_python(
        tmp_path / "chatty",
        """
        hello()
        msg, payload = recv()
        print("Welcome to my sitecustomize!", flush=True)
        time.sleep(30)
        """,
    )
    w = Worker(str(python))
    pid = w.start()["pid"]
    with pytest.raises(ClientError) as info:
        w.remove(image(2, 2), 2, 2)
    assert info.value.kind == "protocol"
    assert "Welcome to my sitecustomize!" in info.value.message
    time.sleep(0.2)
    assert not alive(pid)  # a confused worker is not kept
    w.close()


def test_garbage_before_hello_is_a_protocol_error(tmp_path):
    python = make_python(
        tmp_path / "banner", 'print("Python 3.x banner"); sys.stdout.flush(); time.sleep(30)\n'
    )
    with pytest.raises(ClientError) as info:
        Worker(str(python)).start()
    assert info.value.kind == "protocol" and "banner" in info.value.message


def test_a_silent_worker_times_out_and_is_killed(tmp_path):
    python = make_python(
        tmp_path / "silent",
        """
        hello()
        while True:
            recv()
        """,
    )
    w = Worker(str(python), timeout=1.0)
    pid = w.start()["pid"]
    t0 = time.monotonic()
    with pytest.raises(ClientError) as info:
        w.remove(image(2, 2), 2, 2)
    elapsed = time.monotonic() - t0
    assert info.value.kind == "timeout" and "1 seconds" in info.value.message
    assert 0.9 <= elapsed < 5
    assert not alive(pid)
    w.close()


def test_progress_resets_the_timeout(tmp_path):
    python = make_python(
        tmp_path / "slow-but-talking",
        """
        hello()
        msg, payload = recv()
        for i in range(8):
            time.sleep(0.3)
            send({"type": "progress", "id": msg["id"], "stage": "download", "fraction": i / 7, "message": "m"})
        send({"type": "result", "id": msg["id"], "width": 2, "height": 2, "output": "alpha"}, b"abcd")
        while True:
            recv()
        """,
    )
    seen = []
    w = Worker(str(python), timeout=1.0)
    assert w.remove(image(2, 2), 2, 2, progress=lambda s, f, m: seen.append(f)) == b"abcd"
    assert len(seen) == 8 and seen[-1] == 1.0  # 2.4 s in all, never 1 s silent
    w.close()


@pytest.mark.parametrize("version", [1, 99])  # 1: the engine of the previous release
def test_an_engine_of_another_release_asks_for_the_installer(tmp_path, version):
    python = make_python(tmp_path / "other", f"hello(protocol={version})\ntime.sleep(30)\n")
    t0 = time.monotonic()
    with pytest.raises(ClientError) as info:
        Worker(str(python)).start()
    assert time.monotonic() - t0 < 10  # no hang
    assert info.value.kind == "version_mismatch"
    assert str(version) in info.value.message and "0.0.fake" in info.value.message
    assert "run the bgone installer again" in info.value.hint.lower()


OLD_RELEASE = "814eb13"  # the last commit whose plug-ins carried the single-file client


def _old_client(tmp_path: Path):
    """The previous release's client (core/bgone/client.py at OLD_RELEASE), as a plug-in had it."""
    import importlib.util
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    got = subprocess.run(["git", "-C", str(repo), "show", f"{OLD_RELEASE}:core/bgone/client.py"],
                         capture_output=True, timeout=30)  # fmt: skip
    if got.returncode != 0:
        pytest.skip(f"git history without {OLD_RELEASE} (shallow clone?)")
    path = tmp_path / "old_bgone_client.py"
    path.write_bytes(got.stdout)
    spec = importlib.util.spec_from_file_location("old_bgone_client", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("persistent", [False, True])
def test_a_plugin_of_the_previous_release_asks_for_the_installer(tmp_path, runtime_dir, persistent):
    """The old copied client talking to this engine: a clear message, never a hang."""
    old = _old_client(tmp_path)
    python = make_python(tmp_path / "core-python", REAL_WORKER)
    worker = old.Worker(str(python), persistent=persistent)
    t0 = time.monotonic()
    try:
        with pytest.raises(old.ClientError) as info:
            worker.remove(image(2, 2), 2, 2)
    finally:
        pid = worker.pid
        worker.close()
        if persistent and pid:
            _kill(pid)
    assert time.monotonic() - t0 < 30
    assert info.value.kind == "protocol" and "Traceback" not in str(info.value)
    assert "run the bgone installer again" in str(info.value).lower()


def test_a_python_without_bgone_is_core_missing(tmp_path):
    # -S: no site-packages, so the real `-m bgone.worker` fails the way a wrong Python does.
    python = make_python(
        tmp_path / "bare",
        "os.execv(sys.executable, [sys.executable, '-S', '-m', 'bgone.worker'])\n",
    )
    with pytest.raises(ClientError) as info:
        Worker(str(python)).start()
    assert info.value.kind == "core_missing"
    assert str(python) in info.value.message and "bgone" in info.value.message


def test_a_missing_python_is_core_missing(tmp_path):
    with pytest.raises(ClientError) as info:
        Worker(str(tmp_path / "gone" / "python3")).start()
    assert info.value.kind == "core_missing" and "gone" in info.value.message


def test_crash_at_startup_is_worker_crashed_with_stderr(tmp_path):
    python = make_python(
        tmp_path / "crash", 'sys.stderr.write("Illegal instruction in libonnx\\n"); sys.exit(132)\n'
    )
    with pytest.raises(ClientError) as info:
        Worker(str(python)).start()
    assert info.value.kind == "worker_crashed"
    assert (
        "exit code 132" in info.value.message
        and "Illegal instruction in libonnx" in info.value.message
    )


# -- cancel ------------------------------------------------------------------------------------


def _cancel_once_started(w: Worker, model: str) -> tuple[ClientError, float]:
    """A request cancelled (by its cancelled() callable) as soon as it reports progress:
    the error and the seconds it took."""
    started = threading.Event()
    t0 = time.monotonic()
    with pytest.raises(ClientError) as info:
        w.remove(image(4, 4), 4, 4, model=model,
                 progress=lambda s, f, m: started.set(), cancelled=started.is_set)  # fmt: skip
    return info.value, time.monotonic() - t0


def test_cancelled_callable_stops_a_busy_worker_which_stays_warm(patched_python):
    with Worker(str(patched_python)) as w:
        pid = w.start()["pid"]
        error, elapsed = _cancel_once_started(w, "slow")
        assert error.kind == "cancelled"
        assert elapsed < 3  # the worker confirmed; no kill needed
        assert w.pid == pid and alive(pid)
        data = image(3, 3)
        assert w.remove(data, 3, 3) == red(data)
        assert w.pid == pid


def test_cancel_from_another_thread(patched_python):
    with Worker(str(patched_python)) as w:
        started = threading.Event()
        result = {}

        def run():
            try:
                w.remove(image(4, 4), 4, 4, model="slow", progress=lambda s, f, m: started.set())
            except ClientError as e:
                result["kind"] = e.kind

        t = threading.Thread(target=run)
        t.start()
        assert started.wait(20)
        w.cancel()
        t.join(10)
        assert result == {"kind": "cancelled"}


def test_a_worker_that_ignores_cancel_is_killed_after_3_seconds(patched_python):
    with Worker(str(patched_python)) as w:
        pid = w.start()["pid"]
        error, elapsed = _cancel_once_started(w, "stubborn")
        assert error.kind == "cancelled"
        assert 2.9 <= elapsed < 8
        assert not alive(pid)
        data = image(2, 2)
        assert w.remove(data, 2, 2) == red(data)  # a fresh worker
        assert w.pid != pid


def test_cancelled_before_sending_does_not_start_anything(tmp_path):
    w = Worker(str(tmp_path / "no-python-here"))
    with pytest.raises(ClientError) as info:
        w.remove(image(2, 2), 2, 2, cancelled=lambda: True)
    assert info.value.kind == "cancelled"


# -- environment -------------------------------------------------------------------------------


def test_the_worker_gets_a_clean_environment(tmp_path, monkeypatch):
    python = make_python(
        tmp_path / "envdump",
        """
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "env.json"), "w") as f:
            json.dump({"env": dict(os.environ), "cwd": os.getcwd()}, f)
        hello()
        while True:
            recv()
        """,
    )
    monkeypatch.setenv("PYTHONPATH", "/host/lib/python3.10")
    monkeypatch.setenv("PYTHONHOME", "/host")
    monkeypatch.setenv("PYTHONSTARTUP", "/host/startup.py")
    monkeypatch.setenv("BGONE_MODEL_DIR", "/models/here")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    monkeypatch.setenv("GI_TYPELIB_PATH", "/usr/lib/girepository-1.0")
    with Worker(str(python)) as w:
        w.start()
    dumped = json.loads((tmp_path / "env.json").read_text())
    env = dumped["env"]
    for gone in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"):
        assert gone not in env
    assert env["BGONE_MODEL_DIR"] == "/models/here"
    assert env["HTTPS_PROXY"] == "http://proxy:3128"
    assert env["HOME"] == os.environ["HOME"] and env["PATH"] == os.environ["PATH"]
    assert dumped["cwd"] == str(tmp_path)  # the Python's own folder, not the host's cwd


def test_clean_env_drops_appimage_paths():
    env = client.clean_env({
        "APPIMAGE": "/home/u/krita.appimage", "APPDIR": "/tmp/.mount_krita",
        "LD_LIBRARY_PATH": "/tmp/.mount_krita/usr/lib:/opt/cuda/lib64",
        "PATH": "/tmp/.mount_krita/usr/bin:/usr/bin", "PYTHONHOME": "/tmp/.mount_krita/usr",
        "PYTHONUTF8": "1", "__PYVENV_LAUNCHER__": "/x", "LD_PRELOAD": "libfoo.so", "HOME": "/home/u",
    })  # fmt: skip
    assert env["LD_LIBRARY_PATH"] == "/opt/cuda/lib64"
    assert env["PATH"] == "/usr/bin"
    assert "PYTHONHOME" not in env and "__PYVENV_LAUNCHER__" not in env and "LD_PRELOAD" not in env
    assert env["PYTHONUTF8"] == "1" and env["HOME"] == "/home/u"


# -- find_core_python --------------------------------------------------------------------------


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Isolated HOME/XDG dirs and three executable stand-in Pythons."""
    home = tmp_path / "home"
    xdg = tmp_path / "xdg"
    plugin = tmp_path / "plugin"
    for d in (home, xdg, plugin):
        d.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.setenv("APPDATA", str(tmp_path / "appdata"))
    monkeypatch.delenv("BGONE_PYTHON", raising=False)
    pythons = {}
    for name in ("env", "plugin", "user"):
        p = tmp_path / f"python-{name}"
        p.write_text("#!/bin/sh\n")
        p.chmod(0o755)
        pythons[name] = str(p)
    return {"home": home, "xdg": xdg, "plugin": plugin, "py": pythons}


def write_config(path: Path, **doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def user_config(places) -> Path:
    return Path(client.user_config_dir()) / "config.json"


def test_user_config_dir_follows_the_platform(places):
    if sys.platform.startswith("linux"):
        assert client.user_config_dir() == str(places["xdg"] / "bgone")


def test_precedence_env_then_plugin_then_user(places, monkeypatch):
    py, plugin = places["py"], places["plugin"]
    with pytest.raises(ClientError) as info:
        client.find_core_python(str(plugin))
    assert info.value.kind == "core_missing" and "installer" in info.value.hint

    write_config(user_config(places), python=py["user"])
    assert client.find_core_python(str(plugin)) == py["user"]
    write_config(
        plugin / "bgone_config.json", python=py["plugin"], version="0.1.0", flatpak_spawn=False
    )
    assert client.find_core_python(str(plugin)) == py["plugin"]
    assert client.find_core_python(None) == py["user"]  # no plug-in dir: only the user config
    monkeypatch.setenv("BGONE_PYTHON", py["env"])
    assert client.find_core_python(str(plugin)) == py["env"]


def test_a_stale_plugin_config_falls_back_to_the_user_config(places):
    write_config(
        places["plugin"] / "bgone_config.json", python=str(places["home"] / "old-venv" / "python")
    )
    write_config(user_config(places), python=places["py"]["user"])
    assert client.find_core_python(str(places["plugin"])) == places["py"]["user"]


def test_unusable_configs_are_named_in_the_error(places):
    (places["plugin"] / "bgone_config.json").write_text("{not json")
    write_config(user_config(places), python=str(places["home"] / "missing-python"))
    with pytest.raises(ClientError) as info:
        client.find_core_python(str(places["plugin"]))
    assert info.value.kind == "core_missing"
    assert "bgone_config.json is unreadable" in info.value.message
    assert "missing-python" in info.value.message


def test_a_bad_bgone_python_is_an_error_not_a_fallback(places, monkeypatch):
    write_config(user_config(places), python=places["py"]["user"])
    monkeypatch.setenv("BGONE_PYTHON", str(places["home"] / "nope"))
    with pytest.raises(ClientError) as info:
        client.find_core_python()
    assert info.value.kind == "core_missing" and "BGONE_PYTHON" in info.value.message


def test_a_non_executable_python_is_not_used(places):
    py = Path(places["py"]["plugin"])
    py.chmod(0o644)
    write_config(places["plugin"] / "bgone_config.json", python=str(py))
    with pytest.raises(ClientError) as info:
        client.find_core_python(str(places["plugin"]))
    assert info.value.kind == "core_missing"


def test_flatpak_spawn_runs_the_host_python(places, monkeypatch):
    host_python = "/home/someone/.local/share/bgone/venv/bin/python"  # not visible in a sandbox
    write_config(places["plugin"] / "bgone_config.json", python=host_python, flatpak_spawn=True)
    monkeypatch.setenv("BGONE_MODEL_DIR", "/data/models")
    assert client.find_core_python(str(places["plugin"])) == host_python
    argv, python, cwd = Worker(plugin_dir=str(places["plugin"]))._command()
    assert argv[:2] == ["flatpak-spawn", "--host"]
    assert argv[-4:] == [host_python, "-u", "-m", "bgone.worker"]
    assert "--env=BGONE_MODEL_DIR=/data/models" in argv
    assert cwd is None and python == host_python


def test_the_copied_client_works_from_a_python_without_numpy(tmp_path, patched_python):
    """As in a plug-in: the bgone_client package alone, in a Python that has no site-packages."""
    import shutil
    import subprocess

    plugin = tmp_path / "plugin"
    plugin.mkdir()
    shutil.copytree(os.path.dirname(client.__file__), plugin / "bgone_client")
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(plugin)!r})
        import bgone_client
        with bgone_client.Worker({str(patched_python)!r}) as w:
            alpha = w.remove(bytes([10, 0, 0, 255, 20, 0, 0, 255]), 2, 1)
        assert "numpy" not in sys.modules and "bgone" not in sys.modules
        print(list(alpha))
        """
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[10, 20]"


def test_a_framing_error_reported_by_the_worker_is_a_protocol_error(tmp_path):
    python = make_python(
        tmp_path / "confused",
        """
        hello()
        recv()
        send({"type": "error", "id": None, "kind": "protocol", "message": "The worker received garbage.", "hint": "h"})
        sys.exit(2)
        """,
    )
    with Worker(str(python)) as w, pytest.raises(ClientError) as info:
        w.remove(image(2, 2), 2, 2)
    assert (info.value.kind, info.value.message, info.value.hint) == (
        "protocol",
        "The worker received garbage.",
        "h",
    )


# -- persistent worker (hosts that start a new plug-in process per call, like GIMP) ----------


@pytest.fixture
def runtime_dir(monkeypatch):
    import shutil
    import tempfile

    d = tempfile.mkdtemp(prefix="bgrt", dir="/tmp")  # AF_UNIX paths must stay short
    monkeypatch.setenv("XDG_RUNTIME_DIR", d)
    yield Path(d)
    for pid in _listening_in(d):  # daemons a test left behind (an old client forgets their pid)
        _kill(pid)
    shutil.rmtree(d, ignore_errors=True)


def _listening_in(folder: str) -> list[int]:
    """Pids of the persistent workers started with a socket in ``folder``."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--listen" in argv and any(a.startswith(folder.encode()) for a in argv):
            pids.append(int(entry.name))
    return pids


def _kill(pid):
    try:
        os.kill(pid, 9)
    except OSError:
        pass


def test_a_persistent_worker_outlives_its_client_and_serves_the_next(patched_python, runtime_dir):
    data = image(16, 8)
    w1 = Worker(str(patched_python), persistent=True)
    pid = None
    try:
        assert w1.remove(data, 16, 8) == red(data)
        pid = w1.pid
        w1.close()  # the plug-in process ends...
        assert alive(pid)  # ...the engine stays warm
        w2 = Worker(str(patched_python), persistent=True)
        assert w2.remove(data, 16, 8) == red(data)
        assert w2.pid == pid  # the second call reused it: no cold start
        w2.close()
        sockets = list(runtime_dir.glob("bgone-*/worker-*.sock"))
        assert len(sockets) == 1 and oct(sockets[0].parent.stat().st_mode & 0o777) == "0o700"
    finally:
        if pid:
            _kill(pid)


def test_a_persistent_worker_leaves_after_its_idle_timeout(patched_python, runtime_dir, monkeypatch):
    monkeypatch.setattr(transport.SocketProcess, "IDLE_TIMEOUT", 1)
    w = Worker(str(patched_python), persistent=True)
    data = image(4, 4)
    assert w.remove(data, 4, 4) == red(data)
    pid = w.pid
    w.close()
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
    assert not list(runtime_dir.glob("bgone-*/worker-*.sock"))  # it cleaned up its socket


def test_a_stuck_persistent_worker_is_killed_on_cancel(patched_python, runtime_dir):
    w = Worker(str(patched_python), persistent=True)
    data = image(4, 4)
    w.remove(data, 4, 4)
    pid = w.pid
    threading.Timer(0.3, w.cancel).start()
    with pytest.raises(ClientError) as info:
        w.remove(data, 4, 4, model="stubborn")
    assert info.value.kind == "cancelled"
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
    assert w.remove(data, 4, 4) == red(data)  # a fresh one takes over
    new = w.pid
    w.close()
    _kill(new)


# -- the persistent worker and clients that vanish or stall -----------------------------------


def _daemon(python: Path) -> tuple[str, int]:
    """A running persistent worker for ``python``: (its socket address, its pid)."""
    w = Worker(str(python), persistent=True)
    w.start()
    pid = w.pid
    w.close()
    return transport.persistent_address(str(python)), pid


def _raw(address: str, served: bool = False):
    """A bare connection; with ``served``, one the daemon greeted (not turned away as busy)."""
    import socket

    for _ in range(50):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(address)
        if not served or b'"hello"' in s.makefile("rb").readline():
            return s
        s.close()
        time.sleep(0.1)
    raise AssertionError("the daemon never became free")


def test_the_daemon_survives_a_client_gone_with_its_reply_unsent(patched_python, runtime_dir):
    address, pid = _daemon(patched_python)
    for _ in range(3):  # the plug-in process killed mid-request, three times
        s = _raw(address, served=True)
        s.sendall(client.framing.encode_message(
            {"type": "remove", "id": 1, "width": 256, "height": 256, "stride": 1024},
            image(256, 256)))  # fmt: skip
        s.close()
        time.sleep(0.3)  # the daemon computes and writes to nobody
    w = Worker(str(patched_python), persistent=True)
    data = image(8, 8)
    assert w.remove(data, 8, 8) == red(data)
    assert w.pid == pid and alive(pid), "the daemon died with the client"
    w.close()


def test_a_client_that_hangs_up_at_once_does_not_block_the_next(patched_python, runtime_dir):
    address, pid = _daemon(patched_python)
    _raw(address).close()
    time.sleep(0.3)
    w = Worker(str(patched_python), persistent=True)
    t0 = time.monotonic()
    data = image(8, 8)
    assert w.remove(data, 8, 8) == red(data)
    assert time.monotonic() - t0 < 10 and w.pid == pid
    w.close()


def test_a_stalled_connection_does_not_block_other_clients(patched_python, runtime_dir, monkeypatch):
    from bgone_client import worker as client_worker

    monkeypatch.setattr(client_worker, "STARTUP_TIMEOUT", 15.0)  # fail fast where it would hang
    address, pid = _daemon(patched_python)
    stalled = _raw(address)
    stalled.sendall(b'{"type":"remove","id":1,"width":4')  # half a header, then nothing
    try:
        w = Worker(str(patched_python), persistent=True)
        t0 = time.monotonic()
        data = image(8, 8)
        assert w.remove(data, 8, 8) == red(data)  # served at once, by a private worker
        assert time.monotonic() - t0 < 10
        assert w.pid != pid
        w.close()
    finally:
        stalled.close()


# -- hostile neighbours: the shared temp folder when XDG_RUNTIME_DIR is unset ------------------

OTHER_UID = 54321  # another local user (the tests run as root, so they can play one)
needs_root = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                                reason="playing another user needs root")  # fmt: skip


def _worker_folder(python: Path) -> Path:
    return Path(transport.persistent_address(str(python))).parent


@needs_root
@pytest.mark.parametrize("planted", ["other_owner", "open_mode", "symlink"])
def test_a_worker_folder_that_is_not_ours_is_refused(patched_python, runtime_dir, tmp_path, planted):
    folder = _worker_folder(patched_python)
    decoy = tmp_path / "decoy"
    decoy.mkdir(mode=0o700)
    if planted == "symlink":
        folder.symlink_to(decoy)
    else:
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o777 if planted == "open_mode" else 0o700)
        if planted == "other_owner":
            os.chown(folder, OTHER_UID, OTHER_UID)
    data = image(6, 6)
    with Worker(str(patched_python), persistent=True) as w:
        assert w.remove(data, 6, 6) == red(data)  # a private worker does the job
        assert isinstance(w._proc, transport.PipeProcess) and not isinstance(w._proc, transport.SocketProcess)
    assert not list(folder.glob("*")) and not list(decoy.glob("*"))  # nothing placed there


@needs_root
def test_the_log_is_never_written_through_a_planted_link(patched_python, runtime_dir, tmp_path):
    folder = _worker_folder(patched_python)
    folder.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    log = Path(transport.persistent_address(str(patched_python))[: -len(".sock")] + ".log")
    log.symlink_to(victim)
    data = image(6, 6)
    with Worker(str(patched_python), persistent=True) as w:
        assert w.remove(data, 6, 6) == red(data)
    assert victim.read_text() == "precious"


IMPOSTOR = """
import json, os, socket, sys
address, victim = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(address)
os.chmod(address, 0o777)
os.setuid({uid})  # from here on it is another user's process
s.listen(4)
while True:
    c, _ = s.accept()
    c.sendall(json.dumps({{"type": "hello", "protocol": {proto}, "version": "x", "pid": victim}}).encode() + b"\\n")
    c.recv(100)
    c.sendall(b"garbage that makes the client discard its worker\\n")
"""


@needs_root
def test_another_users_listener_gets_no_pixels_and_no_kill(patched_python, runtime_dir, tmp_path):
    import subprocess

    folder = _worker_folder(patched_python)
    folder.mkdir(mode=0o700)
    address = transport.persistent_address(str(patched_python))
    victim = subprocess.Popen(["sleep", "60"])
    script = tmp_path / "impostor.py"
    script.write_text(IMPOSTOR.format(uid=OTHER_UID, proto=client.PROTOCOL_VERSION))
    impostor = subprocess.Popen([sys.executable, str(script), address, str(victim.pid)])
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(address) and time.monotonic() < deadline:
            time.sleep(0.05)
        data = image(6, 6)
        with Worker(str(patched_python), persistent=True) as w:
            assert w.remove(data, 6, 6) == red(data)  # served by a private worker instead
        assert victim.poll() is None, "the client killed a process named by a stranger's hello"
    finally:
        impostor.kill()
        victim.kill()
        impostor.wait(5)
        victim.wait(5)

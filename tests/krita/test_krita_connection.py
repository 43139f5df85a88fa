"""bgone_krita.connection: one warm worker per session, with the fake worker and with the real
client talking to a stand-in core (tests/fakecore.py) or the real engine."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from bgone_client import ClientError
from fakecore import FAKE_PIPELINE, REAL_WORKER, make_python
from fakeworker import FakeWorker
from kritatest import ManualLoop, photo


def test_one_worker_per_session_and_errors_keep_their_words(kr, app):
    from bgone_krita import connection
    from bgone_krita.errors import RemoveBackgroundError

    made: list[FakeWorker] = []

    def factory() -> FakeWorker:
        made.append(FakeWorker())
        return made[-1]

    holder = connection.WorkerHolder(factory=factory)
    assert holder.models()[0]["name"] == "u2netp"
    holder.models()
    assert len(made) == 1, "the worker must stay warm between requests"

    def crash(w):
        raise ClientError("worker_crashed", "bgone's engine stopped unexpectedly.", "Try again.")

    with pytest.raises(RemoveBackgroundError) as info:
        holder.call(crash)
    assert info.value.kind == "worker_crashed" and str(info.value).endswith("Try again.")
    with pytest.raises(RemoveBackgroundError) as info:
        holder.call(lambda w: 1 / 0)
    assert info.value.kind == "internal" and "ZeroDivisionError" in info.value.message
    holder.models()
    assert len(made) == 1  # the client restarts a dead process itself; the Worker object stays
    holder.close()
    assert made[0].closed
    holder.models()
    assert len(made) == 2


# ------------------------------------------------------------------ with the real client + worker



@pytest.fixture
def real_client(kr, tmp_path, monkeypatch, model_dir):
    """The real bgone_client (from the checkout) talking to a real worker process."""
    from bgone_krita import connection

    script = make_python(tmp_path / "core-python", FAKE_PIPELINE)
    monkeypatch.setenv("BGONE_PYTHON", str(script))
    holder = connection.WorkerHolder()
    yield holder
    holder.close()


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in core Python is a shebang script")
def test_real_client_round_trip_stays_warm_and_survives_a_crash(kr, app, real_client):
    _, pkg = kr
    doc = app.createDocument(40, 30, "t", "RGBA", "U16", "", 72.0)
    layer = doc.add_layer(cs=("RGBA", "U16"))
    layer.fill(photo(30, 40), x=3, y=2)
    seen: list = []
    mask = pkg.remove_background(doc, layer, holder=real_client, progress=lambda *e: seen.append(e))
    m = np.frombuffer(mask.pixelData(3, 2, 40, 30), np.uint8).reshape(30, 40)
    assert m[15, 20] > 200 and m[0, 0] < 110  # red 0.9 vs at most 0.4
    assert seen and seen[0][0] == "inference"
    pid = real_client.worker().pid
    pkg.remove_background(doc, layer, output="layer", holder=real_client)
    assert real_client.worker().pid == pid, "the second click must reuse the warm worker"
    os.kill(pid, 9)  # the engine dies between clicks: at worst one "Try again" error...
    before = doc.snapshot()
    try:
        pkg.remove_background(doc, layer, output="selection", holder=real_client)
    except pkg.RemoveBackgroundError as e:  # the death was noticed only after sending
        assert e.kind == "worker_crashed" and "Try again" in str(e)
        assert doc.snapshot() == before
        pkg.remove_background(doc, layer, output="selection", holder=real_client)  # ...then it works
    assert real_client.worker().pid not in (None, pid)
    assert [e[0] for e in doc.undo_log] == ["add", "add"]


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in core Python is a shebang script")
def test_real_client_cancel_from_the_docker_leaves_the_image_alone(kr, app, real_client):
    fake, _ = kr
    from bgone_krita.controller import Controller
    from bgone_krita.settings import Options

    loop = ManualLoop()
    ctl = Controller(fake.Krita.instance, real_client, loop.schedule)
    states: list = []
    ctl.listeners.append(lambda s, f, t: states.append((s, f, t)))
    doc = app.createDocument(20, 20, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(20, 20))
    before = doc.snapshot()
    assert ctl.start(doc, layer, Options("slow", "none", "mask"))
    loop.run_until(lambda: any(t == "Finding the subject" for _, _, t in states), timeout=30)
    pid = real_client.worker().pid
    ctl.cancel()
    loop.run_until(lambda: not ctl.busy, timeout=10)
    assert states[-1][0] == "cancelled" and doc.snapshot() == before
    assert real_client.worker().pid == pid, "a cancelled request keeps the worker warm"


def test_missing_engine_is_explained(kr, app, tmp_path, monkeypatch):
    """No core installed: the user reads what is wrong and what to do; nothing changes."""
    _, pkg = kr
    from bgone_krita import connection

    monkeypatch.setenv("BGONE_PYTHON", str(tmp_path / "no-python"))
    doc = app.createDocument(8, 8, "t", "RGBA", "U8", "", 72.0)
    layer = doc.add_layer()
    layer.fill(photo(8, 8))
    before = doc.snapshot()
    holder = connection.WorkerHolder()
    with pytest.raises(pkg.RemoveBackgroundError) as info:
        pkg.remove_background(doc, layer, holder=holder)
    assert info.value.kind == "core_missing" and "BGONE_PYTHON" in str(info.value)
    assert doc.snapshot() == before


@pytest.mark.slow
def test_real_worker_with_u2netp(kr, app, seeded_model_dir, monkeypatch, tmp_path):
    """The real stdlib client and `python -m bgone.worker` (this venv), the real u2netp."""
    _, pkg = kr
    from bgone_krita import connection

    monkeypatch.setenv("BGONE_PYTHON", str(make_python(tmp_path / "core-python", REAL_WORKER)))
    h, w = 160, 200
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 4))
    img[..., :3] = (0.85, 0.85, 0.8)  # light studio background
    disc = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (h / 3) ** 2
    img[disc, :3] = (0.8, 0.1, 0.1)  # a red ball
    img[..., 3] = 1.0
    doc = app.createDocument(w, h, "t", "RGBA", "U16", "", 72.0)
    layer = doc.add_layer(cs=("RGBA", "U16"))
    layer.fill(img, x=7, y=5)
    holder = connection.WorkerHolder()
    try:
        mask = pkg.remove_background(doc, layer, model="u2netp", refine="none", holder=holder)
        m = np.frombuffer(mask.pixelData(7, 5, w, h), np.uint8).reshape(h, w)
        assert m[h // 2, w // 2] > 200 and max(m[0, 0], m[0, -1], m[-1, 0], m[-1, -1]) < 50
        layer2 = pkg.remove_background(
            doc, layer, model="u2netp", refine="none", output="layer", holder=holder
        )
        assert layer2.cs[:2] == ("RGBA", "U16")
    finally:
        holder.close()

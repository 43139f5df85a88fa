"""`bgone batch --engine ray` on a local Ray instance: the CLI's masks, failures recorded per
file, reruns skip what is done."""

from __future__ import annotations

import json
import os

import pytest
from PIL import Image

if os.environ.get("CI"):  # CI installs the test extra, which has Ray: a missing Ray is a failure there
    import ray
    import ray.data  # noqa: F401
else:
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")

from bgone import batch_ray, cli  # noqa: E402
from tests.test_pipeline import drawn  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_batch_on_ray_gives_the_clis_masks_records_failures_and_skips_done_files(
        local_ray, seeded_model_dir, tmp_path):
    src, dest, ref = tmp_path / "in", tmp_path / "out", tmp_path / "ref"
    src.mkdir()
    for i in range(6):
        Image.fromarray(drawn(180 + 20 * i, 240)[0]).save(src / f"p{i}.jpg", quality=95)
    (src / "broken.png").write_bytes(b"not an image")
    assert cli.main(["remove", *map(str, sorted(src.glob("p*.jpg"))), "--out-dir", str(ref), "--mask",
                     "--refine", "none"]) == 0

    res = batch_ray.run(str(src), str(dest), workers=2, mask=True, refine="none")
    assert (res.done, res.failed, res.skipped) == (6, 1, 0)
    for r in sorted(ref.iterdir()):
        assert (dest / r.name).read_bytes() == r.read_bytes(), r.name
    [(name, message)] = res.failures  # the CLI's message for the file
    assert name == "broken.png" and message.endswith("/in/broken.png is not an image bgone can read.")
    stamps = {p.name: p.stat().st_mtime_ns for p in dest.glob("*.png")}

    assert cli.main(["batch", "--engine", "ray", str(src), str(dest), "--mask", "--refine", "none"]) == 1
    assert {p.name: p.stat().st_mtime_ns for p in dest.glob("*.png")} == stamps  # nothing redone
    records = [json.loads(line) for line in (dest / batch_ray.MANIFEST).read_text().splitlines()]
    assert [r["status"] for r in records].count("done") == 6
    assert [r["name"] for r in records if r["status"] == "failed"] == ["broken.png", "broken.png"]


def test_without_ray_a_clear_message(monkeypatch, capsys, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)
    assert cli.main(["batch", "--engine", "ray", str(tmp_path), str(tmp_path / "o")]) == 1
    assert "pip install 'bgone[ray]'" in capsys.readouterr().err

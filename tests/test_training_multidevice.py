"""MirroredStrategy over 2 logical CPU devices: the same small runs as on one device, same accuracy within noise."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from _training_fixtures import SHARED_ZIP, small_shared_zip  # noqa: E402  # after importorskip

from training.report import difference_interval  # noqa: E402  # after importorskip

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 2)


def _run(data: Path, out: Path, tmp: Path, *extra: str) -> list[dict]:
    cmd = [
        sys.executable,
        "-m",
        "training.run",
        "history",
        "--quick",
        "--epochs",
        "3",
        "--base-size",
        "500",
        "--seeds",
        ",".join(map(str, SEEDS)),
        "--data",
        str(data),
        "--out",
        str(out),
        "--verbose",
        "0",
        *extra,
    ]
    env = dict(os.environ, FASTCONV_CACHE=str(tmp / "cache"), TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((out / f"stride-n500-l1_0.0001-s{s}.json").read_text()) for s in SEEDS]


@pytest.mark.slow
def test_mirrored_over_two_cpu_devices_matches_one_device(tmp_path):
    if not SHARED_ZIP.is_file():
        pytest.skip(f"shared CIFAR-10 copy not found: {SHARED_ZIP}")
    small = small_shared_zip(tmp_path / "small.zip", per_class_train=50, per_class_test=30)
    one = _run(small, tmp_path / "one", tmp_path)
    two = _run(small, tmp_path / "two", tmp_path, "--replicas", "2")
    assert {r["distribution"]["strategy"] for r in one} == {"default"}
    assert {(r["distribution"]["strategy"], r["distribution"]["replicas"]) for r in two} == {("MirroredStrategy", 2)}
    assert all(len(r["history"]["loss"]) == 3 for r in one + two)
    # The same network and data on two devices learns as well as on one: the 99% interval of the
    # difference in mean test accuracy over the seeds contains 0.
    a, b = [r["test_accuracy"] for r in two], [r["test_accuracy"] for r in one]
    d, lo, hi = difference_interval(a, b, level=0.99)
    print(f"one device {b}, MirroredStrategy x2 {a}: difference {d:+.4f} [{lo:+.4f}, {hi:+.4f}]")
    assert lo <= 0 <= hi
    assert all(r["history"]["loss"][-1] < r["history"]["loss"][0] for r in two)  # and it learns

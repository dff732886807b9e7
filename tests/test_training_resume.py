"""Per-epoch checkpoints: a run killed with SIGKILL and rerun gives exactly the uninterrupted result."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from _training_fixtures import SHARED_ZIP, small_shared_zip  # noqa: E402  # after importorskip

ROOT = Path(__file__).resolve().parents[1]
RUN = "stride-n400-l1_0.0001-s1"
EPOCHS = 6


def _command(data: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "training.run",
        "history",
        "--quick",
        "--deterministic",
        "--seeds",
        "1",
        "--epochs",
        str(EPOCHS),
        "--data",
        str(data),
        "--out",
        str(out),
        "--verbose",
        "0",
    ]


def _env(tmp: Path) -> dict:
    return dict(os.environ, FASTCONV_CACHE=str(tmp / "cache"), TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    """Also the check of --deterministic (the same seed on the same CPU, the same history and accuracies): the
    killed run's first epoch, kept in its checkpoint, was trained by another process from the same seed as the
    uninterrupted run's, and the resumed process trains the rest."""
    if not SHARED_ZIP.is_file():
        pytest.skip(f"shared CIFAR-10 copy not found: {SHARED_ZIP}")
    small = small_shared_zip(tmp_path / "small.zip", per_class_train=40, per_class_test=10)
    env = _env(tmp_path)

    whole = tmp_path / "whole"
    proc = subprocess.run(_command(small, whole), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    cut = tmp_path / "cut"
    killed = subprocess.Popen(
        _command(small, cut), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    ckpt = cut / f"{RUN}.checkpoint"
    deadline = time.monotonic() + 240
    while not list(ckpt.glob("epoch-*/state.json")):  # the first finished epoch
        assert killed.poll() is None, killed.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert not (cut / f"{RUN}.json").exists()  # the kill came before the run finished

    proc = subprocess.run(_command(small, cut), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = json.loads((whole / f"{RUN}.json").read_text())
    b = json.loads((cut / f"{RUN}.json").read_text())
    assert a["resumed_after_epoch"] is None and 1 <= b["resumed_after_epoch"] < EPOCHS
    assert len(a["history"]["loss"]) == EPOCHS
    assert b["history"] == a["history"]
    assert len(b["epoch_times_s"]) == EPOCHS
    assert (b["train_accuracy"], b["test_accuracy"]) == (a["train_accuracy"], a["test_accuracy"])
    assert b["confusion_test"] == a["confusion_test"]
    assert not ckpt.exists()  # checkpoints go once the record is written


def test_the_committed_results_resume_from_their_records_alone():
    """docs/results/cifar10 keeps no .keras model: rerunning its command retrains no run that has a record."""
    from training.registry import plan
    from training.report.records import load_invocation
    from training.resume import to_run

    folder = ROOT / "docs" / "results" / "cifar10"
    assert not list(folder.glob("*.keras"))
    names, cfg, _ = load_invocation(folder)
    specs = plan(names, cfg.replace(warm_start=True))
    left, again = to_run(specs, cfg, folder, {"strategy": "default", "replicas": 1, "workers": 1})
    # A run with a record is trained again only to start a chain whose next run has no record yet.
    assert all(not (folder / f"{needer}.json").is_file() for needer in again.values())
    assert [s.run_id for s in left if (folder / f"{s.run_id}.json").is_file() and s.run_id not in again] == []
    assert len(specs) >= 88

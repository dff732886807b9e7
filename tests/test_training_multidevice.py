"""Training over several devices and processes: the same small runs as on one device, same accuracy within noise.

``--replicas 2``: MirroredStrategy over 2 logical CPU devices in one process. ``--workers 2``:
MultiWorkerMirroredStrategy over 2 worker processes (a custom training loop), started by the
harness itself or, as on several machines, each by hand with its own ``TF_CONFIG``.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from _training_fixtures import SHARED_ZIP, small_shared_zip  # noqa: E402  # after importorskip

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 2)
EPOCHS = 3
HISTORY_KEYS = {"accuracy", "loss", "val_accuracy", "val_loss"}
PROG = "python -m training.run"


def _command(data: Path, out: Path, *extra: str, seeds=SEEDS, epochs=EPOCHS) -> list[str]:
    return [
        sys.executable,
        "-m",
        "training.run",
        "history",
        "--quick",
        "--epochs",
        str(epochs),
        "--base-size",
        "500",
        "--seeds",
        ",".join(map(str, seeds)),
        "--data",
        str(data),
        "--out",
        str(out),
        "--verbose",
        "0",
        *extra,
    ]


def _env(tmp: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    return dict(env, FASTCONV_CACHE=str(tmp / "cache"), TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT), **extra)


def _run(data: Path, out: Path, tmp: Path, *extra: str, seeds=SEEDS) -> list[dict]:
    proc = subprocess.run(
        _command(data, out, *extra, seeds=seeds), cwd=ROOT, env=_env(tmp), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((out / f"stride-n500-l1_0.0001-s{s}.json").read_text()) for s in seeds]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    if not SHARED_ZIP.is_file():
        pytest.skip(f"shared CIFAR-10 copy not found: {SHARED_ZIP}")
    tmp = tmp_path_factory.mktemp("multidevice")
    return tmp, small_shared_zip(tmp / "small.zip", per_class_train=50, per_class_test=30)


@pytest.fixture(scope="module")
def one_device(small):
    tmp, data = small
    records = _run(data, tmp / "one", tmp)
    assert {r["distribution"]["strategy"] for r in records} == {"default"}
    return records


def _same_accuracy(name: str, many: list[dict], one: list[dict]) -> None:
    """The same network and data learns as well as on one device: the 99% interval of the difference in
    mean test accuracy over the seeds contains 0."""
    from scipy import stats

    a, b = [r["test_accuracy"] for r in many], [r["test_accuracy"] for r in one]
    # Welch's interval from scipy directly: the report's statistics refuse fewer than 5 runs a side (its
    # verdicts), while this check of the devices needs only an interval over the three seeds
    d = float(np.mean(a) - np.mean(b))
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        lo = hi = d
    else:
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.99)
        lo, hi = float(ci.low), float(ci.high)
    print(f"one device {b}, {name} {a}: difference {d:+.4f} [{lo:+.4f}, {hi:+.4f}]")
    assert lo <= 0 <= hi
    assert all(r["history"]["loss"][-1] < r["history"]["loss"][0] for r in many)  # and it learns


@pytest.fixture(scope="module")
def mirrored(small):
    tmp, data = small
    return _run(data, tmp / "mirrored", tmp, "--replicas", "2")


@pytest.mark.slow
def test_mirrored_over_two_cpu_devices_matches_one_device(one_device, mirrored):
    two = mirrored
    assert {(r["distribution"]["strategy"], r["distribution"]["replicas"]) for r in two} == {("MirroredStrategy", 2)}
    assert all(len(r["history"]["loss"]) == EPOCHS for r in one_device + two)
    _same_accuracy("MirroredStrategy x2", two, one_device)


@pytest.mark.slow
def test_two_worker_processes_match_one_device(small, one_device, mirrored, tmp_path):
    """Two worker processes compute what MirroredStrategy over two devices computes (to float rounding), which
    learns as well as one device: the one-device comparison is the mirrored one, checked here again.

    One seed, not the reference's three: the equality is per seed and exact, so one run shows it; seed 1, not
    the first, so that a worker ignoring --seeds (training seed 0 or none) differs from the record it is
    compared with."""
    tmp, data = small
    out = tmp_path / "workers"
    seed = SEEDS[1]
    (mw,) = _run(data, out, tmp, "--workers", "2", seeds=(seed,))
    assert mw["distribution"] == {"strategy": "MultiWorkerMirroredStrategy", "replicas": 2, "workers": 2}
    assert set(mw["history"]) == HISTORY_KEYS and len(mw["history"]["val_loss"]) == EPOCHS
    assert len(mw["epoch_times_s"]) == EPOCHS and mw["n_fit"] == 450
    assert mw["history"]["loss"][-1] < mw["history"]["loss"][0]  # it learns
    _same_accuracy("MirroredStrategy x2", mirrored, one_device)
    # The custom loop computes what model.fit computes under MirroredStrategy over two replicas: the
    # same batches split the same way, the same loss (cross-entropy plus the L1 penalty) and metrics.
    fit = mirrored[SEEDS.index(seed)]
    assert mw["run"] == fit["run"] and mw["config"]["seed"] == fit["config"]["seed"] == seed
    for key in HISTORY_KEYS:
        np.testing.assert_allclose(mw["history"][key], fit["history"][key], rtol=0, atol=1e-5, err_msg=key)
    assert mw["test_accuracy"] == fit["test_accuracy"]
    log = (out / "worker-1.log").read_text()
    assert "worker 1 of 2 workers under MultiWorkerMirroredStrategy" in log and "the chief writes" in log
    assert "worker 0 of 2" in mw["device"]  # the chief wrote the record
    invocations = json.loads((out / "invocation.json").read_text())["invocations"]
    assert len(invocations) == 1 and "--worker-index" not in invocations[0]["argv"]
    assert not list(out.glob("*.checkpoint")) and (out / "REPORT.md").is_file()


def _by_hand(data: Path, tmp: Path, outs: list[Path]) -> list[subprocess.Popen]:
    """Worker i of len(outs), started as on its own machine: TF_CONFIG and the same command, no --workers."""
    from training.launch import free_ports

    hosts = [f"127.0.0.1:{port}" for port in free_ports(len(outs))]
    procs = []
    for i, out in enumerate(outs):
        tf_config = json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}})
        cmd = _command(data, out, seeds=(0,), epochs=2)
        procs.append(
            subprocess.Popen(cmd, cwd=ROOT, env=_env(tmp, TF_CONFIG=tf_config), stderr=subprocess.PIPE, text=True)
        )
    return procs


@pytest.mark.slow
def test_workers_started_by_hand_with_tf_config_only_the_chief_writes(small, tmp_path):
    """As on two machines with disks of their own: only the chief writes; rerun, they disagree and say so."""
    tmp, data = small
    outs = [tmp_path / "machine0", tmp_path / "machine1"]
    for p in _by_hand(data, tmp, outs):
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-3000:]
    rec = json.loads((outs[0] / "stride-n500-l1_0.0001-s0.json").read_text())
    assert rec["distribution"] == {"strategy": "MultiWorkerMirroredStrategy", "replicas": 2, "workers": 2}
    assert (outs[0] / "stride-n500-l1_0.0001-s0.keras").is_file() and (outs[0] / "REPORT.md").is_file()
    assert list(outs[1].iterdir()) == []  # the other worker trained and wrote nothing
    # Rerun: the chief finds its run finished, the other worker does not; they stop instead of waiting forever.
    for p in _by_hand(data, tmp, outs):
        _, err = p.communicate(timeout=180)
        assert p.returncode == 2
        assert err.strip().splitlines()[-1] == (
            f"{PROG}: error: the workers found different finished runs or checkpoints in --out: every worker "
            "must see the chief's --out (a folder they share)"
        )


def _children(pid: int) -> list:
    import psutil

    return psutil.Process(pid).children(recursive=True)


@pytest.mark.slow
def test_a_failing_worker_stops_the_launcher_with_one_line(small, tmp_path):
    """Worker 1 dies (SIGKILL) during training: the launcher stops the chief and exits with one line naming it."""
    pytest.importorskip("psutil")
    tmp, data = small
    out = tmp_path / "out"
    cmd = _command(data, out, "--workers", "2", epochs=50)
    launcher = subprocess.Popen(cmd, cwd=ROOT, env=_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in launcher.stdout:  # the chief's output: training has started
            if line.startswith("run 1/"):
                break
        workers = {p.pid: p for p in _children(launcher.pid)}
        one = [p for p in workers.values() if "--worker-index" in p.cmdline() and p.cmdline()[-1] == "1"]
        assert len(one) == 1, [p.cmdline() for p in workers.values()]
        time.sleep(1)
        one[0].send_signal(signal.SIGKILL)
        _, err = launcher.communicate(timeout=120)
    finally:
        launcher.kill()
    assert launcher.returncode == 1
    lines = err.strip().splitlines()
    assert lines[-1] == f"{PROG}: error: worker 1 failed (exit code -9, killed by SIGKILL), see {out / 'worker-1.log'}"
    assert not any(p.is_running() and p.status() != "zombie" for p in workers.values())  # no worker left behind
    assert not (out / "stride-n500-l1_0.0001-s0.json").exists()


@pytest.mark.slow
def test_interrupting_the_launcher_stops_every_worker(small, tmp_path):
    """SIGINT to the launcher alone (its workers run in sessions of their own) reaches every worker."""
    pytest.importorskip("psutil")
    tmp, data = small
    out = tmp_path / "out"
    cmd = _command(data, out, "--workers", "2", epochs=50)
    launcher = subprocess.Popen(cmd, cwd=ROOT, env=_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in launcher.stdout:
            if line.startswith("run 1/"):
                break
        workers = _children(launcher.pid)
        assert len(workers) == 2
        time.sleep(1)
        launcher.send_signal(signal.SIGINT)
        _, err = launcher.communicate(timeout=60)
    finally:
        launcher.kill()
    assert launcher.returncode == 130
    assert f"run the same command with --out {out} to resume" in err  # the chief stopped cleanly
    assert not any(p.is_running() and p.status() != "zombie" for p in workers)


def _main_error(argv, capsys) -> str:
    from training import run

    with pytest.raises(SystemExit) as exc:
        run.main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_multi_worker_command_line_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    out = ["--out", str(tmp_path / "o")]
    assert _main_error(["--workers", "2", "--replicas", "2", *out], capsys) == (
        f"{PROG}: error: --replicas cannot be combined with multi-worker training (--workers or TF_CONFIG)"
    )
    assert _main_error(["--worker-index", "0", *out], capsys).startswith(f"{PROG}: error: --worker-index is set by")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}')
    assert _main_error(out, capsys).startswith(f"{PROG}: error: TF_CONFIG must be")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}')
    assert _main_error(["--workers", "2", *out], capsys) == (
        f"{PROG}: error: --workers starts worker processes on this machine; with TF_CONFIG set, omit --workers"
    )
    assert not (tmp_path / "o").exists()
    from training import run

    assert "--worker-index" not in run.build_parser().format_help()


def test_a_run_made_on_one_device_is_not_continued_on_two(tmp_path):
    """The resume check compares the record's distribution as it compares epochs or batch size."""
    from training.config import Config
    from training.registry import RunSpec
    from training.resume import SettingsMismatch, check_settings

    spec = RunSpec("stride", 500, 1e-4)
    one = {"strategy": "default", "replicas": 1, "workers": 1}
    record = {"config": {"epochs": 3, "batch_size": 128, "warm_from": None}, "distribution": one}
    cfg = Config(epochs=3)
    check_settings(record, spec, cfg, dict(one), None)  # the same distribution: reused
    for other in (
        {"strategy": "MirroredStrategy", "replicas": 2, "workers": 1},
        {"strategy": "MultiWorkerMirroredStrategy", "replicas": 2, "workers": 2},
    ):
        with pytest.raises(SettingsMismatch, match="strategy 'default' \\(now '.*'\\), replicas 1 \\(now 2\\)"):
            check_settings(record, spec, cfg, other, None)
    # The most-frequent baseline trains nothing: how it was distributed does not matter.
    majority = RunSpec("majority", 500)
    check_settings(record, majority, cfg, other, None)

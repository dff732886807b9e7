"""Hostile or careless command lines: huge seed ranges, sizes too small to split, two runs into one folder,
and a folder resumed with other data. Each is refused with a one-line error before anything is trained."""

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from _training_fixtures import write_python_batches  # noqa: E402  # after importorskip

ROOT = Path(__file__).resolve().parents[1]
PROG = "python -m training.run: error:"


def _env(tmp: Path) -> dict:
    extra = {"FASTCONV_CACHE": str(tmp / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    return dict(os.environ, **extra)


def _run(args, tmp: Path, timeout=300, limit_bytes=None):
    def cap():
        if limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return subprocess.run(
        [sys.executable, "-m", "training.run", *args],
        cwd=ROOT,
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap,
    )


def _one_line_error(proc) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(PROG), last
    return last


@pytest.fixture
def tiny(tmp_path):
    """Official-format python batches: 120 training images, 20 test images."""
    write_python_batches(tmp_path / "tiny", np.random.default_rng(0), sizes=(60, 60), n_test=20)
    return tmp_path / "tiny"


@pytest.mark.parametrize("option", ["--seeds", "--size-seeds"])
def test_a_huge_seed_range_is_refused_before_it_is_expanded(option, tmp_path):
    """0-99999999 would be a list of 10^8 ints (several GB): refused under a 1.5 GB address-space cap."""
    start = time.monotonic()
    proc = _run([option, "0-99999999", "--out", str(tmp_path / "o")], tmp_path, timeout=120, limit_bytes=3 << 29)
    line = _one_line_error(proc)
    assert f"argument {option}" in line and "100,000,000 seeds" in line and "at most 1,000" in line
    assert time.monotonic() - start < 60
    assert not (tmp_path / "o").exists()


def test_a_size_too_small_to_split_is_refused_before_training(tiny, tmp_path, monkeypatch, capsys):
    """One sample leaves nothing to fit after the validation split: an error, and TensorFlow never imported."""
    from training import run

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # importing TensorFlow now fails
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    for args in (["--base-size", "1", "--train-sizes", "50"], ["train-size", "--train-sizes", "1,50"]):
        with pytest.raises(SystemExit) as exc:
            run.main([*args, "--data", str(tiny), "--out", str(tmp_path / "o")])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith(PROG) and "1 samples split 0 to fit and 1 to validate" in err, err
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def one_folder(tmp_path_factory):
    """One --out through four ``training.run`` processes: the first trains (4 epochs of 90 images); a second
    starts while it trains; once the first has exited, a third names other data (same format, other images);
    a fourth names the first's data again. Returns what each did, for the tests below to check."""
    tmp = tmp_path_factory.mktemp("guards")
    tiny, other = tmp / "tiny", tmp / "other"
    write_python_batches(tiny, np.random.default_rng(0), sizes=(60, 60), n_test=20)
    write_python_batches(other, np.random.default_rng(1), sizes=(60, 60), n_test=20)
    out = tmp / "out"
    args = ["baseline", "--quick", "--base-size", "100", "--train-sizes", "100", "--epochs", "4", "--verbose", "0"]
    args += ["--out", str(out)]
    first = subprocess.Popen(
        [sys.executable, "-m", "training.run", *args, "--data", str(tiny)],
        cwd=ROOT,
        env=_env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not ((out / ".lock").is_file() and (out / ".lock").read_text().startswith("pid")):
            assert first.poll() is None, first.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.05)
        second = _run([*args, "--data", str(tiny)], tmp)
        first_ran_on = first.poll() is None
        first_status = first.wait(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix in (".json", ".keras")}
    third = _run([*args, "--data", str(other)], tmp)
    kept = stamps == {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix in (".json", ".keras")}
    fourth = _run([*args, "--data", str(tiny)], tmp)
    return {
        "tiny": tiny,
        "other": other,
        "out": out,
        "args": args,
        "first": (first.pid, first_status, first.stderr.read()),
        "second": second,
        "first_ran_on": first_ran_on,
        "third": third,
        "kept": kept,
        "fourth": fourth,
    }


@pytest.mark.slow
def test_a_second_run_into_a_busy_folder_is_refused(one_folder):
    """Two real ``training.run`` processes into one --out: the second stops with one line while the first
    trains; the first finishes; once it has exited the folder is free again (flock dies with its process)."""
    pid, status, err = one_folder["first"]
    assert one_folder["first_ran_on"], "the first run finished before the second was refused: no overlap tested"
    line = _one_line_error(one_folder["second"])
    assert "is in use by another training.run (pid " in line and str(pid) in line
    assert status == 0, err[-2000:]
    # the lock went with the first process: the later runs take it (the third is refused for its data, not the lock)
    assert "in use" not in one_folder["third"].stderr
    fourth = one_folder["fourth"]
    assert fourth.returncode == 0, fourth.stderr[-2000:]
    assert "finished earlier, skipped" in fourth.stdout


@pytest.mark.slow
def test_resuming_with_other_data_is_refused(one_folder, tmp_path, monkeypatch, capsys):
    """A folder's records were made from one dataset; resuming it with another (same format, other images)
    is refused, naming the data, instead of mixing records silently, and before TensorFlow is imported."""
    line = _one_line_error(one_folder["third"])
    assert "was made with other settings: data " in line
    assert one_folder["kept"]  # the refused run rewrote no record, model or invocation.json of the folder
    fourth = one_folder["fourth"]  # the same data from the same place: resumes
    assert fourth.returncode == 0 and "finished earlier, skipped" in fourth.stdout, fourth.stderr[-2000:]

    from training import run

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # importing TensorFlow now fails
    monkeypatch.setenv("FASTCONV_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(run, "filter_stderr", lambda: None)  # keeps this process's stderr as pytest set it
    with pytest.raises(SystemExit) as exc:
        run.main([*one_folder["args"], "--data", str(one_folder["other"])])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(PROG) and "was made with other settings: data " in err, err

"""benches.guard: the verdicts from paired rounds, and the base revision imported beside the working tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from benches import guard


def test_sign_test_against_the_binomial_tail():
    # P(X >= k) for X ~ Binomial(n, 1/2), summed from the probabilities written out
    assert guard.sign_test(15, 15) == pytest.approx(0.5**15)
    assert guard.sign_test(0, 7) == pytest.approx(1.0)
    assert guard.sign_test(12, 15) == pytest.approx((455 + 105 + 15 + 1) / 2**15)


def test_a_slower_new_package_is_flagged_and_equal_ones_are_not():
    base = [1.0, 1.1, 0.9, 1.2, 1.0, 0.95, 1.05, 1.0, 1.1]
    slower = guard.summary("s", base, [b * 1.2 for b in base])
    assert slower["verdict"] == "SLOWER" and slower["ratio"] == pytest.approx(1.2)
    faster = guard.summary("f", base, [b * 0.8 for b in base])
    assert faster["verdict"] == "faster"
    # slower in every round, but by less than the margin: noise-sized, not flagged
    assert guard.summary("m", base, [b * 1.01 for b in base])["verdict"] == ""
    # slower at the median but not in enough rounds: within the spread
    mixed = [b * r for b, r in zip(base, [1.3, 0.8, 1.3, 0.8, 1.3, 0.8, 1.3, 0.9, 1.3], strict=True)]
    assert guard.summary("x", base, mixed)["verdict"] == ""


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_base_revision_imports_under_its_own_name(tmp_path, monkeypatch):
    inside = subprocess.run(["git", "rev-parse", "HEAD"], cwd=guard.ROOT, capture_output=True)
    if inside.returncode != 0:
        pytest.skip("not a git checkout")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    commit, folder = guard.base_package("HEAD")
    assert folder == tmp_path / "fastconv" / "guard" / commit
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import fastconv_base, fastconv_base.ndimage; "
        "print(fastconv_base.__file__); print(fastconv_base.ndimage.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True)
    file, nd = done.stdout.split()
    assert file.startswith(str(folder)) and nd == "fastconv_base.ndimage"
    # no module of the copy imports the working tree's package by its absolute name
    for py in (folder / "fastconv_base").rglob("*.py"):
        for line in py.read_text().splitlines():
            assert not line.lstrip().startswith(("import fastconv ", "from fastconv ", "from fastconv.")), (py, line)


def test_benchmark_only_times_the_benchmarks():
    """``pytest --benchmark-only``, the README's benchmark command, runs and times them (this project's pytest
    settings included: a ``--dist`` option there would make pytest-benchmark refuse it)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "pytest", "benches/bench_latency.py", "--benchmark-only", "-p", "no:cacheprovider"]
    cmd += ["-k", "cv2", "--benchmark-max-time=0.01", "--benchmark-min-rounds=2", "--benchmark-warmup=off"]
    # not an xdist worker's environment (this test's own, under -n): pytest-benchmark would take it for one
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Name (time in" in proc.stdout and "2 passed" in proc.stdout, proc.stdout[-3000:]

"""scipy's own rank-filter tests, from the installed scipy, run with fastconv's rank filters in its place.

Runs ``scipy/ndimage/tests/test_filters.py`` (all of it: the rank filters are called from many of its
tests) and the ``TestMedFilt`` class of ``scipy/signal/tests/test_signaltools.py``, without the tests
scipy marks ``slow``, in a subprocess with ``tests/scipy_rank_plugin.py``, which swaps
``minimum_filter``, ``maximum_filter``, their 1-D forms, ``median_filter``, ``rank_filter``,
``percentile_filter``, ``medfilt`` and ``medfilt2d`` in after collection; nothing of scipy's tests is
copied here.  The run must pass with no failures and errors, and each function must have computed a
real share of its calls on fastconv (the rest, NaN and complex data and the like, on scipy).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

scipy = pytest.importorskip("scipy")

ROOT = Path(__file__).resolve().parent.parent

# The least each function must have computed itself in scipy's tests (measured counts are printed).
MINIMUM_CALLS = {
    "ndimage.minimum_filter": 50,
    "ndimage.maximum_filter": 50,
    "ndimage.minimum_filter1d": 5,
    "ndimage.maximum_filter1d": 5,
    "ndimage.median_filter": 100,
    "ndimage.rank_filter": 100,
    "ndimage.percentile_filter": 50,
    "signal.medfilt": 5,
    "signal.medfilt2d": 10,
}


@pytest.mark.slow
def test_scipy_rank_tests_pass_on_fastconv(tmp_path):
    base = Path(scipy.__file__).parent
    filters = base / "ndimage" / "tests" / "test_filters.py"
    signaltools = base / "signal" / "tests" / "test_signaltools.py"
    if not filters.exists() or not signaltools.exists():
        pytest.skip("this scipy was installed without its tests")
    calls = tmp_path / "calls.json"
    env = dict(os.environ, FASTCONV_CALLS_JSON=str(calls))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        os.devnull,  # not this project's pytest settings: scipy's tests as scipy runs them
        "--rootdir",
        str(tmp_path),
        "-p",
        "no:cacheprovider",
        "-p",
        "scipy_rank_plugin",
        "-q",
        "-W",
        "ignore::DeprecationWarning",
        "-m",
        "not slow",
        str(filters),
        f"{signaltools}::TestMedFilt",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
    counts = json.loads(calls.read_text())
    print(summary)
    print(json.dumps(counts, indent=1, sort_keys=True))
    for name, least in MINIMUM_CALLS.items():
        assert counts.get(f"{name}|fastconv", 0) >= least, (name, counts)

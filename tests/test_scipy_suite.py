"""scipy's own tests, from the installed scipy, run with fastconv.ndimage and fastconv.signal in its place.

Runs ``scipy/ndimage/tests/test_filters.py`` (all of it) and the convolution and correlation classes of
``scipy/signal/tests/test_signaltools.py`` (:data:`SIGNAL_CLASSES`: direct, FFT and overlap-add, and the
median filters), with
every function of ``fastconv.ndimage.COMPUTED`` and ``fastconv.signal.COMPUTED`` in scipy's place,
without the tests scipy marks
``slow`` (as scipy's own default test run), in a subprocess with
``tests/scipy_dropin_plugin.py``, which swaps the functions in after collection; nothing of scipy's
tests is copied here.  The run must pass with no failures and errors, and a real share of the calls
must have run on fastconv (the rest, complex data and the like, on scipy); the counts are printed
(nested calls counted: ``laplace`` counts its ``correlate1d`` passes too).
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

#: The classes of scipy's test_signaltools.py run with the drop-ins.
SIGNAL_CLASSES = (
    "TestConvolve",
    "TestConvolve2d",
    "TestFFTConvolve",
    "TestOAConvolve",
    "TestAllFreqConvolves",
    "TestCorrelateReal",
    "TestCorrelate",
    "TestCorrelateComplex",
    "TestCorrelate2d",
    "TestMedFilt",
)

#: Functions that must have computed at least this many of the suite's calls on fastconv.
MIN_COMPUTED = {
    "ndimage.correlate": 100,
    "ndimage.convolve": 100,
    "ndimage.correlate1d": 100,
    "ndimage.convolve1d": 100,
    "ndimage.gaussian_filter": 20,
    "ndimage.gaussian_filter1d": 5,
    "ndimage.uniform_filter": 10,
    "ndimage.uniform_filter1d": 10,
    "ndimage.sobel": 1,
    "ndimage.prewitt": 1,
    "ndimage.laplace": 1,
    "ndimage.gaussian_laplace": 1,
    "ndimage.gaussian_gradient_magnitude": 1,
    "signal.correlate2d": 1,
    "signal.convolve2d": 1,
    "signal.correlate": 10,
    "signal.convolve": 10,
    "signal.fftconvolve": 10,
    "signal.oaconvolve": 10,
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
def test_scipy_tests_pass_on_the_dropins(tmp_path):
    base = Path(scipy.__file__).parent
    filters = base / "ndimage" / "tests" / "test_filters.py"
    signaltools = base / "signal" / "tests" / "test_signaltools.py"
    if not filters.exists() or not signaltools.exists():
        pytest.skip("this scipy was installed without its tests")
    calls = tmp_path / "calls.json"
    # The child imports fastconv from this checkout with this environment (NUMBA_CACHE_DIR, if set, or
    # the checkout's __pycache__): it loads the kernels the session compiled and leaves its own for it.
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
        "scipy_dropin_plugin",
        "-q",
        "-W",
        "ignore::DeprecationWarning",
        "-m",
        "not slow",  # scipy's default ("fast") selection: its slow tests, a 2 GB array among them, take a minute
        str(filters),
        *(f"{signaltools}::{name}" for name in SIGNAL_CLASSES),
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
    counts = json.loads(calls.read_text())
    ran = {key: n for key, n in counts.items() if key.endswith("|fastconv")}
    print(summary)
    print(json.dumps(counts, indent=1, sort_keys=True))
    for name, least in MIN_COMPUTED.items():
        assert ran.get(f"{name}|fastconv", 0) >= least, (name, counts)

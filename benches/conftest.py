"""Benchmark settings shared by every file in benches/.

- ``pytest --benchmark-only`` times the benchmarks even though the project's
  pytest configuration has ``--benchmark-disable`` (which makes a plain
  ``pytest`` run each benchmark once, untimed, as a smoke test):
  ``--benchmark-only`` here implies ``--benchmark-enable``.
- Numba runs on 2 threads (or fewer, if the machine has fewer cores);
  OpenCV and TensorFlow keep their own defaults.  The thread counts and
  Numba's threading layer are written into the benchmark JSON's
  ``machine_info``.
"""

from __future__ import annotations

import os

import pytest

NUMBA_THREADS = min(2, os.cpu_count() or 1)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # pytest-benchmark refuses --benchmark-only together with --benchmark-disable
    # unless --benchmark-enable is given; make --benchmark-only mean "time them".
    if getattr(config.option, "benchmark_only", False):
        config.option.benchmark_enable = True


@pytest.fixture(autouse=True, scope="session")
def numba_threads():
    """Numba's thread count for every benchmark in benches/ (not for tests/)."""
    numba = pytest.importorskip("numba")
    before = numba.get_num_threads()
    numba.set_num_threads(NUMBA_THREADS)
    yield NUMBA_THREADS
    numba.set_num_threads(before)


def pytest_benchmark_update_machine_info(config, machine_info):
    info = {"numba_threads": NUMBA_THREADS}
    try:
        import numba

        info["numba_version"] = numba.__version__
        info["numba_threading_layer_config"] = numba.config.THREADING_LAYER
    except ImportError:  # pragma: no cover
        pass
    try:
        import cv2

        info["cv2_version"] = cv2.__version__
        info["cv2_threads"] = cv2.getNumThreads()
    except ImportError:
        pass
    try:
        import numpy
        import scipy

        info["numpy_version"] = numpy.__version__
        info["scipy_version"] = scipy.__version__
    except ImportError:
        pass
    info["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE", "")
    machine_info["fastconv_bench"] = info

"""Settings of the whole test session.

The reference loops and oracles the test files compare with are in ``tests/reference.py`` (one copy of
each rule, imported by every file that needs it).

On two cores (``pytest -n 2``, the README's test command) the files are shared out whole (``--dist
loadfile``, set by :func:`pytest_cmdline_main` when ``-n`` is given): the tests of one file compile the
same kernels, and a file kept on one worker compiles each of them once, where tests handed out one by
one had both workers compiling the same signature at the same moment (Numba's cache is shared through
the disk, but only once a kernel is written). Files go out in the order of :data:`LONGEST_FIRST`, then
in their usual order (``--no-loadscope-reorder``: xdist would otherwise send the files with the most
tests first and leave a long one-test file, such as scipy's suite, for the end, with one worker idle).
"""

from __future__ import annotations

import os
import tempfile

import pytest

#: The test files that take longest on an empty Numba cache (a fresh clone), longest first (their tests'
#: summed durations from ``pytest -n 2 --durations=60`` on a fresh clone): each starts as soon as a worker
#: is free, so that no long file is left for the end.
LONGEST_FIRST = (
    "test_scipy_suite.py",
    "test_training_multidevice.py",
    "test_rank.py",
    "test_convolve2d.py",
    "test_hostile.py",
    "test_ndimage_filters.py",
    "test_rank_dask.py",
    "test_training_guards.py",
    "test_dask.py",
    "test_conv2d.py",
    "test_training_run.py",
    "test_cli.py",
    "test_readme.py",
    "test_training_resume.py",
    "test_edges.py",
    "test_engine.py",
    "bench_dask.py",
)


@pytest.fixture
def one_thread():
    """Every fastconv call of the test on the calling thread (:func:`fastconv._loops.threads.limit`).

    For a test whose property is not about threads (a value, a path's arithmetic, the memory a call
    keeps) but whose arrays are large enough for the parallel path: the block functions it checks
    are the same ones, run on one thread.  The parallel driver is checked where threads are the
    property (``test_thread_count_does_not_change_the_result``,
    tests/test_threads.py, scipy's suite).
    """
    from fastconv._loops.threads import limit

    with limit(1):
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """``--dist loadfile`` when the suite runs on several workers (``-n``) and no other ``--dist`` was asked for.

    Not in pyproject.toml's addopts: pytest-benchmark reads any ``--dist`` as xdist at work, disables
    timing and refuses ``pytest --benchmark-only``.  This hook runs before xdist's own, which would
    otherwise pick ``--dist load``.
    """
    if getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", "no") == "no":
        config.option.dist = "loadfile"


def pytest_configure(config):
    # "auto"'s measured answers go to a file of this session (each xdist worker its own), never to the
    # user's ~/.cache/fastconv/auto.json; subprocesses the tests start inherit it.
    if "FASTCONV_WISDOM" not in os.environ:
        folder = tempfile.mkdtemp(prefix="fastconv-tests-")
        os.environ["FASTCONV_WISDOM"] = os.path.join(folder, "auto.json")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its order

"""fastconv's threads where image code runs: forked children, many calling threads, failing workers, dask.

Each case runs in its own Python process (a hang or a crash of the threading
layer then fails the test instead of the test run) and compares results with
scipy or a NumPy reference computed in that process.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

import fastconv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, timeout=600, **env):
    """Run ``code`` in a new interpreter importing this checkout's fastconv; return the finished process."""
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]), **env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def assert_ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


def test_forked_child_after_a_threaded_call_computes_without_growing():
    proc = run_python(
        """
        import os, numba, numpy as np, fastconv
        from scipy.signal import correlate2d

        numba.set_num_threads(2)
        rng = np.random.default_rng(0)
        x = rng.random((2048, 2048), dtype=np.float32)
        k = rng.random((5, 5), dtype=np.float32)
        fastconv.convolve2d(x, k)  # two threads: the pool now exists in the parent

        def rss_mb():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                want = correlate2d(x.astype(np.float64), k.astype(np.float64), mode="valid")
                y = fastconv.convolve2d(x, k)
                start = rss_mb()
                for _ in range(50):
                    y = fastconv.convolve2d(x, k)
                grown = rss_mb() - start
                err = float(np.abs(y - want).max())
                print(f"child: rss grew {grown:.0f} MB, max error {err:.2e}", flush=True)
                code = 0 if grown < 100 and err < 1e-4 else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        """,
        timeout=300,
    )
    assert_ok(proc)
    assert "child: rss grew" in proc.stdout


def test_eight_python_threads_calling_at_once():
    proc = run_python(
        """
        import threading, numba, numpy as np, fastconv
        from numpy.lib.stride_tricks import sliding_window_view
        from scipy.signal import correlate2d

        numba.set_num_threads(2)
        rng = np.random.default_rng(1)
        images = [rng.random((1024 + 8 * t, 1024), dtype=np.float32) for t in range(8)]
        kernels = [rng.random((3 + 2 * (t % 3), 5), dtype=np.float32) for t in range(8)]
        batches = [rng.random((2, 40, 40, 3), dtype=np.float32) for t in range(8)]
        weights = [rng.random((3, 3, 3, 4), dtype=np.float32) for t in range(8)]
        results = [None] * 8
        start = threading.Barrier(8)

        def work(t):
            start.wait()
            got = []
            for _ in range(3):
                got.append(fastconv.convolve2d(images[t], kernels[t]))
                got.append(fastconv.conv2d(batches[t], weights[t], backend="direct"))
                got.append(fastconv.conv2d(batches[t], weights[t]))
            results[t] = got

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for t in range(8):
            want2d = correlate2d(images[t].astype(np.float64), kernels[t].astype(np.float64), mode="valid")
            win = sliding_window_view(batches[t].astype(np.float64), (3, 3), axis=(1, 2))  # N, OH, OW, C, a, b
            want4d = np.einsum("nijcab,abcf->nijf", win, weights[t].astype(np.float64))
            for r in range(3):
                np.testing.assert_allclose(results[t][3 * r], want2d, rtol=0, atol=1e-3)
                np.testing.assert_allclose(results[t][3 * r + 1], want4d, rtol=0, atol=1e-4)
                np.testing.assert_allclose(results[t][3 * r + 2], want4d, rtol=0, atol=1e-4)
        print("threads ok", numba.threading_layer())
        """,
        timeout=400,
    )
    assert_ok(proc)
    assert "threads ok" in proc.stdout


def test_an_exception_in_a_worker_thread_fails_the_call():
    # Bounds checking on, and ``direct``'s block function asked for blocks past the
    # last channel: those blocks index the image out of bounds on whichever
    # thread takes them.  The call must raise IndexError, not hang or return.
    with tempfile.TemporaryDirectory() as cache:
        proc = run_python(
            """
            import numba, numpy as np
            from fastconv._loops import correlate2d, threads

            numba.set_num_threads(2)
            x = np.ones((1, 512, 512), dtype=np.float32)
            k = np.ones((5, 5), dtype=np.float32)
            out = np.zeros((1, 508, 508), dtype=np.float32)
            n_blocks = (508 + correlate2d._ROWS - 1) // correlate2d._ROWS
            args = (x, k, 1, 1, 1, 1, 0, 0, out)
            try:
                threads.run(correlate2d.PATHS["tiles"], args, 2 * n_blocks, 1 << 40)
            except IndexError as e:
                print("raised IndexError:", e)
            else:
                print("no exception")
            """,
            timeout=400,
            NUMBA_BOUNDSCHECK="1",
            NUMBA_CACHE_DIR=cache,
        )
    assert_ok(proc)
    assert "raised IndexError" in proc.stdout, proc.stdout


def test_an_exception_in_a_conv2d_worker_thread_fails_the_call():
    # conv2d's direct loop told the kernel is 5x5 while the weights hold 3x3 taps:
    # under bounds checking, every output whose window reaches kernel row 3 indexes
    # the weights out of bounds, on whichever thread computes it.  The call must
    # raise IndexError (not a SystemError, a hang, or a silently wrong result).
    with tempfile.TemporaryDirectory() as cache:
        proc = run_python(
            """
            import numba, numpy as np
            from fastconv import nhwc

            numba.set_num_threads(2)
            rng = np.random.default_rng(0)
            x = rng.random((4, 64, 64, 8))
            w2 = rng.random((3 * 3 * 8, 16))
            out = np.zeros((4, 64, 64, 16))
            try:
                nhwc._run_direct(x, w2, None, 5, 5, 2, 2, 1, 1, 1, 1, False, out)
            except IndexError as e:
                print("raised IndexError:", e)
            except BaseException as e:
                print("raised", type(e).__name__, e)
            else:
                print("no exception")
            """,
            timeout=400,
            NUMBA_BOUNDSCHECK="1",
            NUMBA_CACHE_DIR=cache,
        )
    assert_ok(proc)
    assert "raised IndexError" in proc.stdout, proc.stdout


def test_inside_a_dask_threaded_task():
    dask = pytest.importorskip("dask")
    from scipy.signal import correlate2d

    rng = np.random.default_rng(2)
    images = [rng.random((700, 600 + 16 * t), dtype=np.float32) for t in range(6)]
    k = rng.random((7, 7), dtype=np.float32)
    tasks = [dask.delayed(fastconv.convolve2d)(img, k, padding="same") for img in images]
    got = dask.compute(*tasks, scheduler="threads", num_workers=4)
    for img, y in zip(images, got, strict=True):
        want = correlate2d(img.astype(np.float64), k.astype(np.float64), mode="same")
        np.testing.assert_allclose(y, want, rtol=0, atol=1e-4)


@functools.cache
def _recording_kernel():
    """A block function: counts each block computed, records the thread and the span of its call."""
    import numba

    @numba.njit(nogil=True)
    def kernel(out, who, span, fail_at, t0, t1):
        for t in range(t0, t1):
            if t == fail_at:
                raise MemoryError("block failed")
            out[t] += 1
            who[t] = numba.get_thread_id()
            span[t] = t1 - t0

    return kernel


def _record(n, fail_at=-1):
    return np.zeros(n), np.full(n, -1), np.zeros(n, dtype=np.int64), fail_at


def test_small_calls_stay_on_the_calling_thread():
    from fastconv._loops import threads

    args = _record(40)
    threads.run(_recording_kernel(), args, 40, threads.SERIAL_WORK - 1)
    out, who, span, _ = args
    np.testing.assert_array_equal(out, np.ones(40))
    np.testing.assert_array_equal(who, np.zeros(40))  # Numba's id of the calling thread
    np.testing.assert_array_equal(span, np.full(40, 40))  # one call for all the blocks


@pytest.mark.skipif(os.cpu_count() < 2, reason="one core")
def test_large_calls_compute_every_block_once_and_restore_the_thread_count():
    import numba

    from fastconv._loops import threads

    before = numba.get_num_threads()
    args = _record(103)
    with threads.limit(2):
        assert numba.get_num_threads() == 2
        threads.run(_recording_kernel(), args, 103, threads.SERIAL_WORK)
    assert numba.get_num_threads() == before
    out, who, span, _ = args
    np.testing.assert_array_equal(out, np.ones(103))  # each block exactly once
    np.testing.assert_array_equal(span, np.ones(103))  # the parallel loop took the blocks one by one
    assert set(who.tolist()) <= {0, 1}


@functools.cache
def _scaled_kernels():
    """Two block functions of the same arguments (float64 array, float, bool, int, uint8 array, block bounds)."""
    import numba

    @numba.njit(nogil=True)
    def add(out, scale, negate, offset, mask, t0, t1):
        for t in range(t0, t1):
            v = scale * t + offset
            out[t] = -v if negate and mask[t] else v

    @numba.njit(nogil=True)
    def square(out, scale, negate, offset, mask, t0, t1):
        for t in range(t0, t1):
            out[t] = (scale * t + offset) ** 2 if mask[t] or not negate else 0.0

    return add, square


@pytest.mark.skipif(os.cpu_count() < 2, reason="one core")
def test_the_driver_passes_every_kind_of_argument_and_serves_every_block_function():
    """Floats, bools, ints and arrays reach the block function through the driver as in a plain call, and two
    block functions of the same argument types share the driver's one compiled signature."""
    from fastconv._loops import threads

    add, square = _scaled_kernels()
    n = 57
    mask = (np.arange(n) % 3 == 0).astype(np.uint8)
    before = len(threads.drivers()[0].signatures)
    for kernel in (add, square):
        for negate in (True, False):
            got, want = np.zeros(n), np.zeros(n)
            args = (got, 0.5, negate, 3, mask)
            with threads.limit(2), threads.every_call_parallel():
                threads.run(kernel, args, n, threads.SERIAL_WORK)
            kernel.py_func(want, 0.5, negate, 3, mask, 0, n)  # the plain Python function, block by block
            np.testing.assert_array_equal(got, want)
    assert len(threads.drivers()[0].signatures) <= before + 1


@pytest.mark.skipif(os.cpu_count() < 2, reason="one core")
def test_an_exception_in_a_block_is_raised_by_the_call():
    """A failing block's exception reaches the caller, the caller's thread count is restored on the way out, and
    the next call computes every block again."""
    import numba

    from fastconv._loops import threads

    with threads.limit(1):  # the caller's setting, which the failing call's limit(2) must give back
        for fail_at in (0, 50, 102):
            with pytest.raises(MemoryError, match="block failed"), threads.limit(2):
                assert numba.get_num_threads() == 2
                threads.run(_recording_kernel(), _record(103, fail_at), 103, threads.SERIAL_WORK)
            assert numba.get_num_threads() == 1
        args = _record(103)
        with threads.limit(2):
            threads.run(_recording_kernel(), args, 103, threads.SERIAL_WORK)
    np.testing.assert_array_equal(args[0], np.ones(103))  # after the failures, each block exactly once


def test_an_edited_block_function_gets_new_parallel_drivers(tmp_path):
    """The drivers, cached under this module's file, hold a copy of the block function: not its old code."""
    module = tmp_path / "probe_blocks.py"
    code = f"""
        import sys
        import numpy as np
        sys.path.insert(0, {str(tmp_path)!r})
        from fastconv._loops import threads
        import probe_blocks

        out = np.zeros(8)
        with threads.limit(2), threads.every_call_parallel():
            threads.run(probe_blocks.blocks, (out,), 8, 1 << 30)
        print("sum", out.sum())
        """
    body = "from fastconv._jit import jit\n\n\n@jit()\ndef blocks(out, t0, t1):\n"
    body += "    for t in range(t0, t1):\n        out[t] = {}\n"
    sums = []
    for value in (1.0, 2.0):
        module.write_text(body.format(value))
        proc = run_python(code, NUMBA_CACHE_DIR=str(tmp_path / "cache"), NUMBA_NUM_THREADS="2")
        assert_ok(proc)
        sums.append(proc.stdout.split()[-1])
    assert sums == ["8.0", "16.0"]

"""fastconv's one thread policy: when a call stays on the calling thread, how many threads help, how errors return.

Every parallel loop of fastconv (``convolve2d``'s ``direct`` row blocks,
``conv2d``'s kernels, max pooling) is a compiled *block function*
``kernel(*args, t0, t1)`` that computes blocks ``t0 <= t < t1`` of its output,
each block writing only its own part, and releases the GIL (``nogil``).
:func:`run` calls it:

- **Serial** when the call is small (``work`` below :data:`SERIAL_WORK`, about
  200 us on one core: handing blocks to another thread costs a few
  microseconds and, when the other core is busy, a scheduler time slice), when
  there is one block, or when one thread is asked for.
- Otherwise on ``numba.get_num_threads()`` threads: the calling thread and up
  to ``n - 1`` helper threads of a small process-wide pool take chunks of
  blocks from a shared counter until none are left.  A helper that has not
  started by the time the caller has taken every chunk finds nothing to do, so
  a call never waits for a thread that is not running (another process holding
  the core, or many Python threads calling at once); the caller waits only for
  chunks already being computed.
- An exception in any chunk (a ``MemoryError``, an ``IndexError`` under
  ``NUMBA_BOUNDSCHECK=1``) stops the handing out of chunks and is raised by
  :func:`run` in the calling thread, with its traceback, once the chunks in
  flight are done: a call never returns a partly computed result and never
  hangs.

The thread count is Numba's (``numba.set_num_threads``, ``NUMBA_NUM_THREADS``),
read per call, so :func:`limit` (used by ``fastconv.dask`` and ``conv2d``)
and the caller's own setting apply.  The kernels are plain ``jit`` functions,
not ``parallel=True`` ones: Numba compiles each for the path a call takes and
nothing else, with none of the parallel-loop machinery, so a first call
compiles in seconds.  The pool's threads are made on first use and made again
in a process forked after a call (``os.register_at_fork``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading

import numba

from .._jit import threading_layer

#: Below this much work (multiply-adds plus input values read; about 200 us on one core of
#: an AVX2 or AVX-512 machine: a 512x512 3x3 call) a call runs on the calling thread only.
#: Handing out blocks costs microseconds on a quiet machine, but when the other cores are busy
#: a helper can lose its core in the middle of a chunk, and the call then waits a scheduler
#: time slice for it: measured with two other processes on the two cores, a 256x256 3x3 call
#: took 4x its one-thread time when shared.  Above the bound the threads gain on either kind
#: of machine; below it, the one-thread time is what a call costs, whatever the load.
SERIAL_WORK = 1 << 22

#: Chunks of blocks per thread: with fewer, one slow thread holds up the call; with more,
#: each chunk's hand-over (about a microsecond) adds up.
CHUNKS_PER_THREAD = 4

_pool_lock = threading.Lock()
_tasks: queue.SimpleQueue = queue.SimpleQueue()
_helpers: list[threading.Thread] = []


def _helper_loop(tasks):
    while True:
        tasks.get()()


def _ensure_helpers(n: int) -> None:
    """Start helper threads until there are ``n``."""
    if len(_helpers) >= n:
        return
    with _pool_lock:
        while len(_helpers) < n:
            t = threading.Thread(target=_helper_loop, args=(_tasks,), name="fastconv-helper", daemon=True)
            t.start()
            _helpers.append(t)


def _after_fork_in_child() -> None:
    global _tasks, _pool_lock
    _pool_lock = threading.Lock()
    _tasks = queue.SimpleQueue()
    _helpers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Call:
    """One parallel call's shared state: the next chunk, the threads inside it, the first error."""

    __slots__ = ("kernel", "args", "bounds", "next", "running", "closed", "error", "cond")

    def __init__(self, kernel, args, bounds):
        self.kernel = kernel
        self.args = args
        self.bounds = bounds
        self.next = 0
        self.running = 0
        self.closed = False
        self.error = None
        self.cond = threading.Condition(threading.Lock())

    def work(self):
        """Take chunks until none are left (or one failed); record the first exception."""
        cond = self.cond
        with cond:
            if self.closed:
                return
            self.running += 1
        try:
            while True:
                with cond:
                    c = self.next
                    if c >= len(self.bounds) - 1 or self.error is not None:
                        return
                    self.next = c + 1
                self.kernel(*self.args, self.bounds[c], self.bounds[c + 1])
        except BaseException as exc:  # noqa: BLE001  (raised again by run, in the caller)
            with cond:
                if self.error is None:
                    self.error = exc
        finally:
            with cond:
                self.running -= 1
                cond.notify_all()

    def finish(self):
        """Close the call to helpers that have not started; wait for the ones inside it."""
        cond = self.cond
        with cond:
            self.closed = True
            while self.running:
                cond.wait()


def threads() -> int:
    """The number of threads a parallel call uses: Numba's setting for the calling thread."""
    threading_layer()  # reading the setting starts Numba's threading layer: choose it first
    return numba.get_num_threads()


def workers(work: int) -> int:
    """Threads for ``work`` another library spreads itself (scipy.fft's ``workers``): 1 below :data:`SERIAL_WORK`."""
    return 1 if work < SERIAL_WORK else threads()


def run(kernel, args, n_blocks: int, work: int) -> None:
    """Compute blocks ``[0, n_blocks)`` with ``kernel(*args, t0, t1)``: on this thread, or shared (module notes).

    Parameters
    ----------
    kernel : compiled function
        Computes blocks ``t0 <= t < t1``; blocks write disjoint parts of the output.
    args : tuple
        The arguments before ``t0, t1``.
    n_blocks : int
        The number of blocks.
    work : int
        The call's work (multiply-adds plus values read), compared with :data:`SERIAL_WORK`.
    """
    if work < SERIAL_WORK or n_blocks <= 1:
        return kernel(*args, 0, n_blocks)
    n = min(threads(), n_blocks)
    if n <= 1:
        kernel(*args, 0, n_blocks)
        return
    chunks = min(n_blocks, CHUNKS_PER_THREAD * n)
    bounds = [n_blocks * c // chunks for c in range(chunks + 1)]
    call = _Call(kernel, args, bounds)
    _ensure_helpers(n - 1)
    for _ in range(n - 1):
        _tasks.put(call.work)
    call.work()
    call.finish()
    if call.error is not None:
        raise call.error


@contextlib.contextmanager
def limit(n: int | None):
    """Run the body with at most ``n`` threads per parallel call (None: leave the setting alone).

    Sets ``numba.set_num_threads`` for the calling thread only and restores the
    caller's setting afterwards.
    """
    if n is None:
        yield
        return
    before = threads()
    n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    if n == before:
        yield
        return
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)

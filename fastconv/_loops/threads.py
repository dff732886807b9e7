"""fastconv's one thread policy: when a call stays on the calling thread, how many threads help, how errors return.

Every parallel loop of fastconv (``convolve2d``'s ``direct`` row blocks and
FFT passes, ``conv2d``'s kernels, max pooling, the 3-D slice sums) is a
compiled *block function* ``kernel(*args, t0, t1)`` that computes blocks
``t0 <= t < t1`` of its output, each block writing only its own part.
:func:`run` calls it:

- **Serial** when the call is small (``work`` below :data:`SERIAL_WORK`), when
  there is one block, or when one thread is asked for: a plain call of the
  block function, which is compiled for the path the call takes and nothing
  else (no parallel-loop machinery), so a first small call compiles in
  seconds.
- Otherwise through the kernel's *parallel driver*: a ``jit(parallel=True)``
  function of three lines whose ``prange`` over the blocks hands them to Numba's
  threading layer (TBB unless ``NUMBA_THREADING_LAYER`` says otherwise, see
  :mod:`fastconv._jit`) on ``numba.get_num_threads()`` threads.  Its threads
  wait for work spinning briefly, so a parallel call starts in microseconds,
  and TBB's work stealing keeps the cores busy when another process holds
  one.  One driver is made per block function, on its first large call, and
  cached on disk like every kernel (:func:`_driver`); it costs a few seconds
  to compile once.
- An exception in any block (a ``MemoryError``, an ``IndexError`` under
  ``NUMBA_BOUNDSCHECK=1``) is caught in that block and recorded; once the
  parallel loop is over, :func:`run` computes the first failed block again on
  the calling thread, which raises the exception with its traceback (or, if
  it does not fail again, computes the block).  A call never returns a partly
  computed result and never hangs.

The thread count is Numba's (``numba.set_num_threads``, ``NUMBA_NUM_THREADS``),
read per call, so :func:`limit` (used by ``fastconv.dask`` and ``conv2d``)
and the caller's own setting apply.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import threading
import time
import types

import numba
import numpy as np
from numba import prange

from .._jit import jit, threading_layer

#: Below this much work (multiply-adds plus input values read; some 50 us on one core of an
#: AVX2 or AVX-512 machine: a 340x340 3x3 call) a call runs on the calling thread only.
#: Starting a parallel loop on Numba's threading layer costs some 10 us when its threads are
#: waiting and more when another process holds a core; above the bound two threads gain on
#: either kind of machine (``python -m benches.bench_latency``), below it the one-thread time
#: is what a call costs, whatever the load.
SERIAL_WORK = 1 << 20

# The parallel driver of one block function is made of two functions whose globals name that
# block function: ``_guard`` calls it and turns its exception into a status, ``_drive`` runs the
# blocks in a ``prange``.  ``_guard`` passes the argument tuple's items one by one (a tuple cannot
# be unpacked with ``*`` inside ``try``), so its code is made per number of arguments; each
# function gets its own name, so Numba caches it in its own index file (a block function passed
# as an argument instead would make a driver that Numba cannot cache: a dispatcher's type differs
# between processes).  Every function calling a block function compiles its code again (Numba
# links and optimises the callee into the caller), so each layer costs about as much to compile
# as the block function: two layers, not three.


def _guard_code(n_args: int):
    """The code of ``_guard(args, t0, t1)``: ``_KERNEL(args[0], ..., args[n_args - 1], t0, t1)``, 1 if it raised."""
    items = "".join(f"args[{i}], " for i in range(n_args))
    source = (
        "def _guard_template(args, t0, t1):\n"
        "    try:\n"
        f"        _KERNEL({items}t0, t1)\n"
        "    except Exception:\n"
        "        return 1\n"
        "    return 0\n"
    )
    module = compile(source, __file__, "exec")  # this file's name: Numba's cache locates it by its source file
    return next(c for c in module.co_consts if isinstance(c, types.CodeType))


def _drive_template(args, status):
    for t in prange(len(status)):
        # block indices as the int64 of a plain call (a prange index is unsigned): one compiled
        # signature of the block function for both
        i = np.int64(t)
        status[t] = _GUARD(args, i, i + 1)  # noqa: F821  (a global of each copy)


_drivers: dict = {}
_drivers_lock = threading.Lock()
_copies: list = []  # every function made by _copy, for fastconv.precompile's cache statistics


def _copy(code, name: str, names: dict, **options):
    """The function of ``code`` compiled as a function called ``name`` whose globals include ``names``."""
    code = code.replace(co_name=name, co_qualname=name)
    glb = {"__name__": __name__, "__builtins__": __builtins__, "prange": prange, "np": np, **names}
    made = jit(**options)(types.FunctionType(code, glb, name))
    _copies.append(getattr(made, "dispatcher", made))  # the dispatcher behind a one-at-a-time wrapper
    return made


def drivers() -> list:
    """The Numba dispatchers of every parallel driver made so far in this process (and their helpers)."""
    return list(_copies)


@functools.cache
def _file_digest(path: str) -> str:
    """sha1 of the file at ``path`` ("" when it cannot be read), read once per process."""
    try:
        with open(path, "rb") as f:
            return hashlib.sha1(f.read()).hexdigest()
    except OSError:
        return ""


def _source_tag(func) -> str:
    """A digest of the files whose code a driver of ``func`` compiles: ``func``'s own and those of ``fastconv._loops``.

    The driver's functions are cached in this file's index files, which Numba keeps while this
    file is unchanged; but they hold their own compiled copy of the block function and of what it
    calls (the helpers of ``fastconv._loops``).  With the digest of those files in their names, an
    edited block function or helper gets new drivers instead of running its old code on the
    parallel path (seen: a row pass of ``maximum_filter`` 5x slower on two threads than on one,
    an old version's code).  Code outside these files that a block function calls is not covered,
    as Numba's own cache does not follow a cached function's callees either.
    """
    folder = os.path.dirname(os.path.abspath(__file__))
    paths = sorted(
        {func.__code__.co_filename} | {os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".py")}
    )
    return hashlib.sha1("".join(_file_digest(p) for p in paths).encode()).hexdigest()[:10]


def _driver(kernel):
    """The parallel driver ``drive(args, status)`` (a status per block) of the block function ``kernel``, made once."""
    drive = _drivers.get(kernel)
    if drive is None:
        with _drivers_lock:
            drive = _drivers.get(kernel)
            if drive is None:
                func = kernel.py_func
                tag = f"{func.__module__.rsplit('.', 1)[-1]}_{func.__qualname__}_{_source_tag(func)}".replace(".", "_")
                guard = _copy(_guard_code(func.__code__.co_argcount - 2), f"_guard__{tag}", {"_KERNEL": kernel})
                drive = _copy(_drive_template.__code__, f"_drive__{tag}", {"_GUARD": guard}, parallel=True)
                _drivers[kernel] = drive
    return drive


_state = threading.local()

# When a thread other than the main one last ran a parallel loop (time.monotonic()).
_state_off_main = [float("-inf")]


def _settle_before_fork() -> None:
    """Before ``fork()``: if another thread ran a parallel loop a moment ago, give it time to leave TBB.

    Numba shuts its TBB pool down before a fork; a Python thread that ran a
    parallel loop and was joined just now may still be detaching from TBB,
    and the shutdown then fails ("Unable to join threads to shut down before
    fork()" on stdout).  A few milliseconds are enough (measured: 5 ms); a
    process whose parallel calls all come from its main thread forks at once.
    """
    if time.monotonic() - _state_off_main[0] < 1.0:
        time.sleep(0.02)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_settle_before_fork)


@contextlib.contextmanager
def every_call_parallel():
    """Run every call of more than one block through its parallel driver, in this thread (``fastconv precompile``).

    With one thread (``numba.get_num_threads() == 1``) calls stay serial and no driver is made.
    """
    before = getattr(_state, "every_call_parallel", False)
    _state.every_call_parallel = True
    try:
        yield
    finally:
        _state.every_call_parallel = before


def parallel_forced() -> bool:
    """True inside :func:`every_call_parallel` in this thread."""
    return getattr(_state, "every_call_parallel", False)


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
        A Numba ``jit`` function computing blocks ``t0 <= t < t1``; blocks write
        disjoint parts of the output.
    args : tuple
        The arguments before ``t0, t1``.
    n_blocks : int
        The number of blocks.
    work : int
        The call's work (multiply-adds plus values read), compared with :data:`SERIAL_WORK`.
    """
    if (work < SERIAL_WORK and not parallel_forced()) or n_blocks <= 1:
        kernel(*args, 0, n_blocks)
        return
    n = min(threads(), n_blocks)
    if n <= 1:
        kernel(*args, 0, n_blocks)
        return
    status = np.zeros(n_blocks, dtype=np.uint8)
    if threading.current_thread() is not threading.main_thread():
        _state_off_main[0] = time.monotonic()
    drive = _driver(kernel)
    # blocks handed out one at a time, not split into one equal share per thread up front: a
    # thread the OS or the host slows down then holds back only its current block
    chunk = numba.get_parallel_chunksize()
    numba.set_parallel_chunksize(1)
    try:
        drive(args, status)
    finally:
        numba.set_parallel_chunksize(chunk)
    failed = np.flatnonzero(status)
    if failed.size:
        t = int(failed[0])
        kernel(*args, t, t + 1)  # raises the block's exception here, in the calling thread


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

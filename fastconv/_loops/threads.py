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
- Otherwise through the *parallel driver*: one ``jit(parallel=True)`` function
  whose ``prange`` over the blocks hands them to Numba's threading layer (TBB
  unless ``NUMBA_THREADING_LAYER`` says otherwise, see :mod:`fastconv._jit`) on
  ``numba.get_num_threads()`` threads.  Its threads wait for work spinning
  briefly, so a parallel call starts in microseconds, and TBB's work stealing
  keeps the cores busy when another process holds one.  The driver calls the
  block function's compiled code through its address (:func:`_call_block`),
  so it holds no copy of any block function: it is compiled once per tuple of
  argument types, in well under a second, and cached on disk like every
  kernel, while the block function is compiled (or loaded from the cache) on
  its own, once per signature, whichever path called it first.
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
import os
import threading
import time

import numba
import numpy as np
from numba import prange, types
from numba.extending import intrinsic

try:  # Numba's C fingerprint of a value's type (what its own dispatch uses): a microsecond
    from numba._dispatcher import compute_fingerprint
except ImportError:  # a Numba without it: the types themselves are the key
    compute_fingerprint = None

from .._jit import jit, threading_layer

#: Below this much work (multiply-adds plus input values read; some 50 us on one core of an
#: AVX2 or AVX-512 machine: a 340x340 3x3 call) a call runs on the calling thread only.
#: Starting a parallel loop on Numba's threading layer costs some 10 us when its threads are
#: waiting and more when another process holds a core; above the bound two threads gain on
#: either kind of machine (``python -m benches.bench_latency``), below it the one-thread time
#: is what a call costs, whatever the load.
SERIAL_WORK = 1 << 20


@intrinsic
def _call_block(typingctx, address, args, t0, t1):
    """``status = _call_block(address, args, t0, t1)``: the block function compiled at ``address`` called with
    ``*args, t0, t1`` in Numba's own calling convention; 0, or 1 if it raised.

    The exception itself is not kept: :func:`run` computes the failed block
    again on the calling thread, where it is raised as Python sees it.
    """
    if not isinstance(args, types.BaseTuple):
        return None
    argtys = (*args.types, types.int64, types.int64)

    def codegen(context, builder, signature, llargs):
        addr, packed, first, end = llargs
        values = [builder.extract_value(packed, i) for i in range(len(args.types))] + [first, end]
        fnty = context.call_conv.get_function_type(types.none, argtys)
        status, _ = context.call_conv.call_function(
            builder, builder.inttoptr(addr, fnty.as_pointer()), types.none, argtys, values
        )
        return builder.zext(builder.not_(status.is_ok), context.get_value_type(types.uint8))

    return types.uint8(address, args, t0, t1), codegen


@jit(parallel=True)
def _drive(address, args, status):
    """Blocks ``[0, len(status))`` of the block function at ``address``, shared by the threads; a status per block."""
    for t in prange(len(status)):
        # block indices as the int64 of a plain call (a prange index is unsigned): one compiled
        # signature of the block function for both
        i = np.int64(t)
        status[t] = _call_block(address, args, i, i + 1)


# (block function, fingerprint of its arguments' types) -> the address of its compiled code
_addresses: dict = {}
_addresses_lock = threading.Lock()


def _types_key(args: tuple):
    """A key of the Numba types of ``args``: Numba's own fingerprint (a microsecond), or the types themselves."""
    if compute_fingerprint is not None:
        try:
            return compute_fingerprint(args)
        except (TypeError, ValueError, NotImplementedError):
            pass
    return tuple(numba.typeof(a) for a in args)


def _address(kernel, args: tuple) -> int:
    """The address of ``kernel``'s native code for ``args`` followed by two int64 block bounds, compiled once."""
    dispatcher = getattr(kernel, "dispatcher", kernel)  # the Numba dispatcher behind a one-at-a-time wrapper
    key = (dispatcher, _types_key(args))
    address = _addresses.get(key)
    if address is None:
        with _addresses_lock:
            address = _addresses.get(key)
            if address is None:
                signature = (*(dispatcher.typeof_pyval(a) for a in args), types.int64, types.int64)
                dispatcher.compile(signature)  # or loaded from the cache
                compiled = dispatcher.overloads[signature]
                if compiled.signature.return_type != types.none:
                    name = dispatcher.py_func.__qualname__
                    raise TypeError(f"{name} returns a value: a block function returns nothing")
                address = compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name)
                if not address:
                    raise RuntimeError(f"no compiled code found for {dispatcher.py_func.__qualname__}{signature}")
                _addresses[key] = address
    return address


def drivers() -> list:
    """The Numba dispatcher of the parallel driver (for fastconv.precompile's cache statistics)."""
    return [getattr(_drive, "dispatcher", _drive)]


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
    address = _address(kernel, args)
    # blocks handed out one at a time, not split into one equal share per thread up front: a
    # thread the OS or the host slows down then holds back only its current block
    chunk = numba.get_parallel_chunksize()
    numba.set_parallel_chunksize(1)
    try:
        _drive(address, args, status)
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

"""The one place where fastconv's Numba options and threading layer are set.

Options
-------
Every kernel is compiled with ``cache=True`` (compiled code is written next to
the module, or to ``NUMBA_CACHE_DIR``, so a new process skips compilation) and
``error_model="numpy"`` (division follows NumPy: no exception checks in hot
loops).  ``jit(contract=True)`` adds the one fast-math flag fastconv uses,
``contract``: LLVM may fuse ``a * b + c`` into a fused multiply-add (one
rounding instead of two).  Sums are never reordered (no ``reassoc``) and NaN
and inf are not assumed away (no ``nnan``/``ninf``), so they propagate as
without the flag.  ``jit(inline=True)`` inlines a helper into its callers in
Numba's IR.  There are no eager signatures, so ``import fastconv``
compiles nothing; each kernel compiles on first use for the dtypes it meets.

If no cache location is writable, Numba refuses ``cache=True`` when the
function is decorated; the kernel is then compiled without a cache instead of
failing the import.

Threads
-------
fastconv's loops are plain (not ``parallel=True``) kernels, run on the
calling thread for small calls and through one small ``jit(parallel=True)``
driver on Numba's threading layer for large ones (see
:mod:`fastconv._loops.threads`), sized by ``numba.set_num_threads`` or
``NUMBA_NUM_THREADS``.  The layer is chosen once, by :func:`threading_layer`,
when fastconv is imported (it costs some 2 ms): Numba starts its layer the
first time anything reads or sets the thread count, which a program may do
before its first fastconv call.  Unless the environment variable
``NUMBA_THREADING_LAYER`` says otherwise, it is the TBB layer (the ``tbb``
package, a dependency): safe for many Python threads calling at once and in
processes forked after a parallel call, and its work stealing keeps both
cores busy when another process holds one.  The ``tbb`` wheel installs
``libtbb.so.12`` under ``sys.prefix/lib``, where Numba's loader does not
look, so it is loaded from there first.  Without a usable TBB the
``workqueue`` layer is selected, and every ``jit(parallel=True)`` kernel is
then wrapped so that one parallel call runs at a time in the process
(``workqueue`` aborts the process when two threads enter it at once); such a
wrapped kernel is called from Python only.  The selection sets
``numba.config.THREADING_LAYER`` for the whole process; a program that
started Numba's threads before importing fastconv keeps the layer it got.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import threading

import numba

_OPTIONS = {"cache": True, "error_model": "numpy", "nogil": True}


def _load_tbb() -> bool:
    """Make the TBB runtime loadable by Numba; True when Numba's TBB layer imports."""
    candidates = ["libtbb.so.12", os.path.join(sys.prefix, "lib", "libtbb.so.12")]
    if sys.platform == "darwin":
        candidates = ["libtbb.12.dylib", os.path.join(sys.prefix, "lib", "libtbb.12.dylib")]
    elif sys.platform == "win32":
        candidates = ["tbb12.dll", os.path.join(sys.prefix, "Library", "bin", "tbb12.dll")]
    for name in candidates:
        try:
            lib = ctypes.CDLL(name, mode=getattr(ctypes, "RTLD_GLOBAL", 0))
            if lib.TBB_runtime_interface_version() < 12060:  # the oldest TBB Numba accepts
                return False
            break
        except (OSError, AttributeError):
            continue
    else:
        return False
    try:
        from numba.np.ufunc import tbbpool  # noqa: F401  (import only: is the layer usable?)
    except ImportError:
        return False
    return True


def _select_threading_layer() -> str:
    """Set ``numba.config.THREADING_LAYER`` (see the module docstring) and return the layer asked for."""
    if os.environ.get("NUMBA_THREADING_LAYER"):
        if numba.config.THREADING_LAYER in ("tbb", "safe", "threadsafe", "forksafe", "default"):
            _load_tbb()  # so that the layer asked for can load
        return numba.config.THREADING_LAYER
    layer = "tbb" if _load_tbb() else "workqueue"
    numba.config.THREADING_LAYER = layer
    return layer


_layer: str | None = None
_layer_lock = threading.Lock()


def threading_layer() -> str:
    """The threading layer asked for, selected on the first call (see the module notes)."""
    global _layer
    if _layer is None:
        with _layer_lock:
            if _layer is None:
                _layer = _select_threading_layer()
    return _layer


def _launch_from_main_thread() -> None:
    """Start Numba's TBB pool now, from the main thread, when that is the thread importing fastconv.

    Numba's TBB layer takes the thread that started the pool for the process's
    main thread, and a ``fork()`` from any other thread leaves the pool as it
    is and prints "Attempted to fork from a non-main thread" in the child.
    When the first parallel call comes from a worker thread (a web server's, a
    dask threaded scheduler's) and the process later forks from its real main
    thread, that warning would be printed for nothing.  Started here, the pool
    knows the main thread, and a fork from it shuts the pool down cleanly and
    the child starts its own.  Costs about a millisecond.
    """
    if threading_layer() != "tbb" or threading.current_thread() is not threading.main_thread():
        return
    try:
        from numba.np.ufunc.parallel import _launch_threads

        _launch_threads()
    except Exception:  # noqa: BLE001 - the layer then starts on first use, as Numba does by default
        return


_launch_from_main_thread()  # at import: before anything can start Numba's threads (module notes)


# Layers that take concurrent callers; any other gets one parallel call at a time.
_CONCURRENT_LAYERS = ("tbb", "omp", "safe", "threadsafe")
_launch = threading.Lock()


def _one_at_a_time(kernel):
    """``kernel`` behind the process-wide launch lock (for a layer that is not thread-safe)."""

    @functools.wraps(kernel)
    def call(*args):
        with _launch:
            return kernel(*args)

    call.dispatcher = kernel
    return call


def jit(parallel: bool = False, contract: bool = False, inline: bool = False):
    """Return a decorator that compiles a kernel with fastconv's options.

    Parameters
    ----------
    parallel : bool
        Compile with ``parallel=True`` so that ``numba.prange`` loops run on
        Numba's threading layer (see the module docstring).
    contract : bool
        Let LLVM fuse ``a * b + c`` into one fused multiply-add (fast-math
        flag ``contract`` only; NaN and inf propagate as without it).
    inline : bool
        Compile with ``inline="always"``: every call from another kernel is
        inlined in Numba's IR, so the caller's constants reach the body (a
        helper that carries a micro-kernel's accumulators).

    Examples
    --------
    >>> from fastconv._jit import jit
    >>> @jit()
    ... def twice(x):
    ...     return 2 * x
    >>> twice(3)
    6
    """
    options = dict(_OPTIONS)
    if contract:
        options["fastmath"] = {"contract"}
    if inline:
        options["inline"] = "always"

    def decorate(func):
        try:
            kernel = numba.njit(parallel=parallel, **options)(func)
        except RuntimeError:
            # "cannot cache function ...: no locator available": no writable
            # cache directory. Compile per process instead.
            kernel = numba.njit(parallel=parallel, **dict(options, cache=False))(func)
        if parallel and threading_layer() not in _CONCURRENT_LAYERS:
            return _one_at_a_time(kernel)
        return kernel

    return decorate

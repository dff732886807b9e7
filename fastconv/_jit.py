"""The one place where fastconv's Numba options are set.

Every kernel is compiled with ``cache=True`` (compiled code is written next to
the module, or to ``NUMBA_CACHE_DIR``, so a new process skips compilation) and
``error_model="numpy"`` (division follows NumPy: no exception checks in hot
loops).  There is no ``fastmath``: it lets LLVM assume no NaN or inf, which
changes results on such inputs.  There are no eager signatures either, so
``import fastconv`` compiles nothing; each kernel compiles on first use for the
dtypes it meets.

If no cache location is writable, Numba refuses ``cache=True`` when the
function is decorated; the kernel is then compiled without a cache instead of
failing the import.
"""

from __future__ import annotations

import numba

_OPTIONS = {"cache": True, "error_model": "numpy", "nogil": True}


def jit(parallel: bool = False):
    """Return a decorator that compiles a kernel with fastconv's options.

    Parameters
    ----------
    parallel : bool
        Compile with ``parallel=True`` so that ``numba.prange`` loops run on
        Numba's thread pool (sized by ``numba.set_num_threads`` or
        ``NUMBA_NUM_THREADS``).

    Examples
    --------
    >>> from fastconv._jit import jit
    >>> @jit()
    ... def twice(x):
    ...     return 2 * x
    >>> twice(3)
    6
    """

    def decorate(func):
        try:
            return numba.njit(parallel=parallel, **_OPTIONS)(func)
        except RuntimeError:
            # "cannot cache function ...: no locator available": no writable
            # cache directory. Compile per process instead.
            options = dict(_OPTIONS, cache=False)
            return numba.njit(parallel=parallel, **options)(func)

    return decorate

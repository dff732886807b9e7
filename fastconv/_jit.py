"""The one place where fastconv's Numba options are set.

Every kernel is compiled with ``cache=True`` (compiled code is written next to
the module, or to ``NUMBA_CACHE_DIR``, so a new process skips compilation) and
``error_model="numpy"`` (division follows NumPy: no exception checks in hot
loops).  There is no general ``fastmath``: its ``nnan``/``ninf``/``reassoc``
flags let LLVM assume no NaN or inf and reorder sums, which changes results.
A kernel may opt in to ``contract`` alone (``jit(contract=True)``): a
multiply followed by an add may become one fused multiply-add (one rounding
instead of two); the order of the sums is kept, NaN and inf propagate.  There are no eager signatures either, so
``import fastconv`` compiles nothing; each kernel compiles on first use for the
dtypes it meets.

If no cache location is writable, Numba refuses ``cache=True`` when the
function is decorated; the kernel is then compiled without a cache instead of
failing the import.
"""

from __future__ import annotations

import numba

_OPTIONS = {"cache": True, "error_model": "numpy", "nogil": True}


def jit(parallel: bool = False, contract: bool = False, inline: bool = False):
    """Return a decorator that compiles a kernel with fastconv's options.

    Parameters
    ----------
    parallel : bool
        Compile with ``parallel=True`` so that ``numba.prange`` loops run on
        Numba's thread pool (sized by ``numba.set_num_threads`` or
        ``NUMBA_NUM_THREADS``).
    contract : bool
        Compile with ``fastmath={"contract"}``: ``a * b + c`` may be fused
        into one FMA instruction.  No other fast-math flag is ever set.
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

    extra = {"fastmath": {"contract"}} if contract else {}
    if inline:
        extra["inline"] = "always"

    def decorate(func):
        try:
            return numba.njit(parallel=parallel, **_OPTIONS, **extra)(func)
        except RuntimeError:
            # "cannot cache function ...: no locator available": no writable
            # cache directory. Compile per process instead.
            options = dict(_OPTIONS, cache=False)
            return numba.njit(parallel=parallel, **options, **extra)(func)

    return decorate

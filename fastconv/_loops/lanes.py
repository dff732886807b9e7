"""Small compile-time helpers the row loops share: how a sum is stored, narrowed, and typed.

Each is a Numba ``@overload``: the Python stub is never called; Numba picks
an implementation from the argument types when a loop is compiled, so the
choice costs nothing at run time.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload


def _store(value, row):
    """``value`` converted for storing into ``row`` (see the overload below)."""


@overload(_store)
def _store_overload(value, row):
    # Integer results computed in float32 (or float64) are whole numbers below
    # 2**24 (2**53) in magnitude (``direct`` checks the bound), so converting
    # through int32 (int64) is exact; going through int32 lets AVX2 vectorise
    # the conversion, which it cannot do for float32 -> int64.
    if isinstance(row.dtype, types.Integer) and isinstance(value, types.Float):
        if value.bitwidth == 32:
            return lambda value, row: np.int32(value)
        return lambda value, row: np.int64(value)
    return lambda value, row: value


def _narrow(value, k):
    """``value`` reduced to the dtype of ``k`` when that is an integer narrower than 64 bits (see below)."""


@overload(_narrow)
def _narrow_overload(value, k):
    # Numba computes small-integer products in int64.  ``direct`` uses an
    # int16 or int32 kernel only when every partial sum fits that type
    # (see :func:`_int_kernel`), so truncating the int64 sum to it is exact,
    # and the truncation lets LLVM do the arithmetic in 16 or 32-bit lanes.
    dt = k.dtype
    if isinstance(dt, types.Integer) and isinstance(value, types.Integer) and dt.bitwidth < 64:
        if dt.bitwidth == 16:
            return lambda value, k: np.int16(value)
        if dt.bitwidth == 32:
            return lambda value, k: np.int32(value)
    return lambda value, k: value


def _is_int(k):
    """True when ``k`` has an integer dtype (decided at compile time)."""


@overload(_is_int)
def _is_int_overload(k):
    if isinstance(k.dtype, types.Integer):
        return lambda k: True
    return lambda k: False


def _sum_target(acc, row, k):
    """Where a row loop writes its sums: ``acc`` for an integer ``k`` (then widened into ``row``), else ``row``."""


@overload(_sum_target)
def _sum_target_overload(acc, row, k):
    # Decided at compile time, so both call sites of a row loop's line kernel
    # (the float one, the integer one) have one signature: no second, dead
    # specialisation to compile.
    if isinstance(k.dtype, types.Integer):
        return lambda acc, row, k: acc
    return lambda acc, row, k: row

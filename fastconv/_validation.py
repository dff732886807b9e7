"""Argument checks shared by every public fastconv function.

Each function here takes what a user passed, checks it, and returns it in one
normal form (pairs of Python ints, ndarrays, numpy dtypes), or raises with a
message that names the argument and repeats the value that was refused.  The
geometry built from these values (padding, output sizes) is worked out in
:mod:`fastconv._plan`.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np


def is_int(value) -> bool:
    """True for a Python or NumPy integer (bools excluded)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def as_pair(value, name: str, minimum: int = 1) -> tuple[int, int]:
    """Return ``value`` (an int or a pair of ints) as a ``(rows, cols)`` pair.

    Raises TypeError for anything that is not an integer (floats and bools
    included) and ValueError for a value below ``minimum`` or a sequence that
    is not of length 2.
    """
    if is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list, np.ndarray)):
        items = list(np.asarray(value, dtype=object).ravel()) if isinstance(value, np.ndarray) else list(value)
        if len(items) != 2 or (isinstance(value, np.ndarray) and value.ndim != 1):
            raise ValueError(f"{name} must be an int or a pair of ints (rows, cols), got {value!r}")
        if not all(is_int(v) for v in items):
            raise TypeError(f"{name} must contain integers, got {value!r}")
        pair = (int(items[0]), int(items[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints (rows, cols), got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def check_choice(value, name: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_array(a, name: str, ndims) -> np.ndarray:
    """Return ``a`` as an ndarray of a numeric dtype with ``ndim`` in ``ndims``, non-empty.

    Bool and integer and real floating dtypes are accepted; complex, object,
    string and other dtypes raise TypeError.
    """
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be an array of numbers, got {type(a).__name__}: {exc}") from None
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(f"{name} must have a bool, integer or real float dtype, got dtype {arr.dtype}")
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {want}, got {arr.ndim}-D array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    return arr


_INT64, _FLOAT64, _FLOAT32 = np.dtype(np.int64), np.dtype(np.float64), np.dtype(np.float32)


def float_result(*dtypes) -> np.dtype:
    """The float dtype of a result with a float input: float64 if any of ``dtypes`` is float64, else float32."""
    for d in dtypes:
        if d.kind == "f" and d.itemsize >= 8:
            return _FLOAT64
    return _FLOAT32


def result_dtype(*arrays) -> np.dtype:
    """The dtype fastconv computes and returns in.

    Integer or bool everywhere: int64 (exact). Any float64: float64.
    Otherwise (float16/float32, or integers mixed with them): float32.
    """
    kinds = [a.dtype for a in arrays]
    if all(d.kind in "biu" for d in kinds):
        return _INT64
    return float_result(*kinds)


#: Largest magnitude an int64 accumulator holds.
INT64_MAX = 2**63 - 1


@functools.lru_cache(maxsize=64)
def int_range(dtype: np.dtype) -> tuple[int, int]:
    """``(min, max)`` of an integer (or bool) dtype as Python ints; cached (``np.iinfo`` costs about a microsecond)."""
    if dtype.kind == "b":
        return 0, 1
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _max_abs(a: np.ndarray) -> int:
    """``max|a|`` of an integer or bool array as a Python int (no overflow, no copy of ``a``)."""
    if a.dtype.kind == "b":
        return int(a.any())
    return max(int(a.max()), -int(a.min()))


def _sum_abs(k: np.ndarray) -> int:
    """``sum|k|`` of an integer or bool array as a Python int, exact."""
    if k.dtype.kind == "b":
        return int(np.count_nonzero(k))
    if k.dtype.itemsize < 8 and k.size < 2**31:  # each |value| < 2**32: the int64 sum cannot wrap
        return int(np.abs(k, dtype=np.int64).sum())
    return sum(abs(v) for v in k.ravel().tolist())  # Python ints


def bound_by_range(x_dtype: np.dtype, k: np.ndarray, dtype=np.int64) -> bool:
    """True when ``x_dtype``'s range alone bounds every sum of a correlation with ``k`` within signed ``dtype``.

    Then :func:`check_int_bound` passes for every image of that dtype (zero padding, no bias), whatever
    its values, so a caller may remember the answer for the kernel.
    """
    low, high = int_range(x_dtype)
    return max(high, -low) * _sum_abs(k) <= int_range(np.dtype(dtype))[1]


def check_int_bound(
    x: np.ndarray, k: np.ndarray, *, fill: int = 0, bias=None, dtype=np.int64, x_name="img", k_name="k"
) -> None:
    """Raise OverflowError unless every integer sum of ``x`` against ``k`` fits ``dtype``.

    The loops sum ``k[a, b] * x[...]`` in the accumulator; every partial sum
    is at most ``max|x| * sum|k|`` in magnitude (``sum|k|`` over one filter:
    ``k`` is ``(kh, kw)`` or ``(kh, kw, C, F)``), plus ``max|bias|``; a
    constant padding value ``fill`` counts as one more input value.  Computed
    with Python ints, so the check itself cannot wrap.  An unsigned ``dtype``
    also needs non-negative inputs.  Cheap: the image is scanned only when its
    dtype's range alone does not settle the question.
    """
    dtype = np.dtype(dtype)
    extra = 0 if bias is None else _max_abs(bias)
    limit = int_range(dtype)[1]
    if k.ndim == 4:
        per_filter = [_sum_abs(k[..., f]) for f in range(k.shape[3])]
        sum_k = max(per_filter)
    else:
        sum_k = _sum_abs(k)
    low, high = int_range(x.dtype)
    range_x = max(high, -low, abs(fill))
    if dtype.kind == "u":
        negative = (x.dtype.kind == "i" and x.size and int(x.min()) < 0) or (k.dtype.kind == "i" and int(k.min()) < 0)
        if negative or fill < 0 or (bias is not None and bias.dtype.kind == "i" and int(bias.min()) < 0):
            raise OverflowError(
                f"dtype={dtype} is unsigned but {x_name} or {k_name} has negative values, so the result can be "
                "negative; use a signed dtype or a float64 kernel"
            )
    if range_x * sum_k + extra <= limit:
        return
    bound = max(_max_abs(x), abs(fill)) * sum_k + extra
    if bound > limit:
        terms = f"max|{x_name}| * sum|{k_name}|" + (" + max|bias|" if extra else "")
        raise OverflowError(
            f"integer result can overflow {dtype}: {terms} = {bound} "
            f"(>= 2**{bound.bit_length() - 1}) exceeds {limit}; "
            f"pass a float64 {k_name} (or dtype=np.float64) for an approximate result"
        )


def check_out(out, shape: tuple, dtype: np.dtype, inputs) -> np.ndarray:
    """Return ``out`` if it can receive a result of ``shape`` and ``dtype``; else raise.

    TypeError unless it is an ndarray of exactly ``dtype``; ValueError for a
    wrong shape, an array that is not C-contiguous, aligned and writeable, or
    one that shares memory with any of ``inputs`` (its values would be read
    after being overwritten).
    """
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out must have dtype {dtype} (the result dtype), got dtype {out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"out must have shape {tuple(shape)}, got shape {out.shape}")
    flags = out.flags
    if not (flags.c_contiguous and flags.aligned and flags.writeable):
        raise ValueError("out must be a C-contiguous, aligned, writeable array")
    for name, a in inputs:
        # the bounds test first: the exact one costs microseconds even for separate arrays
        if isinstance(a, np.ndarray) and np.may_share_memory(out, a) and np.shares_memory(out, a):
            raise ValueError(f"out shares memory with {name}; pass a separate array")
    return out


def check_result_dtype(dtype, inputs_integer: bool) -> np.dtype:
    """``dtype=`` as a numpy dtype: a native integer or float dtype; integer only for integer inputs."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a numpy integer or float dtype, got {dtype!r}") from None
    if dt.kind not in "iuf":
        raise TypeError(f"dtype must be a numpy integer or float dtype (float32, float64, int32, ...), got {dt}")
    if dt.kind == "f" and dt.itemsize not in (4, 8):
        raise TypeError(f"dtype must be float32 or float64 for floats, got {dt}")
    if dt.kind in "iu" and not inputs_integer:
        raise TypeError(f"dtype={dt} is an integer dtype but img or k is float; pass a float dtype")
    return dt.newbyteorder("=")


def check_cval(cval, integer: bool):
    """``cval`` as a Python int (integer results) or float; TypeError for anything else."""
    if type(cval) is int and cval == 0:  # the default, on every call
        return 0
    if isinstance(cval, (bool, np.bool_)) or not isinstance(cval, numbers.Real):
        raise TypeError(f"cval must be a real number, got {cval!r}")
    if integer:
        if float(cval) != int(cval):
            raise ValueError(f"cval={cval!r} is not a whole number but the result is integer; pass dtype=np.float64")
        return int(cval)
    return float(cval)

"""Drop-in replacements for ``scipy.ndimage``'s correlation functions, run on fastconv.

``from fastconv import ndimage`` in place of ``from scipy import ndimage`` gives
:func:`correlate`, :func:`convolve`, :func:`correlate1d` and :func:`convolve1d`
with scipy's signatures and results.  Real 1-, 2- and 3-D inputs of the
integer and float32/float64 dtypes run on fastconv's compiled loops (threaded,
through :func:`fastconv.convolve2d`); every other call (complex, bool or
float16 data, more than three dimensions, a complex ``output``, an argument
scipy refuses) is passed to scipy unchanged, so it behaves exactly as scipy.

scipy.ndimage's modes are not numpy.pad's: ``"reflect"`` repeats the edge value
(numpy's ``"symmetric"``), ``"mirror"`` does not (numpy's ``"reflect"``),
``"nearest"`` is numpy's ``"edge"``; ``"wrap"`` and ``"grid-wrap"`` are both
numpy's ``"wrap"`` in these filters, ``"grid-constant"`` is ``"constant"`` and
``"grid-mirror"`` is ``"reflect"``.

Arithmetic
----------
scipy computes in float64 and casts to the output dtype (truncating toward
zero for integers).  Here:

- integer input with whole-number weights (and a whole ``cval``) whose sums
  stay below ``2**53`` is summed exactly in integers: the numbers scipy's
  float64 sum gives;
- float32 input with a float32 output is computed in float32 (threaded, twice
  the vector width): equal to scipy's result within float32 rounding;
- everything else is computed in float64 and cast as scipy casts.

An integer result outside the output dtype's range (scipy lets it wrap in C)
is recomputed by scipy.  scipy's n-D ``correlate`` reads outside the input for
``mode="reflect"`` when the kernel reaches more than twice the input's length
past an edge; this module extends the input as ``correlate1d`` does there
(numpy.pad's ``"symmetric"``).
"""

from __future__ import annotations

import numbers
import operator

import numpy as np
import scipy.ndimage

from ._nd import CALLS, correlate_nd

# scipy's own functions, taken at import: the fallbacks keep working when scipy's names are replaced by these.
_SCIPY = {name: getattr(scipy.ndimage, name) for name in ("correlate", "convolve", "correlate1d", "convolve1d")}

__all__ = ["convolve", "convolve1d", "correlate", "correlate1d"]

# Rank filters (minimum, maximum, median, rank, percentile): fastconv._rank.
from ._rank import (  # noqa: E402
    maximum_filter,
    maximum_filter1d,
    median_filter,
    minimum_filter,
    minimum_filter1d,
    percentile_filter,
    rank_filter,
)

__all__ += [
    "maximum_filter",
    "maximum_filter1d",
    "median_filter",
    "minimum_filter",
    "minimum_filter1d",
    "percentile_filter",
    "rank_filter",
]

#: scipy.ndimage's filter modes as numpy.pad's modes.
MODES = {
    "reflect": "symmetric",
    "grid-mirror": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "grid-wrap": "wrap",
    "constant": "constant",
    "grid-constant": "constant",
}

# The dtypes computed here (inputs and outputs); any other goes to scipy.
_DTYPES = frozenset(
    np.dtype(t)
    for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64, np.float32, np.float64)
)
_FLOAT32, _FLOAT64, _INT64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)
# Integer sums below this are exact in float64, so scipy's float64 sums are exact integers too.
_EXACT = 2**53


class _Plan:
    """One call, normalised: the input, the float64 weights and origins with ``x.ndim`` axes, the output."""

    def __init__(self, x, w, origins, output, mode, cval):
        self.x, self.w, self.origins, self.output, self.mode, self.cval = x, w, origins, output, mode, cval


def _output_dtype(output, x):
    """The dtype scipy writes for ``output`` (None, a dtype, a type, a string or an array); None if not handled."""
    if output is None:
        dt = x.dtype
    elif isinstance(output, np.ndarray):
        if output.shape != x.shape or not output.flags.writeable:
            return None
        dt = output.dtype
    elif isinstance(output, (type, np.dtype, str)):
        try:
            dt = np.dtype(output)
        except TypeError:
            return None
    else:
        return None
    return dt if dt in _DTYPES and dt.isnative else None


def _origin_list(origin, n):
    """``origin`` (an int or a sequence of ``n``) as a list of ``n`` ints; None if scipy would refuse it."""
    try:
        if isinstance(origin, (numbers.Integral, np.integer)):
            return [operator.index(origin)] * n
        items = [operator.index(o) for o in origin]
    except TypeError:
        return None
    return items if len(items) == n else None


def _axes(axes, ndim):
    """scipy.ndimage's ``axes`` as a tuple of distinct non-negative ints; None if scipy would refuse it."""
    if axes is None:
        return tuple(range(ndim))
    try:
        items = [operator.index(axes)] if np.isscalar(axes) else [operator.index(a) for a in axes]
    except TypeError:
        return None
    if any(a < -ndim or a >= ndim for a in items):
        return None
    items = tuple(a % ndim for a in items)
    return items if len(set(items)) == len(items) else None


def _plan(input, weights, output, mode, cval, origin, axes, convolution):
    """The checks of scipy's ``correlate``/``convolve``; a :class:`_Plan`, or None to hand the call to scipy."""
    x = np.asarray(input)
    w = np.asarray(weights)
    if x.dtype not in _DTYPES or x.ndim not in (1, 2, 3) or x.size == 0:
        return None
    if w.dtype.kind not in "biuf" or w.size == 0 or not isinstance(mode, str) or mode not in MODES:
        return None
    if isinstance(cval, (bool, np.bool_)) or not isinstance(cval, numbers.Real):
        return None
    axes = _axes(axes, x.ndim)
    if axes is None:
        return None
    w = w.astype(np.float64)
    origins = _origin_list(origin, len(axes))
    if origins is None:
        return None
    if len(axes) < x.ndim:
        if w.ndim != len(axes):
            return None
        w = np.expand_dims(w, tuple(a for a in range(x.ndim) if a not in axes))
        full = [0] * x.ndim
        for o, a in zip(origins, axes, strict=True):
            full[a] = o
        origins = full
    if w.ndim != x.ndim:
        return None
    if convolution:
        w = w[(slice(None, None, -1),) * w.ndim]
        origins = [-o - (0 if n % 2 else 1) for o, n in zip(origins, w.shape, strict=True)]
    if any(o < -(n // 2) or o > (n - 1) // 2 for o, n in zip(origins, w.shape, strict=True)):
        return None
    dt = _output_dtype(output, x)
    if dt is None:
        return None
    return _Plan(x, w, origins, output, mode, cval)


def _integer_weights(x, w, cval, constant):
    """``w`` as int64 when the correlation of integer ``x`` with ``w`` is an exact integer below 2**53, else None."""
    if x.dtype.kind not in "iu" or not np.all(w == np.round(w)) or (constant and cval != int(cval)):
        return None
    total = float(np.abs(w).sum())
    if total == 0:
        return w.astype(np.int64)
    info = np.iinfo(x.dtype)
    top = max(-int(info.min), int(info.max), abs(int(cval)) if constant else 0)
    if top * total >= _EXACT:
        top = max(int(np.abs(x.astype(np.float64)).max()), abs(int(cval)) if constant else 0)
        if top * total >= _EXACT:
            return None
    return w.astype(np.int64)


def _compute(plan):
    """The result of ``plan`` in the output dtype, or None when it must come from scipy (an integer out of range)."""
    x, w, mode = plan.x, plan.w, plan.mode
    out_dt = _output_dtype(plan.output, x)
    pads = [(n // 2 + o, n - 1 - (n // 2 + o)) for n, o in zip(w.shape, plan.origins, strict=True)]
    pad_mode = MODES[mode]
    constant = pad_mode == "constant"
    cval = plan.cval if constant else 0
    wi = _integer_weights(x, w, cval, constant)
    if wi is not None:
        result = correlate_nd(x, wi, pads, pad_mode, int(cval), None)
    elif x.dtype == _FLOAT32 and out_dt == _FLOAT32:
        result = correlate_nd(x, w.astype(np.float32), pads, pad_mode, float(cval), _FLOAT32)
    else:
        result = correlate_nd(x, w, pads, pad_mode, float(cval), _FLOAT64)
    if out_dt.kind in "iu":
        if result.dtype.kind == "f":
            result = np.trunc(result, out=result)
        info = np.iinfo(out_dt)
        if result.size and not (info.min <= result.min() and result.max() <= info.max):
            return None  # NaN included: scipy's C cast decides
    if isinstance(plan.output, np.ndarray):
        np.copyto(plan.output, result, casting="unsafe")
        return plan.output
    return result.astype(out_dt, copy=False)


def _axes_kwarg(axes):
    """``axes`` for scipy's function only when given (scipy releases before 1.15 do not take it)."""
    return {} if axes is None else {"axes": axes}


def _run(name, plan, fallback):
    """``plan`` computed here (counted in :data:`fastconv._nd.CALLS`), or ``fallback()`` from scipy."""
    result = None if plan is None else _compute(plan)
    if result is None:
        CALLS[name, "scipy"] += 1
        return fallback()
    CALLS[name, "fastconv"] += 1
    return result


def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """Multidimensional correlation: :func:`scipy.ndimage.correlate` on fastconv.

    ``out[p] = sum_q weights[q] * input[p + q - weights.shape // 2 - origin]``, with the input
    extended beyond its edges as ``mode`` says.

    Parameters
    ----------
    input : array_like
        The array; real 1-D to 3-D inputs run on fastconv, others on scipy.
    weights : array_like
        Weights, with as many dimensions as ``input`` (or as ``axes``).
    output : numpy.ndarray or dtype, optional
        Array to write the result to, or its dtype; default the input's dtype.
    mode : {"reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant", "grid-wrap"}
        How the input is extended beyond its edges (scipy.ndimage's meaning, see the module docstring).
    cval : float, default 0.0
        The value outside the input for ``mode="constant"``.
    origin : int or sequence of int, default 0
        Shift of the kernel per axis; ``-(n // 2) <= origin <= (n - 1) // 2``.
    axes : int or tuple of int, optional
        The axes filtered; default all.

    Returns
    -------
    numpy.ndarray
        The result, of ``input``'s shape (``output`` itself when it is an array).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> a = np.array([[1, 2, 0, 0], [5, 3, 0, 4], [0, 0, 0, 7], [9, 3, 0, 0]])
    >>> ndimage.correlate(a, np.ones((3, 3)), mode="constant")
    array([[11, 11,  9,  4],
           [11, 11, 16, 11],
           [20, 20, 17, 11],
           [12, 12, 10,  7]])
    """
    plan = _plan(input, weights, output, mode, cval, origin, axes, False)
    return _run(
        "ndimage.correlate",
        plan,
        lambda: _SCIPY["correlate"](input, weights, output, mode, cval, origin, **_axes_kwarg(axes)),
    )


def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """Multidimensional convolution: :func:`scipy.ndimage.convolve` on fastconv.

    :func:`correlate` with the weights reversed on every axis and ``origin`` negated (and moved by one
    on axes of even length), as scipy does.  Parameters as :func:`correlate`.

    Parameters
    ----------
    input : array_like
        The array; real 1-D to 3-D inputs run on fastconv, others on scipy.
    weights : array_like
        Weights, with as many dimensions as ``input`` (or as ``axes``).
    output : numpy.ndarray or dtype, optional
        Array to write the result to, or its dtype; default the input's dtype.
    mode : str, default "reflect"
        scipy.ndimage's extension mode (see :func:`correlate`).
    cval : float, default 0.0
        The value outside the input for ``mode="constant"``.
    origin : int or sequence of int, default 0
        Shift of the kernel per axis.
    axes : int or tuple of int, optional
        The axes filtered; default all.

    Returns
    -------
    numpy.ndarray
        The result, of ``input``'s shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.convolve(np.array([1, 2, 3]), np.array([1, 0, -1]), mode="nearest")
    array([1, 2, 1])
    """
    plan = _plan(input, weights, output, mode, cval, origin, axes, True)
    return _run(
        "ndimage.convolve",
        plan,
        lambda: _SCIPY["convolve"](input, weights, output, mode, cval, origin, **_axes_kwarg(axes)),
    )


def _plan1d(input, weights, axis, output, mode, cval, origin, convolution):
    """The checks of scipy's ``correlate1d``/``convolve1d``: the weights as an n-D kernel along ``axis``; or None."""
    x = np.asarray(input)
    w = np.asarray(weights)
    if w.ndim != 1 or w.size == 0 or x.ndim not in (1, 2, 3):
        return None
    try:
        axis = operator.index(axis)
        origin = operator.index(origin)
    except TypeError:
        return None
    if not -x.ndim <= axis < x.ndim:
        return None
    if convolution:
        w = w[::-1]
        origin = -origin - (0 if w.size % 2 else 1)
    shape = [1] * x.ndim
    shape[axis % x.ndim] = w.size
    origins = [0] * x.ndim
    origins[axis % x.ndim] = origin
    return _plan(x, w.reshape(shape), output, mode, cval, origins, None, False)


def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """One-dimensional correlation along ``axis``: :func:`scipy.ndimage.correlate1d` on fastconv.

    Parameters
    ----------
    input : array_like
        The array; real 1-D to 3-D inputs run on fastconv, others on scipy.
    weights : array_like
        1-D weights.
    axis : int, default -1
        The axis filtered.
    output : numpy.ndarray or dtype, optional
        Array to write the result to, or its dtype; default the input's dtype.
    mode : str, default "reflect"
        scipy.ndimage's extension mode (see :func:`correlate`).
    cval : float, default 0.0
        The value outside the input for ``mode="constant"``.
    origin : int, default 0
        Shift of the kernel; ``-(n // 2) <= origin <= (n - 1) // 2``.

    Returns
    -------
    numpy.ndarray
        The result, of ``input``'s shape.

    Examples
    --------
    >>> from fastconv import ndimage
    >>> ndimage.correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([ 8, 26,  8, 12,  7, 28, 36,  9])
    """
    plan = _plan1d(input, weights, axis, output, mode, cval, origin, False)
    return _run(
        "ndimage.correlate1d",
        plan,
        lambda: _SCIPY["correlate1d"](input, weights, axis, output, mode, cval, origin),
    )


def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """One-dimensional convolution along ``axis``: :func:`scipy.ndimage.convolve1d` on fastconv.

    Parameters
    ----------
    input : array_like
        The array; real 1-D to 3-D inputs run on fastconv, others on scipy.
    weights : array_like
        1-D weights.
    axis : int, default -1
        The axis filtered.
    output : numpy.ndarray or dtype, optional
        Array to write the result to, or its dtype; default the input's dtype.
    mode : str, default "reflect"
        scipy.ndimage's extension mode (see :func:`correlate`).
    cval : float, default 0.0
        The value outside the input for ``mode="constant"``.
    origin : int, default 0
        Shift of the kernel.

    Returns
    -------
    numpy.ndarray
        The result, of ``input``'s shape.

    Examples
    --------
    >>> from fastconv import ndimage
    >>> ndimage.convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([14, 24,  4, 13, 12, 36, 27,  0])
    """
    plan = _plan1d(input, weights, axis, output, mode, cval, origin, True)
    return _run(
        "ndimage.convolve1d",
        plan,
        lambda: _SCIPY["convolve1d"](input, weights, axis, output, mode, cval, origin),
    )

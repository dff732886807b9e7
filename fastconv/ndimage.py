"""Drop-in for ``scipy.ndimage``: its whole namespace, its linear filters computed on fastconv.

``from fastconv import ndimage`` in place of ``from scipy import ndimage`` gives every public name of
scipy.ndimage.  The functions of :data:`COMPUTED` (``correlate``, ``convolve``, ``correlate1d``,
``convolve1d``, ``gaussian_filter``, ``gaussian_filter1d``, ``uniform_filter``,
``uniform_filter1d``, ``sobel``, ``prewitt``, ``laplace``, ``gaussian_laplace``,
``gaussian_gradient_magnitude``, ``generic_laplace``, ``generic_gradient_magnitude``) take scipy's
arguments and run real inputs on fastconv's compiled loops; every other name
(:data:`HANDED_TO_SCIPY`) is scipy's own object, handed over by the module's ``__getattr__``.  A call
fastconv does not cover (complex data, weights or output; bool or float16 data; an argument scipy
refuses) goes to scipy unchanged, so it behaves exactly as scipy, its errors included.

scipy.ndimage's modes are not numpy.pad's: ``"reflect"`` repeats the edge value
(numpy's ``"symmetric"``), ``"mirror"`` does not (numpy's ``"reflect"``),
``"nearest"`` is numpy's ``"edge"``; ``"wrap"`` and ``"grid-wrap"`` are both
numpy's ``"wrap"`` in these filters, ``"grid-constant"`` is ``"constant"`` and
``"grid-mirror"`` is ``"reflect"``.

Arithmetic
----------
scipy computes in float64 and casts to the output dtype (truncating toward zero for integers).

- The one-axis filters and the separable ones built from them run one pass per axis
  (:mod:`fastconv._loops.separable`) in float64 in scipy's order of operations, each pass written in
  the output's dtype: scipy's result bit for bit, for every dtype.  2-D integer images filtered along
  both axes, or along rows alone, fuse the passes per output row in the same arithmetic
  (:func:`fastconv._loops.sep2d.exact_rows`).
- float32 images with a float32 output filtered along one or both axes of a 2-D image, or along
  one, two or three axes of a volume in axis order, run fused in float32 lanes
  (:mod:`fastconv._loops.sep2d`; an axis left out gets a pass of one tap of weight 1): equal to scipy
  within float32 rounding.
- ``correlate``/``convolve``: integer input with whole-number weights is summed exactly in integers;
  integer outputs with fractional weights, and non-finite weights or ``cval``, are summed in scipy's
  order (:mod:`fastconv._loops.ordered`); float outputs are computed in their own precision through
  :func:`fastconv.convolve2d`.  Weights of magnitude at most float64's epsilon (NaN included) are left
  out, as scipy leaves them out.

An integer result outside the output dtype's range (scipy's C cast is undefined there) is recomputed
by scipy.  scipy's n-D ``correlate`` reads outside the input for ``mode="reflect"`` when the kernel
reaches more than twice the input's length past an edge; this module extends the input as
``correlate1d`` does there (numpy.pad's ``"symmetric"``).
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np
import scipy.ndimage

from . import _rank
from ._docstrings import NDIMAGE
from ._dropin import DTYPES as _DTYPES
from ._dropin import scipy_namespace
from ._nd import CALLS, correlate_nd, correlate_ordered, counted, filter_passes, laplace_2d
from ._plan import centred, flipped_origin

#: The functions of scipy.ndimage that fastconv computes (for the inputs it covers, see the module notes).
COMPUTED = (
    "convolve",
    "convolve1d",
    "correlate",
    "correlate1d",
    "gaussian_filter",
    "gaussian_filter1d",
    "gaussian_gradient_magnitude",
    "gaussian_laplace",
    "generic_gradient_magnitude",
    "generic_laplace",
    "laplace",
    "prewitt",
    "sobel",
    "uniform_filter",
    "uniform_filter1d",
    # the rank filters, fastconv._rank's
    "maximum_filter",
    "maximum_filter1d",
    "median_filter",
    "minimum_filter",
    "minimum_filter1d",
    "percentile_filter",
    "rank_filter",
)

# scipy's own functions (the fallbacks); the rest of scipy.ndimage's public names, handed over unchanged.
_SCIPY, HANDED_TO_SCIPY, __all__, __getattr__, __dir__ = scipy_namespace(scipy.ndimage, COMPUTED, globals())


# Rank filters (minimum, maximum, median, rank, percentile): fastconv._rank.
from ._rank import (  # noqa: E402, F401  (exported: COMPUTED, __all__)
    MODES,
    maximum_filter,
    maximum_filter1d,
    median_filter,
    minimum_filter,
    minimum_filter1d,
    percentile_filter,
    rank_filter,
)

# Their docstrings take the shared parameter texts here, where they are exported.
NDIMAGE(minimum_filter1d, input="input_3d", size="size_1d")
NDIMAGE(maximum_filter1d, input="input_3d", size="size_1d")
for _rank_filter in (minimum_filter, maximum_filter, median_filter, rank_filter, percentile_filter):
    NDIMAGE(_rank_filter, input="input_3d", origin="origin_per_axis")

# scipy.ndimage's filter modes as numpy.pad's modes: one table, fastconv._rank's (imported above).

# The dtypes computed here (inputs and outputs); any other goes to scipy.
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
    try:
        return _rank._axes(axes, ndim)
    except _rank._Fallback:
        return None


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
    # scipy's correlate skips every weight with |w| <= float64's epsilon (a NaN weight included)
    w = np.where(np.abs(w) > np.finfo(np.float64).eps, w, 0.0)
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
        origins = [flipped_origin(n, o) for o, n in zip(origins, w.shape, strict=True)]
    if not all(_centred(n, o) for o, n in zip(origins, w.shape, strict=True)):
        return None
    dt = _output_dtype(output, x)
    if dt is None:
        return None
    return _Plan(x, w, origins, output, mode, cval)


def _centred(size, origin):
    """Whether ``origin`` is in scipy's range for a window of ``size``: ``-(size // 2) .. (size - 1) // 2``."""
    return min(centred(size, origin)) >= 0


def _integer_weights(x, w, cval, constant):
    """``w`` as int64 when the correlation of integer ``x`` with ``w`` is an exact integer below 2**53, else None."""
    if x.dtype.kind not in "iu" or not np.all(w == np.round(w)) or not math.isfinite(cval):
        return None
    if constant and cval != int(cval):
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
    pads = [centred(n, o) for n, o in zip(w.shape, plan.origins, strict=True)]
    pad_mode = MODES[mode]
    constant = pad_mode == "constant"
    cval = plan.cval if constant else 0
    wi = _integer_weights(x, w, cval, constant)
    if (wi is None and out_dt.kind in "iu") or not np.isfinite(w).all() or not math.isfinite(cval):
        # scipy's own order of operations: its truncated integers, its NaN and inf, bit for bit
        given = plan.output if isinstance(plan.output, np.ndarray) and plan.output.flags.c_contiguous else None
        out = np.empty(x.shape, dtype=out_dt) if given is None or np.shares_memory(given, x) else given
        if not correlate_ordered(x, w, pads, pad_mode, float(cval), out):
            return None
        if isinstance(plan.output, np.ndarray) and out is not plan.output:
            np.copyto(plan.output, out, casting="unsafe")
            return plan.output
        return out
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


def _correlate_or_convolve(name, input, weights, output, mode, cval, origin, axes):
    """scipy.ndimage's ``name`` (``correlate`` or ``convolve``) computed here, counted, or by scipy when not covered."""
    plan = _plan(input, weights, output, mode, cval, origin, axes, name == "convolve")
    return counted(
        f"ndimage.{name}",
        lambda: None if plan is None else _compute(plan),
        lambda: _SCIPY[name](input, weights, output, mode, cval, origin, **_axes_kwarg(axes)),
    )


@NDIMAGE(input="input_3d", origin="origin_per_axis")
def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """Multidimensional correlation: :func:`scipy.ndimage.correlate` on fastconv.

    ``out[p] = sum_q weights[q] * input[p + q - weights.shape // 2 - origin]``, with the input
    extended beyond its edges as ``mode`` says.

    %(parameters)s

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
    return _correlate_or_convolve("correlate", input, weights, output, mode, cval, origin, axes)


@NDIMAGE(input="input_3d", origin="origin_per_axis")
def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """Multidimensional convolution: :func:`scipy.ndimage.convolve` on fastconv.

    :func:`correlate` with the weights reversed on every axis and ``origin`` negated (and moved by one
    on axes of even length), as scipy does.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.convolve(np.array([1, 2, 3]), np.array([1, 0, -1]), mode="nearest")
    array([1, 2, 1])
    """
    return _correlate_or_convolve("convolve", input, weights, output, mode, cval, origin, axes)


# ---------------------------------------------------------------------------------------------------------------
# The separable filters: one-axis passes in scipy's float64 arithmetic (fastconv._loops.separable).


def _real_scalar(v):
    """``v`` as a float when it is a real number scipy takes (not a bool); None otherwise."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        return None
    return float(v)


def _index(v):
    """``v`` as an int (``operator.index``); None if it is not an integer."""
    try:
        return operator.index(v)
    except TypeError:
        return None


def _sequence(value, n):
    """scipy's ``_normalize_sequence``: a list of ``n`` items (a string counts as one); None when scipy refuses."""
    if not isinstance(value, str) and np.iterable(value):
        items = list(value)
        return items if len(items) == n else None
    return [value] * n


def _pad_modes(mode, n):
    """``mode`` (one or ``n`` of scipy.ndimage's modes) as ``n`` numpy.pad modes; None if one is not a mode."""
    modes = _sequence(mode, n)
    if modes is None or not all(isinstance(m, str) and m in MODES for m in modes):
        return None
    return [MODES[m] for m in modes]


class _Filter:
    """One call of a separable filter, normalised: the input, the output dtype, and its 1-D passes."""

    def __init__(self, x, output, out_dt, cval):
        self.x, self.output, self.out_dt, self.cval = x, output, out_dt, cval
        self.steps = []

    def add(self, axis, w, kind, pad_mode, origin=0):
        """Append a pass along ``axis`` (:func:`fastconv._nd.line_pass`'s arguments)."""
        self.steps.append((axis, np.ascontiguousarray(w, dtype=np.float64), kind, pad_mode, origin))


def _filter(input, output, cval):
    """A :class:`_Filter` for ``input`` when fastconv computes it (real dtypes, output accepted); else None."""
    x = np.asarray(input)
    if x.dtype not in _DTYPES or x.ndim < 1 or x.size == 0:
        return None
    out_dt = _output_dtype(output, x)
    c = _real_scalar(cval)
    if out_dt is None or c is None:
        return None
    return _Filter(x, output, out_dt, c)


def _filter_axes(input, output, cval, axes):
    """``(f, axes)``: :func:`_filter`'s result and the axes as a tuple; ``(None, None)`` when scipy computes."""
    f = _filter(input, output, cval)
    axes = None if f is None else _axes(axes, f.x.ndim)
    return (None, None) if axes is None else (f, axes)


def _apply(f):
    """The passes of ``f`` computed into the output (scipy's result), or None when scipy must compute them."""
    if f is None:
        return None
    given = f.output if isinstance(f.output, np.ndarray) else None
    out = given if given is not None and given.flags.c_contiguous else np.empty(f.x.shape, dtype=f.out_dt)
    if filter_passes(f.x, f.steps, f.cval, out) is None:
        return None
    if given is not None and out is not given:
        np.copyto(given, out, casting="unsafe")
        return given
    return out


def _correlate1d_filter(input, weights, axis, output, mode, cval, origin, convolution):
    """The :class:`_Filter` of ``correlate1d``/``convolve1d``, or None."""
    f = _filter(input, output, cval)
    w = np.asarray(weights)
    axis, origin = _index(axis), _index(origin)
    if f is None or w.ndim != 1 or w.size == 0 or w.dtype.kind not in "biuf" or axis is None or origin is None:
        return None
    if not -f.x.ndim <= axis < f.x.ndim or not isinstance(mode, str) or mode not in MODES:
        return None
    w = w.astype(np.float64)
    if convolution:
        w = w[::-1]
        origin = flipped_origin(w.size, origin)
    if not _centred(w.size, origin):
        return None
    f.add(axis % f.x.ndim, w, 0, MODES[mode], origin)
    return f


def _correlate_or_convolve1d(name, input, weights, axis, output, mode, cval, origin):
    """scipy.ndimage's ``name`` (``correlate1d`` or ``convolve1d``) computed here, counted, or by scipy."""
    return counted(
        f"ndimage.{name}",
        lambda: _apply(_correlate1d_filter(input, weights, axis, output, mode, cval, origin, name == "convolve1d")),
        lambda: _SCIPY[name](input, weights, axis, output, mode, cval, origin),
    )


@NDIMAGE(weights="weights_1d")
def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """One-dimensional correlation along ``axis``: :func:`scipy.ndimage.correlate1d` on fastconv.

    Computed in float64 in scipy's order of operations (a symmetric or antisymmetric kernel's pairs of
    taps summed before one multiply), so the result is scipy's bit for bit, integer outputs included
    (scipy truncates toward zero).

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([ 8, 26,  8, 12,  7, 28, 36,  9])
    >>> ndimage.correlate1d(np.array([0, 1, 5], np.uint8), np.ones(3) / 3, mode="constant")
    array([0, 1, 1], dtype=uint8)
    """
    return _correlate_or_convolve1d("correlate1d", input, weights, axis, output, mode, cval, origin)


@NDIMAGE(weights="weights_1d")
def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """One-dimensional convolution along ``axis``: :func:`scipy.ndimage.convolve1d` on fastconv.

    :func:`correlate1d` with the weights reversed and ``origin`` negated (moved by one for an even
    number of weights), as scipy does.

    %(parameters)s

    Examples
    --------
    >>> from fastconv import ndimage
    >>> ndimage.convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([14, 24,  4, 13, 12, 36, 27,  0])
    """
    return _correlate_or_convolve1d("convolve1d", input, weights, axis, output, mode, cval, origin)


def gaussian_weights(sigma, order, radius):
    """The weights of scipy's Gaussian filter of standard deviation ``sigma`` (derivative ``order``), ``2r + 1`` taps.

    ``exp(-x**2 / (2 sigma**2))`` for ``-radius <= x <= radius``, normalised to sum 1; for ``order > 0``
    multiplied by the polynomial ``q`` with ``(q phi)^(order) = q phi`` built by applying
    ``q -> q' - x q / sigma**2`` ``order`` times.  Evaluated with the same operations as scipy, so the
    weights are scipy's bit for bit.  In convolution order (use them reversed to correlate).

    Examples
    --------
    >>> gaussian_weights(1.0, 0, 1).round(4)
    array([0.2741, 0.4519, 0.2741])
    """
    sigma2 = sigma * sigma
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / sigma2 * x**2)
    phi = phi / phi.sum()
    if order == 0:
        return phi
    powers = np.arange(order + 1)
    step = np.diag(powers[1:], 1) + np.diag(np.ones(order) / -sigma2, -1)  # q -> q' + q * (-x / sigma**2)
    q = np.zeros(order + 1)
    q[0] = 1
    for _ in range(order):
        q = step.dot(q)
    return (x[:, None] ** powers).dot(q) * phi


def _gaussian_pass(f, axis, sigma, order, pad_mode, truncate, radius):
    """Append the pass of ``gaussian_filter1d`` along ``axis`` to ``f``; False when scipy must take the call."""
    sd = _real_scalar(sigma)
    t = _real_scalar(truncate)
    order = _index(order)
    if sd is None or t is None or order is None or order < 0 or not (math.isfinite(sd) and sd > 0):
        return False
    if not math.isfinite(t * sd + 0.5):
        return False
    lw = int(t * sd + 0.5)
    if radius is not None:
        lw = radius
    if not isinstance(lw, numbers.Integral) or lw < 0:
        return False
    f.add(axis, gaussian_weights(sigma, order, int(lw))[::-1], 0, pad_mode)
    return True


def _gaussian_filter1d(input, sigma, axis, order, output, mode, cval, truncate, radius):
    """The :class:`_Filter` of ``gaussian_filter1d``, or None."""
    f = _filter(input, output, cval)
    axis = _index(axis)
    if f is None or axis is None or not -f.x.ndim <= axis < f.x.ndim or not isinstance(mode, str):
        return None
    if mode not in MODES or not _gaussian_pass(f, axis % f.x.ndim, sigma, order, MODES[mode], truncate, radius):
        return None
    return f


@NDIMAGE(sigma="sigma_1d", order="order_1d", radius="radius_1d")
def gaussian_filter1d(
    input, sigma, axis=-1, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0, *, radius=None
):
    """One-dimensional Gaussian filter: :func:`scipy.ndimage.gaussian_filter1d` on fastconv.

    %(parameters)s

    Examples
    --------
    >>> from fastconv import ndimage
    >>> ndimage.gaussian_filter1d([1.0, 2.0, 3.0, 4.0, 5.0], 1).round(4)
    array([1.427 , 2.0678, 3.    , 3.9322, 4.573 ])
    """
    return counted(
        "ndimage.gaussian_filter1d",
        lambda: _apply(_gaussian_filter1d(input, sigma, axis, order, output, mode, cval, truncate, radius)),
        lambda: _SCIPY["gaussian_filter1d"](input, sigma, axis, order, output, mode, cval, truncate, radius=radius),
    )


def _gaussian_filter(input, sigma, order, output, mode, cval, truncate, radius, axes):
    """The :class:`_Filter` of ``gaussian_filter``, or None."""
    f, axes = _filter_axes(input, output, cval, axes)
    if f is None:
        return None
    n = len(axes)
    orders, sigmas, radii = _sequence(order, n), _sequence(sigma, n), _sequence(radius, n)
    pad_modes = _pad_modes(mode, n)
    if orders is None or sigmas is None or radii is None or pad_modes is None:
        return None
    for axis, s, o, pad_mode, r in zip(axes, sigmas, orders, pad_modes, radii, strict=True):
        if _real_scalar(s) is None:
            return None
        if s > 1e-15 and not _gaussian_pass(f, axis, s, o, pad_mode, truncate, r):
            return None
    return f


@NDIMAGE(mode="mode_per_axis")
def gaussian_filter(
    input, sigma, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0, *, radius=None, axes=None
):
    """Multidimensional Gaussian filter: :func:`scipy.ndimage.gaussian_filter` on fastconv.

    One :func:`gaussian_filter1d` pass per axis (axes with ``sigma <= 1e-15`` skipped), each written in
    the output's dtype before the next, as scipy does, so the result is scipy's bit for bit.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.gaussian_filter(np.arange(25.0).reshape(5, 5), 1)[2]
    array([10.42704095, 11.06782203, 12.        , 12.93217797, 13.57295905])
    """
    return counted(
        "ndimage.gaussian_filter",
        lambda: _apply(_gaussian_filter(input, sigma, order, output, mode, cval, truncate, radius, axes)),
        lambda: _SCIPY["gaussian_filter"](
            input, sigma, order, output, mode, cval, truncate, radius=radius, **_axes_kwarg(axes)
        ),
    )


def _uniform_filter1d(input, size, axis, output, mode, cval, origin):
    """The :class:`_Filter` of ``uniform_filter1d``, or None."""
    f = _filter(input, output, cval)
    size, axis, origin = _index(size), _index(axis), _index(origin)
    if f is None or size is None or axis is None or origin is None or size < 1:
        return None
    if not -f.x.ndim <= axis < f.x.ndim or not isinstance(mode, str) or mode not in MODES:
        return None
    if not _centred(size, origin):
        return None
    f.add(axis % f.x.ndim, np.zeros(size), 1, MODES[mode], origin)
    return f


@NDIMAGE(size="size_1d")
def uniform_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """One-dimensional mean of ``size`` values: :func:`scipy.ndimage.uniform_filter1d` on fastconv.

    A running sum along each line (the cost per value does not grow with ``size``), divided by ``size``
    at each output, in scipy's order of operations: scipy's result bit for bit.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.uniform_filter1d(np.array([[2.0, 8], [0, 4], [1, 9]]), size=2, axis=0)
    array([[2. , 8. ],
           [1. , 6. ],
           [0.5, 6.5]])
    """
    return counted(
        "ndimage.uniform_filter1d",
        lambda: _apply(_uniform_filter1d(input, size, axis, output, mode, cval, origin)),
        lambda: _SCIPY["uniform_filter1d"](input, size, axis, output, mode, cval, origin),
    )


def _uniform_filter(input, size, output, mode, cval, origin, axes):
    """The :class:`_Filter` of ``uniform_filter``, or None."""
    f, axes = _filter_axes(input, output, cval, axes)
    if f is None:
        return None
    n = len(axes)
    sizes, origins, pad_modes = _sequence(size, n), _sequence(origin, n), _pad_modes(mode, n)
    if sizes is None or origins is None or pad_modes is None:
        return None
    for axis, s, o, pad_mode in zip(axes, sizes, origins, pad_modes, strict=True):
        if _real_scalar(s) is None or not math.isfinite(s):
            return None
        if not s > 1:
            continue
        s, o = int(s), _index(o)
        if o is None or not _centred(s, o):
            return None
        f.add(axis, np.zeros(s), 1, pad_mode, o)
    return f


@NDIMAGE(size="size_box", mode="mode_per_axis", origin="origin_per_axis")
def uniform_filter(input, size=3, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """Multidimensional mean filter: :func:`scipy.ndimage.uniform_filter` on fastconv.

    One :func:`uniform_filter1d` pass per axis whose size exceeds 1, each written in the output's dtype
    before the next, as scipy does.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.uniform_filter(np.arange(16.0).reshape(4, 4), (1, 3), mode="nearest")[1]
    array([4.33333333, 5.        , 6.        , 6.66666667])
    """
    return counted(
        "ndimage.uniform_filter",
        lambda: _apply(_uniform_filter(input, size, output, mode, cval, origin, axes)),
        lambda: _SCIPY["uniform_filter"](input, size, output, mode, cval, origin, **_axes_kwarg(axes)),
    )


def _edge(name, input, axis, output, mode, cval):
    """scipy.ndimage's ``name`` (``sobel`` or ``prewitt``) computed here, counted, or by scipy."""
    smooth = {"sobel": [1, 2, 1], "prewitt": [1, 1, 1]}[name]
    return counted(
        f"ndimage.{name}",
        lambda: _apply(_edge_filter(input, axis, output, mode, cval, smooth)),
        lambda: _SCIPY[name](input, axis, output, mode, cval),
    )


def _edge_filter(input, axis, output, mode, cval, smooth):
    """The :class:`_Filter` of ``sobel`` (``smooth`` ``[1, 2, 1]``) or ``prewitt`` (``[1, 1, 1]``), or None."""
    f = _filter(input, output, cval)
    axis = _index(axis)
    if f is None or axis is None or not -f.x.ndim <= axis < f.x.ndim:
        return None
    axis %= f.x.ndim
    pad_modes = _pad_modes(mode, f.x.ndim)
    if pad_modes is None:
        return None
    f.add(axis, np.array([-1.0, 0.0, 1.0]), 0, pad_modes[axis])
    for other in range(f.x.ndim):
        if other != axis:
            f.add(other, np.array(smooth, dtype=np.float64), 0, pad_modes[other])
    return f


@NDIMAGE(axis="axis_derivative", mode="mode_per_axis")
def sobel(input, axis=-1, output=None, mode="reflect", cval=0.0):
    """Sobel derivative along ``axis``: :func:`scipy.ndimage.sobel` on fastconv.

    ``[-1, 0, 1]`` along ``axis``, then ``[1, 2, 1]`` along every other axis, each pass written in the
    output's dtype, as scipy does.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.sobel(np.array([[0, 0, 1, 1]] * 3), axis=1)
    array([[0, 4, 4, 0],
           [0, 4, 4, 0],
           [0, 4, 4, 0]])
    """
    return _edge("sobel", input, axis, output, mode, cval)


@NDIMAGE(axis="axis_derivative", mode="mode_per_axis")
def prewitt(input, axis=-1, output=None, mode="reflect", cval=0.0):
    """Prewitt derivative along ``axis``: :func:`scipy.ndimage.prewitt` on fastconv.

    ``[-1, 0, 1]`` along ``axis``, then ``[1, 1, 1]`` along every other axis, as scipy does.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.prewitt(np.array([[0.0, 0, 1, 1], [0, 1, 1, 1]]), axis=0)
    array([[1., 1., 1., 0.],
           [1., 1., 1., 0.]])
    """
    return _edge("prewitt", input, axis, output, mode, cval)


def _derivative2(input, axis, output, mode, cval):
    """The second difference ``[1, -2, 1]`` along ``axis`` (``laplace``'s derivative)."""
    return correlate1d(input, [1, -2, 1], axis, output, mode, cval, 0)


def _eligible(input, output):
    """Whether fastconv's passes compute a call on ``input`` with ``output`` (for the counts of composite filters)."""
    return _filter(input, output, 0.0) is not None


def _composite(name, input, output, run):
    """``run()`` (scipy's composition of fastconv's passes), counted under ``name``."""
    CALLS[name, "fastconv" if _eligible(input, output) else "scipy"] += 1
    return run()


@NDIMAGE(mode="mode_per_axis")
def generic_laplace(
    input, derivative2, output=None, mode="reflect", cval=0.0, extra_arguments=(), extra_keywords=None, *, axes=None
):
    """N-D Laplace filter from a second-derivative function: :func:`scipy.ndimage.generic_laplace`.

    scipy's own composition (``derivative2`` along each axis, summed in the output's dtype) with the
    callable given: when it is made of fastconv's filters (as :func:`laplace`'s and
    :func:`gaussian_laplace`'s are), the passes run on fastconv; any other callable runs as in scipy.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> d2 = lambda x, axis, output, mode, cval: ndimage.correlate1d(x, [1, -2, 1], axis, output, mode, cval)
    >>> ndimage.generic_laplace(np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]]), d2, mode="constant")
    array([[ 0,  1,  0],
           [ 1, -4,  1],
           [ 0,  1,  0]])
    """
    own = getattr(derivative2, "__module__", None) == __name__
    CALLS["ndimage.generic_laplace", "fastconv" if own and _eligible(input, output) else "scipy"] += 1
    return _SCIPY["generic_laplace"](
        input, derivative2, output, mode, cval, extra_arguments, extra_keywords, **_axes_kwarg(axes)
    )


@NDIMAGE(mode="mode_per_axis")
def generic_gradient_magnitude(
    input, derivative, output=None, mode="reflect", cval=0.0, extra_arguments=(), extra_keywords=None, *, axes=None
):
    """Gradient magnitude from a first-derivative function: :func:`scipy.ndimage.generic_gradient_magnitude`.

    scipy's own composition (the root of the sum of squared ``derivative`` along each axis, in the
    output's dtype) with the callable given: fastconv's passes when it is made of fastconv's filters
    (as :func:`gaussian_gradient_magnitude`'s is), scipy's behaviour for any other callable.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.generic_gradient_magnitude(np.array([[0.0, 0, 1, 1]] * 2), ndimage.sobel)
    array([[0., 4., 4., 0.],
           [0., 4., 4., 0.]])
    """
    own = getattr(derivative, "__module__", None) == __name__
    CALLS["ndimage.generic_gradient_magnitude", "fastconv" if own and _eligible(input, output) else "scipy"] += 1
    return _SCIPY["generic_gradient_magnitude"](
        input, derivative, output, mode, cval, extra_arguments, extra_keywords, **_axes_kwarg(axes)
    )


@NDIMAGE(mode="mode_per_axis")
def laplace(input, output=None, mode="reflect", cval=0.0, *, axes=None):
    """N-D Laplace filter with second differences: :func:`scipy.ndimage.laplace` on fastconv.

    The sum over the axes of ``[1, -2, 1]`` along each (:func:`correlate1d` passes), added in the
    output's dtype as scipy does.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.laplace(np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]]), mode="constant")
    array([[ 0,  1,  0],
           [ 1, -4,  1],
           [ 0,  1,  0]])
    """
    fused = _laplace_fused(input, output, mode, cval, axes)
    if fused is not None:
        CALLS["ndimage.laplace", "fastconv"] += 1
        return fused
    return _composite(
        "ndimage.laplace",
        input,
        output,
        lambda: _SCIPY["generic_laplace"](input, _derivative2, output, mode, cval, **_axes_kwarg(axes)),
    )


def _laplace_fused(input, output, mode, cval, axes):
    """``laplace`` of a float32 image with a float32 output, both axes in one pass (``fastconv._nd.laplace_2d``)."""
    f = _filter(input, output, cval)
    if f is None or f.x.ndim != 2 or f.x.dtype != _FLOAT32 or f.out_dt != _FLOAT32 or _axes(axes, 2) != (0, 1):
        return None
    pad_modes = _pad_modes(mode, 2)
    if pad_modes is None:
        return None
    given = output if isinstance(output, np.ndarray) else None
    out = np.empty(f.x.shape, np.float32) if given is None or not given.flags.c_contiguous else given
    x = f.x.copy() if np.shares_memory(f.x, out) else f.x
    laplace_2d(x, pad_modes, f.cval, out)
    if given is not None and out is not given:
        np.copyto(given, out)
        return given
    return out


def _gaussian_derivative(order):
    """``derivative(input, axis, output, mode, cval, sigma, **kwargs)``: Gaussian derivative ``order`` on ``axis``."""

    def derivative(input, axis, output, mode, cval, sigma, **kwargs):
        orders = [0] * np.ndim(input)
        orders[axis] = order
        return gaussian_filter(input, sigma, orders, output, mode, cval, **kwargs)

    derivative.__module__ = __name__
    return derivative


_gaussian_d1 = _gaussian_derivative(1)
_gaussian_d2 = _gaussian_derivative(2)


@NDIMAGE(mode="mode_per_axis")
def gaussian_laplace(input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None, **kwargs):
    """Laplace filter with Gaussian second derivatives: :func:`scipy.ndimage.gaussian_laplace` on fastconv.

    The sum over the axes of :func:`gaussian_filter` with the second derivative taken on that axis,
    as scipy composes it, each pass on fastconv.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.gaussian_laplace(np.eye(3), 1)[1].round(4)
    array([ 0.0366, -0.0733,  0.0366])
    """
    return _composite(
        "ndimage.gaussian_laplace",
        input,
        output,
        lambda: _gaussian_laplace(input, sigma, output, mode, cval, axes, kwargs),
    )


def _gaussian_laplace(input, sigma, output, mode, cval, axes, kwargs):
    """scipy's ``gaussian_laplace`` with fastconv's Gaussian second derivatives."""
    x = np.asarray(input)
    checked = _axes(axes, x.ndim)
    sigmas = None if checked is None else _sequence(sigma, len(checked))
    if sigmas is None:  # scipy's own error
        return _SCIPY["gaussian_laplace"](input, sigma, output, mode, cval, **_axes_kwarg(axes), **kwargs)
    if len(checked) < x.ndim:  # as scipy: sigma 0 on the axes not filtered
        full = [0] * x.ndim
        for s, a in zip(sigmas, checked, strict=True):
            full[a] = s
        sigmas = full
    return _SCIPY["generic_laplace"](
        x, _gaussian_d2, output, mode, cval, extra_arguments=(sigmas,), extra_keywords=kwargs, **_axes_kwarg(axes)
    )


@NDIMAGE(mode="mode_per_axis")
def gaussian_gradient_magnitude(input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None, **kwargs):
    """Gradient magnitude with Gaussian derivatives: :func:`scipy.ndimage.gaussian_gradient_magnitude` on fastconv.

    The root of the summed squares of :func:`gaussian_filter` with the first derivative on each axis.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ramp = np.arange(8.0) ** 2 / 2  # its slope is x
    >>> ndimage.gaussian_gradient_magnitude(ramp, 1)[2:6].round(2)
    array([2.01, 3.  , 4.  , 4.89])
    """
    return _composite(
        "ndimage.gaussian_gradient_magnitude",
        input,
        output,
        lambda: _SCIPY["generic_gradient_magnitude"](
            np.asarray(input),
            _gaussian_d1,
            output,
            mode,
            cval,
            extra_arguments=(sigma,),
            extra_keywords=kwargs,
            **_axes_kwarg(axes),
        ),
    )

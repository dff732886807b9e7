"""Real correlation of 1-, 2- and 3-D arrays on :func:`fastconv.convolve2d`: the engine of the scipy drop-ins.

:func:`correlate_nd` computes, for an array ``x`` and a kernel ``w`` of the
same number of dimensions, with ``(before, after)`` padding on each axis::

    out[p] = sum_q w[q] * xe[p + q]

where ``xe`` is ``x`` extended by ``before``/``after`` values on each axis
with :func:`numpy.pad`'s ``pad_mode`` (``"constant"`` fills with ``cval``).
Everything is handed to :func:`fastconv.convolve2d` through its public
arguments (``padding`` as ``((top, bottom), (left, right))``, ``pad_mode``,
``cval``, ``dtype``, ``out``, ``backend``):

- a 1-D array is a ``(1, N)`` image;
- a 2-D array is one call;
- a 3-D array whose kernel spans the first axis only is one call on the
  ``(D, H*W)`` view; one spanning the last axis only, one call on its
  ``D*H`` rows laid end to end (:func:`_short_rows`);
- 2-D calls with an extension mode run zero-padded, their border outputs
  recomputed from small pieces (:mod:`fastconv._border`, inside convolve2d);
- a 3-D kernel equal to the outer product of three 1-D kernels (the rank
  test of :func:`fastconv._separable.factors3`) runs as three 1-D passes;
- any other 3-D kernel runs as ``kd`` 2-D passes, one per kernel slice,
  over the padded volume's slices stacked into one tall image, summed by
  :func:`fastconv._loops.volume.accumulate`.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from ._border import line_index
from ._loops import volume
from ._plan import centred, padded_shape, valid_shape
from ._separable import factors3, symmetry, worth_trying
from .convolve import convolve2d

#: How many calls of the scipy drop-ins ran on fastconv (``"fastconv"``) and how many were handed to scipy
#: (``"scipy"``), by function name: ``CALLS["ndimage.correlate", "fastconv"]``.
CALLS: collections.Counter = collections.Counter()


def counted(name, compute, fallback):
    """``compute()``, counted under ``name`` in :data:`CALLS`; ``fallback()`` (scipy's) when it gives None."""
    result = compute()
    if result is None:
        CALLS[name, "scipy"] += 1
        return fallback()
    CALLS[name, "fastconv"] += 1
    return result


# Rows shorter than this (values, padding included) are laid end to end by :func:`_short_rows`.
_SHORT_ROW = 2048


def _pad(x, pads, pad_mode, cval):
    """``x`` extended by ``pads`` (per axis ``(before, after)``) with numpy.pad's ``pad_mode``; ``x`` if none."""
    if not any(b or a for b, a in pads):
        return x
    if pad_mode == "constant":
        return np.pad(x, pads, mode="constant", constant_values=cval)
    return np.pad(x, pads, mode=pad_mode)


def _short_rows(x, v, pad, pad_mode, cval, dtype, backend):
    """The correlation of each row of a 2-D ``x`` with the 1-D ``v`` over ``pad`` = ``(before, after)`` columns.

    For rows shorter than :data:`_SHORT_ROW` the loops would spend their time starting rows, so the
    padded rows are laid end to end, ``g`` per row of a wider image; the windows that straddle two
    rows are computed and dropped (:func:`fastconv._loops.volume.gather_segments`).
    """
    r, n = x.shape
    (wp,) = padded_shape((n,), [pad])
    if wp >= _SHORT_ROW or r < 2:
        return _corr2d(x, v[np.newaxis], [(0, 0), pad], pad_mode, cval, dtype, backend)
    g = max(d for d in range(1, _SHORT_ROW // wp + 1) if r % d == 0)
    xp = _pad(x, [(0, 0), pad], pad_mode, cval)
    res = convolve2d(xp.reshape(r // g, g * wp), v[np.newaxis], dtype=dtype, backend=backend)
    out = np.empty((r // g, g) + valid_shape((wp,), v.shape), dtype=res.dtype)
    volume.take_segments(out, res, wp)
    return out.reshape(r, -1)


def _corr2d(x, w, pads, pad_mode, cval, dtype, backend):
    """:func:`fastconv.convolve2d` of a 2-D ``x`` with ``padding=pads`` (the border computed without a padded copy)."""
    return convolve2d(x, w, padding=tuple(pads), pad_mode=pad_mode, cval=cval, dtype=dtype, backend=backend)


def correlate_nd(x, w, pads, pad_mode="constant", cval=0, dtype=None, backend="auto"):
    """Correlate a real 1-, 2- or 3-D array ``x`` with ``w`` (same ``ndim``) over ``pads`` (see the module docstring).

    Parameters
    ----------
    x : numpy.ndarray
        Bool, integer or real float, 1-D to 3-D.
    w : numpy.ndarray
        The kernel, ``w.ndim == x.ndim``; integer (exact int64 result) or float.
    pads : sequence of (int, int)
        ``(before, after)`` for every axis, each ``>= 0``.
    pad_mode : {"constant", "edge", "reflect", "symmetric", "wrap"}
        numpy.pad's extension modes.
    cval : int or float
        The value of ``"constant"`` padding.
    dtype : numpy dtype, optional
        :func:`fastconv.convolve2d`'s ``dtype`` (None: int64 for integer ``x`` and ``w``).
    backend : str
        :func:`fastconv.convolve2d`'s ``backend``.

    Returns
    -------
    numpy.ndarray
        Shape ``x.shape[i] + before[i] + after[i] - w.shape[i] + 1`` along each axis.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv._nd import correlate_nd
    >>> correlate_nd(np.arange(4), np.array([1, 1]), [(0, 1)], "edge")
    array([1, 3, 5, 6])
    """
    pads = [(int(b), int(a)) for b, a in pads]
    if x.ndim == 1:
        return _corr2d(x[np.newaxis], w[np.newaxis], [(0, 0), pads[0]], pad_mode, cval, dtype, backend)[0]
    if x.ndim == 2:
        return _corr2d(x, w, pads, pad_mode, cval, dtype, backend)
    return _volume(x, w, pads, pad_mode, cval, dtype, backend)


def _volume(x, w, pads, pad_mode, cval, dtype, backend):
    """:func:`correlate_nd` of a 3-D array (see the module docstring for the three ways)."""
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)  # also keeps a fractional cval when padding
    x = np.ascontiguousarray(x)
    d, h, wd = x.shape
    kd, kh, kw = w.shape
    out_shape = valid_shape(x.shape, w.shape, pads)
    args = (pad_mode, cval, dtype, backend)
    if kh == 1 and kw == 1 and pads[1] == (0, 0) and pads[2] == (0, 0):
        return _corr2d(x.reshape(d, h * wd), w.reshape(kd, 1), [pads[0], (0, 0)], *args).reshape(out_shape)
    if kd == 1 and kh == 1 and pads[0] == (0, 0) and pads[1] == (0, 0):
        return _short_rows(x.reshape(d * h, wd), w.reshape(kw), pads[2], *args).reshape(out_shape)
    if w.dtype.kind == "f" and min(w.shape) > 1 and worth_trying(w.shape, math.prod(out_shape) * w.size + x.size):
        factors = factors3(w, np.result_type(w.dtype, np.float32) if dtype is None else dtype)
        if factors is not None:
            return _three_passes(x, factors, pads, pad_mode, cval, dtype, backend)
    xp = _pad(x, pads, pad_mode, cval)
    return _slices(xp, w, out_shape, dtype, backend)


def _slices(xp, w, out_shape, dtype, backend):
    """The valid 3-D correlation of a padded volume ``xp``: one stacked 2-D pass per kernel slice, summed."""
    kd, kh, kw = w.shape
    od, oh, ow = out_shape
    hp, wp = xp.shape[1], xp.shape[2]
    rdt = np.dtype(np.int64 if dtype is None else dtype)  # dtype=None: integer data and weights, int64 sums
    acc = np.empty((od, oh, ow), dtype=rdt)
    rows = np.empty(valid_shape((od * hp, ow), (kh, 1)), dtype=rdt)  # one buffer for every slice: no fresh pages
    first = True
    for c in range(kd):
        if c and not w[c].any():  # scipy skips zero weights too; slice 0 always runs
            continue
        convolve2d(xp[c : c + od].reshape(od * hp, wp), w[c], dtype=dtype, backend=backend, out=rows)
        volume.sum_slices(acc, rows, hp, first)
        first = False
    return acc


def _three_passes(x, factors, pads, pad_mode, cval, dtype, backend):
    """The 3-D correlation with the kernel ``a b c`` as passes along the last, middle and first axes.

    The extension modes other than ``"constant"`` map indices along one axis, so they commute with
    filtering along the others; a constant ``cval`` outside the volume becomes ``cval * sum(c)`` after
    the first pass and ``cval * sum(c) * sum(b)`` after the second.
    """
    a, b, c = factors
    d, h, _ = x.shape
    # Last axis: the volume as D*H rows.
    t = _short_rows(x.reshape(d * h, -1), c, pads[2], pad_mode, cval, dtype, backend)
    ow = t.shape[1]
    t = t.reshape(d, h, ow)
    # Middle axis: padded slices stacked into one tall image (see fastconv._loops.volume).
    cval_b = float(cval) * float(c.sum()) if pad_mode == "constant" else cval
    tp = _pad(t, [(0, 0), pads[1], (0, 0)], pad_mode, cval_b)
    hp = tp.shape[1]
    (oh,) = valid_shape((hp,), b.shape)
    rows = convolve2d(tp.reshape(d * hp, ow), b[:, np.newaxis], dtype=dtype, backend=backend)
    t2 = np.empty((d, oh, ow), dtype=rows.dtype)
    volume.sum_slices(t2, rows, hp, True)
    # First axis: the volume as D rows of H*W values.
    cval_a = cval_b * float(b.sum()) if pad_mode == "constant" else cval
    out = _corr2d(t2.reshape(d, oh * ow), a[:, np.newaxis], [pads[0], (0, 0)], pad_mode, cval_a, dtype, backend)
    return out.reshape(out.shape[0], oh, ow)


# Block shapes of the one-axis passes (:mod:`fastconv._loops.separable`): rows of a last-axis pass per
# block at most, outputs along another axis per block (at least), inner values per block.
_PASS_BLOCKS = 64
_PASS_LINES = 64
_PASS_INNER = 256


# The dtypes the one-axis and ordered loops are compiled for (input; output: the input's, float32 or
# float64).  Other inputs are read as float64 first (scipy reads every value as a float64 too), other
# outputs written through a float64 buffer and cast as C casts: fewer signatures to compile.
_LOOP_DTYPES = frozenset(np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64))
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _loop_output(out, in_dtype):
    """``(target, finish)``: the array the loop writes and ``finish(ok)`` that completes ``out`` from it."""
    if out.dtype == in_dtype or out.dtype in _FLOATS:
        return out, lambda ok: ok
    tmp = np.empty(out.shape, dtype=np.float64)

    def finish(ok):
        if not ok:
            return False
        lo, hi, check = _bounds(out.dtype)
        if check and tmp.size and not ((tmp > lo) & (tmp < hi)).all():
            return False  # NaN included
        np.copyto(out, tmp, casting="unsafe")  # toward zero, as C casts
        return True

    return tmp, finish


def _bounds(dt):
    """``(lo, hi, check)`` for :mod:`fastconv._loops.separable`: the open range of values an integer dtype keeps."""
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return float(info.min) - 1.0, float(info.max) + 1.0, True
    return 0.0, 0.0, False


def line_pass(x, out, axis, w, kind, pad_mode, origin, cval):
    """One scipy.ndimage 1-D pass of ``x`` along ``axis`` into ``out`` (C-contiguous, ``x``'s shape, no overlap).

    ``kind`` 0 correlates with the float64 weights ``w`` (scipy's ``correlate1d``), 1 averages a box of
    ``w.size`` values (``uniform_filter1d``); ``origin`` as scipy's.  Returns False when an integer
    output would take a value its dtype cannot hold (scipy's cast is then undefined).

    Examples
    --------
    >>> x = np.array([0, 1, 5], np.uint8)
    >>> out = np.empty_like(x)
    >>> line_pass(x, out, 0, np.ones(3) / 3, 0, "constant", 0, 0.0), out
    (True, array([0, 1, 1], dtype=uint8))
    """
    from ._loops import separable, threads

    size = w.size
    n = x.shape[axis]
    idx = line_index(n, *centred(size, origin), pad_mode)
    sym = symmetry(w) if kind == 0 else 0
    x = np.ascontiguousarray(x, dtype=x.dtype if x.dtype in _LOOP_DTYPES else np.float64)
    out, finish = _loop_output(out, x.dtype)
    lo, hi, check = _bounds(out.dtype)
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    inner = int(np.prod(x.shape[axis + 1 :], dtype=np.int64))
    work = x.size * (size if kind == 0 else 2)
    if inner == 1:
        x2, o2 = x.reshape(outer, n), out.reshape(outer, n)
        rows = max(1, -(-outer // _PASS_BLOCKS))
        n_blocks = -(-outer // rows)
        bad = np.zeros(n_blocks, dtype=np.uint8)
        args = (x2, idx, w, sym, kind, float(cval), lo, hi, check, o2, bad, rows)
        threads.run(separable.pass_last, args, n_blocks, work)
    else:
        x3, o3 = x.reshape(outer, n, inner), out.reshape(outer, n, inner)
        lines = n if kind == 1 else max(_PASS_LINES, 4 * size)
        cb = min(inner, _PASS_INNER)
        n_blocks = outer * -(-n // lines) * -(-inner // cb)
        bad = np.zeros(n_blocks, dtype=np.uint8)
        args = (x3, idx, w, sym, kind, float(cval), lo, hi, check, o3, bad, lines, cb)
        threads.run(separable.pass_middle, args, n_blocks, work)
    return finish(not bad.any())


def filter_passes(x, steps, cval, out):
    """The 1-D passes ``steps`` one after the other, as scipy.ndimage's separable filters make them.

    ``steps`` holds ``(axis, w, kind, pad_mode, origin)`` (see :func:`line_pass`); each pass reads the
    previous one's result in ``out``'s dtype, as scipy's passes do (they write into the output array).
    ``out`` is C-contiguous and may overlap ``x``.  Returns ``out``, or None as :func:`line_pass` does.

    Examples
    --------
    >>> x = np.arange(9.0).reshape(3, 3)
    >>> filter_passes(x, [(0, np.ones(3) / 3, 0, "constant", 0)], 0.0, np.empty_like(x))[0]
    array([1.        , 1.66666667, 2.33333333])
    """
    if not steps:
        out[...] = x
        return out
    if np.shares_memory(x, out):
        x = x.copy()
    fused = _fused_steps(x, steps, out)
    if fused is not None:
        _fused_2d(x, fused, cval, out)
        return out
    if _fused_volume(x, steps, cval, out):
        return out
    exact = _exact_fused(x, steps, cval, out)
    if exact is not None:
        return out if exact else None
    spare = np.empty_like(out) if len(steps) > 1 else None
    src = x
    for i, (axis, w, kind, pad_mode, origin) in enumerate(steps):
        dst = out if (len(steps) - 1 - i) % 2 == 0 else spare
        if not line_pass(src, dst, axis, w, kind, pad_mode, origin, cval):
            return None
        src = dst
    return out


def correlate_ordered(x, w, pads, pad_mode, cval, out):
    """scipy.ndimage's ``correlate`` summed in its order (:mod:`fastconv._loops.ordered`) into ``out``.

    ``x`` real, 1- to 3-D; ``w`` float64 of ``x.ndim`` dimensions (its zero taps skipped, as scipy's);
    ``pads`` per axis ``(before, after)`` with numpy.pad's ``pad_mode`` (``"constant"``: ``cval``);
    ``out`` C-contiguous of ``x``'s shape.  Returns False when an integer output would take a value its
    dtype cannot hold.

    Examples
    --------
    >>> out = np.empty(3, np.uint8)
    >>> correlate_ordered(np.array([0, 1, 5], np.uint8), np.ones(3) / 3, [(1, 1)], "constant", 0.0, out), out
    (True, array([0, 1, 1], dtype=uint8))
    """
    from ._loops import ordered, threads

    lift = (1,) * (3 - x.ndim)
    x3 = x.reshape(lift + x.shape).astype(np.float64)
    w3 = w.reshape(lift + w.shape)
    pads3 = [(0, 0)] * len(lift) + [tuple(p) for p in pads]
    if pad_mode == "constant":
        xp = np.pad(x3, pads3, mode="constant", constant_values=cval)
    else:
        index = [line_index(n, b, a, pad_mode) for n, (b, a) in zip(x3.shape, pads3, strict=True)]
        xp = x3[np.ix_(*index)]
    taps = np.nonzero(w3)
    a, b, c = (np.ascontiguousarray(t, dtype=np.int64) for t in taps)
    weights = np.ascontiguousarray(w3[taps], dtype=np.float64)
    out, finish = _loop_output(out, out.dtype if out.dtype in _LOOP_DTYPES else None)
    o3 = out.reshape(lift + out.shape)
    lo, hi, check = _bounds(out.dtype)
    n_rows = o3.shape[0] * o3.shape[1]
    bad = np.zeros(n_rows, dtype=np.uint8)
    args = (xp, a, b, c, weights, lo, hi, check, o3, bad)
    threads.run(ordered.correlate_rows, args, n_rows, x.size * max(1, weights.size))
    return finish(not bad.any())


_FLOAT32 = np.dtype(np.float32)
# Output rows per block of the fused box (each block starts its column sums afresh).
_BOX_ROWS = 64


def _one_tap_passes(steps, ndim, kind=0):
    """``steps`` with a pass of one tap of weight 1 along each of the ``ndim`` axes they leave out, in axis
    order; None if their axes do not increase.

    Such a pass changes no value (``kind`` 1 makes it a box of 1, to go beside a box), so a fused loop
    made for a pass per axis runs a filter of fewer axes as it runs one of every axis.
    """
    axes = [st[0] for st in steps]
    if any(a >= b for a, b in zip(axes, axes[1:], strict=False)):
        return None
    given = dict(zip(axes, steps, strict=True))
    return [given.get(a, (a, np.ones(1), kind, "edge", 0)) for a in range(ndim)]


def _fused_steps(x, steps, out):
    """The two passes of a float32 2-D filter as ``(axis 0 pass, axis 1 pass)`` for :func:`_fused_2d`, or None.

    Taken for float32 in and out with one pass per axis, or a pass along one axis only (the other axis
    then gets a pass of one tap, :func:`_one_tap_passes`: the one pass runs in float32 lanes too, at a
    fifth to a tenth of the float64 pass's time on a 2048x2048 image).  A box (kind 1) becomes ``size``
    weights of ``1 / size`` unless both passes are boxes.  Passes along axis 1 then axis 0 are swapped
    when neither pads with a constant (index extensions commute; a constant border does not).
    """
    if x.ndim != 2 or x.dtype != _FLOAT32 or out.dtype != _FLOAT32 or len(steps) not in (1, 2):
        return None
    if len(steps) == 1:
        steps = _one_tap_passes(steps, 2, steps[0][2])
    axes = [st[0] for st in steps]
    if axes == [1, 0] and all(st[3] != "constant" for st in steps):
        steps = steps[::-1]
    elif axes != [0, 1]:
        return None
    boxes = all(st[2] == 1 for st in steps)
    fused = []
    for _, w, kind, pad_mode, origin in steps:
        if kind == 1 and not boxes:
            w = np.full(w.size, 1.0 / w.size)
        fused.append((w, pad_mode, origin, boxes))
    return fused


def _fused_2d(x, fused, cval, out):
    """Both passes of :func:`_fused_steps`'s result, row by row (:mod:`fastconv._loops.sep2d`), on the threads."""
    _fused_runner(x.shape, fused, cval)(np.ascontiguousarray(x), out)


def _fused_runner(shape, fused, cval):
    """``run(x, out)``: the fused 2-D passes ``fused`` of images of ``shape`` (the loop's arguments made once)."""
    from ._loops import sep2d, threads

    index = [
        line_index(n, *centred(w.size, origin), pad_mode)
        for (w, pad_mode, origin, _), n in zip(fused, shape, strict=True)
    ]
    h = shape[0]
    size = shape[0] * shape[1]
    b1 = centred(fused[1][0].size, fused[1][2])[0]  # where the row starts in its extension
    if fused[0][3]:  # two boxes: running column sums (sep2d.fused_box)
        n_blocks = -(-h // _BOX_ROWS)
        work = size * (4 + fused[1][0].size)

        def run_box(x, out):
            threads.run(sep2d.fused_box, (x, index[0], index[1], b1, float(cval), out, _BOX_ROWS), n_blocks, work)

        return run_box
    (w0, *_), (w1, *_) = fused
    args = (index[0], w0.astype(np.float32), symmetry(w0), index[1], b1, w1.astype(np.float32), symmetry(w1))
    n_blocks = -(-h // sep2d.ROWS)
    work = size * (w0.size + w1.size)

    def run(x, out):
        threads.run(sep2d.fused_rows, (x, *args, float(cval), float(cval), True, out, sep2d.ROWS), n_blocks, work)

    return run


def laplace_2d(x, pad_modes, cval, out):
    """scipy's ``laplace`` of a float32 2-D ``x`` into float32 ``out`` (:func:`fastconv._loops.sep2d.laplace_rows`)."""
    from ._loops import sep2d, threads

    x = np.ascontiguousarray(x)
    index = [line_index(n, 1, 1, m) for n, m in zip(x.shape, pad_modes, strict=True)]
    n_blocks = -(-x.shape[0] // sep2d.ROWS)
    threads.run(sep2d.laplace_rows, (x, index[0], index[1], float(cval), out, sep2d.ROWS), n_blocks, 8 * x.size)
    return out


def _fused_volume(x, steps, cval, out):
    """A float32 3-D filter along its axes in axis order (all three, or fewer) in float32 lanes; else False.

    One output slice at a time (:func:`fastconv._loops.sep2d.fused_volume`): the pass along axis 0 into a
    slice of partial sums, then the fused passes along axes 1 and 2 of that slice: scipy's order of
    passes, within float32 rounding of its float64 sums, the volume read once and the output written once.
    """
    if x.ndim != 3 or x.dtype != _FLOAT32 or out.dtype != _FLOAT32:
        return False
    steps = _one_tap_passes(steps, 3)  # a filter of one or two axes, in axis order, too
    if steps is None:
        return False
    from ._loops import sep2d, threads

    # boxes as weights of 1 / size here (the volume's passes have no running sums)
    args = []
    for (_, w, kind, pad_mode, origin), n in zip(steps, x.shape, strict=True):
        w = w if kind == 0 else np.full(w.size, 1.0 / w.size)
        args += [line_index(n, *centred(w.size, origin), pad_mode), w.astype(np.float32), symmetry(w)]
    args.insert(7, centred(steps[2][1].size, steps[2][4])[0])  # where a row starts in its extension
    work = x.size * sum(st[1].size for st in steps)
    threads.run(sep2d.fused_volume, (np.ascontiguousarray(x), *args, float(cval), out), x.shape[0], work)
    return True


def _exact_fused(x, steps, cval, out):
    """The weighted passes along axes 0 and 1 (or 1 alone) of a 2-D integer image, fused in scipy's float64 arithmetic.

    :func:`fastconv._loops.sep2d.exact_rows`: True when computed, False when a value leaves the output
    dtype (scipy's cast decides), None when the call is not of this kind (integer image and output of
    the same dtype, a ``cval`` the dtype holds).
    """
    if x.ndim != 2 or x.dtype.kind not in "iu" or x.dtype not in _LOOP_DTYPES or out.dtype != x.dtype:
        return None
    if any(st[2] != 0 for st in steps) or [st[0] for st in steps] not in ([0, 1], [1]):
        return None
    # a pass along rows alone too (x kept by the pass of one tap along columns): 0.7x the time of the one-axis
    # loop on a 2048x2048 uint8 image; a pass along columns alone is faster in that loop (0.7x this one's time)
    steps = _one_tap_passes(steps, 2)
    lo, hi, _ = _bounds(x.dtype)
    if not (math.isfinite(cval) and lo < cval < hi and float(int(cval)) == cval):
        return None  # a row of cval in the image's dtype must hold cval exactly
    from ._loops import sep2d, threads

    x = np.ascontiguousarray(x)
    h, w = x.shape
    (_, w0, _, m0, o0), (_, w1, _, m1, o1) = steps
    idx0 = line_index(h, *centred(w0.size, o0), m0)
    idx1 = line_index(w, *centred(w1.size, o1), m1)
    b1 = centred(w1.size, o1)[0]
    crow = np.full(w, cval, dtype=x.dtype)
    n_blocks = -(-h // sep2d.ROWS)
    bad = np.zeros(n_blocks, dtype=np.uint8)
    args = (x, crow, idx0, w0, symmetry(w0), idx1, b1, w1, symmetry(w1), float(cval), lo, hi, out, bad, sep2d.ROWS)
    threads.run(sep2d.exact_rows, args, n_blocks, x.size * (w0.size + w1.size))
    return not bad.any()

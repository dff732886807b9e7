"""Private 2-D cross-correlation kernels.

Every backend computes, for each channel ``c`` and output position ``(i, j)``::

    out[c, i, j] = sum_{a < kh, b < kw} k[a, b] * xp[c, i*sh + a*dh, j*sw + b*dw]

where ``xp`` is the input ``x`` of shape ``(C, H, W)`` shifted down by ``pt``
rows and right by ``pl`` columns inside a field of zeros::

    xp[c, r, s] = x[c, r - pt, s - pl]   if 0 <= r - pt < H and 0 <= s - pl < W
                = 0                      otherwise

so constant (zero) padding costs no copy of the image: ``pt``/``pl`` give the
top/left padding, and the bottom/right padding follows from the shape of
``out``, which the caller preallocates as ``(C, OH, OW)``.  Other padding modes
are applied by the caller (``numpy.pad``), which then passes ``pt = pl = 0``.
Kernels check nothing: the public wrapper in :mod:`fastconv.convolve`
validates the arguments, chooses the dtypes and allocates ``out``.  Only
strided output positions are visited, so a stride-2 call does a quarter of the
work of stride 1.

Backends (all with the signature ``(x, k, sh, sw, dh, dw, pt, pl, out)``):

``naive``
    The readable reference: one output element at a time, one thread.
``im2col``
    A patch matrix times the flattened kernel (NumPy, BLAS).
``direct``
    The fast path: one output row per parallel task, the inner loop running
    along the row so that LLVM vectorises it (see :func:`direct`).
"""

from __future__ import annotations

import numpy as np
from numba import prange, types
from numba.extending import overload

from ._jit import jit

# Width of the block of output columns whose partial sums ``direct`` keeps in
# a local buffer (float32: 2 KiB, well inside L1 with the input rows it reads).
_BLOCK = 512


@jit()
def naive(x, k, sh, sw, dh, dw, pt, pl, out):
    """Reference: one output element at a time, plain loops, one thread."""
    C, H, W = x.shape
    _, OH, OW = out.shape
    kh, kw = k.shape
    for c in range(C):
        for i in range(OH):
            for j in range(OW):
                out[c, i, j] = 0
                for a in range(kh):
                    for b in range(kw):
                        r = i * sh + a * dh - pt
                        s = j * sw + b * dw - pl
                        if 0 <= r < H and 0 <= s < W:
                            out[c, i, j] += k[a, b] * x[c, r, s]


def im2col(x, k, sh, sw, dh, dw, pt, pl, out, block_elements=1 << 22):
    """Patch matrix times the flattened kernel (NumPy / BLAS).

    The ``(OH*OW, kh*kw)`` patch matrix is built a block of output rows at a
    time (at most ``block_elements`` entries), so memory stays bounded for
    large images and kernels.  Zero padding is added with :func:`numpy.pad`.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    C, OH, OW = out.shape
    kh, kw = k.shape
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    pb = max(0, (OH - 1) * sh + span[0] - pt - x.shape[1])
    pr = max(0, (OW - 1) * sw + span[1] - pl - x.shape[2])
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr)))
    kflat = k.reshape(-1)
    rows = max(1, block_elements // max(1, OW * kh * kw))
    for c in range(C):
        windows = sliding_window_view(x[c], span)[::sh, ::sw, ::dh, ::dw]
        for r0 in range(0, OH, rows):
            r1 = min(OH, r0 + rows)
            patches = windows[r0:r1, :OW].reshape(-1, kh * kw)
            out[c, r0:r1] = (patches @ kflat).reshape(r1 - r0, OW)


# --------------------------------------------------------------------------- direct


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


@jit()
def _interior(n_out, n_in, kn, stride, dilation, pad):
    """Output positions ``[lo, hi)`` along one axis whose window lies inside the unpadded input."""
    lo = (pad + stride - 1) // stride
    last = n_in - 1 - (kn - 1) * dilation + pad  # largest window start, in padded coordinates
    hi = last // stride + 1 if last >= 0 else 0
    hi = min(hi, n_out)
    if lo > hi:
        lo = hi
    return lo, hi


@jit()
def _edge(xc, k, r0, s0, sw, dh, dw, j0, j1, row, acc):
    """Output columns ``j0 <= j < j1`` of one row with every tap bounds-checked.

    ``r0``/``s0`` are the input row/column of tap ``(0, 0)`` for column 0
    (negative inside the padding).  ``acc`` is a one-element scratch array of
    the accumulator dtype.
    """
    H, W = xc.shape
    kh, kw = k.shape
    for j in range(j0, j1):
        acc[0] = 0
        for a in range(kh):
            r = r0 + a * dh
            if 0 <= r < H:
                for b in range(kw):
                    s = s0 + j * sw + b * dw
                    if 0 <= s < W:
                        acc[0] += k[a, b] * xc[r, s]
        row[j] = _store(acc[0], row)


@jit()
def _row3x3(xc, k, r0, s0, sw, dh, dw, j0, j1, row):
    """Output columns ``j0 <= j < j1`` of one row of a 3x3 kernel, all taps in registers."""
    k00, k01, k02 = k[0, 0], k[0, 1], k[0, 2]
    k10, k11, k12 = k[1, 0], k[1, 1], k[1, 2]
    k20, k21, k22 = k[2, 0], k[2, 1], k[2, 2]
    x0, x1, x2 = xc[r0], xc[r0 + dh], xc[r0 + 2 * dh]
    d1, d2 = dw, 2 * dw
    if sw == 1:
        for j in range(j0, j1):
            s = s0 + j
            v = k00 * x0[s] + k01 * x0[s + d1] + k02 * x0[s + d2]
            v += k10 * x1[s] + k11 * x1[s + d1] + k12 * x1[s + d2]
            v += k20 * x2[s] + k21 * x2[s + d1] + k22 * x2[s + d2]
            row[j] = _store(v, row)
    elif sw == 2:  # a constant stride: LLVM vectorises it with shuffles
        for j in range(j0, j1):
            s = s0 + 2 * j
            v = k00 * x0[s] + k01 * x0[s + d1] + k02 * x0[s + d2]
            v += k10 * x1[s] + k11 * x1[s + d1] + k12 * x1[s + d2]
            v += k20 * x2[s] + k21 * x2[s + d1] + k22 * x2[s + d2]
            row[j] = _store(v, row)
    else:
        for j in range(j0, j1):
            s = s0 + j * sw
            v = k00 * x0[s] + k01 * x0[s + d1] + k02 * x0[s + d2]
            v += k10 * x1[s] + k11 * x1[s + d1] + k12 * x1[s + d2]
            v += k20 * x2[s] + k21 * x2[s + d1] + k22 * x2[s + d2]
            row[j] = _store(v, row)


@jit()
def _taps(acc, n, xrow, s, sw, w0, w1, w2, w3, o1, o2, o3):
    """``acc[j] += w0*xrow[s + j*sw] + w1*xrow[s + j*sw + o1] + ...`` for ``j < n``."""
    if sw == 1:
        for j in range(n):
            t = s + j
            acc[j] += w0 * xrow[t] + w1 * xrow[t + o1] + w2 * xrow[t + o2] + w3 * xrow[t + o3]
    elif sw == 2:
        for j in range(n):
            t = s + 2 * j
            acc[j] += w0 * xrow[t] + w1 * xrow[t + o1] + w2 * xrow[t + o2] + w3 * xrow[t + o3]
    else:
        for j in range(n):
            t = s + j * sw
            acc[j] += w0 * xrow[t] + w1 * xrow[t + o1] + w2 * xrow[t + o2] + w3 * xrow[t + o3]


@jit()
def _tap(acc, n, xrow, s, sw, w0):
    """``acc[j] += w0 * xrow[s + j*sw]`` for ``j < n``."""
    if sw == 1:
        for j in range(n):
            acc[j] += w0 * xrow[s + j]
    elif sw == 2:
        for j in range(n):
            acc[j] += w0 * xrow[s + 2 * j]
    else:
        for j in range(n):
            acc[j] += w0 * xrow[s + j * sw]


@jit()
def _row_any(xc, k, r0, s0, sw, dh, dw, j0, j1, row, acc):
    """Output columns ``j0 <= j < j1`` of one row, any kernel size.

    Works on blocks of ``len(acc)`` columns: the block's partial sums stay in
    ``acc`` (in L1) while every kernel row adds its taps, four taps per pass.
    """
    kh, kw = k.shape
    nb = acc.shape[0]
    for jb in range(j0, j1, nb):
        n = min(nb, j1 - jb)
        for j in range(n):
            acc[j] = 0
        for a in range(kh):
            xrow = xc[r0 + a * dh]
            s = s0 + jb * sw
            b = 0
            while b + 4 <= kw:
                _taps(acc, n, xrow, s + b * dw, sw, k[a, b], k[a, b + 1], k[a, b + 2], k[a, b + 3], dw, 2 * dw, 3 * dw)
                b += 4
            while b < kw:
                _tap(acc, n, xrow, s + b * dw, sw, k[a, b])
                b += 1
        for j in range(n):
            row[jb + j] = _store(acc[j], row)


@jit(parallel=True)
def _direct(x, k, sh, sw, dh, dw, pt, pl, out):
    """The ``direct`` loops: see :func:`direct`."""
    C, H, W = x.shape
    _, OH, OW = out.shape
    kh, kw = k.shape
    i_lo, i_hi = _interior(OH, H, kh, sh, dh, pt)
    j_lo, j_hi = _interior(OW, W, kw, sw, dw, pl)
    small = kh == 3 and kw == 3
    for t in prange(C * OH):
        c = t // OH
        i = t - c * OH
        xc = x[c]
        row = out[c, i]
        acc = np.empty(_BLOCK, dtype=k.dtype)
        r0 = i * sh - pt
        s0 = -pl
        if i_lo <= i < i_hi and j_lo < j_hi:
            _edge(xc, k, r0, s0, sw, dh, dw, 0, j_lo, row, acc)
            if small:
                _row3x3(xc, k, r0, s0, sw, dh, dw, j_lo, j_hi, row)
            else:
                _row_any(xc, k, r0, s0, sw, dh, dw, j_lo, j_hi, row, acc)
            _edge(xc, k, r0, s0, sw, dh, dw, j_hi, OW, row, acc)
        else:
            _edge(xc, k, r0, s0, sw, dh, dw, 0, OW, row, acc)


def _exact_float_kernel(x, k):
    """``k`` in the float dtype in which an integer correlation of ``x`` and ``k`` is exact, or ``k``.

    With integer ``x`` and ``k``, every product and partial sum is a whole
    number of magnitude at most ``max|x| * sum|k|``; below ``2**24`` float32
    holds all of them exactly, below ``2**53`` float64 does, and the sum in
    float is the exact integer sum.  Float arithmetic vectorises on AVX2 where
    int64 multiplication does not.  Returns ``k`` unchanged (int64 arithmetic)
    when the bound is not met or ``x`` is wider than 32 bits.
    """
    if x.dtype.itemsize > 4:
        return k
    info = np.iinfo(x.dtype)
    bound = max(-int(info.min), int(info.max)) * float(np.abs(k.astype(np.float64)).sum())
    bound *= 1 + 1e-9  # float64 rounding of the sum above
    if x.dtype.itemsize <= 2 and bound < 2.0**24:
        return k.astype(np.float32)
    if bound < 2.0**53:
        return k.astype(np.float64)
    return k


def direct(x, k, sh, sw, dh, dw, pt, pl, out):
    """Row-parallel loops vectorised along the output row (the fast path).

    One ``prange`` task per output row; each task writes only its own row.
    Output columns whose window reaches into the zero padding are computed
    with bounds checks; the interior runs without them, along the row, so
    LLVM vectorises the inner loop (with ``sw == 1`` or ``sw == 2``):

    - a 3x3 kernel keeps its nine taps in registers and writes each output
      once;
    - any other kernel adds four taps per pass into a block of partial sums
      that stays in L1.

    Integer inputs are summed in float32 or float64 when that is exact (see
    :func:`_exact_float_kernel`), else in int64.
    """
    if out.dtype.kind in "iu":
        k = _exact_float_kernel(x, k)
    _direct(x, k, sh, sw, dh, dw, pt, pl, out)

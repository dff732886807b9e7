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
    The fast path: blocks of output rows per parallel task, the inner loop
    running along the row so that LLVM vectorises it (see :func:`direct`).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from ._jit import jit

# Width of the block of output columns whose partial sums ``direct`` keeps in
# a local buffer (float32: 2 KiB, well inside L1 with the input rows it reads).
_BLOCK = 512
# Output rows per parallel task of ``direct`` (one allocation of scratch per task).
_ROWS = 16
# Below this much work (multiply-adds plus input values; about 0.3 ms on one core),
# ``direct`` runs single-threaded: starting a second thread would cost more than it saves.
_SERIAL_TAPS = 3 << 20


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
def _stage(xrow, base, sw, buf):
    """Copy one input row into ``buf`` split by phase: ``buf[p, m] = xrow[base + m*sw + p]``.

    Converts to ``buf``'s dtype on the way.  After staging, a tap at column
    offset ``q`` of a stride-``sw`` window reads ``buf[q % sw, q // sw + j]``:
    unit stride in ``j``, so the loops over it vectorise.  Entries past the
    end of ``xrow`` are left unset (no window reads them).
    """
    src = xrow[base:]
    avail = src.shape[0]
    L = buf.shape[1]
    if sw == 1:
        b0 = buf[0]
        for m in range(min(L, avail)):
            b0[m] = src[m]
    elif sw == 2:  # a constant stride: LLVM vectorises the de-interleave
        n = min(L, avail // 2)
        e, d = buf[0], buf[1]
        for m in range(n):
            e[m] = src[2 * m]
            d[m] = src[2 * m + 1]
        if n < L and 2 * n < avail:
            e[n] = src[2 * n]
    else:
        for p in range(sw):
            bp = buf[p]
            n = min(L, (avail - p + sw - 1) // sw) if avail > p else 0
            for m in range(n):
                bp[m] = src[p + m * sw]


@jit()
def _sum9(k, t00, t01, t02, t10, t11, t12, t20, t21, t22, o):
    """``o[j] = sum_ab k[a, b] * tab[j]``: a 3x3 kernel with its nine taps in registers.

    Each tap reads through its own view, indexed from 0 by the loop counter:
    indices LLVM can prove non-negative need no wraparound check, and the
    loop vectorises.
    """
    k00, k01, k02 = k[0, 0], k[0, 1], k[0, 2]
    k10, k11, k12 = k[1, 0], k[1, 1], k[1, 2]
    k20, k21, k22 = k[2, 0], k[2, 1], k[2, 2]
    for j in range(o.shape[0]):
        v = k00 * t00[j] + k01 * t01[j] + k02 * t02[j]
        v += k10 * t10[j] + k11 * t11[j] + k12 * t12[j]
        v += k20 * t20[j] + k21 * t21[j] + k22 * t22[j]
        o[j] = _store(_narrow(v, k), o)


def _is_int(k):
    """True when ``k`` has an integer dtype (decided at compile time)."""


@overload(_is_int)
def _is_int_overload(k):
    if isinstance(k.dtype, types.Integer):
        return lambda k: True
    return lambda k: False


@jit()
def _line9(k, xc, ra, rb, rc, base, dw, sw, n, dst):
    """``dst[j] = sum_ab k[a, b] * xc[r_a, base + j*sw + b*dw]`` for ``j < n``: a 3x3 kernel, taps in registers.

    ``r_a`` is ``ra``, ``rb``, ``rc`` for kernel rows 0, 1, 2; ``sw`` is 1,
    or 2 with ``dw == 1``.  The input is indexed with unsigned indices (no
    wraparound checks), so the loop vectorises; at ``sw == 2`` the even and
    odd columns are read in place (constant-stride loads LLVM vectorises).
    """
    k00, k01, k02 = k[0, 0], k[0, 1], k[0, 2]
    k10, k11, k12 = k[1, 0], k[1, 1], k[1, 2]
    k20, k21, k22 = k[2, 0], k[2, 1], k[2, 2]
    ua, ub, uc = np.uint64(ra), np.uint64(rb), np.uint64(rc)
    c0 = np.uint64(base)
    if sw == 1:
        c1 = np.uint64(base + dw)
        c2 = np.uint64(base + 2 * dw)
        for j in range(n):
            uj = np.uint64(j)
            v = k00 * xc[ua, c0 + uj] + k01 * xc[ua, c1 + uj] + k02 * xc[ua, c2 + uj]
            v += k10 * xc[ub, c0 + uj] + k11 * xc[ub, c1 + uj] + k12 * xc[ub, c2 + uj]
            v += k20 * xc[uc, c0 + uj] + k21 * xc[uc, c1 + uj] + k22 * xc[uc, c2 + uj]
            dst[j] = _store(_narrow(v, k), dst)
    else:
        u1 = np.uint64(1)
        u2 = np.uint64(2)
        for j in range(n):
            c = c0 + u2 * np.uint64(j)
            v = k00 * xc[ua, c] + k01 * xc[ua, c + u1] + k02 * xc[ua, c + u2]
            v += k10 * xc[ub, c] + k11 * xc[ub, c + u1] + k12 * xc[ub, c + u2]
            v += k20 * xc[uc, c] + k21 * xc[uc, c + u1] + k22 * xc[uc, c + u2]
            dst[j] = _store(_narrow(v, k), dst)


@jit()
def _line9_s2(k, ring, sa, sb, sc, n, dst):
    """:func:`_line9` at column stride 2 (``dw == 1``) from staged rows.

    ``ring[s, 0]`` / ``ring[s, 1]`` hold the even / odd columns of the input
    row in slot ``s`` (slots ``sa``, ``sb``, ``sc`` for kernel rows 0, 1, 2), so
    the taps of output ``j`` are ``even[j]``, ``odd[j]`` and ``even[j + 1]``:
    unit stride, and the loop vectorises.
    """
    k00, k01, k02 = k[0, 0], k[0, 1], k[0, 2]
    k10, k11, k12 = k[1, 0], k[1, 1], k[1, 2]
    k20, k21, k22 = k[2, 0], k[2, 1], k[2, 2]
    ua, ub, uc = np.uint64(sa), np.uint64(sb), np.uint64(sc)
    z = np.uint64(0)
    u1 = np.uint64(1)
    for j in range(n):
        uj = np.uint64(j)
        v = k00 * ring[ua, z, uj] + k01 * ring[ua, u1, uj] + k02 * ring[ua, z, uj + u1]
        v += k10 * ring[ub, z, uj] + k11 * ring[ub, u1, uj] + k12 * ring[ub, z, uj + u1]
        v += k20 * ring[uc, z, uj] + k21 * ring[uc, u1, uj] + k22 * ring[uc, z, uj + u1]
        dst[j] = _store(_narrow(v, k), dst)


@jit()
def _ring_slot(xc, r, dh, base, ring, held):
    """The slot of ``ring`` holding input row ``r`` de-interleaved from column ``base``, staging it if needed.

    Rows ``r``, ``r + dh``, ``r + 2*dh`` (the three kernel rows of one output
    row) go to three different slots, ``(r // dh) % 3``, whatever the dilation.
    """
    s = (r // dh) % 3
    if held[s] != r:
        _stage(xc[r], base, 2, ring[s])
        held[s] = r
    return s


@jit()
def _sum9_rows(k, xc, r0, sh, dh, dw, sw, base, oc, i0, i1, j0, j1, acc, ring):
    """3x3 kernel: ``oc[i, j]`` for ``i0 <= i < i1``, ``j0 <= j < j1`` (interior only), see :func:`_line9`.

    Output ``(i0 + i, j0 + j)`` reads input rows ``r0 + i*sh + a*dh`` from
    column ``base + j*sw + b*dw``.  A narrow integer kernel sums a chunk of
    the row into ``acc`` (its own dtype, so 16 int16 lanes per register) and
    then widens the chunk into the row; a float kernel writes the row directly.
    At ``sw == 2`` each input row is de-interleaved once into ``ring`` (three
    slots of even and odd columns, reused by the next output row).
    """
    n = j1 - j0
    B = acc.shape[0]
    held = np.full(3, -1, dtype=np.int64)
    for i in range(i1 - i0):
        ra = r0 + i * sh
        o = oc[i0 + i, j0:]
        if sw == 2:
            sa = _ring_slot(xc, ra, dh, base, ring, held)
            sb = _ring_slot(xc, ra + dh, dh, base, ring, held)
            sc = _ring_slot(xc, ra + 2 * dh, dh, base, ring, held)
            if _is_int(k):
                for jb in range(0, n, B):
                    m = min(B, n - jb)
                    _line9_s2(k, ring[:, :, jb:], sa, sb, sc, m, acc)
                    ob = o[jb:]
                    for j in range(m):
                        ob[j] = acc[j]
            else:
                _line9_s2(k, ring, sa, sb, sc, n, o)
        elif _is_int(k):
            for jb in range(0, n, B):
                m = min(B, n - jb)
                _line9(k, xc, ra, ra + dh, ra + 2 * dh, base + jb * sw, dw, sw, m, acc)
                ob = o[jb:]
                for j in range(m):
                    ob[j] = acc[j]
        else:
            _line9(k, xc, ra, ra + dh, ra + 2 * dh, base, dw, sw, n, o)


@jit()
def _rows35(acc, n, p, q, r, k, a, b):
    """``acc[j] += sum k[a+u, b+v] * row_u[j + v]`` over 3 kernel rows ``u`` and 5 taps ``v`` (``dw == 1``)."""
    a0, a1, a2, a3, a4 = k[a, b], k[a, b + 1], k[a, b + 2], k[a, b + 3], k[a, b + 4]
    b0, b1, b2, b3, b4 = k[a + 1, b], k[a + 1, b + 1], k[a + 1, b + 2], k[a + 1, b + 3], k[a + 1, b + 4]
    c0, c1, c2, c3, c4 = k[a + 2, b], k[a + 2, b + 1], k[a + 2, b + 2], k[a + 2, b + 3], k[a + 2, b + 4]
    for j in range(n):
        acc[j] += (
            (a0 * p[j] + a1 * p[j + 1] + a2 * p[j + 2] + a3 * p[j + 3] + a4 * p[j + 4])
            + (b0 * q[j] + b1 * q[j + 1] + b2 * q[j + 2] + b3 * q[j + 3] + b4 * q[j + 4])
            + (c0 * r[j] + c1 * r[j + 1] + c2 * r[j + 2] + c3 * r[j + 3] + c4 * r[j + 4])
        )


@jit()
def _rows15(acc, n, p, k, a, b):
    """``acc[j] += sum_v k[a, b+v] * p[j + v]`` over 5 taps ``v`` of one kernel row (``dw == 1``)."""
    a0, a1, a2, a3, a4 = k[a, b], k[a, b + 1], k[a, b + 2], k[a, b + 3], k[a, b + 4]
    for j in range(n):
        acc[j] += a0 * p[j] + a1 * p[j + 1] + a2 * p[j + 2] + a3 * p[j + 3] + a4 * p[j + 4]


@jit()
def _rows31(acc, n, p, q, r, w0, w1, w2):
    """``acc[j] += w0*p[j] + w1*q[j] + w2*r[j]``: one tap of three kernel rows."""
    for j in range(n):
        acc[j] += w0 * p[j] + w1 * q[j] + w2 * r[j]


@jit()
def _taps4(acc, n, p0, p1, p2, p3, w0, w1, w2, w3):
    """``acc[j] += w0*p0[j] + w1*p1[j] + w2*p2[j] + w3*p3[j]``: four taps of one kernel row."""
    for j in range(n):
        acc[j] += w0 * p0[j] + w1 * p1[j] + w2 * p2[j] + w3 * p3[j]


@jit()
def _tap1(acc, n, p0, w0):
    """``acc[j] += w0 * p0[j]``: one tap."""
    for j in range(n):
        acc[j] += w0 * p0[j]


@jit()
def _block_dense(xc, k, r0, dh, base, n, acc):
    """Partial sums of ``n`` output columns, stride 1 and column dilation 1, read straight from ``xc``.

    Kernel rows go three at a time and taps five at a time, so each pass
    over ``acc`` adds up to 15 taps, with one input view per kernel row.
    """
    kh, kw = k.shape
    for j in range(n):
        acc[j] = 0
    a = 0
    while a + 3 <= kh:
        p, q, r = xc[r0 + a * dh, base:], xc[r0 + (a + 1) * dh, base:], xc[r0 + (a + 2) * dh, base:]
        b = 0
        while b + 5 <= kw:
            _rows35(acc, n, p[b:], q[b:], r[b:], k, a, b)
            b += 5
        while b < kw:
            _rows31(acc, n, p[b:], q[b:], r[b:], k[a, b], k[a + 1, b], k[a + 2, b])
            b += 1
        a += 3
    while a < kh:
        p = xc[r0 + a * dh, base:]
        b = 0
        while b + 5 <= kw:
            _rows15(acc, n, p[b:], k, a, b)
            b += 5
        while b < kw:
            _tap1(acc, n, p[b:], k[a, b])
            b += 1
        a += 1


@jit()
def _block_staged(buf, u0, k, sw, dh, dw, j0, n, acc):
    """Partial sums of ``n`` output columns from staged rows, starting at output ``j0``.

    Kernel row ``a`` reads ``buf[u0 + a*dh, phase, :]``.
    """
    kh, kw = k.shape
    for j in range(n):
        acc[j] = 0
    for a in range(kh):
        u = u0 + a * dh
        b = 0
        while b + 4 <= kw:
            q0, q1, q2, q3 = b * dw, (b + 1) * dw, (b + 2) * dw, (b + 3) * dw
            _taps4(
                acc, n,
                buf[u, q0 % sw, q0 // sw + j0 :], buf[u, q1 % sw, q1 // sw + j0 :],
                buf[u, q2 % sw, q2 // sw + j0 :], buf[u, q3 % sw, q3 // sw + j0 :],
                k[a, b], k[a, b + 1], k[a, b + 2], k[a, b + 3],
            )
            b += 4
        while b < kw:
            q0 = b * dw
            _tap1(acc, n, buf[u, q0 % sw, q0 // sw + j0 :], k[a, b])
            b += 1


@jit()
def _direct_inplace(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """``direct`` reading the input rows in place: float input, or 8/16-bit integers with a narrow integer kernel.

    Column stride 1, or a 3x3 kernel at column stride 2 and column dilation 1.
    Computes row blocks ``t0 <= t < t1`` (block ``t`` is ``_ROWS`` output
    rows of one channel; see :func:`_n_blocks`).
    """
    C, H, W = x.shape
    _, OH, OW = out.shape
    kh, kw = k.shape
    i_lo, i_hi = _interior(OH, H, kh, sh, dh, pt)
    j_lo, j_hi = _interior(OW, W, kw, sw, dw, pl)
    n_in = j_hi - j_lo
    R = _ROWS
    n_blocks = (OH + R - 1) // R
    for t in range(t0, t1):
        c = t // n_blocks
        i0 = (t - c * n_blocks) * R
        i1 = min(OH, i0 + R)
        xc = x[c]
        acc = np.empty(_BLOCK, dtype=k.dtype)
        if kh == 3 and kw == 3:
            ib0, ib1 = max(i0, i_lo), min(i1, i_hi)  # interior rows of this block
            if n_in <= 0 or ib0 >= ib1:
                ib0 = ib1 = i1
            for i in range(i0, i1):
                row = out[c, i]
                r0 = i * sh - pt
                if not ib0 <= i < ib1:
                    _edge(xc, k, r0, -pl, sw, dh, dw, 0, OW, row, acc)
                    continue
                if j_lo > 0:
                    _edge(xc, k, r0, -pl, sw, dh, dw, 0, j_lo, row, acc)
                if j_hi < OW:
                    _edge(xc, k, r0, -pl, sw, dh, dw, j_hi, OW, row, acc)
            if ib0 < ib1:
                # at column stride 2: three de-interleaved input rows (see _sum9_rows)
                ring = np.empty((3, 2, n_in + 1 if sw == 2 else 1), dtype=x.dtype)
                _sum9_rows(k, xc, ib0 * sh - pt, sh, dh, dw, sw, j_lo * sw - pl, out[c], ib0, ib1, j_lo, j_hi, acc, ring)
            continue
        for i in range(i0, i1):
            row = out[c, i]
            r0 = i * sh - pt
            if not (i_lo <= i < i_hi and n_in > 0):
                _edge(xc, k, r0, -pl, 1, dh, dw, 0, OW, row, acc)
                continue
            _edge(xc, k, r0, -pl, 1, dh, dw, 0, j_lo, row, acc)
            _edge(xc, k, r0, -pl, 1, dh, dw, j_hi, OW, row, acc)
            base = j_lo - pl  # input column of tap (0, 0) for output column j_lo
            o = row[j_lo:j_hi]
            for jb in range(0, n_in, _BLOCK):
                n = min(_BLOCK, n_in - jb)
                if dw == 1:
                    _block_dense(xc, k, r0, dh, base + jb, n, acc)
                else:
                    for j in range(n):
                        acc[j] = 0
                    for a in range(kh):
                        xr = xc[r0 + a * dh, base + jb :]
                        for b in range(kw):
                            _tap1(acc, n, xr[b * dw :], k[a, b])
                ob = o[jb : jb + n]
                for j in range(n):
                    ob[j] = _store(acc[j], ob)


@jit()
def _direct_staged(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """``direct`` for integer input or column stride > 1: stages the input rows first (row blocks ``t0 <= t < t1``).

    Staging converts integers to the accumulator's type and splits strided
    rows by phase.  A task takes ``_ROWS`` output rows and stages every input
    row they read once, so rows shared by neighbouring outputs are not
    staged again.
    """
    C, H, W = x.shape
    _, OH, OW = out.shape
    kh, kw = k.shape
    i_lo, i_hi = _interior(OH, H, kh, sh, dh, pt)
    j_lo, j_hi = _interior(OW, W, kw, sw, dw, pl)
    n_in = j_hi - j_lo
    L = n_in + ((kw - 1) * dw) // sw + 1
    q1, q2 = dw, 2 * dw
    m1, m2, d1, d2 = q1 % sw, q2 % sw, q1 // sw, q2 // sw
    base = j_lo * sw - pl  # input column of tap (0, 0) for output column j_lo
    R = _ROWS
    n_blocks = (OH + R - 1) // R
    span = (R - 1) * sh + (kh - 1) * dh + 1  # input rows one block reads
    for t in range(t0, t1):
        c = t // n_blocks
        i0 = (t - c * n_blocks) * R
        i1 = min(OH, i0 + R)
        xc = x[c]
        acc = np.empty(_BLOCK, dtype=k.dtype)
        top = i0 * sh - pt  # input row of buf[0]
        buf = np.empty((span, sw, L), dtype=k.dtype)
        if n_in > 0:
            for u in range(span):
                if 0 <= top + u < H:
                    _stage(xc[top + u], base, sw, buf[u])
        for i in range(i0, i1):
            row = out[c, i]
            r0 = i * sh - pt
            if not (i_lo <= i < i_hi and n_in > 0):
                _edge(xc, k, r0, -pl, sw, dh, dw, 0, OW, row, acc)
                continue
            _edge(xc, k, r0, -pl, sw, dh, dw, 0, j_lo, row, acc)
            _edge(xc, k, r0, -pl, sw, dh, dw, j_hi, OW, row, acc)
            o = row[j_lo:j_hi]
            u0, u1, u2 = r0 - top, r0 - top + dh, r0 - top + 2 * dh  # buf rows of kernel rows 0, 1, 2
            if kh == 3 and kw == 3:
                _sum9(
                    k,
                    buf[u0, 0], buf[u0, m1, d1:], buf[u0, m2, d2:],
                    buf[u1, 0], buf[u1, m1, d1:], buf[u1, m2, d2:],
                    buf[u2, 0], buf[u2, m1, d1:], buf[u2, m2, d2:],
                    o,
                )
                continue
            for jb in range(0, n_in, _BLOCK):
                n = min(_BLOCK, n_in - jb)
                _block_staged(buf, u0, k, sw, dh, dw, jb, n, acc)
                ob = o[jb : jb + n]
                for j in range(n):
                    ob[j] = _store(acc[j], ob)


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


@jit()
def _abs_sum(k):
    """``sum |k|`` in float64 (no integer overflow)."""
    total = 0.0
    for v in k.ravel():
        total += abs(np.float64(v))
    return total


def _int_kernel(x, k):
    """``k`` as int16 or int32 when every partial sum of an integer correlation of ``x`` and ``k`` fits, or None.

    Every product and partial sum is at most ``max|x| * sum|k|`` in
    magnitude.  Below ``2**15`` (for 8-bit images) the kernels sum in int16,
    below ``2**31`` in int32: exact, and AVX2 packs 16 or 8 of them in a
    register.  Returns None for images wider than 16 bits or a larger bound.
    """
    if x.dtype.itemsize > 2:
        return None
    top = 128 if x.dtype == np.int8 else 255 if x.dtype == np.uint8 else 32768 if x.dtype == np.int16 else 65535
    bound = top * _abs_sum(k) * (1 + 1e-9)  # float64 rounding of the sum
    if x.dtype.itemsize == 1 and bound < 2.0**15:
        return k.astype(np.int16)
    if bound < 2.0**31:
        return k.astype(np.int32)
    return None


@intrinsic
def _fetch_add(typingctx, counters, index, value):
    """Atomically add ``value`` to ``counters[index]`` (an int64 array); return the old value."""
    sig = types.int64(counters, index, value)

    def codegen(context, builder, signature, args):
        arr, idx, val = args
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, arr)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [idx])
        val = context.cast(builder, val, signature.args[2], types.int64)
        return builder.atomic_rmw("add", ptr, val, "seq_cst")

    return sig, codegen


# Row blocks are handed out one at a time through two atomic counters,
# ``ctl = [next block, blocks finished, number of blocks]``, to whichever
# thread asks first: the calling thread and up to ``numba.get_num_threads() - 1``
# pool threads run the same loop, without the GIL.  The calling thread never
# waits for a pool thread that has not started (on a machine whose other
# cores are busy, that may take a scheduler time slice of several
# milliseconds); it waits only for blocks already taken.  A pool thread that
# starts late finds no block left and returns.  Each block writes only its own
# output rows.


@jit()
def _inplace_worker(x, k, sh, sw, dh, dw, pt, pl, out, ctl):
    """Take blocks from ``ctl`` and run :func:`_direct_inplace` on them until none is left."""
    n = ctl[2]
    while True:
        t = _fetch_add(ctl, 0, 1)
        if t >= n:
            return
        _direct_inplace(x, k, sh, sw, dh, dw, pt, pl, out, t, t + 1)
        _fetch_add(ctl, 1, 1)


@jit()
def _staged_worker(x, k, sh, sw, dh, dw, pt, pl, out, ctl):
    """Take blocks from ``ctl`` and run :func:`_direct_staged` on them until none is left."""
    n = ctl[2]
    while True:
        t = _fetch_add(ctl, 0, 1)
        if t >= n:
            return
        _direct_staged(x, k, sh, sw, dh, dw, pt, pl, out, t, t + 1)
        _fetch_add(ctl, 1, 1)


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``workers`` helper threads (created on first use)."""
    with _pools_lock:
        if workers not in _pools:
            _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="fastconv")
        return _pools[workers]


def _run(kernel, worker, args, n_blocks, taps):
    """Compute row blocks ``[0, n_blocks)`` on ``numba.get_num_threads()`` threads (see the note above)."""
    threads = min(numba.get_num_threads(), n_blocks)
    if threads <= 1 or taps < _SERIAL_TAPS:
        kernel(*args, 0, n_blocks)
        return
    ctl = np.array([0, 0, n_blocks], dtype=np.int64)
    pool = _pool(threads - 1)
    for _ in range(threads - 1):
        pool.submit(worker, *args, ctl)
    worker(*args, ctl)  # releases the GIL (nogil) while it works
    while ctl[1] < n_blocks:  # blocks still being computed by pool threads
        time.sleep(0)


def direct(x, k, sh, sw, dh, dw, pt, pl, out):
    """Row-block loops vectorised along the output row (the fast path).

    The output is cut into blocks of ``_ROWS`` rows, computed in parallel
    (see :func:`_run`; ``numba.set_num_threads`` sets the thread count);
    each block writes only its own rows.  Output columns whose window reaches
    into the zero padding are computed with bounds checks; the interior runs
    without them, along the row, so LLVM vectorises the inner loop:

    - float input, and 8/16-bit integer input with a narrow integer kernel,
      is read in place at column stride 1, and for a 3x3 kernel also at
      column stride 2 (:func:`_direct_inplace`; each input row is then
      de-interleaved once into even and odd columns); otherwise each input
      row is first staged (:func:`_direct_staged`): converted to the
      accumulator's type and, for a column stride ``sw > 1``, split into
      ``sw`` unit-stride phases;
    - a 3x3 kernel keeps its nine taps in registers and runs a whole block
      of rows in one loop nest (:func:`_sum9_rows`); other kernels add up to
      15 taps per pass into a block of partial sums that stays in L1.

    Integer inputs are summed exactly: in int16 lanes for an 8-bit image
    when ``max|x| * sum|k| < 2**15``, in int32 for 8/16-bit images below
    ``2**31`` (see :func:`_int_kernel`), else in float32 or float64 when that
    is exact (see :func:`_exact_float_kernel`), else in int64.  Calls of less than
    ``_SERIAL_TAPS`` (multiply-adds plus input values) run on the calling thread only.
    """
    narrow = False
    if out.dtype.kind in "iu":
        k16 = _int_kernel(x, k)
        if k16 is not None:
            k, narrow = k16, True
        else:
            k = _exact_float_kernel(x, k)
    n_blocks = out.shape[0] * ((out.shape[1] + _ROWS - 1) // _ROWS)
    taps = out.size * k.size + x.size  # multiply-adds, plus a read (or staging) of each input value
    k3x3 = k.shape[0] == 3 and k.shape[1] == 3
    if (sw == 1 or (sw == 2 and dw == 1 and k3x3)) and (x.dtype == k.dtype or narrow):
        _run(_direct_inplace, _inplace_worker, (x, k, sh, sw, dh, dw, pt, pl, out), n_blocks, taps)
    else:
        _run(_direct_staged, _staged_worker, (x, k, sh, sw, dh, dw, pt, pl, out), n_blocks, taps)

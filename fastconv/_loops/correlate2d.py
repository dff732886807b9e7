"""``direct``, the fast backend of :func:`fastconv.convolve2d`: row blocks vectorised along the row.

Notation as in :mod:`fastconv._loops`.  :func:`direct` picks the arithmetic
(exact narrow integers, exact floats, or the input's own float type) and the
path: input rows read in place (:func:`_direct_inplace`) or staged first
(:func:`_direct_staged`); 3x3 kernels go to :mod:`fastconv._loops.sum3x3`,
other sizes add up to 15 taps per pass into a block of partial sums.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit
from .lanes import _store
from .rows import _edge, _interior, _stage
from .sum3x3 import _sum9, _sum9_rows
from .threads import fetch_add, run

# Width of the block of output columns whose partial sums ``direct`` keeps in
# a local buffer (float32: 2 KiB, well inside L1 with the input rows it reads).
_BLOCK = 512
# Output rows per parallel task of ``direct`` (one allocation of scratch per task).
_ROWS = 16


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
                acc,
                n,
                buf[u, q0 % sw, q0 // sw + j0 :],
                buf[u, q1 % sw, q1 // sw + j0 :],
                buf[u, q2 % sw, q2 // sw + j0 :],
                buf[u, q3 % sw, q3 // sw + j0 :],
                k[a, b],
                k[a, b + 1],
                k[a, b + 2],
                k[a, b + 3],
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
                _sum9_rows(
                    k, xc, ib0 * sh - pt, sh, dh, dw, sw, j_lo * sw - pl, out[c], ib0, ib1, j_lo, j_hi, acc, ring
                )
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
                    buf[u0, 0],
                    buf[u0, m1, d1:],
                    buf[u0, m2, d2:],
                    buf[u1, 0],
                    buf[u1, m1, d1:],
                    buf[u1, m2, d2:],
                    buf[u2, 0],
                    buf[u2, m1, d1:],
                    buf[u2, m2, d2:],
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


@jit()
def _inplace_worker(x, k, sh, sw, dh, dw, pt, pl, out, ctl):
    """Take blocks from ``ctl`` and run :func:`_direct_inplace` on them until none is left."""
    n = ctl[2]
    while True:
        t = fetch_add(ctl, 0, 1)
        if t >= n:
            return
        _direct_inplace(x, k, sh, sw, dh, dw, pt, pl, out, t, t + 1)
        fetch_add(ctl, 1, 1)


@jit()
def _staged_worker(x, k, sh, sw, dh, dw, pt, pl, out, ctl):
    """Take blocks from ``ctl`` and run :func:`_direct_staged` on them until none is left."""
    n = ctl[2]
    while True:
        t = fetch_add(ctl, 0, 1)
        if t >= n:
            return
        _direct_staged(x, k, sh, sw, dh, dw, pt, pl, out, t, t + 1)
        fetch_add(ctl, 1, 1)


def direct(x, k, sh, sw, dh, dw, pt, pl, out):
    """Row-block loops vectorised along the output row (the fast path).

    The output is cut into blocks of ``_ROWS`` rows, computed in parallel
    (see :func:`fastconv._loops.threads.run`; ``numba.set_num_threads`` sets the thread count);
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
    :data:`fastconv._loops.threads.SERIAL_TAPS` (multiply-adds plus input values) run on the calling thread only.
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
        run(_direct_inplace, _inplace_worker, (x, k, sh, sw, dh, dw, pt, pl, out), n_blocks, taps)
    else:
        run(_direct_staged, _staged_worker, (x, k, sh, sw, dh, dw, pt, pl, out), n_blocks, taps)

"""Two one-axis passes of a 2-D float32 image fused row by row (see :func:`fastconv.ndimage.gaussian_filter`).

For a float32 image ``x`` (``(H, W)``) and float32 output, the separable
filters of :mod:`fastconv.ndimage` (a pass along axis 0 with ``w0``, then one
along axis 1 with ``w1``, as scipy orders them) are computed one output row
at a time, without an intermediate image:

1. the column pass: ``mid[c] = sum_a w0[a] * x0[i + a, c]``, where row ``p``
   of the extended image ``x0`` is ``x[idx0[p]]`` or a row of ``cval``
   (``idx0[p] < 0``); vectorised along the row;
2. ``mid`` (written in place inside ``line``) extended as scipy extends
   the intermediate image: ``line[p] = mid[idx1[p]]`` or ``cval`` at the borders;
3. the row pass: ``out[i, j] = sum_b w1[b] * line[j + b]``.

Both passes take each pair of taps with one weight when the weights are
symmetric (``sym > 0``) or antisymmetric (``sym < 0``), as OpenCV's
``sepFilter2D`` and scipy do.  With ``paired`` (:mod:`fastconv.ndimage`) the
pair is summed before one multiply-add, as scipy sums it (integer-valued
images then round as scipy's passes do); two float32 values above half the
largest float32 sum to inf there.  Without it (``convolve2d``, which keeps
every intermediate within the result's bound) each pair is two fused
multiply-adds, ``a * w + (b * w + acc)``, the same count of operations.  The rows an output row
reads are those of its neighbours, so they come from cache; the image is
read once and the output written once.  In float32 (8 lanes on AVX2), with
fused multiply-adds: the result equals scipy's float64 passes within float32
rounding.  Block ``t`` is output rows ``[t*rows, (t+1)*rows)`` (:data:`ROWS` rows for the callers).
"""

from __future__ import annotations

import numpy as np

from .._jit import jit
from .separable import _store
from .vec import keep_alive, vadd, vbcast, vfma, vload, vstore, vzero

#: Output rows per block of :func:`fused_rows`, :func:`laplace_rows` and
#: :func:`exact_rows`: the rows an output row reads then stay in L2 for the next one.
ROWS = 16


@jit(contract=True, inline=True)
def _set(acc, n, a, wc):
    """``acc[c] = a[c] * wc``."""
    for c in range(n):
        acc[c] = a[c] * wc


@jit(contract=True, inline=True)
def _pair(acc, n, a, b, wj, paired):
    """``acc[c] += (a[c] + b[c]) * wj``: a symmetric pair of taps (``paired``), else as two multiply-adds."""
    if paired:
        for c in range(n):
            acc[c] += (a[c] + b[c]) * wj
    else:
        for c in range(n):
            acc[c] = a[c] * wj + (b[c] * wj + acc[c])


@jit(contract=True, inline=True)
def _two_pairs(acc, n, a, b, wa, p, q, wp, paired):
    """``acc[c] += (a[c] + b[c]) * wa + (p[c] + q[c]) * wp``: two pairs, one trip through ``acc`` (as :func:`_pair`)."""
    if paired:
        for c in range(n):
            acc[c] += (a[c] + b[c]) * wa + (p[c] + q[c]) * wp
    else:
        for c in range(n):
            acc[c] = a[c] * wa + (b[c] * wa + (p[c] * wp + (q[c] * wp + acc[c])))


@jit(contract=True, inline=True)
def _antipair(acc, n, a, b, wj, paired):
    """``acc[c] += (a[c] - b[c]) * wj``: an antisymmetric pair of taps (as :func:`_pair`)."""
    if paired:
        for c in range(n):
            acc[c] += (a[c] - b[c]) * wj
    else:
        for c in range(n):
            acc[c] = a[c] * wj + (acc[c] - b[c] * wj)


@jit(contract=True, inline=True)
def _tap(acc, n, a, wj):
    """``acc[c] += a[c] * wj``: one tap."""
    for c in range(n):
        acc[c] += a[c] * wj


@jit(contract=True)
def _column_pass(x, crow, idx0, i, w0, sym0, mid, paired):
    """``mid = sum_a w0[a] * x0[i + a]`` (module notes, step 1)."""
    n = mid.size
    k0 = w0.size
    h0 = k0 // 2
    if sym0 == 0:
        for c in range(n):
            mid[c] = 0
        for j in range(k0):
            q = idx0[i + j]
            _tap(mid, n, x[q] if q >= 0 else crow, w0[j])
        return
    q = idx0[i + h0]
    _set(mid, n, x[q] if q >= 0 else crow, w0[h0])
    j = 0
    while j < h0:
        qa, qb = idx0[i + j], idx0[i + k0 - 1 - j]
        a = x[qa] if qa >= 0 else crow
        b = x[qb] if qb >= 0 else crow
        if sym0 < 0:
            _antipair(mid, n, a, b, w0[j], paired)
        elif j + 1 < h0:
            qp, qq = idx0[i + j + 1], idx0[i + k0 - 2 - j]
            p = x[qp] if qp >= 0 else crow
            r = x[qq] if qq >= 0 else crow
            _two_pairs(mid, n, a, b, w0[j], p, r, w0[j + 1], paired)
            j += 1
        else:
            _pair(mid, n, a, b, w0[j], paired)
        j += 1


@jit(contract=True)
def _row_pass(line, w1, sym1, o, paired):
    """``o[c] = sum_b w1[b] * line[c + b]`` (module notes, step 3)."""
    n = o.size
    k1 = w1.size
    h1 = k1 // 2
    if sym1 == 0:
        for c in range(n):
            o[c] = 0
        for j in range(k1):
            _tap(o, n, line[j:], w1[j])
        return
    _set(o, n, line[h1:], w1[h1])
    j = 0
    while j < h1:
        if sym1 < 0:
            _antipair(o, n, line[j:], line[k1 - 1 - j :], w1[j], paired)
        elif j + 1 < h1:
            _two_pairs(o, n, line[j:], line[k1 - 1 - j :], w1[j], line[j + 1 :], line[k1 - 2 - j :], w1[j + 1], paired)
            j += 1
        else:
            _pair(o, n, line[j:], line[k1 - 1 - j :], w1[j], paired)
        j += 1


@jit(inline=True)
def _extend(line, b, n, idx, fill):
    """The border of ``line`` around ``line[b : b + n]``: ``line[p] = line[b + idx[p]]``, or ``fill`` where negative."""
    for p in range(b):
        q = idx[p]
        line[p] = line[b + q] if q >= 0 else fill
    for p in range(b + n, line.size):
        q = idx[p]
        line[p] = line[b + q] if q >= 0 else fill


@jit(contract=True)
def fused_rows(x, idx0, w0, sym0, idx1, b1, w1, sym1, cval, fill, paired, out, rows, t0, t1):
    """Output rows of blocks ``t0 <= t < t1`` (module notes); ``b1`` is where the row starts in its extension.

    ``fill`` is what the row's extension holds outside the image where ``idx1`` is negative: ``cval`` for
    scipy's passes (each pads its own input), ``cval * sum(w0)`` for an image padded with ``cval`` before
    both passes (``convolve2d``).  ``paired``: how a pair of taps is summed (module notes).
    """
    h, w = x.shape
    k1 = w1.size
    crow = np.full(w, cval, dtype=np.float32)
    line = np.empty(w + k1 - 1, dtype=np.float32)
    mid = line[b1 : b1 + w]
    c32 = np.float32(fill)
    for t in range(t0, t1):
        for i in range(t * rows, min(h, (t + 1) * rows)):
            _column_pass(x, crow, idx0, i, w0, sym0, mid, paired)
            _extend(line, b1, w, idx1, c32)
            _row_pass(line, w1, sym1, out[i], paired)


@jit(contract=True)
def fused_volume(x, idx0, w0, sym0, idx1, w1, sym1, idx2, b2, w2, sym2, cval, out, t0, t1):
    """All three passes of a float32 volume ``x`` (``(D, H, W)``), one output slice per block ``t0 <= t < t1``.

    Slice ``z``: the pass along axis 0 (the column pass of the ``(D, H*W)`` view, ``idx0``/``w0``) into a
    slice of partial sums, then the fused passes along axes 1 and 2 of that slice (as :func:`fused_rows`)
    into ``out[z]``.  The volume is read once and the output written once, with no intermediate volume.
    """
    d, h, w = x.shape
    flat = x.reshape(d, h * w)
    k2 = w2.size
    crow = np.full(h * w, cval, dtype=np.float32)
    slab = np.empty(h * w, dtype=np.float32)
    plane = slab.reshape(h, w)
    line = np.empty(w + k2 - 1, dtype=np.float32)
    mid = line[b2 : b2 + w]
    c32 = np.float32(cval)
    for z in range(t0, t1):
        _column_pass(flat, crow, idx0, z, w0, sym0, slab, True)
        oz = out[z]
        for i in range(h):
            _column_pass(plane, crow, idx1, i, w1, sym1, mid, True)
            _extend(line, b2, w, idx2, c32)
            _row_pass(line, w2, sym2, oz[i], True)


@jit(contract=True, inline=True)
def _add(acc, n, a):
    """``acc[c] += a[c]``."""
    for c in range(n):
        acc[c] += a[c]


@jit(contract=True, inline=True)
def _slide(acc, n, new, old):
    """``acc[c] += new[c] - old[c]``: a running sum moved by one row."""
    for c in range(n):
        acc[c] += new[c] - old[c]


@jit(contract=True)
def fused_box(x, idx0, idx1, b1, cval, out, rows, t0, t1):
    """The mean of a ``k0 x k1`` box (``k0 = idx0.size - H + 1``), blocks of ``rows`` output rows.

    Per block, the column sums of the box's rows run down the block (one row added, one taken away per
    output row: the cost does not grow with ``k0``); each output row then sums ``k1`` shifted copies of
    the extended column sums (adds only: :func:`_box_row_direct` up to :data:`BOX_DIRECT_TAPS` values,
    :func:`_box_row` above) and multiplies once by ``1 / (k0 k1)``.  Module notes for ``idx0``/``idx1``/``cval``.
    """
    h, w = x.shape
    k0 = idx0.size - h + 1
    k1 = idx1.size - w + 1
    crow = np.full(w, cval, dtype=np.float32)
    line = np.empty(w + k1 - 1, dtype=np.float32)
    col = line[b1 : b1 + w]
    scale = np.float32(1.0 / (k0 * k1))
    fill = np.float32(cval * k0)
    pow_a = np.empty(w + k1 - 1, dtype=np.float32)
    pow_b = np.empty(w + k1 - 1, dtype=np.float32)
    scale1 = np.full(1, scale, dtype=np.float32)
    for t in range(t0, t1):
        i0 = t * rows
        i1 = min(h, i0 + rows)
        for c in range(w):
            col[c] = 0
        for j in range(k0):
            q = idx0[i0 + j]
            _add(col, w, x[q] if q >= 0 else crow)
        for i in range(i0, i1):
            if i > i0:
                qn, qo = idx0[i + k0 - 1], idx0[i - 1]
                _slide(col, w, x[qn] if qn >= 0 else crow, x[qo] if qo >= 0 else crow)
            _extend(line, b1, w, idx1, fill)
            if k1 <= BOX_DIRECT_TAPS:
                _box_row_direct(line, k1, out[i], scale1)
            else:
                _box_row(line, k1, out[i], pow_a, pow_b, scale)


#: Boxes of at most this many values along a row are summed value by value (:func:`_box_row_direct`: a
#: load and an add per value and 8 outputs, four vectors of outputs at a time), wider ones from sums of
#: powers of two (:func:`_box_row`: about ``2 log2(k1)`` passes over the row, each a load and a store
#: per output).  At 24 values both cost about the same number of memory operations per output.
BOX_DIRECT_TAPS = 24


@jit(contract=True)
def _box_row_direct(line, k1, o, scale1):
    """``o[c] = scale1[0] * sum_{j < k1} line[c + j]``, the values added in the order of ``j`` for every ``c``.

    Eight outputs per vector, four vectors at a time (four independent chains of adds), then one vector at a
    time, then the last ``o.size % 8`` outputs one by one, in the same order of adds.
    """
    n = o.size
    pa = np.int64(line.ctypes.data)
    po = np.int64(o.ctypes.data)
    s = vbcast(np.int64(scale1.ctypes.data), 8)
    z = vzero(8)
    c = 0
    while c + 32 <= n:
        a0 = vload(pa + 4 * c, 8)
        a1 = vload(pa + 4 * (c + 8), 8)
        a2 = vload(pa + 4 * (c + 16), 8)
        a3 = vload(pa + 4 * (c + 24), 8)
        for j in range(1, k1):
            q = pa + 4 * (c + j)
            a0 = vadd(a0, vload(q, 8))
            a1 = vadd(a1, vload(q + 32, 8))
            a2 = vadd(a2, vload(q + 64, 8))
            a3 = vadd(a3, vload(q + 96, 8))
        vstore(po + 4 * c, vfma(a0, s, z))
        vstore(po + 4 * (c + 8), vfma(a1, s, z))
        vstore(po + 4 * (c + 16), vfma(a2, s, z))
        vstore(po + 4 * (c + 24), vfma(a3, s, z))
        c += 32
    while c + 8 <= n:
        a0 = vload(pa + 4 * c, 8)
        for j in range(1, k1):
            a0 = vadd(a0, vload(pa + 4 * (c + j), 8))
        vstore(po + 4 * c, vfma(a0, s, z))
        c += 8
    for r in range(c, n):
        acc = line[r]
        for j in range(1, k1):
            acc += line[r + j]
        o[r] = acc * scale1[0]
    keep_alive(line)
    keep_alive(o)
    keep_alive(scale1)


@jit(contract=True)
def _box_row(line, k1, o, pow_a, pow_b, scale):
    """``o[c] = scale * sum_{j < k1} line[c + j]`` from sums of 1, 2, 4, ... values (the bits of ``k1``).

    Sums of ``2m`` values are made from two of ``m`` (``pow[c] = cur[c] + cur[c + m]``), so a box of
    ``k1`` values costs about ``2 log2(k1)`` adds per output instead of ``k1``.
    """
    n = o.size
    for c in range(n):
        o[c] = 0
    cur = line
    width = 1
    off = 0
    rem = k1
    flip = True
    while rem:
        if rem & 1:
            _add(o, n, cur[off:])
            off += width
        rem >>= 1
        if rem:
            nxt = pow_a if flip else pow_b
            flip = not flip
            m = cur.size - width
            for c in range(m):
                nxt[c] = cur[c] + cur[c + width]
            cur = nxt[:m]
            width *= 2
    for c in range(n):
        o[c] *= scale


@jit(contract=True)
def laplace_rows(x, idx0, idx1, cval, out, rows, t0, t1):
    """``out = d0 + d1``: the second differences ``[1, -2, 1]`` along axis 0 and along axis 1 of ``x``.

    As scipy's ``laplace`` adds them (each pass of the input extended with ``idx0``/``idx1``, ``cval``
    where negative), one output row at a time.
    """
    h, w = x.shape
    crow = np.full(w, cval, dtype=np.float32)
    line = np.empty(w + 2, dtype=np.float32)
    c32 = np.float32(cval)
    m2 = np.float32(-2.0)
    for t in range(t0, t1):
        for i in range(t * rows, min(h, (t + 1) * rows)):
            qa, qb, qc = idx0[i], idx0[i + 1], idx0[i + 2]
            a = x[qa] if qa >= 0 else crow
            b = x[qb] if qb >= 0 else crow
            d = x[qc] if qc >= 0 else crow
            row = x[i]
            for c in range(w):
                line[1 + c] = row[c]
            _extend(line, 1, w, idx1, c32)
            o = out[i]
            _second(o, w, a, b, d, line, line[1:], line[2:], m2)


@jit(contract=True, inline=True)
def _second(o, n, a, b, d, p, q, r, m2):
    """``o[c] = (b[c] * -2 + (a[c] + d[c])) + (q[c] * -2 + (p[c] + r[c]))``."""
    for c in range(n):
        o[c] = (b[c] * m2 + (a[c] + d[c])) + (q[c] * m2 + (p[c] + r[c]))


# ---------------------------------------------------------------------------------------------------------------
# Integer images: the same fused passes in float64, in scipy's order of operations exactly (no fused
# multiply-adds, one pair of taps per step, outermost first), each pass truncated as scipy stores it.


@jit(inline=True)
def _xset(acc, n, a, wc):
    """``acc[c] = float64(a[c]) * wc`` (no fused multiply-add: scipy's rounding)."""
    for c in range(n):
        acc[c] = np.float64(a[c]) * wc


@jit(inline=True)
def _xpair(acc, n, a, b, wj):
    """``acc[c] += (float64(a[c]) + float64(b[c])) * wj``."""
    for c in range(n):
        acc[c] += (np.float64(a[c]) + np.float64(b[c])) * wj


@jit(inline=True)
def _xanti(acc, n, a, b, wj):
    """``acc[c] += (float64(a[c]) - float64(b[c])) * wj``."""
    for c in range(n):
        acc[c] += (np.float64(a[c]) - np.float64(b[c])) * wj


@jit(inline=True)
def _xtap(acc, n, a, wj):
    """``acc[c] += float64(a[c]) * wj``."""
    for c in range(n):
        acc[c] += np.float64(a[c]) * wj


@jit(inline=True)
def _exact_pass(line, w, sym, acc, m):
    """``acc[i]`` = scipy's float64 sum of the taps ``line[j + i]`` with weights ``w`` (``i < m``), in its order."""
    size = w.size
    s1 = size // 2
    if sym != 0:
        _xset(acc, m, line[s1:], w[s1])
        for j in range(s1):
            if sym > 0:
                _xpair(acc, m, line[j:], line[size - 1 - j :], w[j])
            else:
                _xanti(acc, m, line[j:], line[size - 1 - j :], w[j])
    else:
        _xset(acc, m, line[size - 1 :], w[size - 1])
        for j in range(size - 1):
            _xtap(acc, m, line[j:], w[j])


@jit()
def exact_rows(x, crow, idx0, w0, sym0, idx1, b1, w1, sym1, cval, lo, hi, out, bad, rows, t0, t1):
    """:func:`fused_rows` for integer images in scipy's float64 arithmetic, bit for bit.

    The column pass sums rows of ``x`` (``crow``: a row of ``cval`` in ``x``'s dtype, where ``idx0`` is
    negative) in scipy's order into ``mid``; each value is truncated toward zero as scipy stores its
    intermediate image (a value outside ``(lo, hi)`` marks the block in ``bad``), the row is extended
    with ``idx1``/``cval`` and the row pass summed and stored likewise.
    """
    h, w = x.shape
    k0, k1 = w0.size, w1.size
    h0 = k0 // 2
    line = np.empty(w + k1 - 1, dtype=np.float64)
    mid = np.empty(w, dtype=np.float64)
    acc = np.empty(w, dtype=np.float64)
    for t in range(t0, t1):
        for i in range(t * rows, min(h, (t + 1) * rows)):
            if sym0 != 0:
                q = idx0[i + h0]
                _xset(mid, w, x[q] if q >= 0 else crow, w0[h0])
                for j in range(h0):
                    qa, qb = idx0[i + j], idx0[i + k0 - 1 - j]
                    a = x[qa] if qa >= 0 else crow
                    b = x[qb] if qb >= 0 else crow
                    if sym0 > 0:
                        _xpair(mid, w, a, b, w0[j])
                    else:
                        _xanti(mid, w, a, b, w0[j])
            else:
                q = idx0[i + k0 - 1]
                _xset(mid, w, x[q] if q >= 0 else crow, w0[k0 - 1])
                for j in range(k0 - 1):
                    qa = idx0[i + j]
                    _xtap(mid, w, x[qa] if qa >= 0 else crow, w0[j])
            ok = True
            for col in range(w):
                v = mid[col]
                if lo < v < hi:
                    line[b1 + col] = np.trunc(v)
                else:
                    line[b1 + col] = 0.0
                    ok = False
            for p in range(b1):
                q = idx1[p]
                line[p] = line[b1 + q] if q >= 0 else cval
            for p in range(b1 + w, w + k1 - 1):
                q = idx1[p]
                line[p] = line[b1 + q] if q >= 0 else cval
            _exact_pass(line, w1, sym1, acc, w)
            if not _store(acc, out[i], w, lo, hi, True):
                ok = False
            if not ok:
                bad[t] = 1

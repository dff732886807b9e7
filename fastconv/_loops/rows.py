"""Row helpers shared by the ``direct`` paths: where the interior starts, the border, staging.

Notation as in :mod:`fastconv._loops`.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit
from .lanes import _store


@jit(inline=True)
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
def _block_border(xc, k, oc, i0, i1, i_lo, i_hi, j_lo, j_hi, sh, sw, dh, dw, pt, pl, acc):
    """Border outputs of rows ``i0 <= i < i1`` of one channel ``oc``; return the block's interior rows.

    Rows outside the interior ``[i_lo, i_hi)`` (or every row, when no column is
    interior) are computed whole with :func:`_edge`; the other rows only at
    columns outside ``[j_lo, j_hi)``.  Returns ``(ib0, ib1)``, the rows whose
    interior columns are left to the caller (``ib0 == ib1`` when there are none).
    """
    OW = oc.shape[1]
    ib0, ib1 = max(i0, i_lo), min(i1, i_hi)
    if j_hi <= j_lo or ib0 >= ib1:
        ib0 = ib1 = i1
    zero = np.int64(0)  # not the literal 0: one compiled signature of _edge, not two
    for i in range(i0, i1):
        row = oc[i]
        r0 = i * sh - pt
        if not ib0 <= i < ib1:
            _edge(xc, k, r0, -pl, sw, dh, dw, zero, OW, row, acc)
            continue
        _edge(xc, k, r0, -pl, sw, dh, dw, zero, j_lo, row, acc)
        _edge(xc, k, r0, -pl, sw, dh, dw, j_hi, OW, row, acc)
    return ib0, ib1

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


@jit(inline=True)
def _edge_sum(xc, k, r, s, dh, dw, acc):
    """One output with every tap bounds-checked: ``sum k[a, b] * xc[r + a*dh, s + b*dw]`` over taps inside ``xc``.

    ``acc`` is a scratch array of the accumulator dtype (the sum is made in
    ``acc[0]``, in that dtype's arithmetic).  Inlined into its callers.
    """
    H, W = xc.shape
    kh, kw = k.shape
    acc[0] = 0
    for a in range(kh):
        ra = r + a * dh
        if 0 <= ra < H:
            for b in range(kw):
                sb = s + b * dw
                if 0 <= sb < W:
                    acc[0] += k[a, b] * xc[ra, sb]
    return acc[0]


@jit()
def _edge(xc, k, r0, s0, sw, dh, dw, j0, j1, row, acc):
    """Output columns ``j0 <= j < j1`` of one row with every tap bounds-checked (:func:`_edge_sum`).

    ``r0``/``s0`` are the input row/column of tap ``(0, 0)`` for column 0
    (negative inside the padding).  ``acc`` is a scratch array of the
    accumulator dtype.
    """
    for j in range(j0, j1):
        row[j] = _store(_edge_sum(xc, k, r0, s0 + j * sw, dh, dw, acc), row)


@jit()
def _edge_rows_cut(xc, k, r0, dh, dw, base, o, acc):
    """``o[j]``: outputs of one row whose window's columns all lie inside ``xc`` but not its rows (column stride 1).

    Output ``j`` reads columns ``base + j + b*dw``; kernel rows whose input
    row ``r0 + a*dh`` lies outside ``xc`` are left out, the others added tap by
    tap along the row in ``acc`` (the accumulator dtype; the order of the sums
    is :func:`_edge_sum`'s), so the loop vectorises where the tap-by-tap
    bounds checks of :func:`_edge` did not.
    """
    H = xc.shape[0]
    kh, kw = k.shape
    n = o.shape[0]
    B = acc.shape[0]
    for jb in range(0, n, B):
        m = min(B, n - jb)
        for j in range(m):
            acc[j] = 0
        for a in range(kh):
            r = r0 + a * dh
            if 0 <= r < H:
                for b in range(kw):
                    w = k[a, b]
                    p = xc[r, base + jb + b * dw :]
                    for j in range(m):
                        acc[j] += w * p[j]
        ob = o[jb:]
        for j in range(m):
            ob[j] = _store(acc[j], o)


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

    Rows outside the interior ``[i_lo, i_hi)`` are computed whole: at column
    stride 1 their interior columns with :func:`_edge_rows_cut`, otherwise (or
    when no column is interior) with :func:`_edge`; the other rows only at
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
            if sw != 1 or j_hi <= j_lo:
                _edge(xc, k, r0, -pl, sw, dh, dw, zero, OW, row, acc)
                continue
            # a row of the top or bottom border: its interior columns vectorised, the sides below
            _edge_rows_cut(xc, k, r0, dh, dw, j_lo - pl, row[j_lo:j_hi], acc)
        # the few columns at each side, [0, j_lo) and [j_hi, OW), here: not through a call per row and side
        # (a call cost as much as the output it computed: a third of a 200x200 3x3 call with padding), and
        # in one loop (one inlined copy of _edge_sum to compile)
        for q in range(j_lo + OW - j_hi):
            j = q if q < j_lo else q - j_lo + j_hi
            row[j] = _store(_edge_sum(xc, k, r0, j * sw - pl, dh, dw, acc), row)
    return ib0, ib1

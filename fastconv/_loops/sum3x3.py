"""The 3x3 paths of ``direct``: nine taps held in registers, one write per output.

Notation as in :mod:`fastconv._loops`: output ``(i, j)`` of one channel reads
input rows ``r0 + i*sh + a*dh`` and columns ``base + j*sw + b*dw`` for the
taps ``(a, b)`` of the kernel ``k``.  Only interior outputs (every tap inside
the image) come here; :mod:`fastconv._loops.correlate2d` computes the border.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit
from .lanes import _is_int, _narrow, _store, _sum_target
from .rows import _stage


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


@jit()
def _line9(k, xc, ra, rb, rc, base, dw, n, dst):
    """``dst[j] = sum_ab k[a, b] * xc[r_a, base + j + b*dw]`` for ``j < n``: a 3x3 kernel at column stride 1.

    ``r_a`` is ``ra``, ``rb``, ``rc`` for kernel rows 0, 1, 2.  The input is
    indexed with unsigned indices (no wraparound checks), so the loop
    vectorises.  Column stride 2 goes through :func:`_line9_s2`.
    """
    k00, k01, k02 = k[0, 0], k[0, 1], k[0, 2]
    k10, k11, k12 = k[1, 0], k[1, 1], k[1, 2]
    k20, k21, k22 = k[2, 0], k[2, 1], k[2, 2]
    ua, ub, uc = np.uint64(ra), np.uint64(rb), np.uint64(rc)
    c0 = np.uint64(base)
    c1 = np.uint64(base + dw)
    c2 = np.uint64(base + 2 * dw)
    for j in range(n):
        uj = np.uint64(j)
        v = k00 * xc[ua, c0 + uj] + k01 * xc[ua, c1 + uj] + k02 * xc[ua, c2 + uj]
        v += k10 * xc[ub, c0 + uj] + k11 * xc[ub, c1 + uj] + k12 * xc[ub, c2 + uj]
        v += k20 * xc[uc, c0 + uj] + k21 * xc[uc, c1 + uj] + k22 * xc[uc, c2 + uj]
        dst[j] = _store(_narrow(v, k), dst)


@jit()
def _line9_s2(k, ring, sa, sb, sc, j0, n, dst, d0):
    """:func:`_line9` at column stride 2 (``dw == 1``) from staged rows, outputs ``j0 <= j < j0 + n``.

    ``ring[s, 0]`` / ``ring[s, 1]`` hold the even / odd columns of the input
    row in slot ``s`` (slots ``sa``, ``sb``, ``sc`` for kernel rows 0, 1, 2), so
    the taps of output ``j`` are ``even[j]``, ``odd[j]`` and ``even[j + 1]``:
    unit stride, and the loop vectorises (``ring`` is passed whole, C-contiguous,
    and offset by ``j0``: a view of it would not be).  ``dst[d0 + j - j0]`` is output ``j``.
    """
    k00, k01, k02 = k[0, 0], k[0, 1], k[0, 2]
    k10, k11, k12 = k[1, 0], k[1, 1], k[1, 2]
    k20, k21, k22 = k[2, 0], k[2, 1], k[2, 2]
    ua, ub, uc = np.uint64(sa), np.uint64(sb), np.uint64(sc)
    z = np.uint64(0)
    u1 = np.uint64(1)
    for j in range(n):
        uj = np.uint64(j + j0)
        v = k00 * ring[ua, z, uj] + k01 * ring[ua, u1, uj] + k02 * ring[ua, z, uj + u1]
        v += k10 * ring[ub, z, uj] + k11 * ring[ub, u1, uj] + k12 * ring[ub, z, uj + u1]
        v += k20 * ring[uc, z, uj] + k21 * ring[uc, u1, uj] + k22 * ring[uc, z, uj + u1]
        dst[d0 + j] = _store(_narrow(v, k), dst)


@jit()
def _sum5_rows(k, xc, r0, sh, dh, dw, base, oc, i0, i1, j0, j1, acc):
    """:func:`_sum9_rows` for an integer 3x3 kernel with at most five nonzero taps: the zero taps skipped.

    The taps summed are the nonzero ones, in row-major order, then zero taps
    up to five (adding nothing: integer sums are exact, and an integer image
    has no NaN or infinity for a zero weight to turn into NaN).  The caller
    checks that ``k`` has at most five nonzero taps.  Five taps instead of nine
    (the seed's kernel2, a Laplacian or sharpening cross) read and multiply
    four fewer input vectors per output vector.  The taps' weights and offsets
    are found once per call, not per row (on 200-pixel rows that setup cost
    as much as the four taps saved).
    """
    ta = np.zeros(5, dtype=np.int64)
    tb = np.zeros(5, dtype=np.int64)
    m = 0
    za, zb = 0, 0
    for a in range(3):
        for b in range(3):
            if k[a, b] != 0 and m < 5:
                ta[m], tb[m] = a, b
                m += 1
            elif k[a, b] == 0:
                za, zb = a, b
    for t in range(m, 5):
        ta[t], tb[t] = za, zb
    w0, w1, w2, w3, w4 = k[ta[0], tb[0]], k[ta[1], tb[1]], k[ta[2], tb[2]], k[ta[3], tb[3]], k[ta[4], tb[4]]
    a0, a1, a2, a3, a4 = ta[0] * dh, ta[1] * dh, ta[2] * dh, ta[3] * dh, ta[4] * dh
    # input columns as unsigned indices (no wraparound checks), so the loop vectorises
    c0, c1, c2 = np.uint64(base + tb[0] * dw), np.uint64(base + tb[1] * dw), np.uint64(base + tb[2] * dw)
    c3, c4 = np.uint64(base + tb[3] * dw), np.uint64(base + tb[4] * dw)
    n = j1 - j0
    B = acc.shape[0]
    for i in range(i1 - i0):
        ra = r0 + i * sh
        u0, u1, u2 = np.uint64(ra + a0), np.uint64(ra + a1), np.uint64(ra + a2)
        u3, u4 = np.uint64(ra + a3), np.uint64(ra + a4)
        o = oc[i0 + i, j0:]
        for jb in range(0, n, B):
            w = min(B, n - jb)
            ub = np.uint64(jb)
            for j in range(w):
                uj = ub + np.uint64(j)
                v = w0 * xc[u0, c0 + uj] + w1 * xc[u1, c1 + uj] + w2 * xc[u2, c2 + uj]
                v += w3 * xc[u3, c3 + uj] + w4 * xc[u4, c4 + uj]
                acc[j] = _narrow(v, k)
            ob = o[jb:]
            for j in range(w):
                ob[j] = acc[j]


@jit()
def _ring_slot(xc, r, dh, base, ring, held):
    """The slot of ``ring`` holding input row ``r`` de-interleaved from column ``base``, staging it if needed.

    Rows ``r``, ``r + dh``, ``r + 2*dh`` (the three kernel rows of one output
    row) go to three different slots, ``(r // dh) % 3``, whatever the dilation.
    """
    s = (r // dh) % 3
    if held[s] != r:
        _stage(xc[r], base, 2, ring[s])  # the literal 2: a stride known when compiled
        held[s] = r
    return s


@jit()
def _sum9_rows(k, xc, r0, sh, dh, dw, base, oc, i0, i1, j0, j1, acc):
    """3x3 kernel at column stride 1: ``oc[i, j]`` for ``i0 <= i < i1``, ``j0 <= j < j1`` (interior only).

    Output ``(i0 + i, j0 + j)`` reads input rows ``r0 + i*sh + a*dh`` from
    column ``base + j + b*dw`` (see :func:`_line9`).  A narrow integer kernel
    sums a chunk of the row into ``acc`` (its own dtype, so 16 int16 lanes per
    register) and then widens the chunk into the row; a float kernel writes
    the whole row directly (:func:`_line9` is a call, not inlined, and its
    row index is the loop's own counter: written into the row at an offset,
    the same loop ran 2x slower on a column-dilated 3x3 call, the layout of
    an RGB image).  For either kernel both call sites have one signature
    (:func:`_sum_target`), so ``_line9`` compiles once.
    """
    n = j1 - j0
    B = acc.shape[0]
    for i in range(i1 - i0):
        ra = r0 + i * sh
        o = oc[i0 + i, j0:]
        if not _is_int(k):
            # the whole row at once (a float row is its own accumulator)
            _line9(k, xc, ra, ra + dh, ra + 2 * dh, base, dw, n, _sum_target(acc, o, k))
            continue
        for jb in range(0, n, B):
            m = min(B, n - jb)
            _line9(k, xc, ra, ra + dh, ra + 2 * dh, base + jb, dw, m, acc)
            ob = o[jb:]
            for j in range(m):
                ob[j] = acc[j]


@jit()
def _sum9_rows_s2(k, xc, r0, sh, dh, base, oc, i0, i1, j0, j1, acc, ring):
    """:func:`_sum9_rows` at column stride 2 and column dilation 1 (see :func:`_line9_s2`).

    Each input row is de-interleaved once into ``ring`` (three slots of even
    and odd columns, reused by the next output row).
    """
    n = j1 - j0
    B = acc.shape[0]
    held = np.full(3, -1, dtype=np.int64)
    for i in range(i1 - i0):
        ra = r0 + i * sh
        o = oc[i0 + i, j0:]
        sa = _ring_slot(xc, ra, dh, base, ring, held)
        sb = _ring_slot(xc, ra + dh, dh, base, ring, held)
        sc = _ring_slot(xc, ra + 2 * dh, dh, base, ring, held)
        if not _is_int(k):
            # one signature for both calls (see _sum9_rows; j0 an int64, not the literal 0)
            _line9_s2(k, ring, sa, sb, sc, np.int64(0), n, _sum_target(acc, o, k), 0)
            continue
        for jb in range(0, n, B):
            m = min(B, n - jb)
            _line9_s2(k, ring, sa, sb, sc, jb, m, acc, 0)
            ob = o[jb:]
            for j in range(m):
                ob[j] = acc[j]

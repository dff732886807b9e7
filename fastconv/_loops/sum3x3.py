"""The 3x3 paths of ``direct``: nine taps held in registers, one write per output.

Notation as in :mod:`fastconv._loops`: output ``(i, j)`` of one channel reads
input rows ``r0 + i*sh + a*dh`` and columns ``base + j*sw + b*dw`` for the
taps ``(a, b)`` of the kernel ``k``.  Only interior outputs (every tap inside
the image) come here; :mod:`fastconv._loops.correlate2d` computes the border.
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np
from numba.extending import intrinsic

from .._jit import jit
from .lanes import _is_int, _narrow, _store, _sum_target
from .rows import _stage
from .vec import F32X, keep_alive, vadd, vbcast, vfma, vload, vstore


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


# Float32 at column stride 2: the even and odd columns taken apart in registers, not staged.
#: Lane ``l`` of a vector in "pair order" holds output ``j + _PAIR_ORDER[l]`` of 8 outputs ``j ...
#: j + 7``: the order in which one vshufps takes the even or the odd floats of two ymm registers
#: apart (each 128-bit half on its own).  A sum is put back in column order once per 8 outputs,
#: by one vpermpd.
_PAIR_ORDER = (0, 1, 4, 5, 2, 3, 6, 7)


def _shuffle(mask, doc):
    """An intrinsic ``f(a, b)``: lanes of the two 8-float vectors ``a``, ``b`` picked by ``mask`` (``b``'s from 8)."""

    @intrinsic
    def pick(typingctx, a, b):
        if not (a == b == F32X[8]):
            return None

        def codegen(context, builder, sig, args):
            lanes = ir.Constant(ir.VectorType(ir.IntType(32), 8), list(mask))
            return builder.shuffle_vector(args[0], args[1], lanes)

        return a(a, a), codegen

    pick.__doc__ = doc
    return pick


_evens = _shuffle((0, 2, 8, 10, 4, 6, 12, 14), "The even lanes of the 16 floats ``a, b``, in pair order.")
_odds = _shuffle((1, 3, 9, 11, 5, 7, 13, 15), "The odd lanes of the 16 floats ``a, b``, in pair order.")
_alternate = _shuffle((0, 8, 0, 8, 0, 8, 0, 8), "``a[0], b[0], a[0], b[0], ...``: two weights in turn.")
_column_order = _shuffle(
    tuple(_PAIR_ORDER.index(lane) for lane in range(8)),
    "``a``'s lanes from pair order back to column order (``a, a``).",
)


@intrinsic
def _vmul(typingctx, a, b):
    """``a * b`` lane by lane (marked ``contract``: fused with an addition that follows)."""
    if not (a == b == F32X[8]):
        return None

    def codegen(context, builder, sig, args):
        return builder.fmul(args[0], args[1], flags=("contract",))

    return a(a, a), codegen


@jit(contract=True, inline=True)
def _sum9_s2x8(p, step, w0, w1, w2, u0, u1, u2):
    """8 outputs of a 3x3 kernel at column stride 2: kernel row ``a`` reads the row at byte address ``p + a*step``.

    Output ``j`` reads columns ``2j``, ``2j + 1``, ``2j + 2`` from ``p``.  The
    taps of kernel columns 0 and 1 are summed on the row as it lies:
    ``t = sum_a w_a * x_a[0:16]`` with ``w_a = (k[a, 0], k[a, 1], k[a, 0], ...)``,
    whose even and odd lanes are then added; the taps of column 2,
    ``u = sum_a k[a, 2] * x_a[2j + 2]``, from the odd lanes of ``x_a[1:17]``.
    Two shuffles per kernel row and three per 8 outputs, against three per
    kernel row when every tap is taken apart first (measured 1.3x faster hot
    in L1, on an AVX2 Zen 3).  An output is ``(t_even + t_odd) + u``, each of
    ``t``, ``u`` summed over the kernel rows in order with fused
    multiply-adds; exactly the 17 floats of a row the 8 windows span are read.
    """
    t = _vmul(w0, vload(p, 8))
    t2 = _vmul(w0, vload(p + 32, 8))
    u = _vmul(u0, _odds(vload(p + 4, 8), vload(p + 36, 8)))
    p += step
    t = vfma(w1, vload(p, 8), t)
    t2 = vfma(w1, vload(p + 32, 8), t2)
    u = vfma(u1, _odds(vload(p + 4, 8), vload(p + 36, 8)), u)
    p += step
    t = vfma(w2, vload(p, 8), t)
    t2 = vfma(w2, vload(p + 32, 8), t2)
    u = vfma(u2, _odds(vload(p + 4, 8), vload(p + 36, 8)), u)
    s = vadd(vadd(_evens(t, t2), _odds(t, t2)), u)
    return _column_order(s, s)


@jit(contract=True)
def _sum9_rows_s2_f32(k, xc, r0, sh, dh, base, oc, i0, i1, j0, j1):
    """:func:`_sum9_rows_s2` for float32 (C-contiguous ``k``, ``xc``, ``oc``): 8 outputs per vector, nothing staged.

    ``oc[i0 + i, j0 + j] = sum_ab k[a, b] * xc[r0 + i*sh + a*dh, base + 2j + b]``,
    summed as :func:`_sum9_s2x8` says: the input is read in place and taken
    apart in registers (against staging each input row into even and odd
    columns first and summing nine taps per output from there, as
    :func:`_sum9_rows_s2` does: a 1024x1024 call 1.3-1.5x faster, measured on
    an AVX2 Zen 3).  A row of fewer than 8 outputs goes
    through a zero-padded copy of its windows; otherwise the last vector of a
    row ends at the row's end, overlapping the one before (its outputs are the
    same sums).
    """
    n = j1 - j0
    m = i1 - i0
    if n <= 0 or m <= 0:
        return
    ka = np.int64(k.ctypes.data)
    w0, u0 = _alternate(vbcast(ka, 8), vbcast(ka + 4, 8)), vbcast(ka + 8, 8)
    w1, u1 = _alternate(vbcast(ka + 12, 8), vbcast(ka + 16, 8)), vbcast(ka + 20, 8)
    w2, u2 = _alternate(vbcast(ka + 24, 8), vbcast(ka + 28, 8)), vbcast(ka + 32, 8)
    xrow = np.int64(4 * xc.shape[1])
    orow = np.int64(4 * oc.shape[1])
    if n < 8:
        # each row's windows (2n + 1 floats of 3 rows) copied into zeros of 17 floats a row
        pad = np.zeros((3, 17), dtype=np.float32)
        out8 = np.empty(8, dtype=np.float32)
        for i in range(m):
            ra = r0 + i * sh
            for a in range(3):
                src = xc[ra + a * dh, base:]
                for c in range(2 * n + 1):
                    pad[a, c] = src[c]
            vstore(np.int64(out8.ctypes.data), _sum9_s2x8(np.int64(pad.ctypes.data), 68, w0, w1, w2, u0, u1, u2))
            orw = oc[i0 + i, j0:]
            for j in range(n):
                orw[j] = out8[j]
        keep_alive(pad)
        keep_alive(out8)
    else:
        x0 = np.int64(xc.ctypes.data) + 4 * base
        o0 = np.int64(oc.ctypes.data) + 4 * j0
        step = dh * xrow
        for i in range(m):
            pa = x0 + (r0 + i * sh) * xrow
            po = o0 + (i0 + i) * orow
            for jb in range(0, n, 8):
                j = min(jb, n - 8)
                vstore(po + 4 * j, _sum9_s2x8(pa + 8 * j, step, w0, w1, w2, u0, u1, u2))
    keep_alive(xc)
    keep_alive(oc)
    keep_alive(k)


@jit()
def _line9_s2_bytes(k, p, ra, rb, rc, base, n, dst):
    """``dst[j] = sum_ab k[a, b] * x[r_a, base + 2j + b]`` for ``j < n``: a 3x3 kernel at column stride 2, uint8 rows.

    ``p`` is the image as uint16 (``x.view(np.uint16)``, little-endian): its
    element ``(r, m)`` holds columns ``2m`` (low byte) and ``2m + 1`` (high
    byte) of row ``r``.  For an even ``base`` the taps of output ``j`` are the
    low and high byte of ``p[r, m]`` and the low byte of ``p[r, m + 1]``
    (``m = base/2 + j``); for an odd one the high byte of the first and both
    bytes of the second.  Unit-stride loads and two bit operations, no
    shuffles: the loop vectorises in the kernel's narrow lanes (:func:`_narrow`).
    """
    k00, k01, k02 = k[0, 0], k[0, 1], k[0, 2]
    k10, k11, k12 = k[1, 0], k[1, 1], k[1, 2]
    k20, k21, k22 = k[2, 0], k[2, 1], k[2, 2]
    ua, ub, uc = np.uint64(ra), np.uint64(rb), np.uint64(rc)
    c = np.uint64(base // 2)
    u1 = np.uint64(1)
    low = np.uint16(0xFF)
    eight = np.uint16(8)
    if base % 2 == 0:
        for j in range(n):
            uj = c + np.uint64(j)
            a0, a1 = p[ua, uj], p[ua, uj + u1]
            b0, b1 = p[ub, uj], p[ub, uj + u1]
            d0, d1 = p[uc, uj], p[uc, uj + u1]
            v = k00 * (a0 & low) + k01 * (a0 >> eight) + k02 * (a1 & low)
            v += k10 * (b0 & low) + k11 * (b0 >> eight) + k12 * (b1 & low)
            v += k20 * (d0 & low) + k21 * (d0 >> eight) + k22 * (d1 & low)
            dst[j] = _narrow(v, k)
    else:
        for j in range(n):
            uj = c + np.uint64(j)
            a0, a1 = p[ua, uj], p[ua, uj + u1]
            b0, b1 = p[ub, uj], p[ub, uj + u1]
            d0, d1 = p[uc, uj], p[uc, uj + u1]
            v = k00 * (a0 >> eight) + k01 * (a1 & low) + k02 * (a1 >> eight)
            v += k10 * (b0 >> eight) + k11 * (b1 & low) + k12 * (b1 >> eight)
            v += k20 * (d0 >> eight) + k21 * (d1 & low) + k22 * (d1 >> eight)
            dst[j] = _narrow(v, k)


@jit()
def _sum9_rows_s2_bytes(k, xc, r0, sh, dh, base, oc, i0, i1, j0, j1, acc):
    """:func:`_sum9_rows_s2` for a uint8 image of even width (:func:`_line9_s2_bytes`).

    Nothing is staged: the rows are read in place as uint16 pairs of columns.
    A chunk of each row is summed into ``acc`` (the kernel's narrow lanes),
    then widened into the output row.
    """
    p = xc.view(np.uint16)
    n = j1 - j0
    B = acc.shape[0]
    for i in range(i1 - i0):
        ra = r0 + i * sh
        o = oc[i0 + i, j0:]
        for jb in range(0, n, B):
            m = min(B, n - jb)
            _line9_s2_bytes(k, p, ra, ra + dh, ra + 2 * dh, base + 2 * jb, m, acc)
            ob = o[jb:]
            for j in range(m):
                ob[j] = acc[j]

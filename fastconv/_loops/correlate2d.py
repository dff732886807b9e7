"""``direct``, the fast backend of :func:`fastconv.convolve2d`: row blocks vectorised along the row.

Notation as in :mod:`fastconv._loops`.  :func:`fastconv._direct.direct` picks
the arithmetic (exact narrow integers, exact floats, or the input's own float
type) and the path, in Python; the paths here: input rows read in place
(``_inplace_*``) or staged first (``_staged_*``); 3x3 kernels go to :mod:`fastconv._loops.sum3x3`, float32 at
stride 1 to the register tiles of :mod:`fastconv._loops.tiles2d`, other sizes
add up to 15 taps per pass into a block of partial sums.  Each path is one
compiled block function (:data:`PATHS`), so a call compiles only its own
path's loops.

The multiply-add helpers (``_rows35`` ... ``_tap1``) are inlined into their
callers, which are compiled with ``jit(contract=True)``: LLVM fuses each
``w * p + acc`` into one FMA (about 5% faster per pass here, and fewer
roundings); the order of the sums is unchanged and NaN/inf propagate (see
:mod:`fastconv._jit`).  Inlined, they are not compiled on their own.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit
from .lanes import _store
from .rows import _block_border, _edge, _interior, _stage
from .sum3x3 import _sum5_rows, _sum9, _sum9_rows, _sum9_rows_s2, _sum9_rows_s2_bytes, _sum9_rows_s2_f32
from .tiles2d import TILE_COLS, TILE_ROWS, tile_region, tile_row_filter, tiles_apply

# Width of the block of output columns whose partial sums ``direct`` keeps in
# a local buffer (float32: 2 KiB, well inside L1 with the input rows it reads).
_BLOCK = 512
# Output rows per parallel task of ``direct`` (one allocation of scratch per task).
_ROWS = 16


@jit(contract=True, inline=True)
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


@jit(contract=True, inline=True)
def _rows15(acc, n, p, k, a, b):
    """``acc[j] += sum_v k[a, b+v] * p[j + v]`` over 5 taps ``v`` of one kernel row (``dw == 1``)."""
    a0, a1, a2, a3, a4 = k[a, b], k[a, b + 1], k[a, b + 2], k[a, b + 3], k[a, b + 4]
    for j in range(n):
        acc[j] += a0 * p[j] + a1 * p[j + 1] + a2 * p[j + 2] + a3 * p[j + 3] + a4 * p[j + 4]


@jit(contract=True, inline=True)
def _rows31(acc, n, p, q, r, w0, w1, w2):
    """``acc[j] += w0*p[j] + w1*q[j] + w2*r[j]``: one tap of three kernel rows."""
    for j in range(n):
        acc[j] += w0 * p[j] + w1 * q[j] + w2 * r[j]


@jit(contract=True, inline=True)
def _taps4(acc, n, p0, p1, p2, p3, w0, w1, w2, w3):
    """``acc[j] += w0*p0[j] + w1*p1[j] + w2*p2[j] + w3*p3[j]``: four taps of one kernel row."""
    for j in range(n):
        acc[j] += w0 * p0[j] + w1 * p1[j] + w2 * p2[j] + w3 * p3[j]


@jit(contract=True, inline=True)
def _tap1(acc, n, p0, w0):
    """``acc[j] += w0 * p0[j]``: one tap."""
    for j in range(n):
        acc[j] += w0 * p0[j]


@jit(contract=True)
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


@jit(contract=True)
def _block_staged(buf, u0, ustep, k, ph, off, j0, n, acc):
    """Partial sums of ``n`` output columns from staged rows, starting at output ``j0``.

    Kernel row ``a`` reads staged row ``buf[u0 + a*ustep]``; tap ``b`` of it
    reads ``buf[., ph[b], off[b] + j0 :]`` (see :func:`_staged_layout`).
    """
    kh, kw = k.shape
    for j in range(n):
        acc[j] = 0
    for a in range(kh):
        u = u0 + a * ustep
        b = 0
        while b + 4 <= kw:
            _taps4(
                acc,
                n,
                buf[u, ph[b], off[b] + j0 :],
                buf[u, ph[b + 1], off[b + 1] + j0 :],
                buf[u, ph[b + 2], off[b + 2] + j0 :],
                buf[u, ph[b + 3], off[b + 3] + j0 :],
                k[a, b],
                k[a, b + 1],
                k[a, b + 2],
                k[a, b + 3],
            )
            b += 4
        while b < kw:
            _tap1(acc, n, buf[u, ph[b], off[b] + j0 :], k[a, b])
            b += 1


@jit()
def _stage_taps(xrow, base, sw, dw, buf):
    """``buf[b, m] = xrow[base + m*sw + b*dw]`` for every tap ``b``: one staged row per tap (large column strides)."""
    kw, n = buf.shape
    for b in range(kw):
        src = xrow[base + b * dw :]
        dst = buf[b]
        for m in range(n):
            dst[m] = src[m * sw]


@jit(inline=True)
def _block_of(t, n_blocks, OH):
    """Channel and output rows ``[i0, i1)`` of row block ``t`` (``_ROWS`` rows of one channel)."""
    c = t // n_blocks
    i0 = (t - c * n_blocks) * _ROWS
    return c, i0, min(OH, i0 + _ROWS)


@jit()
def _inplace_3x3(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """Row blocks ``t0 <= t < t1`` of a 3x3 kernel read in place at column stride 1 (see :func:`_sum9_rows`).

    Float input, or an 8/16-bit integer image with a narrow integer kernel.
    Block ``t`` is ``_ROWS`` output rows of one channel (see :func:`fastconv._direct.direct`).
    """
    C, H, W = x.shape
    _, OH, OW = out.shape
    i_lo, i_hi = _interior(OH, H, 3, sh, dh, pt)
    j_lo, j_hi = _interior(OW, W, 3, sw, dw, pl)
    n_blocks = (OH + _ROWS - 1) // _ROWS
    acc = np.empty(_BLOCK, dtype=k.dtype)
    for t in range(t0, t1):
        c, i0, i1 = _block_of(t, n_blocks, OH)
        xc = x[c]
        ib0, ib1 = _block_border(xc, k, out[c], i0, i1, i_lo, i_hi, j_lo, j_hi, sh, sw, dh, dw, pt, pl, acc)
        if ib0 < ib1:
            _sum9_rows(k, xc, ib0 * sh - pt, sh, dh, dw, j_lo * sw - pl, out[c], ib0, ib1, j_lo, j_hi, acc)


@jit()
def _inplace_3x3_sparse(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """:func:`_inplace_3x3` for a narrow integer kernel with at most five nonzero taps (:func:`_sum5_rows`)."""
    C, H, W = x.shape
    _, OH, OW = out.shape
    i_lo, i_hi = _interior(OH, H, 3, sh, dh, pt)
    j_lo, j_hi = _interior(OW, W, 3, sw, dw, pl)
    n_blocks = (OH + _ROWS - 1) // _ROWS
    acc = np.empty(_BLOCK, dtype=k.dtype)
    for t in range(t0, t1):
        c, i0, i1 = _block_of(t, n_blocks, OH)
        xc = x[c]
        ib0, ib1 = _block_border(xc, k, out[c], i0, i1, i_lo, i_hi, j_lo, j_hi, sh, sw, dh, dw, pt, pl, acc)
        if ib0 < ib1:
            _sum5_rows(k, xc, ib0 * sh - pt, sh, dh, dw, j_lo * sw - pl, out[c], ib0, ib1, j_lo, j_hi, acc)


@jit()
def _inplace_3x3_s2(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """:func:`_inplace_3x3` at column stride 2 and column dilation 1 (see :func:`_sum9_rows_s2`)."""
    C, H, W = x.shape
    _, OH, OW = out.shape
    i_lo, i_hi = _interior(OH, H, 3, sh, dh, pt)
    j_lo, j_hi = _interior(OW, W, 3, sw, dw, pl)
    n_blocks = (OH + _ROWS - 1) // _ROWS
    for t in range(t0, t1):
        c, i0, i1 = _block_of(t, n_blocks, OH)
        xc = x[c]
        acc = np.empty(_BLOCK, dtype=k.dtype)
        # three de-interleaved input rows (see _sum9_rows_s2)
        ring = np.empty((3, 2, max(j_hi - j_lo, 0) + 1), dtype=x.dtype)
        ib0, ib1 = _block_border(xc, k, out[c], i0, i1, i_lo, i_hi, j_lo, j_hi, sh, sw, dh, dw, pt, pl, acc)
        if ib0 < ib1:
            _sum9_rows_s2(k, xc, ib0 * sh - pt, sh, dh, j_lo * sw - pl, out[c], ib0, ib1, j_lo, j_hi, acc, ring)


@jit()
def _inplace_3x3_s2_f32(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """:func:`_inplace_3x3_s2` for float32 image, kernel and output, C-contiguous (:func:`_sum9_rows_s2_f32`)."""
    C, H, W = x.shape
    _, OH, OW = out.shape
    i_lo, i_hi = _interior(OH, H, 3, sh, dh, pt)
    j_lo, j_hi = _interior(OW, W, 3, sw, dw, pl)
    n_blocks = (OH + _ROWS - 1) // _ROWS
    acc = np.empty(_BLOCK, dtype=k.dtype)  # the border's scratch
    for t in range(t0, t1):
        c, i0, i1 = _block_of(t, n_blocks, OH)
        xc = x[c]
        ib0, ib1 = _block_border(xc, k, out[c], i0, i1, i_lo, i_hi, j_lo, j_hi, sh, sw, dh, dw, pt, pl, acc)
        if ib0 < ib1:
            _sum9_rows_s2_f32(k, xc, ib0 * sh - pt, sh, dh, j_lo * sw - pl, out[c], ib0, ib1, j_lo, j_hi)


@jit()
def _inplace_3x3_s2_bytes(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """:func:`_inplace_3x3_s2` for a C-contiguous uint8 image of even width (:func:`_sum9_rows_s2_bytes`)."""
    C, H, W = x.shape
    _, OH, OW = out.shape
    i_lo, i_hi = _interior(OH, H, 3, sh, dh, pt)
    j_lo, j_hi = _interior(OW, W, 3, sw, dw, pl)
    n_blocks = (OH + _ROWS - 1) // _ROWS
    acc = np.empty(_BLOCK, dtype=k.dtype)
    for t in range(t0, t1):
        c, i0, i1 = _block_of(t, n_blocks, OH)
        xc = x[c]
        ib0, ib1 = _block_border(xc, k, out[c], i0, i1, i_lo, i_hi, j_lo, j_hi, sh, sw, dh, dw, pt, pl, acc)
        if ib0 < ib1:
            _sum9_rows_s2_bytes(k, xc, ib0 * sh - pt, sh, dh, j_lo * sw - pl, out[c], ib0, ib1, j_lo, j_hi, acc)


@jit()
def _inplace_tiles(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """Row blocks ``t0 <= t < t1`` of a float32 kernel at stride and dilation 1: register tiles, read in place.

    The interior goes through :func:`tile_region`.  Outputs whose window
    reaches into the padding come from small zero-padded copies of the input
    they read (:func:`_padded_tiles`): whole rows at the top and bottom, and a
    strip a tile wide (or the padding's width, if larger) at each side.  The
    copy buffers are made once per call of this function (once per block in a
    parallel call), the whole rows' one only when a block has padded rows.  The
    interior starts where the strips end, so no output is computed twice.
    """
    C, H, W = x.shape
    _, OH, OW = out.shape
    kh, kw = k.shape
    i_lo, i_hi = _interior(OH, H, kh, 1, 1, pt)
    j_lo, j_hi = _interior(OW, W, kw, 1, 1, pl)
    n_blocks = (OH + _ROWS - 1) // _ROWS
    zero = np.int64(0)  # not the literal 0: one compiled signature of the callees, not one per constant
    # side strips [0, jl) and [jr, OW): at least a tile wide where the output allows
    jl = min(OW, max(j_lo, TILE_COLS)) if j_lo > 0 else zero
    jr = max(jl, min(j_hi, OW - TILE_COLS)) if j_hi < OW else OW
    left = np.zeros((_ROWS + kh - 1, jl + kw - 1), dtype=x.dtype)
    right = np.zeros((_ROWS + kh - 1, OW - jr + kw - 1), dtype=x.dtype)
    whole = np.zeros((0, OW + kw - 1), dtype=x.dtype)  # whole rows: made by the first block with a padded row
    for t in range(t0, t1):
        c, i0, i1 = _block_of(t, n_blocks, OH)
        xc = x[c]
        oc = out[c]
        ib0, ib1 = max(i0, i_lo), min(i1, i_hi)
        if whole.shape[0] == 0 and (i0 < ib0 or ib1 < i1 or j_hi <= j_lo or ib0 >= ib1):
            whole = np.zeros((_ROWS + kh - 1, OW + kw - 1), dtype=x.dtype)
        if j_hi <= j_lo or ib0 >= ib1:
            _padded_tiles(xc, k, pt, pl, oc, i0, i1, zero, OW, whole)
            continue
        # top and bottom rows at least a tile tall where the block allows (overlaps are harmless)
        if i0 < ib0:
            _padded_tiles(xc, k, pt, pl, oc, i0, min(i1, max(ib0, i0 + TILE_ROWS)), zero, OW, whole)
        if ib1 < i1:
            _padded_tiles(xc, k, pt, pl, oc, max(i0, min(ib1, i1 - TILE_ROWS)), i1, zero, OW, whole)
        if jl > 0:
            _padded_tiles(xc, k, pt, pl, oc, ib0, ib1, zero, jl, left)
        if jr < OW:
            _padded_tiles(xc, k, pt, pl, oc, ib0, ib1, jr, OW, right)
        tile_region(xc, k, ib0 - pt, jl - pl, oc, ib0, ib1, jl, jr)


@jit()
def _inplace_3x3_inside(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """:func:`_inplace_3x3` when every window lies inside the image (no border code compiled or run)."""
    _, OH, OW = out.shape
    n_blocks = (OH + _ROWS - 1) // _ROWS
    acc = np.empty(_BLOCK, dtype=k.dtype)
    zero = np.int64(0)
    for t in range(t0, t1):
        c, i0, i1 = _block_of(t, n_blocks, OH)
        _sum9_rows(k, x[c], i0 * sh, sh, dh, dw, zero, out[c], i0, i1, zero, OW, acc)


@jit()
def _tiles_inside(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """:func:`_inplace_tiles` when every window lies inside the image (no border code compiled or run)."""
    _, OH, OW = out.shape
    n_blocks = (OH + _ROWS - 1) // _ROWS
    zero = np.int64(0)
    for t in range(t0, t1):
        c, i0, i1 = _block_of(t, n_blocks, OH)
        tile_region(x[c], k, i0, zero, out[c], i0, i1, zero, OW)


@jit()
def _inplace_rows(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """Row blocks ``t0 <= t < t1`` of any other kernel read in place at column stride 1 (:func:`_interior_row`)."""
    C, H, W = x.shape
    _, OH, OW = out.shape
    kh, kw = k.shape
    i_lo, i_hi = _interior(OH, H, kh, sh, dh, pt)
    j_lo, j_hi = _interior(OW, W, kw, sw, dw, pl)
    n_blocks = (OH + _ROWS - 1) // _ROWS
    acc = np.empty(_BLOCK, dtype=k.dtype)
    for t in range(t0, t1):
        c, i0, i1 = _block_of(t, n_blocks, OH)
        xc = x[c]
        oc = out[c]
        ib0, ib1 = _block_border(xc, k, oc, i0, i1, i_lo, i_hi, j_lo, j_hi, sh, sw, dh, dw, pt, pl, acc)
        for r in range(ib0, ib1):
            _interior_row(xc, k, r * sh - pt, dh, dw, j_lo - pl, oc[r, j_lo:j_hi], acc)


@jit()
def _padded_tiles(xc, k, pt, pl, oc, i0, i1, j0, j1, buf):
    """Outputs ``[i0, i1) x [j0, j1)`` of one channel through a zero-padded copy ``buf`` of the input they read.

    Stride and dilation 1.  ``buf`` has ``j1 - j0 + kw - 1`` columns and at
    least ``i1 - i0 + kh - 1`` rows; its columns outside the input must be zero
    (they are never written here, so a buffer may serve every call with the
    same columns), its rows outside the input are zeroed.  The copy lets
    outputs whose window reaches into the padding run without bounds checks,
    through the register tiles (:func:`tile_region`).
    """
    H, W = xc.shape
    kh, kw = k.shape
    c0 = j0 - pl  # input column of buf[:, 0]
    s0, s1 = max(0, c0), min(W, c0 + buf.shape[1])
    for u in range(i1 - i0 + kh - 1):
        y = i0 - pt + u
        if 0 <= y < H:
            row, src = buf[u], xc[y]
            for s in range(s0, s1):  # a loop, not a slice assignment (whose error message takes 1.3 s to compile)
                row[s - c0] = src[s]
        else:
            buf[u, :] = 0
    zero = np.int64(0)  # not the literal 0 (see _inplace_tiles)
    tile_region(buf, k, zero, zero, oc, i0, i1, j0, j1)


@jit(contract=True)
def _interior_row(xc, k, r0, dh, dw, base, o, acc):
    """Interior outputs ``o`` of one row at column stride 1: no bounds checks, partial sums in ``acc``.

    ``r0``/``base`` are the input row/column of tap ``(0, 0)`` for ``o[0]``.
    """
    kh, kw = k.shape
    n_in = o.shape[0]
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
def _staged_layout(x, k, sh, sw, dh, dw, pt, pl, out):
    """Where :func:`_staged_3x3` / :func:`_staged_rows` put each tap and how much they stage.

    Staging converts integers to the accumulator's type and lays the taps out
    at unit stride.  Along a row: for ``sw <= kw`` a row is split into its
    ``sw`` phases (tap ``b`` at column offset ``q = b*dw`` reads phase
    ``q % sw`` from ``q // sw``); for larger strides each tap gets its own
    staged row of the ``n`` interior outputs, so scratch never grows with the
    stride.  Across rows: a block takes ``_ROWS`` output rows and stages every
    input row they read once, so rows shared by neighbouring outputs are not
    staged again, unless that span is more than ``kh`` rows per output (a
    large row stride): then each output row stages its own ``kh`` rows.
    Scratch is thus bounded by the output width and the kernel size.

    Returns ``(ph, off, buf, acc)``: tap ``b`` reads ``buf[., ph[b], off[b] + j]``;
    ``buf`` and ``acc`` are the scratch of one thread.
    """
    kh, kw = k.shape
    j_lo, j_hi = _interior(out.shape[2], x.shape[2], kw, sw, dw, pl)
    n_in = j_hi - j_lo
    phases = sw <= kw
    ph = np.empty(kw, dtype=np.int64)
    off = np.empty(kw, dtype=np.int64)
    for b in range(kw):
        if phases:
            ph[b], off[b] = (b * dw) % sw, (b * dw) // sw
        else:
            ph[b], off[b] = b, 0
    if phases:
        P, L = sw, n_in + ((kw - 1) * dw) // sw + 1
    else:
        P, L = kw, max(n_in, 1)
    span = (_ROWS - 1) * sh + (kh - 1) * dh + 1  # input rows one block reads
    buf = np.empty((kh if span > _ROWS * kh else span, P, L), dtype=k.dtype)
    return ph, off, buf, np.empty(_BLOCK, dtype=k.dtype)


@jit()
def _stage_block(xc, k, sh, sw, dh, dw, pt, pl, oc, i0, buf):
    """Stage the input rows output rows ``[i0, i0 + _ROWS)`` read into ``buf`` (unless each row stages its own)."""
    H, W = xc.shape
    kh, kw = k.shape
    j_lo, j_hi = _interior(oc.shape[1], W, kw, sw, dw, pl)
    n_in = j_hi - j_lo
    span = (_ROWS - 1) * sh + (kh - 1) * dh + 1
    if n_in <= 0 or span > _ROWS * kh:
        return
    top = i0 * sh - pt  # input row of buf[0]
    base = j_lo * sw - pl  # input column of tap (0, 0) for output column j_lo
    for u in range(span):
        if 0 <= top + u < H:
            if sw <= kw:
                _stage(xc[top + u], base, sw, buf[u])
            else:
                _stage_taps(xc[top + u], base, sw, dw, buf[u, :, :n_in])


@jit()
def _staged_row(xc, k, sh, sw, dh, dw, pt, pl, oc, i, i0, buf, acc):
    """Border outputs of output row ``i`` (in the block from ``i0``); the staged row of its kernel row 0, or -1.

    Returns ``(u0, ustep)``: kernel row ``a`` of row ``i``'s interior outputs
    reads ``buf[u0 + a*ustep]``; ``u0 == -1`` when the row has no interior
    outputs (all computed here).
    """
    H, W = xc.shape
    kh, kw = k.shape
    OH, OW = oc.shape
    i_lo, i_hi = _interior(OH, H, kh, sh, dh, pt)
    j_lo, j_hi = _interior(OW, W, kw, sw, dw, pl)
    n_in = j_hi - j_lo
    row = oc[i]
    r0 = i * sh - pt
    if not (i_lo <= i < i_hi and n_in > 0):
        _edge(xc, k, r0, -pl, sw, dh, dw, np.int64(0), OW, row, acc)
        return -1, 0
    _edge(xc, k, r0, -pl, sw, dh, dw, np.int64(0), j_lo, row, acc)
    _edge(xc, k, r0, -pl, sw, dh, dw, j_hi, OW, row, acc)
    span = (_ROWS - 1) * sh + (kh - 1) * dh + 1
    if span > _ROWS * kh:  # stage this output's kh input rows (all inside the image: interior row)
        base = j_lo * sw - pl
        for a in range(kh):
            if sw <= kw:
                _stage(xc[r0 + a * dh], base, sw, buf[a])
            else:
                _stage_taps(xc[r0 + a * dh], base, sw, dw, buf[a, :, :n_in])
        return 0, 1
    return r0 - (i0 * sh - pt), dh


@jit()
def _staged_3x3(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """Row blocks ``t0 <= t < t1`` of a 3x3 kernel from staged rows (integer input, or column stride > 1).

    See :func:`_staged_layout`; the nine taps are held in registers (:func:`_sum9`).
    """
    _, OH, OW = out.shape
    j_lo, j_hi = _interior(OW, x.shape[2], 3, sw, dw, pl)
    ph, off, buf, acc = _staged_layout(x, k, sh, sw, dh, dw, pt, pl, out)
    n_blocks = (OH + _ROWS - 1) // _ROWS
    for t in range(t0, t1):
        c, i0, i1 = _block_of(t, n_blocks, OH)
        xc = x[c]
        _stage_block(xc, k, sh, sw, dh, dw, pt, pl, out[c], i0, buf)
        for i in range(i0, i1):
            u0, ustep = _staged_row(xc, k, sh, sw, dh, dw, pt, pl, out[c], i, i0, buf, acc)
            if u0 < 0:
                continue
            u1, u2 = u0 + ustep, u0 + 2 * ustep  # staged rows of kernel rows 1, 2
            _sum9(
                k,
                buf[u0, ph[0], off[0] :],
                buf[u0, ph[1], off[1] :],
                buf[u0, ph[2], off[2] :],
                buf[u1, ph[0], off[0] :],
                buf[u1, ph[1], off[1] :],
                buf[u1, ph[2], off[2] :],
                buf[u2, ph[0], off[0] :],
                buf[u2, ph[1], off[1] :],
                buf[u2, ph[2], off[2] :],
                out[c, i, j_lo:j_hi],
            )


@jit()
def _staged_rows(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """Row blocks ``t0 <= t < t1`` of any kernel from staged rows, four taps per pass (:func:`_block_staged`)."""
    _, OH, OW = out.shape
    j_lo, j_hi = _interior(OW, x.shape[2], k.shape[1], sw, dw, pl)
    n_in = j_hi - j_lo
    ph, off, buf, acc = _staged_layout(x, k, sh, sw, dh, dw, pt, pl, out)
    n_blocks = (OH + _ROWS - 1) // _ROWS
    for t in range(t0, t1):
        c, i0, i1 = _block_of(t, n_blocks, OH)
        xc = x[c]
        _stage_block(xc, k, sh, sw, dh, dw, pt, pl, out[c], i0, buf)
        for i in range(i0, i1):
            u0, ustep = _staged_row(xc, k, sh, sw, dh, dw, pt, pl, out[c], i, i0, buf, acc)
            if u0 < 0:
                continue
            o = out[c, i, j_lo:j_hi]
            for jb in range(0, n_in, _BLOCK):
                n = min(_BLOCK, n_in - jb)
                _block_staged(buf, u0, ustep, k, ph, off, jb, n, acc)
                ob = o[jb : jb + n]
                for j in range(n):
                    ob[j] = _store(acc[j], ob)


# Output rows per parallel task of the separable path, and the width of the
# column chunk whose row-filtered rows it keeps (float32: 64 + kh - 1 rows of
# 4 KiB, inside L2).
_SEP_ROWS = 64
_SEP_COLS = 1024


@jit()
def _direct_separable(x, k, u, v, sh, sw, dh, dw, pt, pl, out, t0, t1):
    """``direct`` for a kernel equal to ``outer(u, v)``: a row pass with ``v``, then a column pass with ``u``.

    Row blocks ``t0 <= t < t1`` of ``_SEP_ROWS`` output rows; column stride 1.
    For each chunk of up to ``_SEP_COLS`` interior output columns, every input
    row the block reads is filtered along the row with ``v`` into ``tmp``
    (``kw`` taps), then each output row sums ``kh`` rows of ``tmp`` with ``u``:
    ``kh + kw`` multiply-adds per output instead of ``kh * kw``.  Outputs whose
    window reaches into the padding are computed from ``k`` with bounds
    checks.  With a row stride larger than ``kh`` rows, each output row
    filters only its own ``kh`` input rows.
    """
    C, H, W = x.shape
    _, OH, OW = out.shape
    kh, kw = k.shape
    i_lo, i_hi = _interior(OH, H, kh, sh, dh, pt)
    j_lo, j_hi = _interior(OW, W, kw, sw, dw, pl)
    n_in = j_hi - j_lo
    base = j_lo - pl  # input column of tap (0, 0) for output column j_lo
    R = _SEP_ROWS
    n_blocks = (OH + R - 1) // R
    acc = np.empty(_BLOCK, dtype=k.dtype)  # the border's partial sums (_block_border)
    for t in range(t0, t1):
        c = t // n_blocks
        i0 = (t - c * n_blocks) * R
        i1 = min(OH, i0 + R)
        xc = x[c]
        ib0, ib1 = _block_border(xc, k, out[c], i0, i1, i_lo, i_hi, j_lo, j_hi, sh, sw, dh, dw, pt, pl, acc)
        if ib0 >= ib1:
            continue
        top = ib0 * sh - pt  # input row of tmp[0]
        span = (ib1 - ib0 - 1) * sh + (kh - 1) * dh + 1
        per_row = span > (ib1 - ib0) * kh
        tmp = np.empty((kh if per_row else span, min(_SEP_COLS, n_in)), dtype=k.dtype)
        tiles = tiles_apply(xc, k, out[c]) and sh == 1 and dh == 1 and span >= TILE_ROWS and ib1 - ib0 >= TILE_ROWS
        for jb in range(0, n_in, _SEP_COLS):
            m = min(_SEP_COLS, n_in - jb)
            if tiles and m >= TILE_COLS:
                _separable_tiles(xc, u, v, top, base + jb, m, tmp, out[c], ib0, ib1, j_lo + jb)
                continue
            if not per_row:
                for r in range(span):
                    _row_pass(xc[top + r, base + jb :], v, dw, m, tmp[r])
            for i in range(ib0, ib1):
                r0 = i * sh - pt
                if per_row:
                    for a in range(kh):
                        _row_pass(xc[r0 + a * dh, base + jb :], v, dw, m, tmp[a])
                    _column_pass(tmp, np.int64(0), np.int64(1), u, m, out[c, i, j_lo + jb :])
                else:
                    _column_pass(tmp, r0 - top, dh, u, m, out[c, i, j_lo + jb :])


@jit()
def _separable_tiles(xc, u, v, top, s0, m, tmp, oc, ib0, ib1, j0):
    """Both passes of :func:`_direct_separable` on one column chunk in float32 register tiles (stride 1).

    Rows ``top ...`` of ``xc`` from column ``s0`` are filtered with ``v`` into
    ``tmp[:, :m]``, then output rows ``[ib0, ib1)`` from column ``j0`` sum ``kh``
    rows of ``tmp`` with ``u`` (``u`` as a ``(kh, 1)`` kernel).  The last row
    group and column tile of each pass overlap their neighbours, which
    compute the same values; ``m``, the rows of ``tmp`` and ``ib1 - ib0`` are
    at least one tile.
    """
    span = tmp.shape[0]
    nt = m // TILE_COLS
    tail = nt * TILE_COLS < m
    for g in range(0, span, TILE_ROWS):
        r = min(g, span - TILE_ROWS)
        tile_row_filter(xc, v, top + r, s0, tmp, r, np.int64(0), nt)
        if tail:
            tile_row_filter(xc, v, top + r, s0 + m - TILE_COLS, tmp, r, m - TILE_COLS, np.int64(1))
    u2 = u.reshape((u.shape[0], 1))
    tile_region(tmp, u2, np.int64(0), np.int64(0), oc, ib0, ib1, j0, j0 + m)


@jit(contract=True)
def _row_pass(src, v, dw, m, dst):
    """``dst[j] = sum_b v[b] * src[j + b*dw]`` for ``j < m``, four taps per pass."""
    kw = v.shape[0]
    for j in range(m):
        dst[j] = 0
    b = 0
    while b + 4 <= kw:
        _taps4(
            dst,
            m,
            src[b * dw :],
            src[(b + 1) * dw :],
            src[(b + 2) * dw :],
            src[(b + 3) * dw :],
            v[b],
            v[b + 1],
            v[b + 2],
            v[b + 3],
        )
        b += 4
    while b < kw:
        _tap1(dst, m, src[b * dw :], v[b])
        b += 1


@jit(contract=True)
def _column_pass(tmp, r, step, u, m, o):
    """``o[j] = sum_a u[a] * tmp[r + a*step, j]`` for ``j < m``, four rows per pass."""
    kh = u.shape[0]
    for j in range(m):
        o[j] = 0
    a = 0
    while a + 4 <= kh:
        q = r + a * step
        _taps4(o, m, tmp[q], tmp[q + step], tmp[q + 2 * step], tmp[q + 3 * step], u[a], u[a + 1], u[a + 2], u[a + 3])
        a += 4
    while a < kh:
        _tap1(o, m, tmp[r + a * step], u[a])
        a += 1


#: The block functions of :func:`fastconv._direct.direct` by path:
#: ``kernel(x, k, sh, sw, dh, dw, pt, pl, out, t0, t1)``.
PATHS = {
    "tiles": _inplace_tiles,
    "tiles inside": _tiles_inside,
    "3x3": _inplace_3x3,
    "3x3 inside": _inplace_3x3_inside,
    "3x3 sparse": _inplace_3x3_sparse,
    "3x3 s2": _inplace_3x3_s2,
    "3x3 s2 float32": _inplace_3x3_s2_f32,
    "3x3 s2 uint8": _inplace_3x3_s2_bytes,
    "rows": _inplace_rows,
    "staged 3x3": _staged_3x3,
    "staged": _staged_rows,
}

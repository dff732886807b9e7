"""Register tiles for ``direct``'s float32 path: 4 output rows x 24 output columns per tile.

A tile's 12 accumulators (4 rows x 3 vectors of 8 columns) stay in ymm
registers for the whole ``kh * kw`` reduction.  The tile walks the ``kh + 3``
input rows its 4 output rows read: each input vector is loaded once and
feeds every output row that reads it (input row ``t`` is kernel row ``t - r``
of output row ``r``), so one load serves up to 4 fused multiply-adds,
against one load per multiply-add when output rows go one at a time.  Each
output's sum runs over the taps in order (kernel row, then column) from
zero, with FMA contraction and no reassociation, so NaN and inf propagate.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from .._jit import jit
from .vec import keep_alive, vbcast, vfma, vload, vstore, vzero

#: Output rows and output columns of one tile.
TILE_ROWS = 4
TILE_COLS = 24


@jit(inline=True)
def _zero_tile():
    """The 12 accumulators of a tile (4 rows x 3 vectors of 8 lanes), zero."""
    z = vzero(8)
    return z, z, z, z, z, z, z, z, z, z, z, z


@jit(inline=True)
def _store_tile(o, orow, a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32):
    """Store a tile's rows at byte address ``o``, ``orow`` bytes apart (3 vectors of 8 float32 each)."""
    vstore(o, a00)
    vstore(o + 32, a01)
    vstore(o + 64, a02)
    o += orow
    vstore(o, a10)
    vstore(o + 32, a11)
    vstore(o + 64, a12)
    o += orow
    vstore(o, a20)
    vstore(o + 32, a21)
    vstore(o + 64, a22)
    o += orow
    vstore(o, a30)
    vstore(o + 32, a31)
    vstore(o + 64, a32)


@jit(contract=True)
def tile_region(x, k, r0, s0, out, i0, i1, j0, j1):
    """``out[i, j] = sum_{a,b} k[a, b] * x[r0 + i - i0 + a, s0 + j - j0 + b]`` for ``i0 <= i < i1``, ``j0 <= j < j1``.

    ``x`` (H, W), ``k`` (kh, kw) and ``out`` (OH, OW) are C-contiguous float32;
    stride and dilation 1; every tap read lies inside ``x`` (the caller keeps
    the region in the interior).  The region is covered by whole tiles of 4
    rows x 24 columns: the last row group and the last column tile are moved
    back to end at the region's edge, overlapping their neighbours (which
    compute the same values).  A region narrower than a tile (or shorter) is
    computed from a zero-padded copy of the input it reads into a scratch
    tile, then copied out: every output, whatever the region's size, is the
    same sum in the same order.
    """
    kh, kw = k.shape
    m, n = i1 - i0, j1 - j0
    if m <= 0 or n <= 0:
        return
    narrow = m < TILE_ROWS or n < TILE_COLS
    if narrow:
        rows, cols = max(m, TILE_ROWS), max(n, TILE_COLS)
        src = np.zeros((rows + kh - 1, cols + kw - 1), dtype=np.float32)
        for u in range(m + kh - 1):
            xr = x[r0 + u, s0:]
            sr = src[u]
            for v in range(n + kw - 1):
                sr[v] = xr[v]
        dst = np.empty((rows, cols), dtype=np.float32)
        xa, xrow = np.int64(src.ctypes.data), 4 * src.shape[1]
        oa, orow = np.int64(dst.ctypes.data), 4 * cols
    else:
        rows, cols = m, n
        src = dst = np.empty((1, 1), dtype=np.float32)
        xa, xrow = np.int64(x.ctypes.data) + 4 * (r0 * x.shape[1] + s0), 4 * x.shape[1]
        oa, orow = np.int64(out.ctypes.data) + 4 * (i0 * out.shape[1] + j0), 4 * out.shape[1]
    ka = np.int64(k.ctypes.data)
    for g in range(0, rows, TILE_ROWS):
        gi = min(g, rows - TILE_ROWS)
        for cc in range(0, cols, TILE_COLS):
            cj = min(cc, cols - TILE_COLS)
            xt = xa + gi * xrow + 4 * cj
            a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32 = _zero_tile()
            for t in range(kh + 3):
                xr = xt + t * xrow
                k0 = ka + 4 * t * kw  # kernel row t (output row 0), t - 1 (row 1), ...
                for b in range(kw):
                    x0 = vload(xr + 4 * b, 8)
                    x1 = vload(xr + 4 * b + 32, 8)
                    x2 = vload(xr + 4 * b + 64, 8)
                    kb = k0 + 4 * b
                    if t < kh:
                        w = vbcast(kb, 8)
                        a00 = vfma(x0, w, a00)
                        a01 = vfma(x1, w, a01)
                        a02 = vfma(x2, w, a02)
                    if 1 <= t <= kh:
                        w = vbcast(kb - 4 * kw, 8)
                        a10 = vfma(x0, w, a10)
                        a11 = vfma(x1, w, a11)
                        a12 = vfma(x2, w, a12)
                    if 2 <= t <= kh + 1:
                        w = vbcast(kb - 8 * kw, 8)
                        a20 = vfma(x0, w, a20)
                        a21 = vfma(x1, w, a21)
                        a22 = vfma(x2, w, a22)
                    if t >= 3:
                        w = vbcast(kb - 12 * kw, 8)
                        a30 = vfma(x0, w, a30)
                        a31 = vfma(x1, w, a31)
                        a32 = vfma(x2, w, a32)
            _store_tile(oa + gi * orow + 4 * cj, orow, a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32)
    if narrow:
        for i in range(m):
            orw = out[i0 + i, j0:]
            dr = dst[i]
            for j in range(n):
                orw[j] = dr[j]
    keep_alive(x)
    keep_alive(k)
    keep_alive(out)
    keep_alive(src)
    keep_alive(dst)


def tiles_apply(x, k, out):
    """True when :func:`tile_rows` may run on these arrays (decided at compile time, see below)."""


@overload(tiles_apply)
def _tiles_apply_overload(x, k, out):
    # float32 everywhere and C-contiguous views (each channel ``x[c]`` of a
    # C-contiguous array is one): the tile reads and writes by address.
    f32 = types.float32
    ok = all(isinstance(a, types.Array) and a.dtype == f32 and a.layout == "C" for a in (x, k, out))
    if ok:
        return lambda x, k, out: True
    return lambda x, k, out: False


@jit(contract=True)
def tile_row_filter(x, v, r0, s0, out, i0, j0, ntiles):
    """``out[i0 + r, j0 + j] = sum_b v[b] * x[r0 + r, s0 + j + b]`` for ``r < 4``, ``j < 24 * ntiles``.

    A 1-D filter along the rows (the first pass of a separable kernel).

    Four independent rows share each broadcast tap; ``x`` (H, W), ``v`` (kw,)
    and ``out`` are C-contiguous float32 and every tap read lies inside ``x``.
    """
    kw = v.shape[0]
    xrow = 4 * x.shape[1]
    orow = 4 * out.shape[1]
    va = np.int64(v.ctypes.data)
    xa = np.int64(x.ctypes.data) + 4 * (r0 * x.shape[1] + s0)
    oa = np.int64(out.ctypes.data) + 4 * (i0 * out.shape[1] + j0)
    for tt in range(ntiles):
        off = 96 * tt
        a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32 = _zero_tile()
        for b in range(kw):
            w = vbcast(va + 4 * b, 8)
            p = xa + off + 4 * b
            a00 = vfma(vload(p, 8), w, a00)
            a01 = vfma(vload(p + 32, 8), w, a01)
            a02 = vfma(vload(p + 64, 8), w, a02)
            p += xrow
            a10 = vfma(vload(p, 8), w, a10)
            a11 = vfma(vload(p + 32, 8), w, a11)
            a12 = vfma(vload(p + 64, 8), w, a12)
            p += xrow
            a20 = vfma(vload(p, 8), w, a20)
            a21 = vfma(vload(p + 32, 8), w, a21)
            a22 = vfma(vload(p + 64, 8), w, a22)
            p += xrow
            a30 = vfma(vload(p, 8), w, a30)
            a31 = vfma(vload(p + 32, 8), w, a31)
            a32 = vfma(vload(p + 64, 8), w, a32)
        _store_tile(oa + off, orow, a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32)
    keep_alive(x)
    keep_alive(v)
    keep_alive(out)

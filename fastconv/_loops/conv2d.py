"""Private kernels for batched, multi-channel convolution and pooling (NHWC).

Notation: ``x`` has shape ``(N, H, W, C)``, the filter bank ``w`` has shape
``(kh, kw, C, F)``, ``out`` has shape ``(N, OH, OW, F)``; ``(pt, pl)`` is the
zero padding before the first row and column, ``(sh, sw)`` the stride and
``(dh, dw)`` the dilation.  Every convolution kernel computes::

    out[n, i, j, f] = bias[f] + sum_{a, b, c} w[a, b, c, f] * x[n, i*sh + a*dh - pt, j*sw + b*dw - pl, c]

where taps that fall outside ``x`` count as zero, then clamps at zero if
``relu`` is set.  Padding is never materialised: the kernels skip the taps
that fall outside the image.  Kernels check nothing; :mod:`fastconv.nhwc`
validates arguments, picks dtypes and allocates ``out``.  The convolution and
pooling kernels are block functions: their last two arguments ``t0, t1`` name
the blocks of output rows they compute, and :func:`fastconv._loops.threads.run`
shares the blocks among threads.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from .._jit import jit
from .vec import keep_alive, vadd, vbcast, vfma, vload, vmax, vrelu, vstore, vzero


@jit()
def im2col_rows(x, x2, kh, kw, pt, pl, sh, sw, dh, dw, OH, OW, r0, r1, buf):
    """Write the patch matrix of output rows ``r0 <= r < r1`` into ``buf``.

    Output row ``r`` is image ``n = r // OH``, row ``i = r % OH``.  Row
    ``(r - r0) * OW + j`` of ``buf`` (shape ``(rows * OW, kh*kw*C)``) holds the
    window under output pixel ``(n, i, j)`` in ``(a, b, c)`` order, zeros where
    it hangs over the edge, so that ``buf @ w.reshape(kh*kw*C, F)`` is the
    convolution.  ``x2`` is ``x`` viewed as ``(N*H, W*C)``: where a kernel row
    lies inside the image (and ``dw == 1``) its ``kw*C`` values are one
    contiguous run, copied in one go (LLVM turns the loop into ``memcpy``).
    One thread; releases the GIL.
    """
    N, H, W, C = x.shape
    run = kw * C
    m = 0
    for r in range(r0, r1):
        n = r // OH
        i = r - n * OH
        for j in range(OW):
            row = buf[m]
            m += 1
            x0 = j * sw - pl
            inside_cols = dw == 1 and x0 >= 0 and x0 + kw <= W
            for a in range(kh):
                y = i * sh + a * dh - pt
                if inside_cols and 0 <= y < H:
                    src = x2[n * H + y, x0 * C : x0 * C + run]
                    ka = a * run
                    for q in range(run):
                        row[ka + q] = src[q]
                    continue
                for b in range(kw):
                    col = x0 + b * dw
                    k0 = (a * kw + b) * C
                    if y < 0 or y >= H or col < 0 or col >= W:
                        for c in range(C):
                            row[k0 + c] = 0
                    else:
                        xv = x[n, y, col]
                        for c in range(C):
                            row[k0 + c] = xv[c]


@jit()
def bias_relu(out2, bias, relu):
    """In place: ``out2[m, f] += bias[f]``, then ``max(., 0)`` if ``relu``."""
    M, F = out2.shape
    for m in range(M):
        row = out2[m]
        for f in range(F):
            v = row[f] + bias[f]
            if relu and v < 0:
                v = 0
            row[f] = v


def block_product(a, b, out):
    """``out[...] = a @ b`` for 2-D C-contiguous arrays (compiled by the overload below)."""
    np.matmul(a, b, out=out)


@overload(block_product, jit_options={"cache": True})
def _block_product(a, b, out):
    if isinstance(a.dtype, types.Float):

        def blas(a, b, out):
            np.dot(a, b, out)

        return blas

    def exact(a, b, out):  # integers: BLAS has no integer product; int64 sums are exact
        M, K = a.shape
        F = b.shape[1]
        for m in range(M):
            o = out[m]
            for f in range(F):
                o[f] = 0
            for k in range(K):
                v = a[m, k]
                bk = b[k]
                for f in range(F):
                    o[f] += v * bk[f]

    return exact


@jit()
def im2col_blocks(x, w2, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, OH, OW, rows_per_block, out2, t0, t1):
    """im2col convolution of blocks ``t0 <= t < t1`` of ``rows_per_block`` output rows (see :mod:`.threads`).

    ``out2`` is ``out`` reshaped to ``(N*OH*OW, F)``; output row ``r`` is
    image ``r // OH``, row ``r % OH``.  Each block writes the patch matrix of
    its rows (:func:`im2col_rows`) into its own buffer, multiplies it by
    ``w2`` with ``np.dot`` (BLAS ``sgemm``/``dgemm``), then adds ``bias`` and
    applies ReLU if ``relu``.  The caller holds BLAS to one thread: the
    blocks are the parallelism.
    """
    N, H, W, C = x.shape
    K = w2.shape[0]
    x2 = x.reshape(N * H, W * C)
    n_rows = N * OH
    for t in range(t0, t1):
        r0 = t * rows_per_block
        r1 = min(n_rows, r0 + rows_per_block)
        patches = np.empty(((r1 - r0) * OW, K), dtype=x.dtype)
        im2col_rows(x, x2, kh, kw, pt, pl, sh, sw, dh, dw, OH, OW, r0, r1, patches)
        o = out2[r0 * OW : r1 * OW]
        block_product(patches, w2, o)
        bias_relu(o, bias, relu)


@jit()
def direct(x, w2, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, out3, t0, t1):
    """Direct convolution of output rows ``t0 <= t < t1`` (row ``t`` is image ``t // OH``, row ``t % OH``).

    ``w2`` is ``w`` reshaped to ``(kh*kw*C, F)`` and ``out3`` is ``out``
    reshaped to ``(N*OH, OW, F)``.  For each output pixel and each tap
    ``(a, b, c)`` inside the image, the whole filter axis is updated,
    ``out[n, i, j, :] += x[n, y, col, c] * w2[(a*kw + b)*C + c, :]``: a
    unit-stride loop over ``f`` in both arrays, which LLVM vectorises.
    """
    N, H, W, C = x.shape
    F = w2.shape[1]
    NOH, OW = out3.shape[0], out3.shape[1]
    OH = NOH // N
    for t in range(t0, t1):
        n = t // OH
        i = t - n * OH
        orow = out3[t]
        for j in range(OW):
            o = orow[j]
            for f in range(F):
                o[f] = bias[f]
            for a in range(kh):
                y = i * sh + a * dh - pt
                if y < 0 or y >= H:
                    continue
                xr = x[n, y]
                for b in range(kw):
                    col = j * sw + b * dw - pl
                    if col < 0 or col >= W:
                        continue
                    xv = xr[col]
                    k0 = (a * kw + b) * C
                    for c in range(C):
                        xc = xv[c]
                        wr = w2[k0 + c]
                        for f in range(F):
                            o[f] += xc * wr[f]
            if relu:
                for f in range(F):
                    if o[f] < 0:
                        o[f] = 0


@jit()
def maxpool(x, ph, pw, sh, sw, pt, pl, out, t0, t1):
    """``out[n, i, j, c] = max over the window (ph, pw) at (i*sh - pt, j*sw - pl)``.

    Taps outside ``x`` are ignored (Keras' and TensorFlow's "same" max
    pooling never counts padding); every window holds at least one pixel.
    ``x`` and ``out`` are C-contiguous float32.  Computes output rows
    ``t0 <= t < t1`` (row ``t`` is image ``t // OH``, row ``t % OH``).  Each
    output starts from the window's first pixel, then takes every tap ``v``
    with ``v > max``, in row, column order (so a NaN in the first pixel stays).
    Channels go 8 at a time in vectors (:func:`vmax`),
    the remainder one by one, with the same comparisons.
    """
    N, H, W, C = x.shape
    OH, OW = out.shape[1], out.shape[2]
    xb = np.int64(x.ctypes.data)
    ob = np.int64(out.ctypes.data)
    C8 = C - C % 8
    for t in range(t0, t1):
        n = t // OH
        i = t - n * OH
        y0 = max(i * sh - pt, 0)
        y1 = min(i * sh - pt + ph, H)
        orow = out[n, i]
        for j in range(OW):
            x0 = max(j * sw - pl, 0)
            x1 = min(j * sw - pl + pw, W)
            dst = ob + 4 * ((t * OW + j) * C)
            first = xb + 4 * (((n * H + y0) * W + x0) * C)
            for c in range(0, C8, 8):
                m = vload(first + 4 * c, 8)
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        m = vmax(vload(xb + 4 * (((n * H + y) * W + xx) * C + c), 8), m)
                vstore(dst + 4 * c, m)
            for c in range(C8, C):
                m = x[n, y0, x0, c]
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        v = x[n, y, xx, c]
                        if v > m:
                            m = v
                orow[j, c] = m


@jit()
def pack_weights(w2, L, wp):
    """Copy ``w2`` (kh*kw*C, F) into ``wp`` (ceil(F / L), kh*kw*C, L), zeros beyond filter ``F``.

    ``wp[fb, k]`` holds the ``L`` weights of filters ``fb*L ... fb*L + L - 1``
    at tap ``k = (a*kw + b)*C + c``, in the order the tile kernel reads them.
    """
    K, F = w2.shape
    for fb in range(wp.shape[0]):
        for k in range(K):
            for lane in range(L):
                f = fb * L + lane
                wp[fb, k, lane] = w2[k, f] if f < F else 0


@jit(contract=True, inline=True)
def _tile_taps(
    VW, NV, P, x0, ps, wa, steps, a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71
):
    """Add ``steps`` consecutive taps to the tile of ``P`` pixels x ``NV`` vectors of ``VW`` filters.

    Pixel ``p`` of the tile reads its inputs at byte address ``x0 + p*ps``
    (4 bytes per tap); the ``NV*VW`` weights of each tap are the next
    ``4*NV*VW`` bytes at ``wa``.  Per tap: ``NV`` weight vectors, then for
    each pixel one broadcast and ``NV`` FMAs.  ``a?1`` are used only when
    ``NV == 2``, ``a4?`` to ``a7?`` only when ``P == 8`` (``VW``, ``NV`` and
    ``P`` are constants of the compiled kernel, so the tests cost nothing).
    Returns the 16 accumulators.
    """
    x1 = x0 + ps
    x2 = x1 + ps
    x3 = x2 + ps
    x4 = x3 + ps
    x5 = x4 + ps
    x6 = x5 + ps
    x7 = x6 + ps
    for q in range(steps):
        w0 = vload(wa, VW)
        o = 4 * q
        if NV == 2:
            w1 = vload(wa + 4 * VW, VW)
            v = vbcast(x0 + o, VW)
            a00 = vfma(v, w0, a00)
            a01 = vfma(v, w1, a01)
            v = vbcast(x1 + o, VW)
            a10 = vfma(v, w0, a10)
            a11 = vfma(v, w1, a11)
            v = vbcast(x2 + o, VW)
            a20 = vfma(v, w0, a20)
            a21 = vfma(v, w1, a21)
            v = vbcast(x3 + o, VW)
            a30 = vfma(v, w0, a30)
            a31 = vfma(v, w1, a31)
            if P == 8:
                v = vbcast(x4 + o, VW)
                a40 = vfma(v, w0, a40)
                a41 = vfma(v, w1, a41)
                v = vbcast(x5 + o, VW)
                a50 = vfma(v, w0, a50)
                a51 = vfma(v, w1, a51)
                v = vbcast(x6 + o, VW)
                a60 = vfma(v, w0, a60)
                a61 = vfma(v, w1, a61)
                v = vbcast(x7 + o, VW)
                a70 = vfma(v, w0, a70)
                a71 = vfma(v, w1, a71)
        else:
            a00 = vfma(vbcast(x0 + o, VW), w0, a00)
            a10 = vfma(vbcast(x1 + o, VW), w0, a10)
            a20 = vfma(vbcast(x2 + o, VW), w0, a20)
            a30 = vfma(vbcast(x3 + o, VW), w0, a30)
            if P == 8:
                a40 = vfma(vbcast(x4 + o, VW), w0, a40)
                a50 = vfma(vbcast(x5 + o, VW), w0, a50)
                a60 = vfma(vbcast(x6 + o, VW), w0, a60)
                a70 = vfma(vbcast(x7 + o, VW), w0, a70)
        wa += 4 * NV * VW
    return a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71


@jit(contract=True, inline=True)
def _store_pixel(VW, NV, dst, v0, v1, b0, b1, relu):
    """Write ``v0 + b0`` and, if ``NV == 2``, ``v1 + b1`` (ReLU if ``relu``), one after the other, at ``dst``."""
    v0 = vadd(v0, b0)
    if relu:
        v0 = vrelu(v0)
    vstore(dst, v0)
    if NV == 2:
        v1 = vadd(v1, b1)
        if relu:
            v1 = vrelu(v1)
        vstore(dst + 4 * VW, v1)


@jit(contract=True, inline=True)
def _direct_tiles(x, wp, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, rows_per_block, out, t0, t1, VW, NV, P):
    """float32 direct convolution, register-blocked: tiles of ``P`` output pixels x ``L = NV*VW`` filters.

    ``VW`` (8 or 16) is the width of the vectors, ``NV`` (1 or 2) the
    vectors per pixel and ``P`` (4 or 8) the pixels per tile, all
    compile-time constants (one compiled kernel per triple, the entry points
    below).  The tile's ``P*NV`` accumulators, the ``NV`` weight vectors of
    a tap and one broadcast input must fit in the CPU's vector registers:
    with AVX2's 16 ymm registers, 4 pixels x 16 filters (8 + 2 + 1 = 11);
    with AVX-512's 32 zmm registers, 8 x 32 (16 + 2 + 1 = 19) or 8 x 16.
    (8 x 16 on 16 ymm registers needs 19: the compiled loop spilled and
    reloaded accumulators on every tap.  Eight accumulators are as many as
    two FMA units of 4 cycles' latency keep busy, and 4-pixel tiles leave
    less of a row's last tile empty than 6-pixel ones: on an AMD Zen 3, 4 x 16
    took 0.66-0.93 of 6 x 16's time on the CNN layers, 1.0 on a 60-pixel row.)
    ``wp`` is the weight bank packed by :func:`pack_weights` with ``L`` lanes
    and ``bias`` has ``L * wp.shape[0]`` entries (zeros beyond ``F``).  Block
    ``t`` (``t0 <= t < t1``) is ``rows_per_block`` output rows of one image.
    For each tile (8 consecutive pixels of a row, 16 filters) the 16
    accumulator vectors stay in registers for the whole ``kh*kw*C`` reduction
    (see :func:`_tile_taps`), then get the bias, ReLU, and are
    stored once.  With ``dw == 1`` the ``kw*C`` taps of one kernel row are
    contiguous in both the NHWC input row and the packed weights, so each
    kernel row is one run of ``kw*C`` steps (9 for a 3x3 RGB layer, unrolled:
    measured 1.7x faster on that layer); with ``dw > 1``, ``kw`` runs of ``C``
    steps.

    The input is read in place.  Where a tile row would reach past the image
    (padding on the left/right, or the last, partial tile of a row), the
    input rows of the block are first copied, each once, into a buffer
    padded with zero columns, and the tiles read that.  Rows above/below the
    image are skipped.  Pixels of a partial tile beyond ``OW`` are computed from
    the buffer's zeros and not stored; filters beyond ``F`` likewise.
    """
    N, H, W, C = x.shape
    OH, OW, F = out.shape[1], out.shape[2], out.shape[3]
    L = NV * VW
    FB = wp.shape[0]
    K = kh * kw * C
    KW = kw * C
    runs, run = (1, KW) if dw == 1 else (kw, C)  # contiguous runs of taps per kernel row, and their length
    n_tiles = (OW + P - 1) // P
    Wp = (n_tiles * P - 1) * sw + (kw - 1) * dw + 1  # padded input columns one output row reads
    copy = pl > 0 or Wp - pl > W
    ps = 4 * sw * C  # bytes between the inputs of two neighbouring output pixels
    xb = np.int64(x.ctypes.data)
    wb = np.int64(wp.ctypes.data)
    ob = np.int64(out.ctypes.data)
    bb = np.int64(bias.ctypes.data)
    row_blocks = (OH + rows_per_block - 1) // rows_per_block
    for t in range(t0, t1):
        n = t // row_blocks
        i0 = (t - n * row_blocks) * rows_per_block
        i1 = min(i0 + rows_per_block, OH)
        tmp = np.empty(L, np.float32)
        tb = np.int64(tmp.ctypes.data)
        y0 = i0 * sh - pt  # first input row the block reads (may be above the image)
        if copy:
            # The block's input rows inside the image, each once, zero-padded to Wp columns (rows
            # outside the image are never read; with a large row dilation the block's window spans far
            # more rows than the image has, and a buffer of that span would not fit in memory).
            yb = max(y0, 0)  # input row of buf[0]
            n_rows = max(0, min(y0 + (i1 - 1 - i0) * sh + (kh - 1) * dh + 1, H) - yb)
            buf = np.empty((max(n_rows, 1), Wp * C), np.float32)
            q0 = min(pl, Wp) * C
            q1 = min(pl + W, Wp) * C
            for r in range(n_rows):
                dst = buf[r]
                dst[:q0] = 0
                dst[q0:q1] = x[n, yb + r].reshape(W * C)[: q1 - q0]
                dst[q1:] = 0
            bufb = np.int64(buf.ctypes.data)
        else:
            buf = np.empty((1, 1), np.float32)
            bufb = np.int64(0)
            yb = y0
        rstride = 4 * Wp * C
        for i in range(i0, i1):
            for j0 in range(0, OW, P):
                for fb in range(FB):
                    a00 = vzero(VW)
                    a01 = vzero(VW)
                    a10 = vzero(VW)
                    a11 = vzero(VW)
                    a20 = vzero(VW)
                    a21 = vzero(VW)
                    a30 = vzero(VW)
                    a31 = vzero(VW)
                    a40 = vzero(VW)
                    a41 = vzero(VW)
                    a50 = vzero(VW)
                    a51 = vzero(VW)
                    a60 = vzero(VW)
                    a61 = vzero(VW)
                    a70 = vzero(VW)
                    a71 = vzero(VW)
                    for a in range(kh):
                        y = i * sh + a * dh - pt
                        if y < 0 or y >= H:
                            continue
                        if copy:
                            rb = bufb + (y - yb) * rstride + 4 * j0 * sw * C
                        else:
                            rb = xb + 4 * (((n * H + y) * W + j0 * sw - pl) * C)
                        # With dw == 1 the kernel row is one run of KW contiguous taps; else kw runs of C.
                        for b in range(runs):
                            wa = wb + 4 * ((fb * K + a * KW + b * run) * L)
                            if run == 9:
                                (a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71) = (
                                    _tile_taps(VW, NV, P, rb + 4 * b * dw * C, ps, wa, 9, a00, a01, a10, a11, a20,
                                               a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71)
                                )  # fmt: skip
                            else:
                                (a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71) = (
                                    _tile_taps(VW, NV, P, rb + 4 * b * dw * C, ps, wa, run, a00, a01, a10, a11, a20,
                                               a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71)
                                )  # fmt: skip
                    f0 = fb * L
                    b0 = vload(bb + 4 * f0, VW)
                    b1 = vload(bb + 4 * f0 + 4 * (NV - 1) * VW, VW)  # b0 again when NV == 1 (unused)
                    full = f0 + L <= F
                    row = out[n, i]
                    dst = ob + 4 * (((n * OH + i) * OW + j0) * F + f0)
                    for p in range(min(P, OW - j0)):
                        at = dst if full else tb  # the last, partial filter block goes through tmp
                        if p == 0:
                            _store_pixel(VW, NV, at, a00, a01, b0, b1, relu)
                        elif p == 1:
                            _store_pixel(VW, NV, at, a10, a11, b0, b1, relu)
                        elif p == 2:
                            _store_pixel(VW, NV, at, a20, a21, b0, b1, relu)
                        elif p == 3:
                            _store_pixel(VW, NV, at, a30, a31, b0, b1, relu)
                        elif p == 4:
                            _store_pixel(VW, NV, at, a40, a41, b0, b1, relu)
                        elif p == 5:
                            _store_pixel(VW, NV, at, a50, a51, b0, b1, relu)
                        elif p == 6:
                            _store_pixel(VW, NV, at, a60, a61, b0, b1, relu)
                        else:
                            _store_pixel(VW, NV, at, a70, a71, b0, b1, relu)
                        if not full:
                            o = row[j0 + p]
                            for lane in range(F - f0):
                                o[f0 + lane] = tmp[lane]
                        dst += 4 * F
        keep_alive(buf)
        keep_alive(tmp)


@jit(contract=True)
def direct_tiles_8x32(x, wp, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, rows_per_block, out, t0, t1):
    """:func:`_direct_tiles`: 8 pixels x 2 vectors of 16 lanes (32 filters), 16 of AVX-512's 32 zmm registers."""
    _direct_tiles(x, wp, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, rows_per_block, out, t0, t1, 16, 2, 8)


@jit(contract=True)
def direct_tiles_8x16(x, wp, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, rows_per_block, out, t0, t1):
    """:func:`_direct_tiles`: 8 pixels x 1 vector of 16 lanes (16 filters), 8 of AVX-512's 32 zmm registers."""
    _direct_tiles(x, wp, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, rows_per_block, out, t0, t1, 16, 1, 8)


@jit(contract=True)
def direct_tiles_4x16(x, wp, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, rows_per_block, out, t0, t1):
    """:func:`_direct_tiles`: 4 pixels x 2 vectors of 8 lanes (16 filters), 8 of AVX2's 16 ymm registers."""
    _direct_tiles(x, wp, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, rows_per_block, out, t0, t1, 8, 2, 4)

"""Private kernels for batched, multi-channel convolution and pooling (NHWC).

Notation: ``x`` has shape ``(N, H, W, C)``, the filter bank ``w`` has shape
``(kh, kw, C, F)``, ``out`` has shape ``(N, OH, OW, F)``; ``(pt, pl)`` is the
zero padding before the first row and column, ``(sh, sw)`` the stride and
``(dh, dw)`` the dilation.  Every convolution kernel computes::

    out[n, i, j, f] = bias[f] + sum_{a, b, c} w[a, b, c, f] * x[n, i*sh + a*dh - pt, j*sw + b*dw - pl, c]

where taps that fall outside ``x`` count as zero, then clamps at zero if
``relu`` is set.  Padding is never materialised: the kernels skip the taps
that fall outside the image.  Kernels check nothing; :mod:`fastconv.nhwc`
validates arguments, picks dtypes and allocates ``out``.
"""

from __future__ import annotations

from numba import prange

from .._jit import jit


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


@jit(parallel=True)
def direct(x, w2, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, out3):
    """Direct convolution; one output row ``(n, i)`` per ``prange`` iteration.

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
    for t in prange(NOH):
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


@jit(parallel=True)
def maxpool(x, ph, pw, sh, sw, pt, pl, out):
    """``out[n, i, j, c] = max over the window (ph, pw) at (i*sh - pt, j*sw - pl)``.

    Taps outside ``x`` are ignored (Keras' and TensorFlow's "same" max
    pooling never counts padding); every window holds at least one pixel.
    """
    N, H, W, C = x.shape
    OH, OW = out.shape[1], out.shape[2]
    for t in prange(N * OH):
        n = t // OH
        i = t - n * OH
        y0 = max(i * sh - pt, 0)
        y1 = min(i * sh - pt + ph, H)
        for j in range(OW):
            x0 = max(j * sw - pl, 0)
            x1 = min(j * sw - pl + pw, W)
            o = out[n, i, j]
            first = x[n, y0, x0]
            for c in range(C):
                o[c] = first[c]
            for y in range(y0, y1):
                for xx in range(x0, x1):
                    v = x[n, y, xx]
                    for c in range(C):
                        if v[c] > o[c]:
                            o[c] = v[c]

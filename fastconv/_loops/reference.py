"""The two simple backends of :func:`fastconv.convolve2d`: ``naive`` and ``im2col``.

Both compute, for each channel ``c`` and output position ``(i, j)``::

    out[c, i, j] = sum_{a < kh, b < kw} k[a, b] * xp[c, i*sh + a*dh, j*sw + b*dw]

with the conventions of :mod:`fastconv._loops` (``x`` is ``(C, H, W)``, zero
padding ``pt``/``pl`` given as offsets, ``out`` preallocated).  ``naive`` is
the readable reference; ``im2col`` is a patch matrix times the flattened
kernel through NumPy/BLAS.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit


@jit()
def naive(x, k, sh, sw, dh, dw, pt, pl, out):
    """Reference: one output element at a time, plain loops, one thread."""
    C, H, W = x.shape
    _, OH, OW = out.shape
    kh, kw = k.shape
    for c in range(C):
        for i in range(OH):
            for j in range(OW):
                out[c, i, j] = 0
                for a in range(kh):
                    for b in range(kw):
                        r = i * sh + a * dh - pt
                        s = j * sw + b * dw - pl
                        if 0 <= r < H and 0 <= s < W:
                            out[c, i, j] += k[a, b] * x[c, r, s]


def im2col(x, k, sh, sw, dh, dw, pt, pl, out, block_elements=1 << 22):
    """Patch matrix times the flattened kernel (NumPy / BLAS).

    The ``(OH*OW, kh*kw)`` patch matrix is built a block of output rows at a
    time (at most ``block_elements`` entries), so memory stays bounded for
    large images and kernels.  Zero padding is added with :func:`numpy.pad`.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    C, OH, OW = out.shape
    kh, kw = k.shape
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    pb = max(0, (OH - 1) * sh + span[0] - pt - x.shape[1])
    pr = max(0, (OW - 1) * sw + span[1] - pl - x.shape[2])
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr)))
    kflat = k.reshape(-1)
    rows = max(1, block_elements // max(1, OW * kh * kw))
    for c in range(C):
        windows = sliding_window_view(x[c], span)[::sh, ::sw, ::dh, ::dw]
        for r0 in range(0, OH, rows):
            r1 = min(OH, r0 + rows)
            patches = windows[r0:r1, :OW].reshape(-1, kh * kw)
            out[c, r0:r1] = (patches @ kflat).reshape(r1 - r0, OW)

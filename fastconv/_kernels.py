"""Private 2-D cross-correlation kernels.

Every kernel computes, for each channel ``c`` and output position ``(i, j)``::

    out[c, i, j] = sum_{a < kh, b < kw} k[a, b] * x[c, i*sh + a*dh, j*sw + b*dw]

where ``x`` is the already padded input of shape ``(C, Hp, Wp)`` and ``out``
is preallocated with shape ``(C, OH, OW)``.  Kernels check nothing: the public
wrapper in :mod:`fastconv.convolve` validates the arguments, pads the input,
chooses the dtypes and allocates ``out``.  Only strided output positions are
visited, so a stride-2 call does a quarter of the work of stride 1.
"""

from __future__ import annotations

from numba import prange

from ._jit import jit


@jit()
def naive(x, k, sh, sw, dh, dw, out):
    """Reference: one output element at a time, plain loops, one thread."""
    C, OH, OW = out.shape
    kh, kw = k.shape
    for c in range(C):
        for i in range(OH):
            for j in range(OW):
                out[c, i, j] = 0
                for a in range(kh):
                    for b in range(kw):
                        out[c, i, j] += k[a, b] * x[c, i * sh + a * dh, j * sw + b * dw]


@jit(parallel=True)
def direct(x, k, sh, sw, dh, dw, out):
    """Strided/padded loops: one output row per ``prange`` iteration.

    For each kernel tap ``(a, b)`` the whole output row is updated with
    ``w * x_row[j*sw + b*dw]``; with ``sw == 1`` this is a unit-stride loop
    that LLVM vectorises.  Each iteration writes only its own row.
    """
    C, OH, OW = out.shape
    kh, kw = k.shape
    for t in prange(C * OH):
        c = t // OH
        i = t - c * OH
        orow = out[c, i]
        orow[:] = 0
        for a in range(kh):
            xrow = x[c, i * sh + a * dh]
            for b in range(kw):
                w = k[a, b]
                off = b * dw
                if sw == 1:
                    for j in range(OW):
                        orow[j] += w * xrow[j + off]
                else:
                    for j in range(OW):
                        orow[j] += w * xrow[j * sw + off]


def im2col(x, k, sh, sw, dh, dw, out, block_elements=1 << 22):
    """Patch matrix times the flattened kernel (NumPy / BLAS).

    The ``(OH*OW, kh*kw)`` patch matrix is built a block of output rows at a
    time (at most ``block_elements`` entries), so memory stays bounded for
    large images and kernels.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    C, OH, OW = out.shape
    kh, kw = k.shape
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    kflat = k.reshape(-1)
    rows = max(1, block_elements // max(1, OW * kh * kw))
    for c in range(C):
        windows = sliding_window_view(x[c], span)[::sh, ::sw, ::dh, ::dw]
        for r0 in range(0, OH, rows):
            r1 = min(OH, r0 + rows)
            patches = windows[r0:r1].reshape(-1, kh * kw)
            out[c, r0:r1] = (patches @ kflat).reshape(r1 - r0, OW)


"""Loops for 3-D correlations computed as sums of 2-D passes (see :mod:`fastconv._nd`).

A 3-D correlation of a padded volume ``xp`` (``(Dp, Hp, Wp)``) with a kernel
``w`` (``(kd, kh, kw)``) is, for every kernel slice ``c``, a 2-D correlation
of the slab ``xp[c : c + D]``.  The slab is C-contiguous, so its ``D`` slices
stacked on top of each other are one ``(D*Hp, Wp)`` image; a "valid" 2-D
correlation of that image with ``w[c]`` has ``D*Hp - kh + 1`` rows, of which
rows ``z*Hp + i`` for ``i < Hp - kh + 1`` are output row ``i`` of slice ``z``
(the others straddle two slices and are dropped).  :func:`accumulate` adds
those rows into the result, one slice per ``prange`` iteration.
"""

from __future__ import annotations

from numba import prange

from .._jit import jit


@jit(parallel=True)
def accumulate(acc, rows, step, first):
    """``acc[z, i, j] (+)= rows[z*step + i, j]``: assigned when ``first``, else added.

    ``acc`` is ``(D, OH, OW)``; ``rows`` holds at least ``(D-1)*step + OH`` rows of ``OW`` values.
    Each ``prange`` iteration writes its own slice ``z``.
    """
    d, oh, ow = acc.shape
    for z in prange(d):
        for i in range(oh):
            src = rows[z * step + i]
            dst = acc[z, i]
            if first:
                for j in range(ow):
                    dst[j] = src[j]
            else:
                for j in range(ow):
                    dst[j] += src[j]


@jit(parallel=True)
def gather_segments(out, res, step):
    """``out[r, i, j] = res[r, i*step + j]``: ``g`` segments of ``OW`` values from each long row of ``res``.

    ``out`` is ``(R, g, OW)`` and ``res`` ``(R, L)`` with ``L >= (g-1)*step + OW``; each ``prange``
    iteration writes its own ``out[r]``.
    """
    n, g, ow = out.shape
    for r in prange(n):
        src = res[r]
        for i in range(g):
            dst = out[r, i]
            base = i * step
            for j in range(ow):
                dst[j] = src[base + j]

"""Loops for 3-D correlations computed as sums of 2-D passes (see :mod:`fastconv._nd`).

A 3-D correlation of a padded volume ``xp`` (``(Dp, Hp, Wp)``) with a kernel
``w`` (``(kd, kh, kw)``) is, for every kernel slice ``c``, a 2-D correlation
of the slab ``xp[c : c + D]``.  The slab is C-contiguous, so its ``D`` slices
stacked on top of each other are one ``(D*Hp, Wp)`` image; a "valid" 2-D
correlation of that image with ``w[c]`` has ``D*Hp - kh + 1`` rows, of which
rows ``z*Hp + i`` for ``i < Hp - kh + 1`` are output row ``i`` of slice ``z``
(the others straddle two slices and are dropped).  :func:`accumulate` adds
those rows into the result.  Both loops are block functions (the last two
arguments are the blocks to compute) shared among threads by
:func:`fastconv._loops.threads.run`: :func:`sum_slices` and
:func:`take_segments` call them so.
"""

from __future__ import annotations

from .._jit import jit
from . import threads


@jit()
def accumulate(acc, rows, step, first, z0, z1):
    """``acc[z, i, j] (+)= rows[z*step + i, j]`` for slices ``z0 <= z < z1``: assigned when ``first``, else added.

    ``acc`` is ``(D, OH, OW)``; ``rows`` holds at least ``(D-1)*step + OH`` rows of ``OW`` values.
    """
    d, oh, ow = acc.shape
    for z in range(z0, z1):
        for i in range(oh):
            src = rows[z * step + i]
            dst = acc[z, i]
            if first:
                for j in range(ow):
                    dst[j] = src[j]
            else:
                for j in range(ow):
                    dst[j] += src[j]


@jit()
def gather_segments(out, res, step, r0, r1):
    """``out[r, i, j] = res[r, i*step + j]`` for ``r0 <= r < r1``: ``g`` segments of ``OW`` values from a long row.

    ``out`` is ``(R, g, OW)`` and ``res`` ``(R, L)`` with ``L >= (g-1)*step + OW``.
    """
    n, g, ow = out.shape
    for r in range(r0, r1):
        src = res[r]
        for i in range(g):
            dst = out[r, i]
            base = i * step
            for j in range(ow):
                dst[j] = src[base + j]


def sum_slices(acc, rows, step, first) -> None:
    """:func:`accumulate` over every slice, on fastconv's threads."""
    threads.run(accumulate, (acc, rows, step, first), acc.shape[0], acc.size)


def take_segments(out, res, step) -> None:
    """:func:`gather_segments` over every row, on fastconv's threads."""
    threads.run(gather_segments, (out, res, step), out.shape[0], out.size)

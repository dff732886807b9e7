"""The FFT backend's block geometry: how each axis is cut into phases and blocks, and the block size.

Read by the ``fft`` backend (:mod:`fastconv._fft`, which cuts a call into these
blocks) and by the cost model (:mod:`fastconv._method`, which weighs that
call's time against ``direct``'s), so the geometry of a call is worked out by
one rule in one place (:func:`geometry`; the block search is cached by the
axes' geometry and the cost file).  A leaf: it imports only the cost constants
(:mod:`fastconv._costs`).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from ._costs import _load, costs_path

# Values (real) per batch of blocks (512 KiB of float32): blocks of 362 x 362 and more
# go one at a time. Measured (1024x1024, 23x23, one thread): 384 x 384 blocks took
# 20.9 ms in batches of 2**21 values and 13.4 ms one at a time (1152 x 1152: 14.8 ms).
_BATCH_VALUES = 1 << 17

# Shortest block side (unless the whole axis is shorter): pocketfft's time per N log2 N was
# measured 1.5-2x higher below about 200 values per line than from 256 to 1024.
_MIN_BLOCK = 256
# Largest block (values) unless the smallest candidate is larger: a float32 block and its spectrum take
# 8 bytes per value, 12 MB here, which stays in a desktop CPU's last-level cache. Larger blocks cost more
# per N log2 N than the model's constants say (the column transforms miss the cache): at 2048x2048
# 127x127 "same" (one thread, ducc0, AMD EPYC Zen 3) whole-image 2304x2304 blocks took 70 ms of CPU
# time, 384x2304 blocks 43 ms.
_MAX_BLOCK = 3 << 19


class Axis(NamedTuple):
    """How one axis of a call is cut into phases and blocks (see :func:`axis_geometry`)."""

    #: ``(in_start, in_step, out_start, out_step, count)`` per phase: output ``out_start + out_step*m``
    #: (``m < count``) reads the phase's sub-grid ``m*stride + t`` (``t < span``), whose position
    #: ``g`` is input index ``in_start + in_step*g``.
    phases: tuple
    #: The (dilated, if not phased) kernel's extent along the axis.
    span: int
    #: Distance between the outputs' windows on the sub-grid.
    stride: int
    #: Dilation of the kernel placed in the block (1 when phased).
    dilation: int


def axis_geometry(n_in: int, n_out: int, k: int, s: int, d: int, p: int) -> Axis:
    """Phases and reach along one axis: ``n_in`` inputs, ``n_out`` outputs, ``k`` taps, stride, dilation, pad."""
    if s == 1 and d > 1:
        phases = tuple((r - p, d, r, d, (n_out - r + d - 1) // d) for r in range(min(d, n_out)))
        return Axis(phases, k, 1, 1)
    return Axis(((-p, 1, 0, 1, n_out),), d * (k - 1) + 1, s, d)


def blocks_along(axis: Axis, n: int) -> int:
    """Number of blocks of ``n`` values along ``axis`` (all phases), or 0 if ``n`` is shorter than the span."""
    if n < axis.span:
        return 0
    per = (n - axis.span) // axis.stride + 1  # outputs per block
    return sum(-(-ph[4] // per) for ph in axis.phases)


def whole_length(axis: Axis) -> int:
    """Values along ``axis`` that one block needs to hold its longest phase whole."""
    longest = max(ph[4] for ph in axis.phases)
    return (longest - 1) * axis.stride + axis.span


def _fast_length(n: int) -> int:
    """The smallest ``2**a * m >= n`` with ``m`` in 1, 3, 5, 9, 15, 45: lengths pocketfft transforms fast.

    Higher powers of 3 and 5 are left out (fewer candidates; in one measurement a
    2187 = 3**7-point inverse 2-D transform took 1.4x the time of a 2304 = 2**8 * 9-point one).
    """
    best = 1 << max(0, (n - 1).bit_length())
    for m in (3, 5, 9, 15, 45):
        p = m
        while p < n:
            p *= 2
        best = min(best, p)
    return best


def _lengths(axis: Axis) -> list[int]:
    """Candidate block lengths along ``axis``: fast lengths from the span up to the whole axis, about sqrt(2) apart."""
    whole = _fast_length(whole_length(axis))
    out = {whole}
    t = max(axis.span + 1, _MIN_BLOCK)
    while t < whole:
        out.add(_fast_length(t))
        t = int(t * 1.41) + 1
    return sorted(n for n in out if n >= axis.span and n <= whole)


def _fft_time(c: dict, f64: bool, blocks: int, nh: int, nw: int) -> float:
    n = nh * nw
    nlogn = c["fft_nlogn_f64" if f64 else "fft_nlogn_f32"] * n * math.log2(n)
    value = c["fft_value_f64" if f64 else "fft_value_f32"] * n + c["fft_line_f64" if f64 else "fft_line_f32"] * (
        nh + nw
    )
    batches = -(-blocks // max(1, _BATCH_VALUES // n))
    return blocks * (2 * nlogn + value) + 0.5 * nlogn + batches * c["fft_block"] + c["call"]


@functools.lru_cache(maxsize=256)
def _best_block(rows: Axis, cols: Axis, channels: int, f64: bool, path: str) -> tuple[tuple[int, int], float]:
    c = _load(path)
    best = ((0, 0), math.inf)
    lr, lc = _lengths(rows), _lengths(cols)
    for nh in lr:
        br = blocks_along(rows, nh)
        for nw in lc:
            if nh * nw > _MAX_BLOCK and (nh, nw) != (lr[0], lc[0]):
                continue
            t = _fft_time(c, f64, channels * br * blocks_along(cols, nw), nh, nw)
            if t < best[1]:
                best = ((nh, nw), t)
    return best


def fft_block(rows: Axis, cols: Axis, channels: int, dtype) -> tuple[int, int]:
    """The block size ``(nh, nw)`` of least modelled time for :func:`fastconv._fft.fft`."""
    return _best_block(rows, cols, channels, np.dtype(dtype) == np.float64, str(costs_path()))[0]


class Geometry(NamedTuple):
    """One call's FFT blocks: the rows' and columns' :class:`Axis`, the block size and its modelled seconds."""

    rows: Axis
    cols: Axis
    block: tuple[int, int]
    seconds: float


def geometry(x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype) -> Geometry:
    """The FFT geometry of a call in the backends' convention (``(C, H, W)`` input, ``pads = (top, left)``).

    Examples
    --------
    >>> g = geometry((1, 1024, 1024), (63, 63), (1, 1), (1, 1), (31, 31), (1, 1024, 1024), np.float32)
    >>> g.rows.span, min(g.block) >= 63
    (63, True)
    """
    C, H, W = x_shape_chw
    rows = axis_geometry(H, out_shape[1], k_shape[0], stride[0], dilation[0], pads[0])
    cols = axis_geometry(W, out_shape[2], k_shape[1], stride[1], dilation[1], pads[1])
    block, seconds = _best_block(rows, cols, C, np.dtype(dtype) == np.float64, str(costs_path()))
    return Geometry(rows, cols, block, seconds)

"""Batched, multi-channel 2-D convolution, :func:`conv2d` (a CNN layer's job).

Two implementations compute the same sums, both parallel over blocks of
output rows (:mod:`fastconv._loops.threads`; threads: ``numba.set_num_threads``):

``"direct"``
    For float32, a register-blocked kernel: tiles of 4 or 8 output pixels x
    16 or 32 filters, sized to the vector registers of the CPU Numba compiles
    for (:func:`_tile_shape`), whose accumulators stay in registers for the whole
    ``kh*kw*C`` reduction, weights packed once per call into the order the
    tile reads them, input read in place (a zero-padded copy of the rows
    under an output row only where padding is needed), multiply-adds fused
    (FMA).  For float64 and integers, a loop nest whose innermost loop runs
    along the filter axis.
``"im2col"``
    The windows under a block of output rows are copied into a patch matrix
    and multiplied by the ``(kh*kw*C, F)`` weight matrix (BLAS
    ``sgemm``/``dgemm`` on one thread per block; an exact loop for integers).

``"auto"`` takes ``"direct"`` for float32 and integers and ``"im2col"`` for
float64.  ``benches/bench_conv2d.py`` times both on the CNN layers: at batch
128 and batch 1 the float32 direct kernel is 1.3-3x faster than im2col,
whose patch matrix costs memory traffic and whose sgemm runs far from peak
with only 16-32 columns.  There is no float64 tile kernel; dgemm is the
faster of the two there.
"""

from __future__ import annotations

import contextlib
import threading

import llvmlite.binding
import numba
import numpy as np
from numpy.typing import ArrayLike
from threadpoolctl import ThreadpoolController

from . import _plan
from . import _validation as v
from ._loops import conv2d as _k
from ._loops import threads

#: Backend names accepted by :func:`conv2d` besides ``"auto"``.
BACKENDS = ("im2col", "direct")

#: Size of one im2col patch block in bytes: half a core's L2 cache here, leaving room for BLAS packing.
BLOCK_BYTES = 512 * 1024


def _cpu_features() -> set[str]:
    """The CPU features Numba compiles for (``NUMBA_CPU_FEATURES`` if set, else the host's)."""
    if numba.config.CPU_FEATURES:
        return {f[1:] for f in numba.config.CPU_FEATURES.split(",") if f.startswith("+")}
    try:
        return {name for name, on in llvmlite.binding.get_host_cpu_features().items() if on}
    except RuntimeError:  # features unknown on this platform
        return set()


#: Whether the direct kernel may use 16-lane (zmm) vectors: the CPU has AVX-512 (32 vector registers).
WIDE_VECTORS = "avx512f" in _cpu_features()

#: Blocks of output rows per thread that the direct kernel aims for (load balance at small batches).
BLOCKS_PER_THREAD = 4

_state = threading.local()  # per thread: whether BLAS is already limited
_blas: ThreadpoolController | None = None  # made on first use (it scans the loaded libraries)


@contextlib.contextmanager
def single_thread_blas():
    """Run the body with BLAS limited to one thread (re-entrant).

    fastconv parallelises over blocks itself; the small, skinny products of a
    CNN layer (``(pixels, kh*kw*C) @ (kh*kw*C, F)``, ``(N, 2048) @ (2048, 10)``)
    run slower on a multithreaded BLAS than on one thread.
    """
    global _blas
    if getattr(_state, "blas_limited", False):
        yield
        return
    if _blas is None:
        _blas = ThreadpoolController()
    with _blas.limit(limits=1, user_api="blas"):
        _state.blas_limited = True
        try:
            yield
        finally:
            _state.blas_limited = False


def _run_im2col(x, w2, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, out, packed=None):
    """Fill ``out`` (N, OH, OW, F) by blocked im2col and a product per block (see module notes)."""
    N = x.shape[0]
    K, F = w2.shape
    OH, OW = out.shape[1], out.shape[2]
    rows = max(1, BLOCK_BYTES // (OW * K * x.itemsize))
    if bias is None:
        bias = np.zeros(F, dtype=out.dtype)
    # One-thread BLAS: the blocks run on Numba's threads, and waking BLAS
    # threads for a small product costs more than the product.
    args = (x, w2, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, OH, OW, rows, out.reshape(N * OH * OW, F))
    with single_thread_blas():
        threads.run(_k.im2col_blocks, args, (N * OH + rows - 1) // rows, out.size * K)


def _tile_shape(F: int) -> tuple[int, int, int]:
    """``(lanes per vector, vectors per pixel, pixels)`` of the direct kernel's tile for ``F`` filters.

    With AVX-512, 8 pixels x 32 filters (two zmm per pixel) when ``F`` is a
    multiple of 32, else 8 x 16 (one zmm); with AVX2, 4 pixels x 16 filters
    (two ymm per pixel: 8 accumulators of the 16 registers; see
    :func:`fastconv._loops.conv2d._direct_tiles`).
    """
    if WIDE_VECTORS:
        return (16, 2, 8) if F % 32 == 0 else (16, 1, 8)
    return (8, 2, 4)


def pack(w2: np.ndarray, lanes: int) -> np.ndarray:
    """The float32 weights ``w2`` (kh*kw*C, F) packed for tiles of ``lanes`` filters: (ceil(F/lanes), K, lanes)."""
    wp = np.empty(((w2.shape[1] + lanes - 1) // lanes, w2.shape[0], lanes), dtype=np.float32)
    _k.pack_weights(w2, lanes, wp)
    return wp


def _rows_per_block(n, oh):
    """Output rows per block of the direct kernel: whole images when the batch alone gives every thread work."""
    blocks = BLOCKS_PER_THREAD * threads.threads()
    if n >= blocks:
        return oh
    return max(1, (n * oh) // blocks)


def _run_direct(x, w2, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, out, packed=None):
    """Fill ``out`` (N, OH, OW, F) with the direct kernel (the register tiles for float32).

    ``packed`` is ``pack(w2, ...)`` for this CPU's tile, made in advance, or None.
    """
    N = x.shape[0]
    OH, OW, F = out.shape[1:]
    if x.dtype == np.float32:
        shape = _tile_shape(F)
        lanes = shape[0] * shape[1]
        wp = pack(w2, lanes) if packed is None else packed
        b = np.zeros(wp.shape[0] * lanes, dtype=np.float32)
        if bias is not None:
            b[:F] = bias
        rows = _rows_per_block(N, OH)
        args = (x, wp, b, kh, kw, pt, pl, sh, sw, dh, dw, relu, rows, out)
        threads.run(_TILE_KERNELS[shape], args, N * ((OH + rows - 1) // rows), out.size * w2.shape[0])
        return
    if bias is None:
        bias = np.zeros(F, dtype=out.dtype)
    args = (x, w2, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, out.reshape(N * OH, OW, F))
    threads.run(_k.direct, args, N * OH, out.size * w2.shape[0])


_RUNNERS = {"im2col": _run_im2col, "direct": _run_direct}
#: The tile kernel by ``(lanes, vectors, pixels)`` (:func:`_tile_shape`).
_TILE_KERNELS = {
    (8, 2, 4): _k.direct_tiles_4x16,
    (16, 2, 8): _k.direct_tiles_8x32,
    (16, 1, 8): _k.direct_tiles_8x16,
}


def _choose_backend(dtype) -> str:
    """The backend ``"auto"`` runs: im2col (dgemm) for float64, the direct kernel otherwise (see module notes)."""
    return "im2col" if np.dtype(dtype) == np.float64 else "direct"


def _compute(plan: _plan.ConvPlan, relu: bool, backend: str, packed=None) -> np.ndarray:
    """Run a planned layer: ``(N, OH, OW, F)`` in ``plan.dtype``, with ReLU applied if ``relu``.

    ``packed`` is ``plan.w2`` packed for the tile kernel in advance (float32 only; see :func:`pack`), or None.
    """
    win = plan.window
    out = np.empty(plan.out_shape, dtype=plan.dtype)
    if backend == "auto":
        backend = _choose_backend(out.dtype)
    (kh, kw), (sh, sw), (dh, dw) = win.k_hw, win.stride, win.dilation
    pt, pl = win.pads[0][0], win.pads[1][0]
    _RUNNERS[backend](plan.x, plan.w2, plan.bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, out, packed)
    return out


class Filters:
    """A bank of float32 CNN filters prepared once for many :func:`conv2d` calls (a layer of a saved model).

    Holds ``w`` ``(kh, kw, C, F)`` reshaped to ``(kh*kw*C, F)`` and packed for the
    direct kernel, and ``bias`` ``(F,)``; calling it on ``x`` computes what
    ``conv2d(x, w, ..., bias=bias)`` computes in float32, with an optional fused
    ReLU.  :mod:`fastconv.nn` runs every ``Conv2D`` layer through it.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.nhwc import Filters
    >>> f = Filters(np.ones((3, 3, 2, 4), np.float32), bias=np.full(4, -10, np.float32))
    >>> y = f(np.ones((1, 5, 5, 2), np.float32), padding="same", relu=True)
    >>> float(y[0, 2, 2, 0]), float(y[0, 0, 0, 0])  # 18 taps - 10; 8 taps at the corner - 10, clipped
    (8.0, 0.0)
    """

    def __init__(self, w: ArrayLike, bias: ArrayLike | None = None):
        w = v.check_array(w, "w", (4,))
        kh, kw, c, f = w.shape
        self.k_hw, self.channels = (kh, kw), c
        self.w2 = np.ascontiguousarray(w, np.float32).reshape(kh * kw * c, f)
        shape = _tile_shape(f)
        self.packed = pack(self.w2, shape[0] * shape[1])  # the direct kernel's weight order, made once
        self.bias = None
        if bias is not None:
            bias = v.check_array(bias, "bias", (1,))
            if bias.shape != (f,):
                raise ValueError(f"bias must have shape (F,) = ({f},) for w of shape {w.shape}, got {bias.shape}")
            self.bias = np.ascontiguousarray(bias, np.float32)

    def __call__(self, x, stride=1, padding="valid", *, dilation=1, relu: bool = False) -> np.ndarray:
        """``(N, OH, OW, F)`` float32: the filters applied to ``x`` ``(N, H, W, C)`` (converted to float32)."""
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[3] != self.channels:
            raise ValueError(f"x must have shape (N, H, W, {self.channels}), got {x.shape}")
        plan = _plan.layer(x, self.w2, self.bias, self.k_hw, stride, padding, dilation)
        return _compute(plan, bool(relu), "auto", self.packed)


def conv2d(
    x: ArrayLike,
    w: ArrayLike,
    stride: int | tuple[int, int] = 1,
    padding: int | str | tuple = "valid",
    *,
    dilation: int | tuple[int, int] = 1,
    bias: ArrayLike | None = None,
    backend: str = "auto",
) -> np.ndarray:
    """Convolve a batch of multi-channel images with a bank of filters (a CNN layer).

    Computes, for every image ``n``, output position ``(i, j)`` and filter ``f``::

        out[n, i, j, f] = bias[f] + sum_{a, b, c} w[a, b, c, f] * xp[n, i*sh + a*dh, j*sw + b*dw, c]

    where ``xp`` is ``x`` zero-padded, ``(sh, sw)`` the stride and ``(dh, dw)``
    the dilation.  This is cross-correlation, as ``tf.nn.conv2d`` and a Keras
    ``Conv2D`` layer compute it; layouts are TensorFlow's (NHWC images, HWIO
    filters).

    Parameters
    ----------
    x : array_like, shape (N, H, W, C)
        A batch of images, channels last.
    w : array_like, shape (kh, kw, C, F)
        ``F`` filters of ``kh x kw`` taps over the ``C`` channels (a Keras
        ``Conv2D`` kernel).
    stride : int or (int, int), default 1
        Step between output positions, (rows, cols); each >= 1.
    padding : int, (int, int), ((int, int), (int, int)), "valid", "same" or "full", default "valid"
        Zero padding, with the meaning it has in :func:`fastconv.convolve2d`:
        ``"same"`` is TensorFlow's SAME rule (output ``ceil(H / sh)`` rows, the
        odd row or column of padding at the bottom/right) for any stride.
    dilation : int or (int, int), default 1
        Spacing between taps, (rows, cols); each >= 1.
    bias : array_like, shape (F,), optional
        Added to every output pixel of filter ``f``.
    backend : {"auto", "im2col", "direct"}, default "auto"
        ``"im2col"``: patch matrix times weight matrix through BLAS;
        ``"direct"``: Numba loops (register tiles of 4-8 pixels x 16-32 filters
        for float32). ``"auto"`` takes im2col for float64 and direct
        otherwise.

    Returns
    -------
    numpy.ndarray, shape (N, OH, OW, F)
        ``OH = floor((H + top + bottom - dh*(kh-1) - 1) / sh) + 1``, likewise
        ``OW``. dtype: float32 unless an input is float64 (then float64);
        int64, exact, when ``x``, ``w`` and ``bias`` are all integer or bool.

    Raises
    ------
    OverflowError
        For integer inputs when ``max|x| * sum|w| + max|bias|`` (``sum|w|``
        over one filter) could exceed int64: pass float64 weights instead.
    ValueError
        If ``x`` or ``w`` is not 4-D or their channel counts differ (the
        message gives both shapes), ``bias`` is not of shape ``(F,)``, an
        array is empty, stride or dilation is below 1, the padding is
        negative or unknown, the (dilated) filter is larger than the padded
        image, or ``backend`` is unknown.
    TypeError
        For a complex, object or string array or a non-integer stride,
        dilation or padding.

    Examples
    --------
    >>> import numpy as np
    >>> import fastconv
    >>> x = np.ones((2, 5, 5, 3), dtype=np.float32)
    >>> w = np.ones((3, 3, 3, 4), dtype=np.float32)
    >>> y = fastconv.conv2d(x, w, padding="same")
    >>> y.shape, y.dtype
    ((2, 5, 5, 4), dtype('float32'))
    >>> float(y[0, 2, 2, 0]), float(y[0, 0, 0, 0])  # 27 taps inside, 12 at the corner
    (27.0, 12.0)
    >>> fastconv.conv2d(x, w, stride=2, padding="same", bias=[0, 1, 2, 3]).shape
    (2, 3, 3, 4)
    """
    v.check_choice(backend, "backend", ("auto",) + BACKENDS)
    return _compute(_plan.conv(x, w, stride, padding, dilation, bias), False, backend)

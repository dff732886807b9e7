"""Batched, multi-channel 2-D convolution, :func:`conv2d` (a CNN layer's job).

Two implementations compute the same sums:

``"im2col"``
    The windows under a block of output pixels are copied into a patch matrix
    (Numba, no padding copy) and multiplied by the ``(kh*kw*C, F)`` weight
    matrix with NumPy's ``matmul`` (BLAS ``sgemm``/``dgemm`` for floats).
    Blocks are small enough to stay in cache, and are shared out over
    ``numba.get_num_threads()`` Python threads, each running a one-thread BLAS
    (through ``threadpoolctl``).
``"direct"``
    A Numba loop nest, parallel over output rows, whose innermost loop runs
    along the filter axis (contiguous in both ``w`` and ``out``), so it is
    vectorised; no patch matrix, no BLAS.

``"auto"`` takes ``"im2col"`` for floating-point data and ``"direct"`` for
integers (BLAS has no integer product).
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numpy.typing import ArrayLike
from threadpoolctl import ThreadpoolController

from . import _validation as v
from ._loops import conv2d as _k

#: Backend names accepted by :func:`conv2d` besides ``"auto"``.
BACKENDS = ("im2col", "direct")

#: Size of one im2col patch block in bytes: half a core's L2 cache here, leaving room for BLAS packing.
BLOCK_BYTES = 512 * 1024

_state = threading.local()  # per thread: the patch buffer, and whether BLAS is already limited
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_blas: ThreadpoolController | None = None  # made on first use (it scans the loaded libraries)


def _shape(a):
    try:
        return np.shape(a)
    except Exception:  # ragged lists: check_array gives the message
        return None


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


def _workers(n: int) -> ThreadPoolExecutor:
    """The shared pool of ``n`` threads that run im2col blocks."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="fastconv")
            _pool_size = n
        return _pool


def _patch_buffer(size: int, dtype) -> np.ndarray:
    """This thread's patch buffer, of at least ``size`` elements of ``dtype``."""
    buf = getattr(_state, "buf", None)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = np.empty(size, dtype=dtype)
        _state.buf = buf
    return buf[:size]


def _run_im2col(x, w2, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, out):
    """Fill ``out`` (N, OH, OW, F) by blocked im2col and BLAS matmul (see module notes)."""
    N, H, W, C = x.shape
    K, F = w2.shape
    OH, OW = out.shape[1], out.shape[2]
    n_rows = N * OH
    x2 = x.reshape(N * H, W * C)
    o2 = out.reshape(n_rows * OW, F)
    rows = max(1, BLOCK_BYTES // (OW * K * x.itemsize))
    starts = range(0, n_rows, rows)
    finish = relu or bias is not None
    if bias is None:
        bias = np.zeros(F, dtype=out.dtype)

    def block(r0):
        r1 = min(n_rows, r0 + rows)
        patches = _patch_buffer((r1 - r0) * OW * K, x.dtype).reshape(-1, K)
        _k.im2col_rows(x, x2, kh, kw, pt, pl, sh, sw, dh, dw, OH, OW, r0, r1, patches)
        o = o2[r0 * OW : r1 * OW]
        np.matmul(patches, w2, out=o)
        if finish:
            _k.bias_relu(o, bias, relu)

    threads = min(numba.get_num_threads(), len(starts))
    # One-thread BLAS even for a single block: waking BLAS threads for a small
    # product costs more than the product, and far more on a busy machine.
    with single_thread_blas():
        if threads == 1:
            for r0 in starts:
                block(r0)
        else:
            for _ in _workers(threads).map(block, starts):
                pass


def _run_direct(x, w2, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, out):
    """Fill ``out`` (N, OH, OW, F) with the direct Numba kernel."""
    N = x.shape[0]
    OH, OW, F = out.shape[1:]
    if bias is None:
        bias = np.zeros(F, dtype=out.dtype)
    _k.direct(x, w2, bias, kh, kw, pt, pl, sh, sw, dh, dw, relu, out.reshape(N * OH, OW, F))


_RUNNERS = {"im2col": _run_im2col, "direct": _run_direct}


def _choose_backend(dtype) -> str:
    """The backend ``"auto"`` runs: BLAS for floats, the direct kernel for integers."""
    return "im2col" if np.dtype(dtype).kind == "f" else "direct"


def _geometry(in_hw, k_hw, stride, padding, dilation):
    """``(pt, pl, OH, OW)`` for normalised ``stride``/``dilation`` pairs; validates ``padding``."""
    (pt, pb), (pl, pr) = v.normalize_padding(padding, in_hw, k_hw, stride, dilation)
    hp, wp = in_hw[0] + pt + pb, in_hw[1] + pl + pr
    v.check_fits((hp, wp), k_hw, dilation, name="w")
    oh = v.output_size(hp, k_hw[0], stride[0], dilation[0])
    ow = v.output_size(wp, k_hw[1], stride[1], dilation[1])
    return pt, pl, oh, ow


def _conv(x, w2, bias, k_hw, stride, padding, dilation, relu, backend):
    """Convolve prepared arrays: ``x`` (N, H, W, C) C-contiguous, ``w2`` (kh*kw*C, F), ``bias`` (F,) or None.

    All three have the output dtype already; ``stride`` and ``dilation`` are
    pairs. Returns ``(N, OH, OW, F)``, with ReLU applied if ``relu``.
    """
    pt, pl, oh, ow = _geometry(x.shape[1:3], k_hw, stride, padding, dilation)
    out = np.empty((x.shape[0], oh, ow, w2.shape[1]), dtype=w2.dtype)
    if backend == "auto":
        backend = _choose_backend(out.dtype)
    _RUNNERS[backend](x, w2, bias, k_hw[0], k_hw[1], pt, pl, stride[0], stride[1], dilation[0], dilation[1], relu, out)
    return out


def _check_shapes(x, w):
    xs, ws = _shape(x), _shape(w)
    if xs is not None and ws is not None:
        if len(xs) != 4 or len(ws) != 4:
            raise ValueError(
                "conv2d needs x of shape (N, H, W, C) and w of shape (kh, kw, C, F), "
                f"got x of shape {xs} and w of shape {ws}"
            )
        if xs[3] != ws[2]:
            raise ValueError(
                f"x has {xs[3]} channels but w expects {ws[2]}: x of shape {xs} (N, H, W, C), "
                f"w of shape {ws} (kh, kw, C, F)"
            )


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
        ``"direct"``: Numba loops over the filter axis. ``"auto"`` takes
        im2col for floats and direct for integers.

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
    _check_shapes(x, w)
    x = v.check_array(x, "x", (4,))
    w = v.check_array(w, "w", (4,))
    stride = v.as_pair(stride, "stride")
    dilation = v.as_pair(dilation, "dilation")
    kh, kw, _, F = w.shape
    arrays = [x, w]
    if bias is not None:
        bias = v.check_array(bias, "bias", (1,))
        if bias.shape != (F,):
            raise ValueError(f"bias must have shape (F,) = ({F},) for w of shape {w.shape}, got {bias.shape}")
        arrays.append(bias)
    dtype = v.result_dtype(*arrays)
    if dtype.kind == "i":  # exact int64 sums, or OverflowError where they could wrap
        v.check_int_bound(x, w, bias=bias, x_name="x", k_name="w")
    x = v.as_kernel_input(x, dtype)
    w2 = v.as_kernel_input(w, dtype).reshape(kh * kw * w.shape[2], F)
    if bias is not None:
        bias = v.as_kernel_input(bias, dtype)
    return _conv(x, w2, bias, (kh, kw), stride, padding, dilation, False, backend)

"""The public 2-D convolution function, :func:`convolve2d`."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import _direct, _fft, _method, _plan
from . import _validation as v
from ._cache import ENTRY_BYTES, PLANS
from ._loops import reference, threads

#: The implementations :func:`convolve2d` can run, by name. ``"auto"`` runs the one of least
#: modelled time, ``"direct"`` or ``"fft"`` (see :mod:`fastconv._method`); integer results always
#: run ``"direct"``.
BACKENDS = {
    "naive": reference.naive,
    "im2col": reference.im2col,
    "direct": _direct.direct,
    "fft": _fft.fft,
}


_ONE, _ZERO, _CONSTANT, _AUTO = 1, 0, "constant", "auto"


def convolve2d(
    img: ArrayLike,
    k: ArrayLike,
    stride: int | tuple[int, int] = 1,
    padding: int | str | tuple = 0,
    *,
    dilation: int | tuple[int, int] = 1,
    flip: bool = False,
    pad_mode: str = "constant",
    cval: float = 0,
    dtype: DTypeLike | None = None,
    out: np.ndarray | None = None,
    backend: str = "auto",
) -> np.ndarray:
    """Slide a 2-D kernel over an image (cross-correlation, or convolution with ``flip=True``).

    Computes, for every output position ``(i, j)``::

        out[i, j] = sum_{a, b} k[a, b] * x[i*sh + a*dh, j*sw + b*dw]

    over the padded input ``x``, where ``(sh, sw)`` is the stride and
    ``(dh, dw)`` the dilation.  This is **cross-correlation**: the kernel is not
    flipped, as in CNN layers, ``tf.nn.conv2d`` and
    ``scipy.signal.correlate2d``.  With ``flip=True`` the kernel is rotated by
    180 degrees first, which is true convolution (``scipy.signal.convolve2d``).

    Parameters
    ----------
    img : array_like, shape (H, W) or (H, W, C)
        The image. With a channel axis, each channel is filtered with the same
        kernel and the result has shape (OH, OW, C). Any memory layout and byte
        order is accepted.
    k : array_like, shape (kh, kw)
        The kernel; any size, rectangular included.
    stride : int or (int, int), default 1
        Step between output positions, (rows, cols); each >= 1.
    padding : int, (int, int), ((int, int), (int, int)), "valid", "same" or "full", default 0
        Padding added around the image: ``p`` on every side; ``(ph, pw)`` on
        top/bottom and left/right; ``((top, bottom), (left, right))``;
        ``"valid"`` for none; ``"same"`` for TensorFlow's SAME rule (output size
        ``ceil(n / stride)``, the odd row/column of padding at the bottom/right),
        for any stride, dilation and kernel size; ``"full"`` for every position
        where the kernel overlaps the image (``dilation*(k-1)`` on each side, as
        ``scipy.signal.correlate2d(mode="full")``).
    dilation : int or (int, int), default 1
        Spacing between kernel taps, (rows, cols); each >= 1.
    flip : bool, default False
        Rotate the kernel 180 degrees (true convolution).
    pad_mode : {"constant", "edge", "reflect", "symmetric", "wrap"}, default "constant"
        How padding is filled, with the meaning of :func:`numpy.pad` ("constant" is ``cval``).
    cval : int or float, default 0
        The value of constant padding (scipy.ndimage's ``cval``, OpenCV's
        ``borderValue``, scipy.signal's ``fillvalue``). A whole number for
        integer results.
    dtype : numpy dtype, optional
        Result and accumulator dtype.  Default: int64 for integer/bool inputs,
        else float64 if an input is float64, else float32.  A float dtype
        computes in that precision; an integer dtype (integer inputs only,
        e.g. ``np.int32`` for a uint8 image: half the memory of int64) is
        checked against the overflow bound below.
    out : numpy.ndarray, optional
        A C-contiguous, writeable array of the result's shape and dtype to
        write into; it is returned.  It must not share memory with ``img`` or ``k``.
    backend : {"auto", "naive", "im2col", "direct", "fft"}, default "auto"
        Implementation to run; all give the same result (``"fft"`` to rounding: float32 within
        ``1e-5 * max|img| * sum|k|``). ``"auto"`` picks ``"direct"`` or ``"fft"`` by a measured
        cost model; integer results are always computed exactly by ``"direct"`` (also with
        ``backend="fft"``) unless a float ``dtype=`` is given. See :data:`BACKENDS`.

    Returns
    -------
    numpy.ndarray, shape (OH, OW) or (OH, OW, C)
        ``OH = floor((H + top + bottom - dh*(kh-1) - 1) / sh) + 1``, likewise ``OW``.
        dtype: ``dtype`` if given; else int64 (exact) when image and kernel
        are both integer or bool; float64 when either is float64; float32
        otherwise.  Integer results are exact: they never wrap around.

    Raises
    ------
    OverflowError
        For integer results when ``max|img| * sum|k|`` (``|cval|`` counted as an
        image value) could exceed the result dtype (int64 by default): pass a
        float64 kernel or ``dtype=np.float64`` for an approximate result.
    TypeError
        For a complex, object or string array, a non-integer stride, dilation
        or padding, a ``dtype`` that is not an integer or float dtype (or an
        integer dtype for float inputs), or an ``out`` of the wrong dtype.
    ValueError
        For a wrong number of dimensions, an empty array, a stride or dilation
        below 1, negative padding, an unknown padding word, pad_mode or backend,
        or a (dilated) kernel larger than the padded image; an ``out`` of the
        wrong shape, not C-contiguous, or sharing memory with an input; a
        fractional ``cval`` for an integer result.

    Examples
    --------
    >>> import numpy as np
    >>> import fastconv
    >>> img = np.arange(16).reshape(4, 4)
    >>> fastconv.convolve2d(img, np.ones((2, 2), dtype=int))
    array([[10, 14, 18],
           [26, 30, 34],
           [42, 46, 50]])
    >>> fastconv.convolve2d(img, [[1, 0], [0, -1]], stride=2)
    array([[-5, -5],
           [-5, -5]])
    >>> fastconv.convolve2d(img, np.ones((3, 3)), stride=2, padding="same").shape
    (2, 2)
    >>> fastconv.convolve2d(np.ones((2, 2), np.uint8), [[1, 1]], padding="full", cval=5, dtype=np.int32)
    array([[6, 2, 6],
           [6, 2, 6]], dtype=int32)
    >>> out = np.empty((3, 3))
    >>> fastconv.convolve2d(img, np.ones((2, 2)), out=out) is out
    True
    """
    key = None
    common = (
        out is None
        and dtype is None
        and type(img) is np.ndarray
        and type(k) is np.ndarray
        and type(stride) is int
        and (type(padding) is int or type(padding) is str)
        # the defaults themselves (a small int and a string literal are one object in CPython): any other
        # value, equal or not, goes the long way
        and dilation is _ONE
        and flip is False
        and pad_mode is _CONSTANT
        and cval is _ZERO
        and backend is _AUTO
    )
    if common:  # the common call (recognised here only): a small one planned before runs its kept plan
        kd = k.dtype
        by_value = kd.kind != "f"  # an integer kernel's plan holds its values in their lanes
        if not by_value or k.size <= _SMALL_KERNEL:
            # kernel_key(k, by_value), written out: this lookup is most of a small call's Python
            key = (img.dtype, img.shape, stride, padding, (kd, k.shape, k.tobytes() if by_value else None))
            found = _lookup(key)
            if found is not None:
                found[2] = True
                result = found[0](img, k)
                if result is not None:
                    return result
    else:
        v.check_choice(backend, "backend", ("auto",) + tuple(BACKENDS))
    plan = _plan.correlate(img, k, stride, padding, dilation, flip, pad_mode, cval, dtype, common)
    if backend == "auto":
        backend = _method.choose(
            plan.x.shape, plan.kern.shape, plan.stride, plan.dilation, plan.pads, plan.out_shape, plan.dtype, plan.kern
        )
    if out is not None:
        v.check_out(out, plan.result_shape, plan.result_dtype, (("img", img), ("k", k)))
    if backend == "direct":
        result = _direct.same_separable(plan, img, pad_mode, cval, out)
        if result is not None:
            return result
    return run(plan, BACKENDS[backend], out, key if backend == "direct" else None)


#: Integer kernels of up to this many taps have their small calls kept (the key holds their bytes).
_SMALL_KERNEL = 64
_lookup = PLANS.lookup()
#: The kept plans, by their former name (:func:`fastconv.precompile.precompile` clears them).
_SMALL = PLANS


def _keep(key, plan: _plan.Plan) -> np.ndarray | None:
    """Compute a small direct common call and keep its finished plan in :data:`fastconv._cache.PLANS` under ``key``.

    Returns the result, or None for a call that is not kept (then :func:`run`
    computes it).  A call of less than
    :data:`fastconv._loops.threads.SERIAL_WORK` spends more time planning than
    computing (3x3 images: several microseconds of Python around a kernel call
    of less than one).  What the plan and :func:`fastconv._direct.prepare`
    decide from the key (the block function, the geometry, the dtypes, an
    integer kernel converted to its lanes) is decided once, here, on this
    call's own output, and kept: the next call with the same key only checks
    the arrays' layout, allocates the result and calls the block function.
    Integer results are kept only when the image dtype's range bounds every
    sum (:func:`fastconv._validation.bound_by_range`): then no image of that
    dtype needs the overflow check.
    """
    img_dtype, k_dtype = key[0], key[-1][0]
    x, acc = plan.x, plan.kern.dtype
    out_shape, result_shape, dtype = plan.out_shape, plan.result_shape, plan.dtype
    if _direct.work(x.size, plan.kern.size, math.prod(out_shape)) >= threads.SERIAL_WORK:
        return None  # a larger call: planning is a small part of it
    if plan.border or plan.channels_moved or dtype != plan.result_dtype or threads.parallel_forced():
        return None
    if not _plan.common_dtypes(img_dtype, k_dtype):
        return None
    integer = dtype.kind in "iu"
    if integer and not v.bound_by_range(img_dtype, plan.kern, plan.result_dtype):
        return None
    result = _plan.empty_apart(result_shape, dtype, x)  # only once the call is known to be kept
    (sh, sw), (dh, dw), (pt, pl) = plan.stride, plan.dilation, plan.pads
    raw = result.reshape(out_shape)
    kernel, k_args, n_blocks, _ = _direct.prepare(x, plan.kern, sh, sw, dh, dw, pt, pl, raw)
    kernel(x, *k_args, sh, sw, dh, dw, pt, pl, raw, 0, n_blocks)  # below SERIAL_WORK: on this thread
    if len(k_args) != 1:
        return result  # the separable passes: computed, not kept
    x_dtype = x.dtype
    convert = x_dtype != img_dtype
    fixed = k_args[0].copy() if integer else None  # converted from this kernel's values (in the key)
    k_as_is = k_dtype == acc

    def small(img, k):
        flags, k_flags = img.flags, k.flags
        if not (flags.c_contiguous and flags.aligned and k_flags.c_contiguous and k_flags.aligned):
            return None
        xs = img.astype(x_dtype) if convert else img
        kern = fixed if fixed is not None else k if k_as_is else k.astype(acc)
        result = np.empty(result_shape, dtype=dtype)
        kernel(xs[None], kern, sh, sw, dh, dw, pt, pl, result[None], 0, n_blocks)
        return result

    PLANS.put(key, small, ENTRY_BYTES + (len(key[-1][2]) + fixed.nbytes if integer else 0))
    return result


def run(plan: _plan.Plan, loops, out: np.ndarray | None = None, key=None) -> np.ndarray:
    """Compute a planned call with ``loops`` (one of :data:`BACKENDS`), into ``out`` if given (already checked).

    ``run`` allocates the result (or takes ``out``) and the border pieces'
    results; ``loops`` only write into the arrays they are given.  The loops
    write straight into ``out`` (or a fresh result) unless the channels are
    moved back afterwards or the result dtype is narrower than their int64.
    ``key``: a small common call run by ``direct``, kept by :func:`_keep`.
    """
    if key is not None:
        result = _keep(key, plan)
        if result is not None:
            return result
    direct_write = not plan.channels_moved and plan.result_dtype == plan.dtype
    if direct_write:
        result = out if out is not None else _plan.empty_apart(plan.result_shape, plan.dtype, plan.x)
        raw = result.reshape(plan.out_shape)
    else:
        raw = _plan.empty_apart(plan.out_shape, plan.dtype, plan.x)
    (sh, sw), (dh, dw), (pt, pl) = plan.stride, plan.dilation, plan.pads
    border = tuple(plan.border)  # made before the loops write anything
    loops(plan.x, plan.kern, sh, sw, dh, dw, pt, pl, raw)
    for piece in border:  # a padding other than zeros: the outputs that read it, from small pieces
        part = np.empty(piece.out_shape, dtype=raw.dtype)
        (psh, psw), (pdh, pdw) = piece.stride, piece.dilation
        loops(piece.x, piece.kern, psh, psw, pdh, pdw, 0, 0, part)
        if piece.transposed:
            part = part.transpose(0, 2, 1)
        for dest, src in piece.copies:
            raw[dest] = part[src]
    if direct_write:
        return result
    raw = np.moveaxis(raw, 0, 2) if plan.channels_moved else raw.reshape(plan.result_shape)
    if out is None:
        return raw.astype(plan.result_dtype) if raw.dtype != plan.result_dtype else np.ascontiguousarray(raw)
    np.copyto(out, raw, casting="unsafe")  # exact: the bound check covered the result dtype
    return out

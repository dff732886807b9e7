"""The public 2-D convolution function, :func:`convolve2d`."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import _fft, _method
from . import _validation as v
from ._loops import correlate2d, reference

#: The implementations :func:`convolve2d` can run, by name. ``"auto"`` runs the one of least
#: modelled time, ``"direct"`` or ``"fft"`` (see :mod:`fastconv._method`); integer results always
#: run ``"direct"``.
BACKENDS = {
    "naive": reference.naive,
    "im2col": reference.im2col,
    "direct": correlate2d.direct,
    "fft": _fft.fft,
}


_INT64 = np.dtype(np.int64)


def _kernel_input(a, dtype):
    """:func:`fastconv._validation.as_kernel_input`, skipped when ``a`` already qualifies (the common case)."""
    flags = a.flags
    if a.dtype == dtype and flags.c_contiguous and flags.aligned:
        return a
    return v.as_kernel_input(a, dtype)


class _Call(NamedTuple):
    """What a backend needs for one :func:`convolve2d` call, and how to shape its result.

    The backends compute ``out`` of shape ``out_shape`` = ``(C, OH, OW)`` from
    ``x`` (``(C, H, W)``) and the 2-D kernel ``kern``, both C-contiguous and of
    the dtypes the loops accept.  Zero ("constant") padding is not applied:
    ``pads = (top, left)`` tells the loops where the image sits in the padded
    field (bottom/right follow from ``out_shape``).  Other pad modes are
    applied with :func:`numpy.pad`, and ``pads`` is then ``(0, 0)``.
    """

    x: np.ndarray
    kern: np.ndarray
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[int, int]
    out_shape: tuple[int, int, int]
    dtype: np.dtype
    #: The caller's result shape; None for a 2-D image.
    result_shape: tuple[int, ...] | None
    #: True when the backends see an (H, W, C) image as (C, H, W): the result is moved back.
    channels_moved: bool
    #: The dtype returned: ``dtype`` (what the loops write), or a narrower integer dtype asked for
    #: with ``dtype=`` (the int64 result is then converted; the bound check made that exact).
    result_dtype: np.dtype
    #: A nonzero constant fill value, added after the loops (which pad with zeros) as
    #: ``cval * (sum of the taps that fall outside the image)``; 0 otherwise.
    cval: float
    #: ``((top, bottom), (left, right))`` padding and the image's ``(H, W)``, for the ``cval`` term.
    pad_box: tuple
    in_hw: tuple[int, int]


def _prepare(img, k, stride, padding, dilation, flip, pad_mode, dtype=None, cval=0) -> _Call:
    """Validate and normalise the arguments of :func:`convolve2d` (see :class:`_Call`).

    An ``(H, W, C)`` image at column stride 1 is given to the backends as one
    ``(1, H, W*C)`` image (the channels folded into the columns, no copy);
    at other column strides the channels are moved to the front.
    """
    img = v.check_array(img, "img", (2, 3))
    k = v.check_array(k, "k", (2,))
    # Plain positive ints (the common call) are taken as they are; anything
    # else goes through the validation module, which also words the errors.
    stride = (stride, stride) if type(stride) is int and stride >= 1 else v.as_pair(stride, "stride")
    dilation = (dilation, dilation) if type(dilation) is int and dilation >= 1 else v.as_pair(dilation, "dilation")
    if not isinstance(flip, (bool, np.bool_)):
        raise TypeError(f"flip must be True or False, got {flip!r}")
    v.check_choice(pad_mode, "pad_mode", v.PAD_MODES)
    if type(padding) is int and padding >= 0:
        (pt, pb), (pl, pr) = (padding, padding), (padding, padding)
    else:
        (pt, pb), (pl, pr) = v.normalize_padding(padding, img.shape[:2], k.shape, stride, dilation)
    kh, kw = k.shape
    hp, wp = img.shape[0] + pt + pb, img.shape[1] + pl + pr
    if dilation[0] * (kh - 1) >= hp or dilation[1] * (kw - 1) >= wp:
        v.check_fits((hp, wp), k.shape, dilation)
    out_hw = (
        v.output_size(hp, kh, stride[0], dilation[0]),
        v.output_size(wp, kw, stride[1], dilation[1]),
    )

    integer = img.dtype.kind in "biu" and k.dtype.kind in "biu"
    if dtype is not None:
        dtype = v.check_result_dtype(dtype, integer)
    elif integer:
        dtype = _INT64
    else:
        dtype = v.result_dtype(img, k)
    cval = v.check_cval(cval, dtype.kind in "iu")
    if pad_mode != "constant":
        cval = 0
    if dtype.kind in "iu":
        # The loops sum in int64 (narrower only when provably exact): refuse
        # what could wrap around, int64 or the dtype asked for.
        fill = cval if (pt or pb or pl or pr) and pad_mode == "constant" else 0
        v.check_int_bound(img, k, fill=fill, dtype=dtype)
    result_dtype = dtype
    if dtype.kind in "iu":
        dtype = _INT64
    extra = (result_dtype, cval, ((pt, pb), (pl, pr)), img.shape[:2])
    if dtype.kind == "f":
        x_dtype = dtype
    elif img.dtype.kind == "b" or img.dtype == np.uint64:
        # bool has no arithmetic in the kernels; uint64 times int64 would promote to float.
        x_dtype = np.dtype(np.int64) if img.dtype == np.uint64 else np.dtype(np.uint8)
    else:
        # small integer images stay small: int64 accumulators
        x_dtype = img.dtype if img.dtype.isnative else img.dtype.newbyteorder("=")

    kern = k[::-1, ::-1] if flip else k
    kern = _kernel_input(kern, dtype)

    padded = (pt or pb or pl or pr) and pad_mode != "constant"
    if img.ndim == 3 and stride[1] == 1:
        # Channels folded into the columns: an (H, W, C) image is an (H, W*C)
        # one in which tap b of channel c sits b*dw*C columns after the
        # output's own column j*C + c. So it is one 2-D correlation with column
        # dilation dw*C (and column padding times C), with no transposes.
        channels = img.shape[2]
        x = img
        if padded:
            x = np.pad(np.asarray(x, dtype=x_dtype), ((pt, pb), (pl, pr), (0, 0)), mode=pad_mode)
        x = _kernel_input(x.reshape(x.shape[0], -1)[np.newaxis], x_dtype)
        pads = (0, 0) if padded else (pt, pl * channels)
        dilation = (dilation[0], dilation[1] * channels)
        out_shape = (1, out_hw[0], out_hw[1] * channels)
        return _Call(x, kern, stride, dilation, pads, out_shape, dtype, (out_hw[0], out_hw[1], channels), False, *extra)
    channels_last = img.ndim == 3
    x = np.moveaxis(img, 2, 0) if channels_last else img[np.newaxis]
    pads = (pt, pl)
    if padded:
        width = ((0, 0), (pt, pb), (pl, pr))
        x = np.pad(np.asarray(x, dtype=x_dtype), width, mode=pad_mode)
        pads = (0, 0)
    x = _kernel_input(x, x_dtype)
    out_shape = (x.shape[0],) + out_hw
    result_shape = (out_hw[0], out_hw[1], x.shape[0]) if channels_last else None
    return _Call(x, kern, stride, dilation, pads, out_shape, dtype, result_shape, channels_last, *extra)


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
    v.check_choice(backend, "backend", ("auto",) + tuple(BACKENDS))
    call = _prepare(img, k, stride, padding, dilation, flip, pad_mode, dtype, cval)
    if backend == "auto":
        backend = _method.choose(
            call.x.shape, call.kern.shape, call.stride, call.dilation, call.pads, call.out_shape, call.dtype, call.kern
        )
    shape = call.result_shape or call.out_shape[1:]
    if out is not None:
        v.check_out(out, shape, call.result_dtype, (("img", img), ("k", k)))
    # The loops write straight into ``out`` (or a fresh result) unless the channels are
    # moved back afterwards or the result dtype is narrower than their int64.
    direct_write = not call.channels_moved and call.result_dtype == call.dtype
    if direct_write:
        result = out if out is not None else np.empty(shape, dtype=call.dtype)
        raw = result.reshape(call.out_shape)
    else:
        raw = np.empty(call.out_shape, dtype=call.dtype)
    (sh, sw), (dh, dw), (pt, pl) = call.stride, call.dilation, call.pads
    BACKENDS[backend](call.x, call.kern, sh, sw, dh, dw, pt, pl, raw)
    if call.cval:
        raw += _cval_term(call)
    if direct_write:
        return result
    if call.channels_moved:
        raw = np.moveaxis(raw, 0, 2)
    else:
        raw = raw.reshape(shape)
    if out is None:
        return raw.astype(call.result_dtype) if raw.dtype != call.result_dtype else np.ascontiguousarray(raw)
    np.copyto(out, raw, casting="unsafe")  # exact: the bound check covered the result dtype
    return out


def _cval_term(call: _Call) -> np.ndarray:
    """``cval`` times the sum of the kernel taps outside the image, for every output, shaped to add to ``raw``.

    Inside-ness is separable: tap ``(a, b)`` of output ``(i, j)`` is inside when row
    ``i*sh + a*dh - top`` is in ``[0, H)`` and column ``j*sw + b*dw - left`` is in ``[0, W)``,
    so the inside sum is ``R @ k @ C.T`` with 0/1 matrices ``R`` (OH, kh) and ``C`` (OW, kw).
    """
    ((pt, _), (pl, _)), (h, w) = call.pad_box, call.in_hw
    kh, kw = call.kern.shape
    oh, ow = (call.result_shape or call.out_shape[1:])[:2]
    sh, dh = call.stride[0], call.dilation[0]
    sw = call.stride[1]
    channels = call.result_shape[2] if call.result_shape is not None else 1
    dw = call.dilation[1] // channels if not call.channels_moved else call.dilation[1]
    rows = np.arange(oh)[:, None] * sh + np.arange(kh)[None, :] * dh - pt
    cols = np.arange(ow)[:, None] * sw + np.arange(kw)[None, :] * dw - pl
    r_in = ((rows >= 0) & (rows < h)).astype(call.kern.dtype)
    c_in = ((cols >= 0) & (cols < w)).astype(call.kern.dtype)
    kern = call.kern
    outside = kern.sum() - r_in @ kern @ c_in.T  # (OH, OW)
    term = (outside * call.cval).astype(call.dtype)
    if call.channels_moved:
        return term[np.newaxis]
    if call.result_shape is not None:  # folded (1, OH, OW*C)
        return np.repeat(term, channels, axis=1)[np.newaxis]
    return term[np.newaxis]

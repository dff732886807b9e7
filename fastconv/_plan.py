"""The planning step every front end of fastconv shares: geometry, dtypes, the exact-integer bound.

A front end (``convolve2d``, ``conv2d``, ``fastconv.dask``, ``fastconv.nn``, the
command line) maps its own argument names onto one of three plans and never
works out a padding, an output size or a dtype itself:

:func:`window`
    The geometry of a 2-D sliding window along rows and columns: stride and
    dilation as ``(rows, cols)`` pairs, the padding as ``((top, bottom),
    (left, right))`` (every form :func:`fastconv.convolve2d` accepts), the
    padded and output sizes.  Sizes are checked here, before anything is
    allocated: a kernel larger than the padded image, or a padded image too
    large for the loops' 64-bit index arithmetic, is a ``ValueError``; a
    stride larger than the padded image (one output position) is clamped to
    it, so the loops never see a value that could overflow.
:func:`correlate`
    One call of :func:`fastconv.convolve2d`: the window, the dtype rules
    (result, accumulator, input), the overflow bound for integer results, the
    image as ``(C, H, W)`` for the loops, and the constant padding.
:func:`conv`
    One call of :func:`fastconv.conv2d` (a CNN layer): the window, the dtype,
    the overflow bound, the prepared ``x``, ``w`` and ``bias``.

The loops (:mod:`fastconv._loops`) take what a plan holds and check nothing.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import _border
from . import _validation as v
from ._cache import ENTRY_BYTES, PLANS, kernel_key

PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")
PADDING_WORDS = ("valid", "same", "full")

#: Largest padded extent (rows or columns) the loops index: every ``i*stride + a*dilation`` stays below 2**63.
MAX_EXTENT = 2**62

_INT64 = np.dtype(np.int64)


# --------------------------------------------------------------------------- outputs

#: Outputs of at least this many bytes are placed by :func:`empty_apart`; smaller ones come from ``np.empty``.
APART_BYTES = 1 << 16
#: Level-1 data caches of x86-64 CPUs of either vendor map addresses 4096 bytes apart to one set
#: (32 KiB 8-way or 48 KiB 12-way: 4 KiB per way).
_WAY_BYTES = 4096


def empty_apart(shape, dtype, near: np.ndarray) -> np.ndarray:
    """``np.empty(shape, dtype)``, its first byte half a cache way (2048 bytes, mod 4096) from ``near``'s.

    NumPy puts every large array at the same offset within a page, so an
    output whose rows are as long as its input's (``padding="same"``, a row of
    4096 bytes or a multiple) would have each output row in the L1 cache sets
    of the input rows read for it: a register tile's 4 output rows and 8 input
    rows then compete for 8 ways, and the loops run 15% slower (1024x1024
    float32 5x5, measured).  Shifting the output by half a way puts its rows in
    other sets whatever the row length.  The result is a C-contiguous,
    64-byte-aligned view of a buffer 4096 bytes larger (``result.base``);
    arrays under :data:`APART_BYTES` come from ``np.empty``.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < APART_BYTES:
        return np.empty(shape, dtype=dtype)
    raw = np.empty(nbytes + _WAY_BYTES, dtype=np.uint8)
    # addresses from __array_interface__ (1 us each; ndarray.ctypes builds an object, np.prod an array)
    target = (near.__array_interface__["data"][0] + _WAY_BYTES // 2) % _WAY_BYTES // 64 * 64
    shift = (target - raw.__array_interface__["data"][0]) % _WAY_BYTES
    return raw[shift : shift + nbytes].view(dtype).reshape(shape)


# --------------------------------------------------------------------------- geometry


class Window(NamedTuple):
    """The geometry of a 2-D sliding window (all pairs are ``(rows, cols)``)."""

    in_hw: tuple[int, int]
    k_hw: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    #: ``((top, bottom), (left, right))``
    pads: tuple[tuple[int, int], tuple[int, int]]
    out_hw: tuple[int, int]

    @property
    def padded_hw(self) -> tuple[int, int]:
        """The padded image's ``(rows, cols)``."""
        (pt, pb), (pl, pr) = self.pads
        return self.in_hw[0] + pt + pb, self.in_hw[1] + pl + pr

    @property
    def halo(self) -> tuple[int, int]:
        """Rows and columns a window reaches beyond its first: ``dilation * (k - 1)``."""
        return tuple(self.dilation[i] * (self.k_hw[i] - 1) for i in range(2))

    def extent(self, axis: int, n_out: int) -> int:
        """Padded input rows (``axis`` 0) or columns (1) that ``n_out`` consecutive outputs read."""
        return (n_out - 1) * self.stride[axis] + self.halo[axis] + 1

    @property
    def padded(self) -> bool:
        """Whether any side is padded."""
        return any(self.pads[0]) or any(self.pads[1])


def same_padding(n: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's SAME padding along one axis: ``(before, after)``.

    The output has ``ceil(n / stride)`` positions; the total padding is what the
    last window needs beyond the input, split evenly with the odd element going
    after (bottom/right), as ``tf.nn.conv2d(..., padding="SAME")`` does.
    """
    out = -(-n // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - n, 0)
    return total // 2, total - total // 2


def _padding_error(padding, kind=ValueError):
    return kind(
        "padding must be an int, (rows, cols), ((top, bottom), (left, right)), 'valid', 'same' or 'full', "
        f"got {padding!r}"
    )


def normalize_padding(padding, in_hw, k_hw, stride, dilation):
    """Return padding as ``((top, bottom), (left, right))`` of non-negative ints.

    Accepts an int, ``(ph, pw)``, ``((top, bottom), (left, right))``, ``"valid"``,
    ``"same"`` (TensorFlow's rule, for any stride and dilation) or ``"full"``
    (every position where the dilated kernel overlaps the image, as
    ``scipy.signal.correlate2d(mode="full")``: ``dilation*(k-1)`` on each side).
    """
    if isinstance(padding, str):
        word = padding.lower()
        if word == "valid":
            return (0, 0), (0, 0)
        if word == "full":
            fh, fw = dilation[0] * (k_hw[0] - 1), dilation[1] * (k_hw[1] - 1)
            return (fh, fh), (fw, fw)
        if word == "same":
            return (
                same_padding(in_hw[0], k_hw[0], stride[0], dilation[0]),
                same_padding(in_hw[1], k_hw[1], stride[1], dilation[1]),
            )
        raise _padding_error(padding)
    if v.is_int(padding):
        p = int(padding)
        result = ((p, p), (p, p))
    elif isinstance(padding, (tuple, list)) and len(padding) == 2:
        if all(v.is_int(x) for x in padding):
            result = ((int(padding[0]),) * 2, (int(padding[1]),) * 2)
        elif all(isinstance(x, (tuple, list)) and len(x) == 2 and all(v.is_int(u) for u in x) for x in padding):
            result = tuple((int(x[0]), int(x[1])) for x in padding)
        else:
            raise _padding_error(padding)
    elif isinstance(padding, (float, np.floating, bool, np.bool_)):
        raise TypeError(f"padding must be an int, a tuple or 'valid'/'same'/'full', got {padding!r}")
    else:
        raise _padding_error(padding)
    if min(min(p) for p in result) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return result


def padding_from_text(text: str):
    """A command line's padding (``valid``, ``same``, ``full``, ``N``, ``ROWS,COLS``, ``TOP,BOTTOM,LEFT,RIGHT``).

    Returns the value :func:`window` takes; ValueError for anything else.
    """
    word = text.strip().lower()
    if word in PADDING_WORDS:
        return word
    try:
        values = [int(p) for p in word.split(",")]
    except ValueError:
        values = []
    if len(values) not in (1, 2, 4) or min(values) < 0:
        raise ValueError(
            f"padding must be {', '.join(PADDING_WORDS)}, N, ROWS,COLS or TOP,BOTTOM,LEFT,RIGHT (integers >= 0), "
            f"got {text!r}"
        )
    if len(values) == 4:
        return (values[0], values[1]), (values[2], values[3])
    return values[0] if len(values) == 1 else tuple(values)


def _pair(value, name: str) -> tuple[int, int]:
    if type(value) is int and value >= 1:  # the common call
        return value, value
    return v.as_pair(value, name)


def window(in_hw, k_hw, stride=1, padding=0, dilation=1, *, k_name: str = "k") -> Window:
    """Validate a sliding window's arguments and work out its geometry (see :class:`Window`).

    ``k_name`` names the kernel in messages (``"w"`` for a CNN layer, ``"pool_size"``).
    """
    # Written out per axis (no generator expressions): this runs on every call, and each
    # tuple(... for i in range(2)) costs about a microsecond.
    sh, sw = _pair(stride, "stride")
    dh, dw = _pair(dilation, "dilation")
    in_hw, k_hw = (int(in_hw[0]), int(in_hw[1])), (int(k_hw[0]), int(k_hw[1]))
    (H, W), (kh, kw) = in_hw, k_hw
    if kh < 1 or kw < 1:
        raise ValueError(f"{k_name} must be at least 1x1, got {k_hw}")
    if type(padding) is int and padding >= 0:
        pads = ((padding, padding), (padding, padding))
    else:
        pads = normalize_padding(padding, in_hw, k_hw, (sh, sw), (dh, dw))
    ph, pw = H + pads[0][0] + pads[0][1], W + pads[1][0] + pads[1][1]
    if ph >= MAX_EXTENT or pw >= MAX_EXTENT or ph * pw >= MAX_EXTENT // 8:
        raise ValueError(
            f"padding {padding!r} gives a padded image of {(ph, pw)}, beyond {MAX_EXTENT} rows or columns "
            f"or {MAX_EXTENT // 8} values (more than an array can hold)"
        )
    # A tap spacing that only a one-tap axis sees has no effect: 1 keeps the loops' arithmetic small.
    if kh == 1:
        dh = 1
    if kw == 1:
        dw = 1
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if span_h > ph or span_w > pw:
        raise ValueError(
            f"{k_name} of shape {k_hw} with dilation {(dh, dw)} spans {(span_h, span_w)}, "
            f"larger than the padded image {(ph, pw)}"
        )
    out_hw = ((ph - span_h) // sh + 1, (pw - span_w) // sw + 1)
    # A stride beyond the padded image leaves one output position; the padded size gives the same result.
    stride = (sh if sh < ph else ph, sw if sw < pw else pw)
    return Window._make((in_hw, k_hw, stride, (dh, dw), pads, out_hw))


# --------------------------------------------------------------------------- n-D windows and chunks


def centred(size: int, origin: int = 0) -> tuple[int, int]:
    """``(before, after)`` padding of an axis for a window of ``size`` centred as scipy.ndimage centres it.

    The output at ``p`` reads inputs ``p - before .. p + after``: the window's
    centre tap ``size // 2 + origin`` sits on ``p``.  An ``origin`` outside
    ``-(size // 2) .. (size - 1) // 2`` gives a negative side.

    Examples
    --------
    >>> centred(3), centred(4), centred(4, -1), centred(3, 2)
    ((1, 1), (2, 1), (1, 2), (3, -1))
    """
    before = size // 2 + origin
    return before, size - 1 - before


def flipped_origin(size: int, origin: int) -> int:
    """The origin of a window of ``size`` rotated by 180 degrees (a convolution): its ``centred`` sides swapped.

    Examples
    --------
    >>> centred(4, 1), centred(4, flipped_origin(4, 1))
    ((3, 0), (0, 3))
    """
    return -origin - (0 if size % 2 else 1)


def mode_pads(mode: str, k_shape, lower: bool = False) -> list[tuple[int, int]]:
    """Per-axis ``(before, after)`` padding of scipy.signal's output ``mode`` for a kernel of ``k_shape``.

    ``"full"``: every position where the kernel overlaps the input; ``"valid"``:
    none; ``"same"``: the input's size, the kernel centred at ``n // 2``, or at
    ``(n - 1) // 2`` with ``lower`` (:func:`scipy.signal.correlate2d`'s rule).

    Examples
    --------
    >>> mode_pads("full", (3, 2)), mode_pads("same", (4,)), mode_pads("same", (4,), lower=True)
    ([(2, 2), (1, 1)], [(2, 1)], [(1, 2)])
    """
    if mode == "full":
        return [(n - 1, n - 1) for n in k_shape]
    if mode == "valid":
        return [(0, 0) for _ in k_shape]
    return [centred(n, -1 if lower and n % 2 == 0 else 0) for n in k_shape]


def padded_shape(shape, pads) -> tuple[int, ...]:
    """``shape`` extended by ``pads`` (per axis ``(before, after)``)."""
    return tuple(n + b + a for n, (b, a) in zip(shape, pads, strict=True))


def valid_shape(shape, k_shape, pads=None) -> tuple[int, ...]:
    """The output shape of a stride-1 correlation of ``shape`` (padded by ``pads``) with a kernel of ``k_shape``.

    Examples
    --------
    >>> valid_shape((10, 8, 6), (3, 3, 1), [(1, 1), (0, 0), (2, 0)])
    (10, 6, 8)
    """
    if pads is not None:
        shape = padded_shape(shape, pads)
    return tuple(n - k + 1 for n, k in zip(shape, k_shape, strict=True))


def _chunk_starts(in_chunks, n_out: int, stride: int, halo: int, out_chunk) -> list[int]:
    """Output chunk starts along one axis (see :func:`chunk_axis`)."""
    if out_chunk is not None:
        step = max(out_chunk, -(-halo // stride))
        return list(range(0, n_out, step))
    starts = [0]
    edge = 0
    for c in in_chunks[:-1]:
        edge += c
        o = -(-edge // stride)  # first output whose window starts in this chunk
        if o >= n_out:
            break
        if (o - starts[-1]) * stride >= max(halo, 1):
            starts.append(o)
    return starts


def chunk_axis(win: Window, axis: int, in_chunks, out_chunk=None):
    """``(used, input chunks, output chunks)`` of a chunked correlation along ``axis`` of the window ``win``.

    ``in_chunks`` are the chunks of the padded image along ``axis``.  With
    ``out_chunk`` (an int) the output is cut every ``out_chunk`` positions;
    otherwise the cuts follow ``in_chunks``' boundaries, moved up to the next
    multiple of the stride.  A cut closer than the halo (or than one output
    position) to the previous one is dropped: every input chunk is at least as
    thick as the halo.  Input chunk ``i`` starts at ``stride`` times output
    chunk ``i``'s start and holds the rows up to the next one's; ``used`` is the
    number of padded input rows any output reads (the rest are cut off).

    Examples
    --------
    >>> win = window((10, 10), (3, 3), stride=2, padding="same")
    >>> chunk_axis(win, 0, (4, 4, 3))
    (11, (4, 4, 3), (2, 2, 1))
    >>> chunk_axis(win, 0, (11,), out_chunk=2)
    (11, (4, 4, 3), (2, 2, 1))
    """
    stride, n_out = win.stride[axis], win.out_hw[axis]
    starts = _chunk_starts(in_chunks, n_out, stride, win.halo[axis], out_chunk)
    used = win.extent(axis, n_out)
    out_chunks = tuple(b - a for a, b in zip(starts, starts[1:] + [n_out], strict=True))
    in_edges = [s * stride for s in starts] + [used]
    inp = tuple(b - a for a, b in zip(in_edges, in_edges[1:], strict=False))
    return used, inp, out_chunks


def read_chunks(win: Window, axis: int, n: int, out_chunk: int) -> tuple[int, ...]:
    """Chunks for reading the ``n`` unpadded values along ``axis`` so that, once padded, cuts fall where output
    chunks of ``out_chunk`` positions start (every ``out_chunk * stride`` padded values).

    Examples
    --------
    >>> read_chunks(window((10, 10), (3, 3), padding=1), 0, 10, 4)
    (3, 4, 3)
    """
    before, step = win.pads[axis][0], out_chunk * win.stride[axis]
    cuts = [m * step - before for m in range(1, n // step + 2)]
    edges = [0] + [c for c in cuts if 0 < c < n] + [n]
    return tuple(b - a for a, b in zip(edges, edges[1:], strict=False))


# --------------------------------------------------------------------------- dtypes


def dtypes(img_dtype: np.dtype, k_dtype: np.dtype, dtype=None) -> tuple[np.dtype, np.dtype]:
    """``(result dtype, accumulator dtype)`` of a correlation of ``img_dtype`` with ``k_dtype``.

    ``dtype`` if given (checked by :func:`fastconv._validation.check_result_dtype`); else
    int64 (exact) when both are integer or bool, float64 when either is float64,
    float32 otherwise.  The loops accumulate integer results in int64 (or
    narrower where that is exact) and floats in the result dtype.
    """
    integer = img_dtype.kind in "biu" and k_dtype.kind in "biu"
    if dtype is not None:
        result = v.check_result_dtype(dtype, integer)
    elif integer:
        result = _INT64
    else:
        result = v.float_result(img_dtype, k_dtype)
    return result, (_INT64 if result.kind in "iu" else result)


def _loop_input_dtype(img_dtype: np.dtype, acc: np.dtype) -> np.dtype:
    """The image dtype the loops read: the accumulator's for floats, small integers as they are."""
    if acc.kind == "f":
        return acc
    if img_dtype.kind == "b":  # bool has no arithmetic in the loops
        return np.dtype(np.uint8)
    if img_dtype == np.uint64:  # uint64 times int64 would promote to float
        return _INT64
    return img_dtype if img_dtype.isnative else img_dtype.newbyteorder("=")


def _loop_array(a, dtype):
    """``a`` as the loops take it (C-contiguous, aligned, ``dtype``), copied only when needed."""
    flags = a.flags
    if a.dtype == dtype and flags.c_contiguous and flags.aligned:
        return a
    return np.require(a, dtype=dtype, requirements=("C", "A"))


# --------------------------------------------------------------------------- convolve2d


class Plan(NamedTuple):
    """One :func:`fastconv.convolve2d` call, ready for the loops.

    The loops compute ``out`` of shape ``out_shape`` = ``(C, OH, OW)`` from
    ``x`` (``(C, H, W)``) and the 2-D kernel ``kern``, both C-contiguous and of
    the dtypes the loops accept.  Zero padding is not applied: ``pads =
    (top, left)`` tells the loops where the image sits in the padded field
    (bottom/right follow from ``out_shape``).  The other pad modes and a nonzero
    constant ``cval`` are computed the same way, zero-padded, and ``border``
    then holds the small pieces (:class:`fastconv._border.Piece`) from which
    the outputs that read the padding are computed again and overwritten: no
    padded copy of the image is made (but of a small one, under
    :data:`fastconv._border.COPY_VALUES` values, padded by :func:`numpy.pad`
    with ``pads`` ``(0, 0)``).
    """

    x: np.ndarray
    kern: np.ndarray
    #: ``(rows, cols)`` of the loops' view (columns times C when channels are folded).
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[int, int]
    out_shape: tuple[int, int, int]
    #: What the loops write (int64 for every integer result).
    dtype: np.dtype
    #: The caller's result shape: ``(OH, OW)`` or ``(OH, OW, C)``.
    result_shape: tuple[int, ...]
    #: True when the loops see an ``(H, W, C)`` image as ``(C, H, W)``: the result is moved back.
    channels_moved: bool
    #: The dtype returned: ``dtype``, or a narrower integer dtype asked for with ``dtype=``
    #: (the int64 result is then converted; the bound check made that exact).
    result_dtype: np.dtype
    #: The caller's geometry (stride, dilation, padding, output size on the image's own axes).
    window: Window
    #: The pieces that give the outputs reading a padding other than zeros: empty for zero padding, else
    #: a :class:`fastconv._border.Deferred` that makes them when first iterated.
    border: tuple | _border.Deferred = ()


def correlate(
    img, k, stride=1, padding=0, dilation=1, flip=False, pad_mode="constant", cval=0, dtype=None, common=False
) -> Plan:
    """Validate and plan one :func:`fastconv.convolve2d` call (see :class:`Plan`).

    ``common``: the call is a common one (see :func:`quick`, which plans it in
    a few attribute checks when its arrays allow).

    An ``(H, W, C)`` image at column stride 1 is given to the loops as one
    ``(1, H, W*C)`` image (the channels folded into the columns, no copy: tap
    ``b`` of channel ``c`` sits ``b*dw*C`` columns after the output's own column
    ``j*C + c``, so it is one 2-D correlation with column dilation ``dw*C``); at
    other column strides the channels are moved to the front.
    """
    if common and type(padding) is int:
        plan = quick(img, k, stride, padding)
        if plan is not None:
            return plan
    img = v.check_array(img, "img", (2, 3))
    k = v.check_array(k, "k", (2,))
    if not isinstance(flip, (bool, np.bool_)):
        raise TypeError(f"flip must be True or False, got {flip!r}")
    v.check_choice(pad_mode, "pad_mode", PAD_MODES)
    win = window(img.shape[:2], k.shape, stride, padding, dilation)
    result_dtype, acc = dtypes(img.dtype, k.dtype, dtype)
    cval = v.check_cval(cval, result_dtype.kind in "iu")
    if pad_mode != "constant" or not win.padded:
        cval = 0
    if result_dtype.kind in "iu":
        # The loops sum in int64 (narrower only when provably exact): refuse
        # what could wrap around, int64 or the dtype asked for.
        v.check_int_bound(img, k, fill=cval, dtype=result_dtype)
    x_dtype = _loop_input_dtype(img.dtype, acc)
    kern = _loop_array(k[::-1, ::-1] if flip else k, acc)
    (sh, sw), (dh, dw), (oh, ow) = win.stride, win.dilation, win.out_hw
    folded = img.ndim == 3 and sw == 1
    channels = img.shape[2] if img.ndim == 3 else 1
    # The loops skip zero padding. Other paddings are computed zero-padded too, the outputs that read the
    # padding then again from small pieces (the others stay bit for bit what cval=0 gives, and a NaN or inf
    # fill reaches the border only); a small image with a pad mode is padded by copy instead.
    other = win.padded and (pad_mode != "constant" or cval != 0)
    explicit = other and pad_mode != "constant" and math.prod(win.padded_hw) * channels < _border.COPY_VALUES
    x = _loop_image(img, win, x_dtype, folded, pad_mode if explicit else None)
    border = ()
    if other and not explicit:
        fill_dtype = x_dtype
        if x_dtype.kind in "iu" and not v.int_range(x_dtype)[0] <= cval <= v.int_range(x_dtype)[1]:
            fill_dtype = _INT64  # a fill the image's dtype cannot hold (the bound check covered int64)
        fold = channels if folded else 1
        border = _border.Deferred(
            x,
            kern,
            (sh, 1) if folded else (sh, sw),
            (dh, dw * fold),
            win.pads,
            (oh, ow * fold),
            pad_mode,
            cval,
            fill_dtype,
            fold,
        )
    (pt, _), (pl, _) = win.pads
    if folded:
        pads = (0, 0) if explicit else (pt, pl * channels)
        out_shape = (1, oh, ow * channels)
        return Plan(
            x,
            kern,
            (sh, 1),
            (dh, dw * channels),
            pads,
            out_shape,
            acc,
            (oh, ow, channels),
            False,
            result_dtype,
            win,
            border,
        )
    pads = (0, 0) if explicit else (pt, pl)
    result_shape = (oh, ow, channels) if img.ndim == 3 else (oh, ow)
    out_shape = (x.shape[0], oh, ow)
    return Plan(
        x, kern, win.stride, win.dilation, pads, out_shape, acc, result_shape, img.ndim == 3, result_dtype, win, border
    )


# The common call's dtype rules, looked up: (image dtype, kernel dtype) -> (result, accumulator, loop input),
# for native byte order, as :func:`dtypes` and :func:`_loop_input_dtype` give them.
_COMMON_DTYPES = [np.dtype(t) for t in ("uint8", "uint16", "int16", "int32", "int64", "float32", "float64")]
_QUICK_TYPES = {}
for _i in _COMMON_DTYPES:
    for _k in _COMMON_DTYPES:
        _result, _acc = dtypes(_i, _k)
        _QUICK_TYPES[_i, _k] = (_result, _acc, _loop_input_dtype(_i, _acc))


def common_dtypes(img_dtype: np.dtype, k_dtype: np.dtype) -> bool:
    """True for the image and kernel dtypes of a common call (native 8- to 64-bit integers, float32, float64)."""
    return (img_dtype, k_dtype) in _QUICK_TYPES


#: Integer kernels of up to this many taps have their overflow bound kept in :data:`fastconv._cache.PLANS`.
_SMALL_KERNEL = 64


def quick(img, k, stride: int, padding: int) -> Plan | None:
    """The :class:`Plan` of a common call in a few attribute checks, or None: then :func:`correlate` plans it.

    The common call is recognised once, by :func:`fastconv.convolve2d`:
    ``ndarray`` image and kernel, int ``stride`` and ``padding``, every other
    argument at its default.  Here only the arrays are checked: 2-D,
    C-contiguous, native, of the dtypes in ``_QUICK_TYPES``.  The plan is the
    one :func:`correlate` makes; any other call, and any call that would fail
    (whose message :func:`correlate` gives), returns None.  An integer
    kernel whose image dtype's range alone settles the overflow bound
    (:func:`fastconv._validation.bound_by_range`) is kept under its values, so
    a repeated call skips the bound.
    """
    if img.ndim != 2 or k.ndim != 2 or stride < 1 or padding < 0:
        return None
    types = _QUICK_TYPES.get((img.dtype, k.dtype))
    flags = img.flags
    if types is None or not (flags.c_contiguous and flags.aligned):
        return None
    result_dtype, acc, x_dtype = types
    (H, W), (kh, kw) = img.shape, k.shape
    ph, pw = H + 2 * padding, W + 2 * padding
    if kh > ph or kw > pw or ph * pw >= MAX_EXTENT // 8 or img.size == 0 or k.size == 0:
        return None
    if result_dtype.kind in "iu":
        key = ("bound", img.dtype, kernel_key(k)) if k.size <= _SMALL_KERNEL else None
        if key is None or PLANS.get(key) is None:
            v.check_int_bound(img, k, dtype=result_dtype)  # raises as correlate would
            if key is not None and v.bound_by_range(img.dtype, k, result_dtype):
                PLANS.put(key, True, k.nbytes + ENTRY_BYTES)
    oh, ow = (ph - kh) // stride + 1, (pw - kw) // stride + 1
    pads = ((padding, padding), (padding, padding))
    # _make: a NamedTuple's own constructor parses keywords and costs more than the rest of this function
    win = Window._make(((H, W), (kh, kw), (min(stride, ph), min(stride, pw)), (1, 1), pads, (oh, ow)))
    x = img if img.dtype == x_dtype else img.astype(x_dtype)
    return Plan._make(
        (
            x.reshape(1, H, W),
            _loop_array(k, acc),
            win.stride,
            (1, 1),
            (padding, padding),
            (1, oh, ow),
            acc,
            (oh, ow),
            False,
            result_dtype,
            win,
            (),
        )
    )


def _loop_image(img, win: Window, dtype, folded: bool, pad_mode=None, cval=0):
    """The image as the loops read it: ``(1, H, W*C)`` folded or ``(C, H, W)``, padded with ``pad_mode`` if given."""
    x = img if folded or img.ndim == 2 else np.moveaxis(img, 2, 0)
    if pad_mode is not None:
        widths = list(win.pads) + [(0, 0)] if folded else [(0, 0)] * (img.ndim - 2) + list(win.pads)
        extra = {"constant_values": cval} if pad_mode == "constant" else {}
        x = np.pad(np.asarray(x, dtype=dtype), widths, mode=pad_mode, **extra)
    if folded:
        x = x.reshape(x.shape[0], -1)
    return _loop_array(x if x.ndim == 3 else x[np.newaxis], dtype)


# --------------------------------------------------------------------------- conv2d


class ConvPlan(NamedTuple):
    """One :func:`fastconv.conv2d` call, ready for the loops.

    ``x`` ``(N, H, W, C)``, ``w2`` ``(kh*kw*C, F)`` and ``bias`` ``(F,)`` or None,
    all C-contiguous in ``dtype``; the output is ``(N, OH, OW, F)`` of ``dtype``.
    """

    x: np.ndarray
    w2: np.ndarray
    bias: np.ndarray | None
    window: Window
    dtype: np.dtype

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.x.shape[0],) + self.window.out_hw + (self.w2.shape[1],)


def _shape(a):
    try:
        return np.shape(a)
    except Exception:  # ragged lists: check_array gives the message
        return None


def conv(x, w, stride=1, padding="valid", dilation=1, bias=None) -> ConvPlan:
    """Validate and plan one :func:`fastconv.conv2d` call (see :class:`ConvPlan`).

    A float layer's geometry and dtype depend on the shapes, dtypes and arguments alone: a call of the
    common kind (NumPy arrays, an int stride and dilation, an int or word padding) finds them kept in
    :data:`fastconv._cache.PLANS` under those, after the first such call has validated them, and is
    not validated or planned again.  Integer layers (their overflow bound depends on the values) and
    any other argument type take the long way every time.
    """
    key = None
    if (
        type(x) is np.ndarray
        and type(w) is np.ndarray
        and type(stride) is int
        and type(dilation) is int
        and (type(padding) is int or type(padding) is str)
        and (bias is None or type(bias) is np.ndarray)
        and x.dtype.kind == "f"
        and w.dtype.kind == "f"
    ):
        key = (
            "conv2d",
            x.dtype,
            x.shape,
            w.dtype,
            w.shape,
            stride,
            padding,
            dilation,
            None if bias is None else (bias.dtype, bias.shape),
        )
        found = _conv_lookup(key)
        if found is not None:
            found[2] = True
            win, dtype = found[0]
            kh, kw, c, f = w.shape
            w2 = _loop_array(w, dtype).reshape(kh * kw * c, f)
            return ConvPlan(_loop_array(x, dtype), w2, None if bias is None else _loop_array(bias, dtype), win, dtype)
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
    x = v.check_array(x, "x", (4,))
    w = v.check_array(w, "w", (4,))
    kh, kw, c, f = w.shape
    win = window(x.shape[1:3], (kh, kw), stride, padding, dilation, k_name="w")
    arrays = [x, w]
    if bias is not None:
        bias = v.check_array(bias, "bias", (1,))
        if bias.shape != (f,):
            raise ValueError(f"bias must have shape (F,) = ({f},) for w of shape {w.shape}, got {bias.shape}")
        arrays.append(bias)
    dtype = v.result_dtype(*arrays)
    if dtype.kind == "i":  # exact int64 sums, or OverflowError where they could wrap
        v.check_int_bound(x, w, bias=bias, x_name="x", k_name="w")
    x = _loop_array(x, dtype)
    w2 = _loop_array(w, dtype).reshape(kh * kw * c, f)
    if bias is not None:
        bias = _loop_array(bias, dtype)
    if key is not None:
        PLANS.put(key, (win, dtype), ENTRY_BYTES)
    return ConvPlan(x, w2, bias, win, dtype)


_conv_lookup = PLANS.lookup()


def layer(x, w2, bias, k_hw, stride, padding, dilation) -> ConvPlan:
    """Plan a CNN layer whose weights are prepared already (``w2`` ``(kh*kw*C, F)`` float32, as in fastconv.nn).

    ``x`` is converted to ``w2``'s dtype; only the geometry is worked out.
    """
    win = window(x.shape[1:3], k_hw, stride, padding, dilation, k_name="w")
    return ConvPlan(_loop_array(x, w2.dtype), w2, bias, win, w2.dtype)

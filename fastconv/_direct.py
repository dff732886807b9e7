"""The ``direct`` backend in Python: its arithmetic and path chosen per call, then the compiled loops run.

:func:`direct` (the backend :func:`fastconv.convolve2d` calls) asks
:func:`prepare` which compiled block function of
:mod:`fastconv._loops.correlate2d` computes the call (:data:`fastconv._loops.correlate2d.PATHS`,
or the separable passes), with which kernel (an integer kernel in the
narrowest exact lanes, a rank-one float kernel as its factors), and hands it to
the one thread policy (:func:`fastconv._loops.threads.run`).  Deciding here,
in Python, keeps the loops free of planning and lets Numba compile only the
path a call reaches.
"""

from __future__ import annotations

import sys

import numpy as np

from ._border import line_index
from ._cache import ENTRY_BYTES, PLANS, kernel_key
from ._loops.correlate2d import (
    _ROWS,
    _SEP_ROWS,
    _direct_separable,
    _inplace_3x3,
    _inplace_3x3_inside,
    _inplace_3x3_s2,
    _inplace_3x3_s2_bytes,
    _inplace_3x3_s2_f32,
    _inplace_3x3_sparse,
    _inplace_rows,
    _inplace_tiles,
    _staged_3x3,
    _staged_rows,
    _tiles_inside,
)
from ._loops.threads import run
from ._plan import empty_apart
from ._separable import factors, symmetry, worth_trying
from ._validation import int_range


def _exact_float_kernel(x, k):
    """``k`` in the float dtype in which an integer correlation of ``x`` and ``k`` is exact, or ``k``.

    With integer ``x`` and ``k``, every product and partial sum is a whole
    number of magnitude at most ``max|x| * sum|k|``; below ``2**24`` float32
    holds all of them exactly, below ``2**53`` float64 does, and the sum in
    float is the exact integer sum.  Float arithmetic vectorises on AVX2 where
    int64 multiplication does not.  Returns ``k`` unchanged (int64 arithmetic)
    when the bound is not met or ``x`` is wider than 32 bits.
    """
    if x.dtype.itemsize > 4:
        return k
    low, high = int_range(x.dtype)
    bound = max(-low, high) * float(np.abs(k.astype(np.float64)).sum())
    bound *= 1 + 1e-9  # float64 rounding of the sum above
    if x.dtype.itemsize <= 2 and bound < 2.0**24:
        return k.astype(np.float32)
    if bound < 2.0**53:
        return k.astype(np.float64)
    return k


def _int_kernel(x, k):
    """``k`` as int16 or int32 when every partial sum of an integer correlation of ``x`` and ``k`` fits, or None.

    Every product and partial sum is at most ``max|x| * sum|k|`` in
    magnitude.  Below ``2**15`` (for 8-bit images) the kernels sum in int16,
    below ``2**31`` in int32: exact, and AVX2 packs 16 or 8 of them in a
    register.  Returns None for images wider than 16 bits or a larger bound.
    """
    if x.dtype.itemsize > 2 or x.dtype.kind not in "iu":
        return None
    low, high = int_range(x.dtype)  # the same dtype ranges as the overflow check's
    top = max(-low, high)
    bound = top * float(np.abs(k, dtype=np.float64).sum()) * (1 + 1e-9)  # float64 rounding of the sum
    if x.dtype.itemsize == 1 and bound < 2.0**15:
        return k.astype(np.int16)
    if bound < 2.0**31:
        return k.astype(np.int32)
    return None


def _integer_arithmetic(x, k):
    """``(kernel, narrow)`` for an integer result: ``k`` in the lanes :func:`direct` sums in, and whether they
    are narrow integer lanes (read in place) rather than exact float or int64 (staged)."""
    k16 = _int_kernel(x, k)
    if k16 is not None:
        return k16, True
    return _exact_float_kernel(x, k), False


#: Integer kernels of up to this many taps have their lanes kept in :data:`fastconv._cache.PLANS`.
_SMALL_KERNEL = 64


def _integer_kernel(x, k):
    """:func:`_integer_arithmetic`, kept for small kernels under their values (:func:`fastconv._cache.kernel_key`).

    A repeated call with the same kernel values skips the bound and the conversion; new values
    (in a new array or changed in place) are another key, so their lanes are worked out again.
    """
    if k.size > _SMALL_KERNEL:
        return _integer_arithmetic(x, k)
    key = ("lanes", x.dtype, kernel_key(k))
    found = PLANS.get(key)
    if found is None:
        kern, narrow = _integer_arithmetic(x, k)
        # kept by value: never the caller's array, which may change after this call
        found = (kern.copy() if kern is k else kern), narrow
        PLANS.put(key, found, found[0].nbytes + k.nbytes + ENTRY_BYTES)
    return found


_F32 = np.dtype(np.float32)
_U8 = np.dtype(np.uint8)
_LITTLE = sys.byteorder == "little"  # the uint8 stride-2 path reads column pairs as little-endian uint16


def _path(x, k, sh, sw, dh, dw, pt, pl, out, narrow):
    """The block function of :func:`direct` for these arrays (see its notes), chosen here so that Numba
    compiles only the loops that call reaches."""
    kh, kw = k.shape
    k3x3 = kh == 3 and kw == 3
    if narrow and k3x3 and sw == 1 and np.count_nonzero(k) <= 5:
        return _inplace_3x3_sparse
    if narrow or x.dtype == k.dtype:
        _, H, W = x.shape
        _, OH, OW = out.shape
        # every window inside the image (no padding reached): no border code
        inside = pt == 0 and pl == 0 and (OH - 1) * sh + (kh - 1) * dh < H and (OW - 1) * sw + (kw - 1) * dw < W
        if sw == 1:
            if sh == 1 and dh == 1 and dw == 1 and x.dtype == _F32 and not k3x3:
                return _tiles_inside if inside else _inplace_tiles
            if k3x3:
                return _inplace_3x3_inside if inside else _inplace_3x3
            return _inplace_rows
        if k3x3 and sw == 2 and dw == 1:
            if (
                out.dtype == x.dtype == _F32
                and x.flags.c_contiguous
                and k.flags.c_contiguous
                and out.flags.c_contiguous
            ):
                return _inplace_3x3_s2_f32
            if narrow and x.dtype == _U8 and W % 2 == 0 and x.flags.c_contiguous and _LITTLE:
                return _inplace_3x3_s2_bytes
            return _inplace_3x3_s2
    return _staged_3x3 if k3x3 else _staged_rows


def direct(x, k, sh, sw, dh, dw, pt, pl, out):
    """Row-block loops vectorised along the output row (the fast path).

    The output is cut into blocks of ``_ROWS`` rows of one channel, computed
    on one or more threads (see :func:`fastconv._loops.threads.run`;
    ``numba.set_num_threads`` sets the thread count); each block writes only
    its own rows.  Output columns whose window reaches into the zero padding
    are computed with bounds checks; the interior runs without them, along
    the row, so LLVM vectorises the inner loop.  The path is chosen here, in
    Python, and each path is its own compiled block function (:data:`PATHS`):

    - ``"tiles"``: float32 at stride and dilation 1, any kernel size: register
      tiles of 4 rows x 24 columns (:mod:`fastconv._loops.tiles2d`), the
      border outputs from small zero-padded copies of the input
      (:func:`_padded_tiles`); a 3x3 kernel runs the 3x3 row loop instead,
      its nine taps in registers and its one-value border computed in place
      (measured on an AVX2 Zen 3: 1.1-1.6x faster when every window lies
      inside the image, 1.1-1.5x at 1024x1024 ``"same"``, where the tiles copy
      the border rows);
    - ``"3x3"``, ``"3x3 s2"``: other float input, and 8/16-bit integer input
      with a narrow integer kernel, read in place, a 3x3 kernel keeping its
      nine taps in registers (:func:`_sum9_rows`; at column stride 2 each input
      row is de-interleaved once into even and odd columns);
    - ``"3x3 s2 float32"``, ``"3x3 s2 uint8"``: at column stride 2 (column
      dilation 1), C-contiguous float32 and uint8 (of even width) are read
      in place, not de-interleaved first: float32 taken
      apart in registers (:func:`_sum9_rows_s2_f32`), uint8 read as uint16
      column pairs (:func:`_sum9_rows_s2_bytes`);
    - ``"3x3 sparse"``: a narrow integer 3x3 kernel with at most five nonzero
      taps at column stride 1 sums those five only (:func:`_sum5_rows`; the
      seed's kernel2, a Laplacian cross);
    - ``"rows"``: other kernels read in place at column stride 1, up to 15
      taps per pass into a block of partial sums that stays in L1;
    - ``"staged 3x3"``, ``"staged"``: otherwise each input row is first
      staged: converted to the accumulator's type and, for a column stride
      ``sw > 1``, split into ``sw`` unit-stride phases.

    Float kernels that are an outer product go through
    :func:`_direct_separable` where :func:`fastconv._separable.worth_trying` says so.

    Integer inputs are summed exactly: in int16 lanes for an 8-bit image
    when ``max|x| * sum|k| < 2**15``, in int32 for 8/16-bit images below
    ``2**31`` (see :func:`_int_kernel`), else in float32 or float64 when that
    is exact (see :func:`_exact_float_kernel`), else in int64.  Calls of less than
    :data:`fastconv._loops.threads.SERIAL_WORK` (multiply-adds plus input values) run on the calling thread only.
    """
    kernel, k_args, n_blocks, amount = prepare(x, k, sh, sw, dh, dw, pt, pl, out)
    run(kernel, (x, *k_args, sh, sw, dh, dw, pt, pl, out), n_blocks, amount)


def prepare(x, k, sh, sw, dh, dw, pt, pl, out):
    """What :func:`direct` runs for these arrays: ``(kernel, k_args, n_blocks, work)``.

    ``kernel(x, *k_args, sh, sw, dh, dw, pt, pl, out, t0, t1)`` computes blocks
    ``[t0, t1)`` of ``n_blocks``; ``work`` goes to
    :func:`fastconv._loops.threads.run`.  The choice depends on the arrays'
    dtypes and shapes, the geometry and, for integer results and the separable
    path, the kernel's values.
    """
    narrow = False
    if out.dtype.kind in "iu":
        k, narrow = _integer_kernel(x, k)
    C, OH, _ = out.shape
    amount = work(x.size, k.size, out.size)
    if sw == 1 and k.dtype.kind == "f" and x.dtype == k.dtype and worth_trying(k.shape, amount):
        uv = factors(k)
        if uv is not None:
            return _direct_separable, (k, *uv), C * ((OH + _SEP_ROWS - 1) // _SEP_ROWS), amount
    return _path(x, k, sh, sw, dh, dw, pt, pl, out, narrow), (k,), C * ((OH + _ROWS - 1) // _ROWS), amount


def work(x_size: int, k_size: int, out_size: int) -> int:
    """A call's work for the thread policy: its multiply-adds, plus a read (or staging) of each input value."""
    return out_size * k_size + x_size


def same_separable(plan, img, pad_mode: str, cval, out: np.ndarray | None) -> np.ndarray | None:
    """A float32 2-D call whose output has the image's size, computed by the fused passes, or None.

    For one float32 image and a float32 result at stride 1 and dilation 1, a
    rank-one kernel (:func:`fastconv._separable.factors`, where
    :func:`fastconv._separable.worth_trying` says so) whose padding keeps the
    image's size (``padding="same"``, or pads adding up to the kernel's size
    less one): :func:`fastconv._loops.sep2d.fused_rows`, the loop of
    :mod:`fastconv.ndimage`'s float32 filters, computes it one output row at a
    time from the image itself: the column pass with ``u``, the row extended by
    the padding, the row pass with ``v``, each symmetric pair of taps with one
    weight in two fused multiply-adds (not summed first, so no pair
    overflows).  Every pad mode and ``cval`` is an index map of the rows and
    columns (:func:`fastconv._border.line_index`), so there is no padded copy
    and no border pieces.  ``u`` is scaled to ``sum |u| = 1`` (``v`` carries
    the rest), so the column pass stays within ``max |x|`` and nothing
    overflows where the result's bound does not.  ``img`` is the caller's
    image (``plan.x`` may be a padded copy of a small one).  Returns the
    result (in ``out`` when given), or None when the call is not of this kind.
    """
    kern = plan.kern
    if not isinstance(img, np.ndarray) or img.dtype != _F32 or kern.dtype != _F32 or plan.result_dtype != _F32:
        return None
    if img.ndim != 2 or plan.stride != (1, 1) or plan.dilation != (1, 1) or plan.result_shape != img.shape:
        return None
    if out is not None and not out.flags.c_contiguous:
        return None
    h, w = img.shape
    amount = work(img.size, kern.size, h * w)
    if not worth_trying(kern.shape, amount):
        return None
    uv = factors(kern)
    if uv is None:
        return None
    from ._loops import sep2d  # here, not at import: its kernels are only decorated on first use

    u, v = (f.astype(np.float64) for f in uv)
    scale = np.abs(u).sum()
    u, v = (u / scale).astype(_F32), (v * scale).astype(_F32)
    (pt, pb), (pl, pr) = plan.window.pads
    idx0, idx1 = line_index(h, pt, pb, pad_mode), line_index(w, pl, pr, pad_mode)
    cval = float(cval) if pad_mode == "constant" else 0.0
    fill = cval * float(u.sum(dtype=np.float64))  # a padded column's column pass
    x2 = np.ascontiguousarray(img)
    result = out if out is not None else empty_apart((h, w), _F32, x2)
    args = (x2, idx0, u, symmetry(u), idx1, pl, v, symmetry(v), cval, fill, False, result, sep2d.ROWS)
    run(sep2d.fused_rows, args, -(-h // sep2d.ROWS), amount)
    return result

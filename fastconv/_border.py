"""Padding without a padded copy: which outputs read the padding, and the small pieces that compute them.

The loops skip zero padding (they are told where the image sits in the padded
field), so a zero-padded call reads the image in place.  Every other padding
(``"edge"``, ``"reflect"``, ``"symmetric"``, ``"wrap"``, a nonzero constant)
changes only the outputs whose window reaches beyond the image: the first and
last rows and columns of the output.  :func:`pieces` plans those as at most
two small images, each cut from the image by index (:func:`source_index`) with
the padding written in:

- the top and bottom rows of outputs, stacked into one image (the windows
  that straddle the two parts are computed and dropped);
- the left and right columns of outputs beside the rows in between, stacked
  side by side and transposed, so that the loops run along the strips' length.

A call then takes its output plus ``O(border)`` memory: the interior is
computed from the unpadded image, and every output touching the padding is
overwritten from a piece.  Everything here works in the loops' view of the
image (``(C, H, W)``, or ``(1, H, W*C)`` with the channels folded into the
columns, ``fold = C``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Padded images of fewer values are padded by copy (one loop call over a small copy costs less than the pieces'
#: calls); larger ones are computed in place, the border from :func:`pieces`. Not for a nonzero constant, which
#: always runs in pieces (the outputs that do not touch the padding never read the fill value, be it NaN).
COPY_VALUES = 1 << 16


def extend_index(n, before, after, pad_mode):
    """Source index of each position of an axis of ``n`` values extended by ``before``/``after`` (numpy.pad's modes).

    ``numpy.pad(x, (before, after), pad_mode)`` equals ``x[extend_index(len(x), before, after, pad_mode)]`` for
    ``"edge"``, ``"wrap"``, ``"symmetric"`` and ``"reflect"``, also for pads wider than ``n``: the
    extension is periodic (period ``n``, ``2n`` and ``2n - 2``).

    Examples
    --------
    >>> extend_index(3, 2, 2, "reflect")
    array([2, 1, 0, 1, 2, 1, 0])
    """
    if pad_mode not in ("edge", "wrap", "symmetric", "reflect"):
        raise ValueError(f"pad_mode must be 'edge', 'wrap', 'symmetric' or 'reflect', got {pad_mode!r}")
    return _extend(np.arange(-before, n + after), n, pad_mode)


def line_index(n, before, after, pad_mode):
    """:func:`extend_index`, with -1 for the positions of ``"constant"`` padding.

    Examples
    --------
    >>> line_index(3, 1, 2, "constant")
    array([-1,  0,  1,  2, -1, -1])
    """
    if pad_mode != "constant":
        return extend_index(n, before, after, pad_mode).astype(np.int64)
    i = np.arange(-before, n + after, dtype=np.int64)
    return np.where((i >= 0) & (i < n), i, -1)


def _extend(i, n, pad_mode):
    """The image position that position ``i`` (any integer, 0 the first image value) holds; -1 for a constant."""
    if pad_mode == "constant":
        return np.where((i >= 0) & (i < n), i, -1)
    if pad_mode == "edge":
        return np.clip(i, 0, n - 1)
    if pad_mode == "wrap":
        return i % n
    if pad_mode == "symmetric":
        m = i % (2 * n)
        return np.where(m < n, m, 2 * n - 1 - m)
    if n == 1:  # "reflect" of one value
        return np.zeros_like(i)
    m = i % (2 * n - 2)
    return np.where(m < n, m, 2 * n - 2 - m)


def source_index(n, before, start, stop, pad_mode, fold=1):
    """Loop positions ``start <= q < stop`` of an axis padded with ``before`` values: the image index each reads.

    The axis holds ``n`` values of ``fold`` interleaved channels each (the
    folded columns), padded by ``before`` values on the first side; -1 marks
    constant padding.

    Examples
    --------
    >>> source_index(3, 2, 0, 7, "symmetric")
    array([1, 0, 0, 1, 2, 2, 1])
    >>> source_index(2, 1, 0, 8, "edge", fold=2)
    array([0, 1, 0, 1, 2, 3, 2, 3])
    """
    q = np.arange(start, stop)
    if fold == 1:
        return _extend(q - before, n, pad_mode)
    s = _extend(q // fold - before, n, pad_mode)
    return np.where(s < 0, -1, s * fold + q % fold)


def inside(n_out, n, before, stride, halo):
    """``(lo, hi)``: the outputs ``lo <= o < hi`` whose window stays inside the image along one axis.

    Output ``o`` reads padded positions ``o*stride`` to ``o*stride + halo``;
    the image holds padded positions ``before`` to ``before + n - 1``.
    ``lo == hi`` when no window fits inside.

    Examples
    --------
    >>> inside(10, 10, 1, 1, 2)  # 3 taps, one value of padding on each side
    (1, 9)
    """
    lo = min(-(-before // stride), n_out)
    hi = min(n_out, (before + n - 1 - halo) // stride + 1)
    return lo, max(lo, hi)


class Piece(NamedTuple):
    """A small image whose correlation gives some of the outputs that read the padding.

    ``x`` (``(C, h, w)``, the padding written in) is correlated with ``kern``
    at ``stride`` and ``dilation`` and no padding into an array of ``out_shape``;
    then for each ``(dest, src)`` of ``copies``, ``out[dest] = result[src]``,
    the result's last two axes swapped first when ``transposed``.
    """

    x: np.ndarray
    kern: np.ndarray
    stride: tuple[int, int]
    dilation: tuple[int, int]
    out_shape: tuple[int, int, int]
    transposed: bool
    copies: tuple


def _stacked(n_out, n, before, stride, halo, parts, pad_mode, fold):
    """Source indices of ``parts`` (output ranges) laid one after the other along an axis, and where each starts.

    Each part is padded with positions of its own axis to a multiple of
    ``stride`` so the next one starts on an output; returns ``(index, starts,
    n_outputs)``, ``starts[i]`` the output of the stacked axis where part ``i``
    begins.
    """
    index, starts, length = [], [], 0
    for a, b in parts:
        need = (b - a - 1) * stride + halo + 1
        padded = -(-need // stride) * stride
        index.append(source_index(n, before, a * stride, a * stride + padded, pad_mode, fold))
        starts.append(length // stride)
        length += padded
    return np.concatenate(index), starts, (length - halo - 1) // stride + 1


def _gather(x, rows, cols, pad_mode, cval, dtype):
    """``x[:, rows][:, :, cols]`` in ``dtype`` (slices or index arrays; -1 in an index array is ``cval``)."""
    piece = x[:, rows] if isinstance(rows, slice) else x.take(np.maximum(rows, 0), axis=1)
    piece = piece[:, :, cols] if isinstance(cols, slice) else piece.take(np.maximum(cols, 0), axis=2)
    piece = piece.astype(dtype, copy=False)
    if pad_mode == "constant":
        if not isinstance(rows, slice):
            piece[:, rows < 0, :] = cval
        if not isinstance(cols, slice):
            piece[:, :, cols < 0] = cval
    return piece


class Deferred:
    """The pieces of a call (:func:`pieces`' arguments), made on first iteration and kept.

    A plan holds its border so: a call that :func:`fastconv._direct.same_separable`
    computes from the image itself never makes them (on a 2048x2048 15x15 call
    they cost some 0.7 ms, an eighth of the call).  True in a boolean test, as
    the border of a padding other than zeros is.
    """

    __slots__ = ("_args", "_made")

    def __init__(self, *args):
        self._args = args
        self._made = None

    def __bool__(self) -> bool:
        return True

    def __iter__(self):
        if self._made is None:
            self._made = pieces(*self._args)
        return iter(self._made)


def pieces(x, kern, stride, dilation, pads, out_hw, pad_mode, cval=0, dtype=None, fold=1):
    """Plan the outputs of a padded correlation that read the padding as at most two :class:`Piece` s.

    ``x`` is the unpadded image in the loops' view ``(C, H, W)``; ``stride``,
    ``dilation``, ``pads`` (``((top, bottom), (left, right))``) and ``out_hw``
    are in that view too (folded columns: ``fold`` values per image column,
    the column padding counted in columns of the image).  ``dtype`` is the
    pieces' dtype (``x``'s by default; wider for a constant the image dtype
    cannot hold).  The pieces hold ``O(border)`` values: the rows of outputs
    above and below the interior over the whole width, the columns left and
    right of it over the interior's rows.
    """
    dtype = x.dtype if dtype is None else dtype
    (_, h, w), (kh, kw) = x.shape, kern.shape
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, out_hw
    (pt, _), (pl, _) = pads
    halo_h, halo_w = dh * (kh - 1), dw * (kw - 1)
    top, bottom = inside(oh, h, pt, sh, halo_h)
    left, right = inside(ow, w, pl * fold, sw, halo_w)
    result = []
    rows_out = [p for p in ((0, top), (bottom, oh)) if p[0] < p[1]]
    if rows_out:
        rows, starts, n_rows = _stacked(oh, h, pt, sh, halo_h, rows_out, pad_mode, 1)
        cols = source_index(w // fold, pl, 0, (ow - 1) * sw + halo_w + 1, pad_mode, fold)
        copies = tuple(
            ((slice(None), slice(a, b), slice(None)), (slice(None), slice(s, s + b - a), slice(None)))
            for (a, b), s in zip(rows_out, starts, strict=True)
        )
        piece = _gather(x, rows, cols, pad_mode, cval, dtype)
        result.append(Piece(piece, kern, stride, dilation, (x.shape[0], n_rows, ow), False, copies))
    cols_out = [p for p in ((0, left), (right, ow)) if p[0] < p[1]]
    if top < bottom and cols_out:
        rows = slice(top * sh - pt, (bottom - 1) * sh + halo_h + 1 - pt)  # inside the image
        cols, starts, n_cols = _stacked(ow, w // fold, pl, sw, halo_w, cols_out, pad_mode, fold)
        piece = _gather(x, rows, cols, pad_mode, cval, dtype)
        copies = tuple(
            ((slice(None), slice(top, bottom), slice(a, b)), (slice(None), slice(None), slice(s, s + b - a)))
            for (a, b), s in zip(cols_out, starts, strict=True)
        )
        # transposed: the loops run along the strips (a few columns each, as many rows as the image)
        result.append(
            Piece(
                np.ascontiguousarray(piece.transpose(0, 2, 1)),
                np.ascontiguousarray(kern.T),
                (sw, sh),
                (dw, dh),
                (x.shape[0], n_cols, bottom - top),
                True,
                copies,
            )
        )
    return tuple(result)

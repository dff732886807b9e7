"""Rank filters with scipy's signatures, on fastconv's loops: minimum, maximum, median, rank, percentile.

``fastconv.ndimage`` exports :func:`minimum_filter`, :func:`maximum_filter`,
:func:`minimum_filter1d`, :func:`maximum_filter1d`, :func:`median_filter`,
:func:`rank_filter` and :func:`percentile_filter`; ``fastconv.signal``
exports :func:`medfilt` and :func:`medfilt2d`.  Results equal scipy's value
for value.  Real 1- to 3-D inputs of the integer and float32/float64 dtypes
run here, threaded by row blocks on :func:`fastconv._loops.threads.run`, with
no padded copy of the input (the loops read through index maps of each
axis's extension, :mod:`fastconv._loops.rank`):

- minimum/maximum over a rectangle: van Herk/Gil-Werman along the first axes
  (about three comparisons per value whatever the size, whole rows at a time)
  and doubling along the last (``ceil(log2 k)`` contiguous passes); the last
  two axes in one fused pass (a segment of rows' column pass into a scratch
  kept in L2, then its row pass into the output), so no intermediate image
  goes to memory;
- rank filters on 8-bit images with rectangular windows of at least
  :data:`HISTOGRAM_MIN` values: Perreault and Hebert's column histograms
  (constant time per value);
- other 2-D rectangular windows of at most :data:`NETWORK_MAX` values (up to
  7x7) on images of at least :data:`BOX_MIN_VALUES` values: each column of a
  window's rows sorted once for the ``kw`` windows that hold it, then a
  selection network made smaller by the sorted columns
  (:func:`box_network`), straight-line code vectorised along the rows with
  every value in a vector register (floats as integer keys of their bits,
  which order as the floats do);
- other windows of at most :data:`NETWORK_MAX` values (any footprint of
  that count, or a smaller image): a selection network (Batcher's merge
  sort, pruned to the one output wanted), run on rows of values, keys as
  above;
- larger 2-D rectangular windows of other dtypes: the values cut into 256
  buckets at sample quantiles, then an exact selection inside the bucket;
- anything else (windows of more than :data:`NETWORK_MAX` values that are
  3-D or hold zeros, or of 65,536 values or more): quickselect per window,
  threaded.

The calls handed to scipy unchanged (counted in
:data:`fastconv._nd.CALLS` as ``"scipy"``): float inputs holding NaN (scipy's
order with NaN depends on its algorithm), 64-bit integers beyond ``2**53``
(scipy orders some through float64), an ``output`` of another dtype, a
``cval`` the input's dtype or a float64 cannot hold, a sequence of modes, bool, float16
and complex data, more than three dimensions, 1-D rank filters with a
footprint that has zeros (scipy's 1-D path then uses the whole footprint's
length), and arguments scipy refuses in ways not checked here.
"""

from __future__ import annotations

import functools
import hashlib
import math
import numbers
import operator
import warnings

import numpy as np
import scipy.ndimage
import scipy.signal

from ._border import extend_index
from ._loops import rank as _loops
from ._loops import threads
from ._nd import CALLS

# scipy's own functions, taken at import: the fallbacks keep working when scipy's names are replaced by these.
_SCIPY = {
    name: getattr(scipy.ndimage, name)
    for name in (
        "minimum_filter",
        "maximum_filter",
        "minimum_filter1d",
        "maximum_filter1d",
        "median_filter",
        "rank_filter",
        "percentile_filter",
    )
}
_SCIPY_SIGNAL = {name: getattr(scipy.signal, name) for name in ("medfilt", "medfilt2d")}

#: scipy.ndimage's filter modes as numpy.pad's modes (as :data:`fastconv.ndimage.MODES`).
MODES = {
    "reflect": "symmetric",
    "grid-mirror": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "grid-wrap": "wrap",
    "constant": "constant",
    "grid-constant": "constant",
}

#: Largest window (values) computed by a selection network; larger ones use buckets or quickselect.  A 7x7
#: median on float32 takes a quarter of the buckets' time by the network (319 comparators per value, vectorised).
NETWORK_MAX = 49
#: Smallest rectangular window (values) of 8-bit data computed by column histograms instead of a network:
#: their cost per value does not grow with the window.
HISTOGRAM_MIN = 26
#: Output columns of a stripe of :func:`fastconv._loops.rank.histogram_rows` (its column histograms stay in L2).
HISTOGRAM_STRIPE = 256
#: Smallest input (values) whose rectangular windows go through the sorted-columns networks (:func:`_box`).  Their
#: code is generated and compiled for each window shape, rank and dtype (1-2 s once, then cached on disk), where the
#: plain network compiles once per dtype; the sorted columns save some 2 ns per value (2048x2048 median 5 uint8:
#: 1.5 ms against 9 ms), so a 512x512 call (this size) gains 0.5 ms, and smaller calls stay on the plain network.
BOX_MIN_VALUES = 1 << 18

_DTYPES = frozenset(
    np.dtype(t)
    for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64, np.float32, np.float64)
)


# 64-bit integers beyond this are not all exact in float64.
_EXACT = 2**53


class _Fallback(Exception):
    """Raised inside a plan: the call goes to scipy unchanged."""


# --- argument checks (scipy's exception types, messages naming the argument) -----------------------------


def _axes(axes, ndim):
    """scipy.ndimage's ``axes`` as a tuple of distinct non-negative ints."""
    if axes is None:
        return tuple(range(ndim))
    try:
        items = [operator.index(axes)] if np.isscalar(axes) else [operator.index(a) for a in axes]
    except TypeError:
        raise _Fallback from None
    if any(a < -ndim or a >= ndim for a in items) or len({a % ndim for a in items}) != len(items):
        raise _Fallback  # scipy's own message: "axis ... out of range", "axes must be unique"
    return tuple(a % ndim for a in items)


def _sequence(value, n, name):
    """``value`` (an int or a sequence of ``n`` ints) as a list of ``n`` ints."""
    try:
        if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return [operator.index(value)] * n
        items = [operator.index(v) for v in value]
    except TypeError:
        raise _Fallback from None
    if len(items) != n:
        raise RuntimeError(
            f"sequence argument must have length equal to input rank: {name} needs {n} entries, got {value!r}"
        )
    return items


def _check_origins(origins, shape):
    for o, n in zip(origins, shape, strict=True):
        if n // 2 + o < 0 or n // 2 + o >= n:
            raise ValueError(
                f"invalid origin: origin must satisfy -(n // 2) <= origin <= (n - 1) // 2, got {o} for n={n}"
            )


def _footprint(x, size, footprint, origin, axes, name):
    """``(footprint as bool with x.ndim axes, origins per axis)``: scipy's rules, its exception types.

    As scipy, the footprint's axes are placed on the filtered axes in increasing order and the
    origins on ``axes`` in the order given.
    """
    if size is not None and footprint is not None:
        warnings.warn("ignoring size because footprint is set", UserWarning, stacklevel=4)
    axes = _axes(axes, x.ndim)
    if footprint is None:
        if size is None:
            raise RuntimeError(f"{name}: no footprint or filter size provided (size and footprint are both None)")
        sizes = _sequence(size, len(axes), "size")
        if min(sizes) < 1:
            raise RuntimeError(f"size must be >= 1 on every axis, got {size!r}")
        fp = np.ones(sizes, dtype=bool)
    else:
        fp = np.asarray(footprint, dtype=bool)
        if fp.ndim != len(axes):
            raise RuntimeError(f"footprint.ndim ({fp.ndim}) must match len(axes) ({len(axes)})")
        if fp.size == 0:
            raise RuntimeError(f"footprint must not be empty, got shape {fp.shape}")
    origins = _sequence(origin, len(axes), "origin")
    if len(axes) < x.ndim:
        fp = np.expand_dims(fp, tuple(a for a in range(x.ndim) if a not in axes))
        full = [0] * x.ndim
        for o, a in zip(origins, axes, strict=True):
            full[a] = o
        origins = full
    _check_origins(origins, fp.shape)
    return np.ascontiguousarray(fp), origins


def _separable(x, size, origin, axes):
    """scipy's separable minimum/maximum: per-axis ``(sizes, origins)`` with ``x.ndim`` entries, paired as ``axes``."""
    axes = _axes(axes, x.ndim)
    sizes = _sequence(size, len(axes), "size")
    origins = _sequence(origin, len(axes), "origin")
    full_s, full_o = [1] * x.ndim, [0] * x.ndim
    for a, s, o in zip(axes, sizes, origins, strict=True):
        if s > 1:
            _check_origins([o], [s])
            full_s[a], full_o[a] = s, o
    return full_s, full_o


def _output_dtype(output, x):
    """The result dtype when fastconv computes the call (the input's); raise :class:`_Fallback` otherwise."""
    if output is None:
        return x.dtype
    if isinstance(output, np.ndarray):
        if output.shape != x.shape or not output.flags.writeable or output.dtype != x.dtype:
            raise _Fallback
        return x.dtype
    try:
        dt = np.dtype(output)
    except TypeError:
        raise _Fallback from None
    if dt != x.dtype:
        raise _Fallback
    return dt


def _input(input, mode, cval, nan=True):
    """The input as an ndarray fastconv computes and ``cval`` in its dtype; raise :class:`_Fallback` if not.

    A float input holding NaN is handed to scipy; ``nan=False`` leaves that test to the caller
    (:func:`_no_nan`, or a loop that reports the NaN it reads).
    """
    x = np.asarray(input)
    if np.iscomplexobj(x):
        raise TypeError(f"input must be real, got dtype {x.dtype}")
    if x.dtype not in _DTYPES or not x.dtype.isnative or x.ndim not in (1, 2, 3) or x.size == 0:
        raise _Fallback
    if not isinstance(mode, str):
        raise _Fallback
    if mode not in MODES:
        raise RuntimeError(
            f"boundary mode not supported: mode must be one of {', '.join(map(repr, MODES))}; got {mode!r}"
        )
    if MODES[mode] == "constant":
        if isinstance(cval, (bool, np.bool_)) or not isinstance(cval, (numbers.Real, np.number)):
            raise _Fallback
        c = x.dtype.type(cval) if x.dtype.kind == "f" or math.isfinite(cval) else None
        if c is None or not (float(c) == float(cval) or (math.isinf(cval) and c == cval)):
            raise _Fallback
        if x.dtype.kind in "iu" and (int(c) != cval or int(float(cval)) != int(c)):  # scipy passes cval as a double
            raise _Fallback
    else:
        c = x.dtype.type(0)
    if nan:
        _no_nan(x)
    if x.dtype.kind in "iu" and x.dtype.itemsize == 8 and (x.max() > _EXACT or x.min() < -_EXACT):
        raise _Fallback  # scipy orders these through float64 (or uint64 through int64): its rounding decides
    return np.ascontiguousarray(x), c


def _no_nan(x):
    """Raise :class:`_Fallback` if the float ``x`` holds a NaN (scipy's order for NaN is not fastconv's)."""
    if x.dtype.kind == "f" and np.isnan(np.min(x)):
        raise _Fallback


def _finish(result, output):
    if isinstance(output, np.ndarray):
        np.copyto(output, result)
        return output
    return result


def _run(name, compute, fallback):
    """``compute()`` counted as fastconv's in :data:`CALLS`, or ``fallback()`` (scipy) when it declines."""
    try:
        result = compute()
    except _Fallback:
        CALLS[name, "scipy"] += 1
        return fallback()
    CALLS[name, "fastconv"] += 1
    return result


# --- index maps and the loops' drivers --------------------------------------------------------------------


def _index_map(n, k, origin, mode):
    """Source index of each of the ``n + k - 1`` positions a window of ``k`` sees along an axis of ``n``; -1: cval."""
    before = k // 2 + origin
    after = k - 1 - before
    pad_mode = MODES[mode]
    if pad_mode == "constant":
        i = np.arange(-before, n + after)
        return np.where((i >= 0) & (i < n), i, -1).astype(np.int64)
    return extend_index(n, before, after, pad_mode).astype(np.int64)


def _as3(a):
    """A 1-, 2- or 3-D array as 3-D (leading axes of length 1)."""
    return a.reshape((1,) * (3 - a.ndim) + a.shape)


def _minmax_axis(x, axis, k, origin, mode, cval, is_max):
    """The running minimum/maximum of ``k`` values along ``axis`` of the contiguous 3-D ``x``."""
    d, h, w = x.shape
    idx = _index_map(x.shape[axis], k, origin, mode)
    out = np.empty_like(x)
    # some ten comparisons per value (fewer along the first axes, ceil(log2 k) + 1 passes along the last)
    work = x.size * 10
    if axis == 2:
        rows, orow = x.reshape(d * h, w), out.reshape(d * h, w)
        per = max(1, min(64, -(-(d * h) // 64)))
        threads.run(
            _loops.minmax_last, (rows, orow, idx, k // 2 + origin, k, is_max, cval, per), -(-(d * h) // per), work
        )
        return out
    v = x.reshape(1, d, h * w) if axis == 0 else x
    ov = out.reshape(v.shape)
    n = v.shape[1]
    per = max(4 * k, 32, -(-n // 16))
    cols = max(64, min(v.shape[2], (1 << 17) // (k * x.itemsize)))
    blocks = v.shape[0] * -(-n // per)
    threads.run(_loops.minmax_middle, (v, ov, idx, k, is_max, cval, per, cols), blocks, work)
    return out


#: Largest van Herk suffix rows (bytes: a window's height of image rows) of :func:`fastconv._loops.rank.minmax_box`:
#: with the input rows a segment reads they stay in a core's L2 (512 KB on Zen 3, 1-2 MB on recent Intel and on
#: Zen 4); a taller window runs as two passes.
FUSED_MAX_BYTES = 1 << 18


def _minmax_fused(x, kh, kw, oh, ow, mode, cval, is_max):
    """The minimum/maximum over ``kh x kw`` boxes of the last two axes of the contiguous 3-D ``x``, in one pass.

    Raises :class:`_Fallback` if ``x`` holds a NaN (the loop reports it: no scan of its own).
    """
    d, h, w = x.shape
    ridx = _index_map(h, kh, oh, mode)
    cidx = _index_map(w, kw, ow, mode)
    out = np.empty_like(x)
    # some 16 blocks of whole segments of kh rows (a block's last segment computes kh suffix rows however few it keeps)
    per = kh * -(-max(4 * kh, 32, -(-h // 16)) // kh)
    blocks = d * -(-h // per)
    nan_seen = np.zeros(blocks, dtype=np.uint8)
    work = x.size * 10
    args = (x, out, ridx, cidx, kw // 2 + ow, kh, kw, is_max, cval, per, nan_seen)
    threads.run(_loops.minmax_box, args, blocks, work)
    if nan_seen.any():
        raise _Fallback
    return out


def _minmax_box(x, sizes, origins, mode, cval, is_max, checked=True):
    """The minimum/maximum over a box of ``sizes`` (3-D ``x``): one pass per axis of length > 1, the last two fused.

    The last two axes run in one pass (:func:`_minmax_fused`) when both are longer than 1 and the
    window's height of rows fits :data:`FUSED_MAX_BYTES`.  ``checked=False``: ``x`` may hold NaN
    (:func:`_input` with ``nan=False``); raises :class:`_Fallback` if it does.
    """
    fused = sizes[1] > 1 and sizes[2] > 1 and sizes[1] * x.shape[2] * x.itemsize <= FUSED_MAX_BYTES
    if not checked and (sizes[0] > 1 or not fused):
        _no_nan(x)
    cur = x
    if sizes[0] > 1:
        cur = _minmax_axis(cur, 0, sizes[0], origins[0], mode, cval, is_max)
    if fused:
        return _minmax_fused(cur, sizes[1], sizes[2], origins[1], origins[2], mode, cval, is_max)
    for axis in (2, 1):
        if sizes[axis] > 1:
            cur = _minmax_axis(cur, axis, sizes[axis], origins[axis], mode, cval, is_max)
    return cur if cur is not x else x.copy()


@functools.lru_cache(maxsize=64)
def _batcher(n):
    """Comparators ``(a, b)`` of Batcher's odd-even merge sort of ``n`` values (the minimum goes to ``a < b``)."""
    size = 1
    while size < n:
        size *= 2
    pairs = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    # wires >= n stand for +inf values, which no comparator moves: comparators touching them do nothing
    return tuple((a, b) for a, b in pairs if b < n)


def _order(kept, result):
    """``(ca, cb, ck)``: the comparators ``kept`` that can reach wire ``result``, each computing the outputs used."""
    live = {result}
    out = []
    for a, b in reversed(kept):
        la, lb = a in live, b in live
        if not (la or lb):
            continue
        out.append((a, b, 0 if la and lb else (1 if la else 2)))
        live.update((a, b))
    out.reverse()
    arr = np.array(out, dtype=np.int64).reshape(-1, 3)
    return arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy()


@functools.lru_cache(maxsize=256)
def selection_network(n, rank):
    """``(ca, cb, ck, result wire)``: the comparators that put the value of rank ``rank`` of ``n`` on one wire.

    Rank 0 and ``n - 1`` are a chain of ``n - 1`` minimum or maximum steps; other ranks are Batcher's
    sorting network with every comparator that cannot reach wire ``rank`` removed, and a comparator
    whose maximum (minimum) output is not needed later computing its minimum (maximum) only
    (``ck`` 1 or 2; 0 computes both).

    Examples
    --------
    >>> ca, cb, ck, wire = selection_network(3, 1)
    >>> len(ca), wire
    (3, 1)
    """
    if rank == 0 or rank == n - 1:
        others = np.arange(1, n, dtype=np.int64)
        zero = np.zeros(n - 1, dtype=np.int64)
        if rank == 0:
            return zero, others, np.ones(n - 1, np.int64), 0
        return others, zero, np.full(n - 1, 2, np.int64), 0
    return (*_order(_batcher(n), rank), rank)


#: Most 0-1 inputs ``(kh + 1) ** kw`` on which :func:`box_network` tries its comparators (7x7: 2**21, some 50 ms).
BOX_PRUNE_MAX = 1 << 21


def _never_swap(kh, kw, net):
    """``net`` without the comparators that never exchange values when the ``kh`` values of each column are sorted.

    Wire ``r * kw + c`` holds the value of rank ``r`` of column ``c``.  By the 0-1 principle a
    comparator that exchanges nothing on any 0-1 input with sorted columns exchanges nothing on
    any input with sorted columns (thresholding keeps the columns sorted and commutes with the
    network), so it can go.  The ``(kh + 1) ** kw`` such 0-1 inputs are bits of one integer array
    per wire.
    """
    ones = np.indices((kh + 1,) * kw, dtype=np.uint8).reshape(kw, -1)  # the count of ones of each column
    wires = [np.packbits(ones[c] > kh - 1 - r) for r in range(kh) for c in range(kw)]
    kept = []
    for a, b in net:
        va, vb = wires[a], wires[b]
        if (va & ~vb).any():
            kept.append((a, b))
            wires[a], wires[b] = va & vb, va | vb
    return kept


@functools.lru_cache(maxsize=64)
def box_network(kh, kw, rank):
    """``(column sort, selection, tag)``: the networks of a ``kh x kw`` rank filter on sorted columns.

    The column sort ``(ca, cb)`` is Batcher's network of ``kh`` values.  The selection
    ``(ca, cb, ck, result wire)`` (as :func:`selection_network`) takes wire ``r * kw + c`` = the value
    of rank ``r`` of column ``c``: it sorts the ``kw`` values of each rank ``r`` (columns and rows
    are then both sorted), keeps the values that can be of rank ``rank``, those at ``(r, c)`` with
    ``(r + 1)(c + 1) <= rank + 1`` and ``(kh - r)(kw - c) <= n - rank`` (a value has at least
    ``(r + 1)(c + 1) - 1`` values not above it, and ``(kh - r)(kw - c) - 1`` not below), and selects
    among them (Batcher's network, pruned) the one of rank ``rank`` less the count of values below
    every kept one; comparators that cannot exchange on sorted columns are dropped
    (:func:`_never_swap`, on windows of at most :data:`BOX_PRUNE_MAX` 0-1 inputs).  A 5x5 median
    takes 69 comparators after 9 per column, against 113 on unsorted values.  ``tag`` is a digest
    of both networks.

    Examples
    --------
    >>> (sa, sb), (ca, cb, ck, wire), tag = box_network(3, 3, 4)
    >>> len(sa), len(ca)
    (3, 11)
    """
    n = kh * kw
    net = [(r * kw + a, r * kw + b) for r in range(kh) for a, b in _batcher(kw)]
    cells = [(r, c) for r in range(kh) for c in range(kw)]
    low = [(r, c) for r, c in cells if (kh - r) * (kw - c) > n - rank]
    cand = sorted(
        ((r, c) for r, c in cells if (r + 1) * (c + 1) <= rank + 1 and (kh - r) * (kw - c) <= n - rank),
        key=lambda rc: (rc[0] + rc[1], rc[0]),
    )
    wire = [r * kw + c for r, c in cand]
    net += [(wire[a], wire[b]) for a, b in _batcher(len(cand))]
    result = wire[rank - len(low)]
    if (kh + 1) ** kw <= BOX_PRUNE_MAX:
        net = _never_swap(kh, kw, net)
    ca, cb, ck = _order(net, result)
    sort = np.array(_batcher(kh), dtype=np.int64).reshape(-1, 2)
    sort_net = (sort[:, 0].copy(), sort[:, 1].copy())
    digest = hashlib.sha1(np.concatenate([sort.ravel(), ca, cb, ck, [result]]).tobytes()).hexdigest()[:10]
    return sort_net, (ca, cb, ck, result), digest


def _wires(fp):
    """The footprint's rows ``(dz, dy)`` holding a value, and per value its row and column offset."""
    rows = sorted({(int(z), int(y)) for z, y, _ in np.argwhere(fp)})
    row_of = {r: q for q, r in enumerate(rows)}
    pts = np.argwhere(fp)
    wire_row = np.array([row_of[int(z), int(y)] for z, y, _ in pts], dtype=np.int64)
    wire_dx = pts[:, 2].astype(np.int64)
    return np.array(rows, dtype=np.int64).reshape(-1, 2), wire_row, wire_dx


def _row_blocks(n_rows):
    """Output rows per block: some 64 blocks, at most 64 rows each."""
    return max(1, min(64, -(-n_rows // 64)))


def _rank_nd(x, fp, origins, rank, mode, cval):
    """The value of rank ``rank`` among the footprint's values of every window of the 3-D contiguous ``x``."""
    n = int(fp.sum())
    if fp.all() and (rank == 0 or rank == n - 1):
        return _minmax_box(x, fp.shape, origins, mode, cval, rank == n - 1)
    d, h, w = x.shape
    maps = [_index_map(x.shape[a], fp.shape[a], origins[a], mode) for a in range(3)]
    lead = fp.shape[2] // 2 + origins[2]
    per = _row_blocks(d * h)
    box = fp.all() and fp.shape[0] == 1
    if box and n >= HISTOGRAM_MIN and x.dtype.itemsize == 1 and n < 65536:
        return _histogram(x, fp.shape[1], fp.shape[2], maps, lead, rank, cval)
    if box and n > NETWORK_MAX and n < 65536 and 0 < rank < n - 1:
        return _buckets(x, fp.shape[1], fp.shape[2], maps, lead, rank, cval)
    if box and n <= NETWORK_MAX and x.size >= BOX_MIN_VALUES:
        return _box(x, fp.shape[1], fp.shape[2], maps, lead, rank, cval, per)
    return _network(x, fp, maps, lead, rank, cval, per)


def _network(x, fp, maps, lead, rank, cval, per):
    """Rank ``rank`` of any footprint's windows: a selection network on its values (up to :data:`NETWORK_MAX`
    values, or the minimum or maximum), else quickselect."""
    d, h, w = x.shape
    n = int(fp.sum())
    out = np.empty_like(x)
    blocks = -(-(d * h) // per)
    common = (maps[0], maps[1], maps[2], lead, *_wires(fp))
    if n <= NETWORK_MAX or rank == 0 or rank == n - 1:
        ca, cb, ck, wire = selection_network(n, rank)
        xk, ckey, keymask = _keyed(x, cval)  # floats ordered as integer keys (fastconv._loops.rank.network_rows)
        args = (xk, out.view(xk.dtype), *common, ca, cb, ck, wire, ckey, keymask, per)
        threads.run(_loops.network_rows, args, blocks, x.size * max(n, len(ca)))
    else:
        args = (x, out, *common, rank, cval, per)
        threads.run(_loops.select_rows, args, blocks, x.size * n * 3)
    return out


def _keyed(x, cval):
    """``(x, cval, keymask)`` as the network loops take them: float data as the signed integers of their bits."""
    bits = np.dtype(f"i{x.itemsize}") if x.dtype.kind == "f" else x.dtype
    keymask = bits.type(np.iinfo(bits).max if x.dtype.kind == "f" else 0)
    return x.view(bits), np.array(cval, x.dtype).view(bits)[()], keymask


def _box(x, kh, kw, maps, lead, rank, cval, per):
    """Rank ``rank`` of the ``kh x kw`` windows of the rows of a 3-D ``x``: networks on sorted columns.

    :func:`box_network` gives the networks, :func:`fastconv._loops.rank.box_rows` the loop.
    """
    d, h, w = x.shape
    sort_net, select_net, tag = box_network(kh, kw, rank)
    kernel = _loops.box_rows(kh, kw, sort_net, select_net, tag)
    out = np.empty_like(x)
    xk, ck, keymask = _keyed(x, cval)
    args = (xk, out.view(xk.dtype), maps[1], maps[2], lead, ck, keymask, per)
    threads.run(kernel, args, -(-(d * h) // per), x.size * (len(sort_net[0]) + len(select_net[0])))
    return out


def _buckets(x, kh, kw, maps, lead, rank, cval):
    """Rank ``rank`` of the ``kh x kw`` windows of a 3-D ``x`` of one slice, any dtype: histograms of buckets.

    The values are cut into at most 256 buckets at quantiles of a sample (:func:`bucketize`); the
    column histograms of the bucket image (:func:`fastconv._loops.rank.histogram_rows`) give each
    window's bucket holding the value of rank ``rank`` and the count below it, and
    :func:`fastconv._loops.rank.refine_rows` selects the exact value among the window's values in
    that bucket, a few on average: the cost per value grows with the window only by that scan.
    """
    img = x[0]
    h, w = img.shape
    step = max(1, img.size // 65536)
    sample = np.sort(img.ravel()[::step])
    edges = np.unique(sample[np.linspace(0, sample.size - 1, 257).astype(np.int64)[1:-1]])
    per = _row_blocks(h)
    bk = np.empty((h, w), dtype=np.uint8)
    top_value = np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).max
    padded = np.full(255, top_value, dtype=x.dtype)
    padded[: edges.size] = edges
    threads.run(_loops.bucketize, (img, padded, edges.size, bk, per), -(-h // per), img.size * 8)
    cbk = np.uint8(np.searchsorted(edges, cval, side="right"))
    below = np.empty((h, w), dtype=np.int32)
    hist_per = max(2 * kh, 32, -(-h // 8))
    stripe = min(HISTOGRAM_STRIPE, w)
    blocks = -(-h // hist_per) * -(-w // stripe)
    bucket = np.empty((h, w), dtype=np.uint8)
    args = (bk, bucket, below, maps[1], maps[2], lead, kh, kw, rank, cbk, hist_per, stripe)
    threads.run(_loops.histogram_rows, args, blocks, img.size * 600)
    out = np.empty_like(x)
    if x.dtype.kind == "f":
        bottom, top = x.dtype.type(-np.inf), x.dtype.type(np.inf)
        below_edges = np.nextafter(edges, bottom)
    else:
        bottom, top = np.iinfo(x.dtype).min, np.iinfo(x.dtype).max
        below_edges = np.where(edges > bottom, edges - np.ones(1, x.dtype), bottom)  # no wrap-around at the bottom
    lows = np.concatenate([np.array([bottom], x.dtype), edges])
    highs = np.concatenate([below_edges.astype(x.dtype), np.array([top], x.dtype)])
    args = (x, out, bucket.reshape(x.shape), below.reshape(x.shape), lows, highs, maps[0], maps[1], maps[2], lead)
    args += (kh, kw, rank, cval, per)
    threads.run(_loops.refine_rows, args, -(-h // per), img.size * kh * kw)
    return out


def _histogram(x, kh, kw, maps, lead, rank, cval):
    """:func:`fastconv._loops.rank.histogram_rows` on a 3-D ``x`` of one slice, int8 as offset uint8."""
    signed = x.dtype == np.int8
    img = x[0]
    if signed:
        img = (img.view(np.uint8) ^ np.uint8(0x80)).astype(np.uint8)
        cval = np.uint8((int(cval) + 128) & 0xFF)
    else:
        cval = np.uint8(cval)
    h, w = img.shape
    out = np.empty((h, w), dtype=np.uint8)
    per = max(2 * kh, 32, -(-h // 8))
    stripe = min(HISTOGRAM_STRIPE, w)
    n_stripes = -(-w // stripe)
    blocks = -(-h // per) * n_stripes
    args = (img, out, np.zeros((0, 0), np.int32), maps[1], maps[2], lead, kh, kw, rank, cval, per, stripe)
    threads.run(_loops.histogram_rows, args, blocks, img.size * 600)
    if signed:
        out = (out ^ np.uint8(0x80)).view(np.int8)
    return out.reshape(x.shape)


# --- public functions ---------------------------------------------------------------------------------------


def _minmax1d(name, input, size, axis, output, mode, cval, origin, is_max):
    x, c = _input(input, mode, cval)
    try:
        size = operator.index(size)
        origin = operator.index(origin)
        axis = operator.index(axis)
    except TypeError:
        raise _Fallback from None
    if size < 1:
        raise RuntimeError(f"incorrect filter size: size must be >= 1, got {size}")
    _check_origins([origin], [size])
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must be within -{x.ndim} <= axis < {x.ndim}, got {axis}")
    _output_dtype(output, x)
    x3 = _as3(x)
    ax = axis % x.ndim + 3 - x.ndim
    if size == 1:
        res = x3.copy()
    else:
        res = _minmax_axis(x3, ax, size, origin, mode, c, is_max)
    return _finish(res.reshape(x.shape), output)


def minimum_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """1-D minimum filter along ``axis``: :func:`scipy.ndimage.minimum_filter1d` on fastconv.

    ``out[..., i, ...] = min_{t < size} xe[..., i + t - size // 2 - origin, ...]`` with ``xe`` the input
    extended as ``mode`` says; the same values as scipy.

    %(parameters)s

    Examples
    --------
    >>> from fastconv import ndimage
    >>> ndimage.minimum_filter1d([2, 8, 0, 4, 1, 9, 9, 0], size=3)
    array([2, 0, 0, 0, 1, 1, 0, 0])
    """
    return _run(
        "ndimage.minimum_filter1d",
        lambda: _minmax1d("minimum_filter1d", input, size, axis, output, mode, cval, origin, False),
        lambda: _SCIPY["minimum_filter1d"](input, size, axis, output, mode, cval, origin),
    )


def maximum_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """1-D maximum filter along ``axis``: :func:`scipy.ndimage.maximum_filter1d` on fastconv.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.maximum_filter1d(np.array([[2, 8], [0, 4], [1, 9]]), 2, axis=0)
    array([[2, 8],
           [2, 8],
           [1, 9]])
    """
    return _run(
        "ndimage.maximum_filter1d",
        lambda: _minmax1d("maximum_filter1d", input, size, axis, output, mode, cval, origin, True),
        lambda: _SCIPY["maximum_filter1d"](input, size, axis, output, mode, cval, origin),
    )


def _minmax(name, input, size, footprint, output, mode, cval, origin, axes, is_max):
    x, c = _input(input, mode, cval, nan=False)  # a box's loop reports NaN itself (_minmax_box)
    if footprint is not None:
        fpa = np.asarray(footprint, dtype=bool)
        if not fpa.any():
            raise ValueError(
                f"All-zero footprint is not supported: footprint must have a nonzero value, got shape {fpa.shape}"
            )
        if fpa.all():
            size, footprint = fpa.shape, None
    elif size is None:
        raise RuntimeError(f"{name}: no footprint provided (size and footprint are both None)")
    _output_dtype(output, x)
    x3 = _as3(x)
    if footprint is None:
        sizes, origins = _separable(x, size, origin, axes)
        pad = [1] * (3 - x.ndim)
        res = _minmax_box(x3, pad + sizes, [0] * (3 - x.ndim) + origins, mode, c, is_max, checked=False)
    else:
        _no_nan(x)
        fp, origins = _footprint(x, None, footprint, origin, axes, name)
        fp3, o3 = _as3(fp), [0] * (3 - x.ndim) + origins
        res = _rank_nd(x3, fp3, o3, int(fp3.sum()) - 1 if is_max else 0, mode, c)
    return _finish(res.reshape(x.shape), output)


def minimum_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """Multidimensional minimum filter: :func:`scipy.ndimage.minimum_filter` on fastconv.

    A box (``size``, or an all-true ``footprint``) runs as one pass per axis (van Herk/Gil-Werman,
    see the module docstring); another footprint as a chain of minima over its values.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.minimum_filter(np.array([[5, 3, 8], [1, 9, 4], [7, 2, 6]]), size=2)
    array([[5, 3, 3],
           [1, 1, 3],
           [1, 1, 2]])
    """
    return _run(
        "ndimage.minimum_filter",
        lambda: _minmax("minimum_filter", input, size, footprint, output, mode, cval, origin, axes, False),
        lambda: _SCIPY["minimum_filter"](input, size, footprint, output, mode, cval, origin, **_axes_kwarg(axes)),
    )


def maximum_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """Multidimensional maximum filter: :func:`scipy.ndimage.maximum_filter` on fastconv.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.maximum_filter(np.array([1, 5, 2, 0, 3]), size=3, mode="constant")
    array([5, 5, 5, 3, 3])
    """
    return _run(
        "ndimage.maximum_filter",
        lambda: _minmax("maximum_filter", input, size, footprint, output, mode, cval, origin, axes, True),
        lambda: _SCIPY["maximum_filter"](input, size, footprint, output, mode, cval, origin, **_axes_kwarg(axes)),
    )


def _axes_kwarg(axes):
    return {} if axes is None else {"axes": axes}


def _rank_value(rank, n, operation):
    """scipy's rank for ``operation`` ("median", "percentile" with ``rank`` a percentile, or "rank")."""
    if operation == "median":
        return n // 2
    if operation == "percentile":
        try:
            percentile = float(rank)
        except TypeError:
            raise _Fallback from None
        if percentile < 0.0:
            percentile += 100.0
        if not 0 <= percentile <= 100:
            raise RuntimeError(f"invalid percentile: percentile must be within -100 and 100, got {rank!r}")
        return n - 1 if percentile == 100.0 else int(float(n) * percentile / 100.0)
    try:
        r = operator.index(rank)
    except TypeError:
        raise _Fallback from None
    if r < 0:
        r += n
    if r < 0 or r >= n:
        raise RuntimeError(f"rank not within filter footprint size: rank must be within -{n} and {n - 1}, got {rank!r}")
    return r


def _rank(name, input, rank, size, footprint, output, mode, cval, origin, axes, operation):
    x, c = _input(input, mode, cval)
    fp, origins = _footprint(x, size, footprint, origin, axes, name)
    n = int(fp.sum())
    if n == 0:
        raise RuntimeError(f"rank not within filter footprint size: footprint has no nonzero value (shape {fp.shape})")
    r = _rank_value(rank, n, operation)
    if x.ndim == 1 and not fp.all() and 0 < r < n - 1:
        raise _Fallback  # scipy's 1-D rank path takes the footprint's whole length
    _output_dtype(output, x)
    res = _rank_nd(_as3(x), _as3(fp), [0] * (3 - x.ndim) + origins, r, mode, c)
    return _finish(res.reshape(x.shape), output)


def _rank_call(name, operation, input, rank, size, footprint, output, mode, cval, origin, axes):
    """``ndimage.<name>`` (``operation`` as :func:`_rank_value`) by fastconv, or by scipy when fastconv declines."""
    extra = () if operation == "median" else (rank,)
    return _run(
        f"ndimage.{name}",
        lambda: _rank(name, input, rank, size, footprint, output, mode, cval, origin, axes, operation),
        lambda: _SCIPY[name](input, *extra, size, footprint, output, mode, cval, origin, **_axes_kwarg(axes)),
    )


def rank_filter(input, rank, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """Multidimensional rank filter: :func:`scipy.ndimage.rank_filter` on fastconv.

    ``out[p]`` is the value of rank ``rank`` (0 the smallest, -1 the largest) among the footprint's
    values of the window at ``p``.

    %(parameters)s

    Examples
    --------
    >>> from fastconv import ndimage
    >>> ndimage.rank_filter([2, 8, 0, 4, 1, 9, 9, 0], rank=1, size=3)
    array([2, 2, 4, 1, 4, 9, 9, 0])
    """
    return _rank_call("rank_filter", "rank", input, rank, size, footprint, output, mode, cval, origin, axes)


def median_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """Multidimensional median filter: :func:`scipy.ndimage.median_filter` on fastconv.

    The value of rank ``n // 2`` of the window's ``n`` values (the upper median for even ``n``).

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import ndimage
    >>> ndimage.median_filter(np.array([[1, 9, 2, 0], [8, 3, 7, 5]]), footprint=[[1, 0, 1], [0, 1, 0]])
    array([[1, 2, 2, 0],
           [8, 2, 7, 2]])
    """
    return _rank_call("median_filter", "median", input, None, size, footprint, output, mode, cval, origin, axes)


def percentile_filter(
    input, percentile, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None
):
    """Multidimensional percentile filter: :func:`scipy.ndimage.percentile_filter` on fastconv.

    The value of rank ``int(n * percentile / 100)`` (``n - 1`` at 100; a negative percentile counts
    from 100) of the window's ``n`` values, as scipy.

    %(parameters)s

    Examples
    --------
    >>> from fastconv import ndimage
    >>> ndimage.percentile_filter([2, 8, 0, 4, 1, 9, 9, 0], percentile=20, size=5)
    array([2, 2, 1, 1, 1, 1, 0, 0])
    """
    return _rank_call(
        "percentile_filter", "percentile", input, percentile, size, footprint, output, mode, cval, origin, axes
    )


def _kernel_size(kernel_size, ndim):
    """``kernel_size`` as a list of ``ndim`` odd ints, scipy.signal's rules."""
    if kernel_size is None:
        return [3] * ndim
    ks = np.asarray(kernel_size)
    if ks.dtype.kind not in "iu":
        raise _Fallback
    ks = np.repeat(ks.item(), ndim) if ks.shape == () else ks
    if ks.ndim != 1 or len(ks) != ndim:
        raise _Fallback
    if any(int(k) % 2 != 1 for k in ks):
        raise ValueError(
            f"Each element of kernel_size should be odd: kernel_size must hold odd sizes, got {kernel_size!r}"
        )
    return [int(k) for k in ks]


def _medfilt(volume, kernel_size, ndims):
    x = np.asarray(volume)
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim not in ndims or x.dtype.kind not in "iuf":
        raise _Fallback  # scipy's own message for other dtypes
    ks = _kernel_size(kernel_size, x.ndim)
    if any(k > s for k, s in zip(ks, x.shape, strict=True)):
        warnings.warn("kernel_size exceeds volume extent: the volume will be zero-padded.", stacklevel=4)
    x, c = _input(x, "constant", 0)
    n = math.prod(ks)
    fp = np.ones(ks, dtype=bool)
    return _rank_nd(_as3(x), _as3(fp), [0, 0, 0], n // 2, "constant", c).reshape(x.shape)


def medfilt(volume, kernel_size=None):
    """Median filter of an N-D array: :func:`scipy.signal.medfilt` on fastconv.

    The median of each ``kernel_size`` window (odd sizes), the input zero-padded.

    %(parameters)s

    Examples
    --------
    >>> from fastconv import signal
    >>> signal.medfilt([2, 6, 5, 4, 0, 3, 5, 7, 9, 2, 0, 1], 5)
    array([2, 4, 4, 4, 4, 4, 5, 5, 5, 2, 1, 0])
    """
    return _run(
        "signal.medfilt",
        lambda: _medfilt(volume, kernel_size, (1, 2, 3)),
        lambda: _SCIPY_SIGNAL["medfilt"](volume, kernel_size),
    )


def medfilt2d(input, kernel_size=3):
    """Median filter of a 2-D array: :func:`scipy.signal.medfilt2d` on fastconv.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import signal
    >>> signal.medfilt2d(np.array([[1, 9, 2], [8, 3, 7], [4, 6, 5]], dtype=np.uint8))
    array([[0, 2, 0],
           [3, 5, 3],
           [0, 4, 0]], dtype=uint8)
    """
    return _run(
        "signal.medfilt2d",
        lambda: _medfilt(input, kernel_size, (2,)),
        lambda: _SCIPY_SIGNAL["medfilt2d"](input, kernel_size),
    )

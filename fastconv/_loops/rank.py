"""Rank-filter loops (private): minimum/maximum, selection networks, 8-bit histograms, quickselect.

Every loop reads its input through *index maps* instead of a padded copy:
an axis of ``n`` values extended by ``before``/``after`` positions (the
window's reach past each edge) is a map ``idx`` of ``n + before + after``
entries, ``idx[p]`` the source index of padded position ``p``, or ``-1`` for
the constant ``cval``.  Output position ``i`` along that axis sees padded
positions ``i .. i + k - 1`` for a window of ``k``.

All loops are block functions for :func:`fastconv._loops.threads.run`
(``kernel(*args, t0, t1)`` computes blocks ``t0 <= t < t1``, each writing its
own rows of the output).  NaN never reaches them (the wrapper hands NaN
inputs to scipy), so ``a if a < b else b`` is a total order here.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numba.core import types
from numba.extending import intrinsic

from .._jit import jit

#: Columns of a selection network's working rows: up to 49 wires of 1024 values stay in L2 (each call of a
#: comparator loop then has 1024 values of work; at 256 the calls' overhead was a third of the time).
NET_COLUMNS = 1024


@jit(inline=True)
def _fill(dst, src, cidx, cval, c0, n, lead):
    """``dst[j] = src[cidx[c0 + j]]`` (``cval`` where the map says -1) for ``j < n``.

    The map is the identity shifted by ``lead`` inside the source row (``cidx[p] = p - lead``), so
    that part is a plain copy and only the extended ends go through the map.
    """
    width = src.shape[0]
    lo = min(max(lead - c0, 0), n)
    hi = max(min(lead + width - c0, n), lo)
    for j in range(lo):
        c = cidx[c0 + j]
        dst[j] = src[c] if c >= 0 else cval
    d = dst[lo:hi]
    s = src[c0 + lo - lead : c0 + hi - lead]
    for j in range(hi - lo):
        d[j] = s[j]
    for j in range(hi, n):
        c = cidx[c0 + j]
        dst[j] = src[c] if c >= 0 else cval


@jit()
def minmax_last(x, out, cidx, lead, k, is_max, cval, rows_per_block, t0, t1):
    """Running minimum (maximum if ``is_max``) of ``k`` values along the last axis of the 2-D ``x``.

    ``out[r, j] = min_{t < k} xe[r, j + t]`` with ``xe[r]`` the row extended through ``cidx``.
    Doubling, vectorised along the row: ``m_p[j] = min(xe[j .. j + p - 1])`` for ``p = 1, 2, 4, ...``
    up to the largest power of two ``p <= k``, then ``out[j] = min(m_p[j], m_p[j + k - p])``:
    ``ceil(log2 k)`` contiguous passes per row.  Blocks of ``rows_per_block`` rows.
    """
    n_rows = x.shape[0]
    w = out.shape[1]
    wp = w + k - 1
    a = np.empty(wp, dtype=x.dtype)
    b = np.empty(wp, dtype=x.dtype)
    for t in range(t0, t1):
        for r in range(t * rows_per_block, min(n_rows, (t + 1) * rows_per_block)):
            _minmax_row(out[r], x[r], a, b, cidx, lead, k, is_max, cval)


@jit()
def _minmax_row(o, xr, a, b, cidx, lead, k, is_max, cval):
    """One row of :func:`minmax_last` (``a`` and ``b`` scratch rows of ``len(o) + k - 1`` values)."""
    _fill(a, xr, cidx, cval, 0, o.shape[0] + k - 1, lead)
    _running(o, a, b, k, is_max)


@jit()
def _running(o, a, b, k, is_max):
    """``o[j] = max(a[j .. j + k - 1])`` (``min`` unless ``is_max``) by doubling; ``b`` scratch, ``a`` overwritten."""
    w = o.shape[0]
    wp = w + k - 1
    p = 1
    while 2 * p <= k:
        _pair(b, a, a, 0, p, wp - 2 * p + 1, is_max)
        a, b = b, a
        p *= 2
    _pair(o, a, a, 0, k - p, w, is_max)


@jit()
def _extend(a, cidx, lead, w, cval):
    """Fill the ends of the extended row ``a`` whose values ``a[lead : lead + w]`` are in place (map ``cidx``)."""
    for p in range(lead):
        c = cidx[p]
        a[p] = a[lead + c] if c >= 0 else cval
    for p in range(lead + w, a.shape[0]):
        c = cidx[p]
        a[p] = a[lead + c] if c >= 0 else cval


@jit(inline=True)
def _best(u, v, is_max):
    """``max(u, v)`` if ``is_max`` else ``min(u, v)``: in a loop, LLVM takes the test out and vectorises both."""
    if is_max:
        return v if u < v else u
    return u if u < v else v


@jit()
def _pair(dst, u, v, su, sv, n, is_max):
    """``dst[j] = max(u[su + j], v[sv + j])`` (``min`` unless ``is_max``) for ``j < n``: a separate function,
    so that LLVM vectorises it (inlined into the row loop, it did not: 20x slower)."""
    d = dst[:n]
    a = u[su : su + n]
    b = v[sv : sv + n]
    for j in range(n):
        d[j] = _best(a[j], b[j], is_max)


@jit(inline=True)
def _row_of(x, o, q, cvrow):
    """Row ``q`` of ``x[o]``, or the constant row when ``q`` is -1."""
    if q >= 0:
        return x[o, q]
    return cvrow


@jit()
def minmax_middle(x, out, idx, k, is_max, cval, rows_per_block, cols, t0, t1):
    """Running minimum (maximum if ``is_max``) of ``k`` values along axis 1 of the 3-D ``x``, van Herk/Gil-Werman.

    ``out[o, i, :] = min_{t < k} x[o, idx[i + t], :]``.  The output rows of a block are cut into
    segments of ``k``; for the segment starting at ``s``, ``h`` holds suffix minima of padded rows
    ``s .. s + k - 1`` and ``g`` prefix minima of rows ``s + k .. s + 2k - 2``, and
    ``out[s + t] = min(h[t], g[t - 1])``: about three comparisons per value whatever ``k``, each a
    whole row segment of ``cols`` values (contiguous, vectorised).  Block ``t`` is output rows
    ``[b * rows_per_block, ...)`` of slice ``o``, with ``(o, b) = divmod(t, blocks per slice)``.
    """
    n_out = out.shape[1]
    inner = x.shape[2]
    per = (n_out + rows_per_block - 1) // rows_per_block
    h = np.empty((k, cols), dtype=x.dtype)
    g = np.empty((k, cols), dtype=x.dtype)
    cvrow = np.full(inner, cval, dtype=x.dtype)
    for t in range(t0, t1):
        o = t // per
        r0 = (t % per) * rows_per_block
        r1 = min(n_out, r0 + rows_per_block)
        for c0 in range(0, inner, cols):
            c1 = min(inner, c0 + cols)
            nc = c1 - c0
            for s in range(r0, r1, k):
                e = min(r1, s + k)
                src = _row_of(x, o, idx[s + k - 1], cvrow)
                _pair(h[k - 1], src, src, c0, c0, nc, is_max)
                for q in range(k - 2, -1, -1):
                    src = _row_of(x, o, idx[s + q], cvrow)
                    _pair(h[q], src, h[q + 1], c0, 0, nc, is_max)
                _pair(out[o, s, c0:c1], h[0], h[0], 0, 0, nc, is_max)
                for q in range(e - s - 1):
                    src = _row_of(x, o, idx[s + k + q], cvrow)
                    if q == 0:
                        _pair(g[0], src, src, c0, c0, nc, is_max)
                    else:
                        _pair(g[q], src, g[q - 1], c0, 0, nc, is_max)
                    _pair(out[o, s + q + 1, c0:c1], h[q + 1], g[q], 0, 0, nc, is_max)


@jit()
def _keep(pd, ps, n, is_max):
    """``pd[j] = max(pd[j], ps[j])`` (``min`` unless ``is_max``) for ``j < n``.

    Two arguments, not :func:`_pair` with ``dst`` also a source, which LLVM's overlap check sends
    to its scalar loop.
    """
    d = pd[:n]
    s = ps[:n]
    for j in range(n):
        d[j] = _best(d[j], s[j], is_max)


@jit()
def _suffix(dst, src, prev, n, first, is_max):
    """``dst[j] = max(src[j], prev[j])`` (``min`` unless ``is_max``; ``src[j]`` alone if ``first``)
    for ``j < n``; True if a ``src`` value is NaN.  A van Herk suffix step of :func:`minmax_box`."""
    d = dst[:n]
    s = src[:n]
    p = prev[:n]
    bad = False
    for j in range(n):
        v = s[j]
        bad |= v != v
        d[j] = v if first else _best(v, p[j], is_max)
    return bad


@jit()
def _prefix(g, dst, src, hrow, n, first, is_max):
    """The van Herk prefix step of :func:`minmax_box`, one pass: ``g[j] = max(g[j], src[j])`` (``src``
    alone if ``first``), then ``dst[j] = max(hrow[j], g[j])`` (``min`` unless ``is_max``); True if a ``src``
    value is NaN."""
    gg, d, s, hh = g[:n], dst[:n], src[:n], hrow[:n]
    bad = False
    for j in range(n):
        v = s[j]
        bad |= v != v
        if not first:
            v = _best(v, gg[j], is_max)
        gg[j] = v
        d[j] = _best(v, hh[j], is_max)
    return bad


@jit()
def minmax_box(x, out, ridx, cidx, lead, kh, kw, is_max, cval, rows_per_block, nan_seen, t0, t1):
    """Minimum (maximum if ``is_max``) over ``kh x kw`` boxes of the last two axes of the 3-D ``x``, one pass.

    ``out[o, i, j] = min xe[o, ridx[i + s], j + t]`` over ``s < kh``, ``t < kw`` (``xe`` the rows
    extended through ``cidx``, ``lead`` as :func:`minmax_last`).  The two passes of
    :func:`minmax_middle` then :func:`minmax_last` fused: the output rows of a block are cut into
    segments of ``kh``; the van Herk/Gil-Werman column pass of a segment keeps its ``kh`` suffix
    rows in ``h`` (a window's height of rows: the caller keeps it within L2) and makes its output
    rows one at a time straight into the extended row ``a`` of the row pass, which writes the
    output row: the intermediate image never goes to memory, not even to a scratch image.
    Blocks as :func:`minmax_middle`.

    The column pass reads every input value a window touches, which is every value of ``x``; it
    sets ``nan_seen[t]`` to 1 if block ``t`` read a NaN (the result is then not scipy's: the caller
    hands the call to scipy), so a float input needs no separate scan for NaN first.
    """
    n_out = out.shape[1]
    inner = x.shape[2]
    per = (n_out + rows_per_block - 1) // rows_per_block
    h = np.empty((kh, inner), dtype=x.dtype)
    g = np.empty(inner, dtype=x.dtype)
    cvrow = np.full(inner, cval, dtype=x.dtype)
    wp = inner + kw - 1
    a = np.empty(wp, dtype=x.dtype)
    b = np.empty(wp, dtype=x.dtype)
    mid = a[lead : lead + inner]
    for t in range(t0, t1):
        o = t // per
        r0 = (t % per) * rows_per_block
        r1 = min(n_out, r0 + rows_per_block)
        bad = False
        for s in range(r0, r1, kh):
            for q in range(kh - 1, -1, -1):
                src = _row_of(x, o, ridx[s + q], cvrow)
                bad |= _suffix(h[q], src, h[min(q + 1, kh - 1)], inner, q == kh - 1, is_max)
            _pair(mid, h[0], h[0], 0, 0, inner, is_max)
            _extend(a, cidx, lead, inner, cval)
            _running(out[o, s], a, b, kw, is_max)
            for q in range(min(r1, s + kh) - s - 1):
                src = _row_of(x, o, ridx[s + kh + q], cvrow)
                bad |= _prefix(g, mid, src, h[q + 1], inner, q == 0, is_max)
                _extend(a, cidx, lead, inner, cval)
                _running(out[o, s + q + 1], a, b, kw, is_max)
        if bad:
            nan_seen[t] = 1


@jit(inline=True)
def _padded_rows(buf, x, zi, ri, cidx, lead, cval, rows_zy, row, h):
    """``buf[q] = `` the extended source row of footprint row ``q`` for output row ``row`` of the
    ``(d * h)`` rows of the output; returns that row's ``(z, i)``."""
    z = row // h
    i = row - z * h
    w_pad = cidx.shape[0]
    for q in range(rows_zy.shape[0]):
        sz = zi[z + rows_zy[q, 0]]
        sy = ri[i + rows_zy[q, 1]]
        bq = buf[q]
        if sz < 0 or sy < 0:
            for j in range(w_pad):
                bq[j] = cval
        else:
            _fill(bq, x[sz, sy], cidx, cval, 0, w_pad, lead)
    return z, i


@jit()
def network_rows(
    x, out, zi, ri, cidx, lead, rows_zy, wire_row, wire_dx, ca, cb, ck, rank, cval, keymask, rows_per_block, t0, t1
):
    """Rank ``rank`` of each window by a selection network, vectorised along the rows of the 3-D ``x``.

    Window element ``w`` of output ``(z, i, j)`` is ``xe[z + rows_zy[q, 0], i + rows_zy[q, 1], j + wire_dx[w]]``
    with ``q = wire_row[w]`` (``xe`` the input extended through the maps).  The elements are loaded as
    rows ("wires") of up to :data:`NET_COLUMNS` columns; comparator ``c`` orders wires ``ca[c] < cb[c]``
    (``ck[c]``: 0 both outputs, 1 the minimum only, 2 the maximum only); the result is wire ``rank``.
    Float data come as the signed integers of their bits (``x`` and ``out`` viewed as int32 or
    int64) with ``keymask`` the integer's largest value, and are ordered by their keys
    (:func:`_key`, its own inverse; ``keymask`` 0 for integer data): integer comparisons, which LLVM
    keeps in vector registers (on float rows it stores the minimum with a masked store, many times
    slower on AVX2 machines).
    Blocks of ``rows_per_block`` output rows over the ``D*H`` rows.
    """
    d, h, w = out.shape
    n_wires = wire_row.shape[0]
    w_pad = cidx.shape[0]
    buf = np.empty((rows_zy.shape[0], w_pad), dtype=x.dtype)
    wires = np.empty((n_wires, NET_COLUMNS), dtype=x.dtype)
    for t in range(t0, t1):
        for row in range(t * rows_per_block, min(d * h, (t + 1) * rows_per_block)):
            z, i = _padded_rows(buf, x, zi, ri, cidx, lead, cval, rows_zy, row, h)
            for c0 in range(0, w, NET_COLUMNS):
                nc = min(NET_COLUMNS, w - c0)
                for q in range(n_wires):
                    off = c0 + wire_dx[q]
                    _load(wires[q], buf[wire_row[q]], off, nc, keymask)
                for c in range(ca.shape[0]):
                    pa = wires[ca[c]]
                    pb = wires[cb[c]]
                    kind = ck[c]
                    if kind == 0:
                        _exchange(pa, pb, nc)
                    elif kind == 1:
                        _keep(pa, pb, nc, False)
                    else:
                        _keep(pb, pa, nc, True)
                _load(out[z, i, c0 : c0 + nc], wires[rank], 0, nc, keymask)


@jit()
def _load(dst, src, off, n, keymask):
    """``dst[j] = _key(src[off + j], keymask)`` for ``j < n``."""
    d = dst[:n]
    s = src[off : off + n]
    for j in range(n):
        d[j] = _key(s[j], keymask)


@jit(inline=True)
def _key(v, mask):
    """The order key of a float's bits seen as a signed integer ``v``, ``mask`` that integer's largest value.

    Non-negative floats keep their bits; negative ones get all bits but the sign flipped, so that
    integer order is float order (``-0.0`` just below ``+0.0``; NaN never reaches the loops).  The
    map is its own inverse; with ``mask`` 0 it is the identity (integer data).
    """
    return v ^ mask if v < 0 else v


@jit()
def _exchange(pa, pb, n):
    """``pa[j], pb[j] = min, max`` of the two for ``j < n`` (a separate function: vectorised, see :func:`_pair`)."""
    a = pa[:n]
    b = pb[:n]
    for j in range(n):
        u, v = a[j], b[j]
        a[j] = u if u < v else v
        b[j] = v if u < v else u


@jit(inline=True)
def _select(a, n, r):
    """The value of rank ``r`` among ``a[:n]`` (reorders ``a``): quickselect, median-of-three pivots."""
    lo = 0
    hi = n - 1
    while hi > lo:
        mid = (lo + hi) // 2
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pivot = a[mid]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while pivot < a[j]:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if r <= j:
            hi = j
        elif r >= i:
            lo = i
        else:
            return a[r]
    return a[r]


@jit()
def select_rows(x, out, zi, ri, cidx, lead, rows_zy, wire_row, wire_dx, rank, cval, rows_per_block, t0, t1):
    """Rank ``rank`` of each window by quickselect (any footprint); arguments as :func:`network_rows`."""
    d, h, w = out.shape
    n = wire_row.shape[0]
    buf = np.empty((rows_zy.shape[0], cidx.shape[0]), dtype=x.dtype)
    win = np.empty(n, dtype=x.dtype)
    for t in range(t0, t1):
        for row in range(t * rows_per_block, min(d * h, (t + 1) * rows_per_block)):
            z, i = _padded_rows(buf, x, zi, ri, cidx, lead, cval, rows_zy, row, h)
            o = out[z, i]
            for j in range(w):
                for q in range(n):
                    win[q] = buf[wire_row[q], j + wire_dx[q]]
                o[j] = _select(win, n, rank)


@jit(inline=True)
def _row_or_cval(dst, x, sy, cidx, cval, c0, n, lead):
    """``dst[:n]`` = source row ``sy`` of the 2-D ``x`` extended through ``cidx`` from ``c0`` (:func:`_fill`), or
    ``cval`` throughout when the row map says -1."""
    if sy < 0:
        for j in range(n):
            dst[j] = cval
    else:
        _fill(dst, x[sy], cidx, cval, c0, n, lead)


@jit()
def histogram_rows(x, out, belows, ri, cidx, lead, kh, kw, rank, cval, rows_per_block, stripe, t0, t1):
    """Rank ``rank`` of each ``kh x kw`` window of the 2-D uint8 ``x``: Perreault and Hebert's column histograms.

    Each padded column of a stripe of ``stripe`` output columns keeps a 256-bin histogram of the ``kh``
    values in the window's rows, updated by one removal and one addition per output row; the
    window's histogram moves along the row by adding the entering column's histogram and
    subtracting the leaving one (256 bins, vectorised), and the result ``m`` is tracked with the
    count of window values below it (``below <= rank < below + hist[m]``), so the cost per value
    does not grow with the window.  When ``belows`` has ``out``'s shape, ``belows[i, j]`` receives the
    count of window values below the result (for :func:`refine_rows`).  Block ``t``: row block
    ``t // stripes``, column stripe ``t % stripes``.
    """
    keep = belows.shape[0] == out.shape[0] and belows.shape[1] == out.shape[1]
    h, w = out.shape
    n_stripes = (w + stripe - 1) // stripe
    colh = np.zeros((stripe + kw - 1, 256), dtype=np.uint16)
    hist = np.zeros(256, dtype=np.uint16)
    old = np.empty(stripe + kw - 1, dtype=np.uint8)
    new = np.empty(stripe + kw - 1, dtype=np.uint8)
    for t in range(t0, t1):
        r0 = (t // n_stripes) * rows_per_block
        r1 = min(h, r0 + rows_per_block)
        c0 = (t % n_stripes) * stripe
        nc = min(stripe, w - c0)
        ncp = nc + kw - 1
        for j in range(ncp):
            for b in range(256):
                colh[j, b] = 0
        for q in range(kh):
            _row_or_cval(new, x, ri[r0 + q], cidx, cval, c0, ncp, lead)
            for j in range(ncp):
                colh[j, new[j]] += 1
        for i in range(r0, r1):
            if i > r0:
                _row_or_cval(old, x, ri[i - 1], cidx, cval, c0, ncp, lead)
                _row_or_cval(new, x, ri[i + kh - 1], cidx, cval, c0, ncp, lead)
                for j in range(ncp):
                    colh[j, old[j]] -= 1
                    colh[j, new[j]] += 1
            for b in range(256):
                hist[b] = 0
            for j in range(kw):
                cj = colh[j]
                for b in range(256):
                    hist[b] += cj[b]
            m = 0
            below = 0
            while below + hist[m] <= rank:
                below += hist[m]
                m += 1
            o = out[i]
            o[c0] = m
            if keep:
                belows[i, c0] = below
            for j in range(1, nc):
                add = colh[j + kw - 1]
                sub = colh[j - 1]
                s = 0
                for b in range(m):
                    s += np.int32(add[b]) - np.int32(sub[b])
                for b in range(256):
                    hist[b] = hist[b] + add[b] - sub[b]
                below += s
                while below > rank:
                    m -= 1
                    below -= hist[m]
                while below + hist[m] <= rank:
                    below += hist[m]
                    m += 1
                o[c0 + j] = m
                if keep:
                    belows[i, c0 + j] = below


@jit()
def bucketize(x, edges, m, out, rows_per_block, t0, t1):
    """``out[r, j]`` = the number of the first ``m`` ``edges`` that are ``<= x[r, j]``.

    ``edges`` holds 255 sorted values, the ``m`` edges then copies of the dtype's largest value: a
    branch-free binary search of eight fixed steps, clamped to ``m``.
    """
    for t in range(t0, t1):
        for r in range(t * rows_per_block, min(x.shape[0], (t + 1) * rows_per_block)):
            xr = x[r]
            o = out[r]
            for j in range(xr.shape[0]):
                v = xr[j]
                p = 0
                step = 128
                while step:
                    p += step * (edges[p + step - 1] <= v)
                    step >>= 1
                o[j] = min(p, m)


@jit()
def refine_rows(x, out, buckets, belows, lows, highs, zi, ri, cidx, lead, kh, kw, rank, cval, rows_per_block, t0, t1):
    """The exact rank ``rank`` of each ``kh x kw`` window from the bucket holding it.

    ``buckets[z, i, j]`` is the bucket of the window's value of rank ``rank`` (bucket ``b`` holds the
    values ``lows[b] <= v <= highs[b]``) and ``belows[z, i, j]`` the count of window values in lower
    buckets (:func:`histogram_rows` on the bucket image); the window's values in that bucket are
    gathered, a contiguous run of ``kw`` per window row and no branch per value, and the one of rank
    ``rank - below`` among them selected.  Other arguments as :func:`select_rows`.
    """
    d, h, w = out.shape
    w_pad = cidx.shape[0]
    rows_zy = np.zeros((kh, 2), dtype=np.int64)
    for q in range(kh):
        rows_zy[q, 1] = q
    buf = np.empty((kh, w_pad), dtype=x.dtype)
    cand = np.empty(kh * kw + 1, dtype=x.dtype)
    for t in range(t0, t1):
        for row in range(t * rows_per_block, min(d * h, (t + 1) * rows_per_block)):
            z, i = _padded_rows(buf, x, zi, ri, cidx, lead, cval, rows_zy, row, h)
            o = out[z, i]
            bk = buckets[z, i]
            bl = belows[z, i]
            for j in range(w):
                b = bk[j]
                lo = lows[b]
                hi = highs[b]
                c = 0
                for q in range(kh):
                    seg = buf[q, j : j + kw]
                    for u in range(kw):
                        v = seg[u]
                        cand[c] = v
                        c += (lo <= v) & (v <= hi)
                o[j] = _select(cand, c, rank - bl[j])


# --- selection from column-sorted rows: generated straight-line networks ----------------------------------------

_GENERATED: dict = {}


def _compiled(name, source, names):
    """The function ``name`` defined by ``source``, compiled with fastconv's options, its globals ``names``.

    The code is compiled under this file's name, so that Numba caches it next to this module's
    kernels (each name in its own index file; the name carries what the code depends on).
    """
    made = _GENERATED.get(name)
    if made is None:
        glb = {"__name__": __name__, "__builtins__": __builtins__, "np": np, "_lo": _lo, "_hi": _hi, **names}
        exec(compile(source, __file__, "exec"), glb)  # noqa: S102  (source written by this module only)
        made = _GENERATED[name] = jit()(glb[name])
    return made


def _select_intrinsic(larger):
    """An intrinsic ``f(a, b)`` of two integers of one type: the smaller (the larger if ``larger``), as one ``select``.

    Straight-line networks need it: written as conditional expressions, each comparator adds
    branches that Numba's SSA pass takes seconds over (a 5x5 median); as ``min``/``max`` LLVM
    left the loop scalar (20x slower).  The ``select`` of a comparison is what LLVM turns into
    ``vpminub``/``vpmaxsd`` and the like along the row.
    """

    def typer(typingctx, a, b):
        if not isinstance(a, types.Integer) or a != b:
            return None

        def codegen(context, builder, signature, args):
            x, y = args
            less = builder.icmp_signed("<", x, y) if a.signed else builder.icmp_unsigned("<", x, y)
            return builder.select(less, y, x) if larger else builder.select(less, x, y)

        return a(a, b), codegen

    typer.__name__ = "_hi" if larger else "_lo"
    return intrinsic(typer)


_lo = _select_intrinsic(False)
_hi = _select_intrinsic(True)


def _comparator_lines(ca, cb, ck, v, indent):
    """Python lines applying comparators ``(ca, cb, ck)`` (as :func:`network_rows`) to the variables ``v``.

    The variables are reassigned (with a new name per output, LLVM left the loop scalar).
    """
    lines = []
    for a, b, kind in zip(ca, cb, ck, strict=True):
        va, vb = v[a], v[b]
        if kind == 0:
            lines.append(f"{va}, {vb} = _lo({va}, {vb}), _hi({va}, {vb})")
        elif kind == 1:
            lines.append(f"{va} = _lo({va}, {vb})")
        else:
            lines.append(f"{vb} = _hi({va}, {vb})")
    return [indent + line for line in lines]


def column_sorter(kh, ca, cb):
    """``sort(rows, n)``: sorts each column ``j < n`` of the ``kh`` rows of ``rows`` in place (comparators ``ca < cb``).

    Straight-line code over one column, in a loop along the rows that LLVM vectorises (the
    ``kh`` values of a column stay in vector registers).
    """
    digest = hashlib.sha1(np.array([ca, cb], dtype=np.int64).tobytes()).hexdigest()[:10]
    name = f"_sort_columns_{kh}_{digest}"  # the network in the name: a cached copy of another one is not reused
    v = [f"v{q}" for q in range(kh)]
    body = [f"def {name}(rows, n):"]
    body += [f"    r{q} = rows[{q}, :n]" for q in range(kh)]
    body.append("    for j in range(n):")
    body += [f"        v{q} = r{q}[j]" for q in range(kh)]
    body += _comparator_lines(ca, cb, [0] * len(ca), v, "        ")
    body += [f"        r{q}[j] = v{q}" for q in range(kh)]
    return _compiled(name, "\n".join(body) + "\n", {})


def box_selector(kh, kw, ca, cb, ck, result, tag):
    """``select(rows, o, n)``: ``o[j]`` = a network's result on the ``kh x kw`` values ``rows[r, j + c]``, ``j < n``.

    Wire ``r * kw + c`` holds ``rows[r, j + c]``; comparators as :func:`network_rows`, result on
    wire ``result``; ``tag`` names the network (it goes into the function's name).
    """
    name = f"_select_box_{kh}x{kw}_{tag}"
    v = [f"v{w}" for w in range(kh * kw)]
    used = sorted(set(ca) | set(cb) | {result})
    body = [f"def {name}(rows, o, n):"]
    body += [f"    r{q} = rows[{q}]" for q in range(kh)]
    body.append("    d = o[:n]")
    body.append("    for j in range(n):")
    body += [f"        v{w} = r{w // kw}[j + {w % kw}]" for w in used]
    body += _comparator_lines(ca, cb, ck, v, "        ")
    body.append(f"        d[j] = v{result}")
    return _compiled(name, "\n".join(body) + "\n", {})


_BOX_TEMPLATE = """
def {name}(x, out, ri, cidx, lead, cval, keymask, rows_per_block, t0, t1):
    d, h, w = out.shape
    wp = cidx.shape[0]
    rows = np.empty(({kh}, wp), dtype=x.dtype)
    tmp = np.empty(wp, dtype=x.dtype)
    for t in range(t0, t1):
        for row in range(t * rows_per_block, min(d * h, (t + 1) * rows_per_block)):
            z = row // h
            i = row - z * h
            for q in range({kh}):
                sy = ri[i + q]
                dst = rows[q] if keymask == 0 else tmp
                if sy < 0:
                    dst[:] = cval
                else:
                    _fill(dst, x[z, sy], cidx, cval, 0, wp, lead)
                if keymask != 0:
                    _load(rows[q], tmp, 0, wp, keymask)
            _SORT(rows, wp)
            if keymask == 0:
                _SELECT(rows, out[z, i], w)
            else:
                _SELECT(rows, tmp, w)
                _load(out[z, i], tmp, 0, w, keymask)
"""


def box_rows(kh, kw, sort_net, select_net, tag):
    """The block function of a ``kh x kw`` rank filter on sorted columns (made once per network).

    ``kernel(x, out, ri, cidx, lead, cval, keymask, rows_per_block, t0, t1)``: for output row
    ``(z, i)`` of the 3-D ``x``, the ``kh`` extended source rows ``ri[i + q]`` of slice ``z`` are
    loaded (as order keys when ``keymask`` is not 0, see :func:`network_rows`), each column of
    them sorted by ``sort_net`` (:func:`column_sorter`, a column's sort serves the ``kw`` windows
    that hold it), and each window's value selected from its ``kh x kw`` sorted values by
    ``select_net`` ``(ca, cb, ck, result)`` (:func:`box_selector`), whose comparators the sorted
    columns make fewer (:func:`fastconv._rank.box_network`).  Both are straight-line code in
    loops along the row, vectorised with every value in a vector register: no working rows.
    Blocks of ``rows_per_block`` output rows over the ``D*H`` rows.
    """
    name = f"_box_rows_{kh}x{kw}_{tag}"
    sort = column_sorter(kh, *sort_net)
    select = box_selector(kh, kw, *select_net, tag)
    source = _BOX_TEMPLATE.format(name=name, kh=kh)
    return _compiled(name, source, {"_SORT": sort, "_SELECT": select, "_fill": _fill, "_load": _load})

"""One-dimensional filter passes along one axis, in scipy.ndimage's float64 arithmetic (see :mod:`fastconv._nd`).

A pass filters every line of an array along one axis.  The array is viewed as
``(O, n, I)``: ``O`` outer lines, ``n`` values along the axis, ``I`` inner
values (``I == 1`` when the axis is the last one).  Each line is first
*extended*: position ``p`` of the extended line (``0 <= p < n + size - 1``)
holds ``x[idx[p]]``, or ``cval`` where ``idx[p] < 0``; ``idx`` encodes the
extension mode and the origin.  The values are read as float64 and the result

    out[l] = sum_j w[j] * e[l + j]          (kind 0, weights ``w`` of ``size`` taps)
    out[l] = (sum_j e[l + j]) / size        (kind 1, a box of ``size`` values)

is computed in the order of operations scipy.ndimage uses, so the float64
results are scipy's bit for bit:

- ``sym > 0`` (odd ``size``, ``w`` symmetric): the centre tap times its weight,
  then each pair of taps summed before one multiply, outermost pair first;
- ``sym < 0`` (odd, antisymmetric): the same with the pair's difference;
- otherwise the last tap first, then the others in order;
- the box: a running sum along the line, started from the line's first
  window (so a line is never split between blocks), divided by ``size`` at
  every output.

The result is stored in ``out``'s dtype as a C cast does (float32 rounds,
integers truncate toward zero).  With ``check`` set (integer outputs), a value
outside ``(lo, hi)`` or NaN is stored as 0 and its block marked in ``bad``:
scipy's C cast of such a value is not defined, so the caller hands the call to
scipy.

Along the last axis each line is copied into a float64 buffer and the taps
run along it, vectorised over the outputs.  Along another axis a *ring* of
``size + 1`` extended rows of ``cb`` inner values is kept (row ``p`` in slot
``p % (size + 1)``); the taps then run across the rows, vectorised over the inner
values.  Both are block functions for :func:`fastconv._loops.threads.run`.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit


@jit(inline=True)
def _combine(src, base, step, w, sym, acc, m):
    """``acc[i]`` (``i < m``) = the weighted sum of taps ``src[base(j) + i]`` in scipy's order.

    ``src`` is 2-D: tap ``j`` of output ``i`` is ``src[(base + j) % step, i]`` when ``step > 0`` (a ring of rows),
    else ``src[0, base + j + i]`` (one line).
    """
    size = w.size
    s1 = size // 2
    s2 = size - s1 - 1
    if step > 0:
        if sym != 0:
            c = src[(base + s1) % step]
            wc = w[s1]
            for i in range(m):
                acc[i] = c[i] * wc
            for jj in range(-s1, 0):
                a = src[(base + s1 + jj) % step]
                b = src[(base + s1 - jj) % step]
                wj = w[s1 + jj]
                if sym > 0:
                    for i in range(m):
                        acc[i] += (a[i] + b[i]) * wj
                else:
                    for i in range(m):
                        acc[i] += (a[i] - b[i]) * wj
        else:
            c = src[(base + s1 + s2) % step]
            wc = w[s1 + s2]
            for i in range(m):
                acc[i] = c[i] * wc
            for j in range(size - 1):
                a = src[(base + j) % step]
                wj = w[j]
                for i in range(m):
                    acc[i] += a[i] * wj
    else:
        line = src[0]
        if sym != 0:
            wc = w[s1]
            for i in range(m):
                acc[i] = line[base + s1 + i] * wc
            for jj in range(-s1, 0):
                wj = w[s1 + jj]
                oa = base + s1 + jj
                ob = base + s1 - jj
                if sym > 0:
                    for i in range(m):
                        acc[i] += (line[oa + i] + line[ob + i]) * wj
                else:
                    for i in range(m):
                        acc[i] += (line[oa + i] - line[ob + i]) * wj
        else:
            wc = w[s1 + s2]
            o = base + s1 + s2
            for i in range(m):
                acc[i] = line[o + i] * wc
            for j in range(size - 1):
                wj = w[j]
                o = base + j
                for i in range(m):
                    acc[i] += line[o + i] * wj


@jit(inline=True)
def _store(acc, dst, m, lo, hi, check):
    """``dst[i] = acc[i]`` cast to ``dst``'s dtype; with ``check``, False if a value lies outside ``(lo, hi)``."""
    ok = True
    if check:
        for i in range(m):
            v = acc[i]
            if lo < v < hi:
                dst[i] = v
            else:
                dst[i] = 0
                ok = False
    else:
        for i in range(m):
            dst[i] = acc[i]
    return ok


@jit()
def pass_last(x, idx, w, sym, kind, cval, lo, hi, check, out, bad, rows, t0, t1):
    """Filter the rows ``t*rows <= r < (t+1)*rows`` of the 2-D ``x`` (``(R, n)``) into ``out`` (module notes)."""
    n_rows, n = x.shape
    size = w.size
    ext = np.empty((1, n + size - 1), dtype=np.float64)
    acc = np.empty(n, dtype=np.float64)
    line = ext[0]
    for t in range(t0, t1):
        for r in range(t * rows, min(n_rows, (t + 1) * rows)):
            src = x[r]
            for p in range(n + size - 1):
                q = idx[p]
                line[p] = cval if q < 0 else np.float64(src[q])
            if kind == 1:
                tmp = 0.0
                for p in range(size):
                    tmp += line[p]
                acc[0] = tmp / size
                for i in range(1, n):
                    tmp += line[i + size - 1] - line[i - 1]
                    acc[i] = tmp / size
            else:
                _combine(ext, 0, 0, w, sym, acc, n)
            if not _store(acc, out[r], n, lo, hi, check):
                bad[t] = 1


@jit()
def pass_middle(x, idx, w, sym, kind, cval, lo, hi, check, out, bad, lines, cb, t0, t1):
    """Filter ``x`` (``(O, n, I)``) along its middle axis into ``out``: block ``t`` is one ``(o, lines, cb)`` tile.

    Blocks run over ``o``, then over ``lines`` outputs along the axis (all ``n`` for the box, whose running
    sum starts at the line's start), then over ``cb`` inner values (module notes).
    """
    n_outer, n, n_inner = x.shape
    size = w.size
    n_lb = (n + lines - 1) // lines
    n_cb = (n_inner + cb - 1) // cb
    slots = size + 1  # the box reads the row leaving the window after the new one is in
    ring = np.empty((slots, cb), dtype=np.float64)
    acc = np.empty(cb, dtype=np.float64)
    tmp = np.empty(cb, dtype=np.float64)
    for t in range(t0, t1):
        o = t // (n_lb * n_cb)
        rest = t - o * n_lb * n_cb
        l0 = (rest // n_cb) * lines
        l1 = min(n, l0 + lines)
        c0 = (rest % n_cb) * cb
        m = min(n_inner, c0 + cb) - c0
        for p in range(l0, l1 + size - 1):
            slot = ring[p % slots]
            q = idx[p]
            if q < 0:
                for i in range(m):
                    slot[i] = cval
            else:
                src = x[o, q]
                for i in range(m):
                    slot[i] = np.float64(src[c0 + i])
            if p < l0 + size - 1:
                continue
            ll = p - size + 1
            if kind == 1:
                if ll == l0:
                    for i in range(m):
                        tmp[i] = 0.0
                    for j in range(size):
                        r = ring[(ll + j) % slots]
                        for i in range(m):
                            tmp[i] += r[i]
                else:
                    a = ring[(ll - 1) % slots]
                    b = ring[(ll + size - 1) % slots]
                    for i in range(m):
                        tmp[i] += b[i] - a[i]
                for i in range(m):
                    acc[i] = tmp[i] / size
            else:
                _combine(ring, ll, slots, w, sym, acc, m)
            if not _store(acc, out[o, ll, c0 : c0 + m], m, lo, hi, check):
                bad[t] = 1

"""n-D correlation summed in scipy.ndimage's order (see :func:`fastconv.ndimage.correlate`).

For an extended input ``xp`` (float64, ``(Dp, Hp, Wp)``: the input with its
border values already in place) and the kernel's nonzero taps ``k`` listed in
C order (offsets ``(a[k], b[k], c[k])``, weights ``w[k]``)::

    out[d, i, j] = (((0 + w[0] * xp[d + a[0], i + b[0], j + c[0]]) + w[1] * ...) + ...)

each output summed from 0.0 over the taps one after the other, as scipy's
``correlate`` sums them, so the float64 sum is scipy's bit for bit (also for
NaN and inf data and weights); then stored in ``out``'s dtype as
:mod:`fastconv._loops.separable` stores (``lo``/``hi``/``check``, ``bad``).
Vectorised along the row; block ``t`` is output row ``(t // H, t % H)``.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit
from .separable import _store


@jit()
def correlate_rows(xp, a, b, c, w, lo, hi, check, out, bad, t0, t1):
    """Output rows ``t0 <= t < t1`` of ``out`` (``(D, H, W)``) as in the module notes."""
    d_out, h_out, w_out = out.shape
    acc = np.empty(w_out, dtype=np.float64)
    for t in range(t0, t1):
        d = t // h_out
        i = t - d * h_out
        for j in range(w_out):
            acc[j] = 0.0
        for k in range(w.size):
            row = xp[d + a[k], i + b[k]]
            off = c[k]
            wk = w[k]
            for j in range(w_out):
                acc[j] += wk * row[off + j]
        if not _store(acc, out[d, i], w_out, lo, hi, check):
            bad[t] = 1

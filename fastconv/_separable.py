"""The one separable rule: when a kernel runs as 1-D passes, and the rank test that factors it.

A float kernel that is an outer product of 1-D kernels (rank one) can run as
one pass per axis: ``kh + kw`` multiply-adds per output (``kd + kh + kw`` in
3-D) instead of ``kh * kw`` (``kd * kh * kw``), plus one store and one load of
an intermediate value per pass.  :func:`worth_trying` says when the rank test
is tried, with the same rule for the 2-D path of ``direct``
(:mod:`fastconv._direct`), the cost model of ``backend="auto"``
(:mod:`fastconv._method`) and the 3-D kernels of the drop-ins (:mod:`fastconv._nd`);
:func:`factors` and :func:`factors3` are the rank tests.

A leaf module (NumPy and the plan cache only), read by the planning layer and by the loops' path choice.
"""

from __future__ import annotations

import numpy as np

from ._cache import ENTRY_BYTES, PLANS, kernel_key

#: Smallest call (multiply-adds plus input values, :func:`fastconv._direct.work`) for
#: which the rank test (an SVD of the kernel, some 20-50 us) is worth its time.
MIN_WORK = 1 << 20


def worth_trying(shape, work: int) -> bool:
    """True when a float kernel of ``shape`` (2-D or 3-D) in a call of ``work`` is tested for the separable path.

    The passes are tried when they do at most half the multiply-adds of the
    dense sum (``2 * (kh + kw) <= kh * kw``; ``2 * (kd + kh + kw) <= kd * kh * kw``),
    which pays for the intermediate's extra store and load.  Both ways run at
    the same vector width (each vectorises along the output row), so the rule
    is a ratio of operation counts and holds alike for AVX2 and AVX-512; it
    does not rest on one CPU's timings.  Measured on an AMD EPYC (Zen 3, AVX2;
    1024x1024 float32, ``padding="same"``, rank-one kernels, direct loops
    against the passes alternating), separable / direct: 3x3 1.21, 3x5 1.05,
    2x10 1.29 (not tried: 12 for 20), 4x4 1.00, 3x7 1.01, 4x5 0.98, 5x5 0.97,
    7x7 0.97; float64 and strided calls, where the dense loops are slower,
    gain more.  A one-row or one-column kernel is never tried (it is one pass already).

    Examples
    --------
    >>> worth_trying((5, 5), 1 << 22), worth_trying((3, 3), 1 << 22), worth_trying((2, 10), 1 << 22)
    (True, False, False)
    >>> worth_trying((3, 3, 3), 1 << 22), worth_trying((5, 5), 1000)
    (True, False)
    """
    taps = 1
    for n in shape:
        taps *= n
    return 2 * sum(shape) <= taps and work >= MIN_WORK


def factors(k):
    """``(u, v)`` in ``k``'s float dtype with ``outer(u, v)`` equal to ``k`` within its rounding, or None.

    The rank test: with ``s`` the singular values of ``k`` (in float64),
    ``k`` is taken as separable when ``sum |k - s[0] u v^T|`` is at most two
    units of ``k``'s float precision times ``sum |k|``.  A correlation with
    the factors then differs from the direct sum by no more than rounding
    does: each output's error is bounded by that residual times ``max |x|``,
    plus the rounding of ``kh + kw`` sums instead of ``kh * kw``.  ``v`` is scaled to ``sum |v| = 1``
    (``u`` carries the rest), so no intermediate sum overflows where the result does not.
    The answer is kept in the plan cache (:data:`fastconv._cache.PLANS`, bounded in bytes) under the
    kernel's :func:`fastconv._cache.kernel_key`: a repeated call does not redo the SVD, and a kernel
    whose values changed (in place or in a new array) is tested again.

    Examples
    --------
    >>> u, v = factors(np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0]))
    >>> bool(np.allclose(np.outer(u, v), [[1, 0, -1], [2, 0, -2], [1, 0, -1]]))
    True
    >>> factors(np.eye(3)) is None
    True
    """
    key = ("factors", kernel_key(k))
    found = PLANS.get(key)
    if found is not None:
        return found[0]
    uv = None
    k64 = k.astype(np.float64)
    if np.isfinite(k64).all():
        left, s, right = np.linalg.svd(k64)
        u, v = left[:, 0] * s[0], right[0]
        if s[0] != 0 and np.abs(k64 - np.outer(u, v)).sum() <= 2 * np.finfo(k.dtype).eps * np.abs(k64).sum():
            # The scale split so that sum |v| = 1: the row pass then stays within max |x| (it cannot overflow
            # where the image does not), and the column pass within max |x| * sum |k|, the bound of the result.
            scale = np.abs(v).sum()
            uv = (u * scale).astype(k.dtype), (v / scale).astype(k.dtype)
    # kept by value: the factors are new arrays, never views of the caller's kernel; "not separable" is kept too
    PLANS.put(key, (uv,), k.nbytes + (uv[0].nbytes + uv[1].nbytes if uv is not None else 0) + ENTRY_BYTES)
    return uv


def factors3(w, dtype):
    """``(a, b, c)`` in ``dtype`` with ``a[:, None, None] * b[:, None] * c`` equal to ``w`` within rounding, or None.

    The rank test of :func:`factors` in three dimensions: ``w`` unfolded to
    ``(kd, kh*kw)`` is split by an SVD into ``a`` and a ``(kh, kw)`` matrix,
    which is split again into ``b`` and ``c``; the factors are accepted when
    ``sum |w - a b c|`` is at most two units of ``dtype``'s precision times
    ``sum |w|``, so three 1-D passes differ from the dense sum by rounding
    only.  ``b`` and ``c`` are scaled to ``sum |b| = sum |c| = 1``, so no
    intermediate pass overflows where the result does not.

    Examples
    --------
    >>> a, b, c = factors3(np.ones((3, 3, 3)), np.float64)
    >>> bool(np.allclose(a[:, None, None] * b[:, None] * c, 1))
    True
    """
    w64 = np.asarray(w, dtype=np.float64)
    if not np.isfinite(w64).all():
        return None
    kd, kh, kw = w64.shape
    left, s, right = np.linalg.svd(w64.reshape(kd, kh * kw), full_matrices=False)
    if s[0] == 0:
        return None
    a = left[:, 0] * s[0]
    left2, s2, right2 = np.linalg.svd(right[0].reshape(kh, kw))
    b, c = left2[:, 0] * s2[0], right2[0]
    approx = a[:, None, None] * b[None, :, None] * c[None, None, :]
    if np.abs(w64 - approx).sum() > 2 * np.finfo(dtype).eps * np.abs(w64).sum():
        return None
    # sum |c| = sum |b| = 1 (``a`` carries the scale): the first two passes stay within max |x|.
    sb, sc = np.abs(b).sum(), np.abs(c).sum()
    return (a * (sb * sc)).astype(dtype), (b / sb).astype(dtype), (c / sc).astype(dtype)


def symmetry(w):
    """scipy.ndimage's symmetry test of 1-D float64 weights: 1 symmetric, -1 antisymmetric, 0 neither.

    Only odd lengths count; pairs equal (or opposite) within float64's epsilon count as such, and the
    left-hand weight of each pair is then the one used.

    Examples
    --------
    >>> symmetry(np.array([1.0, 2.0, 1.0])), symmetry(np.array([-1.0, 0.0, 1.0])), symmetry(np.ones(2))
    (1, -1, 0)
    """
    n = w.size
    if n % 2 == 0:
        return 0
    half = n // 2
    left, right = w[:half][::-1], w[half + 1 :]
    eps = np.finfo(np.float64).eps
    if not (np.abs(right - left) > eps).any():
        return 1
    if not (np.abs(right + left) > eps).any():
        return -1
    return 0

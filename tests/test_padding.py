"""Padding other than zeros without a padded copy: every pad mode and ``cval``, exact, and in O(border) memory.

Oracles: :func:`numpy.pad` followed by the plain loop of ``tests/reference.py``
(small images) or by ``scipy.signal.correlate2d(mode="valid")`` (images large
enough for the border pieces whatever the threshold); memory by
:mod:`tracemalloc`, which sees NumPy's allocations.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import fastconv
from fastconv import _border
from tests.reference import correlate2d_loop, padding_pairs

scipy_signal = pytest.importorskip("scipy.signal")

MODES = ["constant", "edge", "reflect", "symmetric", "wrap"]


def _padded(img, pads, pad_mode, cval):
    widths = list(pads) + [(0, 0)] * (img.ndim - 2)
    if pad_mode == "constant":
        return np.pad(img, widths, mode="constant", constant_values=cval)
    return np.pad(img, widths, mode=pad_mode)


def _want(img, k, stride, pads, dilation, pad_mode, cval):
    """np.pad, then the plain loop with no padding."""
    work = np.int64 if img.dtype.kind in "iu" else np.float64
    return correlate2d_loop(_padded(img.astype(work), pads, pad_mode, cval), k, stride, dilation=dilation)


@pytest.fixture(params=["pieces", "copy"])
def path(request, monkeypatch):
    """Small images through the border pieces (threshold 0) and through the padded copy (the default)."""
    if request.param == "pieces":
        monkeypatch.setattr(_border, "COPY_VALUES", 0)
    return request.param


@pytest.mark.parametrize("pad_mode", MODES)
@pytest.mark.parametrize(
    ("shape", "k_shape", "stride", "dilation", "pads"),
    [
        ((7, 9), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))),
        ((7, 9), (2, 4), (1, 1), (1, 1), ((0, 1), (2, 1))),  # even kernel, uneven padding
        ((11, 6), (3, 2), (2, 3), (1, 1), ((2, 3), (1, 4))),  # strides
        ((9, 10), (3, 3), (1, 2), (2, 3), ((4, 2), (3, 3))),  # dilation
        ((3, 2), (5, 6), (1, 1), (1, 1), ((4, 4), (5, 5))),  # kernel larger than the image
        ((1, 5), (1, 3), (1, 1), (1, 1), ((0, 0), (7, 2))),  # one row, pads wider than the image
        ((4, 5), (4, 5), (3, 1), (1, 1), ((9, 8), (2, 6))),  # no output reads only the image
        ((8, 7, 3), (3, 3), (1, 1), (1, 2), ((1, 2), (2, 1))),  # channels folded into the columns
        ((8, 7, 2), (2, 3), (2, 2), (1, 1), ((2, 1), (3, 3))),  # channels moved to the front
    ],
)
def test_every_mode_against_np_pad(path, pad_mode, shape, k_shape, stride, dilation, pads):
    rng = np.random.default_rng(sum(shape) + 7 * sum(k_shape))
    img = rng.standard_normal(shape)
    k = rng.standard_normal(k_shape)
    cval = -1.75 if pad_mode == "constant" else 0
    want = _want(img, k, stride, pads, dilation, pad_mode, cval)
    for backend in ("direct", "fft", "naive"):
        got = fastconv.convolve2d(
            img, k, stride, pads, dilation=dilation, pad_mode=pad_mode, cval=cval, backend=backend
        )
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=backend)


@pytest.mark.parametrize("pad_mode", MODES)
@pytest.mark.parametrize("dtype", [np.uint8, np.int16])
def test_integers_exact(path, pad_mode, dtype):
    rng = np.random.default_rng(3)
    img = rng.integers(0, 100, (10, 13)).astype(dtype)
    k = rng.integers(-5, 6, (4, 3))
    cval = 300 if pad_mode == "constant" else 0  # beyond uint8: the pieces are widened
    pads = ((2, 1), (3, 2))
    got = fastconv.convolve2d(img, k, (2, 1), pads, pad_mode=pad_mode, cval=cval)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, _want(img, k, (2, 1), pads, (1, 1), pad_mode, cval))


@pytest.mark.parametrize("pad_mode", MODES)
@pytest.mark.parametrize("stride", [1, 2])
def test_large_image_against_scipy(pad_mode, stride):
    """An image beyond the copy threshold, float32, with padding="same" and "full"."""
    rng = np.random.default_rng(5)
    img = rng.random((301, 263), dtype=np.float32)
    assert img.size > _border.COPY_VALUES
    k = rng.random((5, 4), dtype=np.float32)
    cval = 2.5 if pad_mode == "constant" else 0
    for padding in ("same", "full"):
        pads = padding_pairs(padding, img.shape, k.shape, (stride, stride), (1, 1))
        got = fastconv.convolve2d(img, k, stride, padding, pad_mode=pad_mode, cval=cval)
        xp = _padded(img.astype(np.float64), pads, pad_mode, cval)
        want = scipy_signal.correlate2d(xp, k.astype(np.float64), mode="valid")[::stride, ::stride]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4 * np.abs(k).sum())


@pytest.mark.parametrize(("n", "before", "after"), [(1, 3, 2), (2, 5, 0), (5, 2, 2), (4, 13, 9)])
@pytest.mark.parametrize("pad_mode", MODES)
def test_source_index_is_np_pad(n, before, after, pad_mode):
    x = np.arange(10, 10 + n)
    for fold in (1, 3):
        xs = np.arange(n * fold).reshape(n, fold)
        want = _padded(xs, ((before, after), (0, 0)), pad_mode, -1).ravel()
        stop = (n + before + after) * fold
        got = _border.source_index(n, before, 0, stop, pad_mode, fold)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(_border.source_index(n, before, 3, stop - 1, pad_mode, fold), want[3:-1])
    if pad_mode != "constant":
        np.testing.assert_array_equal(
            x[_border.extend_index(n, before, after, pad_mode)], np.pad(x, (before, after), mode=pad_mode)
        )


@pytest.mark.parametrize(
    ("n", "before", "after", "stride", "halo"), [(10, 1, 1, 1, 2), (7, 3, 0, 2, 4), (3, 5, 5, 3, 9)]
)
def test_inside_is_the_outputs_reading_only_the_image(n, before, after, stride, halo):
    n_out = (n + before + after - halo - 1) // stride + 1
    starts = np.arange(n_out) * stride
    inside = (starts >= before) & (starts + halo < before + n)
    lo, hi = _border.inside(n_out, n, before, stride, halo)
    assert list(np.flatnonzero(inside)) == list(range(lo, hi))


def _peak(f):
    tracemalloc.start()
    try:
        out = f()
        return tracemalloc.get_traced_memory()[1], out
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("shape", "stride", "kwargs"),
    [
        ((1024, 1024), 1, {"pad_mode": "reflect"}),
        ((1024, 1024), 1, {"pad_mode": "wrap"}),
        ((1024, 1024), 1, {"cval": 1.0}),
        ((512, 512, 3), 1, {"pad_mode": "edge"}),  # channels folded
        ((1024, 1024), 2, {"pad_mode": "symmetric"}),
    ],
)
def test_memory_is_the_output_plus_the_border(shape, stride, kwargs, one_thread):
    """A padded call takes what a zero-padded one takes plus O(border): never a padded copy of the image.

    O(border) here: 16 times the bytes of the padding's ring (a padded copy would be the whole image).
    """
    img = np.random.default_rng(0).random(shape, dtype=np.float32)
    k = np.ones((5, 5), np.float32)
    zero = lambda: fastconv.convolve2d(img, k, stride, "same")  # noqa: E731
    call = lambda: fastconv.convolve2d(img, k, stride, "same", **kwargs)  # noqa: E731
    zero(), call()  # compiled outside the measurement
    # the loops' own buffers may vary a little from call to call: the least of three against the most
    zero_peak = max(_peak(zero)[0] for _ in range(3))
    peak = min(_peak(call)[0] for _ in range(3))
    (pt, pb), (pl, pr) = padding_pairs("same", shape[:2], k.shape, (stride, stride), (1, 1))
    h, w = shape[:2]
    ring = ((h + pt + pb) * (w + pl + pr) - h * w) * img.itemsize * (img.size // (h * w))
    assert peak - zero_peak <= 16 * ring, f"peak {peak} bytes, {zero_peak} zero-padded, padding ring {ring}"

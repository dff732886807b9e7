"""Paths of convolve2d's direct loops that random kernels do not reach: separable kernels, huge strides."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import correlate2d

import fastconv
from fastconv import _separable
from tests.reference import correlate2d_loop, padding_pairs


def gaussian(n, sigma):
    a = np.arange(n) - (n - 1) / 2
    g = np.exp(-(a**2) / (2 * sigma**2))
    return g / g.sum()


def separable_kernels(dtype):
    rng = np.random.default_rng(5)
    g = gaussian(15, 3.0)
    return {
        "gaussian 15": np.outer(g, g).astype(dtype),
        "box 7x9": np.full((7, 9), 1 / 63, dtype=dtype),
        "outer 5x11": np.outer(rng.standard_normal(5), rng.standard_normal(11)).astype(dtype),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["gaussian 15", "box 7x9", "outer 5x11"])
@pytest.mark.parametrize(
    "stride, dilation, padding",
    [(1, 1, 0), (1, 1, "same"), ((2, 1), (1, 2), 3), ((3, 1), (2, 1), ((1, 4), (5, 2))), ((90, 1), 1, 0)],
)
def test_separable_kernels_match_the_loop(monkeypatch, dtype, name, stride, dilation, padding):
    monkeypatch.setattr(_separable, "MIN_WORK", 0)  # the separable path even for small calls
    k = separable_kernels(dtype)[name]
    assert _separable.factors(k) is not None  # this kernel takes the separable path
    rng = np.random.default_rng(6)
    img = rng.standard_normal((190, 170)).astype(dtype)
    got = fastconv.convolve2d(img, k, stride=stride, dilation=dilation, padding=padding)
    want = fastconv.convolve2d(img, k, stride=stride, dilation=dilation, padding=padding, backend="naive")
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    if padding == 0:
        ref = correlate2d_loop(img, k, (sh, sw), dilation=(dh, dw))
        np.testing.assert_allclose(want, ref, rtol=0, atol=1e-4)  # the naive backend agrees with the loop
    eps = np.finfo(dtype).eps
    scale = np.abs(k.astype(np.float64)).sum() * np.abs(img).max()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=64 * eps * scale)


def test_nearly_separable_kernel_is_not_factored():
    g = gaussian(9, 2.0)
    k = np.outer(g, g).astype(np.float32)
    k[4, 4] += 1e-3
    assert _separable.factors(k) is None
    img = np.random.default_rng(7).random((300, 300), dtype=np.float32)
    want = correlate2d(img.astype(np.float64), k.astype(np.float64), mode="valid")
    np.testing.assert_allclose(fastconv.convolve2d(img, k), want, rtol=0, atol=1e-5)


def test_nan_and_inf_propagate_through_a_separable_kernel():
    g = gaussian(15, 3.0)
    k = np.outer(g, g).astype(np.float32)
    img = np.random.default_rng(8).random((300, 300), dtype=np.float32)
    img[100, 120] = np.nan
    img[200, 40] = np.inf
    got = fastconv.convolve2d(img, k)
    want = correlate2d(img.astype(np.float64), k.astype(np.float64), mode="valid")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=0, atol=1e-5)


@pytest.mark.parametrize("backend", sorted(fastconv.BACKENDS) + ["auto"])
def test_huge_stride_needs_no_scratch_for_skipped_rows(backend):
    # Scratch must be bounded by the output and kernel sizes: a stride of 100000 gives a (1, 1) result.
    img = np.random.default_rng(9).random((600, 512)).astype("f4")
    k = np.ones((3, 3), "f4")
    got = fastconv.convolve2d(img, k, stride=100000, backend=backend)
    want = correlate2d(img.astype(np.float64), k.astype(np.float64), mode="valid")[:1, :1]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("stride", [(100000, 1), (1, 100000), (7, 50000), (50000, 9)])
def test_huge_strides_on_staged_rows(stride):
    # 8-bit images and column strides > 2 are staged before summing: the staged rows must not grow with the stride.
    rng = np.random.default_rng(10)
    img = rng.integers(0, 256, size=(600, 512), dtype=np.uint8)
    k = rng.integers(-3, 4, size=(3, 5))
    got = fastconv.convolve2d(img, k, stride=stride, backend="direct")
    want = correlate2d(img.astype(np.int64), k, mode="valid")[:: stride[0], :: stride[1]]
    np.testing.assert_array_equal(got, want)


# Image sizes around the register tile (4 rows x 24 columns): regions narrower than a tile, exactly one,
# one plus a column, and several with an overlapping last tile; padding that puts every border region
# through the zero-padded copies, and windows that lie wholly in the padding.
@pytest.mark.parametrize("kshape", [(1, 1), (2, 7), (4, 4), (5, 5), (7, 3), (15, 15)])
@pytest.mark.parametrize("hw", [(3, 23), (4, 24), (9, 25), (21, 71), (40, 100)])
@pytest.mark.parametrize("padding", [0, "same", "full", ((1, 4), (6, 0)), ((0, 0), (30, 2))])
def test_float32_register_tiles_match_the_loop(kshape, hw, padding):
    rng = np.random.default_rng(11)
    h, w = hw
    k = rng.standard_normal(kshape).astype(np.float32)
    img = rng.standard_normal((h + 14, w + 14)).astype(np.float32)  # large enough for a 15x15 valid window
    if padding == "full":
        pad = ((kshape[0] - 1,) * 2, (kshape[1] - 1,) * 2)
    else:
        pad = padding_pairs(padding, img.shape, kshape, (1, 1), (1, 1))
    got = fastconv.convolve2d(img, k, padding=padding)
    want = correlate2d_loop(img, k, pad=pad)
    assert got.dtype == np.float32 and got.shape == want.shape
    scale = np.abs(k.astype(np.float64)).sum() * np.abs(img).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=8 * np.finfo(np.float32).eps * scale)


def test_nan_and_inf_propagate_through_the_register_tiles():
    rng = np.random.default_rng(12)
    img = rng.random((120, 130), dtype=np.float32)
    img[60, 65] = np.nan
    img[10, 3] = np.inf
    img[100, 128] = -np.inf
    k = rng.random((5, 6), dtype=np.float32)
    got = fastconv.convolve2d(img, k, padding="same")
    want = correlate2d_loop(img, k, pad=padding_pairs("same", img.shape, k.shape, (1, 1), (1, 1)))
    for test in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(test(got), test(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=0, atol=1e-4)

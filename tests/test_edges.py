"""Edges of convolve2d and conv2d: integer overflow, dtype=, out=, cval=, padding="full", memory-mapped input."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal as ss

from fastconv import conv2d, convolve2d
from tests.reference import correlate2d_loop, padding_pairs

# --- integer results never wrap --------------------------------------------------------------


def test_uint64_above_int64_range_is_refused_not_wrapped():
    img = np.array([[2**63 + 5]], np.uint64)
    want = ss.correlate2d(img, np.array([[1]], np.uint64))[0, 0]
    assert int(want) == 2**63 + 5  # scipy's exact answer, which int64 cannot hold
    with pytest.raises(OverflowError, match=r"img.*k.*9223372036854775813.*float64"):
        convolve2d(img, [[1]])


def test_uint64_below_int64_range_is_exact():
    img = np.array([[2**61 + 3, 1], [5, 2**40]], np.uint64)  # bound 2**62 + 6
    got = convolve2d(img, np.array([[1, 0], [0, 1]]))
    assert got.dtype == np.int64 and int(got[0, 0]) == 2**61 + 3 + 2**40


def test_int64_sum_past_2_63_is_refused():
    img, k = np.full((3, 3), 2**62, np.int64), np.full((2, 2), 4, np.int64)
    true = sum(int(v) for v in img[:2, :2].ravel()) * 4
    assert true == 2**66
    with pytest.raises(OverflowError, match=r"2\*\*66"):
        convolve2d(img, k)


def test_uint32_with_int32_kernel_is_refused():
    img, k = np.full((3, 3), 4_000_000_000, np.uint32), np.full((3, 3), 2**31 - 1, np.int32)
    assert 9 * 4_000_000_000 * (2**31 - 1) > 2**63  # Python ints: the true sum needs more than int64
    with pytest.raises(OverflowError, match="max.img. . sum.k."):
        convolve2d(img, k)


def test_largest_exact_int64_sums_still_computed():
    img = np.array([[2**61, -(2**61)], [2**61, 2**61 - 1]], np.int64)
    k = np.array([[1, 1], [1, 1]], np.int64)  # bound 4 * 2**61 = 2**63: one past int64
    with pytest.raises(OverflowError):
        convolve2d(img, k)
    k = np.array([[1, 1], [1, 0]], np.int64)  # bound 3 * 2**61 < 2**63
    assert int(convolve2d(img, k)[0, 0]) == 2**61


def test_conv2d_integer_overflow_is_refused():
    x = np.full((1, 3, 3, 2), 2**62, np.int64)
    w = np.full((2, 2, 2, 1), 4, np.int64)
    with pytest.raises(OverflowError, match=r"max\|x\| \* sum\|w\|"):
        conv2d(x, w)
    x = np.full((1, 2, 2, 1), 2**62, np.int64)
    with pytest.raises(OverflowError, match="bias"):
        conv2d(x, np.ones((1, 1, 1, 1), np.int64), bias=np.array([2**62], np.int64))
    got = conv2d(np.full((1, 2, 2, 1), 2**60, np.uint64), np.ones((1, 1, 1, 1), np.int64))
    assert int(got[0, 0, 0, 0]) == 2**60


# --- dtype= ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int32, np.int16, np.float32, np.float64])
def test_dtype_gives_that_result_dtype(dtype):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (20, 23)).astype(np.uint8)
    k = rng.integers(-3, 4, (3, 5))
    got = convolve2d(img, k, dtype=dtype, padding=1)
    assert got.dtype == dtype
    want = ss.correlate2d(np.pad(img.astype(np.int64), 1), k, mode="valid")
    np.testing.assert_array_equal(got, want.astype(dtype))


def test_integer_dtype_is_checked_against_its_own_range():
    img = np.full((16, 16), 255, np.uint8)
    with pytest.raises(OverflowError, match="int16"):
        convolve2d(img, np.full((15, 15), 1), dtype=np.int16)  # 255 * 225 > 32767
    with pytest.raises(OverflowError, match="unsigned"):
        convolve2d(img, [[1, -1]], dtype=np.uint32)
    assert convolve2d(img, np.ones((2, 2), int), dtype=np.uint16)[0, 0] == 1020


def test_bad_dtype_arguments():
    with pytest.raises(TypeError, match="dtype"):
        convolve2d(np.ones((3, 3)), np.ones((2, 2)), dtype=np.int32)
    with pytest.raises(TypeError, match="dtype"):
        convolve2d(np.ones((3, 3)), np.ones((2, 2)), dtype=np.complex128)


# --- out= -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(9, 11), (9, 11, 3)])
@pytest.mark.parametrize("stride", [1, 2])
def test_out_is_written_and_returned(shape, stride):
    rng = np.random.default_rng(2)
    img = rng.random(shape).astype(np.float32)
    k = rng.random((3, 3)).astype(np.float32)
    want = correlate2d_loop(img, k, stride=(stride, stride))
    out = np.full(want.shape, np.nan, np.float32)
    got = convolve2d(img, k, stride=stride, out=out)
    assert got is out
    np.testing.assert_allclose(out, want, rtol=1e-5)


def test_out_with_narrow_integer_dtype():
    img = np.arange(30, dtype=np.uint8).reshape(5, 6)
    out = np.zeros((4, 5), np.int32)
    assert convolve2d(img, np.ones((2, 2), np.int64), dtype=np.int32, out=out) is out
    np.testing.assert_array_equal(out, ss.correlate2d(img.astype(int), np.ones((2, 2), int), "valid"))


def test_out_errors():
    img = np.ones((6, 6), np.float64)
    k = np.ones((3, 3))
    with pytest.raises(ValueError, match="shape"):
        convolve2d(img, k, out=np.empty((3, 3)))
    with pytest.raises(TypeError, match="dtype"):
        convolve2d(img, k, out=np.empty((4, 4), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        convolve2d(img, k, out=np.empty((4, 8))[:, ::2])
    big = np.ones((8, 8))
    with pytest.raises(ValueError, match="shares memory with img"):
        convolve2d(big[:6, :6], k, out=big.reshape(-1)[:16].reshape(4, 4))  # rows 0-1 of big: inside img


# --- cval= and padding="full" -----------------------------------------------------------------


def _oracle_constant(img, k, stride, dilation, pad, cval):
    """np.pad with the constant, scipy.signal.correlate2d (valid) with the dilated kernel, then the stride."""
    (dh, dw), (sh, sw) = dilation, stride
    kd = np.zeros((dh * (k.shape[0] - 1) + 1, dw * (k.shape[1] - 1) + 1), dtype=k.dtype)
    kd[::dh, ::dw] = k
    work = np.float64 if img.dtype.kind == "f" or k.dtype.kind == "f" else np.int64
    padded = np.pad(img.astype(work), pad, constant_values=cval)
    return ss.correlate2d(padded, kd.astype(work), mode="valid")[::sh, ::sw]


@pytest.mark.parametrize("stride", [(1, 1), (2, 3), (3, 1)])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 1), (1, 3)])
@pytest.mark.parametrize("padding", [2, ((0, 3), (4, 1)), "same", "full"])
def test_cval_matches_padded_scipy(stride, dilation, padding):
    rng = np.random.default_rng(3)
    img = rng.integers(-50, 200, (11, 13)).astype(np.int16)
    k = rng.integers(-4, 5, (3, 2))
    if padding == 2:
        pad = ((2, 2), (2, 2))
    elif padding == "full":  # scipy's full mode: dilation * (k - 1) on each side
        pad = ((dilation[0] * 2,) * 2, (dilation[1] * 1,) * 2)
    elif padding == "same":
        pad = padding_pairs("same", img.shape, k.shape, stride, dilation)
    else:
        pad = padding
    got = convolve2d(img, k, stride=stride, padding=padding, dilation=dilation, cval=-7)
    np.testing.assert_array_equal(got, _oracle_constant(img, k, stride, dilation, pad, -7))


def test_cval_on_channels_and_flip_float():
    rng = np.random.default_rng(4)
    img = rng.random((10, 9, 3))
    k = rng.random((3, 3))
    for stride in (1, 2):
        got = convolve2d(img, k, stride=stride, padding=1, cval=2.5, flip=True)
        want = np.stack(
            [_oracle_constant(img[..., c], k[::-1, ::-1], (stride,) * 2, (1, 1), 1, 2.5) for c in range(3)], -1
        )
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_cval_matches_ndimage_and_opencv():
    rng = np.random.default_rng(5)
    img = rng.random((16, 21)).astype(np.float32)
    k = rng.random((5, 3)).astype(np.float32)
    got = convolve2d(img, k, padding=(2, 1), cval=3.0)
    np.testing.assert_allclose(got, ndi.correlate(img.astype(np.float64), k, mode="constant", cval=3.0), rtol=1e-5)
    border = cv2.copyMakeBorder(img, 2, 2, 1, 1, cv2.BORDER_CONSTANT, value=3.0)
    cv = cv2.filter2D(border, -1, k, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)[:16, :21]
    np.testing.assert_allclose(got, cv, rtol=1e-5)


@pytest.mark.parametrize("shape_k", [(1, 1), (3, 5), (4, 2)])
def test_full_padding_matches_scipy_full(shape_k):
    rng = np.random.default_rng(6)
    img = rng.integers(0, 9, (7, 8))
    k = rng.integers(-3, 3, shape_k)
    np.testing.assert_array_equal(convolve2d(img, k, padding="full"), ss.correlate2d(img, k, mode="full"))
    np.testing.assert_array_equal(
        convolve2d(img, k, padding="full", flip=True, cval=4), ss.convolve2d(img, k, mode="full", fillvalue=4)
    )


def test_cval_errors():
    with pytest.raises(ValueError, match="cval"):
        convolve2d(np.ones((3, 3), int), np.ones((2, 2), int), padding=1, cval=0.5)
    with pytest.raises(TypeError, match="cval"):
        convolve2d(np.ones((3, 3)), np.ones((2, 2)), cval="x")


# --- memory-mapped and read-only inputs --------------------------------------------------------


def test_memmap_input_is_read_in_place(tmp_path, one_thread):
    # one thread: the copy is avoided (or not) before the loops; no parallel driver compiled for a read-only array
    n = 4096
    img = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float32, shape=(n, n))
    img[::7, ::5] = 1.0
    img.flush()
    del img
    img = np.load(tmp_path / "big.npy", mmap_mode="r")  # read-only
    k = np.ones((3, 3), np.float32)
    convolve2d(img[:64], k, stride=4)  # compile (for a read-only array) outside the measurement
    tracemalloc.start()
    got = convolve2d(img, k, stride=4)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    image_bytes = n * n * 4
    # The output is 1/16 of the image (4 MiB); the loops' row scratch is small; a whole copy would add 64 MiB.
    assert peak < got.nbytes + image_bytes // 4, peak
    assert got.shape == (1024, 1024)
    np.testing.assert_allclose(
        got[:40, :40], ss.correlate2d(np.asarray(img[:164, :164]), k, "valid")[::4, ::4][:40, :40]
    )


def test_conv2d_full_padding_matches_scipy_full():
    rng = np.random.default_rng(7)
    x = rng.random((1, 6, 7, 1))
    w = rng.random((3, 2, 1, 1))
    got = conv2d(x, w, padding="full")
    np.testing.assert_allclose(got[0, :, :, 0], ss.correlate2d(x[0, :, :, 0], w[:, :, 0, 0], "full"), rtol=1e-12)

"""The planning step at its edges: sizes that would overflow the loops, and the constant padding value.

Oracles: the NumPy loop of ``tests/reference.py`` and scipy (``ndimage.correlate``
with ``mode="constant"``, ``signal.correlate2d`` with ``boundary="fill"``).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastconv
from fastconv import _cache, _plan
from tests.reference import correlate2d_loop, padding_pairs

scipy_ndimage = pytest.importorskip("scipy.ndimage")
scipy_signal = pytest.importorskip("scipy.signal")


@pytest.mark.parametrize("stride", [(2**62, 2**62), 2**70, (3, 2**63 + 5)])
@pytest.mark.parametrize("backend", ["direct", "naive", "im2col"])
def test_huge_stride_gives_the_first_positions(stride, backend):
    """A stride beyond the image leaves one output position per axis: the loops must not see the raw value."""
    img = np.arange(64, dtype=np.int64).reshape(8, 8)
    k = np.array([[1, 2], [3, 4]])
    got = fastconv.convolve2d(img, k, stride=stride, backend=backend)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    want = correlate2d_loop(img, k)[:: min(sh, 8), :: min(sw, 8)]
    np.testing.assert_array_equal(got, want)


def test_huge_stride_conv2d_and_dask():
    x = np.arange(2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3)
    w = np.ones((3, 3, 3, 4), np.float32)
    got = fastconv.conv2d(x, w, stride=2**70)
    np.testing.assert_allclose(got, fastconv.conv2d(x, w)[:, :1, :1], rtol=1e-6)
    da = pytest.importorskip("dask.array")
    import fastconv.dask as fdask

    img = np.arange(100, dtype=np.float64).reshape(10, 10)
    lazy = fdask.convolve2d(da.from_array(img, chunks=3), np.ones((3, 3)), stride=(2**65, 3))
    np.testing.assert_array_equal(lazy.compute(), correlate2d_loop(img, np.ones((3, 3)))[:1, ::3])


def test_dilation_of_a_one_tap_axis_and_huge_padding():
    img = np.arange(30.0).reshape(5, 6)
    k = np.array([[1.0, -1.0]])  # one row: the row dilation does nothing
    np.testing.assert_array_equal(
        fastconv.convolve2d(img, k, dilation=(2**70, 2)), correlate2d_loop(img, k, dilation=(1, 2))
    )
    with pytest.raises(ValueError, match="padding .* padded image"):
        fastconv.convolve2d(img, k, padding=2**62)
    with pytest.raises(ValueError, match="dilation"):
        fastconv.convolve2d(img, np.ones((2, 2)), dilation=2**70)


# --------------------------------------------------------------------------- cval


def _interior(h, w, kh, kw):
    """The outputs of a "same"-padded call whose window lies inside an (h, w) image (scipy's centre origin)."""
    return slice(kh // 2, h - (kh - 1 - kh // 2)), slice(kw // 2, w - (kw - 1 - kw // 2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cval", [255.0, 1e6, -3.5])
@pytest.mark.parametrize("k_shape", [(5, 4), (7, 9), (11, 11)])
def test_cval_inside_is_bit_for_bit_cval_zero(dtype, cval, k_shape):
    rng = np.random.default_rng(1)  # a "cval * (sum k - inside sum)" correction is not 0 inside for these
    img = (rng.random((37, 41)) * 255).astype(dtype)
    k = rng.standard_normal(k_shape).astype(dtype)
    kh, kw = k_shape
    pads = ((kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2))  # scipy.ndimage centres at size // 2
    got = fastconv.convolve2d(img, k, padding=pads, cval=cval)
    zero = fastconv.convolve2d(img, k, padding=pads)
    inner = _interior(37, 41, kh, kw)
    np.testing.assert_array_equal(got[inner], zero[inner])
    want = scipy_ndimage.correlate(img.astype(np.float64), k.astype(np.float64), mode="constant", cval=cval)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=0, atol=tol * max(abs(cval), 255) * np.abs(k).sum())


@pytest.mark.parametrize("cval", [np.nan, np.inf, -np.inf])
def test_non_finite_cval_reaches_only_the_border(cval):
    rng = np.random.default_rng(4)
    img = rng.random((20, 30))
    k = rng.standard_normal((3, 3))
    got = fastconv.convolve2d(img, k, padding="same", cval=cval)
    want = scipy_ndimage.correlate(img, k, mode="constant", cval=cval)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)  # NaN and inf where scipy has them
    assert np.isfinite(got[1:-1, 1:-1]).all()


@pytest.mark.parametrize("channels", [None, 3])
@pytest.mark.parametrize("stride", [1, 2])
def test_cval_full_against_signal_fillvalue(channels, stride):
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (12, 15) + ((channels,) if channels else ()), dtype=np.uint8)
    k = rng.integers(-4, 5, (3, 4))
    got = fastconv.convolve2d(img, k, stride=stride, padding="full", cval=7)
    planes = [img] if channels is None else [img[:, :, c] for c in range(channels)]
    want = [scipy_signal.correlate2d(p.astype(np.int64), k, mode="full", boundary="fill", fillvalue=7) for p in planes]
    want = want[0] if channels is None else np.stack(want, axis=-1)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want[::stride, ::stride])


@pytest.mark.parametrize("cval", [-5, 300, 2**40])
def test_integer_cval_outside_the_image_dtype(cval):
    img = np.random.default_rng(6).integers(0, 256, (9, 11), dtype=np.uint8)
    k = np.array([[1, -2, 1], [0, 3, 0]])
    got = fastconv.convolve2d(img, k, padding="same", cval=cval)
    want = correlate2d_loop(np.pad(img.astype(object), ((0, 1), (1, 1)), constant_values=cval), k)
    np.testing.assert_array_equal(got, want.astype(np.int64))


# --------------------------------------------------------------------------- the common call's short plan

_COMMON = ["uint8", "uint16", "int16", "int32", "int64", "float32", "float64"]


@pytest.mark.parametrize("img_dtype", _COMMON)
@pytest.mark.parametrize("k_dtype", ["int64", "float32", "float64", "uint8"])
def test_the_common_call_takes_the_short_plan_and_matches_the_loop(monkeypatch, img_dtype, k_dtype):
    from fastconv import _plan

    def refuse(*args, **kwargs):
        raise AssertionError("a common call went through the full plan")

    monkeypatch.setattr(_plan, "window", refuse)  # the full plan's first step; quick() makes its Window itself
    rng = np.random.default_rng(7)
    for shape, k_shape, stride, padding in [((9, 11), (3, 3), 1, 0), ((17, 8), (2, 5), 2, 1), ((5, 5), (5, 5), 3, 2)]:
        img = rng.integers(0, 100, shape).astype(img_dtype)
        k = rng.integers(-4, 5, k_shape).astype(k_dtype)
        got = fastconv.convolve2d(img, k, stride, padding)
        want = correlate2d_loop(img, k, stride=(stride, stride), pad=((padding, padding), (padding, padding)))
        integer = np.dtype(img_dtype).kind in "iu" and np.dtype(k_dtype).kind in "iu"
        # the documented rule: int64 for integers, float64 if either is float64, else float32
        wide = "float64" in (img_dtype, k_dtype)
        assert got.dtype == (np.int64 if integer else np.float64 if wide else np.float32)
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-6)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (dict(stride=0), ValueError, "stride"),
        (dict(padding=-1), ValueError, "padding"),
        (dict(k=np.ones((9, 9))), ValueError, "larger than the padded image"),
        (dict(img=np.ones((4, 0))), ValueError, "img must not be empty"),
        (dict(img=np.full((6, 6), 2**62, np.int64), k=np.full((3, 3), 4, np.int64)), OverflowError, "overflow"),
        (dict(img=np.ones((6, 6), np.complex64)), TypeError, "img must have a bool, integer or real float dtype"),
    ],
)
def test_a_failing_common_call_gets_the_full_plans_message(call, error, words):
    args = dict(img=np.ones((6, 6), np.float32), k=np.ones((3, 3), np.float32), stride=1, padding=0) | call
    with pytest.raises(error, match=words):
        fastconv.convolve2d(args["img"], args["k"], args["stride"], args["padding"])


def test_uncommon_calls_take_the_full_plan(monkeypatch):
    from fastconv import convolve

    img, k = np.ones((6, 6), np.float32), np.ones((3, 3), np.float32)
    assert _plan.quick(img, k, 1, 0) is not None
    # arrays the quick plan does not take: it answers None
    for other in (img.T.copy(order="F"), img.astype(">f4"), img[:, :, None], img.astype(np.float16)):
        assert _plan.quick(other, k, 1, 0) is None, other
    # arguments other than the common call's: convolve2d alone recognises them, and never asks the quick plan
    asked = []
    monkeypatch.setattr(convolve._plan, "quick", lambda *a: asked.append(a))
    for changed in [
        dict(img=img.tolist()),
        dict(stride=(1, 1)),
        dict(padding="same"),
        dict(dilation=2),
        dict(flip=True),
        dict(pad_mode="edge"),
        dict(cval=1),
        dict(dtype=np.float64),
    ]:
        args = dict(img=img, k=k, stride=1, padding=0) | changed
        got = fastconv.convolve2d(**args)
        if set(changed) <= {"img", "stride", "dtype"}:  # the same correlation as the common call's
            np.testing.assert_allclose(got, correlate2d_loop(img, k), rtol=1e-6)
    assert asked == []


def test_a_kernel_that_passed_the_bound_once_is_checked_again_on_larger_values():
    k = np.array([[1, 1], [1, 1]], np.int64)
    small = np.array([[1, 2], [3, 4]], np.int64)
    assert int(fastconv.convolve2d(small, k)[0, 0]) == 10
    huge = np.array([[2**61, -(2**61)], [2**61, 2**61 - 1]], np.int64)  # bound 4 * 2**61 = 2**63
    with pytest.raises(OverflowError):
        fastconv.convolve2d(huge, k)
    # a uint8 image's range settles the bound for this kernel: remembered, and still right
    u = np.full((4, 4), 255, np.uint8)
    for _ in range(2):
        np.testing.assert_array_equal(fastconv.convolve2d(u, k), np.full((3, 3), 1020))


def test_large_outputs_sit_half_a_cache_way_from_the_input():
    # rows as long as the input's would otherwise share the input rows' L1 sets (see _plan.empty_apart)
    x = np.zeros((512, 512), np.float32)
    for shape, dtype in (((512, 512), np.float32), ((3, 512, 512), np.float64), ((128, 300), np.int16)):
        a = _plan.empty_apart(shape, dtype, x)
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
        assert a.ctypes.data % 64 == 0
        assert 2048 - 64 < (a.ctypes.data - x.ctypes.data) % 4096 <= 2048
    small = _plan.empty_apart((8, 8), np.float32, x)
    assert small.shape == (8, 8) and small.base is None
    out = fastconv.convolve2d(x, np.ones((5, 5), np.float32), padding="same")
    assert 2048 - 64 < (out.ctypes.data - x.ctypes.data) % 4096 <= 2048
    np.testing.assert_array_equal(out[2:-2, 2:-2], 0)


def _refuse_planning(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a repeated small call was planned again")

    monkeypatch.setattr(_plan, "quick", refuse)
    monkeypatch.setattr(_plan, "correlate", refuse)


@pytest.mark.parametrize("img_dtype", _COMMON)
@pytest.mark.parametrize("k_dtype", ["int64", "float32", "uint8"])
def test_a_repeated_small_call_runs_its_kept_plan_on_new_values(monkeypatch, img_dtype, k_dtype):
    # Start from an empty store of kept plans: one filled by earlier tests in this process (their order
    # depends on how the suite is shared out between workers) could reach its bound and be cleared mid-test.
    _cache.PLANS.clear()
    rng = np.random.default_rng(11)
    geometries = [
        ((9, 11), (3, 3), 1, 0),
        ((12, 7), (2, 5), 2, 1),
        ((6, 6), (1, 1), 1, 3),
        ((10, 9), (3, 3), 1, "same"),
        ((8, 13), (4, 3), 2, "valid"),
    ]
    kernels = {g: rng.integers(-4, 5, g[1]).astype(k_dtype) for g in geometries}
    for shape, k_shape, stride, padding in geometries:  # planned once, kept
        fastconv.convolve2d(
            rng.integers(0, 100, shape).astype(img_dtype), kernels[shape, k_shape, stride, padding], stride, padding
        )
    integer_k = np.dtype(k_dtype).kind in "iu"
    if not (img_dtype == "int64" and integer_k):  # an int64 image's sums need the overflow check every call
        _refuse_planning(monkeypatch)
    for _ in range(3):
        for g in geometries:
            shape, k_shape, stride, padding = g
            img = rng.integers(0, 100, shape).astype(img_dtype)
            # an integer kernel is kept with its values: the same values in a new array; a float one with any
            k = kernels[g].copy() if integer_k else rng.normal(size=k_shape).astype(k_dtype)
            got = fastconv.convolve2d(img, k, stride, padding)
            pads = padding_pairs(padding, shape, k_shape, (stride, stride), (1, 1))
            want = correlate2d_loop(img, k, stride=(stride, stride), pad=pads)
            scale = 100 * float(np.abs(k.astype(np.float64)).sum())  # float32 rounding of sums up to this size
            np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-6, atol=1e-6 * scale)


def test_a_kept_small_call_follows_a_kernel_changed_in_place():
    img = np.arange(30, dtype=np.int64).reshape(5, 6)
    k = np.array([[0, 1, 0]], np.int64)  # sum |k| = 1: an int64 image's range bounds it, so the call is kept
    shift = k.copy()
    fastconv.convolve2d(img, k)
    k[0] = [1, 0, 0]  # new values in the same array: planned again (an integer kernel's bytes are in the key)
    np.testing.assert_array_equal(fastconv.convolve2d(img, k), correlate2d_loop(img, k))
    # and the plan kept for the first values still holds those values, not the array's new ones
    np.testing.assert_array_equal(fastconv.convolve2d(img, shift.copy()), correlate2d_loop(img, shift))
    with pytest.raises(OverflowError):
        fastconv.convolve2d(np.full((5, 6), 2**62, np.int64), np.array([[0, 2, 0]], np.int64))
    zero = np.zeros((1, 3), np.int64)  # bounded by any range: kept, and summed in int64 from the kernel as given
    fastconv.convolve2d(img, zero)
    zero[0, 0] = 1
    np.testing.assert_array_equal(fastconv.convolve2d(img, np.zeros((1, 3), np.int64)), np.zeros((5, 4)))


def test_a_kept_small_call_with_another_layout_is_planned_again():
    rng = np.random.default_rng(3)
    k = rng.normal(size=(3, 3)).astype(np.float32)
    img = rng.normal(size=(8, 9)).astype(np.float32)
    fastconv.convolve2d(img, k)
    big = rng.normal(size=(16, 18)).astype(np.float32)
    for other in (big[::2, ::2], np.asfortranarray(img), big[:8, :9]):
        assert other.shape == img.shape and not other.flags.c_contiguous
        np.testing.assert_allclose(fastconv.convolve2d(other, k), correlate2d_loop(other, k), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        fastconv.convolve2d(img, np.asfortranarray(k)), correlate2d_loop(img, k), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("k_shape", [(1, 1), (2, 3), (4, 4), (3, 5)])
def test_mode_pads_and_valid_shape_give_scipy_signal_results(mode, k_shape):
    # the padding pairs, applied by np.pad, then a valid loop: scipy.signal's output for each mode
    rng = np.random.default_rng(11)
    a = rng.integers(-5, 6, (7, 9))
    b = rng.integers(-3, 4, k_shape)
    for lower, scipy_call, kern in (
        (True, scipy_signal.correlate2d, b),
        (False, scipy_signal.convolve2d, b[::-1, ::-1]),
        (False, scipy_signal.correlate, b),
    ):
        pads = _plan.mode_pads(mode, b.shape, lower=lower)
        got = correlate2d_loop(np.pad(a, pads), kern)
        want = scipy_call(a, b, mode)
        assert got.shape == _plan.valid_shape(a.shape, b.shape, pads) == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_centred_pads_give_scipy_ndimage_results(size):
    rng = np.random.default_rng(12)
    x = rng.integers(0, 50, (6, 11)).astype(np.float64)
    w = rng.integers(-3, 4, (3, size)).astype(np.float64)
    for origin in range(-(size // 2), (size - 1) // 2 + 1):
        pads = [_plan.centred(3, 0), _plan.centred(size, origin)]
        assert min(pads[1]) >= 0
        got = correlate2d_loop(np.pad(x, pads), w)
        want = scipy_ndimage.correlate(x, w, mode="constant", origin=(0, origin))
        np.testing.assert_allclose(got, want)
        # scipy's convolve is correlate with the kernel flipped and the origin moved as flipped_origin moves it
        flipped = [_plan.centred(3, 0), _plan.centred(size, _plan.flipped_origin(size, origin))]
        got = correlate2d_loop(np.pad(x, flipped), w[::-1, ::-1])
        np.testing.assert_allclose(got, scipy_ndimage.convolve(x, w, mode="constant", origin=(0, origin)))
    assert min(_plan.centred(size, (size - 1) // 2 + 1)) < 0  # beyond scipy's range

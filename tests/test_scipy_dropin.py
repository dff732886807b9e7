"""fastconv.ndimage and fastconv.signal against scipy.ndimage / scipy.signal (and numpy.pad for the extension rules)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal
from numpy.lib.stride_tricks import sliding_window_view
from numpy.testing import assert_allclose, assert_array_equal

from fastconv import _border, _nd, _separable
from fastconv import ndimage as fn
from fastconv import signal as fs

NDIMAGE_MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant", "grid-wrap"]
PAIRS = [(fn.correlate, scipy.ndimage.correlate), (fn.convolve, scipy.ndimage.convolve)]


def _assert_same(got, want, exact):
    """Same dtype and shape; equal for exact cases, else within float rounding of the dtype."""
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    if exact:
        assert_array_equal(got, want)
    else:
        tol = 2e-5 if want.dtype == np.float32 else 1e-11
        assert_allclose(got, want, rtol=tol, atol=tol * float(np.abs(want).max() + 1))


def _data(rng, shape, dtype):
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -100), min(info.max, 100), size=shape, endpoint=True).astype(dtype)


@pytest.fixture(params=[False, True], ids=["copy-pad", "border-fix"])
def border_fix(request, monkeypatch):
    """Run a test with the extension modes done by convolve2d's copy and by its border pieces, on small images."""
    if request.param:
        monkeypatch.setattr(_border, "COPY_VALUES", 0)
    return request.param


# --------------------------------------------------------------------------- extension rules


@pytest.mark.parametrize("pad_mode", ["edge", "wrap", "symmetric", "reflect"])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_extend_index_is_numpy_pad(pad_mode, n):
    x = np.arange(10, 10 + n)
    for before, after in [(0, 0), (1, 2), (n, n), (3 * n + 1, 2 * n + 3)]:
        want = np.pad(x, (before, after), mode=pad_mode)
        assert_array_equal(x[_border.extend_index(n, before, after, pad_mode)], want)


@pytest.mark.parametrize("mode", NDIMAGE_MODES)
def test_modes_are_numpy_pad_modes(mode):
    # scipy's own definition of each mode, read off correlate1d with a one-hot kernel, against numpy.pad.
    n, pad = 4, 6
    x = np.arange(1.0, n + 1)
    seen = []
    for p in range(-pad, n + pad):
        i = 0 if p < n else n - 1
        w = np.zeros(2 * pad + 1)
        w[p - i + pad] = 1
        seen.append(scipy.ndimage.correlate1d(x, w, mode=mode, cval=-1.0)[i])
    kwargs = {"constant_values": -1.0} if fn.MODES[mode] == "constant" else {}
    assert_array_equal(seen, np.pad(x, pad, mode=fn.MODES[mode], **kwargs))


# --------------------------------------------------------------------------- fastconv.ndimage


@pytest.mark.parametrize("mode", NDIMAGE_MODES)
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16, np.uint8])
def test_ndimage_matches_scipy(mode, ndim, dtype, border_fix):
    rng = np.random.default_rng([ndim, NDIMAGE_MODES.index(mode), np.dtype(dtype).num])
    x = _data(rng, (9, 8, 7)[:ndim], dtype)
    integer = np.dtype(dtype).kind in "iu"
    for kshape in [(3, 3, 3), (2, 4, 1), (5, 1, 2)]:
        kshape = kshape[:ndim]
        w = rng.integers(-3, 4, size=kshape).astype(np.float64) if integer else rng.standard_normal(kshape)
        extremes = [(-(n // 2), 0, (n - 1) // 2) for n in kshape]
        for origin in list(itertools.product(*extremes))[::2]:
            for ours, theirs in PAIRS:
                got = ours(x, w, mode=mode, cval=2.0, origin=origin, output=np.float64 if integer else None)
                want = theirs(x, w, mode=mode, cval=2.0, origin=origin, output=np.float64 if integer else None)
                _assert_same(got, want, integer)


@pytest.mark.parametrize("mode", NDIMAGE_MODES)
def test_volume_every_mode_and_origin(mode, border_fix):
    # 3-D results equal scipy.ndimage's: exactly for integers, within rounding for float64.
    rng = np.random.default_rng(NDIMAGE_MODES.index(mode))
    xf = rng.standard_normal((9, 10, 11))
    xi = rng.integers(-50, 50, size=(9, 10, 11)).astype(np.int32)
    w = rng.integers(-4, 5, size=(3, 4, 5)).astype(np.float64)
    for origin in itertools.product((-1, 0, 1), (-2, 0, 1), (-2, 0, 2)):
        for ours, theirs in PAIRS:
            _assert_same(
                ours(xf, w, mode=mode, origin=origin, cval=1.5),
                theirs(xf, w, mode=mode, origin=origin, cval=1.5),
                False,
            )
            _assert_same(
                ours(xi, w, mode=mode, origin=origin, cval=3), theirs(xi, w, mode=mode, origin=origin, cval=3), True
            )


@pytest.mark.parametrize("mode", NDIMAGE_MODES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_volume_separable_kernel(mode, dtype, border_fix):
    # A 3-D Gaussian given densely runs as three 1-D passes; the constant value must follow the passes.
    rng = np.random.default_rng(7)
    x = rng.standard_normal((12, 11, 10)).astype(dtype)
    g = np.exp(-0.5 * ((np.arange(7) - 3) / 1.5) ** 2)
    w = g[:, None, None] * (g / 2)[None, :, None] * g[None, None, ::-1]
    assert _separable.factors3(w, np.dtype(dtype)) is not None
    for origin in [0, (-3, 3, 1)]:
        want = scipy.ndimage.correlate(x, w, mode=mode, cval=4.0, origin=origin)
        _assert_same(fn.correlate(x, w, mode=mode, cval=4.0, origin=origin), want, False)
    w[1, 2, 3] += 0.5  # no longer separable: the dense path
    assert _separable.factors3(w, np.dtype(dtype)) is None
    _assert_same(fn.correlate(x, w, mode=mode, cval=4.0), scipy.ndimage.correlate(x, w, mode=mode, cval=4.0), False)


@pytest.mark.parametrize("mode", NDIMAGE_MODES)
def test_1d_functions_every_axis(mode, border_fix):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 200, size=(6, 7, 8)).astype(np.uint8)
    for axis, weights, origin in itertools.product((0, 1, -1), ([1, 2], [3, -1, 2], [1, 1, 1, 1]), (-1, 0)):
        for ours, theirs in [(fn.correlate1d, scipy.ndimage.correlate1d), (fn.convolve1d, scipy.ndimage.convolve1d)]:
            want = theirs(x, weights, axis=axis, mode=mode, origin=origin, output=np.int32)
            _assert_same(ours(x, weights, axis=axis, mode=mode, origin=origin, output=np.int32), want, True)


def test_integer_output_is_truncated_as_scipy():
    # Float weights on an integer image: scipy truncates toward zero; out of range it wraps (recomputed by scipy).
    x = np.array([[0, 10, -10, 0, 7], [3, -3, 9, 100, -100]], dtype=np.int16)
    for w in ([[0.25, 0.26, 0.0]], [[-0.5, 0.5, 0.3]], [[1.0, 1.0, 1.0]]):
        for out in (np.int16, np.uint8, np.int8):
            _assert_same(
                fn.correlate(x, w, mode="constant", output=out),
                scipy.ndimage.correlate(x, w, mode="constant", output=out),
                True,
            )


def test_output_array_dtype_and_string():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 255, size=(20, 30)).astype(np.uint8)
    w = rng.standard_normal((3, 5))
    out = np.empty((20, 30), np.float32)
    assert fn.correlate(x, w, output=out) is out
    _assert_same(out, scipy.ndimage.correlate(x, w, output=np.float32), False)
    _assert_same(fn.convolve(x, w, output="f8"), scipy.ndimage.convolve(x, w, output="f8"), False)
    # output sharing memory with the input (scipy uses a temporary; so does the drop-in)
    y = x.astype(np.float64)
    want = scipy.ndimage.correlate(y, w)
    assert fn.correlate(y, w, output=y) is y
    _assert_same(y, want, False)


def test_axes():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 7, 8))
    w = rng.standard_normal((3, 2))
    for axes, origin in [((0, 2), (1, -1)), ((2, 1), (0, 0)), ((-1, 0), (-1, 0))]:
        for ours, theirs in PAIRS:
            _assert_same(ours(x, w, axes=axes, origin=origin), theirs(x, w, axes=axes, origin=origin), False)


def test_kernel_wider_than_input_follows_numpy_pad():
    # With the kernel reaching more than twice past the edge, scipy's n-D correlate reads outside the input
    # in mode="reflect"; the drop-in extends as correlate1d and numpy.pad's "symmetric" do.
    x = np.array([1.0, 2.0])
    w = np.arange(1.0, 13.0)
    xp = np.pad(x, (11, 0), mode="symmetric")
    reference = sliding_window_view(xp, 12) @ w
    assert_allclose(fn.correlate(x, w, mode="reflect", origin=5), reference)
    assert_allclose(scipy.ndimage.correlate1d(x, w, mode="reflect", origin=5), reference)


def test_unsupported_calls_go_to_scipy():
    rng = np.random.default_rng(6)
    before = dict(_nd.CALLS)
    z = rng.standard_normal((5, 6)) + 1j * rng.standard_normal((5, 6))
    assert_allclose(fn.correlate(z, np.ones((3, 3))), scipy.ndimage.correlate(z, np.ones((3, 3))))
    x4 = rng.standard_normal((3, 3, 3, 3))
    assert_allclose(fn.convolve(x4, np.ones((2, 2, 2, 2))), scipy.ndimage.convolve(x4, np.ones((2, 2, 2, 2))))
    b = rng.random((5, 5)) > 0.5
    assert_array_equal(fn.correlate(b, np.ones((3, 3))), scipy.ndimage.correlate(b, np.ones((3, 3))))
    assert _nd.CALLS["ndimage.correlate", "scipy"] == before.get(("ndimage.correlate", "scipy"), 0) + 2
    real = _nd.CALLS["ndimage.correlate", "fastconv"]
    fn.correlate(rng.standard_normal((5, 6)), np.ones((3, 3)))
    assert _nd.CALLS["ndimage.correlate", "fastconv"] == real + 1


def test_errors_are_scipys():
    x = np.ones((5, 5))
    with pytest.raises(ValueError, match="origin"):
        fn.correlate(x, np.ones((3, 3)), origin=2)
    with pytest.raises(RuntimeError, match="boundary mode not supported"):
        fn.correlate(x, np.ones((3, 3)), mode="symmetric")
    with pytest.raises(RuntimeError):
        fn.correlate1d(x, np.ones((3, 3)))


# --------------------------------------------------------------------------- fastconv.signal


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize(
    "dtypes", [(np.float64, np.float64), (np.float32, np.float32), (np.uint8, np.uint8), (np.int16, np.float32)]
)
def test_signal_2d_matches_scipy(mode, boundary, dtypes, border_fix):
    rng = np.random.default_rng(8)
    exact = np.dtype(dtypes[0]).kind in "iu" and np.dtype(dtypes[1]).kind in "iu"
    for s1, s2 in [((9, 11), (3, 3)), ((9, 11), (4, 2)), ((2, 3), (5, 6)), ((7, 6), (1, 1))]:
        a = rng.integers(0, 200, size=s1).astype(dtypes[0])  # uint8 sums wrap around, as scipy's
        b = rng.integers(0, 9, size=s2).astype(dtypes[1]) if exact else rng.standard_normal(s2).astype(dtypes[1])
        for ours, theirs in [(fs.correlate2d, scipy.signal.correlate2d), (fs.convolve2d, scipy.signal.convolve2d)]:
            try:
                want = theirs(a, b, mode, boundary, 3)
            except ValueError:
                with pytest.raises(ValueError):
                    ours(a, b, mode, boundary, 3)
                continue
            _assert_same(ours(a, b, mode, boundary, 3), want, exact)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("method", ["auto", "direct", "fft"])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_signal_nd_matches_scipy(mode, method, ndim):
    rng = np.random.default_rng(ndim)
    for s1, s2 in [((9, 8, 7), (3, 2, 4)), ((3, 4, 2), (5, 5, 5))]:
        a, b = rng.standard_normal(s1[:ndim]), rng.standard_normal(s2[:ndim])
        ai, bi = rng.integers(-9, 9, s1[:ndim]).astype(np.int16), rng.integers(-9, 9, s2[:ndim]).astype(np.int16)
        for ours, theirs in [(fs.correlate, scipy.signal.correlate), (fs.convolve, scipy.signal.convolve)]:
            if mode == "valid" and s1[0] < s2[0]:
                for x, y in [(a, b), (b, a)]:
                    _assert_same(ours(x, y, mode, method), theirs(x, y, mode, method), False)
                continue
            _assert_same(ours(a, b, mode, method), theirs(a, b, mode, method), False)
            _assert_same(
                ours(a.astype(np.float32), b.astype(np.float32), mode, method),
                theirs(a.astype(np.float32), b.astype(np.float32), mode, method),
                False,
            )
            _assert_same(ours(ai, bi, mode, method), theirs(ai, bi, mode, method), True)


def test_signal_fill_value_and_fallbacks():
    rng = np.random.default_rng(9)
    a = rng.integers(0, 9, size=(5, 6)).astype(np.uint8)
    b = np.ones((2, 3), np.uint8)
    # an integer result takes the fill value truncated to its dtype, as scipy
    _assert_same(fs.correlate2d(a, b, fillvalue=2.7), scipy.signal.correlate2d(a, b, fillvalue=2.7), True)
    z = a + 1j
    assert_allclose(fs.correlate2d(z, b), scipy.signal.correlate2d(z, b))
    with pytest.raises(ValueError):
        fs.convolve2d(np.ones((3, 5)), np.ones((5, 3)), mode="valid")

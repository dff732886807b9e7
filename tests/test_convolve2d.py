"""fastconv.convolve2d against independent references: a NumPy loop, scipy and TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastconv
from fastconv.demo import seed_convolve
from tests.reference import correlate2d_loop, padding_pairs

BACKENDS = sorted(fastconv.BACKENDS) + ["auto"]
INT_DTYPES = [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]


def assert_matches(got, want, img, k):
    """Exact for int64 results; for floats, a tolerance scaled by sum |k| |x| and the result's precision."""
    got = np.asarray(got)
    assert got.shape == want.shape
    if got.dtype == np.int64:
        np.testing.assert_array_equal(got, want)
        return
    eps = np.finfo(got.dtype).eps
    scale = np.abs(np.asarray(k, dtype=np.float64)).sum() * max(
        1.0, float(np.abs(np.asarray(img, dtype=np.float64)).max())
    )
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=0, atol=64 * eps * scale)


def expected_dtype(img_dtype, k_dtype):
    img_dtype, k_dtype = np.dtype(img_dtype), np.dtype(k_dtype)
    if img_dtype.kind in "biu" and k_dtype.kind in "biu":
        return np.int64
    if np.float64 in (img_dtype, k_dtype):
        return np.float64
    return np.float32


def random_array(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -1000), min(info.max, 1000)
        return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def relayout(a, layout):
    """The same values in another memory layout."""
    if layout == "C":
        return a
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "reversed":  # negative strides
        return np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1]
    if layout == "strided":  # non-unit strides: every other element of a larger array
        big = np.zeros(tuple(2 * s for s in a.shape), dtype=a.dtype)
        big[tuple(slice(None, None, 2) for _ in a.shape)] = a
        return big[tuple(slice(None, None, 2) for _ in a.shape)]
    if layout == "big-endian":
        return a.astype(a.dtype.newbyteorder(">"))
    raise AssertionError(layout)


# --------------------------------------------------------------------------- fixed cases


@pytest.mark.parametrize("backend", BACKENDS)
def test_docstring_example_by_hand(backend):
    img = np.arange(16).reshape(4, 4)
    out = fastconv.convolve2d(img, np.ones((2, 2), dtype=int), backend=backend)
    # Each output is the sum of a 2x2 block, computed here by hand.
    want = img[:-1, :-1] + img[1:, :-1] + img[:-1, 1:] + img[1:, 1:]
    np.testing.assert_array_equal(out, want)
    assert out.dtype == np.int64


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "shape,kshape", [((200, 200), (3, 3)), ((37, 53), (4, 7)), ((5, 90), (5, 1)), ((1, 1), (1, 1))]
)
def test_valid_matches_scipy_correlate2d(backend, shape, kshape):
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(0)
    img, k = rng.standard_normal(shape), rng.standard_normal(kshape)
    out = fastconv.convolve2d(img, k, backend=backend)
    np.testing.assert_allclose(out, signal.correlate2d(img, k, mode="valid"), rtol=1e-12, atol=1e-12)
    full = fastconv.convolve2d(img, k, padding=(kshape[0] - 1, kshape[1] - 1), backend=backend)
    np.testing.assert_allclose(full, signal.correlate2d(img, k, mode="full"), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_flip_is_true_convolution(backend):
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(1)
    img, k = rng.standard_normal((31, 24)), rng.standard_normal((5, 3))
    out = fastconv.convolve2d(img, k, flip=True, backend=backend)
    np.testing.assert_allclose(out, signal.convolve2d(img, k, mode="valid"), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_seed_example_where_the_seed_is_right(backend):
    """The seed's 6x6 image and 3x3 kernel: its function is right on the top-left 4x4 block only."""
    rng = np.random.default_rng(2)
    matrix = rng.integers(1, 8, size=(6, 6))
    kernel = rng.integers(1, 8, size=(3, 3))
    seed = seed_convolve(matrix, kernel)
    out = fastconv.convolve2d(matrix, kernel, backend=backend)
    assert out.shape == (4, 4)  # n - k + 1
    assert seed.shape == (6, 6)  # the seed's n - k + 3
    np.testing.assert_array_equal(out, seed[:4, :4])
    assert not seed[4:, :].any() and not seed[:, 4:].any()  # the extra rows/cols it leaves at zero


def test_seed_function_breaks_on_non_square_images():
    """Why the seed's function is replaced: it sizes both output sides from shape[0]."""
    k = np.ones((3, 3))
    wide = np.arange(4 * 9, dtype=float).reshape(4, 9)
    with pytest.raises(IndexError):
        seed_convolve(wide, k)  # a 4x4 output for a 4x9 image: writes past its end
    tall = wide.T.copy()
    seed = seed_convolve(tall, k)
    assert seed.shape == (9, 9)  # should be (7, 2)
    out = fastconv.convolve2d(tall, k)
    assert out.shape == (7, 2)
    np.testing.assert_allclose(out, correlate2d_loop(tall, k))
    np.testing.assert_allclose(fastconv.convolve2d(wide, k), correlate2d_loop(wide, k))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pad_mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
def test_pad_modes(backend, pad_mode):
    rng = np.random.default_rng(3)
    img, k = rng.integers(-9, 9, size=(9, 11)), rng.integers(-3, 3, size=(3, 4))
    pad = ((2, 1), (0, 3))
    out = fastconv.convolve2d(img, k, padding=pad, pad_mode=pad_mode, backend=backend)
    np.testing.assert_array_equal(out, correlate2d_loop(img, k, pad=pad, pad_mode=pad_mode))


@pytest.mark.parametrize("backend", BACKENDS)
def test_channels_last_filters_each_channel(backend):
    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, size=(20, 17, 3), dtype=np.uint8)
    k = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    out = fastconv.convolve2d(img, k, stride=(1, 2), padding=1, backend=backend)
    assert out.shape == (20, 9, 3) and out.dtype == np.int64
    for c in range(3):
        np.testing.assert_array_equal(
            out[:, :, c], correlate2d_loop(img[:, :, c], k, stride=(1, 2), pad=((1, 1), (1, 1)))
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_integer_overflow(backend):
    """uint8/int16 inputs are summed in int64: 15x15 taps of 255*32767 do not wrap."""
    img = np.full((20, 20), 255, dtype=np.uint8)
    k = np.full((15, 15), 32767, dtype=np.int16)
    out = fastconv.convolve2d(img, k, backend=backend)
    assert out.dtype == np.int64
    assert (out == 15 * 15 * 255 * 32767).all()
    big = np.full((4, 4), 2**40, dtype=np.int64)
    np.testing.assert_array_equal(fastconv.convolve2d(big, np.ones((2, 2), dtype=np.int64), backend=backend), 2**42)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_and_inf_propagate(backend):
    img = np.zeros((6, 6), dtype=np.float32)
    img[1, 1] = np.nan
    img[4, 4] = np.inf
    out = fastconv.convolve2d(img, np.ones((2, 2), dtype=np.float32), backend=backend)
    assert np.isnan(out[0:2, 0:2]).all()
    assert np.isposinf(out[3:5, 3:5]).all()
    assert np.isfinite(out[0, 3:]).all()


@pytest.mark.parametrize("img_dtype", INT_DTYPES + FLOAT_DTYPES + [np.bool_])
@pytest.mark.parametrize("k_dtype", [np.int64, np.bool_, np.int8, np.float32, np.float64])
def test_result_dtype(img_dtype, k_dtype):
    rng = np.random.default_rng(5)
    img, k = random_array(rng, (8, 7), img_dtype), random_array(rng, (3, 2), k_dtype)
    out = fastconv.convolve2d(img, k)
    assert out.dtype == expected_dtype(img_dtype, k_dtype)
    assert_matches(out, correlate2d_loop(img, k), img, k)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
@pytest.mark.parametrize("stride", [1, 2])
def test_thread_count_does_not_change_the_result(dtype, stride):
    """Large enough for the direct backend to split the work over threads: 1 and 2 threads agree with scipy."""
    numba = pytest.importorskip("numba")
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(6)
    img = random_array(rng, (1100, 1100), dtype)
    k = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.int64 if dtype == np.uint8 else np.float32)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(threads)
            results.append(fastconv.convolve2d(img, k, stride=stride, padding=1, backend="direct"))
    finally:
        numba.set_num_threads(before)
    want = signal.correlate2d(np.pad(img.astype(np.float64), 1), k.astype(np.float64), mode="valid")[::stride, ::stride]
    for got in results:
        assert_matches(got, want, img, k)
    np.testing.assert_array_equal(results[0], results[-1])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 1), (3, 1), (4, 2), (6, 1)])
def test_3x3_every_stride_and_dilation(dtype, dilation):
    """The 3x3 fast paths (register taps, the de-interleaved stride-2 rows) over strides and dilations.

    A dilation of 3 once put all three kernel rows of the stride-2 path in one buffer slot.
    """
    rng = np.random.default_rng(7)
    img = random_array(rng, (23, 27), dtype)
    k = rng.integers(-300, 300, size=(3, 3)).astype(np.int64 if dtype == np.uint8 else np.float32)
    for stride in [(1, 1), (1, 2), (2, 2), (2, 1), (3, 3)]:
        for pad in [0, 2]:
            got = fastconv.convolve2d(img, k, stride=stride, padding=pad, dilation=dilation, backend="direct")
            want = correlate2d_loop(img, k, stride, ((pad, pad), (pad, pad)), dilation)
            assert_matches(got, want, img, k)


#: The block function a 3x3 call at column stride 2 (column dilation 1) should take, by image dtype: float32
#: and uint8 read their rows in place (float32: taken apart in registers; uint8: as uint16 column pairs, for
#: an even width), the others stage each input row into its even and odd columns.
S2_PATHS = {np.float32: "3x3 s2 float32", np.uint8: "3x3 s2 uint8", np.float64: "3x3 s2", np.int8: "3x3 s2"}
S2_PATHS.update({np.uint16: "3x3 s2", np.int16: "3x3 s2"})


@pytest.mark.parametrize("dtype", list(S2_PATHS))
@pytest.mark.parametrize("shape", [(9, 9), (12, 14), (17, 18), (23, 40), (24, 41), (30, 52)])
def test_3x3_column_stride_2(dtype, shape):
    """3x3 at column stride 2 against the plain loop: row strides 1-3, row dilations, padding, odd and even sizes.

    The widths give rows of fewer than 8 outputs, whole vectors and vectors with a remainder (odd
    widths: the staged uint8 path); the paddings even and odd left padding (the uint8 path reads the
    column pairs the other way round), the border, and "same".  Float images hold an inf and a NaN
    in a second call.
    """
    from fastconv import _direct
    from fastconv._loops import correlate2d

    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    img = random_array(rng, shape, dtype)
    integer = np.dtype(dtype).kind in "iu"
    k = rng.integers(-9, 10, size=(3, 3)).astype(np.int64 if integer else dtype)
    k[1, 1] = 11  # six or more nonzero taps: not the integer loop that skips zero taps
    images = [img]
    if not integer:
        special = img.copy()
        special[shape[0] // 2, 3], special[1, shape[1] - 2] = np.inf, np.nan
        images.append(special)
    for x in images:
        for stride in [(2, 2), (1, 2), (3, 2)]:
            for dilation in [(1, 1), (2, 1), (3, 1)]:
                for pad in [0, 1, 2, ((1, 2), (2, 1)), "same"]:
                    pairs = padding_pairs(pad, shape, (3, 3), stride, dilation)
                    if 2 * dilation[0] + 1 > shape[0] + sum(pairs[0]):
                        continue
                    got = fastconv.convolve2d(x, k, stride=stride, padding=pad, dilation=dilation, backend="direct")
                    with np.errstate(invalid="ignore"):  # inf * 0 in the loop: NaN, as in fastconv
                        want = correlate2d_loop(x, k, stride, pairs, dilation)
                    assert_matches(got, want, x, k)
    # the path these calls take
    out = np.empty((1, (shape[0] - 1) // 2, (shape[1] - 1) // 2), dtype=np.int64 if integer else dtype)
    kern = k.astype(np.int16) if integer and np.dtype(dtype).itemsize == 1 else k
    kern = kern.astype(np.int32) if integer and np.dtype(dtype).itemsize == 2 else kern
    want = S2_PATHS[dtype] if dtype != np.uint8 or shape[1] % 2 == 0 else "3x3 s2"
    assert _direct._path(img[None], kern, 2, 2, 1, 1, 0, 0, out, integer) is correlate2d.PATHS[want]


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
@pytest.mark.parametrize("pad", [0, 2, "same"])
def test_3x3_column_stride_2_threads(dtype, pad):
    """The in-place stride-2 paths on 1 and 2 threads (a call large enough to be shared) against scipy."""
    numba = pytest.importorskip("numba")
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(9)
    img = random_array(rng, (701, 702), dtype)
    k = rng.integers(-9, 10, size=(3, 3)).astype(np.int64 if dtype == np.uint8 else np.float32)
    k[1, 1] = 11
    pairs = padding_pairs(pad, img.shape, (3, 3), (2, 2))
    want = signal.correlate2d(np.pad(img.astype(np.float64), pairs), k.astype(np.float64), mode="valid")[::2, ::2]
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(threads)
            results.append(fastconv.convolve2d(img, k, stride=2, padding=pad, backend="direct"))
    finally:
        numba.set_num_threads(before)
    for got in results:
        assert_matches(got, want, img, k)
    np.testing.assert_array_equal(results[0], results[-1])


CROSS, CORNERS = [(0, 1), (1, 0), (1, 1), (1, 2), (2, 1)], [(0, 0), (0, 2), (2, 0), (2, 2)]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
@pytest.mark.parametrize("taps", [[], [(1, 1)], CROSS, CORNERS])
def test_3x3_with_zero_taps(dtype, taps):
    """Integer 3x3 kernels with four or more zero taps (the seed's kernel2 cross, corners, one tap, none) skip them.

    Every geometry the zero-skipping loop takes (row strides, dilations, padding,
    an image too small for an interior) against the plain loop; the call must take
    that loop (``prepare``), and a sixth nonzero tap must not.
    """
    from fastconv import _direct
    from fastconv._loops import correlate2d

    rng = np.random.default_rng(len(taps))
    img = random_array(rng, (21, 26), dtype)
    k = np.zeros((3, 3), dtype=np.int64)
    for a, b in taps:
        k[a, b] = rng.integers(-9, 10) or 5
    for stride in [(1, 1), (2, 1), (3, 1)]:
        for pad in [0, 1, 3]:
            for dilation in [(1, 1), (2, 3)]:
                got = fastconv.convolve2d(img, k, stride=stride, padding=pad, dilation=dilation, backend="direct")
                want = correlate2d_loop(img, k, stride, ((pad, pad), (pad, pad)), dilation)
                assert_matches(got, want, img, k)
    tiny = img[:2, :2]  # no interior: every output through the border code
    assert_matches(fastconv.convolve2d(tiny, k, padding=1), correlate2d_loop(tiny, k, pad=((1, 1), (1, 1))), tiny, k)
    out = np.empty((1, 19, 24), dtype=np.int64)
    assert _direct.prepare(img[None], k, 1, 1, 1, 1, 0, 0, out)[0] is correlate2d.PATHS["3x3 sparse"]
    k[0, 0] = k[0, 2] = k[2, 0] = k[2, 2] = k[1, 0] = k[1, 2] = 1
    assert _direct.prepare(img[None], k, 1, 1, 1, 1, 0, 0, out)[0] is not correlate2d.PATHS["3x3 sparse"]


# --------------------------------------------------------------------------- random cases

padding_strategy = st.one_of(
    st.integers(0, 3),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.tuples(st.integers(0, 3), st.integers(0, 3)), st.tuples(st.integers(0, 3), st.integers(0, 3))),
    st.sampled_from(["valid", "same"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    h=st.integers(1, 14),
    w=st.integers(1, 14),
    channels=st.sampled_from([None, 1, 3]),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=padding_strategy,
    pad_mode=st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]),
    img_dtype=st.sampled_from([np.uint8, np.int16, np.int64, np.bool_, np.float16, np.float32, np.float64]),
    k_dtype=st.sampled_from([np.int64, np.int8, np.float32, np.float64]),
    layout=st.sampled_from(["C", "F", "reversed", "strided", "big-endian"]),
    flip=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_against_numpy_loop(
    h, w, channels, kh, kw, stride, dilation, padding, pad_mode, img_dtype, k_dtype, layout, flip, seed
):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    img, k = random_array(rng, shape, img_dtype), random_array(rng, (kh, kw), k_dtype)
    pad = padding_pairs(padding, (h, w), (kh, kw), stride, dilation)
    hp, wp = h + sum(pad[0]), w + sum(pad[1])
    assume(dilation[0] * (kh - 1) + 1 <= hp and dilation[1] * (kw - 1) + 1 <= wp)
    want = correlate2d_loop(img, k[::-1, ::-1] if flip else k, stride, pad, dilation, pad_mode)
    img_l, k_l = relayout(img, layout), relayout(k, layout)
    for backend in BACKENDS:
        got = fastconv.convolve2d(
            img_l, k_l, stride, padding, dilation=dilation, flip=flip, pad_mode=pad_mode, backend=backend
        )
        assert got.dtype == expected_dtype(img_dtype, k_dtype), backend
        assert_matches(got, want, img, k)


def test_same_padding_sizes_follow_tensorflow_rule():
    """Output size ceil(n / stride) for 'same', whatever the kernel."""
    for n in range(1, 12):
        for kk in range(1, 6):
            for s in range(1, 4):
                out = fastconv.convolve2d(np.ones((n, n + 1)), np.ones((kk, kk)), stride=s, padding="same")
                assert out.shape == (-(-n // s), -(-(n + 1) // s))


@pytest.mark.parametrize(
    "n,kk,stride,dilation",
    [
        (10, 3, 1, 1),
        (10, 3, 2, 1),
        (11, 4, 2, 1),
        (9, 5, 3, 1),
        (32, 3, 2, 1),
        (12, 3, 1, 2),
        (13, 2, 1, 3),
        (8, 1, 2, 1),
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_same_matches_tensorflow(n, kk, stride, dilation, backend):
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(n * 100 + kk)
    img = rng.standard_normal((n, n + 3)).astype(np.float32)
    k = rng.standard_normal((kk, kk + 1)).astype(np.float32)
    want = tf.nn.conv2d(
        img[None, :, :, None], k[:, :, None, None], strides=stride, padding="SAME", dilations=dilation
    ).numpy()[0, :, :, 0]
    got = fastconv.convolve2d(img, k, stride=stride, padding="same", dilation=dilation, backend=backend)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- bad input

IMG = np.zeros((5, 5))
K = np.ones((3, 3))


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"img": np.zeros(5)}, ValueError, r"img must be 2-D or 3-D, got 1-D"),
        ({"img": np.zeros((2, 2, 2, 2))}, ValueError, r"img must be 2-D or 3-D, got 4-D"),
        ({"k": np.ones((3, 3, 1))}, ValueError, r"k must be 2-D, got 3-D"),
        ({"img": np.zeros((0, 5))}, ValueError, r"img must not be empty, got shape \(0, 5\)"),
        ({"img": np.zeros((5, 5, 0))}, ValueError, r"img must not be empty"),
        ({"k": np.ones((0, 3))}, ValueError, r"k must not be empty"),
        (
            {"img": np.zeros((5, 5), dtype=complex)},
            TypeError,
            r"img must have a bool, integer or real float dtype, got dtype complex128",
        ),
        ({"k": np.array([["a"]])}, TypeError, r"k must have .* dtype, got dtype <U1"),
        ({"img": np.zeros((2, 2), dtype=object)}, TypeError, r"img must have .* dtype, got dtype object"),
        (
            {"k": np.ones((6, 3))},
            ValueError,
            r"k of shape \(6, 3\) with dilation \(1, 1\) spans \(6, 3\), larger than the padded image \(5, 5\)",
        ),
        ({"dilation": 3}, ValueError, r"spans \(7, 7\), larger than the padded image"),
        ({"stride": 0}, ValueError, r"stride must be >= 1, got 0"),
        ({"stride": (1, -2)}, ValueError, r"stride must be >= 1, got \(1, -2\)"),
        ({"stride": 1.5}, TypeError, r"stride must be an int or a pair of ints"),
        ({"stride": (1, 2.0)}, TypeError, r"stride must contain integers, got \(1, 2.0\)"),
        ({"stride": True}, TypeError, r"stride must be an int"),
        ({"stride": (1, 2, 3)}, ValueError, r"stride must be an int or a pair of ints \(rows, cols\), got \(1, 2, 3\)"),
        ({"dilation": 0}, ValueError, r"dilation must be >= 1, got 0"),
        ({"dilation": "2"}, TypeError, r"dilation must be an int or a pair of ints"),
        ({"padding": -1}, ValueError, r"padding must be >= 0, got -1"),
        ({"padding": ((0, 1), (-1, 0))}, ValueError, r"padding must be >= 0, got \(\(0, 1\), \(-1, 0\)\)"),
        ({"padding": "fullest"}, ValueError, r"padding must be .* got 'fullest'"),
        ({"padding": (1, 2, 3)}, ValueError, r"padding must be .* got \(1, 2, 3\)"),
        ({"padding": ((1, 2, 3), (0, 0))}, ValueError, r"padding must be .* got \(\(1, 2, 3\), \(0, 0\)\)"),
        ({"padding": 1.0}, TypeError, r"padding must be an int, a tuple or 'valid'/'same'/'full', got 1.0"),
        (
            {"pad_mode": "mirror"},
            ValueError,
            r"pad_mode must be one of 'constant', 'edge', 'reflect', 'symmetric', 'wrap'; got 'mirror'",
        ),
        ({"backend": "fft2"}, ValueError, r"backend must be one of 'auto', .*; got 'fft2'"),
        ({"flip": "yes"}, TypeError, r"flip must be True or False, got 'yes'"),
    ],
)
def test_bad_input_names_the_argument(kwargs, error, match):
    args = {"img": IMG, "k": K}
    args.update(kwargs)
    img, k = args.pop("img"), args.pop("k")
    with pytest.raises(error, match=match):
        fastconv.convolve2d(img, k, **args)


def test_ragged_input_is_a_type_error():
    with pytest.raises(TypeError, match="img must be an array of numbers"):
        fastconv.convolve2d([[1, 2], [3]], K)


# --------------------------------------------------------------------------- packaging


def test_import_compiles_nothing():
    """No eager signatures: importing fastconv leaves every kernel uncompiled."""
    import subprocess
    import sys

    code = (
        "import sys, fastconv, numba\n"
        "jitted = [f for name, m in list(sys.modules.items()) if name.startswith('fastconv')\n"
        "          for f in vars(m).values() if isinstance(f, numba.core.registry.CPUDispatcher)]\n"
        "print(len(jitted), sum(len(f.signatures) for f in jitted))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    n_kernels, n_compiled = map(int, out.stdout.split())
    assert n_kernels > 0 and n_compiled == 0


def test_jit_falls_back_when_no_cache_location_is_writable(monkeypatch):
    import numba

    from fastconv import _jit

    real_njit = numba.njit
    calls = []

    def njit(*args, **options):
        calls.append(options.get("cache"))
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return real_njit(*args, **options)

    monkeypatch.setattr(_jit.numba, "njit", njit)

    @_jit.jit()
    def f(x):
        return x + 1

    assert f(1) == 2
    assert calls[:2] == [True, False]  # refused with a cache, then compiled without


@pytest.mark.parametrize("shape", [(15, 15), (6, 9), (7, 5)])
@pytest.mark.parametrize("pad_mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
def test_same_size_separable_float32_calls_take_the_fused_passes(shape, pad_mode, monkeypatch):
    """A float32 call whose output has the image's size and whose kernel is an outer product runs the fused
    row-by-row passes (every pad mode and cval an index map, no padded copy): equal to a float64 loop over
    numpy.pad's image, flipped or not, odd and even kernel sizes."""
    from fastconv import _border, _direct

    taken = []
    original = _direct.same_separable
    monkeypatch.setattr(_direct, "same_separable", lambda *a: taken.append(original(*a) is not None) or original(*a))
    monkeypatch.setattr(_border, "COPY_VALUES", 0)  # every pad mode by pieces, as a large image's call goes
    made = []  # border pieces made: the fused passes need none, so none are made
    pieces = _border.pieces
    monkeypatch.setattr(_border, "pieces", lambda *a: made.append(a) or pieces(*a))
    rng = np.random.default_rng(11)
    x = rng.random((180, 197), dtype=np.float32) - np.float32(0.25)
    kh, kw = shape
    k = np.outer(rng.random(kh) - 0.3, rng.random(kw) - 0.5).astype(np.float32)
    pads = [((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)]
    extra = {"constant_values": 0.75} if pad_mode == "constant" else {}
    xp = np.pad(x.astype(np.float64), pads, mode=pad_mode, **extra)
    for flip in (False, True):
        kk = (k[::-1, ::-1] if flip else k).astype(np.float64)
        want = sum(kk[a, b] * xp[a : a + 180, b : b + 197] for a in range(kh) for b in range(kw))
        got = fastconv.convolve2d(x, k, padding="same", pad_mode=pad_mode, cval=0.75, flip=flip, backend="direct")
        assert got.dtype == np.float32 and got.shape == x.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * float(np.abs(want).max()))
        out = np.empty_like(x)
        call = dict(padding="same", pad_mode=pad_mode, cval=0.75, flip=flip, backend="direct", out=out)
        assert fastconv.convolve2d(x, k, **call) is out
        np.testing.assert_array_equal(out, got)
    assert taken == [True] * 4 and made == []
    # a kernel that is not an outer product: the pieces are made and give the border
    k2 = k + np.eye(kh, kw, dtype=np.float32)
    want = sum(np.float64(k2[a, b]) * xp[a : a + 180, b : b + 197] for a in range(kh) for b in range(kw))
    got = fastconv.convolve2d(x, k2, padding="same", pad_mode=pad_mode, cval=0.75, backend="direct")
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * float(np.abs(want).max()))
    assert taken[-1] is False and len(made) == 1

"""fastconv.conv2d against a plain NumPy loop and against tf.nn.conv2d."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from fastconv import _plan, nhwc
from fastconv._loops import threads as threads_policy
from fastconv.nhwc import BACKENDS, conv2d
from tests.reference import conv2d_loop, same_pads


def random_case(rng):
    """A random (x, w, stride, dilation, padding word) that fits."""
    while True:
        n = int(rng.integers(1, 4))
        h, wd = int(rng.integers(1, 14)), int(rng.integers(1, 14))
        c, f = int(rng.integers(1, 9)), int(rng.integers(1, 13))
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        padding = ("valid", "same")[int(rng.integers(2))]
        if padding == "valid" and (h < dilation[0] * (kh - 1) + 1 or wd < dilation[1] * (kw - 1) + 1):
            continue
        x = rng.standard_normal((n, h, wd, c)).astype(np.float32)
        w = rng.standard_normal((kh, kw, c, f)).astype(np.float32)
        return x, w, stride, dilation, padding


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", range(25))
def test_random_shapes_match_numpy_loop(seed, backend):
    rng = np.random.default_rng(seed)
    x, w, stride, dilation, padding = random_case(rng)
    if padding == "same":
        pad = tuple(same_pads(x.shape[1 + i], w.shape[i], stride[i], dilation[i]) for i in range(2))
    else:
        pad = ((0, 0), (0, 0))
    bias = rng.standard_normal(w.shape[3]).astype(np.float32) if seed % 2 else None
    got = conv2d(x, w, stride, padding, dilation=dilation, bias=bias, backend=backend)
    want = conv2d_loop(x, w, stride, pad, dilation, bias)
    assert got.shape == want.shape
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max(initial=1.0))


@pytest.mark.parametrize("backend", ("auto",) + BACKENDS)
@pytest.mark.parametrize("seed", range(30))
def test_random_shapes_match_tensorflow(seed, backend):
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(100 + seed)
    x, w, stride, dilation, padding = random_case(rng)
    if dilation != (1, 1):
        stride = (1, 1)  # tf.nn.conv2d on CPU refuses strides > 1 together with dilations > 1
    want = tf.nn.conv2d(x, w, strides=stride, padding=padding.upper(), dilations=dilation).numpy()
    got = conv2d(x, w, stride, padding, dilation=dilation, backend=backend)
    assert got.shape == want.shape
    scale = np.abs(want).max(initial=1.0)
    assert np.abs(got - want).max() <= 1e-5 * scale


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "h, c, f, s",
    [(32, 3, 16, 1), (32, 16, 16, 2), (16, 16, 32, 1), (16, 32, 32, 2)],
    ids=["conv1", "conv2", "conv3", "conv4"],
)
def test_seed_stride_model_layers_match_tensorflow(h, c, f, s, backend):
    """The four convolutions of the seed's Part 2(a) network, SAME padding, a batch of 8."""
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(h * c + f + s)
    x = rng.random((8, h, h, c), dtype=np.float32)
    w = (rng.standard_normal((3, 3, c, f)) * 0.2).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32)
    want = tf.nn.bias_add(tf.nn.conv2d(x, w, strides=s, padding="SAME"), b).numpy()
    got = conv2d(x, w, s, "same", bias=b, backend=backend)
    rel = np.abs(got - want).max() / np.abs(want).max()
    assert rel < 1e-5


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("backend", BACKENDS)
def test_blocks_and_threads_sum_the_same(backend, threads, monkeypatch):
    """One output row per im2col block, and the rows shared over 1 or 2 threads: the same sums as the loop."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 11, 9, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 6, 10)).astype(np.float32)
    want = conv2d_loop(x, w, (2, 1), ((1, 1), (0, 1)))
    monkeypatch.setattr(nhwc, "BLOCK_BYTES", 1)  # im2col: one output row per block
    monkeypatch.setattr(threads_policy, "SERIAL_WORK", 0)  # shared among the threads even though small
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        got = conv2d(x, w, (2, 1), ((1, 1), (0, 1)), backend=backend)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# The float32 direct kernel works on register tiles of 6 or 8 output pixels x 8-32 filters (fastconv/_loops/conv2d.py):
# each case below lands on one of its paths.  (N, H, W, C, F, kh, kw, stride, dilation, padding)
TILE_CASES = {
    "rgb-3x3-same": (2, 11, 13, 3, 16, 3, 3, (1, 1), (1, 1), ((1, 1), (1, 1))),  # C=3: the unrolled 27-tap path
    "filters-not-multiple-of-16": (2, 9, 10, 5, 21, 3, 3, (1, 1), (1, 1), ((1, 1), (1, 1))),
    "fewer-filters-than-lanes": (3, 6, 9, 4, 3, 3, 3, (1, 1), (1, 1), ((0, 0), (0, 0))),
    "two-full-filter-blocks-and-a-part": (1, 8, 17, 7, 37, 3, 3, (1, 1), (1, 1), ((1, 1), (1, 1))),
    "tiny-image": (2, 1, 2, 3, 5, 3, 3, (1, 1), (1, 1), ((1, 1), (1, 1))),
    "one-pixel-out": (1, 3, 3, 6, 17, 3, 3, (1, 1), (1, 1), ((0, 0), (0, 0))),
    "padding-on-every-side": (2, 7, 9, 4, 18, 3, 4, (1, 1), (1, 1), ((2, 1), (3, 2))),
    "pad-wider-than-kernel": (1, 5, 5, 2, 16, 2, 2, (1, 1), (1, 1), ((3, 3), (4, 4))),
    "batch-1-rows-in-blocks": (1, 23, 19, 8, 16, 3, 3, (1, 1), (1, 1), ((1, 1), (1, 1))),
    "in-place-no-padding": (2, 12, 10, 6, 32, 3, 3, (1, 1), (1, 1), ((0, 0), (0, 0))),  # OW = 8: no copy
    "stride-2-odd-width": (2, 15, 17, 5, 16, 3, 3, (2, 2), (1, 1), ((0, 1), (0, 1))),
    "stride-3-by-1": (2, 14, 26, 3, 9, 2, 3, (3, 1), (1, 1), ((1, 0), (1, 1))),
    "column-dilation": (2, 9, 21, 4, 16, 3, 3, (1, 2), (2, 3), ((1, 2), (3, 3))),  # dw > 1: tap by tap
    # wide rows: left-strip tiles from a padded copy, interior tiles in place, right-strip tiles from a copy
    "wide-row-strips-and-interior": (1, 5, 61, 3, 16, 3, 3, (1, 1), (1, 1), ((1, 1), (2, 2))),
    "wide-row-stride-2-right-strip": (2, 6, 64, 4, 8, 3, 3, (2, 2), (1, 1), ((0, 1), (0, 1))),
    "1x1-kernel": (2, 5, 9, 24, 40, 1, 1, (1, 1), (1, 1), ((0, 0), (0, 0))),
    "5x5-kernel-one-channel": (2, 12, 12, 1, 16, 5, 5, (1, 1), (1, 1), ((2, 2), (2, 2))),
}


@pytest.mark.parametrize("tile", [(8, 2, 4), (16, 2, 8), (16, 1, 8)], ids=["4x16", "8x32", "8x16"])
@pytest.mark.parametrize("relu", [False, True], ids=["linear", "relu"])
@pytest.mark.parametrize("case", list(TILE_CASES))
def test_direct_tile_paths_match_numpy_loop(case, relu, tile, monkeypatch):
    """Every tile kernel of the float32 direct path, with bias (and ReLU), against the NumPy loop.

    ``tile`` is the kernel's (lanes, vectors, pixels): AVX2's 4 pixels x 16 filters in 8-lane
    vectors, AVX-512's 8 x 32 and 8 x 16 in 16-lane vectors; all compile and run on any x86-64 CPU
    (a 16-lane vector is two 8-lane ones where the CPU has no wider registers).
    """
    monkeypatch.setattr(nhwc, "_tile_shape", lambda F: tile)
    n, h, wd, c, f, kh, kw, stride, dilation, pad = TILE_CASES[case]
    rng = np.random.default_rng(sum(map(ord, case)))
    x = rng.standard_normal((n, h, wd, c)).astype(np.float32)
    w = rng.standard_normal((kh, kw, c, f)).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32)
    want = conv2d_loop(x, w, stride, pad, dilation, bias=b)
    if relu:
        want = np.maximum(want, 0)
    got = nhwc._compute(_plan.conv(x, w, stride, pad, dilation, b), relu, "direct")
    assert got.shape == want.shape
    # the same layer through a Filters bank, its weights packed once for the tile
    again = nhwc.Filters(w, b)(x, stride, pad, dilation=dilation, relu=relu)
    np.testing.assert_allclose(again, want, rtol=1e-5, atol=1e-5 * np.abs(want).max(initial=1.0))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max(initial=1.0))


@pytest.mark.parametrize("case", ["rgb-3x3-same", "filters-not-multiple-of-16", "stride-2-odd-width"])
def test_direct_tile_paths_match_tensorflow(case):
    """The same tile paths against tf.nn.conv2d (explicit padding), at TensorFlow's 1e-5 relative agreement."""
    tf = pytest.importorskip("tensorflow")
    n, h, wd, c, f, kh, kw, stride, dilation, pad = TILE_CASES[case]
    rng = np.random.default_rng(sum(map(ord, case)) + 1)
    x = rng.random((n, h, wd, c), dtype=np.float32)
    w = rng.standard_normal((kh, kw, c, f)).astype(np.float32)
    want = tf.nn.conv2d(x, w, strides=stride, padding=[[0, 0], list(pad[0]), list(pad[1]), [0, 0]]).numpy()
    got = conv2d(x, w, stride, pad, backend="direct")
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


def test_direct_tiles_keep_nan_and_inf():
    """FMA contraction only: a NaN or inf in the input reaches exactly the outputs whose windows hold it."""
    x = np.ones((1, 6, 10, 3), np.float32)
    x[0, 2, 4, 1] = np.nan
    x[0, 5, 9, 0] = np.inf
    w = np.ones((3, 3, 3, 4), np.float32)
    got = conv2d(x, w, 1, "same", backend="direct")
    want = conv2d_loop(x, w, (1, 1), ((1, 1), (1, 1)))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))


@pytest.mark.parametrize(
    "padding, pad",
    [
        (0, ((0, 0), (0, 0))),
        (2, ((2, 2), (2, 2))),
        ((1, 3), ((1, 1), (3, 3))),
        (((0, 2), (3, 1)), ((0, 2), (3, 1))),
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_explicit_padding_forms(padding, pad, backend):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 7, 4)).astype(np.float32)
    w = rng.standard_normal((3, 3, 4, 5)).astype(np.float32)
    got = conv2d(x, w, (1, 2), padding, backend=backend)
    np.testing.assert_allclose(got, conv2d_loop(x, w, (1, 2), pad), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_in_float64_out(backend):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 7, 7, 3))
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    got = conv2d(x, w, 2, "same", backend=backend)
    assert got.dtype == np.float64
    pad = (same_pads(7, 3, 2, 1),) * 2
    np.testing.assert_allclose(got, conv2d_loop(x, w, (2, 2), pad), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", ("auto",) + BACKENDS)
def test_integers_are_exact(backend):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, size=(2, 6, 5, 3), dtype=np.uint8)
    w = rng.integers(-(2**20), 2**20, size=(2, 3, 3, 4))
    b = rng.integers(-5, 5, size=4)
    got = conv2d(x, w, 1, "same", bias=b, backend=backend)
    assert got.dtype == np.int64
    pad = (same_pads(6, 2, 1, 1), same_pads(5, 3, 1, 1))
    np.testing.assert_array_equal(got, conv2d_loop(x, w, (1, 1), pad, bias=b))


def test_any_memory_layout():
    rng = np.random.default_rng(6)
    base = rng.standard_normal((4, 9, 8, 5)).astype(np.float32)
    x = np.transpose(base, (0, 2, 1, 3))[::2]  # not contiguous
    w = np.asfortranarray(rng.standard_normal((2, 2, 5, 3)).astype(">f4"))
    got = conv2d(x, w)
    np.testing.assert_allclose(got, conv2d_loop(np.ascontiguousarray(x), w.astype(np.float32)), rtol=1e-5, atol=1e-5)


def test_lists_are_accepted():
    got = conv2d([[[[1.0], [2.0]], [[3.0], [4.0]]]], [[[[1.0]]]], bias=[0.5])
    assert got.shape == (1, 2, 2, 1)
    assert got.ravel().tolist() == [1.5, 2.5, 3.5, 4.5]


# ---------------------------------------------------------------------------------------------
# Bad input


def test_channel_mismatch_names_both_shapes():
    x = np.zeros((2, 8, 8, 3), np.float32)
    w = np.zeros((3, 3, 4, 16), np.float32)
    with pytest.raises(ValueError, match=r"x of shape \(2, 8, 8, 3\).*w of shape \(3, 3, 4, 16\)"):
        conv2d(x, w)


@pytest.mark.parametrize(
    "xs, ws", [((8, 8, 3), (3, 3, 3, 16)), ((2, 8, 8, 3), (3, 3, 3)), ((1, 2, 8, 8, 3), (3, 3, 3, 1))]
)
def test_wrong_ndim_names_both_shapes(xs, ws):
    with pytest.raises(ValueError, match=rf"got x of shape \({', '.join(map(str, xs))},?\) and w of shape"):
        conv2d(np.zeros(xs, np.float32), np.zeros(ws, np.float32))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"stride": 0}, ValueError, r"stride must be >= 1, got 0"),
        ({"stride": 1.5}, TypeError, r"stride must be an int"),
        ({"dilation": (1, 0)}, ValueError, r"dilation must be >= 1, got \(1, 0\)"),
        ({"padding": "fullest"}, ValueError, r"padding must be .* got 'fullest'"),
        ({"padding": -1}, ValueError, r"padding must be >= 0, got -1"),
        ({"backend": "fft"}, ValueError, r"backend must be one of 'auto', 'im2col', 'direct'; got 'fft'"),
        ({"bias": np.zeros(3)}, ValueError, r"bias must have shape \(F,\) = \(4,\) .* got \(3,\)"),
        ({"bias": np.zeros((4, 1))}, ValueError, r"bias must be 1-D, got 2-D"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    x = np.zeros((1, 5, 5, 2), np.float32)
    w = np.zeros((3, 3, 2, 4), np.float32)
    with pytest.raises(error, match=message):
        conv2d(x, w, **kwargs)


def test_filter_larger_than_padded_image():
    with pytest.raises(ValueError, match=r"w of shape \(5, 5\) .* larger than the padded image \(4, 4\)"):
        conv2d(np.zeros((1, 4, 4, 1)), np.zeros((5, 5, 1, 1)))


def test_complex_and_empty_inputs():
    with pytest.raises(TypeError, match="x must have a bool, integer or real float dtype"):
        conv2d(np.zeros((1, 3, 3, 1), complex), np.zeros((1, 1, 1, 1)))
    with pytest.raises(ValueError, match=r"x must not be empty, got shape \(0, 3, 3, 1\)"):
        conv2d(np.zeros((0, 3, 3, 1)), np.zeros((1, 1, 1, 1)))


def test_blas_thread_count_is_restored():
    """conv2d runs BLAS on one thread per block, and leaves the caller's BLAS settings as they were."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    x = np.ones((64, 12, 12, 8), np.float32)
    w = np.ones((3, 3, 8, 8), np.float32)
    conv2d(x, w, padding="same", backend="im2col")  # load every library first

    def blas_threads():
        return sorted(
            (i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        )

    before = blas_threads()
    assert before, "no BLAS library found"
    conv2d(x, w, padding="same", backend="im2col")
    assert blas_threads() == before


def maxpool_loop(x, pool, stride, pad):
    """Reference max pooling: windows clipped to the image (padding never counts), NumPy max per window."""
    n, h, wd, c = x.shape
    (pt, pb), (pl, pr) = pad
    oh = (h + pt + pb - pool[0]) // stride[0] + 1
    ow = (wd + pl + pr - pool[1]) // stride[1] + 1
    out = np.empty((n, oh, ow, c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * stride[0] - pt, j * stride[1] - pl
            win = x[:, max(y0, 0) : y0 + pool[0], max(x0, 0) : x0 + pool[1]]
            out[:, i, j] = win.max(axis=(1, 2))
    return out


@pytest.mark.parametrize(
    "shape, pool, stride, padding, pad",
    [
        ((3, 8, 8, 16), (2, 2), (2, 2), "valid", ((0, 0), (0, 0))),  # the maxpool network's pooling
        ((2, 7, 9, 13), (3, 3), (2, 2), "valid", ((0, 0), (0, 0))),  # 8 channels in a vector, 5 one by one
        ((2, 7, 9, 5), (3, 3), (2, 2), "same", ((1, 1), (1, 1))),  # channels only one by one; windows clipped
        ((1, 5, 6, 24), (2, 3), (1, 2), "same", ((0, 1), (0, 1))),
    ],
)
def test_maxpool_layer_matches_numpy(shape, pool, stride, padding, pad):
    from fastconv.nn.layers import MaxPooling2D

    x = np.random.default_rng(len(shape) + shape[-1]).standard_normal(shape).astype(np.float32)
    got = MaxPooling2D("p", pool_size=pool, strides=stride, padding=padding)(x)
    np.testing.assert_array_equal(got, maxpool_loop(x, pool, stride, pad))


def test_a_huge_dilation_in_the_tile_kernel_matches_im2col():
    """dilation 50000 with "same" padding: only the centre tap lands in the image; no buffer of the window's span."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 9, 11, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 16)).astype(np.float32)
    got = conv2d(x, w, padding="same", dilation=50000, backend="direct")
    want = conv2d(x, w, padding="same", dilation=50000, backend="im2col")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, np.einsum("nhwc,cf->nhwf", x, w[1, 1]), rtol=1e-5, atol=1e-5)

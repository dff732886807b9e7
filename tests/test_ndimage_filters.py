"""fastconv.ndimage's separable filters and fastconv.signal's FFT convolutions against scipy itself.

Every function fastconv computes, on small arrays, over float32/float64/uint8/int16 inputs, every
scipy.ndimage mode, origins, 1-D/2-D/3-D: float64 results within 1e-12 relative, float32 within 1e-5 of
max |result|, integer results identical (fastconv's passes make scipy's float64 sums in scipy's order and
truncate as scipy does, so the float results are in fact identical too).  The reference is scipy's
result for the same call; nothing here is read off fastconv's own output.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

pytest.importorskip("scipy")
import scipy.ndimage  # noqa: E402
import scipy.signal  # noqa: E402

import fastconv  # noqa: E402
from fastconv import _direct  # noqa: E402
from fastconv import ndimage as fn  # noqa: E402
from fastconv import signal as fs  # noqa: E402
from fastconv._nd import CALLS  # noqa: E402

MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-wrap", "grid-constant", "grid-mirror"]
SHAPES = [(19,), (9, 12), (5, 6, 7)]
DTYPES = [np.float64, np.float32, np.uint8, np.int16]


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        return rng.integers(0, 256, shape).astype(np.uint8)
    if dtype == np.int16:
        return rng.integers(-300, 300, shape).astype(np.int16)
    return (rng.standard_normal(shape) * 10).astype(dtype)


def assert_like_scipy(ours, theirs):
    """The grid's tolerance: integers identical, float64 within 1e-12 relative, float32 within 1e-5 of max |result|."""
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    if theirs.dtype.kind in "iub":
        assert_array_equal(ours, theirs)
        return
    scale = float(np.nanmax(np.abs(theirs))) if theirs.size and np.isfinite(theirs).any() else 1.0
    if theirs.dtype == np.float32:
        assert_allclose(ours, theirs, rtol=0, atol=1e-5 * max(scale, 1e-30), equal_nan=True)
    else:
        assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12 * max(scale, 1e-300), equal_nan=True)


# (name, positional arguments, keyword variants): each variant runs over every mode and shape.
CASES = [
    ("gaussian_filter", (1.3,), [{}, {"order": 1}, {"truncate": 2.0}, {"radius": 2, "order": [0, 2, 1]}]),
    ("gaussian_filter1d", (0.9,), [{}, {"axis": 0, "order": 2}, {"radius": 3, "order": 1}]),
    ("uniform_filter", (3,), [{}, {"origin": 1}, {"origin": -1, "size": 4}, {"size": [2, 5, 1]}]),
    ("uniform_filter1d", (4,), [{}, {"origin": -2, "axis": 0}, {"origin": 1}]),
    ("sobel", (), [{}, {"axis": 0}]),
    ("prewitt", (), [{}, {"axis": 0}]),
    ("laplace", (), [{}]),
    ("gaussian_laplace", (1.1,), [{}]),
    ("gaussian_gradient_magnitude", (0.8,), [{}]),
    ("correlate1d", ([0.5, -2.0, 1.25],), [{}, {"origin": 1}, {"origin": -1, "axis": 0}]),
    ("convolve1d", ([0.25, 1.0, 0.5, 2.0],), [{}, {"origin": 1, "axis": 0}]),
]


def _variant(kwargs, ndim):
    """``kwargs`` trimmed to ``ndim`` axes (sequences per axis)."""
    out = {}
    for key, value in kwargs.items():
        out[key] = value[:ndim] if isinstance(value, list) else value
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name, args, variants", CASES, ids=[c[0] for c in CASES])
def test_grid_equals_scipy(name, args, variants, dtype):
    ours, theirs = getattr(fn, name), getattr(scipy.ndimage, name)
    before = CALLS[f"ndimage.{name}", "fastconv"]
    checked = 0
    for shape in SHAPES:
        x = _data(shape, dtype)
        for kwargs in variants:
            kw = _variant(kwargs, len(shape))
            for mode in MODES:
                for output in (None, np.float64):
                    try:
                        expected = theirs(x, *args, mode=mode, cval=2.5, output=output, **kw)
                    except Exception as exc:  # noqa: BLE001 - the same refusal is expected of fastconv
                        with pytest.raises(type(exc)):
                            ours(x, *args, mode=mode, cval=2.5, output=output, **kw)
                        continue
                    got = ours(x, *args, mode=mode, cval=2.5, output=output, **kw)
                    assert_like_scipy(got, expected)
                    checked += 1
    assert checked >= 40
    # most of these ran on fastconv (integer results out of the dtype's range go to scipy)
    assert CALLS[f"ndimage.{name}", "fastconv"] - before >= checked // 3


@pytest.mark.parametrize("name", ["gaussian_filter", "uniform_filter", "sobel", "laplace", "gaussian_laplace"])
def test_output_array_axes_and_in_place(name):
    args = {"gaussian_filter": (1.0,), "uniform_filter": (3,), "gaussian_laplace": (1.0,)}.get(name, ())
    x = _data((8, 9, 10), np.float32, seed=3)
    ours, theirs = getattr(fn, name), getattr(scipy.ndimage, name)
    kw = {} if name == "sobel" else {"axes": (0, 2)}
    out_ours, out_theirs = np.zeros(x.shape, np.float64), np.zeros(x.shape, np.float64)
    assert ours(x, *args, output=out_ours, **kw) is out_ours
    theirs(x, *args, output=out_theirs, **kw)
    assert_like_scipy(out_ours, out_theirs)
    # the output array is the input itself, and a non-contiguous output
    a, b = x.copy(), x.copy()
    ours(a, *args, output=a, **kw)
    theirs(b, *args, output=b, **kw)
    assert_like_scipy(a, b)
    strided = np.zeros((8, 9, 20), np.float32)[:, :, ::2]
    ours(x, *args, output=strided, **kw)
    assert_like_scipy(strided, theirs(x, *args, **kw))


def test_integer_rounding_is_scipys(one_thread):
    # issue 34 item 5: scipy sums in float64 in its own order and truncates; 1/3 + 5/3 is 1.999... there
    x = np.array([0, 1, 5], np.uint8)
    assert_array_equal(fn.correlate1d(x, np.ones(3) / 3, mode="constant"), [0, 1, 1])
    img = _data((512, 512), np.uint8, seed=5)
    box = np.ones((3, 3)) / 9
    assert_array_equal(fn.correlate(img, box), scipy.ndimage.correlate(img, box))
    assert_array_equal(fn.uniform_filter(img, 3), scipy.ndimage.uniform_filter(img, 3))
    assert_array_equal(fn.gaussian_filter(img, 2), scipy.ndimage.gaussian_filter(img, 2))
    # a symmetric kernel: scipy sums each pair of taps before one multiply (8 here; in tap order 7.999...)
    pair = np.array([17, 18, 4, 4, 3], np.uint8)
    w = [0.1, 0.2, 0.4, 0.2, 0.1]
    expected = scipy.ndimage.correlate1d(pair, w, mode="constant")
    assert expected[2] == 8
    assert_array_equal(fn.correlate1d(pair, w, mode="constant"), expected)
    column = np.repeat(pair[:, None], 3, axis=1)  # the same along the first axis (the other loop)
    assert_array_equal(fn.correlate1d(column, w, axis=0, mode="constant"), expected[:, None].repeat(3, axis=1))
    # 2-D integer images: both passes fused per row (fastconv/_loops/sep2d.py, exact_rows), each truncated
    i16 = _data((150, 97), np.int16, seed=6)
    assert_array_equal(fn.sobel(i16), scipy.ndimage.sobel(i16))
    assert_array_equal(
        fn.gaussian_filter(i16, 1.5, order=(0, 1)), scipy.ndimage.gaussian_filter(i16, 1.5, order=(0, 1))
    )
    kw = {"mode": "constant", "cval": 3}
    assert_array_equal(fn.gaussian_filter(img, (1, 3), **kw), scipy.ndimage.gaussian_filter(img, (1, 3), **kw))
    neg = np.array([0, -3, 0, -1], np.int16)  # toward zero, not down
    assert_array_equal(fn.correlate1d(neg, [0.5, 0, 0], mode="constant"), [0, 0, -1, 0])


def test_out_of_range_integers_go_to_scipy():
    x = np.array([[0, 10, 200, 255]] * 3, np.uint8)
    before = CALLS["ndimage.sobel", "scipy"]
    assert_array_equal(fn.sobel(x), scipy.ndimage.sobel(x))  # negative differences: scipy's C cast
    assert CALLS["ndimage.sobel", "scipy"] == before + 1


@pytest.mark.parametrize("cval", [np.nan, np.inf, -np.inf])
def test_integer_input_with_non_finite_cval(cval):
    # issue 34 item 6: scipy returns an array; so does fastconv (the same one)
    x = np.arange(20, dtype=np.int16).reshape(4, 5)
    for f in ("correlate", "convolve"):
        got = getattr(fn, f)(x, np.ones((3, 3)), mode="constant", cval=cval)
        assert_array_equal(got, getattr(scipy.ndimage, f)(x, np.ones((3, 3)), mode="constant", cval=cval))
    assert_array_equal(
        fn.gaussian_filter(x.astype(float), 1, mode="constant", cval=cval),
        scipy.ndimage.gaussian_filter(x.astype(float), 1, mode="constant", cval=cval),
    )


@pytest.mark.parametrize(
    "x, w, mode",
    [
        (np.ones(4), [1, np.nan, 1], "reflect"),  # scipy skips a NaN weight: 2.0
        (np.array([1e30, 1.0, 1e30, 2.0]), [1e-17, 1.0, 1e-17], "reflect"),  # and weights below epsilon
        (np.ones(4), [np.inf, 1, 1], "constant"),  # inf * 0 over the padding: NaN
        (np.ones((4, 4)), np.full((3, 3), np.inf), "constant"),
        (np.ones((6, 6), np.float32), np.full((3, 3), -np.inf), "nearest"),
    ],
)
def test_non_finite_and_tiny_weights_as_scipy(x, w, mode):
    # issue 34 item 13
    w = np.asarray(w, dtype=float).reshape((-1,) * 1 if x.ndim == 1 else np.shape(w))
    assert_array_equal(fn.correlate(x, w, mode=mode), scipy.ndimage.correlate(x, w, mode=mode))
    assert_array_equal(fn.convolve(x, w, mode=mode), scipy.ndimage.convolve(x, w, mode=mode))


@pytest.mark.parametrize("dtype, big", [(np.float32, 1e38), (np.float64, 1e308)])
@pytest.mark.parametrize("k", [5, 15, 31])
def test_separable_path_does_not_overflow(dtype, big, k, one_thread):
    # issue 34 item 3: the factors of a box once made the row pass overflow (inf) where the result is finite
    x = np.full((240, 250), big, dtype)
    w = np.full((k, k), 1 / k**2, dtype)
    out = np.empty((1, 241 - k, 251 - k), dtype)
    # the passes are tried above a size only (fastconv._separable.MIN_WORK): this call is above it for
    # every k (a 120x130 image was not, for k=5) and takes them, on one thread
    assert _direct.prepare(x[None], w, 1, 1, 1, 1, 0, 0, out)[0] is _direct._direct_separable
    naive = fastconv.convolve2d(x[: k + 2, : k + 2], w, backend="naive")
    got = fastconv.convolve2d(x, w, backend="direct")
    assert np.isfinite(got).all()
    assert_allclose(got[0, 0], naive[0, 0], rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert np.isfinite(fn.correlate(x.astype(np.float64), w.astype(np.float64))).all()
    vol = np.full((12, 13, 14), big, dtype)
    res = fn.correlate(vol, np.full((3, 5, 5), 1 / 75, dtype))
    assert np.isfinite(res).all()
    assert_allclose(res[6, 6, 6], big, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("big", [1e38, 3e38])
def test_fused_passes_near_the_float32_range(big):
    # float32 images near the largest float32: the fused passes of gaussian_filter and sobel stay finite
    # where the result's bound (max |x| times the sum of |weights|: 1, and 8 for sobel) and each pair of
    # taps summed as scipy sums it (up to 1.7e38 a value) do, as scipy's float64 passes do; convolve2d's
    # same-size separable call, whose pairs are two multiply-adds, up to the largest float32
    x = np.full((60, 70), big, np.float32)
    x[::7] = big / 3
    drop_ins = [("gaussian_filter", (2.0,), 1), ("gaussian_filter", (1.0,), 1), ("sobel", (), 8)]
    for name, args, scale in drop_ins if big < 1.7e38 else []:
        want = getattr(scipy.ndimage, name)(x / np.float32(scale), *args)
        got = getattr(fn, name)(x / np.float32(scale), *args)
        assert np.isfinite(got).all(), name
        assert_allclose(got, want, rtol=0, atol=1e-5 * float(np.abs(want).max()), err_msg=name)
    g = np.exp(-0.5 * (np.arange(-7, 8) / 2.5) ** 2)
    g15 = np.outer(g, g / g.sum()).astype(np.float32) / np.float32(g.sum())
    got = fastconv.convolve2d(np.tile(x, (4, 4)), g15, padding="same", pad_mode="reflect")
    want = scipy.ndimage.correlate(np.tile(x, (4, 4)).astype(np.float64), g15.astype(np.float64), mode="mirror")
    assert np.isfinite(got).all()
    assert_allclose(got, want, rtol=1e-5)


def test_complex_and_what_scipy_refuses():
    z = _data((6, 7), np.float64) + 1j
    before = CALLS["ndimage.gaussian_filter", "scipy"]
    assert_array_equal(fn.gaussian_filter(z, 1), scipy.ndimage.gaussian_filter(z, 1))
    assert CALLS["ndimage.gaussian_filter", "scipy"] == before + 1
    x = _data((6, 7), np.float32)
    refusals = [
        (fn.gaussian_filter, (x, [1, 2, 3]), {}),
        (fn.gaussian_filter, (x, 1), {"mode": "bogus"}),
        (fn.gaussian_filter1d, (x, 1), {"order": -1}),
        (fn.gaussian_filter1d, (x, 1), {"radius": -2}),
        (fn.uniform_filter1d, (x, 0), {}),
        (fn.uniform_filter1d, (x, 3), {"origin": 2}),
        (fn.uniform_filter, (x, 3), {"axes": (0, 0)}),
        (fn.sobel, (x,), {"axis": 2}),
        (fn.correlate1d, (x, []), {}),
        (fn.laplace, (x,), {"output": np.zeros((2, 2))}),
    ]
    for f, args, kw in refusals:
        with pytest.raises(Exception) as theirs:
            getattr(scipy.ndimage, f.__name__)(*args, **kw)
        with pytest.raises(theirs.type):
            f(*args, **kw)


def test_generic_filters_with_other_callables():
    x = _data((7, 8), np.float64)

    def d2(a, axis, output, mode, cval):
        return scipy.ndimage.correlate1d(a, [1, -2, 1], axis, output, mode, cval)

    assert_array_equal(fn.generic_laplace(x, d2), scipy.ndimage.generic_laplace(x, d2))
    assert_array_equal(
        fn.generic_gradient_magnitude(x, fn.sobel), scipy.ndimage.generic_gradient_magnitude(x, scipy.ndimage.sobel)
    )


def test_the_whole_namespace():
    for module, theirs in [(fn, scipy.ndimage), (fs, scipy.signal)]:
        names = dir(module)
        for name in theirs.__all__:
            assert name in names, name
            obj = getattr(module, name)
            if name not in module.COMPUTED:
                assert obj is getattr(theirs, name), name
        assert set(module.HANDED_TO_SCIPY) | set(module.COMPUTED) >= set(theirs.__all__)
        with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
            module.not_a_name  # noqa: B018
    from fastconv.ndimage import label, median_filter  # noqa: F401  (handed over: importable)
    from fastconv.signal import butter  # noqa: F401


@pytest.mark.parametrize("name", ["fftconvolve", "oaconvolve"])
def test_fft_convolutions_equal_scipy(name):
    ours, theirs = getattr(fs, name), getattr(scipy.signal, name)
    before = CALLS[f"signal.{name}", "fastconv"]
    for s1, s2 in [((60,), (7,)), ((30, 41), (5, 6)), ((8, 9, 10), (3, 4, 2)), ((5,), (9,)), ((20, 20), (25, 25))]:
        for d1, d2 in [("f8", "f8"), ("f4", "f4"), ("i2", "u1"), ("f4", "i1")]:
            a, b = _data(s1, np.dtype(d1), 1), _data(s2, np.dtype(d2), 2)
            for mode in ("full", "same", "valid"):
                expected = theirs(a, b, mode)
                got = ours(a, b, mode)
                assert got.dtype == expected.dtype and got.shape == expected.shape
                # against the exact (direct, float64) convolution: scipy transforms a float32 input in
                # single precision even when the other is an integer, fastconv in the result's precision
                expected = scipy.signal.convolve(a.astype(float), b.astype(float), mode, method="direct")
                scale = max(float(np.abs(expected).max()), 1.0)
                tol = 1e-5 if got.dtype == np.float32 else 1e-12
                assert_allclose(got, expected, rtol=0, atol=tol * scale)
    assert CALLS[f"signal.{name}", "fastconv"] - before == 5 * 4 * 3
    with pytest.raises(ValueError):
        ours(np.ones((3, 5)), np.ones((5, 3)), "valid")
    z = np.ones(5) + 1j
    assert_allclose(ours(z, np.ones(3)), theirs(z, np.ones(3)))
    # scipy multiplies along axes of length 1 (an integer result), and spreads NaN over the whole result
    one = ours(np.array([4967]), np.array([3920]))
    assert one.dtype == theirs(np.array([4967]), np.array([3920])).dtype and one[0] == 4967 * 3920
    nan = np.ones(300)
    nan[100] = np.nan
    assert_array_equal(ours(nan, np.ones(7)), theirs(nan, np.ones(7)))


@pytest.mark.parametrize("mode", MODES)
def test_fused_float32_2d_passes(mode):
    # float32 in and out, 2-D: the fused row-by-row loops (fastconv/_loops/sep2d.py), over several of
    # their row blocks (16 rows, 64 for the box), against scipy's float64 passes within float32 rounding
    x = _data((150, 97), np.float32, seed=7)
    calls = [
        ("gaussian_filter", (1.0,), {}),
        ("gaussian_filter", (3.0,), {}),
        ("gaussian_filter", (1.5,), {"order": (1, 0)}),
        ("uniform_filter", (15,), {}),
        ("uniform_filter", ((4, 7),), {"origin": (1, -3)}),
        ("uniform_filter", ((70, 5),), {}),
        ("sobel", (), {"axis": 0}),
        ("sobel", (), {"axis": 1}),
        ("prewitt", (), {}),
        ("laplace", (), {}),
    ]
    for name, args, kw in calls:
        expected = getattr(scipy.ndimage, name)(x, *args, mode=mode, cval=0.5, **kw)
        got = getattr(fn, name)(x, *args, mode=mode, cval=0.5, **kw)
        assert got.dtype == np.float32
        assert_allclose(got, expected, rtol=0, atol=1e-5 * float(np.abs(expected).max()), err_msg=name)
    modes = [mode, "wrap"]  # one mode per axis
    assert_allclose(fn.laplace(x, mode=modes), scipy.ndimage.laplace(x, mode=modes), rtol=0, atol=1e-4)
    assert_allclose(fn.sobel(x, mode=modes), scipy.ndimage.sobel(x, mode=modes), rtol=0, atol=1e-3)


@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
def test_float32_passes_along_one_axis_are_fused(mode, monkeypatch):
    # float32 in and out, 2-D, filtered along one axis: the fused loops with a pass of one tap of weight 1
    # along the other axis (a box of 1 beside a box), against scipy within float32 rounding
    from fastconv import _nd

    fused = []
    real = _nd._fused_2d
    monkeypatch.setattr(_nd, "_fused_2d", lambda x, f, c, o: fused.append(len(f)) or real(x, f, c, o))
    x = _data((150, 97), np.float32, seed=8)
    calls = [
        ("gaussian_filter1d", (2.0,), {"axis": 0}),
        ("gaussian_filter1d", (1.5,), {"axis": 1, "order": 1}),
        ("gaussian_filter", ((0.0, 3.0),), {}),
        ("uniform_filter1d", (9,), {"axis": 0, "origin": 2}),
        ("uniform_filter", ((1, 15),), {}),
        ("uniform_filter", ((70, 1),), {}),
        ("correlate1d", (np.array([0.5, -2.0, 1.0, 3.0]),), {"axis": 1}),
    ]
    for name, args, kw in calls:
        expected = getattr(scipy.ndimage, name)(x, *args, mode=mode, cval=0.5, **kw)
        got = getattr(fn, name)(x, *args, mode=mode, cval=0.5, **kw)
        assert got.dtype == np.float32
        assert_allclose(got, expected, rtol=0, atol=1e-5 * float(np.abs(expected).max()), err_msg=name)
    assert fused == [2] * len(calls)


@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
def test_fewer_axes_run_the_fused_loops(mode, monkeypatch):
    # A float32 volume filtered along one or two axes in axis order: the fused volume loop (a pass of one tap
    # of weight 1 along each other axis), within float32 rounding of scipy; a 2-D integer image filtered
    # along rows alone: the fused exact loop, scipy's integers exactly; along columns alone: the one-axis loop
    from fastconv._loops import sep2d, separable, threads

    kernels = []
    real = threads.run
    monkeypatch.setattr(threads, "run", lambda k, *a: kernels.append(k) or real(k, *a))
    v = _data((6, 21, 19), np.float32, seed=9)
    calls = [
        ("gaussian_filter", (1.5,), {"axes": (1, 2)}),
        ("gaussian_filter", ((2.0, 1.0),), {"axes": (0, 2)}),
        ("gaussian_filter1d", (1.0,), {"axis": 0}),
        ("uniform_filter1d", (4,), {"axis": 2, "origin": -1}),
        ("uniform_filter", ((1, 5, 3),), {}),
        ("correlate1d", (np.array([2.0, -1.0, 0.5]),), {"axis": 1}),
    ]
    for name, args, kw in calls:
        expected = getattr(scipy.ndimage, name)(v, *args, mode=mode, cval=0.5, **kw)
        got = getattr(fn, name)(v, *args, mode=mode, cval=0.5, **kw)
        assert_allclose(got, expected, rtol=0, atol=1e-5 * float(np.abs(expected).max()), err_msg=name)
    assert kernels == [sep2d.fused_volume] * len(calls)
    kernels.clear()
    for dtype in (np.uint8, np.int16):
        x = _data((40, 33), dtype, seed=10)
        for axis in (1, 0):
            got = fn.gaussian_filter1d(x, 1.5, axis=axis, mode=mode, cval=3)
            assert_array_equal(got, scipy.ndimage.gaussian_filter1d(x, 1.5, axis=axis, mode=mode, cval=3))
    assert kernels == [sep2d.exact_rows, separable.pass_middle] * 2


@pytest.mark.parametrize("width", [7, 90, 97])
def test_fused_box_rows_of_every_length(width):
    # the box's row sums: value by value for up to BOX_DIRECT_TAPS values (32 outputs at a time, then 8,
    # then one by one: widths 7, 90 = 64 + 16 + 10 and 97 = 96 + 1 take every part), from sums of powers of
    # two above
    from fastconv._loops.sep2d import BOX_DIRECT_TAPS

    x = _data((70, width), np.float32, seed=9)
    for k1 in (1, 2, 8, BOX_DIRECT_TAPS, BOX_DIRECT_TAPS + 1, 40):
        for mode in ("reflect", "constant"):
            expected = scipy.ndimage.uniform_filter(x, (5, k1), mode=mode, cval=0.5)
            got = fn.uniform_filter(x, (5, k1), mode=mode, cval=0.5)
            assert got.dtype == np.float32
            assert_allclose(got, expected, rtol=0, atol=1e-5 * float(np.abs(expected).max()), err_msg=f"{k1} {mode}")


@pytest.mark.parametrize("mode", ["reflect", "constant", "mirror", "wrap"])
def test_fused_float32_3d_passes(mode, monkeypatch):
    # float32 volumes filtered along all three axes in order, one output slice at a time: the pass along
    # axis 0 into a slice of partial sums, then the fused passes of that slice (sep2d.fused_volume)
    from fastconv import _nd

    taken = []
    original = _nd._fused_volume
    monkeypatch.setattr(_nd, "_fused_volume", lambda *a: taken.append(original(*a)) or taken[-1])
    v = _data((6, 40, 33), np.float32, seed=8)
    for name, args, kw in [
        ("gaussian_filter", (2.0,), {}),
        ("gaussian_filter", ((1.0, 0.7, 1.3),), {"order": (1, 0, 2)}),
        ("uniform_filter", ((3, 5, 4),), {"origin": (1, 0, -2)}),
        ("sobel", (), {"axis": 0}),
        ("prewitt", (), {"axis": 0}),
    ]:
        expected = getattr(scipy.ndimage, name)(v, *args, mode=mode, cval=-1.5, **kw)
        got = getattr(fn, name)(v, *args, mode=mode, cval=-1.5, **kw)
        assert_allclose(got, expected, rtol=0, atol=1e-5 * float(np.abs(expected).max()), err_msg=name)
    assert taken == [True] * 5

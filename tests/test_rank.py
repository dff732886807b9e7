"""fastconv's rank filters against scipy.ndimage / scipy.signal: identical values on a grid of cases.

Every case is compared with scipy's own function called on the same arguments (an independent
implementation: scipy sorts or selects in each window in C) and with a count in
:data:`fastconv._nd.CALLS` proving the value was computed by fastconv, not handed to scipy.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import scipy.ndimage as snd
import scipy.signal as ssig

from fastconv import ndimage as fnd
from fastconv import signal as fsig
from fastconv._loops import threads
from fastconv._loops.rank import NET_COLUMNS
from fastconv._nd import CALLS
from fastconv._rank import NETWORK_MAX, selection_network

DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64, np.float32, np.float64]
MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant", "grid-wrap"]


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return (rng.standard_normal(shape) * 50).astype(dt)
    info = np.iinfo(dt)
    lo, hi = max(int(info.min), -100), min(int(info.max), 200)
    return rng.integers(lo, hi + 1, size=shape).astype(dt)


def _same(name, ours, theirs):
    before = CALLS[f"ndimage.{name}", "fastconv"] + CALLS[f"signal.{name}", "fastconv"]
    got = ours()
    after = CALLS[f"ndimage.{name}", "fastconv"] + CALLS[f"signal.{name}", "fastconv"]
    want = theirs()
    assert after == before + 1, f"{name} was not computed by fastconv"
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def _call(name, *args, **kw):
    return (lambda: getattr(fnd, name)(*args, **kw)), (lambda: getattr(snd, name)(*args, **kw))


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_and_filter(dtype):
    x = _data((13, 17), dtype)
    for name, extra in [
        ("minimum_filter", ()),
        ("maximum_filter", ()),
        ("median_filter", ()),
        ("rank_filter", (2,)),
        ("percentile_filter", (70,)),
    ]:
        for size in (3, (2, 5), 6, 7):
            _same(name, *_call(name, x, *extra, size=size, mode="reflect"))
    _same("minimum_filter1d", *_call("minimum_filter1d", x, 4, axis=0))
    _same("maximum_filter1d", *_call("maximum_filter1d", x, 5, axis=-1, mode="wrap"))


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_origin_and_cval(mode):
    x = _data((11, 14), np.int16, seed=1)
    for size, origin in [(3, -1), (4, 1), ((5, 2), (2, -1)), (1, 0), (7, 3)]:
        for name, extra in [("minimum_filter", ()), ("median_filter", ()), ("rank_filter", (-2,))]:
            if name == "rank_filter" and size == 1:
                continue
            _same(name, *_call(name, x, *extra, size=size, mode=mode, cval=-7, origin=origin))


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_dimensions_and_footprints(ndim):
    shape = {1: (40,), 2: (12, 15), 3: (6, 7, 9)}[ndim]
    x = _data(shape, np.float32, seed=ndim)
    rng = np.random.default_rng(5)
    for fshape in [(3,) * ndim, (4,) * ndim, (2,) + (5,) * (ndim - 1)]:
        fp = rng.random(fshape) < 0.6
        fp.flat[0] = True
        for mode in ("reflect", "constant", "mirror"):
            for name, extra in [
                ("minimum_filter", ()),
                ("maximum_filter", ()),
                ("median_filter", ()),
                ("percentile_filter", (25,)),
            ]:
                if ndim == 1 and name in ("median_filter", "percentile_filter") and not fp.all():
                    continue  # scipy's 1-D path reads the footprint's whole length: handed to scipy (below)
                _same(name, *_call(name, x, *extra, footprint=fp, mode=mode, cval=2.5))
        _same("median_filter", *_call("median_filter", x, size=fshape, mode="nearest"))


def test_large_windows_histogram_and_quickselect():
    """Windows above the network size: 8-bit histograms, quickselect for the others; larger than the image too."""
    for dtype in (np.uint8, np.int8, np.uint16, np.float64):
        x = _data((37, 300), dtype, seed=3)
        for size, mode in [(7, "reflect"), ((9, 5), "constant"), (15, "wrap"), ((41, 3), "mirror"), (31, "nearest")]:
            _same("median_filter", *_call("median_filter", x, size=size, mode=mode, cval=9))
            _same("percentile_filter", *_call("percentile_filter", x, 5, size=size, mode=mode, origin=1))
            _same("rank_filter", *_call("rank_filter", x, 3, size=size, mode=mode))
        _same("median_filter", *_call("median_filter", x[:5, :6], size=(11, 13), mode="reflect"))


@pytest.mark.parametrize("dtype", [np.int16, np.uint64, np.float32])
def test_large_windows_extreme_values(dtype):
    """The bucket path with the dtype's extremes (and infinities) in the image and as ``cval``."""
    x = _data((30, 40), dtype, seed=6)
    dt = np.dtype(dtype)
    lo, hi = (-np.inf, np.inf) if dt.kind == "f" else (np.iinfo(dt).min, np.iinfo(dt).max)
    if dt.kind in "iu" and dt.itemsize == 8:
        lo, hi = max(lo, -(2**53)), 2**53  # beyond, scipy orders through float64: handed to scipy (below)
    x[::4, ::3] = hi
    x[1::5, ::2] = lo
    x[:10, :10] = x[0, 1]  # many equal values: one bucket holding most of a window
    for cval in (lo, hi, 0):
        for rank in (3, 24, 40):
            _same("rank_filter", *_call("rank_filter", x, rank, size=(7, 7), mode="constant", cval=cval))
        for rank in (3, 31, 60):  # 63 values: above NETWORK_MAX, the bucket path
            _same("rank_filter", *_call("rank_filter", x, rank, size=(9, 7), mode="constant", cval=cval))
    _same("median_filter", *_call("median_filter", x, size=(11, 5), mode="mirror"))


def test_minmax_large_and_axes():
    x = _data((5, 60, 70), np.float32, seed=4)
    for name in ("minimum_filter", "maximum_filter"):
        for size in (15, 31, (3, 80, 2)):
            for mode in ("reflect", "constant", "wrap"):
                _same(name, *_call(name, x, size=size, mode=mode, cval=-1, origin=1 if size == 15 else 0))
        _same(name, *_call(name, x, size=(4, 9), axes=(2, 1), origin=(1, -2)))
        _same(name, *_call(name, x, footprint=np.eye(5, dtype=bool), axes=(0, 2)))
    _same("median_filter", *_call("median_filter", x, size=(3, 5), axes=(2, 0), origin=(0, 1)))


def test_output_argument_and_sizes_below_two():
    x = _data((20, 21), np.uint8)
    out = np.empty_like(x)
    res = fnd.median_filter(x, size=5, output=out)
    assert res is out
    np.testing.assert_array_equal(out, snd.median_filter(x, size=5))
    out2 = np.empty_like(x)
    assert fnd.minimum_filter(x, size=(1, 0), output=out2) is out2
    np.testing.assert_array_equal(out2, x)
    _same("maximum_filter", *_call("maximum_filter", x, size=(-2, 4)))


def test_nan_and_other_outputs_go_to_scipy():
    x = _data((9, 10), np.float64)
    x[3, 4] = np.nan
    x[0, 0] = np.inf
    for name, extra in [("median_filter", ()), ("minimum_filter", ()), ("percentile_filter", (20,))]:
        before = CALLS[f"ndimage.{name}", "scipy"]
        np.testing.assert_array_equal(getattr(fnd, name)(x, *extra, size=3), getattr(snd, name)(x, *extra, size=3))
        assert CALLS[f"ndimage.{name}", "scipy"] == before + 1
    y = _data((9, 10), np.uint8)
    np.testing.assert_array_equal(
        fnd.median_filter(y, 3, output=np.float32), snd.median_filter(y, 3, output=np.float32)
    )
    np.testing.assert_array_equal(
        fnd.minimum_filter(y, 3, mode="constant", cval=0.5), snd.minimum_filter(y, 3, mode="constant", cval=0.5)
    )


def test_nan_anywhere_in_a_box_goes_to_scipy():
    """A box's minimum/maximum finds a NaN in its own loop (no scan first): at every edge, in every block."""
    base = _data((70, 90), np.float32, seed=12)
    spots = [(0, 0), (0, 89), (69, 0), (69, 89), (35, 0), (0, 44), (69, 44), (35, 89), (40, 50)]
    with threads.limit(2), threads.every_call_parallel():
        for i, (r, c) in enumerate(spots):
            x = base.copy()
            x[r, c] = np.nan
            name = "maximum_filter" if i % 2 else "minimum_filter"
            for size, origin, mode in [(15, 0, "reflect"), ((3, 4), (1, -2), "constant"), ((9, 2), (-4, 0), "wrap")]:
                before = CALLS[f"ndimage.{name}", "scipy"]
                got = getattr(fnd, name)(x, size=size, origin=origin, mode=mode)
                want = getattr(snd, name)(x, size=size, origin=origin, mode=mode)
                np.testing.assert_array_equal(got, want)
                assert CALLS[f"ndimage.{name}", "scipy"] == before + 1, (r, c, size)


def test_64_bit_integers_beyond_float64_go_to_scipy():
    for x in (
        np.array([2**64 - 1, 5, 2**63 + 1, 7], np.uint64),
        np.array([2**63 - 1, 5, -(2**63) + 1, 2**53 + 1], np.int64),
    ):
        for name, extra in [("maximum_filter", (2,)), ("median_filter", (3,)), ("minimum_filter1d", (3,))]:
            before = CALLS[f"ndimage.{name}", "scipy"]
            np.testing.assert_array_equal(getattr(fnd, name)(x, *extra), getattr(snd, name)(x, *extra))
            assert CALLS[f"ndimage.{name}", "scipy"] == before + 1


def test_infinities_without_nan():
    x = _data((12, 12), np.float32)
    x[::3, ::4] = np.inf
    x[1::5, ::2] = -np.inf
    for name, extra in [("median_filter", ()), ("maximum_filter", ()), ("rank_filter", (4,))]:
        _same(name, *_call(name, x, *extra, size=3, mode="constant", cval=np.inf))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_order_keys_in_networks(dtype):
    """Selection networks order floats as integer keys of their bits: signs, zeros, infinities, tiny values."""
    rng = np.random.default_rng(8)
    pool = np.array([-np.inf, np.inf, -0.0, 0.0, -1e-40, 1e-40, -3.5, 3.5, -1e30, 1e30, -1.0, 1.0], dtype=dtype)
    x = np.where(rng.random((19, 23)) < 0.5, rng.choice(pool, (19, 23)), rng.standard_normal((19, 23)) * 10)
    x = x.astype(dtype)
    fp = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0]], dtype=bool)
    for size in (3, 5, 7, (1, 9)):
        for mode, cval in (("reflect", 0.0), ("constant", -np.inf), ("constant", -2.5), ("wrap", 0.0)):
            _same("median_filter", *_call("median_filter", x, size=size, mode=mode, cval=cval))
            _same("percentile_filter", *_call("percentile_filter", x, 20, size=size, mode=mode, cval=cval))
    for rank in (0, 2, 5):
        _same("rank_filter", *_call("rank_filter", x, rank, footprint=fp, mode="constant", cval=-0.0))
    _same("minimum_filter", *_call("minimum_filter", x, footprint=fp, mode="nearest"))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_network_rows_wider_than_one_column_block(dtype):
    """Rows cut into blocks of NET_COLUMNS columns: a full block, a partial one, windows across the cut."""
    x = _data((9, 2 * NET_COLUMNS + 37), dtype, seed=9)
    for size in (3, (3, 5), 7):
        for mode in ("reflect", "constant", "wrap"):
            _same("median_filter", *_call("median_filter", x, size=size, mode=mode, cval=5))
    _same("rank_filter", *_call("rank_filter", x, 1, size=(2, 3), origin=(0, 1)))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_parallel_blocks_equal_scipy(dtype):
    """Every rank loop through the threaded driver (forced on a small image): the blocks tile the output."""
    x = _data((70, 90), dtype, seed=10)
    with threads.limit(2), threads.every_call_parallel():
        for name, extra, size in [
            ("maximum_filter", (), 15),
            ("minimum_filter", (), (3, 31)),
            ("median_filter", (), 5),
            ("percentile_filter", (25,), 7),
            ("median_filter", (), 11),
            ("rank_filter", (3,), (9, 7)),
        ]:
            _same(name, *_call(name, x, *extra, size=size, mode="mirror"))
        x3 = _data((4, 30, 40), dtype, seed=11)
        _same("maximum_filter", *_call("maximum_filter", x3, size=(3, 5, 7), mode="wrap"))


def test_medfilt():
    for dtype in (np.uint8, np.float32, np.float64, np.int32):
        x = _data((15, 16), dtype)
        for ks in (None, 3, 5, (3, 7), (1, 9)):
            f = lambda ks=ks, x=x: fsig.medfilt(x, ks)  # noqa: E731
            _same("medfilt", f, lambda ks=ks, x=x: ssig.medfilt(x, ks))
        _same("medfilt2d", lambda x=x: fsig.medfilt2d(x, 5), lambda x=x: ssig.medfilt2d(x, 5))
    v = _data((5, 6, 7), np.float32)
    _same("medfilt", lambda: fsig.medfilt(v, (3, 1, 5)), lambda: ssig.medfilt(v, (3, 1, 5)))


@pytest.mark.parametrize(
    ("module", "name", "args", "kwargs", "exc", "match"),
    [
        ("nd", "median_filter", (), {"size": 0}, RuntimeError, "size"),
        ("nd", "rank_filter", (2,), {"size": -3}, (RuntimeError, ValueError), "size"),
        ("nd", "median_filter", (), {"footprint": np.zeros((3, 3))}, RuntimeError, "footprint"),
        ("nd", "minimum_filter", (), {"footprint": np.zeros((3, 3))}, ValueError, "footprint"),
        ("nd", "minimum_filter1d", (0,), {}, RuntimeError, "size"),
        ("nd", "percentile_filter", (101,), {"size": 3}, RuntimeError, "percentile"),
        ("nd", "rank_filter", (9,), {"size": 3}, RuntimeError, "rank"),
        ("nd", "median_filter", (), {"size": 3, "origin": 2}, ValueError, "origin"),
        ("nd", "median_filter", (), {"size": 3, "mode": "foo"}, RuntimeError, "mode"),
        ("nd", "median_filter", (), {}, RuntimeError, "size"),
        ("sig", "medfilt", (4,), {}, ValueError, "kernel_size"),
        ("sig", "medfilt2d", ((3, 2),), {}, ValueError, "kernel_size"),
    ],
)
def test_bad_arguments_raise_scipys_type_naming_the_argument(module, name, args, kwargs, exc, match):
    x = np.arange(30, dtype=np.float32).reshape(5, 6)
    ours, theirs = (fnd, snd) if module == "nd" else (fsig, ssig)
    with pytest.raises(exc, match=match):
        getattr(ours, name)(x, *args, **kwargs)
    with pytest.raises(exc):
        getattr(theirs, name)(x, *args, **kwargs)


def _apply_network(values, n, rank):
    """The comparators of :func:`selection_network` applied with NumPy, one column per case."""
    ca, cb, ck, wire = selection_network(n, rank)
    w = values.copy()
    _comparators(w, ca, cb, ck)
    return w[wire]


@pytest.mark.parametrize("n", [2, 3, 5, 9, 10, 16, 25, 30])
def test_selection_network_gives_every_rank(n):
    rng = np.random.default_rng(n)
    cases = np.concatenate(
        [rng.integers(0, 6, size=(n, 300)), rng.permuted(np.tile(np.arange(n), (100, 1)), axis=1).T], axis=1
    )
    want = np.sort(cases, axis=0)
    for rank in sorted({0, 1, n // 2, n - 2, n - 1}):
        if 0 <= rank < n:
            np.testing.assert_array_equal(_apply_network(cases, n, rank), want[rank])


def test_network_threshold_is_used():
    assert NETWORK_MAX >= 9


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
@pytest.mark.parametrize("parallel", [False, True])
def test_fused_box_pass(dtype, parallel, monkeypatch):
    """The fused row-and-column pass of a box: row blocks and segments that do not divide the image,
    windows larger than the image, every mode, extreme origins; each call checked to take the fused path."""
    from fastconv import _rank

    fused = []
    original = _rank._minmax_fused
    monkeypatch.setattr(_rank, "_minmax_fused", lambda *a: fused.append(a[1:3]) or original(*a))
    x = _data((150, 141), dtype, seed=12)
    sizes = [(5, 7), (15, 15), (2, 33), (200, 9), (9, 400)]
    with threads.limit(2 if parallel else 1), threads.every_call_parallel() if parallel else contextlib.nullcontext():
        for mode in MODES:
            for kh, kw in sizes:
                for origin in [(0, 0), ((kh - 1) // 2, -(kw // 2)), (-(kh // 2), (kw - 1) // 2)]:
                    for name in ("minimum_filter", "maximum_filter"):
                        kw_ = dict(size=(kh, kw), mode=mode, cval=7, origin=origin)
                        _same(name, *_call(name, x, **kw_))
    assert len(fused) == len(MODES) * len(sizes) * 3 * 2


def test_fused_box_pass_3d_and_the_two_pass_fallback(monkeypatch):
    """A box over three axes (a pass along the first, then the fused pass), and windows too tall for the
    fused pass's scratch rows (:data:`FUSED_MAX_BYTES`), which take the two separate passes."""
    from fastconv import _rank

    x = _data((4, 40, 300), np.float32, seed=13)
    for size in ((3, 5, 7), (2, 31, 3), (5, 50, 1)):
        _same("maximum_filter", *_call("maximum_filter", x, size=size, mode="nearest"))
    monkeypatch.setattr(_rank, "FUSED_MAX_BYTES", 0)
    monkeypatch.setattr(_rank, "_minmax_fused", None)  # would raise if called
    for size in ((3, 5, 7), (1, 31, 15)):
        _same("minimum_filter", *_call("minimum_filter", x, size=size, mode="wrap", origin=(0, 1, -1)))


def _comparators(w, ca, cb, ck):
    """Comparators applied with NumPy to the rows ``w`` (one column per case), in place."""
    for a, b, kind in zip(ca, cb, ck, strict=True):
        lo, hi = np.minimum(w[a], w[b]), np.maximum(w[a], w[b])
        if kind in (0, 1):
            w[a] = lo
        if kind in (0, 2):
            w[b] = hi


@pytest.mark.parametrize("kh, kw", [(1, 1), (1, 7), (2, 2), (3, 3), (2, 5), (5, 2), (3, 4), (5, 5), (4, 6), (7, 7)])
def test_box_network_on_sorted_columns_gives_every_rank(kh, kw):
    """:func:`box_network` (column sort, then the selection) on windows of random and tied values: np.sort's value."""
    from fastconv._rank import box_network

    n = kh * kw
    rng = np.random.default_rng(n + kh)
    cases = np.concatenate(
        [
            rng.integers(0, 4, size=(kh, kw, 400)),
            rng.permuted(np.tile(np.arange(n), (200, 1)), axis=1).T.reshape(kh, kw, 200),
        ],
        axis=2,
    )
    want = np.sort(cases.reshape(n, -1), axis=0)
    ranks = range(n) if n <= 25 else sorted({0, 1, 7, n // 2, n - 3, n - 1})
    for rank in ranks:
        (sa, sb), (ca, cb, ck, wire), _ = box_network(kh, kw, rank)
        cols = cases.copy()
        _comparators(cols, sa, sb, np.zeros(len(sa), np.int64))  # rows of the window: sort each column
        w = cols.reshape(n, -1).copy()  # wire r * kw + c: rank r of column c
        _comparators(w, ca, cb, ck)
        np.testing.assert_array_equal(w[wire], want[rank], err_msg=f"{kh}x{kw} rank {rank}")


@pytest.mark.parametrize(
    "dtype, parallel",
    [(t, False) for t in (np.uint8, np.int8, np.uint16, np.float32, np.float64)]
    + [(np.uint8, True), (np.float32, True)],
)
def test_box_path_edges_modes_origins(dtype, parallel, monkeypatch):
    """Rectangular windows of at most NETWORK_MAX values on sorted columns (``_box``), checked to take that path:
    images of 1-4 rows or columns, windows larger than the image, every mode, extreme origins, serial and
    through the parallel driver (blocks of 1-3 rows that do not divide the image)."""
    from fastconv import _rank

    taken = []
    original = _rank._box
    monkeypatch.setattr(_rank, "_box", lambda *a: taken.append(a[1:3]) or original(*a))
    monkeypatch.setattr(_rank, "_row_blocks", lambda n: 1 + n % 3)
    monkeypatch.setattr(_rank, "BOX_MIN_VALUES", 0)  # small images through the path large ones take
    cases = 0
    with threads.limit(2 if parallel else 1), threads.every_call_parallel() if parallel else contextlib.nullcontext():
        for shape in [(1, 9), (2, 3), (3, 1), (4, 4), (11, 2), (23, 37)]:
            x = _data(shape, dtype, seed=shape[0] * 7 + shape[1])
            for size in [(3, 3), (5, 5), (2, 4), (1, 5)] if shape == (23, 37) else [(3, 3), (5, 5)]:
                kh, kw = size
                for mode in MODES:
                    for origin in [(0, 0), ((kh - 1) // 2, -(kw // 2)), (-(kh // 2), (kw - 1) // 2)]:
                        kws = dict(size=size, mode=mode, cval=3, origin=origin)
                        _same("median_filter", *_call("median_filter", x, **kws))
                        cases += 1
            _same("rank_filter", *_call("rank_filter", x, 1, size=5, mode="reflect"))
            _same("percentile_filter", *_call("percentile_filter", x, 60, size=5, mode="nearest"))
            cases += 2
    assert len(taken) == cases


def test_box_path_3d_and_1d(monkeypatch):
    """The sorted-columns path on slices of a 3-D input (window one slice deep) and on 1-D inputs."""
    from fastconv import _rank

    monkeypatch.setattr(_rank, "BOX_MIN_VALUES", 0)
    for dtype in (np.uint8, np.float32):
        x = _data((3, 10, 13), dtype, seed=21)
        for size in ((1, 3, 3), (1, 5, 4)):
            for mode in ("mirror", "constant", "wrap"):
                _same("median_filter", *_call("median_filter", x, size=size, mode=mode, cval=5, origin=(0, 1, -1)))
        _same("rank_filter", *_call("rank_filter", x, 2, size=3, axes=(1, 2)))
        v = _data((17,), dtype, seed=22)
        for size in (3, 5, 9, 30):
            _same("median_filter", *_call("median_filter", v, size=size, mode="grid-wrap"))


def test_only_large_images_take_the_sorted_columns_path(monkeypatch):
    """Calls of BOX_MIN_VALUES values or more take ``_box`` (code generated per window and rank), smaller ones the
    plain network (compiled once per dtype); both give scipy's values."""
    from fastconv import _rank

    taken = []
    original = _rank._box
    monkeypatch.setattr(_rank, "_box", lambda *a: taken.append(a[0].size) or original(*a))
    side = int(np.sqrt(_rank.BOX_MIN_VALUES))
    for shape in [(side, side), (side - 1, side)]:
        _same("median_filter", *_call("median_filter", _data(shape, np.uint8, seed=5), size=5))
    assert taken == [side * side]

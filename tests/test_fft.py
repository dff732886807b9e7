"""The ``fft`` backend of convolve2d and ``auto``'s choice, against a float64 reference (scipy.signal)."""

from __future__ import annotations

import numpy as np
import pytest

import fastconv
from fastconv import _costs, _fft, _fftgeom, _method
from tests.reference import correlate2d_loop, padding_pairs
from tests.reference import correlate2d_scipy as reference

signal = pytest.importorskip("scipy.signal")


@pytest.fixture(autouse=True)
def _model_only(monkeypatch):
    """``auto``'s choices here are the model's (no measurement: tests/test_method.py tests that)."""
    monkeypatch.setattr(_method, "MEASURE", False)


def check_close(got, want, img, k):
    """float32 within 1e-5 and float64 within 1e-12 of ``max|x| * sum|k|``."""
    scale = max(float(np.abs(img).max()), 1e-30) * float(np.abs(k).sum())
    tol = 1e-5 if got.dtype == np.float32 else 1e-12
    assert got.shape == want.shape
    err = float(np.abs(got.astype(np.float64) - want).max()) / scale
    assert err <= tol, f"error {err:.3g} x max|x| sum|k| > {tol}"


def _cases(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield {
            "h": int(rng.integers(8, 60)),
            "w": int(rng.integers(8, 60)),
            "kh": int(rng.integers(1, 10)),
            "kw": int(rng.integers(1, 10)),
            "stride": (int(rng.integers(1, 4)), int(rng.integers(1, 4))),
            "dilation": (int(rng.integers(1, 4)), int(rng.integers(1, 3))),
            "padding": ["valid", "same", "full", 2, (1, 3), ((0, 4), (5, 1))][int(rng.integers(0, 6))],
            "pad_mode": ["constant", "constant", "edge", "reflect", "symmetric", "wrap"][int(rng.integers(0, 6))],
            "channels": [0, 0, 1, 3][int(rng.integers(0, 4))],
            "dtype": [np.float32, np.float64][int(rng.integers(0, 2))],
            "seed": int(rng.integers(0, 2**31)),
        }


def _inputs(case):
    rng = np.random.default_rng(case["seed"])
    shape = (case["h"], case["w"]) + ((case["channels"],) if case["channels"] else ())
    img = (rng.random(shape) * 2 - 1).astype(case["dtype"])
    k = (rng.random((case["kh"], case["kw"])) - 0.5).astype(case["dtype"])
    return img, k


@pytest.mark.parametrize("case", list(_cases(60, 1)), ids=lambda c: f"{c['h']}x{c['w']}-{c['kh']}x{c['kw']}")
def test_fft_matches_reference(case):
    img, k = _inputs(case)
    kw = {key: case[key] for key in ("stride", "padding", "dilation", "pad_mode")}
    pads = padding_pairs(case["padding"], img.shape[:2], k.shape, case["stride"], case["dilation"])
    hp, wp = img.shape[0] + sum(pads[0]), img.shape[1] + sum(pads[1])
    if case["dilation"][0] * (k.shape[0] - 1) >= hp or case["dilation"][1] * (k.shape[1] - 1) >= wp:
        pytest.skip("kernel larger than the padded image")
    if case["pad_mode"] in ("reflect", "symmetric") and max(max(p) for p in pads) >= min(img.shape[:2]):
        pytest.skip("numpy.pad reflects a wide pad repeatedly; covered by the convolve2d tests")
    got = fastconv.convolve2d(img, k, backend="fft", **kw)
    assert got.dtype == case["dtype"]
    check_close(got, reference(img, k, **kw), img, k)


@pytest.mark.parametrize("block", [(0, 0), (1, 1), (2, 5), (7, 3)])
@pytest.mark.parametrize("stride", [(1, 1), (2, 3)])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 1)])
def test_many_small_blocks(block, stride, dilation):
    """Blocks just larger than the kernel's reach: many overlaps, partial last blocks, every phase."""
    rng = np.random.default_rng(7)
    img = rng.random((2, 45, 53)).astype(np.float64)
    k = rng.random((5, 7)) - 0.5
    pt, pl = 3, 4
    span = [dilation[i] * (k.shape[i] - 1) + 1 for i in range(2)]
    oh = (45 + pt + 2 - span[0]) // stride[0] + 1
    ow = (53 + pl + 1 - span[1]) // stride[1] + 1
    rows = _fftgeom.axis_geometry(45, oh, 5, stride[0], dilation[0], pt)
    cols = _fftgeom.axis_geometry(53, ow, 7, stride[1], dilation[1], pl)
    nh, nw = rows.span + block[0], cols.span + block[1]
    out = np.empty((2, oh, ow))
    _fft.fft(img, k, *stride, *dilation, pt, pl, out, block=(nh, nw))
    for c in range(2):
        want = reference(img[c], k, stride, ((pt, 2), (pl, 1)), dilation)
        check_close(out[c], want, img, k)


def test_large_kernels_float32_and_float64():
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        img = rng.random((300, 280)).astype(dtype)
        k = (rng.random((63, 41)) - 0.5).astype(dtype)
        got = fastconv.convolve2d(img, k, padding="same", backend="fft")
        check_close(got, reference(img, k, padding="same"), img, k)


def test_rgb_and_options_through_convolve2d():
    """Channels (folded at stride 1, moved at stride 2), cval, flip, out= and dtype= keep their meaning."""
    rng = np.random.default_rng(4)
    img = rng.random((40, 37, 3)).astype(np.float32)
    k = (rng.random((9, 6)) - 0.5).astype(np.float32)
    for stride in (1, 2):
        want = reference(img, k, stride, "same", 2, cval=1.5, flip=True)
        out = np.empty(want.shape, np.float32)
        got = fastconv.convolve2d(img, k, stride, "same", dilation=2, cval=1.5, flip=True, out=out, backend="fft")
        assert got is out
        check_close(got, want, img, k)
    got = fastconv.convolve2d(img, k, padding="full", dtype=np.float64, backend="fft")
    assert got.dtype == np.float64
    check_close(got, reference(img, k, padding="full"), img, k)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_image_as_direct(bad):
    rng = np.random.default_rng(5)
    img = rng.random((70, 80)).astype(np.float32)
    img[30, 41] = bad
    k = (rng.random((11, 11)) - 0.5).astype(np.float32)
    got = fastconv.convolve2d(img, k, padding="same", backend="fft")
    want = fastconv.convolve2d(img, k, padding="same", backend="direct")
    np.testing.assert_array_equal(got, want)  # NaN where direct has NaN, the rest identical
    assert not np.isfinite(got[25:36, 36:47]).any()
    assert np.isfinite(got[:10]).all()


def test_non_finite_kernel_and_huge_values_as_direct():
    rng = np.random.default_rng(6)
    img = rng.random((40, 40)).astype(np.float32)
    k = rng.random((9, 9)).astype(np.float32)
    k[4, 4] = np.nan
    np.testing.assert_array_equal(fastconv.convolve2d(img, k, backend="fft"), fastconv.convolve2d(img, k))
    k = rng.random((9, 9)).astype(np.float32)
    big = img * np.float32(1e35)  # the product of the spectra near the float32 range, the outputs within it
    got = fastconv.convolve2d(big, k, backend="fft")
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, correlate2d_loop(big.astype(np.float64), k), rtol=1e-5)
    huge = img * np.float32(1e37)  # the block's own spectrum overflows float32: the direct sums instead
    got = fastconv.convolve2d(huge, k, backend="fft")
    assert np.isfinite(got).all()
    np.testing.assert_array_equal(got, fastconv.convolve2d(huge, k, backend="direct"))


def test_integers_stay_exact():
    """Integer results never go through the FFT, with "auto" or "fft"; a float dtype= opts in."""
    rng = np.random.default_rng(8)
    img = rng.integers(0, 256, (200, 190), dtype=np.uint8)
    k = rng.integers(-1000, 1000, (41, 41))
    want = correlate2d_loop(img[:60, :60], k)  # Python integers, exact
    assert _method.choose((1, 200, 190), k.shape, (1, 1), (1, 1), (0, 0), (1, 160, 150), np.int64, k) == "direct"
    for backend in ("auto", "fft"):
        got = fastconv.convolve2d(img[:60, :60], k, backend=backend)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, want)
    assert _method.choose((1, 200, 190), k.shape, (1, 1), (1, 1), (0, 0), (1, 160, 150), np.float64, k) == "fft"
    got = fastconv.convolve2d(img, k, dtype=np.float64)
    assert got.dtype == np.float64
    check_close(got, reference(img, k), img, k)


def test_auto_choice():
    """Small kernels run direct, large ones the FFT; a rank-1 kernel runs direct where a full one of its size
    goes to the FFT (a 31x31 rank-1 kernel takes 62 taps an output on the separable path, a full one 961;
    the FFT's work does not depend on the rank)."""
    rng = np.random.default_rng(9)
    shape, out = (1, 1024, 1024), (1, 1024, 1024)
    assert _method.choose(shape, (3, 3), (1, 1), (1, 1), (1, 1), out, np.float32) == "direct"
    assert _method.choose(shape, (9, 9), (1, 1), (1, 1), (4, 4), out, np.float32) == "direct"
    assert _method.choose(shape, (127, 127), (1, 1), (1, 1), (63, 63), out, np.float32) == "fft"
    g = np.exp(-(((np.arange(31) - 15) / 5.0) ** 2))
    gauss = np.outer(g, g).astype(np.float32)
    full = (rng.random((31, 31)) - 0.5).astype(np.float32)
    valid = (1, 1024 - 30, 1024 - 30)
    assert _method.choose(shape, (31, 31), (1, 1), (1, 1), (0, 0), valid, np.float32, gauss) == "direct"
    assert _method.choose(shape, (31, 31), (1, 1), (1, 1), (0, 0), valid, np.float32, full) == "fft"


def test_costs_file(tmp_path, monkeypatch):
    """FASTCONV_COSTS names the file auto reads; a file without every constant is ignored with a warning
    (tests/test_method.py tries the other damage)."""
    path = tmp_path / "costs.json"
    path.write_text('{"seconds": {"call": 1e-5}}')
    monkeypatch.setenv("FASTCONV_COSTS", str(path))
    assert _method.costs_path() == path
    with pytest.warns(RuntimeWarning, match="lacks"):
        assert _method.costs() == _method._read(str(_costs.DEFAULT_COSTS))[0]


def test_speedups_move_the_choice_with_the_thread_count(tmp_path, monkeypatch):
    """The model divides each backend's time by its Amdahl speedup on the threads the call uses."""
    import json

    import numba

    from fastconv._loops import threads

    data = json.loads(_costs.DEFAULT_COSTS.read_text())
    data["speedup"] = {"threads": 2, "direct": 1.8, "fft": 1.0}
    path = tmp_path / "costs.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("FASTCONV_COSTS", str(path))
    # Amdahl by hand: p = (1 - 1/1.8) * 2/1 = 8/9 of direct runs in parallel; on 4 threads 1/(1/9 + 2/9) = 3
    assert _method.speedup("direct", 1) == 1.0
    assert _method.speedup("direct", 2) == pytest.approx(1.8)
    assert _method.speedup("direct", 4) == pytest.approx(3.0)
    assert _method.speedup("fft", 4) == 1.0
    # a kernel size where the one-thread model prefers the FFT by less than 1.8x
    shape, out = (1, 2048, 2048), (1, 2048, 2048)
    k = next(
        k
        for k in range(5, 64, 2)
        if 1
        < _method.direct_time(shape, (k, k), (1, 1), (1, 1), (k // 2,) * 2, out, np.float32)
        / _method.fft_time(shape, (k, k), (1, 1), (1, 1), (k // 2,) * 2, out, np.float32)
        < 1.8
    )
    args = (shape, (k, k), (1, 1), (1, 1), (k // 2, k // 2), out, np.float32)
    with threads.limit(1):
        assert _method.choose(*args) == "fft"
    if numba.config.NUMBA_NUM_THREADS >= 2:
        with threads.limit(2):
            assert _method.choose(*args) == "direct"


def test_spectrum_once_per_block_size():
    rng = np.random.default_rng(10)
    img = rng.random((100, 100)).astype(np.float32)
    k = rng.random((15, 15)).astype(np.float32)
    _fft.clear_spectra()
    before = _fft.spectra_computed
    for _ in range(3):
        fastconv.convolve2d(img, k, backend="fft")
    assert _fft.spectra_computed - before == 1


def test_dask_fft_spectrum_per_chunk_shape():
    da = pytest.importorskip("dask.array")
    import fastconv.dask

    rng = np.random.default_rng(11)
    img = rng.random((256, 256)).astype(np.float32)
    k = (rng.random((21, 21)) - 0.5).astype(np.float32)
    _fft.clear_spectra()
    before = _fft.spectra_computed
    x = da.from_array(img, chunks=64)
    got = fastconv.dask.convolve2d(x, k, padding="same", backend="fft").compute(scheduler="synchronous")
    check_close(got, reference(img, k, padding="same"), img, k)
    n_chunks = 16
    assert 1 <= _fft.spectra_computed - before < n_chunks


def test_spectrum_cache_bounded_in_bytes(monkeypatch):
    """Eight 801x801 float64 kernels at a 2048x2048 image's whole-image block (2880 x 2880): 531 MB of
    spectra if kept by count; the cache keeps the newest ones up to its byte bound, and reuses them."""
    rng = np.random.default_rng(12)
    _fft.clear_spectra()
    kernels = [rng.random((801, 801)) for _ in range(8)]
    for k in kernels:
        spec = _fft.kernel_spectrum(k, 2880, 2880, 1)
        assert spec.nbytes == 2880 * 1441 * 16
    held = sum(v.nbytes for v in _fft._spectra.values())
    assert 0 < held <= _fft.SPECTRA_BYTES <= 256 << 20
    assert held == _fft.spectrum_bytes()
    before = _fft.spectra_computed
    _fft.kernel_spectrum(kernels[-1], 2880, 2880, 1)  # the newest is kept
    assert _fft.spectra_computed == before
    _fft.kernel_spectrum(kernels[0], 2880, 2880, 1)  # the oldest was dropped
    assert _fft.spectra_computed == before + 1
    # a spectrum larger than the whole bound is computed but not kept
    monkeypatch.setattr(_fft, "SPECTRA_BYTES", 1 << 20)
    _fft.clear_spectra()
    _fft.kernel_spectrum(kernels[1][:50, :50], 512, 512, 1)  # 512 * 257 * 16 bytes: 2.1 MB
    assert _fft.spectrum_bytes() == 0
    _fft.kernel_spectrum(kernels[1][:50, :50], 256, 256, 1)  # 0.5 MB: kept
    assert 0 < _fft.spectrum_bytes() <= 1 << 20
    _fft.clear_spectra()


def test_spectrum_cache_result_right_after_eviction(monkeypatch):
    """Calls whose spectra push each other out of a small cache still compute the right correlation."""
    monkeypatch.setattr(_fft, "SPECTRA_BYTES", 300_000)
    rng = np.random.default_rng(13)
    img = rng.random((150, 140))
    _fft.clear_spectra()
    for _ in range(2):
        for size in (17, 21, 25):
            k = np.random.default_rng(size).random((size, size))
            got = fastconv.convolve2d(img, k, padding="same", backend="fft")
            check_close(got, reference(img, k, padding="same"), img, k)
    assert _fft.spectrum_bytes() <= 300_000
    _fft.clear_spectra()


@pytest.mark.parametrize("library", ["scipy.fft", "ducc0"])
def test_both_fft_libraries(monkeypatch, library):
    """The transforms from ducc0 when installed, else scipy.fft: both give the correlation."""
    if library == "ducc0":
        pytest.importorskip("ducc0")
        monkeypatch.setattr(_fft, "_DUCC", False)  # looked up again: found
    else:
        monkeypatch.setattr(_fft, "_DUCC", None)  # as if absent
    rng = np.random.default_rng(14)
    for dtype in (np.float32, np.float64):
        img = rng.random((130, 170)).astype(dtype)
        k = (rng.random((23, 19)) - 0.5).astype(dtype)
        for stride, padding in ((1, "same"), (2, "full"), ((1, 3), 0)):
            _fft.clear_spectra()  # each spectrum computed anew
            got = fastconv.convolve2d(img, k, stride=stride, padding=padding, backend="fft")
            assert got.dtype == dtype
            check_close(got, reference(img, k, stride=stride, padding=padding), img, k)
    assert (_fft._fft_module() is None) == (library == "scipy.fft")
    _fft.clear_spectra()

"""The one cache of plans (fastconv._cache): a kernel's new values are planned again, the byte bound holds."""

from __future__ import annotations

import numpy as np
import pytest

import fastconv
from fastconv import _cache, _fft
from tests.reference import conv2d_loop, correlate2d_loop, padding_pairs


def test_new_integer_values_that_need_wider_lanes_are_planned_again():
    # uint8 image, all-ones kernel: every sum below 2**15, int16 lanes; then values whose sums need int32
    rng = np.random.default_rng(1)
    img = rng.integers(200, 256, (12, 14)).astype(np.uint8)
    k = np.ones((3, 3), np.int64)
    for _ in range(2):  # the second call runs the kept plan
        np.testing.assert_array_equal(fastconv.convolve2d(img, k), correlate2d_loop(img, k))
    k[:] = 3000  # changed in place: 255 * 27000 does not fit int16
    k[1, 1] = -2999
    for _ in range(2):
        np.testing.assert_array_equal(fastconv.convolve2d(img, k), correlate2d_loop(img, k))
    # and the plan kept for the first values still gives theirs
    np.testing.assert_array_equal(fastconv.convolve2d(img, np.ones((3, 3), np.int64)), correlate2d_loop(img, k * 0 + 1))


def test_an_integer_kernel_changed_in_a_large_call_gets_its_own_lanes():
    # above the small-call size: the lanes are kept by _direct under the kernel's values
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (200, 300)).astype(np.uint8)
    k = np.ones((5, 5), np.int32)
    np.testing.assert_array_equal(
        fastconv.convolve2d(img, k, padding="same"), correlate2d_loop(img, k, pad=((2, 2),) * 2)
    )
    k[0, :] = 30000
    got = fastconv.convolve2d(img, k, padding="same")
    np.testing.assert_array_equal(got, correlate2d_loop(img, k, pad=((2, 2), (2, 2))))


def test_a_kernel_no_longer_rank_one_is_not_run_as_its_old_factors():
    rng = np.random.default_rng(3)
    img = rng.normal(size=(300, 300)).astype(np.float32)  # large enough for the separable passes
    k = np.outer([1, 2, 3, 2, 1], [1, -1, 2, -1, 1]).astype(np.float32)
    pads = padding_pairs("same", img.shape, k.shape, (1, 1), (1, 1))
    for _ in range(2):
        got = fastconv.convolve2d(img, k, padding="same")
        np.testing.assert_allclose(got, correlate2d_loop(img, k, pad=pads), rtol=1e-4, atol=1e-3)
    k[2, 2] += 5  # no longer an outer product
    got = fastconv.convolve2d(img, k, padding="same")
    np.testing.assert_allclose(got, correlate2d_loop(img, k, pad=pads), rtol=1e-4, atol=1e-3)


def test_a_changed_fft_kernel_gets_its_own_spectrum():
    rng = np.random.default_rng(4)
    img = rng.random((90, 100))
    k = rng.random((15, 13))
    for _ in range(2):
        np.testing.assert_allclose(fastconv.convolve2d(img, k, backend="fft"), correlate2d_loop(img, k), atol=1e-9)
    k[7, 6] += 10.0  # in place: same array, shape and dtype
    np.testing.assert_allclose(fastconv.convolve2d(img, k, backend="fft"), correlate2d_loop(img, k), atol=1e-9)


def _held(cache):
    return sum(entry[1] for entry in cache._entries.values())


def test_the_plan_cache_holds_its_byte_bound(monkeypatch):
    monkeypatch.setattr(_cache, "PLAN_BYTES", 40_000)
    _cache.PLANS.clear()
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (10, 12)).astype(np.uint8)
    for _ in range(300):  # 300 kernels of distinct values: each call keeps its lanes, bound and finished plan
        k = rng.integers(-50, 50, (7, 9)).astype(np.int64)
        np.testing.assert_array_equal(fastconv.convolve2d(img, k), correlate2d_loop(img, k))
        assert _cache.PLANS.nbytes == _held(_cache.PLANS) <= 40_000
    assert 0 < len(_cache.PLANS) < 300
    # the most recent kernel's plan is still there and still right
    np.testing.assert_array_equal(fastconv.convolve2d(img, k.copy()), correlate2d_loop(img, k))
    _cache.PLANS.clear()


def test_the_spectrum_cache_holds_its_byte_bound(monkeypatch):
    monkeypatch.setattr(_fft, "SPECTRA_BYTES", 3 << 20)
    _fft.clear_spectra()
    rng = np.random.default_rng(6)
    for _ in range(12):  # 12 spectra of 0.5 to 2.1 MB each
        n = int(rng.integers(256, 512))
        _fft.kernel_spectrum(rng.random((40, 40)), n, n, 1)
        held = _fft.spectrum_bytes()
        assert held == _held(_fft._spectra) <= 3 << 20
    assert held > 0
    _fft.clear_spectra()


def test_the_cache_drops_the_least_recently_used_first():
    c = _cache.ByteCache(300)
    for name in "abc":
        c.put(name, name.upper(), 100)
    assert c.get("a") == "A"  # now the most recent
    c.put("d", "D", 100)  # over 300: "b" goes
    assert c.get("b") is None and [c.get(n) for n in "acd"] == ["A", "C", "D"]
    c.put("e", "E", 301)  # larger than the bound: not kept, nothing dropped
    assert c.get("e") is None and len(c) == 3 and c.nbytes == 300
    c.put("a", "A2", 50)  # replaced: counted once
    assert c.nbytes == 250 and c.get("a") == "A2"


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_kept_plans_keyed_by_values_only_for_integer_kernels(dtype):
    # float kernels' small calls are kept by dtype and shape: new values in the same shape still compute right
    rng = np.random.default_rng(7)
    img = rng.integers(0, 100, (9, 8)).astype(dtype)
    for _ in range(4):
        k = rng.integers(-9, 9, (3, 3)).astype(np.float32)
        got = fastconv.convolve2d(img, k, 1, 1)
        np.testing.assert_allclose(got, correlate2d_loop(img, k, pad=((1, 1), (1, 1))), rtol=1e-5, atol=1e-4)


def test_small_calls_are_kept_under_the_one_kernel_key():
    # convolve2d writes the key out for speed: it must stay the rule of _cache.kernel_key
    rng = np.random.default_rng(8)
    img = rng.integers(0, 256, (9, 10)).astype(np.uint8)
    for k in (np.array([[1, -2, 1]], np.int16), rng.normal(size=(3, 2)).astype(np.float32)):
        by_value = k.dtype.kind != "f"
        _cache.PLANS.clear()
        fastconv.convolve2d(img, k, 1, 0)
        assert _cache.PLANS.get((img.dtype, img.shape, 1, 0, _cache.kernel_key(k, by_value))) is not None


def test_separable_factors_are_kept_in_the_plan_cache_by_value(monkeypatch):
    # the rank test's answer lives in PLANS (bounded in bytes), keyed by the kernel's values
    from fastconv import _separable

    svds = []
    real_svd = np.linalg.svd
    monkeypatch.setattr(np.linalg, "svd", lambda *a, **kw: svds.append(1) or real_svd(*a, **kw))
    _cache.PLANS.clear()
    k = np.outer([1.0, 2.0, 1.0, 3.0], [1.0, 0.0, -1.0, 2.0])
    u, v = _separable.factors(k)
    np.testing.assert_allclose(np.outer(u, v), k, atol=1e-12)  # checked against the kernel, not the code
    assert len(svds) == 1 and _cache.PLANS.get(("factors", _cache.kernel_key(k))) is not None
    _separable.factors(k.copy())  # the same values: the kept answer
    assert len(svds) == 1
    k[0, 0] += 1.0  # changed in place: no longer rank one, tested again
    assert _separable.factors(k) is None and len(svds) == 2
    assert _separable.factors(k) is None and len(svds) == 2  # "not separable" is kept too
    held = _cache.PLANS.nbytes
    assert held == _held(_cache.PLANS) and held >= 2 * k.nbytes
    monkeypatch.setattr(_cache, "PLAN_BYTES", 3 * (k.nbytes + _cache.ENTRY_BYTES))  # older answers dropped
    for i in range(10):
        _separable.factors(k + i)
    assert _cache.PLANS.nbytes <= 3 * (k.nbytes + _cache.ENTRY_BYTES) and 0 < len(_cache.PLANS) <= 3
    _cache.PLANS.clear()


def test_a_float_layer_is_planned_once_and_its_kept_plan_follows_new_values(monkeypatch):
    from fastconv import _plan

    rng = np.random.default_rng(5)
    x = rng.random((2, 9, 11, 3), dtype=np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)

    def loop(x):  # the plain loop of tests/reference.py, with SAME's padding for stride 2
        return conv2d_loop(x, w, (2, 2), padding_pairs("same", x.shape[1:3], w.shape[:2], (2, 2)))

    got = fastconv.conv2d(x, w, 2, padding="same")
    np.testing.assert_allclose(got, loop(x), rtol=1e-5, atol=1e-5)
    windows = []
    monkeypatch.setattr(_plan, "window", lambda *a, **kw: windows.append(a) or pytest.fail("planned again"))
    x[0, 4, 5] += 7.0  # new values, in place, in both arrays: the geometry kept still holds, the values are read
    w[1, 1, 2] *= -3.0
    for _ in range(2):
        got = fastconv.conv2d(x, w, 2, padding="same")
        np.testing.assert_allclose(got, loop(x), rtol=1e-5, atol=1e-5)
    assert windows == []
    monkeypatch.undo()
    other = x[:1, :7, :8].copy()  # another image size: its own geometry
    np.testing.assert_allclose(fastconv.conv2d(other, w, 2, padding="same"), loop(other), rtol=1e-5, atol=1e-5)
    # anything that is not the same kind of call is checked as before: a bool stride, a stride of 1.0,
    # another channel count (no plan of theirs can be kept)
    for bad, error in ((dict(stride=True), TypeError), (dict(stride=1.0), TypeError)):
        with pytest.raises(error, match="stride"):
            fastconv.conv2d(x, w, padding="same", **bad)
    with pytest.raises(ValueError, match="channels"):
        fastconv.conv2d(x[..., :2], w, 2, padding="same")

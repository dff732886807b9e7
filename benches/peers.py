"""The benchmark cases and the registry of 2-D correlation implementations timed against fastconv.

:data:`PEERS` maps an implementation's name to ``setup(case, img, k) ->
(run, extract)``: ``run`` is a zero-argument callable (the only thing
timed) and ``extract(result)`` turns its result into the array fastconv
returns for the same case (the valid region, the strided positions), so that
every answer can be checked against fastconv's before anything is timed.
Setup (dtype conversion, TensorFlow tensors, kernel flips, preallocated
outputs) is never timed.  A peer that is not installed is skipped with
``pytest.importorskip``; a peer that cannot compute a case raises
:class:`Unsupported`.

:data:`CASES` are the inputs, one benchmark group each ("league table").

Notes on the peers, so that like is compared with like:

- ``cv2.filter2D`` and ``scipy.ndimage.correlate`` always return an output
  of the input's size.  For ``padding="valid"`` their border (computed with
  zero padding, ``BORDER_CONSTANT`` / ``mode="constant"``) is cut off
  before the comparison; for ``"same"`` zero padding is exactly fastconv's.
  Neither has a stride: for stride 2 they compute every position and the
  strided ones are sliced out (a view, free).
- ``scipy.signal.fftconvolve`` and ``oaconvolve`` compute a convolution: the
  kernel is flipped in setup.  They run on one thread (scipy.fft's default).
- ``tf.nn.conv2d`` gets NHWC/HWIO float32 tensors made in setup (it has
  no integer convolution on CPU, so uint8 images are converted to float32
  in setup); an RGB image uses ``tf.nn.depthwise_conv2d`` (one kernel per
  channel).
- ``seed`` is the seed document's pure-Python function, verbatim: only on
  the 200x200 cases.
- ``fastconv (new kernel)`` is ``"auto"`` with the FFT's cache of kernel
  spectra emptied before each call: what a call with a kernel not seen
  before costs (the plain ``fastconv`` rows reuse the spectrum from the
  previous call with the same kernel, as repeated calls and dask chunks do).
- ``np.copyto`` is not a convolution: it copies the image into a
  preallocated array, the memory-bandwidth floor for a one-pass filter.
  ``fastconv (out=)`` writes into a preallocated result too (a fresh result
  costs page faults that ``np.copyto``'s destination does not): the like-for-like
  partner of that floor.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass

import numpy as np
import pytest

# The seed's pure-Python function, bugs kept (it is the thing being compared against).
from fastconv.demo import seed_convolve

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class Unsupported(Exception):
    """A peer cannot compute this case (the reason is the message)."""


# --------------------------------------------------------------------------- cases

#: The seed's kernels as its formulas write them (its code has a typo, a 1 in
#: the first row of kernel1; the formula is the Laplacian-like filter meant).
KERNEL1 = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.int64)
KERNEL2 = np.array([[0, -1, 0], [-1, 8, -1], [0, -1, 0]], dtype=np.int64)


def _gaussian(n: int, sigma: float) -> np.ndarray:
    a = np.arange(n) - (n - 1) / 2
    g = np.exp(-(a**2) / (2 * sigma**2))
    return g / g.sum()


def separable_factors(case) -> tuple[np.ndarray, np.ndarray]:
    """``(column, row)`` float32 factors of a separable case's kernel, as the case builds it (kernel = outer)."""
    if case.kernel == "gaussian:15:3":
        g = _gaussian(15, 3.0)
        return g.astype(np.float32), g.astype(np.float32)
    if case.kernel == "box:15":
        b = np.full(15, 1 / 15)
        return b.astype(np.float32), b.astype(np.float32)
    if case.kernel == "sobel":  # horizontal derivative: smoothing down the column, difference along the row
        return np.array([1, 2, 1], np.float32), np.array([-1, 0, 1], np.float32)
    if case.kernel == "outer:15":  # an outer product of two random vectors
        rng = np.random.default_rng(zlib.crc32(case.kernel.encode()))
        return rng.standard_normal(15).astype(np.float32), rng.standard_normal(15).astype(np.float32)
    raise ValueError(f"not a separable case: {case.kernel}")


#: Separable (rank-1) kernels of the separable cases, built as ``outer(column, row)`` in float32.
SEPARABLE = ("gaussian:15:3", "box:15", "sobel", "outer:15")


@dataclass(frozen=True)
class Case:
    """One benchmark input: an image, a kernel and the call's options."""

    name: str  # the benchmark group
    h: int
    w: int
    k: int  # kernel side (ignored for named kernels)
    dtype: str = "float32"  # image dtype: "float32", or "uint8" with an integer kernel
    stride: int = 1
    padding: str = "valid"
    channels: int = 0  # 0: a 2-D image; 3: an (H, W, 3) RGB image
    kernel: str = "random"  # "random", "kernel1", "kernel2", or a separable kernel of SEPARABLE
    smoke: bool = False  # also run (once, untimed) by a plain `pytest`
    seed_peer: bool = False  # time the seed's pure-Python function too

    @property
    def separable(self) -> bool:
        return self.kernel in SEPARABLE

    @property
    def pixels(self) -> int:
        return self.h * self.w * max(1, self.channels)

    @property
    def taps(self) -> int:
        """Multiply-adds of a direct stride-1 computation (a cost estimate)."""
        return self.pixels * self.k * self.k


def _case(h, k, **kw):
    parts = [f"{h}x{h}" + ("x3" if kw.get("channels") else ""), kw.get("dtype", "float32")]
    parts.append(kw.get("kernel", f"{k}x{k}") if kw.get("kernel", "random") != "random" else f"{k}x{k}")
    if kw.get("stride", 1) != 1:
        parts.append(f"stride {kw['stride']}")
    if kw.get("padding", "valid") != "valid":
        parts.append(kw["padding"])
    return Case(" ".join(parts), h, h, k, **kw)


CASES = [
    # The seed's Part 1b: a 200x200 8-bit channel with its two kernels.
    _case(200, 3, dtype="uint8", kernel="kernel1", smoke=True, seed_peer=True),
    _case(200, 3, dtype="uint8", kernel="kernel2", seed_peer=True),
    # Time against image size (3x3, float32).
    _case(256, 3, smoke=True),
    _case(512, 3),
    _case(1024, 3),
    _case(2048, 3),
    _case(4096, 3),
    # Time against kernel size (1024x1024, float32).
    _case(1024, 5),
    _case(1024, 7),
    _case(1024, 11),
    _case(1024, 15),
    _case(4096, 5),
    _case(4096, 15),
    # Stride and padding.
    _case(1024, 3, stride=2),
    _case(1024, 3, padding="same"),
    _case(4096, 3, padding="same"),
    _case(1024, 5, padding="same"),
    # 8-bit images with an integer kernel (exact int64 results).
    _case(1024, 3, dtype="uint8", kernel="kernel1"),
    _case(4096, 3, dtype="uint8", kernel="kernel1"),
    # An RGB image, each channel filtered with the same kernel.
    _case(1024, 3, channels=3),
    # The seed's 200x200 case in float32.
    _case(200, 3, kernel="kernel1", seed_peer=True),
    # Separable kernels (fastconv finds the factors itself; cv2.sepFilter2D is given them).
    *[_case(n, 3 if kern == "sobel" else 15, kernel=kern) for n in (2048, 4096) for kern in SEPARABLE],
]
#: Kernel sides of the kernel-size series ("same" padding, random full-rank float32 kernels) on
#: 1024x1024 and 2048x2048: direct, fft and auto beside OpenCV and scipy's two FFT convolutions.
KERNEL_SERIES_SIDES = (3, 5, 7, 15, 23, 31, 63, 127, 255)
KERNEL_SERIES_SIZES = (1024, 2048)
_names = {c.name for c in CASES}
#: The series' cases not among the cases above: timed with :data:`KERNEL_SERIES_PEERS` only.
SERIES_CASES_ADDED = [
    c
    for c in (_case(n, k, padding="same") for n in KERNEL_SERIES_SIZES for k in KERNEL_SERIES_SIDES)
    if c.name not in _names
]
CASES += SERIES_CASES_ADDED
CASES_BY_NAME = {c.name: c for c in CASES}


def in_kernel_series(case: Case) -> bool:
    """True for the cases of the kernel-size series (including the older cases that belong to it)."""
    return (
        case.h in KERNEL_SERIES_SIZES
        and case.k in KERNEL_SERIES_SIDES
        and case.padding == "same"
        and case.stride == 1
        and case.dtype == "float32"
        and not case.channels
        and case.kernel == "random"
    )


def make_inputs(case: Case):
    """The image and kernel of ``case`` (seeded: the same in every run)."""
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    shape = (case.h, case.w, 3) if case.channels else (case.h, case.w)
    if case.dtype == "uint8":
        img = rng.integers(0, 256, size=shape, dtype=np.uint8)
    else:
        img = rng.random(shape, dtype=np.float32)
    if case.kernel == "kernel1":
        k = KERNEL1.copy()
    elif case.kernel == "kernel2":
        k = KERNEL2.copy()
    elif case.kernel in SEPARABLE:
        column, row = separable_factors(case)
        k = np.outer(column, row).astype(np.float32)
    elif case.dtype == "uint8":
        k = rng.integers(-4, 5, size=(case.k, case.k)).astype(np.int64)
    else:
        k = (rng.random((case.k, case.k), dtype=np.float32) - np.float32(0.5)) / np.float32(case.k)
    return img, k


def call_kwargs(case: Case) -> dict:
    return {"stride": case.stride, "padding": case.padding}


def valid_slice(case: Case, k):
    """Slices that cut a same-size ("same"-padded, stride 1) output to fastconv's output for ``case``."""
    kh, kw = k.shape
    s = case.stride
    if case.padding == "same":
        # odd kernels: TensorFlow's SAME rule and a centred kernel agree at stride 1
        return (slice(None, None, s), slice(None, None, s))
    return (slice(kh // 2, case.h - (kh - 1 - kh // 2), s), slice(kw // 2, case.w - (kw - 1 - kw // 2), s))


# --------------------------------------------------------------------------- peers


def _fastconv(backend):
    def setup(case, img, k):
        import fastconv

        kw = call_kwargs(case)
        return (lambda: fastconv.convolve2d(img, k, backend=backend, **kw)), (lambda r: r)

    return setup


def _fastconv_uncached(case, img, k):
    import fastconv
    from fastconv import _fft

    kw = call_kwargs(case)

    def run():
        _fft.clear_spectra()  # as a call with a new kernel: its spectrum is computed again
        return fastconv.convolve2d(img, k, **kw)

    return run, (lambda r: r)


def _fastconv_out(case, img, k):
    if case.channels or case.dtype != "float32":
        raise Unsupported("shown beside np.copyto only (single-channel float32)")
    import fastconv

    kw = call_kwargs(case)
    out = fastconv.convolve2d(img, k, **kw)  # a preallocated result, as np.copyto's destination

    return (lambda: fastconv.convolve2d(img, k, out=out, **kw)), (lambda r: r)


def _seed(case, img, k):
    if not case.seed_peer:
        raise Unsupported("the seed's function runs on the 200x200 cases only")
    n = case.h - k.shape[0] + 1
    return (lambda: seed_convolve(img, k)), (lambda r: r[:n, :n])


def _numpy(case, img, k):
    from numpy.lib.stride_tricks import sliding_window_view

    if case.padding != "valid":
        raise Unsupported("valid padding only (a padded copy would be timed)")
    kk = k if case.dtype != "uint8" else k.astype(np.int64)
    s = case.stride
    if case.channels:
        return (lambda: np.einsum("ijckl,kl->ijc", sliding_window_view(img, k.shape, axis=(0, 1))[::s, ::s], kk)), (
            lambda r: r
        )
    return (lambda: np.einsum("ijkl,kl->ij", sliding_window_view(img, k.shape)[::s, ::s], kk)), (lambda r: r)


def _scipy_signal(case, img, k):
    signal = pytest.importorskip("scipy.signal")
    mode = "same" if case.padding == "same" else "valid"
    s = case.stride
    if case.channels:

        def run():
            return np.stack([signal.correlate2d(img[:, :, c], k, mode=mode) for c in range(img.shape[2])], axis=-1)
    else:

        def run():
            return signal.correlate2d(img, k, mode=mode)

    return run, (lambda r: r[::s, ::s])


def _scipy_ndimage(case, img, k):
    ndimage = pytest.importorskip("scipy.ndimage")
    weights = k[:, :, None] if case.channels else k
    if case.dtype == "uint8":
        out = np.empty(img.shape, dtype=np.int64)  # its default output dtype is the input's (uint8)

        def run():
            ndimage.correlate(img, weights, output=out, mode="constant", cval=0)
            return out
    else:

        def run():
            return ndimage.correlate(img, weights, mode="constant", cval=0)

    sl = valid_slice(case, k)
    return run, (lambda r: r[sl])


def _scipy_fft(case, img, k):
    signal = pytest.importorskip("scipy.signal")
    mode = "same" if case.padding == "same" else "valid"
    x = img.astype(np.float64) if case.dtype == "uint8" else img  # exact integers need float64
    flipped = np.ascontiguousarray(k[::-1, ::-1]).astype(x.dtype)
    if case.channels:
        flipped = flipped[:, :, None]
    s = case.stride
    axes = (0, 1)
    return (lambda: signal.fftconvolve(x, flipped, mode=mode, axes=axes)), (lambda r: r[::s, ::s])


def _scipy_oa(case, img, k):
    signal = pytest.importorskip("scipy.signal")
    mode = "same" if case.padding == "same" else "valid"
    x = img.astype(np.float64) if case.dtype == "uint8" else img
    flipped = np.ascontiguousarray(k[::-1, ::-1]).astype(x.dtype)
    if case.channels:
        flipped = flipped[:, :, None]
    s = case.stride
    return (lambda: signal.oaconvolve(x, flipped, mode=mode, axes=(0, 1))), (lambda r: r[::s, ::s])


def _cv2(case, img, k):
    cv2 = pytest.importorskip("cv2")
    kf = k.astype(np.float32)
    ddepth = cv2.CV_32F
    sl = valid_slice(case, k)
    return (lambda: cv2.filter2D(img, ddepth, kf, borderType=cv2.BORDER_CONSTANT)), (lambda r: r[sl])


def _cv2_sep(case, img, k):
    cv2 = pytest.importorskip("cv2")
    if not case.separable:
        raise Unsupported("separable cases only (it is given the kernel's two factors)")
    column, row = separable_factors(case)
    sl = valid_slice(case, k)
    return (lambda: cv2.sepFilter2D(img, cv2.CV_32F, row, column, borderType=cv2.BORDER_CONSTANT)), (lambda r: r[sl])


def _tf(case, img, k):
    tf = pytest.importorskip("tensorflow")
    pad = "SAME" if case.padding == "same" else "VALID"
    s = case.stride
    x = img.astype(np.float32)
    if case.channels:
        xt = tf.constant(x[None])
        wt = tf.constant(np.repeat(k.astype(np.float32)[:, :, None, None], img.shape[2], axis=2))

        def run():
            return tf.nn.depthwise_conv2d(xt, wt, strides=[1, s, s, 1], padding=pad).numpy()

        return run, (lambda r: r[0])
    xt = tf.constant(x[None, :, :, None])
    wt = tf.constant(k.astype(np.float32)[:, :, None, None])
    return (lambda: tf.nn.conv2d(xt, wt, strides=s, padding=pad).numpy()), (lambda r: r[0, :, :, 0])


def _copyto(case, img, k):
    if case.channels or case.dtype != "float32":
        raise Unsupported("shown on single-channel float32 cases only")
    dst = np.empty_like(img)
    return (lambda: np.copyto(dst, img)), None


#: name -> setup(case, img, k) -> (run, extract); extract is None for a non-convolution.
PEERS = {
    "fastconv": _fastconv("auto"),
    "fastconv[direct]": _fastconv("direct"),
    "fastconv[fft]": _fastconv("fft"),
    "fastconv (new kernel)": _fastconv_uncached,
    "fastconv[im2col]": _fastconv("im2col"),
    "fastconv[naive]": _fastconv("naive"),
    "seed": _seed,
    "numpy einsum": _numpy,
    "scipy.signal.correlate2d": _scipy_signal,
    "scipy.ndimage.correlate": _scipy_ndimage,
    "scipy.signal.fftconvolve": _scipy_fft,
    "scipy.signal.oaconvolve": _scipy_oa,
    "cv2.filter2D": _cv2,
    "cv2.sepFilter2D": _cv2_sep,
    "tf.nn.conv2d": _tf,
    "np.copyto (floor)": _copyto,
    "fastconv (out=)": _fastconv_out,
}

#: The peers timed on the separable cases (the rest add minutes and nothing the other cases do not show).
SEPARABLE_PEERS = ("fastconv", "cv2.filter2D", "cv2.sepFilter2D", "np.copyto (floor)")

#: The peers timed on the kernel-size series (the others are too slow for its large kernels), and the
#: peers timed on that series only.
KERNEL_SERIES_PEERS = (
    "fastconv",
    "fastconv[direct]",
    "fastconv[fft]",
    "fastconv (new kernel)",
    "cv2.filter2D",
    "scipy.signal.fftconvolve",
    "scipy.signal.oaconvolve",
)
SERIES_ONLY_PEERS = ("fastconv[fft]", "fastconv (new kernel)", "scipy.signal.oaconvolve")

#: Peers too slow to time on large inputs: the largest ``Case.taps`` each is timed on
#: (one call would take seconds beyond it).  Skipped above it, and said so.
MAX_TAPS = {
    "fastconv[naive]": 30e6,
    "fastconv[direct]": 20e9,
    "fastconv[im2col]": 300e6,
    # 20 G multiply-adds take about a second on two threads; 2048x2048 127x127 (68 G) would take 3.
    "numpy einsum": 30e6,
    "scipy.signal.correlate2d": 300e6,
    "seed": 1e6,
}


def check_same(peer: str, got, want, case: Case, img, k) -> None:
    """Assert a peer's answer equals fastconv's, exactly for integer results."""
    got = np.asarray(got)
    assert got.shape == want.shape, f"{peer}: shape {got.shape}, fastconv {want.shape}"
    if want.dtype.kind in "iu":
        np.testing.assert_array_equal(np.rint(got).astype(np.int64), want, err_msg=peer)
    else:
        scale = float(np.abs(k).sum()) * max(1.0, float(np.abs(img).max()))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * scale, err_msg=peer)

"""Drop-in for ``scipy.signal``: its whole namespace, its correlations and convolutions computed on fastconv.

``from fastconv import signal`` in place of ``from scipy import signal`` gives every public name of
scipy.signal: :func:`correlate2d`, :func:`convolve2d` (modes ``full``/``same``/``valid``,
boundaries ``fill``/``wrap``/``symm``, ``fillvalue``), :func:`correlate`,
:func:`convolve` (1-D to 3-D, ``method="auto"``/``"direct"``/``"fft"``), :func:`fftconvolve` and
:func:`oaconvolve` (1-D to 3-D, on fastconv's FFT backend) with scipy's signatures, result dtypes
and results (:data:`COMPUTED`); every other name (:data:`HANDED_TO_SCIPY`) is scipy's own object,
handed over by the module's ``__getattr__``.  Real integer and
float32/float64 inputs run on :func:`fastconv.convolve2d`; complex, bool and
float16 inputs, more than three dimensions, and any argument scipy refuses
are passed to scipy unchanged.

The result dtype is scipy's, ``numpy.result_type(in1, in2)``.  Integer
results are summed exactly in int64 and then converted to that dtype, which
wraps around exactly as scipy's sums in the narrow type do; float results are
computed in their own precision (float32 stays float32).  ``method="fft"``
runs fastconv's FFT backend where :data:`fastconv.BACKENDS` has one, else
scipy's FFT; ``"auto"`` lets :func:`fastconv.convolve2d` choose.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.signal

from ._docstrings import SIGNAL
from ._dropin import DTYPES as _DTYPES
from ._dropin import scipy_namespace
from ._nd import correlate_nd, counted
from ._plan import mode_pads
from .convolve import BACKENDS

#: The functions of scipy.signal that fastconv computes (for the inputs it covers, see the module notes).
COMPUTED = ("convolve", "convolve2d", "correlate", "correlate2d", "fftconvolve", "oaconvolve", "medfilt", "medfilt2d")

# scipy's own functions (the fallbacks); the rest of scipy.signal's public names, handed over unchanged.
_SCIPY, HANDED_TO_SCIPY, __all__, __getattr__, __dir__ = scipy_namespace(scipy.signal, COMPUTED, globals())


# Median filters: fastconv._rank.
from ._rank import medfilt, medfilt2d  # noqa: E402, F401  (exported: COMPUTED, __all__)

# Their docstrings take the shared parameter texts here, where they are exported.
SIGNAL(medfilt, returns="returns_median")
SIGNAL(medfilt2d, kernel_size="kernel_size_2d", returns="returns_median")

#: scipy.signal's ``boundary`` words as numpy.pad's modes.
BOUNDARIES = {"fill": "constant", "pad": "constant", "wrap": "wrap", "circular": "wrap", "symm": "symmetric"}
BOUNDARIES["symmetric"] = "symmetric"


def _run(name, compute, *args):
    """``compute(*args)`` on fastconv, counted as ``signal.<name>``; scipy's ``name(*args)`` when it gives None."""
    return counted(f"signal.{name}", lambda: compute(*args), lambda: _SCIPY[name](*args))


def _inputs(in1, in2, ndims):
    """``(a, b, result dtype)`` for real inputs of the same ``ndim`` in ``ndims``; None for scipy to handle."""
    a, b = np.asarray(in1), np.asarray(in2)
    if a.ndim != b.ndim or a.ndim not in ndims or a.size == 0 or b.size == 0:
        return None
    if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
        return None
    rt = np.result_type(a, b)
    return (a, b, rt) if rt in _DTYPES else None


def _swap_needed(mode, s1, s2):
    """scipy's rule: in ``"valid"`` mode the larger input goes first; None when neither is larger everywhere."""
    if mode != "valid":
        return False
    ok1 = all(i >= j for i, j in zip(s1, s2, strict=True))
    ok2 = all(j >= i for i, j in zip(s1, s2, strict=True))
    if not (ok1 or ok2):
        return None
    return not ok1


def _correlate(a, b, rt, pads, pad_mode="constant", fill=0, backend="auto"):
    """The correlation of ``a`` with ``b`` in scipy's result dtype ``rt``, or None if it must come from scipy."""
    if rt.kind in "iu":
        if pad_mode == "constant" and fill:
            if not math.isfinite(fill):
                return None
            info = np.iinfo(rt)
            fill = math.trunc(fill)  # scipy converts the fill value to the result's type
            if not info.min <= fill <= info.max:
                return None
        try:
            result = correlate_nd(a, b, pads, pad_mode, int(fill) if pad_mode == "constant" else 0, None, backend)
        except OverflowError:  # int64 could wrap: scipy's own arithmetic then
            return None
        return result.astype(rt, copy=False)  # wraps around as scipy's sums in the narrow type
    return correlate_nd(a, b, pads, pad_mode, float(fill) if pad_mode == "constant" else 0, rt, backend)


def _two_d(in1, in2, mode, boundary, fillvalue, convolution):
    """:func:`correlate2d` / :func:`convolve2d` on fastconv, or None."""
    found = _inputs(in1, in2, (2,))
    if found is None or mode not in ("full", "same", "valid") or boundary not in BOUNDARIES:
        return None
    fill = np.asarray(fillvalue)
    if fill.ndim != 0 or fill.dtype.kind not in "biuf":
        return None  # scipy's error, or a complex fill value
    a, b, rt = found
    swapped = _swap_needed(mode, a.shape, b.shape)
    if swapped is None:
        return None
    if swapped:
        a, b = b, a
    pad_mode = BOUNDARIES[boundary]
    # scipy's "same" output starts (m-1)//2 into the full one for convolve2d, m//2 for correlate2d.
    pads = mode_pads(mode, b.shape, lower=not convolution)
    kern = b[::-1, ::-1] if convolution else b
    result = _correlate(a, kern, rt, pads, pad_mode, fill.item())
    if result is not None and swapped and not convolution:
        result = result[::-1, ::-1]
    return result


@SIGNAL(mode="mode_2d", returns="returns_correlation")
def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """Cross-correlate two 2-D arrays: :func:`scipy.signal.correlate2d` on fastconv.

    ``in2`` slides over ``in1`` unflipped; each output is the sum of the products where they overlap.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import signal
    >>> signal.correlate2d(np.arange(9).reshape(3, 3), np.array([[1, 0], [0, -1]]), mode="valid")
    array([[-4, -4],
           [-4, -4]])
    """
    return _run("correlate2d", functools.partial(_two_d, convolution=False), in1, in2, mode, boundary, fillvalue)


@SIGNAL(mode="mode_2d")
def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """Convolve two 2-D arrays: :func:`scipy.signal.convolve2d` on fastconv.

    :func:`correlate2d` with ``in2`` flipped on both axes.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import signal
    >>> signal.convolve2d(np.eye(2, dtype=int), np.array([[1, 2], [3, 4]]))
    array([[1, 2, 0],
           [3, 5, 2],
           [0, 3, 4]])
    >>> signal.convolve2d(np.eye(2, dtype=int), np.array([[1, 2], [3, 4]]), "same", "symm")
    array([[10,  6],
           [ 7,  5]])
    """
    return _run("convolve2d", functools.partial(_two_d, convolution=True), in1, in2, mode, boundary, fillvalue)


def _n_d(in1, in2, mode, method, convolution):
    """:func:`correlate` / :func:`convolve` on fastconv, or None."""
    if mode not in ("full", "same", "valid") or method not in ("auto", "direct", "fft"):
        return None
    backend = {"auto": "auto", "direct": "direct", "fft": "fft"}[method]
    if backend not in BACKENDS and backend != "auto":
        return None  # no FFT backend in this fastconv: scipy's FFT
    found = _inputs(in1, in2, (1, 2, 3))
    if found is None:
        return None
    a, b, rt = found
    if method == "fft" and not (_finite(a) and _finite(b)):
        return None  # scipy warns that the FFT spreads NaN and inf over the whole result, and does so
    swapped = _swap_needed(mode, a.shape, b.shape)
    if swapped is None:
        return None
    if swapped:
        a, b = b, a
    kern = b[(slice(None, None, -1),) * b.ndim] if convolution else b
    result = _correlate(a, kern, rt, mode_pads(mode, b.shape), backend=backend)
    if result is not None and swapped and not convolution:
        result = result[(slice(None, None, -1),) * result.ndim]
    return result


@SIGNAL(returns="returns_correlation")
def correlate(in1, in2, mode="full", method="auto"):
    """Cross-correlate two N-D arrays: :func:`scipy.signal.correlate` on fastconv (1-D to 3-D).

    %(parameters)s

    Examples
    --------
    >>> from fastconv import signal
    >>> signal.correlate([1, 2, 3], [0, 1, 0.5])
    array([0.5, 2. , 3.5, 3. , 0. ])
    """
    return _run("correlate", functools.partial(_n_d, convolution=False), in1, in2, mode, method)


@SIGNAL
def convolve(in1, in2, mode="full", method="auto"):
    """Convolve two N-D arrays: :func:`scipy.signal.convolve` on fastconv (1-D to 3-D).

    %(parameters)s

    Examples
    --------
    >>> from fastconv import signal
    >>> signal.convolve([1, 2, 3], [0, 1, 0.5], mode="same")
    array([1. , 2.5, 4. ])
    """
    return _run("convolve", functools.partial(_n_d, convolution=True), in1, in2, mode, method)


_FLOAT32 = np.dtype(np.float32)


def _finite(a):
    """Whether every value of the real array ``a`` is finite (integers always are)."""
    return a.dtype.kind != "f" or bool(np.isfinite(a).all())


def _fft_n_d(in1, in2, mode, axes):
    """:func:`fftconvolve` / :func:`oaconvolve` on fastconv's FFT backend, or None (scipy's dtype rule)."""
    if axes is not None or mode not in ("full", "same", "valid") or "fft" not in BACKENDS:
        return None
    a, b = np.asarray(in1), np.asarray(in2)
    if a.ndim != b.ndim or a.ndim not in (1, 2, 3) or a.size == 0 or b.size == 0:
        return None
    if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf" or np.float16 in (a.dtype, b.dtype):
        return None
    if 1 in a.shape or 1 in b.shape or not (_finite(a) and _finite(b)):
        return None  # scipy multiplies along axes of length 1 (keeping integer dtypes); NaN/inf: its warning
    # scipy's result: float32 when both inputs are float32 (its transforms stay in single precision), else float64.
    rt = _FLOAT32 if a.dtype == _FLOAT32 and b.dtype == _FLOAT32 else np.dtype(np.float64)
    swapped = _swap_needed(mode, a.shape, b.shape)
    if swapped is None:
        return None
    if swapped:
        a, b = b, a
    kern = b[(slice(None, None, -1),) * b.ndim].astype(rt)
    return correlate_nd(a.astype(rt, copy=False), kern, mode_pads(mode, b.shape), dtype=rt, backend="fft")


@SIGNAL(returns="returns_fft")
def fftconvolve(in1, in2, mode="full", axes=None):
    """Convolve two N-D arrays with FFTs: :func:`scipy.signal.fftconvolve` on fastconv's FFT backend (1-D to 3-D).

    Real inputs with ``axes=None`` run on :func:`fastconv.convolve2d`'s ``"fft"`` backend (overlap-save
    real FFTs); complex inputs, ``axes``, more than three dimensions go to scipy.  The result dtype is
    scipy's: float32 when both inputs are float32, else float64; values equal scipy's within FFT rounding.

    %(parameters)s

    Examples
    --------
    >>> from fastconv import signal
    >>> signal.fftconvolve([1, 2, 3], [0, 1, 0.5]).round(12)
    array([0. , 1. , 2.5, 4. , 1.5])
    """
    return _run("fftconvolve", _fft_n_d, in1, in2, mode, axes)


@SIGNAL(returns="returns_fft")
def oaconvolve(in1, in2, mode="full", axes=None):
    """Convolve two N-D arrays by overlap-add: :func:`scipy.signal.oaconvolve` on fastconv's FFT backend (1-D to 3-D).

    The same convolution as :func:`fftconvolve` (fastconv's FFT backend transforms the image in blocks,
    overlap-save, which is what overlap-add buys scipy: memory and time bounded by the block size);
    complex inputs, ``axes``, more than three dimensions go to scipy.

    %(parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import signal
    >>> signal.oaconvolve(np.ones((3, 5)), np.ones((2, 3)), mode="valid").round(12)
    array([[6., 6., 6.],
           [6., 6., 6.]])
    """
    return _run("oaconvolve", _fft_n_d, in1, in2, mode, axes)

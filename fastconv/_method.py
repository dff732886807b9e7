"""Which backend ``backend="auto"`` runs: a cost model whose constants are measured.

:func:`choose` estimates, from operation counts times measured per-operation
times, the time of

- ``direct``: ``C*OH*OW*kh*kw`` multiply-adds (at the rate of its float32
  register tiles at stride and dilation 1, else of its generic loops), plus a
  pass over the input;
- ``direct``'s separable path, which it takes itself for a rank-1 float kernel
  (column stride 1, where :func:`fastconv._separable.worth_trying` says so): ``C*OH*OW*(kh + kw)`` multiply-adds, plus
  ``kh*kw`` bounds-checked ones for each output whose window reaches into the
  padding (as for the direct loops other than the float32 register tiles);
- ``fft`` (:mod:`fastconv._fft`): per block of ``N = nh*nw`` values, two real
  2-D transforms of ``N log2 N`` operations each, the per-value passes
  (gather, product of spectra, scatter) and a cost per row and column (each
  1-D transform's overhead), with the block size that minimises this
  (:func:`fft_block`);

each divided by the backend's speedup on the threads the call will use
(:func:`speedup`: Amdahl's law, from the speedup measured at the calibration's
thread count; ``direct``'s row blocks share out well, the FFT of an image that
is one block hardly does, which moves the crossover to larger kernels on more
threads), and returns the name of the cheapest.  Integer results always go to
``direct`` (exact; the FFT rounds), whatever the model says: a float ``dtype=``
is how a caller asks for a float (possibly FFT) computation of integer inputs.

The constants are seconds per operation, measured by ``python -m
benches.calibrate`` on the machine it runs on and written to a JSON file.
They are read, first found first, from the file named by the environment
variable ``FASTCONV_COSTS``, from ``~/.cache/fastconv/costs.json`` (what the
calibration writes by default), or from ``fastconv/costs.json`` (the defaults
committed with the package, measured on an AMD EPYC (Zen 4) with 2 threads).
A file that is not what the calibration writes gives one warning and the
package's constants (:func:`_problem`).

Constants measured on one CPU can be off by 2x on another, so where the
model's two estimates are close :func:`choose` times both backends once per
shape class on the machine it runs on and keeps the answer (FFTW's "wisdom":
:func:`wisdom_path`, :func:`machine`, :data:`MEASURE`, :func:`clear_wisdom`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from . import _separable as _separable_rule
from ._costs import USER_COSTS, _read, costs, costs_path
from ._fftgeom import geometry

# Kernels of fewer taps never go to the FFT (never close: direct is 10x faster there).
_MIN_FFT_TAPS = 25


def speedup(backend: str, threads: int) -> float:
    """The modelled speedup of ``backend`` (``"direct"`` or ``"fft"``) on ``threads`` threads over one.

    The cost file's ``speedup`` entry holds the speedups measured on ``n0`` threads
    (``python -m benches.calibrate``); the parallel share ``p = (1 - 1/S) * n0/(n0 - 1)``
    (Amdahl's law, clipped to [0, 1]) gives ``1 / ((1 - p) + p/threads)``.  Without the
    entry, or on one thread, 1.
    """
    measured = _read(str(costs_path()))[1]
    if threads <= 1 or not measured or measured.get("threads", 1) <= 1:
        return 1.0
    n0, s0 = measured["threads"], measured[backend]
    p = min(1.0, max(0.0, (1 - 1 / s0) * n0 / (n0 - 1)))
    return 1 / ((1 - p) + p / threads)


def fft_time(x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype) -> float:
    """Modelled seconds of the ``fft`` backend (at its best block size, :func:`fastconv._fftgeom.geometry`)."""
    return geometry(x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype).seconds


def _border_outputs(x_shape_chw, k_shape, stride, dilation, pads, out_shape) -> int:
    """Outputs whose window reaches into the padding (computed with bounds checks by ``direct``'s loops)."""
    inside = 1
    for n, k, s, d, p, m in zip(x_shape_chw[1:], k_shape, stride, dilation, pads, out_shape[1:], strict=True):
        first = -(-p // s)  # first output whose window starts inside the image
        last = (n - 1 - d * (k - 1) + p) // s  # last output whose window ends inside it
        inside *= max(0, min(m - 1, last) - first + 1)
    return out_shape[0] * (out_shape[1] * out_shape[2] - inside)


def direct_time(x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype) -> float:
    """Modelled seconds of ``direct``'s general (not separable) loops.

    The float32 register tiles at stride and dilation 1 compute their border outputs from small
    zero-padded copies, at the tiles' rate; the other paths compute them with bounds checks.
    """
    c = costs()
    f64 = np.dtype(dtype) == np.float64
    tiles = not f64 and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
    tap = c["direct_tap_f64" if f64 else "direct_tap_f32_tiles" if tiles else "direct_tap_f32"]
    taps = math.prod(out_shape) * k_shape[0] * k_shape[1]
    t = taps * tap + math.prod(x_shape_chw) * c["direct_value"] + c["call"]
    if not tiles:
        border = _border_outputs(x_shape_chw, k_shape, stride, dilation, pads, out_shape)
        t += border * k_shape[0] * k_shape[1] * c["border_tap"]
    return t


def separable_time(x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype) -> float:
    """Modelled seconds of ``direct``'s separable path.

    The interior as a row pass and a column pass (``kh + kw`` taps per output); the outputs whose
    window reaches into the padding from the whole kernel with bounds checks (``kh * kw`` taps each).
    """
    c = costs()
    tap = c["separable_tap_f64" if np.dtype(dtype) == np.float64 else "separable_tap_f32"]
    taps = math.prod(out_shape) * (k_shape[0] + k_shape[1])
    border = _border_outputs(x_shape_chw, k_shape, stride, dilation, pads, out_shape)
    return (
        taps * tap
        + border * k_shape[0] * k_shape[1] * c["border_tap"]
        + math.prod(x_shape_chw) * c["direct_value"]
        + c["call"]
    )


def _separable(kernel: np.ndarray, stride, dtype, work: int) -> bool:
    """True when ``direct`` takes its separable path for ``kernel`` (the rule of :mod:`fastconv._separable`)."""
    if (
        stride[1] != 1
        or kernel.dtype != dtype
        or dtype.kind != "f"
        or not _separable_rule.worth_trying(kernel.shape, work)
    ):
        return False
    return _separable_rule.factors(kernel) is not None


# --- measured answers ("wisdom"): the model checked on the machine where it runs -----------------------

#: Measure the two backends when the model's estimates are close (see :func:`choose`).  False, or the
#: environment variable ``FASTCONV_AUTO_MEASURE=0``: the model alone decides (no measurement, no file).
MEASURE = True
#: The model's two estimates within this factor of each other: the call's shape class is measured.
#: The shipped constants (an AVX-512 Zen 4) were off by up to 2x on an AVX2 Zen 3, mostly on direct's side.
CLOSE = 3.0
#: The faster estimate below this (seconds): never measured (a wrong choice costs little; the
#: measurement would cost more).
MEASURE_MIN_SECONDS = 2e-3
#: The slower estimate above this (seconds): never measured (the measurement would take seconds).
MEASURE_MAX_SECONDS = 0.1
#: Most runs of each backend per measurement (alternating; the least kept; see :func:`_measure`).
MEASURE_RUNS = 5
#: Measured times within this factor of each other leave the model's choice (either costs little more).
MEASURE_TIE = 1.1
#: Answers kept in the file (the oldest dropped first).
WISDOM_ENTRIES = 1024
#: Where the answers are kept (``FASTCONV_WISDOM`` names another file).
USER_WISDOM = USER_COSTS.with_name("auto.json")

_wisdom_lock = threading.Lock()
#: The answers read or measured so far in this process, by shape class; None: the file not read yet.
_wisdom: dict | None = None
#: Measurements made by this process (for tests).
measurements = 0


def measuring() -> bool:
    """Whether ``"auto"`` measures close calls (:data:`MEASURE` and ``FASTCONV_AUTO_MEASURE``)."""
    env = os.environ.get("FASTCONV_AUTO_MEASURE", "").strip().lower()
    return MEASURE and env not in ("0", "no", "off", "false")


def wisdom_path() -> Path:
    """The file of measured answers: ``FASTCONV_WISDOM``, else ``~/.cache/fastconv/auto.json``."""
    env = os.environ.get("FASTCONV_WISDOM")
    return Path(env) if env else USER_WISDOM


@functools.lru_cache(maxsize=1)
def machine() -> dict:
    """What the measured answers hold for: the CPU Numba compiles for, its vector width, the libraries' versions.

    Answers measured under another of these are not used (and are replaced by new ones).
    """
    import llvmlite.binding as llvm
    import numba
    import scipy

    from . import _fft

    cpu = numba.config.CPU_NAME or llvm.get_host_cpu_name()
    features = numba.config.CPU_FEATURES or ""
    if not features:
        host = llvm.get_host_cpu_features()
        wide = (
            "avx512f" if host.get("avx512f") and numba.config.CPU_NAME is None else "avx2" if host.get("avx2") else ""
        )
    else:
        wide = "avx512f" if "+avx512f" in features else "avx2" if "+avx2" in features else ""
    ducc = _fft._fft_module()
    return {
        "cpu": cpu,
        "vector_bits": {"avx512f": 512, "avx2": 256}.get(wide, 128),
        "cores": os.cpu_count(),
        "numba": numba.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "ducc0": None if ducc is None else _ducc_version(),
    }


def _ducc_version() -> str:
    import ducc0

    return ducc0.__version__


def _shape_class(x_shape_chw, k_shape, stride, dilation, out_shape, dtype, separable: bool, threads: int) -> str:
    """The key of a call's measured answer: everything the choice depends on, the output's size in half octaves."""
    size = round(2 * math.log2(max(1, out_shape[1] * out_shape[2])))
    return (
        f"{np.dtype(dtype).name} c{x_shape_chw[0]} out2^{size / 2:g} k{k_shape[0]}x{k_shape[1]} "
        f"s{stride[0]},{stride[1]} d{dilation[0]},{dilation[1]} {'sep ' if separable else ''}t{threads}"
    )


def _read_wisdom(path: Path) -> dict:
    """The answers of ``path`` measured on this machine (see :func:`machine`); {} when none or not readable."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as e:
        warnings.warn(
            f"fastconv: ignoring {path}: not readable as JSON ({e}); it will be rewritten", RuntimeWarning, stacklevel=2
        )
        return {}
    if not isinstance(data, dict) or data.get("machine") != machine() or not isinstance(data.get("answers"), dict):
        return {}
    return {
        k: v
        for k, v in data["answers"].items()
        if isinstance(v, dict) and all(isinstance(v.get(b), (int, float)) and v[b] > 0 for b in ("direct", "fft"))
    }


def _write_wisdom(path: Path, answers: dict) -> None:
    """Write ``answers`` to ``path`` whole (a temporary file renamed over it); an unwritable folder is let be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"machine": machine(), "answers": answers}, f, indent=1)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def clear_wisdom() -> None:
    """Forget the measured answers: this process's and the file's (:func:`wisdom_path`).

    Examples
    --------
    >>> import os, tempfile
    >>> from fastconv import _method
    >>> os.environ["FASTCONV_WISDOM"] = os.path.join(tempfile.mkdtemp(), "auto.json")
    >>> _method.clear_wisdom()
    >>> _method.wisdom_path().exists()
    False
    >>> del os.environ["FASTCONV_WISDOM"]
    """
    global _wisdom
    with _wisdom_lock:
        _wisdom = {}
        with contextlib.suppress(FileNotFoundError):
            wisdom_path().unlink()


def _measure(x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype, kernel) -> dict:
    """Seconds of ``direct`` and ``fft`` on an array of the call's shape, the least of alternating runs.

    Three runs each, the order turned every round, and up to :data:`MEASURE_RUNS` while the two
    lie within 1.5x of each other: the first runs compile what a backend has not compiled yet,
    and a busy machine slows some runs, so the least of several is what each backend costs when
    it gets the cores.
    """
    from ._direct import direct
    from ._fft import fft

    global measurements
    x = np.full(x_shape_chw, 0.5, dtype=dtype)
    if kernel is None or kernel.shape != tuple(k_shape):
        kernel = np.full(k_shape, 1.0 / (k_shape[0] * k_shape[1]), dtype=dtype)
    k = np.ascontiguousarray(kernel, dtype=dtype)
    out = np.empty(out_shape, dtype=dtype)
    args = (stride[0], stride[1], dilation[0], dilation[1], pads[0], pads[1], out)
    times = {"direct": math.inf, "fft": math.inf}
    backends = (("direct", direct), ("fft", fft))
    for r in range(MEASURE_RUNS):
        for name, backend in backends if r % 2 == 0 else backends[::-1]:
            t0 = time.perf_counter()
            backend(x, k, *args)
            times[name] = min(times[name], time.perf_counter() - t0)
        if r >= 2 and max(times.values()) >= 1.5 * min(times.values()):
            break
    measurements += 1
    return times


def _measured(x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype, kernel, separable, threads, pick):
    """The faster backend as measured for the call's shape class on this machine (measuring it the first time).

    ``pick`` (the model's choice) stays unless the other backend was measured :data:`MEASURE_TIE` times faster.
    """
    global _wisdom
    key = _shape_class(x_shape_chw, k_shape, stride, dilation, out_shape, dtype, separable, threads)
    path = wisdom_path()
    with _wisdom_lock:
        if _wisdom is None:
            _wisdom = _read_wisdom(path)
        times = _wisdom.get(key)
        if times is None:
            times = _measure(x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype, kernel)
            answers = _read_wisdom(path)  # another process may have added answers since
            answers.pop(key, None)
            answers[key] = times
            while len(answers) > WISDOM_ENTRIES:
                del answers[next(iter(answers))]
            _write_wisdom(path, answers)
            _wisdom = answers
    other = "fft" if pick == "direct" else "direct"
    return other if times[other] * MEASURE_TIE < times[pick] else pick


def choose(x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype, kernel=None) -> str:
    """The backend of least modelled (or measured) time for one call: ``"direct"`` or ``"fft"``.

    Arguments are plain values in the backends' convention: ``x_shape_chw`` the
    ``(C, H, W)`` input, ``k_shape`` ``(kh, kw)``, ``stride``, ``dilation`` and
    ``pads = (top, left)`` pairs, ``out_shape`` ``(C, OH, OW)``, ``dtype`` the
    result dtype, ``kernel`` the kernel as the backend gets it (for the rank
    test of the separable path; None: assumed not separable).  Integer
    results always get ``"direct"``.

    When the model's two estimates lie within a factor :data:`CLOSE` of each
    other (a model whose constants come from another CPU can be wrong by that
    much) and the call takes more than :data:`MEASURE_MIN_SECONDS`, the two
    backends are measured once on arrays of the call's shapes (the model's
    choice stays unless the other is measured 10% faster) and the times are
    kept for its shape class (dtype, channels, kernel shape, stride, dilation,
    output size in half octaves, separability, threads) in :func:`wisdom_path`,
    with the CPU and library versions it holds for (:func:`machine`).  The
    first call of a shape class thus takes some six to ten calls' time more; later
    calls, in this process or another, look the answer up.  :data:`MEASURE` or
    ``FASTCONV_AUTO_MEASURE=0`` turns this off, :func:`clear_wisdom` forgets.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv._method import choose
    >>> choose((1, 512, 512), (3, 3), (1, 1), (1, 1), (1, 1), (1, 512, 512), np.float32)
    'direct'
    >>> choose((1, 1024, 1024), (63, 63), (1, 1), (1, 1), (31, 31), (1, 1024, 1024), np.float32)
    'fft'
    >>> choose((1, 1024, 1024), (63, 63), (1, 1), (1, 1), (31, 31), (1, 1024, 1024), np.int64)
    'direct'
    """
    if k_shape[0] * k_shape[1] < _MIN_FFT_TAPS:  # first: the common small kernel decides in one product
        return "direct"
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return "direct"
    from ._direct import work as direct_work
    from ._loops import threads

    work = direct_work(math.prod(x_shape_chw), k_shape[0] * k_shape[1], math.prod(out_shape))
    n = threads.workers(work)
    s_direct = speedup("direct", n)
    t_direct = direct_time(x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype) / s_direct
    t_fft = fft_time(x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype) / speedup("fft", n)
    separable = False
    if t_fft < t_direct and kernel is not None:
        separable = _separable(kernel, stride, dtype, work)
        if separable:
            t_direct = min(
                t_direct, separable_time(x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype) / s_direct
            )
    pick = "fft" if t_fft < t_direct else "direct"
    low, high = sorted((t_direct, t_fft))
    if high < CLOSE * low and MEASURE_MIN_SECONDS <= low and high <= MEASURE_MAX_SECONDS and measuring():
        if not separable and pick == "direct" and kernel is not None:
            separable = _separable(kernel, stride, dtype, work)
        args = (x_shape_chw, k_shape, stride, dilation, pads, out_shape, dtype, kernel, separable, n, pick)
        return _measured(*args)
    return pick

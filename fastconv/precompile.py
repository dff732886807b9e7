"""Compile fastconv's kernels ahead of time: ``fastconv precompile`` (e.g. in a Docker build step).

Numba compiles each kernel on first use for the dtypes it meets (a few
seconds for the path one call takes) and caches the machine code (next to the
modules, or in ``NUMBA_CACHE_DIR``).  :func:`precompile` runs
:func:`fastconv.convolve2d` and :func:`fastconv.conv2d` once on small inputs of
the common dtypes, with kernels and strides that lead through the paths
common calls take (:data:`fastconv._loops.correlate2d.PATHS`), each call
through the parallel driver as a large call would go (small inputs suffice:
:func:`fastconv._loops.threads.every_call_parallel`), so that every loop they
reach is compiled and written to the
cache; a later process loads it instead of compiling.  :func:`compile_note`
is the CLI's one-time note on stderr while a first call compiles.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence

import numba
import numpy as np
from numba.core import event

from ._loops import threads

_noted = False  # the compile note is printed once per process

#: Image dtypes compiled by default: 8- and 16-bit images, and float images.
COMMON_DTYPES = ("uint8", "uint16", "float32", "float64")

#: Image dtypes whose 3x3 stride-1 paths and layer are also run through the parallel driver
#: (:mod:`fastconv._loops.threads`): the driver is compiled once per tuple of argument types, in well
#: under a second (it calls the block functions, which it does not compile again), so every common
#: dtype's large calls load it from the cache.
PARALLEL_DTYPES = COMMON_DTYPES

#: Image dtypes whose 3x3 calls at stride 2 (and, for integer images, the 3x3 cross whose zero taps
#: are skipped) are compiled too: photos (``fastconv filter -k sobel-x --stride 2``, the seed's
#: kernel2) and the CNN and benchmark dtype.  For the other common dtypes (16-bit images, float64)
#: these paths cost 2.5-4 s a dtype to compile ahead of time (measured on an AVX2 Zen 3, 2 cores),
#: which ``fastconv precompile`` spares to stay within a minute; they compile on first use.
STRIDED_DTYPES = ("uint8", "float32")


def dispatchers() -> list:
    """Every compiled (Numba) function of ``fastconv._loops`` and ``fastconv._fft``, the parallel driver among
    them, for their cache statistics."""
    import importlib
    import pkgutil

    from . import _fft, _loops

    found = []
    modules = [
        importlib.import_module(f"{_loops.__name__}.{info.name}") for info in pkgutil.iter_modules(_loops.__path__)
    ]
    for module in modules + [_fft]:
        for value in vars(module).values():
            if isinstance(value, numba.core.registry.CPUDispatcher) and value not in found:
                found.append(value)
    return found + [d for d in threads.drivers() if d not in found]


def _kernels(image_dtype: np.dtype) -> list[np.ndarray]:
    """The kernels of common calls on ``image_dtype``: 3x3 and another size, integer (narrow lanes) or float.

    An integer image gets integer kernels (a float kernel converts the image to
    float32 or float64 and runs those dtypes' loops), among them, for
    :data:`STRIDED_DTYPES`, a 3x3 cross (five nonzero taps: the seed's kernel2,
    whose zero taps are skipped); a float image gets its own float dtype.
    """
    rng = np.random.default_rng(0)
    kernels = [rng.integers(-2, 3, (3, 3)) | 1, rng.integers(-2, 3, (5, 4))]  # | 1: no zero taps in the 3x3
    if np.dtype(image_dtype).kind == "f":
        return [k.astype(image_dtype) for k in kernels]
    if np.dtype(image_dtype).name not in STRIDED_DTYPES:
        return kernels
    return kernels + [np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]])]


def precompile(dtypes: Sequence[str] = COMMON_DTYPES, *, log=None) -> int:
    """Compile (and cache) the kernels common :func:`fastconv.convolve2d` and :func:`fastconv.conv2d` calls use.

    For each image dtype: 3x3 and 5x4 kernels of the image's kind (integer
    kernels narrow lanes for integer images, and a 3x3 cross with its zero taps
    skipped, for :data:`STRIDED_DTYPES`), at stride 1 with and without padding, and 3x3 at stride 2 for
    :data:`STRIDED_DTYPES`; a 3x3 ``conv2d`` layer (float32 weights for
    float images); for :data:`PARALLEL_DTYPES` the 3x3 stride-1 calls and the layer
    also through the parallel driver.  Other calls (other strides, wider
    integer lanes, large calls of other dtypes) compile what they need on
    first use, a few seconds each.

    Parameters
    ----------
    dtypes : sequence of str
        Image dtypes (default :data:`COMMON_DTYPES`).
    log : callable, optional
        Called with one line of text per dtype done.

    Returns
    -------
    int
        The number of kernel signatures compiled or loaded from the cache.

    Raises
    ------
    TypeError
        If a dtype is not an integer or float numpy dtype.

    Examples
    --------
    >>> from fastconv.precompile import precompile
    >>> precompile(["float64"]) > 0  # doctest: +SKIP
    True
    """
    from . import convolve
    from .convolve import convolve2d
    from .nhwc import conv2d

    convolve._SMALL.clear()  # every call below planned and run through its block function, not a kept plan
    rng = np.random.default_rng(1)
    for name in dtypes:
        dt = np.dtype(name)
        if dt.kind not in "iuf":
            raise TypeError(f"dtype must be an integer or float numpy dtype, got {name!r}")
        top = 255 if dt.itemsize == 1 or dt.kind == "f" else 4000
        t0 = time.perf_counter()
        img = rng.integers(0, top, (40, 30)).astype(dt)
        # the 3x3 stride-1 calls and the layer also through the parallel driver for PARALLEL_DTYPES
        parallel = dt.name in PARALLEL_DTYPES
        for k in _kernels(dt):
            # padding 0: every window inside the image; 1: border code too (two block functions); 3x3 at stride 2
            # (but for the cross, whose stride-2 call takes the nine-tap loop)
            cross = k.shape == (3, 3) and np.count_nonzero(k) <= 5
            strided = k.shape == (3, 3) and not cross and dt.name in STRIDED_DTYPES
            for stride, padding in ((1, 0), (1, 1), (2, 1))[: 3 if strided else 2]:
                large = parallel and stride == 1 and k.shape == (3, 3)
                with threads.every_call_parallel() if large else contextlib.nullcontext():
                    convolve2d(img, k, stride=stride, padding=padding)
        x = rng.integers(0, top, (2, 12, 12, 3)).astype(dt)
        w = rng.integers(-2, 3, (3, 3, 3, 16))
        with threads.every_call_parallel() if parallel else contextlib.nullcontext():
            conv2d(x, w.astype(np.float32) if dt.kind == "f" else w, padding="same")
        # the FFT backend's loops (float32 and float64 blocks; RGB and strided calls included)
        for result in (np.float32, np.float64):
            convolve2d(img, np.ones((5, 5)), stride=2, dtype=result, backend="fft")
            convolve2d(img, np.ones((5, 5)), dtype=result, backend="fft")
        if log is not None:
            log(f"{dt}: {time.perf_counter() - t0:.1f} s")
    return sum(len(d.signatures) for d in dispatchers())


class _Listener(event.Listener):
    def __init__(self, counter):
        self.counter = counter

    def on_start(self, ev):
        self.counter.notify(ev)

    def on_end(self, ev):
        self.counter.notify(ev)


class _CompileWatch:
    """Counts Numba compilations under way (the ``numba:compile`` event: a cache miss, never a cache load)."""

    def __init__(self):
        self.active = 0
        self.started = 0
        self.lock = threading.Lock()

    def notify(self, ev):
        with self.lock:
            self.active += 1 if ev.is_start else -1
            self.started += 1 if ev.is_start else 0


def _compiling(watch: _CompileWatch) -> bool:
    """True while a kernel is being compiled (not loaded from the cache) in any thread."""
    return watch.active > 0


@contextlib.contextmanager
def compile_note(after: float | None = None, stream=None) -> Iterator[None]:
    """Print one line on ``stream`` (stderr) once per process if Numba is compiling ``after`` s into the block.

    ``after`` defaults to the environment variable ``FASTCONV_COMPILE_NOTE_AFTER``
    (seconds), else 1.5 s: a compilation shorter than that goes unannounced; with 0
    every compilation in the block is announced.

    Compiling is seen through Numba's ``numba:compile`` event, sent for a
    cache miss only: a compilation under way ``after`` s into the block, or at
    any later look (every 0.25 s: a Dask worker's first call), prints the note.
    On a warm cache nothing is compiled and nothing is printed, however long
    the loading takes on a busy machine; a long computation that compiles
    nothing prints nothing either.
    """
    stream = sys.stderr if stream is None else stream
    if after is None:
        after = float(os.environ.get("FASTCONV_COMPILE_NOTE_AFTER", 1.5))
    done = threading.Event()

    def note():
        global _noted
        if not _noted:
            _noted = True
            print(
                "fastconv: compiling kernels for these dtypes (once; `fastconv precompile` does it ahead of time)...",
                file=stream,
                flush=True,
            )

    def watch():
        if done.wait(after):
            return
        while not _noted:  # a Dask worker's first call may compile later in the block
            if _compiling(counter) or (after == 0 and counter.started):
                return note()
            if done.wait(0.25):
                return

    counter = _CompileWatch()
    listener = _Listener(counter)
    watcher = threading.Thread(target=watch, daemon=True)
    event.register("numba:compile", listener)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        event.unregister("numba:compile", listener)
        if after == 0 and counter.started and not _noted:  # a compilation shorter than one look
            note()

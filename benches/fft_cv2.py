"""Large kernels against OpenCV: ``python -m benches.fft_cv2``.

``fastconv.convolve2d(..., padding="same", backend="fft")`` with its transforms from
ducc0 and from scipy.fft, and ``cv2.filter2D`` (constant border), on a float32
image (``--size``, default 2048x2048) with random full-rank kernels (``--kernels``,
default 31x31, 63x63, 127x127), on ``--threads`` threads each (Numba's and
OpenCV's; the FFT library gets Numba's count).  The three alternate call by call
for ``--rounds`` rounds; printed: each one's median time and the median, over
the rounds, of each fastconv time over the OpenCV time of the same round, with
its quartiles.  ``--cpu-time`` also prints the CPU time of one thread (one Numba
thread, one FFT worker, OpenCV on one thread; least of the rounds), which a busy
machine disturbs less than wall time.  Results are checked against OpenCV's
first.  ``--out`` writes the Markdown table too.  ``--phases`` instead prints where
one call's CPU time goes on one thread (gather, forward transforms, product,
inverse transforms, scatter) with each FFT library.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numba
import numpy as np

import fastconv
from benches.first_call import cpu
from fastconv import _fft, _fftgeom


def _fastconv(library: str, img, kernel):
    def call():
        _fft._DUCC = False if library == "ducc0" else None  # False: looked up (found); None: scipy.fft
        return fastconv.convolve2d(img, kernel, padding="same", backend="fft")

    return call


def rows(size: int, kernels, rounds: int, cpu_time: bool) -> list[str]:
    import cv2

    rng = np.random.default_rng(0)
    img = rng.random((size, size), dtype=np.float32)
    libraries = ["ducc0", "scipy.fft"]
    try:
        import ducc0  # noqa: F401
    except ImportError:
        libraries = ["scipy.fft"]
    head = "| image | kernel | " + " | ".join(f"fastconv ({lib}) ms" for lib in libraries) + " | cv2 ms | "
    head += " | ".join(f"{lib} / cv2 (quartiles)" for lib in libraries) + " |"
    if cpu_time:
        head += " CPU time of one thread, ms: " + ", ".join(libraries) + ", cv2 |"
    out = [head, "|" + " --- |" * (head.count("|") - 1)]
    for k in kernels:
        kernel = rng.random((k, k), dtype=np.float32)
        calls = {lib: _fastconv(lib, img, kernel) for lib in libraries}
        calls["cv2"] = lambda kernel=kernel: cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        want = calls["cv2"]()
        for f in calls.values():
            np.testing.assert_allclose(f(), want, rtol=1e-4, atol=1e-4 * k * k)
        times = {c: [] for c in calls}
        for _ in range(rounds):
            for c, f in calls.items():
                t0 = time.perf_counter()
                f()
                times[c].append(time.perf_counter() - t0)
        t = {c: np.array(v) for c, v in times.items()}
        cells = [f"{np.median(t[c]) * 1e3:.1f}" for c in calls]
        for lib in libraries:
            r = t[lib] / t["cv2"]
            cells.append(f"{np.median(r):.2f} ({np.percentile(r, 25):.2f}-{np.percentile(r, 75):.2f})")
        if cpu_time:
            one = {c: [] for c in calls}
            threads = numba.get_num_threads()
            numba.set_num_threads(1)
            cv2.setNumThreads(1)
            try:
                for _ in range(max(3, rounds // 3)):
                    for c, f in calls.items():
                        t0 = time.thread_time()
                        f()
                        one[c].append(time.thread_time() - t0)
            finally:
                numba.set_num_threads(threads)
                cv2.setNumThreads(threads)
            cells.append(", ".join(f"{min(v) * 1e3:.1f}" for v in one.values()))
        out.append(f"| {size}x{size} | {k}x{k} | " + " | ".join(cells) + " |")
        print(out[-1], flush=True)
    _fft._DUCC = False
    return out


def phases(size: int, kernels) -> list[str]:
    """Markdown rows: one thread's CPU ms per pass of one fft call (least of 5 calls), ducc0 and scipy.fft."""
    from fastconv._loops import threads as loops

    spent: dict = {}

    def timed(name, f):
        def call(*a, **kw):
            t0 = time.thread_time()
            try:
                return f(*a, **kw)
            finally:
                spent[name] = spent.get(name, 0.0) + time.thread_time() - t0

        return call

    run = loops.run
    saved = {n: getattr(_fft, n) for n in ("_forward", "_inverse_columns", "_inverse_rows", "_threads")}

    class Passes:  # the thread policy's run and workers, run timed
        workers = staticmethod(loops.workers)

        @staticmethod
        def run(kernel, *a):
            timed(kernel.__name__.strip("_"), run)(kernel, *a)

    _fft._forward = timed("forward", saved["_forward"])
    _fft._inverse_columns = timed("inverse columns", saved["_inverse_columns"])
    _fft._inverse_rows = timed("inverse rows", saved["_inverse_rows"])
    _fft._threads = Passes
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    names = ("gather", "forward", "multiply", "inverse columns", "inverse rows", "scatter")
    out = [
        "| kernel | block | transforms | total | " + " | ".join(names) + " |",
        "|" + " --- |" * 3 + " ---: |" * (1 + len(names)),
    ]
    try:
        rng = np.random.default_rng(0)
        x = rng.random((1, size, size), dtype=np.float32)
        res = np.empty_like(x)
        for k in kernels:
            kernel = rng.random((k, k), dtype=np.float32)
            p = k // 2
            axis = _fftgeom.axis_geometry(size, size, k, 1, 1, p)
            block = "x".join(map(str, _fftgeom.fft_block(axis, axis, 1, np.float32)))
            for library in ("ducc0", "scipy.fft"):
                _fft._DUCC = False if library == "ducc0" else None
                if library == "ducc0" and _fft._fft_module() is None:
                    continue
                _fft.fft(x, kernel, 1, 1, 1, 1, p, p, res)
                best = (math.inf, {})
                for _ in range(5):
                    spent.clear()
                    t0 = time.thread_time()
                    _fft.fft(x, kernel, 1, 1, 1, 1, p, p, res)
                    best = min(best, (time.thread_time() - t0, dict(spent)), key=lambda b: b[0])
                cells = " | ".join(f"{best[1].get(n, 0.0) * 1e3:.1f}" for n in names)
                out.append(f"| {k}x{k} | {block} | {library} | {best[0] * 1e3:.1f} | {cells} |")
                print(out[-1], flush=True)
    finally:
        for n, f in saved.items():
            setattr(_fft, n, f)
        _fft._DUCC = False
        numba.set_num_threads(threads)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches.fft_cv2", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="image side (default 2048)")
    parser.add_argument("--kernels", type=int, nargs="+", default=(31, 63, 127), help="kernel sides")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds (default 15)")
    parser.add_argument("--threads", type=int, default=2, help="threads of each (default 2)")
    parser.add_argument("--cpu-time", action="store_true", help="also the CPU time of one thread")
    parser.add_argument("--phases", action="store_true", help="instead: one thread's CPU time per pass")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    if args.phases:
        print(f"CPU ms of one thread per pass ({cpu()}), float32, padding='same', {args.size}x{args.size}")
        phases(args.size, args.kernels)
        return 0
    import cv2

    numba.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    header = (
        f"Wall time on {args.threads} threads each ({cpu()}; OpenCV {cv2.__version__}), float32, "
        f"padding='same', fastconv's fft backend and cv2.filter2D alternating call by call, "
        f"medians of {args.rounds} rounds."
    )
    print(header)
    table = rows(args.size, args.kernels, args.rounds, args.cpu_time)
    if args.out is not None:
        args.out.write_text(header + "\n\n" + "\n".join(table) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

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
first.  ``--out`` writes the Markdown table too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numba
import numpy as np

import fastconv
from benches.first_call import cpu
from fastconv import _fft


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches.fft_cv2", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="image side (default 2048)")
    parser.add_argument("--kernels", type=int, nargs="+", default=(31, 63, 127), help="kernel sides")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds (default 15)")
    parser.add_argument("--threads", type=int, default=2, help="threads of each (default 2)")
    parser.add_argument("--cpu-time", action="store_true", help="also the CPU time of one thread")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
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

"""Does ``backend="auto"`` pick the faster backend on several threads? ``python -m benches.auto_threads``.

Wall time of ``direct``, ``fft`` and ``auto`` on float32 images (``--sizes``, default
1024x1024 and 2048x2048) with random full-rank kernels (``--kernels``, default 3x3 to
127x127), ``padding="same"``, on Numba's threads (``NUMBA_NUM_THREADS``).  ``auto``
is called once before the timed rounds, so a measurement it makes for an
uncalibrated machine (see :mod:`fastconv._method`) is done by then.  The three
alternate call by call, each round in all six orders of the three (each the best of its 6 calls per round: each
follows each of the other two equally often, as what ran before a call, an FFT's threads or the direct loops',
leaves the caches and threads in another state; the ratio ``auto`` over
the faster one is taken per round and its median over ``--rounds`` rounds printed,
with its range), so a slow spell of a shared machine falls on all three alike.  Prints a
Markdown table (``--out`` writes it too): the backend ``auto`` runs and its time over
the faster one's.  ``python -m benches.calibrate --check`` is the one-thread CPU-time
counterpart.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numba
import numpy as np

import fastconv
from benches.first_call import cpu
from fastconv import _method

SIZES = (1024, 2048)
KERNELS = (3, 5, 7, 9, 11, 15, 19, 23, 27, 31, 39, 47, 63, 95, 127)


def rows(rounds: int = 7, sizes=SIZES, kernels=KERNELS) -> list[str]:
    rng = np.random.default_rng(0)
    out = [
        "| image | kernel | direct ms | fft ms | auto ms | auto runs | auto / faster (range) |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for n in sizes:
        img = rng.random((n, n), dtype=np.float32)
        for k in kernels:
            kernel = rng.random((k, k), dtype=np.float32)
            calls = {
                b: (lambda b=b, img=img, kernel=kernel: fastconv.convolve2d(img, kernel, padding="same", backend=b))
                for b in ("direct", "fft", "auto")
            }
            for f in calls.values():
                f()
            times = {b: [] for b in calls}
            ratios = []
            for _ in range(rounds):
                best = dict.fromkeys(calls, float("inf"))
                for order in itertools.permutations(calls):  # call by call, every order once (module notes)
                    for b in order:
                        f = calls[b]
                        t0 = time.perf_counter()
                        f()
                        best[b] = min(best[b], time.perf_counter() - t0)
                for b in calls:
                    times[b].append(best[b])
                ratios.append(best["auto"] / min(best["direct"], best["fft"]))
            med = {b: float(np.median(v)) * 1e3 for b, v in times.items()}
            p = k // 2
            runs = _method.choose((1, n, n), (k, k), (1, 1), (1, 1), (p, p), (1, n, n), np.float32, kernel)
            ratio = f"{np.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
            times_ms = f"{med['direct']:.2f} | {med['fft']:.2f} | {med['auto']:.2f}"
            out.append(f"| {n}x{n} | {k}x{k} | {times_ms} | {runs} | {ratio} |")
            print(out[-1], flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches.auto_threads", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds, the median kept (default 7)")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES, help="image sides (default 1024 2048)")
    parser.add_argument("--kernels", type=int, nargs="+", default=KERNELS, help="kernel sides (default 3 ... 127)")
    args = parser.parse_args(argv)
    header = (
        f"Wall time on {numba.get_num_threads()} Numba threads ({cpu()}), float32, padding='same', "
        "direct/fft/auto alternating, per round the best of 6 calls (the three in all six orders), "
        f"the median of {args.rounds} rounds' ratios; "
        f"cost constants from {_method.costs_path().name}; close calls measured: "
        f"{'yes, answers in ' + str(_method.wisdom_path()) if _method.measuring() else 'no (model only)'}."
    )
    print(header)
    table = rows(args.rounds, sizes=args.sizes, kernels=args.kernels)
    if args.out is not None:
        args.out.write_text(header + "\n\n" + "\n".join(table) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

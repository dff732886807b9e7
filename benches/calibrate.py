"""Measure the per-operation times of ``backend="auto"``'s cost model: ``python -m benches.calibrate``.

Each constant of :mod:`fastconv._method` is a time per counted operation; this
command times fastconv's own backends on a few inputs and divides:

- ``direct_tap_*``: ``direct`` on 1024x1024 images with 11x11 and 27x27 kernels
  (float32 at stride 1: the register tiles; float32 with dilation 2: the
  generic loops; float64), per multiply-add, from the difference of the two
  (so the per-input-value pass, ``direct_value``, drops out and is fitted too);
- ``separable_tap_*``: ``direct`` on a rank-1 31x31 kernel, per ``kh + kw`` taps
  of each output; ``border_tap``: the same with ``padding="same"``, per tap of the
  outputs it adds (their windows reach into the padding: bounds-checked loops);
- ``fft_nlogn_*``: a forward and an inverse real 2-D transform (scipy.fft) of
  stacks of ``n x n`` blocks, n = 256 ... 2048, per ``N log2 N`` (``N = n*n``);
- ``fft_value_*`` and ``fft_line_*``: the rest of the ``fft`` backend's time
  per value of a block (gathering, the product of spectra, scattering,
  allocation) and per row or column of a block (a 1-D transform's own
  overhead: smaller blocks cost more per value than ``N log2 N`` says), fitted
  by non-negative least squares to whole calls with the block size forced
  (1024x1024 with a 31x31 kernel, 2048x2048 with 63x63; blocks of 256 to 768
  values a side and whole-image blocks);
- ``fft_block`` and ``call``: the fixed costs of a batch of blocks and of a call,
  from small inputs.

Times are CPU seconds of the calling thread (``time.thread_time``) on one
Numba thread and one FFT worker, the least of ``--repeat`` calls, and each
constant is the median over ``--runs`` whole measurements: on a shared
machine that is steadier than wall time, and the model compares backends that
spread over threads alike.  The result is written as JSON to ``--out``
(default: the file ``auto`` reads first after ``$FASTCONV_COSTS``,
``~/.cache/fastconv/costs.json``); ``--out fastconv/costs.json`` replaces the
defaults committed with the package.

``speedup``: the wall-time speedup of ``direct`` and of ``fft`` on Numba's threads
(``NUMBA_NUM_THREADS``) over one, on a 1024x1024 float32 image with a 19x19 kernel
(where the one-thread model's choice is close), from alternating one- and n-thread
calls; ``--speedups-into FILE`` measures only these and writes them into ``FILE``.

``--check FILE.md`` measures instead how well the constants in use predict: direct and
fft on 1024x1024 and 2048x2048 float32 images with kernels from 3x3 to 127x127 (and
rank-1 Gaussians), modelled and measured, the backend ``"auto"`` picks and its time
over the faster one's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

import fastconv
from benches.first_call import cpu
from fastconv import _fft, _fftgeom, _method


def _cpu_time(f, repeat: int) -> float:
    f()  # compile, warm caches
    best = math.inf
    for _ in range(repeat):
        t0 = time.thread_time()
        f()
        best = min(best, time.thread_time() - t0)
    return best


def _direct_rates(img, kernels, repeat, **kw):
    """Per multiply-add and per input value of ``direct`` from two kernel sizes."""
    times, taps = [], []
    for k in kernels:
        out = fastconv.convolve2d(img, k, backend="direct", **kw)
        times.append(_cpu_time(lambda k=k: fastconv.convolve2d(img, k, backend="direct", **kw), repeat))
        taps.append(out.size * k.size)
    tap = max((times[1] - times[0]) / (taps[1] - taps[0]), 1e-13)
    value = max((times[0] - taps[0] * tap) / img.size, 0.0)
    return tap, value


def measure(repeat: int = 5, size: int = 1024) -> dict:
    """Every constant of the cost model, in seconds (see the module docstring)."""
    rng = np.random.default_rng(0)
    seconds = {}
    small = rng.random((32, 32), dtype=np.float32)
    seconds["call"] = _cpu_time(lambda: fastconv.convolve2d(small, np.ones((3, 3), np.float32), backend="direct"), 50)
    # fixed cost of a call of the fft backend with one small batch (its work is negligible)
    tiny = rng.random((1, 24, 24), dtype=np.float32)
    o = np.empty((1, 16, 16), np.float32)
    fixed = _cpu_time(lambda: _fft.fft(tiny, np.ones((9, 9), np.float32), 1, 1, 1, 1, 0, 0, o, block=(24, 24)), 50)
    seconds["fft_block"] = fixed
    values = []
    for dtype, tag in ((np.float32, "f32"), (np.float64, "f64")):
        img = rng.random((size, size)).astype(dtype)
        ks = [(rng.random((n, n)) - 0.5).astype(dtype) for n in (11, 27)]
        if tag == "f32":
            seconds["direct_tap_f32_tiles"], v = _direct_rates(img, ks, repeat)
            values.append(v)
            seconds["direct_tap_f32"], v = _direct_rates(img, ks, repeat, dilation=2)
            values.append(v)
        else:
            seconds["direct_tap_f64"], v = _direct_rates(img, ks, repeat)
            values.append(v)
        g = np.exp(-(((np.arange(31) - 15) / 6.0) ** 2))
        ksep = np.outer(g, g).astype(dtype)
        t = _cpu_time(lambda img=img, ksep=ksep: fastconv.convolve2d(img, ksep, backend="direct"), repeat)
        out = (size - 30) ** 2
        seconds[f"separable_tap_{tag}"] = max((t - img.size * float(np.median(values))) / (out * 62), 1e-13)
        if tag == "f32":
            # "same" adds 15 rows and columns of outputs on each side, each from 31 x 31 bounds-checked taps
            same = _cpu_time(
                lambda img=img, ksep=ksep: fastconv.convolve2d(img, ksep, padding="same", backend="direct"), repeat
            )
            extra = size * size - out
            seconds["border_tap"] = max((same - t - extra * 62 * seconds["separable_tap_f32"]) / (extra * 961), 1e-13)

        # fft: the 1-D stages of a forward and an inverse transform (as the backend runs them) on
        # stacks of 2**21 values in n x n blocks, fitted to a * N log2 N + line * (rows + columns) per block
        from scipy.optimize import nnls

        lhs, rhs = [], []
        for n in (128, 192, 256, 384, 512, 768, 1024, 2048):
            stack = rng.random((max(1, (1 << 21) // (n * n)), n, n)).astype(dtype)

            def pair(stack=stack, n=n):  # the backend's own transforms (ducc0's when installed, else scipy's)
                spec = _fft._forward(stack, 1)
                _fft._inverse_rows(_fft._inverse_columns(spec, 1), n, 1)

            N = n * n
            lhs.append((2 * len(stack) * N * math.log2(N), 2 * len(stack) * 2 * n))
            rhs.append(_cpu_time(pair, repeat))
        (a, line), _ = nnls(np.array(lhs, dtype=float), np.array(rhs))
        # ... and the rest of a block's time per value, from whole calls with the block size forced
        per_value = []
        for n_img, ksize in ((size, 31), (2 * size, 63)):
            x = rng.random((1, n_img, n_img)).astype(dtype)
            k = (rng.random((ksize, ksize)) - 0.5).astype(dtype)
            p = ksize // 2
            outa = np.empty((1, n_img, n_img), dtype=dtype)
            rows = _fftgeom.axis_geometry(n_img, n_img, ksize, 1, 1, p)
            for n in (256, 512, _fftgeom._fast_length(_fftgeom.whole_length(rows))):
                blocks = _fftgeom.blocks_along(rows, n) ** 2
                # the kernel's spectrum is cached by the warm-up call: blocks only
                t = _cpu_time(
                    lambda x=x, k=k, p=p, outa=outa, n=n: _fft.fft(x, k, 1, 1, 1, 1, p, p, outa, block=(n, n)), repeat
                )
                N = n * n
                batches = -(-blocks // max(1, _fftgeom._BATCH_VALUES // N))
                transforms = 2 * blocks * (a * N * math.log2(N) + line * 2 * n)
                per_value.append((t - batches * fixed - transforms) / (blocks * N))
        seconds[f"fft_nlogn_{tag}"] = float(a)
        seconds[f"fft_line_{tag}"] = float(line)
        seconds[f"fft_value_{tag}"] = max(float(np.median(per_value)), 0.0)
    seconds["direct_value"] = float(np.median(values))
    return seconds


def check(repeat: int = 3, sizes=(1024, 2048), sides=(3, 5, 7, 11, 15, 19, 23, 27, 31, 47, 63, 95, 127)) -> list[str]:
    """Markdown rows: modelled and measured CPU time of direct and fft, auto's choice and its cost over the best.

    float32 images, "same", random full-rank kernels, then rank-1 (Gaussian) kernels; direct is not run where
    the model puts it above 3 s (its measured time is then left blank and auto's choice is the fft).
    """
    from fastconv.convolve import _prepare

    rng = np.random.default_rng(1)
    rows = [
        "| image | kernel | model direct | model fft | measured direct | measured fft | auto runs | auto / best |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    g = {n: np.exp(-(((np.arange(n) - n // 2) / (n / 6)) ** 2)) for n in (31, 63, 127)}
    jobs = [(n, k, "random") for n in sizes for k in sides] + [(2048, k, "gaussian") for k in (31, 63, 127)]
    for n, side, kind in jobs:
        img = rng.random((n, n), dtype=np.float32)
        if kind == "gaussian":
            k = np.outer(g[side], g[side]).astype(np.float32)
        else:
            k = ((rng.random((side, side)) - 0.5) / side).astype(np.float32)
        c = _prepare(img, k, 1, "same", 1, False, "constant")
        args = (c.x.shape, c.kern.shape, c.stride, c.dilation)
        choice = _method.choose(*args, c.pads, c.out_shape, c.dtype, c.kern)
        sep = kind == "gaussian"
        if sep:
            m_direct = _method.separable_time(*args, c.pads, c.out_shape, c.dtype)
        else:
            m_direct = _method.direct_time(*args, c.pads, c.out_shape, c.dtype)
        m_fft = _method.fft_time(*args, c.pads, c.out_shape, c.dtype)
        t = {}
        for backend in ("direct", "fft"):
            if backend == "direct" and m_direct > 3:
                continue
            t[backend] = _cpu_time(
                lambda b=backend, img=img, k=k: fastconv.convolve2d(img, k, padding="same", backend=b), repeat
            )
        ratio = t.get(choice, math.nan) / min(t.values())
        label = f"{side}x{side}" + (" Gaussian (rank 1)" if sep else "")
        cells = [f"{v * 1e3:.1f} ms" if v == v else "" for v in (m_direct, m_fft, t.get("direct", math.nan), t["fft"])]
        rows.append(f"| {n}x{n} | {label} | " + " | ".join(cells) + f" | {choice} | {ratio:.2f} |")
        print(rows[-1], flush=True)
    return rows


def measure_speedups(threads: int, rounds: int = 9, repeat: int = 3, size: int = 1024, k: int = 19) -> dict:
    """Wall-time speedup of ``direct`` and ``fft`` on ``threads`` threads over one, where the choice is close.

    ``size x size`` float32 with a ``k x k`` kernel, ``padding="same"`` (the crossover of the
    one-thread model on 1024 and 2048 images); one thread and ``threads`` threads alternate,
    each the best of ``repeat`` calls, and each speedup is the median of ``rounds`` ratios.
    """
    rng = np.random.default_rng(0)
    img = rng.random((size, size), dtype=np.float32)
    kernel = rng.random((k, k), dtype=np.float32)
    out = {"threads": threads, "image": f"{size}x{size} float32", "kernel": f"{k}x{k}, same"}
    for backend in ("direct", "fft"):

        def call(backend=backend):
            fastconv.convolve2d(img, kernel, padding="same", backend=backend)

        call()
        ratios = []
        for _ in range(rounds):
            times = []
            for n in (1, threads):
                numba.set_num_threads(n)
                best = math.inf
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    call()
                    best = min(best, time.perf_counter() - t0)
                times.append(best)
            ratios.append(times[0] / times[1])
        out[backend] = float(np.median(ratios))
    numba.set_num_threads(1)
    return out


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in its folder: a reader sees the old file or the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=_method.USER_COSTS, help=f"JSON to write (default {_method.USER_COSTS})"
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per measurement, the least kept (default 5)")
    parser.add_argument(
        "--runs", type=int, default=3, help="whole measurements, each constant the median over them (default 3)"
    )
    parser.add_argument(
        "--check",
        type=Path,
        metavar="MD",
        help="instead of measuring the constants, compare the model with measured times and write a Markdown table",
    )
    parser.add_argument(
        "--speedups-into",
        type=Path,
        metavar="JSON",
        help="only measure the speedups on Numba's threads and write them into this existing cost file",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    threads = numba.config.NUMBA_NUM_THREADS
    if args.speedups_into is not None:
        data = json.loads(args.speedups_into.read_text())
        data["speedup"] = measure_speedups(threads)
        _write_atomically(args.speedups_into, json.dumps(data, indent=2) + "\n")
        print(json.dumps(data["speedup"]))
        print(f"wrote {args.speedups_into}")
        return 0
    numba.set_num_threads(1)
    if args.check is not None:
        rows = check(args.repeat)
        header = (
            f"CPU time of one thread ({cpu()}, least of {args.repeat} calls, kernel spectra cached), "
            f"constants from {_method.costs_path()}; for the Gaussians the model's direct column is the separable path."
        )
        args.check.write_text(header + "\n\n" + "\n".join(rows) + "\n")
        print(f"wrote {args.check}")
        return 0
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    runs = [measure(args.repeat) for _ in range(args.runs)]
    seconds = {key: float(np.median([r[key] for r in runs])) for key in runs[0]}
    data = {
        "machine": cpu(),
        "measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benches.calibrate",
        "clock": "thread CPU time, 1 Numba thread, 1 FFT worker, least of --repeat calls, median of --runs runs",
        "runs": [{key: r[key] for key in r} for r in runs],
        "versions": {"numpy": np.__version__, "numba": numba.__version__, "python": sys.version.split()[0]},
        "seconds": seconds,
        "speedup": measure_speedups(threads),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(args.out, json.dumps(data, indent=2) + "\n")
    for name, value in seconds.items():
        print(f"{name:24s} {value:.3e} s")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""fastconv.ndimage's separable filters against scipy.ndimage and OpenCV's matching calls.

Cases (2048x2048 float32 unless named, seeded; scipy's default mode ``"reflect"`` and OpenCV's
``BORDER_REFLECT``, the same extension):

========================  ===============================  =====================================
case                      fastconv / scipy                 OpenCV
========================  ===============================  =====================================
gaussian sigma 1          ``gaussian_filter(x, 1)``        ``GaussianBlur(x, (9, 9), 1)``
gaussian sigma 4          ``gaussian_filter(x, 4)``        ``GaussianBlur(x, (33, 33), 4)``
gaussian sigma 4 axis 1   ``gaussian_filter1d(x, 4, 1)``   ``GaussianBlur(x, (33, 1), 4)``
gaussian sigma 2 uint8    ``gaussian_filter(u8, 2)``       ``GaussianBlur(u8, (17, 17), 2)``
uniform 15                ``uniform_filter(x, 15)``        ``blur(x, (15, 15))``
sobel                     ``sobel(x, axis=-1)``            ``Sobel(x, CV_32F, 1, 0, ksize=3)``
laplace                   ``laplace(x)``                   ``Laplacian(x, CV_32F, ksize=1)``
gaussian 128^3 sigma 2    ``gaussian_filter(v, 2)``        (none)
convolve2d 15x15 gauss    ``convolve2d(x, g15)``           ``sepFilter2D(x, -1, g, g)``
========================  ===============================  =====================================

OpenCV's kernels are scipy's (the same radius, ``int(4 sigma + 0.5)``), so the three compute the same
values.  ``pytest benches/bench_ndimage.py --benchmark-only`` times them with pytest-benchmark (one
group per case, one test per library); a plain ``pytest`` runs each once on small inputs as a smoke
test.  ``python -m benches.bench_ndimage [--markdown docs/bench/NDIMAGE.md]`` measures the three
alternating call by call in one process (2 threads each, scipy on its one) and writes the table and a
plot (``docs/bench/ndimage.png``); each answer is checked against scipy's first.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pytest

from benches.first_call import cpu

#: The speed asked of fastconv: at least this many times scipy's speed, at most OpenCV's time.
TARGET_VS_SCIPY = 10.0
TARGET_VS_OPENCV = 1.0


def cases(small=False):
    """``{name: (fastconv, scipy or None, opencv or None, rtol)}`` (``small``: the smoke test's sizes)."""
    import cv2
    import scipy.ndimage

    import fastconv
    from fastconv import ndimage as fn

    rng = np.random.default_rng(0)
    n, nv = (256, 24) if small else (2048, 128)
    x = rng.random((n, n), dtype=np.float32)
    u8 = rng.integers(0, 256, (n, n)).astype(np.uint8)
    v = rng.random((nv,) * 3, dtype=np.float32)
    reflect = cv2.BORDER_REFLECT
    g = fn.gaussian_weights(2.0, 0, 7).astype(np.float32)  # 15 taps
    g15 = np.outer(g, g)
    sd = scipy.ndimage
    return {
        "gaussian sigma 1": (
            lambda: fn.gaussian_filter(x, 1),
            lambda: sd.gaussian_filter(x, 1),
            lambda: cv2.GaussianBlur(x, (9, 9), 1, borderType=reflect),
            1e-5,
        ),
        "gaussian sigma 4": (
            lambda: fn.gaussian_filter(x, 4),
            lambda: sd.gaussian_filter(x, 4),
            lambda: cv2.GaussianBlur(x, (33, 33), 4, borderType=reflect),
            1e-5,
        ),
        "gaussian sigma 4 axis 1": (
            lambda: fn.gaussian_filter1d(x, 4, axis=1),
            lambda: sd.gaussian_filter1d(x, 4, axis=1),
            lambda: cv2.GaussianBlur(x, (33, 1), 4, borderType=reflect),  # a kernel 1 high: along x only
            1e-5,
        ),
        "gaussian sigma 2 uint8": (
            lambda: fn.gaussian_filter(u8, 2),
            lambda: sd.gaussian_filter(u8, 2),
            lambda: cv2.GaussianBlur(u8, (17, 17), 2, borderType=reflect),
            0,
        ),
        "uniform 15": (
            lambda: fn.uniform_filter(x, 15),
            lambda: sd.uniform_filter(x, 15),
            lambda: cv2.blur(x, (15, 15), borderType=reflect),
            1e-5,
        ),
        "sobel": (
            lambda: fn.sobel(x),
            lambda: sd.sobel(x),
            lambda: cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3, borderType=reflect),
            1e-5,
        ),
        "laplace": (
            lambda: fn.laplace(x),
            lambda: sd.laplace(x),
            lambda: cv2.Laplacian(x, cv2.CV_32F, ksize=1, borderType=reflect),
            1e-5,
        ),
        f"gaussian {nv}^3 sigma 2": (
            lambda: fn.gaussian_filter(v, 2),
            lambda: sd.gaussian_filter(v, 2),
            None,
            1e-5,
        ),
        "convolve2d 15x15 gaussian": (
            lambda: fastconv.convolve2d(x, g15, padding="same", pad_mode="symmetric"),
            None,
            lambda: cv2.sepFilter2D(x, -1, g, g, borderType=reflect),
            1e-5,
        ),
    }


def _check(name, ours, theirs, opencv, rtol):
    """fastconv's answer against scipy's (or OpenCV's where scipy has no such call)."""
    a = ours()
    b = theirs() if theirs is not None else opencv()
    assert a.shape == b.shape, name
    if rtol == 0:
        np.testing.assert_array_equal(a, b, err_msg=name)
    else:
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * float(np.abs(b).max()), err_msg=name)


# --------------------------------------------------------------------------- pytest-benchmark


def _small_names():
    try:
        return list(cases(small=True))
    except ImportError:  # OpenCV or scipy missing: nothing to compare with
        return []


@pytest.mark.parametrize("impl", ["fastconv", "scipy", "opencv"])
@pytest.mark.parametrize("name", _small_names())
def test_ndimage_filters(benchmark, name, impl):
    table = cases(small=benchmark.disabled)
    key = name if name in table else name.replace("24^3", "128^3")
    ours, theirs, opencv, rtol = table[key]
    run = {"fastconv": ours, "scipy": theirs, "opencv": opencv}[impl]
    if run is None:
        pytest.skip(f"no {impl} call for {name}")
    if benchmark.disabled or impl == "fastconv":
        _check(name, ours, theirs, opencv, rtol)
    run()  # compilation and caches out of the timing
    benchmark.group = key
    benchmark.extra_info["impl"] = impl
    benchmark.pedantic(run, rounds=3 if impl == "scipy" else 10, iterations=1)


# --------------------------------------------------------------------------- the table


def alternate(funcs, rounds):
    """Median wall time (s) of each callable, called in turn one call each, ``rounds`` times (after one warm-up)."""
    for f in funcs.values():
        f()
    times = {k: [] for k in funcs}
    for _ in range(rounds):
        for k, f in funcs.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def _plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    y = np.arange(len(rows))
    for i, (label, color) in enumerate([("scipy", "tab:gray"), ("OpenCV", "tab:blue"), ("fastconv", "tab:orange")]):
        vals = [r[1 + i] if r[1 + i] is not None else 0 for r in rows]
        ax.barh(y + (i - 1) * 0.27, vals, height=0.27, label=label, color=color)
    ax.set_yticks(y, names)
    ax.set_xscale("log")
    ax.set_xlabel("ms per call (log scale; lower is faster)")
    ax.invert_yaxis()
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", help="also write the table to this file (and the plot beside it)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("-k", default="", help="only the cases whose name contains this")
    args = parser.parse_args(argv)
    import cv2
    import numba
    import scipy

    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    cv2.setNumThreads(2)
    lines = [
        "# fastconv.ndimage's separable filters against scipy.ndimage and OpenCV",
        "",
        f"`python -m benches.bench_ndimage --rounds {args.rounds}`. CPU: {cpu()}; fastconv on "
        f"{numba.get_num_threads()} threads (Numba {numba.__version__}), OpenCV {cv2.__version__} on "
        f"{cv2.getNumThreads()} threads, scipy {scipy.__version__} (one thread). The three called in turn, one "
        "call each, every round; the median of the rounds. 2048x2048 float32 unless named.",
        "",
        "| case | scipy (ms) | OpenCV (ms) | fastconv (ms) | vs scipy | vs OpenCV | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    print("\n".join(lines), flush=True)
    rows = []
    for name, (ours, theirs, opencv, rtol) in cases().items():
        if args.k not in name:
            continue
        _check(name, ours, theirs, opencv, rtol)
        funcs = {"fastconv": ours}
        if theirs is not None:
            funcs["scipy"] = theirs
        if opencv is not None:
            funcs["opencv"] = opencv
        t = alternate(funcs, args.rounds)
        ms = {k: v * 1e3 for k, v in t.items()}
        vs_scipy = t["scipy"] / t["fastconv"] if "scipy" in t else None
        vs_cv = t["fastconv"] / t["opencv"] if "opencv" in t else None
        met = (vs_scipy is None or vs_scipy >= TARGET_VS_SCIPY) and (vs_cv is None or vs_cv <= TARGET_VS_OPENCV)
        row = (
            f"| {name} | {ms.get('scipy', float('nan')):.1f} | {ms.get('opencv', float('nan')):.1f} | "
            f"{ms['fastconv']:.1f} | {'' if vs_scipy is None else f'{vs_scipy:.1f}x faster'} | "
            f"{'' if vs_cv is None else f'{vs_cv:.2f}x its time'} | {'yes' if met else 'no'} |"
        )
        rows.append((name, ms.get("scipy"), ms.get("opencv"), ms["fastconv"]))
        lines.append(row)
        print(row, flush=True)
    lines += [
        "",
        f"Targets: at least {TARGET_VS_SCIPY:g}x scipy's speed, at most {TARGET_VS_OPENCV:g}x OpenCV's time.",
    ]
    if args.markdown:
        path = Path(args.markdown)
        plot = path.with_name("ndimage.png")
        _plot(rows, plot)
        lines += ["", f"![time per call]({plot.name})"]
        path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""fastconv.ndimage / fastconv.signal against the scipy functions they replace.

Cases (float32 data, seeded):

``ndimage 2048x2048 KxK MODE``
    ``fastconv.ndimage.correlate`` vs ``scipy.ndimage.correlate``, K = 3, 5, 7, 11, 15, every mode.
``ndimage 128^3 7x7x7``
    the same on a 128x128x128 volume with a random 7x7x7 kernel.
``ndimage 128^3 gaussian 17^3``
    ``fastconv.ndimage.correlate`` with a 3-D Gaussian (sigma 2) given as a dense 17x17x17 kernel
    vs ``scipy.ndimage.gaussian_filter(sigma=2)``, which filters with the same 17 taps per axis.
``signal 1024x1024 3x3``
    ``fastconv.signal.correlate2d`` vs ``scipy.signal.correlate2d`` (float64, as most callers pass).

``pytest benches/bench_scipy.py --benchmark-only`` times them with pytest-benchmark (one group per
case); a plain ``pytest`` runs each once on small inputs as a smoke test.  ``python
benches/bench_scipy.py [--markdown FILE]`` prints the table with the ratios: the candidates of a case
are timed in turn and the best time of each is kept (the machine is shared: the best is the least
disturbed run); every answer is checked against scipy's first.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytest

from benches.first_call import cpu

MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant", "grid-wrap"]
SIZES = [3, 5, 7, 11, 15]


def gaussian3(sigma=2.0, radius=8):
    """A separable 3-D Gaussian as one dense ``(2r+1)^3`` kernel (the weights of scipy's gaussian_filter)."""
    x = np.arange(-radius, radius + 1)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    return g[:, None, None] * g[None, :, None] * g[None, None, :]


def cases(small=False):
    """``{name: (fastconv callable, scipy callable, rtol)}``; ``small`` for the smoke test (same names, small data)."""
    import scipy.ndimage
    import scipy.signal

    from fastconv import ndimage as fn
    from fastconv import signal as fs

    rng = np.random.default_rng(0)
    d2, d3, ds = (256, 24, 128) if small else (2048, 128, 1024)
    img = rng.random((d2, d2), dtype=np.float32)
    vol = rng.random((d3,) * 3, dtype=np.float32)
    out = {}
    n2, n3, ns = 2048, 128, 1024  # the names: the sizes timed
    for k in SIZES:
        w = rng.random((k, k)).astype(np.float32)
        for mode in MODES:
            out[f"ndimage {n2}x{n2} {k}x{k} {mode}"] = (
                lambda w=w, mode=mode: fn.correlate(img, w, mode=mode),
                lambda w=w, mode=mode: scipy.ndimage.correlate(img, w, mode=mode),
                1e-5,
            )
    w7 = rng.random((7, 7, 7)).astype(np.float32)
    out[f"ndimage {n3}^3 7x7x7"] = (lambda: fn.correlate(vol, w7), lambda: scipy.ndimage.correlate(vol, w7), 1e-5)
    g = gaussian3()
    out[f"ndimage {n3}^3 gaussian 17^3"] = (
        lambda: fn.correlate(vol, g),
        lambda: scipy.ndimage.gaussian_filter(vol, 2.0, truncate=4.0),
        1e-5,
    )
    im = rng.random((ds, ds))
    k3 = rng.random((3, 3))
    out[f"signal {ns}x{ns} 3x3"] = (lambda: fs.correlate2d(im, k3), lambda: scipy.signal.correlate2d(im, k3), 1e-12)
    return out


def target(name):
    """The speed-up asked of each case (fastconv's time over scipy's, inverted)."""
    if "gaussian" in name:
        return 1.0
    return 20.0 if name.startswith("signal") else 10.0


def _check(ours, theirs, rtol):
    a, b = ours(), theirs()
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * float(np.abs(b).max()))


# --------------------------------------------------------------------------- pytest-benchmark

_NAMES = list(cases(small=True))


@pytest.mark.parametrize("impl", ["fastconv", "scipy"])
@pytest.mark.parametrize("index", range(len(_NAMES)), ids=_NAMES)
def test_scipy_dropin(benchmark, index, impl):
    pytest.importorskip("scipy")
    table = cases(small=benchmark.disabled)
    name = list(table)[index]
    ours, theirs, rtol = table[name]
    if benchmark.disabled or impl == "fastconv":
        _check(ours, theirs, rtol)
    run = ours if impl == "fastconv" else theirs
    run()  # compilation and caches out of the timing
    benchmark.group = name
    benchmark.extra_info["impl"] = impl
    benchmark.pedantic(run, rounds=3 if impl == "scipy" else 10, iterations=1)


# --------------------------------------------------------------------------- the table


def _best(funcs, rounds, budget):
    """Best wall time of each callable; the callables take turns, at least ``rounds`` rounds or ``budget`` s."""
    for f in funcs.values():
        f()
    best = dict.fromkeys(funcs, float("inf"))
    t_start = time.perf_counter()
    done = 0
    while done < rounds or (time.perf_counter() - t_start < budget and done < 50):
        for name, f in funcs.items():
            t0 = time.perf_counter()
            f()
            best[name] = min(best[name], time.perf_counter() - t0)
        done += 1
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-k", default="", help="only the cases whose name contains this")
    args = parser.parse_args(argv)
    import numba
    import scipy

    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    lines = [
        "# fastconv.ndimage / fastconv.signal against scipy",
        "",
        f"`python benches/bench_scipy.py --rounds {args.rounds}` (one run; float32 data except the signal case,"
        " float64). CPU: "
        f"{cpu()}; Numba {numba.__version__} on {numba.get_num_threads()} threads; scipy {scipy.__version__}"
        " (one thread). Best time of the rounds, the two taking turns; speed-up = scipy's time / fastconv's.",
        "",
        "| case | scipy (ms) | fastconv (ms) | speed-up | target | met |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    print("\n".join(lines), flush=True)
    for name, (ours, theirs, rtol) in cases().items():
        if args.k not in name:
            continue
        _check(ours, theirs, rtol)
        best = _best({"scipy": theirs, "fastconv": ours}, args.rounds, budget=2.0)
        ms, ratio = (best["scipy"] * 1e3, best["fastconv"] * 1e3), best["scipy"] / best["fastconv"]
        met = "yes" if ratio >= target(name) else "no"
        row = f"| {name} | {ms[0]:.1f} | {ms[1]:.2f} | {ratio:.1f}x | >= {target(name):g}x | {met} |"
        lines.append(row)
        print(row, flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""The kernel-size series timed in turns, best of rounds: ``python -m benches.kernel_series``.

The same cases and peers as the kernel-size series of ``benches/bench_convolve2d.py``
(:data:`benches.peers.KERNEL_SERIES_PEERS` on 1024x1024 and 2048x2048 float32, "same",
random full-rank kernels 3x3 ... 255x255), but each round times every peer of a case once,
in turn, and the least time of ``--rounds`` rounds is kept (with the median beside it).
On a shared machine, where load comes and goes over seconds, peers timed one after
the other in blocks of 0.5 s (pytest-benchmark) see different loads; taking turns and
keeping each one's best compares them under the same, least disturbed conditions.

Writes ``--out`` (default ``docs/bench/KERNEL_SERIES.md``): the speed targets of the FFT
backend, one table per image size, and ``time_vs_kernel_size_turns_{n}.png`` beside it
(the kernel side at which ``"auto"`` switches to the FFT marked).  ``--cpu`` runs every
implementation on one thread and times CPU seconds of that thread (``time.thread_time``),
which other processes on the machine disturb far less than wall time
(``KERNEL_SERIES_CPU.md``, ``time_vs_kernel_size_cpu_{n}.png``).
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numba
import numpy as np

from benches.first_call import cpu
from benches.peers import (
    CASES,
    KERNEL_SERIES_PEERS,
    MAX_TAPS,
    PEERS,
    Unsupported,
    call_kwargs,
    check_same,
    in_kernel_series,
    make_inputs,
)
from benches.report import _plot, auto_switch, fmt_time

ROOT = Path(__file__).resolve().parent.parent


def time_case(case, rounds: int, clock=time.perf_counter) -> dict:
    """``{peer: (best, median)}`` seconds for one case, peers taking turns."""
    import fastconv

    img, k = make_inputs(case)
    want = fastconv.convolve2d(img, k, **call_kwargs(case))
    runs = {}
    for peer in KERNEL_SERIES_PEERS:
        limit = MAX_TAPS.get(peer)
        if limit is not None and case.taps > limit:
            continue
        try:
            run, extract = PEERS[peer](case, img, k)
        except Unsupported:
            continue
        check_same(peer, extract(run()), want, case, img, k)  # warm-up and check
        runs[peer] = run
    times = {p: [] for p in runs}
    order = list(runs)
    for r in range(rounds):
        # the order turns each round: the first call of a round meets caches the others filled
        for peer in order[r % len(order) :] + order[: r % len(order)]:
            run = runs[peer]
            t0 = clock()
            run()
            times[peer].append(clock() - t0)
    return {p: (min(v), float(np.median(v))) for p, v in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches.kernel_series", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds per case (default 7)")
    parser.add_argument(
        "--out", type=Path, help="default docs/bench/KERNEL_SERIES.md (KERNEL_SERIES_CPU.md with --cpu)"
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="everything on one thread (Numba, OpenCV, scipy), timed in CPU seconds of that thread",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    name = "KERNEL_SERIES_CPU.md" if args.cpu else "KERNEL_SERIES.md"
    args.out = args.out or ROOT / "docs" / "bench" / name
    clock = time.perf_counter
    if args.cpu:
        import cv2

        cv2.setNumThreads(1)
        numba.set_num_threads(1)
        clock = time.thread_time
    else:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    cases = [c for c in CASES if in_kernel_series(c)]
    results = {}
    for case in cases:
        results[case.name] = time_case(case, args.rounds, clock)
        best = {p: fmt_time(b) for p, (b, _) in results[case.name].items()}
        print(case.name, best, flush=True)

    def best(case, peer):
        r = results.get(case, {}).get(peer)
        return None if r is None else r[0]

    rows = []

    def target(text, value, limit):
        ok = value is not None and value <= limit
        figure = "not measured" if value is None else f"{value:.2f}"
        rows.append(f"| {text} | {figure} | <= {limit} | {'yes' if ok else '**no**'} |")

    for k in (31, 63, 127):
        c = f"2048x2048 float32 {k}x{k} same"
        a, b = best(c, "fastconv"), best(c, "cv2.filter2D")
        target(f"{c}: fastconv / cv2.filter2D", a / b if a and b else None, 1.0)
    for k in (63, 127):
        c = f"2048x2048 float32 {k}x{k} same"
        a = best(c, "fastconv")
        s = [t for t in (best(c, "scipy.signal.fftconvolve"), best(c, "scipy.signal.oaconvolve")) if t]
        target(f"{c}: fastconv / min(fftconvolve, oaconvolve)", a / min(s) if a and s else None, 0.5)
        a = best(c, "fastconv (new kernel)")
        target(
            f"{c}, a new kernel each call: fastconv / min(fftconvolve, oaconvolve)",
            a / min(s) if a and s else None,
            0.5,
        )
    for case in cases:
        if case.k > 127:
            continue
        own = [t for t in (best(case.name, "fastconv[direct]"), best(case.name, "fastconv[fft]")) if t]
        a = best(case.name, "fastconv")
        target(f'{case.name}: "auto" / min(direct, fft)', a / min(own) if a and own else None, 1.15)

    threads = (
        "everything on one thread (Numba, OpenCV, scipy), timed in CPU seconds of that thread (`time.thread_time`)"
        if args.cpu
        else f"fastconv on {numba.get_num_threads()} Numba threads, OpenCV on its default threads, scipy on one"
    )
    lines = [
        "# Kernel-size series, peers taking turns" + (" (one thread, CPU time)" if args.cpu else ""),
        "",
        f"Run {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')} with "
        f"`python -m benches.kernel_series --rounds {args.rounds}{' --cpu' if args.cpu else ''}` on {cpu()}; "
        f"{threads}. Each figure is the "
        f"least of {args.rounds} rounds (median in brackets); in each round every implementation of a case runs "
        "once, in turn, the first one a step further along the list each round (the first call of a round "
        "finds caches the previous case filled). "
        '`fastconv` is `backend="auto"`; `fastconv (new kernel)` is auto with the FFT\'s cache of '
        "kernel spectra emptied before each call.",
        "",
        "## Targets (ratios of best times)",
        "",
        "| target | figure | limit | met |",
        "| --- | ---: | ---: | --- |",
        *rows,
        "",
    ]
    for n in sorted({c.h for c in cases}):
        sub = [c for c in cases if c.h == n]
        peers = [p for p in KERNEL_SERIES_PEERS if any(p in results[c.name] for c in sub)]
        lines += [f'## {n}x{n} float32, "same"', "", "| kernel | " + " | ".join(peers) + " |"]
        lines.append("| --- |" + " ---: |" * len(peers))
        for c in sub:
            cells = []
            for p in peers:
                r = results[c.name].get(p)
                cells.append("" if r is None else f"{fmt_time(r[0])} ({fmt_time(r[1])})")
            lines.append(f"| {c.k}x{c.k} | " + " | ".join(cells) + " |")
        switch = auto_switch(n)
        lines += ["", f'"auto" runs the FFT from {switch}x{switch} on this image size (cost model).', ""]
        series = {}
        for c in sub:
            for p, (b, _) in results[c.name].items():
                series.setdefault(p, []).append((c.k, b))
        ticks = sorted({c.k for c in sub})
        path = args.out.parent / f"time_vs_kernel_size_{'cpu' if args.cpu else 'turns'}_{n}.png"
        _plot(
            {p: sorted(v) for p, v in series.items() if len(v) >= 2},
            path,
            "kernel side k (a random full-rank k x k kernel, log scale)",
            f'{n}x{n} float32, padding="same": best of {args.rounds} rounds in turns',
            (ticks, [f"{t}x{t}" for t in ticks]),
            vline=None if switch is None else (switch - 0.5, f"auto: fft from {switch}x{switch}"),
        )
        lines += [f"![{path.stem}]({path.name})", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(rows))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run the convolve2d benchmarks and write the report: ``python -m benches.report``.

Runs ``benches/bench_convolve2d.py`` under pytest-benchmark (all peers on
all cases, in one process, so every ratio compares medians from one run),
measures fastconv's first call in fresh processes (JIT compile time, with and
without Numba's on-disk cache), and writes to ``--out`` (default
``docs/bench``):

- ``REPORT.md``: the speed targets with the measured figures and whether each
  is met; the first-call times; one table per case (median time of every
  implementation and its ratio to fastconv's ``"auto"``);
- ``time_vs_image_size.png`` (3x3 float32, log-log) and
  ``time_vs_kernel_size.png`` (1024x1024 float32);
- ``benchmarks.json``: pytest-benchmark's raw results.

Options: ``--quick`` leaves out the 2048 and 4096 cases (about a minute
instead of ten); ``--json FILE`` renders an existing pytest-benchmark JSON
instead of running; ``--max-time S`` is pytest-benchmark's time budget per
implementation and case (default 0.5 s, at least 5 rounds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

from tabulate import tabulate

from benches import first_call as first_call_module
from benches.peers import (
    CASES,
    CASES_BY_NAME,
    KERNEL_SERIES_PEERS,
    KERNEL_SERIES_SIZES,
    PEERS,
    SERIES_CASES_ADDED,
    in_kernel_series,
)

ROOT = Path(__file__).resolve().parent.parent
BENCH_FILE = "benches/bench_convolve2d.py"
LATENCY_FILE = "benches/bench_latency.py"
FASTCONV = "fastconv"
QUICK_FILTER = "not 2048x2048 and not 4096x4096"
PEER_ORDER = list(PEERS)


# --------------------------------------------------------------------------- running


def run_benchmarks(json_path: Path, quick: bool, max_time: float) -> None:
    """Run the benchmark file under pytest-benchmark, writing its JSON to ``json_path``."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        BENCH_FILE,
        LATENCY_FILE,
        "--benchmark-enable",
        "--benchmark-only",
        f"--benchmark-json={json_path}",
        f"--benchmark-max-time={max_time}",
        "--benchmark-min-rounds=5",
        "--benchmark-columns=median,iqr,rounds",
        "--benchmark-sort=mean",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    if quick:
        cmd += ["-k", QUICK_FILTER]
    print("running:", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, cwd=ROOT)
    if done.returncode != 0 or not json_path.exists():
        raise SystemExit(f"benchmark run failed (pytest exit code {done.returncode})")
    # Keep the statistics, drop every call's raw time (megabytes of JSON).
    data = json.loads(json_path.read_text())
    for bench in data["benchmarks"]:
        bench["stats"].pop("data", None)
    json_path.write_text(json.dumps(data, indent=1))


def measure_first_call() -> dict:
    """New processes with an empty and a filled Numba cache (see :mod:`benches.first_call`)."""
    return first_call_module.measure()


# --------------------------------------------------------------------------- results


def load(json_path: Path):
    """``{case: {peer: stats}}`` and the machine info from a pytest-benchmark JSON."""
    data = json.loads(Path(json_path).read_text())
    table: dict[str, dict[str, dict]] = {}
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        if "peer" not in info:
            continue
        table.setdefault(info["case"], {})[info["peer"]] = bench["stats"]
    return table, data.get("machine_info", {}), data.get("datetime", "")


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def fmt_ratio(r: float) -> str:
    if r >= 100:
        return f"{r:,.0f}"
    return f"{r:.2f}"


def median(table, case, peer):
    stats = table.get(case, {}).get(peer)
    return None if stats is None else stats["median"]


def markdown(rows, headers, align: str) -> str:
    """A Markdown table of ``rows``; ``align`` has one letter per column, ``l`` or ``r``."""
    colalign = ["left" if a == "l" else "right" for a in align]
    return tabulate(rows, headers, tablefmt="github", colalign=colalign, disable_numparse=True)


def group_tables(table) -> list[str]:
    lines = []
    for case in [c.name for c in CASES if c.name in table]:
        rows = sorted(table[case].items(), key=lambda kv: kv[1]["median"])
        base = median(table, case, FASTCONV)
        cells = [
            (
                f"**{peer}**" if peer == FASTCONV else peer,
                fmt_time(stats["median"]),
                fmt_time(stats["iqr"]),
                stats["rounds"],
                "" if base is None else fmt_ratio(stats["median"] / base),
            )
            for peer, stats in rows
        ]
        headers = ("implementation", "median", "IQR", "rounds", "time / fastconv")
        lines += [f"### {case}", "", markdown(cells, headers, "lrrrr"), ""]
    return lines


def targets(table, first_call) -> list[tuple[str, str, str, bool | None]]:
    """(target, what was measured, figure, met) for each speed target of the issue."""
    out = []

    def ratio(case_a, peer_a, case_b, peer_b):
        a, b = median(table, case_a, peer_a), median(table, case_b, peer_b)
        return None if a is None or b is None else a / b

    def add(target, measured, value, ok, fmt="{:.2f}"):
        if value is None:
            out.append((target, measured, "not measured", None))
        else:
            out.append((target, measured, fmt.format(value), ok(value)))

    single = [c.name for c in CASES if not c.channels and c not in SERIES_CASES_ADDED]
    for case in single:
        add(
            f"{case}: fastconv no slower than cv2.filter2D",
            "fastconv / cv2 (<= 1.0)",
            ratio(case, FASTCONV, case, "cv2.filter2D"),
            lambda r: r <= 1.0,
        )
    c1024 = "1024x1024 float32 3x3"
    add(
        f"{c1024}: 20x faster than scipy.signal.correlate2d",
        "correlate2d / fastconv (>= 20)",
        ratio(c1024, "scipy.signal.correlate2d", c1024, FASTCONV),
        lambda r: r >= 20,
        "{:.1f}",
    )
    add(
        f"{c1024}: 10x faster than scipy.ndimage.correlate",
        "ndimage / fastconv (>= 10)",
        ratio(c1024, "scipy.ndimage.correlate", c1024, FASTCONV),
        lambda r: r >= 10,
        "{:.1f}",
    )
    c4096 = "4096x4096 float32 3x3"
    add(
        f"{c4096}: within 1.5x of np.copyto (the memory floor)",
        "fastconv / np.copyto (<= 1.5)",
        ratio(c4096, FASTCONV, c4096, "np.copyto (floor)"),
        lambda r: r <= 1.5,
    )
    add(
        f"{c4096}, written into a preallocated out= as np.copyto is: within 1.5x of np.copyto",
        "fastconv(out=) / np.copyto (<= 1.5)",
        ratio(c4096, "fastconv (out=)", c4096, "np.copyto (floor)"),
        lambda r: r <= 1.5,
    )
    c15 = "4096x4096 float32 15x15"
    add(
        f"{c15}: at most half the time of cv2.filter2D",
        "fastconv / cv2 (<= 0.5)",
        ratio(c15, FASTCONV, c15, "cv2.filter2D"),
        lambda r: r <= 0.5,
    )
    for case in [c.name for c in CASES if c.separable]:
        add(
            f"{case} (separable): 3x faster than cv2.filter2D",
            "cv2.filter2D / fastconv (>= 3)",
            ratio(case, "cv2.filter2D", case, FASTCONV),
            lambda r: r >= 3,
        )
        add(
            f"{case} (separable): no slower than cv2.sepFilter2D given the factors",
            "fastconv / sepFilter2D (<= 1.0)",
            ratio(case, FASTCONV, case, "cv2.sepFilter2D"),
            lambda r: r <= 1.0,
        )
    add(
        "1024x1024 3x3 stride 2: at most 0.35x the stride-1 time",
        "stride 2 / stride 1 (<= 0.35)",
        ratio("1024x1024 float32 3x3 stride 2", FASTCONV, c1024, FASTCONV),
        lambda r: r <= 0.35,
    )
    for n in (1024, 4096):
        add(
            f"{n}x{n} uint8 image, int kernel: at most 1.5x the float32 time (exact)",
            "uint8 / float32 (<= 1.5)",
            ratio(f"{n}x{n} uint8 kernel1", FASTCONV, f"{n}x{n} float32 3x3", FASTCONV),
            lambda r: r <= 1.5,
        )
    for case in [c.name for c in CASES if c.seed_peer]:
        add(
            f"seed's {case}: 3,000x faster than the seed's function",
            "seed / fastconv (>= 3000)",
            ratio(case, "seed", case, FASTCONV),
            lambda r: r >= 3000,
            "{:,.0f}",
        )
    for k in (31, 63, 127):
        case = f"2048x2048 float32 {k}x{k} same"
        add(
            f"{case}: fastconv no slower than cv2.filter2D",
            "fastconv / cv2 (<= 1.0)",
            ratio(case, FASTCONV, case, "cv2.filter2D"),
            lambda r: r <= 1.0,
        )
    for k in (63, 127):
        case = f"2048x2048 float32 {k}x{k} same"
        scipy_best = [
            m for m in (median(table, case, p) for p in ("scipy.signal.fftconvolve", "scipy.signal.oaconvolve")) if m
        ]
        mine = median(table, case, FASTCONV)
        add(
            f"{case}: at most half the time of scipy's best FFT convolution",
            "fastconv / min(fftconvolve, oaconvolve) (<= 0.5)",
            mine / min(scipy_best) if mine and scipy_best else None,
            lambda r: r <= 0.5,
        )
    for c in CASES:
        if not in_kernel_series(c) or c.k > 127:
            continue
        own = [m for m in (median(table, c.name, p) for p in ("fastconv[direct]", "fastconv[fft]")) if m]
        mine = median(table, c.name, FASTCONV)
        add(
            f'{c.name}: "auto" within 1.15x of the faster of direct and fft',
            "auto / min(direct, fft) (<= 1.15)",
            mine / min(own) if mine and own else None,
            lambda r: r <= 1.15,
        )
    for case, limit in (("per call: 3x3 float32", 3e-6), ("per call: 3x3 uint8, int64 kernel", 5e-6)):
        add(
            f"{case[10:]} image: at most {limit * 1e6:.0f} us per call",
            "median, us",
            None if median(table, case, FASTCONV) is None else median(table, case, FASTCONV) * 1e6,
            lambda us, limit=limit: us <= limit * 1e6,
        )
    if first_call:
        for name, limit in first_call_module.TARGETS.items():
            if name in first_call:
                add(
                    f"{name} (new process, empty Numba cache unless 'cached'): at most {limit:g} s",
                    "process wall time, s",
                    first_call[name],
                    lambda s, limit=limit: s <= limit,
                )
    return out


def first_call_lines(results) -> list[str]:
    if not results:
        return ["(not measured: run without --json to measure)", ""]
    cells = [
        (name, fmt_time(results[name]))
        for name in (
            "first call uint8",
            "first call uint8, in the call",
            "first call float32",
            "first call float32, in the call",
            "fastconv precompile",
            "new process, cached",
            "new process, one cached @njit function",
            "python alone",
            "import numba",
        )
        if name in results
    ]
    return [
        "Each row is one new process (wall time, interpreter start-up included) with `NUMBA_CACHE_DIR` a new "
        "empty directory (`benches/first_call.py`); `in the call` is the first `convolve2d` call alone, "
        "inside that process. `new process, cached` (the uint8 call again, its cache filled) is the median of 5 "
        "processes, alternating with 5 of `one cached @njit function`: NumPy, Numba and a one-line "
        "`@njit(cache=True)` function called from its filled cache, the floor of any Numba library.",
        "",
        markdown(cells, ("process", "time"), "lr"),
        "",
    ]


def latency_lines(table) -> list[str]:
    lines = []
    for case in [c for c in table if c.startswith("per call: ")]:
        rows = sorted(table[case].items(), key=lambda kv: kv[1]["median"])
        cells = [(peer, fmt_time(st["median"]), fmt_time(st["iqr"]), st["rounds"]) for peer, st in rows]
        lines += [f"### {case}", "", markdown(cells, ("implementation", "median", "IQR", "rounds"), "lrrr"), ""]
    loops, whole = (
        median(table, "per call: 3x3 float32", "fastconv loops"),
        median(table, "per call: 3x3 float32", FASTCONV),
    )
    if loops is not None and whole is not None:
        lines += [
            f"`fastconv loops` is the compiled loop alone (Numba's dispatch included): of fastconv's "
            f"{fmt_time(whole)} per float32 call, {fmt_time(whole - loops)} is the Python around it (the kept "
            "plan's lookup, the layout checks, the result's allocation).",
            "",
        ]
    return lines


def write_report(table, machine, when, first_call, out: Path, command: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    plots = plot(table, out)
    extra = machine.get("fastconv_bench", {})
    cpu = (first_call or {}).get("cpu") or first_call_cpu()
    lines = [
        "# fastconv benchmarks",
        "",
        f"Run {when or 'at an unknown time'} with `{command}` on {cpu}, "
        f"{os.cpu_count()} cores, Python {machine.get('python_version', platform.python_version())}.",
        f"fastconv on {extra.get('numba_threads', '?')} threads (`numba.set_num_threads`; Numba "
        f"{extra.get('numba_version', '?')}); "
        f"OpenCV {extra.get('cv2_version', '?')} on its default {extra.get('cv2_threads', '?')} threads; "
        f"TensorFlow on its default threads; NumPy {extra.get('numpy_version', '?')}, "
        f"SciPy {extra.get('scipy_version', '?')}.",
        "",
        "Each figure is the median of at least 5 timed calls; every ratio divides two medians from this one run. "
        "Every implementation's answer was checked against fastconv's before timing "
        "(exactly for the uint8 cases). JIT compilation is excluded by a warm-up call and measured separately below. "
        "The machine may be shared: a figure far from its neighbours in IQR is noise, rerun that case.",
        "",
        "## Speed targets",
        "",
        markdown(
            [
                (target, measured, figure, "not measured" if ok is None else ("yes" if ok else "**no**"))
                for target, measured, figure, ok in targets(table, first_call)
            ],
            ("target", "measured as", "figure", "met"),
            "llrl",
        ),
    ]
    lines += ["", "## First call in a new process (JIT compile time)", ""]
    lines += first_call_lines(first_call)
    lines += ["## Small calls (per-call overhead)", ""]
    lines += latency_lines(table)
    lines += ["## Plots", ""]
    for p in plots:
        lines += [f"![{p.stem}]({p.name})", ""]
    lines += [
        "## Results by case",
        "",
        "`time / fastconv` is the implementation's median over fastconv's (`backend=\"auto\"`): "
        "above 1, fastconv is faster. `np.copyto` copies the image into a preallocated array "
        "(not a convolution: the memory-bandwidth floor). cv2 and scipy.ndimage compute a same-size output "
        "(zero border) and have no stride; the valid or strided part is sliced out after timing.",
        "",
    ]
    lines += group_tables(table)
    path = out / "REPORT.md"
    path.write_text("\n".join(lines))
    return path


def first_call_cpu() -> str:
    return first_call_module.cpu()


# --------------------------------------------------------------------------- plots


def _series(table, cases, x_of):
    series: dict[str, list[tuple[float, float]]] = {}
    for case in cases:
        for peer, stats in table.get(case.name, {}).items():
            series.setdefault(peer, []).append((x_of(case), stats["median"]))
    return {p: sorted(v) for p, v in series.items() if len(v) >= 2}


def _plot(series, path, xlabel, title, xticks=None, logx=True, vline=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    colours = plt.get_cmap("tab10").colors
    markers = "os^vD<>ph*"
    others = [p for p in PEER_ORDER if p in series and p != FASTCONV and not p.startswith("np.copyto")]
    for peer in [p for p in PEER_ORDER if p in series]:
        xs, ys = zip(*series[peer], strict=True)
        if peer == FASTCONV:
            style = {"linewidth": 3.2, "color": "black", "marker": "o", "zorder": 5}
        elif peer.startswith("np.copyto"):
            style = {"linestyle": "--", "color": "grey", "marker": "", "linewidth": 1.5}
        else:
            n = others.index(peer)
            style = {
                "linewidth": 1.4,
                "color": colours[n % 10],
                "marker": markers[n % len(markers)],
                "linestyle": "-" if n < 10 else ":",
            }
        ax.plot(xs, [y * 1e3 for y in ys], markersize=5, label=peer, **style)
    if logx:
        ax.set_xscale("log")
    ax.set_yscale("log")
    if xticks:
        ax.set_xticks(xticks[0])
        ax.set_xticklabels(xticks[1])
        ax.minorticks_off()
    if vline is not None:
        ax.axvline(vline[0], color="black", linestyle=":", linewidth=1.5, label=vline[1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("median time per call (ms, log scale)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), title="implementation")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot(table, out: Path) -> list[Path]:
    paths = []
    sizes = [
        c
        for c in CASES
        if c.k == 3
        and c.dtype == "float32"
        and c.stride == 1
        and c.padding == "valid"
        and not c.channels
        and c.name in table
    ]
    series = _series(table, sizes, lambda c: c.h * c.w)
    if series:
        ticks = sorted({c.h * c.w for c in sizes})
        path = out / "time_vs_image_size.png"
        _plot(
            series,
            path,
            "image size (pixels, log scale; labelled by side)",
            "3x3 float32 kernel, valid padding: time against image size",
            (ticks, [f"{int(math.isqrt(t))}²" for t in ticks]),
        )
        paths.append(path)
    ks = [
        c
        for c in CASES
        if c.h == 1024
        and c.dtype == "float32"
        and c.stride == 1
        and c.padding == "valid"
        and not c.channels
        and c.name in table
    ]
    series = _series(table, ks, lambda c: c.k)
    if series:
        ticks = sorted({c.k for c in ks})
        path = out / "time_vs_kernel_size.png"
        _plot(
            series,
            path,
            "kernel side k (a k x k kernel, log scale)",
            "1024x1024 float32 image, valid padding: time against kernel size",
            (ticks, [f"{t}x{t}" for t in ticks]),
        )
        paths.append(path)
    for n in KERNEL_SERIES_SIZES:
        series_cases = [c for c in CASES if in_kernel_series(c) and c.h == n and c.name in table]
        series = {p: v for p, v in _series(table, series_cases, lambda c: c.k).items() if p in KERNEL_SERIES_PEERS}
        if not series:
            continue
        ticks = sorted({c.k for c in series_cases})
        switch = auto_switch(n)
        path = out / f"time_vs_kernel_size_same_{n}.png"
        _plot(
            series,
            path,
            "kernel side k (a random full-rank k x k kernel, log scale)",
            f'{n}x{n} float32 image, padding="same": time against kernel size',
            (ticks, [f"{t}x{t}" for t in ticks]),
            vline=None if switch is None else (switch - 0.5, f"auto: fft from {switch}x{switch}"),
        )
        paths.append(path)
    return paths


def auto_switch(n: int):
    """The smallest odd kernel side from which ``"auto"`` runs the FFT on an n x n float32 image, "same" (or None)."""
    import numpy as np

    from fastconv import _method

    for k in range(3, 257, 2):
        p = (k - 1) // 2
        if _method.choose((1, n, n), (k, k), (1, 1), (1, 1), (p, p), (1, n, n), np.float32) == "fft":
            return k
    return None


# --------------------------------------------------------------------------- command line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches.report", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="leave out the 2048x2048 and 4096x4096 cases")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "bench", help="output directory (default docs/bench)"
    )
    parser.add_argument("--json", type=Path, help="render this pytest-benchmark JSON instead of running the benchmarks")
    parser.add_argument("--max-time", type=float, default=0.5, help="seconds per implementation and case (default 0.5)")
    parser.add_argument("--no-first-call", action="store_true", help="skip the new-process first-call measurement")
    args = parser.parse_args(argv)
    if args.max_time <= 0:
        parser.error(f"--max-time must be > 0, got {args.max_time}")
    if args.json is not None and not args.json.is_file():
        parser.error(f"--json: no such file: {args.json}")

    args.out.mkdir(parents=True, exist_ok=True)
    command = "python -m benches.report" + (" --quick" if args.quick else "")
    if args.json is None:
        json_path = args.out / "benchmarks.json"
        run_benchmarks(json_path, args.quick, args.max_time)
    else:
        json_path = args.json
        command = f"python -m benches.report (tables re-rendered with --json {args.json})"
    first_call = None if args.no_first_call else measure_first_call()
    if first_call is not None:
        (args.out / "first_call.json").write_text(json.dumps(first_call, indent=2))
    elif (args.out / "first_call.json").exists() and args.json is not None:
        first_call = json.loads((args.out / "first_call.json").read_text())
    table, machine, when = load(json_path)
    missing = [c for c in table if c not in CASES_BY_NAME and not c.startswith("per call: ")]
    if missing:
        print(f"note: cases not in benches.peers.CASES are left out: {missing}", file=sys.stderr)
    path = write_report(table, machine, when, first_call, args.out, command)
    print(f"wrote {path} and plots in {args.out}")
    for target, _measured, figure, ok in targets(table, first_call):
        verdict = "n/a" if ok is None else ("met" if ok else "NOT MET")
        print(f"  {verdict:8s} {figure:>12s}  {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

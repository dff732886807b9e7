"""The regression guard: the working tree's fastconv against a base revision's, alternating call by call.

``python -m benches.guard [--base REV] [--rounds N] [--cases REGEX] [--json FILE]``

The base revision's ``fastconv/`` is taken from git (``git archive``) into a folder of the
user's cache (``~/.cache/fastconv/guard/<commit>/fastconv_base``, kept, so its Numba cache
survives between runs) and imported as the package ``fastconv_base`` beside the working tree's
``fastconv``, in one process.  Every case of :func:`cases` is called with the same arrays by
both packages, base and new in turn (the order swapped every round), each turn a batch of calls
of at least :data:`BATCH_SECONDS`; a round's figure is new / base of that pair of turns.  The
table gives, per case, the two medians, the median of the rounds' ratios and their spread (the
25th and 75th percentiles), and flags

- ``SLOWER`` when the new code was slower in more rounds than chance allows (a sign test over
  the rounds, one-sided p < :data:`ALPHA`) and by more than :data:`MARGIN` at the median ratio:
  slower beyond the spread;
- ``faster`` likewise the other way.

The machine's noise moves both packages alike within a round, so the paired ratio is steadier
than either time.  The last two cases run new processes: the first call with an empty Numba
cache (compile time) and the first call of a new process with a filled cache (import and cache
load), alternating base and new the same way.

The default base is ``FASTCONV_GUARD_BASE`` if set, else the merge base with ``origin/main``
(a branch's fork point), else the commit this checkout started from (the oldest entry of
``git reflog``: in a fresh clone, the main it cloned).  Run it natively and with Numba compiling
for an AVX2 CPU, each with its own cache, so that the code most users run is guarded too::

    python -m benches.guard
    NUMBA_CPU_NAME=haswell NUMBA_CACHE_DIR=/tmp/numba-haswell python -m benches.guard

The exit status is 1 when any case is flagged ``SLOWER``, else 0.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from benches.alternate import calls_per_turn, interleave

ROOT = Path(__file__).resolve().parent.parent
#: A turn is one call, or as many calls as take this long (small calls are timed in batches).
BATCH_SECONDS = 0.02
BASE_NAME = "fastconv_base"
#: A verdict needs a sign test's one-sided p below this and a median ratio beyond 1 +- MARGIN.
ALPHA = 0.05
MARGIN = 0.02


# --------------------------------------------------------------------------- the base revision


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def default_base() -> str:
    """The revision compared against when ``--base`` is not given (see the module notes)."""
    env = os.environ.get("FASTCONV_GUARD_BASE")
    if env:
        return env
    try:
        return _git("merge-base", "HEAD", "origin/main")
    except SystemExit:
        pass
    reflog = _git("reflog", "--format=%H").splitlines()
    return reflog[-1] if reflog else "HEAD"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fastconv" / "guard"


def base_package(rev: str) -> tuple[str, Path]:
    """``(commit, folder)``: the folder holds ``fastconv_base``, that commit's ``fastconv/`` under another name."""
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    folder = _cache_root() / commit
    if (folder / BASE_NAME / "__init__.py").exists():
        return commit, folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{commit[:12]}-", dir=folder.parent))
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", commit, "fastconv"], cwd=ROOT, capture_output=True)
        if archive.returncode != 0:
            raise SystemExit(f"git archive {commit}: {archive.stderr.decode().strip()}")
        tar_path = tmp / "fastconv.tar"
        tar_path.write_bytes(archive.stdout)
        with tarfile.open(tar_path) as tar:
            tar.extractall(tmp, filter="data")
        tar_path.unlink()
        (tmp / "fastconv").rename(tmp / BASE_NAME)
        # The package imports itself relatively but for a few absolute imports: point those at the copy.
        absolute = re.compile(r"^(\s*)(import|from) fastconv\b", re.MULTILINE)
        for py in (tmp / BASE_NAME).rglob("*.py"):
            text = py.read_text()
            new = absolute.sub(rf"\1\2 {BASE_NAME}", text)
            if new != text:
                py.write_text(new)
        try:
            tmp.rename(folder)
        except OSError:  # another run made it first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return commit, folder


def import_both(folder: Path):
    """``(base, new)`` packages: the base copy and the working tree's ``fastconv``."""
    for path in (str(folder), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    new = importlib.import_module("fastconv")
    if Path(new.__file__).resolve().parent != ROOT / "fastconv":
        raise SystemExit(f"fastconv was imported from {new.__file__}, not from {ROOT}")
    return importlib.import_module(BASE_NAME), new


# --------------------------------------------------------------------------- the cases

KERNEL1 = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.int64)
KERNEL2 = np.array([[0, -1, 0], [-1, 8, -1], [0, -1, 0]], dtype=np.int64)

#: conv2d layers, all 3x3 "same" float32: name -> (batch, H, W, C, F, stride) (benches/bench_conv2d.py's).
LAYERS = {
    "N=128 32x32x3->16": (128, 32, 32, 3, 16, 1),
    "N=128 32x32x16->16 s2": (128, 32, 32, 16, 16, 2),
    "N=128 16x16x16->32": (128, 16, 16, 16, 32, 1),
    "N=128 16x16x32->32 s2": (128, 16, 16, 32, 32, 2),
    "N=128 32x32x16->16": (128, 32, 32, 16, 16, 1),
    "N=128 16x16x32->32": (128, 16, 16, 32, 32, 1),
    "N=1 32x32x3->16": (1, 32, 32, 3, 16, 1),
    "N=1 16x16x32->32 s2": (1, 16, 16, 32, 32, 2),
}


@dataclass(frozen=True)
class Case:
    """One timed call: ``make(package)`` returns the zero-argument callable that is timed."""

    name: str
    make: Callable


def _sub(pkg, name: str):
    return importlib.import_module(f"{pkg.__name__}.{name}")


def cases() -> list[Case]:
    """The guarded calls (inputs made once, shared by both packages)."""
    rng = np.random.default_rng(0)
    u8_200 = rng.integers(0, 256, (200, 200), dtype=np.uint8)
    f32_200 = rng.random((200, 200), dtype=np.float32)
    f32_1k = rng.random((1024, 1024), dtype=np.float32)
    u8_1k = rng.integers(0, 256, (1024, 1024), dtype=np.uint8)
    f32_2k = rng.random((2048, 2048), dtype=np.float32)
    u8_2k = rng.integers(0, 256, (2048, 2048), dtype=np.uint8)
    vol = rng.random((128, 128, 128), dtype=np.float32)
    k = {n: rng.random((n, n), dtype=np.float32) for n in (3, 5, 15, 63, 127)}
    k7 = rng.random((7, 7, 7), dtype=np.float32)

    def conv(img, kern, **kw):
        return lambda m: partial(m.convolve2d, img, kern, **kw)

    out = [
        Case("200^2 uint8 kernel1 valid", conv(u8_200, KERNEL1)),
        Case("200^2 uint8 kernel2 valid", conv(u8_200, KERNEL2)),
        Case("200^2 float32 3x3 valid", conv(f32_200, k[3])),
        Case("200^2 uint8 kernel1 same", conv(u8_200, KERNEL1, padding="same")),
        Case("1024^2 float32 3x3 same", conv(f32_1k, k[3], padding="same")),
        Case("1024^2 float32 5x5 same", conv(f32_1k, k[5], padding="same")),
        Case("1024^2 float32 3x3 same stride 2", conv(f32_1k, k[3], stride=2, padding="same")),
        Case("1024^2 uint8 kernel1 same", conv(u8_1k, KERNEL1, padding="same")),
        Case("2048^2 float32 15x15 same", conv(f32_2k, k[15], padding="same")),
        Case("2048^2 float32 63x63 same", conv(f32_2k, k[63], padding="same")),
        Case("2048^2 float32 127x127 same", conv(f32_2k, k[127], padding="same")),
    ]
    for name, (n, h, w, c, f, s) in LAYERS.items():
        x = rng.random((n, h, w, c), dtype=np.float32)
        wt = (rng.random((3, 3, c, f), dtype=np.float32) - 0.5) / 3
        out.append(Case(f"conv2d {name}", lambda m, x=x, wt=wt, s=s: partial(m.conv2d, x, wt, s, "same")))
    out += [
        Case(
            "ndimage.correlate 2048^2 5x5 reflect",
            lambda m: partial(_sub(m, "ndimage").correlate, f32_2k, k[5], mode="reflect"),
        ),
        Case("ndimage.correlate 128^3 7x7x7", lambda m: partial(_sub(m, "ndimage").correlate, vol, k7)),
    ]
    for label, name, img, arg in [
        ("gaussian_filter 2048^2 sigma 4", "gaussian_filter", f32_2k, 4.0),
        ("uniform_filter 2048^2 15", "uniform_filter", f32_2k, 15),
        ("maximum_filter 2048^2 15", "maximum_filter", f32_2k, 15),
        ("median_filter 2048^2 uint8 5", "median_filter", u8_2k, 5),
    ]:
        out.append(
            Case(f"ndimage.{label}", lambda m, f=name, x=img, a=arg: partial(getattr(_sub(m, "ndimage"), f), x, a))
        )
    out += [
        Case(
            "ndimage.gaussian_filter1d 2048^2 sigma 4 axis 1",
            lambda m: partial(_sub(m, "ndimage").gaussian_filter1d, f32_2k, 4.0, axis=1),
        ),
        Case(
            "ndimage.gaussian_filter 128^3 sigma 2 axes (1, 2)",
            lambda m: partial(_sub(m, "ndimage").gaussian_filter, vol, 2.0, axes=(1, 2)),
        ),
    ]
    return out


# --------------------------------------------------------------------------- timing


def alternate(f_base: Callable, f_new: Callable, rounds: int, n: int = 1) -> tuple[list[float], list[float]]:
    """Seconds per call of each, ``rounds`` turns each, base and new in turn (the order swapped every round)."""
    times = interleave({"base": f_base, "new": f_new}, rounds, n)
    return times["base"], times["new"]


def sign_test(k: int, n: int) -> float:
    """One-sided p of ``k`` or more of ``n`` rounds going one way when each way is equally likely."""
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n


def summary(name: str, base: list[float], new: list[float]) -> dict:
    """The medians, the rounds' ratios (new / base) as median and quartiles, and the verdict."""
    ratios = [a / b for a, b in zip(new, base, strict=True)]
    q1, med, q3 = (float(np.quantile(ratios, q)) for q in (0.25, 0.5, 0.75))
    verdict = ""
    if med > 1 + MARGIN and sign_test(sum(r > 1 for r in ratios), len(ratios)) < ALPHA:
        verdict = "SLOWER"
    elif med < 1 - MARGIN and sign_test(sum(r < 1 for r in ratios), len(ratios)) < ALPHA:
        verdict = "faster"
    return {
        "case": name,
        "base_s": statistics.median(base),
        "new_s": statistics.median(new),
        "ratio": med,
        "q1": q1,
        "q3": q3,
        "rounds": len(ratios),
        "verdict": verdict,
    }


# --------------------------------------------------------------------------- new processes

_PROCESS = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np
import {pkg} as fastconv
rng = np.random.default_rng(0)
img = rng.integers(0, 256, size=(200, 200), dtype=np.uint8)
fastconv.convolve2d(img, np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]))
"""


def _process(pkg: str, path: Path, cache: str) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")]))
    env["NUMBA_CACHE_DIR"] = cache
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # .pyc files, as for an installed package
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PROCESS.format(pkg=pkg)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"a {pkg} process failed:\n{done.stderr}")
    return wall


def process_cases(folder: Path, rounds_first: int, rounds_cached: int) -> list[dict]:
    """First call with an empty cache, and a new process with a filled one, base and new alternating."""
    sides = {"base": (BASE_NAME, folder), "new": ("fastconv", ROOT)}
    rows = []
    with tempfile.TemporaryDirectory(prefix="fastconv-guard-") as tmp:
        times: dict[str, list[float]] = {"base": [], "new": []}
        for r in range(rounds_first):
            for side in ("base", "new") if r % 2 == 0 else ("new", "base"):
                cache = tempfile.mkdtemp(dir=tmp)
                times[side].append(_process(*sides[side], cache))
        rows.append(summary("new process, empty cache (first call)", times["base"], times["new"]))
        caches = {side: tempfile.mkdtemp(dir=tmp) for side in sides}
        for side in sides:  # fill each side's cache (untimed)
            _process(*sides[side], caches[side])
        times = {"base": [], "new": []}
        for r in range(rounds_cached):
            for side in ("base", "new") if r % 2 == 0 else ("new", "base"):
                times[side].append(_process(*sides[side], caches[side]))
        rows.append(summary("new process, cached", times["base"], times["new"]))
    return rows


# --------------------------------------------------------------------------- report


def _fmt_time(s: float) -> str:
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def table(rows: list[dict]) -> str:
    lines = [
        "| case | base | new | new / base (median [q1, q3]) | |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        ratio = f"{r['ratio']:.2f} [{r['q1']:.2f}, {r['q3']:.2f}]"
        lines.append(f"| {r['case']} | {_fmt_time(r['base_s'])} | {_fmt_time(r['new_s'])} | {ratio} | {r['verdict']} |")
    return "\n".join(lines)


def machine() -> str:
    import numba

    from benches.first_call import cpu

    target = os.environ.get("NUMBA_CPU_NAME") or "host"
    return f"{cpu()}; Numba {numba.__version__} compiling for: {target}; {numba.get_num_threads()} threads"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benches.guard", description=__doc__.splitlines()[0])
    p.add_argument("--base", help="the revision to compare against (default: see the module notes)")
    p.add_argument("--rounds", type=int, default=15, help="turns of each package per case (default 15)")
    p.add_argument("--cases", default="", help="only the cases whose name matches this regular expression")
    p.add_argument("--no-process", action="store_true", help="leave out the new-process cases")
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args(argv)
    if args.rounds < 3:
        p.error(f"--rounds must be at least 3, got {args.rounds}")

    rev = args.base or default_base()
    commit, folder = base_package(rev)
    base, new = import_both(folder)
    head = _git("rev-parse", "--short", "HEAD")
    dirty = " + uncommitted changes" if _git("status", "--porcelain", "--", "fastconv") else ""
    print(f"base {commit[:12]} ({rev}) against the working tree ({head}{dirty})")
    print(machine())
    print(f"{args.rounds} rounds, base and new in turn; a turn is one call or {BATCH_SECONDS * 1e3:g} ms of calls\n")

    pattern = re.compile(args.cases)
    rows = []
    for case in cases():
        if not pattern.search(case.name):
            continue
        f_base, f_new = case.make(base), case.make(new)
        n = calls_per_turn({"base": f_base, "new": f_new}, BATCH_SECONDS)
        row = summary(case.name, *alternate(f_base, f_new, args.rounds, n))
        rows.append(row)
        print(f"  {row['case']:40s} {row['ratio']:.2f} [{row['q1']:.2f}, {row['q3']:.2f}] {row['verdict']}", flush=True)
    if not args.no_process and pattern.search("new process"):
        rows += process_cases(folder, rounds_first=5, rounds_cached=9)
    print()
    print(table(rows))
    slower = [r["case"] for r in rows if r["verdict"] == "SLOWER"]
    listed = f": {', '.join(slower)}" if slower else ""
    print(f"\n{len(slower)} of {len(rows)} cases slower beyond the spread{listed}")
    if args.json:
        record = {"base": commit, "head": head, "dirty": bool(dirty), "machine": machine(), "rows": rows}
        Path(args.json).write_text(json.dumps(record, indent=1))
    return 1 if slower else 0


if __name__ == "__main__":
    raise SystemExit(main())

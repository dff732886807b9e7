"""Seconds to a first result: fastconv in new processes, with an empty and with a filled Numba cache.

``python -m benches.first_call`` prints the table; :func:`measure` is what
``python -m benches.report`` puts in its report.  Every figure is the wall time of
a new Python process (interpreter start-up included), with ``NUMBA_CACHE_DIR`` a new
temporary directory, so the project's own cache is neither used nor disturbed:

- ``first call uint8``: import + ``convolve2d`` of the seed's 200x200 uint8 image with
  kernel1, cache empty (it compiles the path that call takes);
- ``first call float32``: the same with a float32 200x200 image and 3x3 kernel, in its
  own empty cache;
- ``fastconv precompile``: the command, cache empty;
- ``new process, cached``: import + the uint8 call again, cache filled by the first (the
  median of 5 processes);
- ``new process, one cached @njit function``: the floor any Numba library stands on: import
  NumPy and Numba and call a one-line ``@njit(cache=True)`` function from a filled cache
  (the median of 5, alternating with the previous figure's processes).  Numba's CPU target
  is set up on the first call either way (its registries, and its BLAS check importing
  ``scipy.linalg``), and the interpreter's exit collects the objects it made.

Python's bytecode cache is on in these processes (``PYTHONDONTWRITEBYTECODE`` removed), as
for an installed package, whose ``.pyc`` files pip writes: with it set, every process would
compile fastconv's modules from source (some 60 ms).

An untimed process that imports the same libraries runs first: the figures are compile and
load times with the libraries in the page cache (as right after ``pip install``), not the
disk reads of a machine whose page cache a long benchmark run has just filled with arrays.

:func:`cpu` names the processor and its vector width (AVX-512 or AVX2), which decide
the kernels' speed and which tile shapes fastconv compiles.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CALL = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import fastconv
t1 = time.perf_counter()
rng = np.random.default_rng(0)
if sys.argv[1] == "uint8":
    img = rng.integers(0, 256, size=(200, 200), dtype=np.uint8)
    k = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
else:
    img = rng.random((200, 200), dtype=np.float32)
    k = rng.random((3, 3), dtype=np.float32)
fastconv.convolve2d(img, k)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "call": t2 - t1}))
"""

# A module with one cached @njit function: the new-process floor of a Numba library.
_FLOOR_MODULE = """
import numba
import numpy as np


@numba.njit(cache=True)
def first(x):
    return x[0, 0] + np.empty(1)[0] * 0
"""
_FLOOR_CALL = "import numpy as np, floor_njit; floor_njit.first(np.ones((2, 2)))"

#: What each figure must stay under, in seconds.
TARGETS = {
    "first call uint8": 5.0,
    "first call float32": 5.0,
    "fastconv precompile": 60.0,
    "new process, cached": 0.8,
}


def cpu() -> str:
    """The CPU: model name, family and model, widest vectors, e.g. ``"AMD EPYC family 25 model 1 (AVX2, 2 cores)"``."""
    name = platform.processor() or "unknown CPU"
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model") and key not in fields:
                    fields[key] = value.strip()
                if not line.strip():
                    break  # the first processor's block is enough
    except OSError:
        pass
    name = fields.get("model name", name)
    if "cpu family" in fields and "model" in fields:  # "AMD EPYC" names Zen 3 and Zen 4 alike
        name += f" family {fields['cpu family']} model {fields['model']}"
    try:
        import llvmlite.binding

        features = {k for k, on in llvmlite.binding.get_host_cpu_features().items() if on}
    except Exception:  # noqa: BLE001  (features unknown on this platform)
        features = set()
    width = "AVX-512" if "avx512f" in features else "AVX2" if "avx2" in features else "no AVX2"
    return f"{name} ({width}, {os.cpu_count()} cores)"


def _timed(args, env) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    return wall, done.stdout


def measure(precompile: bool = True) -> dict:
    """Wall seconds of each process described in the module notes (``precompile=False`` leaves that one out)."""
    python = [sys.executable]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # .pyc files written and read, as for an installed package
    results: dict = {}
    # Untimed: one process that imports what the first call loads, so that the timed ones read the
    # libraries from the page cache (as right after `pip install`), not from disk after a long
    # benchmark run has pushed them out; it compiles nothing.
    _timed(python + ["-c", "import numpy, numba, scipy.linalg, fastconv"], env)
    with tempfile.TemporaryDirectory(prefix="fastconv-cache-") as cache:
        env["NUMBA_CACHE_DIR"] = cache
        wall, out = _timed(python + ["-c", _CALL, "uint8"], env)
        results["first call uint8"] = wall
        results["first call uint8, in the call"] = json.loads(out.strip().splitlines()[-1])["call"]
        with tempfile.TemporaryDirectory(prefix="fastconv-floor-") as floor:
            Path(floor, "floor_njit.py").write_text(_FLOOR_MODULE)
            floor_env = dict(env, PYTHONPATH=os.pathsep.join([floor, env["PYTHONPATH"]]))
            _timed(python + ["-c", _FLOOR_CALL], floor_env)  # fills the cache
            cached, floor_runs = [], []
            for _ in range(5):
                cached.append(_timed(python + ["-c", _CALL, "uint8"], env)[0])
                floor_runs.append(_timed(python + ["-c", _FLOOR_CALL], floor_env)[0])
        results["new process, cached"] = statistics.median(cached)
        results["new process, one cached @njit function"] = statistics.median(floor_runs)
    with tempfile.TemporaryDirectory(prefix="fastconv-cache-") as cache:
        env["NUMBA_CACHE_DIR"] = cache
        wall, out = _timed(python + ["-c", _CALL, "float32"], env)
        results["first call float32"] = wall
        results["first call float32, in the call"] = json.loads(out.strip().splitlines()[-1])["call"]
    if precompile:
        with tempfile.TemporaryDirectory(prefix="fastconv-cache-") as cache:
            env["NUMBA_CACHE_DIR"] = cache
            results["fastconv precompile"], _ = _timed(python + ["-m", "fastconv", "precompile"], env)
    results["python alone"], _ = _timed(python + ["-c", "pass"], env)
    results["import numba"], _ = _timed(python + ["-c", "import numba"], env)
    results["cpu"] = cpu()
    return results


def rows(results: dict) -> list[tuple[str, str, str, str]]:
    """``(figure, seconds, target, met)`` for each measured figure with a target."""
    out = []
    for name, target in TARGETS.items():
        if name in results:
            value = results[name]
            out.append((name, f"{value:.2f}", f"<= {target:g}", "yes" if value <= target else "no"))
    return out


def main() -> int:
    results = measure(precompile="--no-precompile" not in sys.argv)
    print(f"CPU: {results['cpu']}")
    for name, value, target, met in rows(results):
        print(f"  {name:24s} {value:>8s} s  (target {target} s: {met})")
    for name in (
        "first call uint8, in the call",
        "first call float32, in the call",
        "new process, one cached @njit function",
        "python alone",
        "import numba",
    ):
        print(f"  {name:40s} {results[name]:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

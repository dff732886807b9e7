"""Where a first call's compile time goes: seconds per compiled function, in a new process with an empty cache.

``python -m benches.compile_times [uint8|float32|conv2d|precompile[-DTYPE]]`` runs one first call in a
child process whose ``NUMBA_CACHE_DIR`` is a new empty directory, records Numba's
``numba:compile`` events (:mod:`numba.core.event`) and prints, per compiled
function: the signatures compiled, the seconds spent in its own compilation
(``self``: its compile events minus the nested ones of the functions it calls) and
the longest compile event including its callees (``with callees``).  Numba's own
helpers (``arrayobj.impl`` and the like) appear under their module's name.

Calls: ``uint8``, the seed's 200x200 uint8 image with kernel1; ``float32``, a 200x200
float32 image with a 3x3 kernel; ``conv2d``, a batch-1 32x32x3 -> 16 layer, float32;
``precompile``, what ``fastconv precompile`` compiles; ``precompile-DTYPE`` (e.g.
``precompile-float32``), what it compiles for that image dtype.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np
from numba.core import event
import fastconv
t1 = time.perf_counter()
stack, rows = [], []


class Listener(event.Listener):
    def on_start(self, ev):
        stack.append([ev.data["dispatcher"], time.perf_counter(), 0.0])

    def on_end(self, ev):
        d, start, nested = stack.pop()
        total = time.perf_counter() - start
        if stack:
            stack[-1][2] += total
        rows.append((d.py_func.__module__.split(".")[-1] + "." + d.py_func.__name__, total, total - nested))


event.register("numba:compile", Listener())
rng = np.random.default_rng(0)
if sys.argv[1] == "uint8":
    img = rng.integers(0, 256, size=(200, 200), dtype=np.uint8)
    fastconv.convolve2d(img, np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]))
elif sys.argv[1] == "float32":
    fastconv.convolve2d(rng.random((200, 200), dtype=np.float32), rng.random((3, 3), dtype=np.float32))
elif sys.argv[1].startswith("precompile"):
    from fastconv.precompile import COMMON_DTYPES, precompile

    precompile(sys.argv[1].split("-", 1)[1:] or COMMON_DTYPES)
else:
    x = rng.random((1, 32, 32, 3), dtype=np.float32)
    fastconv.conv2d(x, rng.random((3, 3, 3, 16), dtype=np.float32), padding="same")
t2 = time.perf_counter()
print(f"import fastconv {t1 - t0:.2f} s, first call {t2 - t1:.2f} s")
table = {}
for name, total, own in rows:
    entry = table.setdefault(name, [0, 0.0, 0.0])
    entry[0] += 1
    entry[1] += own
    entry[2] = max(entry[2], total)
print(f"{'function':40s} {'signatures':>10s} {'self s':>8s} {'with callees s':>15s}")
for name, (n, own, total) in sorted(table.items(), key=lambda kv: -kv[1][1]):
    if own >= 0.05:
        print(f"{name:40s} {n:10d} {own:8.2f} {total:15.2f}")
"""


def main(argv=None) -> int:
    which = (argv or sys.argv[1:] or ["uint8"])[0]
    if which not in ("uint8", "float32", "conv2d", "precompile") and not which.startswith("precompile-"):
        print(
            f"error: unknown call {which!r} (uint8, float32, conv2d, precompile or precompile-DTYPE)", file=sys.stderr
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="fastconv-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        return subprocess.run([sys.executable, "-c", _CHILD, which], env=env, cwd=ROOT).returncode


if __name__ == "__main__":
    raise SystemExit(main())

"""Timing several callables in turn, call by call, so that a noisy machine slows them alike.

Every benchmark that reports a ratio (``benches.guard``, ``benches.conv2d_peers``) times its
candidates through :func:`interleave`: one turn of each per round, the order rotated every round,
a turn being one call or a batch of calls lasting at least ``batch_seconds`` (small calls).  A
round's ratio of two candidates compares times taken moments apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def turn(f: Callable, n: int) -> float:
    """Seconds per call of ``n`` calls of ``f``."""
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n


def calls_per_turn(funcs: dict[str, Callable], batch_seconds: float) -> int:
    """Calls per turn so that the fastest candidate's turn lasts ``batch_seconds`` (each called once first)."""
    for f in funcs.values():
        f()  # compiled or loaded before anything is timed
    one = min(min(turn(f, 1), turn(f, 1)) for f in funcs.values())
    return max(1, int(batch_seconds / max(one, 1e-7)))


def interleave(funcs: dict[str, Callable], rounds: int, n: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each candidate, one turn each per round, the order rotated every round."""
    names = list(funcs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].append(turn(funcs[name], n))
    return times

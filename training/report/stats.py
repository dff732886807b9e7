"""Numbers and their spread: mean ± sd, the interval of a difference, verdicts, and the family correction.

A comparison sets two settings' test accuracies side by side. Each side is the runs of one setting
over several random seeds; a side with fewer than :data:`MIN_RUNS` runs is *too few runs* (no interval
is computed for it), except a deterministic run (the most-frequent baseline), which is an exact constant.

Two intervals of a difference: :func:`paired_interval`, the t interval of the per-seed differences,
for designs where both sides share their seeds (the same initial weights and batch order), and
:func:`difference_interval`, Welch's, which treats the sides as independent. A verdict
(:func:`verdict`) carries the size of the published difference as well as its sign.
"""

from __future__ import annotations

import warnings

import numpy as np

#: Confidence level of every plain interval.
LEVEL = 0.95
#: Fewest runs of a stochastic setting (or pairs of runs) that get an interval and a verdict.
MIN_RUNS = 5
#: The verdict words, in the order a reader meets them.
VERDICTS = ("holds, same size", "holds, smaller", "holds, larger", "within noise", "reversed", "too few runs")


def plural(n: int, word: str) -> str:
    """``plural(1, "epoch")`` -> '1 epoch', ``plural(3, "epoch")`` -> '3 epochs'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def pct(x: float | None, digits: int = 2) -> str:
    """0.4909 -> '49.09%'; None -> '-'.

    Examples
    --------
    >>> pct(0.4909)
    '49.09%'
    """
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def secs(x: float | None) -> str:
    """75.5 -> '75.5 s'; None -> '-'."""
    return "-" if x is None else f"{x:,.1f} s"


def spread(values: list[float], scale: float = 100.0, unit: str = "%", digits: int = 2) -> str:
    """Mean ± sample standard deviation (n) of ``values``; one value shows no spread; none gives '-'.

    Examples
    --------
    >>> spread([0.50, 0.52, 0.54])
    '52.00 ± 2.00% (3)'
    >>> spread([0.5])
    '50.00% (1)'
    """
    if not values:
        return "-"
    v = np.asarray(values, dtype=float) * scale
    if len(v) == 1:
        return f"{v[0]:,.{digits}f}{unit} (1)"
    return f"{v.mean():,.{digits}f} ± {v.std(ddof=1):,.{digits}f}{unit} ({len(v)})"


def mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def sd_or_none(values: list[float]) -> float | None:
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def difference_interval(
    a: list[float], b: list[float], level: float = LEVEL, b_exact: bool = False
) -> tuple[float, float, float] | None:
    """Mean of ``a`` less mean of ``b`` and its ``level`` Welch t interval; None for too few runs.

    Welch's interval (unequal variances, the sides independent) needs :data:`MIN_RUNS` runs a
    side. ``b_exact`` says ``b`` is a deterministic run, an exact constant: then the one-sample
    t interval of ``a`` shifted by it. A stochastic side with fewer runs is never a constant.

    Examples
    --------
    >>> d, lo, hi = difference_interval([0.50, 0.52, 0.54, 0.51, 0.53], [0.40, 0.41, 0.42, 0.40, 0.42])
    >>> round(d, 4), lo < d < hi
    (0.11, True)
    >>> difference_interval([0.50, 0.52, 0.54, 0.51, 0.53], [0.40, 0.41]) is None
    True
    """
    from scipy import stats

    if len(a) < MIN_RUNS or not b or (len(b) < MIN_RUNS and not b_exact):
        return None
    if b_exact:
        return level_interval(a, level, b[0])
    d = float(np.mean(a) - np.mean(b))
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread at all: the difference is exact
        return d, d, d
    with warnings.catch_warnings():  # one side may have no spread (e.g. every run at chance): not an error here
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
    return d, float(ci.low), float(ci.high)


def level_interval(a: list[float], level: float = LEVEL, minus: float = 0.0) -> tuple[float, float, float] | None:
    """Mean of ``a`` less the constant ``minus``, and its one-sample ``level`` t interval; None for too few runs.

    Examples
    --------
    >>> d, lo, hi = level_interval([0.50, 0.52, 0.54, 0.51, 0.53], minus=0.10)
    >>> round(d, 4), round(lo, 4), round(hi, 4)
    (0.42, 0.4004, 0.4396)
    >>> level_interval([0.5, 0.6]) is None
    True
    """
    from scipy import stats

    if len(a) < MIN_RUNS:
        return None
    d = float(np.mean(a) - minus)
    if np.ptp(a) == 0:
        return d, d, d
    ci = stats.ttest_1samp(a, minus).confidence_interval(level)
    return d, float(ci.low - minus), float(ci.high - minus)


def paired_interval(a: list[float], b: list[float], level: float = LEVEL) -> tuple[float, float, float] | None:
    """Mean of the differences ``a[i] - b[i]`` (run i of each side shares its seed) and their ``level`` t interval.

    For designs where both sides share their random seeds: with one seed, two settings of the same
    network start from the same weights and see the batches in the same order, so the seed's share
    of the spread cancels in the difference. None for fewer than :data:`MIN_RUNS` pairs.

    Raises
    ------
    ValueError
        When ``a`` and ``b`` differ in length (they are not pairs).

    Examples
    --------
    >>> d, lo, hi = paired_interval([0.50, 0.60, 0.55, 0.45, 0.52], [0.49, 0.59, 0.53, 0.44, 0.51])
    >>> round(d, 4), lo > 0
    (0.012, True)
    """
    if len(a) != len(b):
        raise ValueError(f"paired_interval: a has {len(a)} runs and b has {len(b)}; pairs need the same number")
    return level_interval(list(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)), level)


def trend(x: list[float], y: list[float]) -> tuple[float, float] | None:
    """Spearman's rank correlation of ``y`` with ``x`` over every run, and its two-sided p-value.

    None for fewer than :data:`MIN_RUNS` runs, or when ``y`` has no spread.

    Examples
    --------
    >>> rho, p = trend([1, 2, 3, 4, 5, 6], [0.9, 0.8, 0.7, 0.5, 0.4, 0.1])
    >>> round(rho, 3), p < 0.01
    (-1.0, True)
    """
    from scipy import stats

    if len(x) < MIN_RUNS or np.ptp(y) == 0:
        return None
    res = stats.spearmanr(x, y)
    return float(res.statistic), float(res.pvalue)


def family_level(m: int, level: float = LEVEL) -> float:
    """Bonferroni: the level of each of ``m`` intervals so that all ``m`` cover together with ``level``.

    Examples
    --------
    >>> round(family_level(20), 4)
    0.9975
    """
    return 1.0 - (1.0 - level) / max(m, 1)


def verdict(published_diff: float, ours: tuple[float, float, float] | None) -> str:
    """Our interval of a difference against the published one: its sign, and its size.

    *holds, same size*: the interval excludes 0 on the published side and contains the published
    difference; *holds, smaller* / *holds, larger*: it excludes 0 on the published side and lies
    wholly nearer to 0 / farther from 0 than the published difference; *within noise*: it contains
    0; *reversed*: it excludes 0 on the other side; *too few runs*: no interval (``ours`` None).

    Examples
    --------
    >>> verdict(0.05, (0.04, 0.01, 0.07)), verdict(0.05, (0.02, 0.01, 0.03)), verdict(0.05, (0.08, 0.06, 0.10))
    ('holds, same size', 'holds, smaller', 'holds, larger')
    >>> verdict(0.05, (0.01, -0.02, 0.04)), verdict(0.05, (-0.03, -0.05, -0.01)), verdict(0.05, None)
    ('within noise', 'reversed', 'too few runs')
    """
    if ours is None:
        return "too few runs"
    _, lo, hi = ours
    if lo <= 0 <= hi:
        return "within noise"
    if (lo > 0) != (published_diff > 0):
        return "reversed"
    if lo <= published_diff <= hi:
        return "holds, same size"
    return "holds, smaller" if abs(published_diff) > max(abs(lo), abs(hi)) else "holds, larger"

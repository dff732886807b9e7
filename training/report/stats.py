"""Numbers and their spread: mean ± sd, the interval of a difference, verdicts, and the family correction.

A comparison sets two settings' test accuracies side by side. Each side is the runs of one setting
over several random seeds; a side with fewer than two runs is *too few runs*, except a deterministic
run (the most-frequent baseline), which is an exact constant.
"""

from __future__ import annotations

import warnings

import numpy as np

#: Confidence level of every plain interval.
LEVEL = 0.95


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
    """Mean of ``a`` less mean of ``b`` and its ``level`` t interval; None when a side has too few runs.

    Welch's interval (unequal variances) when both sides have two or more runs. ``b_exact``
    says ``b`` is a deterministic run, an exact constant: then the one-sample t interval of
    ``a`` shifted by it. A stochastic side with one run is too few runs, never a constant.

    Examples
    --------
    >>> d, lo, hi = difference_interval([0.50, 0.52, 0.54], [0.40, 0.41, 0.42])
    >>> round(d, 4), lo < d < hi
    (0.11, True)
    >>> difference_interval([0.50, 0.52, 0.54], [0.40]) is None
    True
    """
    from scipy import stats

    if len(a) < 2 or not b or (len(b) < 2 and not b_exact):
        return None
    if b_exact:
        d = float(np.mean(a) - b[0])
        if np.ptp(a) == 0:
            return d, d, d
        ci = stats.ttest_1samp(a, b[0]).confidence_interval(level)
        return d, float(ci.low - b[0]), float(ci.high - b[0])
    d = float(np.mean(a) - np.mean(b))
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread at all: the difference is exact
        return d, d, d
    with warnings.catch_warnings():  # one side may have no spread (e.g. every run at chance): not an error here
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
    return d, float(ci.low), float(ci.high)


def family_level(m: int, level: float = LEVEL) -> float:
    """Bonferroni: the level of each of ``m`` intervals so that all ``m`` cover together with ``level``.

    Examples
    --------
    >>> round(family_level(20), 4)
    0.9975
    """
    return 1.0 - (1.0 - level) / max(m, 1)


def verdict(published_diff: float, ours: tuple[float, float, float] | None) -> str:
    """*holds*, *within noise* or *reversed*: our difference's interval against the published sign.

    Examples
    --------
    >>> verdict(0.05, (0.04, 0.01, 0.07)), verdict(0.05, (0.01, -0.02, 0.04)), verdict(0.05, (-0.03, -0.05, -0.01))
    ('holds', 'within noise', 'reversed')
    """
    if ours is None:
        return "too few runs"
    _, lo, hi = ours
    if lo <= 0 <= hi:
        return "within noise"
    return "holds" if (lo > 0) == (published_diff > 0) else "reversed"

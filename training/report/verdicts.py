"""The verdicts: each comparison the published report draws, over our repeated runs, plain and corrected.

Every comparison of :func:`training.registry.comparisons` with records on both sides gets the
difference of mean test accuracies with Welch's 95% t interval (a one-sample interval against a
deterministic side) and, beside it, the Bonferroni interval for the family of comparisons that
have one: each at level ``1 - 0.05 / m``, so that all ``m`` cover their differences together
with 95% confidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training.config import Config
from training.registry import DETERMINISTIC_MODELS, Comparison, comparisons
from training.report.records import Runs
from training.report.stats import LEVEL, difference_interval, family_level, plural, verdict
from training.report.tables import md_table, settings_note, write_csv


@dataclass
class Verdict:
    """One comparison judged: the runs of each side, the plain and the family-corrected intervals."""

    comparison: Comparison
    a: list[float]
    b: list[float]
    plain: tuple[float, float, float] | None
    corrected: tuple[float, float, float] | None = None

    @property
    def b_exact(self) -> bool:
        return self.comparison.b.model in DETERMINISTIC_MODELS

    @property
    def plain_verdict(self) -> str:
        return verdict(self.comparison.published_diff, self.plain)

    @property
    def corrected_verdict(self) -> str:
        return verdict(self.comparison.published_diff, self.corrected)

    @property
    def survives(self) -> bool:
        """Whether the plain verdict is the same under the family correction."""
        return self.plain_verdict == self.corrected_verdict


def judge(runs: Runs, names: list[str], cfg: Config) -> tuple[list[Verdict], float]:
    """The verdicts of the comparisons with records on both sides, and the corrected level used."""
    out = []
    for c in comparisons(names, cfg):
        a, b = runs.values(c.a, "test_accuracy"), runs.values(c.b, "test_accuracy")
        if a and b:
            exact = c.b.model in DETERMINISTIC_MODELS
            out.append(Verdict(c, a, b, difference_interval(a, b, LEVEL, b_exact=exact)))
    level = family_level(sum(v.plain is not None for v in out))
    for v in out:
        v.corrected = difference_interval(v.a, v.b, level, b_exact=v.b_exact)
    return out, level


def _points(ci: tuple[float, float, float] | None, middle: bool = True) -> str:
    if ci is None:
        return "-"
    d, lo, hi = (100 * x for x in ci)
    return (f"{d:+.2f} " if middle else "") + f"[{lo:+.2f}, {hi:+.2f}]"


def section_verdicts(runs: Runs, names: list[str], cfg: Config, out: Path) -> str:
    """Does each of the published comparisons hold over the repeated runs, alone and as a family?"""
    verdicts, level = judge(runs, names, cfg)
    if not verdicts:
        return ""
    fam = f"{100 * level:.2f}%"
    rows, csv_rows = [], []
    for v in verdicts:
        c = v.comparison
        runs_b = "exact" if v.b_exact else str(len(v.b))
        rows.append(
            [
                c.claim,
                c.tables,
                f"{100 * c.published_diff:+.2f}",
                f"{len(v.a)} / {runs_b}",
                _points(v.plain),
                f"**{v.plain_verdict}**",
                _points(v.corrected, middle=False),
                f"**{v.corrected_verdict}**",
            ]
        )
        csv_rows.append(
            [c.claim, c.tables, c.published_diff, len(v.a), len(v.b), v.b_exact]
            + list(v.plain or (None, None, None))
            + [v.plain_verdict]
            + list((v.corrected or (None, None, None))[1:])
            + [v.corrected_verdict]
        )
    write_csv(
        out / "table_verdicts.csv",
        ["comparison", "published_tables", "published_difference", "runs_a", "runs_b", "b_exact", "difference"]
        + ["ci95_low", "ci95_high", "verdict", "family_low", "family_high", "family_verdict"],
        csv_rows,
    )
    header = [
        "comparison (test accuracy, A vs B)",
        "published tables",
        "published A - B (points)",
        "runs A / B",
        "ours: mean A - B [95% interval] (points)",
        "verdict",
        f"family interval ({fam})",
        "verdict, family",
    ]
    judged = [v for v in verdicts if v.plain is not None]
    lost = [v.comparison.claim for v in judged if not v.survives]
    stochastic = [len(v.a) for v in verdicts] + [len(v.b) for v in verdicts if not v.b_exact]
    survive = (
        f"All {len(judged)} verdicts survive the correction."
        if not lost
        else f"{len(judged) - len(lost)} of {len(judged)} verdicts survive it; these do not: {'; '.join(lost)}."
    )
    return (
        "## Verdicts: which of the published comparisons hold\n\n"
        "Each row compares the test accuracy of two settings. The published difference is between its single runs. "
        "Ours is the difference of the means over random seeds, with Welch's 95% t interval; against the "
        "deterministic most-frequent baseline (an exact constant: *exact* in the runs column) the one-sample t "
        "interval. *holds*: the interval excludes 0 on the published side; *reversed*: it excludes 0 on the other "
        "side; *within noise*: it contains 0; *too few runs*: a side with fewer than two runs of a setting that "
        f"involves randomness. The fewest runs on a side here: {min(stochastic)}. The {plural(len(judged), 'row')} "
        f"with an interval are one family of comparisons: the family interval is Bonferroni's, each at {fam} "
        "(1 - 0.05 / " + f"{len(judged)}), so that all of them together cover with 95% confidence. {survive} "
        "Table 5's published figures come from one model trained on each size in turn: the *cumulative chain* rows "
        "compare like with like, the *fresh models* rows what the published text sets out to measure. Table 9's "
        "published accuracies come from `model.predict`, not the deeper network (see Part 2d), so its deeper-vs-"
        f"stride sign is what it reported, not what it measured.{settings_note(cfg)}\n\n"
        + md_table(header, rows)
        + "\n"
    )

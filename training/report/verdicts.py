"""The verdicts: each comparison the published report draws, over our repeated runs, paired by seed.

Every comparison of :func:`training.registry.comparisons` with records on both sides gets the
difference of the mean accuracies and two 95% t intervals of it. The primary one is paired by
seed (:func:`~training.report.stats.paired_interval`): the two sides of a comparison share their
seeds, and one seed gives the same initial weights and batch order to both (a run continuing
another, ``warm_from``, is paired by the seed its chain started from). Welch's interval, which
treats the sides as independent, is shown beside it. Against a deterministic side (the
most-frequent baseline) both are the one-sample interval. The family correction (Bonferroni:
each at ``1 - 0.05 / m``) is applied to the primary intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training.config import Config
from training.registry import DETERMINISTIC_MODELS, Comparison, comparisons
from training.report.records import Runs
from training.report.stats import (
    LEVEL,
    MIN_RUNS,
    difference_interval,
    family_level,
    level_interval,
    paired_interval,
    plural,
    verdict,
)
from training.report.tables import md_table, settings_note, write_csv

#: What each compared field is called in the tables.
MEASURES = {"test_accuracy": "test", "train_accuracy": "train"}


@dataclass
class Verdict:
    """One comparison judged: each side's runs, the pairs by seed, the paired, Welch and corrected intervals."""

    comparison: Comparison
    a: list[float]
    b: list[float]
    pairs: tuple[list[float], list[float]]
    paired: tuple[float, float, float] | None
    welch: tuple[float, float, float] | None
    corrected: tuple[float, float, float] | None = None

    @property
    def b_exact(self) -> bool:
        return self.comparison.b.model in DETERMINISTIC_MODELS

    @property
    def primary_verdict(self) -> str:
        return verdict(self.comparison.published_diff, self.paired)

    @property
    def welch_verdict(self) -> str:
        return verdict(self.comparison.published_diff, self.welch)

    @property
    def corrected_verdict(self) -> str:
        return verdict(self.comparison.published_diff, self.corrected)

    @property
    def survives(self) -> bool:
        """Whether the primary verdict's sign (holds / within noise / reversed) is the same under the correction."""
        return self.primary_verdict.split(",")[0] == self.corrected_verdict.split(",")[0]


def _interval(v: Verdict, level: float) -> tuple[float, float, float] | None:
    if v.b_exact:
        return level_interval(v.a, level, v.b[0]) if v.b else None
    return paired_interval(*v.pairs, level)


def judge(runs: Runs, names: list[str], cfg: Config) -> tuple[list[Verdict], float]:
    """The verdicts of the comparisons with records on both sides, and the corrected level used."""
    out = []
    for c in comparisons(names, cfg):
        a, b = runs.values(c.a, c.measure), runs.values(c.b, c.field_b)
        if not (a and b):
            continue
        exact = c.b.model in DETERMINISTIC_MODELS
        v = Verdict(c, a, b, runs.paired(c.a, c.b, c.measure, c.field_b), None, None)
        v.paired = _interval(v, LEVEL)
        v.welch = difference_interval(a, b, LEVEL, b_exact=exact)
        out.append(v)
    level = family_level(sum(v.paired is not None for v in out))
    for v in out:
        v.corrected = _interval(v, level)
    return out, level


def _points(ci: tuple[float, float, float] | None, middle: bool = True) -> str:
    if ci is None:
        return "-"
    d, lo, hi = (100 * x for x in ci)
    return (f"{d:+.2f} " if middle else "") + f"[{lo:+.2f}, {hi:+.2f}]"


def section_verdicts(runs: Runs, names: list[str], cfg: Config, out: Path) -> str:
    """Does each of the published comparisons hold over the repeated runs, paired by seed, alone and as a family?"""
    verdicts, level = judge(runs, names, cfg)
    if not verdicts:
        return ""
    fam = f"{100 * level:.2f}%"
    rows, csv_rows = [], []
    for v in verdicts:
        c = v.comparison
        runs_b = "exact" if v.b_exact else str(len(v.b))
        npairs = "-" if v.b_exact else str(len(v.pairs[0]))
        rows.append(
            [
                c.claim,
                c.tables,
                f"{100 * c.published_diff:+.2f}",
                f"{len(v.a)} / {runs_b} ({npairs})",
                _points(v.paired),
                f"**{v.primary_verdict}**",
                _points(v.corrected, middle=False),
                f"**{v.corrected_verdict}**",
                _points(v.welch, middle=False),
                v.welch_verdict,
            ]
        )
        csv_rows.append(
            [c.claim, c.tables, c.measure, c.field_b, c.published_diff, len(v.a), len(v.b), len(v.pairs[0]), v.b_exact]
            + list(v.paired or (None, None, None))
            + [v.primary_verdict]
            + list((v.corrected or (None, None, None))[1:])
            + [v.corrected_verdict]
            + list((v.welch or (None, None, None))[1:])
            + [v.welch_verdict]
        )
    write_csv(
        out / "table_verdicts.csv",
        ["comparison", "published_tables", "measure_a", "measure_b", "published_difference", "runs_a", "runs_b"]
        + ["pairs", "b_exact", "difference", "paired_ci95_low", "paired_ci95_high", "verdict"]
        + ["family_low", "family_high", "family_verdict", "welch_ci95_low", "welch_ci95_high", "welch_verdict"],
        csv_rows,
    )
    header = [
        "comparison (A vs B; test accuracy unless named)",
        "published tables",
        "published A - B (points)",
        "runs A / B (pairs)",
        "ours: mean A - B [95% paired interval] (points)",
        "verdict",
        f"family interval ({fam}, paired)",
        "verdict, family",
        "Welch 95% interval",
        "verdict, Welch",
    ]
    judged = [v for v in verdicts if v.paired is not None]
    lost = [v.comparison.claim for v in judged if not v.survives]
    differ = [v.comparison.claim for v in judged if v.primary_verdict.split(",")[0] != v.welch_verdict.split(",")[0]]
    stochastic = [len(v.a) for v in verdicts] + [len(v.b) for v in verdicts if not v.b_exact]
    survive = (
        f"All {len(judged)} primary verdicts keep their sign under the correction."
        if not lost
        else f"{len(judged) - len(lost)} of {len(judged)} primary verdicts keep their sign under it; these do not: "
        f"{'; '.join(lost)}."
    )
    welch = (
        "Welch's intervals give the same sign verdicts."
        if not differ
        else f"Welch's intervals give another sign verdict in {plural(len(differ), 'row')}: {'; '.join(differ)}."
    )
    counts = {
        w: sum(v.primary_verdict == w for v in verdicts) for w in dict.fromkeys(v.primary_verdict for v in verdicts)
    }
    tally = ", ".join(f"{n} *{w}*" for w, n in counts.items())
    return (
        "## Verdicts: which of the published comparisons hold\n\n"
        "**Method.** Each row compares an accuracy of two settings (test accuracy unless the row names train "
        "accuracy; the train-vs-test row compares the two accuracies of one setting). The published difference "
        "is between its single runs. Ours is the mean over random seeds. The design is paired: every setting was "
        "run with the same seeds, and one seed gives two settings of a network the same initial weights and the "
        "same batch order, so the primary interval is the paired one, the t interval of the per-seed differences "
        "(a run continuing another, `warm_from`, is paired by the seed its chain started from). Between two "
        "networks (max pooling or deeper against strides) a seed shares the batch order and not the weights; "
        "the same paired method is used there too, at the cost of its fewer degrees of freedom (4 against "
        "Welch's up to 8). Welch's interval, "
        "which treats the two sides as independent samples, is shown beside it. Against the deterministic "
        "most-frequent baseline (an exact constant: *exact* in the runs column) both are the one-sample "
        "interval. Verdicts carry size as well as sign: *holds, same size*: the interval excludes 0 on the "
        "published side and contains the published difference; *holds, smaller* / *holds, larger*: the same "
        "sign, with the published difference outside the interval, farther from 0 / nearer to 0 than all of it; "
        "*within noise*: the interval contains 0; *reversed*: it excludes 0 on the other side; *too few runs*: "
        f"fewer than {MIN_RUNS} runs (or pairs) of a setting that involves randomness; the statistics code "
        f"computes no interval then. The fewest runs on a side here: {min(stochastic)}. The "
        f"{plural(len(judged), 'row')} with a paired interval are one family of comparisons: the family "
        f"interval is Bonferroni's on the paired intervals, each at {fam} (1 - 0.05 / {len(judged)}), so that "
        f"all of them together cover with 95% confidence. {survive} {welch} Tally of the primary verdicts: "
        f"{tally}.\n\n"
        "Table 5's published figures come from one model trained on each size in turn: the *cumulative chain* rows "
        "compare like with like, the *fresh models* rows what the published text sets out to measure. Table 9's "
        "published accuracies come from `model.predict`, not the deeper network (see Part 2d), so its deeper-vs-"
        f"stride sign is what it reported, not what it measured.{settings_note(cfg)}\n\n"
        + md_table(header, rows)
        + "\n"
    )

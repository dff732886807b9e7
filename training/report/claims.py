"""The published claims of Part 2 that are not a difference of two mean accuracies, each with a verdict.

:mod:`.verdicts` judges the differences between two settings. The rest of what Part 2 states is
judged here, one row per claim: levels (Table 5's "49.09%, worse than chance", Part 2d's "about
70% at every size"), trends over all runs (Table 6), the crossing epoch of Figure 4 and the curves
of Figure 5, the class ranking of Tables 1-2, the baseline of Tables 3-4, the parameter counts,
and the time claims of Tables 5 and 7-9. Time is judged on CPU time per training sample measured
on one thread (``python -m training.cputime``, ``cpu_time.json``), which other work on the machine
does not add to; the records' wall times ran under a load that was not recorded and are shown
beside, unjudged.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training import published as PUB
from training.config import Config
from training.data import CLASSES
from training.registry import MODELS, RunSpec, base_run, fresh_sizes, l1_runs, replay_runs
from training.report.base import accuracy_crossing
from training.report.records import Runs
from training.report.stats import (
    LEVEL,
    MIN_RUNS,
    family_level,
    level_interval,
    paired_interval,
    plural,
    trend,
    verdict,
)
from training.report.tables import class_report, md_table, multiply_adds, write_csv

#: The file of ``python -m training.cputime``.
CPU_FILE = "cpu_time.json"


@dataclass
class Claim:
    """One published claim and what our runs say about it."""

    where: str
    claim: str
    published: str
    ours: str
    verdict: str


def _pts(ci: tuple[float, float, float] | None, scale: float = 100.0, unit: str = "") -> str:
    if ci is None:
        return "-"
    d, lo, hi = (scale * x for x in ci)
    return f"{d:+.2f}{unit} [{lo:+.2f}, {hi:+.2f}]"


def level_verdict(ci: tuple[float, float, float] | None) -> str:
    """A published level against our interval of (ours - published): inside it, or wholly below or above.

    Examples
    --------
    >>> level_verdict((0.0, -0.01, 0.01)), level_verdict((-0.2, -0.25, -0.15)), level_verdict(None)
    ('holds, same size', 'does not hold: ours lower by 15.00-25.00 points', 'too few runs')
    """
    if ci is None:
        return "too few runs"
    _, lo, hi = ci
    if lo <= 0 <= hi:
        return "holds, same size"
    if hi < 0:
        return f"does not hold: ours lower by {-100 * hi:.2f}-{-100 * lo:.2f} points"
    return f"does not hold: ours higher by {100 * lo:.2f}-{100 * hi:.2f} points"


def _accuracy_claims(runs: Runs, cfg: Config) -> list[Claim]:
    out = []
    base = runs.values(base_run(cfg), "test_accuracy")
    if base:
        ci = level_interval(base, LEVEL, 0.10)
        words = (
            "too few runs" if ci is None else ("holds" if ci[2] < 0 else "reversed" if ci[1] > 0 else "within noise")
        )
        out.append(
            Claim(
                "2b(iii), Table 5",
                '5k test accuracy "49.09%, worse than chance" (chance: 10% over 10 classes)',
                "49.09%: +39.09 points above chance, against its own words",
                f"test accuracy less 10%: {_pts(ci)} points ({plural(len(base), 'run')})",
                words,
            )
        )
    deeper = [(s, runs.values(s, "test_accuracy")) for s in fresh_sizes(cfg, "deeper")]
    for s, acc in deeper:
        if acc:
            pub = PUB.TABLE9.get(s.n, (None, None, None))[2]
            ci = level_interval(acc, LEVEL, 0.70)
            out.append(
                Claim(
                    "2d, Table 9",
                    f'deeper network: "test accuracy approximately 70%" at {s.n:,} samples',
                    "-" if pub is None else f"{100 * pub:.2f}%",
                    f"fresh deeper network less 70%: {_pts(ci)} points ({len(acc)})",
                    level_verdict(ci),
                )
            )
    for s in replay_runs(cfg)[:1]:
        acc = runs.values(s, "test_accuracy")
        if acc:
            ci = level_interval(acc, LEVEL, 0.70)
            out.append(
                Claim(
                    "2d, Table 9",
                    '"approximately 70%" as the published code measured it (the cumulative stride model, one '
                    "test accuracy for every size)",
                    "70.4-70.8%",
                    f"replay less 70%: {_pts(ci)} points ({len(acc)})",
                    level_verdict(ci),
                )
            )
    return out


def _l1_trend_claims(runs: Runs, cfg: Config) -> list[Claim]:
    specs = [s for s in l1_runs(cfg) if runs.of(s)]
    if len(specs) < 3:
        return []
    out = []
    steps = list(zip(specs, specs[1:], strict=False))
    level = family_level(len(steps))
    for key, name, pub_col in (("test_accuracy", "test accuracy", 1), ("train_accuracy", "train accuracy", 0)):
        x = [math.log10(s.l1) for s in specs for r in runs.of(s) if r.get(key) is not None]
        y = [r[key] for s in specs for r in runs.of(s) if r.get(key) is not None]
        rho = trend(x, y)
        flat, falls = [], []
        for lo_s, hi_s in steps:
            ci = paired_interval(*runs.paired(hi_s, lo_s, key), level)
            (falls if ci is not None and ci[2] < 0 else flat).append(f"{lo_s.l1:g}->{hi_s.l1:g}")
        if rho is None:
            words = "too few runs"
        elif rho[0] < 0 and rho[1] < 0.05 and not flat:
            words = "holds"
        elif rho[0] < 0 and rho[1] < 0.05:
            first_flat = flat[0].split("->")[0]
            words = f"holds up to L1 {first_flat}, then flat (within noise)"
        else:
            words = "within noise" if rho[1] >= 0.05 else "reversed"
        pub = [PUB.TABLE6[s.l1][pub_col] for s in specs if s.l1 in PUB.TABLE6]
        out.append(
            Claim(
                "2b(iv), Table 6",
                f'"as it is increased both the training and test accuracy decrease": {name}, every weight',
                " > ".join(f"{100 * p:.2f}" for p in pub) + "%",
                (
                    "-"
                    if rho is None
                    else f"Spearman rho {rho[0]:+.2f} (p = {rho[1]:.1g}, {len(y)} runs); adjacent weights, paired, "
                    f"family of {len(steps)} at {100 * level:.2f}%: falls {', '.join(falls) or 'nowhere'}; "
                    f"within noise {', '.join(flat) or 'nowhere'}"
                ),
                words,
            )
        )
    x = [math.log10(s.l1) for s in specs for r in runs.of(s) if r.get("history", {}).get("loss")]
    y = [r["history"]["loss"][-1] for s in specs for r in runs.of(s) if r.get("history", {}).get("loss")]
    rho = trend(x, y)
    out.append(
        Claim(
            "2b(iv), Figure 6",
            '"the loss also increases dramatically as the weight is increased" (final-epoch training loss)',
            "Figure 6 (no figures printed)",
            "-" if rho is None else f"Spearman rho {rho[0]:+.2f} (p = {rho[1]:.1g}, {len(y)} runs)",
            "too few runs" if rho is None else ("holds" if rho[0] > 0 and rho[1] < 0.05 else "not shown"),
        )
    )
    return out


def _history_claims(runs: Runs, cfg: Config) -> list[Claim]:
    out = []
    recs = [r for r in runs.of(base_run(cfg)) if r.get("history", {}).get("val_accuracy")]
    if recs:
        stays = [accuracy_crossing(r["history"])[1] for r in recs]
        got = [float(s) for s in stays if s is not None]
        ci = level_interval(got) if len(got) == len(stays) else None
        lo, hi = PUB.FIGURE4_CROSSING
        if ci is None:
            words = "too few runs" if len(recs) < MIN_RUNS else "does not hold: never stays above in some runs"
        else:
            words = "holds, same size" if ci[1] <= hi and ci[2] >= lo else ("earlier" if ci[2] < lo else "later")
            words = words if words == "holds, same size" else f"does not hold: ours {words}"
        shown = ", ".join("never" if s is None else str(s) for s in stays)
        out.append(
            Claim(
                "2b(ii), Figure 4",
                '"after about 7 or 8 epochs" training accuracy "begins to steadily outperform" validation, '
                "and never falls below it after",
                f"epoch {lo}-{hi}",
                f"epoch from which it stays above, per seed: {shown}"
                + ("" if ci is None else f"; mean {ci[0]:.1f} [{ci[1]:.1f}, {ci[2]:.1f}]"),
                words,
            )
        )
    cells, all_above, below_at_end = [], True, []
    for s in fresh_sizes(cfg):
        rs = [r for r in runs.of(s) if r.get("history", {}).get("val_accuracy")]
        if not rs:
            continue
        above = [
            a > v for r in rs for a, v in zip(r["history"]["accuracy"], r["history"]["val_accuracy"], strict=False)
        ]
        last = [r["history"]["accuracy"][-1] > r["history"]["val_accuracy"][-1] for r in rs]
        all_above &= all(above)
        if not all(last):
            below_at_end.append(f"{s.n:,}")
        cells.append(f"{s.n // 1000}k: {sum(above)}/{len(above)} epochs, final epoch {sum(last)}/{len(last)} runs")
    if cells:
        out.append(
            Claim(
                "2b(iii), Figure 5",
                '"across all iterations, the training accuracy is higher than the validation accuracy" '
                "(Keras' history: training accuracy with dropout on)",
                "Figure 5 (no figures printed)",
                "train above validation: " + "; ".join(cells),
                "holds"
                if all_above
                else "does not hold: not in every epoch"
                + (f", nor at the last epoch of every run at {', '.join(below_at_end)}" if below_at_end else ""),
            )
        )
    sized = [(s, r) for s in fresh_sizes(cfg) for r in runs.of(s) if r.get("history", {}).get("val_loss")]
    if len({s.n for s, _ in sized}) >= 2:
        for key, name, sign in (("val_accuracy", "validation accuracy", 1), ("val_loss", "validation loss", -1)):
            rho = trend([math.log10(s.n) for s, _ in sized], [r["history"][key][-1] for _, r in sized])
            words = (
                "too few runs"
                if rho is None
                else "holds"
                if rho[1] < 0.05 and rho[0] * sign > 0
                else ("within noise" if rho[1] >= 0.05 else "reversed")
            )
            out.append(
                Claim(
                    "2b(iii), Figure 5",
                    f'"as the training size is increased the accuracy increases and the loss decreases": final-epoch '
                    f"{name}, fresh models",
                    "Figure 5 (no figures printed)",
                    "-"
                    if rho is None
                    else f"Spearman rho with log10(n) {rho[0]:+.2f} (p = {rho[1]:.1g}, {len(sized)} runs)",
                    words,
                )
            )
    if recs:
        lower = [r["history"]["loss"][-1] < r["history"]["val_loss"][-1] for r in recs if r["history"].get("val_loss")]
        out.append(
            Claim(
                "2b(ii), Figure 4",
                '"the training [loss] remains significantly less than that of the validation loss" (final epoch)',
                "Figure 4 (no figures printed)",
                f"training loss below validation loss at the last epoch in {sum(lower)} of {len(lower)} runs",
                "too few runs"
                if len(lower) < MIN_RUNS
                else "holds"
                if all(lower)
                else f"holds in {sum(lower)} of {len(lower)} runs",
            )
        )
    return out


def _class_claims(runs: Runs, cfg: Config) -> list[Claim]:
    recs = runs.of(base_run(cfg))
    if not recs:
        return []
    out = []
    for split, pub, table in (("train", PUB.TABLE1, "Table 1"), ("test", PUB.TABLE2, "Table 2")):
        f1 = np.array([[class_report(r[f"confusion_{split}"])[str(c)]["f1-score"] for c in range(10)] for r in recs])
        worst, best = np.argmin(f1, axis=1), np.argmax(f1, axis=1)
        pw = min(range(10), key=lambda c: pub[c][2])
        pb = max(range(10), key=lambda c: pub[c][2])
        n_w, n_b = int((worst == pw).sum()), int((best == pb).sum())
        names = ", ".join(f"{CLASSES[w]}/{CLASSES[b]}" for w, b in zip(worst, best, strict=True))
        words = (
            "too few runs"
            if len(recs) < MIN_RUNS
            else "holds"
            if n_w == n_b == len(recs)
            else (f"holds in {min(n_w, n_b)} of {len(recs)} runs")
        )
        out.append(
            Claim(
                f"2b(i), {table}",
                f"{split} f1 lowest for class {pw} ({CLASSES[pw]}), highest for class {pb} ({CLASSES[pb]})",
                f"{pub[pw][2]:.2f} / {pub[pb][2]:.2f}",
                f"lowest {n_w}/{len(recs)} runs, highest {n_b}/{len(recs)} (worst/best per seed: {names})",
                words,
            )
        )
    maj = runs.of(RunSpec("majority", cfg.base_size))
    if maj:
        got = maj[0]["test_accuracy"]
        out.append(
            Claim(
                "2b(i), Tables 3-4",
                "the most-frequent baseline scores 10% on the test set (deterministic: one run is exact)",
                f"{100 * PUB.BASELINE['test_accuracy']:.0f}%",
                f"{100 * got:.2f}% (class {maj[0]['majority_class']}, {CLASSES[maj[0]['majority_class']]})",
                "holds, same size" if round(got, 2) == PUB.BASELINE["test_accuracy"] else "does not hold",
            )
        )
    params = next((r["params"] for r in runs.of(base_run(cfg)) if r.get("params", {}).get("layers")), None)
    if params:
        big = max(params["layers"], key=lambda lay: lay["params"])
        name, count = PUB.PARAMS["largest"]
        out.append(
            Claim(
                "2b(i), text",
                f'"the fourth layer has the most parameters, with {count:,}" (exact count)',
                f"{name}: {count:,}",
                f"{big['name']}: {big['params']:,} (the fourth convolution has {count:,})",
                "holds" if big["name"] == name else "does not hold",
            )
        )
    return out


def load_cpu_time(out: Path) -> dict | None:
    """``cpu_time.json`` of ``out`` (written by ``python -m training.cputime``), or None."""
    try:
        return json.loads((Path(out) / CPU_FILE).read_text())
    except (OSError, ValueError):
        return None


def cpu_ratio(cpu: dict, a: str, b: str) -> tuple[float, float, float] | None:
    """CPU time per sample of ``a`` over ``b``: the geometric mean of the per-round ratios and its 95% interval.

    Rounds alternate the networks, so each round's ratio pairs measurements made together.

    Examples
    --------
    >>> d = {"cpu_s_per_sample": {"a": [2.0, 2.2, 1.8, 2.0, 2.1], "b": [1.0, 1.1, 0.9, 1.0, 1.05]}}
    >>> [round(v, 3) for v in cpu_ratio(d, "a", "b")]
    [2.0, 2.0, 2.0]
    """
    per = cpu.get("cpu_s_per_sample", {})
    if a not in per or b not in per:
        return None
    ci = paired_interval(list(np.log(per[a])), list(np.log(per[b])))
    return None if ci is None else tuple(math.exp(v) for v in ci)


def _wall_ratio(runs: Runs, a: RunSpec, b: RunSpec) -> str:
    ra, rb = runs.paired(a, b, "train_time_s")
    if not ra:
        return "-"
    ratios = np.array(ra) / np.array(rb)
    return f"{np.exp(np.mean(np.log(ratios))):.2f}x (per seed {', '.join(f'{r:.2f}' for r in ratios)})"


def _time_claims(runs: Runs, cfg: Config, out: Path) -> list[Claim]:
    cpu = load_cpu_time(out)
    res = []
    macs = {}
    for m in MODELS:
        rec = next((r for r in runs.records.values() if r["config"]["model"] == m and r.get("params")), None)
        if rec and rec["params"].get("layers"):
            macs[m] = multiply_adds(rec["params"]["layers"])
    base = base_run(cfg)
    untestable = f"not testable from wall times (load not recorded); no {CPU_FILE} (run python -m training.cputime)"
    for a, b, where, text, pub_ratio, claim_dir in (
        (
            "maxpool",
            "stride",
            "2c, Tables 7-8",
            '"no difference in training time" (75.0 s against 75.5 s)',
            [PUB.TABLE7[0] / PUB.TABLE8[0]],
            0,
        ),
        (
            "deeper",
            "stride",
            "2d, Tables 9, 5",
            '"shorter training time than that of the original architecture, across all training sizes"',
            [PUB.TABLE9[n][0] / PUB.TABLE5[n][0] for n in PUB.TABLE9],
            -1,
        ),
    ):
        if a not in macs and not runs.of(RunSpec(a, cfg.base_size, cfg.l1)):
            continue
        ci = cpu_ratio(cpu, a, b) if cpu else None
        walls = _wall_ratio(runs, RunSpec(a, cfg.base_size, cfg.l1), base)
        work = f"{macs[a] / macs[b]:.2f}x the multiply-adds per image" if a in macs and b in macs else ""
        if ci is None:
            words = untestable
            ours = "-"
        else:
            d, lo, hi = (math.log(v) for v in ci)
            if claim_dir == 0:
                words = "holds" if lo <= 0 <= hi else f"does not hold: {a} takes {ci[0]:.2f}x the CPU time"
            else:
                by_word: dict[str, list[str]] = {}
                for n, r in zip(PUB.TABLE9, pub_ratio, strict=True):
                    by_word.setdefault(verdict(math.log(r), (d, lo, hi)), []).append(f"{n // 1000}k")
                if len(by_word) == 1:
                    words = next(iter(by_word))
                else:  # one measured ratio against the published ratio of each size
                    words = "holds: " + "; ".join(
                        f"{w.split(', ')[-1]} at {', '.join(ns)}" for w, ns in by_word.items()
                    )
            ours = f"CPU time per sample {ci[0]:.2f}x [{ci[1]:.2f}, {ci[2]:.2f}]"
        res.append(
            Claim(
                where,
                text,
                "ratio " + ", ".join(f"{r:.2f}x" for r in pub_ratio),
                "; ".join(
                    x
                    for x in (ours, work, f"records' fit wall time (5k, load not recorded) {walls}")
                    if x and not x.endswith(" -")
                ),
                words,
            )
        )
    for model, where in (("stride", "2b(iii), Table 5"), ("deeper", "2d, Table 9")):
        specs = [s for s in fresh_sizes(cfg, model) if runs.of(s)]
        if len(specs) < 2:
            continue
        pub = PUB.TABLE5 if model == "stride" else PUB.TABLE9
        first, last = specs[0], specs[-1]
        fit = [runs.of(s)[0]["n_fit"] for s in (first, last)]
        walls = _wall_ratio(runs, last, first)
        pub_r = pub[last.n][0] / pub[first.n][0] if first.n in pub and last.n in pub else None
        res.append(
            Claim(
                where,
                f'{model}: "the training time increases with the training size" ({first.n:,} -> {last.n:,})',
                "-" if pub_r is None else f"{pub[first.n][0]:.0f} s -> {pub[last.n][0]:.0f} s ({pub_r:.1f}x)",
                f"samples fitted per epoch {fit[0]:,} -> {fit[1]:,} ({fit[1] / fit[0]:.1f}x) at the same cost per "
                f"sample (the network and batch size do not change); records' fit wall time {walls}",
                "holds (the work grows with the samples, by count)",
            )
        )
    return res


def claims(runs: Runs, cfg: Config, names: list[str], out: Path) -> list[Claim]:
    """Every published claim of Part 2 that :mod:`.verdicts` does not judge, with our verdict."""
    rows = []
    if "baseline" in names:
        rows += _class_claims(runs, cfg)
    if "history" in names or "train-size" in names:
        rows += _history_claims(runs, cfg)
    if "train-size" in names or "deeper" in names:
        rows += _accuracy_claims(runs, cfg)
    if "l1" in names:
        rows += _l1_trend_claims(runs, cfg)
    rows += _time_claims(runs, cfg, out)
    if "deeper" in names and any(runs.of(s) for s in fresh_sizes(cfg, "deeper")):
        rows.append(
            Claim(
                "2d, Figure 7",
                "the deeper network's history per size: the text draws no claim from it beyond Table 9's "
                "(accuracy and time, judged above and in the verdicts table)",
                "Figure 7 (no figures printed)",
                "`history_deeper.png`",
                "nothing of its own to test",
            )
        )
    return rows


def section_claims(runs: Runs, names: list[str], cfg: Config, out: Path) -> str:
    """The table of the other published claims (levels, trends, curves, counts, time)."""
    rows = claims(runs, cfg, names, out)
    if not rows:
        return ""
    write_csv(
        out / "table_claims.csv",
        ["where", "claim", "published", "ours", "verdict"],
        [[c.where, c.claim, c.published, c.ours, c.verdict] for c in rows],
    )
    cpu = load_cpu_time(out)
    how = (
        f"CPU time per training sample was measured by `python -m training.cputime` ({cpu['cpu']}, "
        f"{cpu['logical_cores']} logical cores, one TensorFlow thread, {cpu['rounds']} rounds of "
        f"{cpu['batches_per_round']} batches of {cpu['batch_size']} per network, alternating network by network; "
        f"load average {cpu['load_average_1min'][0]:.1f} -> {cpu['load_average_1min'][-1]:.1f}, whose processes' "
        "CPU time the process's own does not include, though they share its caches; "
        f"{cpu['measured_at']}): "
        + ", ".join(f"{n} {1e6 * float(np.median(v)):,.0f} us" for n, v in cpu["cpu_s_per_sample"].items())
        + " per sample (median per round) for a training step alone (`train_on_batch`: no validation pass, no "
        "input pipeline). Ratios between networks are the geometric mean of the per-round ratios with a paired "
        '95% interval; the deeper network\'s "shorter training time" is judged like an accuracy difference, our '
        "ratio's interval against the published ratio of each size (*same size*: inside it; *larger* / "
        '*smaller*: a larger / smaller saving than published). "Time increases with size" is judged by count: '
        "the samples fitted grow with n at an unchanged cost per sample. "
        if cpu
        else "No CPU-time measurement is in this folder, so the time claims between networks are not judged. "
    )
    return (
        "## The other published claims\n\n"
        "Levels, trends, curves, counts and time: each claim of Part 2 that is not a difference of two mean "
        "accuracies, with the test used. A level (Table 5's 49.09% against chance, Part 2d's 70%) is judged by "
        f"the one-sample 95% t interval of our runs less that level (*too few runs* below {MIN_RUNS} runs); "
        "Table 6's trend by Spearman's rank correlation of accuracy with log10(weight) over every run and by "
        "paired intervals between adjacent weights, Bonferroni-corrected as one family. "
        + how
        + "The records' wall times (`model.fit`) ran beside other work whose load was not recorded, so they are "
        "shown beside the verdicts, not used for them.\n\n"
        + md_table(
            ["published where", "claim", "published", "ours", "verdict"],
            [[c.where, c.claim, c.published, c.ours, f"**{c.verdict}**"] for c in rows],
        )
        + "\n"
    )

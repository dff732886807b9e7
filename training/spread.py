"""Results over several training seeds: mean ± sd (n) beside the seed's figures, and verdicts.

``python -m training.run ... --seeds 0,1,2,3,4 --out DIR`` puts each seed's runs in
``DIR/seed-<s>/`` (a complete single-seed output, with its own REPORT.md); this
module reads them all and writes ``DIR/REPORT.md``: every figure of the seed's
Tables 1-9 beside our mean ± standard deviation over the seeds and the number
of runs, and a verdict on each comparison the seed draws from its single runs.

A verdict compares two arms (e.g. maxpool's and stride's test accuracies over
their seeds) by the difference of their means and its 95% confidence interval
(Welch's t interval, ``scipy.stats.ttest_ind(..., equal_var=False)``: the arms
may differ in spread and in number of runs).  On the seed's claim that ``a``
scores higher than ``b``: *holds* when the whole interval is above zero,
*reversed* when it is below, *within noise* when it contains zero.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats
from tabulate import tabulate

from training.experiments import write_atomic
from training.seed_figures import SEED_BASELINE, SEED_TABLE1, SEED_TABLE2, SEED_TABLE5, SEED_TABLE6, SEED_TABLE9

SEED_FOLDER = re.compile(r"^seed-(\d+)$")


# ---------------------------------------------------------------------------------------------
# Statistics


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation (0 for a single run) and number of runs of one figure."""

    mean: float
    sd: float
    n: int

    def pct(self) -> str:
        """As a percentage: ``'49.57 ± 0.81% (n=5)'``."""
        return f"{100 * self.mean:.2f} ± {100 * self.sd:.2f}% (n={self.n})"

    def frac(self) -> str:
        """As a fraction: ``'0.49 ± 0.01 (n=5)'`` (f1 scores, as the seed printed them)."""
        return f"{self.mean:.2f} ± {self.sd:.2f} (n={self.n})"

    def secs(self) -> str:
        return f"{self.mean:,.1f} ± {self.sd:,.1f} s (n={self.n})"


def spread(values) -> Spread:
    """:class:`Spread` of ``values``.

    Examples
    --------
    >>> spread([0.5, 0.52, 0.54]).pct()
    '52.00 ± 2.00% (n=3)'
    """
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise ValueError("spread of no values")
    return Spread(float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, int(v.size))


@dataclass(frozen=True)
class Comparison:
    """``mean(a) - mean(b)``, its 95% interval, and the verdict on the claim ``a > b``."""

    diff: float
    low: float
    high: float
    verdict: str

    def pct(self) -> str:
        return f"{100 * self.diff:+.2f} points [{100 * self.low:+.2f}, {100 * self.high:+.2f}]"


def compare(a, b, level: float = 0.95) -> Comparison:
    """Judge the claim that ``a`` is higher than ``b`` from the runs of each (Welch's t interval).

    With fewer than two runs on a side there is no interval and the verdict is
    ``within noise``: one run is not a finding.

    Examples
    --------
    >>> c = compare([0.55, 0.56, 0.54], [0.50, 0.49, 0.51])
    >>> c.verdict, round(c.diff, 3)
    ('holds', 0.05)
    >>> compare([0.50, 0.52], [0.51, 0.50]).verdict
    'within noise'
    >>> compare([0.40, 0.41, 0.42], [0.50, 0.51, 0.52]).verdict
    'reversed'
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return Comparison(diff, -np.inf, np.inf, "within noise")
    if a.var() == 0 and b.var() == 0:  # identical runs on both sides: the difference is exact
        low = high = diff
    else:
        with warnings.catch_warnings():  # one arm of identical runs (the majority baseline) is fine here
            warnings.simplefilter("ignore", RuntimeWarning)
            ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
        low, high = float(ci.low), float(ci.high)
    verdict = "holds" if low > 0 else "reversed" if high < 0 else "within noise"
    return Comparison(diff, low, high, verdict)


# ---------------------------------------------------------------------------------------------
# Records


def seed_folders(root: Path) -> dict[int, Path]:
    """``{seed: folder}`` for the ``seed-<s>`` folders of ``root``."""
    found = {}
    for p in sorted(Path(root).iterdir()) if Path(root).is_dir() else []:
        m = SEED_FOLDER.match(p.name)
        if m and p.is_dir():
            found[int(m.group(1))] = p
    return found


def load_by_run(root: Path) -> dict[str, list[dict]]:
    """``{run id: [record of each seed that finished it]}``, in seed order."""
    from training.report import load_records

    runs: dict[str, list[dict]] = {}
    for _, folder in sorted(seed_folders(root).items()):
        for run_id, rec in load_records(folder).items():
            runs.setdefault(run_id, []).append(rec)
    return runs


def _values(runs, run_id, key):
    return [r[key] for r in runs.get(run_id, [])]


def _macro_f1(rec, split):
    from training.report import class_report

    return class_report(rec[f"confusion_{split}"])["macro avg"]["f1-score"]


# ---------------------------------------------------------------------------------------------
# The comparisons the seed draws, and their verdicts


def comparisons(runs: dict[str, list[dict]], l1: float, base: int, sizes, weights) -> list[list[str]]:
    """One row per claim of the seed: claim, its single-run figures, ours mean difference [95% CI], verdict."""
    rows = []

    def add(claim, seed_text, a_id, b_id):
        a, b = _values(runs, a_id, "test_accuracy"), _values(runs, b_id, "test_accuracy")
        if not a or not b:
            rows.append([claim, seed_text, f"not run yet ({a_id if not a else b_id})", "-", "-"])
            return
        c = compare(a, b)
        rows.append([claim, seed_text, c.pct(), f"{len(a)} / {len(b)}", c.verdict])

    stride = f"stride-n{base}-l1_{l1:g}"
    add(
        "the model beats the most-frequent baseline (Tables 2, 4)",
        f"{100 * SEED_TABLE2['accuracy']:.0f}% vs {100 * SEED_BASELINE['test_accuracy']:.0f}%",
        stride,
        f"majority-n{base}",
    )
    for small, large in zip(sizes[:-1], sizes[1:], strict=True):
        s = f"{100 * SEED_TABLE5[small][2]:.2f}% -> {100 * SEED_TABLE5[large][2]:.2f}%" if large in SEED_TABLE5 else "-"
        add(
            f"more data helps: {large:,} vs {small:,} samples (Table 5)",
            s,
            f"stride-n{large}-l1_{l1:g}",
            f"stride-n{small}-l1_{l1:g}",
        )
    for w in weights:
        if w == l1:
            continue
        seed_text = f"{100 * SEED_TABLE6[l1][1]:.2f}% vs {100 * SEED_TABLE6[w][1]:.2f}%" if w in SEED_TABLE6 else "-"
        add(f"L1 {l1:g} beats L1 {w:g} (Table 6)", seed_text, stride, f"stride-n{base}-l1_{w:g}")
    add("max pooling beats strides at 5k (Tables 7, 8)", "54.15% vs 49.09%", f"maxpool-n{base}-l1_{l1:g}", stride)
    for n in sizes:
        seed_text = f"{100 * SEED_TABLE9[n][2]:.1f}% vs {100 * SEED_TABLE5[n][2]:.2f}%" if n in SEED_TABLE9 else "-"
        add(
            f"the deeper network beats strides at {n:,} (Tables 9, 5)",
            seed_text,
            f"deeper-n{n}-l1_{l1:g}",
            f"stride-n{n}-l1_{l1:g}",
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Tables and plots


def _table(rows, headers) -> str:
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def _cell(runs, run_id, key, fmt="pct") -> str:
    v = _values(runs, run_id, key)
    if not v:
        return "not run yet"
    s = spread(v)
    return s.pct() if fmt == "pct" else s.secs()


def _size_table(runs, model, sizes, l1, seed_table) -> str:
    rows = []
    for n in sizes:
        run_id = f"{model}-n{n}-l1_{l1:g}"
        s = seed_table.get(n)
        rows.append(
            [
                f"{n:,}",
                _cell(runs, run_id, "train_accuracy"),
                _cell(runs, run_id, "test_accuracy"),
                _cell(runs, run_id, "train_time_s", "secs"),
                "-" if s is None else f"{100 * s[1]:.2f}%",
                "-" if s is None else f"{100 * s[2]:.2f}%",
                "-" if s is None else f"{s[0]:,.1f} s",
            ]
        )
    headers = ["training size", "train accuracy", "test accuracy", "fit time", "seed train", "seed test", "seed time"]
    return _table(rows, headers)


def _plot_sizes(runs, sizes, l1, path: Path) -> None:
    from training.report import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.5), constrained_layout=True)
    for model, color, seed_table in (("stride", "C0", SEED_TABLE5), ("deeper", "C2", SEED_TABLE9)):
        pts = [(n, _values(runs, f"{model}-n{n}-l1_{l1:g}", "test_accuracy")) for n in sizes]
        pts = [(n, spread(v)) for n, v in pts if v]
        if pts:
            n_, s_ = zip(*pts, strict=True)
            counts = sorted({s.n for s in s_})
            n_text = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
            ax.errorbar(n_, [s.mean for s in s_], yerr=[s.sd for s in s_], fmt="o-", color=color, capsize=4,
                        label=f"ours: {model}, test (mean ± sd, n={n_text})")  # fmt: skip
        seed_n, seed_test = list(seed_table), [v[2] for v in seed_table.values()]
        ax.plot(seed_n, seed_test, "x--", color=color, alpha=0.6, label=f"seed: {model}, test (one run)")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{n // 1000}k" for n in sizes])
    ax.set_xlabel("training samples (log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Test accuracy against training size, over seeds (Tables 5 and 9)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_l1(runs, base, weights, path: Path) -> None:
    from training.report import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.5), constrained_layout=True)
    for key, style, label in (("test_accuracy", "o-", "test"), ("train_accuracy", "s--", "train")):
        pts = [(w, _values(runs, f"stride-n{base}-l1_{w:g}", key)) for w in weights]
        pts = [(w, spread(v)) for w, v in pts if v]
        if pts:
            w_, s_ = zip(*pts, strict=True)
            ax.errorbar(w_, [s.mean for s in s_], yerr=[s.sd for s in s_], fmt=style, color="C0", capsize=4,
                        label=f"ours: {label} (mean ± sd)")  # fmt: skip
    w, vals = zip(*sorted(SEED_TABLE6.items()), strict=True)
    ax.plot(w, [v[1] for v in vals], "x-", color="C1", label="seed: test (one run)")
    ax.plot(w, [v[0] for v in vals], "x--", color="C1", alpha=0.6, label="seed: train (one run)")
    ax.axhline(0.1, color="grey", lw=0.8, ls=":", label="10% (chance)")
    ax.set_xscale("log")
    ax.set_xlabel("L1 weight on the dense kernel (log scale)")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy against L1 weight, over seeds (Table 6)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_history(recs: list[dict], path: Path, title: str) -> None:
    """Figure 4 over seeds: per-epoch mean with a ±1 sd band, accuracy and loss, train and validation."""
    from training.report import _plt

    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        for key, color, label in ((metric, "C0", "train"), (f"val_{metric}", "C1", "validation")):
            h = np.array([r["history"][key] for r in recs], dtype=np.float64)
            epochs = np.arange(1, h.shape[1] + 1)
            mean, sd = h.mean(axis=0), h.std(axis=0, ddof=1) if len(h) > 1 else np.zeros(h.shape[1])
            ax.plot(epochs, mean, color=color, label=f"{label} (mean of {len(h)} seeds)")
            ax.fill_between(epochs, mean - sd, mean + sd, color=color, alpha=0.2, label=f"{label} ± 1 sd")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# REPORT.md


def write_seed_report(root: str | Path) -> Path:
    """Write ``root/REPORT.md`` (and its plots) from the ``seed-<s>`` folders of ``root``."""
    from training.report import load_invocation

    root = Path(root)
    folders = seed_folders(root)
    if not folders:
        raise FileNotFoundError(f"{root} has no seed-<s> folders")
    runs = load_by_run(root)
    _, cfg, _ = load_invocation(next(iter(folders.values())))
    l1, base = cfg.l1, cfg.base_size
    sizes, weights = list(cfg.train_sizes), list(cfg.l1_weights)
    stride = f"stride-n{base}-l1_{l1:g}"
    epochs = {r["config"]["epochs"] for recs in runs.values() for r in recs if "epochs" in r.get("config", {})}
    seeds = ", ".join(str(s) for s in folders)

    parts = [
        "# CIFAR-10 experiments over several seeds\n",
        f"Every run of the seed's Part 2 repeated with training seeds {seeds} (initialisation, batch order, "
        "dropout; the data subset is the same for every seed). Each figure is our mean ± standard deviation "
        "over the seeds that finished the run (n), beside the seed's single-run figure. "
        f"Settings: {', '.join(str(e) for e in sorted(epochs))} epochs, batch size {cfg.batch_size}, "
        f"L1 {l1:g} unless varied. Each seed's own report (classification tables, per-run histories, the "
        "seed's code mistakes replayed) is in its `seed-<s>/REPORT.md`.\n",
        "## The seed's claims, judged over seeds\n",
        "Difference of the means (ours) with its 95% interval (Welch's t); *holds* when the interval lies "
        "above zero, *reversed* when below, *within noise* when it contains zero.\n",
        _table(
            comparisons(runs, l1, base, sizes, weights),
            ["claim", "seed (one run)", "ours: difference [95% CI]", "runs (a / b)", "verdict"],
        ),
        "",
        "## Tables 1-4: the stride model and the most-frequent baseline, 5k samples\n",
    ]
    rows = []
    if runs.get(stride):
        f1 = {s: spread(_macro_f1(r, s) for r in runs[stride]).frac() for s in ("train", "test")}
        rows += [
            ["stride: train accuracy (Table 1)", _cell(runs, stride, "train_accuracy"),
             f"{SEED_TABLE1['accuracy']:.0%}"],
            ["stride: test accuracy (Table 2)", _cell(runs, stride, "test_accuracy"),
             f"{SEED_TABLE2['accuracy']:.0%}"],
            ["stride: macro f1, train / test", f"{f1['train']} / {f1['test']}",
             f"{SEED_TABLE1['macro f1']:.2f} / {SEED_TABLE2['macro f1']:.2f}"],
        ]  # fmt: skip
    maj = f"majority-n{base}"
    if runs.get(maj):
        rows += [
            ["baseline: train accuracy (Table 3)", _cell(runs, maj, "train_accuracy"),
             f"{SEED_BASELINE['train_accuracy']:.0%}"],
            ["baseline: test accuracy (Table 4)", _cell(runs, maj, "test_accuracy"),
             f"{SEED_BASELINE['test_accuracy']:.0%}"],
        ]  # fmt: skip
    parts += [_table(rows, ["figure", "ours", "seed"]) if rows else "not run yet", ""]

    if runs.get(stride):
        _plot_history(runs[stride], root / "history_base.png", f"Figure 4 over seeds: stride model, {base:,} samples")
        parts += ["## Figure 4: history over seeds\n", "![Figure 4 over seeds](history_base.png)\n"]

    parts += [
        "## Table 5: training size (a fresh model per size)\n",
        _size_table(runs, "stride", sizes, l1, SEED_TABLE5),
        "",
        "The seed's Table 5 kept training one model from size to size (its cumulative code); ours trains a "
        "fresh model per size, so its larger sizes have seen fewer epochs in all than the seed's did.\n",
        "## Table 6: L1 weight\n",
    ]
    rows = []
    for w in weights:
        s = SEED_TABLE6.get(w)
        run_id = f"stride-n{base}-l1_{w:g}"
        rows.append(
            [f"{w:g}", _cell(runs, run_id, "train_accuracy"), _cell(runs, run_id, "test_accuracy"),
             "-" if s is None else f"{100 * s[0]:.2f}%", "-" if s is None else f"{100 * s[1]:.2f}%"]
        )  # fmt: skip
    parts += [_table(rows, ["L1 weight", "train accuracy", "test accuracy", "seed train", "seed test"]), ""]
    if weights:
        _plot_l1(runs, base, weights, root / "l1_accuracy.png")
        parts.append("![accuracy against L1 weight](l1_accuracy.png)\n")

    pool = f"maxpool-n{base}-l1_{l1:g}"
    rows = [
        ["max pooling (Table 7)", _cell(runs, pool, "train_accuracy"), _cell(runs, pool, "test_accuracy"),
         _cell(runs, pool, "train_time_s", "secs"), "64.11%", "54.15%", "75 s"],
        ["strides (Table 8)", _cell(runs, stride, "train_accuracy"), _cell(runs, stride, "test_accuracy"),
         _cell(runs, stride, "train_time_s", "secs"), "62.27%", "49.09%", "75.5 s"],
    ]  # fmt: skip
    parts += [
        "## Tables 7 and 8: max pooling against strides, 5k samples\n",
        _table(
            rows, ["network", "train accuracy", "test accuracy", "fit time", "seed train", "seed test", "seed time"]
        ),
        "",
        "## Table 9: the thinner, deeper network\n",
        _size_table(runs, "deeper", sizes, l1, SEED_TABLE9),
        "",
        "The seed's Table 9 accuracies scored the wrong model (see a seed folder's report); ours score the "
        "deeper network itself.\n",
    ]
    if any(runs.get(f"deeper-n{n}-l1_{l1:g}") for n in sizes) or any(runs.get(f"stride-n{n}-l1_{l1:g}") for n in sizes):
        _plot_sizes(runs, sizes, l1, root / "train_size_accuracy.png")
        parts.append("![test accuracy against training size](train_size_accuracy.png)\n")
    total = sum(r.get("train_time_s") or 0.0 for recs in runs.values() for r in recs)
    parts += [
        "## Compute\n",
        f"{sum(len(v) for v in runs.values())} run records over {len(folders)} seeds; "
        f"{total / 3600:.2f} h of `model.fit` wall time in all (device: {_device(runs)}).\n",
    ]
    path = root / "REPORT.md"
    write_atomic(path, "\n".join(parts))
    return path


def _device(runs) -> str:
    devices = {r.get("device", "?") for recs in runs.values() for r in recs}
    return "; ".join(sorted(devices))

"""Tables, plots and REPORT.md from the run records of an output directory.

``python -m training.report DIR`` rebuilds everything from ``DIR/*.json`` (no
training, no TensorFlow). The runs of one setting over several training seeds are
summarised as mean ± standard deviation (n runs), beside the seed's figure; each
comparison the seed draws gets a verdict with the difference's 95% interval
(:func:`verdict`). The sections follow the seed's Parts in order.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np
from tabulate import tabulate

from training import seed_figures as SEED
from training.config import Config
from training.data import CLASSES
from training.experiments import EXPERIMENTS, RunSpec, cumulative_rows, part_b_l1, plan, warm_chain
from training.files import write_atomic

# ---------------------------------------------------------------------------------------------
# Loading


def load_records(out: Path) -> dict[str, dict]:
    """Every run record in ``out`` by run id (unreadable files are skipped)."""
    records = {}
    for path in sorted(Path(out).glob("*.json")):
        if path.name == "invocation.json":
            continue
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and "run" in rec:
            records[rec["run"]] = rec
    return records


def load_invocation(out: Path) -> tuple[list[str], Config, dict]:
    """Experiments run in ``out`` so far, the last settings used, and the raw ``invocation.json``."""
    try:
        info = json.loads((Path(out) / "invocation.json").read_text())
    except (OSError, ValueError):
        info = {}
    fields = set(Config.__dataclass_fields__)
    raw = {k: v for k, v in info.get("config", {}).items() if k in fields}
    for key in ("train_sizes", "l1_weights", "seeds", "size_seeds"):
        if raw.get(key) is not None:
            raw[key] = tuple(raw[key])
    return info.get("experiments", list(EXPERIMENTS)), Config(**raw), info


def setting_key(run_id: str) -> str:
    """A run id without its seed: the runs of one setting share it.

    Examples
    --------
    >>> setting_key("stride-n5000-l1_0.0001-s3")
    'stride-n5000-l1_0.0001'
    """
    return re.sub(r"-s\d+$", "", run_id)


class Runs:
    """The records of an output directory, grouped by setting (all seeds of one run together)."""

    def __init__(self, records: dict[str, dict]):
        self.records = records
        self.groups: dict[str, list[dict]] = {}
        for rid in sorted(records, key=lambda r: records[r]["config"].get("seed") or 0):
            self.groups.setdefault(setting_key(rid), []).append(records[rid])

    def of(self, spec: RunSpec) -> list[dict]:
        """Every seed's record of ``spec``'s setting."""
        return self.groups.get(setting_key(spec.run_id), [])

    def values(self, spec: RunSpec, key: str) -> list[float]:
        return [r[key] for r in self.of(spec) if r.get(key) is not None]


# ---------------------------------------------------------------------------------------------
# Numbers and their spread


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


def difference_interval(a: list[float], b: list[float], level: float = 0.95) -> tuple[float, float, float] | None:
    """Mean of ``a`` less mean of ``b`` and its ``level`` t interval; None without enough runs.

    Welch's interval (unequal variances) when both sides have two or more runs; when ``b``
    is one fixed number (a deterministic run), the one-sample t interval of ``a`` shifted by it.

    Examples
    --------
    >>> d, lo, hi = difference_interval([0.50, 0.52, 0.54], [0.40, 0.41, 0.42])
    >>> round(d, 4), lo < d < hi
    (0.11, True)
    """
    from scipy import stats

    if len(a) < 2 or not b or (len(b) < 2 and len(set(b)) != 1):
        return None
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread at all: the difference is exact
        d = float(np.mean(a) - np.mean(b))
        return d, d, d
    if len(b) == 1 or np.ptp(b) == 0:
        ci = stats.ttest_1samp(a, b[0]).confidence_interval(level)
        return float(np.mean(a) - b[0]), float(ci.low - b[0]), float(ci.high - b[0])
    with warnings.catch_warnings():  # one side may have no spread (e.g. every run at chance): not an error here
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
    return float(np.mean(a) - np.mean(b)), float(ci.low), float(ci.high)


def verdict(seed_diff: float, ours: tuple[float, float, float] | None) -> str:
    """*holds*, *within noise* or *reversed*: our difference's 95% interval against the seed's sign.

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
    return "holds" if (lo > 0) == (seed_diff > 0) else "reversed"


def md_table(header: list[str], rows: list[list]) -> str:
    """A GitHub-markdown table; columns after the first are right-aligned.

    Examples
    --------
    >>> print(md_table(["a", "b"], [["x", "1"]]))
    | a   |   b |
    |:----|----:|
    | x   |   1 |
    """
    align = ("left",) + ("right",) * (len(header) - 1)
    return tabulate(rows, headers=header, tablefmt="pipe", colalign=align, disable_numparse=True)


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """Write a CSV table (atomically)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    write_atomic(path, buf.getvalue())


def display_path(text: str) -> str:
    """Absolute paths in ``text`` shown relative to the working directory (at most one ``..``), else under ``~``.

    Examples
    --------
    >>> display_path(f"zip {Path.cwd() / 'data.zip'} (cached)")
    'zip data.zip (cached)'
    """
    home = str(Path.home())

    def short(m: re.Match) -> str:
        path = m.group(0)
        rel = os.path.relpath(path)
        if not rel.startswith(os.path.join(os.pardir, os.pardir)) and rel != ".":
            return rel
        if home not in ("", os.sep) and path.startswith(home + os.sep):
            return "~" + path[len(home) :]
        return path

    return re.sub(r"(?<![\w.~])/[^\s,()`'\"]+", short, text)


def labels_from_confusion(cm) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_pred) pairs that have confusion matrix ``cm`` (rows true, columns predicted).

    Per-class precision, recall and f1 depend only on the confusion matrix, so a
    classification report of these pairs equals the report of the original predictions.

    Examples
    --------
    >>> t, p = labels_from_confusion([[1, 1], [0, 2]])
    >>> t.tolist(), p.tolist()
    ([0, 0, 1, 1], [0, 1, 1, 1])
    """
    cm = np.asarray(cm, dtype=np.int64)
    k = cm.shape[0]
    true = np.repeat(np.repeat(np.arange(k), k), cm.ravel())
    pred = np.repeat(np.tile(np.arange(k), k), cm.ravel())
    return true, pred


def class_report(cm) -> dict:
    """scikit-learn's classification report (as a dict) recomputed from a confusion matrix."""
    from sklearn.metrics import classification_report

    true, pred = labels_from_confusion(cm)
    return classification_report(true, pred, labels=list(range(10)), output_dict=True, zero_division=0)


def class_report_text(cm, title: str) -> str:
    """A text classification report and confusion matrix, as the seed printed them."""
    from sklearn.metrics import classification_report

    true, pred = labels_from_confusion(cm)
    names = [f"{i} {c}" for i, c in enumerate(CLASSES)]
    rep = classification_report(true, pred, labels=list(range(10)), target_names=names, digits=4, zero_division=0)
    cm_text = "\n".join(" ".join(f"{v:5d}" for v in row) for row in np.asarray(cm))
    return f"{title}\n\n{rep}\nconfusion matrix (rows: true class 0-9, columns: predicted 0-9)\n{cm_text}\n"


# ---------------------------------------------------------------------------------------------
# Plots (matplotlib, Agg backend, never shown on screen)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_histories(groups: list[list[dict]], titles: list[str], path: Path, suptitle: str) -> None:
    """Accuracy (left) and loss (right) per epoch, train vs validation, one row per setting.

    Lines are the mean over the setting's seeds, bands their minimum to maximum.
    """
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    rows = len(groups)
    fig, axs = plt.subplots(rows, 2, figsize=(10, 2.6 * rows + 0.6), squeeze=False, constrained_layout=True)
    for r, (recs, title) in enumerate(zip(groups, titles, strict=True)):
        for c, metric in enumerate(("accuracy", "loss")):
            ax = axs[r, c]
            values = []
            for key, label, marker in ((metric, "train", "o-"), (f"val_{metric}", "validation", "s-")):
                curves = [rec["history"][key] for rec in recs if key in rec.get("history", {})]
                if not curves:
                    continue
                length = min(len(cv) for cv in curves)
                arr = np.array([cv[:length] for cv in curves])
                epochs = np.arange(1, length + 1)
                line = ax.plot(epochs, arr.mean(axis=0), marker, ms=3, label=f"{label} (mean of {len(arr)})")
                if len(arr) > 1:
                    ax.fill_between(epochs, arr.min(axis=0), arr.max(axis=0), color=line[0].get_color(), alpha=0.2)
                values += [v for v in arr.ravel() if v > 0]
            name = metric
            if metric == "loss" and values and max(values) / min(values) > 5:
                ax.set_yscale("log")  # a large L1 penalty makes the first epochs' loss dwarf the rest
                name = "loss (log scale)"
            ax.set_title(f"{name}, {title}", fontsize=10)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(suptitle + " (band: min to max over seeds)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


Series = list[tuple[float, list[float], list[float]]]  # (x, train accuracies, test accuracies) over seeds


def _plot_series(ax, series: dict[str, Series]) -> None:
    for i, (name, points) in enumerate(series.items()):
        points = [p for p in sorted(points) if p[2]]
        if not points:
            continue
        x = [p[0] for p in points]
        colour, marker = f"C{i}", ("x" if name.startswith("seed") else "o")
        for k, style, alpha, split in ((2, "-", 1.0, "test"), (1, "--", 0.6, "train")):
            mean = [np.mean(p[k]) for p in points]
            err = [np.std(p[k], ddof=1) if len(p[k]) > 1 else 0.0 for p in points]
            ax.errorbar(
                x,
                mean,
                yerr=err,
                fmt=style,
                marker=marker,
                color=colour,
                alpha=alpha,
                capsize=3,
                label=f"{name}: {split}",
            )


def plot_vs_size(series: dict[str, Series], path: Path, title: str) -> None:
    """Train (dashed) and test (solid) accuracy against training size; error bars are ± 1 sd over seeds."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 4.8), constrained_layout=True)
    _plot_series(ax, series)
    ax.set_xscale("log", base=2)
    sizes = sorted({p[0] for pts in series.values() for p in pts})
    ax.set_xticks(sizes, [f"{s // 1000}k" if s >= 1000 else str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training samples")
    ax.set_ylabel("accuracy (mean ± 1 sd over seeds)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never over the data
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_vs_l1(series: dict[str, Series], path: Path, title: str) -> None:
    """Train and test accuracy against the L1 weight (log axis); error bars are ± 1 sd over seeds."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
    _plot_series(ax, series)
    ax.axhline(0.1, color="grey", lw=0.8, ls=":", label="10% (chance)")
    ax.set_xscale("log")
    ax.set_xlabel("L1 weight on the dense kernel (log scale)")
    ax.set_ylabel("accuracy (mean ± 1 sd over seeds)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Sections, in the seed's order


def multiply_adds(layers: list[dict]) -> int:
    """Multiply-adds per image of the conv and dense layers in a record's layer table.

    A conv layer with ``p`` parameters and ``cout`` output channels has ``p - cout``
    weights, each used once per output pixel; a dense layer uses each weight once.

    Examples
    --------
    >>> multiply_adds([{"type": "Conv2D", "params": 448, "output_shape": [None, 32, 32, 16]}])
    442368
    """
    total = 0
    for layer in layers:
        shape = layer["output_shape"]
        if layer["type"] == "Conv2D":
            total += (layer["params"] - shape[-1]) * shape[1] * shape[2]
        elif layer["type"] == "Dense":
            total += layer["params"] - shape[-1]
    return total


def _params_by_model(runs: Runs) -> dict:
    by_model = {}
    for rec in runs.records.values():
        m = rec["config"]["model"]
        if m in ("stride", "maxpool", "deeper") and m not in by_model and rec.get("params", {}).get("layers"):
            by_model[m] = rec["params"]
    return by_model


def _settings_note(cfg: Config) -> str:
    """'' when the runs used the seed's epochs and batch size, else a caption saying how they differ."""
    diff = []
    if cfg.epochs != SEED.EPOCHS:
        diff.append(f"{plural(cfg.epochs, 'epoch')} per run (the seed: {SEED.EPOCHS})")
    if cfg.batch_size != SEED.BATCH_SIZE:
        diff.append(f"batch {cfg.batch_size} (the seed: {SEED.BATCH_SIZE})")
    return f" [{', '.join(diff)}]" if diff else ""


def section_models(runs: Runs) -> str:
    """Parameter counts, layer by layer, from the records."""
    parts = ["## Models and parameter counts\n"]
    for name, p in sorted(_params_by_model(runs).items(), key=lambda kv: ("stride", "maxpool", "deeper").index(kv[0])):
        rows = [
            [lay["name"], lay["type"], "x".join(str(d) for d in lay["output_shape"][1:]), f"{lay['params']:,}"]
            for lay in p["layers"]
        ]
        rows.append(["**total**", "", "", f"**{p['total']:,}**"])
        table = md_table(["layer", "type", "output", "parameters"], rows)
        parts.append(f"**{name}** ({multiply_adds(p['layers']) / 1e6:.2f} M multiply-adds per image)\n\n{table}\n")
    parts.append(
        f"Seed: {SEED.PARAMS['stride']:,} parameters for Part 2a and 2c (agrees). Its Part 2b(i) says the largest "
        f"layer is the fourth convolution with {SEED.PARAMS['largest'][1]:,} weights; the dense layer is larger, "
        "(2048 + 1) x 10 = **20,490**. Its formula multiplies by the number of *output* channels twice; a 3x3 "
        "convolution has (3 x 3 x *input* channels + 1) x output channels weights. Part 2d's text says "
        f"{SEED.PARAMS['deeper_text']:,} parameters; its own model summary (and ours) gives "
        f"**{SEED.PARAMS['deeper_summary']:,}**. The Part 2c text prints the Part 2d code by mistake; the "
        "appendix's `model2` (conv 16, 16, max-pool, conv 32, 32, max-pool) is the network trained for Table 7, "
        "and is our `maxpool`.\n"
    )
    return "\n".join(parts)


def _mean_confusion_report(recs: list[dict], split: str) -> list[dict]:
    return [class_report(r[f"confusion_{split}"]) for r in recs]


def section_baseline(runs: Runs, cfg: Config, out: Path) -> str:
    """Part 2b(i): Tables 1-4, per-class figures over the seeds, and the text reports of the first seed."""
    parts = [f"## Part 2b(i): performance and the most-frequent baseline (Tables 1-4){_settings_note(cfg)}\n"]
    recs = runs.of(RunSpec("stride", cfg.base_size, cfg.l1))
    if not recs:
        return parts[0] + "\nNot run yet.\n"
    for split, seed, label in (
        ("train", SEED.TABLE1, "Table 1 (training data)"),
        ("test", SEED.TABLE2, "Table 2 (test data)"),
    ):
        first = recs[0]
        text = class_report_text(first[f"confusion_{split}"], f"{first['label']}, {split} set")
        write_atomic(out / f"classification_{first['run']}_{split}.txt", text)
        reps = _mean_confusion_report(recs, split)
        rows, csv_rows = [], []
        for c in range(10):
            got = {m: [rep[str(c)][m] for rep in reps] for m in ("precision", "recall", "f1-score")}
            s = seed[c]
            support = int(reps[0][str(c)]["support"])
            rows.append(
                [
                    f"{c} {CLASSES[c]}",
                    *(spread(got[m], 1, "", 2) for m in got),
                    f"{support}",
                    f"{s[0]:.2f}",
                    f"{s[1]:.2f}",
                    f"{s[2]:.2f}",
                    str(s[3]),
                ]
            )
            csv_rows.append([c, CLASSES[c], *(mean_or_none(got[m]) for m in got), support, *s])
        acc = [rep["accuracy"] for rep in reps]
        f1 = [rep["macro avg"]["f1-score"] for rep in reps]
        rows.append(["accuracy", "", "", spread(acc, 1, "", 2), "", "", "", f"{seed['accuracy']:.2f}", str(seed["n"])])
        rows.append(["macro avg f1", "", "", spread(f1, 1, "", 2), "", "", "", f"{seed['macro f1']:.2f}", ""])
        header = [
            "class",
            "precision",
            "recall",
            "f1",
            "support",
            "seed precision",
            "seed recall",
            "seed f1",
            "seed support",
        ]
        write_csv(
            out / f"table_baseline_{split}.csv",
            [
                "class",
                "name",
                "precision_mean",
                "recall_mean",
                "f1_mean",
                "support",
                "seed_precision",
                "seed_recall",
                "seed_f1",
                "seed_support",
            ],
            csv_rows,
        )
        parts.append(
            f"**{label}**: stride network, {first['config']['n_train']:,} training samples; mean ± sd (n seeds)\n"
        )
        parts.append(md_table(header, rows) + "\n")
    first = recs[0]
    parts.append(
        f"Training accuracy is measured as the seed did: predictions on all {first['config']['n_train']:,} samples "
        f"of the training subset, including the last {first['n_val']:,} that Keras held out for validation "
        f"(validation_split {first['config']['validation_split']}); the network was fitted on the first "
        f"{first['n_fit']:,}. Test accuracy is on {first['n_test']:,} test images. The seed's support column sums "
        "to 4,999, not 5,000: `x_train_orig[1:n]` drops sample 0; we take the first n.\n"
    )
    maj_recs = runs.of(RunSpec("majority", cfg.base_size))
    if maj_recs:
        maj = maj_recs[0]
        for split in ("train", "test"):
            text = class_report_text(maj[f"confusion_{split}"], f"{maj['label']}, {split} set")
            write_atomic(out / f"classification_{maj['run']}_{split}.txt", text)
        k, sk = maj["majority_class"], SEED.BASELINE["class"]
        f1 = [class_report(maj[f"confusion_{s}"])[str(k)]["f1-score"] for s in ("train", "test")]
        rows = [
            ["predicted class", f"{k} {CLASSES[k]}", f"{sk} {CLASSES[sk]}"],
            [
                "train accuracy (= share of that class)",
                pct(maj["train_accuracy"]),
                pct(SEED.BASELINE["train_accuracy"], 0),
            ],
            ["test accuracy", pct(maj["test_accuracy"]), pct(SEED.BASELINE["test_accuracy"], 0)],
            [
                "f1 of the predicted class, train / test",
                f"{f1[0]:.2f} / {f1[1]:.2f}",
                f"{SEED.BASELINE['train_f1_8']:.2f} / {SEED.BASELINE['test_f1_8']:.2f}",
            ],
        ]
        write_csv(out / "table_majority.csv", ["quantity", "ours", "seed"], rows)
        parts.append(
            "**Tables 3-4**: most-frequent-class baseline (scikit-learn `DummyClassifier`; it learns "
            "no weights, so one run stands for every seed)\n"
        )
        parts.append(md_table(["", "ours", "seed"], rows) + "\n")
        parts.append(
            "Every other class has precision, recall and f1 of 0. Full per-class reports and confusion matrices "
            f"(first seed): `classification_{first['run']}_{{train,test}}.txt`, "
            f"`classification_{maj['run']}_{{train,test}}.txt`.\n"
        )
    return "\n".join(parts)


def section_history(runs: Runs, cfg: Config, out: Path) -> str:
    """Part 2b(ii): Figure 4, the mean curves over seeds."""
    head = f"## Part 2b(ii): training history (Figure 4){_settings_note(cfg)}\n"
    recs = runs.of(RunSpec("stride", cfg.base_size, cfg.l1))
    if not recs:
        return head + "\nNot run yet.\n"
    name = "history_base.png"
    title = f"Figure 4: stride network, {cfg.base_size:,} samples{_settings_note(cfg)}"
    plot_histories([recs], [f"{plural(len(recs), 'seed')}"], out / name, title)
    keys = ("accuracy", "val_accuracy", "loss", "val_loss")
    length = min(len(r["history"]["loss"]) for r in recs)
    rows = []
    for e in range(length):
        rows.append([e + 1, *(float(np.mean([r["history"][k][e] for r in recs])) for k in keys)])
    write_csv(out / "table_history.csv", ["epoch", *keys], rows)
    final = {k: [r["history"][k][-1] for r in recs] for k in keys}
    gaps = [
        next(
            (
                i + 1
                for i, (a, v) in enumerate(zip(r["history"]["loss"], r["history"]["val_loss"], strict=True))
                if a < v
            ),
            None,
        )
        for r in recs
    ]
    gap_text = ", ".join("never" if g is None else str(g) for g in gaps)
    return (
        f"{head}\n![Figure 4]({name})\n\n"
        f"Final epoch over {plural(len(recs), 'seed')}: train accuracy {spread(final['accuracy'])}, validation "
        f"{spread(final['val_accuracy'])}; train loss {spread(final['loss'], 1, '', 3)}, validation "
        f"{spread(final['val_loss'], 1, '', 3)}. Epoch at which training loss first falls below validation loss, "
        f"per seed: {gap_text}. The seed reports training accuracy above validation from epoch 7-8 on. Train "
        "accuracy in the curve is Keras' running average over an epoch with dropout active, so it sits below the "
        "dropout-free figure of Table 1. Mean per-epoch numbers: `table_history.csv`.\n"
    )


_SIZE_HEADER = ["training size", "time", "train accuracy", "test accuracy", "seed time", "seed train", "seed test"]
_SIZE_CSV = [
    "n",
    "time_s_mean",
    "train_accuracy_mean",
    "train_accuracy_sd",
    "test_accuracy_mean",
    "test_accuracy_sd",
    "runs",
    "seed_time_s",
    "seed_train_accuracy",
    "seed_test_accuracy",
]


def _size_table(runs: Runs, specs: list[RunSpec], seed_table: dict, path: Path) -> tuple[str, Series]:
    rows, csv_rows, points = [], [], []
    for spec in specs:
        tr, te, t = (runs.values(spec, k) for k in ("train_accuracy", "test_accuracy", "train_time_s"))
        s = seed_table.get(spec.n, (None, None, None))
        rows.append([f"{spec.n:,}", spread(t, 1, " s", 1), spread(tr), spread(te), secs(s[0]), pct(s[1]), pct(s[2])])
        csv_rows.append(
            [spec.n, mean_or_none(t), mean_or_none(tr), sd_or_none(tr), mean_or_none(te), sd_or_none(te), len(te), *s]
        )
        points.append((spec.n, tr, te))
    write_csv(path, _SIZE_CSV, csv_rows)
    return md_table(_SIZE_HEADER, rows) + "\n", points


def section_train_size(runs: Runs, cfg: Config, out: Path) -> str:
    """Part 2b(iii): Table 5 with fresh models, and the seed's cumulative replay."""
    note = _settings_note(cfg)
    parts = [f"## Part 2b(iii): training-set size (Table 5, Figure 5){note}\n"]
    fresh = [RunSpec("stride", n, cfg.l1) for n in cfg.train_sizes]
    table, pts = _size_table(runs, fresh, SEED.TABLE5, out / "table_train_size.csv")
    parts.append("**Table 5, a fresh model per size** (what the seed meant to measure); mean ± sd (n seeds)\n")
    parts.append(table)
    series = {"fresh model per size": pts}
    chain = cumulative_rows(cfg)
    if any(runs.of(s) for s in warm_chain(cfg)):
        table, wpts = _size_table(runs, chain, SEED.TABLE5, out / "table_train_size_warm.csv")
        parts.append(
            "**Table 5 as the seed computed it: one model trained on each size in turn** (`--warm-start`). "
            "The seed's `model_train_sizes` keeps fitting one global `model`: each row starts from the weights "
            "and Adam state the previous row left, so the last row has had "
            f"{plural(len(chain) * cfg.epochs, 'epoch')} over growing subsets. The first row is a fresh model "
            "(shared with the table above): the seed's 5k figures are a fresh model's (its Tables 1 and 6 give "
            "64% / 51% and 60.65% / 48.36% for the same setting). Time is per row.\n"
        )
        parts.append(table)
        series["cumulative (seed's code)"] = wpts
    series["seed Table 5"] = [(n, [v[1]], [v[2]]) for n, v in SEED.TABLE5.items()]
    plot_vs_size(series, out / "train_size_accuracy.png", f"Part 2b(iii): stride network by training size{note}")
    groups = [(s, runs.of(s)) for s in fresh if runs.of(s)]
    if groups:
        plot_histories(
            [g for _, g in groups],
            [f"n = {s.n:,}" for s, _ in groups],
            out / "history_train_size.png",
            f"Figure 5: stride network, a fresh model per training size{note}",
        )
    parts.append("![accuracy against training size](train_size_accuracy.png)\n\n![Figure 5](history_train_size.png)\n")
    parts.append(
        f"Time is the wall time of `model.fit` ({plural(cfg.epochs, 'epoch')} including the validation passes and "
        "the first epoch's graph tracing) on this machine; the seed's times come from its own machine, so only the "
        "ratios between rows compare. The seed's columns are its Table 5 as printed, i.e. from the cumulative "
        "training.\n"
    )
    return "\n".join(parts)


def section_l1(runs: Runs, cfg: Config, out: Path) -> str:
    """Part 2b(iv): Table 6 and Figure 6."""
    note = _settings_note(cfg)
    parts = [f"## Part 2b(iv): L1 weight (Table 6, Figure 6){note}\n"]
    rows, csv_rows, pts, groups = [], [], [], []
    for spec in part_b_l1(cfg):
        tr, te = runs.values(spec, "train_accuracy"), runs.values(spec, "test_accuracy")
        s = SEED.TABLE6.get(spec.l1, (None, None))
        rows.append([f"{spec.l1:g}", spread(tr), spread(te), pct(s[0]), pct(s[1])])
        csv_rows.append([spec.l1, mean_or_none(tr), sd_or_none(tr), mean_or_none(te), sd_or_none(te), len(te), *s])
        pts.append((spec.l1, tr, te))
        if runs.of(spec):
            groups.append((spec, runs.of(spec)))
    write_csv(
        out / "table_l1.csv",
        [
            "l1",
            "train_accuracy_mean",
            "train_accuracy_sd",
            "test_accuracy_mean",
            "test_accuracy_sd",
            "runs",
            "seed_train_accuracy",
            "seed_test_accuracy",
        ],
        csv_rows,
    )
    parts.append("Mean ± sd (n seeds).\n")
    parts.append(md_table(["L1 weight", "train accuracy", "test accuracy", "seed train", "seed test"], rows) + "\n")
    series = {"ours": pts, "seed Table 6": [(w, [v[0]], [v[1]]) for w, v in SEED.TABLE6.items()]}
    plot_vs_l1(series, out / "l1_accuracy.png", f"Part 2b(iv): accuracy against L1 weight (stride model){note}")
    if groups:
        plot_histories(
            [g for _, g in groups],
            [f"L1 = {s.l1:g}" for s, _ in groups],
            out / "history_l1.png",
            f"Figure 6: stride network per L1 weight{note}",
        )
    parts.append("![accuracy against L1 weight](l1_accuracy.png)\n\n![Figure 6](history_l1.png)\n")
    parts.append(
        "The seed trained a fresh model per weight here, so its Table 6 is comparable as it stands. Its 1e-4 row is "
        "the same setting as Table 1 and Table 8, trained again (60.65% / 48.36% there against 62.27% / 49.09% in "
        "Table 8): one setting retrained. Ours are the same runs in all three tables.\n"
    )
    return "\n".join(parts)


def section_maxpool(runs: Runs, cfg: Config, out: Path) -> str:
    """Part 2c: Tables 7 and 8."""
    parts = [f"## Part 2c: max pooling against strides (Tables 7-8){_settings_note(cfg)}\n"]
    rows, csv_rows = [], []
    for spec, seed, name in (
        (RunSpec("maxpool", cfg.base_size, cfg.l1), SEED.TABLE7, "max pooling (Table 7)"),
        (RunSpec("stride", cfg.base_size, cfg.l1), SEED.TABLE8, "strides (Table 8)"),
    ):
        tr, te, t = (runs.values(spec, k) for k in ("train_accuracy", "test_accuracy", "train_time_s"))
        rows.append(
            [
                name,
                f"{spec.n:,}",
                spread(t, 1, " s", 1),
                spread(tr),
                spread(te),
                secs(seed[0]),
                pct(seed[1]),
                pct(seed[2]),
            ]
        )
        csv_rows.append(
            [
                spec.model,
                spec.n,
                mean_or_none(t),
                mean_or_none(tr),
                sd_or_none(tr),
                mean_or_none(te),
                sd_or_none(te),
                len(te),
                *seed,
            ]
        )
    write_csv(
        out / "table_maxpool.csv",
        [
            "model",
            "n",
            "time_s_mean",
            "train_accuracy_mean",
            "train_accuracy_sd",
            "test_accuracy_mean",
            "test_accuracy_sd",
            "runs",
            "seed_time_s",
            "seed_train_accuracy",
            "seed_test_accuracy",
        ],
        csv_rows,
    )
    header = [
        "network",
        "training size",
        "time",
        "train accuracy",
        "test accuracy",
        "seed time",
        "seed train",
        "seed test",
    ]
    parts.append("Mean ± sd (n seeds).\n")
    parts.append(md_table(header, rows) + "\n")
    macs = {m: multiply_adds(p["layers"]) for m, p in _params_by_model(runs).items()}
    if "stride" in macs and "maxpool" in macs:
        parts.append(
            "Both networks have 37,146 parameters, but the max-pooling one runs its second and fourth convolutions "
            "at full resolution (32x32 and 16x16 instead of 16x16 and 8x8): "
            f"{macs['maxpool'] / 1e6:.2f} M multiply-adds per image against {macs['stride'] / 1e6:.2f} M "
            f"({macs['maxpool'] / macs['stride']:.1f}x). The seed's equal times (75 s each) do not show that.\n"
        )
    return "\n".join(parts)


def section_deeper(runs: Runs, cfg: Config, out: Path) -> str:
    """Part 2d: Table 9 and Figure 7, scored on the deeper network's own predictions."""
    note = _settings_note(cfg)
    parts = [f"## Part 2d: thinner, deeper network (Table 9, Figure 7){note}\n"]
    specs = [RunSpec("deeper", n, cfg.l1) for n in cfg.train_sizes]
    table, pts = _size_table(runs, specs, SEED.TABLE9, out / "table_deeper.csv")
    parts.append("Mean ± sd (n seeds).\n")
    parts.append(table)
    groups = [(s, runs.of(s)) for s in specs if runs.of(s)]
    if groups:
        plot_histories(
            [g for _, g in groups],
            [f"deeper, n = {s.n:,}" for s, _ in groups],
            out / "history_deeper.png",
            f"Figure 7: deeper network per training size{note}",
        )
    chain = cumulative_rows(cfg)
    replay = [RunSpec("rescore", n, cfg.l1, warm_from=chain[-1].run_id) for n in cfg.train_sizes]
    series = {
        "deeper": pts,
        "stride (fresh)": [
            (s.n, runs.values(s, "train_accuracy"), runs.values(s, "test_accuracy"))
            for s in (RunSpec("stride", n, cfg.l1) for n in cfg.train_sizes)
        ],
    }
    if any(runs.of(s) for s in replay):
        table, rpts = _size_table(runs, replay, SEED.TABLE9, out / "table_deeper_seed_replay.csv")
        parts.append(
            "**What the seed's Table 9 code computes** (`--warm-start`): the stride network left by the cumulative "
            f"Table 5 training (`{setting_key(chain[-1].run_id)}`) scored on the first n training samples and the "
            "test set. Its test accuracy cannot change between rows, and its train accuracy is on samples it was "
            "trained on. Time is 0: nothing is trained.\n"
        )
        parts.append(table)
        series["replay of the seed's code (cumulative stride)"] = rpts
    series["seed Table 9 (scores the wrong model)"] = [(n, [v[1]], [v[2]]) for n, v in SEED.TABLE9.items()]
    plot_vs_size(series, out / "deeper_accuracy.png", f"Part 2d: deeper vs stride network by training size{note}")
    parts.append("![deeper vs stride](deeper_accuracy.png)\n\n![Figure 7](history_deeper.png)\n")
    parts.append(
        "The seed's `model_train_sizesII` fits `model3` (the deeper network) but computes both accuracies with "
        "`model.predict`: the stride network, which in the appendix's order is the one left by Table 5's "
        "cumulative training. So its Table 9 accuracies are not the deeper network's (its test accuracy hardly "
        "moves, 70.4-70.8%, across sizes), while its times are model3's; `model3` itself was also trained "
        "cumulatively, one object across the sizes. The appendix alone does not reproduce the exact values "
        "(70.4% exceeds Table 5's final 68.16%), so `model` had had more training in that session than the "
        "code shows. Our first table trains a fresh deeper network per size and scores its own predictions.\n"
    )
    return "\n".join(parts)


def comparisons(runs: Runs, cfg: Config) -> list[dict]:
    """The seed's comparisons, each with its figures, ours over the seeds and a verdict (test accuracy)."""
    out = []

    def add(claim, table, a: RunSpec, b: RunSpec, seed_a: float, seed_b: float):
        va, vb = runs.values(a, "test_accuracy"), runs.values(b, "test_accuracy")
        ours = difference_interval(va, vb)
        out.append(
            {
                "claim": claim,
                "table": table,
                "seed_diff": seed_a - seed_b,
                "ours": ours,
                "runs": (len(va), len(vb)),
                "verdict": verdict(seed_a - seed_b, ours),
            }
        )

    base = RunSpec("stride", cfg.base_size, cfg.l1)
    add(
        "stride network vs most-frequent baseline",
        "Tables 2, 4",
        base,
        RunSpec("majority", cfg.base_size),
        SEED.TABLE2["accuracy"],
        SEED.BASELINE["test_accuracy"],
    )
    n0 = cfg.train_sizes[0]
    for n in cfg.train_sizes[1:]:
        if n in SEED.TABLE5 and n0 in SEED.TABLE5:
            add(
                f"{n:,} vs {n0:,} training samples (fresh stride)",
                "Table 5",
                RunSpec("stride", n, cfg.l1),
                RunSpec("stride", n0, cfg.l1),
                SEED.TABLE5[n][2],
                SEED.TABLE5[n0][2],
            )
    ref = min(cfg.l1_weights)
    for w in cfg.l1_weights:
        if w != ref and w in SEED.TABLE6 and ref in SEED.TABLE6:
            add(
                f"L1 {w:g} vs {ref:g}",
                "Table 6",
                RunSpec("stride", cfg.base_size, w),
                RunSpec("stride", cfg.base_size, ref),
                SEED.TABLE6[w][1],
                SEED.TABLE6[ref][1],
            )
    add(
        "max pooling vs strides",
        "Tables 7-8",
        RunSpec("maxpool", cfg.base_size, cfg.l1),
        base,
        SEED.TABLE7[2],
        SEED.TABLE8[2],
    )
    for n in cfg.train_sizes:
        if n in SEED.TABLE9 and n in SEED.TABLE5:
            add(
                f"deeper vs stride, {n:,} samples",
                "Tables 9, 5",
                RunSpec("deeper", n, cfg.l1),
                RunSpec("stride", n, cfg.l1),
                SEED.TABLE9[n][2],
                SEED.TABLE5[n][2],
            )
    return out


def section_verdicts(runs: Runs, cfg: Config, out: Path) -> str:
    """Does each of the seed's comparisons hold over the repeated runs?"""
    rows, csv_rows = [], []
    for c in comparisons(runs, cfg):
        if 0 in c["runs"]:
            continue  # a side not run (yet)
        d = c["ours"]
        ours = "-" if d is None else f"{100 * d[0]:+.2f} [{100 * d[1]:+.2f}, {100 * d[2]:+.2f}]"
        rows.append(
            [
                c["claim"],
                c["table"],
                f"{100 * c['seed_diff']:+.2f}",
                ours,
                f"{c['runs'][0]} / {c['runs'][1]}",
                f"**{c['verdict']}**",
            ]
        )
        csv_rows.append([c["claim"], c["table"], c["seed_diff"], *(d or (None, None, None)), *c["runs"], c["verdict"]])
    if not rows:
        return ""
    write_csv(
        out / "table_verdicts.csv",
        [
            "comparison",
            "seed_table",
            "seed_difference",
            "difference",
            "ci95_low",
            "ci95_high",
            "runs_a",
            "runs_b",
            "verdict",
        ],
        csv_rows,
    )
    header = [
        "comparison (test accuracy, A vs B)",
        "seed tables",
        "seed A - B (points)",
        "ours: mean A - B [95% interval] (points)",
        "runs A / B",
        "verdict",
    ]
    return (
        "## Verdicts: which of the seed's comparisons hold\n\n"
        "Each row compares the test accuracy of two settings. The seed's difference is between its single runs. "
        "Ours is the difference of the means over training seeds, with Welch's 95% t interval (a one-sample t "
        "interval against the deterministic most-frequent baseline). *holds*: the interval excludes 0 on the seed's "
        "side; *reversed*: it excludes 0 on the other side; *within noise*: it contains 0; *too few runs*: fewer "
        "than two runs on a side. The seed's Table 9 accuracies are of another model (see Part 2d), so its "
        "deeper-vs-stride sign is what it reported, not what it measured."
        f"{_settings_note(cfg)}\n\n" + md_table(header, rows) + "\n"
    )


def section_missing(runs: Runs, names: list[str], cfg: Config) -> str:
    """The planned runs that have no record yet (the run continues with the same command and --out)."""
    missing = [s for s in plan(names, cfg) if s.run_id not in runs.records]
    if not missing:
        return ""
    by_model: dict[str, int] = {}
    for s in missing:
        by_model[f"{s.model} n={s.n:,}"] = by_model.get(f"{s.model} n={s.n:,}", 0) + 1
    listing = "; ".join(f"{k}: {plural(v, 'run')}" for k, v in by_model.items())
    return (
        f"## Still missing\n\n**{plural(len(missing), 'planned run')} of {len(plan(names, cfg))} have no record yet**; "
        "the tables below show what has finished (their n column says how many seeds). Missing: "
        f"{listing}. Rerunning the same `python -m training.run` command with the same `--out` trains only these.\n"
    )


def section_speed(runs: Runs) -> str:
    """Throughput of every Keras run (epochs 2.., tracing excluded)."""
    rows = []
    for rec in sorted(runs.records.values(), key=lambda r: r.get("finished_at", "")):
        if rec.get("samples_per_s"):
            rows.append([rec["run"], f"{rec['n_fit']:,}", f"{rec['samples_per_s']:,.0f}", secs(rec["train_time_s"])])
    if not rows:
        return ""
    return (
        "## Throughput per run\n\nTraining samples per second of wall time, epochs 2 onward (epoch 1 includes graph "
        "tracing and is left out; an epoch's time includes its validation pass), in the order the runs finished. "
        "On a machine shared with other work these figures follow its load as much as the network.\n\n"
        + md_table(["run", "samples fitted", "samples/s", "fit time"], rows)
        + "\n"
    )


def wall_time_line(invocations: list[dict], records: dict) -> str:
    """A 'Wall time' bullet from ``invocation.json``'s entries.

    An invocation stopped without recording its time (killed) is counted from its
    start to the last run record that finished before the next invocation started.
    """
    from datetime import datetime

    def when(text):
        return datetime.fromisoformat(text) if text else None

    finished = sorted(t for r in records.values() if (t := when(r.get("finished_at"))))
    total, parts, estimated = 0.0, [], 0
    for i, inv in enumerate(invocations):
        wall = inv.get("wall_s")
        if wall is None:
            start = when(inv.get("started"))
            stop = when(invocations[i + 1].get("started")) if i + 1 < len(invocations) else None
            inside = [t for t in finished if start and t >= start and (stop is None or t < stop)]
            if not inside:
                continue
            wall = (inside[-1] - start).total_seconds()
            estimated += 1
        total += wall
        parts.append("`" + " ".join(["python -m training.run", *map(display_path, inv.get("argv", []))]) + "`")
    if not parts:
        return ""
    note = (
        f"; {estimated} of them recorded no end (still running, or killed) and {'is' if estimated == 1 else 'are'} "
        "counted up to its last finished run"
        if estimated
        else ""
    )
    compute = sum(r.get("train_time_s") or 0.0 for r in records.values())
    return (
        f"- Wall time: {total / 60:.1f} min over {plural(len(parts), 'invocation')} ({', '.join(parts)}){note}; "
        f"training time summed over the runs: {compute / 3600:.2f} h\n"
    )


SECTIONS = {
    "baseline": section_baseline,
    "history": section_history,
    "train-size": section_train_size,
    "l1": section_l1,
    "maxpool": section_maxpool,
    "deeper": section_deeper,
}


def _header(runs: Runs, cfg: Config, info: dict) -> str:
    any_rec = next(iter(runs.records.values()))
    c, v = any_rec["config"], any_rec["versions"]
    seeds = sorted({r["config"].get("seed") for r in runs.records.values() if r["config"]["model"] != "majority"})
    lines = [
        "# CIFAR-10 experiments of the seed's Part 2\n",
        f"- Data: {display_path(any_rec['data']['source'])}\n",
        f"- Device: {any_rec['device']}; TensorFlow {v['tensorflow']}, Keras {v['keras']}, NumPy {v['numpy']}, "
        f"Python {v['python']}\n",
        f"- Settings: {plural(c['epochs'], 'epoch')}, batch {c['batch_size']}, validation split "
        f"{c['validation_split']} (the last share of each training subset), input pipeline `{c['pipeline']}`"
        + (", op determinism on" if c.get("deterministic") else "")
        + (f", test set cut to {c['test_size']:,}" if c.get("test_size") else "")
        + "\n",
        f"- Training seeds with records: {', '.join(map(str, seeds))}; planned: {', '.join(map(str, cfg.seeds))} "
        f"for the 5,000-sample experiments, {', '.join(map(str, cfg.size_seeds or cfg.seeds))} for train-size and "
        "deeper. A seed sets the initial weights, the batch order and dropout; the data subset is the same for "
        "every seed" + (f" (random subset, seed {cfg.subset_seed})" if cfg.subset_seed is not None else "") + ".\n",
        wall_time_line(info.get("invocations", []), runs.records),
        "\nDifferences from the seed's code, on purpose: every run starts from a fresh model (the seed's "
        "`model_train_sizes` kept training one model; the cumulative version is shown beside it when run with "
        "`--warm-start`); a subset is the first n samples (the seed's `x[1:n]` dropped sample 0); labels are "
        "integers with `sparse_categorical_crossentropy`, which computes the same loss as the seed's one-hot "
        "labels with `categorical_crossentropy`; Part 2d is scored on the deeper network's own predictions. "
        "Runs with the same settings are one run: the stride network on the base subset serves Tables 1-2, "
        "Figure 4, Table 5's first row, Table 6's 1e-4 row and Table 8.\n",
    ]
    if any_rec["data"]["kind"].startswith("image-folder"):
        lines.append(
            "\nThe data are a JPEG re-encoding of CIFAR-10 (quality 75), so pixels differ slightly from the "
            "official batches the seed used; the samples were shuffled once with a fixed seed before taking the "
            "first n (the image folders are sorted by class).\n"
        )
    return "".join(lines)


def write_report(out: str | Path) -> Path:
    """Write REPORT.md, the CSV tables, text reports and PNG plots for ``out``; return REPORT.md's path.

    Examples
    --------
    >>> write_report("results/20260101-000000")  # doctest: +SKIP
    PosixPath('results/20260101-000000/REPORT.md')
    """
    out = Path(out)
    runs = Runs(load_records(out))
    names, cfg, info = load_invocation(out)
    parts = [_header(runs, cfg, info), section_missing(runs, names, cfg)]
    parts.append(section_verdicts(runs, cfg, out))
    parts.append(section_models(runs))
    parts += [SECTIONS[name](runs, cfg, out) for name in SECTIONS if name in names]
    parts.append(section_speed(runs))
    path = out / "REPORT.md"
    write_atomic(path, "\n".join(p for p in parts if p))
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m training.report DIR``: rebuild REPORT.md, tables and plots from DIR's records."""
    p = argparse.ArgumentParser(prog="python -m training.report", description=main.__doc__.split(": ", 1)[1])
    p.add_argument("out", type=Path, metavar="DIR")
    args = p.parse_args(argv)
    if not args.out.is_dir():
        p.error(f"DIR: no such directory: {args.out}")
    if not load_records(args.out):
        inside = sorted(d.name for d in args.out.iterdir() if d.is_dir() and load_records(d))
        if inside:
            p.error(f"DIR: {args.out} holds no run records itself, but these folders inside do: {', '.join(inside)}")
        p.error(f"DIR: no run records (*.json) in {args.out}")
    print(display_path(str(write_report(args.out))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tables, plots and REPORT.md from the run records of an output directory.

``python -m training.report DIR`` rebuilds everything from ``DIR/*.json`` (no
training, no TensorFlow). Each table shows our figures next to the seed's, the
seed's in their own columns, and says where a mistake in the seed's code changes
its figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from training.config import Config
from training.data import CLASSES
from training.experiments import EXPERIMENTS, RunSpec, cumulative_rows, part_b_l1, warm_chain, write_atomic

# ---------------------------------------------------------------------------------------------
# The seed's published figures (Part 2 of the assignment report), for comparison only.

#: Tables 1 and 2: per-class precision, recall, f1, support of the stride model (train, test).
SEED_TABLE1 = {
    0: (0.70, 0.65, 0.67, 505), 1: (0.75, 0.76, 0.76, 460), 2: (0.55, 0.52, 0.54, 519),
    3: (0.65, 0.41, 0.50, 486), 4: (0.48, 0.65, 0.56, 519), 5: (0.65, 0.54, 0.59, 488),
    6: (0.59, 0.77, 0.67, 518), 7: (0.68, 0.67, 0.68, 486), 8: (0.75, 0.69, 0.72, 520),
    9: (0.70, 0.77, 0.73, 498), "accuracy": 0.64, "macro f1": 0.64, "n": 4999,
}  # fmt: skip
SEED_TABLE2 = {
    0: (0.59, 0.55, 0.57, 1000), 1: (0.65, 0.65, 0.65, 1000), 2: (0.40, 0.38, 0.39, 1000),
    3: (0.39, 0.23, 0.29, 1000), 4: (0.37, 0.49, 0.42, 1000), 5: (0.45, 0.35, 0.39, 1000),
    6: (0.48, 0.67, 0.56, 1000), 7: (0.57, 0.56, 0.56, 1000), 8: (0.62, 0.59, 0.61, 1000),
    9: (0.57, 0.62, 0.59, 1000), "accuracy": 0.51, "macro f1": 0.50, "n": 10000,
}  # fmt: skip
#: Tables 3 and 4: the most-frequent baseline (class 8) on train and test.
SEED_BASELINE = {"class": 8, "train_accuracy": 0.10, "test_accuracy": 0.10, "train_f1_8": 0.19, "test_f1_8": 0.18}
#: Table 5 (cumulative training): n -> (time s, train accuracy, test accuracy).
SEED_TABLE5 = {5000: (75.5, 0.6227, 0.4909), 10000: (146.3, 0.7112, 0.5649), 20000: (297.7, 0.7335, 0.6251), 40000: (590.9, 0.7400, 0.6816)}
#: Table 6: L1 weight -> (train accuracy, test accuracy).
SEED_TABLE6 = {
    0.0001: (0.6065, 0.4836), 0.01: (0.4688, 0.4255), 0.1: (0.3250, 0.3169), 1.0: (0.1932, 0.1844),
    10.0: (0.1048, 0.1008), 50.0: (0.1044, 0.1002), 100.0: (0.1038, 0.1000), 1000.0: (0.1010, 0.0925),
}  # fmt: skip
#: Tables 7 (max pooling) and 8 (strides), 5k samples: (time s, train accuracy, test accuracy).
SEED_TABLE7 = (75.0, 0.6411, 0.5415)
SEED_TABLE8 = (75.5, 0.6227, 0.4909)
#: Table 9 (deeper network; accuracies are of the wrong model, see the report): n -> (time s, train, test).
SEED_TABLE9 = {5000: (52.0, 0.786, 0.704), 10000: (127.0, 0.779, 0.705), 20000: (184.0, 0.777, 0.707), 40000: (399.0, 0.767, 0.708)}
#: Parameter counts the seed's text states.
SEED_PARAMS = {"stride": 37146, "maxpool": 37146, "deeper_text": 23734, "deeper_summary": 23314, "largest": ("conv4", 9248)}


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
    fields = {f for f in Config.__dataclass_fields__}
    raw = {k: v for k, v in info.get("config", {}).items() if k in fields}
    for key in ("train_sizes", "l1_weights", "seeds", "size_seeds"):
        if raw.get(key) is not None:
            raw[key] = tuple(raw[key])
    return info.get("experiments", list(EXPERIMENTS)), Config(**raw), info


# ---------------------------------------------------------------------------------------------
# Small helpers


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


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-markdown table; columns after the first are right-aligned.

    Examples
    --------
    >>> print(md_table(["a", "b"], [["x", "1"]]))
    | a | b |
    |:--|--:|
    | x | 1 |
    """
    lines = ["| " + " | ".join(header) + " |", "|:--|" + "--:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """Write a CSV table (atomically)."""
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    write_atomic(path, buf.getvalue())


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


def plot_histories(records: list[dict], titles: list[str], path: Path, suptitle: str) -> None:
    """Accuracy (left) and loss (right) per epoch, train vs validation, one row per run."""
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    rows = len(records)
    fig, axs = plt.subplots(rows, 2, figsize=(10, 2.6 * rows + 0.6), squeeze=False, constrained_layout=True)
    for r, (rec, title) in enumerate(zip(records, titles)):
        h = rec.get("history", {})
        epochs = np.arange(1, len(h.get("accuracy", [])) + 1)
        for c, (metric, name) in enumerate((("accuracy", "accuracy"), ("loss", "loss"))):
            ax = axs[r, c]
            if metric in h:
                ax.plot(epochs, h[metric], "o-", ms=3, label="train")
            if f"val_{metric}" in h:
                ax.plot(epochs, h[f"val_{metric}"], "s-", ms=3, label="validation")
            values = [v for key in (metric, f"val_{metric}") for v in h.get(key, []) if v > 0]
            if metric == "loss" and values and max(values) / min(values) > 5:
                ax.set_yscale("log")  # a large L1 penalty makes the first epochs' loss dwarf the rest
                name = "loss (log scale)"
            ax.set_title(f"{name}, {title}", fontsize=10)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(suptitle)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_vs_size(series: dict[str, list[tuple[int, float, float]]], path: Path, title: str) -> None:
    """Train (dashed) and test (solid) accuracy against training size, one colour per series."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 4.8), constrained_layout=True)
    for i, (name, points) in enumerate(series.items()):
        if not points:
            continue
        n, tr, te = zip(*sorted(points))
        colour = f"C{i}"
        marker = "x" if name.startswith("seed") else "o"
        ax.plot(n, te, "-", marker=marker, color=colour, label=f"{name}: test")
        ax.plot(n, tr, "--", marker=marker, color=colour, alpha=0.6, label=f"{name}: train")
    ax.set_xscale("log", base=2)
    sizes = sorted({p[0] for pts in series.values() for p in pts})
    ax.set_xticks(sizes, [f"{s // 1000}k" if s >= 1000 else str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training samples")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never over the data
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_vs_l1(ours: list[tuple[float, float, float]], seed: dict, path: Path) -> None:
    """Train and test accuracy against the L1 weight (log axis), ours and the seed's."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    if ours:
        w, tr, te = zip(*sorted(ours))
        ax.plot(w, te, "o-", color="C0", label="ours: test")
        ax.plot(w, tr, "o--", color="C0", alpha=0.6, label="ours: train")
    w, vals = zip(*sorted(seed.items()))
    ax.plot(w, [v[1] for v in vals], "x-", color="C1", label="seed: test")
    ax.plot(w, [v[0] for v in vals], "x--", color="C1", alpha=0.6, label="seed: train")
    ax.axhline(0.1, color="grey", lw=0.8, ls=":", label="10% (chance)")
    ax.set_xscale("log")
    ax.set_xlabel("L1 weight on the dense kernel (log scale)")
    ax.set_ylabel("accuracy")
    ax.set_title("Part 2b(iv): accuracy against L1 weight (stride model)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Sections


def _get(records, spec: RunSpec):
    return records.get(spec.run_id)


def _acc(rec, key):
    return rec.get(key) if rec else None


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


def _params_by_model(records: dict) -> dict:
    by_model = {}
    for rec in records.values():
        m = rec["config"]["model"]
        if m in ("stride", "maxpool", "deeper") and m not in by_model and rec.get("params", {}).get("layers"):
            by_model[m] = rec["params"]
    return by_model


def section_models(records: dict) -> str:
    """Parameter counts, layer by layer, from the records (or 'not run')."""
    parts = ["## Models and parameter counts\n"]
    by_model = _params_by_model(records)
    for name in ("stride", "maxpool", "deeper"):
        if name not in by_model:
            continue
        p = by_model[name]
        rows = [[lay["name"], lay["type"], "x".join(str(d) for d in lay["output_shape"][1:]), f"{lay['params']:,}"] for lay in p["layers"]]
        rows.append(["**total**", "", "", f"**{p['total']:,}**"])
        parts.append(f"**{name}** ({multiply_adds(p['layers']) / 1e6:.2f} M multiply-adds per image)\n\n" + md_table(["layer", "type", "output", "parameters"], rows) + "\n")
    parts.append(
        "Seed: 37,146 parameters for Part 2a and 2c (agrees). Its Part 2b(i) says the largest layer is the "
        "fourth convolution with 9,248 weights; the dense layer is larger, (2048 + 1) x 10 = **20,490**. Its "
        "formula multiplies by the number of *output* channels twice; a 3x3 convolution has "
        "(3 x 3 x *input* channels + 1) x output channels weights. Part 2d's text says 23,734 parameters; "
        "its own model summary (and ours) gives **23,314**. The Part 2c text prints the Part 2d code by "
        "mistake; the appendix's `model2` (conv 16, 16, max-pool, conv 32, 32, max-pool) is the network "
        "trained for Table 7, and is our `maxpool`.\n"
    )
    return "\n".join(parts)


def section_baseline(records: dict, cfg: Config, out: Path) -> str:
    """Part 2b(i): Tables 1-4 with per-class figures, and the text reports."""
    base = _get(records, RunSpec("stride", cfg.base_size, cfg.l1))
    maj = _get(records, RunSpec("majority", cfg.base_size))
    parts = ["## Part 2b(i): performance and the most-frequent baseline (Tables 1-4)\n"]
    if not base:
        return parts[0] + "\nNot run.\n"
    for split, seed, label in (("train", SEED_TABLE1, "Table 1 (training data)"), ("test", SEED_TABLE2, "Table 2 (test data)")):
        cm = base[f"confusion_{split}"]
        rep = class_report(cm)
        write_atomic(out / f"classification_{base['run']}_{split}.txt", class_report_text(cm, f"{base['label']}, {split} set"))
        rows = []
        csv_rows = []
        for c in range(10):
            r = rep[str(c)]
            s = seed[c]
            rows.append([f"{c} {CLASSES[c]}", f"{r['precision']:.2f}", f"{r['recall']:.2f}", f"{r['f1-score']:.2f}", f"{int(r['support'])}", f"{s[0]:.2f}", f"{s[1]:.2f}", f"{s[2]:.2f}", str(s[3])])
            csv_rows.append([c, CLASSES[c], r["precision"], r["recall"], r["f1-score"], int(r["support"]), *s])
        rows.append(["accuracy", "", "", f"**{rep['accuracy']:.2f}**", f"{sum(int(rep[str(c)]['support']) for c in range(10))}", "", "", f"**{seed['accuracy']:.2f}**", str(seed["n"])])
        rows.append(["macro avg f1", "", "", f"{rep['macro avg']['f1-score']:.2f}", "", "", "", f"{seed['macro f1']:.2f}", ""])
        write_csv(out / f"table_baseline_{split}.csv", ["class", "name", "precision", "recall", "f1", "support", "seed_precision", "seed_recall", "seed_f1", "seed_support"], csv_rows)
        parts.append(f"**{label}**: stride network, {base['config']['n_train']:,} training samples\n")
        parts.append(md_table(["class", "precision", "recall", "f1", "support", "seed precision", "seed recall", "seed f1", "seed support"], rows) + "\n")
    parts.append(
        f"Training accuracy is measured as the seed did: predictions on all {base['config']['n_train']:,} samples of "
        f"the training subset, including the last {base['n_val']:,} that Keras held out for validation "
        f"(validation_split {base['config']['validation_split']}); the network was fitted on the first {base['n_fit']:,}. "
        f"Test accuracy is on {base['n_test']:,} test images. The seed's support column sums to 4,999, not 5,000: "
        "`x_train_orig[1:n]` drops sample 0; we take the first n.\n"
    )
    if maj:
        for split in ("train", "test"):
            write_atomic(out / f"classification_{maj['run']}_{split}.txt", class_report_text(maj[f"confusion_{split}"], f"{maj['label']}, {split} set"))
        k = maj["majority_class"]
        rows = [
            ["predicted class", f"{k} {CLASSES[k]}", f"{SEED_BASELINE['class']} {CLASSES[SEED_BASELINE['class']]}"],
            ["train accuracy (= share of that class)", pct(maj["train_accuracy"]), pct(SEED_BASELINE["train_accuracy"], 0)],
            ["test accuracy", pct(maj["test_accuracy"]), pct(SEED_BASELINE["test_accuracy"], 0)],
            ["f1 of the predicted class, train / test",
             f"{class_report(maj['confusion_train'])[str(k)]['f1-score']:.2f} / {class_report(maj['confusion_test'])[str(k)]['f1-score']:.2f}",
             f"{SEED_BASELINE['train_f1_8']:.2f} / {SEED_BASELINE['test_f1_8']:.2f}"],
        ]  # fmt: skip
        write_csv(out / "table_majority.csv", ["quantity", "ours", "seed"], rows)
        parts.append("**Tables 3-4**: most-frequent-class baseline (scikit-learn `DummyClassifier`)\n")
        parts.append(md_table(["", "ours", "seed"], rows) + "\n")
        parts.append(
            "Every other class has precision, recall and f1 of 0. Full per-class reports and confusion matrices: "
            f"`classification_{base['run']}_{{train,test}}.txt`, `classification_{maj['run']}_{{train,test}}.txt`.\n"
        )
    return "\n".join(parts)


def section_history(records: dict, cfg: Config, out: Path) -> str:
    """Part 2b(ii): Figure 4."""
    base = _get(records, RunSpec("stride", cfg.base_size, cfg.l1))
    head = "## Part 2b(ii): training history (Figure 4)\n"
    if not base:
        return head + "\nNot run.\n"
    name = "history_base.png"
    plot_histories([base], [base["label"]], out / name, "Figure 4: accuracy and loss per epoch, train vs validation")
    h = base["history"]
    gap_epoch = next((i + 1 for i, (a, v) in enumerate(zip(h["loss"], h["val_loss"])) if a < v), None)
    rows = [[str(e + 1), f"{h['accuracy'][e]:.4f}", f"{h['val_accuracy'][e]:.4f}", f"{h['loss'][e]:.4f}", f"{h['val_loss'][e]:.4f}"] for e in range(len(h["loss"]))]
    write_csv(out / "table_history.csv", ["epoch", "accuracy", "val_accuracy", "loss", "val_loss"], [r for r in rows])
    text = (
        f"![Figure 4]({name})\n\n"
        f"Final epoch: train accuracy {pct(h['accuracy'][-1])}, validation {pct(h['val_accuracy'][-1])}; "
        f"train loss {h['loss'][-1]:.3f}, validation {h['val_loss'][-1]:.3f}. "
        + (f"Training loss first falls below validation loss at epoch {gap_epoch}. " if gap_epoch else "")
        + "The seed reports training accuracy above validation from epoch 7-8 on. Train accuracy "
        "in the curve is Keras' running average over an epoch with dropout active, so it sits below the "
        "dropout-free figure of Table 1. Per-epoch numbers: `table_history.csv`.\n"
    )
    return head + "\n" + text


def _size_rows(records, specs, seed_table):
    rows, csv_rows, points = [], [], []
    for spec in specs:
        rec = _get(records, spec)
        s = seed_table.get(spec.n, (None, None, None))
        rows.append([f"{spec.n:,}", secs(_acc(rec, "train_time_s")), pct(_acc(rec, "train_accuracy")), pct(_acc(rec, "test_accuracy")), secs(s[0]), pct(s[1]), pct(s[2])])
        csv_rows.append([spec.n, _acc(rec, "train_time_s"), _acc(rec, "train_accuracy"), _acc(rec, "test_accuracy"), *s])
        if rec:
            points.append((spec.n, rec["train_accuracy"], rec["test_accuracy"]))
    return rows, csv_rows, points


_SIZE_HEADER = ["training size", "time", "train accuracy", "test accuracy", "seed time", "seed train", "seed test"]
_SIZE_CSV = ["n", "time_s", "train_accuracy", "test_accuracy", "seed_time_s", "seed_train_accuracy", "seed_test_accuracy"]


def section_train_size(records: dict, cfg: Config, out: Path) -> str:
    """Part 2b(iii): Table 5 with fresh models, and the seed's cumulative replay."""
    parts = ["## Part 2b(iii): training-set size (Table 5, Figure 5)\n"]
    fresh = [RunSpec("stride", n, cfg.l1) for n in cfg.train_sizes]
    rows, csv_rows, pts = _size_rows(records, fresh, SEED_TABLE5)
    write_csv(out / "table_train_size.csv", _SIZE_CSV, csv_rows)
    parts.append("**Table 5, a fresh model per size** (what the seed meant to measure)\n")
    parts.append(md_table(_SIZE_HEADER, rows) + "\n")
    series = {"fresh model per size": pts}
    chain = cumulative_rows(cfg)
    if any(_get(records, s) for s in warm_chain(cfg)):
        wrows, wcsv, wpts = _size_rows(records, chain, SEED_TABLE5)
        write_csv(out / "table_train_size_warm.csv", _SIZE_CSV, wcsv)
        parts.append(
            "**Table 5 as the seed computed it: one model trained on each size in turn** (`--warm-start`). "
            "The seed's `model_train_sizes` keeps fitting one global `model`: each row starts from the weights "
            "and Adam state the previous row left, so the 40k row has had "
            f"{len(chain) * cfg.epochs} epochs over growing subsets. The first row is a fresh model (shared "
            "with the table above): the seed's 5k figures are a fresh model's (its Tables 1 and 6 give 64% / 51% "
            "and 60.65% / 48.36% for the same setting). Time is per row.\n"
        )
        parts.append(md_table(_SIZE_HEADER, wrows) + "\n")
        series["cumulative (seed's code)"] = wpts
    series["seed Table 5"] = [(n, v[1], v[2]) for n, v in SEED_TABLE5.items()]
    plot_vs_size(series, out / "train_size_accuracy.png", "Part 2b(iii): stride network, accuracy against training size")
    hist_recs = [(s, _get(records, s)) for s in fresh if _get(records, s)]
    if hist_recs:
        plot_histories([r for _, r in hist_recs], [f"n = {s.n:,}" for s, _ in hist_recs], out / "history_train_size.png", "Figure 5: stride network, a fresh model per training size")
    parts.append("![accuracy against training size](train_size_accuracy.png)\n\n![Figure 5](history_train_size.png)\n")
    parts.append(
        f"Time is the wall time of `model.fit` ({cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} including the validation passes and the first "
        "epoch's graph tracing) on this machine; the seed's times come from its own machine, so only the ratios "
        "between rows compare. The seed's columns are its Table 5 as printed, i.e. from the cumulative training.\n"
    )
    return "\n".join(parts)


def section_l1(records: dict, cfg: Config, out: Path) -> str:
    """Part 2b(iv): Table 6 and Figure 6."""
    parts = ["## Part 2b(iv): L1 weight (Table 6, Figure 6)\n"]
    specs = part_b_l1(cfg)
    rows, csv_rows, pts, hists = [], [], [], []
    for spec in specs:
        rec = _get(records, spec)
        s = SEED_TABLE6.get(spec.l1, (None, None))
        rows.append([f"{spec.l1:g}", pct(_acc(rec, "train_accuracy")), pct(_acc(rec, "test_accuracy")), pct(s[0]), pct(s[1])])
        csv_rows.append([spec.l1, _acc(rec, "train_accuracy"), _acc(rec, "test_accuracy"), *s])
        if rec:
            pts.append((spec.l1, rec["train_accuracy"], rec["test_accuracy"]))
            hists.append((spec, rec))
    write_csv(out / "table_l1.csv", ["l1", "train_accuracy", "test_accuracy", "seed_train_accuracy", "seed_test_accuracy"], csv_rows)
    parts.append(md_table(["L1 weight", "train accuracy", "test accuracy", "seed train", "seed test"], rows) + "\n")
    plot_vs_l1(pts, SEED_TABLE6, out / "l1_accuracy.png")
    if hists:
        plot_histories([r for _, r in hists], [f"L1 = {s.l1:g}" for s, _ in hists], out / "history_l1.png", "Figure 6: stride network per L1 weight")
    parts.append("![accuracy against L1 weight](l1_accuracy.png)\n\n![Figure 6](history_l1.png)\n")
    parts.append(
        "The seed trained a fresh model per weight here, so its Table 6 is comparable as it stands. Its 1e-4 row is "
        "the same setting as Table 1 and Table 8, trained again (60.65% / 48.36% there against 62.27% / 49.09% in "
        "Table 8): the spread of one setting across retrainings. Ours is one run shared by all three tables.\n"
    )
    return "\n".join(parts)


def section_maxpool(records: dict, cfg: Config, out: Path) -> str:
    """Part 2c: Tables 7 and 8."""
    parts = ["## Part 2c: max pooling against strides (Tables 7-8)\n"]
    rows, csv_rows = [], []
    for spec, seed, name in ((RunSpec("maxpool", cfg.base_size, cfg.l1), SEED_TABLE7, "max pooling (Table 7)"), (RunSpec("stride", cfg.base_size, cfg.l1), SEED_TABLE8, "strides (Table 8)")):
        rec = _get(records, spec)
        rows.append([name, f"{spec.n:,}", secs(_acc(rec, "train_time_s")), pct(_acc(rec, "train_accuracy")), pct(_acc(rec, "test_accuracy")), secs(seed[0]), pct(seed[1]), pct(seed[2])])
        csv_rows.append([spec.model, spec.n, _acc(rec, "train_time_s"), _acc(rec, "train_accuracy"), _acc(rec, "test_accuracy"), *seed])
    write_csv(out / "table_maxpool.csv", ["model", "n", "time_s", "train_accuracy", "test_accuracy", "seed_time_s", "seed_train_accuracy", "seed_test_accuracy"], csv_rows)
    parts.append(md_table(["network", "training size", "time", "train accuracy", "test accuracy", "seed time", "seed train", "seed test"], rows) + "\n")
    macs = {m: multiply_adds(p["layers"]) for m, p in _params_by_model(records).items()}
    if "stride" in macs and "maxpool" in macs:
        parts.append(
            "Both networks have 37,146 parameters, but the max-pooling one runs its second and fourth convolutions "
            "at full resolution (32x32 and 16x16 instead of 16x16 and 8x8): "
            f"{macs['maxpool'] / 1e6:.2f} M multiply-adds per image against {macs['stride'] / 1e6:.2f} M "
            f"({macs['maxpool'] / macs['stride']:.1f}x). The seed's equal times (75 s each) do not show that.\n"
        )
    return "\n".join(parts)


def section_deeper(records: dict, cfg: Config, out: Path) -> str:
    """Part 2d: Table 9 and Figure 7, scored on the deeper network's own predictions."""
    parts = ["## Part 2d: thinner, deeper network (Table 9, Figure 7)\n"]
    specs = [RunSpec("deeper", n, cfg.l1) for n in cfg.train_sizes]
    rows, csv_rows, pts = _size_rows(records, specs, SEED_TABLE9)
    write_csv(out / "table_deeper.csv", _SIZE_CSV, csv_rows)
    parts.append(md_table(_SIZE_HEADER, rows) + "\n")
    hist = [(s, _get(records, s)) for s in specs if _get(records, s)]
    if hist:
        plot_histories([r for _, r in hist], [f"deeper, n = {s.n:,}" for s, _ in hist], out / "history_deeper.png", "Figure 7: deeper network per training size")
    chain = cumulative_rows(cfg)
    replay = [RunSpec("rescore", n, cfg.l1, warm_from=chain[-1].run_id) for n in cfg.train_sizes]
    if any(_get(records, s) for s in replay):
        rrows, rcsv, rpts = [], [], []
        for spec in replay:
            rec = _get(records, spec)
            s9 = SEED_TABLE9.get(spec.n, (None, None, None))
            rrows.append([f"{spec.n:,}", pct(_acc(rec, "train_accuracy")), pct(_acc(rec, "test_accuracy")), pct(s9[1]), pct(s9[2])])
            rcsv.append([spec.n, _acc(rec, "train_accuracy"), _acc(rec, "test_accuracy"), s9[1], s9[2]])
        write_csv(out / "table_deeper_seed_replay.csv", ["n", "train_accuracy", "test_accuracy", "seed_train_accuracy", "seed_test_accuracy"], rcsv)
        parts.append(
            "**What the seed's Table 9 code computes** (`--warm-start`): the stride network left by the cumulative "
            f"Table 5 training (`{chain[-1].run_id}`) scored on the first n training samples and the test set. "
            "Its test accuracy cannot change between rows, and its train accuracy is on samples it was trained on.\n"
        )
        parts.append(md_table(["training size", "train accuracy", "test accuracy", "seed train", "seed test"], rrows) + "\n")
    fresh = [(s.n, r["train_accuracy"], r["test_accuracy"]) for s in (RunSpec("stride", n, cfg.l1) for n in cfg.train_sizes) if (r := _get(records, s))]
    replayed = [(s.n, r["train_accuracy"], r["test_accuracy"]) for s in replay if (r := _get(records, s))]
    series = {"deeper": pts, "stride (fresh)": fresh}
    if replayed:
        series["replay of the seed's code (cumulative stride)"] = replayed
    series["seed Table 9 (scores the wrong model)"] = [(n, v[1], v[2]) for n, v in SEED_TABLE9.items()]
    plot_vs_size(series, out / "deeper_accuracy.png", "Part 2d: deeper vs stride network, accuracy against training size")
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


def section_speed(records: dict) -> str:
    """Throughput of every Keras run (epochs 2.., tracing excluded)."""
    rows = []
    for rec in sorted(records.values(), key=lambda r: r.get("finished_at", "")):
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
        parts.append(" ".join(inv.get("argv", [])) or "(defaults)")
    if not parts:
        return ""
    note = (
        f"; {estimated} of them stopped early and is counted up to its last finished run" if estimated else ""
    )
    return (
        f"- Wall time: {total / 60:.1f} min over {len(parts)} invocation(s) of `python -m training.run` "
        f"({', '.join(parts)}){note}\n"
    )


SECTIONS = {
    "baseline": section_baseline,
    "history": section_history,
    "train-size": section_train_size,
    "l1": section_l1,
    "maxpool": section_maxpool,
    "deeper": section_deeper,
}


def write_report(out: str | Path) -> Path:
    """Write REPORT.md, the CSV tables, text reports and PNG plots for ``out``; return REPORT.md's path.

    Examples
    --------
    >>> write_report("results/20260101-000000")  # doctest: +SKIP
    PosixPath('results/20260101-000000/REPORT.md')
    """
    out = Path(out)
    records = load_records(out)
    names, cfg, info = load_invocation(out)
    any_rec = next(iter(records.values()), None)
    header = ["# CIFAR-10 experiments of the seed's Part 2\n"]
    if any_rec:
        c = any_rec["config"]
        v = any_rec["versions"]
        header.append(
            f"- Data: {any_rec['data']['source']}\n"
            f"- Device: {any_rec['device']}; TensorFlow {v['tensorflow']}, Keras {v['keras']}, NumPy {v['numpy']}, "
            f"Python {v['python']}\n"
            f"- Settings: {c['epochs']} epochs, batch {c['batch_size']}, validation split {c['validation_split']} "
            f"(the last share of each training subset), seed {c['seed']}, input pipeline `{c['pipeline']}`"
            + (", op determinism on" if c.get("deterministic") else "")
            + (f", test set cut to {c['test_size']}" if c.get("test_size") else "")
            + "\n"
        )
    wall_line = wall_time_line(info.get("invocations", []), records)
    if wall_line:
        header.append(wall_line)
    header.append(
        "\nDifferences from the seed's code, on purpose: every run starts from a fresh model (the seed's "
        "`model_train_sizes` kept training one model; the cumulative version is shown beside it when run with "
        "`--warm-start`); a subset is the first n samples (the seed's `x[1:n]` dropped sample 0); labels are "
        "integers with `sparse_categorical_crossentropy`, which computes the same loss as the seed's one-hot "
        "labels with `categorical_crossentropy`; Part 2d is scored on the deeper network's own predictions. "
        "Runs with the same settings are one run: the stride network on the base subset serves Tables 1-2, "
        "Figure 4, Table 5's first row, Table 6's 1e-4 row and Table 8.\n"
    )
    if any_rec and any_rec["data"]["kind"].startswith("image-folder"):
        header.append(
            "\nThe data are a JPEG re-encoding of CIFAR-10 (quality 75), so pixels differ slightly from the "
            "official batches the seed used; the samples were shuffled once with a fixed seed before taking the "
            "first n (the image folders are sorted by class).\n"
        )
    parts = ["".join(header), section_models(records)]
    for name in SECTIONS:
        if name in names:
            parts.append(SECTIONS[name](records, cfg, out))
    parts.append(section_speed(records))
    path = out / "REPORT.md"
    write_atomic(path, "\n".join(p for p in parts if p))
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m training.report DIR``: rebuild REPORT.md, tables and plots from DIR's records."""
    p = argparse.ArgumentParser(prog="python -m training.report", description=main.__doc__.split(": ", 1)[1])
    p.add_argument("out", type=Path, metavar="DIR")
    args = p.parse_args(argv)
    if not args.out.is_dir():
        print(f"error: no such directory: {args.out}", file=sys.stderr)
        return 2
    if not load_records(args.out):
        print(f"error: no run records (*.json) in {args.out}", file=sys.stderr)
        return 2
    print(write_report(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

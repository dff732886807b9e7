"""The report's sections on the 5,000-sample experiments: models, Part 2b(i) baseline, 2b(ii) history,
2b(iv) L1 weight and 2c max pooling."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training import published as PUB
from training.config import Config
from training.data import CLASSES
from training.files import write_atomic
from training.registry import EXPERIMENTS, NETWORKS
from training.report.plots import plot_histories, plot_vs_l1
from training.report.records import Runs
from training.report.stats import mean_or_none, pct, plural, sd_or_none, spread
from training.report.tables import (
    RUN_CSV,
    RUN_HEADER,
    class_report,
    class_report_text,
    md_table,
    multiply_adds,
    run_row,
    settings_note,
    write_csv,
)


def _params_by_model(runs: Runs) -> dict:
    by_model = {}
    for rec in runs.records.values():
        m = rec["config"]["model"]
        if m in NETWORKS and m not in by_model and rec.get("params", {}).get("layers"):
            by_model[m] = rec["params"]
    return by_model


def section_models(runs: Runs) -> str:
    """Parameter counts, layer by layer, from the records."""
    parts = ["## Models and parameter counts\n"]
    for name, p in sorted(_params_by_model(runs).items(), key=lambda kv: NETWORKS.index(kv[0])):
        rows = [
            [lay["name"], lay["type"], "x".join(str(d) for d in lay["output_shape"][1:]), f"{lay['params']:,}"]
            for lay in p["layers"]
        ]
        rows.append(["**total**", "", "", f"**{p['total']:,}**"])
        table = md_table(["layer", "type", "output", "parameters"], rows)
        parts.append(f"**{name}** ({multiply_adds(p['layers']) / 1e6:.2f} M multiply-adds per image)\n\n{table}\n")
    parts.append(
        f"Published: {PUB.PARAMS['stride']:,} parameters for Part 2a and 2c (agrees). Its Part 2b(i) says the largest "
        f"layer is the fourth convolution with {PUB.PARAMS['largest'][1]:,} weights; the dense layer is larger, "
        "(2048 + 1) x 10 = **20,490**. Its formula multiplies by the number of *output* channels twice; a 3x3 "
        "convolution has (3 x 3 x *input* channels + 1) x output channels weights. Part 2d's text says "
        f"{PUB.PARAMS['deeper_text']:,} parameters; its own model summary (and ours) gives "
        f"**{PUB.PARAMS['deeper_summary']:,}**. The Part 2c text prints the Part 2d network "
        "(`model.add(Conv2D(8, (3, 3), ...))`, strides, no pooling) as the max-pooling one. "
        "That the appendix's `model2` (conv 16, 16, `model2.add(MaxPooling2D(pool_size=(2, 2)))`, conv 32, 32, "
        "max-pool) is the network trained for Table 7 is an inference: it has the 37,146 parameters the Part 2c "
        "text states, the printed one has 23,314. It is our `maxpool`.\n"
    )
    return "\n".join(parts)


def _mean_confusion_report(recs: list[dict], split: str) -> list[dict]:
    return [class_report(r[f"confusion_{split}"]) for r in recs]


def section_baseline(runs: Runs, cfg: Config, out: Path) -> str:
    """Part 2b(i): Tables 1-4, per-class figures over the seeds, and the text reports of the first seed."""
    parts = [f"## Part 2b(i): performance and the most-frequent baseline (Tables 1-4){settings_note(cfg)}\n"]
    reads = EXPERIMENTS["baseline"].reads(cfg)
    recs = runs.of(reads["stride"][0])
    if not recs:
        return parts[0] + "\nNot run yet.\n"
    for split, pub, label in (
        ("train", PUB.TABLE1, "Table 1 (training data)"),
        ("test", PUB.TABLE2, "Table 2 (test data)"),
    ):
        first = recs[0]
        text = class_report_text(first[f"confusion_{split}"], f"{first['label']}, {split} set")
        write_atomic(out / f"classification_{first['run']}_{split}.txt", text)
        reps = _mean_confusion_report(recs, split)
        rows, csv_rows = [], []
        for c in range(10):
            got = {m: [rep[str(c)][m] for rep in reps] for m in ("precision", "recall", "f1-score")}
            s = pub[c]
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
        rows.append(["accuracy", "", "", spread(acc, 1, "", 2), "", "", "", f"{pub['accuracy']:.2f}", str(pub["n"])])
        rows.append(["macro avg f1", "", "", spread(f1, 1, "", 2), "", "", "", f"{pub['macro f1']:.2f}", ""])
        header = [
            "class",
            "precision",
            "recall",
            "f1",
            "support",
            "published precision",
            "published recall",
            "published f1",
            "published support",
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
                "published_precision",
                "published_recall",
                "published_f1",
                "published_support",
            ],
            csv_rows,
        )
        parts.append(
            f"**{label}**: stride network, {first['config']['n_train']:,} training samples; mean ± sd (n seeds)\n"
        )
        parts.append(md_table(header, rows) + "\n")
    first = recs[0]
    parts.append(
        "Training accuracy is measured as the published code did "
        f"(`{PUB.CODE['predict_base']}`): predictions on all {first['config']['n_train']:,} samples "
        f"of the training subset, including the last {first['n_val']:,} that Keras held out for validation "
        f"(validation_split {first['config']['validation_split']}); the network was fitted on the first "
        f"{first['n_fit']:,}. Test accuracy is on {first['n_test']:,} test images. The published support column sums "
        "to 4,999, not 5,000: `x_train = x_train_orig[1:n]` drops sample 0; we take the first n.\n"
    )
    maj_recs = runs.of(reads["majority"][0])
    if maj_recs:
        maj = maj_recs[0]
        for split in ("train", "test"):
            text = class_report_text(maj[f"confusion_{split}"], f"{maj['label']}, {split} set")
            write_atomic(out / f"classification_{maj['run']}_{split}.txt", text)
        k, sk = maj["majority_class"], PUB.BASELINE["class"]
        f1 = [class_report(maj[f"confusion_{s}"])[str(k)]["f1-score"] for s in ("train", "test")]
        rows = [
            ["predicted class", f"{k} {CLASSES[k]}", f"{sk} {CLASSES[sk]}"],
            [
                "train accuracy (= share of that class)",
                pct(maj["train_accuracy"]),
                pct(PUB.BASELINE["train_accuracy"], 0),
            ],
            ["test accuracy", pct(maj["test_accuracy"]), pct(PUB.BASELINE["test_accuracy"], 0)],
            [
                "f1 of the predicted class, train / test",
                f"{f1[0]:.2f} / {f1[1]:.2f}",
                f"{PUB.BASELINE['train_f1_8']:.2f} / {PUB.BASELINE['test_f1_8']:.2f}",
            ],
        ]
        write_csv(out / "table_majority.csv", ["quantity", "ours", "published"], rows)
        parts.append(
            "**Tables 3-4**: most-frequent-class baseline (scikit-learn `DummyClassifier`; it learns "
            "no weights, so one run stands for every seed)\n"
        )
        parts.append(md_table(["", "ours", "published"], rows) + "\n")
        parts.append(
            "Every other class has precision, recall and f1 of 0. Full per-class reports and confusion matrices "
            f"(first seed): `classification_{first['run']}_{{train,test}}.txt`, "
            f"`classification_{maj['run']}_{{train,test}}.txt`.\n"
        )
    return "\n".join(parts)


def accuracy_crossing(history: dict) -> tuple[int | None, int | None]:
    """(first epoch with training accuracy above validation accuracy, epoch from which it stays above).

    Epochs count from 1; ``None`` where there is no such epoch (or no validation history).

    Examples
    --------
    >>> accuracy_crossing({"accuracy": [0.3, 0.5, 0.4, 0.6, 0.7], "val_accuracy": [0.4, 0.45, 0.45, 0.5, 0.5]})
    (2, 4)
    """
    train, val = history.get("accuracy", []), history.get("val_accuracy", [])
    above = [a > v for a, v in zip(train, val, strict=False)]
    first = next((i + 1 for i, up in enumerate(above) if up), None)
    stays = next((i + 1 for i in range(len(above)) if all(above[i:])), None)
    return first, stays


def section_history(runs: Runs, cfg: Config, out: Path) -> str:
    """Part 2b(ii): Figure 4, the mean curves over seeds, and where training accuracy overtakes validation."""
    head = f"## Part 2b(ii): training history (Figure 4){settings_note(cfg)}\n"
    recs = [r for r in runs.of(EXPERIMENTS["history"].reads(cfg)["stride"][0]) if r.get("history", {}).get("loss")]
    if not recs:
        return head + "\nNot run yet.\n"
    name = "history_base.png"
    title = f"Figure 4: stride network, {cfg.base_size:,} samples{settings_note(cfg)}"
    plot_histories([recs], [f"{plural(len(recs), 'seed')}"], out / name, title)
    keys = [k for k in ("accuracy", "val_accuracy", "loss", "val_loss") if all(k in r["history"] for r in recs)]
    length = min(len(r["history"]["loss"]) for r in recs)
    rows = [[e + 1, *(float(np.mean([r["history"][k][e] for r in recs])) for k in keys)] for e in range(length)]
    write_csv(out / "table_history.csv", ["epoch", *keys], rows)
    final = {k: spread([r["history"][k][-1] for r in recs], *((1, "", 3) if "loss" in k else ())) for k in keys}
    names = {"accuracy": "train accuracy", "val_accuracy": "validation accuracy", "loss": "train loss"}
    shown = "; ".join(f"{names.get(k, 'validation loss')} {v}" for k, v in final.items())
    text = f"Final epoch over {plural(len(recs), 'seed')}: {shown}."
    if "val_accuracy" not in keys:
        return f"{head}\n![Figure 4]({name})\n\n{text} These runs kept no validation history.\n"
    crossings = [accuracy_crossing(r["history"]) for r in recs]
    shown = ", ".join(f"{'never' if a is None else a} / {'never' if b is None else b}" for a, b in crossings)
    lo, hi = PUB.FIGURE4_CROSSING
    return (
        f"{head}\n![Figure 4]({name})\n\n{text}\n\n"
        "Where training accuracy overtakes validation accuracy, per seed (first epoch above / epoch from which it "
        f'stays above): {shown}. The published text reads the same crossing off its Figure 4: "{PUB.FIGURE4_TEXT}" '
        f"(epoch {lo}-{hi}). Both are Keras' history: training accuracy is the running average over an epoch with "
        "dropout active, so it sits below the dropout-free figure of Table 1. Mean per-epoch numbers: "
        "`table_history.csv`.\n"
    )


def section_l1(runs: Runs, cfg: Config, out: Path) -> str:
    """Part 2b(iv): Table 6 and Figure 6."""
    note = settings_note(cfg)
    parts = [f"## Part 2b(iv): L1 weight (Table 6, Figure 6){note}\n"]
    rows, csv_rows, pts, groups = [], [], [], []
    for spec in EXPERIMENTS["l1"].reads(cfg)["weights"]:
        tr, te = runs.values(spec, "train_accuracy"), runs.values(spec, "test_accuracy")
        s = PUB.TABLE6.get(spec.l1, (None, None))
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
            "published_train_accuracy",
            "published_test_accuracy",
        ],
        csv_rows,
    )
    parts.append("Mean ± sd (n seeds).\n")
    parts.append(
        md_table(["L1 weight", "train accuracy", "test accuracy", "published train", "published test"], rows) + "\n"
    )
    series = {"ours": pts, "published Table 6": [(w, [v[0]], [v[1]]) for w, v in PUB.TABLE6.items()]}
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
        f"The published `model_vary_L1` builds a new model per weight (`{PUB.CODE['l1_new_model']}` in its loop), "
        "so its Table 6 is comparable as it stands. That its 1e-4 row is the same setting as Table 1 and Table 8, "
        "trained again, is an inference, not shown: the figures differ (60.65% / 48.36% there against "
        "62.27% / 49.09% in Table 8), and `model_vary_L1` builds its own model while the published Part 2b(i) and "
        "Table 5 code keep fitting the global `model`, so the published runs of those tables need not have had "
        "the same training. Ours are the same runs in all three tables.\n"
    )
    return "\n".join(parts)


def section_maxpool(runs: Runs, cfg: Config, out: Path) -> str:
    """Part 2c: Tables 7 and 8."""
    parts = [f"## Part 2c: max pooling against strides (Tables 7-8){settings_note(cfg)}\n"]
    rows, csv_rows = [], []
    reads = EXPERIMENTS["maxpool"].reads(cfg)
    for spec, pub, name in (
        (reads["maxpool"][0], PUB.TABLE7, "max pooling (Table 7)"),
        (reads["stride"][0], PUB.TABLE8, "strides (Table 8)"),
    ):
        cells, csv_cells, _ = run_row(runs, spec, pub)
        rows.append([name, f"{spec.n:,}", *cells])
        csv_rows.append([spec.model, spec.n, *csv_cells])
    write_csv(out / "table_maxpool.csv", ["model", "n", *RUN_CSV], csv_rows)
    header = ["network", "training size", *RUN_HEADER]
    parts.append("Mean ± sd (n seeds).\n")
    parts.append(md_table(header, rows) + "\n")
    macs = {m: multiply_adds(p["layers"]) for m, p in _params_by_model(runs).items()}
    if "stride" in macs and "maxpool" in macs:
        parts.append(
            "Both networks have 37,146 parameters, but the max-pooling one runs its second and fourth convolutions "
            "at full resolution (32x32 and 16x16 instead of 16x16 and 8x8): "
            f"{macs['maxpool'] / 1e6:.2f} M multiply-adds per image against {macs['stride'] / 1e6:.2f} M "
            f"({macs['maxpool'] / macs['stride']:.1f}x). The published equal times (75 s each) do not show that.\n"
        )
    return "\n".join(parts)

"""Tables and text: markdown and CSV tables, paths for display, classification reports from confusion matrices."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import numpy as np
from tabulate import tabulate

from training import published as PUB
from training.config import Config
from training.data import CLASSES
from training.files import write_atomic
from training.registry import RunSpec
from training.report.records import Runs
from training.report.stats import mean_or_none, pct, plural, sd_or_none, secs, spread


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
    """A text classification report and confusion matrix, as the published code printed them."""
    from sklearn.metrics import classification_report

    true, pred = labels_from_confusion(cm)
    names = [f"{i} {c}" for i, c in enumerate(CLASSES)]
    rep = classification_report(true, pred, labels=list(range(10)), target_names=names, digits=4, zero_division=0)
    cm_text = "\n".join(" ".join(f"{v:5d}" for v in row) for row in np.asarray(cm))
    return f"{title}\n\n{rep}\nconfusion matrix (rows: true class 0-9, columns: predicted 0-9)\n{cm_text}\n"


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


def settings_note(cfg: Config) -> str:
    """'' when the runs used the published epochs and batch size, else a caption saying how they differ."""
    diff = []
    if cfg.epochs != PUB.EPOCHS:
        diff.append(f"{plural(cfg.epochs, 'epoch')} per run (published: {PUB.EPOCHS})")
    if cfg.batch_size != PUB.BATCH_SIZE:
        diff.append(f"batch {cfg.batch_size} (published: {PUB.BATCH_SIZE})")
    return f" [{', '.join(diff)}]" if diff else ""


#: Columns of a table row of one setting's runs beside the published (time, train, test) figures.
RUN_HEADER = ["time", "train accuracy", "test accuracy", "published time", "published train", "published test"]
#: The same row's CSV columns.
RUN_CSV = [
    "time_s_mean",
    "train_accuracy_mean",
    "train_accuracy_sd",
    "test_accuracy_mean",
    "test_accuracy_sd",
    "runs",
    "published_time_s",
    "published_train_accuracy",
    "published_test_accuracy",
]


def run_row(runs: Runs, spec: RunSpec, pub: tuple) -> tuple[list[str], list, tuple[list[float], list[float]]]:
    """One setting's row (:data:`RUN_HEADER`), its CSV row (:data:`RUN_CSV`), and its train and test accuracies."""
    tr, te, t = (runs.values(spec, k) for k in ("train_accuracy", "test_accuracy", "train_time_s"))
    cells = [spread(t, 1, " s", 1), spread(tr), spread(te), secs(pub[0]), pct(pub[1]), pct(pub[2])]
    csv_cells = [mean_or_none(t), mean_or_none(tr), sd_or_none(tr), mean_or_none(te), sd_or_none(te), len(te), *pub]
    return cells, csv_cells, (tr, te)

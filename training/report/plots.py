"""Plots of the report (matplotlib, Agg backend, never shown on screen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


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
        colour, marker = f"C{i}", ("x" if name.startswith("published") else "o")
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

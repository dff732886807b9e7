"""training.spread: mean ± sd over seeds and verdicts, against formulas written here."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import t as student_t

from training.spread import compare, spread, write_seed_report


def welch_interval(a, b, level=0.95):
    """Welch's t interval for mean(a) - mean(b), from the textbook formula."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = student_t.ppf(0.5 + level / 2, dof) * math.sqrt(va + vb)
    d = a.mean() - b.mean()
    return d - half, d + half


@pytest.mark.parametrize(
    "a, b, verdict",
    [
        ([0.55, 0.56, 0.54, 0.57, 0.53], [0.50, 0.49, 0.51, 0.52], "holds"),
        ([0.50, 0.52, 0.49], [0.51, 0.50, 0.52, 0.50], "within noise"),
        ([0.40, 0.42, 0.41], [0.50, 0.49, 0.51], "reversed"),
    ],
)
def test_compare_is_welch_interval_and_verdict(a, b, verdict):
    c = compare(a, b)
    low, high = welch_interval(a, b)
    assert c.low == pytest.approx(low) and c.high == pytest.approx(high)
    assert c.diff == pytest.approx(np.mean(a) - np.mean(b))
    assert c.verdict == verdict


def test_one_run_is_not_a_finding():
    assert compare([0.6], [0.5, 0.51]).verdict == "within noise"
    assert spread([0.5]).sd == 0.0


def test_spread_is_mean_and_sample_sd():
    v = [0.49, 0.5, 0.52, 0.47]
    s = spread(v)
    assert (s.mean, s.n) == (pytest.approx(sum(v) / 4), 4)
    assert s.sd == pytest.approx(math.sqrt(sum((x - sum(v) / 4) ** 2 for x in v) / 3))


def _record(run, model, n, l1, seed, train, test, epochs=3):
    cm = np.diag([10] * 10).tolist()
    hist = {
        k: list(np.linspace(0.1, 0.5, epochs) + seed / 100) for k in ("accuracy", "val_accuracy", "loss", "val_loss")
    }
    return {
        "run": run,
        "label": run,
        "config": {"model": model, "n_train": n, "l1": l1, "warm_from": None, "epochs": epochs, "seed": seed},
        "device": "CPU",
        "train_accuracy": train,
        "test_accuracy": test,
        "train_time_s": 10.0 + seed,
        "history": hist,
        "confusion_train": cm,
        "confusion_test": cm,
    }


def test_seed_report_tables_and_verdicts(tmp_path):
    """Three seed folders of made-up records: every mean ± sd and the maxpool verdict recomputed here."""
    stride_test = {0: 0.49, 1: 0.50, 2: 0.51}
    pool_test = {0: 0.53, 1: 0.54, 2: 0.55}
    for s in (0, 1, 2):
        folder = tmp_path / f"seed-{s}"
        folder.mkdir()
        cfg = {"base_size": 100, "train_sizes": [100, 200], "l1_weights": [0.0001, 0.1], "l1": 0.0001, "seed": s}
        (folder / "invocation.json").write_text(json.dumps({"experiments": ["baseline", "maxpool"], "config": cfg}))
        recs = [
            _record("stride-n100-l1_0.0001", "stride", 100, 0.0001, s, 0.6, stride_test[s]),
            _record("maxpool-n100-l1_0.0001", "maxpool", 100, 0.0001, s, 0.62, pool_test[s]),
        ]
        for r in recs:
            (folder / f"{r['run']}.json").write_text(json.dumps(r))
    text = write_seed_report(tmp_path).read_text()
    sd = np.std(list(stride_test.values()), ddof=1)
    assert f"{100 * np.mean(list(stride_test.values())):.2f} ± {100 * sd:.2f}% (n=3)" in text
    low, high = welch_interval(list(pool_test.values()), list(stride_test.values()))
    row = next(line for line in text.splitlines() if line.startswith("| max pooling beats strides"))
    assert f"[{100 * low:+.2f}, {100 * high:+.2f}]" in row and "holds" in row
    assert "not run yet (stride-n200-l1_0.0001)" in text  # missing runs are named, not hidden
    assert (tmp_path / "history_base.png").stat().st_size > 0

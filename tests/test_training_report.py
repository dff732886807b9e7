"""training.report: spread, intervals and verdicts against hand computations; a report from made-up records."""

import json
import math
import sys

import numpy as np
import pytest
from scipy import stats

from training import report
from training.quiet import is_noise


def test_spread_by_hand():
    assert report.spread([0.50, 0.52, 0.54]) == "52.00 ± 2.00% (3)"  # mean 52, sd sqrt((4+0+4)/2) = 2
    assert report.spread([0.5]) == "50.00% (1)"
    assert report.spread([]) == "-"


def test_welch_interval_by_hand():
    a, b = [0.61, 0.63, 0.60, 0.64, 0.62], [0.55, 0.59, 0.52]
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))  # Welch-Satterthwaite
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    d = np.mean(a) - np.mean(b)
    got = report.difference_interval(a, b)
    assert got == pytest.approx((d, d - half, d + half), rel=1e-9)
    # Against a deterministic run (an exact constant): the one-sample interval of a, shifted.
    half1 = stats.t.ppf(0.975, len(a) - 1) * np.std(a, ddof=1) / math.sqrt(len(a))
    assert report.difference_interval(a, [0.1], b_exact=True) == pytest.approx(
        (np.mean(a) - 0.1, np.mean(a) - 0.1 - half1, np.mean(a) - 0.1 + half1)
    )
    assert report.difference_interval([0.5], b) is None


def test_one_stochastic_run_is_too_few_runs():
    """A side with one run of a setting that involves randomness is no constant: no interval, 'too few runs'."""
    a = [0.61, 0.63, 0.60, 0.64, 0.62]
    assert report.difference_interval(a, [0.55]) is None
    assert report.verdict(0.05, report.difference_interval(a, [0.55])) == "too few runs"
    assert report.difference_interval(a, [0.55, 0.55]) is not None  # two runs (here equal) are a sample


def test_family_interval_is_bonferroni():
    """The corrected interval is Welch's at level 1 - 0.05 / m, by hand."""
    from training.report.stats import family_level

    a, b = [0.61, 0.63, 0.60, 0.64, 0.62], [0.55, 0.59, 0.52, 0.58, 0.57]
    va, vb = np.var(a, ddof=1) / 5, np.var(b, ddof=1) / 5
    df = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 4)
    half = stats.t.ppf(1 - 0.05 / 19 / 2, df) * math.sqrt(va + vb)
    d = np.mean(a) - np.mean(b)
    assert family_level(19) == pytest.approx(1 - 0.05 / 19)
    assert report.difference_interval(a, b, family_level(19)) == pytest.approx((d, d - half, d + half), rel=1e-9)


def test_verdicts():
    assert report.verdict(+0.05, (0.02, 0.01, 0.03)) == "holds"
    assert report.verdict(-0.05, (-0.02, -0.03, -0.01)) == "holds"
    assert report.verdict(+0.05, (-0.02, -0.03, -0.01)) == "reversed"
    assert report.verdict(+0.05, (0.01, -0.01, 0.03)) == "within noise"
    assert report.verdict(+0.05, None) == "too few runs"


def _record(model, n, l1, seed, test_acc, epochs=3):
    rid = f"{model}-n{n}-l1_{l1:g}-s{seed}" if model != "majority" else f"majority-n{n}"
    cm = np.zeros((10, 10), int)
    np.fill_diagonal(cm, 10)
    return rid, {
        "run": rid,
        "label": rid,
        "device": "CPU",
        "n_fit": 90,
        "n_val": 10,
        "n_test": 100,
        "config": {
            "model": model,
            "n_train": n,
            "l1": l1,
            "seed": seed,
            "epochs": epochs,
            "batch_size": 128,
            "validation_split": 0.1,
            "pipeline": "tfdata",
            "warm_from": None,
        },
        "data": {"source": "test data", "kind": "python-batches", "shuffled": False},
        "versions": {"tensorflow": "x", "keras": "x", "numpy": "x", "python": "x"},
        "train_accuracy": test_acc + 0.1,
        "test_accuracy": test_acc,
        "train_time_s": 1.0,
        "majority_class": 0,
        "history": {k: [0.5] * epochs for k in ("accuracy", "val_accuracy", "loss", "val_loss")},
        "confusion_train": cm.tolist(),
        "confusion_test": cm.tolist(),
    }


def test_report_from_made_up_records(tmp_path):
    """Max pooling clearly above strides over 3 seeds: 'holds'; L1 10 equal to 1e-4: 'within noise'."""
    out = tmp_path / "run"
    out.mkdir()
    recs = dict([_record("majority", 5000, 1e-4, 0, 0.10)])
    for s, (mp, st, l1) in enumerate([(0.55, 0.50, 0.49), (0.56, 0.49, 0.51), (0.54, 0.51, 0.50)]):
        recs.update(
            [
                _record("maxpool", 5000, 1e-4, s, mp),
                _record("stride", 5000, 1e-4, s, st),
                _record("stride", 5000, 10.0, s, l1),
            ]
        )
    for rid, rec in recs.items():
        (out / f"{rid}.json").write_text(json.dumps(rec))
    config = {"seeds": [0, 1, 2, 3], "l1_weights": [1e-4, 10.0], "epochs": 3}
    (out / "invocation.json").write_text(json.dumps({"experiments": ["baseline", "l1", "maxpool"], "config": config}))
    text = report.write_report(out).read_text()
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "**holds**" in rows["max pooling vs strides"] and "3 / 3" in rows["max pooling vs strides"]
    assert "**within noise**" in rows["L1 10 vs 0.0001"]
    assert "**holds**" in rows["stride network vs most-frequent baseline"]
    # Seed 3 was planned for the 3 trained settings and never ran.
    assert "**3 planned runs of 13 have no record yet**" in text  # 3 settings x 4 seeds + 1 baseline
    assert "50.00 ± 1.00% (3)" in text  # strides' test accuracy
    assert "[3 epochs per run (published: 20)]" in text  # the settings differ from the published ones
    plotted = tmp_path / "plots"
    assert (out / "l1_accuracy.png").stat().st_size > 1000 and not plotted.exists()


def test_one_run_of_a_side_is_too_few_runs_and_no_validation_history_is_fine(tmp_path):
    """A stochastic setting with one record gets 'too few runs' (never an exact constant); records without
    validation history (no validation split) still give a report."""
    out = tmp_path / "run"
    out.mkdir()
    recs = dict([_record("majority", 5000, 1e-4, 0, 0.10), _record("stride", 5000, 1e-4, 0, 0.50)])
    recs.update(_record("maxpool", 5000, 1e-4, s, acc) for s, acc in enumerate([0.55, 0.56, 0.54]))
    for rec in recs.values():
        rec["history"] = {k: v for k, v in rec["history"].items() if not k.startswith("val_")}
    for rid, rec in recs.items():
        (out / f"{rid}.json").write_text(json.dumps(rec))
    info = {"experiments": ["baseline", "history", "maxpool"], "config": {"seeds": [0, 1, 2], "epochs": 3}}
    (out / "invocation.json").write_text(json.dumps(info))
    text = report.write_report(out).read_text()
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "**too few runs**" in rows["max pooling vs strides"] and "3 / 1" in rows["max pooling vs strides"]
    assert "**too few runs**" in rows["stride network vs most-frequent baseline"]  # one stride run
    assert "These runs kept no validation history." in text


def test_report_on_a_parent_folder_names_the_runs_inside(tmp_path, capsys):
    inner = tmp_path / "runs" / "20260101-000000"
    inner.mkdir(parents=True)
    rid, rec = _record("majority", 5000, 1e-4, 0, 0.1)
    (inner / f"{rid}.json").write_text(json.dumps(rec))
    with pytest.raises(SystemExit) as exc:
        report.main([str(tmp_path / "runs")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("python -m training.report: error: DIR:") and "20260101-000000" in err


def test_tensorflow_notices_are_noise_and_errors_are_not():
    for line in (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795597044.982172   17423 port.cc:153] oneDNN custom operations are on. You may see",
        "I0000 00:00:1795597044.982534   17423 cudart_stub.cc:31] Could not find cuda drivers on your machine",
        "E0000 00:00:1795597045.1 17423 cuda_executor.cc:1] failed call to cuInit: INTERNAL: CUDA error (303)",
    ):
        assert is_noise(line), line
    for line in (
        "Traceback (most recent call last):",
        "E0000 00:00:1 1 op.cc:1] OOM when allocating tensor",
        "python -m training.run: error: argument --data: CIFAR-10 path does not exist",
    ):
        assert not is_noise(line), line


def test_bad_data_is_reported_before_tensorflow_is_imported(tmp_path, monkeypatch, capsys):
    from training import run

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # importing TensorFlow now fails
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")  # leave this test process' stderr alone
    with pytest.raises(SystemExit) as exc:
        run.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("python -m training.run: error: argument --data: CIFAR-10 path does not exist")


def test_version(capsys):
    from importlib.metadata import version

    from training import run

    with pytest.raises(SystemExit) as exc:
        run.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"python -m training.run {version('fastconv')}"


def test_records_are_grouped_by_their_fields_not_their_names():
    """Every committed record's settings and random seed (its fields) rebuild its run id, so grouping by
    setting needs no parsing of names."""
    from pathlib import Path

    from training.registry import RunSpec
    from training.report.records import Runs, load_records

    records = load_records(Path(__file__).resolve().parents[1] / "docs" / "results" / "cifar10")
    assert len(records) >= 88
    assert all(RunSpec.of_record(rec).run_id == rid for rid, rec in records.items())
    runs = Runs(records)
    five = runs.of(RunSpec("stride", 5000, 1e-4))
    assert [r["config"]["seed"] for r in five] == [0, 1, 2, 3, 4]

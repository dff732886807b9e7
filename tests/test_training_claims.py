"""The report's other claims (levels, trends, time) and the wall time each run is credited with."""

import math

import numpy as np
import pytest
from scipy import stats

from training.config import Config
from training.registry import RunSpec, plan
from training.report.records import Runs, run_wall_times


def test_two_records_in_one_second_are_credited_in_the_order_they_ran():
    """The default job: the stride run (60 s) and the baseline (instant) end in the same second. The stride
    run ran first (the plan's order), so it gets the 60 s, whatever the run ids sort to."""
    invocations = [{"started": "2026-01-01T00:00:00+00:00"}]
    records = {
        "stride-n5000-l1_0.0001-s0": {"finished_at": "2026-01-01T00:01:00+00:00"},
        "majority-n5000": {"finished_at": "2026-01-01T00:01:00+00:00"},
    }
    order = [s.run_id for s in plan(["baseline", "history"], Config())]
    assert order == ["stride-n5000-l1_0.0001-s0", "majority-n5000"]
    walls = run_wall_times(records, invocations, order)
    assert walls == {"stride-n5000-l1_0.0001-s0": 60.0, "majority-n5000": 0.0}


def test_a_record_that_timed_itself_gives_its_own_wall_time():
    invocations = [{"started": "2026-01-01T00:00:00+00:00"}]
    records = {
        "stride-n5000-l1_0.0001-s0": {"finished_at": "2026-01-01T00:01:00.900000+00:00", "wall_s": 58.2},
        "majority-n5000": {"finished_at": "2026-01-01T00:01:00.950000+00:00", "wall_s": 0.05},
    }
    walls = run_wall_times(records, invocations)  # no order needed: microseconds and wall_s tell them apart
    assert walls == {"stride-n5000-l1_0.0001-s0": 58.2, "majority-n5000": 0.05}


def _rec(model, n, l1, seed, test, train=None, loss=None):
    spec = RunSpec(model, n, l1, seed=seed)
    return spec.run_id, {
        "run": spec.run_id,
        "config": {"model": model, "n_train": n, "l1": l1, "seed": seed, "warm_from": None},
        "test_accuracy": test,
        "train_accuracy": test + 0.1 if train is None else train,
        "history": {"loss": [1.0, 0.5 if loss is None else loss]},
    }


def test_table6_trend_holds_up_to_the_plateau():
    """Accuracy falls from 1e-4 to 10 and then stays at chance (as ours): the trend holds up to L1 10 only."""
    from training.report.claims import _l1_trend_claims

    cfg = Config(l1_weights=(1e-4, 0.1, 10.0, 100.0))
    means = {1e-4: 0.50, 0.1: 0.35, 10.0: 0.10, 100.0: 0.10}
    rng = np.random.default_rng(0)
    records = {}
    for s in range(5):
        for w, m in means.items():
            noise = 0.0 if m == 0.10 else rng.normal(0, 0.01)
            records.update([_rec("stride", 5000, w, s, m + noise, loss=math.log10(w) + 5 + 0.1 * s)])
    rows = _l1_trend_claims(Runs(records), cfg)
    test_row = rows[0]
    assert test_row.verdict == "holds up to L1 10, then flat (within noise)"
    x = [math.log10(w) for s in range(5) for w in means]
    y = [records[RunSpec("stride", 5000, w, seed=s).run_id]["test_accuracy"] for s in range(5) for w in means]
    rho = stats.spearmanr(x, y).statistic
    assert f"Spearman rho {rho:+.2f}" in test_row.ours
    assert "falls 0.0001->0.1, 0.1->10; within noise 10->100" in test_row.ours
    assert rows[2].verdict == "holds"  # the loss rises with the weight in every seed


def test_levels_against_chance_and_seventy_percent():
    from training.report.claims import _accuracy_claims, level_verdict

    cfg = Config(train_sizes=(5000,))
    records = dict(_rec("stride", 5000, 1e-4, s, 0.49 + 0.01 * s) for s in range(5))
    records.update(_rec("deeper", 5000, 1e-4, s, 0.69 + 0.005 * s) for s in range(5))
    rows = _accuracy_claims(Runs(records), cfg)
    chance, seventy = rows[0], rows[1]
    assert chance.verdict == "reversed"  # ~51%: far above chance, not worse than it
    a = np.array([0.69 + 0.005 * s for s in range(5)])
    half = stats.t.ppf(0.975, 4) * a.std(ddof=1) / math.sqrt(5)
    lo, hi = a.mean() - half - 0.70, a.mean() + half - 0.70
    assert lo < 0 < hi and seventy.verdict == "holds, same size"
    assert level_verdict((-0.1, -0.12, -0.08)) == "does not hold: ours lower by 8.00-12.00 points"
    four = dict(_rec("deeper", 5000, 1e-4, s, 0.70) for s in range(4))
    assert _accuracy_claims(Runs(four), cfg)[0].verdict == "too few runs"


def test_cpu_ratio_is_the_geometric_mean_of_paired_rounds():
    from training.report.claims import cpu_ratio

    a, b = [2.0e-3, 2.4e-3, 1.9e-3, 2.1e-3, 2.2e-3], [1.0e-3, 1.1e-3, 1.0e-3, 1.0e-3, 1.05e-3]
    r = np.log(np.array(a) / np.array(b))
    half = stats.t.ppf(0.975, 4) * r.std(ddof=1) / math.sqrt(5)
    got = cpu_ratio({"cpu_s_per_sample": {"a": a, "b": b}}, "a", "b")
    assert got == pytest.approx((math.exp(r.mean()), math.exp(r.mean() - half), math.exp(r.mean() + half)))


def test_the_committed_report_has_a_verdict_for_every_claim_listed():
    """REPORT.md as committed: the verdict table and the claims table with the rows Part 2 needs."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "results" / "cifar10" / "REPORT.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    for claim in (
        "stride network, train vs test accuracy",
        "40,000 vs 5,000 samples, fresh models, train accuracy",
        "L1 1000 vs 0.0001, train accuracy",
        "max pooling vs strides, train accuracy",
        "deeper vs stride, 40,000 samples, train accuracy",
    ):
        assert claim in rows, claim
    for where in ("2b(iv), Table 6", "2c, Tables 7-8", "2d, Tables 9, 5", "2b(ii), Figure 4", "2b(iii), Table 5"):
        assert any(line.startswith(f"| {where} ") for line in text.splitlines()), where
    assert "holds, same size" in text and "too few runs" in text  # the vocabulary is explained


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--rounds", "1"], "--rounds: must be >= 2, got 1"),
        (["--batches", "0"], "--batches: must be >= 1, got 0"),
        (["--out", "{tmp}/nowhere"], "--out: no such directory"),
    ],
)
def test_cputime_refuses_bad_arguments_before_measuring(argv, message, tmp_path, capsys):
    from training.cputime import main

    with pytest.raises(SystemExit) as exc:
        main([a.format(tmp=tmp_path) for a in argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "cpu_time.json").exists()

"""``python -m training.run --quick`` end to end on a small slice of the shared data; resume; CLI errors."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("sklearn")

from _training_fixtures import SHARED_ZIP, small_shared_zip, write_python_batches  # noqa: E402  # after importorskip

from training import runner  # noqa: E402  # after importorskip
from training.config import Config  # noqa: E402  # after importorskip
from training.data import load  # noqa: E402  # after importorskip
from training.registry import EXPERIMENTS, plan  # noqa: E402  # after importorskip
from training.resume import SettingsMismatch  # noqa: E402  # after importorskip
from training.runner import RunEnv, execute  # noqa: E402  # after importorskip

ROOT = Path(__file__).resolve().parents[1]
RECORD_FIELDS = (
    "run",
    "label",
    "config",
    "device",
    "data",
    "versions",
    "n_fit",
    "n_val",
    "n_test",
    "train_accuracy",
    "test_accuracy",
    "train_time_s",
    "params",
    "confusion_train",
    "confusion_test",
    "finished_at",
)
KERAS_FIELDS = ("history", "epoch_times_s", "samples_per_s")


def run_cli(args, tmp_path, **env_extra):
    env = dict(os.environ, FASTCONV_CACHE=str(tmp_path / "cache"), TF_CPP_MIN_LOG_LEVEL="3", **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "training.run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def quick_all(tmp_path_factory):
    """One ``all --quick --deterministic`` run on 500 train / 200 test images of the shared zip."""
    if not SHARED_ZIP.is_file():
        pytest.skip(f"shared CIFAR-10 copy not found: {SHARED_ZIP}")
    tmp = tmp_path_factory.mktemp("quick")
    small = small_shared_zip(tmp / "small.zip")
    out = tmp / "out"
    proc = run_cli(["all", "--quick", "--deterministic", "--data", str(small), "--out", str(out)], tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"tmp": tmp, "small": small, "out": out, "proc": proc}


@pytest.mark.slow
def test_quick_all_outputs(quick_all):
    out, proc = quick_all["out"], quick_all["proc"]
    cfg = Config().quick_version().replace(warm_start=True)
    specs = plan(list(EXPERIMENTS), cfg)
    assert any(s.warm_from for s in specs)  # 'all' includes the cumulative replay
    assert any(s.model == "rescore" for s in specs)
    # Progress: an overall line per run, the device, Keras' per-epoch lines.
    assert f"run {len(specs)}/{len(specs)}:" in proc.stdout
    assert "device: CPU" in proc.stdout
    assert "val_accuracy" in proc.stdout

    data = load(quick_all["small"], cache_dir=quick_all["tmp"] / "cache")
    for spec in specs:
        rec = json.loads((out / f"{spec.run_id}.json").read_text())
        for field in RECORD_FIELDS + (KERAS_FIELDS if spec.model not in ("majority", "rescore") else ()):
            assert field in rec, (spec.run_id, field)
        assert 0.0 <= rec["train_accuracy"] <= 1.0 and 0.0 <= rec["test_accuracy"] <= 1.0
        assert rec["config"]["n_train"] == spec.n and rec["config"]["epochs"] == 1
        assert rec["device"].startswith("CPU")
        assert "small.zip" in rec["data"]["source"]
        assert np.sum(rec["confusion_train"]) == spec.n and np.sum(rec["confusion_test"]) == 200
        if spec.model == "rescore":
            # Scoring the last cumulative model again on the test set gives that run's test accuracy.
            last = json.loads((out / f"{spec.warm_from}.json").read_text())
            assert rec["test_accuracy"] == last["test_accuracy"]
            if spec.n == last["config"]["n_train"]:
                assert rec["train_accuracy"] == last["train_accuracy"]
        elif spec.model == "majority":
            # The baseline's accuracy is the majority class's share, counted here from the labels.
            counts = np.bincount(data.y_train[: spec.n], minlength=10)
            assert rec["train_accuracy"] == pytest.approx(counts.max() / spec.n)
            k = int(np.argmax(counts))
            assert rec["test_accuracy"] == pytest.approx(np.mean(data.y_test[:200] == k))
        else:
            assert (out / f"{spec.run_id}.keras").is_file()
            assert rec["n_fit"] == int(np.ceil(spec.n * 0.9)) and rec["n_fit"] + rec["n_val"] == spec.n
            h = rec["history"]
            assert set(h) >= {"accuracy", "loss", "val_accuracy", "val_loss"} and len(h["loss"]) == 1
            expected = {"stride": 37_146, "maxpool": 37_146, "deeper": 23_314}[spec.model]
            assert rec["params"]["total"] == expected
            assert sum(layer["params"] for layer in rec["params"]["layers"]) == expected

    # Tables: the CSVs parse and hold accuracies in [0, 1].
    for name, col in (
        ("table_train_size.csv", "test_accuracy_mean"),
        ("table_train_size_warm.csv", "test_accuracy_mean"),
        ("table_l1.csv", "test_accuracy_mean"),
        ("table_maxpool.csv", "train_accuracy_mean"),
        ("table_deeper.csv", "test_accuracy_mean"),
        ("table_deeper_published_replay.csv", "test_accuracy_mean"),
        ("table_baseline_test.csv", "f1_mean"),
        ("table_history.csv", "val_accuracy"),
    ):
        rows = list(csv.DictReader((out / name).open()))
        assert rows, name
        assert all(0.0 <= float(r[col]) <= 1.0 for r in rows), name
    l1_rows = list(csv.DictReader((out / "table_l1.csv").open()))
    assert [float(r["l1"]) for r in l1_rows] == list(cfg.l1_weights)

    # Plots are real PNGs.
    from PIL import Image

    for png in (
        "history_base.png",
        "history_train_size.png",
        "train_size_accuracy.png",
        "l1_accuracy.png",
        "history_l1.png",
        "deeper_accuracy.png",
        "history_deeper.png",
    ):
        with Image.open(out / png) as im:
            assert im.format == "PNG" and im.size[0] > 300

    for split in ("train", "test"):
        text = (out / f"classification_stride-n400-l1_0.0001-s0_{split}.txt").read_text()
        assert "precision" in text and "confusion matrix" in text
        assert "0 airplane" in text
    report = (out / "REPORT.md").read_text()
    for heading in (
        "Table 1",
        "Tables 3-4",
        "Figure 4",
        "Table 5",
        "Table 6",
        "Tables 7-8",
        "Table 9",
        "20,490",
        "23,314",
    ):
        assert heading in report, heading
    assert "published test" in report and "49.09%" in report  # the published numbers in their own column
    info = json.loads((out / "invocation.json").read_text())
    assert info["invocations"][-1]["status"] == "finished" and info["invocations"][-1]["wall_s"] > 0


@pytest.mark.slow
def test_resume_skips_finished_runs(quick_all, tmp_path, monkeypatch):
    """Rerunning into the same --out trains only what is missing; other settings are refused."""
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(quick_all["out"], out)
    cfg = Config().quick_version().replace(warm_start=True, deterministic=True)
    specs = plan(list(EXPERIMENTS), cfg)
    missing = specs[3]
    (out / f"{missing.run_id}.json").unlink()
    trained = []

    class FakeModel:
        def save(self, path):
            Path(path).write_bytes(b"model")

    # records as the real runs write them, with the data they were made from (its content key)
    def fake_run_keras(spec, cfg, env, out_dir):
        trained.append(spec.run_id)
        rec = {"run": spec.run_id, "train_accuracy": 0.5, "test_accuracy": 0.5, "train_time_s": 1.0}
        return {**rec, "data": env.data_fields}, FakeModel()

    def fake_run_rescore(spec, cfg, env, out_dir):
        trained.append(spec.run_id)
        rec = {"run": spec.run_id, "train_accuracy": 0.5, "test_accuracy": 0.5, "train_time_s": 0.0}
        return {**rec, "data": env.data_fields}

    monkeypatch.setattr(runner, "run_keras", fake_run_keras)
    monkeypatch.setattr(runner, "run_rescore", fake_run_rescore)
    env = RunEnv(data=load(quick_all["small"], cache_dir=quick_all["tmp"] / "cache"), device="test")
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    lines = []
    execute(specs, cfg, env, out, log=lines.append)
    assert trained == [missing.run_id]
    assert sum("skipped" in line for line in lines) == len(specs) - 1
    assert all(p.stat().st_mtime_ns == stamps[p.name] for p in out.glob("*.json") if p.name in stamps)
    # A record suffices: a finished folder without any model resumes as a no-op.
    for model in out.glob("*.keras"):
        model.unlink()
    trained.clear()
    execute(specs, cfg, env, out, log=lines.append)
    assert trained == []
    # A model is needed only while a run that continues it is left: that run's start is trained again first.
    chained = next(s for s in specs if s.warm_from)
    (out / f"{chained.run_id}.json").unlink()
    lines.clear()
    execute(specs, cfg, env, out, log=lines.append)
    assert trained == [chained.warm_from, chained.run_id]
    assert any(line.startswith(f"{chained.warm_from}: its record exists but not its model") for line in lines)
    # --force redoes every run (the baseline is refitted for real, the Keras runs by the fake).
    trained.clear()
    execute(specs, cfg.replace(force=True), env, out, log=lines.append)
    assert len(trained) == sum(s.model != "majority" for s in specs)
    # A finished run made with other settings is not silently reused.
    with pytest.raises(SettingsMismatch, match="epochs 1"):
        execute(specs, cfg.replace(epochs=3), env, out, log=lines.append)


@pytest.mark.slow
def test_cli_errors_are_one_line(tmp_path):
    proc = run_cli(["baseline", "--data", str(tmp_path / "nowhere.zip"), "--out", str(tmp_path / "o")], tmp_path)
    assert proc.returncode != 0
    assert "python -m training.run: error: argument --data: CIFAR-10 path does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.strip().splitlines()[-1].startswith(
        "python -m training.run: error:"
    )
    # A few images (the device is chosen after the data is read): the case is the device, not the 60,000 images
    # of the shared copy the harness would otherwise decode first.
    tiny = tmp_path / "tiny"
    write_python_batches(tiny, np.random.default_rng(0), sizes=(60,), n_test=10)
    args = ["baseline", "--device", "gpu", "--base-size", "50", "--train-sizes", "50", "--data", str(tiny)]
    args += ["--out", str(tmp_path / "o")]
    proc = run_cli(args, tmp_path, CUDA_VISIBLE_DEVICES="")
    assert proc.returncode != 0
    assert "python -m training.run: error: --device gpu" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(["nonsense"], tmp_path)
    assert proc.returncode == 2 and "unknown experiment 'nonsense'" in proc.stderr


@pytest.mark.slow
def test_report_rebuilds_from_records(quick_all, tmp_path, capsys):
    """``python -m training.report DIR`` rebuilds REPORT.md, tables and plots from the JSON records alone."""
    import shutil

    from training import report

    out = tmp_path / "records"
    out.mkdir()
    for p in quick_all["out"].glob("*.json"):
        shutil.copy(p, out)
    assert report.main([str(out)]) == 0
    text = (out / "REPORT.md").read_text()
    assert text == (quick_all["out"] / "REPORT.md").read_text()
    assert (out / "l1_accuracy.png").is_file() and (out / "table_l1.csv").is_file()
    with pytest.raises(SystemExit) as exc:
        report.main([str(tmp_path / "empty")])
    assert exc.value.code == 2 and "error: DIR: no such directory" in capsys.readouterr().err

"""Training the planned runs one after another, and the record each run leaves.

:func:`execute` trains what :func:`training.resume.to_run` says is left. Every finished run
is written atomically as ``<run>.keras`` (the trained model) and then ``<run>.json`` (its
record); a run whose record exists with the same settings is skipped, so an interrupted
invocation resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from training.config import Config
from training.data import Cifar10, subset
from training.files import write_atomic, write_json
from training.registry import MODELS, RunSpec
from training.resume import load_record, to_run

#: Rough cost of one sample-epoch relative to ``stride`` (for the time estimate only).
_COST = {name: m.cost for name, m in MODELS.items()}


@dataclass
class RunEnv:
    """What every run shares: the data, the distribution strategy and descriptions for the records."""

    data: Cifar10
    device: str
    strategy: object | None = None  # a tf.distribute strategy, or None for the default device
    workers: int = 1  # processes training together (MultiWorkerMirroredStrategy)
    chief: bool = True  # whether this process writes records, models and checkpoints

    @property
    def strategy_name(self) -> str:
        """``"default"``, or the strategy's public name (``MultiWorkerMirroredStrategy``'s class is
        ``CollectiveAllReduceStrategy``)."""
        if self.strategy is None:
            return "default"
        import tensorflow as tf

        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return "MultiWorkerMirroredStrategy"
        return type(self.strategy).__name__

    @property
    def replicas(self) -> int:
        return 1 if self.strategy is None else int(self.strategy.num_replicas_in_sync)

    @property
    def multi_worker(self) -> bool:
        return self.strategy_name == "MultiWorkerMirroredStrategy"

    @property
    def distribution(self) -> dict:
        """The record's ``distribution``: strategy name, replicas in sync, worker processes."""
        return {"strategy": self.strategy_name, "replicas": self.replicas, "workers": self.workers}

    @property
    def data_fields(self) -> dict:
        """The record's ``data``: the source described by file name (no folders of this machine), its kind,
        whether shuffled, and its content key."""
        d = self.data
        return {"source": d.record_source(), "kind": d.kind, "shuffled": d.shuffled, "key": d.key}

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def check_agreement(self, plan: list[str]) -> None:
        """Raise ValueError unless every worker has the same ``plan`` (what is left to train, from how far).

        Workers that saw different records or checkpoints in ``--out`` would train different
        runs and wait for each other forever. Each worker reduces a 20-bit hash ``h`` of its
        plan: sum(h)**2 == workers * sum(h**2) holds only when every worker's ``h`` is the same.
        """
        if not self.multi_worker:
            return
        import zlib

        import tensorflow as tf

        h = float(zlib.crc32("\n".join(plan).encode()) % (1 << 20) + 1)
        local = self.strategy.run(lambda: tf.constant([h, h * h], tf.float64))
        total, squares = self.strategy.reduce(tf.distribute.ReduceOp.SUM, local, axis=None).numpy()
        if total * total != self.replicas * squares:
            raise ValueError(
                "the workers found different finished runs or checkpoints in --out: every worker must see "
                "the chief's --out (a folder they share)"
            )

    def barrier(self) -> None:
        """Wait until every worker gets here (a one-number all-reduce); nothing to wait for with one worker.

        Runs at the end of each run, so a worker does not load a model the chief is still writing.
        """
        if not self.multi_worker:
            return
        import tensorflow as tf

        one = self.strategy.run(lambda: tf.constant(1.0))
        self.strategy.reduce(tf.distribute.ReduceOp.SUM, one, axis=None).numpy()


def versions() -> dict[str, str]:
    """Versions of Python, TensorFlow, Keras, NumPy and scikit-learn."""
    import keras
    import sklearn
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "platform": platform.platform(),
        "cpu_count": str(os.cpu_count()),
    }


def _confusion(y, pred) -> list[list[int]]:
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y, pred, labels=list(range(10))).tolist()


def _train_subset(data: Cifar10, n: int, subset_seed: int | None):
    """The first ``n`` training images, or with ``subset_seed`` a seeded random ``n`` of them (sorted)."""
    if subset_seed is None:
        return subset(data.x_train, data.y_train, n)
    idx = np.sort(np.random.default_rng(subset_seed).permutation(len(data.y_train))[:n])
    return data.x_train[idx], data.y_train[idx]


def _test_set(data: Cifar10, cfg: Config):
    if cfg.test_size is None:
        return data.x_test, data.y_test
    return data.x_test[: cfg.test_size], data.y_test[: cfg.test_size]


def _layer_table(model) -> list[dict]:
    return [
        {
            "name": layer.name,
            "type": type(layer).__name__,
            "params": int(layer.count_params()),
            "output_shape": [None if d is None else int(d) for d in layer.output.shape],
        }
        for layer in model.layers
    ]


def _base_record(spec: RunSpec, cfg: Config, env: RunEnv) -> dict:
    return {
        "run": spec.run_id,
        "label": spec.label(),
        "config": {
            "model": spec.model,
            "n_train": spec.n,
            "l1": spec.l1,
            "warm_from": spec.warm_from,
            "epochs": cfg.epochs,
            "batch_size": cfg.batch_size,
            "seed": spec.seed,
            "subset_seed": cfg.subset_seed,
            "validation_split": cfg.validation_split,
            "pipeline": cfg.pipeline,
            "jit_compile": cfg.jit_compile,
            "steps_per_execution": cfg.steps_per_execution,
            "deterministic": cfg.deterministic,
            "test_size": cfg.test_size,
        },
        "device": env.device,
        "distribution": env.distribution,
        "data": env.data_fields,
        "versions": versions(),
    }


def run_majority(spec: RunSpec, cfg: Config, env: RunEnv) -> dict:
    """Fit and score the most-frequent-class baseline; return its record."""
    from sklearn.metrics import accuracy_score

    from training.models import build_baseline

    x, y = _train_subset(env.data, spec.n, cfg.subset_seed)
    x_test, y_test = _test_set(env.data, cfg)
    start = time.perf_counter()
    clf = build_baseline().fit(np.zeros((len(y), 1)), y)
    pred_train = clf.predict(np.zeros((len(y), 1)))
    pred_test = clf.predict(np.zeros((len(y_test), 1)))
    rec = _base_record(spec, cfg, env)
    rec.update(
        majority_class=int(pred_train[0]),
        n_fit=len(y),
        n_val=0,
        n_test=len(y_test),
        train_accuracy=float(accuracy_score(y, pred_train)),
        test_accuracy=float(accuracy_score(y_test, pred_test)),
        train_time_s=time.perf_counter() - start,
        params={"total": 0, "layers": []},
        confusion_train=_confusion(y, pred_train),
        confusion_test=_confusion(y_test, pred_test),
    )
    return rec


def run_rescore(spec: RunSpec, cfg: Config, env: RunEnv, out: Path) -> dict:
    """Score the saved model of ``spec.warm_from`` on the first ``spec.n`` samples and the test set."""
    import keras
    from sklearn.metrics import accuracy_score

    keras.backend.clear_session()
    with env.scope():
        model = keras.models.load_model(out / f"{spec.warm_from}.keras")
    x, y = _train_subset(env.data, spec.n, cfg.subset_seed)
    x_test, y_test = _test_set(env.data, cfg)
    start = time.perf_counter()
    pred_train = _predict(model, x)
    pred_test = _predict(model, x_test)
    rec = _base_record(spec, cfg, env)
    rec.update(
        n_fit=0,
        n_val=0,
        n_test=len(y_test),
        train_accuracy=float(accuracy_score(y, pred_train)),
        test_accuracy=float(accuracy_score(y_test, pred_test)),
        train_time_s=0.0,
        predict_time_s=time.perf_counter() - start,
        params={"total": int(model.count_params()), "layers": _layer_table(model)},
        confusion_train=_confusion(y, pred_train),
        confusion_test=_confusion(y_test, pred_test),
    )
    return rec


def _predict(model, x: np.ndarray) -> np.ndarray:
    from training.pipeline import to_float

    out = np.empty(len(x), dtype=np.int64)
    step = 4096  # convert to float in chunks: 40k images as float32 would need 0.5 GB at once
    for i in range(0, len(x), step):
        out[i : i + step] = model.predict(to_float(x[i : i + step]), batch_size=1024, verbose=0).argmax(axis=1)
    return out


def checkpoint_dir(out: Path, spec: RunSpec) -> Path:
    """Where ``spec``'s per-epoch checkpoints live until its record is written."""
    return out / f"{spec.run_id}.checkpoint"


def _checkpointed_epochs(out: Path, spec: RunSpec) -> int:
    """The epochs of ``spec``'s newest complete checkpoint in ``out`` (0 if none)."""
    done = [p.parent.name for p in checkpoint_dir(out, spec).glob("epoch-*/state.json")]
    return int(max(done).removeprefix("epoch-")) if done else 0


def run_keras(spec: RunSpec, cfg: Config, env: RunEnv, out: Path) -> tuple[dict, object]:
    """Train one Keras run; return its record and the trained model."""
    import keras
    from sklearn.metrics import accuracy_score

    from training.checkpoint import EpochCheckpoint
    from training.models import MODELS, compile_model
    from training.pipeline import make_fit_inputs

    keras.backend.clear_session()
    keras.utils.set_random_seed(spec.seed)
    with env.scope():
        if spec.warm_from:
            model = keras.models.load_model(out / f"{spec.warm_from}.keras")
        else:
            model = compile_model(
                MODELS[spec.model](l1=spec.l1),
                jit_compile=cfg.jit_compile,
                steps_per_execution=cfg.steps_per_execution,
            )
        ckpt = EpochCheckpoint(checkpoint_dir(out, spec), write=env.chief)
        done = ckpt.restore(model)
    if done:
        print(f"  resuming {spec.run_id} after epoch {done} of {cfg.epochs}", flush=True)
    x, y = _train_subset(env.data, spec.n, cfg.subset_seed)
    x_test, y_test = _test_set(env.data, cfg)
    # the batches, the split and the epoch order, the same for both ways of training
    feed = dict(
        batch_size=cfg.batch_size,
        validation_split=cfg.validation_split,
        seed=spec.seed,
        epochs=cfg.epochs,
        initial_epoch=done,
    )
    if env.multi_worker:  # model.fit fails under MultiWorkerMirroredStrategy (keras-team/keras#20585)
        from training.loop import fit_distributed

        verbose = cfg.verbose if env.chief else 0
        n_fit = fit_distributed(model, env.strategy, x, y, callbacks=[ckpt], verbose=verbose, **feed)
    else:
        fit_kwargs, n_fit = make_fit_inputs(cfg.pipeline, x, y, **feed)
        if done < cfg.epochs:
            model.fit(epochs=cfg.epochs, initial_epoch=done, verbose=cfg.verbose, callbacks=[ckpt], **fit_kwargs)
    epoch_times = ckpt.epoch_times
    steady = epoch_times[1:]  # epoch 1 includes tracing and compilation
    pred_train = _predict(model, x)  # model.predict works under MultiWorkerMirroredStrategy too
    pred_test = _predict(model, x_test)
    rec = _base_record(spec, cfg, env)
    rec.update(
        n_fit=n_fit,
        n_val=len(y) - n_fit,
        n_test=len(y_test),
        train_accuracy=float(accuracy_score(y, pred_train)),
        test_accuracy=float(accuracy_score(y_test, pred_test)),
        train_time_s=float(sum(epoch_times)),
        epoch_times_s=epoch_times,
        samples_per_s=(n_fit * len(steady) / sum(steady)) if steady else None,
        resumed_after_epoch=done or None,
        history=ckpt.logs,
        params={"total": int(model.count_params()), "layers": _layer_table(model)},
        confusion_train=_confusion(y, pred_train),
        confusion_test=_confusion(y_test, pred_test),
    )
    return rec, model


def _load() -> float | None:
    """The machine's 1-minute load average (None where the OS does not give one)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def execute(specs: list[RunSpec], cfg: Config, env: RunEnv, out: Path, log=print) -> list[dict]:
    """Run ``specs`` in order, skipping finished ones; return every record.

    Prints ``run i/N: <label>`` with elapsed and estimated remaining time before each
    run, Keras' per-epoch progress during it, and one fixed-column line after it.
    """
    out.mkdir(parents=True, exist_ok=True)
    todo, again = to_run(specs, cfg, out, env.distribution, env.data_fields)
    for rid, needer in again.items():
        log(f"{rid}: its record exists but not its model, which {needer} continues: trained again, record replaced")
    env.check_agreement([f"{s.run_id}@{_checkpointed_epochs(out, s)}" for s in todo])
    cost = {s.run_id: s.n * cfg.epochs * _COST[s.model] for s in todo}
    t0 = time.perf_counter()
    spent = 0.0
    records = []
    for i, spec in enumerate(specs, 1):
        if spec not in todo:
            log(f"run {i}/{len(specs)}: {spec.label()}: finished earlier, skipped ({spec.run_id}.json)")
            records.append(load_record(out, spec.run_id))
            continue
        elapsed = time.perf_counter() - t0
        left = sum(cost[s.run_id] for s in todo[todo.index(spec) :])
        eta = elapsed / spent * left if spent else None
        log(f"run {i}/{len(specs)}: {spec.label()}  [elapsed {_fmt_time(elapsed)}, left ~{_fmt_time(eta)}]")
        began, cpu0, load0 = time.perf_counter(), time.process_time(), _load()
        if spec.model == "majority":
            rec = run_majority(spec, cfg, env)
        elif spec.model == "rescore":
            rec = run_rescore(spec, cfg, env, out)
        else:
            rec, model = run_keras(spec, cfg, env, out)
            if env.chief:
                write_atomic(out / f"{spec.run_id}.keras", model.save)
        # This run's own wall and CPU time (loading its subset, training, scoring, saving), measured here,
        # and the machine's load beside them: two runs finishing in the same second are told apart.
        rec["wall_s"] = time.perf_counter() - began
        rec["cpu_time_s"] = time.process_time() - cpu0
        rec["load_average_1min"] = [load0, _load()]
        rec["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        if env.chief:
            write_json(out / f"{spec.run_id}.json", rec)
            shutil.rmtree(checkpoint_dir(out, spec), ignore_errors=True)
        env.barrier()  # the other workers go on once the chief has written the model a later run may load
        spent += cost[spec.run_id]
        rate = f"{rec['samples_per_s']:7,.0f} samples/s" if rec.get("samples_per_s") else ""
        log(
            f"  done {spec.run_id:32s} train {rec['train_accuracy']:.4f}  test {rec['test_accuracy']:.4f}"
            f"  {rec['train_time_s']:7.1f} s  {rate}"
        )
        sys.stdout.flush()
        records.append(rec)
    return records

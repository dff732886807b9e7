"""Per-epoch checkpoints of a training run, so an interrupted run continues from its last finished epoch.

:class:`EpochCheckpoint` is a Keras callback. After every epoch it stores, in
``<run folder>/epoch-NNNN/``: the weights with the optimizer state (``model.save_weights``),
the dropout layers' random-generator states (which ``save_weights`` leaves out), the
Keras logs of every epoch so far and their wall times. A checkpoint folder is written
under a temporary name and renamed when complete, so a kill at any moment leaves the
previous checkpoint intact. :meth:`EpochCheckpoint.restore` loads the newest one and
returns the epoch to continue from; with the ``tfdata`` pipeline (whose epoch order
depends only on the seed and the epoch number) and ``--deterministic``, the resumed run
is bit-identical to an uninterrupted one. Keras' ``BackupAndRestore`` was not used
because it saves no random-generator state and writes its two files non-atomically.

The same callback is the harness' one epoch timer (:attr:`EpochCheckpoint.epoch_times`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from training.files import write_json


def _rng_variables(model) -> list:
    return [v for v in model.variables if "seed_generator" in v.path]


class EpochCheckpoint(keras.callbacks.Callback):
    """Save the run's state after each epoch into ``folder``; keep the newest checkpoint only.

    ``write=False`` (a non-chief worker of a multi-worker run) keeps time and logs but writes nothing.
    """

    def __init__(self, folder: Path, *, write: bool = True):
        super().__init__()
        self.folder = Path(folder)
        self.write = write
        self.logs: dict[str, list[float]] = {}
        self.epoch_times: list[float] = []
        self._start = None

    def _checkpoints(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.glob("epoch-*") if (p / "state.json").is_file())

    def restore(self, model) -> int:
        """Load the newest checkpoint into ``model`` (compiled); return the number of epochs it holds (0 if none)."""
        found = self._checkpoints()
        if not found:
            return 0
        ckpt = found[-1]
        state = json.loads((ckpt / "state.json").read_text())
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(ckpt / "model.weights.h5")
        for var, value in zip(_rng_variables(model), state["rng"], strict=True):
            var.assign(np.asarray(value, dtype=var.dtype))
        self.logs = state["logs"]
        self.epoch_times = state["epoch_times"]
        return int(state["epochs_done"])

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_times.append(time.perf_counter() - self._start)
        for key, value in (logs or {}).items():
            self.logs.setdefault(key, []).append(float(value))
        if not self.write:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"epoch-{epoch + 1:04d}"
        tmp = self.folder / f".tmp-{final.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        self.model.save_weights(tmp / "model.weights.h5")
        state = {
            "epochs_done": epoch + 1,
            "rng": [np.asarray(v.numpy()).tolist() for v in _rng_variables(self.model)],
            "logs": self.logs,
            "epoch_times": self.epoch_times,
        }
        write_json(tmp / "state.json", state)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in self._checkpoints():
            if old != final:
                shutil.rmtree(old, ignore_errors=True)

    def clear(self) -> None:
        """Delete the checkpoints (the run's record and model are written)."""
        shutil.rmtree(self.folder, ignore_errors=True)

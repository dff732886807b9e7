"""All settings of a ``training.run`` invocation, in one frozen dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

#: The published L1 weights of Part 2b(iv).
PUBLISHED_L1_WEIGHTS = (0.0001, 0.01, 0.1, 1.0, 10.0, 50.0, 100.0, 1000.0)
#: The published training-set sizes of Part 2b(iii) and 2d.
PUBLISHED_TRAIN_SIZES = (5000, 10000, 20000, 40000)


@dataclass(frozen=True)
class Config:
    """Settings shared by every experiment; ``run.py`` fills them from the command line.

    The defaults are the published ones (Part 2 appendix) unless a comment says otherwise.
    """

    epochs: int = 20  # passes over the training subset per run
    batch_size: int = 128  # samples per gradient step
    base_size: int = 5000  # training samples of baseline, history, l1 and maxpool runs
    train_sizes: tuple[int, ...] = PUBLISHED_TRAIN_SIZES  # samples per train-size / deeper run
    l1_weights: tuple[float, ...] = PUBLISHED_L1_WEIGHTS  # L1 weights of the dense kernel, l1 sweep
    l1: float = 1e-4  # L1 weight of every other run
    validation_split: float = 0.1  # share of the subset (its last samples) held out, as Keras' option
    test_size: int | None = None  # test samples scored; None = all 10,000
    seeds: tuple[int, ...] = (0,)  # training seeds: every run is repeated once per seed
    size_seeds: tuple[int, ...] | None = None  # seeds of the train-size and deeper runs; None = ``seeds``
    subset_seed: int | None = None  # None: the first n training images; else a seeded random n
    deterministic: bool = False  # also enable TF op determinism (slower; same seed -> same result)
    warm_start: bool = False  # train-size also replays the published cumulative training
    pipeline: str = "tfdata"  # "tfdata" or "numpy" (the published float arrays); see training.speed
    jit_compile: bool = False  # XLA-compile the train step
    steps_per_execution: int = 1  # batches per call into the compiled train function
    device: str = "auto"  # "auto", "cpu" or "gpu"
    data: str | None = None  # explicit CIFAR-10 path; None = search (training.data)
    quick: bool = False  # tiny smoke-test settings (see quick())
    force: bool = False  # redo runs whose records already exist
    trust_unkeyed: bool = False  # reuse records that name no data content key without checking their data
    verbose: int = 2  # Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch

    @property
    def seed(self) -> int:
        """The first training seed."""
        return self.seeds[0]

    def replace(self, **changes) -> Config:
        """A copy with ``changes`` applied (the dataclass is frozen)."""
        return dataclasses.replace(self, **changes)

    def quick_version(self) -> Config:
        """Settings for a smoke run: a few hundred samples, 1 epoch, two L1 weights.

        Examples
        --------
        >>> Config().quick_version().epochs
        1
        """
        return self.replace(
            quick=True,
            epochs=1,
            base_size=min(self.base_size, 400),
            train_sizes=tuple(s for s in (200, 400)),
            l1_weights=(1e-4, 1000.0),
            test_size=min(self.test_size or 200, 200),
        )

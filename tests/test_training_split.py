"""The validation split is Keras' own: the same cut as ``keras``' ``train_validation_split``, at sizes that
are not multiples of 10."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from training.pipeline import make_fit_inputs, split_point  # noqa: E402  # after importorskip

SIZES = (7, 13, 19, 101, 999, 1234, 4999, 5001)
SPLITS = (0.1, 0.2, 0.25, 0.3, 0.33)


def _keras_split(n: int, validation_split: float) -> int:
    """How many of ``n`` samples Keras itself fits with ``validation_split`` (its own function)."""
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    (fit,), _ = train_validation_split((np.arange(n),), validation_split=validation_split)
    return len(fit)


@pytest.mark.parametrize("validation_split", SPLITS)
def test_split_point_is_keras(validation_split):
    got = [split_point(n, validation_split) for n in SIZES]
    assert got == [_keras_split(n, validation_split) for n in SIZES]


@pytest.mark.parametrize("pipeline", ["numpy", "tfdata"])
def test_both_pipelines_fit_what_keras_fits(pipeline):
    """The samples a pipeline fits are the first ones Keras would fit, the rest are validation."""
    n = 13
    x = np.zeros((n, 32, 32, 3), np.uint8)
    y = np.arange(n) % 10
    _, n_fit = make_fit_inputs(pipeline, x, y, batch_size=4, validation_split=0.1, seed=0, epochs=1)
    assert n_fit == _keras_split(n, 0.1) == 11  # 13 * 0.9 = 11.7: Keras keeps 11, one more goes to validation

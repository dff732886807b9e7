"""fastconv.nn.score: the one scoring routine of python -m fastconv.nn and python -m training.score."""

import numpy as np
import pytest

from fastconv.nn.score import score_arrays, score_lines


class _Table:
    """A stand-in model whose probabilities are given in advance (rows in image order)."""

    def __init__(self, probs):
        self.probs = np.asarray(probs, dtype=np.float32)
        self.calls = []

    def predict(self, x, batch_size):
        self.calls.append((len(x), batch_size))
        return self.probs[: len(x)]


def test_counts_against_a_plain_loop():
    rng = np.random.default_rng(0)
    probs = rng.random((50, 10))
    y = rng.integers(0, 10, 50)
    x = np.zeros((50, 2, 2, 1), np.float32)
    got = score_arrays(_Table(probs), x, y, batch_size=16)
    per_class, correct = [0] * 10, 0
    for i in range(50):
        best = max(range(10), key=lambda c: probs[i, c])
        if best == y[i]:
            correct += 1
            per_class[y[i]] += 1
    assert got["images"] == 50 and got["fastconv"]["correct"] == correct
    assert got["fastconv"]["accuracy"] == correct / 50 and got["fastconv"]["correct_per_class"] == per_class
    assert "keras" not in got and "agreement" not in got


def test_compiles_outside_the_timing_on_one_batch():
    model = _Table(np.eye(10)[[0, 1, 2, 3, 4]])
    score_arrays(model, np.zeros((5, 1, 1, 1), np.float32), np.arange(5), batch_size=3)
    assert model.calls == [(3, 3), (5, 3)]


@pytest.mark.parametrize(
    "x, y, batch, message",
    [
        (np.zeros((3, 1, 1, 1)), np.arange(2), 1, "x has 3 images but y has 2 labels"),
        (np.zeros((0, 1, 1, 1)), np.arange(0), 1, "x holds no image"),
        (np.zeros((2, 1, 1, 1)), np.arange(2), 0, "batch_size must be >= 1, got 0"),
    ],
)
def test_bad_input_is_a_value_error(x, y, batch, message):
    with pytest.raises(ValueError, match=message):
        score_arrays(_Table(np.eye(10)), x, y, batch_size=batch)


def test_lines():
    rec = {
        "images": 10,
        "fastconv": {"correct": 7, "accuracy": 0.7, "seconds": 0.5},
        "keras": {"correct": 6, "accuracy": 0.6, "seconds": 2.0},
        "agreement": {"same_class": 9, "max_abs_prob_diff": 1.5e-6},
    }
    assert score_lines(rec) == [
        "fastconv  accuracy 0.7000 (7/10)  0.50 s (20 images/s)",
        "keras     accuracy 0.6000 (6/10)  2.00 s (5 images/s)",
        "agreement 9/10 same predicted class; max |prob difference| 1.50e-06",
    ]

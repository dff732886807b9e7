"""Layer-by-layer parameter counts of the published networks, from the formulas, not from Keras."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from training.models import (  # noqa: E402  # after importorskip
    MODELS,
    build_baseline,
    build_deeper,
    build_maxpool,
    build_stride,
)


def conv_params(k, cin, cout):
    """A k x k convolution with bias: (k*k*cin + 1) * cout."""
    return (k * k * cin + 1) * cout


def dense_params(fan_in, fan_out):
    return (fan_in + 1) * fan_out


# (layer name, expected parameter count, expected output shape without the batch axis)
STRIDE = [
    ("conv1", conv_params(3, 3, 16), (32, 32, 16)),
    ("conv2", conv_params(3, 16, 16), (16, 16, 16)),
    ("conv3", conv_params(3, 16, 32), (16, 16, 32)),
    ("conv4", conv_params(3, 32, 32), (8, 8, 32)),
    ("dropout", 0, (8, 8, 32)),
    ("flatten", 0, (8 * 8 * 32,)),
    ("dense", dense_params(8 * 8 * 32, 10), (10,)),
]
MAXPOOL = [
    ("conv1", conv_params(3, 3, 16), (32, 32, 16)),
    ("conv2", conv_params(3, 16, 16), (32, 32, 16)),
    ("pool1", 0, (16, 16, 16)),
    ("conv3", conv_params(3, 16, 32), (16, 16, 32)),
    ("conv4", conv_params(3, 32, 32), (16, 16, 32)),
    ("pool2", 0, (8, 8, 32)),
    ("dropout", 0, (8, 8, 32)),
    ("flatten", 0, (8 * 8 * 32,)),
    ("dense", dense_params(8 * 8 * 32, 10), (10,)),
]
DEEPER = [
    ("conv1", conv_params(3, 3, 8), (32, 32, 8)),
    ("conv2", conv_params(3, 8, 8), (16, 16, 8)),
    ("conv3", conv_params(3, 8, 16), (16, 16, 16)),
    ("conv4", conv_params(3, 16, 16), (8, 8, 16)),
    ("conv5", conv_params(3, 16, 32), (8, 8, 32)),
    ("conv6", conv_params(3, 32, 32), (4, 4, 32)),
    ("dropout", 0, (4, 4, 32)),
    ("flatten", 0, (4 * 4 * 32,)),
    ("dense", dense_params(4 * 4 * 32, 10), (10,)),
]


@pytest.mark.parametrize(
    "build, expected",
    [(build_stride, STRIDE), (build_maxpool, MAXPOOL), (build_deeper, DEEPER)],
    ids=["stride", "maxpool", "deeper"],
)
def test_layer_by_layer(build, expected):
    model = build()
    got = [(layer.name, layer.count_params(), tuple(layer.output.shape[1:])) for layer in model.layers]
    assert got == expected
    assert model.count_params() == sum(n for _, n, _ in expected)


def test_totals_and_the_seeds_claims():
    # The report's totals: 37,146 for Part 2a and 2c, 23,314 for 2d (its summary; its text says 23,734).
    assert sum(n for _, n, _ in STRIDE) == 37_146
    assert sum(n for _, n, _ in MAXPOOL) == 37_146
    assert sum(n for _, n, _ in DEEPER) == 23_314
    # The largest layer of the stride model is the dense one, not the 4th conv the published text names.
    counts = {layer.name: layer.count_params() for layer in build_stride().layers}
    assert max(counts, key=counts.get) == "dense"
    assert counts["dense"] == 20_490 and counts["conv4"] == 9_248


def test_registry_and_l1():
    assert set(MODELS) == {"stride", "maxpool", "deeper"}
    dense = build_stride(l1=0.1).get_layer("dense")
    kernel = np.asarray(dense.kernel)
    penalty = float(np.asarray(dense.kernel_regularizer(dense.kernel)))
    assert penalty == pytest.approx(0.1 * np.abs(kernel).sum(), rel=1e-5)


def test_baseline_predicts_majority():
    y = np.array([2, 5, 5, 7, 5, 2])
    clf = build_baseline().fit(np.zeros((len(y), 1)), y)
    assert (clf.predict(np.zeros((4, 1))) == 5).all()


def test_one_table_of_model_names():
    """The registry's table names every network models.py builds, and nothing else trains a network."""
    from training.models import LAYERS
    from training.registry import MODELS as NAMES
    from training.registry import NETWORKS, NO_MODEL

    assert set(NETWORKS) == set(LAYERS) == set(MODELS)
    assert set(NAMES) == set(NETWORKS) | set(NO_MODEL)

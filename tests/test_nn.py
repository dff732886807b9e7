"""fastconv.nn: Keras models saved to .keras files, run without TensorFlow, compared with Keras."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from _training_fixtures import SHARED_ZIP, small_shared_zip, write_python_batches  # noqa: E402 -- after the TensorFlow skip

from fastconv.nn import Model, ModelFileError, UnsupportedLayerError, load_model  # noqa: E402 -- after the TensorFlow skip
from fastconv.nn.cli import main  # noqa: E402 -- after the TensorFlow skip
from fastconv.nn.layers import Dense, Flatten, softmax  # noqa: E402 -- after the TensorFlow skip
from training.data import load as load_cifar  # noqa: E402 -- after the TensorFlow skip
from training.models import build_maxpool, build_stride, compile_model  # noqa: E402 -- after the TensorFlow skip
from training.pipeline import to_float  # noqa: E402 -- after the TensorFlow skip


@pytest.fixture(scope="module")
def cifar_source(tmp_path_factory):
    """A small CIFAR-10 source: real images from the shared zip if present, else random ones."""
    root = tmp_path_factory.mktemp("cifar")
    if SHARED_ZIP.is_file():
        return small_shared_zip(root / "small.zip", per_class_train=40, per_class_test=30)
    write_python_batches(root / "batches", np.random.default_rng(0), sizes=(400,), n_test=300)
    return root / "batches"


@pytest.fixture(scope="module")
def cifar(cifar_source, tmp_path_factory):
    return load_cifar(cifar_source, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def trained_stride(cifar, tmp_path_factory):
    """The seed's stride network trained for two short epochs, saved as .keras."""
    keras.utils.set_random_seed(0)
    model = compile_model(build_stride())
    model.fit(to_float(cifar.x_train), cifar.y_train, batch_size=64, epochs=2, verbose=0)
    path = tmp_path_factory.mktemp("models") / "stride.keras"
    model.save(path)
    return path


def keras_predict(path, x):
    return keras.models.load_model(path, compile=False).predict(x, batch_size=128, verbose=0)


def assert_agrees(path, x):
    want = keras_predict(path, x)
    got = load_model(path).predict(x, batch_size=97)
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-5
    np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))


def test_trained_stride_model_matches_keras(trained_stride, cifar):
    x = to_float(cifar.x_test)
    probs = keras_predict(trained_stride, x)
    assert np.ptp(probs.argmax(axis=1)) > 0, "the test model should not predict one class for everything"
    assert_agrees(trained_stride, x)


def test_maxpool_model_matches_keras(tmp_path):
    keras.utils.set_random_seed(1)
    path = tmp_path / "maxpool.keras"
    build_maxpool().save(path)
    x = np.random.default_rng(1).random((50, 32, 32, 3), dtype=np.float32)
    assert_agrees(path, x)


def test_layer_options_match_keras(tmp_path):
    """Valid padding, dilation, uneven strides, no bias, same pooling, Activation and linear layers."""
    L = keras.layers
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((21, 19, 2)),
            L.Conv2D(5, (3, 2), strides=(2, 1), padding="valid", use_bias=False, name="c1"),
            L.Activation("relu", name="act"),
            L.Conv2D(7, 3, dilation_rate=2, padding="same", activation="relu", name="c2"),
            L.MaxPooling2D(pool_size=3, strides=2, padding="same", name="p1"),
            L.Conv2D(4, 1, name="c3"),
            L.MaxPooling2D(pool_size=(2, 3), name="p2"),
            L.Flatten(name="f"),
            L.Dense(6, activation="relu", name="d1"),
            L.Dropout(0.3, name="drop"),
            L.Dense(3, activation="softmax", name="d2"),
        ]
    )
    path = tmp_path / "options.keras"
    model.save(path)
    x = np.random.default_rng(2).standard_normal((40, 21, 19, 2)).astype(np.float32)
    assert_agrees(path, x)
    names = [layer.name for layer in load_model(path).layers]
    assert names == ["c1", "act", "c2", "p1", "c3", "p2", "f", "d1", "drop", "d2"]


def _save(tmp_path, layers, shape=(8, 8, 3)):
    path = tmp_path / "m.keras"
    keras.Sequential([keras.Input(shape), *layers]).save(path)
    return path


def test_unknown_layer_is_named(tmp_path):
    path = _save(tmp_path, [keras.layers.BatchNormalization(name="bn1"), keras.layers.Flatten()])
    with pytest.raises(UnsupportedLayerError, match=r"layer 'bn1' \(BatchNormalization\) is not supported"):
        load_model(path)


def test_unknown_activation_is_named(tmp_path):
    path = _save(tmp_path, [keras.layers.Conv2D(4, 3, activation="tanh", name="convt")])
    with pytest.raises(UnsupportedLayerError, match=r"layer 'convt' \(Conv2D\) has activation 'tanh'"):
        load_model(path)


def test_channels_first_is_refused(tmp_path):
    path = _save(tmp_path, [keras.layers.MaxPooling2D(2, data_format="channels_first", name="pcf")])
    with pytest.raises(UnsupportedLayerError, match=r"layer 'pcf' \(MaxPooling2D\) has data_format 'channels_first'"):
        load_model(path)


def test_functional_model_is_refused(tmp_path):
    inp = keras.Input((4,))
    path = tmp_path / "f.keras"
    keras.Model(inp, keras.layers.Dense(2)(inp)).save(path)
    with pytest.raises(ModelFileError, match=r"holds a 'Functional' model"):
        load_model(path)


def test_not_a_model_file(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_text("hello")
    with pytest.raises(ModelFileError, match="not a zip archive"):
        load_model(bad)
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load_model(tmp_path / "missing.keras")


def test_wrong_input_shape(trained_stride):
    with pytest.raises(ValueError, match=r"takes inputs of shape \(N, 32, 32, 3\), got \(2, 32, 32, 1\)"):
        load_model(trained_stride)(np.zeros((2, 32, 32, 1), np.float32))


def test_softmax_and_batching_without_keras():
    """A model built by hand: probabilities from a NumPy softmax written here, batches of any size."""
    rng = np.random.default_rng(3)
    k, b = rng.standard_normal((12, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    model = Model("hand", (Flatten("f"), Dense("d", k, b, "softmax")), (3, 4))
    x = rng.standard_normal((10, 3, 4)).astype(np.float32)
    z = x.reshape(10, 12).astype(np.float64) @ k + b
    want = np.exp(z - z.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, batch_size=3), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        model.predict(x, batch_size=0)


@pytest.fixture(scope="module")
def test_npz(cifar, tmp_path_factory):
    """The small test set as a .npz of uint8 images and integer labels."""
    path = tmp_path_factory.mktemp("npz") / "test.npz"
    np.savez(path, images=cifar.x_test, labels=cifar.y_test)
    return path


@pytest.mark.slow
def test_command_scores_and_compares_with_keras(trained_stride, cifar, test_npz, tmp_path, capsys):
    out = tmp_path / "score.json"
    rc = main(
        [str(trained_stride), str(test_npz), "--x", "images", "--y", "labels", "--compare-keras", "--json", str(out)]
    )
    assert rc == 0
    record = json.loads(out.read_text())
    n = len(cifar.y_test)
    assert record["images"] == n
    assert record["agreement"]["same_class"] == n
    assert record["agreement"]["max_abs_prob_diff"] <= 1e-5
    # accuracy recomputed here from Keras' own predictions on x / 255
    want = int((keras_predict(trained_stride, cifar.x_test.astype(np.float32) / 255).argmax(1) == cifar.y_test).sum())
    assert record["keras"]["correct"] == want
    assert record["fastconv"]["correct"] == want
    text = capsys.readouterr().out
    assert f"agreement {n:,}/{n:,} same predicted class" in text


def test_command_user_errors(tmp_path, trained_stride, test_npz, capsys):
    assert main([str(tmp_path / "nope.keras"), str(test_npz)]) == 2
    assert "error: no such model file" in capsys.readouterr().err
    assert main([str(trained_stride), os.fspath(tmp_path / "missing.npz")]) == 2
    assert "error: no such data file" in capsys.readouterr().err
    assert main([str(trained_stride), str(test_npz)]) == 2  # keys x/y absent
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no array 'x'" in err
    assert main([str(trained_stride), str(test_npz), "--n", "0"]) == 2
    assert "--n must be >= 1, got 0" in capsys.readouterr().err
    json_path = tmp_path / "no-such-dir" / "score.json"
    assert main([str(trained_stride), str(test_npz), "--x", "images", "--y", "labels", "--json", str(json_path)]) == 2
    assert "cannot write --json" in capsys.readouterr().err

"""``python -m training.score``: a trained model scored on CIFAR-10 by fastconv, against Keras' own predictions."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from _training_fixtures import SHARED_ZIP, small_shared_zip, write_python_batches  # noqa: E402  # after importorskip

from training.data import load as load_cifar  # noqa: E402  # after importorskip
from training.models import build_stride, compile_model  # noqa: E402  # after importorskip
from training.pipeline import to_float  # noqa: E402  # after importorskip
from training.score import main  # noqa: E402  # after importorskip


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    if SHARED_ZIP.is_file():
        return small_shared_zip(root / "small.zip", per_class_train=20, per_class_test=15)
    write_python_batches(root / "batches", np.random.default_rng(0), sizes=(200,), n_test=150)
    return root / "batches"


@pytest.fixture(scope="module")
def cifar(source, tmp_path_factory):
    """The images as the command reads them, with the decoded-data cache in a temporary folder."""
    saved = os.environ.get("FASTCONV_CACHE")
    os.environ["FASTCONV_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield load_cifar(source)
    if saved is None:
        del os.environ["FASTCONV_CACHE"]
    else:
        os.environ["FASTCONV_CACHE"] = saved


@pytest.fixture(scope="module")
def model_path(cifar, tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = compile_model(build_stride())
    model.fit(to_float(cifar.x_train), cifar.y_train, batch_size=64, epochs=1, verbose=0)
    # Strong class biases: with pixels in [0, 1] they sway the prediction, with unscaled pixels the features
    # swamp them, so scoring unscaled images would change the accuracy (checked in the test).
    dense = model.get_layer("dense")
    dense.set_weights([dense.get_weights()[0], np.random.default_rng(1).normal(0, 2, 10).astype(np.float32)])
    path = tmp_path_factory.mktemp("models") / "stride.keras"
    model.save(path)
    return path


@pytest.mark.slow
def test_scores_and_compares_with_keras(model_path, cifar, source, tmp_path, capsys):
    out = tmp_path / "score.json"
    assert main([str(model_path), "--data", str(source), "--compare-keras", "--json", str(out), "--n", "100"]) == 0
    record = json.loads(out.read_text())
    assert record["images"] == 100
    # The accuracy recomputed here from Keras' own predictions of the same images.
    model = keras.models.load_model(model_path, compile=False)
    y = cifar.y_test[:100]

    def per_class(x):
        pred = model.predict(x, verbose=0).argmax(1)
        return np.bincount(y[pred == y], minlength=10).tolist()

    want = per_class(to_float(cifar.x_test[:100]))
    assert per_class(cifar.x_test[:100].astype(np.float32)) != want  # the check below can tell a scaling slip
    assert record["fastconv"]["correct_per_class"] == want
    assert record["keras"]["correct"] == record["fastconv"]["correct"] == sum(want)
    assert record["agreement"]["same_class"] == 100 and record["agreement"]["max_abs_prob_diff"] <= 1e-5
    assert "agreement 100/100 same predicted class" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["{missing}"], "argument model: no such model file"),
        (["{model}", "--data", "{tmp}"], "argument --data:"),
        (["{model}", "--n", "0"], "argument --n: must be >= 1, got '0'"),
        (["{model}", "--batch-size", "x"], "argument --batch-size: must be >= 1, got 'x'"),
    ],
)
def test_user_errors_are_one_argparse_line(args, message, model_path, tmp_path, capsys):
    fill = {"missing": str(tmp_path / "nope.keras"), "model": str(model_path), "tmp": str(tmp_path)}
    with pytest.raises(SystemExit) as exc:
        main([a.format(**fill) for a in args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("python -m training.score: error: " + message), err


def test_data_not_found_names_every_place_on_its_one_line(model_path, tmp_path, monkeypatch, capsys):
    """Without data: one argparse line naming the places looked at (not a bare "Looked at:")."""
    import training.data as tdata

    monkeypatch.delenv("CIFAR10_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(tdata, "SHARED_ZIP", tmp_path / "absent.zip")

    def offline():
        raise OSError("no network")

    monkeypatch.setattr(tdata, "_keras_download", offline)
    with pytest.raises(SystemExit) as exit_:
        main([str(model_path)])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].count("argument --data") == 1
    assert "absent.zip" in lines[-1] and "CIFAR10_PATH" in lines[-1] and str(tmp_path / "keras") in lines[-1]

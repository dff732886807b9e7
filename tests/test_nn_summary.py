"""Model.summary against Keras' own model.summary() and count_params() on the same tiny model."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from fastconv.nn import load_model  # noqa: E402 -- after the TensorFlow skip

# one row of a summary table: "name (Type)", then "(None, ...)", then the parameter count
_ROW = re.compile(r"(\w+) \((\w+)\)\W+(\((?:None|\d+)(?:, \d+)*\))\W+([\d,]+)")


def _rows(text):
    return [(m[1], m[2], m[3], int(m[4].replace(",", ""))) for m in map(_ROW.search, text.splitlines()) if m]


def _total(text):
    return int(re.search(r"Total params: ([\d,]+)", text)[1].replace(",", ""))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((9, 8, 3)),
            keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.Dropout(0.1, name="drop"),
            keras.layers.Conv2D(6, (1, 2), use_bias=False, name="conv_nobias"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(5, name="dense"),
            keras.layers.Activation("softmax", name="act"),
        ],
        name="tiny",
    )
    path = tmp_path_factory.mktemp("summary") / "tiny.keras"
    model.save(path)
    return model, path


def test_summary_rows_and_totals_match_keras(tiny):
    model, path = tiny
    want = []
    model.summary(print_fn=lambda line, *args, **kwargs: want.append(line))
    want = "\n".join(want)
    got = []
    load_model(path).summary(print_fn=got.append)
    got = got[0]
    assert _rows(want) and _rows(got) == _rows(want)
    assert _total(got) == _total(want) == model.count_params()
    assert got.splitlines()[0] == 'Model: "tiny"'


def test_summary_prints(tiny, capsys):
    load_model(tiny[1]).summary()
    out = capsys.readouterr().out
    assert "conv (Conv2D)" in out and "Total params:" in out


def test_summary_of_a_model_without_input_shape():
    from fastconv.nn import Model
    from fastconv.nn.layers import Dense

    text = []
    Model("free", (Dense("d", np.ones((3, 2)), None),)).summary(print_fn=text.append)
    assert _ROW.search(text[0]) is None  # no shape to show: "?"
    assert "d (Dense)" in text[0] and "?" in text[0] and _total(text[0]) == 6

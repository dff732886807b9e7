"""Hostile ``.keras`` files for ``fastconv.nn``: layers that contradict their weights, malformed files, zip bombs.

The model files are written here by hand (a zip of ``config.json`` and an HDF5
``model.weights.h5``, as Keras 3 lays them out), so no TensorFlow is needed.  A
well-formed one is checked against a forward pass written here in NumPy; each
hostile variant changes one field and must be a :class:`ModelFileError` naming
the layer and the field, and a one-line error of ``python -m fastconv.nn``.
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from fastconv.nn import ModelFileError, load_model  # noqa: E402 -- after the h5py skip
from fastconv.nn.cli import main  # noqa: E402 -- after the h5py skip
from fastconv.nn.layers import Conv2D, MaxPooling2D  # noqa: E402 -- after the h5py skip

ROOT = Path(__file__).resolve().parents[1]

CONFIG = {
    "class_name": "Sequential",
    "config": {
        "name": "hand",
        "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [None, 8, 8, 3], "name": "input"}},
            {
                "class_name": "Conv2D",
                "config": {
                    "name": "c1",
                    "filters": 4,
                    "kernel_size": [3, 3],
                    "strides": [1, 1],
                    "padding": "valid",
                    "dilation_rate": [1, 1],
                    "activation": "relu",
                    "use_bias": True,
                },
            },
            {"class_name": "MaxPooling2D", "config": {"name": "p1", "pool_size": [2, 2], "strides": [2, 2]}},
            {"class_name": "Flatten", "config": {"name": "f"}},
            {"class_name": "Dense", "config": {"name": "d", "units": 5, "activation": "softmax", "use_bias": True}},
        ],
    },
}


def weights(rng=None):
    rng = rng or np.random.default_rng(0)
    return {
        "c1": [rng.standard_normal((3, 3, 3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)],
        "d": [rng.standard_normal((36, 5)).astype(np.float32), rng.standard_normal(5).astype(np.float32)],
    }


def h5_bytes(arrays_by_layer, **dataset_kwargs) -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        for key, (name, arrays) in zip(("conv2d", "dense"), arrays_by_layer.items(), strict=False):
            grp = h5.create_group(f"layers/{key}/vars")
            grp.attrs["name"] = name
            for i, a in enumerate(arrays):
                grp.create_dataset(str(i), data=a, **dataset_kwargs)
    return buf.getvalue()


def write_keras(path, config=CONFIG, arrays=None, *, config_bytes=None, weight_bytes=None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", config_bytes if config_bytes is not None else json.dumps(config))
        z.writestr("model.weights.h5", weight_bytes if weight_bytes is not None else h5_bytes(arrays or weights()))
    return path


def reference_forward(x, w):
    """Conv 3x3 valid + relu, 2x2 max pool, flatten, dense + softmax: plain NumPy loops."""
    k, b = w["c1"]
    n, h, wd, _ = x.shape
    conv = np.zeros((n, h - 2, wd - 2, 4))
    for i in range(h - 2):
        for j in range(wd - 2):
            conv[:, i, j] = np.einsum("nabc,abcf->nf", x[:, i : i + 3, j : j + 3].astype(np.float64), k) + b
    conv = np.maximum(conv, 0)
    pooled = conv.reshape(n, 3, 2, 3, 2, 4).max(axis=(2, 4))
    z = pooled.reshape(n, -1) @ w["d"][0] + w["d"][1]
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.npz"
    rng = np.random.default_rng(1)
    np.savez(path, x=rng.random((6, 8, 8, 3), dtype=np.float32), y=rng.integers(0, 5, 6))
    return path


def test_hand_written_model_is_read_and_matches_numpy(tmp_path):
    w = weights()
    model = load_model(write_keras(tmp_path / "m.keras", arrays=w))
    x = np.random.default_rng(2).random((6, 8, 8, 3), dtype=np.float32)
    np.testing.assert_allclose(model.predict(x), reference_forward(x, w), rtol=1e-4, atol=1e-6)


def mutated(layer: str, field: str, value):
    cfg = copy.deepcopy(CONFIG)
    for entry in cfg["config"]["layers"]:
        if entry["config"]["name"] == layer:
            entry["config"][field] = value
    return cfg


@pytest.mark.parametrize(
    "layer,field,value,message",
    [
        ("p1", "pool_size", [0, 2], r"layer 'p1' \(MaxPooling2D\) has pool_size"),
        ("p1", "pool_size", -1, r"layer 'p1' \(MaxPooling2D\) has pool_size"),
        ("p1", "strides", [2, 0], r"layer 'p1' \(MaxPooling2D\) has strides"),
        ("c1", "strides", 0, r"layer 'c1' \(Conv2D\) has strides"),
        ("c1", "dilation_rate", [1, 0], r"layer 'c1' \(Conv2D\) has dilation_rate"),
        ("c1", "strides", [1.5, 1], r"layer 'c1' \(Conv2D\) has strides"),
        ("c1", "kernel_size", [5, 5], r"layer 'c1' \(Conv2D\) has kernel_size \[5, 5\] but its stored kernel"),
        ("c1", "filters", 8, r"layer 'c1' \(Conv2D\) has filters 8"),
        ("d", "units", 7, r"layer 'd' \(Dense\) has units 7"),
        ("p1", "pool_size", [9, 9], r"layer 'p1' \(MaxPooling2D\): window \(9, 9\) does not fit"),
    ],
)
def test_layer_config_against_its_weights(tmp_path, data, capsys, layer, field, value, message):
    path = write_keras(tmp_path / "bad.keras", mutated(layer, field, value))
    with pytest.raises(ModelFileError, match=message):
        load_model(path)
    assert main([str(path), str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python -m fastconv.nn: error: layer ")


@pytest.mark.parametrize(
    "change,message",
    [
        (
            lambda w: w["c1"].__setitem__(0, w["c1"][0][:, :, :, 0]),
            r"layer 'c1' \(Conv2D\) has a kernel of shape \(3, 3, 3\)",
        ),
        (lambda w: w["c1"].__setitem__(1, w["c1"][1][:3]), r"layer 'c1' \(Conv2D\) has a bias of shape \(3,\)"),
        (
            lambda w: w["c1"].__setitem__(0, w["c1"][0][:, :, :2]),
            r"layer 'c1' \(Conv2D\): its kernel .* takes 2 channels",
        ),
        (
            lambda w: w["d"].__setitem__(0, w["d"][0][:20]),
            r"layer 'd' \(Dense\): its kernel \(20, 5\) takes 20 features",
        ),
        (
            lambda w: w["d"].__setitem__(0, w["d"][0][:, :, None]),
            r"layer 'd' \(Dense\) has a kernel of shape \(36, 5, 1\)",
        ),
        (lambda w: w["d"].pop(), r"layer 'd' \(Dense\) needs 2 weight arrays in the file, found 1"),
    ],
)
def test_stored_weights_against_the_layers(tmp_path, data, capsys, change, message):
    w = weights()
    change(w)
    path = write_keras(tmp_path / "bad.keras", arrays=w)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)
    assert main([str(path), str(data)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_layers_built_in_python_refuse_windows_below_one():
    with pytest.raises(ValueError, match=r"layer 'p' \(MaxPooling2D\) has pool_size \(0, 0\)"):
        MaxPooling2D("p", (0, 0), (1, 1))
    with pytest.raises(ValueError, match=r"layer 'p' \(MaxPooling2D\) has strides -1"):
        MaxPooling2D("p", (2, 2), -1)
    k = np.zeros((3, 3, 1, 2), np.float32)
    with pytest.raises(ValueError, match=r"layer 'c' \(Conv2D\) has strides \(0, 1\)"):
        Conv2D("c", k, None, strides=(0, 1))
    with pytest.raises(ValueError, match=r"layer 'c' \(Conv2D\) has dilation_rate \(1, 0\)"):
        Conv2D("c", k, None, dilation=(1, 0))
    with pytest.raises(ValueError, match=r"layer 'c' \(Conv2D\) has a kernel of shape \(3, 3, 1\)"):
        Conv2D("c", k[..., 0], None)
    # a valid pool still computes the window maximum, checked against NumPy
    x = np.random.default_rng(3).standard_normal((2, 6, 6, 3)).astype(np.float32)
    got = MaxPooling2D("p", (3, 3), (3, 3))(x)
    np.testing.assert_array_equal(got, x.reshape(2, 2, 3, 2, 3, 3).max(axis=(2, 4)))


@pytest.mark.parametrize(
    "config_bytes,message",
    [
        (b"{not json", "config.json is not valid JSON"),
        (b"[1, 2, 3]", "config.json holds a JSON list"),
        (b"[" * 100000 + b"]" * 100000, "config.json"),
        (b"\xff\xfe\x00garbage", "config.json is not valid JSON"),
        (json.dumps({"class_name": "Sequential", "config": {"layers": 5}}).encode(), "no list of layer objects"),
        (json.dumps({"class_name": "Sequential", "config": {"layers": [3]}}).encode(), "no list of layer objects"),
    ],
)
def test_malformed_config_is_one_line(tmp_path, data, capsys, config_bytes, message):
    path = write_keras(tmp_path / "bad.keras", config_bytes=config_bytes)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)
    assert main([str(path), str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_non_hdf5_weights_are_one_line(tmp_path, data, capsys):
    path = write_keras(tmp_path / "bad.keras", weight_bytes=b"this is not HDF5" * 100)
    with pytest.raises(ModelFileError, match="model.weights.h5 is not a readable HDF5 weights file"):
        load_model(path)
    assert main([str(path), str(data)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def peak_rss(args, cwd):
    code = (
        "import resource, subprocess, sys, json;"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "print(json.dumps([p.returncode, p.stderr, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, sys.executable, "-m", "fastconv.nn", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    rc, stderr, kib = json.loads(out.stdout)
    return rc, stderr, kib * 1024


@pytest.mark.slow
def test_zip_bomb_is_refused_from_the_directory(tmp_path, data):
    """1 GiB of zeros in a ~1 MB zip: refused before unpacking, the process stays far below 1 GB."""
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("config.json", json.dumps(CONFIG))
        with z.open("model.weights.h5", "w", force_zip64=True) as f:
            block = bytes(64 << 20)
            for _ in range(16):
                f.write(block)
    assert path.stat().st_size < 10 << 20
    rc, err, rss = peak_rss([path, data], tmp_path)
    assert rc == 2 and err.count("\n") == 1 and "unpacks to 1073741824 bytes" in err, err
    assert rss < 1 << 30, rss


@pytest.mark.slow
def test_hdf5_compression_bomb_is_refused_before_reading(tmp_path, data):
    """A 1 GiB dataset of zeros compressed inside model.weights.h5: the array sizes are checked first."""
    w = weights()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        grp = h5.create_group("layers/conv2d/vars")
        grp.attrs["name"] = "c1"
        grp.create_dataset("0", shape=(16384, 16384), dtype="f4", chunks=(1024, 1024), compression="gzip")
        grp.create_dataset("1", data=w["c1"][1])
    path = write_keras(tmp_path / "bomb.keras", weight_bytes=buf.getvalue())
    assert path.stat().st_size < 10 << 20
    with pytest.raises(ModelFileError, match="MAX_WEIGHTS_BYTES"):
        load_model(path)
    rc, err, rss = peak_rss([path, data], tmp_path)
    assert rc == 2 and "MAX_WEIGHTS_BYTES" in err and err.count("\n") == 1, err
    assert rss < 1 << 30, rss


JUNK = [None, "x", [], {}, -1, 0, 10**30, 2.5, [1, 2, 3], [[1]], True, {"config": 5}, ["a", "b"]]


def test_any_junk_in_any_field_is_a_model_file_error(tmp_path, data, capsys):
    """Every field of every layer (and the layer entries themselves) replaced by junk: a one-line error or a model."""
    from fastconv.nn import UnsupportedLayerError

    fields = [(i, f) for i, e in enumerate(CONFIG["config"]["layers"]) for f in [*e["config"], "class_name", "config"]]
    path = tmp_path / "junk.keras"
    w = h5_bytes(weights())
    for i, field in fields:
        for junk in JUNK:
            cfg = copy.deepcopy(CONFIG)
            entry = cfg["config"]["layers"][i]
            if field in ("class_name", "config"):
                entry[field] = junk
            else:
                entry["config"][field] = junk
            write_keras(path, cfg, weight_bytes=w)
            try:
                load_model(path)
            except (ModelFileError, UnsupportedLayerError):
                pass
            rc = main([str(path), str(data)])
            err = capsys.readouterr().err
            assert rc in (0, 2) and (rc == 0 or err.count("\n") == 1), (field, junk, err)

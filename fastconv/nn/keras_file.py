"""Reading a Keras ``.keras`` file: its layers as :mod:`fastconv.nn.layers` objects, without Keras.

A ``.keras`` file (Keras 3) is a zip holding ``config.json`` (the architecture)
and ``model.weights.h5`` (the weights, one HDF5 group per layer with datasets
``vars/0``, ``vars/1``, ...). Both are read directly with :mod:`zipfile`,
:mod:`json` and ``h5py``: loading does not import TensorFlow or Keras.  Each layer
is built by its class in :data:`fastconv.nn.layers.KERAS_LAYERS` from its config
and weights; :func:`fastconv.nn.load_model` makes a :class:`fastconv.nn.Model` of
what :func:`read_keras` returns.  The sizes read are bounded before anything is
unpacked (:data:`MAX_CONFIG_BYTES`, :data:`MAX_WEIGHTS_BYTES`).
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile

import numpy as np

from .layers import KERAS_LAYERS, ModelFileError, UnsupportedLayerError

#: Keras layer classes :func:`read_keras` can read.
SUPPORTED_LAYERS = ("InputLayer",) + tuple(KERAS_LAYERS)

#: Largest uncompressed ``config.json`` :func:`read_keras` reads (bytes), checked in the zip directory first.
MAX_CONFIG_BYTES = 16 << 20
#: Largest uncompressed ``model.weights.h5``, and largest total of its arrays, :func:`read_keras` reads (bytes).
MAX_WEIGHTS_BYTES = 512 << 20
#: Deepest nesting of lists and objects accepted in ``config.json``.
MAX_CONFIG_DEPTH = 64


def _snake(name: str) -> str:
    """Keras' default object name for a class: ``MaxPooling2D`` -> ``max_pooling2d``."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def _read_weights(h5file, entries) -> dict[str, list[np.ndarray]]:
    """Arrays per layer name from ``model.weights.h5``.

    Each group under ``layers/`` carries the layer's name in the ``name``
    attribute of its ``vars`` group (as Keras 3.15 writes it); when absent, groups are
    matched by Keras' default naming (``conv2d``, ``conv2d_1``, ... in layer order).
    """
    top = h5file["layers"] if "layers" in h5file else None
    if top is None:
        return {}
    by_name: dict[str, list[np.ndarray]] = {}
    unnamed: dict[str, list[np.ndarray]] = {}
    total = 0
    for key in top:
        grp = top[key]
        vars_ = grp.get("vars") if hasattr(grp, "get") else None
        if vars_ is None or not hasattr(vars_, "attrs"):
            continue
        arrays = []
        for i in range(len(vars_)):
            data = vars_.get(str(i))
            if data is None or not hasattr(data, "dtype") or data.dtype.kind not in "biuf":
                raise ModelFileError(f"weights of layer group {key!r}: vars/{i} is missing or not a numeric array")
            total += int(np.prod(data.shape, dtype=object)) * data.dtype.itemsize
            if total > MAX_WEIGHTS_BYTES:
                raise ModelFileError(
                    f"weights of layer group {key!r} bring the arrays to more than "
                    f"fastconv.nn.keras_file.MAX_WEIGHTS_BYTES = {MAX_WEIGHTS_BYTES} bytes"
                )
            arrays.append(np.asarray(data))
        name = vars_.attrs.get("name")
        if isinstance(name, bytes):
            name = name.decode()
        if name:
            by_name[str(name)] = arrays
        else:
            unnamed[key] = arrays
    if unnamed:
        counts: dict[str, int] = {}
        for cls, cfg in entries:
            if cls == "InputLayer":
                continue
            base = _snake(cls)
            k = counts.get(base, 0)
            counts[base] = k + 1
            key = base if k == 0 else f"{base}_{k}"
            if key in unnamed and cfg.get("name") not in by_name:
                by_name[cfg["name"]] = unnamed[key]
    return by_name


def _read_zip(path: str):
    """``(config, weight bytes)`` of a ``.keras`` zip, sizes checked in the zip directory before reading."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = {i.filename: i for i in z.infolist()}
            if "config.json" not in infos or "model.weights.h5" not in infos:
                raise ModelFileError(
                    f"{path} is a zip without config.json and model.weights.h5: not a Keras 3 .keras file"
                )
            for name, limit, setting in (
                ("config.json", MAX_CONFIG_BYTES, "MAX_CONFIG_BYTES"),
                ("model.weights.h5", MAX_WEIGHTS_BYTES, "MAX_WEIGHTS_BYTES"),
            ):
                if infos[name].file_size > limit:
                    raise ModelFileError(
                        f"{path}: {name} unpacks to {infos[name].file_size} bytes, more than "
                        f"fastconv.nn.keras_file.{setting} = {limit}"
                    )
            with z.open(infos["config.json"]) as f:  # reads at most the size in the directory
                text = f.read(MAX_CONFIG_BYTES + 1)
            with z.open(infos["model.weights.h5"]) as f:
                raw_weights = f.read(MAX_WEIGHTS_BYTES + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as err:
        reason = "not a zip archive" if isinstance(err, zipfile.BadZipFile) else str(err)
        raise ModelFileError(f"{path} is not a .keras file ({reason})") from None
    try:
        config = json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{path}: config.json is not valid JSON ({err})") from None
    except RecursionError:
        raise ModelFileError(f"{path}: config.json is nested too deeply to be a model config") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: config.json holds a JSON {type(config).__name__}, not a model object")
    return config, raw_weights


def _sample_shape(shape, cfg) -> tuple:
    """The per-sample part of a Keras batch shape, checked: positive ints (or None for a free size)."""
    ok = isinstance(shape, (list, tuple)) and len(shape) >= 2
    ok = ok and all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 1) for d in shape[1:])
    if not ok:
        raise ModelFileError(f"layer {cfg.get('name')!r} (InputLayer) has batch_shape {shape!r}")
    return tuple(shape[1:])


def _check_shapes(layers, input_shape) -> None:
    """Follow one sample's shape through the layers; a layer that cannot take its input is a ModelFileError."""
    shape = tuple(input_shape)
    for layer in layers:
        try:
            shape = layer.output_shape(shape)
        except ValueError as err:  # the layer's message names it and the shapes
            raise ModelFileError(str(err)) from None


def read_keras(path: str | os.PathLike) -> tuple[str, tuple, tuple | None]:
    """Read a Keras 3 ``.keras`` file of a ``Sequential`` model: its name, its layers, its input shape.

    The layers of :data:`SUPPORTED_LAYERS`, each built by its class of
    :data:`fastconv.nn.layers.KERAS_LAYERS` from its config and weights; the
    shape of one sample followed through them when the file records it.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.keras`` file.

    Returns
    -------
    name : str
        The Keras model's name.
    layers : tuple
        :mod:`fastconv.nn.layers` objects in order (the input layer is not kept).
    input_shape : tuple or None
        The shape of one input sample, when the file records it.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not a ``.keras`` zip with ``config.json`` (valid JSON)
        and ``model.weights.h5`` (HDF5), either unpacks to more than
        :data:`MAX_CONFIG_BYTES` / :data:`MAX_WEIGHTS_BYTES` (read from the zip
        directory before anything is unpacked), the model is not
        ``Sequential``, or a layer's config contradicts its stored weights or
        its input (kernel_size, filters, units, channels, ranks, pool sizes,
        strides and dilations >= 1); the message names the layer and the field.
    UnsupportedLayerError
        For a layer class, activation or option fastconv.nn cannot run; the
        message names the layer.

    Examples
    --------
    >>> from fastconv.nn.keras_file import read_keras
    >>> name, layers, input_shape = read_keras("stride.keras")  # doctest: +SKIP
    """
    import h5py  # optional: fastconv[nn]

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such model file: {path}")
    config, raw_weights = _read_zip(path)
    if not isinstance(config, dict) or config.get("class_name") != "Sequential":
        what = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise ModelFileError(f"{path} holds a {what!r} model; fastconv.nn reads Sequential models only")
    mcfg = config.get("config", {})
    layers = mcfg.get("layers", []) if isinstance(mcfg, dict) else None
    if not isinstance(layers, list) or not all(
        isinstance(e, dict) and isinstance(e.get("config", {}), dict) for e in layers
    ):
        raise ModelFileError(f"{path}: config.json's model config has no list of layer objects")
    entries = [(e.get("class_name"), e.get("config", {})) for e in layers]
    for cls, cfg in entries:
        if not isinstance(cls, str) or not isinstance(cfg.get("name", ""), str):
            raise ModelFileError(
                f"{path}: a layer of config.json has class_name {cls!r} and name {cfg.get('name')!r}; expected strings"
            )
    policy = mcfg.get("dtype")
    if isinstance(policy, dict):
        policy = policy.get("config")
        policy = policy.get("name") if isinstance(policy, dict) else policy
    if policy not in (None, "float32"):
        raise UnsupportedLayerError(f"model {mcfg.get('name')!r} has dtype policy {policy!r}; only float32 runs")
    try:
        with h5py.File(io.BytesIO(raw_weights), "r") as h5:
            weights = _read_weights(h5, entries)
    except (OSError, KeyError, TypeError) as err:
        raise ModelFileError(f"{path}: model.weights.h5 is not a readable HDF5 weights file ({err})") from None

    input_shape = None
    built = []
    for cls, cfg in entries:
        if cls == "InputLayer":
            shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
            if shape:
                input_shape = _sample_shape(shape, cfg)
            continue
        layer_class = KERAS_LAYERS.get(cls)
        if layer_class is None:
            raise UnsupportedLayerError(
                f"layer {cfg.get('name', cls)!r} ({cls}) is not supported by fastconv.nn; "
                f"it runs {', '.join(SUPPORTED_LAYERS)}"
            )
        try:
            built.append(layer_class.from_keras(cfg, weights.get(cfg.get("name", cls))))
        except (ModelFileError, UnsupportedLayerError):
            raise
        except ValueError as err:  # the layers' own checks name the layer and the field
            raise ModelFileError(str(err)) from None
        except (TypeError, KeyError, AttributeError, IndexError, OverflowError) as err:
            raise ModelFileError(
                f"layer {cfg.get('name')!r} ({cls}) has a malformed config: {type(err).__name__}: {err}"
            ) from None
    if input_shape is None:
        shape = mcfg.get("build_input_shape")
        if shape:
            input_shape = _sample_shape(shape, {"name": "build_input_shape"})
    if input_shape is not None:
        _check_shapes(built, input_shape)
    return str(mcfg.get("name", "model")), tuple(built), input_shape

"""Reading a Keras ``.keras`` file into a :class:`Model` of :mod:`fastconv.nn.layers`.

A ``.keras`` file (Keras 3) is a zip holding ``config.json`` (the architecture)
and ``model.weights.h5`` (the weights, one HDF5 group per layer with datasets
``vars/0``, ``vars/1``, ...). Both are read directly with :mod:`zipfile`,
:mod:`json` and ``h5py``: loading does not import TensorFlow or Keras, and the
forward pass uses NumPy and fastconv alone.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass

import numpy as np

from ..nhwc import single_thread_blas
from . import layers as L
from .layers import UnsupportedLayerError

#: Keras layer classes :func:`load_model` can read.
SUPPORTED_LAYERS = ("InputLayer", "Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense", "Activation")


#: Largest uncompressed ``config.json`` :func:`load_model` reads (bytes), checked in the zip directory first.
MAX_CONFIG_BYTES = 16 << 20
#: Largest uncompressed ``model.weights.h5``, and largest total of its arrays, :func:`load_model` reads (bytes).
MAX_WEIGHTS_BYTES = 512 << 20
#: Deepest nesting of lists and objects accepted in ``config.json``.
MAX_CONFIG_DEPTH = 64


class ModelFileError(ValueError):
    """A file that is not a readable Keras 3 ``.keras`` model, or one whose layers contradict their weights.

    The message names the file or the layer and the field.
    """


@dataclass(frozen=True, eq=False)
class Model:
    """A sequential stack of inference layers, as read by :func:`load_model`.

    Attributes
    ----------
    name : str
        The Keras model's name.
    layers : tuple
        The layers in order (:mod:`fastconv.nn.layers` objects; the input layer is not kept).
    input_shape : tuple or None
        Shape of one input sample, e.g. ``(32, 32, 3)``, when the file records it.
    """

    name: str
    layers: tuple
    input_shape: tuple | None = None

    def __call__(self, x) -> np.ndarray:
        """The forward pass of one batch: ``x`` of shape ``(N, *input_shape)`` -> float32 outputs."""
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"x must be a real numeric array, got dtype {x.dtype}")
        if self.input_shape is not None and tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(
                f"model {self.name!r} takes inputs of shape (N, {', '.join(map(str, self.input_shape))}), got {x.shape}"
            )
        y = np.ascontiguousarray(x, dtype=np.float32)
        with single_thread_blas():  # the layers parallelise themselves
            for layer in self.layers:
                y = layer(y)
        return y

    def predict(self, x, batch_size: int = 1000) -> np.ndarray:
        """The forward pass over ``x`` in batches of ``batch_size`` samples (bounded memory).

        A dask array ``x`` gives a lazy dask array, each chunk of samples one task
        (:func:`fastconv.dask.predict`), so a dataset larger than memory can be
        scored on a cluster.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.nn.layers import Dense, Flatten
        >>> m = Model("tiny", (Flatten("f"), Dense("d", np.eye(4, 2), np.zeros(2), "softmax")), (2, 2))
        >>> m.predict(np.zeros((3, 2, 2))).tolist()
        [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]
        """
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if type(x).__module__.startswith("dask."):  # a dask array: a lazy result, one task per chunk of samples
            from ..dask import predict

            return predict(self, x, batch_size)
        x = np.asarray(x)
        if len(x) == 0:
            raise ValueError(f"x must hold at least one sample, got shape {x.shape}")
        parts = [self(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def summary(self) -> str:
        """One line per layer: name, class and main options."""
        return "\n".join(f"{layer.name:<12} {layer!r}" for layer in self.layers)


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
                    f"fastconv.nn.model.MAX_WEIGHTS_BYTES = {MAX_WEIGHTS_BYTES} bytes"
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


def _activation(cls: str, cfg: dict) -> str:
    act = cfg.get("activation", "linear")
    if isinstance(act, dict):  # a serialised activation object
        act = act.get("config", {}).get("name", act.get("class_name"))
    if act not in L.ACTIVATIONS:
        raise UnsupportedLayerError(
            f"layer {cfg.get('name')!r} ({cls}) has activation {act!r}; fastconv.nn supports {', '.join(L.ACTIVATIONS)}"
        )
    return act


def _pair(value, what: str, cfg: dict, cls: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return int(value[0]), int(value[1])
    raise ModelFileError(f"layer {cfg.get('name')!r} ({cls}) has {what} {value!r}; expected one or two integers")


def _channels_last(cls: str, cfg: dict) -> None:
    fmt = cfg.get("data_format") or "channels_last"
    if fmt != "channels_last":
        raise UnsupportedLayerError(
            f"layer {cfg.get('name')!r} ({cls}) has data_format {fmt!r}; fastconv.nn runs channels_last only"
        )


def _padding(cls: str, cfg: dict) -> str:
    padding = str(cfg.get("padding", "valid")).lower()
    if padding not in ("valid", "same"):
        raise UnsupportedLayerError(f"layer {cfg.get('name')!r} ({cls}) has padding {padding!r}")
    return padding


def _weights(name: str, cls: str, weights: dict, count: int) -> list[np.ndarray]:
    arrays = weights.get(name)
    if arrays is None or len(arrays) < count:
        found = "none" if arrays is None else len(arrays)
        raise ModelFileError(f"layer {name!r} ({cls}) needs {count} weight arrays in the file, found {found}")
    return arrays


def _build_layer(cls: str, cfg: dict, weights: dict):
    name = cfg.get("name", cls)
    if cls == "Conv2D":
        _channels_last(cls, cfg)
        if cfg.get("groups", 1) != 1:
            raise UnsupportedLayerError(f"layer {name!r} (Conv2D) has groups={cfg['groups']}; only groups=1 runs")
        use_bias = cfg.get("use_bias", True)
        arrays = _weights(name, cls, weights, 2 if use_bias else 1)
        layer = L.Conv2D(
            name,
            arrays[0],
            arrays[1] if use_bias else None,
            strides=_pair(cfg.get("strides", 1), "strides", cfg, cls),
            padding=_padding(cls, cfg),
            dilation=_pair(cfg.get("dilation_rate", 1), "dilation_rate", cfg, cls),
            activation=_activation(cls, cfg),
        )
        shape = layer.kernel.shape
        if "kernel_size" in cfg and _pair(cfg["kernel_size"], "kernel_size", cfg, cls) != shape[:2]:
            raise ModelFileError(
                f"layer {name!r} (Conv2D) has kernel_size {cfg['kernel_size']!r} but its stored kernel is {shape}"
            )
        if "filters" in cfg and cfg["filters"] != shape[3]:
            raise ModelFileError(
                f"layer {name!r} (Conv2D) has filters {cfg['filters']!r} but its stored kernel is {shape}"
            )
        return layer
    if cls == "Dense":
        use_bias = cfg.get("use_bias", True)
        arrays = _weights(name, cls, weights, 2 if use_bias else 1)
        layer = L.Dense(name, arrays[0], arrays[1] if use_bias else None, activation=_activation(cls, cfg))
        if "units" in cfg and cfg["units"] != layer.kernel.shape[1]:
            raise ModelFileError(
                f"layer {name!r} (Dense) has units {cfg['units']!r} but its stored kernel is {layer.kernel.shape}"
            )
        return layer
    if cls == "MaxPooling2D":
        _channels_last(cls, cfg)
        pool = _pair(cfg.get("pool_size", 2), "pool_size", cfg, cls)
        strides = cfg.get("strides")
        strides = pool if strides is None else _pair(strides, "strides", cfg, cls)
        return L.MaxPooling2D(name, pool, strides, _padding(cls, cfg))
    if cls == "Dropout":
        rate = cfg.get("rate", 0.0)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ModelFileError(f"layer {name!r} (Dropout) has rate {rate!r}; expected a number in [0, 1]")
        return L.Dropout(name, float(rate))
    if cls == "Flatten":
        _channels_last(cls, cfg)
        return L.Flatten(name)
    if cls == "Activation":
        return L.Activation(name, _activation(cls, cfg))
    raise UnsupportedLayerError(
        f"layer {name!r} ({cls}) is not supported by fastconv.nn; it runs {', '.join(SUPPORTED_LAYERS)}"
    )


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
                        f"fastconv.nn.model.{setting} = {limit}"
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
    from .. import _plan

    shape = tuple(input_shape)
    for layer in layers:
        cls = type(layer).__name__
        where = f"layer {layer.name!r} ({cls})"
        if isinstance(layer, (L.Conv2D, L.MaxPooling2D)):
            if len(shape) != 3:
                raise ModelFileError(f"{where} needs (H, W, C) input, but the layer before gives {shape}")
            if isinstance(layer, L.Conv2D):
                k, s, d, channels = layer.kernel.shape[:2], layer.strides, layer.dilation, layer.kernel.shape[3]
                if layer.kernel.shape[2] != shape[2]:
                    raise ModelFileError(
                        f"{where}: its kernel {layer.kernel.shape} takes {layer.kernel.shape[2]} channels, "
                        f"but the layer before gives {shape}"
                    )
            else:
                k, s, d, channels = layer.pool_size, layer.strides, (1, 1), shape[2]
            if None in shape[:2]:
                shape = (None, None, channels)
                continue
            try:
                out = _plan.window(shape[:2], k, s, layer.padding, d).out_hw
            except ValueError:
                out = (0, 0)
            if min(out) < 1:
                raise ModelFileError(f"{where}: window {tuple(k)} does not fit its input {shape}")
            shape = (out[0], out[1], channels)
        elif isinstance(layer, L.Flatten):
            shape = (None,) if None in shape else (int(np.prod(shape)),)
        elif isinstance(layer, L.Dense):
            if len(shape) != 1 or shape[0] not in (None, layer.kernel.shape[0]):
                raise ModelFileError(
                    f"{where}: its kernel {layer.kernel.shape} takes {layer.kernel.shape[0]} features, "
                    f"but the layer before gives {shape}"
                )
            shape = (layer.kernel.shape[1],)


def load_model(path: str | os.PathLike) -> Model:
    """Read a Keras 3 ``.keras`` file of a ``Sequential`` model into a :class:`Model`.

    Layers read: ``Conv2D`` (channels last, any stride, dilation and
    "same"/"valid" padding, with or without bias), ``MaxPooling2D``,
    ``Dropout`` (the identity at inference), ``Flatten``, ``Dense`` and
    ``Activation``, with activations ``linear``, ``relu`` and ``softmax``.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``model.save("name.keras")``.

    Returns
    -------
    Model

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
    >>> from fastconv.nn import load_model
    >>> model = load_model("stride.keras")  # doctest: +SKIP
    >>> probs = model.predict(x_test.astype("float32") / 255)  # doctest: +SKIP
    """
    import h5py

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
        try:
            built.append(_build_layer(cls, cfg, weights))
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
    return Model(str(mcfg.get("name", "model")), tuple(built), input_shape)

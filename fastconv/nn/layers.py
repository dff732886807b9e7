"""Inference-only layers, each a frozen record of its weights and a ``__call__`` on NHWC arrays.

Every layer takes and returns float32 NumPy arrays with the batch first. The
arithmetic is fastconv's and NumPy's only: convolutions run through
:func:`fastconv.conv2d` (with bias and ReLU fused into the convolution),
dense layers through a BLAS ``matmul``.

Each layer class builds itself from its Keras config and stored weights
(``from_keras``), says what shape it gives one sample (``output_shape``) and how
many numbers it holds (``count_params``); :data:`KERAS_LAYERS` finds the class by
its Keras class name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _plan
from .._loops import conv2d as _loops
from .._loops import threads
from ..nhwc import Filters

#: Activations the layers know, by their Keras name.
ACTIVATIONS = ("linear", "relu", "softmax")


class UnsupportedLayerError(ValueError):
    """A saved model holds a layer, or a layer option, that :mod:`fastconv.nn` cannot run."""


class ModelFileError(ValueError):
    """A file that is not a readable Keras 3 ``.keras`` model, or one whose layers contradict their weights.

    The message names the file or the layer and the field.
    """


#: The layer classes by Keras class name, in the order :data:`fastconv.nn.SUPPORTED_LAYERS` lists them.
KERAS_LAYERS: dict[str, type] = {}


def _keras_layer(cls):
    """Register ``cls`` in :data:`KERAS_LAYERS` under its own name (Keras' class name)."""
    KERAS_LAYERS[cls.__name__] = cls
    return cls


# --- reading a Keras config: each reader names the layer, its class and the field -------------------------


def _config_activation(cls: str, cfg: dict) -> str:
    act = cfg.get("activation", "linear")
    if isinstance(act, dict):  # a serialised activation object
        act = act.get("config", {}).get("name", act.get("class_name"))
    if act not in ACTIVATIONS:
        raise UnsupportedLayerError(
            f"layer {cfg.get('name')!r} ({cls}) has activation {act!r}; fastconv.nn supports {', '.join(ACTIVATIONS)}"
        )
    return act


def _config_pair(cls: str, cfg: dict, what: str, default) -> tuple[int, int]:
    value = cfg.get(what, default)
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return int(value[0]), int(value[1])
    raise ModelFileError(f"layer {cfg.get('name')!r} ({cls}) has {what} {value!r}; expected one or two integers")


def _config_channels_last(cls: str, cfg: dict) -> None:
    fmt = cfg.get("data_format") or "channels_last"
    if fmt != "channels_last":
        raise UnsupportedLayerError(
            f"layer {cfg.get('name')!r} ({cls}) has data_format {fmt!r}; fastconv.nn runs channels_last only"
        )


def _config_padding(cls: str, cfg: dict) -> str:
    padding = str(cfg.get("padding", "valid")).lower()
    if padding not in ("valid", "same"):
        raise UnsupportedLayerError(f"layer {cfg.get('name')!r} ({cls}) has padding {padding!r}")
    return padding


def _stored(cls: str, cfg: dict, arrays, use_bias: bool) -> tuple:
    """``(kernel, bias or None)`` from the layer's stored arrays, ModelFileError when too few are stored."""
    count = 2 if use_bias else 1
    if arrays is None or len(arrays) < count:
        found = "none" if arrays is None else len(arrays)
        raise ModelFileError(
            f"layer {cfg.get('name', cls)!r} ({cls}) needs {count} weight arrays in the file, found {found}"
        )
    return arrays[0], (arrays[1] if use_bias else None)


def _spatial(layer, shape, k, strides, dilation, channels) -> tuple:
    """The ``(H, W, C)`` one sample has after a window ``k`` slides over ``shape``; ValueError if it does not fit."""
    where = f"layer {layer.name!r} ({type(layer).__name__})"
    if len(shape) != 3:
        raise ValueError(f"{where} needs (H, W, C) input, but the layer before gives {shape}")
    if None in shape[:2]:
        return (None, None, channels)
    try:
        out = _plan.window(shape[:2], k, strides, layer.padding, dilation).out_hw
    except ValueError:
        out = (0, 0)
    if min(out) < 1:
        raise ValueError(f"{where}: window {tuple(k)} does not fit its input {shape}")
    return (out[0], out[1], channels)


def _window(layer: str, cls: str, field: str, value) -> tuple[int, int]:
    """``value`` as a pair of ints >= 1, or ValueError naming the layer and the field."""
    pair = value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        pair = (value, value)
    ok = isinstance(pair, (tuple, list)) and len(pair) == 2
    ok = ok and all(isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)) for i in pair)
    if not ok or min(pair) < 1:
        raise ValueError(f"layer {layer!r} ({cls}) has {field} {value!r}; expected one or two integers >= 1")
    return int(pair[0]), int(pair[1])


def _weight(layer: str, cls: str, field: str, value, ndim: int) -> np.ndarray:
    """``value`` as a real array of ``ndim`` dimensions, none of them empty, or ValueError naming the layer."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or arr.ndim != ndim or 0 in arr.shape:
        raise ValueError(
            f"layer {layer!r} ({cls}) has a {field} of shape {arr.shape} and dtype {arr.dtype}; "
            f"expected a non-empty {ndim}-D array of real numbers"
        )
    return arr


def _padding_word(layer: str, cls: str, value) -> str:
    if value not in ("valid", "same"):
        raise ValueError(f"layer {layer!r} ({cls}) has padding {value!r}; expected 'valid' or 'same'")
    return value


def _bias(layer: str, cls: str, bias, n: int):
    if bias is None:
        return None
    b = _weight(layer, cls, "bias", bias, 1)
    if b.shape != (n,):
        raise ValueError(f"layer {layer!r} ({cls}) has a bias of shape {b.shape}; its kernel has {n} outputs")
    return b


def softmax(z: np.ndarray) -> np.ndarray:
    """``exp(z - max z) / sum exp(z - max z)`` along the last axis (in place for float arrays).

    Examples
    --------
    >>> softmax(np.array([[0.0, 0.0], [0.0, np.log(3.0)]], dtype=np.float32)).round(3).tolist()
    [[0.5, 0.5], [0.25, 0.75]]
    """
    z = np.asarray(z)
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def activate(z: np.ndarray, activation: str) -> np.ndarray:
    """Apply a Keras activation by name (``"linear"``, ``"relu"`` or ``"softmax"``)."""
    if activation == "relu":
        return np.maximum(z, 0, out=z)
    if activation == "softmax":
        return softmax(z)
    return z


@_keras_layer
@dataclass(frozen=True, eq=False)
class Conv2D:
    """A Keras ``Conv2D`` (channels last, ``groups=1``) with its activation.

    ``kernel`` has shape ``(kh, kw, C, F)`` and ``bias`` ``(F,)`` or is None;
    ``padding`` is ``"valid"`` or ``"same"``.
    """

    name: str
    kernel: np.ndarray = field(repr=False)
    bias: np.ndarray | None = field(repr=False)
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    dilation: tuple[int, int] = (1, 1)
    activation: str = "linear"

    def __post_init__(self):
        object.__setattr__(self, "kernel", _weight(self.name, "Conv2D", "kernel", self.kernel, 4))
        object.__setattr__(self, "strides", _window(self.name, "Conv2D", "strides", self.strides))
        object.__setattr__(self, "dilation", _window(self.name, "Conv2D", "dilation_rate", self.dilation))
        _padding_word(self.name, "Conv2D", self.padding)
        object.__setattr__(self, "bias", _bias(self.name, "Conv2D", self.bias, self.kernel.shape[3]))
        object.__setattr__(self, "_filters", Filters(self.kernel, self.bias))  # weights packed once

    @classmethod
    def from_keras(cls, cfg: dict, arrays) -> Conv2D:
        """The layer of Keras config ``cfg`` and its stored ``arrays`` (kernel, then bias), checked together."""
        name = cfg.get("name", "Conv2D")
        _config_channels_last("Conv2D", cfg)
        if cfg.get("groups", 1) != 1:
            raise UnsupportedLayerError(f"layer {name!r} (Conv2D) has groups={cfg['groups']}; only groups=1 runs")
        kernel, bias = _stored("Conv2D", cfg, arrays, cfg.get("use_bias", True))
        layer = cls(
            name,
            kernel,
            bias,
            strides=_config_pair("Conv2D", cfg, "strides", 1),
            padding=_config_padding("Conv2D", cfg),
            dilation=_config_pair("Conv2D", cfg, "dilation_rate", 1),
            activation=_config_activation("Conv2D", cfg),
        )
        shape = layer.kernel.shape
        if "kernel_size" in cfg and _config_pair("Conv2D", cfg, "kernel_size", None) != shape[:2]:
            raise ModelFileError(
                f"layer {name!r} (Conv2D) has kernel_size {cfg['kernel_size']!r} but its stored kernel is {shape}"
            )
        if "filters" in cfg and cfg["filters"] != shape[3]:
            raise ModelFileError(
                f"layer {name!r} (Conv2D) has filters {cfg['filters']!r} but its stored kernel is {shape}"
            )
        return layer

    def output_shape(self, shape: tuple) -> tuple:
        """The shape of one output sample for an input sample of ``shape`` (None: any size)."""
        if len(shape) == 3 and self.kernel.shape[2] != shape[2]:
            raise ValueError(
                f"layer {self.name!r} (Conv2D): its kernel {self.kernel.shape} takes {self.kernel.shape[2]} "
                f"channels, but the layer before gives {shape}"
            )
        k = self.kernel.shape[:2]
        return _spatial(self, shape, k, self.strides, self.dilation, self.kernel.shape[3])

    def count_params(self) -> int:
        """How many numbers the layer holds (kernel and bias)."""
        return self.kernel.size + (0 if self.bias is None else self.bias.size)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        c = self.kernel.shape[2]
        if x.ndim != 4 or x.shape[3] != c:
            raise ValueError(f"layer {self.name!r} (Conv2D) expects input of shape (N, H, W, {c}), got {x.shape}")
        y = self._filters(x, self.strides, self.padding, dilation=self.dilation, relu=self.activation == "relu")
        return y if self.activation != "softmax" else softmax(y)


@_keras_layer
@dataclass(frozen=True, eq=False)
class MaxPooling2D:
    """A Keras ``MaxPooling2D`` (channels last): the largest value in each window."""

    name: str
    pool_size: tuple[int, int] = (2, 2)
    strides: tuple[int, int] = (2, 2)
    padding: str = "valid"

    def __post_init__(self):
        object.__setattr__(self, "pool_size", _window(self.name, "MaxPooling2D", "pool_size", self.pool_size))
        object.__setattr__(self, "strides", _window(self.name, "MaxPooling2D", "strides", self.strides))
        _padding_word(self.name, "MaxPooling2D", self.padding)

    @classmethod
    def from_keras(cls, cfg: dict, arrays) -> MaxPooling2D:
        """The layer of Keras config ``cfg`` (``strides`` default to ``pool_size``, as Keras')."""
        _config_channels_last("MaxPooling2D", cfg)
        pool = _config_pair("MaxPooling2D", cfg, "pool_size", 2)
        strides = pool if cfg.get("strides") is None else _config_pair("MaxPooling2D", cfg, "strides", None)
        return cls(cfg.get("name", "MaxPooling2D"), pool, strides, _config_padding("MaxPooling2D", cfg))

    def output_shape(self, shape: tuple) -> tuple:
        """The shape of one output sample for an input sample of ``shape`` (None: any size)."""
        return _spatial(self, shape, self.pool_size, self.strides, (1, 1), shape[-1])

    def count_params(self) -> int:
        """0: a pooling layer holds no numbers."""
        return 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4:
            raise ValueError(f"layer {self.name!r} (MaxPooling2D) expects input of shape (N, H, W, C), got {x.shape}")
        n, h, w, c = x.shape
        win = _plan.window((h, w), self.pool_size, self.strides, self.padding, k_name="pool_size")
        (oh, ow), (pt, pl) = win.out_hw, (win.pads[0][0], win.pads[1][0])
        out = np.empty((n, oh, ow, c), dtype=np.float32)
        args = (np.ascontiguousarray(x, np.float32), *self.pool_size, *win.stride, pt, pl, out)
        threads.run(_loops.maxpool, args, n * oh, out.size * self.pool_size[0] * self.pool_size[1])
        return out


@_keras_layer
@dataclass(frozen=True, eq=False)
class Dropout:
    """A Keras ``Dropout``: the identity at inference."""

    name: str
    rate: float = 0.0

    @classmethod
    def from_keras(cls, cfg: dict, arrays) -> Dropout:
        """The layer of Keras config ``cfg``; its ``rate`` must be a number in [0, 1]."""
        name, rate = cfg.get("name", "Dropout"), cfg.get("rate", 0.0)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ModelFileError(f"layer {name!r} (Dropout) has rate {rate!r}; expected a number in [0, 1]")
        return cls(name, float(rate))

    def output_shape(self, shape: tuple) -> tuple:
        """``shape``: dropout keeps the shape."""
        return tuple(shape)

    def count_params(self) -> int:
        """0."""
        return 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x


@_keras_layer
@dataclass(frozen=True, eq=False)
class Flatten:
    """A Keras ``Flatten`` (channels last): ``(N, ...) -> (N, prod(...))`` in C order."""

    name: str

    @classmethod
    def from_keras(cls, cfg: dict, arrays) -> Flatten:
        """The layer of Keras config ``cfg`` (channels last only)."""
        _config_channels_last("Flatten", cfg)
        return cls(cfg.get("name", "Flatten"))

    def output_shape(self, shape: tuple) -> tuple:
        """``(prod(shape),)``, or ``(None,)`` when a size is free."""
        return (None,) if None in shape else (int(np.prod(shape)),)

    def count_params(self) -> int:
        """0."""
        return 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)


@_keras_layer
@dataclass(frozen=True, eq=False)
class Dense:
    """A Keras ``Dense`` on 2-D input: ``activation(x @ kernel + bias)``."""

    name: str
    kernel: np.ndarray = field(repr=False)
    bias: np.ndarray | None = field(repr=False)
    activation: str = "linear"

    def __post_init__(self):
        kernel = _weight(self.name, "Dense", "kernel", self.kernel, 2)
        bias = _bias(self.name, "Dense", self.bias, kernel.shape[1])
        object.__setattr__(self, "kernel", np.ascontiguousarray(kernel, np.float32))
        if bias is not None:
            object.__setattr__(self, "bias", np.ascontiguousarray(bias, np.float32))

    @classmethod
    def from_keras(cls, cfg: dict, arrays) -> Dense:
        """The layer of Keras config ``cfg`` with its stored ``arrays`` (kernel, then bias); ``units`` checked."""
        name = cfg.get("name", "Dense")
        kernel, bias = _stored("Dense", cfg, arrays, cfg.get("use_bias", True))
        layer = cls(name, kernel, bias, activation=_config_activation("Dense", cfg))
        if "units" in cfg and cfg["units"] != layer.kernel.shape[1]:
            raise ModelFileError(
                f"layer {name!r} (Dense) has units {cfg['units']!r} but its stored kernel is {layer.kernel.shape}"
            )
        return layer

    def output_shape(self, shape: tuple) -> tuple:
        """``(units,)`` for an input sample of ``(features,)``; ValueError for another shape."""
        if len(shape) != 1 or shape[0] not in (None, self.kernel.shape[0]):
            raise ValueError(
                f"layer {self.name!r} (Dense): its kernel {self.kernel.shape} takes {self.kernel.shape[0]} features, "
                f"but the layer before gives {shape}"
            )
        return (self.kernel.shape[1],)

    def count_params(self) -> int:
        """How many numbers the layer holds (kernel and bias)."""
        return self.kernel.size + (0 if self.bias is None else self.bias.size)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 2 or x.shape[1] != self.kernel.shape[0]:
            raise ValueError(
                f"layer {self.name!r} (Dense) expects input of shape (N, {self.kernel.shape[0]}), got {x.shape}"
            )
        z = np.matmul(np.asarray(x, np.float32), self.kernel)
        if self.bias is not None:
            z += self.bias
        return activate(z, self.activation)


@_keras_layer
@dataclass(frozen=True, eq=False)
class Activation:
    """A Keras ``Activation`` layer."""

    name: str
    activation: str = "linear"

    @classmethod
    def from_keras(cls, cfg: dict, arrays) -> Activation:
        """The layer of Keras config ``cfg``."""
        return cls(cfg.get("name", "Activation"), _config_activation("Activation", cfg))

    def output_shape(self, shape: tuple) -> tuple:
        """``shape``: an activation keeps the shape."""
        return tuple(shape)

    def count_params(self) -> int:
        """0."""
        return 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return activate(np.array(x, dtype=np.float32), self.activation)

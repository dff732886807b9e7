"""Inference-only layers, each a frozen record of its weights and a ``__call__`` on NHWC arrays.

Every layer takes and returns float32 NumPy arrays with the batch first. The
arithmetic is fastconv's and NumPy's only: convolutions run through
:func:`fastconv.conv2d` (with bias and ReLU fused into the convolution),
dense layers through a BLAS ``matmul``.
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

    def __call__(self, x: np.ndarray) -> np.ndarray:
        c = self.kernel.shape[2]
        if x.ndim != 4 or x.shape[3] != c:
            raise ValueError(f"layer {self.name!r} (Conv2D) expects input of shape (N, H, W, {c}), got {x.shape}")
        y = self._filters(x, self.strides, self.padding, dilation=self.dilation, relu=self.activation == "relu")
        return y if self.activation != "softmax" else softmax(y)


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


@dataclass(frozen=True, eq=False)
class Dropout:
    """A Keras ``Dropout``: the identity at inference."""

    name: str
    rate: float = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x


@dataclass(frozen=True, eq=False)
class Flatten:
    """A Keras ``Flatten`` (channels last): ``(N, ...) -> (N, prod(...))`` in C order."""

    name: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)


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

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 2 or x.shape[1] != self.kernel.shape[0]:
            raise ValueError(
                f"layer {self.name!r} (Dense) expects input of shape (N, {self.kernel.shape[0]}), got {x.shape}"
            )
        z = np.matmul(np.asarray(x, np.float32), self.kernel)
        if self.bias is not None:
            z += self.bias
        return activate(z, self.activation)


@dataclass(frozen=True, eq=False)
class Activation:
    """A Keras ``Activation`` layer."""

    name: str
    activation: str = "linear"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return activate(np.array(x, dtype=np.float32), self.activation)

"""Inference-only layers, each a frozen record of its weights and a ``__call__`` on NHWC arrays.

Every layer takes and returns float32 NumPy arrays with the batch first. The
arithmetic is fastconv's and NumPy's only: convolutions run through
:func:`fastconv.conv2d` (with bias and ReLU fused into the convolution),
dense layers through a BLAS ``matmul``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _validation as v
from .._loops import conv2d as _loops
from .._loops import threads
from ..nhwc import _conv, pack

#: Activations the layers know, by their Keras name.
ACTIVATIONS = ("linear", "relu", "softmax")


class UnsupportedLayerError(ValueError):
    """A saved model holds a layer, or a layer option, that :mod:`fastconv.nn` cannot run."""


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
        kh, kw, c, f = self.kernel.shape
        object.__setattr__(self, "_w2", np.ascontiguousarray(self.kernel, np.float32).reshape(kh * kw * c, f))
        object.__setattr__(self, "_packed", pack(self._w2))  # the direct kernel's weight order, made once
        if self.bias is not None:
            object.__setattr__(self, "_b", np.ascontiguousarray(self.bias, np.float32))
        else:
            object.__setattr__(self, "_b", None)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        kh, kw, c, _ = self.kernel.shape
        if x.ndim != 4 or x.shape[3] != c:
            raise ValueError(f"layer {self.name!r} (Conv2D) expects input of shape (N, H, W, {c}), got {x.shape}")
        y = _conv(
            np.ascontiguousarray(x, np.float32),
            self._w2,
            self._b,
            (kh, kw),
            self.strides,
            self.padding,
            self.dilation,
            self.activation == "relu",
            "auto",
            self._packed,
        )
        return y if self.activation != "softmax" else softmax(y)


@dataclass(frozen=True, eq=False)
class MaxPooling2D:
    """A Keras ``MaxPooling2D`` (channels last): the largest value in each window."""

    name: str
    pool_size: tuple[int, int] = (2, 2)
    strides: tuple[int, int] = (2, 2)
    padding: str = "valid"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        (pt, pb), (pl, pr) = v.normalize_padding(self.padding, (h, w), self.pool_size, self.strides, (1, 1))
        oh = v.output_size(h + pt + pb, self.pool_size[0], self.strides[0], 1)
        ow = v.output_size(w + pl + pr, self.pool_size[1], self.strides[1], 1)
        if oh < 1 or ow < 1:
            raise ValueError(f"layer {self.name!r} (MaxPooling2D): pool {self.pool_size} does not fit input {x.shape}")
        out = np.empty((n, oh, ow, c), dtype=np.float32)
        args = (np.ascontiguousarray(x, np.float32), *self.pool_size, *self.strides, pt, pl, out)
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
        object.__setattr__(self, "kernel", np.ascontiguousarray(self.kernel, np.float32))
        if self.bias is not None:
            object.__setattr__(self, "bias", np.ascontiguousarray(self.bias, np.float32))

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

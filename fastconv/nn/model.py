"""A Keras ``Sequential`` model run by fastconv: :class:`Model`, and :func:`load_model` to read one.

The ``.keras`` file is read by :mod:`fastconv.nn.keras_file` (no TensorFlow or Keras imported); the
forward pass uses NumPy and fastconv alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..nhwc import single_thread_blas
from .keras_file import (  # noqa: F401  (read here before: fastconv.nn.model's names)
    MAX_CONFIG_BYTES,
    MAX_WEIGHTS_BYTES,
    SUPPORTED_LAYERS,
    read_keras,
)
from .layers import ModelFileError, UnsupportedLayerError  # noqa: F401


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

    def summary(self, print_fn=print) -> None:
        """Print the layers as Keras' ``model.summary()`` does: name (type), output shape, parameter count, totals.

        Parameters
        ----------
        print_fn : callable, default print
            Called once with the whole table (a string).

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.nn.layers import Dense, Flatten
        >>> Model("tiny", (Flatten("f"), Dense("d", np.eye(4, 2), np.zeros(2))), (2, 2)).summary()
        Model: "tiny"
        Layer (type)     Output Shape     Param #
        =========================================
        f (Flatten)      (None, 4)              0
        d (Dense)        (None, 2)             10
        =========================================
        Total params: 10
        Trainable params: 10
        Non-trainable params: 0
        """
        rows = [("Layer (type)", "Output Shape", "Param #")]
        shape = self.input_shape
        total = 0
        for layer in self.layers:
            shape = None if shape is None else layer.output_shape(shape)
            shown = "?" if shape is None else "(" + ", ".join(str(d) for d in (None, *shape)) + ")"
            params = layer.count_params()
            total += params
            rows.append((f"{layer.name} ({type(layer).__name__})", shown, f"{params:,}"))
        widths = [max(len(r[i]) for r in rows) + 5 for i in range(2)]
        width = sum(widths) + max(len(r[2]) for r in rows)
        lines = [f'Model: "{self.name}"']
        for n, (name, out, params) in enumerate(rows):
            lines.append(f"{name:<{widths[0]}}{out:<{widths[1]}}{params:>{width - sum(widths)}}")
            if n == 0:
                lines.append("=" * width)
        lines += ["=" * width, f"Total params: {total:,}", f"Trainable params: {total:,}", "Non-trainable params: 0"]
        print_fn("\n".join(lines))


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
    FileNotFoundError, ModelFileError, UnsupportedLayerError
        As :func:`fastconv.nn.keras_file.read_keras` (the message names the file, or the layer and
        the field).

    Examples
    --------
    >>> from fastconv.nn import load_model
    >>> model = load_model("stride.keras")  # doctest: +SKIP
    >>> probs = model.predict(x_test.astype("float32") / 255)  # doctest: +SKIP
    """
    return Model(*read_keras(path))

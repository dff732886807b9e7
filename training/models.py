"""The published CIFAR-10 networks (Part 2a, 2c, 2d) and its most-frequent-class baseline.

Every builder returns a fresh, *uncompiled* ``keras.Sequential``; :func:`compile_model`
adds the published optimiser and loss. Layer names are fixed (``conv1``, ``conv2``, ...,
``dropout``, ``flatten``, ``dense``) so that other code can find the layers of a saved
model by name.

Parameter counts (a 3x3 convolution from ``cin`` to ``cout`` channels has
``(3*3*cin + 1) * cout`` weights, a dense layer ``(fan_in + 1) * 10``):

========  ================================================  ==========
model     layers                                            parameters
========  ================================================  ==========
stride    conv 16, 16/2, 32, 32/2; dropout; dense 2048->10  37,146
maxpool   conv 16, 16, pool, 32, 32, pool; dense 2048->10   37,146
deeper    conv 8, 8/2, 16, 16/2, 32, 32/2; dense 512->10    23,314
========  ================================================  ==========

The largest layer of ``stride`` is the dense one (20,490 weights), not the fourth
convolution (9,248) that the published Part 2b(i) names.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers, regularizers
from sklearn.dummy import DummyClassifier

INPUT_SHAPE = (32, 32, 3)  # CIFAR-10 images: height, width, RGB
NUM_CLASSES = 10
DEFAULT_L1 = 1e-4  # the published L1 weight on the dense layer's kernel
DEFAULT_DROPOUT = 0.5  # the published dropout rate before the dense layer


#: Each network's layers before dropout -> flatten -> dense: ("conv", filters, stride) for a 3x3 convolution
#: (same padding, ReLU) or ("pool", size, size) for max pooling.
LAYERS: dict[str, tuple[tuple[str, int, int], ...]] = {
    # Part 2(a): strided convolutions downsample.
    "stride": (("conv", 16, 1), ("conv", 16, 2), ("conv", 32, 1), ("conv", 32, 2)),
    # Part 2(c), the appendix's ``model2``: max pooling downsamples (its text prints the 2(d) code by mistake).
    "maxpool": (("conv", 16, 1), ("conv", 16, 1), ("pool", 2, 2), ("conv", 32, 1), ("conv", 32, 1), ("pool", 2, 2)),
    # Part 2(d): thinner and deeper; flatten gives 4*4*32 = 512.
    "deeper": (("conv", 8, 1), ("conv", 8, 2), ("conv", 16, 1), ("conv", 16, 2), ("conv", 32, 1), ("conv", 32, 2)),
}


def build(
    name: str,
    l1: float = DEFAULT_L1,
    *,
    dropout: float = DEFAULT_DROPOUT,
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
    num_classes: int = NUM_CLASSES,
) -> keras.Sequential:
    """Build network ``name`` of :data:`LAYERS`: ``Input -> layers -> Dropout -> Flatten -> Dense(softmax, L1)``.

    Parameters
    ----------
    name : {"stride", "maxpool", "deeper"}
    l1 : float, default 1e-4
        Weight of the L1 penalty ``l1 * sum(|W|)`` on the dense layer's kernel (Part 2b(iv) sweeps it).
    dropout : float, default 0.5
        Dropout rate before the dense layer.
    input_shape : tuple of int, default (32, 32, 3)
        Image shape (height, width, channels).
    num_classes : int, default 10
        Number of output classes.

    Returns
    -------
    keras.Sequential
        A fresh, uncompiled model (see :func:`compile_model`).

    Examples
    --------
    >>> [build(n).count_params() for n in ("stride", "maxpool", "deeper")]
    [37146, 37146, 23314]
    """
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=input_shape, name="image"))
    n_conv = n_pool = 0
    for kind, width, stride in LAYERS[name]:
        if kind == "conv":
            n_conv += 1
            conv = layers.Conv2D(width, (3, 3), strides=stride, padding="same", activation="relu", name=f"conv{n_conv}")
            model.add(conv)
        else:
            n_pool += 1
            model.add(layers.MaxPooling2D(pool_size=(width, width), name=f"pool{n_pool}"))
    model.add(layers.Dropout(dropout, name="dropout"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dense(num_classes, activation="softmax", kernel_regularizer=regularizers.l1(l1), name="dense"))
    return model


def build_stride(l1: float = DEFAULT_L1, **options) -> keras.Sequential:
    """The published Part 2(a) network, ``build("stride", ...)``: 37,146 parameters."""
    return build("stride", l1, **options)


def build_maxpool(l1: float = DEFAULT_L1, **options) -> keras.Sequential:
    """The published Part 2(c) network, ``build("maxpool", ...)``: 37,146 parameters (pooling has no weights)."""
    return build("maxpool", l1, **options)


def build_deeper(l1: float = DEFAULT_L1, **options) -> keras.Sequential:
    """The published Part 2(d) network, ``build("deeper", ...)``: 23,314 parameters (its text says 23,734)."""
    return build("deeper", l1, **options)


def build_baseline() -> DummyClassifier:
    """The published baseline: always predict the most frequent training class.

    scikit-learn's ``DummyClassifier(strategy="most_frequent")``; on a tie it
    picks the lowest label. Its accuracy on any set is the share of that class.

    Returns
    -------
    sklearn.dummy.DummyClassifier
        Unfitted; call ``fit(X, y)`` (X is ignored apart from its length).

    Examples
    --------
    >>> import numpy as np
    >>> clf = build_baseline().fit(np.zeros((5, 1)), [3, 8, 8, 1, 8])
    >>> clf.predict(np.zeros((2, 1))).tolist()
    [8, 8]
    """
    return DummyClassifier(strategy="most_frequent")


def compile_model(
    model: keras.Model,
    *,
    jit_compile: bool | str = "auto",
    steps_per_execution: int = 1,
) -> keras.Model:
    """Compile ``model`` as the published code did: Adam (Keras defaults), cross-entropy, accuracy.

    The published code one-hot encodes the labels and uses ``categorical_crossentropy``;
    here the labels stay integers and the loss is ``sparse_categorical_crossentropy``,
    which computes the same value (``-log p[label]``) without the one-hot matrix.

    Parameters
    ----------
    model : keras.Model
        A model from one of the builders.
    jit_compile : bool or "auto", default "auto"
        Passed to ``Model.compile`` (XLA compilation of the train step).
    steps_per_execution : int, default 1
        Batches run per call into the compiled train function.

    Returns
    -------
    keras.Model
        ``model``, compiled in place.

    Examples
    --------
    >>> m = compile_model(build_deeper())
    >>> m.loss
    'sparse_categorical_crossentropy'
    """
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model


#: Keras networks by the name the command line and the run records use.
MODELS: dict[str, Callable[..., keras.Sequential]] = {
    "stride": build_stride,
    "maxpool": build_maxpool,
    "deeper": build_deeper,
}

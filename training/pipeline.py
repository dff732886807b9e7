"""Feeding uint8 CIFAR-10 arrays to ``model.fit``: the seed's way, or through ``tf.data``.

Both hold out the *last* ``validation_split`` share of the samples for validation,
before any shuffling, exactly as Keras' ``validation_split`` does, and scale pixels
to [0, 1] as float32.
"""

from __future__ import annotations

import math

import numpy as np

PIPELINES = ("numpy", "tfdata")


def split_point(n: int, validation_split: float) -> int:
    """Index where Keras' ``validation_split`` cuts ``n`` samples (train = ``[:k]``).

    Examples
    --------
    >>> split_point(5000, 0.1)
    4500
    """
    return int(math.ceil(n * (1.0 - validation_split)))


def to_float(x: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1], the seed's ``x.astype("float32") / 255``.

    Examples
    --------
    >>> to_float(np.array([0, 255], dtype=np.uint8)).tolist()
    [0.0, 1.0]
    """
    return x.astype(np.float32) / np.float32(255)


def make_fit_inputs(
    pipeline: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    validation_split: float,
    seed: int,
    epochs: int = 1,
    initial_epoch: int = 0,
) -> tuple[dict, int]:
    """Keyword arguments for ``model.fit`` (data, batching, validation) and the training-sample count.

    Parameters
    ----------
    pipeline : {"numpy", "tfdata"}
        ``"numpy"``: a float32 array with ``batch_size`` and ``validation_split``, as the
        seed. ``"tfdata"``: uint8 tensors held once, shuffled each epoch (the
        batched, cast and scaled per batch, prefetched.
    x : ndarray, uint8, shape (N, 32, 32, 3)
    y : ndarray of int, shape (N,)
    batch_size : int
    validation_split : float
        Share of samples (the last ones) held out for validation; 0 for none.
    seed : int
        Shuffle seed of the ``tfdata`` pipeline.
    epochs, initial_epoch : int
        The ``tfdata`` stream holds epochs ``initial_epoch .. epochs - 1``, as ``model.fit``
        trains them (a resumed run starts after its last checkpointed epoch).

    Returns
    -------
    kwargs : dict
        Pass as ``model.fit(epochs=..., **kwargs)``.
    n_train : int
        Samples trained on per epoch.

    Examples
    --------
    >>> x = np.zeros((10, 32, 32, 3), np.uint8); y = np.zeros(10, np.int64)
    >>> kwargs, n = make_fit_inputs("numpy", x, y, batch_size=4, validation_split=0.2, seed=0)
    >>> n, kwargs["x"].dtype
    (8, dtype('float32'))
    """
    if pipeline not in PIPELINES:
        raise ValueError(f"pipeline must be one of {PIPELINES}, got {pipeline!r}")
    k = split_point(len(x), validation_split) if validation_split else len(x)
    if pipeline == "numpy":
        kwargs = {"x": to_float(x), "y": y, "batch_size": batch_size, "shuffle": True}
        if validation_split:
            kwargs["validation_split"] = validation_split
        return kwargs, k

    import tensorflow as tf

    def scale(xb, yb):
        return tf.cast(xb, tf.float32) / 255.0, yb

    autotune = tf.data.AUTOTUNE
    xs, ys = tf.constant(x[:k]), tf.constant(y[:k])
    steps = math.ceil(k / batch_size)

    def one_epoch(epoch):
        # The order of epoch e depends on (seed, e) only, so a run resumed at epoch e sees the same batches.
        order = tf.random.experimental.stateless_shuffle(
            tf.range(k, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    def gather(idx):
        return tf.cast(tf.gather(xs, idx), tf.float32) / 255.0, tf.gather(ys, idx)

    train = (
        tf.data.Dataset.range(initial_epoch, epochs)
        .flat_map(one_epoch)
        .map(gather, num_parallel_calls=autotune)
        .prefetch(autotune)
    )
    kwargs = {"x": train, "shuffle": False, "steps_per_epoch": steps}  # shuffled above, per epoch
    if k < len(x):
        kwargs["validation_data"] = (
            tf.data.Dataset.from_tensor_slices((x[k:], y[k:]))
            .batch(batch_size)
            .map(scale, num_parallel_calls=autotune)
            .cache()
            .prefetch(autotune)
        )
    return kwargs, k

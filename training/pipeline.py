"""Feeding uint8 CIFAR-10 arrays to ``model.fit``: the published way, or through ``tf.data``.

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

    Keras 3 rounds down (``int(math.floor(batch_dim * (1.0 - validation_split)))`` in
    ``keras.src.trainers.data_adapters.array_slicing.train_validation_split``), so 7 samples
    at 0.1 give 6 to fit and 1 to validate; the same expression is used here.

    Examples
    --------
    >>> split_point(5000, 0.1), split_point(7, 0.1)
    (4500, 6)
    """
    return int(math.floor(n * (1.0 - validation_split)))


def to_float(x: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1], the published ``x.astype("float32") / 255``.

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
    one_epoch, gather = _epoch_batches(x, y, k, batch_size, seed)
    steps = math.ceil(k / batch_size)
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


def _epoch_batches(x: np.ndarray, y: np.ndarray, k: int, batch_size: int, seed: int):
    """``(one_epoch, gather)`` of the ``tfdata`` pipeline over the first ``k`` samples.

    ``one_epoch(epoch)`` is a dataset of index batches in the order of that epoch, which
    depends on ``(seed, epoch)`` only, so a run resumed at epoch e sees the same batches;
    ``gather`` maps an index batch to its float32 images in [0, 1] and labels.
    """
    import tensorflow as tf

    xs, ys = tf.constant(x[:k]), tf.constant(y[:k])

    def one_epoch(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(k, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    def gather(idx):
        return tf.cast(tf.gather(xs, idx), tf.float32) / 255.0, tf.gather(ys, idx)

    return one_epoch, gather


def make_sharded_inputs(
    x: np.ndarray, y: np.ndarray, *, batch_size: int, validation_split: float, seed: int
) -> tuple[object, object | None, int]:
    """The ``tfdata`` pipeline's data for a custom training loop under a multi-worker strategy.

    The same split (:func:`split_point`), the same batches in the same order per epoch as
    :func:`make_fit_inputs` with ``"tfdata"``; every dataset carries
    ``AutoShardPolicy.DATA``, so ``strategy.experimental_distribute_dataset`` splits each
    global batch of ``batch_size`` samples between the workers.

    Returns
    -------
    train_epoch : callable
        ``train_epoch(epoch)`` -> ``tf.data.Dataset`` of ``(images, labels)`` batches of that epoch.
    validation : tf.data.Dataset or None
        The held-out samples in batches, or None without ``validation_split``.
    n_train : int
        Samples trained on per epoch.

    Examples
    --------
    >>> x = np.zeros((10, 32, 32, 3), np.uint8); y = np.arange(10)
    >>> train_epoch, val, n = make_sharded_inputs(x, y, batch_size=4, validation_split=0.2, seed=0)
    >>> n, [len(b[1]) for b in train_epoch(0)], [b[1].numpy().tolist() for b in val]
    (8, [4, 4], [[8, 9]])
    """
    import tensorflow as tf

    k = split_point(len(x), validation_split) if validation_split else len(x)
    one_epoch, gather = _epoch_batches(x, y, k, batch_size, seed)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    autotune = tf.data.AUTOTUNE

    def train_epoch(epoch: int):
        batches = one_epoch(tf.constant(epoch, tf.int64)).map(gather, num_parallel_calls=autotune)
        return batches.prefetch(autotune).with_options(options)

    validation = None
    if k < len(x):
        validation = (
            tf.data.Dataset.from_tensor_slices((x[k:], y[k:]))
            .batch(batch_size)
            .map(lambda xb, yb: (tf.cast(xb, tf.float32) / 255.0, yb), num_parallel_calls=autotune)
            .cache()
            .prefetch(autotune)
            .with_options(options)
        )
    return train_epoch, validation, k

"""A custom training loop for ``MultiWorkerMirroredStrategy``, where Keras 3's ``model.fit`` fails.

``model.fit`` under ``tf.distribute.MultiWorkerMirroredStrategy`` stops with a
PerReplica-to-Tensor conversion error (keras-team/keras#20585), so a multi-worker run
trains with :func:`fit_distributed` instead: the ``tfdata`` pipeline's batches
(:func:`training.pipeline.make_sharded_inputs`) split between the workers, one
``strategy.run`` per global batch under ``tf.GradientTape``, the gradients summed across
replicas by the optimizer. It computes what ``model.fit`` computes: the loss of a step
is the batch's mean cross-entropy plus the model's regularisation losses (the L1
penalty), the epoch's ``loss``/``accuracy`` are their sample-weighted means over the
epoch and ``val_loss``/``val_accuracy`` the same over the held-out samples after it.
"""

from __future__ import annotations

import time

import numpy as np


def _sum_replicas(strategy, value):
    import tensorflow as tf

    return strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)


def fit_distributed(
    model,
    strategy,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    validation_split: float,
    seed: int,
    epochs: int,
    initial_epoch: int = 0,
    callbacks=(),
    verbose: int = 0,
) -> int:
    """Train the compiled ``model`` (built in ``strategy.scope()``) for ``epochs - initial_epoch`` epochs.

    Parameters
    ----------
    model : keras.Model
        Compiled with an optimizer and ``sparse_categorical_crossentropy`` (the harness' models).
    strategy : tf.distribute.Strategy
        The strategy whose scope holds the model's variables.
    x, y : ndarray
        uint8 images (N, 32, 32, 3) and integer labels; the last ``validation_split`` share is held out.
    batch_size : int
        The global batch: each step trains on ``batch_size`` samples split between the replicas.
    validation_split : float
        As ``model.fit``'s.
    seed : int
        Shuffle seed: epoch e's batch order is the ``tfdata`` pipeline's for (seed, e).
    epochs, initial_epoch : int
        As ``model.fit``'s.
    callbacks : sequence of keras.callbacks.Callback
        Their ``on_epoch_begin``/``on_epoch_end`` are called with ``model.fit``'s logs
        (``accuracy``, ``loss``, ``val_accuracy``, ``val_loss``).
    verbose : int
        Non-zero: print one line per epoch.

    Returns
    -------
    int
        Samples trained on per epoch.

    Examples
    --------
    >>> import tensorflow as tf  # doctest: +SKIP
    >>> fit_distributed(model, tf.distribute.MultiWorkerMirroredStrategy(), x, y, batch_size=128,
    ...                 validation_split=0.1, seed=0, epochs=20)  # doctest: +SKIP
    4500
    """
    import keras
    import tensorflow as tf

    from training.pipeline import make_sharded_inputs

    train_epoch, validation, n_train = make_sharded_inputs(
        x, y, batch_size=batch_size, validation_split=validation_split, seed=seed
    )
    optimizer = model.optimizer
    cross_entropy = keras.losses.sparse_categorical_crossentropy

    def sums(labels, probs, per_example, regularisation):
        n = tf.cast(tf.shape(labels)[0], tf.float32)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(probs, axis=-1), tf.cast(labels, tf.int64)), tf.float32))
        return tf.stack([tf.reduce_sum(per_example) + regularisation * n, correct, n])

    def train_replica(images, labels, global_size):
        with tf.GradientTape() as tape:
            probs = model(images, training=True)
            per_example = cross_entropy(labels, probs)
            regularisation = tf.add_n([tf.constant(0.0), *model.losses])
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_size)
            loss += tf.nn.scale_regularization_loss(regularisation)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return sums(labels, probs, per_example, regularisation)

    def eval_replica(images, labels):
        probs = model(images, training=False)
        regularisation = tf.add_n([tf.constant(0.0), *model.losses])
        return sums(labels, probs, cross_entropy(labels, probs), regularisation)

    @tf.function
    def train_step(images, labels, global_size):
        return _sum_replicas(strategy, strategy.run(train_replica, args=(images, labels, global_size)))

    @tf.function
    def eval_step(images, labels):
        return _sum_replicas(strategy, strategy.run(eval_replica, args=(images, labels)))

    val_batches = strategy.experimental_distribute_dataset(validation) if validation is not None else None
    for callback in callbacks:
        callback.set_model(model)
    for epoch in range(initial_epoch, epochs):
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        start = time.perf_counter()
        total = np.zeros(3)
        for step, (images, labels) in enumerate(strategy.experimental_distribute_dataset(train_epoch(epoch))):
            global_size = tf.constant(min(batch_size, n_train - step * batch_size), tf.int64)
            total += train_step(images, labels, global_size).numpy()
        logs = {"accuracy": total[1] / total[2], "loss": total[0] / total[2]}
        if val_batches is not None:
            total = np.zeros(3)
            for images, labels in val_batches:
                total += eval_step(images, labels).numpy()
            logs.update(val_accuracy=total[1] / total[2], val_loss=total[0] / total[2])
        if verbose:
            text = " - ".join(f"{k}: {v:.4f}" for k, v in sorted(logs.items()))
            print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - start:.0f}s - {text}", flush=True)
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
    return n_train

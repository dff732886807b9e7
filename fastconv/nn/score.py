"""Scoring a classifier on labelled images with fastconv, optionally against Keras' own predictions.

:func:`score_arrays` is the one scoring routine of ``python -m fastconv.nn`` and of the training
harness' ``python -m training.score``: fastconv's forward pass on the images (its kernels compiled
outside the timing), the correct predictions overall and per class, and with ``keras_path`` the
same images through Keras' ``model.predict`` (predicted classes compared, the largest probability
difference). :func:`score_lines` formats such a result for a terminal.
"""

from __future__ import annotations

import os
import time

import numpy as np

__all__ = ["keras_predict", "score_arrays", "score_lines"]


def keras_predict(path: str | os.PathLike, x: np.ndarray, batch_size: int) -> tuple[np.ndarray, float]:
    """Keras' ``model.predict`` of the ``.keras`` file at ``path`` on ``x``: (probabilities, seconds).

    The model is built and traced on one batch outside the timing.

    Raises
    ------
    ImportError
        Without Keras (TensorFlow).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    model = keras.models.load_model(path, compile=False)
    model.predict(x[:batch_size], batch_size=batch_size, verbose=0)  # build and trace outside the timing
    t0 = time.perf_counter()
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(probs), time.perf_counter() - t0


def score_arrays(
    model, x: np.ndarray, y: np.ndarray, *, batch_size: int = 1000, keras_path: str | os.PathLike | None = None
) -> dict:
    """Accuracy of ``model`` (a :class:`fastconv.nn.Model`) on images ``x`` with integer labels ``y``.

    Parameters
    ----------
    model : fastconv.nn.Model
        The classifier; ``model.predict(x, batch_size=...)`` gives class probabilities.
    x : ndarray, float32, shape (N, H, W, C)
        The images, scaled as the model was trained on them.
    y : ndarray of int, shape (N,)
        The true classes.
    batch_size : int, default 1000
        Images per forward pass.
    keras_path : path-like, optional
        The model's ``.keras`` file: also score it with Keras and compare.

    Returns
    -------
    dict
        ``images``; ``fastconv``: ``correct``, ``accuracy``, ``correct_per_class``, ``seconds``; with
        ``keras_path`` also ``keras`` (``correct``, ``accuracy``, ``seconds``) and ``agreement``
        (``same_class``, ``max_abs_prob_diff``).

    Raises
    ------
    ValueError
        When ``x`` and ``y`` differ in length, hold no image, a label is not one of the model's classes,
        or ``batch_size`` is below 1 (or the model rejects the images).
    ImportError
        With ``keras_path`` and no Keras.

    Examples
    --------
    >>> class Two:  # a stand-in model: class 1 when the first pixel is above 0.5
    ...     def predict(self, x, batch_size):
    ...         p = (x[:, 0, 0, 0] > 0.5).astype("float32")
    ...         return np.stack([1 - p, p], axis=1)
    >>> x = np.array([0.9, 0.1, 0.8, 0.2], dtype="float32").reshape(4, 1, 1, 1)
    >>> r = score_arrays(Two(), x, np.array([1, 0, 0, 0]))
    >>> r["fastconv"]["correct"], r["fastconv"]["correct_per_class"]
    (3, [2, 1])
    """
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels")
    if len(y) == 0:
        raise ValueError("x holds no image")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    first = model.predict(x[: min(len(x), batch_size)], batch_size=batch_size)  # compile the kernels outside the timing
    classes = np.shape(first)[1]
    if int(y.min()) < 0 or int(y.max()) >= classes:
        raise ValueError(
            f"labels must be classes 0 to {classes - 1} of the model's {classes} outputs, "
            f"got values from {int(y.min())} to {int(y.max())}"
        )
    t0 = time.perf_counter()
    probs = np.asarray(model.predict(x, batch_size=batch_size))
    seconds = time.perf_counter() - t0
    pred = probs.argmax(axis=1)
    hit = pred == y
    correct = int(hit.sum())
    record = {
        "images": int(len(y)),
        "fastconv": {
            "correct": correct,
            "accuracy": correct / len(y),
            "correct_per_class": np.bincount(y[hit], minlength=probs.shape[1]).tolist(),
            "seconds": seconds,
        },
    }
    if keras_path is not None:
        kprobs, kseconds = keras_predict(keras_path, x, batch_size)
        kpred = kprobs.argmax(axis=1)
        kcorrect = int((kpred == y).sum())
        record["keras"] = {"correct": kcorrect, "accuracy": kcorrect / len(y), "seconds": kseconds}
        record["agreement"] = {
            "same_class": int((kpred == pred).sum()),
            "max_abs_prob_diff": float(np.abs(kprobs - probs).max()),
        }
    return record


def score_lines(record: dict) -> list[str]:
    """The terminal lines of a :func:`score_arrays` result: accuracy and speed of each, and their agreement.

    Examples
    --------
    >>> score_lines({"images": 4, "fastconv": {"correct": 3, "accuracy": 0.75, "seconds": 0.5}})
    ['fastconv  accuracy 0.7500 (3/4)  0.50 s (8 images/s)']
    """
    n = record["images"]
    lines = []
    for name in ("fastconv", "keras"):
        if name in record:
            r = record[name]
            rate = f" ({n / r['seconds']:,.0f} images/s)" if r["seconds"] > 0 else ""
            lines.append(f"{name:9s} accuracy {r['accuracy']:.4f} ({r['correct']:,}/{n:,})  {r['seconds']:.2f} s{rate}")
    if "agreement" in record:
        a = record["agreement"]
        lines.append(
            f"agreement {a['same_class']:,}/{n:,} same predicted class; max |prob difference| "
            f"{a['max_abs_prob_diff']:.2e}"
        )
    return lines

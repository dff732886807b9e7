"""``python -m fastconv.nn MODEL.keras``: score a saved Keras model on CIFAR-10 with fastconv alone.

The test images are read with :func:`training.data.load` (the shared zip, an
official batches directory, ... see ``--data``) and scaled as the harness
scales them for training, ``x.astype("float32") / 255``.  With
``--compare-keras`` the same images also go through Keras' ``model.predict``
and the two are compared: predicted classes and the largest probability
difference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m fastconv.nn",
        description="Score a Keras .keras CIFAR-10 model on the test set with fastconv's forward pass "
        "(no TensorFlow), optionally against Keras itself.",
    )
    p.add_argument("model", help="a .keras file saved by Keras 3 (e.g. a run of python -m training.run)")
    p.add_argument(
        "--data",
        default=None,
        help="CIFAR-10 source: a zip or directory of image folders, or cifar-10-batches-py "
        "(default: $CIFAR10_PATH, then ../shared/data/cifar10-jpeg.zip, then the Keras cache)",
    )
    p.add_argument("--n", type=int, default=None, help="score only the first N test images (default: all)")
    p.add_argument("--batch-size", type=int, default=1000, help="images per forward pass (default 1000)")
    p.add_argument(
        "--compare-keras",
        action="store_true",
        help="also run keras model.predict on the same images and report agreement",
    )
    p.add_argument("--json", metavar="PATH", default=None, help="also write the figures to PATH as JSON")
    return p


def _fail(message: str) -> int:
    print(f"python -m fastconv.nn: error: {message}", file=sys.stderr)
    return 2


def _load_test_set(source, n):
    from training.data import DataError, load
    from training.pipeline import to_float

    try:
        data = load(source)
    except DataError as e:
        raise ValueError(str(e).splitlines()[0]) from None
    x, y = data.x_test, data.y_test
    if n is not None:
        x, y = x[:n], y[:n]
    return to_float(x), np.asarray(y), data.describe()


def _keras_predict(path, x, batch_size):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    model = keras.models.load_model(path, compile=False)
    model.predict(x[:batch_size], batch_size=batch_size, verbose=0)  # build and trace outside the timing
    t0 = time.perf_counter()
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(probs), time.perf_counter() - t0


def main(argv=None) -> int:
    """Run the command; returns the exit status (0, or 2 on a user error)."""
    args = _parser().parse_args(argv)
    if args.n is not None and args.n < 1:
        return _fail(f"--n must be >= 1, got {args.n}")
    if args.batch_size < 1:
        return _fail(f"--batch-size must be >= 1, got {args.batch_size}")

    from .layers import UnsupportedLayerError
    from .model import ModelFileError, load_model

    try:
        model = load_model(args.model)
    except (FileNotFoundError, ModelFileError, UnsupportedLayerError) as e:
        return _fail(str(e))
    try:
        x, y, described = _load_test_set(args.data, args.n)
    except ImportError as e:
        return _fail(f"reading CIFAR-10 needs the training package ({e})")
    except ValueError as e:
        return _fail(str(e))
    try:
        model.predict(x[: min(len(x), args.batch_size)], batch_size=args.batch_size)  # compile the kernels
        t0 = time.perf_counter()
        probs = model.predict(x, batch_size=args.batch_size)
        seconds = time.perf_counter() - t0
    except ValueError as e:
        return _fail(str(e))
    pred = probs.argmax(axis=1)
    correct = int((pred == y).sum())
    record = {
        "model": os.path.abspath(args.model),
        "data": described,
        "images": int(len(y)),
        "fastconv": {"correct": correct, "accuracy": correct / len(y), "seconds": seconds},
    }
    print(f"model     {args.model} ({model.name}, {len(model.layers)} layers)")
    print(f"data      {described}; scoring {len(y):,} test images")
    print(
        f"fastconv  accuracy {correct / len(y):.4f} ({correct:,}/{len(y):,})  "
        f"{seconds:.2f} s ({len(y) / seconds:,.0f} images/s)"
    )
    if args.compare_keras:
        try:
            kprobs, kseconds = _keras_predict(args.model, x, args.batch_size)
        except ImportError as e:
            return _fail(f"--compare-keras needs TensorFlow/Keras ({e})")
        kpred = kprobs.argmax(axis=1)
        kcorrect = int((kpred == y).sum())
        same = int((kpred == pred).sum())
        diff = float(np.abs(kprobs - probs).max())
        record["keras"] = {"correct": kcorrect, "accuracy": kcorrect / len(y), "seconds": kseconds}
        record["agreement"] = {"same_class": same, "max_abs_prob_diff": diff}
        print(
            f"keras     accuracy {kcorrect / len(y):.4f} ({kcorrect:,}/{len(y):,})  "
            f"{kseconds:.2f} s ({len(y) / kseconds:,.0f} images/s)"
        )
        print(f"agreement {same:,}/{len(y):,} same predicted class; max |prob difference| {diff:.2e}")
    if args.json:
        try:
            with open(args.json, "w") as f:
                json.dump(record, f, indent=2)
        except OSError as e:
            return _fail(f"cannot write --json {args.json}: {e.strerror}")
    return 0

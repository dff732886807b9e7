"""``python -m training.score MODEL.keras``: a trained model's CIFAR-10 test accuracy, computed by fastconv.

The test images come from :func:`training.data.load` (``--data``, or the search order
of :mod:`training.data`) and are scaled as for training, ``x.astype("float32") / 255``;
fastconv's forward pass (:mod:`fastconv.nn`, no TensorFlow) predicts them. With
``--compare-keras`` the same images also go through Keras' ``model.predict``, and the
two are compared: predicted classes and the largest probability difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from training.files import write_json

PROG = "python -m training.score"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Score a Keras .keras CIFAR-10 model on the test set with fastconv's forward pass "
        "(no TensorFlow), optionally against Keras itself.",
    )
    p.add_argument("model", help="a .keras file saved by Keras 3 (e.g. a run of python -m training.run)")
    p.add_argument("--data", default=None, help="CIFAR-10 source (default: the search order of training.data)")
    p.add_argument("--n", type=_positive, default=None, help="score only the first N test images (default: all)")
    p.add_argument("--batch-size", type=_positive, default=1000, help="images per forward pass (default 1000)")
    p.add_argument("--compare-keras", action="store_true", help="also run Keras' model.predict and compare")
    p.add_argument("--json", metavar="PATH", default=None, help="also write the figures to PATH as JSON")
    return p


def _keras_predict(path: str, x: np.ndarray, batch_size: int) -> tuple[np.ndarray, float]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    model = keras.models.load_model(path, compile=False)
    model.predict(x[:batch_size], batch_size=batch_size, verbose=0)  # build and trace outside the timing
    t0 = time.perf_counter()
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(probs), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Run the command; return the exit status (0; a user error exits with 2 through argparse)."""
    parser = build_parser()
    args = parser.parse_args(argv)

    from fastconv.nn import ModelFileError, UnsupportedLayerError, load_model
    from training.data import DataError, load
    from training.pipeline import to_float

    try:
        model = load_model(args.model)
    except (FileNotFoundError, ModelFileError, UnsupportedLayerError) as e:
        parser.error(f"argument model: {e}")
    try:
        data = load(args.data)
    except DataError as e:
        parser.error(f"argument --data: {str(e).splitlines()[0]}")
    x, y = data.x_test[: args.n], np.asarray(data.y_test[: args.n])
    x = to_float(x)
    try:
        model.predict(x[: args.batch_size], batch_size=args.batch_size)  # compile the kernels outside the timing
        t0 = time.perf_counter()
        probs = model.predict(x, batch_size=args.batch_size)
        seconds = time.perf_counter() - t0
    except ValueError as e:
        parser.error(f"argument model: {e}")
    pred = probs.argmax(axis=1)
    correct = int((pred == y).sum())
    record = {
        "model": os.path.abspath(args.model),
        "data": data.describe(),
        "images": len(y),
        "fastconv": {
            "correct": correct,
            "accuracy": correct / len(y),
            "correct_per_class": np.bincount(y[pred == y], minlength=10).tolist(),
            "seconds": seconds,
        },
    }
    print(f"model     {args.model} ({model.name}, {len(model.layers)} layers)")
    print(f"data      {data.describe()}; scoring {len(y):,} test images")
    print(f"fastconv  accuracy {correct / len(y):.4f} ({correct:,}/{len(y):,})  {seconds:.2f} s")
    if args.compare_keras:
        kprobs, kseconds = _keras_predict(args.model, x, args.batch_size)
        kpred = kprobs.argmax(axis=1)
        kcorrect = int((kpred == y).sum())
        same = int((kpred == pred).sum())
        diff = float(np.abs(kprobs - probs).max())
        record["keras"] = {"correct": kcorrect, "accuracy": kcorrect / len(y), "seconds": kseconds}
        record["agreement"] = {"same_class": same, "max_abs_prob_diff": diff}
        print(f"keras     accuracy {kcorrect / len(y):.4f} ({kcorrect:,}/{len(y):,})  {kseconds:.2f} s")
        print(f"agreement {same:,}/{len(y):,} same predicted class; max |prob difference| {diff:.2e}")
    if args.json:
        try:
            write_json(args.json, record)
        except OSError as e:
            parser.error(f"argument --json: cannot write {args.json}: {e.strerror}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

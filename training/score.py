"""``python -m training.score MODEL.keras``: a trained model's CIFAR-10 test accuracy, computed by fastconv.

The test images come from :func:`training.data.load` (``--data``, or the search order
of :mod:`training.data`) and are scaled as for training, ``x.astype("float32") / 255``;
fastconv's forward pass (:mod:`fastconv.nn`, no TensorFlow) predicts them, scored by
:func:`fastconv.nn.score.score_arrays` (the routine of ``python -m fastconv.nn``). With
``--compare-keras`` the same images also go through Keras' ``model.predict``, and the
two are compared: predicted classes and the largest probability difference.
"""

from __future__ import annotations

import argparse
import os
import sys

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


def main(argv: list[str] | None = None) -> int:
    """Run the command; return the exit status (0; a user error exits with 2 through argparse)."""
    parser = build_parser()
    args = parser.parse_args(argv)

    from fastconv.nn import ModelFileError, UnsupportedLayerError, load_model
    from fastconv.nn.score import score_arrays, score_lines
    from training.data import DataError, load
    from training.pipeline import to_float

    try:
        model = load_model(args.model)
    except (FileNotFoundError, ModelFileError, UnsupportedLayerError) as e:
        parser.error(f"argument model: {e}")
    try:
        data = load(args.data)
    except DataError as e:
        # one line: the message's first line, and the places it lists (a list of "  - place" lines) after it
        first, *rest = str(e).splitlines()
        places = "; ".join(line.strip()[2:] for line in rest if line.startswith("  - "))
        parser.error(f"argument --data: {first} {places}" if places else f"argument --data: {first}")
    x, y = data.x_test[: args.n], np.asarray(data.y_test[: args.n])
    x = to_float(x)
    try:
        scored = score_arrays(
            model, x, y, batch_size=args.batch_size, keras_path=args.model if args.compare_keras else None
        )
    except ValueError as e:
        parser.error(f"argument model: {e}")
    record = {"model": os.path.abspath(args.model), "data": data.record_source(), "data_key": data.key, **scored}
    print(f"model     {args.model} ({model.name}, {len(model.layers)} layers)")
    print(f"data      {data.describe()}; scoring {len(y):,} test images")
    print("\n".join(score_lines(scored)))
    if args.json:
        try:
            write_json(args.json, record)
        except OSError as e:
            parser.error(f"argument --json: cannot write {args.json}: {e.strerror}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m fastconv.nn MODEL.keras DATA``: score a saved Keras model with fastconv alone.

``DATA`` is a ``.npz`` holding images (``x``, shape ``(N, H, W, C)``) and
integer class labels (``y``, shape ``(N,)``; other key names with ``--x`` and
``--y``), or a ``.npy`` of images with the labels in a second ``.npy`` given
by ``--labels``.  Integer images are scaled by 1/255 before the forward pass
(as a model trained on ``x / 255`` expects), float images are used as they
are; ``--scale`` sets the divisor.  With ``--compare-keras`` the same images
also go through Keras' ``model.predict`` and the two are compared: predicted
classes and the largest probability difference.

Scoring a model of the CIFAR-10 harness on CIFAR-10 itself is
``python -m training.score``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

PROG = "python -m fastconv.nn"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Score a Keras .keras image classifier on images and labels from .npz/.npy files with "
        "fastconv's forward pass (no TensorFlow), optionally against Keras itself.",
    )
    p.add_argument("model", help="a .keras file saved by Keras 3")
    p.add_argument("data", help="a .npz with images and labels, or a .npy of images (labels from --labels)")
    p.add_argument("--x", default="x", help="key of the images in a .npz (default x)")
    p.add_argument("--y", default="y", help="key of the labels in a .npz (default y)")
    p.add_argument("--labels", metavar="NPY", default=None, help="labels for a .npy of images")
    p.add_argument(
        "--scale",
        type=float,
        default=None,
        help="divide the images by this before the forward pass (default: 255 for integer images, 1 for floats)",
    )
    p.add_argument("--n", type=int, default=None, help="score only the first N images (default: all)")
    p.add_argument("--batch-size", type=int, default=1000, help="images per forward pass (default 1000)")
    p.add_argument(
        "--compare-keras",
        action="store_true",
        help="also run keras model.predict on the same images and report agreement",
    )
    p.add_argument("--json", metavar="PATH", default=None, help="also write the figures to PATH as JSON")
    return p


class _UserError(Exception):
    """A mistake in the command line or its files: reported as one line, exit status 2."""


def _load_arrays(args):
    """``(x, y)`` from the data file(s) named on the command line."""
    path = args.data
    if not os.path.isfile(path):
        raise _UserError(f"no such data file: {path}")
    try:
        if path.endswith(".npz"):
            with np.load(path) as data:
                missing = [k for k in (args.x, args.y) if k not in data.files]
                if missing:
                    raise _UserError(f"{path} has no array {missing[0]!r} (it holds {', '.join(data.files)})")
                x, y = data[args.x], data[args.y]
        else:
            x = np.load(path)
            if args.labels is None:
                raise _UserError(f"--labels is needed with a .npy of images ({path})")
            y = np.load(args.labels)
    except (OSError, ValueError) as e:
        raise _UserError(f"cannot read {path}: {e}") from None
    if x.ndim != 4:
        raise _UserError(f"images must be (N, H, W, C), got shape {x.shape}")
    y = np.asarray(y).reshape(-1)
    if y.dtype.kind not in "iu" or len(y) != len(x):
        raise _UserError(f"labels must be {len(x)} integers, got dtype {y.dtype} and {len(y)} values")
    if args.n is not None:
        x, y = x[: args.n], y[: args.n]
    scale = args.scale if args.scale is not None else (255.0 if x.dtype.kind in "biu" else 1.0)
    return (x.astype(np.float32) / np.float32(scale)), y


def _check_writable(path: str) -> None:
    """Fail now, not after the scoring, if ``--json PATH`` cannot be written."""
    try:
        with open(path, "a"):
            pass
    except OSError as e:
        raise _UserError(f"cannot write --json {path}: {e.strerror}") from None


def score(args) -> dict:
    """Score ``args.model`` on the arrays of ``args``; print the figures and return them as a record."""
    from .layers import UnsupportedLayerError
    from .model import ModelFileError, load_model
    from .score import score_arrays, score_lines

    if args.n is not None and args.n < 1:
        raise _UserError(f"--n must be >= 1, got {args.n}")
    if args.batch_size < 1:
        raise _UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.json:
        _check_writable(args.json)
    try:
        model = load_model(args.model)
    except (FileNotFoundError, ModelFileError, UnsupportedLayerError) as e:
        raise _UserError(str(e)) from None
    except ImportError as e:  # h5py comes with the nn extra
        raise _UserError(f"reading .keras weights needs {e.name}: pip install 'fastconv[nn]'") from None
    x, y = _load_arrays(args)
    try:
        scored = score_arrays(
            model, x, y, batch_size=args.batch_size, keras_path=args.model if args.compare_keras else None
        )
    except ValueError as e:
        raise _UserError(str(e)) from None
    except ImportError as e:
        raise _UserError(f"--compare-keras needs TensorFlow/Keras ({e})") from None
    record = {"model": os.path.abspath(args.model), "data": os.path.abspath(args.data), **scored}
    print(f"model     {args.model} ({model.name}, {len(model.layers)} layers)")
    print(f"data      {args.data}; scoring {len(y):,} images")
    print("\n".join(score_lines(scored)))
    return record


def main(argv=None) -> int:
    """Run the command; returns the exit status (0, or 2 on a user error)."""
    args = _parser().parse_args(argv)
    try:
        record = score(args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(record, f, indent=2)
    except _UserError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    return 0

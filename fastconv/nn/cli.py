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
import math
import os
import sys
import zipfile

import numpy as np
import numpy.lib.format as npformat

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


#: The most image values (images x height x width x channels) one run scores: 2**27, 512 MiB as float32.
#: Checked from the arrays' headers before anything is read or decompressed, so a small file that
#: unpacks to a huge array is refused; ``--n`` scores fewer images.
MAX_IMAGE_VALUES = 1 << 27

#: Bytes read and converted to float32 at a time.
_BLOCK_BYTES = 16 << 20


class _Array:
    """An array in a ``.npy`` file or a ``.npz`` member, its header read but not its data.

    ``read(count)`` reads and returns the first ``count`` entries along the first axis only:
    a ``.npz`` member is decompressed as a stream, a ``.npy`` file mapped.
    """

    def __init__(self, path: str, key: str | None = None):
        self.path, self.key = path, key
        self.where = f"{path}" if key is None else f"array {key!r} of {path}"
        if key is None:
            try:
                self._mapped = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError, EOFError) as e:
                raise _UserError(f"cannot read {path}: {e}") from None
            if not isinstance(self._mapped, np.ndarray):
                raise _UserError(f"cannot read {path}: a .npz archive given where a .npy array is needed")
            self.shape, self.dtype = self._mapped.shape, self._mapped.dtype
            self.fortran = False
            return
        self._mapped = None
        with self._open() as f:
            self.shape, self.fortran, self.dtype = self._header(f)
        if self.dtype.hasobject:
            raise _UserError(f"{self.where} holds Python objects, not numbers")

    def _open(self):
        try:
            z = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            reason = "not a zip archive" if isinstance(e, zipfile.BadZipFile) else str(e)
            raise _UserError(f"cannot read {self.path}: {reason} (a .npz is a zip of .npy files)") from None
        names = [n[: -len(".npy")] for n in z.namelist() if n.endswith(".npy")]
        if self.key not in names:
            z.close()
            raise _UserError(f"{self.path} has no array {self.key!r} (it holds {', '.join(names) or 'none'})")
        member = z.open(f"{self.key}.npy")
        return _Closing(member, z)

    def _header(self, f):
        try:
            version = npformat.read_magic(f)
            if version == (1, 0):
                return npformat.read_array_header_1_0(f)
            if version == (2, 0):
                return npformat.read_array_header_2_0(f)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise _UserError(f"cannot read {self.where}: {e}") from None
        raise _UserError(f"cannot read {self.where}: .npy format version {version} is not read here")

    def read(self, count: int, convert) -> np.ndarray:
        """The first ``count`` entries along axis 0, each block passed through ``convert`` as it is read."""
        per = math.prod(self.shape[1:])
        if self._mapped is not None:
            src = self._mapped
            rows = max(1, _BLOCK_BYTES // max(1, per * self.dtype.itemsize))
            first = convert(np.asarray(src[: min(rows, count)]))
            out = np.empty((count,) + first.shape[1:], first.dtype)
            out[: len(first)] = first
            for i in range(len(first), count, rows):
                out[i : i + rows] = convert(np.asarray(src[i : min(i + rows, count)]))
            return out
        if self.fortran:  # the first entries are not stored together: the whole array (within the limit)
            with self._open() as f:
                self._header(f)
                whole = self._bytes(f, math.prod(self.shape) * self.dtype.itemsize)
            arr = np.frombuffer(whole, self.dtype).reshape(self.shape, order="F")
            return convert(arr[:count])
        rows = max(1, _BLOCK_BYTES // max(1, per * self.dtype.itemsize))
        out = None
        with self._open() as f:
            self._header(f)
            for i in range(0, count, rows):
                m = min(rows, count - i)
                block = np.frombuffer(self._bytes(f, m * per * self.dtype.itemsize), self.dtype)
                block = convert(block.reshape((m,) + tuple(self.shape[1:])))
                if out is None:
                    out = np.empty((count,) + block.shape[1:], block.dtype)
                out[i : i + m] = block
        return out

    def _bytes(self, f, size: int) -> bytes:
        try:
            data = f.read(size)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise _UserError(f"cannot read {self.where}: {e}") from None
        if len(data) != size:
            raise _UserError(f"cannot read {self.where}: the file is shorter than its header says (truncated?)")
        return data


class _Closing:
    """A zip member that closes its zip file with it."""

    def __init__(self, member, z):
        self.member, self.z = member, z

    def __enter__(self):
        return self.member

    def __exit__(self, *exc):
        self.member.close()
        self.z.close()


def _load_arrays(args):
    """``(x, y)`` from the data file(s) named on the command line: x scaled to float32, y the labels.

    Only the first ``--n`` images and labels are read (a ``.npz`` member is decompressed as a stream),
    after their headers are checked: four dimensions, integer labels, as many labels as images, and
    at most :data:`MAX_IMAGE_VALUES` image values.
    """
    path = args.data
    if not os.path.isfile(path):
        raise _UserError(f"no such data file: {path}")
    if path.endswith(".npz"):
        xs, ys = _Array(path, args.x), _Array(path, args.y)
    else:
        if args.labels is None:
            raise _UserError(f"--labels is needed with a .npy of images ({path})")
        if not os.path.isfile(args.labels):
            raise _UserError(f"no such labels file: {args.labels}")
        xs, ys = _Array(path), _Array(args.labels)
    if len(xs.shape) != 4:
        raise _UserError(f"images must be (N, H, W, C), got shape {xs.shape}")
    if xs.dtype.kind not in "biuf":
        raise _UserError(f"images must be integers or real floats, got dtype {xs.dtype}")
    n_labels = math.prod(ys.shape)
    if ys.dtype.kind not in "iu" or n_labels != xs.shape[0] or (len(ys.shape) > 1 and max(ys.shape[1:]) != 1):
        raise _UserError(f"labels must be {xs.shape[0]} integers, got dtype {ys.dtype} and shape {ys.shape}")
    count = xs.shape[0] if args.n is None else min(args.n, xs.shape[0])
    if count == 0 or 0 in xs.shape:
        raise _UserError(f"{xs.where} holds no images (shape {xs.shape})")
    values = count * math.prod(xs.shape[1:])
    if values > MAX_IMAGE_VALUES:
        raise _UserError(
            f"scoring {count:,} images of {xs.shape[1:]} is {values:,} values, more than "
            f"fastconv.nn.cli.MAX_IMAGE_VALUES = {MAX_IMAGE_VALUES:,}; pass --n to score fewer"
        )
    scale = args.scale if args.scale is not None else (255.0 if xs.dtype.kind in "biu" else 1.0)
    divisor = np.float32(scale)
    x = xs.read(count, lambda b: b.astype(np.float32) / divisor)
    y = ys.read(count, lambda b: np.array(b).reshape(-1))  # (N,) or (N, 1): one label each, dtype kept
    return x, y


def _check_json_output(args) -> None:
    """Fail now, not after the scoring, if ``--json PATH`` would replace an input or cannot be written.

    Nothing is created here: the file is written only once the figures are known (:func:`_write_json`).
    """
    from .._output import OutputError, check_output

    path = args.json
    inputs = [p for p in (args.model, args.data, args.labels) if p]
    try:
        check_output(path, inputs)
    except OutputError as e:
        raise _UserError(f"--json: {e}") from None
    if _special(path):
        if not os.access(path, os.W_OK):
            raise _UserError(f"cannot write --json {path}: permission denied")
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise _UserError(f"cannot write --json {path}: folder {folder}: No such file or directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _UserError(f"cannot write --json {path}: the folder {folder} is not writable")


def _special(path: str) -> bool:
    """An existing path that is not a regular file (``/dev/stdout``, a pipe): written in place, not replaced."""
    return os.path.exists(path) and not os.path.isfile(path)


def _write_json(path: str, record: dict) -> None:
    """Write ``record`` to ``path``: under a temporary name renamed when complete (a device or pipe: in place)."""
    from .._output import replacing

    text = json.dumps(record, indent=2)
    try:
        if _special(path):
            with open(path, "w") as f:
                f.write(text)
        else:
            with replacing(path) as tmp, open(tmp, "w") as f:
                f.write(text)
    except OSError as e:
        raise _UserError(f"cannot write --json {path}: {e.strerror or e}") from None


def score(args) -> dict:
    """Score ``args.model`` on the arrays of ``args``; print the figures and return them as a record."""
    from .layers import UnsupportedLayerError
    from .model import ModelFileError, load_model
    from .score import score_arrays, score_lines

    if args.n is not None and args.n < 1:
        raise _UserError(f"--n must be >= 1, got {args.n}")
    if args.batch_size < 1:
        raise _UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.scale is not None and not (math.isfinite(args.scale) and args.scale > 0):
        raise _UserError(f"--scale must be a finite number > 0, got {args.scale}")
    if args.json:
        _check_json_output(args)
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
            _write_json(args.json, record)
    except _UserError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    return 0

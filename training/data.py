"""CIFAR-10 as uint8 arrays, from whichever copy is at hand.

:func:`load` looks, in this order, at:

1. an explicit ``path`` (``--data PATH``);
2. ``$CIFAR10_PATH``;
3. ``../shared/data/cifar10-jpeg.zip`` next to the project (image folders in a zip, JPEG);
4. the official ``cifar-10-batches-py`` directory where Keras caches it
   (``$KERAS_HOME`` or ``~/.keras``, under ``datasets/``);
5. Keras' own download, ``keras.datasets.cifar10.load_data()`` (needs internet).

A path may be the official python batches directory (``data_batch_1`` ..
``data_batch_5``, ``test_batch``), an image-folder directory
(``train/<class>/*.jpg``, ``test/<class>/*.jpg``) or a zip of one. Image folders
are decoded once with Pillow and cached as an ``.npz`` in ``$FASTCONV_CACHE``
(default ``$XDG_CACHE_HOME/fastconv``, else ``~/.cache/fastconv``), keyed by the
source's size and modification time; later loads take about a second.

Image-folder files are ordered by class, so their samples are shuffled once with
:data:`SHUFFLE_SEED`: the first ``n`` training samples are then a class-balanced
random sample, as the first ``n`` of the official (already random) order are.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.datacache import cache_file, content_key, default_cache_dir, write_npz_atomic
from training.imagefolder import CLASSES, DataError, read_image_folder

__all__ = ["CLASSES", "Cifar10", "DataError", "load", "subset"]

#: Seed of the one-off shuffle of image-folder data (train and test, separately).
SHUFFLE_SEED = 20201130
#: Bump when the cache format or the decoding changes.
_CACHE_VERSION = 1
#: What enters an image folder's content key besides its bytes: the decoding's version and the shuffle.
_SALT = f"v{_CACHE_VERSION} seed{SHUFFLE_SEED}"
_PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_ZIP = _PROJECT_ROOT.parent / "shared" / "data" / "cifar10-jpeg.zip"
_HOW_TO_GET = (
    "Get CIFAR-10 in one of these ways:\n"
    '  - on a machine with internet, run once: python -c "import keras; keras.datasets.cifar10.load_data()"\n'
    "  - download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz, unpack it, and pass\n"
    "    --data path/to/cifar-10-batches-py (or set CIFAR10_PATH)\n"
    "  - pass --data with an image-folder directory or zip (train/<class>/*.jpg, test/<class>/*.jpg)"
)


@dataclass(frozen=True)
class Cifar10:
    """CIFAR-10 in memory.

    Attributes
    ----------
    x_train, x_test : ndarray, uint8, shape (N, 32, 32, 3)
    y_train, y_test : ndarray, int64, shape (N,), values 0-9 (see :data:`CLASSES`)
    source : str
        Where the data came from, e.g. ``"image-folder zip /path/x.zip"``.
    kind : str
        ``"python-batches"``, ``"image-folder"``, ``"image-folder-zip"`` or ``"keras-download"``.
    shuffled : bool
        Whether the samples were shuffled with :data:`SHUFFLE_SEED` (image folders).
    key : str or None
        A hash of the source's bytes (16 hex digits); the same data read from another path has the
        same key. ``None`` for Keras' download.
    """

    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    source: str
    kind: str
    shuffled: bool = False
    key: str | None = None

    def describe(self) -> str:
        """One line naming the source, its sizes and whether it was shuffled."""
        shuffle = f", shuffled once with seed {SHUFFLE_SEED}" if self.shuffled else ""
        return f"{self.source} ({len(self.y_train):,} train, {len(self.y_test):,} test{shuffle})"

    def record_source(self) -> str:
        """:meth:`describe` with nothing of this machine's layout: the file named without its folders, and
        no word of the local cache (a record names its data by file name and :attr:`key`)."""
        return record_source(self.describe())


def record_source(text: str) -> str:
    """A data description with every path cut to its last part and no ``(cached)``.

    Examples
    --------
    >>> record_source("image-folder zip /data/x/cifar10-jpeg.zip (cached) (50,000 train, 10,000 test)")
    'image-folder zip cifar10-jpeg.zip (50,000 train, 10,000 test)'
    """
    text = text.replace(" (cached)", "")
    return re.sub(r"(?<![\w.])(?:\.{0,2}/)?(?:[^\s/()]+/)+(?=[^\s/()])", "", text)


# ---------------------------------------------------------------------------------------------
# Finding a source


def keras_cache_dirs() -> list[Path]:
    """Where Keras keeps ``cifar-10-batches-py`` after ``cifar10.load_data()`` (Keras 3, then 2)."""
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    datasets = home / "datasets"
    return [datasets / "cifar-10-batches-py-target" / "cifar-10-batches-py", datasets / "cifar-10-batches-py"]


def detect_kind(path: Path) -> str:
    """Say what kind of CIFAR-10 copy ``path`` is, or raise :class:`DataError`.

    Returns ``"python-batches"``, ``"image-folder"`` or ``"image-folder-zip"``.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"CIFAR-10 path does not exist: {path}")
    if path.is_dir():
        if (path / "data_batch_1").is_file() and (path / "test_batch").is_file():
            return "python-batches"
        if (path / "cifar-10-batches-py" / "data_batch_1").is_file():
            return "python-batches"
        if (path / "train").is_dir() and (path / "test").is_dir():
            return "image-folder"
        raise DataError(
            f"{path} is neither a cifar-10-batches-py directory (data_batch_1..5, test_batch) "
            "nor an image-folder directory (train/<class>/, test/<class>/)"
        )
    if zipfile.is_zipfile(path):
        return "image-folder-zip"
    raise DataError(f"{path} is not a zip file, or the zip is corrupt or truncated")


def find_source(path: str | os.PathLike | None = None) -> tuple[str, Path | None, list[str]]:
    """Pick the CIFAR-10 copy to load, in the order of the module docstring.

    Returns
    -------
    kind : str
        As :func:`detect_kind`, or ``"keras-download"`` when nothing local was found.
    path : Path or None
        ``None`` for ``"keras-download"``.
    looked : list of str
        Every place looked at, for error messages.
    """
    if path is not None:
        return detect_kind(Path(path)), Path(path), [f"--data {path}"]
    env = os.environ.get("CIFAR10_PATH")
    if env:
        return detect_kind(Path(env)), Path(env), [f"$CIFAR10_PATH={env}"]
    looked = ["$CIFAR10_PATH (not set)", str(SHARED_ZIP)]
    if SHARED_ZIP.is_file():
        return detect_kind(SHARED_ZIP), SHARED_ZIP, looked
    for d in keras_cache_dirs():
        looked.append(str(d))
        if (d / "data_batch_1").is_file():
            return "python-batches", d, looked
    looked.append("keras.datasets.cifar10.load_data() (download)")
    return "keras-download", None, looked


# ---------------------------------------------------------------------------------------------
# Readers


def _unpickle(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
        images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # R, G, B planes -> HWC
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, ValueError, TypeError) as e:
        raise DataError(f"cannot read CIFAR-10 batch {path}: {type(e).__name__}: {e}") from None
    if len(images) != len(labels):
        raise DataError(f"CIFAR-10 batch {path}: {len(images)} images but {len(labels)} labels")
    return np.ascontiguousarray(images), labels


def load_python_batches(path: str | os.PathLike) -> Cifar10:
    """Read the official ``cifar-10-batches-py`` directory (or its parent).

    Each batch is a pickled dict: ``b"data"`` (N, 3072) uint8 rows holding the
    1024 red, then green, then blue values of a 32x32 image row by row, and
    ``b"labels"`` (N ints). Training data are ``data_batch_1`` .. ``data_batch_5``
    (as many as exist, at least one).

    Examples
    --------
    >>> load_python_batches("no/such/dir")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    DataError: no CIFAR-10 training batches (data_batch_1..5) in no/such/dir
    """
    path = Path(path)
    if (path / "cifar-10-batches-py").is_dir():
        path = path / "cifar-10-batches-py"
    train_files = [path / f"data_batch_{i}" for i in range(1, 6) if (path / f"data_batch_{i}").is_file()]
    if not train_files:
        raise DataError(f"no CIFAR-10 training batches (data_batch_1..5) in {path}")
    if not (path / "test_batch").is_file():
        raise DataError(f"no CIFAR-10 test_batch in {path}")
    parts = [_unpickle(f) for f in train_files]
    x_test, y_test = _unpickle(path / "test_batch")
    return Cifar10(
        x_train=np.concatenate([p[0] for p in parts]),
        y_train=np.concatenate([p[1] for p in parts]),
        x_test=x_test,
        y_test=y_test,
        source=f"official python batches {path}",
        kind="python-batches",
        key=content_key(path, "python-batches"),
    )


def _shuffle(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return x[order], y[order]


def load_image_folder(
    path: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None, use_cache: bool = True
) -> Cifar10:
    """Read an image-folder directory or zip, shuffled once with :data:`SHUFFLE_SEED`.

    Layout: ``[prefix/]train/<class>/<name>.jpg`` and ``[prefix/]test/<class>/<name>.jpg``;
    class folders named as :data:`CLASSES` get those labels, other names are labelled in
    sorted order. Decoded arrays are cached in ``cache_dir`` (see :func:`default_cache_dir`).

    Parameters
    ----------
    path : path-like
        Directory or zip.
    cache_dir : path-like, optional
        Where the ``.npz`` cache lives; default :func:`default_cache_dir`.
    use_cache : bool, default True
        Read and write the cache.

    Returns
    -------
    Cifar10

    Examples
    --------
    >>> load_image_folder("missing.zip")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    DataError: CIFAR-10 path does not exist: missing.zip
    """
    path = Path(path)
    kind = detect_kind(path)
    if kind == "python-batches":
        raise DataError(f"{path} holds official python batches, not image folders")
    entry = None
    if use_cache:
        entry, key = cache_file(path, Path(cache_dir or default_cache_dir()), _SALT)
        if entry.is_file():
            try:
                with np.load(entry) as z:
                    arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
                return Cifar10(
                    **arrays, source=f"{_describe_kind(kind)} {path} (cached)", kind=kind, shuffled=True, key=key
                )
            except Exception:  # a damaged cache is rebuilt, never trusted
                pass
    parts = read_image_folder(path)
    rng = np.random.default_rng(SHUFFLE_SEED)
    x_train, y_train = _shuffle(*parts["train"], rng)
    x_test, y_test = _shuffle(*parts["test"], rng)
    if entry is not None:
        write_npz_atomic(entry, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    else:
        key = content_key(path, _SALT)
    return Cifar10(
        x_train, y_train, x_test, y_test, source=f"{_describe_kind(kind)} {path}", kind=kind, shuffled=True, key=key
    )


def _describe_kind(kind: str) -> str:
    return {"image-folder": "image-folder directory", "image-folder-zip": "image-folder zip"}.get(kind, kind)


def _keras_download() -> Cifar10:
    import keras

    (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    return Cifar10(
        x_train=x_train,
        y_train=y_train.reshape(-1).astype(np.int64),
        x_test=x_test,
        y_test=y_test.reshape(-1).astype(np.int64),
        source="keras.datasets.cifar10.load_data() (official data, downloaded)",
        kind="keras-download",
    )


def load(path: str | os.PathLike | None = None, *, cache_dir: str | os.PathLike | None = None) -> Cifar10:
    """Load CIFAR-10 from the first source found (see the module docstring).

    Parameters
    ----------
    path : path-like, optional
        An explicit source; when given, nothing else is tried.
    cache_dir : path-like, optional
        Cache directory for decoded image folders.

    Returns
    -------
    Cifar10

    Raises
    ------
    DataError
        Nothing found (the message lists where it looked and how to get the data),
        or a source is corrupt (the message names the file).

    Examples
    --------
    >>> data = load()  # doctest: +SKIP
    >>> data.x_train.shape, data.x_train.dtype  # doctest: +SKIP
    ((50000, 32, 32, 3), dtype('uint8'))
    """
    kind, found, looked = find_source(path)
    if kind == "python-batches":
        return load_python_batches(found)
    if kind in ("image-folder", "image-folder-zip"):
        return load_image_folder(found, cache_dir=cache_dir)
    try:
        return _keras_download()
    except Exception as e:
        where = "\n".join(f"  - {p}" for p in looked)
        raise DataError(
            f"CIFAR-10 not found. Looked at:\n{where}\n(the download failed: {type(e).__name__}: {e})\n{_HOW_TO_GET}"
        ) from None


def subset(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` samples (the published ``x[1:n]`` dropped sample 0 and kept ``n - 1``).

    Examples
    --------
    >>> x, y = subset(np.zeros((10, 32, 32, 3), np.uint8), np.arange(10), 4)
    >>> y.tolist()
    [0, 1, 2, 3]
    """
    if not 0 < n <= len(y):
        raise ValueError(f"n must be in 1..{len(y)}, got {n}")
    return x[:n], y[:n]

"""Filter weights: named 2-D kernels (sobel, gaussian, ...), and kernels read from files or text.

Every kernel here is meant for :func:`fastconv.convolve2d`, which computes a
cross-correlation (``out[i, j] = sum_{u,v} k[u, v] * img[i + u, j + v]``), so
the kernels are written the way they are applied, not flipped.  ``sobel-x``
therefore gives a positive response where the image gets brighter from left
to right, and ``sobel-y`` where it gets brighter from top to bottom.

Kernels with integer weights (``kernel1``, ``sobel-x``, ...) are returned as
``int64`` arrays, so an 8-bit image filtered with them gives exact ``int64``
results; kernels with fractional weights (``box``, ``gaussian``) are
``float64``.  Every call returns a new array: changing it changes nothing
here.

Look-up by name: :func:`get` takes ``"name"`` or ``"name:param:param"``
(``"gaussian:5:1.2"``, ``"box:5"``).  Names are case-insensitive and ``_`` and
``-`` are the same (``sobel_x``, ``Sobel-X``, ``sobelx``).  :data:`NAMES`
lists the canonical names; :func:`describe` gives one line per kernel.

:func:`load` reads a kernel from a ``.npy`` file or from a text file of rows
such as ``-1 -1 -1; -1 8 -1; -1 -1 -1``; :func:`parse` accepts any of a name,
a file path or such a row text.
"""

from __future__ import annotations

import io
import math
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "NAMES",
    "box",
    "describe",
    "gaussian",
    "get",
    "load",
    "parse",
    "parse_text",
]

#: The most characters a kernel text (``-k "1 2; 3 4"`` or a text kernel file) may have; checked before parsing.
MAX_KERNEL_TEXT = 32 << 20
#: The most weights a kernel may have (named, text or ``.npy``): 2**22, e.g. 2048 x 2048; checked before allocating.
MAX_KERNEL_ELEMENTS = 1 << 22

_NUMERIC_ROW = re.compile(r"[\s,]*[-+]?\.?\d[\d\s,.;+\-eE]*")


def _check_elements(rows: int, cols: int, what: str) -> None:
    if rows * cols > MAX_KERNEL_ELEMENTS:
        raise ValueError(
            f"{what} of {rows}x{cols} = {rows * cols} weights is larger than the "
            f"{MAX_KERNEL_ELEMENTS} that fastconv.filters.MAX_KERNEL_ELEMENTS allows"
        )


# Fixed kernels, as written for cross-correlation.  int64 throughout.
_FIXED = {
    # The published report's kernel1 as its formula writes it (its code had a typo,
    # [-1, -1, 1] in the first row): a 3x3 Laplacian-like edge detector that
    # sums to 0, so flat regions give 0.
    "kernel1": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    # The published report's kernel2: the 4-neighbour cross around an 8.  It sums to 4,
    # so it is an edge detector on top of 4x the image (flat regions give 4*v).
    "kernel2": [[0, -1, 0], [-1, 8, -1], [0, -1, 0]],
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "sobel-x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel-y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "prewitt-x": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
    "prewitt-y": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}

_FIXED_HELP = {
    "kernel1": "the published report's kernel1: -1 all around an 8 (sums to 0; edges only)",
    "kernel2": "the published report's kernel2: -1 cross around an 8 (sums to 4; edges on 4x image)",
    "identity": "3x3 identity (returns the image)",
    "sharpen": "-1 cross around a 5 (sums to 1)",
    "laplacian": "4-neighbour Laplacian, 1 cross around -4 (sums to 0)",
    "sobel-x": "Sobel, positive where brightness grows to the right",
    "sobel-y": "Sobel, positive where brightness grows downwards",
    "prewitt-x": "Prewitt, positive where brightness grows to the right",
    "prewitt-y": "Prewitt, positive where brightness grows downwards",
    "emboss": "emboss: relief along the top-left to bottom-right diagonal (sums to 1)",
}


def box(size: int = 3) -> np.ndarray:
    """Return the ``size`` x ``size`` mean (box) filter.

    Parameters
    ----------
    size : int, default 3
        Side length, at least 1.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``(size, size)``, every weight
        ``1 / size**2`` (the weights sum to 1).

    Raises
    ------
    ValueError
        If ``size`` is not a positive integer.

    Examples
    --------
    >>> from fastconv.filters import box
    >>> box(2)
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    size = _positive_int("size", size)
    _check_elements(size, size, "box kernel")
    return np.full((size, size), 1.0 / (size * size))


def gaussian(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    """Return a ``size`` x ``size`` Gaussian blur kernel, normalised to sum 1.

    ``k[u, v]`` is proportional to ``exp(-((u - c)**2 + (v - c)**2) / (2 sigma**2))``
    with ``c = (size - 1) / 2``, the centre of the window, then divided by
    the sum of all weights.

    Parameters
    ----------
    size : int, default 5
        Side length, at least 1.  An odd size keeps the peak on one pixel.
    sigma : float, default 1.0
        Standard deviation in pixels, finite and > 0.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``(size, size)``, symmetric, summing to 1.

    Raises
    ------
    ValueError
        If ``size`` is not a positive integer or ``sigma`` is not a positive
        finite number.

    Examples
    --------
    >>> from fastconv.filters import gaussian
    >>> k = gaussian(3, 1.0)
    >>> k.shape, round(float(k.sum()), 12), bool(k[1, 1] == k.max())
    ((3, 3), 1.0, True)
    """
    size = _positive_int("size", size)
    sigma = _positive_float("sigma", sigma)
    _check_elements(size, size, "gaussian kernel")
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    one_d = np.exp(-(offsets**2) / (2.0 * sigma * sigma))
    k = np.outer(one_d, one_d)
    return k / k.sum()


@dataclass(frozen=True)
class _Param:
    name: str
    convert: Callable[[str, str], object]
    default: object


@dataclass(frozen=True)
class _Entry:
    make: Callable[..., np.ndarray]
    params: tuple[_Param, ...]
    help: str


def _int_arg(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {text!r}") from None


def _float_arg(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None


def _fixed_maker(weights):
    def make() -> np.ndarray:
        return np.array(weights, dtype=np.int64)

    return make


_REGISTRY: dict[str, _Entry] = {
    name: _Entry(_fixed_maker(weights), (), _FIXED_HELP[name]) for name, weights in _FIXED.items()
}
_REGISTRY["box"] = _Entry(box, (_Param("size", _int_arg, 3),), "box:SIZE mean filter (default 3), sums to 1")
_REGISTRY["gaussian"] = _Entry(
    gaussian,
    (_Param("size", _int_arg, 5), _Param("sigma", _float_arg, 1.0)),
    "gaussian:SIZE:SIGMA blur (default 5:1.0), sums to 1",
)

#: Canonical kernel names accepted by :func:`get`, in a stable order.
NAMES: tuple[str, ...] = tuple(_REGISTRY)

_ALIASES = {
    "mean": "box",
    "average": "box",
    "gauss": "gaussian",
    "blur": "gaussian",
    "laplace": "laplacian",
    "edge": "kernel1",
    "sobelx": "sobel-x",
    "sobely": "sobel-y",
    "prewittx": "prewitt-x",
    "prewitty": "prewitt-y",
}


def _canonical(name: str) -> str | None:
    key = name.strip().lower().replace("_", "-")
    if key in _REGISTRY:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    squeezed = key.replace("-", "")
    return _ALIASES.get(squeezed)


def describe() -> list[str]:
    """Return one line per named kernel: name, parameters and what it does.

    Returns
    -------
    list of str
        Lines such as ``"gaussian  gaussian:SIZE:SIGMA blur ..."``, in the
        order of :data:`NAMES`.

    Examples
    --------
    >>> from fastconv.filters import describe
    >>> describe()[0].split()[0]
    'kernel1'
    """
    width = max(len(n) for n in NAMES)
    return [f"{name:<{width}}  {_REGISTRY[name].help}" for name in NAMES]


def get(spec: str) -> np.ndarray:
    """Return the named kernel ``spec`` as a new array.

    Parameters
    ----------
    spec : str
        A name from :data:`NAMES` or an alias, optionally followed by
        ``:``-separated parameters: ``"kernel1"``, ``"sobel_x"``, ``"box:5"``,
        ``"gaussian:5:1.2"`` (size 5, sigma 1.2).  Missing parameters take
        their defaults (``box`` 3; ``gaussian`` 5 and 1.0).  Case and
        ``-``/``_`` do not matter.

    Returns
    -------
    numpy.ndarray
        A new 2-D array: ``int64`` for integer kernels, ``float64`` for
        ``box`` and ``gaussian``.

    Raises
    ------
    TypeError
        If ``spec`` is not a string.
    ValueError
        If the name is unknown (the message lists the known names), a
        parameter is given to a kernel that takes none, there are too many
        parameters, or a parameter is not a valid number.

    Examples
    --------
    >>> from fastconv import filters
    >>> filters.get("kernel1")
    array([[-1, -1, -1],
           [-1,  8, -1],
           [-1, -1, -1]])
    >>> filters.get("gaussian:5:1.2").shape
    (5, 5)
    """
    if not isinstance(spec, str):
        raise TypeError(f"kernel spec must be a str, got {type(spec).__name__}")
    name, *args = spec.split(":")
    canonical = _canonical(name)
    if canonical is None:
        raise ValueError(f"unknown kernel {name!r}; known kernels: {', '.join(NAMES)}")
    entry = _REGISTRY[canonical]
    if len(args) > len(entry.params):
        if entry.params:
            usage = ":".join([canonical] + [p.name.upper() for p in entry.params])
            raise ValueError(
                f"kernel {canonical!r} takes at most {len(entry.params)} parameter(s) ({usage}), got {spec!r}"
            )
        raise ValueError(f"kernel {canonical!r} takes no parameters, got {spec!r}")
    values = []
    for param, text in zip(entry.params, args, strict=False):  # fewer args than params: defaults fill in
        text = text.strip()
        if text == "":
            raise ValueError(f"{canonical} {param.name} is empty in {spec!r}")
        values.append(param.convert(f"{canonical} {param.name}", text))
    try:
        return entry.make(*values)
    except ValueError as err:
        raise ValueError(f"{err} (in kernel spec {spec!r})") from None


def parse_text(text: str) -> np.ndarray:
    """Parse a kernel written as rows of numbers.

    Rows are separated by ``;`` or newlines, numbers by spaces, tabs or
    commas; ``#`` starts a comment.  ``"-1 -1 -1; -1 8 -1; -1 -1 -1"`` is
    the published report's kernel1.

    Parameters
    ----------
    text : str
        The rows.

    Returns
    -------
    numpy.ndarray
        ``int64`` if every number is an integer literal, else ``float64``.

    Raises
    ------
    ValueError
        If there are no numbers, rows differ in length, an entry is not a
        number, or a number is not finite.

    Examples
    --------
    >>> from fastconv.filters import parse_text
    >>> parse_text("1 2; 3 4")
    array([[1, 2],
           [3, 4]])
    >>> parse_text("0.5, 0.5")
    array([[0.5, 0.5]])
    """
    if not isinstance(text, str):
        raise TypeError(f"kernel text must be a str, got {type(text).__name__}")
    if len(text) > MAX_KERNEL_TEXT:
        raise ValueError(
            f"kernel text of {len(text)} characters is longer than the {MAX_KERNEL_TEXT} that "
            "fastconv.filters.MAX_KERNEL_TEXT allows"
        )
    body = text.replace(";", "\n").replace(",", " ")
    k = None
    for dtype in (np.int64, np.float64):  # integer literals only: exact int64; anything else: float64
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "input contained no data": reported below
                k = np.loadtxt(io.StringIO(body), dtype=dtype, comments="#", ndmin=2)
            break
        except ValueError as err:
            message = str(err)
            if "number of columns changed" in message:
                lines = (line.split("#", 1)[0].split() for line in body.splitlines())
                lengths = [len(cells) for cells in lines if cells]
                shown = str(lengths) if len(lengths) <= 20 else f"{lengths[:20]}"[:-1] + ", ...]"
                raise ValueError(f"kernel rows must all have the same length, got lengths {shown}") from None
            bad = re.search(r"string '(.*)' to", message)
            entry = bad.group(1) if bad else None
            if dtype is np.int64 and entry is not None and re.fullmatch(r"[-+]?\d+", entry):
                raise ValueError(
                    f"kernel entry {entry} is an integer beyond int64; write it as a float "
                    f"(e.g. {float(entry):.6g}) for an approximate result"
                ) from None
            if dtype is np.float64:
                what = repr(entry) if entry is not None else "in the text"
                raise ValueError(f"kernel entry {what} is not a number") from None
    if k.size == 0:
        raise ValueError("kernel text has no numbers")
    _check_elements(k.shape[0], k.shape[1], "kernel text")
    if k.dtype == np.float64 and not np.isfinite(k).all():
        raise ValueError("kernel entries must be finite numbers")
    return k


def load(path: str | os.PathLike) -> np.ndarray:
    """Read a kernel from a ``.npy`` file or a text file of rows.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` file holding a 2-D numeric array, or any other file read
        as text by :func:`parse_text`.

    Returns
    -------
    numpy.ndarray
        A 2-D ``int64`` (integer or bool data) or ``float64`` array.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file cannot be read as a kernel: not 2-D, empty, not numeric,
        not finite, or not parseable text.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastconv.filters import load
    >>> path = os.path.join(tempfile.mkdtemp(), "k.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("-1 -1 -1\\n-1 8 -1\\n-1 -1 -1\\n")
    >>> load(path)[1]
    array([-1,  8, -1])
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"kernel file not found: {path}")
    if path.lower().endswith(".npy"):
        try:
            arr = np.load(path, allow_pickle=False, mmap_mode="r")  # the header only, until the size is checked
        except (ValueError, OSError) as err:
            raise ValueError(f"cannot read kernel file {path}: {err}") from None
        if arr.ndim != 2 or arr.size == 0:
            raise ValueError(f"kernel in {path} must be a non-empty 2-D array, got shape {arr.shape}")
        _check_elements(arr.shape[0], arr.shape[1], f"kernel in {path}")
        arr = np.array(arr)
        if arr.dtype.kind in "biu":
            if arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and int(arr.max()) > np.iinfo(np.int64).max:
                raise ValueError(
                    f"kernel in {path} has an entry {int(arr.max())}, an integer beyond int64; save it as "
                    "float64 for an approximate result"
                )
            return arr.astype(np.int64)
        if arr.dtype.kind != "f":
            raise ValueError(f"kernel in {path} must be numeric, got dtype {arr.dtype}")
        if not np.isfinite(arr).all():
            raise ValueError(f"kernel in {path} has non-finite entries")
        return arr.astype(np.float64)
    if os.path.getsize(path) > MAX_KERNEL_TEXT:
        raise ValueError(
            f"kernel file {path} of {os.path.getsize(path)} bytes is larger than the {MAX_KERNEL_TEXT} that "
            "fastconv.filters.MAX_KERNEL_TEXT allows"
        )
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read kernel file {path}: {err}") from None
    try:
        return parse_text(text)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def parse(spec: str) -> np.ndarray:
    """Turn a kernel spec into an array: a name, a file, or row text.

    Tried in this order: an existing file (read by :func:`load`); text
    containing ``;`` or made of numbers only (rows, or one row such as
    ``"1 2 1"``, read by :func:`parse_text`); otherwise a name for :func:`get`.

    Parameters
    ----------
    spec : str
        ``"kernel1"``, ``"gaussian:5:1.2"``, ``"my_kernel.npy"``,
        ``"-1 -1 -1; -1 8 -1; -1 -1 -1"``.

    Returns
    -------
    numpy.ndarray
        A new 2-D ``int64`` or ``float64`` array.

    Raises
    ------
    ValueError
        If the spec is none of these, with the reason.
    FileNotFoundError
        If ``spec`` looks like a kernel file (ends in ``.npy`` or ``.txt``)
        but does not exist.

    Examples
    --------
    >>> from fastconv.filters import parse
    >>> parse("0 -1 0; -1 8 -1; 0 -1 0").sum()
    np.int64(4)
    >>> parse("sobel_y")[0]
    array([-1, -2, -1])
    """
    if not isinstance(spec, str):
        raise TypeError(f"kernel spec must be a str, got {type(spec).__name__}")
    if os.path.isfile(spec):
        return load(spec)
    if ";" in spec or _NUMERIC_ROW.fullmatch(spec) or _all_numbers(spec):  # rows, or one row ("1 2 1", "nan")
        return parse_text(spec)
    if spec.lower().endswith((".npy", ".txt", ".csv")):
        raise FileNotFoundError(f"kernel file not found: {spec}")
    return get(spec)


def _all_numbers(spec: str) -> bool:
    """True for a short text whose every entry reads as a float (``"nan"``, ``"inf 1"``): row text, not a name."""
    if len(spec) > 1000:
        return False
    cells = [c for c in re.split(r"[\s,;]+", spec) if c]
    try:
        return bool(cells) and all(float(c) is not None for c in cells)
    except ValueError:
        return False


def _positive_int(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _positive_float(name: str, value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not math.isfinite(out) or out <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return out

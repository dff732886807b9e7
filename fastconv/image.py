"""Images in, images out: read a file, filter it with fastconv, save 8 bits.

The pipeline is the published report's Part 1b made explicit (the files are read and written by
:mod:`fastconv.image_io`, whose names this module gives too):

1. :func:`read_image` opens any file Pillow reads (PNG, JPEG, BMP, TIFF,
   ...), optionally resizes it, and keeps one channel (``r``, ``g``, ``b``,
   ``gray``) or all three (``rgb``), at the file's own depth (``uint8``, or
   ``uint16``/``int32``/``float32`` for 16- and 32-bit PNG and TIFF).
2. :func:`fastconv.convolve2d` filters it (each channel with the same 2-D
   kernel).  An 8-bit image and an integer kernel give exact ``int64``
   values; a fractional kernel gives ``float64``.
3. :func:`to_uint8` maps the values back to 0..255 with an explicit choice
   (see :data:`SCALES`), and :func:`save_image` writes PNG (or the format the
   file extension names); or :func:`save_raw` writes the unscaled result
   (16-bit PNG, int32/float32 TIFF, ``.npy``).

:func:`filter_image` does all three in one call.

Choosing the scaling
--------------------
An edge kernel such as the published report's ``kernel1`` gives values from -2040 to
2040 on an 8-bit image: negative on the dark side of an edge, positive on
the bright side.  They have to be mapped to 0..255 somehow, and each choice
shows something different:

``abs`` (default)
    ``min(|v|, 255)``, rounded: the edge strength, whichever side of the edge
    the pixel is on, one grey level per unit of response.  On a kernel with
    non-negative weights (blur, box, identity) the values are already
    >= 0, so ``abs`` changes nothing and equals ``clip``.  It is the default
    because it shows both sides of every edge and never invents structure:
    a flat region stays black under an edge kernel, and a blurred photo stays
    a photo.
``clip``
    ``min(max(v, 0), 255)``, rounded: the right choice for kernels meant to
    return an image (sharpen, emboss, blur).  On an edge kernel it drops the
    negative half of every edge (black) and saturates strong edges.
``normalize``
    Linear map of the minimum to 0 and the maximum to 255 (one map for all
    channels, so colours keep their balance); a constant result maps to 0.
    Shows the signed response (0 is mid-grey-ish on an edge kernel), but the
    brightness of a pixel then depends on the extremes of the whole picture.

The published report displayed ``np.uint(values)``, which wraps negative values around to
huge unsigned integers; :mod:`fastconv.demo` computes what that showed and
``fastconv demo`` puts it next to ``abs``.
"""

from __future__ import annotations

import os
import sys
import types

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import filters, image_io
from ._plan import window
from .convolve import convolve2d

# Reading and writing image files: fastconv.image_io, whose names are this module's too.
from .image_io import (  # noqa: F401  (exported: __all__)
    CHANNELS,
    check_pixels,
    parse_size,
    quiet_tifffile,
    read_image,
    save_image,
    save_raw,
    select_channel,
    tiff_data_problem,
)

__all__ = [
    "CHANNELS",
    "DEFAULT_SCALE",
    "MAX_IMAGE_PIXELS",  # noqa: F822  (fastconv.image_io's, through _Module below)
    "check_pixels",
    "SCALES",
    "FILTER_SCALES",
    "display_unit",
    "filter_image",
    "parse_size",
    "read_image",
    "save_image",
    "save_raw",
    "to_uint8",
]

#: Ways :func:`to_uint8` maps filter output to 8 bits (module docstring).
SCALES = ("abs", "clip", "normalize")
#: What ``fastconv filter --scale`` accepts: the 8-bit scalings, or ``none`` for the raw result (:func:`save_raw`).
FILTER_SCALES = SCALES + ("none",)
#: The scaling used when none is given: ``abs`` (module docstring says why).
DEFAULT_SCALE = "abs"


def to_uint8(values: ArrayLike, scale: str = DEFAULT_SCALE) -> np.ndarray:
    """Map filter output to 8-bit pixels with an explicit rule.

    Parameters
    ----------
    values : array_like or dask.array.Array
        Filter output, any real dtype, any shape.  A dask array gives a lazy
        ``uint8`` dask array (its NaN check, and ``normalize``'s minimum and
        maximum, are computed first, in one pass).
    scale : {"abs", "clip", "normalize"}, default "abs"
        ``abs``: ``min(|v|, 255)``; ``clip``: ``min(max(v, 0), 255)``;
        ``normalize``: ``255 (v - min) / (max - min)`` over the whole array
        (all zeros when ``max == min``).  Results are rounded to the nearest
        integer (half to even); see the module docstring for when to use
        which.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of the same shape.

    Raises
    ------
    ValueError
        If ``scale`` is unknown or ``values`` contains NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.image import to_uint8
    >>> v = np.array([-300, -10, 0, 100, 400])
    >>> to_uint8(v, "abs"), to_uint8(v, "clip")
    (array([255,  10,   0, 100, 255], dtype=uint8), array([  0,   0,   0, 100, 255], dtype=uint8))
    >>> to_uint8(v, "normalize")
    array([  0, 106, 109, 146, 255], dtype=uint8)
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    lazy = not isinstance(values, np.ndarray) and hasattr(values, "dask")  # a dask array stays lazy
    v = values if lazy else np.asarray(values)
    if v.dtype.kind not in "biuf":
        raise TypeError(f"values must be real numbers, got dtype {v.dtype}")
    if lazy:
        return _to_uint8_lazy(v, scale)
    if v.dtype.kind == "f" and np.isnan(v).any():
        raise ValueError("values contain NaN; there is no pixel value for it")
    lo = hi = 0.0
    if scale == "normalize":
        lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
        if hi == lo:
            return np.zeros(v.shape, dtype=np.uint8)
    # Block by block (about 8 MB of float64 at a time), so a large result costs its uint8 copy only.
    flat = v.reshape(-1)
    out = np.empty(flat.shape, dtype=np.uint8)
    step = 1 << 20
    for start in range(0, flat.size, step):
        block = flat[start : start + step].astype(np.float64)
        if scale == "abs":
            np.abs(block, out=block)
        elif scale == "normalize":
            block -= lo
            block *= 255.0 / (hi - lo)
        np.rint(block, out=block)
        np.clip(block, 0, 255, out=block)
        out[start : start + step] = block
    return out.reshape(v.shape)


def _to_uint8_lazy(v, scale: str):
    """:func:`to_uint8` of a dask array: lazy, its checks computed in one pass over the data."""
    import dask

    v = v.astype(np.float64)
    checks = [np.isnan(v).any()]
    if scale == "normalize":
        checks += [v.min(), v.max()] if v.size else [0.0, 0.0]
    checks = dask.compute(*checks)
    if checks[0]:
        raise ValueError("values contain NaN; there is no pixel value for it")
    if scale == "abs":
        out = np.abs(v)
    elif scale == "clip":
        out = v
    else:
        lo, hi = float(checks[1]), float(checks[2])
        if hi == lo:
            return (v * 0).astype(np.uint8)
        out = (v - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def display_unit(dtype: DTypeLike) -> float:
    """How many units of an image of ``dtype`` make one 8-bit grey level (for ``abs``/``clip`` display).

    257 (65535 / 255) for 16- and 32-bit integer images: the 8-bit scalings then
    show a 16-bit image as its 8-bit version would look.  1 for 8-bit and float
    images (float values are taken as they are).  Divide the filter output by
    it before :func:`to_uint8`.
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "iu" and dtype.itemsize > 1:
        return 65535.0 / 255.0
    return 1.0


def filter_image(
    image: str | os.PathLike | np.ndarray,
    kernel: str | ArrayLike | list,
    *,
    channel: str = "r",
    resize: tuple[int, int] | str | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | str | tuple = 0,
    dilation: int | tuple[int, int] = 1,
    flip: bool = False,
    pad_mode: str = "constant",
    scale: str = DEFAULT_SCALE,
    backend: str = "auto",
) -> np.ndarray:
    """Filter an image file or array and return 8-bit pixels.

    Parameters
    ----------
    image : str, os.PathLike or numpy.ndarray
        A file (read with :func:`read_image` using ``channel`` and
        ``resize``) or an array of shape (H, W) or (H, W, C) (used as is;
        ``channel`` and ``resize`` are then ignored).
    kernel : str, numpy.ndarray or list of them
        A kernel name, file or row text (:func:`fastconv.filters.parse`), a
        2-D array, or a list of these applied one after the other (the
        unscaled output of one is the input of the next; scaling happens
        once, at the end).
    channel, resize
        As in :func:`read_image`.
    stride, padding, dilation, flip, pad_mode, backend
        Passed to :func:`fastconv.convolve2d` (for each kernel of a chain).
    scale : {"abs", "clip", "normalize", "none"}, default "abs"
        How the result is mapped to 0..255 (:func:`to_uint8`; for ``abs`` and
        ``clip`` of an image file, after dividing by :func:`display_unit`, so a
        16-bit file shows as its 8-bit version would), or ``"none"``: the
        raw result.

    Returns
    -------
    numpy.ndarray
        ``uint8`` of shape (OH, OW) or (OH, OW, C); with ``scale="none"`` the
        result of :func:`fastconv.convolve2d` itself.

    Raises
    ------
    FileNotFoundError, ValueError, TypeError
        From reading the image, parsing the kernel or
        :func:`fastconv.convolve2d`, naming the bad argument.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.image import filter_image
    >>> img = np.zeros((5, 5), np.uint8); img[:, 2:] = 30
    >>> filter_image(img, "sobel-x", scale="abs")
    array([[120, 120,   0],
           [120, 120,   0],
           [120, 120,   0]], dtype=uint8)
    """
    if isinstance(image, np.ndarray):
        values, unit = image, 1.0  # an array's values are taken as they are
    else:
        values = read_image(image, resize=resize, channel=channel)
        unit = display_unit(values.dtype)
    check_scale(scale)
    options = {"dilation": dilation, "flip": flip, "pad_mode": pad_mode, "backend": backend}
    values = apply_chain(values, kernel_chain(kernel), convolve2d, stride, padding, **options)
    return scaled(values, scale, unit)


def check_scale(scale: str) -> str:
    """``scale`` if it is one of :data:`FILTER_SCALES`, else ValueError."""
    if scale not in FILTER_SCALES:
        raise ValueError(f"scale must be one of {', '.join(FILTER_SCALES)}; got {scale!r}")
    return scale


def kernel_chain(kernel) -> list[np.ndarray]:
    """A kernel or a list of kernels applied in turn, as a list (names read by :func:`fastconv.filters.parse`)."""
    chain = list(kernel) if isinstance(kernel, (list, tuple)) else [kernel]
    if not chain:
        raise ValueError("kernel must name at least one kernel, got an empty list")
    return [filters.parse(k) if isinstance(k, str) else k for k in chain]


def apply_chain(values, chain, convolve, stride=1, padding=0, **options):
    """``values`` filtered by each kernel of ``chain`` in turn with ``convolve`` (``convolve2d`` or its dask twin).

    The unscaled output of one kernel is the input of the next; every kernel
    gets the same ``stride``, ``padding`` and ``options``.
    """
    if isinstance(values, np.ndarray):
        check_chain_size(values.shape[:2], chain, stride, padding, options.get("dilation", 1), options.get("pad_mode"))
    for k in chain:
        values = convolve(values, k, stride, padding, **options)
    return values


def check_chain_size(hw, chain, stride=1, padding=0, dilation=1, pad_mode="constant") -> None:
    """Refuse, before anything is allocated, a chain whose padding makes an image larger than the pixel limit.

    Each kernel's result (and, for a ``pad_mode`` other than ``"constant"``, its padded copy of the
    input) may not hold more than :data:`MAX_IMAGE_PIXELS` pixels unless it is at most twice the size
    of the image it comes from: padding may grow an image a little, never into gigabytes.
    Mistakes in the arguments themselves are left to :func:`fastconv.convolve2d`'s messages.

    Raises
    ------
    ValueError
        Naming the padding, the sizes and the limit.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.image import check_chain_size
    >>> check_chain_size((200, 200), [np.ones((3, 3))], padding="same")
    >>> check_chain_size((200, 200), [np.ones((3, 3))], padding=8000)
    Traceback (most recent call last):
    ...
    ValueError: padding 8000 makes a 16198x16198 result from 200x200 pixels, more than MAX_IMAGE_PIXELS = ...
    """
    limit = image_io.MAX_IMAGE_PIXELS
    if not limit:
        return
    for k in chain:
        try:
            win = window(hw, np.shape(k)[:2], stride, padding, dilation)
        except (TypeError, ValueError, IndexError):
            return  # convolve2d words the mistake
        before = int(hw[0]) * int(hw[1])
        sizes = [("result", win.out_hw)] + ([("padded copy", win.padded_hw)] if pad_mode != "constant" else [])
        for what, (h, w) in sizes:
            if h * w > limit and h * w > 2 * before:
                raise ValueError(
                    f"padding {padding!r} makes a {w}x{h} {what} from {hw[1]}x{hw[0]} pixels, more than "
                    f"MAX_IMAGE_PIXELS = {limit}; raise it with --max-pixels N or FASTCONV_MAX_IMAGE_PIXELS=N "
                    "if that much memory is meant"
                )
        hw = win.out_hw


def scaled(values, scale: str, unit: float = 1.0):
    """A filter result mapped for display: :func:`to_uint8` after dividing by ``unit`` (not for ``normalize``).

    ``scale="none"`` returns ``values`` unchanged.  ``unit`` is
    :func:`display_unit` of the source image's dtype (1 for an array given as
    is), so a 16-bit image shows as its 8-bit version would.
    """
    if check_scale(scale) == "none":
        return values
    return to_uint8(values if unit == 1 or scale == "normalize" else values / unit, scale)


class _Module(types.ModuleType):
    """This module, whose ``MAX_IMAGE_PIXELS`` reads and sets :data:`fastconv.image_io.MAX_IMAGE_PIXELS`."""

    @property
    def MAX_IMAGE_PIXELS(self):  # noqa: N802  (the documented name)
        return image_io.MAX_IMAGE_PIXELS

    @MAX_IMAGE_PIXELS.setter
    def MAX_IMAGE_PIXELS(self, value):  # noqa: N802
        image_io.MAX_IMAGE_PIXELS = value


sys.modules[__name__].__class__ = _Module

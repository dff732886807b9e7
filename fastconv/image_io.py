"""Image files: read them at their own depth, write 8-bit or raw results, and the pixel limit on reading.

:func:`read_image` opens any file Pillow reads (PNG, JPEG, BMP, TIFF, ...), optionally resizes it and
keeps one channel (:data:`CHANNELS`) or all three, at the file's own depth (``uint8``, or
``uint16``/``int32``/``float32`` for 16- and 32-bit PNG and TIFF; TIFF through tifffile).
:func:`save_image` writes 8-bit pixels in the format the extension names; :func:`save_raw` writes an
unscaled filter result in a format that holds it (16-bit PNG, int32/float32 TIFF, ``.npy``).  No file
larger than :data:`MAX_IMAGE_PIXELS` is decoded at once (:func:`check_pixels`).

The pipeline that filters what is read here and scales it for display is :mod:`fastconv.image`, which
also gives every name of this module (``fastconv.image.read_image`` is :func:`read_image`, and
setting ``fastconv.image.MAX_IMAGE_PIXELS`` sets :data:`MAX_IMAGE_PIXELS`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from ._validation import int_range

__all__ = [
    "CHANNELS",
    "MAX_IMAGE_PIXELS",
    "check_pixels",
    "parse_size",
    "read_image",
    "quiet_tifffile",
    "save_image",
    "save_raw",
    "select_channel",
    "tiff_data_problem",
]

#: Channel choices of :func:`read_image`: one of the colour channels, the
#: luminance (``gray``, Pillow's ITU-R 601-2 ``L = 0.299 R + 0.587 G +
#: 0.114 B``) or all three colour channels (``rgb``).
CHANNELS = ("r", "g", "b", "gray", "rgb")
_CHANNEL_ALIASES = {
    "red": "r",
    "green": "g",
    "blue": "b",
    "grey": "gray",
    "l": "gray",
    "luminance": "gray",
    "all": "rgb",
}


def _max_pixels_from_env() -> int | None:
    text = os.environ.get("FASTCONV_MAX_IMAGE_PIXELS", "").strip()
    if not text:
        return 1 << 24
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        warnings.warn(
            f"FASTCONV_MAX_IMAGE_PIXELS must be an integer >= 0 (0: no limit), got {text!r}; using 2**24",
            stacklevel=2,
        )
        return 1 << 24
    return value if value > 0 else None


#: The most pixels (height x width) fastconv decodes at once from a file: a whole PNG, JPEG or TIFF read
#: in memory, or one stored chunk (tile, strip) of a TIFF or zarr read out of core.  Checked from the
#: file's header before anything is decoded, as Pillow's ``MAX_IMAGE_PIXELS``, so a small file that
#: unpacks to a huge image (a decompression bomb) is refused.  Default 2**24 (4096 x 4096); set the
#: ``FASTCONV_MAX_IMAGE_PIXELS`` environment variable, ``fastconv filter --max-pixels``, or this
#: attribute to change it (0 or None: no limit).
MAX_IMAGE_PIXELS: int | None = _max_pixels_from_env()


def check_pixels(height: int, width: int, path, what: str = "image") -> None:
    """Refuse to decode ``height x width`` pixels of ``path`` when that is more than :data:`MAX_IMAGE_PIXELS`.

    Parameters
    ----------
    height, width : int
        The size the file's header declares (of the whole image, or of one stored chunk).
    path : str or os.PathLike
        Named in the message.
    what : str, default "image"
        What is decoded at once: ``"image"``, ``"chunk"``.

    Raises
    ------
    ValueError
        ``cannot read image PATH: ...`` with the size and the limit and how to raise it.

    Examples
    --------
    >>> from fastconv.image import check_pixels
    >>> check_pixels(4096, 4096, "a.png")
    >>> check_pixels(30000, 30000, "bomb.tif")
    Traceback (most recent call last):
    ...
    ValueError: cannot read image bomb.tif: its image of 30000x30000 pixels is more than MAX_IMAGE_PIXELS = ...
    """
    limit = MAX_IMAGE_PIXELS
    if limit and int(height) * int(width) > limit:
        raise ValueError(
            f"cannot read image {os.fspath(path)}: its {what} of {int(width)}x{int(height)} pixels is more than "
            f"MAX_IMAGE_PIXELS = {limit} (a decompression bomb?); raise it with --max-pixels N or "
            "FASTCONV_MAX_IMAGE_PIXELS=N if the file is trusted"
        )


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("reading and writing images needs Pillow: pip install 'fastconv[image]'") from None
    return Image


def parse_size(text: str) -> tuple[int, int]:
    """Parse a ``WIDTHxHEIGHT`` size such as ``"200x200"`` (or ``"200"``).

    Parameters
    ----------
    text : str
        ``"WxH"`` with positive integers, or a single integer for a square.

    Returns
    -------
    tuple of int
        ``(width, height)``, Pillow's order.

    Raises
    ------
    ValueError
        If ``text`` is not of that form.

    Examples
    --------
    >>> from fastconv.image import parse_size
    >>> parse_size("320x200"), parse_size("64")
    ((320, 200), (64, 64))
    """
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX*]\s*(\d+)\s*)?", str(text))
    if match:
        width = int(match.group(1))
        height = int(match.group(2) or match.group(1))
        if width > 0 and height > 0:
            return width, height
    raise ValueError(f"size must be WIDTHxHEIGHT with positive integers (e.g. 200x200), got {text!r}")


def _channel(channel: str) -> str:
    if not isinstance(channel, str):
        raise TypeError(f"channel must be a str, got {type(channel).__name__}")
    key = channel.strip().lower()
    key = _CHANNEL_ALIASES.get(key, key)
    if key not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}; got {channel!r}")
    return key


def read_image(
    path: str | os.PathLike, *, resize: tuple[int, int] | str | None = None, channel: str = "r"
) -> np.ndarray:
    """Read an image file at its own depth, optionally resized, one channel or all.

    Parameters
    ----------
    path : str or os.PathLike
        Any file Pillow can open; TIFF files through tifffile when it is
        installed.  8-bit images (palette, grey, alpha, RGB) are read as 8-bit
        RGB (alpha is dropped); 16-bit PNG (grey, RGB, RGBA, grey+alpha) and
        TIFF as ``uint16``, 32-bit integer as ``int32``, 32-bit float TIFF as
        ``float32``: never cut to 8 bits.  At most :data:`MAX_IMAGE_PIXELS`
        pixels, checked from the header before decoding.
        A grey image gives the same plane for every ``channel``.
    resize : tuple of int or str, optional
        ``(width, height)`` or ``"WxH"``; the image is resized with Pillow's
        bicubic filter (aspect ratio not kept, as the published report's
        ``im.resize((200, 200))``).
    channel : {"r", "g", "b", "gray", "rgb"}, default "r"
        The colour channel to keep, the luminance ``gray``, or ``rgb`` for
        all three.  ``red``, ``grey``, ``luminance``, ``all`` are accepted too.

    Returns
    -------
    numpy.ndarray
        The file's depth (``uint8``, ``uint16``, ``int32``, ``float32``), shape
        ``(H, W)``, or ``(H, W, 3)`` for ``rgb``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not an image Pillow can decode, is larger than
        :data:`MAX_IMAGE_PIXELS`, holds a stack of planes (a 3-D or 4-D TIFF
        series), or ``channel`` or ``resize`` is invalid.

    Examples
    --------
    >>> import matplotlib.cbook
    >>> from fastconv.image import read_image
    >>> photo = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    >>> r = read_image(photo, resize="200x200", channel="r")
    >>> r.shape, r.dtype
    ((200, 200), dtype('uint8'))
    """
    Image = _pil()
    channel = _channel(channel)
    size = None
    if resize is not None:
        size = parse_size(resize) if isinstance(resize, str) else _size_pair(resize)
        check_pixels(size[1], size[0], path, "resized image")  # before the file is even opened
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"image not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"cannot read image {path}: it is a directory")
    pixels = None
    if Path(path).suffix.lower() in (".tif", ".tiff"):
        pixels = _read_tiff(path)
    else:
        pixels = _read_png16(path)
    if pixels is None:
        try:
            with Image.open(path) as im:
                check_pixels(im.size[1], im.size[0], path)
                im.load()
                pixels = _pixels(im)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            if str(err).startswith("cannot read image"):
                raise
            reason = "not an image Pillow can read" if "identify" in str(err) else str(err)
            raise ValueError(f"cannot read image {path}: {reason}") from None
    if size is not None:
        pixels = _resize(pixels, size, Image)
    return np.ascontiguousarray(select_channel(pixels, channel))


def select_channel(pixels, channel: str):
    """The ``channel`` of ``(H, W)`` or ``(H, W, C)`` pixels, for NumPy and dask arrays alike.

    ``channel`` is one of :data:`CHANNELS` (or an alias such as ``red`` or
    ``grey``): a colour plane, the luminance ``gray`` (ITU-R 601-2, exactly as
    Pillow's ``L`` for 8-bit pixels), or ``rgb``, the first three planes.  A
    grey image gives its one plane for every choice (three copies for ``rgb``).
    Every front end (``fastconv filter``, :func:`filter_image`,
    :func:`fastconv.dask.filter_file`) picks channels here.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.image import select_channel
    >>> px = np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8)
    >>> select_channel(px, "gray"), select_channel(px, "b")
    (array([[76, 29]], dtype=uint8), array([[  0, 255]], dtype=uint8))
    """
    channel = _channel(channel)
    if pixels.ndim == 2:  # grey: every channel choice is the one plane
        return pixels if channel != "rgb" else _stack([pixels] * 3)
    if channel == "gray":
        return _luminance(pixels)
    if channel == "rgb":
        return pixels[:, :, :3] if pixels.shape[2] > 3 else pixels
    index = "rgb".index(channel)
    if index >= pixels.shape[2]:
        raise ValueError(f"channel {channel!r} is not in an image of {pixels.shape[2]} channel(s)")
    return pixels[:, :, index]


def _stack(planes):
    if isinstance(planes[0], np.ndarray):
        return np.stack(planes, axis=-1)
    import dask.array as da

    return da.stack(planes, axis=-1)


def _pixels(im) -> np.ndarray:
    """The pixels of a Pillow image at their own depth: 8-bit RGB, or one plane of uint16/int32/float32."""
    if im.mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16)  # native byte order
    if im.mode == "I":
        values = np.asarray(im, dtype=np.int32)
        return values.astype(np.uint16) if values.size and 0 <= values.min() and values.max() <= 65535 else values
    if im.mode == "F":
        return np.asarray(im, dtype=np.float32).copy()
    if im.mode in ("L", "1"):
        return np.asarray(im.convert("L"), dtype=np.uint8).copy()
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _read_png16(path) -> np.ndarray | None:
    """A 16-bit RGB, RGBA or grey+alpha PNG at full depth (None for every other file: Pillow reads those)."""
    from . import _png

    try:
        head = _png.header(path)
    except OSError:
        return None
    if head is None or head["depth"] != 16 or head["colour"] not in _png.COLOUR_CHANNELS:
        return None
    check_pixels(head["height"], head["width"], path)
    try:
        return _png.read16(path, head)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read image {path}: {err}") from None


def _tiff_shape(shape) -> None | str:
    """Why a TIFF series of ``shape`` is not one image fastconv filters, or None if it is (H, W) or (H, W, 3|4)."""
    if len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4)):
        return None
    return (
        f"it holds a {len(shape)}-D series of shape {tuple(shape)}, not one (H, W) or (H, W, 3) image; "
        "save each plane as its own file"
    )


def tiff_data_problem(tif, path) -> str | None:
    """Why the first image of an open ``tifffile.TiffFile`` cannot be read whole, or None.

    Checked from the directory before any pixel is decoded: no image at all, tile or strip
    offsets missing, or data reaching past the end of the file (a truncated download).
    tifffile itself would fill what is missing with zeros (after a log line), a silent
    wrong answer.
    """
    if not tif.series:
        return "it holds no image (a truncated or empty TIFF?)"
    size = os.path.getsize(path)
    for page in tif.series[0].pages:
        if page is None or not hasattr(page, "dataoffsets"):
            continue
        offsets, counts = page.dataoffsets, page.databytecounts
        if len(offsets) == 0 or len(offsets) != len(counts):
            return "its tile or strip offsets are missing (a truncated TIFF?)"
        end = max(int(o) + int(c) for o, c in zip(offsets, counts, strict=True))
        if end > size:
            return f"its data reaches byte {end} but the file has {size} bytes (a truncated TIFF?)"
    return None


@contextlib.contextmanager
def quiet_tifffile():
    """tifffile's log lines (about a damaged file) held back: fastconv words the one error itself."""
    log = logging.getLogger("tifffile")
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        log.setLevel(level)


def _read_tiff(path) -> np.ndarray | None:
    """A TIFF image at its own depth with tifffile (None when tifffile is missing or the file is odd).

    The size is checked against :data:`MAX_IMAGE_PIXELS` from the header; a stack of
    planes (a 3-D or 4-D series) is refused rather than read from its first plane.
    """
    try:
        import tifffile
    except ImportError:
        return None
    try:
        with quiet_tifffile(), tifffile.TiffFile(path) as tif:
            problem = tiff_data_problem(tif, path)
            if problem is None:
                series = tif.series[0]
                stored, axes = tuple(series.shape), series.axes
    except Exception:  # not a TIFF tifffile reads: let Pillow try and word the error
        return None
    if problem is not None:
        raise ValueError(f"cannot read image {path}: {problem}")
    keep = [i for i, (d, a) in enumerate(zip(stored, axes, strict=False)) if d != 1 or a in "YX"]
    stored, axes = tuple(stored[i] for i in keep), "".join(axes[i] for i in keep)
    planar = len(stored) == 3 and axes.startswith("S") and stored[0] in (3, 4)  # RGB stored plane by plane
    shape = (stored[1], stored[2], stored[0]) if planar else stored
    why = _tiff_shape(shape)
    if why is not None:
        raise ValueError(f"cannot read image {path}: {why}")
    check_pixels(shape[0], shape[1], path)
    try:
        values = tifffile.imread(path, series=0, level=0)
    except Exception:  # not a TIFF tifffile reads: let Pillow try and word the error
        return None
    values = np.asarray(values)
    values = np.asarray(values)
    if values.size == int(np.prod(stored)):
        values = values.reshape(stored)
        values = np.moveaxis(values, 0, -1) if planar else values
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[:, :, 0]
    if values.ndim == 3 and values.shape[2] in (3, 4):
        values = values[:, :, :3]
    elif values.ndim != 2 or values.dtype.kind not in "biuf":
        return None
    if values.dtype.kind == "f":
        return values.astype(np.float32 if values.dtype.itemsize <= 4 else np.float64)
    if values.dtype.kind == "b":
        return values.astype(np.uint8)
    return values.astype(values.dtype.newbyteorder("="))


def _luminance(rgb):
    """ITU-R 601-2 luminance of RGB pixels in their own dtype, as Pillow's ``L`` (its integer formula for uint8)."""
    if rgb.dtype == np.uint8:
        r, g, b = (rgb[..., c].astype(np.uint32) for c in range(3))
        return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)
    grey = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    if rgb.dtype.kind in "iu":
        low, high = int_range(rgb.dtype)
        return np.clip(np.rint(grey), low, high).astype(rgb.dtype)
    return grey.astype(rgb.dtype)


def _resize(pixels: np.ndarray, size, Image) -> np.ndarray:
    """``pixels`` resized to ``size`` (width, height) with Pillow's bicubic filter, keeping the dtype."""
    if pixels.dtype == np.uint8:
        mode = "L" if pixels.ndim == 2 else "RGB"
        return np.asarray(Image.fromarray(pixels, mode).resize(size, resample=Image.Resampling.BICUBIC)).copy()
    planes = [pixels] if pixels.ndim == 2 else [pixels[:, :, c] for c in range(pixels.shape[2])]
    out = []
    for plane in planes:  # one float32 ("F") image per plane: Pillow resizes those at full depth
        f = np.asarray(Image.fromarray(plane.astype(np.float32), "F").resize(size, resample=Image.Resampling.BICUBIC))
        if pixels.dtype.kind in "iu":
            info = np.iinfo(pixels.dtype)
            f = np.clip(np.rint(f), info.min, info.max)
        out.append(f.astype(pixels.dtype))
    return out[0] if pixels.ndim == 2 else np.stack(out, axis=-1)


def _size_pair(value) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"resize must be (width, height) or 'WxH', got {value!r}") from None
    if width < 1 or height < 1:
        raise ValueError(f"resize must be positive, got {value!r}")
    return width, height


def save_image(pixels: ArrayLike, path: str | os.PathLike) -> Path:
    """Save 8-bit pixels as an image file; the extension picks the format.

    Parameters
    ----------
    pixels : numpy.ndarray
        ``uint8``, shape ``(H, W)`` (grey) or ``(H, W, 3)`` (RGB).
    path : str or os.PathLike
        Output file; ``.png`` for lossless output, or any extension Pillow
        writes (``.jpg``, ``.bmp``, ``.tif``, ...); no extension means PNG.
        Its folder must exist.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If ``pixels`` is not ``uint8``.
    ValueError
        If the shape is not (H, W) or (H, W, 3), the extension names no
        format Pillow writes, or the file cannot be written.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from fastconv.image import save_image, read_image
    >>> out = save_image(np.full((4, 6), 7, np.uint8), os.path.join(tempfile.mkdtemp(), "x.png"))
    >>> read_image(out, channel="gray")[0, :3]
    array([7, 7, 7], dtype=uint8)
    """
    Image = _pil()
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise TypeError(f"pixels must be uint8 (see to_uint8), got dtype {pixels.dtype}")
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise ValueError(f"pixels must have shape (H, W) or (H, W, 3), got {pixels.shape}")
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"cannot write {path}: folder {folder} does not exist")
    mode = "L" if pixels.ndim == 2 else "RGB"
    im = Image.fromarray(np.ascontiguousarray(pixels)).convert(mode)
    try:
        # No extension: PNG, the lossless default.
        im.save(path, format=None if path.suffix else "PNG")
    except (ValueError, KeyError):
        raise ValueError(
            f"cannot write {path}: Pillow does not know the extension {path.suffix!r} (use .png, .jpg, .bmp, .tif, ...)"
        ) from None
    except OSError as err:
        raise ValueError(f"cannot write {path}: {err}") from None
    return path


def save_raw(values: ArrayLike, path: str | os.PathLike) -> Path:
    """Save a filter result without scaling, in a format that holds it, or raise ValueError.

    Parameters
    ----------
    values : numpy.ndarray
        Shape (H, W) or (H, W, 3), any real dtype.
    path : str or os.PathLike
        ``.npy``: the array as it is.  ``.png``: 16-bit grey PNG, when
        ``values`` are integers in 0..65535 and 2-D.  ``.tif``/``.tiff``:
        int32 for integers in the int32 range, float32 for floats (through
        tifffile).

    Returns
    -------
    pathlib.Path
        The path written, in the format that holds the values.

    Raises
    ------
    ValueError
        If the format cannot hold the values (the message says which format
        can), the extension is another one, or the folder does not exist.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from fastconv.image import save_raw, read_image
    >>> out = save_raw(np.array([[0, 1000], [40000, 65535]]), os.path.join(tempfile.mkdtemp(), "x.png"))
    >>> read_image(out)
    array([[    0,  1000],
           [40000, 65535]], dtype=uint16)
    """
    values = np.asarray(values)
    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {path}: folder {path.parent} does not exist")
    suffix = path.suffix.lower()
    if values.dtype.kind not in "biuf":
        raise TypeError(f"values must be real numbers, got dtype {values.dtype}")
    lo, hi = (values.min(), values.max()) if values.size else (0, 0)
    integer = values.dtype.kind in "biu"
    if suffix == ".npy":
        np.save(path, values)
        return path
    if suffix == ".png":
        if values.ndim != 2:
            raise ValueError(f"cannot write {path}: a raw PNG is one grey plane; write .tif or .npy for 3 channels")
        if not integer or lo < 0 or hi > 65535:
            raise ValueError(
                f"cannot write {path} as a 16-bit PNG: values {lo:.6g}..{hi:.6g} are not integers in 0..65535; "
                "write .tif or .npy, or choose an 8-bit --scale"
            )
        _pil().fromarray(values.astype(np.uint16)).save(path, format="PNG")
        return path
    if suffix in (".tif", ".tiff"):
        try:
            import tifffile
        except ImportError:
            raise ImportError("writing raw TIFF needs tifffile: pip install 'fastconv[image]'") from None
        if integer:
            info = np.iinfo(np.int32)
            if lo < info.min or hi > info.max:
                raise ValueError(f"cannot write {path}: values {lo}..{hi} do not fit int32 TIFF; write .npy")
            data = values.astype(np.int32)
        else:
            data = values.astype(np.float32)
        tifffile.imwrite(path, data, photometric="rgb" if data.ndim == 3 else "minisblack")
        return path
    raise ValueError(f"cannot write {path} without scaling: use .png (16-bit), .tif/.tiff (int32/float32) or .npy")

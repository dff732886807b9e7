"""Images in, images out: read a file, filter it with fastconv, save 8 bits.

The pipeline is the seed's Part 1b made explicit:

1. :func:`read_image` opens any file Pillow reads (PNG, JPEG, BMP, TIFF,
   ...), optionally resizes it, and keeps one channel (``r``, ``g``, ``b``,
   ``gray``) or all three (``rgb``), as ``uint8``.
2. :func:`fastconv.convolve2d` filters it (each channel with the same 2-D
   kernel).  An 8-bit image and an integer kernel give exact ``int64``
   values; a fractional kernel gives ``float64``.
3. :func:`to_uint8` maps the values back to 0..255 with an explicit choice
   (see :data:`SCALES`), and :func:`save_image` writes PNG (or the format the
   file extension names).

:func:`filter_image` does all three in one call.

Choosing the scaling
--------------------
An edge kernel such as the seed's ``kernel1`` gives values from -2040 to
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

The seed displayed ``np.uint(values)``, which wraps negative values around to
huge unsigned integers.  :func:`seed_display` and :func:`low_byte_view`
compute what that showed; ``fastconv demo`` puts them next to ``abs``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from . import kernels as _kernels
from .convolve import convolve2d

__all__ = [
    "CHANNELS",
    "DEFAULT_SCALE",
    "SCALES",
    "demo",
    "filter_image",
    "low_byte_view",
    "parse_size",
    "read_image",
    "save_image",
    "seed_display",
    "to_uint8",
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

#: Ways :func:`to_uint8` maps filter output to 8 bits (module docstring).
SCALES = ("abs", "clip", "normalize")
#: The scaling used when none is given: ``abs`` (module docstring says why).
DEFAULT_SCALE = "abs"


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "reading and writing images needs Pillow: pip install 'fastconv[image]'"
        ) from None
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


def read_image(path, *, resize=None, channel: str = "r") -> np.ndarray:
    """Read an image file as ``uint8`` pixels, optionally resized, one channel or all.

    Parameters
    ----------
    path : str or os.PathLike
        Any file Pillow can open.  Palette, grey, alpha and 16-bit images are
        converted to 8-bit RGB first (alpha is dropped).
    resize : tuple of int or str, optional
        ``(width, height)`` or ``"WxH"``; the image is resized with Pillow's
        bicubic filter (aspect ratio not kept, as the seed's
        ``im.resize((200, 200))``).
    channel : {"r", "g", "b", "gray", "rgb"}, default "r"
        The colour channel to keep, the luminance ``gray``, or ``rgb`` for
        all three.  ``red``, ``grey``, ``luminance``, ``all`` are accepted too.

    Returns
    -------
    numpy.ndarray
        ``uint8``, shape ``(H, W)``, or ``(H, W, 3)`` for ``rgb``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not an image Pillow can decode, or ``channel`` or
        ``resize`` is invalid.

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
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"image not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"cannot read image {path}: it is a directory")
    try:
        with Image.open(path) as im:
            im.load()
            rgb = _to_rgb(im, Image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        reason = "not an image Pillow can read" if "identify" in str(err) else str(err)
        raise ValueError(f"cannot read image {path}: {reason}") from None
    if size is not None:
        rgb = rgb.resize(size, resample=Image.Resampling.BICUBIC)
    if channel == "gray":
        return np.asarray(rgb.convert("L"), dtype=np.uint8).copy()
    pixels = np.asarray(rgb, dtype=np.uint8)
    if channel == "rgb":
        return pixels.copy()
    return pixels[:, :, "rgb".index(channel)].copy()


def _to_rgb(im, Image):
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # High bit depth grey: map the full range of the type to 0..255.
        values = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I") else 1.0
        if im.mode == "I" and values.max(initial=0) <= 255:
            top = 255.0
        grey = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    return im.convert("RGB")


def _size_pair(value) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"resize must be (width, height) or 'WxH', got {value!r}") from None
    if width < 1 or height < 1:
        raise ValueError(f"resize must be positive, got {value!r}")
    return width, height


def to_uint8(values, scale: str = DEFAULT_SCALE) -> np.ndarray:
    """Map filter output to 8-bit pixels with an explicit rule.

    Parameters
    ----------
    values : array_like
        Filter output, any real dtype, any shape.
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
    v = np.asarray(values)
    if v.dtype.kind not in "biuf":
        raise TypeError(f"values must be real numbers, got dtype {v.dtype}")
    v = v.astype(np.float64)
    if np.isnan(v).any():
        raise ValueError("values contain NaN; there is no pixel value for it")
    if scale == "abs":
        out = np.abs(v)
    elif scale == "clip":
        out = v
    else:
        lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
        if hi == lo:
            return np.zeros(v.shape, dtype=np.uint8)
        out = (v - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def save_image(pixels, path) -> Path:
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
            f"cannot write {path}: Pillow does not know the extension {path.suffix!r} "
            "(use .png, .jpg, .bmp, .tif, ...)"
        ) from None
    except OSError as err:
        raise ValueError(f"cannot write {path}: {err}") from None
    return path


def filter_image(
    image,
    kernel,
    *,
    channel: str = "r",
    resize=None,
    stride=1,
    padding=0,
    dilation=1,
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
        A kernel name, file or row text (:func:`fastconv.kernels.parse`), a
        2-D array, or a list of these applied one after the other (the
        unscaled output of one is the input of the next; scaling happens
        once, at the end).
    channel, resize
        As in :func:`read_image`.
    stride, padding, dilation, flip, pad_mode, backend
        Passed to :func:`fastconv.convolve2d` (for each kernel of a chain).
    scale : {"abs", "clip", "normalize"}, default "abs"
        How the result is mapped to 0..255 (:func:`to_uint8`).

    Returns
    -------
    numpy.ndarray
        ``uint8`` of shape (OH, OW) or (OH, OW, C).

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
        values = image
    else:
        values = read_image(image, resize=resize, channel=channel)
    chain = kernel if isinstance(kernel, (list, tuple)) else [kernel]
    if not chain:
        raise ValueError("kernel must name at least one kernel, got an empty list")
    for k in chain:
        k = _kernels.parse(k) if isinstance(k, str) else k
        values = convolve2d(
            values, k, stride, padding, dilation=dilation, flip=flip,
            pad_mode=pad_mode, backend=backend,
        )
    return to_uint8(values, scale)


# --------------------------------------------------------------------------
# The seed's display, computed.


def low_byte_view(values) -> np.ndarray:
    """Return the low 8 bits of ``np.uint(values)``: the wrap-around view.

    ``np.uint`` turns ``-1`` into ``2**64 - 1`` on this platform (NumPy's
    float-to-unsigned cast of a negative number wraps on x86-64; C leaves it
    undefined); keeping the low byte, as a cast to ``uint8`` or an 8-bit
    view of those integers does, gives ``v mod 256``: ``-1`` shows as 255,
    ``256`` as 0.  Edges become bands of noise.

    Parameters
    ----------
    values : array_like
        Filter output (integers held in any real dtype).

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.image import low_byte_view
    >>> low_byte_view(np.array([-1.0, 0.0, 255.0, 256.0, 300.0]))
    array([255,   0, 255,   0,  44], dtype=uint8)
    """
    with np.errstate(invalid="ignore"):
        wrapped = np.uint(np.asarray(values, dtype=np.float64))
    return (wrapped & np.uint64(0xFF)).astype(np.uint8)


def seed_display(values) -> tuple[np.ndarray, str]:
    """Compute what the seed's ``Image.fromarray(np.uint(v)).show()`` displayed.

    The steps are run, not assumed:

    1. ``np.uint(v)``: negative values wrap to huge unsigned integers.
    2. ``Image.fromarray`` of that array.  Where ``np.uint`` is 64 bits
       (Linux, macOS, and every platform with NumPy 2) Pillow refuses
       ``uint64`` ("Cannot handle this data type"): the seed's line fails.
       Where it is 32 bits (Windows with NumPy 1.x, C ``unsigned long``),
       Pillow makes a mode ``"I"`` (signed 32-bit) image from the low 32 bits,
       so the wrapped values read back as the original negative numbers.
       That case is what the seed's figures can have come from, and is what
       this function computes when step 2 fails.
    3. ``.show()`` converts a mode ``"I"`` image to ``Image.getmodebase("I")``
       (``"L"``) before displaying it, which clamps to 0..255.

    So the seed's display was, in effect, ``clip``: the negative half of
    every edge black and strong edges saturated; the wrap itself stays
    hidden unless the integers are cut to a byte (:func:`low_byte_view`).

    Parameters
    ----------
    values : array_like
        Filter output, 2-D, integers held in any real dtype.

    Returns
    -------
    pixels : numpy.ndarray
        ``uint8`` (H, W): what the viewer was handed.
    how : str
        Which path was taken, for a caption.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.image import seed_display
    >>> pixels, how = seed_display(np.array([[-5.0, 0.0, 100.0, 300.0]]))
    >>> pixels
    array([[  0,   0, 100, 255]], dtype=uint8)
    """
    Image = _pil()
    with np.errstate(invalid="ignore"):
        wrapped = np.uint(np.asarray(values, dtype=np.float64))
    try:
        im = Image.fromarray(wrapped)
        how = f"np.uint is {wrapped.dtype}; Pillow accepted it as mode {im.mode}"
    except TypeError:
        low32 = (wrapped & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        im = Image.fromarray(low32)
        how = (
            f"np.uint is {wrapped.dtype} here and Pillow refuses it; computed for a "
            f"32-bit np.uint (Windows, NumPy 1.x): mode {im.mode}"
        )
    base = Image.getmodebase(im.mode)
    if im.mode != base:
        im = im.convert(base)
        how += f", shown as mode {base}"
    return np.asarray(im, dtype=np.uint8).copy(), how


# --------------------------------------------------------------------------
# The demo: the seed's Figures 1-3, reproduced.

_SCALE_CAPTION = {
    "abs": "= |v| clipped at 255, both sides of edges",
    "clip": "= v clipped to 0..255",
    "normalize": "= min..max stretched to 0..255",
}

#: Files :func:`demo` writes into its output folder.
DEMO_FILES = (
    "figures_1-3.png",
    "figure1_red.png",
    "figure2_kernel1.png",
    "figure3_kernel2.png",
    "seed_display_vs_abs.png",
)


def demo(out_dir="fastconv-demo", *, scale: str = DEFAULT_SCALE) -> list[Path]:
    """Reproduce the seed's Part 1b Figures 1-3 on matplotlib's sample photo.

    Takes ``grace_hopper.jpg`` from matplotlib's sample data (installed with
    matplotlib; no download), resizes it to 200x200, keeps the red channel,
    filters it with the seed's ``kernel1`` and ``kernel2`` (no padding,
    stride 1, as the seed: 198x198 outputs), and writes :data:`DEMO_FILES`:

    - ``figures_1-3.png``: red channel, kernel1 and kernel2 side by side,
      titled;
    - ``figure1_red.png``, ``figure2_kernel1.png``, ``figure3_kernel2.png``:
      each panel alone, pixel for pixel;
    - ``seed_display_vs_abs.png``: per kernel, what the seed's ``np.uint``
      display gave (:func:`seed_display`), the low-byte wrap-around view
      (:func:`low_byte_view`) and ``scale``.

    Parameters
    ----------
    out_dir : str or os.PathLike, default "fastconv-demo"
        Output folder, created if missing.
    scale : {"abs", "clip", "normalize"}, default "abs"
        Scaling of the kernel outputs (:func:`to_uint8`).

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> from fastconv.image import demo
    >>> [p.name for p in demo(tempfile.mkdtemp())][0]  # doctest: +SKIP
    'figures_1-3.png'
    """
    try:
        import matplotlib.cbook
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("fastconv demo needs matplotlib: pip install 'fastconv[image]'") from None
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    photo = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    red = read_image(photo, resize=(200, 200), channel="r")
    raw = {name: convolve2d(red, _kernels.get(name)) for name in ("kernel1", "kernel2")}
    shown = {name: to_uint8(v, scale) for name, v in raw.items()}

    written = [
        save_image(red, out / "figure1_red.png"),
        save_image(shown["kernel1"], out / "figure2_kernel1.png"),
        save_image(shown["kernel2"], out / "figure3_kernel2.png"),
    ]

    def panel(ax, pixels, title):
        # vmin/vmax fixed: matplotlib must not rescale what to_uint8 decided.
        ax.imshow(pixels, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()

    fig = Figure(figsize=(9.0, 3.5), dpi=100, layout="constrained")
    axes = fig.subplots(1, 3)
    panel(axes[0], red, "Figure 1. Red channel\ngrace_hopper.jpg, 200x200")
    panel(axes[1], shown["kernel1"],
          f"Figure 2. kernel1 [-1 -1 -1; -1 8 -1; -1 -1 -1]\nvalid, 198x198, scale={scale}")
    panel(axes[2], shown["kernel2"],
          f"Figure 3. kernel2 [0 -1 0; -1 8 -1; 0 -1 0]\n(sums to 4) valid, 198x198, scale={scale}")
    fig.savefig(out / "figures_1-3.png")
    written.insert(0, out / "figures_1-3.png")

    fig = Figure(figsize=(10.0, 7.4), dpi=100, layout="constrained")
    axes = fig.subplots(2, 3)
    how = ""
    for row, name in enumerate(("kernel1", "kernel2")):
        seed_pixels, how = seed_display(raw[name])
        lo, hi = int(raw[name].min()), int(raw[name].max())
        panel(axes[row, 0], seed_pixels,
              f"{name}, values {lo}..{hi}\nseed: Image.fromarray(np.uint(v)).show()\n"
              "= clamped to 0..255, negatives black")
        panel(axes[row, 1], low_byte_view(raw[name]),
              f"{name}\nlow 8 bits of np.uint(v)\n= v mod 256, the wrap-around")
        panel(axes[row, 2], shown[name],
              f"{name}\nfastconv scale={scale}\n" + _SCALE_CAPTION[scale])
    fig.suptitle(
        "Showing signed filter output as 8 bits (red channel, 200x200, valid)\n"
        f"seed path computed here: {how}",
        fontsize=9,
    )
    fig.savefig(out / "seed_display_vs_abs.png")
    written.append(out / "seed_display_vs_abs.png")
    return written

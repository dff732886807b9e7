"""The seed report's Part 1, reproduced: its convolution function, its display, its Figures 1-3.

The seed (a university assignment this project grew from) wrote
``convolve(matrix, kernel)`` in pure Python and showed its results with
``Image.fromarray(np.uint(v)).show()``.  This module keeps both, computed
rather than described, for the comparisons in the tests, the benchmarks and
``fastconv demo``:

- :func:`seed_convolve`: the seed's function as it was, bugs included;
- :func:`seed_display`, :func:`low_byte_view`: what its display showed;
- :func:`demo`: Figures 1-3 on matplotlib's sample photo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import filters
from .convolve import convolve2d
from .image import DEFAULT_SCALE, SCALES, read_image, save_image, to_uint8
from .image_io import _pil

__all__ = ["DEMO_FILES", "demo", "low_byte_view", "seed_convolve", "seed_display"]


def seed_convolve(matrix, kernel):
    """The seed report's Part 1a function, kept verbatim (bugs included) as a point of comparison.

    It sizes the output n-k+3 instead of n-k+1, reads ``matrix.shape[0]`` for
    both sides, and is correct only on the top-left (n-k+1) x (n-k+1) block of
    a square image.
    """
    xKernShape = kernel.shape[0]
    yKernShape = kernel.shape[1]
    xImgShape = matrix.shape[0]
    yImgShape = matrix.shape[0]
    xOutput = int((xImgShape - xKernShape + 2) + 1)
    yOutput = int((yImgShape - yKernShape + 2) + 1)
    output = np.zeros((xOutput, yOutput))
    for y in range(matrix.shape[1]):
        if y > matrix.shape[1] - yKernShape:
            break
        for x in range(matrix.shape[0]):
            if x > matrix.shape[0] - xKernShape:
                break
            output[x, y] = (kernel * matrix[x : x + xKernShape, y : y + yKernShape]).sum()
    return output


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
    >>> from fastconv.demo import low_byte_view
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
    >>> from fastconv.demo import seed_display
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
    >>> from fastconv.demo import demo
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
    raw = {name: convolve2d(red, filters.get(name)) for name in ("kernel1", "kernel2")}
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
    panel(axes[1], shown["kernel1"], f"Figure 2. kernel1 [-1 -1 -1; -1 8 -1; -1 -1 -1]\nvalid, 198x198, scale={scale}")
    panel(
        axes[2],
        shown["kernel2"],
        f"Figure 3. kernel2 [0 -1 0; -1 8 -1; 0 -1 0]\n(sums to 4) valid, 198x198, scale={scale}",
    )
    fig.savefig(out / "figures_1-3.png")
    written.insert(0, out / "figures_1-3.png")

    fig = Figure(figsize=(10.0, 7.4), dpi=100, layout="constrained")
    axes = fig.subplots(2, 3)
    how = ""
    for row, name in enumerate(("kernel1", "kernel2")):
        seed_pixels, how = seed_display(raw[name])
        lo, hi = int(raw[name].min()), int(raw[name].max())
        panel(
            axes[row, 0],
            seed_pixels,
            f"{name}, values {lo}..{hi}\nseed: Image.fromarray(np.uint(v)).show()\n"
            "= clamped to 0..255, negatives black",
        )
        panel(axes[row, 1], low_byte_view(raw[name]), f"{name}\nlow 8 bits of np.uint(v)\n= v mod 256, the wrap-around")
        panel(axes[row, 2], shown[name], f"{name}\nfastconv scale={scale}\n" + _SCALE_CAPTION[scale])
    fig.suptitle(
        f"Showing signed filter output as 8 bits (red channel, 200x200, valid)\nseed path computed here: {how}",
        fontsize=9,
    )
    fig.savefig(out / "seed_display_vs_abs.png")
    written.append(out / "seed_display_vs_abs.png")
    return written

"""The ``fastconv`` command: filter image files, reproduce the published report's figures.

``fastconv filter IMAGE -k KERNEL [-k KERNEL ...] -o OUT`` filters one image;
``fastconv demo`` reproduces the published report's Part 1b Figures 1-3;
``fastconv kernels`` lists the named kernels.  ``python -m fastconv`` is the
same command.

Exit status: 0 on success; 2 for a mistake on the command line (unknown
option, bad number, unknown kernel name, unreadable kernel file); 1 when the
command line is fine but the work fails (image missing or unreadable, kernel
larger than the image, output cannot be written).  Either way one line
``fastconv: error: ...`` goes to stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from pathlib import Path

from . import filters
from ._plan import padding_from_text

_EPILOG_FILTER = """\
kernels (-k): a name, NAME:PARAMS, a file, or rows in quotes
  {names}
  files: .npy (a 2-D array) or text rows, e.g. a file containing
         -1 -1 -1
         -1  8 -1
         -1 -1 -1
  rows:  -k "-1 -1 -1; -1 8 -1; -1 -1 -1"

several -k: each kernel filters the image on its own and writes its own file,
  OUT with the kernel's name added (out.png -> out-kernel1.png, out-sobel-x.png);
  with --chain they are applied one after the other into the single file OUT.

scaling to 8 bits (--scale):
  abs        |v| clipped at 255: edge strength, both sides of an edge (default;
             the same as clip for blur/box/identity, whose output is >= 0)
  clip       v clipped to 0..255: for kernels that return an image (sharpen,
             emboss); drops the negative side of edges
  normalize  min..max stretched to 0..255 (one map for all channels)
  none       no scaling: the raw result, as a 16-bit grey PNG (integers in
             0..65535), an int32 or float32 TIFF, or .npy
16- and 32-bit images (PNG, TIFF) are filtered at their own depth; abs and clip
  show 16-bit ones as their 8-bit version would look (values / 257).

examples:
  fastconv filter photo.jpg -k kernel1 -o edges.png
  fastconv filter photo.jpg --resize 200x200 --channel r -k kernel1 -k kernel2 -o out.png
  fastconv filter photo.jpg --channel rgb -k gaussian:7:2 --padding same --scale clip -o soft.png
  fastconv filter photo.jpg -k sobel-x --stride 2 --scale normalize -o sx.png
  fastconv filter cells16.tif -k gaussian:5:1 --padding same --scale none -o cells-soft.tif
"""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr, exit status 2."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"fastconv: error: {message} (see '{self.prog} --help')\n")


def _int_pair(name: str, minimum: int):
    def parse(text: str):
        parts = [p.strip() for p in text.split(",")]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer or ROWS,COLS, got {text!r}") from None
        if len(values) not in (1, 2) or min(values) < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= {minimum} or ROWS,COLS, got {text!r}")
        return values[0] if len(values) == 1 else tuple(values)

    return parse


def _count(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = -1
        if value < 0:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= 0, got {text!r}")
        return value

    return parse


def _padding(text: str):
    try:
        return padding_from_text(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _kernel(text: str):
    try:
        return text, filters.parse(text)
    except (ValueError, TypeError, FileNotFoundError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _size(text: str):
    from .image import parse_size

    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).replace("size", "resize", 1)) from None


def _output(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError(f"OUT must name a file, got {text!r}")
    path = Path(text)
    if not path.suffix:
        raise argparse.ArgumentTypeError(
            f"OUT {text!r} has no extension; add one to choose the format (.png, .jpg, .bmp, .tif, .npy, .zarr)"
        )
    return path


def _choice(choices, aliases=None):
    aliases = aliases or {}

    def parse(text: str):
        key = text.strip().lower()
        key = aliases.get(key, key)
        if key not in choices:
            raise argparse.ArgumentTypeError(f"must be one of {', '.join(choices)}; got {text!r}")
        return key

    return parse


def _choice_option(parser, flag: str, choices, default: str, what: str, note: str = "") -> None:
    """Add ``flag``, one word of ``choices`` (any case), its help ``what: choice, ... (default DEFAULT note)``."""
    parser.add_argument(
        flag, default=default, type=_choice(choices), help=f"{what}: {', '.join(choices)} (default {default}{note})"
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the ``fastconv`` argument parser (subcommands filter, demo, kernels).

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> from fastconv.cli import build_parser
    >>> args = build_parser().parse_args(["filter", "in.png", "-k", "kernel1", "-o", "out.png"])
    >>> args.command, args.kernels[0][0], args.stride
    ('filter', 'kernel1', 1)
    >>> args.scale is None  # not given: abs in memory, none (raw values) out of core
    True
    """
    from . import __version__
    from ._plan import PAD_MODES
    from .convolve import BACKENDS
    from .image import DEFAULT_SCALE, FILTER_SCALES, SCALES
    from .image_io import _CHANNEL_ALIASES, CHANNELS

    backends = ("auto",) + tuple(BACKENDS)

    parser = _Parser(
        prog="fastconv",
        description="Filter images with fastconv's 2-D convolution, or reproduce the published report's "
        "edge-detection figures.",
        epilog="Run 'fastconv COMMAND --help' for a command's options. First run: 'fastconv demo'.",
    )
    parser.add_argument("--version", action="version", version=f"fastconv {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    flt = commands.add_parser(
        "filter",
        help="filter an image file with one or more kernels",
        description="Read IMAGE, keep one channel (or all three), convolve it with each "
        "kernel (cross-correlation, as CNN layers and scipy.signal.correlate2d), map the "
        "result to 8 bits and save it. The output format follows OUT's extension "
        "(.png, .jpg, .bmp, .tif, ...).",
        epilog=_EPILOG_FILTER.format(names=", ".join(filters.NAMES)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    flt.add_argument("image", metavar="IMAGE", help="input image (any format Pillow reads)")
    flt.add_argument(
        "-k",
        "--kernel",
        dest="kernels",
        metavar="KERNEL",
        action="append",
        type=_kernel,
        required=True,
        help="kernel name (e.g. kernel1, sobel-x, gaussian:5:1.2), file or rows; repeat for several kernels",
    )
    flt.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        required=True,
        type=_output,
        help="output image file; its extension chooses the format (.png, .jpg, .bmp, .tif, .npy, .zarr)",
    )
    flt.add_argument(
        "--chain",
        action="store_true",
        help="apply the kernels one after the other into one output (default: one output per kernel)",
    )
    flt.add_argument(
        "--channel",
        default="r",
        type=_choice(CHANNELS, _CHANNEL_ALIASES),
        help="r, g, b, gray (luminance) or rgb (all three, colour output); default r, as the published report",
    )
    flt.add_argument(
        "--resize", metavar="WxH", type=_size, help="resize the input first, e.g. 200x200 (default: keep its size)"
    )
    flt.add_argument(
        "--stride", default=1, type=_int_pair("stride", 1), help="step between windows: S or ROWS,COLS (default 1)"
    )
    flt.add_argument(
        "--padding",
        default=0,
        type=_padding,
        help="valid, same, full, P, ROWS,COLS or TOP,BOTTOM,LEFT,RIGHT, as convolve2d's padding (default 0 = "
        "valid: the output shrinks by the kernel size - 1, as in the published report)",
    )
    _choice_option(flt, "--pad-mode", PAD_MODES, "constant", "values used for padding", " = 0")
    flt.add_argument(
        "--dilation",
        default=1,
        type=_int_pair("dilation", 1),
        help="spacing between kernel taps: D or ROWS,COLS (default 1)",
    )
    flt.add_argument(
        "--flip", action="store_true", help="flip the kernel (true convolution instead of cross-correlation)"
    )
    flt.add_argument(
        "--scale",
        default=None,
        type=_choice(FILTER_SCALES),
        help=f"map to 8 bits: {', '.join(SCALES)} (default {DEFAULT_SCALE}; see below); "
        "none: write the raw result (16-bit PNG, int32/float32 TIFF, .npy; the default out of core)",
    )
    _choice_option(flt, "--backend", backends, "auto", "convolution backend")
    flt.add_argument(
        "--chunks",
        type=_int_pair("chunks", 1),
        help="out of core with Dask, chunk by chunk: N or ROWS,COLS output chunks (default 1024 when IMAGE or "
        "OUT is .zarr); reads TIFF or zarr, writes .zarr or tiled .tif: raw values unless --scale is given, "
        "no --resize",
    )
    flt.add_argument(
        "--max-pixels",
        metavar="N",
        type=_count("max-pixels"),
        help="the most pixels decoded at once (a whole PNG/JPEG/TIFF, or one stored chunk of a TIFF/zarr read "
        "out of core), refused from the header before decoding; default 16777216 (4096x4096) or "
        "$FASTCONV_MAX_IMAGE_PIXELS; 0 for no limit",
    )
    flt.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing OUT that is not what fastconv writes (a folder of other files, a file of "
        "another format); an OUT that is IMAGE itself is refused even then",
    )

    dem = commands.add_parser(
        "demo",
        help="reproduce the published report's Figures 1-3 on matplotlib's sample photo",
        description="Take matplotlib's sample photo grace_hopper.jpg (installed with "
        "matplotlib, no download), resize it to 200x200, keep the red channel, filter it "
        "with the published report's kernel1 and kernel2, and write PNGs: the three figures side by "
        "side, each on its own, and the published report's np.uint display next to honest scaling.",
    )
    dem.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=Path("fastconv-demo"),
        help="output folder, created if missing (default ./fastconv-demo)",
    )
    dem.add_argument(
        "--scale",
        default=DEFAULT_SCALE,
        type=_choice(SCALES),
        help=f"map to 8 bits: {', '.join(SCALES)} (default {DEFAULT_SCALE})",
    )

    commands.add_parser("kernels", help="list the named kernels", description="List the kernels -k accepts by name.")
    pre = commands.add_parser(
        "precompile",
        help="compile and cache the kernels ahead of time (e.g. in a Docker build step)",
        description="Compile fastconv's kernels for the common image dtypes and write them to Numba's cache "
        "(NUMBA_CACHE_DIR, or __pycache__ next to the modules), so that the first call of a new process "
        "loads them instead of compiling for several seconds.",
    )
    pre.add_argument(
        "--dtype",
        dest="dtypes",
        action="append",
        type=_choice(("uint8", "uint16", "int16", "int32", "float32", "float64")),
        help="an image dtype to compile for (repeatable; default uint8, uint16, float32, float64)",
    )
    return parser


def _slug(spec: str, index: int) -> str:
    if Path(spec).suffix.lower() in (".npy", ".txt", ".csv") or ";" in spec:
        base = Path(spec).stem if ";" not in spec else f"k{index + 1}"
    else:
        base = spec
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", base.replace(":", "-")).strip("-.")
    return slug or f"k{index + 1}"


def _output_paths(out: Path, specs: list[str]) -> list[Path]:
    if len(specs) == 1:
        return [out]
    names, seen = [], {}
    for i, spec in enumerate(specs):
        slug = _slug(spec, i)
        seen[slug] = seen.get(slug, 0) + 1
        names.append(slug if seen[slug] == 1 else f"{slug}-{seen[slug]}")
    suffix = out.suffix or ".png"
    return [out.with_name(f"{out.stem}-{name}{suffix}") for name in names]


class _Failure(Exception):
    """A user-facing failure after parsing: message for stderr, exit status 1."""


def _out_of_core(args) -> bool:
    """Filter with fastconv.dask: --chunks given, or a zarr input or output."""
    ends = (Path(args.image).suffix.lower(), args.output.suffix.lower())
    return args.chunks is not None or ".zarr" in ends


def _options(args) -> dict:
    """The convolution arguments of ``fastconv filter``, by their library names."""
    return {
        "stride": args.stride,
        "padding": args.padding,
        "dilation": args.dilation,
        "flip": args.flip,
        "pad_mode": args.pad_mode,
        "backend": args.backend,
    }


def _cannot(args, label: str, err: Exception) -> _Failure:
    text = str(err)
    return _Failure(text if text.startswith("cannot ") else f"cannot filter {args.image} with {label}: {text}")


def _run_filter_chunked(args, jobs) -> None:
    from .dask import filter_file
    from .precompile import compile_note

    if args.resize is not None:
        raise _Failure("--resize is not available out of core (with --chunks or a .zarr file)")
    scale = args.scale or "none"
    for label, chain, path in jobs:
        try:
            with compile_note():
                shape, dtype = filter_file(
                    args.image,
                    path,
                    chain,
                    channel=args.channel,
                    scale=scale,
                    chunks=args.chunks or 1024,
                    overwrite=args.overwrite,
                    **_options(args),
                )
        except ImportError as err:
            raise _Failure(f"out-of-core filtering needs {err.name}: pip install 'fastconv[dask]'") from None
        except (FileNotFoundError, ValueError, TypeError, OverflowError) as err:
            raise _cannot(args, label, err) from None
        scaling = "" if scale == "none" else f", scale {scale}"
        print(f"{path}: {shape[1]}x{shape[0]}, {label}, {dtype} values{scaling}")


def _run_filter(args) -> None:
    from . import image
    from ._output import OutputError, check_output, replacing
    from .convolve import convolve2d
    from .image import DEFAULT_SCALE, apply_chain, display_unit, read_image, save_image, save_raw, scaled
    from .precompile import compile_note

    if args.max_pixels is not None:
        image.MAX_IMAGE_PIXELS = args.max_pixels or None
    specs = [spec for spec, _ in args.kernels]
    arrays = [k for _, k in args.kernels]
    if args.chain:
        jobs = [(" -> ".join(specs), arrays, args.output)]
    else:
        jobs = [
            (spec, [k], path) for spec, k, path in zip(specs, arrays, _output_paths(args.output, specs), strict=True)
        ]
    try:  # every output checked before any is written
        for _, _, path in jobs:
            check_output(path, [args.image], overwrite=args.overwrite)
    except OutputError as err:
        raise _Failure(str(err)) from None
    if _out_of_core(args):
        return _run_filter_chunked(args, jobs)
    scale = args.scale or DEFAULT_SCALE
    try:
        pixels = read_image(args.image, resize=args.resize, channel=args.channel)
    except (FileNotFoundError, ValueError) as err:
        raise _Failure(str(err)) from None
    options = _options(args)
    for label, chain, path in jobs:
        try:
            with compile_note():
                values = apply_chain(pixels, chain, convolve2d, **options)
        except (ValueError, TypeError, OverflowError) as err:
            raise _cannot(args, label, err) from None
        try:
            out = scaled(values, scale, display_unit(pixels.dtype))
            with replacing(path) as partial:
                if scale == "none":
                    save_raw(out, partial)
                else:
                    save_image(out, partial)
        except ValueError as err:
            raise _Failure(str(err)) from None
        lo, hi = values.min(), values.max()
        print(f"{path}: {out.shape[1]}x{out.shape[0]}, {label}, values {lo:.6g}..{hi:.6g}, scale {scale}")


def _run_precompile(args) -> None:
    import os

    from .precompile import COMMON_DTYPES, precompile

    args.dtypes = args.dtypes or list(COMMON_DTYPES)
    where = os.environ.get("NUMBA_CACHE_DIR") or "__pycache__ folders next to fastconv's modules"
    print(f"compiling fastconv's kernels for {', '.join(args.dtypes)} images; cache: {where}", flush=True)
    try:
        n = precompile(args.dtypes, log=lambda line: print(line, flush=True))
    except TypeError as err:
        raise _Failure(str(err)) from None
    print(f"{n} kernel signatures compiled or loaded")


def _run_demo(args) -> None:
    from .demo import demo
    from .precompile import compile_note

    try:
        with compile_note():
            written = demo(args.out, scale=args.scale)
    except (OSError, ValueError) as err:
        raise _Failure(f"demo failed: {err}") from None
    for path in written:
        print(path)


def main(argv=None) -> int:
    """Run the ``fastconv`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        Exit status: 0 done, 1 the work failed, 2 bad command line.

    Examples
    --------
    >>> from fastconv.cli import main
    >>> main(["kernels"])  # doctest: +ELLIPSIS
    kernel1 ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from . import image

    limit = image.MAX_IMAGE_PIXELS
    restore = _stop_on_termination()
    try:
        if args.command == "kernels":
            print("\n".join(filters.describe()))
        elif args.command == "filter":
            _run_filter(args)
        elif args.command == "demo":
            _run_demo(args)
        elif args.command == "precompile":
            _run_precompile(args)
    except _Failure as err:
        print(f"fastconv: error: {err}", file=sys.stderr)
        return 1
    except ImportError as err:
        print(f"fastconv: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fastconv: interrupted", file=sys.stderr)
        return 130
    except _Terminated as stop:
        print(f"fastconv: stopped by {signal.Signals(stop.signum).name}", file=sys.stderr)
        return 128 + stop.signum
    finally:
        image.MAX_IMAGE_PIXELS = limit  # --max-pixels lasts for one command
        restore()
    return 0


class _Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds the command as Ctrl-C does (temporary outputs removed)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stop_on_termination():
    """Make SIGTERM and SIGHUP raise :class:`_Terminated` in the main thread; return what restores the old handlers.

    Their default action ends the process at once, leaving a temporary output behind; raised as an
    exception they unwind through :func:`fastconv._output.replacing`, which removes it.  Only the
    main thread can set handlers: elsewhere (``main`` called from a worker thread) nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop(signum, frame):
        raise _Terminated(signum)

    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    old = {}
    for sig in wanted:
        if signal.getsignal(sig) is signal.SIG_IGN:  # nohup: SIGHUP stays ignored
            continue
        old[sig] = signal.signal(sig, stop)

    def restore():
        for sig, handler in old.items():
            signal.signal(sig, handler)

    return restore

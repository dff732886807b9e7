"""Out of core: filter an image file larger than memory, chunk by chunk (``fastconv filter --chunks``).

:func:`filter_file` opens a TIFF or zarr image lazily, runs the pipeline of :mod:`fastconv.image`
(channel, kernel chain, scaling) on it with the lazy :func:`fastconv.dask.convolve2d`, and writes a
zarr store or a tiled TIFF one chunk at a time, under a temporary name renamed when complete.
Imported by :mod:`fastconv.dask`, which gives its name.
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask
import dask.array as da
import numpy as np
from dask.diagnostics import ProgressBar

from . import _plan
from . import _validation as v
from ._dask_arrays import convolve2d
from ._output import check_output, replacing
from .image import apply_chain, check_chain_size, check_scale, display_unit, kernel_chain, scaled
from .image_io import check_pixels, quiet_tifffile, select_channel, tiff_data_problem

__all__ = ["filter_file"]


#: File suffixes :func:`filter_file` reads and writes.
TIFF_SUFFIXES = (".tif", ".tiff")
ZARR_SUFFIXES = (".zarr",)
#: The arguments of :func:`fastconv.convolve2d` that :func:`filter_file` hands on as they are (``**options``).
OPTIONS = ("dilation", "flip", "pad_mode", "backend")


def _open_lazy(path: Path, closing: contextlib.ExitStack):
    """The zarr array behind a zarr store or a TIFF file (tifffile's zarr interface), nothing read yet.

    A TIFF store's file stays open until ``closing`` closes it.
    """
    import zarr

    suffix = path.suffix.lower()
    if not path.exists():
        raise FileNotFoundError(f"cannot read image {path}: no such file or directory")
    if suffix in TIFF_SUFFIXES:
        import tifffile

        try:
            with quiet_tifffile(), tifffile.TiffFile(path) as tif:
                problem = tiff_data_problem(tif, path)
            if problem is None:
                store = tifffile.imread(path, aszarr=True)
        except Exception as err:  # a damaged file: tifffile raises struct.error, KeyError, IndexError, ...
            raise ValueError(f"cannot read image {path}: {err or type(err).__name__}") from None
        if problem is not None:
            raise ValueError(f"cannot read image {path}: {problem}")
        closing.callback(store.close)
        z = zarr.open(store, mode="r")
    elif suffix in ZARR_SUFFIXES:
        z = zarr.open(path, mode="r")
    else:
        raise ValueError(f"cannot read image {path} out of core: use a {', '.join(TIFF_SUFFIXES + ZARR_SUFFIXES)} file")
    if isinstance(z, zarr.Group):  # a pyramid (multiscale TIFF or OME-zarr): level 0 is the full image
        arrays = sorted(z.array_keys())
        if not arrays:
            raise ValueError(f"cannot read image {path}: the zarr group holds no array")
        z = z[arrays[0]]
    return z


def filter_file(
    src,
    dst,
    k,
    *,
    stride=1,
    padding=0,
    channel=None,
    scale="none",
    chunks=1024,
    scheduler="threads",
    num_workers=None,
    threads=1,
    progress=True,
    overwrite=False,
    **options,
):
    """Filter an image file larger than memory: TIFF or zarr in, zarr or tiled TIFF out, chunk by chunk.

    The input is opened lazily (a TIFF through tifffile's zarr interface, a zarr
    store with :func:`zarr.open`), filtered with :func:`convolve2d` and written
    one chunk at a time, so only a few chunks per worker are in memory. The
    channel choice, the kernel chain and the scaling are those of
    :func:`fastconv.image.filter_image` and ``fastconv filter``; by default
    (``scale="none"``) the output holds the raw convolution values in
    :func:`fastconv.convolve2d`'s dtype (int64 for integer images and kernels).

    Parameters
    ----------
    src : str or Path
        ``.tif``/``.tiff`` or ``.zarr`` image, (H, W) or (H, W, C).
    dst : str or Path
        ``.zarr`` (a zarr array, replaced if present) or ``.tif``/``.tiff``
        (a tiled TIFF, tiles of ``chunks`` rounded up to a multiple of 16).
        Written under a temporary name beside it and renamed when complete, so an
        interrupted job leaves the old ``dst`` (or none), never a partial one.
    k : array_like (kh, kw) or str, or a list of them
        The kernel (an array, or a name or text :func:`fastconv.filters.parse`
        reads); a list is applied in order (each output feeds the next).
    stride, padding
        As in :func:`fastconv.convolve2d`.
    channel : None or one of :data:`fastconv.image.CHANNELS`, default None
        For an (H, W, C) image: the channel to keep, the luminance ``gray``,
        or all (``rgb``, or None), as :func:`fastconv.image.select_channel`.
    scale : {"none", "abs", "clip", "normalize"}, default "none"
        ``none`` writes the raw values; the others write ``uint8`` pixels as
        :func:`fastconv.image.scaled` maps them (``normalize`` reads the
        result's range in a first pass).
    chunks : int or (int, int), default 1024
        Output chunk (and TIFF tile) size, rows and columns.
    scheduler : str, default "threads"
        Dask scheduler ("threads", "processes", "synchronous"; "distributed"
        for the active :class:`dask.distributed.Client`).
    num_workers : int, optional
        Workers of the local scheduler (default: one per core).
    threads : int or None, default 1
        Numba threads per task.
    progress : bool, default True
        Show Dask's progress bar on stdout (local schedulers).
    **options
        ``dilation``, ``flip``, ``pad_mode``, ``backend``: as in :func:`fastconv.convolve2d`, handed to
        :func:`convolve2d` for every kernel of the chain (as :func:`fastconv.image.apply_chain` hands them).
    overwrite : bool, default False
        Replace a ``dst`` that is not what this function writes (a folder of
        other files, a file where a zarr store goes); see
        :func:`fastconv._output.check_output`.  ``dst`` equal to ``src`` is
        refused even then.

    Returns
    -------
    tuple
        The output's shape and dtype.

    Raises
    ------
    FileNotFoundError
        If ``src`` does not exist.
    ValueError, TypeError
        For an unreadable input, an unknown suffix, or arguments
        :func:`fastconv.convolve2d` refuses (with its messages).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, tifffile, zarr
    >>> from fastconv.dask import filter_file
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> tifffile.imwrite(d / "in.tif", np.arange(100, dtype=np.uint8).reshape(10, 10))
    >>> filter_file(d / "in.tif", d / "out.zarr", np.ones((3, 3), int), chunks=4, progress=False)
    ((8, 8), dtype('int64'))
    >>> int(zarr.open(d / "out.zarr", mode="r")[0, 0])
    99
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"filter_file() got an unexpected keyword argument {unknown[0]!r}")
    src, dst = Path(src), Path(dst)
    kernels = kernel_chain(k)
    check_scale(scale)
    out_chunk = v.as_pair(chunks, "chunks")
    out_suffix = dst.suffix.lower()
    if out_suffix not in TIFF_SUFFIXES + ZARR_SUFFIXES:
        raise ValueError(f"cannot write {dst} out of core: use a .zarr or .tif/.tiff output")
    if out_suffix in TIFF_SUFFIXES:
        out_chunk = tuple(-(-c // 16) * 16 for c in out_chunk)  # TIFF tiles are multiples of 16
    job = {
        "options": options,
        "stride": stride,
        "padding": padding,
        "channel": channel,
        "scale": scale,
        "chunks": out_chunk,
        "threads": threads,
    }
    check_output(dst, [src], overwrite=overwrite)
    with contextlib.ExitStack() as closing:
        partial = closing.enter_context(replacing(dst))
        z = _open_lazy(src, closing)
        return _filter_file(partial, kernels, z, job, scheduler, num_workers, progress, src)


def _filter_file(dst, kernels, z, job, scheduler, num_workers, progress, src):
    """:func:`filter_file` on the opened input ``z``."""
    out_suffix = dst.suffix.lower()
    if len(z.shape) not in (2, 3) or (len(z.shape) == 3 and z.shape[2] > 4):
        raise ValueError(
            f"cannot read image {src}: it holds an array of shape {tuple(z.shape)}, not one (H, W) or (H, W, C) "
            "image with C <= 4; save each plane as its own file"
        )
    check_pixels(z.chunks[0], z.chunks[1], src, "stored chunk")  # each chunk is decoded whole
    # padding may grow the image a little, never into a store of gigabytes from a small file
    opts = job["options"]
    dilation, pad_mode = opts.get("dilation", 1), opts.get("pad_mode", "constant")
    check_chain_size(z.shape[:2], kernels, job["stride"], job["padding"], dilation, pad_mode)

    # Read in chunks whose cuts, once padded, fall where the output's chunks need them.
    read = list(z.chunks[:2])
    out_chunk = job["chunks"]
    if len(kernels) == 1 and np.ndim(kernels[0]) == 2:
        try:
            win = _plan.window(z.shape[:2], np.shape(kernels[0]), job["stride"], job["padding"], dilation)
            read = [_plan.read_chunks(win, i, z.shape[i], out_chunk[i]) for i in range(2)]
        except (TypeError, ValueError):
            pass  # convolve2d below reports the mistake in its own words
    img = da.from_zarr(z, chunks=tuple(read) + ((z.shape[2],) if len(z.shape) == 3 else ()))
    if job["channel"] is not None:
        img = select_channel(img, job["channel"])
    lazy = {"chunks": out_chunk, "threads": job["threads"], **job["options"]}
    out = apply_chain(img, kernels, convolve2d, job["stride"], job["padding"], **lazy)
    out = scaled(out, job["scale"], display_unit(img.dtype))
    if out.ndim == 3:
        out = out.rechunk({2: -1})

    bar = contextlib.nullcontext()
    if progress and scheduler != "distributed":
        bar = ProgressBar()
    sched = {} if scheduler == "distributed" else {"scheduler": scheduler, "num_workers": num_workers}
    with contextlib.ExitStack() as stack:
        if scheduler == "threads":
            # A pool of our own, joined before returning: after an error or a signal no task still writes
            # a chunk into the temporary output once the caller has removed it.
            pool = ThreadPoolExecutor(num_workers or os.cpu_count() or 1)
            stack.callback(pool.shutdown, wait=True, cancel_futures=True)
            sched["pool"] = pool
        stack.enter_context(dask.config.set(**sched))
        stack.enter_context(bar)
        if out_suffix in ZARR_SUFFIXES:
            out.to_zarr(str(dst), overwrite=True)
        else:
            _write_tiled_tiff(out, dst, out_chunk)
    return out.shape, out.dtype


def _write_tiled_tiff(out: da.Array, dst: Path, tile) -> None:
    """Write ``out`` as a tiled TIFF, one row of chunks (= one row of tiles) at a time."""
    import tifffile

    th, tw = tile
    extra = out.shape[2:]

    def tiles():
        for r0 in range(0, out.shape[0], th):
            strip = out[r0 : r0 + th].compute()
            for c0 in range(0, out.shape[1], tw):
                t = strip[:, c0 : c0 + tw]
                if t.shape[:2] != (th, tw):
                    full = np.zeros((th, tw) + extra, dtype=out.dtype)
                    full[: t.shape[0], : t.shape[1]] = t
                    t = full
                yield t

    kwargs = {"photometric": "minisblack"}
    if extra:
        kwargs["planarconfig"] = "contig"
    tifffile.imwrite(dst, tiles(), shape=out.shape, dtype=out.dtype, tile=(th, tw), bigtiff=True, **kwargs)

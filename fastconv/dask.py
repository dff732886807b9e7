"""fastconv on Dask: images larger than memory, and work spread over a cluster.

:func:`convolve2d` is :func:`fastconv.convolve2d` on a chunked (dask) image and
returns a lazy dask array equal to it element for element; :func:`conv2d` is
:func:`fastconv.conv2d` on a batch chunked along N; :func:`filter_file` filters
a TIFF or zarr image file into a zarr store or a tiled TIFF chunk by chunk (the
out-of-core path of ``fastconv filter``).

Each task runs fastconv on one Numba thread by default (``threads=1``), so the
parallelism is Dask's: its threads, processes or cluster workers, and nothing
oversubscribes the cores.  This module imports dask; ``import fastconv`` does not
import it (``import fastconv.dask`` does).

How a strided convolution is cut into chunks: the image is padded lazily as
:func:`numpy.pad` would pad it; output chunk boundaries are chosen first, and
every input chunk then starts at ``stride`` times its output chunk's start, so
each task computes only the strided positions it owns.  Each chunk is extended by the
``dilation * (k - 1)`` rows and columns after it (:func:`dask.array.overlap.overlap`
with an asymmetric depth: a window reaches down and right only); a chunk thinner
than that halo is merged with its neighbour.

Each chunk is computed by :func:`fastconv.convolve2d`, so ``backend="auto"`` picks, per chunk,
the direct loops or the FFT (large kernels); the FFT keeps the kernel's spectrum for the next
chunk of the same shape, so it is transformed once per chunk shape (and worker process), not
once per chunk.
"""

from __future__ import annotations

import contextlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask.array as da
import numpy as np

import fastconv

from . import _plan
from . import _validation as v
from ._loops import threads as _threads
from ._output import check_output, replacing

__all__ = ["convolve2d", "conv2d", "filter_file", "predict"]

# Rank filters (dask-image's ndfilters names): fastconv._dask_rank.
from . import _dask_rank  # noqa: E402
from ._dask_rank import (  # noqa: E402, F401  (exported: _dask_rank.__all__)
    maximum_filter,
    median_filter,
    minimum_filter,
    percentile_filter,
    rank_filter,
)

__all__ += _dask_rank.__all__


def _numba_threads(threads):
    """Run the block on ``threads`` threads per parallel call (None: leave the setting alone), then restore it."""
    return _threads.limit(threads)


def _check_threads(threads):
    if threads is None:
        return None
    if not v.is_int(threads) or threads < 1:
        raise ValueError(f"threads must be None or an int >= 1, got {threads!r}")
    return int(threads)


def _as_dask(a, name: str, ndims) -> da.Array:
    """``a`` as a dask array, checked as :func:`fastconv._validation.check_array` checks in-memory arrays."""
    arr = a if isinstance(a, da.Array) else da.asarray(a)
    if any(math.isnan(c) for axis in arr.chunks for c in axis):
        raise ValueError(f"{name} must have known chunk sizes, got chunks {arr.chunks} (call compute_chunk_sizes())")
    # A zero-stride view of the array's shape and dtype costs no memory and gets
    # the in-memory function's checks and wording (dtype, dimensions, empty).
    probe = np.lib.stride_tricks.as_strided(np.zeros(1, dtype=arr.dtype), shape=arr.shape, strides=(0,) * arr.ndim)
    v.check_array(probe, name, ndims)
    return arr


def _pad_edge_block(block, *, axis, before, after, block_info=None):
    """Zero padding of the first/last chunk along ``axis`` (the others are returned as they are)."""
    where, count = block_info[0]["chunk-location"][axis], block_info[0]["num-chunks"][axis]
    widths = [(0, 0)] * block.ndim
    widths[axis] = (before if where == 0 else 0, after if where == count - 1 else 0)
    return np.pad(block, widths) if widths[axis] != (0, 0) else block


def _pad_axis(x: da.Array, axis: int, before: int, after: int, mode: str) -> da.Array:
    """``x`` padded along ``axis`` exactly as :func:`numpy.pad` pads it with ``mode``.

    Every mode but "constant" fills the padding with copies of image pixels; which
    pixel goes where is what ``numpy.pad`` does to the index vector ``0..n-1``, so
    the lazy padding takes those indices (any pad width, wider than the image
    included).
    """
    if before == 0 and after == 0:
        return x
    if mode == "constant":
        # Zeros added inside the first and last chunks: no thin chunks of padding to merge later.
        chunks = list(x.chunks)
        edge = list(chunks[axis])
        edge[0] += before
        edge[-1] += after
        chunks[axis] = tuple(edge)
        return x.map_blocks(_pad_edge_block, axis=axis, before=before, after=after, chunks=tuple(chunks), dtype=x.dtype)
    n = x.shape[axis]
    index = np.pad(np.arange(n), (before, after), mode=mode)
    parts = []
    if before:
        parts.append(da.take(x, index[:before], axis=axis))
    parts.append(x)
    if after:
        parts.append(da.take(x, index[before + n :], axis=axis))
    return da.concatenate(parts, axis=axis)


def _bounds(in_chunks, n_out: int, stride: int, halo: int, out_chunk) -> list[int]:
    """Output chunk starts along one axis.

    With ``out_chunk`` (an int) the output is cut every ``out_chunk`` positions;
    otherwise the cuts follow the input's chunk boundaries ``in_chunks`` (of the
    padded image), moved up to the next multiple of the stride.  A cut closer
    than the halo (or than one output position) to the previous one is dropped:
    every input chunk must be at least as thick as the halo.
    """
    if out_chunk is not None:
        step = max(out_chunk, -(-halo // stride))
        return list(range(0, n_out, step))
    starts = [0]
    edge = 0
    for c in in_chunks[:-1]:
        edge += c
        o = -(-edge // stride)  # first output whose window starts in this chunk
        if o >= n_out:
            break
        if (o - starts[-1]) * stride >= max(halo, 1):
            starts.append(o)
    return starts


def _axis_chunks(win, axis, in_chunks, out_chunk):
    """Input rows used, input chunks and output chunks along one axis of the window ``win``."""
    stride, n_out = win.stride[axis], win.out_hw[axis]
    starts = _bounds(in_chunks, n_out, stride, win.halo[axis], out_chunk)
    used = win.extent(axis, n_out)  # input rows any output reads
    out_chunks = tuple(b - a for a, b in zip(starts, starts[1:] + [n_out], strict=True))
    in_edges = [s * stride for s in starts] + [used]
    inp = tuple(b - a for a, b in zip(in_edges, in_edges[1:], strict=False))
    return used, inp, out_chunks


def _block(x, *, k, win, flip, backend, threads, out_chunks, block_id=None):
    """One output chunk from one input chunk extended by the halo after it (rows below, columns right)."""
    nr, nc = out_chunks[0][block_id[0]], out_chunks[1][block_id[1]]
    x = x[: win.extent(0, nr), : win.extent(1, nc)]
    with _numba_threads(threads):
        return fastconv.convolve2d(x, k, win.stride, 0, dilation=win.dilation, flip=flip, backend=backend)


def convolve2d(
    image,
    k,
    stride=1,
    padding=0,
    *,
    dilation=1,
    flip=False,
    pad_mode="constant",
    backend="auto",
    chunks=None,
    threads=1,
):
    """:func:`fastconv.convolve2d` on a chunked image: a lazy dask array, chunk by chunk.

    The result equals ``fastconv.convolve2d(image.compute(), k, ...)`` element for
    element and in dtype, for every chunking of ``image``.  Padding is applied
    lazily as :func:`numpy.pad` applies it; strided outputs are computed only at
    the strided positions (each chunk's input starts at ``stride`` times its
    output's start).

    Parameters
    ----------
    image : dask.array.Array or array_like, shape (H, W) or (H, W, C)
        The image; anything :func:`dask.array.asarray` takes (a NumPy array
        becomes one chunk). Chunks along C are kept (channels are independent).
    k : array_like, shape (kh, kw)
        The kernel (a NumPy array, small).
    stride, padding, dilation, flip, pad_mode, backend
        As in :func:`fastconv.convolve2d` (``"same"`` at any stride included).
    chunks : None, int or (int, int), default None
        Output chunk size (rows, cols). None: the output's chunk boundaries
        follow the input's (divided by the stride), with chunks thinner than
        the halo ``dilation * (k - 1)`` merged into their neighbour.
    threads : int or None, default 1
        Numba threads per task (set with :func:`numba.set_num_threads` inside
        the task and restored after); None leaves the worker's setting alone.

    Returns
    -------
    dask.array.Array, shape (OH, OW) or (OH, OW, C)
        Lazy; the shape and dtype of :func:`fastconv.convolve2d`'s result.

    Raises
    ------
    TypeError, ValueError
        For the arguments :func:`fastconv.convolve2d` refuses, with its
        messages; ValueError for unknown chunk sizes (NaN) or a bad ``threads``.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import fastconv, fastconv.dask
    >>> img = da.from_array(np.arange(64).reshape(8, 8), chunks=3)
    >>> out = fastconv.dask.convolve2d(img, np.ones((3, 3), dtype=int), stride=2, padding="same")
    >>> out.shape, out.dtype
    ((4, 4), dtype('int64'))
    >>> bool((out.compute() == fastconv.convolve2d(img.compute(), np.ones((3, 3), int), 2, "same")).all())
    True
    """
    image = _as_dask(image, "img", (2, 3))
    k = v.check_array(k, "k", (2,))
    v.check_choice(backend, "backend", ("auto",) + tuple(fastconv.BACKENDS))
    if not isinstance(flip, (bool, np.bool_)):
        raise TypeError(f"flip must be True or False, got {flip!r}")
    v.check_choice(pad_mode, "pad_mode", _plan.PAD_MODES)
    threads = _check_threads(threads)
    out_chunk = None if chunks is None else v.as_pair(chunks, "chunks")
    win = _plan.window(image.shape[:2], k.shape, stride, padding, dilation)
    (pt, pb), (pl, pr) = win.pads
    dtype = _plan.dtypes(image.dtype, k.dtype)[0]

    x = _pad_axis(_pad_axis(image, 0, pt, pb, pad_mode), 1, pl, pr, pad_mode)
    plans = [_axis_chunks(win, i, x.chunks[i], None if out_chunk is None else out_chunk[i]) for i in range(2)]
    used = tuple(p[0] for p in plans)
    x = x[: used[0], : used[1]]
    in_chunks = (plans[0][1], plans[1][1]) + x.chunks[2:]
    if x.chunks != in_chunks:
        x = x.rechunk(in_chunks)
    halo = win.halo
    # Output i needs input rows i*s .. i*s + halo: a chunk needs the halo after it, none before.
    depth = {0: (0, halo[0]), 1: (0, halo[1])}
    if x.ndim == 3:
        depth[2] = (0, 0)
    x = da.overlap.overlap(x, depth=depth, boundary="none")
    out_chunks = (plans[0][2], plans[1][2])
    return x.map_blocks(
        _block,
        k=k,
        win=win,
        flip=bool(flip),
        backend=backend,
        threads=threads,
        out_chunks=out_chunks,
        chunks=out_chunks + x.chunks[2:],
        dtype=dtype,
        meta=np.empty((0,) * x.ndim, dtype=dtype),
    )


def _batch_block(x, *, w, stride, padding, dilation, bias, backend, threads):
    with _numba_threads(threads):
        return fastconv.conv2d(x, w, stride, padding, dilation=dilation, bias=bias, backend=backend)


def conv2d(x, w, stride=1, padding="valid", *, dilation=1, bias=None, backend="auto", threads=1):
    """:func:`fastconv.conv2d` on a batch chunked along N: a lazy dask array.

    Each chunk of samples is one task; the H, W and C axes are made single
    chunks (one image is the unit of work). The result equals
    ``fastconv.conv2d(x.compute(), w, ...)``.

    Parameters
    ----------
    x : dask.array.Array or array_like, shape (N, H, W, C)
        The batch; its chunks along N are kept.
    w, stride, padding, dilation, bias, backend
        As in :func:`fastconv.conv2d`.
    threads : int or None, default 1
        Numba threads per task; None leaves the worker's setting alone.

    Returns
    -------
    dask.array.Array, shape (N, OH, OW, F)

    Raises
    ------
    TypeError, ValueError
        As :func:`fastconv.conv2d` (its checks run on one sample when the graph is built).

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import fastconv, fastconv.dask
    >>> x = da.ones((10, 6, 6, 2), dtype=np.float32, chunks=(4, 6, 6, 2))
    >>> y = fastconv.dask.conv2d(x, np.ones((3, 3, 2, 5), np.float32), padding="same")
    >>> y.shape, y.chunks[0], float(y[0, 2, 2, 0].compute())
    ((10, 6, 6, 5), (4, 4, 2), 18.0)
    """
    x = _as_dask(x, "x", (4,))
    threads = _check_threads(threads)
    # The in-memory function on one zero sample checks every argument with its
    # own messages and gives the per-sample output shape and dtype.
    probe = np.zeros((1,) + x.shape[1:], dtype=x.dtype)
    meta = fastconv.conv2d(probe, w, stride, padding, dilation=dilation, bias=bias, backend=backend)
    x = x.rechunk({1: -1, 2: -1, 3: -1})
    return x.map_blocks(
        _batch_block,
        w=np.asarray(w),
        stride=stride,
        padding=padding,
        dilation=dilation,
        bias=None if bias is None else np.asarray(bias),
        backend=backend,
        threads=threads,
        chunks=(x.chunks[0],) + tuple((n,) for n in meta.shape[1:]),
        dtype=meta.dtype,
        meta=meta[:0],
    )


def _predict_block(x, *, model, batch_size, threads):
    with _numba_threads(threads):
        return model.predict(np.asarray(x), batch_size)


def predict(model, x, batch_size: int = 1000, threads=1) -> da.Array:
    """``model.predict`` (a :class:`fastconv.nn.Model`) mapped over the chunks of ``x`` along N.

    :meth:`fastconv.nn.Model.predict` calls this for a dask array.

    Parameters
    ----------
    model : fastconv.nn.Model
    x : dask.array.Array, shape (N, *input_shape)
        Samples; each chunk along N is one task (the other axes become one chunk).
    batch_size : int, default 1000
        Samples per forward pass inside a task.
    threads : int or None, default 1
        Numba threads per task; None leaves the worker's setting alone.

    Returns
    -------
    dask.array.Array, shape (N, *output_shape), float32

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from fastconv.nn.layers import Dense, Flatten
    >>> from fastconv.nn.model import Model
    >>> m = Model("tiny", (Flatten("f"), Dense("d", np.eye(4, 2), np.zeros(2), "softmax")), (2, 2))
    >>> m.predict(da.zeros((3, 2, 2), chunks=2)).compute().tolist()
    [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]
    """
    x = _as_dask(x, "x", tuple(range(1, 33)))
    threads = _check_threads(threads)
    meta = model.predict(np.zeros((1,) + x.shape[1:], dtype=x.dtype), batch_size)
    x = x.rechunk({i: -1 for i in range(1, x.ndim)})
    return x.map_blocks(
        _predict_block,
        model=model,
        batch_size=batch_size,
        threads=threads,
        chunks=(x.chunks[0],) + tuple((n,) for n in meta.shape[1:]),
        drop_axis=list(range(meta.ndim, x.ndim)),
        new_axis=list(range(x.ndim, meta.ndim)),
        dtype=meta.dtype,
        meta=meta[:0],
    )


#: File suffixes :func:`filter_file` reads and writes.
TIFF_SUFFIXES = (".tif", ".tiff")
ZARR_SUFFIXES = (".zarr",)


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

        from .image import quiet_tifffile, tiff_data_problem

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


def _aligned_read_chunks(n: int, before: int, step: int) -> tuple[int, ...]:
    """Read chunks along one axis such that, once ``before`` rows of padding are added, cuts fall every ``step``."""
    cuts = [m * step - before for m in range(1, n // step + 2)]
    edges = [0] + [c for c in cuts if 0 < c < n] + [n]
    return tuple(b - a for a, b in zip(edges, edges[1:], strict=False))


def filter_file(
    src,
    dst,
    k,
    *,
    stride=1,
    padding=0,
    dilation=1,
    flip=False,
    pad_mode="constant",
    backend="auto",
    channel=None,
    scale="none",
    chunks=1024,
    scheduler="threads",
    num_workers=None,
    threads=1,
    progress=True,
    overwrite=False,
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
    stride, padding, dilation, flip, pad_mode, backend
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
    from .image import check_scale, kernel_chain

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
        "options": {"dilation": dilation, "flip": flip, "pad_mode": pad_mode, "backend": backend},
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
    import dask

    from .image import check_chain_size, check_pixels

    out_suffix = dst.suffix.lower()
    if len(z.shape) not in (2, 3) or (len(z.shape) == 3 and z.shape[2] > 4):
        raise ValueError(
            f"cannot read image {src}: it holds an array of shape {tuple(z.shape)}, not one (H, W) or (H, W, C) "
            "image with C <= 4; save each plane as its own file"
        )
    check_pixels(z.chunks[0], z.chunks[1], src, "stored chunk")  # each chunk is decoded whole
    # padding may grow the image a little, never into a store of gigabytes from a small file
    opts = job["options"]
    check_chain_size(z.shape[:2], kernels, job["stride"], job["padding"], opts["dilation"], opts["pad_mode"])

    # Read in chunks whose cuts, once padded, fall where the output's chunks need them.
    read = list(z.chunks[:2])
    out_chunk = job["chunks"]
    if len(kernels) == 1 and np.ndim(kernels[0]) == 2:
        try:
            dilation = job["options"]["dilation"]
            win = _plan.window(z.shape[:2], np.shape(kernels[0]), job["stride"], job["padding"], dilation)
            read = [_aligned_read_chunks(z.shape[i], win.pads[i][0], out_chunk[i] * win.stride[i]) for i in range(2)]
        except (TypeError, ValueError):
            pass  # convolve2d below reports the mistake in its own words
    from .image import apply_chain, display_unit, scaled, select_channel

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
        from dask.diagnostics import ProgressBar

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


# ---------------------------------------------------------------------------------------------------------------
# scipy.ndimage's separable filters over dask arrays (dask-image's ndfilters names): fastconv/_dask_filters.py.
from . import _dask_filters  # noqa: E402
from ._dask_filters import (  # noqa: E402, F401  (exported: _dask_filters.__all__)
    gaussian_filter,
    gaussian_gradient_magnitude,
    gaussian_laplace,
    laplace,
    prewitt,
    sobel,
    uniform_filter,
)

__all__ += _dask_filters.__all__

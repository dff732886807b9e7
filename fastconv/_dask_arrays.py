"""fastconv's convolutions on dask arrays: lazy, chunk by chunk, equal to the in-memory functions.

:func:`convolve2d` is :func:`fastconv.convolve2d` on a chunked (dask) image and returns a lazy dask
array equal to it element for element; :func:`conv2d` is :func:`fastconv.conv2d` on a batch chunked
along N; :func:`predict` runs a :class:`fastconv.nn.Model` on a batch chunked along N.  Imported by
:mod:`fastconv.dask`, which gives their names.

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

import math

import dask.array as da
import numpy as np

import fastconv

from . import _plan
from . import _validation as v
from ._loops import threads as _threads

__all__ = ["convolve2d", "conv2d", "predict"]


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
    plans = [_plan.chunk_axis(win, i, x.chunks[i], None if out_chunk is None else out_chunk[i]) for i in range(2)]
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

"""Rank filters on Dask arrays: dask-image's ``dask_image.ndfilters`` names and arguments, on fastconv.

:func:`minimum_filter`, :func:`maximum_filter`, :func:`median_filter`, :func:`rank_filter` and
:func:`percentile_filter` take a dask array and return a lazy one equal, element for element, to
``dask_image.ndfilters``'s result (and to scipy.ndimage's on the whole array): each chunk is extended
by the window's reach, ``size // 2 + |origin|`` values per axis on both sides
(:meth:`dask.array.Array.map_overlap` with ``boundary="none"``), filtered by
:mod:`fastconv.ndimage` with the call's ``mode``, which then applies at the array's true edges only,
and trimmed.  Each task runs on ``threads`` Numba threads (default 1: Dask's workers are the
parallelism, as in :mod:`fastconv.dask`).
"""

from __future__ import annotations

import numbers

import dask.array as da
import numpy as np

from . import ndimage as _nd
from ._docstrings import DASK
from ._loops import threads as _threads

__all__ = ["maximum_filter", "median_filter", "minimum_filter", "percentile_filter", "rank_filter"]


def _footprint(ndim, size, footprint):
    """dask-image's rules: exactly one of ``size`` and ``footprint``, with ``ndim`` axes; a bool footprint."""
    if size is None and footprint is None:
        raise RuntimeError("Must provide either size or footprint (both are None).")
    if size is not None and footprint is not None:
        raise RuntimeError("Provide either size or footprint, but not both.")
    if size is not None:
        sizes = (size,) * ndim if isinstance(size, numbers.Number) else tuple(size)
        if len(sizes) != ndim or not all(isinstance(s, (numbers.Integral, np.integer)) for s in sizes):
            raise RuntimeError(f"size must be an int or {ndim} ints for a {ndim}-D image, got {size!r}")
        if min(sizes) < 1:
            raise RuntimeError(f"size must be >= 1 on every axis, got {size!r}")
        return np.ones(sizes, dtype=bool)
    fp = np.asarray(footprint) != 0
    if fp.ndim != ndim:
        raise RuntimeError(f"footprint must have {ndim} dimensions as the image, got shape {fp.shape}")
    if fp.size == 0:
        raise RuntimeError(f"footprint must have only non-zero dimensions, got shape {fp.shape}")
    return fp


def _origin(shape, origin):
    origins = (origin,) * len(shape) if isinstance(origin, numbers.Number) else tuple(origin)
    if len(origins) != len(shape) or not all(isinstance(o, (numbers.Integral, np.integer)) for o in origins):
        raise RuntimeError(f"origin must be an int or {len(shape)} ints, got {origin!r}")
    if not all(o < (n + 1) // 2 for o, n in zip(origins, shape, strict=True)):
        raise ValueError(f"The origin must be within the footprint: origin {origin!r} for footprint shape {shape}")
    return tuple(int(o) for o in origins)


def _block(block, *, filter_func, extra, footprint, mode, cval, origin, threads):
    with _threads.limit(threads):
        return filter_func(block, *extra, footprint=footprint, mode=mode, cval=cval, origin=origin)


def _filter(func, image, extra, size, footprint, mode, cval, origin, threads):
    image = da.asarray(image)
    fp = _footprint(image.ndim, size, footprint)
    origins = _origin(fp.shape, origin)
    depth = {a: n // 2 + abs(o) for a, (n, o) in enumerate(zip(fp.shape, origins, strict=True))}
    return image.map_overlap(
        _block,
        depth=depth,
        boundary="none",
        dtype=image.dtype,
        meta=image._meta,
        filter_func=func,
        extra=extra,
        footprint=fp,
        mode=mode,
        cval=cval,
        origin=origins,
        threads=threads,
    )


@DASK
def minimum_filter(image, size=None, footprint=None, mode="reflect", cval=0.0, origin=0, *, threads=1):
    """:func:`fastconv.ndimage.minimum_filter` on a dask array, chunk by chunk (``dask_image.ndfilters``'s arguments).

    %(parameters)s

    Examples
    --------
    >>> import dask.array as da
    >>> from fastconv import dask as fdask
    >>> x = da.asarray([5, 3, 8, 1, 9, 4, 7, 2], chunks=3)
    >>> fdask.minimum_filter(x, size=3).compute()
    array([3, 3, 1, 1, 1, 4, 2, 2])
    """
    return _filter(_nd.minimum_filter, image, (), size, footprint, mode, cval, origin, threads)


@DASK
def maximum_filter(image, size=None, footprint=None, mode="reflect", cval=0.0, origin=0, *, threads=1):
    """The largest value of each window: :func:`fastconv.ndimage.maximum_filter` on a dask array, chunk by chunk.

    Each output is the maximum of the values under the window (``size`` or ``footprint``) around it.

    %(parameters)s

    Examples
    --------
    >>> import dask.array as da
    >>> from fastconv import dask as fdask
    >>> fdask.maximum_filter(da.asarray([5, 3, 8, 1, 9], chunks=2), size=2).compute()
    array([5, 5, 8, 8, 9])
    """
    return _filter(_nd.maximum_filter, image, (), size, footprint, mode, cval, origin, threads)


@DASK
def median_filter(image, size=None, footprint=None, mode="reflect", cval=0.0, origin=0, *, threads=1):
    """The median of each window (the upper one of an even count): :func:`fastconv.ndimage.median_filter` on dask.

    The middle of the window's sorted values: rank ``n // 2`` of ``n``.

    %(parameters)s

    Examples
    --------
    >>> import dask.array as da
    >>> from fastconv import dask as fdask
    >>> x = da.asarray([[5, 3, 8, 1], [9, 4, 7, 2]], chunks=(1, 2))
    >>> fdask.median_filter(x, footprint=[[1, 1, 0], [0, 1, 1]]).compute()
    array([[5, 5, 8, 1],
           [5, 5, 7, 2]])
    """
    return _filter(_nd.median_filter, image, (), size, footprint, mode, cval, origin, threads)


@DASK
def rank_filter(image, rank, size=None, footprint=None, mode="reflect", cval=0.0, origin=0, *, threads=1):
    """The value of rank ``rank`` in each window, chunk by chunk: :func:`fastconv.ndimage.rank_filter` on dask.

    ``rank`` counts up from the smallest value (0), or down from the largest (-1) when negative.

    %(parameters)s

    Examples
    --------
    >>> import dask.array as da
    >>> from fastconv import dask as fdask
    >>> fdask.rank_filter(da.asarray([5, 3, 8, 1, 9, 4], chunks=2), -1, footprint=[1, 0, 1]).compute()
    array([5, 8, 3, 9, 4, 9])
    """
    return _filter(_nd.rank_filter, image, (rank,), size, footprint, mode, cval, origin, threads)


@DASK
def percentile_filter(image, percentile, size=None, footprint=None, mode="reflect", cval=0.0, origin=0, *, threads=1):
    """:func:`fastconv.ndimage.percentile_filter` on a dask array: the value at ``percentile`` in each window.

    Rank ``int(n * percentile / 100)`` of the window's ``n`` values (``n - 1`` at 100).

    %(parameters)s

    Examples
    --------
    >>> import dask.array as da
    >>> from fastconv import dask as fdask
    >>> fdask.percentile_filter(da.asarray([5, 3, 8, 1, 9, 4], chunks=2), 75, size=4).compute()
    array([5, 8, 8, 9, 9, 9])
    """
    return _filter(_nd.percentile_filter, image, (percentile,), size, footprint, mode, cval, origin, threads)

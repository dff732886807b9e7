"""scipy.ndimage's separable filters over dask arrays: dask-image's ``ndfilters`` names, on fastconv.ndimage.

Each function takes dask-image's arguments and gives its result: every chunk is filtered with its
halo (``depth`` values of each neighbour along each axis, nothing outside the array:
``boundary="none"``, so the array's own edges are extended by ``mode`` as scipy extends them) by
the matching :mod:`fastconv.ndimage` function, and the halo is cut off again.  The halo is
dask-image's: ``ceil(sigma * truncate)`` for the Gaussian filters, ``size // 2 + |origin|`` for the
box, one value for ``sobel``, ``prewitt`` and ``laplace``.  Imported by :mod:`fastconv.dask`.
"""

from __future__ import annotations

import math
import numbers

import dask.array as da
import numpy as np

from . import ndimage as _nd
from ._docstrings import DASK

__all__ = [
    "gaussian_filter",
    "gaussian_gradient_magnitude",
    "gaussian_laplace",
    "laplace",
    "prewitt",
    "sobel",
    "uniform_filter",
]


def _per_axis(value, ndim, name):
    """``value`` (a number or one per axis) as a tuple of ``ndim`` numbers."""
    items = np.array(value)
    if items.ndim == 0:
        items = np.array([items[()]] * ndim)
    if items.ndim != 1 or len(items) != ndim:
        raise RuntimeError(f"{name} must be one number or one per dimension ({ndim}), got {value!r}")
    return tuple(items.tolist())


def _gaussian(func, image, sigma, truncate, **kwargs):
    """``func``, a Gaussian filter of fastconv.ndimage, over ``image``: halo ``ceil(sigma * truncate)`` as dask-image.

    ``truncate`` is checked here, as the halo needs it; every other argument by ``func``.
    """
    sigma = _per_axis(sigma, np.ndim(image), "sigma")
    if not isinstance(truncate, numbers.Real):
        raise TypeError(f"truncate must be a real number, got {truncate!r}")
    depth = tuple(int(math.ceil(s * truncate)) for s in sigma)
    return _overlap(image, func, depth, sigma=sigma, truncate=truncate, **kwargs)


def _overlap(image, func, depth, **kwargs):
    """``func`` on every chunk of ``image`` with a halo of ``depth`` per axis (dask-image's map_overlap)."""
    image = da.asarray(image)
    return image.map_overlap(
        func, depth=dict(enumerate(depth)), boundary="none", dtype=image.dtype, meta=image._meta, **kwargs
    )


@DASK
def gaussian_filter(image, sigma, order=0, mode="reflect", cval=0.0, truncate=4.0):
    """:func:`fastconv.ndimage.gaussian_filter` over a dask array, chunk by chunk with halos.

    %(parameters)s

    Examples
    --------
    >>> import dask.array as da
    >>> from fastconv import dask as fd
    >>> x = da.arange(36.0, chunks=12).reshape(6, 6)
    >>> float(fd.gaussian_filter(x, 1).compute()[2, 2].round(6))
    14.032897
    """
    return _gaussian(_nd.gaussian_filter, image, sigma, truncate, order=order, mode=mode, cval=cval)


@DASK
def gaussian_gradient_magnitude(image, sigma, mode="reflect", cval=0.0, truncate=4.0, **kwargs):
    """:func:`fastconv.ndimage.gaussian_gradient_magnitude` over a dask array (halo as :func:`gaussian_filter`).

    %(parameters)s

    Examples
    --------
    >>> import dask.array as da
    >>> from fastconv import dask as fd
    >>> x = da.arange(16.0, chunks=4) ** 2 / 2  # its slope is x
    >>> fd.gaussian_gradient_magnitude(x, 1).compute()[3:7].round(2)
    array([3., 4., 5., 6.])
    """
    return _gaussian(_nd.gaussian_gradient_magnitude, image, sigma, truncate, mode=mode, cval=cval, **kwargs)


@DASK
def gaussian_laplace(image, sigma, mode="reflect", cval=0.0, truncate=4.0, **kwargs):
    """Laplacian with Gaussian second derivatives, chunk by chunk: :func:`fastconv.ndimage.gaussian_laplace` on dask.

    The halo is :func:`gaussian_filter`'s.

    %(parameters)s

    Examples
    --------
    >>> import dask.array as da
    >>> from fastconv import dask as fd
    >>> x = da.arange(16.0, chunks=4) ** 2  # its second derivative is 2
    >>> fd.gaussian_laplace(x, 1).compute()[3:7].round(2)
    array([2., 2., 2., 2.])
    """
    return _gaussian(_nd.gaussian_laplace, image, sigma, truncate, mode=mode, cval=cval, **kwargs)


@DASK(size="size_box")
def uniform_filter(image, size=3, mode="reflect", cval=0.0, origin=0):
    """:func:`fastconv.ndimage.uniform_filter` over a dask array (halo ``size // 2 + |origin|`` per axis).

    %(parameters)s

    Examples
    --------
    >>> import dask.array as da
    >>> from fastconv import dask as fd
    >>> fd.uniform_filter(da.arange(8.0, chunks=3), 3).compute().round(2).tolist()
    [0.33, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 6.67]
    """
    ndim = np.ndim(image)
    sizes = _per_axis(size, ndim, "size")
    origins = _per_axis(origin, ndim, "origin")
    if not all(isinstance(s, numbers.Integral) for s in sizes):
        raise TypeError(f"size must be integers, got {size!r}")
    depth = tuple(int(s) // 2 + abs(int(o)) for s, o in zip(sizes, origins, strict=True))
    return _overlap(image, _nd.uniform_filter, depth, size=sizes, mode=mode, cval=cval, origin=origins)


def _one_deep(name):
    """The dask version of ``fastconv.ndimage.<name>`` with a halo of one value (sobel, prewitt, laplace)."""
    func = getattr(_nd, name)

    def filtered(image, *args, **kwargs):
        return _overlap(image, func, (1,) * np.ndim(image), **dict(zip(("axis",), args, strict=False)), **kwargs)

    filtered.__name__ = filtered.__qualname__ = name
    filtered.__doc__ = DASK.fill_text(
        f""":func:`fastconv.ndimage.{name}` over a dask array, each chunk with a halo of one value.

        Parameters
        ----------
        %(image)s
        *args, **kwargs
            As :func:`fastconv.ndimage.{name}` (``axis``, ``mode``, ``cval``), without ``output``.

        Returns
        -------
        %(returns)s

        Examples
        --------
        >>> import dask.array as da
        >>> from fastconv import dask as fd, ndimage
        >>> x = da.arange(36.0, chunks=4).reshape(6, 6) ** 2
        >>> bool((fd.{name}(x).compute() == ndimage.{name}(x.compute())).all())
        True
        """
    )
    return filtered


sobel = _one_deep("sobel")
prewitt = _one_deep("prewitt")
laplace = _one_deep("laplace")

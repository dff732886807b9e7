"""fastconv on Dask: images larger than memory, and work spread over a cluster.

:func:`convolve2d` is :func:`fastconv.convolve2d` on a chunked (dask) image and returns a lazy
dask array equal to it element for element; :func:`conv2d` is :func:`fastconv.conv2d` on a batch
chunked along N; :func:`predict` runs a :class:`fastconv.nn.Model` chunk by chunk
(:mod:`fastconv._dask_arrays`, which also says how a strided convolution is cut into chunks).
:func:`filter_file` filters a TIFF or zarr image file into a zarr store or a tiled TIFF chunk by
chunk, the out-of-core path of ``fastconv filter`` (:mod:`fastconv._dask_files`).  The filters of
scipy.ndimage that dask-image's ``ndfilters`` offers run chunk by chunk with halos under the same
names and arguments (:mod:`fastconv._dask_filters`, :mod:`fastconv._dask_rank`).

Each task runs fastconv on one Numba thread by default (``threads=1``), so the parallelism is
Dask's: its threads, processes or cluster workers, and nothing oversubscribes the cores.  This
module imports dask; ``import fastconv`` does not import it (``import fastconv.dask`` does).
"""

from __future__ import annotations

from . import _dask_arrays, _dask_files, _dask_filters, _dask_rank
from ._dask_arrays import conv2d, convolve2d, predict  # noqa: F401  (exported: __all__)
from ._dask_files import filter_file  # noqa: F401
from ._dask_filters import (  # noqa: F401
    gaussian_filter,
    gaussian_gradient_magnitude,
    gaussian_laplace,
    laplace,
    prewitt,
    sobel,
    uniform_filter,
)
from ._dask_rank import maximum_filter, median_filter, minimum_filter, percentile_filter, rank_filter  # noqa: F401

__all__ = _dask_arrays.__all__ + _dask_files.__all__ + _dask_rank.__all__ + _dask_filters.__all__

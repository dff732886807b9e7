"""fastconv.dask's rank filters against dask-image's ``dask_image.ndfilters`` (same names and arguments)."""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
ndfilters = pytest.importorskip("dask_image.ndfilters")

from fastconv import dask as fdask  # noqa: E402
from fastconv._nd import CALLS  # noqa: E402


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_equal_to_dask_image(dtype):
    rng = np.random.default_rng(7)
    x = (rng.random((37, 45)) * 200).astype(dtype)
    img = da.from_array(x, chunks=(10, 16))
    fp = rng.random((3, 5)) < 0.6
    fp[1, 2] = True
    cases = [
        ("minimum_filter", (), {"size": 3}),
        ("maximum_filter", (), {"size": (4, 7), "mode": "wrap", "origin": (1, -2)}),
        ("median_filter", (), {"size": 5, "mode": "constant", "cval": 3}),
        ("median_filter", (), {"footprint": fp, "mode": "mirror"}),
        ("rank_filter", (-3,), {"size": (7, 7), "mode": "nearest", "origin": 1}),
        ("percentile_filter", (25,), {"size": 9, "mode": "reflect"}),
    ]
    for name, extra, kw in cases:
        before = CALLS[f"ndimage.{name}", "fastconv"]
        ours = getattr(fdask, name)(img, *extra, **kw)
        theirs = getattr(ndfilters, name)(img, *extra, **kw)
        assert ours.chunks == img.chunks
        got = ours.compute(scheduler="sync")
        np.testing.assert_array_equal(got, theirs.compute(scheduler="sync"))
        assert CALLS[f"ndimage.{name}", "fastconv"] > before, name


def test_bad_arguments():
    img = da.zeros((8, 8), chunks=4)
    with pytest.raises(RuntimeError, match="size"):
        fdask.median_filter(img)
    with pytest.raises(RuntimeError, match="both"):
        fdask.median_filter(img, size=3, footprint=np.ones((3, 3)))
    with pytest.raises(ValueError, match="origin"):
        fdask.minimum_filter(img, size=3, origin=2)

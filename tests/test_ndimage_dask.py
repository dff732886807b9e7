"""fastconv.dask's separable filters against dask-image's ``ndfilters`` (which runs scipy.ndimage per chunk)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

da = pytest.importorskip("dask.array")
ndfilters = pytest.importorskip("dask_image.ndfilters")

from fastconv import dask as fd  # noqa: E402

CASES = [
    ("gaussian_filter", (1.5,), {}),
    ("gaussian_filter", ((1.0, 2.0),), {"order": (0, 1), "mode": "constant", "cval": 2.0}),
    ("gaussian_gradient_magnitude", (1.2,), {"mode": "nearest"}),
    ("gaussian_laplace", (0.8,), {"mode": "wrap"}),
    ("uniform_filter", (5,), {}),
    ("uniform_filter", ((3, 6),), {"origin": (1, -2), "mode": "mirror"}),
    ("sobel", (), {"axis": 0}),
    ("prewitt", (), {}),
    ("laplace", (), {"mode": "constant"}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
@pytest.mark.parametrize("name, args, kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_equal_to_dask_image(name, args, kwargs, dtype):
    rng = np.random.default_rng(4)
    x = (rng.random((45, 38)) * 200).astype(dtype)
    image = da.from_array(x, chunks=(16, 11))  # halos cross several chunk borders
    ours = getattr(fd, name)(image, *args, **kwargs)
    theirs = getattr(ndfilters, name)(image, *args, **kwargs)
    assert ours.chunks == theirs.chunks and ours.dtype == theirs.dtype
    a, b = ours.compute(), theirs.compute()
    if dtype == np.uint8:
        assert_array_equal(a, b)
    else:
        scale = max(float(np.abs(b).max()), 1.0)
        assert_allclose(a, b, rtol=0, atol=(1e-5 if dtype == np.float32 else 1e-12) * scale)

"""Per-call time of fastconv on tiny inputs, where the Python around the loops is the cost.

``pytest benches/bench_latency.py --benchmark-only`` times, on a 3x3 image with a 3x3 kernel
(one output value, so the arithmetic is nothing):

- ``fastconv``: ``fastconv.convolve2d`` (what a user calls);
- ``fastconv loops``: the compiled block function alone, called with the arrays and the
  kernel as :func:`fastconv._direct.prepare` chose them (Numba's dispatch and the
  loop), so that ``fastconv`` minus it is the Python around the loop;
- ``cv2.filter2D``: OpenCV on the same input (``CV_32F`` result, zero border, as in
  ``benches/peers.py``).

Cases: a float32 image and kernel, and a uint8 image with an int64 kernel (the seed's
kernel1; fastconv returns exact int64).  ``python -m benches.report`` runs this file with
``bench_convolve2d.py`` and puts the table and the targets (3 us and 5 us) in the report.
"""

from __future__ import annotations

import numpy as np
import pytest

KERNEL1 = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])

#: name -> (image, kernel)
CASES = {
    "3x3 float32": (
        np.random.default_rng(0).random((3, 3), dtype=np.float32),
        KERNEL1.astype(np.float32),
    ),
    "3x3 uint8, int64 kernel": (
        np.random.default_rng(1).integers(0, 256, (3, 3), dtype=np.uint8),
        KERNEL1,
    ),
}


def _fastconv(img, k):
    import fastconv

    return lambda: fastconv.convolve2d(img, k), lambda r: r


def _loops(img, k):
    from fastconv import _direct

    dtype = np.int64 if img.dtype.kind in "iu" else np.float32
    x = img[np.newaxis]
    kern = k.astype(dtype)
    out = np.empty((1, 1, 1), dtype=dtype)
    block, k_args, n_blocks, _ = _direct.prepare(x, kern, 1, 1, 1, 1, 0, 0, out)
    return lambda: block(x, *k_args, 1, 1, 1, 1, 0, 0, out, 0, n_blocks), lambda r: out[0]


def _cv2(img, k):
    cv2 = pytest.importorskip("cv2")
    kf = k.astype(np.float32)
    return (lambda: cv2.filter2D(img, cv2.CV_32F, kf, borderType=cv2.BORDER_CONSTANT)), (lambda r: r[1:2, 1:2])


PEERS = {"fastconv": _fastconv, "fastconv loops": _loops, "cv2.filter2D": _cv2}


@pytest.mark.parametrize("peer", list(PEERS))
@pytest.mark.parametrize("case", list(CASES))
def test_small_call(benchmark, case, peer):
    img, k = CASES[case]
    run, extract = PEERS[peer](img, k)
    want = (img.astype(np.float64) * k).sum()
    got = extract(run())  # warm-up: compilation not timed; and a check against NumPy
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64).reshape(()), want, rtol=1e-5)
    benchmark.group = f"per call: {case}"
    benchmark.extra_info.update(peer=peer, case=f"per call: {case}")
    benchmark(run)

"""Independent references for the tests: plain NumPy, sharing nothing with fastconv's kernels."""

from __future__ import annotations

import numpy as np


def correlate2d_loop(img, k, stride=(1, 1), pad=((0, 0), (0, 0)), dilation=(1, 1), pad_mode="constant"):
    """Cross-correlate a 2-D or (H, W, C) image with a 2-D kernel, one output element at a time.

    Integer inputs are summed exactly in Python ints; float inputs in float64.
    """
    img = np.asarray(img)
    k = np.asarray(k)
    if img.ndim == 3:
        return np.stack(
            [correlate2d_loop(img[:, :, c], k, stride, pad, dilation, pad_mode) for c in range(img.shape[2])],
            axis=-1,
        )
    integer = img.dtype.kind in "biu" and k.dtype.kind in "biu"
    work = object if integer else np.float64
    x = np.pad(img.astype(work if integer else np.float64), pad, mode=pad_mode)
    kk = k.astype(work)
    kh, kw = k.shape
    (sh, sw), (dh, dw) = stride, dilation
    oh = (x.shape[0] - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[1] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((oh, ow), dtype=work)
    for i in range(oh):
        for j in range(ow):
            window = x[i * sh : i * sh + dh * (kh - 1) + 1 : dh, j * sw : j * sw + dw * (kw - 1) + 1 : dw]
            out[i, j] = (window * kk).sum()
    return out.astype(np.int64) if integer else out


def padding_pairs(padding, in_hw, k_hw, stride, dilation):
    """``((top, bottom), (left, right))`` for any padding form fastconv accepts, worked out here.

    "same" follows TensorFlow's documented SAME rule: output ``ceil(n / s)``,
    total padding ``max((out - 1) * s + (k - 1) * d + 1 - n, 0)``, the odd
    element after (bottom/right).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "full":  # every position where the dilated kernel overlaps the image
            return tuple(((k - 1) * d, (k - 1) * d) for k, d in zip(k_hw, dilation, strict=True))
        pairs = []
        for n, k, s, d in zip(in_hw, k_hw, stride, dilation, strict=True):
            out = -(-n // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            pairs.append((total // 2, total - total // 2))
        return tuple(pairs)
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    if all(isinstance(p, int) for p in padding):
        return ((padding[0], padding[0]), (padding[1], padding[1]))
    return tuple(tuple(p) for p in padding)
